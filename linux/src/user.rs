//! Copying to and from the process's memory as the kernel's `copy_from_user` and
//! `copy_to_user` do: an inaccessible byte is `EFAULT`, checked before anything is copied.

use machine::memory::PAGE_SIZE;
use machine::Memory;

/// Reads `len` bytes the process may read.
pub fn read(mem: &Memory, addr: u64, len: u64) -> Option<Vec<u8>> {
    if len == 0 {
        return Some(Vec::new());
    }
    let end = addr.checked_add(len)?;
    let mut page = addr & !(PAGE_SIZE - 1);
    while page < end {
        if !mem.perm_of(page)?.readable() {
            return None;
        }
        page += PAGE_SIZE;
    }
    mem.peek(addr, len as usize)
}

/// Reads a little-endian u64.
pub fn read_u64(mem: &Memory, addr: u64) -> Option<u64> {
    read(mem, addr, 8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
}

/// Reads a little-endian u32.
pub fn read_u32(mem: &Memory, addr: u64) -> Option<u32> {
    read(mem, addr, 4).map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
}

/// Reads a NUL-terminated string of at most `max` bytes (`strncpy_from_user`).
pub fn read_cstr(mem: &Memory, addr: u64, max: usize) -> Option<String> {
    let mut out = Vec::new();
    let mut a = addr;
    while out.len() < max {
        let b = read(mem, a, 1)?[0];
        if b == 0 {
            return Some(String::from_utf8_lossy(&out).into_owned());
        }
        out.push(b);
        a += 1;
    }
    None
}

/// Writes bytes where the process may write; journaled, so step back undoes it.
pub fn write(mem: &mut Memory, addr: u64, bytes: &[u8]) -> Option<()> {
    if bytes.is_empty() {
        return Some(());
    }
    let end = addr.checked_add(bytes.len() as u64)?;
    let mut page = addr & !(PAGE_SIZE - 1);
    while page < end {
        if !mem.perm_of(page)?.writable() {
            return None;
        }
        page += PAGE_SIZE;
    }
    let mut chunks = bytes.chunks_exact(8);
    let mut a = addr;
    for c in chunks.by_ref() {
        mem.write(a, 8, u64::from_le_bytes(c.try_into().expect("8 bytes")))
            .ok()?;
        a += 8;
    }
    for &b in chunks.remainder() {
        mem.write(a, 1, b as u64).ok()?;
        a += 1;
    }
    Some(())
}

/// Writes a little-endian u64.
pub fn write_u64(mem: &mut Memory, addr: u64, v: u64) -> Option<()> {
    write(mem, addr, &v.to_le_bytes())
}

/// Writes a little-endian u32.
pub fn write_u32(mem: &mut Memory, addr: u64, v: u32) -> Option<()> {
    write(mem, addr, &v.to_le_bytes())
}
