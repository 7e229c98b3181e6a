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

/// `/proc/self/maps` of the machine's mappings, a line each in address order, as
/// fs/proc/task_mmu.c `show_map_vma` prints them: `start-end perms offset dev:dev inode`,
/// then, for a named mapping, spaces to column 73 and the name. glibc's
/// `pthread_getattr_np` reads it to find the initial thread's stack (the line holding
/// `__libc_stack_end`, and the end of the line before it).
///
/// Every mapping is private (`p`). The machine keeps neither file offsets nor device and
/// inode numbers, so those fields are 0 (as for an anonymous mapping); a file mapping
/// still shows its path. Anonymous mappings (named `anon` by mmap, or named by the loader
/// for the UI) have no name, as in Linux, but for `[stack]` and `[heap]`.
pub fn proc_maps(mem: &Memory) -> String {
    use std::fmt::Write;
    // show_vma_header_prefix: seq_setwidth(m, 25 + sizeof(void *) * 6 - 1).
    const NAME_COLUMN: usize = 25 + 8 * 6 - 1;
    let mut out = String::new();
    for r in mem.regions() {
        let line_start = out.len();
        let _ = write!(
            out,
            "{:08x}-{:08x} {}{}{}p 00000000 00:00 0 ",
            r.start,
            r.end,
            if r.perm.readable() { 'r' } else { '-' },
            if r.perm.writable() { 'w' } else { '-' },
            if r.perm.executable() { 'x' } else { '-' },
        );
        let named = r.name.starts_with('/') || r.name == "[stack]" || r.name == "[heap]";
        if named {
            // seq_pad: spaces up to the width, then one more before the name.
            let width = out.len() - line_start;
            out.extend(std::iter::repeat_n(
                ' ',
                NAME_COLUMN.saturating_sub(width) + 1,
            ));
            out.push_str(&r.name);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_maps_lines_are_linux_s_format() {
        let mut mem = Memory::new();
        mem.map(0x40_0000, 0x2000, Perm::RX, "/bin/prog").unwrap();
        mem.map(0x7fff_f000_0000, 0x1000, Perm::RW, "anon").unwrap();
        mem.map(0x7fff_ff7f_f000, 8 << 20, Perm::RW, "[stack]")
            .unwrap();
        let maps = proc_maps(&mem);
        let lines: Vec<&str> = maps.lines().collect();
        assert_eq!(lines.len(), 3, "{maps}");
        assert_eq!(
            lines[0],
            format!(
                "00400000-00402000 r-xp 00000000 00:00 0{}/bin/prog",
                " ".repeat(34)
            )
        );
        assert_eq!(lines[0].find('/'), Some(73), "the name is at column 73");
        assert_eq!(lines[1], "7ffff0000000-7ffff0001000 rw-p 00000000 00:00 0 ");
        assert!(lines[2].starts_with("7fffff7ff000-7ffffffff000 rw-p "));
        assert!(lines[2].ends_with(" [stack]"));
        assert!(maps.ends_with('\n'));
    }

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
