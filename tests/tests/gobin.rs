//! `gobin` against the real toolchains: for a hello world and a static cgo program built by
//! each installed Go release, every name, address, file:line, inlined frame and runtime
//! struct offset that gobin reads from the binary must be the one Go's own tools give
//! (`go tool nm`, `go tool objdump`, the compiler's `go_asm.h`, `go version`).
//!
//! The programs are built once per toolchain into the temp folder and reused while their
//! source is unchanged.

use gobin::{Binary, Error};
use stackswitch_tests::toolchains::{self, Toolchain};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The Go both programs share, from line 7 on: `push` is small enough for the inliner and
/// its `append` calls `runtime.growslice`, so `work` holds code of `push` inlined at the
/// call on line 15.
macro_rules! shared_go {
    () => {
        r#"// push is inlined into work.
func push(v int) {
	sink = append(sink, v*3)
}

//go:noinline
func work(n int) int {
	n++
	push(n)
	return len(sink) + twice(n)
}
"#
    };
}
/// Where `push`'s body and its call in `work` are in both programs.
const PUSH_BODY_LINE: i32 = 9;
const PUSH_CALL_LINE: i32 = 15;

/// A hello world through fmt, internally linked.
const HELLO: &str = concat!(
    "package main\n\nimport \"fmt\"\n\nvar sink []int\n\n",
    shared_go!(),
    r#"
//go:noinline
func twice(n int) int { return 2 * n }

func main() {
	fmt.Println("hello", work(40))
}
"#
);

/// The same functions at the same lines, calling C that gcc links in statically.
const CGO: &str = concat!(
    "package main\n\n// #include <stdio.h>\n",
    "// static int twice(int x) { fflush(stdout); return 2 * x; }\n",
    "import \"C\"\nvar sink []int\n",
    shared_go!(),
    r#"
//go:noinline
func twice(n int) int { return int(C.twice(C.int(n))) }

func main() {
	println("hello", work(40))
}
"#
);

/// One program built by one toolchain.
struct Program {
    /// `hello` or `cgo`.
    kind: &'static str,
    path: PathBuf,
    bytes: Vec<u8>,
}

struct Built {
    toolchain: Toolchain,
    programs: Vec<Program>,
}

/// Builds (or reuses) both programs with every installed toolchain.
fn built() -> &'static [Built] {
    static BUILT: OnceLock<Vec<Built>> = OnceLock::new();
    BUILT.get_or_init(|| {
        toolchains::required("gobin against go tool nm, objdump and go_asm.h")
            .into_iter()
            .map(|toolchain| {
                let programs = [("hello", HELLO, false), ("cgo", CGO, true)]
                    .into_iter()
                    .map(|(kind, source, cgo)| {
                        let path = build(&toolchain, kind, source, cgo, &[]);
                        let bytes = std::fs::read(&path).expect("the built program");
                        Program { kind, path, bytes }
                    })
                    .collect();
                Built {
                    toolchain,
                    programs,
                }
            })
            .collect()
    })
}

/// `go build` of `source` into `$TMP/stackswitch-gobin/<version>/<name>`, skipped when
/// the binary is there and was built from the same source and flags.
fn build(tc: &Toolchain, name: &str, source: &str, cgo: bool, ldflags: &[&str]) -> PathBuf {
    let dir = std::env::temp_dir()
        .join("stackswitch-gobin")
        .join(&tc.version)
        .join(name);
    std::fs::create_dir_all(&dir).expect("a build folder");
    let mut flags: Vec<String> = ldflags.iter().map(|s| s.to_string()).collect();
    if cgo {
        // A static external link: gcc links glibc in, as the course's cgo binaries are.
        flags.push("-linkmode=external".into());
        flags.push("-extldflags=-static".into());
    }
    let ldflags = flags.join(" ");
    let stamp = format!("{source}\n// ldflags: {ldflags}\n");
    let (main, out) = (dir.join("main.go"), dir.join("prog"));
    if out.exists() && std::fs::read_to_string(&main).ok().as_deref() == Some(stamp.as_str()) {
        return out;
    }
    std::fs::write(&main, &stamp).expect("the source");
    let result = tc
        .go()
        .current_dir(&dir)
        .env("CGO_ENABLED", if cgo { "1" } else { "0" })
        .args([
            "build",
            "-o",
            "prog",
            &format!("-ldflags={ldflags}"),
            "main.go",
        ])
        .output()
        .expect("go runs");
    assert!(
        result.status.success(),
        "{}: go build {name}: {}",
        tc.version,
        String::from_utf8_lossy(&result.stderr)
    );
    out
}

/// `go tool <args…> <binary>`'s output.
fn go_tool(tc: &Toolchain, args: &[&str], binary: &Path) -> String {
    let out = tc
        .go()
        .arg("tool")
        .args(args)
        .arg(binary)
        .output()
        .expect("go tool runs");
    assert!(
        out.status.success(),
        "{}: go tool {args:?}: {}",
        tc.version,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `go tool nm`'s code symbols (`T` and `t`): name → addresses.
fn nm_code_symbols(tc: &Toolchain, binary: &Path) -> BTreeMap<String, Vec<u64>> {
    let mut found: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for line in go_tool(tc, &["nm"], binary).lines() {
        let mut w = line.split_whitespace();
        let (Some(address), Some(kind)) = (w.next(), w.next()) else {
            continue;
        };
        if kind != "T" && kind != "t" {
            continue;
        }
        let name = w.collect::<Vec<_>>().join(" ");
        let address = u64::from_str_radix(address, 16).expect("nm prints hex addresses");
        found.entry(name).or_default().push(address);
    }
    found
}

/// `go tool objdump -s regex`'s instructions: pc → (file base name, line).
fn objdump_lines(tc: &Toolchain, regex: &str, binary: &Path) -> BTreeMap<u64, (String, i32)> {
    let mut found = BTreeMap::new();
    for line in go_tool(tc, &["objdump", "-s", regex], binary).lines() {
        let mut w = line.split_whitespace();
        let (Some(position), Some(pc)) = (w.next(), w.next()) else {
            continue;
        };
        let (Some(pc), Some((file, line))) = (pc.strip_prefix("0x"), position.rsplit_once(':'))
        else {
            continue;
        };
        let (Ok(pc), Ok(line)) = (u64::from_str_radix(pc, 16), line.parse()) else {
            continue;
        };
        found.insert(pc, (file.to_string(), line));
    }
    found
}

/// `type..eq.[5]internal/cpu.option` as Go 1.18–1.19 write it into the pclntab, with
/// array lengths as `[...]` (cmd/link/internal/ld/pcln.go, the function name table).
fn elide_array_lengths(name: &str) -> String {
    let mut out = String::new();
    let mut rest = name;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find(']') {
            Some(close) if close > 0 && after[..close].bytes().all(|b| b.is_ascii_digit()) => {
                out.push_str("[...]");
                rest = &after[close + 1..];
            }
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn parse(tc: &Toolchain, p: &Program) -> Binary {
    Binary::parse(&p.bytes).unwrap_or_else(|e| panic!("{} {}: {e}", tc.version, p.path.display()))
}

#[test]
fn the_go_version_is_the_toolchains() {
    for b in built() {
        for p in &b.programs {
            let bin = parse(&b.toolchain, p);
            assert_eq!(
                bin.go_version(),
                Some(b.toolchain.version.as_str()),
                "{}",
                p.kind
            );
            let expected = if b.toolchain.minor.as_str() < "1.20" {
                gobin::PclnFormat::Go118
            } else {
                gobin::PclnFormat::Go120
            };
            assert_eq!(
                bin.pclntab_format(),
                expected,
                "{} {}",
                b.toolchain.version,
                p.kind
            );
        }
    }
}

/// The `_func` records' flags and start lines are the ones the runtime's sources declare:
/// `goexit` and `mstart` are TOPFRAME, `systemstack` and `mcall` are assembly that writes
/// SP, `gogo` leaves that to `gogo<>` (runtime/asm_amd64.s), and from Go 1.20 on each
/// function's start line is its `TEXT` line in that file (or `work`'s `func` line).
#[test]
fn function_flags_and_start_lines() {
    for b in built() {
        let tc = &b.toolchain;
        let asm = std::fs::read_to_string(tc.root.join("src/runtime/asm_amd64.s"))
            .expect("the toolchain's asm_amd64.s");
        let text_line = |name: &str| {
            // `TEXT runtime·mcall<ABIInternal>(SB)` names its ABI before `(SB)`.
            let directive = format!("TEXT runtime·{name}");
            let at = asm.lines().position(|l| {
                l.strip_prefix(&directive).is_some_and(|rest| {
                    rest.starts_with("(SB)") || rest.starts_with("<ABIInternal>(SB)")
                })
            });
            at.map(|i| i as i32 + 1)
                .unwrap_or_else(|| panic!("{}: no {directive}", tc.version))
        };
        let records_start_lines = tc.minor.as_str() >= "1.20";
        for p in &b.programs {
            let bin = parse(tc, p);
            let named = |n: &str| {
                bin.function_named(n)
                    .unwrap_or_else(|| panic!("{} {}: no {n}", tc.version, p.kind))
                    .clone()
            };
            for (name, top_frame, sp_write) in [
                ("goexit", true, false),
                ("mstart", true, false),
                ("systemstack", false, true),
                ("mcall", false, true),
                ("gogo", false, false),
            ] {
                let f = named(&format!("runtime.{name}"));
                let want = gobin::FuncFlags {
                    top_frame,
                    sp_write,
                    asm: true,
                };
                assert_eq!(f.flags, want, "{} {}: {name}", tc.version, p.kind);
                assert_ne!(
                    f.func_id, 0,
                    "{name} is one of the runtime's special functions"
                );
                let expected = records_start_lines.then(|| text_line(name));
                assert_eq!(f.start_line, expected, "{} {name}", tc.version);
            }
            let work = named("main.work");
            assert_eq!(work.flags, gobin::FuncFlags::default());
            assert_eq!(work.func_id, 0);
            assert_eq!(
                work.start_line,
                records_start_lines.then_some(13),
                "{}",
                tc.version
            );
        }
    }
}

/// Every code symbol `go tool nm` lists has its address through `Binary::symbol`, and
/// every pclntab function starts where nm puts a symbol of its name (the linker's
/// `.abi0` suffix aside, which the pclntab does not keep).
#[test]
fn every_nm_code_symbol_has_its_address() {
    for b in built() {
        for p in &b.programs {
            let tc = &b.toolchain;
            let bin = parse(tc, p);
            let nm = nm_code_symbols(tc, &p.path);
            let mut compared = 0;
            for (name, addresses) in &nm {
                // Static C functions of the same name in several objects: nm's order is
                // not gobin's, so only names nm lists once are compared.
                if let [address] = addresses[..] {
                    assert_eq!(
                        bin.symbol(name),
                        Some(address),
                        "{} {}: {name}",
                        tc.version,
                        p.kind
                    );
                    compared += 1;
                }
            }
            let mut by_address: HashMap<u64, Vec<&str>> = HashMap::new();
            for (name, addresses) in &nm {
                for a in addresses {
                    by_address.entry(*a).or_default().push(name);
                }
            }
            for f in bin.functions() {
                let names = by_address.get(&f.entry).cloned().unwrap_or_default();
                // The ELF names write the pclntab's middle dot (`untracedG·4`) as `.`.
                let pcln_name = f.name.replace('·', ".");
                assert!(
                    names.iter().any(|n| {
                        let n = n.strip_suffix(".abi0").unwrap_or(n);
                        n == pcln_name || elide_array_lengths(n) == pcln_name
                    }),
                    "{} {}: pclntab has {} at {:#x}, nm has {names:?} there",
                    tc.version,
                    p.kind,
                    f.name,
                    f.entry
                );
            }
            eprintln!(
                "{} {}: {compared} nm symbols, {} pclntab functions",
                tc.version,
                p.kind,
                bin.functions().len()
            );
            assert!(
                compared > 1000,
                "{} {}: only {compared} symbols",
                tc.version,
                p.kind
            );
            assert!(bin.functions().len() > 1000);
            if p.kind == "cgo" {
                // glibc's code is not Go's: it is named through .symtab only.
                let write = bin.symbol("__libc_write").or_else(|| bin.symbol("write"));
                let write = write.expect("static glibc has write");
                assert!(bin.function_at(write).is_none());
                assert!(matches!(bin.location(write), Err(Error::NoFunction(_))));
                let sym = bin.elf_symbol_at(write + 1).expect("a C function holds it");
                assert_eq!(sym.address, write);
                assert_eq!(bin.name_of(write + 1).map(|(_, off)| off), Some(1));
            }
            // Data is named too: a register holding &m0.g0 reads as runtime.m0+0.
            let m0 = bin.symbol("runtime.m0").expect("runtime.m0");
            assert_eq!(bin.name_of(m0 + 8), Some(("runtime.m0", 8)));
            let mstart = bin
                .function_named("runtime.mstart")
                .expect("runtime.mstart");
            assert_eq!(bin.name_of(mstart.entry + 1), Some(("runtime.mstart", 1)));
        }
    }
}

/// The functions the machine's stacks name most, and the programs' own.
const OBJDUMP_FUNCTIONS: &str = "^(main\\.|runtime\\.(gogo|mcall|asmcgocall|cgocall|newproc|newproc1|schedule|mstart|mstart0|mstart1|systemstack|morestack|goexit1|gopark|park_m)(\\.abi0)?$)";

/// file:line of every instruction `go tool objdump` prints for those functions.
#[test]
fn file_and_line_match_go_tool_objdump() {
    for b in built() {
        for p in &b.programs {
            let tc = &b.toolchain;
            let bin = parse(tc, p);
            let expected = objdump_lines(tc, OBJDUMP_FUNCTIONS, &p.path);
            let mut wrong = Vec::new();
            for (&pc, (file, line)) in &expected {
                match bin.location(pc) {
                    Ok(l) if base_name(&l.file) == file && l.line == *line => {}
                    Ok(l) => wrong.push(format!(
                        "{pc:#x} in {}: gobin {}:{}, objdump {file}:{line}",
                        l.function.name, l.file, l.line
                    )),
                    Err(e) => wrong.push(format!("{pc:#x}: {e}, objdump {file}:{line}")),
                }
            }
            assert!(
                wrong.is_empty(),
                "{} {}: {} of {} wrong:\n{}",
                tc.version,
                p.kind,
                wrong.len(),
                expected.len(),
                wrong[..wrong.len().min(20)].join("\n")
            );
            eprintln!("{} {}: {} pcs", tc.version, p.kind, expected.len());
            assert!(expected.len() > 300, "only {} pcs", expected.len());
        }
    }
}

/// At the instructions of `push` inlined into `work`, the frames are push (at its body's
/// line) then work (at the call), and those are exactly the instructions objdump puts on
/// push's line; the SP delta there is work's frame, as at its other body instructions.
#[test]
fn inlined_push_shows_both_frames() {
    for b in built() {
        for p in &b.programs {
            let tc = &b.toolchain;
            let bin = parse(tc, p);
            let work = bin.function_named("main.work").expect("main.work").clone();
            let objdump = objdump_lines(tc, "^main\\.work$", &p.path);
            let mut inlined_pcs = 0;
            for (&pc, (_, line)) in &objdump {
                let l = bin.location(pc).expect("a location in main.work");
                assert_eq!(l.function.name, "main.work");
                let names: Vec<&str> = l.frames.iter().map(|f| f.name.as_str()).collect();
                if *line == PUSH_BODY_LINE {
                    inlined_pcs += 1;
                    assert_eq!(
                        names,
                        ["main.push", "main.work"],
                        "{} {} at {pc:#x}",
                        tc.version,
                        p.kind
                    );
                    assert_eq!(l.frames[0].line, PUSH_BODY_LINE);
                    assert!(l.frames[0].inlined && !l.frames[1].inlined);
                    assert_eq!(l.frames[1].line, PUSH_CALL_LINE);
                    assert_eq!(base_name(&l.frames[1].file), "main.go");
                    assert_eq!(l.inlined().len(), 1);
                } else {
                    assert_eq!(
                        names,
                        ["main.work"],
                        "{} {} at {pc:#x} (line {line})",
                        tc.version,
                        p.kind
                    );
                    assert_eq!(l.frames[0].line, *line);
                }
            }
            assert!(
                inlined_pcs > 0,
                "{} {}: no instruction of push in work",
                tc.version,
                p.kind
            );
            let at_entry = bin.location(work.entry).expect("work's entry");
            assert_eq!(at_entry.sp_delta, 0, "SP is at the return address on entry");
        }
    }
}

/// The runtime structures' names the go-model compares: each `go_asm.h` define of these
/// types is the offset (or `__size`) gobin reads from the DWARF, and the DWARF has no named
/// field that `go_asm.h` lacks.
#[test]
fn dwarf_layouts_match_go_asm_h() {
    let types = ["g", "m", "p", "gobuf", "stack", "sigcontext", "ucontext"];
    for b in built() {
        let tc = &b.toolchain;
        let asm = tc.go_asm_h();
        for p in &b.programs {
            let bin = parse(tc, p);
            let mut compared = 0;
            let names: Vec<String> = types.iter().map(|t| format!("runtime.{t}")).collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let layouts = bin.struct_layouts(&names).expect("the DWARF reads");
            for ty in types {
                let full = format!("runtime.{ty}");
                let Some(layout) = layouts.iter().find(|l| l.name == full).cloned() else {
                    // The linker writes only the types some variable has: the signal
                    // frame's are reached through unsafe.Pointer conversions only.
                    assert!(
                        ty == "sigcontext" || ty == "ucontext",
                        "{} {}: no {full}",
                        tc.version,
                        p.kind
                    );
                    assert_eq!(bin.struct_layout(&full), Err(Error::NoType(full)));
                    continue;
                };
                assert_eq!(bin.struct_layout(&full).as_ref(), Ok(&layout));
                let ours: BTreeMap<String, u64> = layout.asm_names().into_iter().collect();
                let prefix = format!("{ty}_");
                for (name, value) in asm.iter().filter(|(n, _)| n.starts_with(&prefix)) {
                    assert_eq!(
                        ours.get(name).map(|&v| v as i64),
                        Some(*value),
                        "{} {}: {name}",
                        tc.version,
                        p.kind
                    );
                    compared += 1;
                }
                for name in ours.keys() {
                    assert!(
                        asm.contains_key(name),
                        "{} {}: {name} not in go_asm.h",
                        tc.version,
                        p.kind
                    );
                }
                let sched = layout.field("sched");
                if ty == "g" {
                    let sched = sched.expect("g.sched");
                    assert_eq!(sched.type_name, "runtime.gobuf");
                    assert_eq!(
                        Some(sched.size),
                        Some(bin.struct_layout("runtime.gobuf").ok().map(|l| l.size))
                    );
                }
            }
            eprintln!("{} {}: {compared} go_asm.h offsets", tc.version, p.kind);
            assert!(compared > 100, "{} {}: only {compared}", tc.version, p.kind);
        }
    }
}

/// `-ldflags=-w` leaves no DWARF: the layouts say so, the pclntab still reads; `-s -w`
/// leaves no `.symtab` either: functions are still found by their pclntab names.
#[test]
fn without_dwarf_or_symbols() {
    let Some(b) = built().first() else { return };
    let tc = &b.toolchain;
    let no_dwarf = std::fs::read(build(tc, "hello-w", HELLO, false, &["-w"])).expect("built");
    let bin = Binary::parse(&no_dwarf).expect("parses without DWARF");
    assert_eq!(bin.struct_layout("runtime.g"), Err(Error::NoDwarf));
    let work = bin.function_named("main.work").expect("main.work").entry;
    assert_eq!(
        bin.location(work).expect("a location").function.name,
        "main.work"
    );

    let stripped =
        std::fs::read(build(tc, "hello-sw", HELLO, false, &["-s", "-w"])).expect("built");
    let bin = Binary::parse(&stripped).expect("parses stripped");
    assert!(bin.elf_symbols().is_empty());
    let body = bin
        .function_named("runtime.asmcgocall")
        .expect("asmcgocall");
    assert_eq!(bin.symbol("runtime.asmcgocall.abi0"), Some(body.entry));
    assert_eq!(
        bin.location(body.entry).expect("a location").function.name,
        "runtime.asmcgocall"
    );
    assert_eq!(bin.go_version(), Some(tc.version.as_str()));
}

/// A truncated or damaged binary gives an error or a smaller answer, never a panic.
#[test]
fn damaged_binaries_give_errors() {
    let Some(b) = built().first() else { return };
    let bytes = &b.programs[0].bytes;
    for cut in [
        0,
        3,
        64,
        1000,
        bytes.len() / 3,
        bytes.len() / 2,
        bytes.len() - 1,
    ] {
        if let Ok(bin) = Binary::parse(&bytes[..cut]) {
            let _ = bin.struct_layout("runtime.g");
        }
    }
    assert!(matches!(Binary::parse(&bytes[..64]), Err(Error::Elf(_))));
    assert!(matches!(
        Binary::parse(b"not an elf at all"),
        Err(Error::Elf(_))
    ));
    // Damage spread through the file: every question is answered or refused.
    let mut damaged = bytes.clone();
    for at in (4096..damaged.len()).step_by(997) {
        damaged[at] ^= 0x5a;
    }
    if let Ok(bin) = Binary::parse(&damaged) {
        for f in bin.functions().iter().step_by(7) {
            let _ = bin.location(f.entry + 1);
        }
        let _ = bin.struct_layout("runtime.m");
    }
}
