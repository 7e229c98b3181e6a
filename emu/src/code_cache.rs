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

struct CodePage {
    slots: Box<[u32; PAGE_SIZE as usize]>,
    decoded: Vec<Decoded>,
}

pub(crate) struct CodeCache {
    index: FxHashMap<u64, u32>,
    pages: Vec<Option<CodePage>>,
    free: Vec<u32>,
    last_page: u64,
    last_slot: u32,
    epoch: u64,
    info: InstructionInfoFactory,
}

impl CodeCache {
    pub fn new() -> CodeCache {
        CodeCache {
            index: FxHashMap::default(),
            pages: Vec::new(),
            free: Vec::new(),
            last_page: u64::MAX,
            last_slot: 0,
            epoch: 0,
            info: InstructionInfoFactory::new(),
        }
    }

    /// The decoded instruction at `rip`, decoding it if needed.
    #[inline]
    pub fn fetch(&mut self, mem: &mut Memory, rip: u64) -> Result<&Decoded, Fault> {
        let pn = rip >> 12;
        if pn == self.last_page && self.epoch == mem.code_epoch() {
            let page = self.pages[self.last_slot as usize].as_ref().expect("cached page");
            let i = page.slots[(rip & 0xfff) as usize];
            if i != EMPTY {
                // Re-borrow to satisfy the borrow checker on the slow path below.
                let page = self.pages[self.last_slot as usize].as_ref().expect("cached page");
                return Ok(&page.decoded[i as usize]);
            }
        }
        self.fetch_slow(mem, rip)
    }

    #[cold]
    fn fetch_slow(&mut self, mem: &mut Memory, rip: u64) -> Result<&Decoded, Fault> {
        if self.epoch != mem.code_epoch() {
            for page in mem.take_code_invalidated() {
                self.drop_page(page);
                self.drop_page(page.wrapping_sub(1));
            }
            self.epoch = mem.code_epoch();
            self.last_page = u64::MAX;
        }
        let pn = rip >> 12;
        let slot = match self.index.get(&pn) {
            Some(&s) => s,
            None => {
                let page = CodePage { slots: Box::new([EMPTY; PAGE_SIZE as usize]), decoded: Vec::new() };
                let s = match self.free.pop() {
                    Some(s) => {
                        self.pages[s as usize] = Some(page);
                        s
                    }
                    None => {
                        self.pages.push(Some(page));
                        (self.pages.len() - 1) as u32
                    }
                };
                self.index.insert(pn, s);
                s
            }
        };
        let off = (rip & 0xfff) as usize;
        if self.pages[slot as usize].as_ref().expect("page").slots[off] == EMPTY {
            let d = self.decode(mem, rip)?;
            // Decoding may have marked pages as code: pick up any invalidation it caused.
            let page = self.pages[slot as usize].as_mut().expect("page");
            page.slots[off] = page.decoded.len() as u32;
            page.decoded.push(d);
        }
        self.last_page = pn;
        self.last_slot = slot;
        let page = self.pages[slot as usize].as_ref().expect("page");
        Ok(&page.decoded[page.slots[off] as usize])
    }

    fn decode(&mut self, mem: &mut Memory, rip: u64) -> Result<Decoded, Fault> {
        let mut bytes = [0u8; 15];
        let n = mem.fetch(rip, &mut bytes).map_err(|e| fetch_fault(e, rip, rip))?;
        let mut decoder = Decoder::with_ip(64, &bytes[..n], rip, DecoderOptions::NONE);
        let ins = decoder.decode();
        if ins.is_invalid() && decoder.last_error() == DecoderError::NoMoreBytes {
            // The instruction runs into a page that cannot be fetched.
            let at = rip.wrapping_add(n as u64);
            return Err(fetch_fault(mem.fetch_error_at(at), at, rip));
        }
        Ok(prepare(ins, &mut self.info))
    }

    fn drop_page(&mut self, pn: u64) {
        if let Some(s) = self.index.remove(&pn) {
            self.pages[s as usize] = None;
            self.free.push(s);
        }
    }

    /// Forgets everything (after the memory map changed wholesale).
    pub fn clear(&mut self) {
        self.index.clear();
        self.pages.clear();
        self.free.clear();
        self.last_page = u64::MAX;
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
