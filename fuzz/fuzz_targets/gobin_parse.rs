//! Any bytes, as a whole file or as the sections of an ELF Go executable, parse or give a
//! `gobin::Error`: never a panic, and every question asked of what parsed is answered or
//! refused the same way.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// The sections the fuzzer fills, at the addresses a small Go binary has them.
const SECTIONS: [(&str, u64); 6] = [
    (".text", 0x40_1000),
    (".gopclntab", 0x4b_0000),
    (".go.buildinfo", 0x4c_0000),
    (".noptrdata", 0x4d_0000),
    (".debug_abbrev", 0),
    (".debug_info", 0),
];

fuzz_target!(|data: &[u8]| {
    // An ELF file is read as it is (gobin's test binaries seed these); any other bytes are
    // cut into the sections above and wrapped in an ELF header, so the mutations reach the
    // pclntab and DWARF readers.
    let file = if data.starts_with(b"\x7fELF") {
        data.to_vec()
    } else {
        elf_of(&split(data))
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
    let _ = bin.elf_symbol_at(0x40_1000);
    if let Ok(g) = bin.struct_layout("runtime.g") {
        let _ = g.asm_names();
    }
});

/// Cuts `data` into one piece per section: each piece's length is the next two bytes.
fn split(mut data: &[u8]) -> Vec<&[u8]> {
    let mut pieces = Vec::new();
    for _ in SECTIONS {
        let len = match data {
            [a, b, rest @ ..] => {
                data = rest;
                usize::from(u16::from_le_bytes([*a, *b]))
            }
            _ => 0,
        };
        let (piece, after) = data.split_at(len.min(data.len()));
        pieces.push(piece);
        data = after;
    }
    pieces
}

/// A little-endian ELF64 executable with the given sections' bytes, a `.shstrtab` last
/// (the System V gABI's layout: header, section bytes, section header table).
fn elf_of(pieces: &[&[u8]]) -> Vec<u8> {
    let mut names = vec![0u8];
    let mut name_at = Vec::new();
    for (name, _) in SECTIONS.iter().chain([&(".shstrtab", 0)]) {
        name_at.push(names.len() as u32);
        names.extend_from_slice(name.as_bytes());
        names.push(0);
    }
    let mut out = vec![0u8; 64];
    let mut headers = vec![[0u8; 64]];
    for (i, piece) in pieces.iter().chain([&names.as_slice()]).enumerate() {
        let offset = out.len() as u64;
        out.extend_from_slice(piece);
        let (address, flags, kind) = match SECTIONS.get(i) {
            Some((_, 0)) | None => (0, 0, if i == SECTIONS.len() { 3 } else { 1 }),
            // SHF_ALLOC, and SHF_EXECINSTR for .text.
            Some((_, a)) => (*a, if i == 0 { 6 } else { 2 }, 1),
        };
        let mut h = [0u8; 64];
        h[0..4].copy_from_slice(&name_at[i].to_le_bytes());
        h[4..8].copy_from_slice(&(kind as u32).to_le_bytes());
        h[8..16].copy_from_slice(&(flags as u64).to_le_bytes());
        h[16..24].copy_from_slice(&address.to_le_bytes());
        h[24..32].copy_from_slice(&offset.to_le_bytes());
        h[32..40].copy_from_slice(&(piece.len() as u64).to_le_bytes());
        h[48..56].copy_from_slice(&1u64.to_le_bytes());
        headers.push(h);
    }
    while out.len() % 8 != 0 {
        out.push(0);
    }
    let table = out.len() as u64;
    for h in &headers {
        out.extend_from_slice(h);
    }
    let header = &mut out[..64];
    header[..4].copy_from_slice(b"\x7fELF");
    header[4] = 2; // ELFCLASS64
    header[5] = 1; // ELFDATA2LSB
    header[6] = 1; // EV_CURRENT
    header[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    header[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    header[20..24].copy_from_slice(&1u32.to_le_bytes());
    header[40..48].copy_from_slice(&table.to_le_bytes()); // e_shoff
    header[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
    header[58..60].copy_from_slice(&64u16.to_le_bytes()); // e_shentsize
    header[60..62].copy_from_slice(&(headers.len() as u16).to_le_bytes());
    header[62..64].copy_from_slice(&((headers.len() - 1) as u16).to_le_bytes()); // e_shstrndx
    out
}
