//! Struct layouts from the DWARF the Go linker writes (cmd/link/internal/ld/dwarf.go:
//! one `DW_TAG_structure_type` per Go struct type, named with its package path, each field
//! a `DW_TAG_member` with a constant `DW_AT_data_member_location`). Go compresses the
//! debug sections with zlib by default: `.zdebug_*` up to Go 1.19, SHF_COMPRESSED after.

use crate::elf::Elf;
use crate::Error;
use gimli::{AttributeValue, EndianSlice, LittleEndian};
use object::CompressionFormat;
use std::borrow::Cow;

/// One field of a struct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Its Go name (`sched`, `stackguard0`; an embedded field has its type's name).
    pub name: String,
    /// Its offset in bytes from the struct's start.
    pub offset: u64,
    /// Its size in bytes, where the DWARF gives one.
    pub size: Option<u64>,
    /// Its type's name as the DWARF writes it (`runtime.gobuf`, `uintptr`, `*runtime.m`).
    pub type_name: String,
}

/// A struct type's layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructLayout {
    /// The type's full name (`runtime.g`).
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its fields in declaration order.
    pub fields: Vec<Field>,
}

impl StructLayout {
    /// The field named `name`.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The names the compiler's `-asmhdr` writes for this type into `go_asm.h`
    /// (cmd/compile/internal/gc/export.go, `dumpasmhdr`): `g__size` for the size and
    /// `g_sched` for each field not named `_`, the type named without its package.
    pub fn asm_names(&self) -> Vec<(String, u64)> {
        let short = self.name.rsplit('.').next().unwrap_or(&self.name);
        std::iter::once((format!("{short}__size"), self.size))
            .chain(
                self.fields
                    .iter()
                    .filter(|f| f.name != "_")
                    .map(|f| (format!("{short}_{}", f.name), f.offset)),
            )
            .collect()
    }
}

/// How far a field's type is followed through typedefs to find its size.
const MAX_TYPE_CHAIN: usize = 16;
/// An inflated section larger than this is taken as malformed (Go's whole DWARF is tens
/// of megabytes at most).
const MAX_SECTION: usize = 1 << 30;

type R<'a> = EndianSlice<'a, LittleEndian>;

/// The inflated bytes of debug section `name`, empty when the binary has none.
fn section<'a>(elf: &'a Elf, name: &str) -> Result<Cow<'a, [u8]>, Error> {
    let Some(s) = elf.debug_sections().iter().find(|s| s.name == name) else {
        return Ok(Cow::Borrowed(&[]));
    };
    match s.format {
        CompressionFormat::None => Ok(Cow::Borrowed(&s.data)),
        CompressionFormat::Zlib => {
            let limit = usize::try_from(s.uncompressed_size)
                .unwrap_or(MAX_SECTION)
                .min(MAX_SECTION);
            miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(&s.data, limit)
                .map(Cow::Owned)
                .map_err(|e| Error::Dwarf(format!("{name}: zlib: {e:?}")))
        }
        _ => Err(Error::Compression(name.to_string())),
    }
}

pub(crate) fn struct_layout(elf: &Elf, name: &str) -> Result<StructLayout, Error> {
    struct_layouts(elf, &[name])?
        .pop()
        .ok_or_else(|| Error::NoType(name.to_string()))
}

/// The sections a type lookup reads: gimli opens each unit's line program header and
/// string attributes; location lists, ranges and frames (the larger part) are left alone.
const TYPE_SECTIONS: [gimli::SectionId; 6] = [
    gimli::SectionId::DebugInfo,
    gimli::SectionId::DebugAbbrev,
    gimli::SectionId::DebugStr,
    gimli::SectionId::DebugLine,
    gimli::SectionId::DebugLineStr,
    gimli::SectionId::DebugStrOffsets,
];

/// The layouts of the named struct types found, in one pass over the DWARF.
pub(crate) fn struct_layouts(elf: &Elf, names: &[&str]) -> Result<Vec<StructLayout>, Error> {
    if !elf.debug_sections().iter().any(|s| s.name == ".debug_info") {
        return Err(Error::NoDwarf);
    }
    let sections = gimli::DwarfSections::load(|id| {
        if TYPE_SECTIONS.contains(&id) {
            section(elf, id.name())
        } else {
            Ok(Cow::Borrowed(&[][..]))
        }
    })?;
    let dwarf = sections.borrow(|s| EndianSlice::new(s, LittleEndian));
    let mut found = Vec::new();
    let mut units = dwarf.units();
    while let Some(header) = units.next()? {
        let unit = dwarf.unit(header)?;
        let mut entries = unit.entries();
        while let Some((_, entry)) = entries.next_dfs()? {
            if entry.tag() != gimli::DW_TAG_structure_type {
                continue;
            }
            let Some(name) = die_name(&dwarf, &unit, entry)? else {
                continue;
            };
            if !names.contains(&name.as_str())
                || found.iter().any(|l: &StructLayout| l.name == name)
            {
                continue;
            }
            let size = udata(entry.attr_value(gimli::DW_AT_byte_size)?).unwrap_or(0);
            let fields = members(&dwarf, &unit, entry.offset())?;
            found.push(StructLayout { name, size, fields });
            if found.len() == names.len() {
                return Ok(found);
            }
        }
    }
    Ok(found)
}

/// The `DW_TAG_member` children of the struct at `at`.
fn members<'a>(
    dwarf: &gimli::Dwarf<R<'a>>,
    unit: &gimli::Unit<R<'a>>,
    at: gimli::UnitOffset,
) -> Result<Vec<Field>, Error> {
    let mut tree = unit.entries_tree(Some(at))?;
    let root = tree.root()?;
    let mut children = root.children();
    let mut fields = Vec::new();
    while let Some(child) = children.next()? {
        let e = child.entry();
        if e.tag() != gimli::DW_TAG_member {
            continue;
        }
        let name = die_name(dwarf, unit, e)?.unwrap_or_default();
        let offset = udata(e.attr_value(gimli::DW_AT_data_member_location)?).ok_or(
            Error::Dwarf(format!("member {name} has no constant offset")),
        )?;
        let (type_name, size) = match e.attr_value(gimli::DW_AT_type)? {
            Some(t) => type_of(dwarf, unit, t)?,
            None => (String::new(), None),
        };
        fields.push(Field {
            name,
            offset,
            size,
            type_name,
        });
    }
    Ok(fields)
}

/// The name of the type a `DW_AT_type` points at, and its size (following typedefs to one).
fn type_of<'a>(
    dwarf: &gimli::Dwarf<R<'a>>,
    unit: &gimli::Unit<R<'a>>,
    mut reference: AttributeValue<R<'a>>,
) -> Result<(String, Option<u64>), Error> {
    let mut name = None;
    // The unit the chain has moved into, when a reference crossed units.
    let mut other: Option<gimli::Unit<R<'a>>> = None;
    for _ in 0..MAX_TYPE_CHAIN {
        let offset = match reference {
            AttributeValue::UnitRef(o) => o,
            AttributeValue::DebugInfoRef(o) => {
                let header = dwarf
                    .debug_info
                    .header_from_offset(unit_containing(dwarf, o)?)?;
                let u = dwarf.unit(header)?;
                let local = o
                    .to_unit_offset(&u.header)
                    .ok_or(Error::Dwarf("type reference outside its unit".into()))?;
                other = Some(u);
                local
            }
            _ => break,
        };
        let u = other.as_ref().unwrap_or(unit);
        let entry = u.entry(offset)?;
        if name.is_none() {
            name = die_name(dwarf, u, &entry)?;
        }
        if let Some(size) = udata(entry.attr_value(gimli::DW_AT_byte_size)?) {
            return Ok((name.unwrap_or_default(), Some(size)));
        }
        match entry.attr_value(gimli::DW_AT_type)? {
            Some(next) => reference = next,
            None => break,
        }
    }
    Ok((name.unwrap_or_default(), None))
}

/// The offset of the unit header whose unit holds `o`.
fn unit_containing(
    dwarf: &gimli::Dwarf<R>,
    o: gimli::DebugInfoOffset,
) -> Result<gimli::DebugInfoOffset, Error> {
    let mut units = dwarf.units();
    let mut last = None;
    while let Some(h) = units.next()? {
        let Some(start) = h.offset().as_debug_info_offset() else {
            continue;
        };
        if start.0 > o.0 {
            break;
        }
        last = Some(start);
    }
    last.ok_or(Error::Dwarf("type reference before the first unit".into()))
}

fn die_name(
    dwarf: &gimli::Dwarf<R>,
    unit: &gimli::Unit<R>,
    entry: &gimli::DebuggingInformationEntry<R>,
) -> Result<Option<String>, Error> {
    match entry.attr_value(gimli::DW_AT_name)? {
        Some(v) => {
            let s = dwarf.attr_string(unit, v)?;
            Ok(Some(s.to_string_lossy().into_owned()))
        }
        None => Ok(None),
    }
}

fn udata(v: Option<AttributeValue<R>>) -> Option<u64> {
    v?.udata_value()
}
