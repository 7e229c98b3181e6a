//! The runtime code the model runs is Go's machine code: every TEXT symbol of the model's
//! runtime (a release's `releases/go1.N/runtime/` over `go-model/runtime/`) that Go's own
//! `runtime/asm_amd64.s` or `sys_linux_amd64.s` also defines must assemble to the bytes that release's
//! `go tool asm` makes of Go's files.
//!
//! - Releases with an installed toolchain (`STACKSWITCH_GOROOTS`) are compared with Go's
//!   assembler run on the release's real `asm_amd64.s` and its real `go_asm.h`.
//! - go1.14 has no toolchain in any registry here. Its expected bytes,
//!   `tests/fixtures/go1.14-runtime-symbols.txt`, come from go1.14's source text (asmcgocall
//!   as the seed's report quotes it, gosave<> as go1.14 has it), assembled by go1.19.8's
//!   `go tool asm` (whose frame rules for these functions are go1.14's) with go1.14's offsets.
//!
//! Bytes the linker fills are compared through what they refer to: a call's or a
//! RIP-relative operand's target symbol (and offset), and g's TLS slot (`fs:[-8]` on
//! linux/amd64, where Go's object file leaves an `R_TLS_LE` of zero).
//!
//! The model's own functions that have a Go name but are modelled steps, not Go's code,
//! are listed in [`MODELLED`] with the reason; every other shared name must match.

use go_model::runtime::{sources, RuntimeLoader};
use go_model::GoRelease;
use stackswitch_tests::toolchains::{self, Toolchain};
use std::collections::BTreeMap;

/// Symbols the model defines under a name Go's asm_amd64.s also uses, whose bodies are the
/// model's steps rather than Go's instructions.
const MODELLED: &[(&str, &str)] = &[
    (
        "runtime·cgocallback",
        "the model's C-to-Go entry does crosscall2's, cgocallback's and cgocallbackg's steps in one function, where Go's cgocallback calls needm and cgocallbackg, which are Go code the model runs as named steps (real executables under `emu run ./prog` run Go's own)",
    ),
    (
        "runtime·sigtramp",
        "the model's signal entry passes the signal's arguments to sigtrampgo on the stack (ABI0); Go's saves the C registers and calls sigtrampgo<ABIInternal>",
    ),
];

/// Go's files whose TEXT symbols the model's must match.
const GO_FILES: &[&str] = &["asm_amd64.s", "sys_linux_amd64.s"];

/// The symbols the lessons run through on the way from Go to C: the comparison must reach
/// each one a release has, or it proves nothing.
const TAUGHT: &[&str] = &[
    "runtime·sigreturn",
    "runtime·sigreturn__sigaction",
    "runtime·asmcgocall",
    "runtime·asmcgocall_landingpad",
    "gosave_systemstack_switch<>",
    "runtime·systemstack_switch",
    "runtime·abort",
    "gosave<>",
];

/// One instruction: its bytes, and the range the linker fills with what it names.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ins {
    bytes: Vec<u8>,
    reloc: Option<(usize, usize, String)>,
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

fn show(code: &[Ins]) -> String {
    code.iter()
        .map(|i| {
            let h: String = i.bytes.iter().map(|b| format!("{b:02x}")).collect();
            match &i.reloc {
                Some((a, b, t)) => format!("{h}[{a}:{b}:{t}]"),
                None => h,
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `runtime.abort` → `runtime·abort`, `gosave<1>` → `gosave<>`, `main.f` stays.
fn our_name(go: &str) -> String {
    let n = go.replacen("runtime.", "runtime·", 1);
    match n.find('<') {
        Some(i) => format!("{}<>", &n[..i]),
        None => n,
    }
}

/// Parses `go tool objdump` output (or the go1.14 fixture, which has its form) into
/// symbol → instructions. The target of `[1:5]R_CALL:runtime.abort` becomes
/// `runtime·abort`; `R_PCREL:runtime.systemstack_switch+8` keeps its offset; `R_TLS_LE`
/// becomes `TLS`; a zero-width `R_CALLIND` is no relocation.
fn parse_objdump(text: &str) -> BTreeMap<String, Vec<Ins>> {
    let mut out: BTreeMap<String, Vec<Ins>> = BTreeMap::new();
    let mut current = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("TEXT ") {
            let name = our_name(rest.split("(SB)").next().unwrap_or(rest).trim());
            out.entry(name.clone()).or_default();
            current = Some(name);
            continue;
        }
        let Some(name) = &current else { continue };
        let fields: Vec<&str> = line.trim().split('\t').filter(|f| !f.is_empty()).collect();
        if fields.len() < 3 || !fields[0].contains(':') {
            continue;
        }
        let bytes = hex(fields[2]);
        let mut reloc = None;
        if let Some(r) = fields.iter().find(|f| f.starts_with('[')) {
            let (range, kind) = r[1..].split_once(']').expect("[a:b]KIND");
            let (a, b) = range.split_once(':').expect("a:b");
            let (a, b): (usize, usize) = (a.parse().unwrap(), b.parse().unwrap());
            if a != b {
                let target = match kind.split_once(':') {
                    Some((_, t)) => our_name(t),
                    None if kind == "R_TLS_LE" => "TLS".to_string(),
                    None => kind.to_string(),
                };
                reloc = Some((a, b, target));
            }
        }
        out.get_mut(name).unwrap().push(Ins { bytes, reloc });
    }
    out
}

/// The model's runtime for `release`, assembled as worlds assemble it, as symbol →
/// instructions, with each call's and RIP-relative operand's bytes named by their target
/// as Go's object file names them.
fn model_runtime(release: GoRelease) -> BTreeMap<String, Vec<Ins>> {
    let empty = std::collections::HashMap::<String, String>::new();
    let user = |p: &str| empty.get(p).cloned();
    let loader = RuntimeLoader {
        release,
        user: &user,
    };
    let files: Vec<asm::Source> = sources()
        .iter()
        .enumerate()
        .map(|(i, (path, syntax))| asm::Source::new(path, *syntax, 0x10_0000 * (i as u64 + 1)))
        .collect();
    let program = asm::assemble_listing(&files, release, &loader)
        .unwrap_or_else(|e| panic!("the go{release} runtime does not assemble:\n{e}"));
    let name_at = |addr: u64| -> String {
        let sym = program
            .symbols
            .iter()
            .filter(|s| s.addr <= addr)
            .max_by_key(|s| s.addr)
            .expect("a symbol below");
        if sym.addr == addr {
            sym.name.clone()
        } else {
            format!("{}+{}", sym.name, addr - sym.addr)
        }
    };
    let mut out = BTreeMap::new();
    for sym in &program.symbols {
        let mut code = Vec::new();
        for l in program
            .instructions
            .iter()
            .filter(|l| l.addr >= sym.addr && l.addr < sym.addr + sym.size)
        {
            let mut ins = Ins {
                bytes: l.bytes.clone(),
                reloc: None,
            };
            let mut d = iced_x86::Decoder::with_ip(64, &l.bytes, l.addr, 0);
            let i = d.decode();
            // Go's `MOVQ g(CX), r` is `mov r, fs:[-8]`: the linker fills in g's slot.
            let tls = i.segment_prefix() == iced_x86::Register::FS
                && i.memory_base() == iced_x86::Register::None
                && i.memory_displacement64() as i64 == -8;
            if tls {
                let at = l.bytes.len() - 4 - imm_len(&i);
                ins.reloc = Some((at, at + 4, "TLS".into()));
            } else if i.is_call_near() || i.is_jmp_near() {
                let at = l.bytes.len() - 4;
                let target = i.near_branch_target();
                let leaves = target < sym.addr || target >= sym.addr + sym.size;
                if i.is_call_near() || leaves {
                    ins.reloc = Some((at, at + 4, name_at(target)));
                }
            } else if i.is_ip_rel_memory_operand() {
                let at = l.bytes.len() - 4 - imm_len(&i);
                ins.reloc = Some((at, at + 4, name_at(i.ip_rel_memory_address())));
            }
            code.push(ins);
        }
        out.insert(sym.name.clone(), code);
    }
    out
}

/// Bytes of an instruction's immediate, which follow its displacement.
fn imm_len(i: &iced_x86::Instruction) -> usize {
    use iced_x86::OpKind::*;
    (0..i.op_count())
        .map(|n| match i.op_kind(n) {
            Immediate8 | Immediate8to16 | Immediate8to32 | Immediate8to64 => 1,
            Immediate16 => 2,
            Immediate32 | Immediate32to64 => 4,
            Immediate64 => 8,
            _ => 0,
        })
        .sum()
}

/// A function's bytes with the linker's ranges zeroed, and those ranges (from the
/// function's start) with what they name. Compared as one run of bytes, since a `BYTE`
/// directive is an item of its own in our listing and part of an instruction in Go's.
fn masked(code: &[Ins]) -> (Vec<u8>, Vec<(usize, usize, String)>) {
    let mut bytes = Vec::new();
    let mut relocs = Vec::new();
    for i in code {
        let at = bytes.len();
        bytes.extend(&i.bytes);
        if let Some((a, b, t)) = &i.reloc {
            bytes[at + a..at + b].fill(0);
            relocs.push((at + a, at + b, t.clone()));
        }
    }
    (bytes, relocs)
}

/// Compares every symbol the model and Go share; returns the names compared.
fn compare(
    what: &str,
    model: &BTreeMap<String, Vec<Ins>>,
    go: &BTreeMap<String, Vec<Ins>>,
) -> Vec<String> {
    let mut compared = Vec::new();
    let mut wrong = Vec::new();
    for (name, ours) in model {
        let Some(theirs) = go.get(name) else { continue };
        if MODELLED.iter().any(|(n, _)| n == name) {
            continue;
        }
        compared.push(name.clone());
        if masked(ours) != masked(theirs) {
            wrong.push(format!(
                "{name}:\n  Go:    {}\n  model: {}",
                show(theirs),
                show(ours)
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{what}: the model's runtime is not Go's machine code:\n{}",
        wrong.join("\n")
    );
    compared
}

/// Go's own bytes for the runtime files of [`GO_FILES`], with their real headers and
/// go_asm.h, assembled with the flags `go build` gives the runtime's assembly.
fn go_runtime(tc: &Toolchain) -> BTreeMap<String, Vec<Ins>> {
    let flags = stackswitch_tests::goasm::asm_flags(tc, "runtime");
    let mut all = BTreeMap::new();
    for file in GO_FILES {
        all.extend(go_file(tc, file, &flags));
    }
    all
}

/// Go's own bytes for one of its `runtime/` files.
fn go_file(tc: &Toolchain, file: &str, flags: &[String]) -> BTreeMap<String, Vec<Ins>> {
    let dir = std::env::temp_dir().join(format!(
        "stackswitch-runtime-symbols-{}-{}-{file}",
        tc.version,
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("go_asm.h"), tc.go_asm_h_text()).unwrap();
    let src = tc.root.join("src/runtime");
    let obj = dir.join("asm.o");
    let mut asm = tc.go();
    asm.args(["tool", "asm"]).args(flags);
    let out = asm
        .args(["-p", "runtime", "-I"])
        .arg(&dir)
        .arg("-I")
        .arg(&src)
        .arg("-o")
        .arg(&obj)
        .arg(src.join(file))
        .output()
        .expect("go tool asm runs");
    assert!(
        out.status.success(),
        "{}: go tool asm: {}",
        tc.version,
        String::from_utf8_lossy(&out.stderr)
    );
    let dump = tc
        .go()
        .args(["tool", "objdump"])
        .arg(&obj)
        .output()
        .expect("go tool objdump runs");
    assert!(dump.status.success());
    let _ = std::fs::remove_dir_all(&dir);
    parse_objdump(&String::from_utf8_lossy(&dump.stdout))
}

#[test]
fn the_model_runs_gos_machine_code_for_every_release_with_a_toolchain() {
    let mut releases = 0;
    for tc in toolchains::required("the runtime's machine code") {
        let Some(release) = GoRelease::named(&tc.minor) else {
            continue;
        };
        releases += 1;
        let model = model_runtime(release);
        let compared = compare(&tc.version, &model, &go_runtime(&tc));
        for name in TAUGHT {
            assert!(
                !model.contains_key(*name) || compared.iter().any(|c| c == name),
                "{}: {name} is in the model but Go's asm_amd64.s has no such symbol",
                tc.version
            );
        }
        assert!(
            compared.len() >= 5,
            "{}: only {compared:?} compared",
            tc.version
        );
        eprintln!(
            "{}: {} symbols identical: {compared:?}",
            tc.version,
            compared.len()
        );
    }
    if !toolchains::toolchains().is_empty() {
        assert!(
            releases > 0,
            "no installed toolchain is a release the model has"
        );
    }
}

#[test]
fn go1_14_runs_go1_14s_machine_code_as_its_source_gives_it() {
    let fixture = include_str!("../fixtures/go1.14-runtime-symbols.txt");
    let go = parse_objdump(fixture);
    assert!(go.len() >= 2, "the go1.14 fixture lost its symbols");
    let model = model_runtime(GoRelease::named("1.14").unwrap());
    let compared = compare("go1.14", &model, &go);
    assert_eq!(compared, ["gosave<>", "runtime·asmcgocall"]);
}

#[test]
fn the_comparison_sees_a_changed_byte() {
    // A comparison that could not fail would prove nothing: one changed displacement must
    // be reported.
    let fixture = include_str!("../fixtures/go1.14-runtime-symbols.txt");
    let mut go = parse_objdump(fixture);
    let save = go.get_mut("gosave<>").unwrap();
    save[2].bytes[3] ^= 0x08;
    let model = model_runtime(GoRelease::named("1.14").unwrap());
    let r = std::panic::catch_unwind(|| compare("go1.14", &model, &go));
    assert!(r.is_err());
}
