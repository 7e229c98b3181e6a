//! The Go release from the build info blob the linker writes (cmd/link/internal/ld/data.go,
//! `buildinfo`; read back by debug/buildinfo): 14 bytes of magic `\xff Go buildinf:`, the
//! pointer size, a flags byte, and then either the version and module strings inline as
//! varint-prefixed bytes (flag bit 1, Go 1.18 and later) or two pointers to Go string
//! headers (`runtime.buildVersion`, `runtime.modinfo`).

use crate::elf::Elf;
use crate::reader::{bytes, u64_at, uvarint64};
use crate::Error;

const MAGIC: &[u8] = b"\xff Go buildinf:";
/// The header is padded to 32 bytes before the inline strings (debug/buildinfo).
const HEADER_LEN: usize = 32;
const FLAG_BIG_ENDIAN: u8 = 1;
const FLAG_INLINE_STRINGS: u8 = 2;

/// The version string, or `None` when there is no blob or it does not read; falls back to
/// the `runtime.buildVersion` string's symbol.
pub(crate) fn go_version(elf: &Elf) -> Option<String> {
    blob(elf)
        .and_then(|b| from_blob(elf, b).ok())
        .or_else(|| from_build_version_symbol(elf))
        .filter(|v| !v.is_empty())
}

/// The blob: the `.go.buildinfo` section, or the magic found 16-byte aligned in the data.
fn blob(elf: &Elf) -> Option<&[u8]> {
    if let Some((_, data)) = elf.section(".go.buildinfo") {
        if data.starts_with(MAGIC) {
            return Some(data);
        }
    }
    elf.mapped().find_map(|(_, _, data)| {
        (0..data.len())
            .step_by(16)
            .find(|&at| data[at..].starts_with(MAGIC))
            .map(|at| &data[at..])
    })
}

fn from_blob(elf: &Elf, blob: &[u8]) -> Result<String, Error> {
    let head = bytes(blob, 0, HEADER_LEN, "build info header")?;
    let (ptr_size, flags) = (head[14], head[15]);
    if flags & FLAG_INLINE_STRINGS != 0 {
        let mut at = HEADER_LEN;
        let len = uvarint64(blob, &mut at, "build info version")?;
        let len = usize::try_from(len).map_err(|_| Error::Malformed("build info version"))?;
        let text = bytes(blob, at, len, "build info version")?;
        return Ok(String::from_utf8_lossy(text).into_owned());
    }
    if ptr_size != 8 || flags & FLAG_BIG_ENDIAN != 0 {
        return Err(Error::Malformed("build info pointer size"));
    }
    let header = u64_at(blob, 16, "build info version pointer")?;
    go_string(elf, header).ok_or(Error::Malformed("runtime.buildVersion"))
}

/// The Go string whose header (pointer, length) is at `header`.
fn go_string(elf: &Elf, header: u64) -> Option<String> {
    let h = elf.read(header, 16)?;
    let ptr = u64_at(h, 0, "string").ok()?;
    let len = usize::try_from(u64_at(h, 8, "string").ok()?).ok()?;
    if len > 4096 {
        return None;
    }
    Some(String::from_utf8_lossy(elf.read(ptr, len)?).into_owned())
}

fn from_build_version_symbol(elf: &Elf) -> Option<String> {
    go_string(elf, elf.symbol("runtime.buildVersion")?.address)
}
