//! Whole crash reports against real Go: for every crash scenario, the model's report and
//! the one the equivalent real program (`tests/real-programs/<scenario>/`) prints, parsed
//! into sections and compared section by section.
//!
//! Under every installed toolchain (`STACKSWITCH_GOROOTS`, see `tests/src/toolchains.rs`)
//! whose release the model has, each program is built with cgo in a temporary directory
//! and run with `GOTRACEBACK=single`. go1.14 cannot be installed here: its reports are
//! written from its source text into `tests/fixtures/reports/go1.14/`, labelled so.
//!
//! What must match, and why:
//! - The header lines, with the PC masked (the model places code elsewhere), `m=` ids
//!   masked (a real process has more threads: sysmon, template threads) and fault
//!   addresses in the program's text masked (the real linker places `main.main`
//!   elsewhere). Signal, code, the messages and small addresses must be equal.
//! - The sections, in order: `runtime stack:` and each goroutine's, the runtime's
//!   background goroutines left out (those whose creator is a `runtime.` function: Go's
//!   isSystemGoroutine; the model runs no garbage collector).
//! - Per goroutine: its status, whether the header has the `gp= m= mp=` form and whether
//!   its m is nil, whether frames carry `fp= sp= pc=`, and its `created by` function.
//!   Goroutine ids are not compared (a real program's helpers take ids 2-4, so its
//!   workers start at 18), nor gp/mp values.
//! - Per frame: the function, in Go's order. A frame in `$GOROOT/src` must name the same
//!   file and line (the release's own: `runtime/cgocall.go:167`); a frame in the
//!   program's own code names its file and line differently in the model (its assembly)
//!   and in Go (`main.go`, `_cgo_gotypes.go`), so only the function is compared. Offsets
//!   (`+0x…`) and argument words are not compared.
//! - The exit status, and that go1.21+'s cgo-signal report ends with the register dump
//!   (rax … gs, the names in Go's order).

use go_model::scenario::Scenario;
use go_model::GoRelease;
use stackswitch_tests::toolchains::{self, Toolchain};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The scenarios whose run ends in a Go report, each with its real program's folder.
const CRASHES: [&str; 7] = [
    "go-nil-deref",
    "go-fault-addr",
    "go-noncanonical",
    "go-write-readonly",
    "cgo-c-null-write",
    "cgo-go-nil-with-c-handler",
    "seed-concurrent-cgo",
];

/// Where a frame's code is.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Place {
    /// Under `$GOROOT/src`: the file relative to it, and the line.
    Goroot(String, u32),
    /// The program's own code (its file and line are not compared).
    Program,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Frame {
    function: String,
    place: Place,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Title {
    /// `runtime stack:` (g0's stack, go1.14's throw on the system stack).
    RuntimeStack,
    /// `goroutine N [status]:`, with whether the header has `gp= m= mp=` and, if so,
    /// whether m is set.
    Goroutine {
        status: String,
        with_m: Option<bool>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Section {
    title: Title,
    frames: Vec<Frame>,
    /// Whether the frames carry `fp= sp= pc=`.
    fp: bool,
    /// `goroutine running on other thread; stack unavailable`.
    unavailable: bool,
    /// The `created by` function.
    created_by: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Report {
    header: Vec<String>,
    sections: Vec<Section>,
    /// The names of the registers dumped after a fatal signal, in order.
    registers: Vec<String>,
}

/// Masks what may differ in a header line: PCs, m ids, and addresses in the program's text
/// (from 0x400000, where both place code, up to 16 MiB).
fn mask_header(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find("0x") {
        let (before, from) = rest.split_at(at);
        out.push_str(before);
        let digits = from[2..]
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(from.len() - 2);
        if digits == 0 {
            // Already masked (`0x…`, in a fixture).
            out.push_str("0x");
            rest = &from[2..];
            continue;
        }
        let value = u64::from_str_radix(&from[2..2 + digits], 16).unwrap_or(0);
        let is_pc = out.ends_with("pc=") || out.ends_with("PC=");
        if is_pc || (0x40_0000..0x100_0000).contains(&value) {
            out.push_str("0x…");
        } else {
            out.push_str(&from[..2 + digits]);
        }
        rest = &from[2 + digits..];
    }
    out.push_str(rest);
    // `PC=0x… m=4 sigcode=1`: the m id.
    match out.find(" m=") {
        Some(at) if out.starts_with("PC=") => {
            let end = out[at + 3..].find(' ').map_or(out.len(), |e| at + 3 + e);
            format!("{} m=…{}", &out[..at], &out[end..])
        }
        _ => out,
    }
}

/// Where `file` is: under one of `goroots` (`…/src/runtime/proc.go`) or the program's.
fn place(file_line: &str, goroots: &[&str]) -> Place {
    let (file, line) = file_line.rsplit_once(':').unwrap_or((file_line, "0"));
    let line: u32 = line.parse().unwrap_or(0);
    for root in goroots {
        if let Some(rel) = file.strip_prefix(&format!("{root}/src/")) {
            return Place::Goroot(rel.to_string(), line);
        }
    }
    Place::Program
}

/// The function of a frame line `runtime.cgocall(0x46be90, 0xc000050f40)`: everything
/// before the argument list (a method's receiver has parentheses of its own:
/// `sync.(*WaitGroup).Wait(0x0?)`).
fn function_of(line: &str) -> String {
    let line = line.trim_end();
    match line.rfind('(') {
        Some(at) if line.ends_with(')') => line[..at].to_string(),
        _ => line.to_string(),
    }
}

fn goroutine_title(line: &str) -> Option<Title> {
    let rest = line.strip_prefix("goroutine ")?.strip_suffix(":")?;
    let open = rest.find('[')?;
    let status = rest[open + 1..].strip_suffix(']')?.to_string();
    let fields = &rest[..open];
    let with_m = fields.contains(" gp=").then(|| !fields.contains(" m=nil"));
    Some(Title::Goroutine { status, with_m })
}

/// Parses a report: header lines up to the first blank line, then sections separated by
/// blank lines, then the register dump if there is one.
fn parse(text: &str, goroots: &[&str]) -> Report {
    let mut lines = text.lines().peekable();
    let mut header = Vec::new();
    for l in lines.by_ref() {
        if l.is_empty() {
            break;
        }
        header.push(mask_header(l));
    }
    let mut sections = Vec::new();
    let mut registers = Vec::new();
    let mut current: Option<Section> = None;
    let mut pending_function: Option<String> = None;
    let mut in_created_by = false;
    for l in lines {
        if l.is_empty() {
            sections.extend(current.take());
            continue;
        }
        if current.is_none() {
            let title = if l == "runtime stack:" {
                Some(Title::RuntimeStack)
            } else {
                goroutine_title(l)
            };
            match title {
                Some(title) => {
                    current = Some(Section {
                        title,
                        frames: Vec::new(),
                        fp: false,
                        unavailable: false,
                        created_by: None,
                    });
                }
                None => {
                    // The register dump: `rax    0x…`.
                    if let Some(name) = l.split_whitespace().next() {
                        registers.push(name.to_string());
                    }
                }
            }
            continue;
        }
        let s = current.as_mut().expect("a section is open");
        if let Some(body) = l.strip_prefix('\t') {
            if body.starts_with("goroutine running on other thread") {
                s.unavailable = true;
                continue;
            }
            let file_line = body.split_whitespace().next().unwrap_or("");
            if in_created_by {
                in_created_by = false;
                continue;
            }
            if let Some(function) = pending_function.take() {
                s.fp |= body.contains(" fp=");
                s.frames.push(Frame {
                    function,
                    place: place(file_line, goroots),
                });
            }
        } else if let Some(creator) = l.strip_prefix("created by ") {
            let creator = creator.split(" in goroutine ").next().unwrap_or(creator);
            s.created_by = Some(creator.to_string());
            in_created_by = true;
        } else {
            pending_function = Some(function_of(l));
        }
    }
    sections.extend(current);
    // The runtime's background goroutines (force gc, GC sweep and scavenge, finalizers):
    // started by runtime functions, which the model does not run.
    sections.retain(|s| {
        !s.created_by
            .as_deref()
            .is_some_and(|c| c.starts_with("runtime."))
    });
    Report {
        header,
        sections,
        registers,
    }
}

/// Every difference between the model's report and Go's, as sentences.
fn differences(model: &Report, real: &Report) -> Vec<String> {
    let mut d = Vec::new();
    if model.header != real.header {
        d.push(format!(
            "header: model {:?}, Go {:?}",
            model.header, real.header
        ));
    }
    if model.registers != real.registers {
        d.push(format!(
            "register dump: model {:?}, Go {:?}",
            model.registers, real.registers
        ));
    }
    if model.sections.len() != real.sections.len() {
        d.push(format!(
            "{} sections in the model, {} in Go: model {:?}, Go {:?}",
            model.sections.len(),
            real.sections.len(),
            model.sections.iter().map(|s| &s.title).collect::<Vec<_>>(),
            real.sections.iter().map(|s| &s.title).collect::<Vec<_>>()
        ));
    }
    for (i, (m, r)) in model.sections.iter().zip(&real.sections).enumerate() {
        if m.title != r.title {
            d.push(format!(
                "section {i}: model {:?}, Go {:?}",
                m.title, r.title
            ));
        }
        if m.fp != r.fp || m.unavailable != r.unavailable || m.created_by != r.created_by {
            d.push(format!(
                "section {i} ({:?}): model fp={} unavailable={} created by {:?}; Go fp={} unavailable={} created by {:?}",
                r.title, m.fp, m.unavailable, m.created_by, r.fp, r.unavailable, r.created_by
            ));
        }
        if m.frames != r.frames {
            d.push(format!(
                "section {i} ({:?}) frames:\n  model {:?}\n  Go    {:?}",
                r.title, m.frames, r.frames
            ));
        }
    }
    d
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// Builds the real program of `scenario` with `tc` in a fresh directory and runs it:
/// (exit status, standard error).
fn run_real(tc: &Toolchain, scenario: &str) -> (Option<i32>, String) {
    let src = repo().join("real-programs").join(scenario);
    let dir = std::env::temp_dir().join(format!(
        "stackswitch-report-{}-{scenario}-{}",
        tc.version,
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // The program's sources (its recorded reports, `*.report`, stay behind).
    for e in std::fs::read_dir(&src).unwrap_or_else(|e| panic!("{}: {e}", src.display())) {
        let p = e.unwrap().path();
        if p.extension()
            .is_some_and(|x| x == "go" || x == "c" || x == "h")
        {
            std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
        }
    }
    std::fs::write(
        dir.join("go.mod"),
        format!("module example.com/{scenario}\n\ngo 1.14\n"),
    )
    .unwrap();
    let built = tc
        .go()
        .args(["build", "-o", "prog", "."])
        .current_dir(&dir)
        .env("CGO_ENABLED", "1")
        .output()
        .expect("go runs");
    assert!(
        built.status.success(),
        "{}: building {scenario}: {}",
        tc.version,
        String::from_utf8_lossy(&built.stderr)
    );
    // GOTRACEBACK=single is the default; set it so a user's environment cannot change
    // the report, and nothing else of the environment reaches the program.
    let out = Command::new(dir.join("prog"))
        .env_clear()
        .env("GOTRACEBACK", "single")
        .output()
        .expect("the program runs");
    let _ = std::fs::remove_dir_all(&dir);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The model's report of `scenario` under `release`, as `emu run` prints it on stderr,
/// and its exit status.
fn run_model(scenario: &str, release: GoRelease) -> (Option<i32>, String) {
    let s = Scenario::by_id(scenario).unwrap_or_else(|e| panic!("{scenario}: {e}"));
    let (p, _) = s
        .run(release)
        .unwrap_or_else(|e| panic!("{scenario} (go{release}): {e}"));
    (p.exit_status(), p.output(2))
}

const MODEL_GOROOT: &str = go_model::runtime::GOROOT;

#[test]
fn every_crash_report_has_the_sections_and_frames_real_go_prints() {
    let mut failures = Vec::new();
    let mut compared = 0;
    for tc in toolchains::required("crash reports against real programs") {
        let Some(release) = GoRelease::named(&tc.minor) else {
            eprintln!("{}: not a release the model has", tc.version);
            continue;
        };
        let root = tc.root.to_string_lossy().into_owned();
        for scenario in CRASHES {
            let (real_status, real_text) = run_real(&tc, scenario);
            let (model_status, model_text) = run_model(scenario, release);
            let roots = [root.as_str(), MODEL_GOROOT];
            let real = parse(&real_text, &roots);
            let model = parse(&model_text, &roots);
            assert!(
                !real.sections.is_empty(),
                "{} {scenario}: no report parsed from\n{real_text}",
                tc.version
            );
            let mut d = differences(&model, &real);
            if model_status != real_status {
                d.push(format!(
                    "exit status: model {model_status:?}, Go {real_status:?}"
                ));
            }
            if !d.is_empty() {
                failures.push(format!(
                    "{scenario} against {}:\n{}\n--- Go printed:\n{real_text}--- the model printed:\n{model_text}",
                    tc.version,
                    d.join("\n")
                ));
            }
            compared += 1;
        }
    }
    eprintln!("{compared} reports compared with real Go");
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

/// go1.14 cannot be installed here: each fixture is the report go1.14 prints for the real
/// program, written from go1.14's source text and the seed's go1.14 report, and the model's
/// is compared with it the same way.
#[test]
fn go114_crash_reports_match_the_fixtures_written_from_its_source() {
    let release = GoRelease::named("1.14").expect("the model has go1.14");
    let dir = repo().join("fixtures/reports/go1.14");
    let mut failures = Vec::new();
    for scenario in CRASHES {
        let path = dir.join(format!("{scenario}.txt"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            text.starts_with("# from go1.14 source:"),
            "{}: a go1.14 fixture says where it comes from on its first line",
            path.display()
        );
        let mut status = None;
        let mut report = String::new();
        for l in text.lines() {
            if let Some(s) = l.strip_prefix("# exit status: ") {
                status = s.trim().parse().ok();
            } else if !l.starts_with('#') {
                report.push_str(l);
                report.push('\n');
            }
        }
        let expected = parse(&report, &["$GOROOT"]);
        let (model_status, model_text) = run_model(scenario, release);
        let model = parse(&model_text, &[MODEL_GOROOT]);
        let mut d = differences(&model, &expected);
        if model_status != status {
            d.push(format!(
                "exit status: model {model_status:?}, fixture {status:?}"
            ));
        }
        if !d.is_empty() {
            failures.push(format!(
                "{scenario} (go1.14):\n{}\n--- the model printed:\n{model_text}",
                d.join("\n")
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

#[test]
fn the_parser_reads_sections_frames_and_creators() {
    let text = "\
SIGSEGV: segmentation violation
PC=0x46c432 m=4 sigcode=1 addr=0x60
signal arrived during cgo execution

goroutine 18 gp=0xc000084380 m=4 mp=0xc000047808 [syscall]:
runtime.cgocall(0x46c440, 0xc000040788)
\t/go/src/runtime/cgocall.go:167 +0x4b fp=0xc000040760 sp=0xc000040728 pc=0x460f0b
sync.(*WaitGroup).Wait(0x0?)
\t/go/src/sync/waitgroup.go:118 +0x48 fp=0xc000050f28 sp=0xc000050f00 pc=0x46b2e8
main.worker(0xc0000407b8?)
\t/tmp/x/main.go:43 +0x4f fp=0xc0000407c8 sp=0xc000040788 pc=0x46c14f
created by main.main in goroutine 1
\t/tmp/x/main.go:49 +0x69

goroutine 2 gp=0xc000002e00 m=nil [force gc (idle)]:
runtime.gopark(0x0?, 0x0?, 0x0?, 0x0?, 0x0?)
\t/go/src/runtime/proc.go:435 +0xce fp=0xc000040fa8 sp=0xc000040f88 pc=0x4620ce
created by runtime.init.7 in goroutine 1
\t/go/src/runtime/proc.go:336 +0x1a

goroutine 1 [running]:
\tgoroutine running on other thread; stack unavailable

rax    0x3
gs     0x0
";
    let r = parse(text, &["/go"]);
    assert_eq!(
        r.header,
        [
            "SIGSEGV: segmentation violation",
            "PC=0x… m=… sigcode=1 addr=0x60",
            "signal arrived during cgo execution"
        ]
    );
    assert_eq!(r.registers, ["rax", "gs"]);
    assert_eq!(
        r.sections.len(),
        2,
        "the runtime's own goroutine is left out"
    );
    let s = &r.sections[0];
    assert_eq!(
        s.title,
        Title::Goroutine {
            status: "syscall".into(),
            with_m: Some(true)
        }
    );
    assert!(s.fp);
    assert_eq!(s.created_by.as_deref(), Some("main.main"));
    assert_eq!(
        s.frames,
        [
            Frame {
                function: "runtime.cgocall".into(),
                place: Place::Goroot("runtime/cgocall.go".into(), 167)
            },
            Frame {
                function: "sync.(*WaitGroup).Wait".into(),
                place: Place::Goroot("sync/waitgroup.go".into(), 118)
            },
            Frame {
                function: "main.worker".into(),
                place: Place::Program
            },
        ]
    );
    assert!(r.sections[1].unavailable);
    assert_eq!(
        mask_header("unexpected fault address 0x468f80"),
        "unexpected fault address 0x…"
    );
    assert_eq!(
        mask_header("unexpected fault address 0x12345678"),
        "unexpected fault address 0x12345678"
    );
    assert_eq!(mask_header("[signal … pc=0x…]"), "[signal … pc=0x…]");
    // A changed line of a runtime frame is a difference.
    let mut other = r.clone();
    other.sections[0].frames[0].place = Place::Goroot("runtime/cgocall.go".into(), 133);
    assert_eq!(differences(&r, &other).len(), 1);
}
