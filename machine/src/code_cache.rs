//! Decoded instructions cached by address, per 4 KiB page.
//!
//! Each instruction is decoded by iced once; later executions look it up by RIP. A store to
//! a page (or a permission change) drops the decoded instructions of that page and of the
//! page before it, whose last instruction may extend into it. The lookup for the page the
//! thread ran last is a compare and two indexed loads, which is what keeps the interpreter
//! loop fast.

use crate::decode::{prepare, Decoded};
use crate::fault::Fault;
use crate::memory::{MemError, Memory, PAGE_SIZE};
use iced_x86::{Decoder, DecoderError, DecoderOptions, InstructionInfoFactory};
use rustc_hash::FxHashMap;

const EMPTY: u32 = u32::MAX;

/// Decoded instructions live in one arena; each cached page has a map from page offset to
/// arena index. Dropped pages leave their entries behind as garbage until the arena is
/// rebuilt, which keeps the lookup for the current page at two dependent loads.
pub(crate) struct CodeCache {
    index: FxHashMap<u64, u32>,
    maps: Vec<Box<[u32; PAGE_SIZE as usize]>>,
    free: Vec<u32>,
    arena: Vec<Decoded>,
    garbage: usize,
    current_page: u64,
    current_map: u32,
    epoch: u64,
    info: InstructionInfoFactory,
}

impl CodeCache {
    pub fn new() -> CodeCache {
        CodeCache {
            index: FxHashMap::default(),
            maps: Vec::new(),
            free: Vec::new(),
            arena: Vec::new(),
            garbage: 0,
            current_page: u64::MAX,
            current_map: 0,
            epoch: 0,
            info: InstructionInfoFactory::new(),
        }
    }

    /// The decoded instruction at `rip`, decoding it if needed.
    #[inline(always)]
    pub fn fetch(&mut self, mem: &mut Memory, rip: u64) -> Result<&Decoded, Fault> {
        if rip >> 12 == self.current_page && self.epoch == mem.code_epoch() {
            let i = self.maps[self.current_map as usize][(rip & 0xfff) as usize];
            if i != EMPTY {
                return Ok(&self.arena[i as usize]);
            }
        }
        self.fetch_slow(mem, rip)
    }

    #[cold]
    #[inline(never)]
    fn fetch_slow(&mut self, mem: &mut Memory, rip: u64) -> Result<&Decoded, Fault> {
        if self.epoch != mem.code_epoch() {
            for page in mem.take_code_invalidated() {
                self.drop_page(page);
                self.drop_page(page.wrapping_sub(1));
            }
            self.epoch = mem.code_epoch();
            self.current_page = u64::MAX;
            if self.garbage > 4096 && self.garbage > self.arena.len() / 2 {
                self.clear();
            }
        }
        let pn = rip >> 12;
        let map = match self.index.get(&pn) {
            Some(&m) => m,
            None => {
                let m = match self.free.pop() {
                    Some(m) => {
                        self.maps[m as usize].fill(EMPTY);
                        m
                    }
                    None => {
                        self.maps.push(Box::new([EMPTY; PAGE_SIZE as usize]));
                        (self.maps.len() - 1) as u32
                    }
                };
                self.index.insert(pn, m);
                m
            }
        };
        let off = (rip & 0xfff) as usize;
        if self.maps[map as usize][off] == EMPTY {
            let d = self.decode(mem, rip)?;
            self.maps[map as usize][off] = self.arena.len() as u32;
            self.arena.push(d);
        }
        self.current_page = pn;
        self.current_map = map;
        Ok(&self.arena[self.maps[map as usize][off] as usize])
    }

    fn decode(&mut self, mem: &mut Memory, rip: u64) -> Result<Decoded, Fault> {
        let mut bytes = [0u8; 15];
        let n = mem
            .fetch(rip, &mut bytes)
            .map_err(|e| fetch_fault(e, rip, rip))?;
        let mut decoder = Decoder::with_ip(64, &bytes[..n], rip, DecoderOptions::NONE);
        let ins = decoder.decode();
        if ins.is_invalid() && decoder.last_error() == DecoderError::NoMoreBytes {
            // The instruction runs into a page that cannot be fetched.
            let at = rip.wrapping_add(n as u64);
            return Err(fetch_fault(mem.fetch_error_at(at), at, rip));
        }
        let mut d = prepare(ins, &mut self.info);
        d.handler = crate::isa::select(&d);
        Ok(d)
    }

    fn drop_page(&mut self, pn: u64) {
        if let Some(m) = self.index.remove(&pn) {
            self.garbage += self.maps[m as usize]
                .iter()
                .filter(|&&i| i != EMPTY)
                .count();
            self.free.push(m);
        }
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.index.clear();
        self.maps.clear();
        self.free.clear();
        self.arena.clear();
        self.garbage = 0;
        self.current_page = u64::MAX;
    }
}

/// A fetch fault: SEGV_MAPERR / SEGV_ACCERR at the first byte that could not be fetched,
/// or `#GP` for a non-canonical RIP; RIP (`pc`) is the instruction's first byte.
fn fetch_fault(e: MemError, at: u64, pc: u64) -> Fault {
    match e {
        MemError::Unmapped(_) => Fault::unmapped(at, pc),
        MemError::Denied(_) => Fault::access(at, pc),
        MemError::NonCanonical => Fault::general_protection(pc),
    }
}
