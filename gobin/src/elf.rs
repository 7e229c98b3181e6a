//! The ELF side: sections as the loaded image sees them, the debug sections, `.symtab`.

use crate::Error;
use object::read::elf::ElfFile64;
use object::{
    CompressionFormat, LittleEndian, Object, ObjectSection, ObjectSymbol, SectionKind, SymbolKind,
    SymbolSection,
};
use std::collections::HashMap;

/// One ELF symbol from `.symtab`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfSymbol {
    /// Its name as the linker wrote it (`runtime.asmcgocall`, `__libc_start_main`).
    pub name: String,
    /// Its address.
    pub address: u64,
    /// Its size in bytes (0 where the object file gave none, as for many assembly labels).
    pub size: u64,
    /// Whether it names code (`STT_FUNC`, or any symbol in an executable section).
    pub is_function: bool,
}

/// A section the loader maps: its address and the bytes the file gives it.
#[derive(Debug, Clone)]
struct Mapped {
    name: String,
    address: u64,
    data: Vec<u8>,
}

/// A debug section as the file stores it, inflated on demand.
#[derive(Debug, Clone)]
pub(crate) struct DebugSection {
    /// Normalised to `.debug_*` (Go 1.19 writes `.zdebug_*`).
    pub name: String,
    pub format: CompressionFormat,
    pub uncompressed_size: u64,
    pub data: Vec<u8>,
}

/// What the readers need from the ELF file, owned so a [`crate::Binary`] outlives the bytes.
#[derive(Debug, Clone)]
pub(crate) struct Elf {
    mapped: Vec<Mapped>,
    debug: Vec<DebugSection>,
    symbols: Vec<ElfSymbol>,
    by_name: HashMap<String, usize>,
}

impl Elf {
    pub(crate) fn parse(data: &[u8]) -> Result<Elf, Error> {
        match object::FileKind::parse(data) {
            Ok(object::FileKind::Elf64) => {}
            Ok(_) => return Err(Error::NotElf64Le),
            Err(e) => return Err(Error::Elf(e.to_string())),
        }
        // A big-endian header fails here: LittleEndian accepts only its own byte order.
        let file = ElfFile64::<LittleEndian>::parse(data).map_err(|e| match data.get(5) {
            Some(2) => Error::NotElf64Le,
            _ => Error::Elf(e.to_string()),
        })?;
        let mut mapped = Vec::new();
        let mut debug = Vec::new();
        for section in file.sections() {
            let name = section.name().unwrap_or_default().to_string();
            if let Some(rest) = name
                .strip_prefix(".zdebug_")
                .or_else(|| name.strip_prefix(".debug_"))
            {
                let compressed = section
                    .compressed_data()
                    .map_err(|e| Error::Elf(format!("{name}: {e}")))?;
                debug.push(DebugSection {
                    name: format!(".debug_{rest}"),
                    format: compressed.format,
                    uncompressed_size: compressed.uncompressed_size,
                    data: compressed.data.to_vec(),
                });
                continue;
            }
            if section.address() == 0
                || matches!(
                    section.kind(),
                    SectionKind::UninitializedData | SectionKind::UninitializedTls
                )
            {
                continue;
            }
            // NOBITS sections have no bytes in the file; those without are skipped too.
            let Ok(bytes) = section.data() else { continue };
            if bytes.is_empty() {
                continue;
            }
            mapped.push(Mapped {
                name,
                address: section.address(),
                data: bytes.to_vec(),
            });
        }
        let mut symbols: Vec<ElfSymbol> = file
            .symbols()
            .filter_map(|s| {
                // Assembly labels (crosscall1 of the cgo glue) are NOTYPE with no size:
                // any symbol in a section counts, as `go tool nm` lists them.
                let SymbolSection::Section(index) = s.section() else {
                    return None;
                };
                if matches!(s.kind(), SymbolKind::Section | SymbolKind::File) {
                    return None;
                }
                let name = s.name().ok()?.to_string();
                if name.is_empty() || s.address() == 0 {
                    return None;
                }
                let in_code = file
                    .section_by_index(index)
                    .is_ok_and(|sec| sec.kind() == SectionKind::Text);
                Some(ElfSymbol {
                    name,
                    address: s.address(),
                    size: s.size(),
                    is_function: s.kind() == SymbolKind::Text || in_code,
                })
            })
            .collect();
        symbols.sort_by(|a, b| a.address.cmp(&b.address).then(b.size.cmp(&a.size)));
        let mut by_name = HashMap::new();
        for (i, s) in symbols.iter().enumerate() {
            by_name.entry(s.name.clone()).or_insert(i);
        }
        Ok(Elf {
            mapped,
            debug,
            symbols,
            by_name,
        })
    }

    /// The bytes of the mapped section named `name`, with its address.
    pub(crate) fn section(&self, name: &str) -> Option<(u64, &[u8])> {
        self.mapped
            .iter()
            .find(|m| m.name == name)
            .map(|m| (m.address, m.data.as_slice()))
    }

    /// Every mapped section's address and bytes.
    pub(crate) fn mapped(&self) -> impl Iterator<Item = (&str, u64, &[u8])> {
        self.mapped
            .iter()
            .map(|m| (m.name.as_str(), m.address, m.data.as_slice()))
    }

    /// The image's bytes from `address` to the end of the section holding it.
    pub(crate) fn image_from(&self, address: u64) -> Option<&[u8]> {
        self.mapped.iter().find_map(|m| {
            let at = usize::try_from(address.checked_sub(m.address)?).ok()?;
            m.data.get(at..)
        })
    }

    /// `len` bytes of the image at `address`, within one section.
    pub(crate) fn read(&self, address: u64, len: usize) -> Option<&[u8]> {
        self.image_from(address)?.get(..len)
    }

    /// The debug sections as stored.
    pub(crate) fn debug_sections(&self) -> &[DebugSection] {
        &self.debug
    }

    pub(crate) fn symbols(&self) -> &[ElfSymbol] {
        &self.symbols
    }

    /// The first symbol named `name`.
    pub(crate) fn symbol(&self, name: &str) -> Option<&ElfSymbol> {
        self.by_name.get(name).map(|&i| &self.symbols[i])
    }

    /// The function symbol whose `[address, address + size)` holds `pc`; a sized symbol
    /// wins over an unsized label at the same place.
    pub(crate) fn function_at(&self, pc: u64) -> Option<&ElfSymbol> {
        self.containing(pc, true)
    }

    /// The symbol of any kind whose range holds `address` (data such as `runtime.m0`).
    pub(crate) fn symbol_at(&self, address: u64) -> Option<&ElfSymbol> {
        self.containing(address, false)
    }

    /// The nearest symbols below `address` are tried (an unsized label holds only its own
    /// address); 64 of them is far more than share an address in any real binary.
    fn containing(&self, address: u64, functions_only: bool) -> Option<&ElfSymbol> {
        let upto = self.symbols.partition_point(|s| s.address <= address);
        self.symbols[..upto]
            .iter()
            .rev()
            .filter(|s| s.is_function || !functions_only)
            .take(64)
            .find(|s| address < s.address.saturating_add(s.size.max(1)))
    }
}
