//! The process's mappings: the machine's memory keeps them (ranges, rights, names: what
//! Linux keeps in its VMAs, `mm/mmap.c`), journaled, so step back undoes a mapping change
//! with the step that made it. This module holds the layout constants and the
//! translation between `PROT_*` bits and the machine's permissions.

use crate::abi::mman::{PROT_EXEC, PROT_READ, PROT_WRITE};
use machine::memory::PAGE_SIZE;
use machine::{Memory, Perm};

/// Where non-fixed mappings go, top-down, as Linux's default layout does below the stack
/// gap (`mm/util.c` mmap_base with randomisation off).
pub const MMAP_BASE: u64 = 0x7fff_f7ff_f000;
/// The lowest address a mapping may have (`vm.mmap_min_addr`).
pub const MMAP_MIN: u64 = 0x1_0000;
/// One past the highest user address (`TASK_SIZE_MAX` of 4-level paging).
pub const TASK_SIZE: u64 = 0x7fff_ffff_f000;

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

/// The `PROT_*` bits of a machine permission.
pub fn prot(p: Perm) -> u64 {
    (if p.readable() { PROT_READ } else { 0 })
        | (if p.writable() { PROT_WRITE } else { 0 })
        | (if p.executable() { PROT_EXEC } else { 0 })
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
    fn any_right_implies_read_as_x86_page_tables_do() {
        assert_eq!(perm(PROT_WRITE), Perm::RW);
        assert_eq!(perm(PROT_EXEC), Perm::RX);
        assert_eq!(perm(0), Perm::NONE);
        assert_eq!(prot(perm(PROT_READ | PROT_WRITE | PROT_EXEC)), 7);
    }

    #[test]
    fn pages_round_up() {
        assert_eq!(page_up(1), Some(4096));
        assert_eq!(page_up(4096), Some(4096));
        assert_eq!(page_up(u64::MAX), None);
    }
}
