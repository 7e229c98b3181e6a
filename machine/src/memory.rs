//! The MMU: a sparse 48-bit address space of 4 KiB pages with per-page permissions and names.
//!
//! Every read, write and instruction fetch is checked the way x86-64 Linux checks it:
//! - a non-canonical address is a `#GP` (or `#SS` through RSP/RBP), decided by the caller;
//! - a page with nothing mapped is `SEGV_MAPERR`;
//! - a mapped page that forbids the access is `SEGV_ACCERR`.
//!
//! On x86 a page table cannot express "writable but not readable" or "executable but not
//! readable" (without protection keys), so, as on Linux, any mapped page with some
//! permission can be read; a page mapped with no permission at all (`---`) faults on every
//! access.
//!
//! An access that straddles two pages checks both pages before any byte changes.

use rustc_hash::FxHashMap;
use serde::Serialize;
use std::fmt;

/// Page size: 4 KiB.
pub const PAGE_SIZE: u64 = 4096;
const PAGE_SHIFT: u32 = 12;
const PAGE_MASK: u64 = PAGE_SIZE - 1;
const TLB_SIZE: usize = 64;

/// Page permissions: a set of read, write and execute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Perm(u8);

impl Perm {
    /// No access at all (`---`).
    pub const NONE: Perm = Perm(0);
    /// Read.
    pub const R: Perm = Perm(1);
    /// Write.
    pub const W: Perm = Perm(2);
    /// Execute.
    pub const X: Perm = Perm(4);
    /// Read and write (`rw-`).
    pub const RW: Perm = Perm(3);
    /// Read and execute (`r-x`).
    pub const RX: Perm = Perm(5);
    /// Everything (`rwx`).
    pub const RWX: Perm = Perm(7);

    /// Parses the three-letter form `rwx`, with `-` for a missing permission.
    pub fn parse(s: &str) -> Option<Perm> {
        let b = s.as_bytes();
        if b.len() != 3 {
            return None;
        }
        let mut p = 0;
        for (i, (&c, letter)) in b.iter().zip([b'r', b'w', b'x']).enumerate() {
            if c == letter {
                p |= 1 << i;
            } else if c != b'-' {
                return None;
            }
        }
        Some(Perm(p))
    }
    /// Whether every permission of `other` is in `self`.
    pub fn contains(self, other: Perm) -> bool {
        self.0 & other.0 == other.0
    }
    /// Whether a load may read the page (any permission implies read on x86 Linux).
    pub fn readable(self) -> bool {
        self.0 != 0
    }
    /// Whether a store may write the page.
    pub fn writable(self) -> bool {
        self.0 & 2 != 0
    }
    /// Whether instructions may be fetched from the page.
    pub fn executable(self) -> bool {
        self.0 & 4 != 0
    }
}

impl fmt::Display for Perm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = |bit: u8, ch: char| if self.0 & bit != 0 { ch } else { '-' };
        write!(f, "{}{}{}", c(1, 'r'), c(2, 'w'), c(4, 'x'))
    }
}

impl Serialize for Perm {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// How memory was touched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessKind {
    /// A data load.
    Read,
    /// A data store.
    Write,
    /// An instruction fetch.
    Fetch,
}

/// Why an access failed, before the caller turns it into a [`crate::Fault`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemError {
    /// Nothing is mapped at this address.
    Unmapped(u64),
    /// The page is mapped, but its permissions forbid the access.
    Denied(u64),
    /// The address is not canonical (bits 63..47 differ).
    NonCanonical,
}

/// Errors from changing the memory map.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// Start or size is not a multiple of the page size.
    #[error("region at {start:#x} of size {size:#x} is not page-aligned")]
    Unaligned {
        /// Requested start.
        start: u64,
        /// Requested size.
        size: u64,
    },
    /// The range overlaps pages that are already mapped.
    #[error("region at {start:#x} of size {size:#x} overlaps a mapped page at {page:#x}")]
    Overlap {
        /// Requested start.
        start: u64,
        /// Requested size.
        size: u64,
        /// The first page already mapped.
        page: u64,
    },
    /// The range leaves the canonical lower half (user space) or is empty.
    #[error("region at {start:#x} of size {size:#x} is empty or outside user space")]
    OutOfRange {
        /// Requested start.
        start: u64,
        /// Requested size.
        size: u64,
    },
}

/// A named range of the address space, such as `"g1 stack"` or `"TLS of thread 1"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Region {
    /// Human name.
    pub name: String,
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

/// One memory access recorded while tracing, for the UI and the CLI.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Access {
    /// Load, store or fetch.
    pub kind: AccessKind,
    /// Linear address of the first byte.
    pub addr: u64,
    /// Bytes before the access (the value read, for loads).
    pub old: Vec<u8>,
    /// Bytes after the access (equal to `old` for loads).
    pub new: Vec<u8>,
}

/// One entry of the write journal: the bytes a store replaced, to undo it. User addresses
/// fit in 47 bits, so the length rides in the top byte of the address word.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Undo {
    addr_and_len: u64,
    old: u64,
}

impl Undo {
    fn new(addr: u64, old: u64, len: usize) -> Undo {
        Undo {
            addr_and_len: addr | (len as u64) << 56,
            old,
        }
    }
    fn addr(&self) -> u64 {
        self.addr_and_len & 0x00ff_ffff_ffff_ffff
    }
    fn len(&self) -> usize {
        (self.addr_and_len >> 56) as usize
    }
}

struct Page {
    data: Box<[u8; PAGE_SIZE as usize]>,
    perm: Perm,
    region: u32,
    /// Decoded instructions of this page are cached; a store must invalidate them.
    has_code: bool,
}

#[derive(Clone, Copy)]
struct TlbEntry {
    page: u64,
    slot: u32,
}

const TLB_EMPTY: TlbEntry = TlbEntry {
    page: u64::MAX,
    slot: 0,
};

/// Whether an address is canonical for 48-bit linear addresses.
#[inline]
pub fn is_canonical(addr: u64) -> bool {
    ((addr as i64) << 16 >> 16) as u64 == addr
}

/// The paged address space shared by all threads of the machine.
pub struct Memory {
    page_slots: FxHashMap<u64, u32>,
    slots: Vec<Option<Page>>,
    free_slots: Vec<u32>,
    regions: Vec<Region>,
    read_tlb: [TlbEntry; TLB_SIZE],
    write_tlb: [TlbEntry; TLB_SIZE],
    /// Pages whose cached code was invalidated since the code cache last looked.
    code_invalidated: Vec<u64>,
    /// Bumped whenever `code_invalidated` grows, so the code cache can check it cheaply.
    code_epoch: u64,
    journal_on: bool,
    journal: Vec<Undo>,
    trace_on: bool,
    trace: Vec<Access>,
}

impl Default for Memory {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Memory")
            .field("pages", &self.page_slots.len())
            .field("regions", &self.regions)
            .finish()
    }
}

impl Memory {
    /// An empty address space.
    pub fn new() -> Memory {
        Memory {
            page_slots: FxHashMap::default(),
            slots: Vec::new(),
            free_slots: Vec::new(),
            regions: Vec::new(),
            read_tlb: [TLB_EMPTY; TLB_SIZE],
            write_tlb: [TLB_EMPTY; TLB_SIZE],
            code_invalidated: Vec::new(),
            code_epoch: 0,
            journal_on: false,
            journal: Vec::new(),
            trace_on: false,
            trace: Vec::new(),
        }
    }

    /// Maps `size` bytes at `start` (both page-aligned), zero-filled, with `perm`, under `name`.
    pub fn map(&mut self, start: u64, size: u64, perm: Perm, name: &str) -> Result<(), MapError> {
        check_range(start, size)?;
        if let Some(page) = self
            .pages_in(start, size)
            .find(|p| self.page_slots.contains_key(p))
        {
            return Err(MapError::Overlap {
                start,
                size,
                page: page << PAGE_SHIFT,
            });
        }
        let region = self.regions.len() as u32;
        self.regions.push(Region {
            name: name.to_string(),
            start,
            end: start + size,
        });
        for page in self.pages_in(start, size) {
            let new = Page {
                data: Box::new([0; PAGE_SIZE as usize]),
                perm,
                region,
                has_code: false,
            };
            let slot = match self.free_slots.pop() {
                Some(s) => {
                    self.slots[s as usize] = Some(new);
                    s
                }
                None => {
                    self.slots.push(Some(new));
                    (self.slots.len() - 1) as u32
                }
            };
            self.page_slots.insert(page, slot);
        }
        self.flush_tlbs();
        Ok(())
    }

    /// Unmaps every mapped page in the range (page-aligned); pages not mapped are ignored,
    /// as `munmap` does.
    pub fn unmap(&mut self, start: u64, size: u64) -> Result<(), MapError> {
        check_range(start, size)?;
        for page in self.pages_in(start, size) {
            if let Some(slot) = self.page_slots.remove(&page) {
                if let Some(p) = self.slots[slot as usize].take() {
                    if p.has_code {
                        self.invalidate_code(page);
                    }
                }
                self.free_slots.push(slot);
            }
        }
        // Regions keep their names; `region_of` only answers for pages still mapped.
        self.flush_tlbs();
        Ok(())
    }

    /// Changes the permissions of every mapped page in the range (page-aligned). Like
    /// `mprotect`, it fails if any page of the range is not mapped, and then changes nothing.
    pub fn protect(&mut self, start: u64, size: u64, perm: Perm) -> Result<(), MemError> {
        check_range(start, size).map_err(|_| MemError::NonCanonical)?;
        if let Some(page) = self
            .pages_in(start, size)
            .find(|p| !self.page_slots.contains_key(p))
        {
            return Err(MemError::Unmapped(page << PAGE_SHIFT));
        }
        for page in self.pages_in(start, size) {
            let slot = self.page_slots[&page];
            let p = self.slots[slot as usize].as_mut().expect("mapped slot");
            p.perm = perm;
            if p.has_code {
                p.has_code = false;
                self.invalidate_code(page);
            }
        }
        self.flush_tlbs();
        Ok(())
    }

    fn pages_in(&self, start: u64, size: u64) -> impl Iterator<Item = u64> {
        (start >> PAGE_SHIFT)..((start + size) >> PAGE_SHIFT)
    }

    fn flush_tlbs(&mut self) {
        self.read_tlb = [TLB_EMPTY; TLB_SIZE];
        self.write_tlb = [TLB_EMPTY; TLB_SIZE];
    }

    fn invalidate_code(&mut self, page: u64) {
        self.code_invalidated.push(page);
        self.code_epoch += 1;
    }

    /// The named regions, in the order they were mapped.
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// The region that contains `addr`, if that page is still mapped.
    pub fn region_of(&self, addr: u64) -> Option<&Region> {
        let slot = *self.page_slots.get(&(addr >> PAGE_SHIFT))?;
        let page = self.slots[slot as usize].as_ref()?;
        self.regions.get(page.region as usize)
    }

    /// The permissions of the page that holds `addr`, or `None` if it is not mapped.
    pub fn perm_of(&self, addr: u64) -> Option<Perm> {
        self.page(addr >> PAGE_SHIFT).map(|p| p.perm)
    }

    /// Every mapped page as (page address, permissions), sorted by address.
    pub fn pages(&self) -> Vec<(u64, Perm)> {
        let mut v: Vec<(u64, Perm)> = self
            .page_slots
            .iter()
            .map(|(&pn, &s)| {
                (
                    pn << PAGE_SHIFT,
                    self.slots[s as usize].as_ref().expect("slot").perm,
                )
            })
            .collect();
        v.sort_unstable_by_key(|&(a, _)| a);
        v
    }

    fn page(&self, page: u64) -> Option<&Page> {
        let slot = *self.page_slots.get(&page)?;
        self.slots[slot as usize].as_ref()
    }

    /// Side-effect-free read for the UI and loaders: ignores permissions, records nothing.
    /// Returns `None` if any byte of the range is not mapped.
    pub fn peek(&self, addr: u64, len: usize) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(len);
        let mut a = addr;
        let mut left = len;
        while left > 0 {
            let page = self.page(a >> PAGE_SHIFT)?;
            let off = (a & PAGE_MASK) as usize;
            let n = left.min(PAGE_SIZE as usize - off);
            out.extend_from_slice(&page.data[off..off + n]);
            left -= n;
            a = a.wrapping_add(n as u64);
        }
        Some(out)
    }

    /// Side-effect-free little-endian read of a quadword, for the UI.
    pub fn peek_u64(&self, addr: u64) -> Option<u64> {
        let b = self.peek(addr, 8)?;
        Some(u64::from_le_bytes(b.try_into().ok()?))
    }

    /// Loader write: ignores permissions (like the kernel filling a mapping), records nothing
    /// in the journal, but invalidates cached code. Fails if any byte is unmapped.
    pub fn poke(&mut self, addr: u64, bytes: &[u8]) -> Result<(), MemError> {
        // Check the whole range first so a failed poke changes nothing.
        let mut a = addr;
        let end = addr.wrapping_add(bytes.len() as u64);
        while a < end {
            if self.page(a >> PAGE_SHIFT).is_none() {
                return Err(MemError::Unmapped(a));
            }
            a = (a & !PAGE_MASK).wrapping_add(PAGE_SIZE);
        }
        let mut a = addr;
        let mut rest = bytes;
        while !rest.is_empty() {
            let pn = a >> PAGE_SHIFT;
            let slot = self.page_slots[&pn];
            let off = (a & PAGE_MASK) as usize;
            let n = rest.len().min(PAGE_SIZE as usize - off);
            let p = self.slots[slot as usize].as_mut().expect("slot");
            p.data[off..off + n].copy_from_slice(&rest[..n]);
            if p.has_code {
                p.has_code = false;
                self.invalidate_code(pn);
            }
            rest = &rest[n..];
            a = a.wrapping_add(n as u64);
        }
        self.write_tlb = [TLB_EMPTY; TLB_SIZE];
        Ok(())
    }

    #[inline(always)]
    fn read_slot(&mut self, pn: u64) -> Result<u32, MemError> {
        let e = self.read_tlb[(pn as usize) & (TLB_SIZE - 1)];
        if e.page == pn {
            return Ok(e.slot);
        }
        self.read_slot_slow(pn)
    }

    #[cold]
    fn read_slot_slow(&mut self, pn: u64) -> Result<u32, MemError> {
        if !is_canonical(pn << PAGE_SHIFT) {
            return Err(MemError::NonCanonical);
        }
        let slot = *self
            .page_slots
            .get(&pn)
            .ok_or(MemError::Unmapped(pn << PAGE_SHIFT))?;
        let page = self.slots[slot as usize].as_ref().expect("slot");
        if !page.perm.readable() {
            return Err(MemError::Denied(pn << PAGE_SHIFT));
        }
        self.read_tlb[(pn as usize) & (TLB_SIZE - 1)] = TlbEntry { page: pn, slot };
        Ok(slot)
    }

    #[inline(always)]
    fn write_slot(&mut self, pn: u64) -> Result<u32, MemError> {
        let e = self.write_tlb[(pn as usize) & (TLB_SIZE - 1)];
        if e.page == pn {
            return Ok(e.slot);
        }
        self.write_slot_slow(pn)
    }

    #[cold]
    fn write_slot_slow(&mut self, pn: u64) -> Result<u32, MemError> {
        if !is_canonical(pn << PAGE_SHIFT) {
            return Err(MemError::NonCanonical);
        }
        let slot = *self
            .page_slots
            .get(&pn)
            .ok_or(MemError::Unmapped(pn << PAGE_SHIFT))?;
        let page = self.slots[slot as usize].as_mut().expect("slot");
        if !page.perm.writable() {
            return Err(MemError::Denied(pn << PAGE_SHIFT));
        }
        if page.has_code {
            // First store to a page with cached code: drop that code (self-modifying code).
            page.has_code = false;
            self.invalidate_code(pn);
        }
        self.write_tlb[(pn as usize) & (TLB_SIZE - 1)] = TlbEntry { page: pn, slot };
        Ok(slot)
    }

    /// Checks that a `size`-byte access at `addr` is canonical at both ends.
    #[inline]
    fn check_canonical(addr: u64, size: usize) -> Result<(), MemError> {
        if is_canonical(addr) && is_canonical(addr.wrapping_add(size as u64 - 1)) {
            Ok(())
        } else {
            Err(MemError::NonCanonical)
        }
    }

    /// A checked little-endian load of 1, 2, 4 or 8 bytes.
    #[inline(always)]
    pub fn read(&mut self, addr: u64, size: usize) -> Result<u64, MemError> {
        let off = (addr & PAGE_MASK) as usize;
        let value = if off + size <= PAGE_SIZE as usize {
            // A TLB hit implies a mapped, hence canonical, page; the miss path checks.
            let slot = self.read_slot(addr >> PAGE_SHIFT)?;
            let data = &self.slots[slot as usize].as_ref().expect("slot").data;
            load_le(&data[off..off + size])
        } else {
            self.read_straddling(addr, size)?
        };
        if self.trace_on {
            let bytes = value.to_le_bytes()[..size].to_vec();
            self.trace.push(Access {
                kind: AccessKind::Read,
                addr,
                old: bytes.clone(),
                new: bytes,
            });
        }
        Ok(value)
    }

    #[cold]
    fn read_straddling(&mut self, addr: u64, size: usize) -> Result<u64, MemError> {
        Self::check_canonical(addr, size)?;
        let first = self.read_slot(addr >> PAGE_SHIFT)?;
        let second = self.read_slot((addr >> PAGE_SHIFT) + 1)?;
        let off = (addr & PAGE_MASK) as usize;
        let n1 = PAGE_SIZE as usize - off;
        let mut buf = [0u8; 8];
        buf[..n1].copy_from_slice(&self.slots[first as usize].as_ref().expect("slot").data[off..]);
        buf[n1..size].copy_from_slice(
            &self.slots[second as usize].as_ref().expect("slot").data[..size - n1],
        );
        Ok(u64::from_le_bytes(buf))
    }

    /// Checks that a store of `size` bytes at `addr` would succeed, without storing.
    /// Instructions with two stores use it so that the first cannot land if the second faults.
    pub fn check_write(&mut self, addr: u64, size: usize) -> Result<(), MemError> {
        Self::check_canonical(addr, size)?;
        self.write_slot(addr >> PAGE_SHIFT)?;
        if (addr & PAGE_MASK) as usize + size > PAGE_SIZE as usize {
            self.write_slot((addr >> PAGE_SHIFT) + 1)?;
        }
        Ok(())
    }

    /// A checked little-endian store of the low `size` bytes (1, 2, 4 or 8) of `value`.
    #[inline(always)]
    pub fn write(&mut self, addr: u64, size: usize, value: u64) -> Result<(), MemError> {
        let off = (addr & PAGE_MASK) as usize;
        if off + size <= PAGE_SIZE as usize {
            let slot = self.write_slot(addr >> PAGE_SHIFT)?;
            let data = &mut self.slots[slot as usize].as_mut().expect("slot").data;
            let cell = &mut data[off..off + size];
            if self.journal_on || self.trace_on {
                let old = load_le(cell);
                store_le(cell, value);
                self.record_write(addr, size, old, value);
            } else {
                store_le(cell, value);
            }
            Ok(())
        } else {
            self.write_straddling(addr, size, value)
        }
    }

    #[cold]
    fn write_straddling(&mut self, addr: u64, size: usize, value: u64) -> Result<(), MemError> {
        Self::check_canonical(addr, size)?;
        // Both pages are checked before any byte changes (SDM Vol. 3A, 6.15: a faulting
        // store does not modify memory).
        let first = self.write_slot(addr >> PAGE_SHIFT)?;
        let second = self.write_slot((addr >> PAGE_SHIFT) + 1)?;
        let off = (addr & PAGE_MASK) as usize;
        let n1 = PAGE_SIZE as usize - off;
        let bytes = value.to_le_bytes();
        let mut old = [0u8; 8];
        {
            let d1 = &mut self.slots[first as usize].as_mut().expect("slot").data;
            old[..n1].copy_from_slice(&d1[off..]);
            d1[off..].copy_from_slice(&bytes[..n1]);
        }
        {
            let d2 = &mut self.slots[second as usize].as_mut().expect("slot").data;
            old[n1..size].copy_from_slice(&d2[..size - n1]);
            d2[..size - n1].copy_from_slice(&bytes[n1..size]);
        }
        if self.journal_on || self.trace_on {
            self.record_write(addr, size, u64::from_le_bytes(old), value);
        }
        Ok(())
    }

    #[cold]
    fn record_write(&mut self, addr: u64, size: usize, old: u64, new: u64) {
        if self.journal_on {
            self.journal.push(Undo::new(addr, old, size));
        }
        if self.trace_on {
            self.trace.push(Access {
                kind: AccessKind::Write,
                addr,
                old: old.to_le_bytes()[..size].to_vec(),
                new: new.to_le_bytes()[..size].to_vec(),
            });
        }
    }

    /// Copies up to `buf.len()` instruction bytes at `addr` from executable pages, for the
    /// decoder. Stops at the first page that cannot be fetched; returns how many bytes were
    /// copied, or the error for the very first byte.
    pub(crate) fn fetch(&mut self, addr: u64, buf: &mut [u8]) -> Result<usize, MemError> {
        let mut n = 0;
        while n < buf.len() {
            let a = addr.wrapping_add(n as u64);
            if !is_canonical(a) {
                if n == 0 {
                    return Err(MemError::NonCanonical);
                }
                break;
            }
            let pn = a >> PAGE_SHIFT;
            let page = match self.page_slots.get(&pn) {
                Some(&s) => self.slots[s as usize].as_mut().expect("slot"),
                None if n == 0 => return Err(MemError::Unmapped(a)),
                None => break,
            };
            if !page.perm.executable() {
                if n == 0 {
                    return Err(MemError::Denied(a));
                }
                break;
            }
            if !page.has_code {
                page.has_code = true;
                // Stores to this page must now take the slow path that invalidates code.
                self.write_tlb[(pn as usize) & (TLB_SIZE - 1)] = TLB_EMPTY;
            }
            let off = (a & PAGE_MASK) as usize;
            let k = (buf.len() - n).min(PAGE_SIZE as usize - off);
            buf[n..n + k].copy_from_slice(&page.data[off..off + k]);
            n += k;
        }
        Ok(n)
    }

    /// Where a fetch of an instruction that needs bytes beyond `available` would fault.
    pub(crate) fn fetch_error_at(&mut self, addr: u64) -> MemError {
        let mut one = [0u8; 1];
        match self.fetch(addr, &mut one) {
            Err(e) => e,
            Ok(_) => MemError::Unmapped(addr),
        }
    }

    pub(crate) fn code_epoch(&self) -> u64 {
        self.code_epoch
    }

    pub(crate) fn take_code_invalidated(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.code_invalidated)
    }

    pub(crate) fn set_journal(&mut self, on: bool) {
        self.journal_on = on;
        if !on {
            self.journal = Vec::new();
        }
    }

    pub(crate) fn journal_len(&self) -> usize {
        self.journal.len()
    }

    pub(crate) fn journal_bytes(&self) -> usize {
        self.journal.len() * std::mem::size_of::<Undo>()
    }

    /// Undoes journal entries back to length `len`, newest first.
    pub(crate) fn rollback_to(&mut self, len: usize) {
        while self.journal.len() > len {
            let u = self.journal.pop().expect("journal entry");
            let bytes = u.old.to_le_bytes();
            // The page was writable when the store happened; restore it even if it has been
            // protected since, which only a rollback across a map change could observe.
            let _ = self.poke(u.addr(), &bytes[..u.len()]);
        }
    }

    /// Forgets journal entries (history was cleared or truncated at the front).
    pub(crate) fn clear_journal(&mut self) {
        self.journal.clear();
    }

    /// Starts or stops recording accesses for [`Memory::take_trace`].
    pub fn set_trace(&mut self, on: bool) {
        self.trace_on = on;
        self.trace.clear();
    }

    /// The accesses recorded since tracing started or since the last call.
    pub fn take_trace(&mut self) -> Vec<Access> {
        std::mem::take(&mut self.trace)
    }
}

fn check_range(start: u64, size: u64) -> Result<(), MapError> {
    if start & PAGE_MASK != 0 || size & PAGE_MASK != 0 {
        return Err(MapError::Unaligned { start, size });
    }
    match start.checked_add(size) {
        Some(end) if size > 0 && end <= 0x8000_0000_0000 => Ok(()),
        _ => Err(MapError::OutOfRange { start, size }),
    }
}

#[inline(always)]
fn load_le(b: &[u8]) -> u64 {
    match b.len() {
        1 => b[0] as u64,
        2 => u16::from_le_bytes([b[0], b[1]]) as u64,
        4 => u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64,
        _ => u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
    }
}

#[inline(always)]
fn store_le(b: &mut [u8], v: u64) {
    let n = b.len();
    b.copy_from_slice(&v.to_le_bytes()[..n]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn straddling_store_checks_both_pages_first() {
        let mut m = Memory::new();
        m.map(0x1000, 0x1000, Perm::RW, "a").unwrap();
        m.map(0x2000, 0x1000, Perm::R, "b").unwrap();
        assert_eq!(m.write(0x1ffc, 8, u64::MAX), Err(MemError::Denied(0x2000)));
        assert_eq!(m.peek(0x1ff8, 16).unwrap(), vec![0; 16]);
        m.write(0x1ff8, 8, 0x1122334455667788).unwrap();
        assert_eq!(m.read(0x1ff8, 8), Ok(0x1122334455667788));
    }

    #[test]
    fn permissions_follow_x86_linux() {
        let mut m = Memory::new();
        m.map(0x1000, 0x1000, Perm::NONE, "guard").unwrap();
        m.map(0x2000, 0x1000, Perm::X, "text").unwrap();
        assert_eq!(m.read(0x1008, 8), Err(MemError::Denied(0x1000)));
        assert_eq!(
            m.read(0x2000, 1),
            Ok(0),
            "exec-only pages are readable on x86"
        );
        assert_eq!(m.write(0x2000, 1, 1), Err(MemError::Denied(0x2000)));
        assert_eq!(m.read(0x5000, 1), Err(MemError::Unmapped(0x5000)));
        assert_eq!(
            m.read(0x0000_8000_0000_0000, 1),
            Err(MemError::NonCanonical)
        );
        assert_eq!(m.read(0x7fff_ffff_fffc, 8), Err(MemError::NonCanonical));
    }

    #[test]
    fn map_rejects_overlap_and_misalignment() {
        let mut m = Memory::new();
        m.map(0x1000, 0x2000, Perm::RW, "a").unwrap();
        assert!(matches!(
            m.map(0x2000, 0x1000, Perm::RW, "b"),
            Err(MapError::Overlap { page: 0x2000, .. })
        ));
        assert!(matches!(
            m.map(0x2001, 0x1000, Perm::RW, "b"),
            Err(MapError::Unaligned { .. })
        ));
        m.unmap(0x2000, 0x1000).unwrap();
        m.map(0x2000, 0x1000, Perm::RW, "b").unwrap();
        assert_eq!(m.region_of(0x2010).unwrap().name, "b");
        assert_eq!(m.region_of(0x1010).unwrap().name, "a");
    }
}
