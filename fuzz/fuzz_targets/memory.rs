//! Any sequence of map changes, stores and rollbacks keeps the memory map well formed (sorted,
//! disjoint, merged), never panics, and a rollback restores exactly the mappings and bytes
//! that were there at its mark.
#![no_main]

use libfuzzer_sys::fuzz_target;
use machine::memory::{Memory, Perm, Region, PAGE_SIZE};

/// Most operations land in a small window so that they overlap; a few use raw numbers to
/// reach the error paths.
const WINDOW: u64 = 0x10_0000;
const WINDOW_PAGES: u64 = 32;

type Snapshot = (Vec<Region>, Vec<Option<Vec<u8>>>);

fn snapshot(m: &Memory) -> Snapshot {
    let bytes = (0..WINDOW_PAGES)
        .map(|p| m.peek(WINDOW + p * PAGE_SIZE, PAGE_SIZE as usize))
        .collect();
    (m.regions().to_vec(), bytes)
}

fn ignore<T, E>(_: Result<T, E>) {}

fn well_formed(m: &Memory) {
    for r in m.regions() {
        assert!(r.start < r.end && r.start % PAGE_SIZE == 0 && r.end % PAGE_SIZE == 0);
        assert_eq!(m.perm_of(r.start), Some(r.perm));
        assert_eq!(m.perm_of(r.end - 1), Some(r.perm));
    }
    for w in m.regions().windows(2) {
        assert!(w[0].end <= w[1].start, "sorted and disjoint");
        assert!(
            w[0].end < w[1].start || w[0].perm != w[1].perm || w[0].name != w[1].name,
            "equal neighbours are merged"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let mut m = Memory::new();
    m.set_journal(true);
    let mut marks: Vec<(usize, Snapshot)> = vec![(0, snapshot(&m))];
    for op in data.chunks_exact(4) {
        let start = WINDOW + (op[1] as u64 % WINDOW_PAGES) * PAGE_SIZE;
        let size = (1 + (op[2] as u64 % 8)) * PAGE_SIZE;
        let perm = Perm::parse(["---", "r--", "rw-", "r-x", "rwx"][op[3] as usize % 5]).unwrap();
        let name = ["a", "b"][(op[3] >> 4) as usize % 2];
        // Whether each change succeeds does not matter here, only that the state stays
        // well formed and rolls back exactly.
        match op[0] % 12 {
            0 => ignore(m.map(start, size, perm, name)),
            1 => ignore(m.map_replace(start, size, perm, name)),
            2 => ignore(m.unmap(start, size)),
            3 => ignore(m.protect(start, size, perm)),
            4 => ignore(m.discard(start, size)),
            5 => {
                let raw = u64::from_le_bytes([op[1], op[2], op[3], op[1], op[2], op[3], 0, 0]);
                ignore(m.map_replace(raw << 4, raw, perm, name));
                ignore(m.unmap(raw, raw << 12));
                ignore(m.find_free(raw << 12, raw << 20).ok_or(()));
            }
            6 => marks.push((m.journal_len(), snapshot(&m))),
            7 => {
                let keep = op[1] as usize % marks.len();
                marks.truncate(keep + 1);
                let (len, want) = marks.last().unwrap();
                m.rollback_to(*len);
                assert!(snapshot(&m) == *want, "rollback to mark {keep}");
            }
            _ => {
                let addr = start - 4 + (op[2] as u64) * 64;
                let width = [1, 2, 4, 8][op[3] as usize % 4];
                if m.write(addr, width, u64::from(op[3]) * 0x0101_0101).is_ok() {
                    assert_eq!(m.peek(addr, 1), Some(vec![op[3]]));
                }
            }
        }
        well_formed(&m);
    }
    m.rollback_to(0);
    assert!(m.regions().is_empty() && m.materialised_pages() == 0);
});
