//! Real Go programs, built by real toolchains and run natively: the other half of the
//! comparison with the machine running the same executables (`tests/tests/real_go.rs`).
//!
//! Each folder of `tests/real-programs/` with a `run.toml` is one program: its Go (and cgo)
//! sources, and how it is built and run ([`Spec`]). A pure Go program is built once,
//! statically (`CGO_ENABLED=0`); a cgo program twice, linked statically against glibc
//! (`-linkmode external -extldflags -static`) and dynamically.
//!
//! Outputs are compared after [`normalise`]: what a run may change without the program
//! behaving differently (addresses above 64 KiB, which ASLR and go1.27's heap randomisation
//! move; goroutine and M numbers, which depend on how many helpers the runtime started) is
//! masked; everything else — messages, signal, code, small fault addresses, function names,
//! files, lines, frame offsets — must be equal. [`sections`] cuts a report at its blank
//! lines, as Go separates the header, `runtime stack:` and each goroutine.

use crate::toolchains::Toolchain;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// How a program is built and run, from its `run.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// What the program shows, in a sentence or two.
    pub summary: String,
    /// Whether it imports "C" (then it is built statically and dynamically against glibc).
    #[serde(default)]
    pub cgo: bool,
    /// The exit status a shell shows for the native run (128 + n when signal n killed it).
    pub exit: i32,
    /// What the native run must print on standard output, when it is fixed.
    pub stdout: Option<String>,
    /// The first line the native run must print on standard error, when it is fixed.
    pub stderr_starts: Option<String>,
    /// Why the goroutine sections may come in another order: set for a program where which
    /// goroutine takes which part is a race (natively too), so Go prints the same sections
    /// in another order. Sections are then compared as a set, their `created by` lines as
    /// a set of their own, and of the goroutines other than the crashing one only their
    /// headers without their state: where a bystander had got to when the crash came is
    /// the same race (see `cut_racers`).
    pub racy: Option<String>,
    /// Seeds besides 0 the machine runs the program with (`linux::Config::seed`). Every Go
    /// program has several threads (sysmon, the Ms for its Ps), so another seed is another
    /// interleaving, and the output must still be the native one.
    #[serde(default)]
    pub other_seeds: Vec<u64>,
    /// The environment, exactly (nothing of the test's own reaches the program).
    /// `GOTRACEBACK=single` when absent.
    pub env: Option<BTreeMap<String, String>>,
}

/// One program folder.
#[derive(Debug, Clone)]
pub struct Program {
    /// The folder's name.
    pub name: String,
    /// The folder.
    pub dir: PathBuf,
    /// Its `run.toml`.
    pub spec: Spec,
}

impl Program {
    /// The environment the program runs with.
    pub fn env(&self) -> Vec<(String, String)> {
        match &self.spec.env {
            Some(e) => e.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            None => vec![("GOTRACEBACK".into(), "single".into())],
        }
    }

    /// The ways it is linked.
    pub fn links(&self) -> Vec<Link> {
        if self.spec.cgo {
            vec![Link::CgoStatic, Link::CgoDynamic]
        } else {
            vec![Link::Static]
        }
    }
}

/// How an executable is linked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Link {
    /// Pure Go, `CGO_ENABLED=0`: Go's own linker, no libc.
    Static,
    /// cgo, linked by gcc with `-static`: glibc inside the executable.
    CgoStatic,
    /// cgo, linked by gcc against the system's ld.so and libc.so.6.
    CgoDynamic,
}

impl Link {
    /// A short name for messages and file names.
    pub fn name(self) -> &'static str {
        match self {
            Link::Static => "static",
            Link::CgoStatic => "cgo-static",
            Link::CgoDynamic => "cgo-dynamic",
        }
    }
}

/// The folder of real programs.
pub fn programs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("real-programs")
}

/// Reads one `run.toml`; the error names the file, and toml's message its line and field.
pub fn read_spec(path: &Path) -> Result<Spec, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Every program folder that has a `run.toml`, by name.
pub fn programs() -> Result<Vec<Program>, String> {
    let dir = programs_dir();
    let mut found = Vec::new();
    for e in std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let p = e.map_err(|e| e.to_string())?.path();
        let spec_path = p.join("run.toml");
        if spec_path.is_file() {
            found.push(Program {
                name: p.file_name().unwrap().to_string_lossy().into_owned(),
                spec: read_spec(&spec_path)?,
                dir: p,
            });
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

/// Builds `program` with `tc`, linked as `link`, into `out_dir` (made if needed); returns
/// the executable. The build runs in a copy of the sources with a go.mod of its own.
pub fn build(
    tc: &Toolchain,
    program: &Program,
    link: Link,
    out_dir: &Path,
) -> Result<PathBuf, String> {
    let src = out_dir.join(format!("src-{}", program.name));
    let _ = std::fs::remove_dir_all(&src);
    std::fs::create_dir_all(&src).map_err(|e| e.to_string())?;
    for e in std::fs::read_dir(&program.dir).map_err(|e| e.to_string())? {
        let p = e.map_err(|e| e.to_string())?.path();
        if p.extension()
            .is_some_and(|x| x == "go" || x == "c" || x == "h")
        {
            std::fs::copy(&p, src.join(p.file_name().unwrap())).map_err(|e| e.to_string())?;
        }
    }
    std::fs::write(
        src.join("go.mod"),
        format!("module example.com/{}\n\ngo 1.14\n", program.name),
    )
    .map_err(|e| e.to_string())?;
    let exe = out_dir.join(format!("{}-{}-{}", program.name, tc.version, link.name()));
    let mut cmd = tc.go();
    cmd.current_dir(&src).arg("build").arg("-o").arg(&exe);
    match link {
        Link::Static => {
            cmd.env("CGO_ENABLED", "0");
        }
        Link::CgoStatic => {
            cmd.env("CGO_ENABLED", "1")
                .arg("-ldflags=-linkmode external -extldflags -static");
        }
        Link::CgoDynamic => {
            cmd.env("CGO_ENABLED", "1");
        }
    }
    cmd.arg(".");
    let out = cmd.output().map_err(|e| format!("go: {e}"))?;
    let _ = std::fs::remove_dir_all(&src);
    if !out.status.success() {
        return Err(format!(
            "{} {} ({}): go build failed:\n{}",
            tc.version,
            program.name,
            link.name(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(exe)
}

/// What one run printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// The status a shell shows: the exit code, or 128 + the signal that killed it.
    pub status: i32,
}

/// Runs `exe` natively with exactly `env`.
pub fn run_native(exe: &Path, env: &[(String, String)]) -> Result<Outcome, String> {
    use std::os::unix::process::ExitStatusExt;
    let out = Command::new(exe)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .map_err(|e| format!("{}: {e}", exe.display()))?;
    let status = match (out.status.code(), out.status.signal()) {
        (Some(c), _) => c,
        (None, Some(s)) => 128 + s,
        _ => return Err(format!("{}: no exit status", exe.display())),
    };
    Ok(Outcome {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        status,
    })
}

/// The general registers of the dump Go prints after a signal in non-Go code
/// (runtime/signal_amd64.go, dumpregs), whose contents the C library and the kernel leave:
/// natively glibc reads the clock through the vDSO, which the machine does not have, so
/// these differ in any case. Their names and order are still compared; `rflags`, `cs`,
/// `fs` and `gs` are compared whole.
const DUMPED_GPRS: [&str; 17] = [
    "rax", "rbx", "rcx", "rdx", "rdi", "rsi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13",
    "r14", "r15", "rip",
];

/// Masks what may differ between two runs of one executable (see the module docs):
/// hexadecimal numbers of 0x10000 and above become `0x…`, goroutine numbers `N`, M numbers
/// (`m=3`) `M`, argument words Go marks as unreliable (`0x0?`, runtime/traceback.go
/// printArgs) `?`, and the values of the register dump's general registers `…`.
pub fn normalise(text: &str) -> String {
    let lines: Vec<String> = text
        .split('\n')
        .map(|line| {
            let mut w = line.split_whitespace();
            match (w.next(), w.next(), w.next()) {
                (Some(name), Some(v), None) if name == "rflags" && v.starts_with("0x") => {
                    line.to_string()
                }
                (Some(name), Some(v), None)
                    if DUMPED_GPRS.contains(&name) && v.starts_with("0x") =>
                {
                    format!("{name} …")
                }
                _ => normalise_words(line),
            }
        })
        .collect();
    lines.join("\n")
}

fn normalise_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        // A hexadecimal number not glued to a word before it.
        if b[i] == b'0'
            && b.get(i + 1) == Some(&b'x')
            && (i == 0 || !b[i - 1].is_ascii_alphanumeric())
        {
            let mut j = i + 2;
            while j < b.len() && b[j].is_ascii_hexdigit() {
                j += 1;
            }
            let digits = &text[i + 2..j];
            if b.get(j) == Some(&b'?') {
                out.push('?');
                i = j + 1;
                continue;
            }
            let big = u128::from_str_radix(digits, 16).map_or(!digits.is_empty(), |v| v >= 0x10000);
            out.push_str(if big { "0x…" } else { &text[i..j] });
            i = j;
            continue;
        }
        let rest = &text[i..];
        let mut masked = false;
        for (word, mask) in [("goroutine ", "N"), ("m=", "M")] {
            if rest.starts_with(word) && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) {
                let digits = rest[word.len()..]
                    .bytes()
                    .take_while(|c| c.is_ascii_digit())
                    .count();
                if digits > 0 {
                    out.push_str(word);
                    out.push_str(mask);
                    i += word.len() + digits;
                    masked = true;
                    break;
                }
            }
        }
        if !masked {
            let c = rest.chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// A report's sections: the text between blank lines, each normalised.
pub fn sections(text: &str) -> Vec<String> {
    normalise(text)
        .split("\n\n")
        .map(|s| s.trim_matches('\n').to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// What a racy program's report says of its goroutines besides their sections: the
/// crashing goroutine's state, and every goroutine's `created by` lines, sorted.
#[derive(Debug, PartialEq, Eq)]
struct Racers {
    crashing_state: Option<String>,
    created_by: Vec<String>,
}

/// Cuts a racy program's goroutine sections down to what the race does not change. The
/// crashing goroutine is the first one Go prints (runtime/traceback.go prints the current
/// goroutine, then `tracebackothers` the rest); every other one is a bystander.
///
/// - Which goroutine crashes may be the race itself (seed-concurrent-cgo), so every
///   section loses its `created by` lines, which are compared as a set instead.
/// - The crashing goroutine's state (its M, `m=M mp=0x…` or `m=nil`, and its status word)
///   is compared on its own; the rest of its section stays.
/// - A bystander keeps only its header without its state: where it had got to when the
///   crash came is the race. One that had not run yet is `[runnable]` with only its entry
///   frame, one that had is parked (`[syscall]` in signal_recv's notetsleepg, `[select]`,
///   `[finalizer wait]`) with the frames that got it there, so its frames change with its
///   status. Native runs of one no-onstack executable differ in exactly this.
fn cut_racers(sections: &mut [String]) -> Racers {
    const HEAD: &str = "goroutine N ";
    let mut racers = Racers {
        crashing_state: None,
        created_by: Vec::new(),
    };
    for s in sections.iter_mut().filter(|s| s.starts_with(HEAD)) {
        let head_end = s.find('\n').unwrap_or(s.len());
        let head = &s[..head_end];
        // The state starts at ` m=` (go1.23 and later print gp, m and mp) or at ` [`.
        let Some(at) = head.find(" m=").or_else(|| head.find(" [")) else {
            continue;
        };
        if !head.ends_with("]:") {
            continue;
        }
        let state = head[at..].to_string();
        let mut cut = format!("{} …:", &head[..at]);
        let crashing = racers.crashing_state.is_none();
        let mut lines = s[head_end..].lines().skip(1);
        while let Some(line) = lines.next() {
            if line.starts_with("created by ") {
                let at = lines.next().unwrap_or("");
                racers.created_by.push(format!("{line}\n{at}"));
            } else if crashing {
                cut.push('\n');
                cut.push_str(line);
            }
        }
        if crashing {
            racers.crashing_state = Some(state);
        }
        *s = cut;
    }
    racers.created_by.sort();
    racers
}

/// The differences between two outcomes of one executable, section by section; empty when
/// they agree.
pub fn compare(native: &Outcome, emulated: &Outcome, racy: bool) -> Vec<String> {
    let mut diffs = Vec::new();
    if native.status != emulated.status {
        diffs.push(format!(
            "exit status: native {}, emu {}",
            native.status, emulated.status
        ));
    }
    if normalise(&native.stdout) != normalise(&emulated.stdout) {
        diffs.push(format!(
            "stdout:\n  native: {:?}\n  emu:    {:?}",
            native.stdout, emulated.stdout
        ));
    }
    let (mut a, mut b) = (sections(&native.stderr), sections(&emulated.stderr));
    if racy {
        let (x, y) = (cut_racers(&mut a), cut_racers(&mut b));
        if x.crashing_state != y.crashing_state {
            diffs.push(format!(
                "the crashing goroutine's state: native {:?}, emu {:?}",
                x.crashing_state, y.crashing_state
            ));
        }
        if x.created_by != y.created_by {
            diffs.push(format!(
                "the goroutines' creators:\n  native: {:?}\n  emu:    {:?}",
                x.created_by, y.created_by
            ));
        }
        a.sort();
        b.sort();
    }
    for k in 0..a.len().max(b.len()) {
        match (a.get(k), b.get(k)) {
            (Some(x), Some(y)) if x == y => {}
            (x, y) => {
                let first = |s: Option<&String>| {
                    s.map_or("(none)".to_string(), |s| {
                        s.lines().next().unwrap_or("").to_string()
                    })
                };
                let line = match (x, y) {
                    (Some(x), Some(y)) => x
                        .lines()
                        .zip(y.lines())
                        .position(|(p, q)| p != q)
                        .map(|n| {
                            format!(
                                "\n  first differing line {}:\n    native: {}\n    emu:    {}",
                                n + 1,
                                x.lines().nth(n).unwrap_or(""),
                                y.lines().nth(n).unwrap_or("")
                            )
                        })
                        .unwrap_or_else(|| "\n  one section has more lines".into()),
                    _ => String::new(),
                };
                diffs.push(format!(
                    "stderr section {} ({} in native, {} in emu): native starts {:?}, emu {:?}{line}",
                    k + 1,
                    a.len(),
                    b.len(),
                    first(x),
                    first(y)
                ));
            }
        }
    }
    diffs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalising_masks_what_runs_may_change_and_keeps_the_rest() {
        let report = "[signal SIGSEGV: segmentation violation code=0x1 addr=0x60 pc=0x481df9]\n\n\
                      goroutine 18 gp=0xa2887b8780 m=4 mp=0xa2887e6008 [syscall]:\n\
                      main._Cfunc_entrance(0x0, 0xc000012345?)\n\t_cgo_gotypes.go:59 +0x3f fp=0xc000 sp=0x12345\n\
                      created by main.main in goroutine 1\n\nr10    0x1\nrflags 0x10246\ncs     0x33\n";
        assert_eq!(
            normalise(report),
            "[signal SIGSEGV: segmentation violation code=0x1 addr=0x60 pc=0x…]\n\n\
             goroutine N gp=0x… m=M mp=0x… [syscall]:\n\
             main._Cfunc_entrance(0x0, ?)\n\t_cgo_gotypes.go:59 +0x3f fp=0xc000 sp=0x…\n\
             created by main.main in goroutine N\n\nr10 …\nrflags 0x10246\ncs     0x33\n"
        );
    }

    #[test]
    fn comparing_names_the_section_and_line_that_differ() {
        let native = Outcome {
            stdout: "x\n".into(),
            stderr: "fatal error: a\n\nruntime stack:\nruntime.throw()\n\tpanic.go:1 +0x1\n".into(),
            status: 2,
        };
        let mut emu = native.clone();
        assert!(compare(&native, &emu, false).is_empty());
        emu.stderr =
            "fatal error: a\n\nruntime stack:\nruntime.throw()\n\tpanic.go:2 +0x1\n".into();
        emu.status = 139;
        let d = compare(&native, &emu, false);
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!(d[0], "exit status: native 2, emu 139");
        assert!(
            d[1].contains("stderr section 2") && d[1].contains("line 3"),
            "{}",
            d[1]
        );
    }

    #[test]
    fn a_racy_report_compares_bystanders_by_who_created_them() {
        let native = Outcome {
            stdout: String::new(),
            stderr: "fatal error: x\n\ngoroutine 1 [running]:\nmain.main()\n\n\
                     goroutine 5 gp=0xc000100000 m=6 mp=0xc000070808 [syscall]:\n\
                     runtime.notetsleepg()\nos/signal.signal_recv()\n\
                     created by os/signal.Notify.func1.1 in goroutine 1\n\tsignal.go:151 +0x1f\n"
                .into(),
            status: 2,
        };
        let not_yet_run = native.stderr.replace(
            "m=6 mp=0xc000070808 [syscall]:\nruntime.notetsleepg()\nos/signal.signal_recv()",
            "m=nil [runnable]:\nos/signal.loop()",
        );
        let emu = Outcome {
            stderr: not_yet_run,
            ..native.clone()
        };
        assert!(compare(&native, &emu, true).is_empty());
        assert_eq!(compare(&native, &emu, false).len(), 1, "not racy: compared");
        // The crashing goroutine's state and stack, and who created a bystander, count.
        for (from, to) in [
            ("[running]", "[syscall]"),
            ("main.main()", "main.f()"),
            ("Notify.func1.1", "Notify.func1.2"),
            ("signal.go:151", "signal.go:152"),
        ] {
            let other = Outcome {
                stderr: native.stderr.replace(from, to),
                ..native.clone()
            };
            assert_eq!(compare(&native, &other, true).len(), 1, "{from} → {to}");
        }
    }

    #[test]
    fn every_program_folder_has_a_valid_spec_and_a_main() {
        let all = programs().unwrap();
        assert!(all.len() >= 13, "{} programs", all.len());
        for p in &all {
            assert!(p.dir.join("main.go").is_file(), "{}: no main.go", p.name);
            let text = std::fs::read_to_string(p.dir.join("main.go")).unwrap();
            assert_eq!(
                p.spec.cgo,
                text.contains("import \"C\""),
                "{}: cgo flag",
                p.name
            );
        }
    }

    #[test]
    fn a_broken_spec_names_its_file_line_and_field() {
        let dir = std::env::temp_dir().join(format!("realgo-spec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("run.toml");
        std::fs::write(&f, "summary = \"x\"\nexit = \"two\"\n").unwrap();
        let e = read_spec(&f).unwrap_err();
        assert!(
            e.contains("run.toml") && e.contains("line 2") && e.contains("exit"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
