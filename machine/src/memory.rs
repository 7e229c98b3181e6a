//! The MMU: a sparse 48-bit address space of 4 KiB pages, with permissions and names per
//! mapping and page data only where something was written.
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
//!
//! Map changes (`map`, `map_replace`, `unmap`, `protect`) follow mm/mmap.c and
//! mm/mprotect.c: partial changes split mappings, `MAP_FIXED` replaces, a non-fixed
//! `mmap` searches top-down ([`Memory::find_free`]). With the journal on they are undone by
//! [`Memory::rollback_to`] together with the stores, bytes of dropped pages included, so a
//! system call that changes the map inside a step can be stepped back.

mod mappings;

use mappings::Mappings;
pub use mappings::MMAP_MIN_ADDR;
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

/// A mapping: a named range of the address space with one set of permissions, such as
/// `"g1 stack"` or `"TLS of thread 1"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Region {
    /// Human name.
    pub name: String,
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
    /// What its pages allow.
    pub perm: Perm,
}

fn region(start: u64, end: u64, perm: Perm, name: &str) -> Region {
    Region {
        name: name.to_string(),
        start,
        end,
        perm,
    }
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
/// fit in 47 bits, so the length rides in the top byte of the address word. A length of 0
/// marks a change of the memory map, whose undo record waits in `Memory::map_journal`;
/// keeping those out of line keeps the entry of a store at 16 bytes.
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
    const MAP_CHANGE: Undo = Undo {
        addr_and_len: 0,
        old: 0,
    };
    fn addr(&self) -> u64 {
        self.addr_and_len & 0x00ff_ffff_ffff_ffff
    }
    fn len(&self) -> usize {
        (self.addr_and_len >> 56) as usize
    }
}

/// How to undo one change of the memory map: what `[start, end)` held before it.
struct MapUndo {
    start: u64,
    end: u64,
    /// The mappings that were in the range, cut to it.
    mappings: Vec<Region>,
    /// The materialised pages the change dropped (page number, data), or `None` when the
    /// change kept every byte (`protect`).
    pages: Option<Vec<(u64, PageData)>>,
}

impl MapUndo {
    fn bytes(&self) -> usize {
        std::mem::size_of::<MapUndo>()
            + self
                .mappings
                .iter()
                .map(|r| std::mem::size_of::<Region>() + r.name.len())
                .sum::<usize>()
            + self.pages.as_ref().map_or(0, |p| {
                p.len() * (std::mem::size_of::<(u64, PageData)>() + PAGE_SIZE as usize)
            })
    }
}

type PageData = Box<[u8; PAGE_SIZE as usize]>;

fn zeroed_page() -> PageData {
    // Through a zeroed vector, so the allocator can hand out zero pages without a copy.
    vec![0u8; PAGE_SIZE as usize]
        .into_boxed_slice()
        .try_into()
        .expect("a page-sized slice")
}

/// A materialised page: one that has been written (or fetched from) since it was mapped.
struct Page {
    data: PageData,
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

/// The slot of the shared page of zeros that read TLB entries of mapped but untouched
/// pages point to; no store ever reaches it, since the write path materialises first.
const ZERO_SLOT: u32 = 0;

/// Whether an address is canonical for 48-bit linear addresses.
#[inline]
pub fn is_canonical(addr: u64) -> bool {
    ((addr as i64) << 16 >> 16) as u64 == addr
}

/// The paged address space shared by all threads of the machine.
///
/// Mapping costs time and host memory in the number of mappings, not in their size: the
/// permissions live in a list of ranges, and a page's 4 KiB of data exists only once the
/// page is written, so a read of an untouched page sees zeros, as from Linux's shared
/// zero page. Go's runtime relies on that: it reserves hundreds of megabytes of
/// `PROT_NONE` address space at start-up (runtime/mpagealloc_64.go, `sysInit`) and maps
/// 64 MB heap arenas (runtime/malloc.go) that it touches sparsely.
pub struct Memory {
    mappings: Mappings,
    /// Materialised pages: page number → slot in `slots`.
    page_slots: FxHashMap<u64, u32>,
    slots: Vec<Option<Page>>,
    free_slots: Vec<u32>,
    read_tlb: [TlbEntry; TLB_SIZE],
    write_tlb: [TlbEntry; TLB_SIZE],
    /// Pages whose cached code was invalidated since the code cache last looked.
    code_invalidated: Vec<u64>,
    /// Bumped whenever `code_invalidated` grows, so the code cache can check it cheaply.
    code_epoch: u64,
    journal_on: bool,
    journal: Vec<Undo>,
    /// Undo records of map changes, one per `Undo::MAP_CHANGE` entry of `journal`.
    map_journal: Vec<MapUndo>,
    map_journal_bytes: usize,
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
            .field("mappings", &self.mappings.as_slice())
            .field("materialised_pages", &self.page_slots.len())
            .finish()
    }
}

impl Memory {
    /// An empty address space.
    pub fn new() -> Memory {
        Memory {
            mappings: Mappings::default(),
            page_slots: FxHashMap::default(),
            slots: vec![Some(Page {
                data: zeroed_page(),
                has_code: false,
            })],
            free_slots: Vec::new(),
            read_tlb: [TLB_EMPTY; TLB_SIZE],
            write_tlb: [TLB_EMPTY; TLB_SIZE],
            code_invalidated: Vec::new(),
            code_epoch: 0,
            journal_on: false,
            journal: Vec::new(),
            map_journal: Vec::new(),
            map_journal_bytes: 0,
            trace_on: false,
            trace: Vec::new(),
        }
    }

    /// Maps `size` bytes at `start` (both page-aligned), zero-filled, with `perm`, under
    /// `name`. Fails, changing nothing, if any page of the range is already mapped.
    pub fn map(&mut self, start: u64, size: u64, perm: Perm, name: &str) -> Result<(), MapError> {
        check_range(start, size)?;
        let end = start + size;
        if let Some(r) = self.mappings.first_overlap(start, end) {
            return Err(MapError::Overlap {
                start,
                size,
                page: r.start.max(start),
            });
        }
        self.record_map_change(start, end, Vec::new(), Some(Vec::new()));
        self.mappings.insert(region(start, end, perm, name));
        Ok(())
    }

    /// Maps `size` bytes at `start` (both page-aligned), zero-filled, with `perm`, under
    /// `name`, replacing whatever was mapped there: `mmap` with `MAP_FIXED`, which unmaps
    /// the old range first (mm/mmap.c, `mmap_region`).
    pub fn map_replace(
        &mut self,
        start: u64,
        size: u64,
        perm: Perm,
        name: &str,
    ) -> Result<(), MapError> {
        check_range(start, size)?;
        let end = start + size;
        self.remove_range(start, end);
        self.mappings.insert(region(start, end, perm, name));
        Ok(())
    }

    /// Unmaps every mapped page in the range (page-aligned); pages not mapped are ignored,
    /// as `munmap` does. A mapping that straddles an end of the range is split.
    pub fn unmap(&mut self, start: u64, size: u64) -> Result<(), MapError> {
        check_range(start, size)?;
        // With nothing mapped there is no data either: nothing to change or to undo.
        if self.mappings.first_overlap(start, start + size).is_some() {
            self.remove_range(start, start + size);
        }
        Ok(())
    }

    /// Drops the mappings and the data of `[start, end)`, journaling both.
    fn remove_range(&mut self, start: u64, end: u64) {
        let mappings = self.mappings.clipped(start, end);
        let pages = self.drop_pages(start, end);
        self.record_map_change(start, end, mappings, Some(pages));
        self.mappings.carve(start, end);
        self.flush_tlbs();
    }

    /// Changes the permissions of the mapped pages in the range (page-aligned), splitting
    /// mappings at its ends. As `mprotect` does (mm/mprotect.c, `do_mprotect_pkey`), it
    /// fails with the first unmapped address of the range, after changing the mapped pages
    /// below it; when `start` itself is not mapped nothing changes.
    pub fn protect(&mut self, start: u64, size: u64, perm: Perm) -> Result<(), MemError> {
        check_range(start, size).map_err(|_| MemError::NonCanonical)?;
        let hole = self.mappings.first_hole(start, start + size);
        let end = hole.unwrap_or(start + size);
        if end > start {
            let old = self.mappings.clipped(start, end);
            self.record_map_change(start, end, old.clone(), None);
            self.mappings.carve(start, end);
            for r in old {
                self.mappings.insert(Region { perm, ..r });
            }
            self.invalidate_code_in(start, end);
            self.flush_tlbs();
        }
        match hole {
            Some(a) => Err(MemError::Unmapped(a)),
            None => Ok(()),
        }
    }

    /// Drops the data of the mapped pages in the range (page-aligned), which then read as
    /// zeros again, keeping the mappings: `madvise(MADV_DONTNEED)` on private anonymous
    /// memory (mm/madvise.c), which Go's scavenger uses to return heap pages to the OS
    /// (runtime/mem_linux.go, `sysUnusedOS`; the default advice since Go 1.16). As
    /// madvise does, it applies to every mapped part of the range and then fails with the
    /// first unmapped address, if any.
    pub fn discard(&mut self, start: u64, size: u64) -> Result<(), MemError> {
        check_range(start, size).map_err(|_| MemError::NonCanonical)?;
        let end = start + size;
        if self.mappings.first_overlap(start, end).is_some() {
            let mappings = self.mappings.clipped(start, end);
            let pages = self.drop_pages(start, end);
            self.record_map_change(start, end, mappings, Some(pages));
            self.flush_tlbs();
        }
        match self.mappings.first_hole(start, end) {
            Some(a) => Err(MemError::Unmapped(a)),
            None => Ok(()),
        }
    }

    /// The highest free, page-aligned range of `size` bytes that ends at or below `below`
    /// (and below the last user page) and starts at or above 64 KiB (Linux's default
    /// `mmap_min_addr`): where a `mmap`
    /// without `MAP_FIXED` puts a mapping in Linux's default top-down layout, `below` being
    /// its `mmap_base` (mm/mmap.c, `unmapped_area_topdown`). `None` if nothing fits or
    /// `size` is not a positive multiple of the page size.
    pub fn find_free(&self, size: u64, below: u64) -> Option<u64> {
        self.mappings.find_free(size, below)
    }

    /// Whether no page of the range is mapped: a `mmap` hint can be used as it is (Linux
    /// also wants it at or above `mmap_min_addr`, mm/mmap.c `arch_get_unmapped_area`).
    pub fn is_free(&self, start: u64, size: u64) -> bool {
        check_range(start, size).is_ok()
            && self.mappings.first_overlap(start, start + size).is_none()
    }

    /// Journals how to restore `[start, end)` to `mappings` (and `pages`).
    fn record_map_change(
        &mut self,
        start: u64,
        end: u64,
        mappings: Vec<Region>,
        pages: Option<Vec<(u64, PageData)>>,
    ) {
        if !self.journal_on {
            return;
        }
        let undo = MapUndo {
            start,
            end,
            mappings,
            pages,
        };
        self.map_journal_bytes += undo.bytes();
        self.map_journal.push(undo);
        self.journal.push(Undo::MAP_CHANGE);
    }

    /// Puts `[start, end)` back as a journaled map change found it.
    fn undo_map_change(&mut self, undo: MapUndo) {
        self.map_journal_bytes -= undo.bytes();
        let MapUndo {
            start,
            end,
            mappings,
            pages,
        } = undo;
        if let Some(pages) = pages {
            self.drop_pages(start, end);
            for (pn, data) in pages {
                let slot = self.alloc_slot(Page {
                    data,
                    has_code: false,
                });
                self.page_slots.insert(pn, slot);
            }
        } else {
            // Only the permissions come back: code decoded under the newer ones goes.
            self.invalidate_code_in(start, end);
        }
        self.mappings.carve(start, end);
        for r in mappings {
            self.mappings.insert(r);
        }
        self.flush_tlbs();
    }

    /// The materialised pages of `[start, end)`, in address order. Scans whichever is
    /// smaller: the range's page numbers or the set of materialised pages.
    fn materialised_in(&self, start: u64, end: u64) -> Vec<u64> {
        let pages = (start >> PAGE_SHIFT)..(end >> PAGE_SHIFT);
        // Compared in u64: on wasm32 a range's page count may not fit a usize.
        let mut found: Vec<u64> = if pages.end - pages.start <= self.page_slots.len() as u64 {
            pages.filter(|p| self.page_slots.contains_key(p)).collect()
        } else {
            self.page_slots
                .keys()
                .copied()
                .filter(|p| pages.contains(p))
                .collect()
        };
        found.sort_unstable();
        found
    }

    /// Frees the materialised pages of `[start, end)` and returns their data; their cached
    /// code is invalidated.
    fn drop_pages(&mut self, start: u64, end: u64) -> Vec<(u64, PageData)> {
        let mut out = Vec::new();
        for pn in self.materialised_in(start, end) {
            let slot = self.page_slots.remove(&pn).expect("materialised page");
            let page = self.slots[slot as usize].take().expect("slot");
            if page.has_code {
                self.invalidate_code(pn);
            }
            self.free_slots.push(slot);
            out.push((pn, page.data));
        }
        out
    }

    fn invalidate_code_in(&mut self, start: u64, end: u64) {
        for pn in self.materialised_in(start, end) {
            let slot = self.page_slots[&pn];
            let page = self.slots[slot as usize].as_mut().expect("slot");
            if page.has_code {
                page.has_code = false;
                self.invalidate_code(pn);
            }
        }
    }

    fn alloc_slot(&mut self, page: Page) -> u32 {
        match self.free_slots.pop() {
            Some(s) => {
                self.slots[s as usize] = Some(page);
                s
            }
            None => {
                self.slots.push(Some(page));
                (self.slots.len() - 1) as u32
            }
        }
    }

    /// The slot of page `pn` (which must be mapped), giving it its own zeroed data first
    /// if it has none.
    fn materialise(&mut self, pn: u64) -> u32 {
        if let Some(&slot) = self.page_slots.get(&pn) {
            return slot;
        }
        let slot = self.alloc_slot(Page {
            data: zeroed_page(),
            has_code: false,
        });
        self.page_slots.insert(pn, slot);
        // A read TLB entry may still point at the zero page.
        let e = &mut self.read_tlb[(pn as usize) & (TLB_SIZE - 1)];
        if e.page == pn {
            *e = TLB_EMPTY;
        }
        slot
    }

    fn flush_tlbs(&mut self) {
        self.read_tlb = [TLB_EMPTY; TLB_SIZE];
        self.write_tlb = [TLB_EMPTY; TLB_SIZE];
    }

    fn invalidate_code(&mut self, page: u64) {
        self.code_invalidated.push(page);
        self.code_epoch += 1;
    }

    /// The current mappings in address order, each with its permissions and name. A
    /// mapping split by `unmap` or `protect` keeps its name in every piece; adjacent
    /// mappings with the same name and permissions show as one, as in
    /// `/proc/self/maps`.
    pub fn regions(&self) -> &[Region] {
        self.mappings.as_slice()
    }

    /// The mapping that contains `addr`.
    pub fn region_of(&self, addr: u64) -> Option<&Region> {
        self.mappings.get(addr)
    }

    /// The permissions of the page that holds `addr`, or `None` if it is not mapped.
    pub fn perm_of(&self, addr: u64) -> Option<Perm> {
        self.mappings.get(addr).map(|r| r.perm)
    }

    /// Every mapped page as (page address, permissions), sorted by address. Its length is
    /// the number of mapped pages, so it is for small address spaces (tests, listings);
    /// [`Memory::regions`] is the compact form.
    pub fn pages(&self) -> Vec<(u64, Perm)> {
        self.mappings
            .as_slice()
            .iter()
            .flat_map(|r| {
                (r.start..r.end)
                    .step_by(PAGE_SIZE as usize)
                    .map(|a| (a, r.perm))
            })
            .collect()
    }

    /// How many pages hold their own data (were written, poked or fetched from since
    /// they were mapped); every other mapped page reads as zeros and costs nothing.
    pub fn materialised_pages(&self) -> usize {
        self.page_slots.len()
    }

    /// The data of mapped page `pn`: its own, or the zero page.
    fn data_of(&self, pn: u64) -> &[u8; PAGE_SIZE as usize] {
        let slot = self.page_slots.get(&pn).copied().unwrap_or(ZERO_SLOT);
        &self.slots[slot as usize].as_ref().expect("slot").data
    }

    /// Side-effect-free read for the UI and loaders: ignores permissions, records nothing.
    /// Returns `None` if any byte of the range is not mapped.
    pub fn peek(&self, addr: u64, len: usize) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(len);
        let mut a = addr;
        let mut left = len;
        while left > 0 {
            self.mappings.get(a)?;
            let off = (a & PAGE_MASK) as usize;
            let n = left.min(PAGE_SIZE as usize - off);
            out.extend_from_slice(&self.data_of(a >> PAGE_SHIFT)[off..off + n]);
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
            if self.mappings.get(a).is_none() {
                return Err(MemError::Unmapped(a));
            }
            a = (a & !PAGE_MASK).wrapping_add(PAGE_SIZE);
        }
        let mut a = addr;
        let mut rest = bytes;
        while !rest.is_empty() {
            let pn = a >> PAGE_SHIFT;
            let slot = self.materialise(pn);
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

    /// The mapping of page `pn`, for the slow paths: `#GP`, SEGV_MAPERR or its permissions.
    fn perm_for_access(&self, pn: u64) -> Result<Perm, MemError> {
        if !is_canonical(pn << PAGE_SHIFT) {
            return Err(MemError::NonCanonical);
        }
        self.mappings
            .get(pn << PAGE_SHIFT)
            .map(|r| r.perm)
            .ok_or(MemError::Unmapped(pn << PAGE_SHIFT))
    }

    #[cold]
    fn read_slot_slow(&mut self, pn: u64) -> Result<u32, MemError> {
        if !self.perm_for_access(pn)?.readable() {
            return Err(MemError::Denied(pn << PAGE_SHIFT));
        }
        let slot = self.page_slots.get(&pn).copied().unwrap_or(ZERO_SLOT);
        if !self.trace_on {
            self.read_tlb[(pn as usize) & (TLB_SIZE - 1)] = TlbEntry { page: pn, slot };
        }
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
        if !self.perm_for_access(pn)?.writable() {
            return Err(MemError::Denied(pn << PAGE_SHIFT));
        }
        let slot = self.materialise(pn);
        let page = self.slots[slot as usize].as_mut().expect("slot");
        if page.has_code {
            // First store to a page with cached code: drop that code (self-modifying code).
            page.has_code = false;
            self.invalidate_code(pn);
        }
        if !self.trace_on {
            self.write_tlb[(pn as usize) & (TLB_SIZE - 1)] = TlbEntry { page: pn, slot };
        }
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

    /// The fast path of a load, for handlers that tail-call their own slow path: the value
    /// if the page is in the read TLB and the access stays within it, else `None` (then
    /// [`Memory::read`] does the rest, faults and tracing included).
    #[inline(always)]
    pub(crate) fn read_fast(&self, addr: u64, size: usize) -> Option<u64> {
        let off = (addr & PAGE_MASK) as usize;
        let pn = addr >> PAGE_SHIFT;
        let e = self.read_tlb[(pn as usize) & (TLB_SIZE - 1)];
        if e.page == pn && off + size <= PAGE_SIZE as usize {
            if let Some(Some(p)) = self.slots.get(e.slot as usize) {
                return Some(load_le(&p.data[off..off + size]));
            }
        }
        None
    }

    /// The fast path of a store, as [`Memory::read_fast`]: stores (journaling the old
    /// bytes when the journal is on) and returns true if the page is in the write TLB and
    /// the access stays within it; else changes nothing and returns false
    /// ([`Memory::write`] does the rest).
    #[inline(always)]
    pub(crate) fn write_fast<const SIZE: u8>(&mut self, addr: u64, value: u64) -> bool {
        let size = SIZE as usize;
        let off = (addr & PAGE_MASK) as usize;
        let pn = addr >> PAGE_SHIFT;
        let e = self.write_tlb[(pn as usize) & (TLB_SIZE - 1)];
        if e.page == pn && off + size <= PAGE_SIZE as usize {
            if self.journal_on {
                // Out of line, so that the journal's growth costs the unjournaled path
                // no saved registers.
                return self.write_journaled::<SIZE>(e.slot, addr, value);
            }
            if let Some(Some(p)) = self.slots.get_mut(e.slot as usize) {
                store_le(&mut p.data[off..off + size], value);
                return true;
            }
        }
        false
    }

    /// [`Memory::write_fast`] with the journal on, for a write TLB hit on `slot`.
    #[inline(never)]
    fn write_journaled<const SIZE: u8>(&mut self, slot: u32, addr: u64, value: u64) -> bool {
        let (off, size) = ((addr & PAGE_MASK) as usize, SIZE as usize);
        if let Some(Some(p)) = self.slots.get_mut(slot as usize) {
            let cell = &mut p.data[off..off + size];
            self.journal.push(Undo::new(addr, load_le(cell), size));
            store_le(cell, value);
            return true;
        }
        false
    }

    /// A checked little-endian load of 1, 2, 4 or 8 bytes.
    #[inline(always)]
    pub fn read(&mut self, addr: u64, size: usize) -> Result<u64, MemError> {
        let off = (addr & PAGE_MASK) as usize;
        let pn = addr >> PAGE_SHIFT;
        let e = self.read_tlb[(pn as usize) & (TLB_SIZE - 1)];
        // A TLB hit implies a mapped, hence canonical, page, and no tracing (the TLBs are
        // not filled while accesses are traced); everything else takes the slow path.
        if e.page == pn && off + size <= PAGE_SIZE as usize {
            if let Some(Some(p)) = self.slots.get(e.slot as usize) {
                return Ok(load_le(&p.data[off..off + size]));
            }
        }
        self.read_slow(addr, size)
    }

    #[inline(never)]
    fn read_slow(&mut self, addr: u64, size: usize) -> Result<u64, MemError> {
        let off = (addr & PAGE_MASK) as usize;
        let value = if off + size <= PAGE_SIZE as usize {
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
        let pn = addr >> PAGE_SHIFT;
        let e = self.write_tlb[(pn as usize) & (TLB_SIZE - 1)];
        // A hit: a writable page without cached code, and no tracing (see `read`).
        if e.page == pn && off + size <= PAGE_SIZE as usize {
            if let Some(Some(p)) = self.slots.get_mut(e.slot as usize) {
                let cell = &mut p.data[off..off + size];
                if self.journal_on {
                    self.journal.push(Undo::new(addr, load_le(cell), size));
                }
                store_le(cell, value);
                return Ok(());
            }
        }
        self.write_slow(addr, size, value)
    }

    #[inline(never)]
    fn write_slow(&mut self, addr: u64, size: usize, value: u64) -> Result<(), MemError> {
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
            let executable = match self.mappings.get(a) {
                Some(r) => r.perm.executable(),
                None if n == 0 => return Err(MemError::Unmapped(a)),
                None => break,
            };
            if !executable {
                if n == 0 {
                    return Err(MemError::Denied(a));
                }
                break;
            }
            // Fetched pages get their own data, so a later store finds `has_code` on it.
            let slot = self.materialise(pn);
            let page = self.slots[slot as usize].as_mut().expect("slot");
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

    /// Starts or stops journaling stores and map changes for [`Memory::rollback_to`],
    /// emptying the journal either way (stopping frees it). The machine keeps it on while
    /// history is on.
    pub fn set_journal(&mut self, on: bool) {
        self.journal_on = on;
        if on {
            self.clear_journal();
        } else {
            self.journal = Vec::new();
            self.map_journal = Vec::new();
            self.map_journal_bytes = 0;
        }
    }

    /// How many changes the journal holds: a mark to roll back to.
    pub fn journal_len(&self) -> usize {
        self.journal.len()
    }

    /// Host bytes the journal holds, including the data of pages it keeps for undoing an
    /// unmap or a replacing map.
    pub fn journal_bytes(&self) -> usize {
        self.journal.len() * std::mem::size_of::<Undo>() + self.map_journal_bytes
    }

    /// Undoes journal entries back to length `len` (a [`Memory::journal_len`] taken
    /// earlier), newest first: stores, and map changes with the bytes they dropped.
    pub fn rollback_to(&mut self, len: usize) {
        while self.journal.len() > len {
            let u = self.journal.pop().expect("journal entry");
            if u.len() == 0 {
                let undo = self.map_journal.pop().expect("map undo record");
                self.undo_map_change(undo);
                continue;
            }
            let bytes = u.old.to_le_bytes();
            // Map changes are undone in order with the stores, so the page is mapped as it
            // was when the store happened; a poke ignores its permissions as they are now.
            let restored = self.poke(u.addr(), &bytes[..u.len()]);
            debug_assert!(restored.is_ok(), "a journaled store's page is mapped");
        }
    }

    /// Forgets journal entries (history was cleared or truncated at the front).
    pub fn clear_journal(&mut self) {
        self.journal.clear();
        self.map_journal.clear();
        self.map_journal_bytes = 0;
    }

    /// Starts or stops recording accesses for [`Memory::take_trace`].
    pub fn set_trace(&mut self, on: bool) {
        self.trace_on = on;
        self.trace.clear();
        // Traced accesses take the slow paths, which record them: the TLBs stay empty
        // while tracing.
        self.flush_tlbs();
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

    #[test]
    fn map_changes_and_their_undo_invalidate_cached_code() {
        let mut m = Memory::new();
        m.map(0x1000, 0x2000, Perm::RX, "text").unwrap();
        m.set_journal(true);
        let mut buf = [0u8; 4];
        m.fetch(0x1ffe, &mut buf).unwrap();
        let mark = m.journal_len();
        m.unmap(0x2000, 0x1000).unwrap();
        assert_eq!(m.take_code_invalidated(), [0x2]);
        m.protect(0x1000, 0x1000, Perm::RWX).unwrap();
        assert_eq!(m.take_code_invalidated(), [0x1]);
        m.fetch(0x1000, &mut buf).unwrap();
        let epoch = m.code_epoch();
        m.rollback_to(mark);
        assert!(m.code_epoch() > epoch);
        assert_eq!(m.take_code_invalidated(), [0x1], "RWX code goes back to RX");
        assert_eq!(m.perm_of(0x2000), Some(Perm::RX));
        assert_eq!(m.fetch(0x1ffe, &mut buf), Ok(4));
    }
}
