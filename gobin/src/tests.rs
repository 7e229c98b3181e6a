//! The readers on the hand-written binary of [`crate::synthetic`], where every answer is
//! known, and on damaged copies of it.

use crate::synthetic::{self, TEXT};
use crate::{Binary, Error, Field, PclnFormat, StructLayout};

fn binary() -> Binary {
    Binary::parse(&synthetic::elf(&synthetic::sections())).expect("the synthetic binary parses")
}

#[test]
fn functions_version_and_text_start() {
    let bin = binary();
    assert_eq!(bin.go_version(), Some("go1.24.3"));
    assert_eq!(bin.pclntab_format(), PclnFormat::Go120);
    assert_eq!(bin.text_start(), TEXT);
    let found: Vec<(&str, u64, u64)> = bin
        .functions()
        .iter()
        .map(|f| (f.name.as_str(), f.entry, f.end))
        .collect();
    assert_eq!(
        found,
        [
            ("main.f", TEXT, TEXT + 16),
            ("main.g", TEXT + 16, TEXT + 32)
        ]
    );
    let f = &bin.functions()[0];
    assert_eq!((f.start_line, f.args, f.func_id), (Some(9), 0, 0));
    assert!(f.flags.top_frame && f.flags.asm && !f.flags.sp_write);
    assert_eq!(bin.functions()[1].flags, crate::FuncFlags::default());
    assert_eq!(bin.functions()[1].start_line, Some(12));
    // No .symtab: names resolve through the pclntab.
    assert_eq!(bin.symbol("main.g"), Some(TEXT + 16));
    assert_eq!(bin.symbol("main.g.abi0"), Some(TEXT + 16));
    assert_eq!(bin.symbol("main.nothing"), None);
    assert_eq!(
        bin.function_at(TEXT + 15).map(|f| f.name.as_str()),
        Some("main.f")
    );
    assert_eq!(bin.function_at(TEXT + 32), None);
    assert_eq!(bin.name_of(TEXT + 17), Some(("main.g", 1)));
    assert_eq!(bin.name_of(TEXT + 32), None);
}

#[test]
fn file_line_and_sp_delta_follow_the_pc_tables() {
    let bin = binary();
    let at_entry = bin.location(TEXT).expect("main.f's entry");
    assert_eq!(
        (at_entry.file.as_str(), at_entry.line, at_entry.sp_delta),
        ("/x/main.go", 10, 0)
    );
    let later = bin.location(TEXT + 3).expect("main.f + 3");
    assert_eq!((later.line, later.sp_delta), (10, 8));
    let body = bin.location(TEXT + 12).expect("main.f + 12");
    assert_eq!((body.line, body.sp_delta), (20, 8));
    assert_eq!(body.frames.len(), 1);
    assert!(body.inlined().is_empty());
    assert_eq!(bin.location(TEXT + 32), Err(Error::NoFunction(TEXT + 32)));
}

#[test]
fn inlined_frames_come_innermost_first() {
    let bin = binary();
    for pc in TEXT + 4..TEXT + 12 {
        let l = bin.location(pc).expect("inside the inlined call");
        let frames: Vec<(&str, i32, bool)> = l
            .frames
            .iter()
            .map(|f| (f.name.as_str(), f.line, f.inlined))
            .collect();
        // main.h's own position is the PC's (line 20); main.f's is the call at offset 2.
        assert_eq!(
            frames,
            [("main.h", 20, true), ("main.f", 10, false)],
            "at {pc:#x}"
        );
        assert_eq!(l.inlined().len(), 1);
        assert_eq!(l.function.name, "main.f");
    }
    // main.g shares the tables but has no inline tree.
    assert_eq!(bin.location(TEXT + 20).expect("main.g").frames.len(), 1);
}

/// The Go 1.18 layout of the same binary (no `startLine`, the 20-byte `inlinedCall`,
/// `gofunc` 16 bytes earlier in moduledata) reads to the same answers.
#[test]
fn the_go_1_18_format_reads_the_same() {
    let bin = Binary::parse(&synthetic::elf(&synthetic::sections_of(PclnFormat::Go118)))
        .expect("the Go 1.18-format binary parses");
    assert_eq!(bin.go_version(), Some("go1.19.8"));
    assert_eq!(bin.pclntab_format(), PclnFormat::Go118);
    let new = binary();
    let public = |l: crate::Location| {
        let f = &l.function;
        (
            f.name.clone(),
            f.entry,
            f.end,
            l.file.clone(),
            l.line,
            l.sp_delta,
            l.frames.clone(),
        )
    };
    for pc in TEXT..TEXT + 32 {
        assert_eq!(
            bin.location(pc).map(public),
            new.location(pc).map(public),
            "at {pc:#x}"
        );
    }
    assert!(bin.functions().iter().all(|f| f.start_line.is_none()));
    assert!(bin.functions()[0].flags.top_frame);
}

#[test]
fn missing_pieces_are_errors() {
    let bin = binary();
    assert_eq!(bin.struct_layout("runtime.g"), Err(Error::NoDwarf));

    let mut sections = synthetic::sections();
    sections[1].2[0] = 0xf2;
    let wrong_magic = synthetic::elf(&sections);
    assert_eq!(
        Binary::parse(&wrong_magic).err(),
        Some(Error::PclntabMagic(0xffff_fff2))
    );

    // Without moduledata and `go:func.*`, the inline tree cannot be found: said so, and
    // the rest still reads (text start falls back to the header's field, file and line).
    let mut sections = synthetic::sections();
    sections.remove(3);
    let bin = Binary::parse(&synthetic::elf(&sections)).expect("parses");
    assert_eq!(bin.text_start(), TEXT);
    assert!(matches!(bin.location(TEXT + 5), Err(Error::Malformed(_))));
    assert_eq!(bin.location(TEXT + 20).map(|l| l.line), Ok(20));

    let only_text = synthetic::elf(&synthetic::sections()[..1]);
    assert_eq!(Binary::parse(&only_text).err(), Some(Error::NoPclntab));
    assert!(matches!(Binary::parse(b"\x7fELF"), Err(Error::Elf(_))));
}

/// Every truncation of the file, and every byte of the pclntab flipped, parses or fails
/// with an error; what parses answers every question or refuses it.
#[test]
fn damage_anywhere_is_an_error_not_a_panic() {
    let file = synthetic::elf(&synthetic::sections());
    for cut in 0..file.len() {
        if let Ok(bin) = Binary::parse(&file[..cut]) {
            for pc in TEXT..TEXT + 33 {
                let _ = bin.location(pc);
            }
        }
    }
    let pclntab_len = synthetic::pclntab().len();
    for at in 0..pclntab_len {
        for flip in [0x01, 0x80, 0xff] {
            let mut sections = synthetic::sections();
            sections[1].2[at] ^= flip;
            if let Ok(bin) = Binary::parse(&synthetic::elf(&sections)) {
                for f in bin.functions().iter().take(8) {
                    for pc in f.entry..f.end.min(f.entry + 40) {
                        let _ = bin.location(pc);
                    }
                }
            }
        }
    }
}

/// A section at the top of the address space (the fuzzer's first find): the scans for
/// moduledata and the pclntab header wrap no address.
#[test]
fn sections_at_the_top_of_the_address_space() {
    let mut sections = synthetic::sections();
    sections[3].1 = u64::MAX - 0x100;
    let bin = Binary::parse(&synthetic::elf(&sections)).expect("parses");
    assert_eq!(
        bin.function_at(TEXT).map(|f| f.name.as_str()),
        Some("main.f")
    );
    sections.remove(1);
    sections[2].2 = synthetic::pclntab();
    assert!(Binary::parse(&synthetic::elf(&sections)).is_ok());
}

#[test]
fn asm_names_are_go_asm_h_names() {
    let field = |name: &str, offset| Field {
        name: name.to_string(),
        offset,
        size: Some(8),
        type_name: "uintptr".to_string(),
    };
    let gobuf = StructLayout {
        name: "runtime.gobuf".to_string(),
        size: 24,
        fields: vec![field("sp", 0), field("_", 8), field("pc", 16)],
    };
    assert_eq!(
        gobuf.asm_names(),
        [
            ("gobuf__size".to_string(), 24),
            ("gobuf_sp".to_string(), 0),
            ("gobuf_pc".to_string(), 16)
        ]
    );
    assert_eq!(gobuf.field("pc").map(|f| f.offset), Some(16));
}

#[test]
fn varints_read_as_the_runtime_reads_them() {
    use crate::reader::{uvarint32, uvarint64};
    let mut at = 0;
    assert_eq!(uvarint32(&[0xe5, 0x8e, 0x26], &mut at, "t"), Ok(624_485));
    assert_eq!(at, 3);
    let mut at = 0;
    assert!(uvarint32(&[0x80, 0x80], &mut at, "t").is_err());
    let mut at = 0;
    assert!(uvarint32(&[0xff; 6], &mut at, "t").is_err());
    let mut at = 0;
    assert_eq!(uvarint64(&[0x08], &mut at, "t"), Ok(8));
}

/// Writes the fuzzer's seeds (`cargo test -p gobin -- --ignored write_fuzz_seeds`): the
/// synthetic binary as a file, and its sections in the fuzz target's cut-up form.
#[test]
#[ignore]
fn write_fuzz_seeds() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus/gobin_parse");
    std::fs::create_dir_all(dir).expect("the corpus folder");
    for (format, name) in [(PclnFormat::Go120, "go1.20"), (PclnFormat::Go118, "go1.18")] {
        let sections = synthetic::sections_of(format);
        let elf = synthetic::elf(&sections);
        std::fs::write(format!("{dir}/synthetic-{name}.elf"), elf).expect("written");
        let mut pieces = Vec::new();
        for (_, _, bytes) in &sections {
            pieces.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
            pieces.extend_from_slice(bytes);
        }
        std::fs::write(format!("{dir}/synthetic-{name}-sections"), pieces).expect("written");
    }
}
