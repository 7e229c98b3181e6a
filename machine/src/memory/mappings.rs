//! The memory map: which ranges are mapped, with what permissions and under what name.
//!
//! Like Linux's list of VMAs (mm/mmap.c), it is a sorted list of non-overlapping ranges,
//! so its size depends on the number of mappings, never on their length. Two adjacent
//! ranges with the same permissions and name are always merged into one, as `vma_merge`
//! merges anonymous mappings with the same flags; keeping that one canonical form means
//! the list is a function of "page → (permissions, name)", so undoing a change restores
//! exactly the list that was there before.

use super::{Region, PAGE_SIZE};

/// Lowest address a mapping found by `Mappings::find_free` may start at: Linux's
/// default `vm.mmap_min_addr` (CONFIG_DEFAULT_MMAP_MIN_ADDR, 64 KiB on x86), which
/// `unmapped_area_topdown` (mm/mmap.c) never goes below.
pub const MMAP_MIN_ADDR: u64 = 0x1_0000;

/// The end of user space for a search: x86-64's `TASK_SIZE_MAX`, 2^47 less one page
/// (arch/x86/include/asm/page_64_types.h), so a found range never reaches the last page.
const TASK_SIZE_MAX: u64 = (1 << 47) - PAGE_SIZE;

/// Sorted, non-overlapping, maximally merged ranges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Mappings {
    list: Vec<Region>,
}

impl Mappings {
    /// Every mapping in address order.
    pub fn as_slice(&self) -> &[Region] {
        &self.list
    }

    /// The mapping that contains `addr`.
    #[inline]
    pub fn get(&self, addr: u64) -> Option<&Region> {
        let i = self.list.partition_point(|r| r.end <= addr);
        self.list.get(i).filter(|r| r.start <= addr)
    }

    /// The index range of the mappings that intersect `[start, end)`.
    fn overlapping(&self, start: u64, end: u64) -> std::ops::Range<usize> {
        let lo = self.list.partition_point(|r| r.end <= start);
        let hi = lo + self.list[lo..].partition_point(|r| r.start < end);
        lo..hi
    }

    /// The first mapping that intersects `[start, end)`.
    pub fn first_overlap(&self, start: u64, end: u64) -> Option<&Region> {
        let r = self.overlapping(start, end);
        self.list.get(r.start).filter(|_| !r.is_empty())
    }

    /// Copies of the mappings that intersect `[start, end)`, cut to that range.
    pub fn clipped(&self, start: u64, end: u64) -> Vec<Region> {
        self.list[self.overlapping(start, end)]
            .iter()
            .map(|r| Region {
                start: r.start.max(start),
                end: r.end.min(end),
                ..r.clone()
            })
            .collect()
    }

    /// The lowest address of `[start, end)` that no mapping covers.
    pub fn first_hole(&self, start: u64, end: u64) -> Option<u64> {
        let mut at = start;
        for r in &self.list[self.overlapping(start, end)] {
            if r.start > at {
                return Some(at);
            }
            at = r.end;
        }
        (at < end).then_some(at)
    }

    /// Removes `[start, end)` from the map, cutting the mappings that straddle its ends
    /// (as `munmap` splits a VMA, mm/mmap.c `do_vmi_align_munmap`).
    pub fn carve(&mut self, start: u64, end: u64) {
        let range = self.overlapping(start, end);
        if range.is_empty() {
            return;
        }
        let first = &self.list[range.start];
        let last = &self.list[range.end - 1];
        let left = (first.start < start).then(|| Region {
            end: start,
            ..first.clone()
        });
        let right = (last.end > end).then(|| Region {
            start: end,
            ..last.clone()
        });
        self.list.splice(range, left.into_iter().chain(right));
    }

    /// Adds a mapping over a range nothing covers, merging it with equal neighbours.
    pub fn insert(&mut self, r: Region) {
        debug_assert!(self.first_overlap(r.start, r.end).is_none());
        let mut i = self.list.partition_point(|m| m.start < r.start);
        let joins =
            |a: &Region, b: &Region| a.end == b.start && a.perm == b.perm && a.name == b.name;
        if i > 0 && joins(&self.list[i - 1], &r) {
            i -= 1;
            self.list[i].end = r.end;
        } else {
            self.list.insert(i, r);
        }
        if i + 1 < self.list.len() && joins(&self.list[i], &self.list[i + 1]) {
            let next = self.list.remove(i + 1);
            self.list[i].end = next.end;
        }
    }

    /// The highest `size`-byte free range that ends at or below `below` and starts at or
    /// above [`MMAP_MIN_ADDR`]: the search of Linux's default top-down layout
    /// (mm/mmap.c `unmapped_area_topdown`, called with `mmap_base` as the high limit).
    pub fn find_free(&self, size: u64, below: u64) -> Option<u64> {
        if size == 0 || size % PAGE_SIZE != 0 {
            return None;
        }
        let mut hi = below.min(TASK_SIZE_MAX) & !(PAGE_SIZE - 1);
        for r in self.list.iter().rev() {
            if r.start >= hi {
                continue;
            }
            let lo = r.end.max(MMAP_MIN_ADDR);
            if hi >= lo && hi - lo >= size {
                return Some(hi - size);
            }
            hi = r.start;
        }
        (hi >= MMAP_MIN_ADDR && hi - MMAP_MIN_ADDR >= size).then(|| hi - size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{region, Perm};

    #[test]
    fn adjacent_equal_mappings_merge_and_carving_splits() {
        let mut m = Mappings::default();
        m.insert(region(0x1000, 0x2000, Perm::RW, "heap"));
        m.insert(region(0x3000, 0x4000, Perm::RW, "heap"));
        m.insert(region(0x2000, 0x3000, Perm::RW, "heap"));
        assert_eq!(m.as_slice(), [region(0x1000, 0x4000, Perm::RW, "heap")]);
        m.insert(region(0x4000, 0x5000, Perm::R, "heap"));
        assert_eq!(m.as_slice().len(), 2, "different permissions do not merge");
        m.carve(0x2000, 0x3000);
        assert_eq!(
            m.as_slice(),
            [
                region(0x1000, 0x2000, Perm::RW, "heap"),
                region(0x3000, 0x4000, Perm::RW, "heap"),
                region(0x4000, 0x5000, Perm::R, "heap"),
            ]
        );
        assert_eq!(m.first_hole(0x1000, 0x5000), Some(0x2000));
        assert_eq!(m.first_hole(0x3000, 0x5000), None);
        assert_eq!(m.get(0x2fff), None);
        assert_eq!(m.get(0x3000).map(|r| r.start), Some(0x3000));
    }

    #[test]
    fn find_free_searches_top_down_below_the_base() {
        let mut m = Mappings::default();
        assert_eq!(m.find_free(0x2000, 0x10_0000), Some(0xf_e000));
        m.insert(region(0xf_0000, 0x10_0000, Perm::RW, "a"));
        m.insert(region(0xe_0000, 0xe_f000, Perm::RW, "b"));
        // The 4 KiB hole between b and a fits one page, not two.
        assert_eq!(m.find_free(0x1000, 0x10_0000), Some(0xe_f000));
        assert_eq!(m.find_free(0x2000, 0x10_0000), Some(0xd_e000));
        assert_eq!(
            m.find_free(0x1000, 0x1_0000),
            None,
            "never below mmap_min_addr"
        );
        assert_eq!(m.find_free(0xd_0000, 0x10_0000), Some(0x1_0000));
        assert_eq!(m.find_free(0xd_1000, 0x10_0000), None);
        assert_eq!(
            m.find_free(0x1800, 0x10_0000),
            None,
            "sizes are whole pages"
        );
    }
}
