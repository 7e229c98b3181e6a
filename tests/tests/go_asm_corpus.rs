//! The Go-syntax assembler against Go's own: every `tests/asm-corpus/*.s` is assembled by
//! Go's toolchain (`go tool asm`, Go 1.19 from Debian's golang-go, which `./test.sh`
//! installs) and by emu, and the bytes are compared function by function and line by line.
//!
//! Go's object file leaves some fields to its linker; the comparison applies what the
//! linker does:
//! - `R_TLS_LE` (g's TLS slot): on linux/amd64 the linker writes -8 (`fs:[-8]`);
//! - `R_CALL` and `R_PCREL` (calls and RIP-relative symbol references): the displacement
//!   depends on where the linker puts the target, so those 4 bytes are compared through the
//!   target symbol instead (emu's displacement must reach the symbol Go names).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const BASE: u64 = 0x1000;

fn go_binary() -> PathBuf {
    for candidate in ["go", "/usr/lib/go/bin/go", "/usr/lib/go-1.19/bin/go"] {
        if Command::new(candidate)
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return PathBuf::from(candidate);
        }
    }
    panic!("Go's toolchain is needed for this test: `apt-get install golang-go` (./test.sh installs it)");
}

/// One function of Go's object file: (line, bytes with relocations applied, masked ranges
/// and their target symbols) per instruction, in order.
#[derive(Debug, Default)]
struct GoFunction {
    lines: Vec<GoInstruction>,
}

/// A source line, its bytes (relocations applied) and its relocated ranges with targets.
type GoInstruction = (u32, Vec<u8>, Vec<(usize, usize, String)>);

fn parse_hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// `runtime.name` → `runtime·name`, `name<1>` → `name<>`.
fn emu_name(go: &str) -> String {
    let n = go.replacen("runtime.", "runtime·", 1);
    match n.find('<') {
        Some(i) => format!("{}<>", &n[..i]),
        None => n,
    }
}

fn go_objdump(go: &Path, dir: &Path, file: &Path, include: &Path) -> BTreeMap<String, GoFunction> {
    let obj = include.join("out.o");
    let goroot = String::from_utf8(
        Command::new(go)
            .args(["env", "GOROOT"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let out = Command::new(go)
        .current_dir(dir)
        .args(["tool", "asm", "-p", "runtime", "-I"])
        .arg(include)
        .arg("-I")
        .arg(Path::new(goroot.trim()).join("pkg/include"))
        .arg("-o")
        .arg(&obj)
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "go tool asm failed on {}:\n{}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let dump = Command::new(go)
        .args(["tool", "objdump"])
        .arg(&obj)
        .output()
        .unwrap();
    assert!(dump.status.success());
    let mut funcs: BTreeMap<String, GoFunction> = BTreeMap::new();
    let mut current = String::new();
    for line in String::from_utf8(dump.stdout).unwrap().lines() {
        if let Some(rest) = line.strip_prefix("TEXT ") {
            current = emu_name(rest.split("(SB)").next().unwrap());
            funcs.entry(current.clone()).or_default();
            continue;
        }
        let fields: Vec<&str> = line.trim().split('\t').filter(|f| !f.is_empty()).collect();
        if fields.len() < 3 {
            continue;
        }
        let line_no: u32 = fields[0].rsplit(':').next().unwrap().parse().unwrap();
        let mut bytes = parse_hex(fields[2]);
        let mut masked = Vec::new();
        if let Some(reloc) = fields.iter().find(|f| f.starts_with('[')) {
            // `[5:9]R_TLS_LE`, `[1:5]R_CALL:runtime.other`
            let (range, kind) = reloc[1..].split_once(']').unwrap();
            let (a, b) = range.split_once(':').unwrap();
            let (a, b): (usize, usize) = (a.parse().unwrap(), b.parse().unwrap());
            if a == b {
                // `R_CALLIND` marks an indirect call; it changes no byte.
            } else if kind == "R_TLS_LE" {
                bytes[a..b].copy_from_slice(&(-8i32).to_le_bytes());
            } else {
                let target = kind
                    .split_once(':')
                    .map(|(_, t)| emu_name(t))
                    .unwrap_or_default();
                masked.push((a, b, target));
            }
        }
        funcs
            .get_mut(&current)
            .unwrap()
            .lines
            .push((line_no, bytes, masked));
    }
    funcs
}

#[test]
fn corpus_assembles_byte_identical_to_go() {
    let go = go_binary();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("asm-corpus");
    let include = std::env::temp_dir().join(format!("stackswitch-asm-{}", std::process::id()));
    std::fs::create_dir_all(&include).unwrap();
    // Go reads the same headers emu has built in, so both assemble the same text.
    let release = go_model::GoRelease::named("1.24").unwrap();
    for (name, text) in asm::go::builtin_headers(&release.go_asm_h()) {
        std::fs::write(include.join(name), text).unwrap();
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "s"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "the corpus is missing");
    let mut failures = Vec::new();
    let mut compared = 0;
    for file in &files {
        let go_funcs = go_objdump(&go, &dir, file, &include);
        let path = file.to_string_lossy().to_string();
        let loader = |p: &str| std::fs::read_to_string(p).ok();
        let program = asm::assemble_listing(
            &[asm::Source::new(&path, asm::Syntax::Go, BASE)],
            release,
            &loader,
        )
        .unwrap_or_else(|e| panic!("emu could not assemble {path}:\n{e}"));
        for (name, gf) in &go_funcs {
            let Some(sym) = program.symbols.iter().find(|s| &s.name == name) else {
                failures.push(format!("{path}: emu has no function {name}"));
                continue;
            };
            let ours: Vec<&asm::Listed> = program
                .instructions
                .iter()
                .filter(|l| l.addr >= sym.addr && l.addr < sym.addr + sym.size)
                .collect();
            // Compare per source line: Go decodes data directives as instructions, so group
            // both sides by line.
            let mut go_by_line: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
            let mut go_masks: Vec<(usize, usize, String)> = Vec::new();
            let mut offset = 0;
            for (line, bytes, masked) in &gf.lines {
                for (a, b, t) in masked {
                    go_masks.push((offset + a, offset + b, t.clone()));
                }
                offset += bytes.len();
                go_by_line.entry(*line).or_default().extend(bytes);
            }
            let mut ours_by_line: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
            let mut ours_flat = Vec::new();
            for l in &ours {
                ours_by_line.entry(l.line).or_default().extend(&l.bytes);
                ours_flat.extend(&l.bytes);
            }
            let go_flat: Vec<u8> = gf
                .lines
                .iter()
                .flat_map(|(_, b, _)| b.iter().copied())
                .collect();
            if go_flat.len() != ours_flat.len() {
                failures.push(format!(
                    "{path}: {name}: {} bytes from Go, {} from emu\n  go:  {}\n  emu: {}",
                    go_flat.len(),
                    ours_flat.len(),
                    machine::exec::encode_hex(&go_flat),
                    machine::exec::encode_hex(&ours_flat)
                ));
                continue;
            }
            // Relocated displacements: emu's must reach the symbol Go's relocation names.
            let mut masked_go = go_flat.clone();
            let mut masked_ours = ours_flat.clone();
            for (a, b, target) in &go_masks {
                let disp = i32::from_le_bytes(ours_flat[*a..*b].try_into().unwrap()) as i64;
                let next = sym.addr as i64 + *b as i64;
                let reached = (next + disp) as u64;
                match program.symbol(target) {
                    Some(addr) if addr == reached => {}
                    Some(addr) => failures.push(format!("{path}: {name}: displacement at +{a} reaches {reached:#x}, {target} is at {addr:#x}")),
                    None if program.undefined.contains(target) => {}
                    None => failures.push(format!("{path}: {name}: Go relocates to {target}, which emu does not know")),
                }
                masked_go[*a..*b].fill(0);
                masked_ours[*a..*b].fill(0);
            }
            if masked_go != masked_ours {
                let mut detail = String::new();
                for (line, gb) in &go_by_line {
                    let ob = ours_by_line.get(line).cloned().unwrap_or_default();
                    if &ob != gb {
                        detail.push_str(&format!(
                            "\n  line {line}: go {} emu {}",
                            machine::exec::encode_hex(gb),
                            machine::exec::encode_hex(&ob)
                        ));
                    }
                }
                failures.push(format!("{path}: {name}: bytes differ{detail}"));
                continue;
            }
            // Source map: the same bytes come from the same lines.
            let go_lines: Vec<u32> = go_by_line.keys().copied().collect();
            let ours_lines: Vec<u32> = ours_by_line.keys().copied().collect();
            if go_lines != ours_lines {
                failures.push(format!(
                    "{path}: {name}: lines {ours_lines:?}, Go attributes to {go_lines:?}"
                ));
            }
            compared += 1;
        }
    }
    std::fs::remove_dir_all(&include).ok();
    assert!(
        failures.is_empty(),
        "{} differences from Go's assembler:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(compared >= 10, "only {compared} functions compared");
}
