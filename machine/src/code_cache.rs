//! Decoded instructions cached as basic blocks.
//!
//! A block is the run of instructions from an address up to the first one that may change
//! the flow (a branch, call, return, interrupt or system call), at most [`MAX_BLOCK`] long
//! and never starting an instruction on a new page. Each instruction is decoded by iced
//! once; the interpreter then runs a block's instructions from one array, with one lookup
//! per block instead of one per instruction.
//!
//! A store to a page with cached code (or a permission or map change) drops the blocks
//! whose bytes touch that page: the memory tells which pages through its code epoch. The
//! lookup of a block the thread ran recently is a compare in a small direct-mapped table.
//!
//! Blocks are chained: each keeps the block that ran after it the last time it left by
//! its branch and the last time it fell through (its two links), so a loop goes from
//! block to block without a lookup. A link is a cache of "the block that starts at this
//! address" and is checked against the address the block left for; dropping any block
//! forgets every link, so a link never names a dropped block. Within one run of the
//! interpreter loop the code changes only through a store of the running thread, which
//! ends the block with `Trap::CodeChanged`; the loop then takes the lookup, which sees
//! the new code epoch. Chained transitions therefore need no epoch check.

use crate::decode::{prepare, Decoded};
use crate::fault::Fault;
use crate::memory::{MemError, Memory};
use iced_x86::{Decoder, DecoderError, DecoderOptions, InstructionInfoFactory};
use rustc_hash::FxHashMap;

/// The longest block: long enough that the per-block costs (lookup, budget and stop
/// checks) vanish, short enough that decoding ahead stays cheap.
pub(crate) const MAX_BLOCK: usize = 32;

/// Entries of the direct-mapped table of recent blocks.
const RECENT: usize = 1024;

/// No block: an empty link.
const NO_BLOCK: u32 = u32::MAX;

/// The empty links of a block that ends at `end`: slot 0 is only asked about addresses
/// other than `end`, slot 1 only about `end`, so neither empty link can match.
fn no_links(end: u64) -> [(u64, u32); 2] {
    [(end, NO_BLOCK), (end ^ 1, NO_BLOCK)]
}

/// One block: its instructions, what they may change together (for a step-back record
/// of the whole block, history.rs), and its links.
pub(crate) struct Block {
    /// The instructions (none once dropped). A block owns them, so that running one
    /// costs one index into `CodeCache::blocks` and no range check of a shared array.
    code: Box<[Decoded]>,
    /// The address of its first instruction.
    start: u64,
    /// The address after its last instruction (where it falls through to).
    pub end: u64,
    pub info: BlockInfo,
    /// (RIP, block starting there): [0] where it last branched to, [1] where it last
    /// fell through to (`end`, once linked).
    links: [(u64, u32); 2],
}

/// What the instructions of a block may write, together: the union of their
/// `Decoded::writes` and `Decoded::xmm_writes`, and whether any uses the SSE state.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct BlockInfo {
    pub writes: u16,
    pub xmm_writes: u16,
    pub vector: bool,
    /// The registers in `writes`, in index order, `nregs` of them: so that a block record
    /// copies them in one pass.
    pub regs: [u8; 16],
    pub nregs: u8,
}

pub(crate) struct CodeCache {
    /// Block start address → index in `blocks`.
    index: FxHashMap<u64, u32>,
    blocks: Vec<Block>,
    /// Page number → the blocks whose bytes touch it.
    pages: FxHashMap<u64, Vec<u32>>,
    /// Dropped blocks still in `blocks` (their indices are not reused until `clear`).
    garbage: usize,
    /// (start address, block) by [`slot`]; an empty entry holds an address that does not
    /// map to its own slot, so no address matches it.
    recent: Box<[(u64, u32)]>,
    epoch: u64,
    info: InstructionInfoFactory,
}

#[inline(always)]
fn slot(rip: u64) -> usize {
    ((rip ^ (rip >> 10)) as usize) & (RECENT - 1)
}

fn empty_recent() -> Box<[(u64, u32)]> {
    (0..RECENT).map(|i| ((i ^ 1) as u64, 0)).collect()
}

impl CodeCache {
    pub fn new() -> CodeCache {
        CodeCache {
            index: FxHashMap::default(),
            blocks: Vec::new(),
            pages: FxHashMap::default(),
            garbage: 0,
            recent: empty_recent(),
            epoch: 0,
            info: InstructionInfoFactory::new(),
        }
    }

    /// The index of the block that starts at `rip`, decoding it if needed. Its first
    /// instruction is at `rip`; a fault is that instruction's fetch fault. This is the
    /// lookup that sees code changes (the code epoch); chained transitions skip it.
    #[inline(always)]
    pub fn lookup(&mut self, mem: &mut Memory, rip: u64) -> Result<u32, Fault> {
        let (start, b) = self.recent[slot(rip)];
        if start == rip && self.epoch == mem.code_epoch() {
            return Ok(b);
        }
        self.lookup_slow(mem, rip)
    }

    #[cold]
    #[inline(never)]
    fn lookup_slow(&mut self, mem: &mut Memory, rip: u64) -> Result<u32, Fault> {
        if self.epoch != mem.code_epoch() {
            let mut dropped = false;
            for page in mem.take_code_invalidated() {
                dropped |= self.drop_page(page);
            }
            self.epoch = mem.code_epoch();
            self.recent = empty_recent();
            if dropped {
                // A link may name a dropped block: forget them all (code changes are
                // rare; loops relink on their next pass).
                for b in &mut self.blocks {
                    b.links = no_links(b.end);
                }
            }
            if self.garbage > 512 && self.garbage > self.blocks.len() / 2 {
                self.clear();
            }
        }
        let b = match self.index.get(&rip) {
            Some(&b) => b,
            None => self.build(mem, rip)?,
        };
        self.recent[slot(rip)] = (rip, b);
        Ok(b)
    }

    /// Block `b` and its instructions.
    #[inline(always)]
    pub fn get(&self, b: u32) -> (&Block, &[Decoded]) {
        let block = &self.blocks[b as usize];
        (block, &block.code)
    }

    /// The block that ran after `b` the last time `b` left for `next`, if it is linked.
    #[inline(always)]
    pub fn linked(&self, b: u32, next: u64) -> Option<u32> {
        let block = &self.blocks[b as usize];
        let (rip, to) = block.links[(next == block.end) as usize];
        if rip == next {
            Some(to)
        } else {
            None
        }
    }

    /// Links `from` to `to`, the block that starts at `next`, where `from` just left for.
    /// Only for blocks that [`CodeCache::lookup`] returned since the last code change.
    #[inline]
    pub fn link(&mut self, from: u32, next: u64, to: u32) {
        let block = &mut self.blocks[from as usize];
        let i = (next == block.end) as usize;
        block.links[i] = (next, to);
    }

    /// Decodes the block at `rip`. Only the first instruction's fetch fault is an error:
    /// a later instruction that cannot be fetched ends the block before it, and faults
    /// when (if ever) it is reached.
    fn build(&mut self, mem: &mut Memory, rip: u64) -> Result<u32, Fault> {
        let mut code = Vec::new();
        let mut at = rip;
        loop {
            let d = match self.decode(mem, at) {
                Ok(d) => d,
                Err(f) if at == rip => return Err(f),
                Err(_) => break,
            };
            // A branch ends a block, and so does a repeated string instruction, which may
            // end its step on itself: so only a block's last instruction can go anywhere
            // but its next one (the interpreter loop relies on it).
            let ends = d.keep & crate::decode::KEEP_RIP != 0;
            at = d.next_ip;
            code.push(d);
            // A block stays on its first page, except for a last instruction that runs
            // into the next one.
            if ends || code.len() == MAX_BLOCK || at >> 12 != rip >> 12 {
                break;
            }
        }
        let b = self.blocks.len() as u32;
        let mut info = BlockInfo::default();
        for d in &code {
            info.writes |= d.writes;
            info.xmm_writes |= d.xmm_writes;
            info.vector |= d.keep & crate::decode::KEEP_VECTOR != 0;
        }
        for i in 0..16u8 {
            if info.writes & (1 << i) != 0 {
                info.regs[info.nregs as usize] = i;
                info.nregs += 1;
            }
        }
        self.blocks.push(Block {
            code: code.into_boxed_slice(),
            start: rip,
            end: at,
            info,
            links: no_links(at),
        });
        self.index.insert(rip, b);
        let last_byte = at.wrapping_sub(1);
        self.pages.entry(rip >> 12).or_default().push(b);
        if last_byte >> 12 != rip >> 12 {
            self.pages.entry(last_byte >> 12).or_default().push(b);
        }
        Ok(b)
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

    /// Drops every block whose bytes touch page `pn`; says whether there were any.
    fn drop_page(&mut self, pn: u64) -> bool {
        let Some(blocks) = self.pages.remove(&pn) else {
            return false;
        };
        for b in blocks {
            let block = &mut self.blocks[b as usize];
            if block.code.is_empty() {
                // Already dropped through the other page it touches.
                continue;
            }
            let start = block.start;
            self.garbage += 1;
            block.code = Box::new([]);
            if self.index.get(&start) == Some(&b) {
                self.index.remove(&start);
            }
        }
        true
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.index.clear();
        self.blocks.clear();
        self.pages.clear();
        self.garbage = 0;
        self.recent = empty_recent();
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
