//! The process's mappings as the kernel keeps them (its VMAs, `mm/mmap.c`), and their
//! mirror in the machine's memory.
//!
//! The kernel's list keeps what the machine's memory does not: the `PROT_*` bits as asked
//! and what each mapping is; both change together, in the same step, so step back (the
//! kernel's snapshot and the memory's journal) undoes them together.

use crate::abi::mman::{PROT_EXEC, PROT_READ, PROT_WRITE};
use machine::memory::PAGE_SIZE;
use machine::{Memory, Perm};
use std::collections::BTreeMap;

/// Where non-fixed mappings go, top-down, as Linux's default layout does below the stack
/// gap (`mm/util.c` mmap_base with randomisation off).
pub const MMAP_BASE: u64 = 0x7fff_f7ff_f000;
/// The lowest address a mapping may have (`vm.mmap_min_addr`).
pub const MMAP_MIN: u64 = 0x1_0000;
/// One past the highest user address (`TASK_SIZE_MAX` of 4-level paging).
pub const TASK_SIZE: u64 = 0x7fff_ffff_f000;

/// One mapping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vma {
    /// One past its last byte.
    pub end: u64,
    /// `PROT_*` bits.
    pub prot: u64,
    /// What it is, for listings (`[heap]`, `[stack]`, a file's path, `anon`).
    pub name: String,
}

/// The mappings of the process, by start address, never overlapping.
#[derive(Clone, Debug, Default)]
pub struct Vmas {
    map: BTreeMap<u64, Vma>,
}

/// The machine permission for `PROT_*` bits. On x86-64 any access right implies read
/// (page tables have no write-only or execute-only pages without protection keys).
pub fn perm(prot: u64) -> Perm {
    let mut s = String::with_capacity(3);
    let any = prot & (PROT_READ | PROT_WRITE | PROT_EXEC) != 0;
    s.push(if any { 'r' } else { '-' });
    s.push(if prot & PROT_WRITE != 0 { 'w' } else { '-' });
    s.push(if prot & PROT_EXEC != 0 { 'x' } else { '-' });
    Perm::parse(&s).unwrap_or(Perm::NONE)
}

/// Rounds up to a page.
pub fn page_up(x: u64) -> Option<u64> {
    x.checked_add(PAGE_SIZE - 1).map(|v| v & !(PAGE_SIZE - 1))
}

impl Vmas {
    /// All mappings in address order: (start, mapping).
    pub fn iter(&self) -> impl Iterator<Item = (u64, &Vma)> {
        self.map.iter().map(|(&s, v)| (s, v))
    }

    /// Cuts `[start, end)` out of every mapping.
    pub fn remove(&mut self, start: u64, end: u64) {
        let touching: Vec<u64> = self
            .map
            .range(..end)
            .filter(|(&s, v)| s < end && v.end > start)
            .map(|(&s, _)| s)
            .collect();
        for s in touching {
            let v = self.map.remove(&s).expect("listed mapping");
            if s < start {
                self.map.insert(
                    s,
                    Vma {
                        end: start,
                        ..v.clone()
                    },
                );
            }
            if v.end > end {
                self.map.insert(end, Vma { end: v.end, ..v });
            }
        }
    }

    /// Adds a mapping, replacing whatever was in its range (MAP_FIXED).
    pub fn insert(&mut self, start: u64, end: u64, prot: u64, name: &str) {
        self.remove(start, end);
        self.map.insert(
            start,
            Vma {
                end,
                prot,
                name: name.to_string(),
            },
        );
    }

    /// Whether any mapping overlaps `[start, end)`.
    pub fn overlaps(&self, start: u64, end: u64) -> bool {
        self.map
            .range(..end)
            .next_back()
            .is_some_and(|(_, v)| v.end > start)
    }

    /// Whether `[start, end)` is mapped without a hole.
    pub fn covers(&self, start: u64, end: u64) -> bool {
        let mut at = start;
        for (&s, v) in self.map.range(..end) {
            if v.end <= at {
                continue;
            }
            if s > at {
                return false;
            }
            at = v.end;
            if at >= end {
                return true;
            }
        }
        at >= end
    }

    /// Changes the protection of `[start, end)`, which must be covered.
    pub fn protect(&mut self, start: u64, end: u64, prot: u64) {
        let pieces: Vec<(u64, Vma)> = self
            .map
            .range(..end)
            .filter(|(_, v)| v.end > start)
            .map(|(&s, v)| (s.max(start), v.clone()))
            .collect();
        for (s, v) in pieces {
            let e = v.end.min(end);
            self.insert(s, e, prot, &v.name);
        }
    }

    /// The highest free range of `len` bytes ending at or below `below` (top-down, as
    /// `vm_unmapped_area` searches with `VM_UNMAPPED_AREA_TOPDOWN`).
    pub fn find_free(&self, len: u64, below: u64) -> Option<u64> {
        let mut top = below;
        for (&s, v) in self.map.range(..below).rev() {
            if v.end <= top && top - v.end >= len {
                return Some(top - len);
            }
            top = top.min(s);
        }
        (top >= MMAP_MIN + len).then(|| top - len)
    }
}

/// Makes the machine's memory agree with a new mapping `[start, end)`: whatever was there
/// goes (MAP_FIXED), and the range is mapped zero-filled. The machine's memory is sparse,
/// so a large `PROT_NONE` reservation costs nothing until a page is written.
pub fn mirror_map(mem: &mut Memory, start: u64, end: u64, prot: u64, name: &str) -> bool {
    mem.map_replace(start, end - start, perm(prot), name)
        .is_ok()
}

/// Makes the machine's memory agree with `mprotect(start, end - start, prot)`.
pub fn mirror_protect(mem: &mut Memory, start: u64, end: u64, prot: u64) -> bool {
    mem.protect(start, end - start, perm(prot)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removing_the_middle_splits_a_mapping() {
        let mut v = Vmas::default();
        v.insert(0x10000, 0x20000, 3, "a");
        v.remove(0x14000, 0x15000);
        let got: Vec<(u64, u64)> = v.iter().map(|(s, m)| (s, m.end)).collect();
        assert_eq!(got, vec![(0x10000, 0x14000), (0x15000, 0x20000)]);
        assert!(!v.covers(0x13000, 0x16000));
        assert!(v.covers(0x15000, 0x20000));
        assert!(v.overlaps(0x13000, 0x14001));
        assert!(!v.overlaps(0x14000, 0x15000));
    }

    #[test]
    fn free_ranges_are_found_top_down() {
        let mut v = Vmas::default();
        v.insert(0x7000_0000, 0x7001_0000, 3, "a");
        assert_eq!(v.find_free(0x1000, 0x7002_0000), Some(0x7001_f000));
        assert_eq!(v.find_free(0x2_0000, 0x7002_0000), Some(0x6ffe_0000));
    }

    #[test]
    fn protect_keeps_names_and_splits() {
        let mut v = Vmas::default();
        v.insert(0x10000, 0x20000, 0, "arena");
        v.protect(0x11000, 0x12000, 3);
        let got: Vec<(u64, u64, u64)> = v.iter().map(|(s, m)| (s, m.end, m.prot)).collect();
        assert_eq!(
            got,
            vec![
                (0x10000, 0x11000, 0),
                (0x11000, 0x12000, 3),
                (0x12000, 0x20000, 0)
            ]
        );
    }
}
