//! The session over a real executable (`session::program`): Go programs built here by a
//! real toolchain, run to a breakpoint on a runtime symbol, stepped and stepped back, with
//! the stacks read through TLS and the binary's DWARF checked against what the runtime
//! itself holds.

use session::program::{ProgramConfig, ProgramError, ProgramSession, ProgramState, StackKind};
use stackswitch_tests::realgo::{self, Link};
use stackswitch_tests::toolchains;
use std::path::PathBuf;

/// Builds program `name` of tests/real-programs statically with every installed
/// toolchain: the executables with their Go versions.
fn build_all(name: &str) -> Vec<(PathBuf, String)> {
    toolchains::required("program sessions")
        .iter()
        .map(|tc| build_with(tc, name))
        .collect()
}

/// Builds it with the newest toolchain.
fn build(name: &str) -> Option<(PathBuf, String)> {
    let mut tcs = toolchains::required("program sessions");
    tcs.sort_by_key(|t| {
        t.minor
            .split('.')
            .map(|n| n.parse::<u32>().unwrap_or(0))
            .collect::<Vec<_>>()
    });
    Some(build_with(tcs.last()?, name))
}

fn build_with(tc: &toolchains::Toolchain, name: &str) -> (PathBuf, String) {
    let program = realgo::programs()
        .expect("the program specs read")
        .into_iter()
        .find(|p| p.name == name)
        .expect("the program exists");
    let out = std::env::temp_dir().join(format!(
        "stackswitch-program-session-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&out).unwrap();
    let exe = realgo::build(tc, &program, Link::Static, &out).unwrap_or_else(|e| panic!("{e}"));
    (exe, tc.version.clone())
}

fn open(exe: &PathBuf, name: &str) -> ProgramSession {
    ProgramSession::open(ProgramConfig {
        name: name.into(),
        elf: std::fs::read(exe).unwrap(),
        argv: vec![name.into()],
        envp: vec!["GOTRACEBACK=single".into()],
        seed: 1,
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Runs the command in progress to its end.
fn finish(s: &mut ProgramSession) {
    let mut slices = 0;
    while s.work(u64::MAX, &|| false) {
        slices += 1;
        assert!(slices < 1_000_000, "the run never ends");
    }
}

#[test]
fn morestack_is_reached_and_step_back_restores_registers_and_memory() {
    let Some((exe, version)) = build("stack-overflow") else {
        return;
    };
    let mut s = open(&exe, "stack-overflow");
    let entry = s.set_breakpoint("runtime.morestack").unwrap();
    assert_eq!(
        s.binary()
            .unwrap()
            .function_named("runtime.morestack")
            .unwrap()
            .entry,
        entry
    );
    s.run().unwrap();
    finish(&mut s);
    let ProgramState::AtBreakpoint { thread } = *s.state() else {
        panic!("{version}: not at the breakpoint: {:?}", s.state())
    };
    let snap = s.snapshot();
    assert_eq!(snap.threads[thread].rip, entry);
    assert_eq!(
        snap.threads[thread].code.as_ref().unwrap().function,
        "runtime.morestack"
    );
    assert!(snap.listing.iter().any(|i| i.current && i.addr == entry));

    // Twenty steps, then twenty back: every register and the stack's words as they were.
    let m = &s.process().machine;
    let cpu_before = m.thread(thread).cpu;
    let rsp = cpu_before.gpr[machine_rsp()];
    let stack_before = m.memory().peek(rsp - 4096, 8192).unwrap();
    let step_before = m.step_count();
    for _ in 0..20 {
        s.step().unwrap();
    }
    let m = &s.process().machine;
    assert_eq!(m.step_count(), step_before + 20);
    assert_ne!(
        m.thread(thread).cpu.rip,
        cpu_before.rip,
        "the steps moved RIP"
    );
    for _ in 0..20 {
        s.step_back().unwrap();
    }
    let m = &s.process().machine;
    assert_eq!(m.step_count(), step_before);
    assert_eq!(m.thread(thread).cpu, cpu_before);
    assert_eq!(m.memory().peek(rsp - 4096, 8192).unwrap(), stack_before);
    // The window starts at the breakpoint: no further back.
    assert_eq!(s.step_back(), Err(ProgramError::WindowStart));

    // Run on: the next morestack, and at last the stack-overflow report and exit 2.
    s.clear_breakpoint();
    s.run().unwrap();
    finish(&mut s);
    let snap = s.snapshot();
    assert!(
        matches!(
            snap.state,
            ProgramState::Ended {
                status: Some(2),
                ..
            }
        ),
        "{:?}\n{}",
        snap.state,
        snap.stderr
    );
    assert!(snap
        .stderr
        .starts_with("runtime: goroutine stack exceeds 1048576-byte limit"));
}

fn machine_rsp() -> usize {
    session::machine::cpu::RSP
}

#[test]
fn the_stacks_bounds_are_what_the_runtime_holds() {
    for (exe, version) in build_all("hello") {
        stacks_at_main_main(&exe, &version);
    }
}

fn stacks_at_main_main(exe: &PathBuf, version: &str) {
    let mut s = open(exe, "hello");
    s.set_breakpoint("main.main").unwrap();
    s.run().unwrap();
    finish(&mut s);
    let ProgramState::AtBreakpoint { thread } = *s.state() else {
        panic!("{version}: not at main.main: {:?}", s.state())
    };
    let snap = s.snapshot();
    if let Ok(path) = std::env::var("PROGRAM_SNAPSHOT_JSON") {
        std::fs::write(path, serde_json::to_string_pretty(&snap).unwrap()).unwrap();
    }
    let bin = s.binary().unwrap();
    let goroutine = snap
        .stacks
        .iter()
        .find(|k| k.kind == StackKind::Goroutine)
        .expect("the goroutine's stack");
    let g0 = snap
        .stacks
        .iter()
        .find(|k| k.kind == StackKind::G0)
        .unwrap();
    let gsignal = snap
        .stacks
        .iter()
        .find(|k| k.kind == StackKind::Gsignal)
        .unwrap();
    // main.main runs on goroutine 1's stack, RSP inside it; a goroutine's stack is a power
    // of two (runtime/stack.go stackalloc) and main's starts at the minimum or a bit more.
    let rsp = s.process().machine.thread(thread).cpu.gpr[machine_rsp()];
    assert!(goroutine.live && goroutine.running);
    assert_eq!(goroutine.goid, Some(1));
    assert!((goroutine.lo..goroutine.hi).contains(&rsp));
    assert!((goroutine.hi - goroutine.lo).is_power_of_two());
    // The main thread's m is runtime.m0 and its g0 runtime.g0 (runtime/proc.go): the
    // addresses found through TLS and m's DWARF offsets are the binary's own symbols.
    let structures = &snap.structures;
    let m = structures.iter().find(|st| st.label == "m").unwrap();
    assert_eq!(Some(m.addr), bin.symbol("runtime.m0"), "{version}");
    assert_eq!(Some(g0.g), bin.symbol("runtime.g0"));
    let m_field = |n: &str| m.fields.iter().find(|f| f.name == n).and_then(|f| f.value);
    assert_eq!(m_field("g0"), Some(g0.g));
    assert_eq!(m_field("gsignal"), Some(gsignal.g));
    assert_eq!(m_field("curg"), Some(goroutine.g));
    assert!(snap.linking.contains("pure Go"), "{}", snap.linking);
    // g0 runs on the OS thread's stack (rt0_go: lo 64 KiB below its SP); gsignal has the
    // 32 KiB signal stack malg makes (runtime/os_linux.go mpreinit).
    assert!(!g0.live && !gsignal.live);
    let initial = s.process().machine.memory().peek_u64(g0.hi - 8).is_some();
    assert!(initial && g0.hi > gsignal.hi.max(goroutine.hi));
    assert_eq!(gsignal.hi - gsignal.lo, 32 * 1024);
    // g.stack as the structures view shows it, field by field, is the same pair.
    let g = structures
        .iter()
        .find(|st| st.label == "g (running)")
        .unwrap();
    let field = |n: &str| g.fields.iter().find(|f| f.name == n).and_then(|f| f.value);
    assert_eq!(field("stack.lo"), Some(goroutine.lo));
    assert_eq!(field("stack.hi"), Some(goroutine.hi));
    // stackguard0 is lo + the stack guard (runtime/stack.go: StackGuard, 928 bytes on
    // linux/amd64 since Go 1.x with the nosplit limit) — at least above lo, well below hi.
    let guard = field("stackguard0").unwrap();
    assert!(guard > goroutine.lo && guard < goroutine.lo + 4096);
    // The words of the live stack are named from pcsp: the first is main.main's (or its
    // return address into runtime.main), and some word is the return into runtime.main.
    assert!(goroutine.words.iter().any(|w| w
        .reading
        .as_deref()
        .is_some_and(|r| r.starts_with("runtime.main+"))));
    assert!(goroutine.words[0].frame.is_some());
    // Stepping over main.main's calls runs hello to its output.
    let mut steps = 0;
    while !snap_stdout(&s).contains("hello") && steps < 2000 {
        s.step_over().unwrap();
        finish(&mut s);
        steps += 1;
    }
    assert!(
        snap_stdout(&s).contains("hello"),
        "{version}: {}",
        snap_stdout(&s)
    );
}

fn snap_stdout(s: &ProgramSession) -> String {
    String::from_utf8_lossy(&s.process().output_of(1)).into_owned()
}

#[test]
fn bad_input_is_a_clear_error() {
    let err = |bytes: Vec<u8>| {
        ProgramSession::open(ProgramConfig {
            name: "x".into(),
            elf: bytes,
            argv: vec![],
            envp: vec![],
            seed: 0,
        })
        .err()
        .expect("refused")
    };
    assert!(matches!(
        err(b"#!/bin/sh\necho hi\n".to_vec()),
        ProgramError::NotExecutable(_)
    ));
    let Some((exe, _)) = build("hello") else {
        return;
    };
    let bytes = std::fs::read(&exe).unwrap();
    assert!(matches!(
        err(bytes[..100].to_vec()),
        ProgramError::NotExecutable(_)
    ));
    // A dynamically linked executable (this test's own) asks for ld.so, which the page
    // does not have.
    let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    match err(me) {
        ProgramError::Dynamic { interpreter } => assert!(interpreter.contains("ld-linux")),
        e => panic!("{e:?}"),
    }
    let mut s = open(&exe, "hello");
    assert_eq!(
        s.set_breakpoint("runtime.nosuchthing"),
        Err(ProgramError::UnknownSymbol("runtime.nosuchthing".into()))
    );
    assert!(s
        .suggestions("morestack", 5)
        .contains(&"runtime.morestack".to_string()));
}

/// Runs `exe` to its end in slices of `slice` steps; the steps it took and its stdout.
fn run_in_slices(exe: &PathBuf, slice: u64) -> (u64, Vec<u8>) {
    let mut p = linux::Process::load(
        &std::fs::read(exe).unwrap(),
        linux::Config {
            argv: vec!["goroutines".into()],
            envp: vec!["GOTRACEBACK=single".into()],
            seed: 1,
            exe_path: "/goroutines".into(),
            ..linux::Config::default()
        },
    )
    .unwrap();
    p.set_history(false);
    let mut total = 0;
    while p.run(slice) == linux::Outcome::Budget {
        total += slice;
        assert!(total < 2_000_000_000, "it never ends");
    }
    assert_eq!(p.outcome(), Some(&linux::Outcome::Exited(0)));
    (p.machine.step_count(), p.output_of(1))
}

#[test]
fn how_a_front_end_slices_a_run_does_not_change_the_schedule() {
    // The page runs in slices; a breakpoint stops mid-slice. Neither may change which
    // thread runs when: a goroutines-and-channels program takes exactly the same steps.
    let Some((exe, version)) = build("goroutines") else {
        return;
    };
    let whole = run_in_slices(&exe, u64::MAX);
    assert_eq!(run_in_slices(&exe, 1_000), whole, "{version}");
    assert_eq!(run_in_slices(&exe, 77_777), whole, "{version}");
    // Stopping at every entry of runtime.futex on the way changes nothing either.
    let bytes = std::fs::read(&exe).unwrap();
    let futex = gobin::Binary::parse(&bytes)
        .unwrap()
        .function_named("runtime.futex")
        .unwrap()
        .entry;
    let mut p = linux::Process::load(
        &bytes,
        linux::Config {
            argv: vec!["goroutines".into()],
            envp: vec!["GOTRACEBACK=single".into()],
            seed: 1,
            exe_path: "/goroutines".into(),
            ..linux::Config::default()
        },
    )
    .unwrap();
    p.set_history(false);
    let mut hits = 0;
    loop {
        match p.run_to(u64::MAX, futex) {
            Ok(t) => {
                assert_eq!(p.machine.thread(t).cpu.rip, futex);
                hits += 1;
                assert_eq!(p.run(1), linux::Outcome::Budget);
            }
            Err(o) => {
                assert_eq!(o, linux::Outcome::Exited(0));
                break;
            }
        }
    }
    assert!(hits > 0);
    assert_eq!((p.machine.step_count(), p.output_of(1)), whole, "{version}");
}

#[test]
fn a_static_cgo_binary_finds_g_behind_glibc_tls() {
    // In an externally linked binary g's TLS slot is `runtime.tlsg`'s offset in the PT_TLS
    // segment, behind glibc's own thread variables: not FS-8.
    for tc in toolchains::required("program sessions") {
        cgo_at_asmcgocall(&tc);
    }
}

fn cgo_at_asmcgocall(tc: &toolchains::Toolchain) {
    let program = realgo::programs()
        .unwrap()
        .into_iter()
        .find(|p| p.name == "cgo-c-null-write")
        .unwrap();
    let out = std::env::temp_dir().join(format!(
        "stackswitch-program-session-{}",
        std::process::id()
    ));
    let exe = realgo::build(tc, &program, Link::CgoStatic, &out).unwrap_or_else(|e| panic!("{e}"));
    let mut s = open(&exe, "cgo-c-null-write");
    s.set_breakpoint("runtime.asmcgocall").unwrap();
    s.run().unwrap();
    finish(&mut s);
    // The runtime's own C calls (x_cgo_init, its sigaction and mmap wrappers) go through
    // asmcgocall on g0 first; main's call of C comes from the goroutine's stack.
    let mut snap = s.snapshot();
    for _ in 0..200 {
        let ProgramState::AtBreakpoint { .. } = *s.state() else {
            panic!("{}: not at asmcgocall: {:?}", tc.version, s.state())
        };
        snap = s.snapshot();
        // Wherever it is called from, RSP is in one of the m's stacks found through TLS.
        assert!(
            snap.stacks.iter().any(|c| c.live),
            "{}: RSP in no stack: {:?}",
            tc.version,
            snap.stacks
                .iter()
                .map(|c| (c.kind, c.lo, c.hi))
                .collect::<Vec<_>>()
        );
        if snap
            .stacks
            .iter()
            .any(|c| c.kind == StackKind::Goroutine && c.live)
        {
            break;
        }
        s.run().unwrap();
        finish(&mut s);
    }
    assert!(snap.linking.contains("cgo"), "{}", snap.linking);
    let kind = |k: StackKind| snap.stacks.iter().find(|c| c.kind == k);
    let goroutine = kind(StackKind::Goroutine).expect("the goroutine's stack");
    let g0 = kind(StackKind::G0).expect("g0's stack");
    assert!(
        goroutine.live,
        "{}: asmcgocall is entered on the goroutine stack",
        tc.version
    );
    assert!(kind(StackKind::Gsignal).is_some());
    let m = snap.structures.iter().find(|st| st.label == "m").unwrap();
    let g0_field = m
        .fields
        .iter()
        .find(|f| f.name == "g0")
        .and_then(|f| f.value);
    assert_eq!(g0_field, Some(g0.g));
    let g = snap
        .structures
        .iter()
        .find(|st| st.label == "g (running)")
        .unwrap();
    assert_eq!(g.addr, goroutine.g);
    // The C code runs later on g0: run on to the C function's fault, killed by SIGSEGV's
    // report (exit 2), the page's own clear end.
    s.clear_breakpoint();
    s.run().unwrap();
    finish(&mut s);
    assert!(
        matches!(
            s.state(),
            ProgramState::Ended {
                status: Some(2),
                ..
            }
        ),
        "{:?}",
        s.state()
    );
}
