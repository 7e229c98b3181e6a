//! Malformed assembly gets an error with its place (file:line:col), the line with a caret,
//! what was expected and what was found, and a suggestion where one is obvious. Nothing
//! panics, whatever the input.

use asm::{assemble, AsmError, Source, Syntax};
use go_model::GoRelease;
use std::collections::HashMap;

fn go(src: &str) -> Result<asm::Program, AsmError> {
    let text = format!("#include \"textflag.h\"\nTEXT ·f(SB), NOSPLIT, $0-0\n{src}\n");
    let files: HashMap<String, String> = [("f.s".to_string(), text)].into();
    assemble(
        &[Source::new("f.s", Syntax::Go, 0x1000)],
        GoRelease::named("1.24").unwrap(),
        &files,
    )
}

fn intel(src: &str) -> Result<asm::Program, AsmError> {
    let files: HashMap<String, String> = [("c.asm".to_string(), format!("{src}\n"))].into();
    assemble(
        &[Source::new("c.asm", Syntax::Intel, 0x1000)],
        GoRelease::named("1.24").unwrap(),
        &files,
    )
}

#[test]
fn three_operands_for_movq() {
    let e = go("\tMOVQ\tAX, BX, CX").unwrap_err();
    assert_eq!(
        e.to_string(),
        "f.s:3:2: MOVQ takes 2 operands, found 3\n    \tMOVQ\tAX, BX, CX\n    ^"
            .replace("\n    \t", "\n        ")
            .replace("MOVQ\tAX", "MOVQ    AX")
            .replace("\n    ^", "\n        ^")
    );
}

#[test]
fn register_names_from_other_assemblers_get_a_suggestion() {
    let e = go("\tMOVQ\tRAX, BX").unwrap_err();
    assert_eq!((e.pos.line, e.pos.col), (3, 7));
    assert_eq!(e.message, "unknown register `RAX`");
    assert_eq!(e.suggestion.as_deref(), Some("did you mean `AX`?"));
    let e = go("\tMOVQ\t8(RSP), BX").unwrap_err();
    assert_eq!(e.message, "unknown register `RSP`");
    assert_eq!(e.suggestion.as_deref(), Some("did you mean `SP`?"));
    assert!(e.to_string().ends_with("help: did you mean `SP`?"), "{e}");
}

#[test]
fn mnemonics_without_a_size_and_unknown_ones() {
    let e = go("\tMOV\tAX, BX").unwrap_err();
    assert_eq!(e.message, "unknown instruction `MOV`");
    assert!(e.suggestion.unwrap().contains("`MOVQ` (64-bit)"));
    assert_eq!(
        go("\tUD2").unwrap_err().suggestion.as_deref(),
        Some("Go's assembler calls it `UNDEF`")
    );
    assert_eq!(
        go("\tFROB\tAX").unwrap_err().message,
        "unknown instruction `FROB`"
    );
}

#[test]
fn operands_that_do_not_parse() {
    let cases = [
        ("\tMOVQ\t$0x, AX", "malformed number `0x`", 8),
        (
            "\tMOVQ\t8(AX)(BX*3), CX",
            "scale must be 1, 2, 4 or 8, found 3",
            16,
        ),
        (
            "\tMOVQ\t0(FP), AX",
            "FP needs an argument name, as in `x+0(FP)`",
            7,
        ),
        (
            "\tMOVQ\tx+0(AX), BX",
            "a symbol may only be used with FP, SP or SB",
            7,
        ),
        (
            "\tMOVQ\t$UNDEFINED, AX",
            "unknown constant `UNDEFINED` (is a #define or #include missing?)",
            8,
        ),
        // `MOVQ 8, AX` reads the absolute address 8, as Go's assembler does (the runtime's
        // `MOVL $0xf1, 0xf1`); an offset followed by anything but `(` is an error.
        (
            "\tMOVQ\t8 AX",
            "expected `(register)` after an offset (immediates start with `$`)",
            7,
        ),
        ("\tJMP\tnowhere", "undefined label `nowhere`", 2),
        ("\tRET\t$8", "RET takes no operands in Go's assembler", 2),
        ("\tADDQ\t$1, $2", "no form of add takes these operands", 2),
    ];
    for (src, message, col) in cases {
        let e = go(src).unwrap_err();
        assert_eq!(e.message, message, "{src}");
        assert_eq!(
            (e.pos.file.as_str(), e.pos.line, e.pos.col),
            ("f.s", 3, col),
            "{src}: {e}"
        );
        assert_eq!(e.source_line, src, "{src}");
    }
}

#[test]
fn code_outside_a_function_and_bad_text_directives() {
    let files: HashMap<String, String> = [("g.s".to_string(), "\tRET\n".to_string())].into();
    let e = assemble(
        &[Source::new("g.s", Syntax::Go, 0)],
        GoRelease::named("1.14").unwrap(),
        &files,
    )
    .unwrap_err();
    assert_eq!(e.message, "code before the first TEXT directive");
    let files: HashMap<String, String> = [("g.s".to_string(), "TEXT f, $0\n".to_string())].into();
    let e = assemble(
        &[Source::new("g.s", Syntax::Go, 0)],
        GoRelease::named("1.14").unwrap(),
        &files,
    )
    .unwrap_err();
    assert!(e.message.starts_with("expected `(`"), "{e}");
    let files: HashMap<String, String> = [(
        "g.s".to_string(),
        "TEXT ·a(SB), $0\n\tRET\nTEXT ·a(SB), $0\n\tRET\n".to_string(),
    )]
    .into();
    let e = assemble(
        &[Source::new("g.s", Syntax::Go, 0)],
        GoRelease::named("1.14").unwrap(),
        &files,
    )
    .unwrap_err();
    assert_eq!(
        (e.message.as_str(), e.pos.line),
        ("`runtime·a` is defined twice", 3)
    );
}

#[test]
fn intel_errors() {
    let e = intel("mov rax, [rbx+rcx*3]").unwrap_err();
    assert_eq!(
        (e.message.as_str(), e.pos.col),
        ("scale must be 1, 2, 4 or 8, found 3", 20)
    );
    assert_eq!(
        intel("frob rax").unwrap_err().message,
        "unknown instruction `frob`"
    );
    assert_eq!(
        intel("mov rax rbx").unwrap_err().message,
        "expected `,` between operands, found `rbx`"
    );
    assert_eq!(
        intel("mov qword [rax], 1").unwrap_err().message,
        "expected `ptr` after the size, found `[`"
    );
    assert_eq!(
        intel("jmp .missing").unwrap_err().message,
        "undefined label `c.asm:.missing`"
    );
    assert_eq!(
        intel("mov eax, rbx").unwrap_err().message,
        "no form of mov takes these operands"
    );
}

/// A quick always-on fuzz: random edits of valid sources never panic; they assemble or
/// give an error with a place inside the file.
#[test]
fn mutated_sources_never_panic() {
    let go_src =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/asm-corpus/syntax.s"))
            .unwrap();
    let intel_src = "cfunc:\n    mov rax, qword ptr fs:[0xfffffffffffffff8]\n    lea rcx, [rip+msg]\n    je .x\n.x:\n    ret\nmsg:\n    db \"hi\", 10\n";
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let alphabet: Vec<char> = "()$,+-*/<>~:;#\"'[]·\\ \n\tAXQ0123456789abcdefMOVQSBFP(SP)(TLS*1)"
        .chars()
        .collect();
    for round in 0..1500 {
        let (base, syntax) = if round % 2 == 0 {
            (go_src.as_str(), Syntax::Go)
        } else {
            (intel_src, Syntax::Intel)
        };
        let mut chars: Vec<char> = base.chars().collect();
        for _ in 0..1 + next() % 8 {
            let i = next() as usize % chars.len().max(1);
            match next() % 3 {
                0 if !chars.is_empty() => {
                    chars.remove(i);
                }
                1 => chars.insert(i, alphabet[next() as usize % alphabet.len()]),
                _ if !chars.is_empty() => chars[i] = alphabet[next() as usize % alphabet.len()],
                _ => {}
            }
        }
        let text: String = chars.into_iter().collect();
        let lines = text.split('\n').count() as u32;
        let files: HashMap<String, String> = [
            ("x.s".to_string(), text.clone()),
            ("local.h".to_string(), "#define LOCALCONST 1\n".to_string()),
        ]
        .into();
        if let Err(e) = assemble(
            &[Source::new("x.s", syntax, 0x40_0000)],
            GoRelease::named("1.14").unwrap(),
            &files,
        ) {
            let _ = e.to_string();
            if e.pos.file == "x.s" {
                assert!(
                    e.pos.line <= lines + 1,
                    "error past the end: {e}\n--- source:\n{text}"
                );
            }
        }
    }
}

/// Found by cargo-fuzz: a mnemonic ending in a non-ASCII character was cut inside that
/// character while looking for a size suffix, and panicked.
#[test]
fn non_ascii_mnemonics_are_unknown_instructions() {
    assert_eq!(
        go("\tMOVΞ\tAX").unwrap_err().message,
        "unknown instruction `MOVΞ`"
    );
    assert_eq!(go("\tΞ").unwrap_err().message, "unknown instruction `Ξ`");
}
