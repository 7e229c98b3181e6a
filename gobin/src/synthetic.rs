//! A small Go binary written by hand for the unit tests (and the fuzzer's seed): a
//! Go 1.20-format pclntab of three functions, one with a call of another inlined into it,
//! the moduledata that points at it, and a build info blob, in a minimal ELF64 file.
//!
//! `main.f` (0x401000..0x401010) has SP delta 0 at its entry and 8 after; lines 10 for
//! its first 4 bytes, 20 after; the inline tree says bytes 4..12 are `main.h` inlined,
//! called from offset 2 (line 10). `main.g` (0x401010..0x401020) reuses the tables with no
//! inlining. `main.f` is flagged a top frame written in assembly.
//!
//! Built for the crate's own tests and, with the `synthetic` feature, for the fuzz target
//! (which writes its inputs into these sections); not part of the API.

/// Where `.text` sits, as in a small linux/amd64 Go binary.
pub const TEXT: u64 = 0x40_1000;
/// Where `.gopclntab` sits.
pub const PCLNTAB: u64 = 0x4b_0000;
/// Where `.noptrdata` sits.
pub const NOPTRDATA: u64 = 0x4d_0000;
/// `go:func.*` inside `.noptrdata`, where the inline tree is.
pub const GOFUNC: u64 = NOPTRDATA + 0x200;

use crate::PclnFormat;

fn le32(out: &mut Vec<u8>, values: &[u32]) {
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

fn le64(out: &mut Vec<u8>, values: &[u64]) {
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// The pclntab (from its header), in Go 1.20's format.
pub fn pclntab() -> Vec<u8> {
    pclntab_of(PclnFormat::Go120)
}

/// The pclntab in `format`: Go 1.18's `_func` has no `startLine`.
pub fn pclntab_of(format: PclnFormat) -> Vec<u8> {
    let go120 = format == PclnFormat::Go120;
    let names = b"main.f\0main.g\0main.h\0";
    let filetab = b"/x/main.go\0";
    // pctab: offset 0 means "no table", so one pad byte first. Each table is
    // (zig-zag value delta, pc delta) pairs from value -1 at the entry, 0 ending it.
    let mut pctab = vec![0u8];
    let mut table = |pairs: &[u8]| {
        let at = pctab.len() as u32;
        pctab.extend_from_slice(pairs);
        at
    };
    let pcsp = table(&[2, 1, 16, 15, 0]); // 0 for [0,1), 8 for [1,16)
    let pcfile = table(&[2, 16, 0]); // file 0 throughout
    let pcln = table(&[22, 4, 20, 12, 0]); // line 10 for [0,4), 20 for [4,16)
    let inl = table(&[0, 4, 2, 8, 1, 4, 0]); // -1 for [0,4), 0 for [4,12), -1 after

    let header_len = 72u64;
    let funcnametab = header_len;
    let cutab = funcnametab + names.len() as u64;
    let filetab_at = cutab + 4;
    let pctab_at = filetab_at + filetab.len() as u64;
    let pclntable = (pctab_at + pctab.len() as u64).div_ceil(8) * 8;

    let mut out = Vec::new();
    le32(&mut out, &[if go120 { 0xffff_fff1 } else { 0xffff_fff0 }]);
    out.extend_from_slice(&[0, 0, 1, 8]);
    le64(
        &mut out,
        &[
            2,
            1,
            TEXT,
            funcnametab,
            cutab,
            filetab_at,
            pctab_at,
            pclntable,
        ],
    );
    out.extend_from_slice(names);
    le32(&mut out, &[0]);
    out.extend_from_slice(filetab);
    out.extend_from_slice(&pctab);
    out.resize(pclntable as usize, 0);

    // functab: (entryoff, funcoff) per function, then the end of text.
    let functab_len = 3 * 8;
    let mut func_f = Vec::new();
    le32(&mut func_f, &[0, 0, 0, 0, pcsp, pcfile, pcln, 3, 0]);
    if go120 {
        le32(&mut func_f, &[9]); // startLine
    }
    // funcID 0, flag TOPFRAME|ASM, pad, nfuncdata 4.
    func_f.extend_from_slice(&[0, 5, 0, 4]);
    le32(&mut func_f, &[0, 0, inl]); // pcdata: the inline tree index is the third
    le32(&mut func_f, &[u32::MAX, u32::MAX, u32::MAX, 0]); // funcdata: the tree at gofunc
    let mut func_g = Vec::new();
    le32(&mut func_g, &[16, 7, 0, 0, pcsp, pcfile, pcln, 0, 0]);
    if go120 {
        le32(&mut func_g, &[12]);
    }
    func_g.extend_from_slice(&[0, 0, 0, 0]);
    let f_at = functab_len;
    let g_at = f_at + func_f.len() as u32;
    le32(&mut out, &[0, f_at, 16, g_at, 32, 0]);
    out.extend_from_slice(&func_f);
    out.extend_from_slice(&func_g);
    out
}

/// `.noptrdata`: `runtime.firstmoduledata` at its start (`gofunc` where go1.24 and go1.19
/// have it), the inline tree at [`GOFUNC`].
fn noptrdata_of(format: PclnFormat) -> Vec<u8> {
    let mut out = Vec::new();
    le64(&mut out, &[PCLNTAB, PCLNTAB + 72]);
    out.resize(176, 0);
    le64(&mut out, &[TEXT]);
    out.resize(
        if format == PclnFormat::Go120 {
            320
        } else {
            304
        },
        0,
    );
    le64(&mut out, &[GOFUNC]);
    out.resize((GOFUNC - NOPTRDATA) as usize, 0);
    if format == PclnFormat::Go120 {
        // One inlinedCall: funcID, pad, nameOff (main.h), parentPc 2, startLine 5.
        out.extend_from_slice(&[0, 0, 0, 0]);
        le32(&mut out, &[14, 2, 5]);
    } else {
        // parent -1, funcID, pad, file 0, line 10, func_ (main.h), parentPc 2.
        out.extend_from_slice(&[0xff, 0xff, 0, 0]);
        le32(&mut out, &[0, 10, 14, 2]);
    }
    out
}

/// The build info blob with `version` inline.
fn buildinfo_of(version: &str) -> Vec<u8> {
    let mut out = b"\xff Go buildinf:".to_vec();
    out.extend_from_slice(&[8, 2]);
    out.resize(32, 0);
    out.push(version.len() as u8);
    out.extend_from_slice(version.as_bytes());
    out
}

/// The sections of a go1.24.3 binary, by name and address (0: not loaded).
pub fn sections() -> Vec<(&'static str, u64, Vec<u8>)> {
    sections_of(PclnFormat::Go120)
}

/// The sections of a binary in `format` (a go1.19.8 one for Go 1.18's).
pub fn sections_of(format: PclnFormat) -> Vec<(&'static str, u64, Vec<u8>)> {
    let version = match format {
        PclnFormat::Go118 => "go1.19.8",
        PclnFormat::Go120 => "go1.24.3",
    };
    vec![
        (".text", TEXT, vec![0x90; 32]),
        (".gopclntab", PCLNTAB, pclntab_of(format)),
        (".go.buildinfo", 0x4c_0000, buildinfo_of(version)),
        (".noptrdata", NOPTRDATA, noptrdata_of(format)),
    ]
}

/// A little-endian ELF64 executable of `sections` and a `.shstrtab` (System V gABI:
/// header, the sections' bytes, the section header table).
pub fn elf(sections: &[(&str, u64, Vec<u8>)]) -> Vec<u8> {
    let mut names = vec![0u8];
    let mut name_at = Vec::new();
    for name in sections.iter().map(|s| s.0).chain([".shstrtab"]) {
        name_at.push(names.len() as u32);
        names.extend_from_slice(name.as_bytes());
        names.push(0);
    }
    let mut out = vec![0u8; 64];
    let mut headers = vec![[0u8; 64]];
    let all = sections
        .iter()
        .map(|(n, a, d)| (*n, *a, d.as_slice()))
        .chain([(".shstrtab", 0, names.as_slice())]);
    for (i, (name, address, bytes)) in all.enumerate() {
        let offset = out.len() as u64;
        out.extend_from_slice(bytes);
        // SHT_PROGBITS (SHT_STRTAB for the names); SHF_ALLOC, with SHF_EXECINSTR for text.
        let kind: u32 = if name == ".shstrtab" { 3 } else { 1 };
        let flags: u64 = match (address, name) {
            (0, _) => 0,
            (_, ".text") => 6,
            _ => 2,
        };
        let mut h = [0u8; 64];
        h[0..4].copy_from_slice(&name_at[i].to_le_bytes());
        h[4..8].copy_from_slice(&kind.to_le_bytes());
        h[8..16].copy_from_slice(&flags.to_le_bytes());
        h[16..24].copy_from_slice(&address.to_le_bytes());
        h[24..32].copy_from_slice(&offset.to_le_bytes());
        h[32..40].copy_from_slice(&(bytes.len() as u64).to_le_bytes());
        h[48..56].copy_from_slice(&1u64.to_le_bytes());
        headers.push(h);
    }
    out.resize(out.len().div_ceil(8) * 8, 0);
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
    header[62..64].copy_from_slice(&((headers.len() - 1) as u16).to_le_bytes());
    out
}
