//! Any bytes, as a whole file or as the sections of an ELF Go executable, parse or give a
//! `gobin::Error`: never a panic, and every question asked of what parsed is answered or
//! refused the same way.
#![no_main]

use gobin::synthetic;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // An ELF file is read as it is; any other bytes become the sections of gobin's
    // hand-written test binary (its seeds are those sections), so the mutations reach the
    // pclntab, build info and DWARF readers behind a well-formed ELF header.
    let file = if data.starts_with(b"\x7fELF") {
        data.to_vec()
    } else {
        synthetic::elf(&sections_of(data))
    };
    let Ok(bin) = gobin::Binary::parse(&file) else {
        return;
    };
    let _ = bin.go_version();
    for f in bin.functions().iter().take(64) {
        for pc in [f.entry, f.entry.wrapping_add(1), f.end.wrapping_sub(1)] {
            let _ = bin.location(pc);
        }
    }
    let _ = bin.location(bin.text_start());
    let _ = bin.function_named("runtime.asmcgocall");
    let _ = bin.symbol("runtime.asmcgocall.abi0");
    let _ = bin.name_of(synthetic::TEXT);
    if let Ok(layouts) = bin.struct_layouts(&["runtime.g", "runtime.m"]) {
        for l in layouts {
            let _ = l.asm_names();
        }
    }
});

/// The synthetic binary's sections and two debug sections, each filled with the next piece
/// of `data`: a piece is two bytes of length, then that many bytes.
fn sections_of(mut data: &[u8]) -> Vec<(&'static str, u64, Vec<u8>)> {
    let mut sections = synthetic::sections();
    sections.push((".debug_abbrev", 0, Vec::new()));
    sections.push((".debug_info", 0, Vec::new()));
    for section in &mut sections {
        let len = match data {
            [a, b, rest @ ..] => {
                data = rest;
                usize::from(u16::from_le_bytes([*a, *b]))
            }
            _ => 0,
        };
        let (piece, after) = data.split_at(len.min(data.len()));
        section.2 = piece.to_vec();
        data = after;
    }
    sections
}
