//! Real Go executables, unmodified, on the machine through the `linux` crate: each target
//! is built with every installed toolchain into a temporary folder and run both in the
//! machine and natively, and what the machine's run prints is compared with the native
//! run or with what the program must print.

use linux::files::FileView;
use linux::{Config, Entry, Outcome, Process};
use stackswitch_tests::toolchains::{self, Toolchain};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

/// Host files, read-only, as the CLI gives them.
struct Host;

impl FileView for Host {
    fn get(&self, path: &str) -> Option<Entry> {
        let meta = std::fs::symlink_metadata(path).ok()?;
        if meta.file_type().is_symlink() {
            let t = std::fs::read_link(path).ok()?;
            return Some(Entry::Link(t.to_string_lossy().into_owned()));
        }
        if meta.is_dir() {
            return Some(Entry::Dir);
        }
        std::fs::read(path).ok().map(|b| Entry::File(Arc::new(b)))
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Link {
    /// CGO_ENABLED=0.
    Static,
    /// cgo, linked statically with glibc.
    StaticCgo,
    /// cgo, linked dynamically (PT_INTERP).
    DynamicCgo,
}

const HELLO: &str = r#"package main

import "fmt"

func main() { fmt.Println("hello") }
"#;

const GOROUTINES: &str = r#"package main

import (
	"fmt"
	"sync"
)

func main() {
	ch := make(chan int)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s := 0
			for j := 0; j <= i*1000; j++ {
				s += j
			}
			ch <- s
		}(i)
	}
	go func() { wg.Wait(); close(ch) }()
	total := 0
	for s := range ch {
		total += s
	}
	fmt.Println("total", total)
}
"#;

const NIL: &str = r#"package main

import "fmt"

type T struct{ x int }

func main() {
	var p *T
	fmt.Println("before")
	fmt.Println(p.x)
}
"#;

const CGO: &str = r#"package main

/*
#include <pthread.h>
static int result;
static void *work(void *arg) { result = 6 * 7; return 0; }
static int run(void) {
	pthread_t t;
	if (pthread_create(&t, 0, work, 0) != 0) return -1;
	pthread_join(t, 0);
	return result;
}
*/
import "C"
import "fmt"

func main() { fmt.Println("cgo", C.run()) }
"#;

/// Builds `source` with `tc` into a temporary folder and returns the executable's path.
fn build(tc: &Toolchain, name: &str, source: &str, link: Link) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stackswitch-linux-{}-{name}", tc.version));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("main.go"), source).expect("write main.go");
    let exe = dir.join("prog");
    let mut go = tc.go();
    go.current_dir(&dir).args(["build", "-o"]).arg(&exe);
    match link {
        Link::Static => go.env("CGO_ENABLED", "0"),
        Link::StaticCgo => go
            .env("CGO_ENABLED", "1")
            .args(["-ldflags", "-linkmode external -extldflags -static"]),
        Link::DynamicCgo => go.env("CGO_ENABLED", "1"),
    };
    let out = go.arg("main.go").output().expect("go runs");
    assert!(
        out.status.success(),
        "{}: go build {name}: {}",
        tc.version,
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// Runs the executable in the machine to its end.
fn load(exe: &Path, seed: u64) -> Process {
    let bytes = std::fs::read(exe).expect("read the executable");
    let config = Config {
        argv: vec![exe.to_string_lossy().into_owned()],
        envp: Vec::new(),
        seed,
        files: Box::new(Host),
        exe_path: exe.to_string_lossy().into_owned(),
        cwd: "/".into(),
        trace_syscalls: false,
    };
    Process::load(&bytes, config).expect("the executable loads")
}

fn run(exe: &Path, seed: u64) -> (Process, Outcome) {
    let mut p = load(exe, seed);
    p.set_history(false);
    let o = p.run(200_000_000);
    (p, o)
}

/// The same executable run natively: (status, stdout, stderr).
fn native(exe: &Path) -> (i32, String, String) {
    let out = Command::new(exe)
        .env_clear()
        .output()
        .expect("runs natively");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn text(p: &Process, fd: u32) -> String {
    String::from_utf8_lossy(&p.output_of(fd)).into_owned()
}

#[test]
fn hello_world_prints_hello_with_every_toolchain() {
    for tc in toolchains::required("Go's hello world in the machine") {
        let exe = build(&tc, "hello", HELLO, Link::Static);
        let started = Instant::now();
        let (p, outcome) = run(&exe, 0);
        let wall = started.elapsed();
        assert_eq!(
            outcome,
            Outcome::Exited(0),
            "{}: {}",
            tc.version,
            text(&p, 2)
        );
        assert_eq!(text(&p, 1), "hello\n", "{}", tc.version);
        assert!(
            p.unknown_syscalls().is_empty(),
            "{}: unknown system calls {:?}",
            tc.version,
            p.unknown_syscalls()
        );
        // Go's runtime starts sysmon and GC workers on threads of their own.
        assert!(p.machine.threads().len() >= 2, "{}", tc.version);
        eprintln!(
            "{}: hello in {} steps, {} threads, {:?} (debug build)",
            tc.version,
            p.machine.step_count(),
            p.machine.threads().len(),
            wall
        );
    }
}

#[test]
fn goroutines_and_channels_print_what_the_native_run_prints() {
    for tc in toolchains::required("goroutines in the machine") {
        let exe = build(&tc, "goroutines", GOROUTINES, Link::Static);
        let (p, outcome) = run(&exe, 3);
        let (status, stdout, _) = native(&exe);
        assert_eq!(
            outcome.status(),
            Some(status),
            "{}: {}",
            tc.version,
            text(&p, 2)
        );
        assert_eq!(text(&p, 1), stdout, "{}", tc.version);
        assert_eq!(stdout, "total 70014000\n");
    }
}

#[test]
fn a_nil_dereference_is_gos_own_panic_report_as_natively() {
    for tc in toolchains::required("Go's nil dereference report in the machine") {
        let exe = build(&tc, "nil", NIL, Link::Static);
        let (p, outcome) = run(&exe, 0);
        let (status, stdout, stderr) = native(&exe);
        assert_eq!(status, 2);
        assert_eq!(outcome, Outcome::Exited(2), "{}", tc.version);
        assert_eq!(text(&p, 1), stdout);
        let got = text(&p, 2);
        assert!(
            got.starts_with(
                "panic: runtime error: invalid memory address or nil pointer dereference\n\
                 [signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc="
            ),
            "{}: {got}",
            tc.version
        );
        // The same binary: the same pc, the same traceback, line for line.
        assert_eq!(got, stderr, "{}", tc.version);
    }
}

#[test]
fn static_cgo_starts_glibc_and_creates_a_pthread() {
    for tc in toolchains::required("static cgo in the machine") {
        let exe = build(&tc, "cgo-static", CGO, Link::StaticCgo);
        let (p, outcome) = run(&exe, 0);
        assert_eq!(
            outcome,
            Outcome::Exited(0),
            "{}: {}",
            tc.version,
            text(&p, 2)
        );
        assert_eq!(text(&p, 1), "cgo 42\n", "{}", tc.version);
    }
}

#[test]
fn dynamic_cgo_loads_the_hosts_loader_and_glibc_through_the_file_view() {
    for tc in toolchains::required("dynamically linked cgo in the machine") {
        let exe = build(&tc, "cgo-dynamic", CGO, Link::DynamicCgo);
        let (p, outcome) = run(&exe, 0);
        assert_eq!(
            outcome,
            Outcome::Exited(0),
            "{}: {}",
            tc.version,
            text(&p, 2)
        );
        assert_eq!(text(&p, 1), "cgo 42\n", "{}", tc.version);
        let opened = p.syscall_counts().get("openat").copied().unwrap_or(0);
        assert!(
            opened >= 1,
            "{}: ld.so opens libc through the view",
            tc.version
        );
    }
}

/// Everything a run leaves that two runs can be compared by.
fn fingerprint(p: &Process) -> (u64, Vec<machine::Cpu>, Vec<u8>, Vec<u8>, usize) {
    (
        p.machine.step_count(),
        p.machine.threads().iter().map(|t| t.cpu).collect(),
        p.output_of(1),
        p.output_of(2),
        p.machine.threads().len(),
    )
}

#[test]
fn the_same_seed_gives_the_same_run_step_for_step() {
    let Some(tc) = toolchains::required("determinism of real runs").pop() else {
        return;
    };
    let exe = build(&tc, "goroutines", GOROUTINES, Link::Static);
    let (a, oa) = run(&exe, 11);
    let (b, ob) = run(&exe, 11);
    assert_eq!(oa, Outcome::Exited(0));
    assert_eq!(oa, ob);
    assert_eq!(fingerprint(&a), fingerprint(&b));
    assert_eq!(a.syscall_counts(), b.syscall_counts());
    // Another seed schedules differently (here: a different count of steps to the end).
    let (c, _) = run(&exe, 12);
    assert_eq!(text(&c, 1), text(&a, 1));
    assert_ne!(c.machine.step_count(), a.machine.step_count());
}

#[test]
fn step_back_across_system_calls_and_thread_creation_is_exact() {
    let Some(tc) = toolchains::required("step back across a real run").pop() else {
        return;
    };
    let exe = build(&tc, "hello", HELLO, Link::Static);
    let mut p = load(&exe, 5);
    // Run to a point before any thread is created, remember it, run on to the end.
    let k = 20_000;
    assert_eq!(p.run(k), Outcome::Budget);
    let at_k = fingerprint(&p);
    assert_eq!(at_k.4, 1, "one thread at step {k}");
    let end = p.run(50_000_000);
    assert_eq!(end, Outcome::Exited(0));
    let at_end = fingerprint(&p);
    assert!(at_end.4 >= 2, "threads were created after step {k}");
    assert_eq!(at_end.2, b"hello\n");
    let calls: u64 = p.syscall_counts().values().sum();
    assert!(calls > 50, "the run made system calls ({calls})");
    // Back to step k: the threads, registers and output are as they were.
    assert!(p.go_back_to(k));
    assert_eq!(fingerprint(&p), at_k);
    // And forward again: the same end.
    assert_eq!(p.run(50_000_000), Outcome::Exited(0));
    assert_eq!(fingerprint(&p), at_end);
}
