//! Real Go is the arbiter: each installed toolchain builds and runs the probes of
//! `probes/`, which print what its runtime does at the points the course talks about.
//!
//! For each fact two tests: `…_in_go` asserts what each release is known to do (where a
//! probe shows otherwise the probe wins, and the expectation here was changed to it), and
//! `…_in_the_model` puts the model at the same point of the matching scenario and compares
//! the same fields, read from the model's memory at the offsets of its own release file,
//! with the probe's values under the toolchain of that release (the model's 1.24 with
//! go1.24.3, and any other release both have). Every mismatch is listed before a test
//! fails.

use go_model::model as runtime_globals;
use go_model::process::Process;
use go_model::scenario::Scenario;
use go_model::GoRelease;
use stackswitch_tests::probes::{self, Facts, Launch};
use stackswitch_tests::toolchains::{self, Toolchain};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// What every probe printed under one toolchain.
struct Probed {
    toolchain: Toolchain,
    /// Probe name → facts, or why the probes could not be built or run.
    facts: Result<BTreeMap<&'static str, Facts>, String>,
}

/// The inflight probe runs on one P pinned to one CPU, as the seed's single-CPU machine.
const ONE_CPU: Launch = Launch {
    env: &[("GOMAXPROCS", "1")],
    cpus: Some("0"),
};

fn run_all(t: &Toolchain) -> Result<BTreeMap<&'static str, Facts>, String> {
    let built = probes::build(t)?;
    let mut all = BTreeMap::new();
    for &name in probes::PROBES {
        let launch = if name == "inflight" {
            ONE_CPU
        } else {
            Launch::default()
        };
        all.insert(name, built.run(name, &launch)?);
    }
    Ok(all)
}

/// Every installed toolchain's probe output, built and run once for all the tests.
fn probed() -> &'static [Probed] {
    static ALL: OnceLock<Vec<Probed>> = OnceLock::new();
    ALL.get_or_init(|| {
        toolchains::required("the probes")
            .into_iter()
            .map(|t| {
                let facts = run_all(&t);
                Probed {
                    toolchain: t,
                    facts,
                }
            })
            .collect()
    })
}

/// A fact's expected value against what a probe printed; a mismatch is a line of the
/// report.
fn expect(problems: &mut Vec<String>, who: &str, facts: &Facts, name: &str, want: &str) {
    match facts.get(name) {
        Ok(got) if got == want => {}
        Ok(got) => problems.push(format!("{who}: {name} = {got}, expected {want}")),
        Err(e) => problems.push(format!("{who}: {e}")),
    }
}

/// Runs `check` on probe `probe`'s facts under every toolchain and fails with every
/// mismatch, after printing what each release showed.
fn in_go(probe: &str, check: impl Fn(&Toolchain, &Facts, &mut Vec<String>)) {
    let mut problems = Vec::new();
    for p in probed() {
        let facts = match &p.facts {
            Ok(all) => &all[probe],
            Err(e) => {
                problems.push(e.clone());
                continue;
            }
        };
        eprintln!("{} {probe}: {facts}", p.toolchain.version);
        check(&p.toolchain, facts, &mut problems);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The model's releases that have an installed toolchain, each with its probe's facts.
fn with_model(probe: &str) -> Vec<(GoRelease, &'static Facts)> {
    let all = probed();
    let mut pairs = Vec::new();
    for p in all {
        let Some(release) = GoRelease::named(&p.toolchain.minor) else {
            continue;
        };
        match &p.facts {
            Ok(f) => pairs.push((release, &f[probe])),
            Err(e) => panic!("{e}"),
        }
    }
    if !all.is_empty() && pairs.is_empty() {
        let message = format!(
            "no installed toolchain ({}) is of a release the model has ({:?}): the model is not compared",
            all.iter()
                .map(|p| p.toolchain.version.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            GoRelease::all()
        );
        assert!(
            std::env::var("STACKSWITCH_REQUIRE_GO").is_err(),
            "{message}"
        );
        eprintln!("{message}");
    }
    pairs
}

/// Compares, for each release of the model with a toolchain, the model's values (from
/// `model`) with the probe's, fact by fact; fails with every mismatch.
fn in_the_model<N: AsRef<str>>(
    probe: &str,
    model: impl Fn(GoRelease) -> Result<Vec<(N, String)>, String>,
) {
    let mut problems = Vec::new();
    for (release, facts) in with_model(probe) {
        let who = format!("model {release} vs go{release} probe");
        match model(release) {
            Ok(values) => {
                let shown: Vec<String> = values
                    .iter()
                    .map(|(k, v)| format!("{}={v}", k.as_ref()))
                    .collect();
                eprintln!("model {release} {probe}: {}", shown.join(" "));
                for (name, value) in &values {
                    let name = name.as_ref();
                    match facts.get(name) {
                        Ok(want) if want == value => {}
                        Ok(want) => problems.push(format!(
                            "{who}: {name}: the model has {value}, Go has {want}"
                        )),
                        Err(e) => problems.push(format!("{who}: {e}")),
                    }
                }
            }
            Err(e) => problems.push(format!("{who}: {e}")),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// The model at a point.

/// A built-in scenario's process under a release.
fn process(id: &str, release: GoRelease) -> Result<(Scenario, Process), String> {
    let s = Scenario::by_id(id).map_err(|e| e.to_string())?;
    let mut p = s.process(release).map_err(|e| e.to_string())?;
    p.world.machine.set_history(false);
    Ok((s, p))
}

/// A scenario of this file's own, under a release.
fn own_process(text: &str, release: GoRelease) -> Result<(Scenario, Process), String> {
    let s = Scenario::parse("probes.rs", text).map_err(|e| e.to_string())?;
    let mut p = s.process(release).map_err(|e| e.to_string())?;
    p.world.machine.set_history(false);
    Ok((s, p))
}

/// The budget for reaching a point: the scenarios' own default.
const STEPS: u64 = 1_000_000;

/// Runs the process by its schedule until `thread` (any when `None`) is about to run the
/// instruction at `addr`; returns the thread.
fn reach(p: &mut Process, addr: u64, thread: Option<usize>) -> Result<usize, String> {
    let limit = p.steps() + STEPS;
    loop {
        let t = p
            .next_thread()
            .ok_or_else(|| format!("the process ended before {addr:#x}"))?;
        if p.world.machine.thread(t).cpu.rip == addr && thread.is_none_or(|w| w == t) {
            return Ok(t);
        }
        if p.steps() >= limit {
            return Err(format!("{addr:#x} not reached in {STEPS} steps"));
        }
        p.step_thread(t);
    }
}

fn symbol(p: &Process, name: &str) -> Result<u64, String> {
    p.world
        .program
        .symbol(name)
        .ok_or_else(|| format!("no symbol {name}"))
}

/// The line of `file` in the scenario that contains `needle` (1-based), so that a point
/// is named by its code rather than by a number.
fn line_of(s: &Scenario, file: &str, needle: &str) -> Result<u32, String> {
    let f = s
        .files
        .iter()
        .find(|f| f.path == file)
        .ok_or_else(|| format!("{}: no file {file}", s.id))?;
    f.text
        .lines()
        .position(|l| l.contains(needle))
        .map(|n| n as u32 + 1)
        .ok_or_else(|| format!("{}: {file} has no line with {needle:?}", s.id))
}

/// The address of the instruction right after the one on `file:line`.
fn after_line(p: &Process, file: &str, line: u32) -> Result<u64, String> {
    p.world
        .program
        .instructions
        .iter()
        .find(|l| l.file == file && l.line == line && !l.bytes.is_empty())
        .map(|l| l.addr + l.bytes.len() as u64)
        .ok_or_else(|| format!("no instruction at {file}:{line}"))
}

fn word(p: &Process, a: u64) -> Result<u64, String> {
    p.world
        .machine
        .memory()
        .peek_u64(a)
        .ok_or_else(|| format!("{a:#x} is not mapped"))
}

fn byte(p: &Process, a: u64) -> Result<u8, String> {
    p.world
        .machine
        .memory()
        .peek(a, 1)
        .map(|b| b[0])
        .ok_or_else(|| format!("{a:#x} is not mapped"))
}

/// The offset of a field in the model's release file.
fn off(p: &Process, name: &str) -> Result<u64, String> {
    p.world
        .release
        .offset(name)
        .map(|v| v as u64)
        .ok_or_else(|| format!("the model's release {} has no {name}", p.world.release))
}

/// A bool field as the probes print it: 0 or 1, or -1 when the release's m has no such
/// field.
fn flag(p: &Process, base: u64, name: &str) -> Result<String, String> {
    match p.world.release.offset(name) {
        None => Ok("-1".into()),
        Some(o) => Ok(byte(p, base + o as u64)?.to_string()),
    }
}

fn g_named(p: &Process, name: &str) -> Result<u64, String> {
    p.world
        .gs
        .iter()
        .find(|g| g.name == name)
        .map(|g| g.addr)
        .ok_or_else(|| format!("no g named {name}"))
}

/// How pointer `v` relates to `want`, in the probes' words.
fn rel(v: u64, want: u64) -> String {
    match v {
        _ if v == want => "same",
        0 => "zero",
        _ => "other",
    }
    .into()
}

fn set(v: u64) -> String {
    if v == 0 { "zero" } else { "set" }.into()
}

fn bit(b: bool) -> String {
    if b { "1" } else { "0" }.into()
}

/// A P's status in the probes' words (`_Psyscall`): the `const__P…` states its release
/// file names (Go's own, checked against go_asm.h).
fn p_status(p: &Process, pp: u64) -> Result<String, String> {
    let bytes = p
        .world
        .machine
        .memory()
        .peek(pp + runtime_globals::P_STATUS, 4)
        .ok_or("the P is not mapped")?;
    let s = u32::from_le_bytes(bytes.try_into().map_err(|_| "a short read")?) as i64;
    let mut names: Vec<(String, i64)> = Vec::new();
    for (name, v) in p.world.release.offsets() {
        let Some(state) = name.strip_prefix("const_") else {
            continue;
        };
        if state.starts_with("_P") && state[2..].starts_with(|c: char| c.is_ascii_lowercase()) {
            names.push((state.to_string(), v));
        }
    }
    Ok(names
        .into_iter()
        .find(|(_, v)| *v == s)
        .map_or(format!("unknown{s}"), |(n, _)| n))
}

/// How many threads of the process are inside the instructions of `file`.
fn threads_in(p: &Process, file: &str) -> usize {
    let ins: Vec<(u64, u64)> = p
        .world
        .program
        .instructions
        .iter()
        .filter(|l| l.file == file && !l.bytes.is_empty())
        .map(|l| (l.addr, l.addr + l.bytes.len() as u64))
        .collect();
    p.world
        .machine
        .threads()
        .iter()
        .filter(|t| t.state == machine::machine::ThreadState::Runnable)
        .filter(|t| ins.iter().any(|&(a, b)| (a..b).contains(&t.cpu.rip)))
        .count()
}

// Fact 1: a new goroutine's stack.

/// A goroutine starts with the smallest stack, 2 KiB (`stackMin`, go1.24.3 stack.go:75;
/// `_StackMin`, go1.19.8 stack.go:75; rounded to `fixedStack`, :79), and grows by
/// copying.
#[test]
fn new_goroutine_stack_size_in_go() {
    in_go("newstack", |t, f, problems| {
        for name in [
            "goroutine_stack_bytes",
            "goroutine_stack_bytes_min",
            "goroutine_stack_bytes_max",
        ] {
            expect(problems, &t.version, f, name, "2048");
        }
    });
}

#[test]
fn new_goroutine_stack_size_in_the_model() {
    in_the_model("newstack", |release| {
        // A goroutine as the seed's scenario starts it, before it runs.
        let (_, p) = process("seed-concurrent-cgo", release)?;
        let g = g_named(&p, "g1")?;
        let stack = g + off(&p, "g_stack")?;
        let lo = word(&p, stack + off(&p, "stack_lo")?)?;
        let hi = word(&p, stack + off(&p, "stack_hi")?)?;
        Ok(vec![("goroutine_stack_bytes", (hi - lo).to_string())])
    });
}

// Fact 2: the word below a stack.

/// Goroutine stacks are spans of Go's heap (stackalloc, runtime/stack.go), side by side
/// with no guard page, so the word below g.stack.lo reads; the stack of a thread pthread
/// created has glibc's guard page below it (`pthread_attr_getguardsize`: one page), so it
/// faults.
#[test]
fn word_below_the_stack_in_go() {
    in_go("stackbelow", |t, f, problems| {
        let who = &t.version;
        expect(problems, who, f, "goroutine_below_lo_readable", "1");
        expect(problems, who, f, "goroutine_lo_readable", "1");
        expect(problems, who, f, "c_thread_below_lo_readable", "0");
        expect(problems, who, f, "c_thread_lo_readable", "1");
        expect(problems, who, f, "c_thread_guard_bytes", "4096");
    });
}

#[test]
fn word_below_the_stack_in_the_model() {
    in_the_model("stackbelow", |release| {
        let (_, p) = process("seed-concurrent-cgo", release)?;
        let g = g_named(&p, "g1")?;
        let lo = word(&p, g + off(&p, "g_stack")? + off(&p, "stack_lo")?)?;
        let mapped = |a: u64| bit(p.world.machine.memory().peek_u64(a).is_some());
        let (_, c) = process("c-to-go-needm", release)?;
        let c_lo = c.world.threads[0].stack.0;
        let c_mapped = |a: u64| bit(c.world.machine.memory().peek_u64(a).is_some());
        Ok(vec![
            ("goroutine_below_lo_readable", mapped(lo - 8)),
            ("goroutine_lo_readable", mapped(lo)),
            ("c_thread_below_lo_readable", c_mapped(c_lo - 8)),
            ("c_thread_lo_readable", c_mapped(c_lo)),
        ])
    });
}

// Fact 3: the M and P of a goroutine in a cgo call.

/// entersyscall (via cgocall): go1.19 and go1.24 detach the P, keep it in m.oldp and mark
/// it `_Psyscall` (reentersyscall: go1.24.3 proc.go:4503-4505, go1.19.8 proc.go:3661-3663).
/// go1.27 has no `_Psyscall` (go1.27.3 runtime2.go:143, `_Psyscall_unused`): the M keeps
/// m.p, the P stays `_Prunning` with p.m the M, and m.oldp is set too (go1.27.3
/// proc.go:4688). The probe says which kind its toolchain is (`p_has_syscall_state`, from
/// go_asm.h). Either way sysmon retakes the P after 10 ms in the call when other Ps are
/// idle (retake: go1.24.3 proc.go:6295, go1.27.3 proc.go:6754), so 100 ms in, m.p is 0 and m.oldp
/// stays. A callback from inside the call ends with reentersyscall (go1.24.3
/// cgocall.go:371, go1.19.8 cgocall.go:250): the state of the entry again, no releasep.
#[test]
fn m_and_p_during_a_cgo_call_in_go() {
    in_go("cgocall", |t, f, problems| {
        let who = &t.version;
        let has_psyscall = match f.get("p_has_syscall_state") {
            Ok(v) => v == "1",
            Err(e) => return problems.push(format!("{who}: {e}")),
        };
        let (m_p, status, p_m) = if has_psyscall {
            ("zero", "_Psyscall", "zero")
        } else {
            ("same", "_Prunning", "same")
        };
        for when in ["entry", "callback"] {
            expect(problems, who, f, &format!("{when}_m_p"), m_p);
            expect(problems, who, f, &format!("{when}_m_oldp"), "same");
            expect(problems, who, f, &format!("{when}_p_status"), status);
            expect(problems, who, f, &format!("{when}_p_m"), p_m);
        }
        for when in ["entry", "later", "callback"] {
            expect(problems, who, f, &format!("{when}_m_incgo"), "1");
        }
        expect(problems, who, f, "later_m_p", "zero");
        expect(problems, who, f, "later_m_oldp", "same");
        match f.get("later_p_m") {
            Ok("same") => problems.push(format!(
                "{who}: later_p_m = same: sysmon did not retake the P in 100 ms"
            )),
            Ok(_) => {}
            Err(e) => problems.push(format!("{who}: {e}")),
        }
    });
}

/// A goroutine calls C, which spins for a while and then calls back into Go; the points
/// are the probe's: C entered, C after its wait, C after the callback returned.
const CGO_CALLBACK: &str = r#"
id = "probe-cgo-callback"
title = "A goroutine calls C, and C calls back into Go"
summary = "The cgocall probe's program: C is entered, waits, calls Go back, and waits again."

[world]
threads = [{ name = "thread 1", entry = "main·worker" }]
goroutines = [{ id = 1, thread = 0 }]
ps = 2
sources = [
  { path = "main_amd64.s", syntax = "go" },
  { path = "c.asm", syntax = "intel" },
]

[[files]]
path = "main_amd64.s"
text = '''
#include "textflag.h"

TEXT main·worker(SB), NOSPLIT, $24-0
	MOVQ	$c_call(SB), AX
	MOVQ	AX, 0(SP)
	MOVQ	$0, 8(SP)
	CALL	runtime·cgocall(SB)
	RET

TEXT main·callback(SB), NOSPLIT, $0-8
	RET
'''

[[files]]
path = "c.asm"
text = '''
c_call:
    push rbx
    mov ecx, 1000
.wait:
    pause
    dec ecx
    jne .wait
c_waited:
    lea rdi, [rip+main·callback]
    xor esi, esi
    call runtime·cgocallback
c_called_back:
    pop rbx
    xor eax, eax
    ret
'''
"#;

#[test]
fn m_and_p_during_a_cgo_call_in_the_model() {
    in_the_model("cgocall", |release| {
        let (_, mut p) = own_process(CGO_CALLBACK, release)?;
        let m = p.world.ms[0].addr;
        let call_p = word(&p, m + off(&p, "m_p")?)?;
        let look = |p: &Process, when: &'static str, pp: u64| {
            let name = |what: &str| format!("{when}_{what}");
            Ok::<_, String>(vec![
                (name("m_p"), rel(word(p, m + off(p, "m_p")?)?, pp)),
                (name("m_oldp"), rel(word(p, m + off(p, "m_oldp")?)?, pp)),
                (name("p_status"), p_status(p, pp)?),
                (name("p_m"), rel(word(p, pp + runtime_globals::P_M)?, m)),
                (name("m_incgo"), flag(p, m, "m_incgo")?),
            ])
        };
        let mut values = Vec::new();
        let entry = symbol(&p, "c_call")?;
        reach(&mut p, entry, Some(0))?;
        values.extend(look(&p, "entry", call_p)?);
        let waited = symbol(&p, "c_waited")?;
        reach(&mut p, waited, Some(0))?;
        // Sysmon's retake moves the P whatever the model's state; m.p and m.oldp are
        // what the model must have by then. From go1.27 the M keeps its P until sysmon
        // retakes it, and the model runs no sysmon: 100 ms on, its m.p is what it was at
        // the call's entry, so only m.oldp is compared there (the entry is).
        let keeps_p = release.cgo.syscall_keeps_p;
        values.extend(look(&p, "later", call_p)?.into_iter().filter(|(k, _)| {
            !(k.ends_with("p_status") || k.ends_with("p_m") || keeps_p && k.ends_with("m_p"))
        }));
        let callback = symbol(&p, "main·callback")?;
        reach(&mut p, callback, Some(0))?;
        // Which P the callback gets is the scheduler's choice: the probe's callback_p_is_call_p
        // is not compared.
        let callback_p = word(&p, m + off(&p, "m_p")?)?;
        let back = symbol(&p, "c_called_back")?;
        reach(&mut p, back, Some(0))?;
        values.extend(look(&p, "callback", callback_p)?);
        Ok(values)
    });
}

// Fact 4: a C thread's extra M, back in C.

/// go1.21+ keeps the extra M bound to the C thread (needAndBindM, go1.24.3 proc.go:2383)
/// and, back in C, has incgo and isExtraInC set again (cgocallbackg: go1.24.3
/// cgocall.go:355 and :361); m.p is 0 (reentersyscall) and the M is not in the free
/// list. go1.19's m has no isextra or isExtraInC (the probe prints -1), sets incgo the
/// same way (go1.19.8 cgocall.go:241) and returns the M to the free list (dropm) after
/// each call. The moment the thread is back in C, go1.19 and go1.24 have given up the P
/// (reentersyscall); go1.27 keeps it (go1.27.3 cgocall.go:383, with no `_Psyscall`)
/// until sysmon retakes it, which it has 100 ms on.
#[test]
fn extra_m_of_a_c_thread_in_go() {
    in_go("cthread", |t, f, problems| {
        let who = &t.version;
        let bound = probes::binds_extra_m(t);
        let (isextra, in_c, free) = if bound {
            ("1", "1", "0")
        } else {
            ("-1", "-1", "1")
        };
        expect(problems, who, f, "back_in_c_m_incgo", "1");
        expect(problems, who, f, "back_in_c_m_isextra", isextra);
        expect(problems, who, f, "back_in_c_m_isExtraInC", in_c);
        expect(problems, who, f, "back_in_c_m_in_free_list", free);
        expect(problems, who, f, "back_in_c_m_p", "zero");
        let at_once = match f.get("p_has_syscall_state") {
            Ok("1") => "zero",
            Ok(_) => "set",
            Err(e) => return problems.push(format!("{who}: {e}")),
        };
        expect(problems, who, f, "back_in_c_at_once_m_p", at_once);
    });
}

/// The free extra Ms of the model: its table (`go-model/runtime/model.h`).
fn free_extra_ms(p: &Process) -> Result<Vec<u64>, String> {
    let n = word(p, runtime_globals::EXTRAM_COUNT)?;
    if n > runtime_globals::EXTRAM_CAPACITY {
        return Err(format!("the extra-M count is {n}"));
    }
    (0..n)
        .map(|k| word(p, runtime_globals::EXTRAM_SLOTS + 8 * k))
        .collect()
}

/// c-to-go-needm stopped back in C after the thread's first call into Go.
fn back_in_c(release: GoRelease) -> Result<Process, String> {
    let (s, mut p) = process("c-to-go-needm", release)?;
    let line = line_of(&s, "cmain.asm", "call runtime·cgocallback")?;
    let addr = after_line(&p, "cmain.asm", line)?;
    reach(&mut p, addr, Some(0))?;
    Ok(p)
}

#[test]
fn extra_m_of_a_c_thread_in_the_model() {
    in_the_model("cthread", |release| {
        let p = back_in_c(release)?;
        let m = p
            .world
            .ms
            .iter()
            .find(|m| m.extra)
            .ok_or("the world has no extra M")?
            .addr;
        let mut values = vec![
            (
                "back_in_c_m_in_free_list",
                bit(free_extra_ms(&p)?.contains(&m)),
            ),
            ("back_in_c_m_incgo", flag(&p, m, "m_incgo")?),
            ("back_in_c_m_isextra", flag(&p, m, "m_isextra")?),
            ("back_in_c_m_isExtraInC", flag(&p, m, "m_isExtraInC")?),
            ("back_in_c_at_once_m_p", set(word(&p, m + off(&p, "m_p")?)?)),
        ];
        // The model has no sysmon: its state at once is its state 100 ms on. Up to
        // go1.26 the P was let go at once, so the two agree; from go1.27 the M keeps it
        // until sysmon retakes it, which the model does not run, so only the state at
        // once is compared.
        if !release.cgo.syscall_keeps_p {
            values.push(("back_in_c_m_p", set(word(&p, m + off(&p, "m_p")?)?)));
        }
        Ok(values)
    });
}

// Fact 5: C calls in flight on one P and one CPU.

/// A goroutine in a cgo call has given up its P for sysmon to retake (or, go1.26+, keeps
/// it only until then), so on one P and one CPU a second goroutine gets to run and enters
/// C too: two calls in flight, whether C spins or sleeps.
#[test]
fn c_calls_in_flight_on_one_cpu_in_go() {
    in_go("inflight", |t, f, problems| {
        let who = &t.version;
        expect(problems, who, f, "gomaxprocs", "1");
        expect(problems, who, f, "cpus", "1");
        expect(problems, who, f, "in_flight_max_spin", "2");
        expect(problems, who, f, "in_flight_max_sleep", "2");
    });
}

#[test]
fn c_calls_in_flight_on_one_cpu_in_the_model() {
    in_the_model("inflight", |release| {
        let (s, mut p) = process("seed-concurrent-cgo-one-cpu", release)?;
        let file = s
            .files
            .iter()
            .find(|f| f.path.ends_with(".asm"))
            .ok_or("the scenario has no C file")?
            .path
            .clone();
        let mut most = 0;
        let limit = p.steps() + s.max_steps;
        while p.steps() < limit && p.step().is_some() {
            most = most.max(threads_in(&p, &file));
        }
        let most = most.to_string();
        Ok(vec![
            ("in_flight_max_spin", most.clone()),
            ("in_flight_max_sleep", most),
        ])
    });
}

// Fact 6: g.sched of a running goroutine.

/// newproc1 sets g.sched.g to the g (go1.24.3 proc.go:5076) and nothing clears it; gogo
/// clears sched.sp, ret, ctxt and bp but not sched.pc (go1.24.3 asm_amd64.s:418-422,
/// go1.19.8 asm_amd64.s:413-417), so a running g's sched keeps the g and a stale PC.
#[test]
fn sched_of_a_running_goroutine_in_go() {
    in_go("schedg", |t, f, problems| {
        for when in ["fresh", "after_park", "after_cgocall"] {
            expect(
                problems,
                &t.version,
                f,
                &format!("{when}_sched_g_is_g"),
                "1",
            );
            expect(problems, &t.version, f, &format!("{when}_sched_pc"), "set");
        }
    });
}

#[test]
fn sched_of_a_running_goroutine_in_the_model() {
    in_the_model("schedg", |release| {
        let (s, mut p) = process("asmcgocall-roundtrip", release)?;
        let g = g_named(&p, "g1")?;
        let sched = g + off(&p, "g_sched")?;
        let look = |p: &Process, when: &'static str| {
            let name = |what: &str| format!("{when}_{what}");
            Ok::<_, String>(vec![
                (
                    name("sched_g_is_g"),
                    bit(word(p, sched + off(p, "gobuf_g")?)? == g),
                ),
                (name("sched_pc"), set(word(p, sched + off(p, "gobuf_pc")?)?)),
            ])
        };
        let main = symbol(&p, "main·main")?;
        reach(&mut p, main, Some(0))?;
        let mut values = look(&p, "fresh")?;
        let line = line_of(&s, "main_amd64.s", "CALL\truntime·cgocall")?;
        let back = after_line(&p, "main_amd64.s", line)?;
        reach(&mut p, back, Some(0))?;
        values.extend(look(&p, "after_cgocall")?);
        Ok(values)
    });
}

// Fact 7: the free extra-M list around a C thread's first call.

/// Go makes one extra M at start when cgo is in (mstartm0 → newextram: go1.24.3
/// proc.go:1877, go1.19.8 proc.go:1447); the C thread's needm takes it and, having taken
/// the last, sets needextram, so cgocallbackg1 makes a new one before the Go function runs
/// (go1.24.3 cgocall.go:385, go1.19.8 cgocall.go:262): one free during the call. After
/// it go1.21+ keeps the used M bound (one free), while go1.19's dropm returns it (two).
#[test]
fn extra_m_list_around_needm_in_go() {
    in_go("cthread", |t, f, problems| {
        let who = &t.version;
        let bound = probes::binds_extra_m(t);
        let after = if bound { "1" } else { "2" };
        for (name, want) in [
            ("extram_before", "1"),
            ("extram_during", "1"),
            ("extram_after", after),
        ] {
            expect(problems, who, f, name, want);
            expect(problems, who, f, &format!("{name}_walked"), want);
        }
    });
}

#[test]
fn extra_m_list_around_needm_in_the_model() {
    in_the_model("cthread", |release| {
        let (_, mut p) = process("c-to-go-needm", release)?;
        let before = free_extra_ms(&p)?.len();
        let callback = symbol(&p, "main·callback")?;
        reach(&mut p, callback, Some(0))?;
        let during = free_extra_ms(&p)?.len();
        let after = free_extra_ms(&back_in_c(release)?)?.len();
        Ok(vec![
            ("extram_before", before.to_string()),
            ("extram_during", during.to_string()),
            ("extram_after", after.to_string()),
        ])
    });
}
