//! Go's assembler as the ground truth for ours: run a release's `go tool asm` on a file,
//! read its object back with `go tool objdump`, and compare it function by function and
//! line by line with what `asm` made of the same file.
//!
//! Go's object file leaves some fields to its linker; the comparison applies what the
//! linker does:
//! - `R_TLS_LE` (g's TLS slot): on linux/amd64 the linker writes -8 (`fs:[-8]`);
//! - `R_CALL`, `R_PCREL` and the other relocations naming a symbol: the bytes depend on
//!   where the linker puts the target, so they are compared through the target instead (our
//!   displacement must reach the symbol, plus the offset, that Go's relocation names; a
//!   target our listing leaves undefined is accepted, as the object file leaves it too).

use crate::toolchains::Toolchain;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A relocated byte range of one instruction: `[start:end]KIND:target+offset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reloc {
    /// First byte, from the instruction's start.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// `R_CALL`, `R_PCREL`, …
    pub kind: String,
    /// The target in our spelling (`runtime·abort`), empty when the kind names none.
    pub target: String,
    /// The offset added to the target.
    pub offset: i64,
}

/// One instruction of Go's object: where it came from, its bytes (`R_TLS_LE` applied) and
/// its relocations.
#[derive(Debug, Clone)]
pub struct GoInstruction {
    /// The source file's base name (`asm_amd64.s`).
    pub file: String,
    /// Its line.
    pub line: u32,
    /// Bytes.
    pub bytes: Vec<u8>,
    /// Relocated ranges that change bytes.
    pub relocs: Vec<Reloc>,
}

/// One `TEXT` symbol of Go's object: its instructions in order.
#[derive(Debug, Default, Clone)]
pub struct GoFunction {
    /// Instructions.
    pub instructions: Vec<GoInstruction>,
}

fn parse_hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("objdump prints hex"))
        .collect()
}

/// Go's symbol spelling in objdump → ours: `runtime.name` → `runtime·name`,
/// `internal/bytealg.Compare` → `internal/bytealg·Compare`, a file-local `name<1>` →
/// `name<>`, and an ABI suffix (`.abi0`) dropped.
pub fn our_name(go: &str) -> String {
    let go = go.strip_suffix(".abi0").unwrap_or(go);
    let go = go.strip_suffix(".abiinternal").unwrap_or(go);
    let local = go.find('<').map(|i| &go[..i]);
    let base = local.unwrap_or(go);
    // The package is everything before the last `.` that follows the last `/`.
    let slash = base.rfind('/').map_or(0, |i| i + 1);
    let name = match base[slash..].find('.') {
        Some(dot) => format!("{}·{}", &base[..slash + dot], &base[slash + dot + 1..]),
        None => base.to_string(),
    };
    if local.is_some() {
        format!("{name}<>")
    } else {
        name
    }
}

/// `runtime.systemstack_switch+8` → (`runtime·systemstack_switch`, 8); objdump writes a
/// negative addend as `+-1`.
fn target_and_offset(t: &str) -> (String, i64) {
    if let Some(i) = t.rfind('+') {
        if let Ok(off) = t[i + 1..].parse::<i64>() {
            return (our_name(&t[..i]), off);
        }
    }
    (our_name(t), 0)
}

/// Parses `go tool objdump`'s listing of an object into its `TEXT` symbols.
pub fn parse_objdump(text: &str) -> BTreeMap<String, GoFunction> {
    let mut funcs: BTreeMap<String, GoFunction> = BTreeMap::new();
    let mut current = String::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("TEXT ") {
            current = our_name(rest.split("(SB)").next().expect("TEXT name(SB)"));
            funcs.entry(current.clone()).or_default();
            continue;
        }
        let fields: Vec<&str> = line.trim().split('\t').filter(|f| !f.is_empty()).collect();
        if fields.len() < 3 || current.is_empty() {
            continue;
        }
        let (file, line_no) = fields[0].rsplit_once(':').expect("file:line");
        let line_no: u32 = line_no.parse().expect("a line number");
        let mut bytes = parse_hex(fields[2]);
        let mut relocs = Vec::new();
        for reloc in fields.iter().filter(|f| f.starts_with('[')) {
            // `[5:9]R_TLS_LE`, `[1:5]R_CALL:runtime.other`, `[3:7]R_PCREL:runtime.x+8`
            let (range, kind) = reloc[1..].split_once(']').expect("[a:b]KIND");
            let (a, b) = range.split_once(':').expect("a:b");
            let (a, b): (usize, usize) = (a.parse().expect("a"), b.parse().expect("b"));
            let (kind, target) = kind.split_once(':').unwrap_or((kind, ""));
            if a == b {
                // `R_CALLIND` marks an indirect call; it changes no byte.
            } else if kind == "R_TLS_LE" {
                bytes[a..b].copy_from_slice(&(-8i32).to_le_bytes()[..b - a]);
            } else {
                let (target, offset) = target_and_offset(target);
                relocs.push(Reloc {
                    start: a,
                    end: b,
                    kind: kind.to_string(),
                    target,
                    offset,
                });
            }
        }
        funcs
            .get_mut(&current)
            .expect("a TEXT line first")
            .instructions
            .push(GoInstruction {
                file: Path::new(file)
                    .file_name()
                    .map_or(file.to_string(), |f| f.to_string_lossy().to_string()),
                line: line_no,
                bytes,
                relocs,
            });
    }
    funcs
}

/// How to run one release's `go tool asm` on one file.
#[derive(Debug, Clone)]
pub struct GoAsmRun<'a> {
    /// The release.
    pub toolchain: &'a Toolchain,
    /// `-p`.
    pub package: &'a str,
    /// The flags `go build` passes besides `-p`, `-I`, `-trimpath` and `-o`
    /// (`-D GOOS_linux …`, `-compiling-runtime`, `-std`).
    pub flags: &'a [String],
    /// `-I` folders, in order.
    pub include: &'a [PathBuf],
    /// The object file to write.
    pub out: &'a Path,
}

impl GoAsmRun<'_> {
    /// Assembles `file` (from its own folder, as `go build` does) and returns objdump's
    /// functions, or Go's error text.
    pub fn objdump(&self, file: &Path) -> Result<BTreeMap<String, GoFunction>, String> {
        let dir = file.parent().expect("a file in a folder");
        let mut c = self.toolchain.go();
        c.current_dir(dir).args(["tool", "asm", "-p", self.package]);
        for i in self.include {
            c.arg("-I").arg(i);
        }
        c.args(self.flags).arg("-o").arg(self.out).arg(file);
        let out = c.output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).to_string());
        }
        let dump = self
            .toolchain
            .go()
            .args(["tool", "objdump"])
            .arg(self.out)
            .output()
            .map_err(|e| e.to_string())?;
        if !dump.status.success() {
            return Err(String::from_utf8_lossy(&dump.stderr).to_string());
        }
        Ok(parse_objdump(&String::from_utf8_lossy(&dump.stdout)))
    }
}

/// The flags `go build` gives `go tool asm` for `package` in this release (`go build -n`),
/// without `-p`, `-trimpath`, `-I`, `-o`, `-gensymabis` and the file names.
pub fn asm_flags(toolchain: &Toolchain, package: &str) -> Vec<String> {
    let out = toolchain
        .go()
        .args(["build", "-n", "-a", "-o", "/dev/null", package])
        .env("CGO_ENABLED", "1")
        .output()
        .expect("go runs");
    let text = String::from_utf8_lossy(&out.stderr);
    let line = text
        .lines()
        .find(|l| {
            l.contains("/asm ")
                && l.contains(&format!(" -p {package} "))
                && !l.contains("-gensymabis")
        })
        .unwrap_or_else(|| panic!("{}: go build -n {package} runs no asm", toolchain.version));
    let words: Vec<&str> = line.split_whitespace().collect();
    let mut flags = Vec::new();
    let mut i = 1;
    while i < words.len() {
        match words[i] {
            "-p" | "-trimpath" | "-I" | "-o" => i += 2,
            w if w.ends_with(".s") => i += 1,
            "-D" => {
                flags.push("-D".to_string());
                flags.push(words[i + 1].to_string());
                i += 2;
            }
            w => {
                flags.push(w.to_string());
                i += 1;
            }
        }
    }
    flags
}

/// The `go_asm.h` the release's compiler writes for each package of `go build -a runtime`
/// (`runtime`, `bytealg`, …): [`Toolchain::go_asm_headers`].
pub fn go_asm_headers(toolchain: &Toolchain) -> BTreeMap<String, String> {
    toolchain.go_asm_headers()
}

/// Our assembler's options for a toolchain's release, which the model need not hold: the
/// package, the `-D` macros of `flags` (as [`asm_flags`] gives them), the `-I` folders, and
/// the rules of the inserted code from the version, as a test of the assembler may know
/// them. go1.21 moved the saved BP from below the frame to a `PUSHQ BP`
/// (`cmd/internal/obj/x86/obj6.go`: go1.19.8 line 680 `MOVQ BP, (autoffset-8)(SP)`,
/// go1.21.13 line 691 `APUSHQ`) and dropped the rule that frameless NOSPLIT functions save
/// no BP (go1.19.8 line 594).
pub fn options(
    tc: &Toolchain,
    package: &str,
    flags: &[String],
    include: &[PathBuf],
) -> asm::GoOptions {
    let (major, minor) = {
        let mut v = tc
            .minor
            .split('.')
            .map(|n| n.parse::<u32>().expect("a version"));
        (v.next().expect("major"), v.next().expect("minor"))
    };
    let pushed = (major, minor) >= (1, 21);
    let defines = flags
        .windows(2)
        .filter(|w| w[0] == "-D")
        .map(|w| match w[1].split_once('=') {
            Some((n, v)) => (n.to_string(), v.to_string()),
            None => (w[1].clone(), "1".to_string()),
        })
        .collect();
    asm::GoOptions {
        package: package.to_string(),
        defines,
        include: include
            .iter()
            .map(|p| p.to_string_lossy().to_string())
            .collect(),
        go_asm_h: String::new(),
        abi: asm::GoAbi {
            register_abi: (major, minor) >= (1, 17),
            frame_pointer: if pushed {
                asm::FramePointer::Pushed
            } else {
                asm::FramePointer::BelowFrame
            },
            frameless_nosplit_saves_no_bp: !pushed,
            // Go's stacksplit reads 2*PtrSize(g): stackguard0.
            stackguard0: 16,
            // go1.24.3's obj6.go inserts the WRAPPER check (line 733); go1.27.3's has none.
            wrapper_panic_argp: (major, minor) < (1, 27),
            // go1.27.3's asm6.go `ymovq` has no `Zilo_m` form for registers (line 487).
            movq_imm_as_movl: (major, minor) >= (1, 27),
            push_pop_moves_frame: true,
            // go1.19.8's asm6.go refuses PCALIGN; go1.24.3's has it (added in between: the
            // go1.21 release, by its notes; no go1.20 to go1.23 source is at hand to check).
            pcalign: (major, minor) >= (1, 21),
        },
    }
}

/// What one comparison counted.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    /// Functions compared.
    pub functions: usize,
    /// Source lines with bytes compared.
    pub lines: usize,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Compares Go's functions with ours in `program`: every function's bytes line by line
/// (relocated ranges through their targets), and the same lines in the same order. Pushes
/// one message per difference to `failures`, each naming `file:line`, Go's bytes and ours.
pub fn compare(
    label: &str,
    go: &BTreeMap<String, GoFunction>,
    program: &asm::Program,
    failures: &mut Vec<String>,
) -> Counts {
    let mut counts = Counts::default();
    for (name, gf) in go {
        let Some(sym) = program.symbols.iter().find(|s| &s.name == name) else {
            failures.push(format!("{label}: we have no function {name}"));
            continue;
        };
        counts.functions += 1;
        let ours: Vec<&asm::Listed> = program
            .instructions
            .iter()
            .filter(|l| l.addr >= sym.addr && l.addr < sym.addr + sym.size)
            .collect();
        // Group both sides by (file, line) in order of first appearance: Go decodes data
        // directives as instructions, so instruction boundaries need not agree.
        let group = |items: Vec<(String, u32, Vec<u8>)>| {
            let mut out: Vec<((String, u32), Vec<u8>)> = Vec::new();
            for (f, l, b) in items {
                match out.last_mut() {
                    Some((k, bytes)) if k.0 == f && k.1 == l => bytes.extend(b),
                    _ => out.push(((f, l), b)),
                }
            }
            out
        };
        let go_lines = group(
            gf.instructions
                .iter()
                .map(|i| (i.file.clone(), i.line, i.bytes.clone()))
                .collect(),
        );
        let our_lines = group(
            ours.iter()
                .map(|l| {
                    let f = Path::new(&l.file)
                        .file_name()
                        .map_or(l.file.clone(), |f| f.to_string_lossy().to_string());
                    (f, l.line, l.bytes.clone())
                })
                .collect(),
        );
        let go_flat: Vec<u8> = gf
            .instructions
            .iter()
            .flat_map(|i| i.bytes.iter().copied())
            .collect();
        let our_flat: Vec<u8> = ours.iter().flat_map(|l| l.bytes.iter().copied()).collect();
        // Relocations, at offsets in the function.
        let mut masks = Vec::new();
        let mut offset = 0;
        for i in &gf.instructions {
            for r in &i.relocs {
                masks.push((offset + r.start, offset + r.end, r));
            }
            offset += i.bytes.len();
        }
        let mut masked_go = go_flat.clone();
        let mut masked_ours = our_flat.clone();
        let mut reloc_failures = Vec::new();
        if go_flat.len() == our_flat.len() {
            for (a, b, r) in &masks {
                // Only PC-relative 32-bit fields can be checked through the target.
                if b - a == 4 && matches!(r.kind.as_str(), "R_CALL" | "R_PCREL" | "R_GOTPCREL") {
                    let disp = i32::from_le_bytes(our_flat[*a..*b].try_into().expect("4")) as i64;
                    let next = sym.addr as i64 + *b as i64;
                    let reached = (next + disp) as u64;
                    // objdump writes both a file-local symbol and an ABIInternal one as
                    // `name<1>`: take whichever we have.
                    let plain = r.target.strip_suffix("<>").unwrap_or(&r.target).to_string();
                    let found = program.symbol(&r.target).or_else(|| program.symbol(&plain));
                    let undefined =
                        program.undefined.contains(&r.target) || program.undefined.contains(&plain);
                    match found {
                        Some(addr) if addr.wrapping_add(r.offset as u64) == reached => {}
                        Some(addr) => reloc_failures.push(format!(
                            "{label}: {name}+{a:#x}: our displacement reaches {reached:#x}, Go's \
                             {}+{} is at {:#x}",
                            r.target,
                            r.offset,
                            addr.wrapping_add(r.offset as u64)
                        )),
                        None if undefined => {}
                        None => reloc_failures.push(format!(
                            "{label}: {name}+{a:#x}: Go relocates to {}, which we do not know",
                            r.target
                        )),
                    }
                }
                masked_go[*a..*b].fill(0);
                masked_ours[*a..*b].fill(0);
            }
        }
        // Lines: every instruction Go's objdump decodes must come from the line ours at the
        // same offset comes from. Where objdump decodes differently (it knows no VEX, and
        // it reads a LOCK prefix with the instruction after it), no instruction of ours
        // starts at its offset, and that one is not checked.
        let mut our_starts: BTreeMap<usize, (String, u32)> = BTreeMap::new();
        let mut off = 0;
        for l in &ours {
            let f = Path::new(&l.file)
                .file_name()
                .map_or(l.file.clone(), |f| f.to_string_lossy().to_string());
            our_starts.insert(off, (f, l.line));
            off += l.bytes.len();
        }
        let mut line_failures = Vec::new();
        let mut off = 0;
        for i in &gf.instructions {
            if let Some((f, l)) = our_starts.get(&off) {
                if *f != i.file || *l != i.line {
                    line_failures.push(format!(
                        "\n  {}:{}: go {} (+{off:#x}) ours from {f}:{l}",
                        i.file,
                        i.line,
                        hex(&i.bytes)
                    ));
                }
            }
            off += i.bytes.len();
        }
        if go_flat.len() == our_flat.len() && masked_go == masked_ours {
            if line_failures.is_empty() {
                counts.lines += go_lines.len();
            } else {
                line_failures.truncate(12);
                failures.push(format!(
                    "{label}: {name}: the same bytes from other lines:{}",
                    line_failures.concat()
                ));
            }
            failures.extend(reloc_failures);
            continue;
        }
        // Report line by line: each line of Go's beside ours, masked bytes shown as Go has
        // them. Lines only one side has are shown too.
        let mut detail = String::new();
        let mut ours_by_key: BTreeMap<(String, u32), Vec<u8>> = BTreeMap::new();
        for (k, b) in &our_lines {
            ours_by_key.entry(k.clone()).or_default().extend(b);
        }
        let mut go_by_key: BTreeMap<(String, u32), Vec<u8>> = BTreeMap::new();
        for (k, b) in &go_lines {
            go_by_key.entry(k.clone()).or_default().extend(b);
        }
        let mut go_off = 0;
        let mut shown = 0;
        for ((f, l), gb) in &go_lines {
            let ob = ours_by_key
                .get(&(f.clone(), *l))
                .cloned()
                .unwrap_or_default();
            let masked_here = masks
                .iter()
                .any(|(a, b, _)| *a >= go_off && *b <= go_off + gb.len());
            let differs = if masked_here && ob.len() == gb.len() {
                // Compare outside the relocated field.
                let mut g = gb.clone();
                let mut o = ob.clone();
                for (a, b, _) in &masks {
                    if *a >= go_off && *b <= go_off + gb.len() {
                        g[a - go_off..b - go_off].fill(0);
                        o[a - go_off..b - go_off].fill(0);
                    }
                }
                g != o
            } else {
                &ob != gb
            };
            if differs && shown < 12 {
                detail.push_str(&format!(
                    "\n  {f}:{l}: go {} ours {}",
                    hex(gb),
                    if ob.is_empty() {
                        "(nothing)".into()
                    } else {
                        hex(&ob)
                    }
                ));
                shown += 1;
            }
            go_off += gb.len();
        }
        for (k, ob) in &ours_by_key {
            if !go_by_key.contains_key(k) && shown < 12 {
                detail.push_str(&format!(
                    "\n  {}:{}: go (nothing) ours {}",
                    k.0,
                    k.1,
                    hex(ob)
                ));
                shown += 1;
            }
        }
        failures.push(format!(
            "{label}: {name}: {} bytes from Go, {} from us{detail}",
            go_flat.len(),
            our_flat.len()
        ));
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_relocations_read_as_ours() {
        assert_eq!(our_name("runtime.mcall"), "runtime·mcall");
        assert_eq!(our_name("gogo<1>"), "gogo<>");
        assert_eq!(
            our_name("internal/bytealg.Compare.abi0"),
            "internal/bytealg·Compare"
        );
        assert_eq!(our_name("_rt0_amd64"), "_rt0_amd64");
        assert_eq!(
            target_and_offset("runtime.systemstack_switch+8"),
            ("runtime·systemstack_switch".to_string(), 8)
        );
        assert_eq!(
            target_and_offset("runtime.useAeshash+-1"),
            ("runtime·useAeshash".to_string(), -1)
        );
        let f = parse_objdump(
            "TEXT runtime.x(SB) f.s\n  f.s:3\t0x0\t\te800000000\tCALL 0x5\t[1:5]R_CALL:runtime.abort\t\n",
        );
        let i = &f["runtime·x"].instructions[0];
        assert_eq!((i.line, i.relocs[0].target.as_str()), (3, "runtime·abort"));
    }
}
