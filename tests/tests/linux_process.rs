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

/// A goroutine that never yields: main runs again only if sysmon preempts it, which Go does
/// with SIGURG sent by tgkill (runtime/preempt.go, signal_unix.go); time.Sleep waits in
/// the network poller (epoll_pwait with a timeout) while every thread is idle.
const PREEMPT: &str = r#"package main

import (
	"fmt"
	"runtime"
	"time"
)

func main() {
	runtime.GOMAXPROCS(1)
	go func() {
		for {
		}
	}()
	time.Sleep(10 * time.Millisecond)
	fmt.Println("preempted")
}
"#;

/// A NULL write in C code called from Go: Go's signal handler reports the SIGSEGV that
/// arrived during cgo execution and the goroutine's stack, and exits with 2.
const CGO_NULL: &str = r#"package main

/*
static void crash(void) { *(volatile int *)0 = 1; }
*/
import "C"
import "fmt"

func main() {
	fmt.Println("calling C")
	C.crash()
}
"#;

/// A report with its hexadecimal numbers written as `0x…`, for comparing reports whose
/// heap and stack addresses depend on the environment.
fn without_hex(report: &str) -> String {
    let mut out = String::new();
    let mut rest = report;
    while let Some(i) = rest.find("0x") {
        out.push_str(&rest[..i]);
        out.push_str("0x…");
        rest = rest[i + 2..].trim_start_matches(|c: char| c.is_ascii_hexdigit());
    }
    out.push_str(rest);
    out
}

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
fn a_spinning_goroutine_is_preempted_by_sigurg_and_sleep_uses_the_poller() {
    for tc in toolchains::required("Go's asynchronous preemption in the machine") {
        let exe = build(&tc, "preempt", PREEMPT, Link::Static);
        let (p, outcome) = run(&exe, 0);
        assert_eq!(
            outcome,
            Outcome::Exited(0),
            "{}: {}",
            tc.version,
            text(&p, 2)
        );
        assert_eq!(text(&p, 1), "preempted\n", "{}", tc.version);
        let calls = p.syscall_counts();
        assert!(
            calls.get("tgkill").is_some_and(|&n| n >= 1),
            "{}: {calls:?}",
            tc.version
        );
        assert!(
            calls.get("rt_sigreturn").is_some_and(|&n| n >= 1),
            "{}",
            tc.version
        );
        assert!(
            calls.contains_key("epoll_pwait"),
            "{}: {calls:?}",
            tc.version
        );
        // Ten milliseconds of virtual time passed: at least 10^7 instructions or a jump.
        let now = p.kernel().now(p.machine.step_count());
        assert!(now >= linux::kernel::BOOT_NS + 10_000_000, "{}", tc.version);
    }
}

#[test]
fn a_null_write_in_c_is_gos_own_report_as_natively() {
    for tc in toolchains::required("the cgo NULL-write report in the machine") {
        let exe = build(&tc, "cgo-null", CGO_NULL, Link::DynamicCgo);
        let (p, outcome) = run(&exe, 0);
        let (status, stdout, stderr) = native(&exe);
        assert_eq!(status, 2);
        assert_eq!(outcome, Outcome::Exited(2), "{}", tc.version);
        assert_eq!(text(&p, 1), stdout);
        let got = text(&p, 2);
        // The head is exact: the signal, its pc and code, where it arrived.
        let head = |s: &str| s.lines().take(3).collect::<Vec<_>>().join("\n");
        assert_eq!(head(&got), head(&stderr), "{}", tc.version);
        // Which words depend on the release ("SIGSEGV: segmentation violation" from
        // go1.24 on, "fatal error: unexpected signal during runtime execution" before).
        assert!(got.contains("SIGSEGV: segmentation violation"), "{got}");
        // The crashing goroutine's stack differs only in addresses. (The other goroutines'
        // ids and states vary from one native run to the next: ids come from per-P
        // caches, so they depend on which P ran what.)
        let first_goroutine = |s: &str| without_hex(s.split("\n\n").nth(1).unwrap_or(""));
        assert_eq!(
            first_goroutine(&got),
            first_goroutine(&stderr),
            "{}",
            tc.version
        );
        assert!(got.contains("main._Cfunc_crash()"), "{got}");
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
    let exe = build(&tc, "goroutines-seeds", GOROUTINES, Link::Static);
    let (a, oa) = run(&exe, 11);
    let (b, ob) = run(&exe, 11);
    assert_eq!(oa, Outcome::Exited(0));
    assert_eq!(oa, ob);
    assert_eq!(fingerprint(&a), fingerprint(&b));
    assert_eq!(a.syscall_counts(), b.syscall_counts());
    // A run in pieces is the same run.
    let mut d = load(&exe, 11);
    d.set_history(false);
    let od = loop {
        match d.run(77_777) {
            Outcome::Budget => continue,
            o => break o,
        }
    };
    assert_eq!(od, oa);
    assert_eq!(fingerprint(&d), fingerprint(&a));
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
    let exe = build(&tc, "hello-step-back", HELLO, Link::Static);
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

/// Small C programs without libc (`-nostdlib`, system calls written out), for the kernel's
/// signal, wait and clock rules on their own.
const KERNEL_PROBES: &str = r#"
typedef unsigned long u64;
static long sys(long n, long a, long b, long c, long d) {
    long r;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory");
    return r;
}
static void put(const char *s) { long n = 0; while (s[n]) n++; sys(1, 1, (long)s, n, 0); }
void restorer(void);
__asm__("restorer: mov $15, %eax\n syscall\n");
struct ksigaction { void *handler; u64 flags; void *restorer; u64 mask; };
static char alt[16384];
static volatile int seen_alt, seen_code, seen_masked;
static void on_usr1(int sig, int *info, void *uc) {
    char here;
    seen_alt = &here >= alt && &here < alt + sizeof alt;
    seen_code = info[2];
    u64 mask = 0;
    sys(14, 0, 0, (long)&mask, 8);
    seen_masked = (mask >> 9) & 1;
}
static int word;
static void signals(void) {
    struct { void *sp; int flags; u64 size; } ss = { alt, 0, sizeof alt };
    sys(131, (long)&ss, 0, 0, 0);
    struct ksigaction sa = { on_usr1, 0x4 | 0x04000000 | 0x08000000 | 0x80000000, restorer, 0 };
    sys(13, 10, (long)&sa, 0, 8);
    long pid = sys(39, 0, 0, 0, 0), tid = sys(186, 0, 0, 0, 0);
    sys(234, pid, tid, 10, 0);
    put(seen_alt ? "on the alternate stack\n" : "on the thread's stack\n");
    put(seen_code == -6 ? "si_code SI_TKILL\n" : "another si_code\n");
    put(seen_masked ? "SIGUSR1 blocked in its handler\n" : "SIGUSR1 not blocked\n");
    /* SA_RESETHAND: the second one takes the default action, which ends the process. */
    sys(234, pid, tid, 10, 0);
    put("still alive\n");
}
void _start(void) {
    /* argv[1]'s first letter picks the probe: s(ignals), d(eadlock), l(oop), c(lock). */
    long *sp;
    __asm__ volatile("lea 8(%%rbp), %0" : "=r"(sp));
    char probe = sp[0] > 1 ? ((char **)sp)[2][0] : 's';
    if (probe == 's') signals();
    if (probe == 'd') sys(202, (long)&word, 0, 0, 0);
    if (probe == 'l') for (;;) word++;
    if (probe == 'c') {
        long t0[2], t1[2], req[2] = { 1, 0 };
        sys(228, 1, (long)t0, 0, 0);
        sys(35, (long)req, 0, 0, 0);
        sys(228, 1, (long)t1, 0, 0);
        put(t1[0] - t0[0] >= 1 ? "slept a second\n" : "no time passed\n");
    }
    if (probe == 'b') {
        /* A fault while its signal is blocked cannot be held off: the process dies. */
        u64 segv = 1ul << 10;
        sys(14, 0, (long)&segv, 0, 8);
        put("blocked\n");
        *(volatile int *)0 = 1;
        put("survived\n");
    }
    if (probe == 'f') {
        char buf[64];
        long st[18];
        long fd = sys(257, -100, (long)"/data/../data/msg", 0, 0);
        long n = sys(0, fd, (long)buf, sizeof buf, 0);
        sys(1, 1, (long)buf, n, 0);
        sys(5, fd, (long)st, 0, 0);
        put(st[6] == n ? "fstat gives its size\n" : "fstat is wrong\n");
        n = sys(267, -100, (long)"/proc/self/exe", (long)buf, sizeof buf);
        sys(1, 1, (long)buf, n, 0);
        put(sys(257, -100, (long)"/data/none", 0, 0) == -2 ? "\nENOENT\n" : "\nopened?\n");
        put(sys(3, fd, 0, 0, 0) == 0 && sys(3, fd, 0, 0, 0) == -9 ? "EBADF\n" : "close?\n");
    }
    sys(231, 0, 0, 0, 0);
}
"#;

/// The probes, built once for all the tests that run them (in parallel).
fn kernel_probes() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT.get_or_init(build_kernel_probes).clone()
}

fn build_kernel_probes() -> PathBuf {
    let dir = std::env::temp_dir().join("stackswitch-linux-probes");
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("probes.c"), KERNEL_PROBES).expect("write probes.c");
    let exe = dir.join("probes");
    let out = Command::new("cc")
        .current_dir(&dir)
        .args([
            "-O1",
            "-static",
            "-nostdlib",
            "-fno-pie",
            "-no-pie",
            "-fno-omit-frame-pointer",
        ])
        .args(["-mgeneral-regs-only", "-fno-stack-protector", "-o"])
        .arg(&exe)
        .arg("probes.c")
        .output()
        .expect("cc runs (test.sh installs gcc)");
    assert!(
        out.status.success(),
        "cc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

fn probe(exe: &Path, which: &str, budget: u64) -> (Process, Outcome) {
    let bytes = std::fs::read(exe).expect("read the probes");
    let config = Config {
        argv: vec!["probes".into(), which.into()],
        ..Config::default()
    };
    let mut p = Process::load(&bytes, config).expect("the probes load");
    let o = p.run(budget);
    (p, o)
}

#[test]
fn signals_follow_their_sigaction_and_the_default_action_kills_as_natively() {
    let exe = kernel_probes();
    let (p, outcome) = probe(&exe, "s", 1_000_000);
    let want = "on the alternate stack\nsi_code SI_TKILL\nSIGUSR1 blocked in its handler\n";
    assert_eq!(text(&p, 1), want);
    assert_eq!(outcome, Outcome::Killed { signal: 10 });
    assert_eq!(outcome.status(), Some(138));
    // Natively: the same lines, and the same death.
    let out = Command::new(&exe).arg("s").output().expect("runs natively");
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(10));
}

#[test]
fn step_back_across_a_signal_delivery_and_the_kill_is_exact() {
    let exe = kernel_probes();
    let bytes = std::fs::read(&exe).unwrap();
    let config = Config {
        argv: vec!["probes".into(), "s".into()],
        ..Config::default()
    };
    let mut p = Process::load(&bytes, config).unwrap();
    let start = fingerprint(&p);
    let first = p.run(1_000_000);
    assert_eq!(first, Outcome::Killed { signal: 10 });
    let end = fingerprint(&p);
    assert!(p.go_back_to(0));
    assert_eq!(fingerprint(&p), start);
    assert!(
        p.kernel().actions[10] == Default::default(),
        "the handler is gone too"
    );
    assert_eq!(p.run(1_000_000), first);
    assert_eq!(fingerprint(&p), end);
}

#[test]
fn a_fault_whose_signal_is_blocked_kills_the_process_as_natively() {
    let exe = kernel_probes();
    let (p, outcome) = probe(&exe, "b", 1_000_000);
    assert_eq!(text(&p, 1), "blocked\n");
    assert_eq!(outcome, Outcome::Killed { signal: 11 });
    assert_eq!(outcome.status(), Some(139));
    let out = Command::new(&exe).arg("b").output().expect("runs natively");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "blocked\n");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(11));
}

#[test]
fn a_wait_nothing_can_end_is_a_deadlock_and_a_loop_runs_out_of_budget() {
    let exe = kernel_probes();
    let (_, outcome) = probe(&exe, "d", 1_000_000);
    assert_eq!(outcome, Outcome::Deadlock);
    let (p, outcome) = probe(&exe, "l", 500_000);
    assert_eq!(outcome, Outcome::Budget);
    assert_eq!(p.machine.step_count(), 500_000);
}

#[test]
fn files_come_from_the_file_view_and_errors_are_linuxs() {
    let exe = kernel_probes();
    let bytes = std::fs::read(&exe).unwrap();
    let mut files = linux::MemFiles::new();
    files.add("/data/msg", b"from the view\n".to_vec());
    let config = Config {
        argv: vec!["probes".into(), "f".into()],
        files: Box::new(files),
        exe_path: "/bin/probes".into(),
        ..Config::default()
    };
    let mut p = Process::load(&bytes, config).unwrap();
    assert_eq!(p.run(1_000_000), Outcome::Exited(0));
    assert_eq!(
        text(&p, 1),
        "from the view\nfstat gives its size\n/bin/probes\nENOENT\nEBADF\n"
    );
}

#[test]
fn sleeping_moves_the_virtual_clock_without_running_instructions() {
    let exe = kernel_probes();
    let (p, outcome) = probe(&exe, "c", 1_000_000);
    assert_eq!(outcome, Outcome::Exited(0));
    assert_eq!(text(&p, 1), "slept a second\n");
    // A second at one instruction a nanosecond would be 10^9 steps: the clock jumped.
    assert!(
        p.machine.step_count() < 10_000,
        "{}",
        p.machine.step_count()
    );
}

/// A glibc program that asks for its main thread's stack as cgo's `x_cgo_getstackbound`
/// does (`pthread_getattr_np`, which for the initial thread reads /proc/self/maps and
/// RLIMIT_STACK), and finds the [stack] line of /proc/self/maps itself.
const STACK_BOUNDS: &str = r#"
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>
int main(void) {
    int local = 0;
    unsigned long lo, hi, at = (unsigned long)&local, end = 0;
    char line[512], name[256];
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) { puts("no /proc/self/maps"); return 1; }
    while (fgets(line, sizeof line, f)) {
        name[0] = 0;
        if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %255s", &lo, &hi, name) >= 2
            && lo <= at && at < hi) {
            printf("the stack's line: %s\n", name);
            end = hi;
        }
    }
    fclose(f);
    pthread_attr_t attr;
    void *addr;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &attr) != 0) { puts("pthread_getattr_np failed"); return 1; }
    pthread_attr_getstack(&attr, &addr, &size);
    unsigned long top = (unsigned long)addr + size;
    // glibc's top is the page above __libc_stack_end (where argc is), inside the line;
    // natively arch_align_stack moves argc down by up to 8 KiB more (fs/binfmt_elf.c).
    printf("top is in the line's last pages: %d\n", top <= end && end - top <= 2 * 4096);
    printf("size is RLIMIT_STACK's 8 MiB less a few pages: %d\n",
           size <= (8ul << 20) && size > (8ul << 20) - (64ul << 10));
    return 0;
}
"#;

#[test]
fn glibc_finds_the_main_threads_stack_in_proc_self_maps_as_natively() {
    let dir = std::env::temp_dir().join(format!("stackswitch-linux-maps-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("maps.c"), STACK_BOUNDS).expect("write maps.c");
    let exe = dir.join("maps");
    let out = Command::new("cc")
        .current_dir(&dir)
        .args(["-O1", "-static", "-pthread", "-o"])
        .arg(&exe)
        .arg("maps.c")
        .output()
        .expect("cc runs (test.sh installs gcc)");
    assert!(
        out.status.success(),
        "cc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = "the stack's line: [stack]\ntop is in the line's last pages: 1\n\
                size is RLIMIT_STACK's 8 MiB less a few pages: 1\n";
    let (status, stdout, _) = native(&exe);
    assert_eq!((status, stdout.as_str()), (0, want), "natively");
    let (p, outcome) = run(&exe, 0);
    assert_eq!(outcome, Outcome::Exited(0), "{}", text(&p, 2));
    assert_eq!(text(&p, 1), want, "in the machine");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A thread waits on a futex; another sends it SIGUSR1, then wakes the futex. With
/// SA_RESTART the wait is made again after the handler and ends with the wake (0); without,
/// it ends with EINTR (arch/x86/kernel/signal.c handle_signal, -ERESTARTSYS).
const RESTART: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
static int word;
static volatile int handled;
static pid_t waiter;
static void on_usr1(int sig) { handled++; }
static void *waker(void *arg) {
    struct timespec t = { 0, 20 * 1000 * 1000 };
    nanosleep(&t, 0);
    syscall(SYS_tgkill, getpid(), waiter, SIGUSR1);
    nanosleep(&t, 0);
    __atomic_store_n(&word, 1, __ATOMIC_SEQ_CST);
    syscall(SYS_futex, &word, FUTEX_WAKE, 1, 0, 0, 0);
    return 0;
}
static void wait_once(const char *what, int flags) {
    struct sigaction sa = { 0 };
    sa.sa_handler = on_usr1;
    sa.sa_flags = flags;
    sigaction(SIGUSR1, &sa, 0);
    word = 0;
    handled = 0;
    waiter = gettid();
    pthread_t t;
    pthread_create(&t, 0, waker, 0);
    long r = syscall(SYS_futex, &word, FUTEX_WAIT, 0, 0, 0, 0);
    printf("%s: futex %ld%s after %d handler\n", what, r, r < 0 && errno == EINTR ? " EINTR" : "", handled);
    pthread_join(t, 0);
}
int main(void) {
    wait_once("SA_RESTART", SA_RESTART);
    wait_once("no SA_RESTART", 0);
    return 0;
}
"#;

#[test]
fn sa_restart_makes_an_interrupted_futex_wait_again_as_natively() {
    let dir =
        std::env::temp_dir().join(format!("stackswitch-linux-restart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("restart.c"), RESTART).expect("write restart.c");
    let exe = dir.join("restart");
    let out = Command::new("cc")
        .current_dir(&dir)
        .args(["-O1", "-static", "-pthread", "-o"])
        .arg(&exe)
        .arg("restart.c")
        .output()
        .expect("cc runs (test.sh installs gcc)");
    assert!(
        out.status.success(),
        "cc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want =
        "SA_RESTART: futex 0 after 1 handler\nno SA_RESTART: futex -1 EINTR after 1 handler\n";
    let (status, stdout, _) = native(&exe);
    assert_eq!((status, stdout.as_str()), (0, want), "natively");
    for seed in [0, 1, 2] {
        let (p, outcome) = run(&exe, seed);
        assert_eq!(outcome, Outcome::Exited(0), "seed {seed}: {}", text(&p, 2));
        assert_eq!(text(&p, 1), want, "in the machine, seed {seed}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// FUTEX_CMP_REQUEUE and FUTEX_WAKE_OP (kernel/futex/requeue.c, waitwake.c), as natively:
/// two threads wait on `a`; one is woken and the other moved to `b`, where a plain wake
/// finds it; a stale expected value is EAGAIN; WAKE_OP adds to `c` and, its old value
/// being 0, wakes the thread waiting there.
const REQUEUE: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
static int a, b, c;
static long futex(int *w, int op, int val, long val2, int *w2, int val3) {
    return syscall(SYS_futex, w, op, val, val2, w2, val3);
}
static void *wait_on(void *w) { futex(w, FUTEX_WAIT, 0, 0, 0, 0); return 0; }
static void pause_a_while(void) { struct timespec t = { 0, 50 * 1000 * 1000 }; nanosleep(&t, 0); }
int main(void) {
    pthread_t t[3];
    pthread_create(&t[0], 0, wait_on, &a);
    pthread_create(&t[1], 0, wait_on, &a);
    pause_a_while();
    long r = futex(&a, FUTEX_CMP_REQUEUE, 1, 1, &b, 1);
    printf("cmp_requeue with a stale value: %s\n", r < 0 && errno == EAGAIN ? "EAGAIN" : "?");
    printf("cmp_requeue: %ld woken or moved\n", futex(&a, FUTEX_CMP_REQUEUE, 1, 1, &b, 0));
    pause_a_while();
    printf("wake on a: %ld\n", futex(&a, FUTEX_WAKE, 1, 0, 0, 0));
    printf("wake on b: %ld\n", futex(&b, FUTEX_WAKE, 1, 0, 0, 0));
    pthread_create(&t[2], 0, wait_on, &c);
    pause_a_while();
    r = futex(&a, FUTEX_WAKE_OP, 1, 1, &c, FUTEX_OP(FUTEX_OP_ADD, 5, FUTEX_OP_CMP_EQ, 0));
    printf("wake_op: %ld woken, c = %d\n", r, c);
    r = futex(&a, FUTEX_WAKE_OP, 1, 1, &c, FUTEX_OP(7, 0, 0, 0));
    printf("an unknown op: %s\n", r < 0 && errno == ENOSYS ? "ENOSYS" : "?");
    for (int i = 0; i < 3; i++) pthread_join(t[i], 0);
    return 0;
}
"#;

#[test]
fn futex_requeue_and_wake_op_move_and_wake_waiters_as_natively() {
    let dir =
        std::env::temp_dir().join(format!("stackswitch-linux-requeue-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("requeue.c"), REQUEUE).expect("write requeue.c");
    let exe = dir.join("requeue");
    let out = Command::new("cc")
        .current_dir(&dir)
        .args(["-O1", "-static", "-pthread", "-o"])
        .arg(&exe)
        .arg("requeue.c")
        .output()
        .expect("cc runs (test.sh installs gcc)");
    assert!(
        out.status.success(),
        "cc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = "cmp_requeue with a stale value: EAGAIN\ncmp_requeue: 2 woken or moved\n\
                wake on a: 0\nwake on b: 1\nwake_op: 1 woken, c = 5\nan unknown op: ENOSYS\n";
    let (status, stdout, _) = native(&exe);
    assert_eq!((status, stdout.as_str()), (0, want), "natively");
    for seed in [0, 1, 2] {
        let (p, outcome) = run(&exe, seed);
        assert_eq!(outcome, Outcome::Exited(0), "seed {seed}: {}", text(&p, 2));
        assert_eq!(text(&p, 1), want, "in the machine, seed {seed}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
