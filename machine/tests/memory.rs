//! The address space as a Go process needs it: huge sparse mappings that cost nothing until
//! touched, Linux's mmap/munmap/mprotect semantics (splits, MAP_FIXED replacement, top-down
//! search), and map changes that roll back exactly with the journal, checked against a
//! page-by-page reference model on random operation sequences; discarded pages
//! (`madvise(MADV_DONTNEED)`) read as zeros again.

use machine::memory::{MapError, MemError, Memory, Perm, Region, MMAP_MIN_ADDR, PAGE_SIZE};
use std::collections::BTreeMap;
use std::time::Instant;

const GIB: u64 = 1 << 30;
const TIB: u64 = 1 << 40;

fn names(m: &Memory) -> Vec<(u64, u64, String, String)> {
    m.regions()
        .iter()
        .map(|r| (r.start, r.end, r.perm.to_string(), r.name.clone()))
        .collect()
}

fn row(start: u64, end: u64, perm: &str, name: &str) -> (u64, u64, String, String) {
    (start, end, perm.to_string(), name.to_string())
}

#[test]
fn a_terabyte_reservation_costs_only_the_pages_touched() {
    // Go's runtime reserves its page-allocator summaries and arenas as PROT_NONE and maps
    // parts read-write later (runtime/mpagealloc_64.go sysInit, runtime/mem_linux.go).
    let started = Instant::now();
    let mut m = Memory::new();
    let base = 0x10_0000_0000;
    m.map(base, TIB, Perm::NONE, "reserved").unwrap();
    let heap = base + 16 * GIB;
    m.map_replace(heap, 64 * GIB, Perm::RW, "heap").unwrap();
    for i in 0..100u64 {
        // Spread over the whole 64 GiB, one store per page.
        let a = heap + i * (64 * GIB / 100) / PAGE_SIZE * PAGE_SIZE + 8;
        m.write(a, 8, i + 1).unwrap();
    }
    assert_eq!(m.materialised_pages(), 100);
    // Reading untouched pages gives zeros and allocates nothing.
    for i in 0..1000u64 {
        assert_eq!(m.read(heap + 5 * GIB + i * PAGE_SIZE, 8), Ok(0));
    }
    assert_eq!(m.peek(heap + 7 * GIB, 16), Some(vec![0; 16]));
    assert_eq!(m.materialised_pages(), 100);
    assert_eq!(m.read(heap + 8, 8), Ok(1));
    assert_eq!(
        names(&m),
        [
            row(base, heap, "---", "reserved"),
            row(heap, heap + 64 * GIB, "rw-", "heap"),
            row(heap + 64 * GIB, base + TIB, "---", "reserved"),
        ]
    );
    // The reservation still faults as PROT_NONE; beyond it nothing is mapped.
    assert_eq!(m.read(base, 1), Err(MemError::Denied(base)));
    assert_eq!(m.read(base + TIB, 1), Err(MemError::Unmapped(base + TIB)));
    m.unmap(heap, 64 * GIB).unwrap();
    assert_eq!(m.materialised_pages(), 0, "unmapping frees the data");
    m.unmap(base, TIB).unwrap();
    assert!(m.regions().is_empty());
    let took = started.elapsed();
    // Eager 4 KiB pages would need 256 M allocations here; this is a few thousand steps.
    assert!(took.as_secs() < 2, "took {took:?}");
}

#[test]
fn map_refuses_overlap_and_map_replace_replaces_with_zeros() {
    let mut m = Memory::new();
    m.map(0x10_0000, 0x4000, Perm::RW, "a").unwrap();
    m.write(0x10_2000, 8, 0x1234).unwrap();
    assert_eq!(
        m.map(0x10_3000, 0x2000, Perm::RW, "b"),
        Err(MapError::Overlap {
            start: 0x10_3000,
            size: 0x2000,
            page: 0x10_3000
        })
    );
    assert_eq!(
        m.map(0xf_f000, 0x2000, Perm::RW, "b"),
        Err(MapError::Overlap {
            start: 0xf_f000,
            size: 0x2000,
            page: 0x10_0000
        })
    );
    m.map_replace(0x10_1000, 0x2000, Perm::RX, "b").unwrap();
    assert_eq!(
        m.read(0x10_2000, 8),
        Ok(0),
        "the replaced page is new and zero"
    );
    assert_eq!(
        names(&m),
        [
            row(0x10_0000, 0x10_1000, "rw-", "a"),
            row(0x10_1000, 0x10_3000, "r-x", "b"),
            row(0x10_3000, 0x10_4000, "rw-", "a"),
        ]
    );
    assert_eq!(m.region_of(0x10_3fff).map(|r| r.start), Some(0x10_3000));
    assert!(matches!(
        m.map_replace(0x10_0800, 0x1000, Perm::RW, "c"),
        Err(MapError::Unaligned { .. })
    ));
    assert!(matches!(
        m.map_replace(0x7fff_ffff_f000, 0x2000, Perm::RW, "c"),
        Err(MapError::OutOfRange { .. })
    ));
}

#[test]
fn partial_unmap_and_protect_split_mappings_and_keep_names() {
    let mut m = Memory::new();
    m.map(0x20_0000, 0x8000, Perm::RW, "arena").unwrap();
    m.unmap(0x20_2000, 0x1000).unwrap();
    m.protect(0x20_5000, 0x2000, Perm::R).unwrap();
    assert_eq!(
        names(&m),
        [
            row(0x20_0000, 0x20_2000, "rw-", "arena"),
            row(0x20_3000, 0x20_5000, "rw-", "arena"),
            row(0x20_5000, 0x20_7000, "r--", "arena"),
            row(0x20_7000, 0x20_8000, "rw-", "arena"),
        ]
    );
    // Protecting back merges again, as adjacent VMAs with equal flags merge.
    m.protect(0x20_5000, 0x2000, Perm::RW).unwrap();
    assert_eq!(
        names(&m),
        [
            row(0x20_0000, 0x20_2000, "rw-", "arena"),
            row(0x20_3000, 0x20_8000, "rw-", "arena"),
        ]
    );
    // Faults keep Linux's codes: the hole is SEGV_MAPERR, a read-only page SEGV_ACCERR.
    assert_eq!(m.read(0x20_2ff8, 8), Err(MemError::Unmapped(0x20_2000)));
    assert_eq!(m.write(0x20_1ffc, 8, 1), Err(MemError::Unmapped(0x20_2000)));
    m.protect(0x20_3000, 0x1000, Perm::R).unwrap();
    assert_eq!(m.write(0x20_3ffc, 8, 1), Err(MemError::Denied(0x20_3000)));
    // The lower page is checked first, as the CPU accesses it first.
    assert_eq!(m.write(0x20_2ffc, 8, 1), Err(MemError::Unmapped(0x20_2000)));
    assert_eq!(
        m.peek(0x20_3ff8, 16),
        Some(vec![0; 16]),
        "nothing was stored"
    );
    // Unmapping a range with nothing in it is fine, as for munmap.
    m.unmap(0x30_0000, 0x10_0000).unwrap();
}

#[test]
fn protect_over_a_hole_changes_the_pages_below_it_as_mprotect_does() {
    let mut m = Memory::new();
    m.map(0x40_0000, 0x2000, Perm::RW, "a").unwrap();
    m.map(0x40_3000, 0x1000, Perm::RW, "b").unwrap();
    assert_eq!(
        m.protect(0x40_0000, 0x4000, Perm::R),
        Err(MemError::Unmapped(0x40_2000))
    );
    assert_eq!(m.perm_of(0x40_1000), Some(Perm::R));
    assert_eq!(
        m.perm_of(0x40_3000),
        Some(Perm::RW),
        "past the hole, untouched"
    );
    assert_eq!(
        m.protect(0x3f_f000, 0x2000, Perm::NONE),
        Err(MemError::Unmapped(0x3f_f000))
    );
    assert_eq!(
        m.perm_of(0x40_0000),
        Some(Perm::R),
        "start unmapped: nothing changes"
    );
}

#[test]
fn discard_zeroes_pages_keeps_mappings_and_rolls_back() {
    let mut m = Memory::new();
    m.map(0x70_0000, 0x3000, Perm::RW, "heap").unwrap();
    m.map(0x70_4000, 0x1000, Perm::RW, "heap").unwrap();
    for a in [0x70_0000, 0x70_1000, 0x70_4000] {
        m.write(a + 16, 8, a).unwrap();
    }
    m.set_journal(true);
    let before = names(&m);
    assert_eq!(
        m.discard(0x70_1000, 0x4000),
        Err(MemError::Unmapped(0x70_3000)),
        "madvise reports the hole after doing the rest"
    );
    assert_eq!(m.read(0x70_1010, 8), Ok(0));
    assert_eq!(m.read(0x70_4010, 8), Ok(0));
    assert_eq!(m.read(0x70_0010, 8), Ok(0x70_0000), "outside the range");
    assert_eq!(m.materialised_pages(), 1);
    assert_eq!(names(&m), before, "the mappings stay");
    m.rollback_to(0);
    assert_eq!(m.read(0x70_1010, 8), Ok(0x70_1000));
    assert_eq!(m.read(0x70_4010, 8), Ok(0x70_4000));
}

#[test]
fn find_free_goes_top_down_and_skips_mappings() {
    let mut m = Memory::new();
    let base = 0x7f00_0000_0000;
    let a = m.find_free(0x10_0000, base).unwrap();
    assert_eq!(a, base - 0x10_0000);
    m.map(a, 0x10_0000, Perm::RW, "first").unwrap();
    let b = m.find_free(0x1000, base).unwrap();
    assert_eq!(b, a - 0x1000, "the next one goes just below");
    m.map(b, 0x1000, Perm::RW, "second").unwrap();
    m.unmap(a + 0x1000, 0x2000).unwrap();
    assert_eq!(
        m.find_free(0x2000, base),
        Some(a + 0x1000),
        "a hole that fits"
    );
    assert_eq!(
        m.find_free(0x3000, base),
        Some(b - 0x3000),
        "a hole too small"
    );
    assert!(m.is_free(a + 0x1000, 0x2000));
    assert!(!m.is_free(a, 0x2000));
    assert_eq!(m.find_free(0, base), None);
    assert_eq!(m.find_free(0x1000, MMAP_MIN_ADDR), None);
}

#[test]
fn journal_undoes_unmap_replace_and_protect_with_their_bytes() {
    let mut m = Memory::new();
    m.map(0x50_0000, 0x4000, Perm::RW, "data").unwrap();
    m.write(0x50_0ff8, 8, 0xdead_beef).unwrap();
    m.write(0x50_3000, 4, 0x55).unwrap();
    let before = names(&m);
    m.set_journal(true);
    let mark = m.journal_len();
    m.unmap(0x50_0000, 0x1000).unwrap();
    m.map_replace(0x50_3000, 0x1000, Perm::RX, "text").unwrap();
    m.protect(0x50_1000, 0x1000, Perm::NONE).unwrap();
    m.map(0x50_0000, 0x1000, Perm::R, "new").unwrap();
    assert_eq!(m.read(0x50_0ff8, 8), Ok(0));
    assert_eq!(m.read(0x50_1000, 1), Err(MemError::Denied(0x50_1000)));
    assert!(
        m.journal_bytes() >= 2 * PAGE_SIZE as usize,
        "two pages kept for undo"
    );
    m.rollback_to(mark);
    assert_eq!(names(&m), before);
    assert_eq!(m.read(0x50_0ff8, 8), Ok(0xdead_beef));
    assert_eq!(m.read(0x50_3000, 4), Ok(0x55));
    assert_eq!(m.write(0x50_1000, 1, 7), Ok(()));
    assert_eq!(m.materialised_pages(), 3);
}

/// A tiny deterministic generator (SplitMix64), so a failure replays from its seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The reference: every mapped page with its permissions, name and bytes.
#[derive(Clone, Default)]
struct Model {
    pages: BTreeMap<u64, (Perm, &'static str, Vec<u8>)>,
}

impl Model {
    fn map(&mut self, start: u64, n: u64, perm: Perm, name: &'static str) {
        for p in 0..n {
            let zero = vec![0; PAGE_SIZE as usize];
            self.pages.insert(start + p * PAGE_SIZE, (perm, name, zero));
        }
    }
    fn unmap(&mut self, start: u64, n: u64) {
        for p in 0..n {
            self.pages.remove(&(start + p * PAGE_SIZE));
        }
    }
    /// mprotect: pages from `start` up to the first hole change; the hole is the error.
    fn protect(&mut self, start: u64, n: u64, perm: Perm) -> Result<(), MemError> {
        for p in 0..n {
            let a = start + p * PAGE_SIZE;
            match self.pages.get_mut(&a) {
                Some(page) => page.0 = perm,
                None => return Err(MemError::Unmapped(a)),
            }
        }
        Ok(())
    }
    /// madvise(MADV_DONTNEED): mapped pages of the range become zero; the first hole is
    /// the error, after the whole range was done.
    fn discard(&mut self, start: u64, n: u64) -> Result<(), MemError> {
        let mut hole = None;
        for p in 0..n {
            let a = start + p * PAGE_SIZE;
            match self.pages.get_mut(&a) {
                Some(page) => page.2.fill(0),
                None => hole = hole.or(Some(MemError::Unmapped(a))),
            }
        }
        hole.map_or(Ok(()), Err)
    }
    fn check(&self, addr: u64, size: u64, write: bool) -> Result<(), MemError> {
        for page in [
            addr & !(PAGE_SIZE - 1),
            (addr + size - 1) & !(PAGE_SIZE - 1),
        ] {
            let Some((perm, _, _)) = self.pages.get(&page) else {
                return Err(MemError::Unmapped(page));
            };
            let ok = if write {
                perm.writable()
            } else {
                perm.readable()
            };
            if !ok {
                return Err(MemError::Denied(page));
            }
        }
        Ok(())
    }
    fn byte(&mut self, a: u64) -> &mut u8 {
        let page = self.pages.get_mut(&(a & !(PAGE_SIZE - 1))).unwrap();
        &mut page.2[(a % PAGE_SIZE) as usize]
    }
    /// The listing Linux would show: runs of adjacent pages with equal permissions and name.
    fn regions(&self) -> Vec<(u64, u64, String, String)> {
        let mut out: Vec<(u64, u64, String, String)> = Vec::new();
        for (&a, (perm, name, _)) in &self.pages {
            match out.last_mut() {
                Some(last) if last.1 == a && last.2 == perm.to_string() && last.3 == *name => {
                    last.1 = a + PAGE_SIZE
                }
                _ => out.push(row(a, a + PAGE_SIZE, &perm.to_string(), name)),
            }
        }
        out
    }
}

const WINDOW: u64 = 0x100_0000;
const WINDOW_PAGES: u64 = 48;
const PERMS: [Perm; 5] = [Perm::NONE, Perm::R, Perm::RW, Perm::RX, Perm::RWX];
const NAMES: [&str; 2] = ["a", "b"];

fn assert_same(m: &Memory, model: &Model, context: &str) {
    assert_eq!(names(m), model.regions(), "{context}: mappings");
    for p in 0..WINDOW_PAGES {
        let a = WINDOW + p * PAGE_SIZE;
        let want = model.pages.get(&a).map(|(_, _, b)| b.clone());
        assert!(
            m.peek(a, PAGE_SIZE as usize) == want,
            "{context}: bytes of page {a:#x}"
        );
    }
    assert!(m.materialised_pages() <= model.pages.len(), "{context}");
}

/// One random step on both; returns a description for failure messages.
fn random_step(m: &mut Memory, model: &mut Model, rng: &mut Rng) -> String {
    let start = WINDOW + rng.below(WINDOW_PAGES) * PAGE_SIZE;
    let max_pages = WINDOW_PAGES - (start - WINDOW) / PAGE_SIZE;
    let n = 1 + rng.below(max_pages.min(8));
    let perm = PERMS[rng.below(5) as usize];
    let name = NAMES[rng.below(2) as usize];
    let size = n * PAGE_SIZE;
    match rng.below(11) {
        0 => {
            let got = m.map(start, size, perm, name);
            let first = (0..n)
                .map(|p| start + p * PAGE_SIZE)
                .find(|a| model.pages.contains_key(a));
            match first {
                Some(page) => assert_eq!(got, Err(MapError::Overlap { start, size, page })),
                None => {
                    assert_eq!(got, Ok(()));
                    model.map(start, n, perm, name);
                }
            }
            format!("map {start:#x}+{n} {perm} {name}")
        }
        1 => {
            m.map_replace(start, size, perm, name).unwrap();
            model.map(start, n, perm, name);
            format!("map_replace {start:#x}+{n} {perm} {name}")
        }
        2 => {
            m.unmap(start, size).unwrap();
            model.unmap(start, n);
            format!("unmap {start:#x}+{n}")
        }
        3 => {
            assert_eq!(m.protect(start, size, perm), model.protect(start, n, perm));
            format!("protect {start:#x}+{n} {perm}")
        }
        4 => {
            assert_eq!(m.discard(start, size), model.discard(start, n));
            format!("discard {start:#x}+{n}")
        }
        k => {
            // A store or load, often near a page end so that some straddle two pages.
            let width = [1u64, 2, 4, 8][rng.below(4) as usize];
            let off = if rng.below(2) == 0 {
                PAGE_SIZE - 1 - rng.below(8)
            } else {
                rng.below(PAGE_SIZE - 8)
            };
            let addr = start + off;
            let value = rng.next();
            if k < 9 {
                let want = model.check(addr, width, true);
                assert_eq!(
                    m.write(addr, width as usize, value),
                    want,
                    "write {addr:#x}"
                );
                if want.is_ok() {
                    for i in 0..width {
                        *model.byte(addr + i) = (value >> (8 * i)) as u8;
                    }
                }
                format!("write {addr:#x} {width} {value:#x}")
            } else {
                let want = model.check(addr, width, false).map(|()| {
                    (0..width).fold(0u64, |v, i| v | (*model.byte(addr + i) as u64) << (8 * i))
                });
                assert_eq!(m.read(addr, width as usize), want, "read {addr:#x}");
                format!("read {addr:#x} {width}")
            }
        }
    }
}

#[test]
fn random_map_changes_and_stores_roll_back_like_a_page_model() {
    let mut steps = 0;
    for seed in 1..=8u64 {
        let mut rng = Rng(seed);
        let mut m = Memory::new();
        let mut model = Model::default();
        m.set_journal(true);
        // Marks to roll back to, with the model as it was there.
        let mut marks: Vec<(usize, Model)> = vec![(m.journal_len(), model.clone())];
        let mut log: Vec<String> = Vec::new();
        for _ in 0..500 {
            steps += 1;
            if rng.below(25) == 0 {
                let keep = rng.below(marks.len() as u64) as usize;
                marks.truncate(keep + 1);
                let (len, snapshot) = marks.last().unwrap().clone();
                m.rollback_to(len);
                model = snapshot;
                log.push(format!("rollback to mark {keep}"));
            } else {
                log.push(random_step(&mut m, &mut model, &mut rng));
                if rng.below(6) == 0 && marks.len() < 16 {
                    marks.push((m.journal_len(), model.clone()));
                }
            }
            let tail = log[log.len().saturating_sub(6)..].join("; ");
            assert_same(&m, &model, &format!("seed {seed}, after … {tail}"));
        }
        // Everything back to the empty start.
        m.rollback_to(0);
        assert!(m.regions().is_empty(), "seed {seed}");
        assert_eq!(m.materialised_pages(), 0, "seed {seed}");
        assert_eq!(m.journal_bytes(), 0, "seed {seed}");
    }
    assert_eq!(steps, 4000);
}

#[test]
fn regions_list_the_current_mappings_in_address_order() {
    let mut m = Memory::new();
    m.map(0x60_0000, 0x1000, Perm::RW, "data").unwrap();
    m.map(0x40_0000, 0x1000, Perm::RX, "text").unwrap();
    m.map(0x50_0000, 0x1000, Perm::NONE, "guard").unwrap();
    m.unmap(0x50_0000, 0x1000).unwrap();
    let want = [
        Region {
            name: "text".into(),
            start: 0x40_0000,
            end: 0x40_1000,
            perm: Perm::RX,
        },
        Region {
            name: "data".into(),
            start: 0x60_0000,
            end: 0x60_1000,
            perm: Perm::RW,
        },
    ];
    assert_eq!(m.regions(), want);
    assert_eq!(m.region_of(0x50_0000), None);
    assert_eq!(
        m.pages(),
        [(0x40_0000, Perm::RX), (0x60_0000, Perm::RW)],
        "pages() lists mapped pages"
    );
}

#[test]
fn protecting_or_unmapping_cached_code_drops_it() {
    use iced_x86::code_asm::*;
    use machine::{Cpu, Fault, Machine, Stop};
    const TEXT: u64 = 0x40_0000;
    let mut a = CodeAssembler::new(64).unwrap();
    a.mov(eax, 1).unwrap();
    let code = a.assemble(TEXT).unwrap();
    let mut m = Machine::new();
    m.map(TEXT, 0x1000, Perm::RX, "text").unwrap();
    m.poke(TEXT, &code).unwrap();
    let at_text = Cpu {
        rip: TEXT,
        ..Cpu::default()
    };
    let t = m.spawn("t", at_text);
    m.step(t).unwrap();
    assert_eq!(m.thread(t).cpu.gpr[0], 1, "decoded and cached");
    // Not executable any more: the fetch faults instead of reusing the decoded MOV.
    m.protect(TEXT, 0x1000, Perm::R).unwrap();
    m.set_cpu(t, at_text);
    assert_eq!(m.step(t), Err(Stop::Fault(Fault::access(TEXT, TEXT))));
    m.protect(TEXT, 0x1000, Perm::RX).unwrap();
    m.step(t).unwrap();
    // Unmapped, then mapped again fresh: the page holds zeros, `add [rax], al`, which
    // faults at RAX = 1.
    m.unmap(TEXT, 0x1000).unwrap();
    m.set_cpu(t, at_text);
    assert_eq!(m.step(t), Err(Stop::Fault(Fault::unmapped(TEXT, TEXT))));
    m.map(TEXT, 0x1000, Perm::RX, "text").unwrap();
    let mut rax_1 = at_text;
    rax_1.gpr[0] = 1;
    m.set_cpu(t, rax_1);
    assert_eq!(m.step(t), Err(Stop::Fault(Fault::unmapped(1, TEXT))));
}
