//! Bounds-checked little-endian reads: every table offset in a binary is untrusted.

use crate::Error;

/// `len` bytes of `data` at `at`, or [`Error::Malformed`] naming `what`.
pub(crate) fn bytes<'a>(
    data: &'a [u8],
    at: usize,
    len: usize,
    what: &'static str,
) -> Result<&'a [u8], Error> {
    at.checked_add(len)
        .and_then(|end| data.get(at..end))
        .ok_or(Error::Malformed(what))
}

/// The little-endian `u32` at `at`.
pub(crate) fn u32_at(data: &[u8], at: usize, what: &'static str) -> Result<u32, Error> {
    let b = bytes(data, at, 4, what)?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// The little-endian `u64` at `at`.
pub(crate) fn u64_at(data: &[u8], at: usize, what: &'static str) -> Result<u64, Error> {
    let b = bytes(data, at, 8, what)?;
    let mut w = [0u8; 8];
    w.copy_from_slice(b);
    Ok(u64::from_le_bytes(w))
}

/// The NUL-terminated string at `at` (Go's funcnametab and filetab hold names so).
pub(crate) fn c_string(data: &[u8], at: usize, what: &'static str) -> Result<String, Error> {
    let rest = data.get(at..).ok_or(Error::Malformed(what))?;
    let end = rest
        .iter()
        .position(|&b| b == 0)
        .ok_or(Error::Malformed(what))?;
    Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
}

/// An unsigned LEB128 varint at `*at`, advancing `*at`; at most 32 bits, as the runtime's
/// `readvarint` (runtime/symtab.go) reads them.
pub(crate) fn uvarint32(data: &[u8], at: &mut usize, what: &'static str) -> Result<u32, Error> {
    let mut value: u32 = 0;
    let mut shift = 0u32;
    loop {
        let b = *data.get(*at).ok_or(Error::Malformed(what))?;
        *at += 1;
        value |= u32::from(b & 0x7f).checked_shl(shift).unwrap_or(0);
        if b & 0x80 == 0 {
            return Ok(value);
        }
        shift += 7;
        if shift >= 35 {
            return Err(Error::Malformed(what));
        }
    }
}

/// An unsigned LEB128 varint of any length up to 64 bits (the build info's string lengths,
/// encoding/binary's `Uvarint`).
pub(crate) fn uvarint64(data: &[u8], at: &mut usize, what: &'static str) -> Result<u64, Error> {
    let mut value: u64 = 0;
    let mut shift = 0u32;
    loop {
        let b = *data.get(*at).ok_or(Error::Malformed(what))?;
        *at += 1;
        value |= u64::from(b & 0x7f).checked_shl(shift).unwrap_or(0);
        if b & 0x80 == 0 {
            return Ok(value);
        }
        shift += 7;
        if shift >= 70 {
            return Err(Error::Malformed(what));
        }
    }
}
