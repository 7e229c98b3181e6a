//! Speed of the machine against unicorn on the same loop, in one process run:
//!
//! ```text
//!     mov rcx, N
//!     xor eax, eax
//! top:
//!     add rax, rcx
//!     mov [rbx+8], rax
//!     xor rdx, [rbx+8]
//!     dec rcx
//!     jnz top
//!     int3
//! ```
//!
//! Prints instructions per second for emu with history off, emu with history on (and the
//! memory the history took), unicorn, the ratios, and the start-up time of `emu exec`.
//! Run with `cargo bench -p stackswitch-tests` (set `SPEED_ITERS` to change N).
//!
//! When `valgrind` is on the PATH it also prints the interpreter's host instructions per
//! guest instruction, which does not drift with the machine's other tenants: the bench
//! runs itself under `valgrind --tool=callgrind` on the loop alone (`--loop N on|off`)
//! with N = 200,000 and N = 10, and divides the difference of the two totals by the
//! 999,950 guest instructions between them, so start-up and decoding cancel out.

use iced_x86::code_asm::*;
use machine::{Cpu, Halt, Machine, Perm};
use std::time::{Duration, Instant};
use unicorn_engine::unicorn_const::{Arch, Mode, Prot};
use unicorn_engine::{RegisterX86, Unicorn};

const CODE: u64 = 0x40_0000;
const DATA: u64 = 0x60_0000;

fn program(iterations: u64) -> Vec<u8> {
    let mut a = CodeAssembler::new(64).expect("64-bit assembler");
    let mut top = a.create_label();
    a.mov(rcx, iterations).unwrap();
    a.xor(eax, eax).unwrap();
    a.set_label(&mut top).unwrap();
    a.add(rax, rcx).unwrap();
    a.mov(qword_ptr(rbx + 8), rax).unwrap();
    a.xor(rdx, qword_ptr(rbx + 8)).unwrap();
    a.dec(rcx).unwrap();
    a.jnz(top).unwrap();
    a.int3().unwrap();
    a.assemble(CODE).expect("assemble loop")
}

/// Instructions the loop executes before INT3 (INT3 itself not counted).
fn instructions(iterations: u64) -> u64 {
    2 + 5 * iterations
}

fn emu_run(code: &[u8], iterations: u64, history: bool) -> (Duration, usize, u64) {
    let mut m = Machine::new();
    m.map(CODE, 0x1000, Perm::RX, "text").unwrap();
    m.map(DATA, 0x1000, Perm::RW, "data").unwrap();
    m.poke(CODE, code).unwrap();
    let mut cpu = Cpu {
        rip: CODE,
        ..Cpu::default()
    };
    cpu.gpr[3] = DATA;
    let t = m.spawn("bench", cpu);
    m.set_history(history);
    let start = Instant::now();
    let r = m.run(t, u64::MAX, Some(CODE + code.len() as u64 - 1));
    let elapsed = start.elapsed();
    assert_eq!(r.halt, Halt::StopAt(CODE + code.len() as u64 - 1));
    assert_eq!(r.steps, instructions(iterations));
    let expected: u64 = (1..=iterations).sum();
    assert_eq!(
        m.thread(t).cpu.gpr[0],
        expected,
        "emu computed the wrong sum"
    );
    (elapsed, m.history_bytes(), r.steps)
}

fn unicorn_run(code: &[u8], iterations: u64) -> Duration {
    let mut uc = Unicorn::new(Arch::X86, Mode::MODE_64).expect("unicorn");
    uc.mem_map(CODE, 0x1000, Prot::READ | Prot::EXEC).unwrap();
    uc.mem_map(DATA, 0x1000, Prot::READ | Prot::WRITE).unwrap();
    uc.mem_write(CODE, code).unwrap();
    uc.reg_write(RegisterX86::RBX, DATA).unwrap();
    let end = CODE + code.len() as u64 - 1;
    let start = Instant::now();
    uc.emu_start(CODE, end, 0, 0).expect("unicorn run");
    let elapsed = start.elapsed();
    let expected: u64 = (1..=iterations).sum();
    assert_eq!(
        uc.reg_read(RegisterX86::RAX).unwrap(),
        expected,
        "unicorn computed the wrong sum"
    );
    elapsed
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn best<T>(runs: usize, mut f: impl FnMut() -> (Duration, T)) -> (Duration, T) {
    let mut best: Option<(Duration, T)> = None;
    for _ in 0..runs {
        let r = f();
        if best.as_ref().is_none_or(|b| r.0 < b.0) {
            best = Some(r);
        }
    }
    best.expect("at least one run")
}

/// Wall time of `emu exec` on one small case, median of 21 runs; `None` if the binary
/// has not been built next to this benchmark.
fn exec_startup() -> Option<Duration> {
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?.parent()?.join("emu");
    if !bin.exists() {
        return None;
    }
    let case = r#"{"name":"startup","regs":{"rip":"0x400000"},"memory":[{"addr":"0x400000","size":4096,"perm":"r-x","bytes":"b807000000cc"}]}"#;
    let mut times = Vec::new();
    for _ in 0..21 {
        let start = Instant::now();
        let mut child = std::process::Command::new(&bin)
            .arg("exec")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .ok()?;
        use std::io::Write;
        child.stdin.take()?.write_all(case.as_bytes()).ok()?;
        let out = child.wait_with_output().ok()?;
        times.push(start.elapsed());
        assert!(String::from_utf8_lossy(&out.stdout).contains("\"stop\":\"fault\""));
    }
    times.sort();
    Some(times[times.len() / 2])
}

/// The loop alone, for the instruction counter: `--loop N on|off`.
fn loop_only(args: &[String]) {
    let n: u64 = args[2].parse().expect("--loop N on|off");
    let history = args.get(3).map(String::as_str) == Some("on");
    emu_run(&program(n), n, history);
}

/// Host instructions callgrind counts for `--loop n history`, or `None` without valgrind.
fn counted(n: u64, history: &str) -> Option<u64> {
    let exe = std::env::current_exe().ok()?;
    let out = std::env::temp_dir().join(format!("speed-callgrind-{}-{n}", std::process::id()));
    let run = std::process::Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(&exe)
        .args(["--loop", &n.to_string(), history])
        .output()
        .ok()?;
    let text = std::fs::read_to_string(&out).ok();
    let _ = std::fs::remove_file(&out);
    if !run.status.success() {
        return None;
    }
    // callgrind's output file states the total as `summary: <Ir>`.
    text?
        .lines()
        .find_map(|l| l.strip_prefix("summary: "))
        .and_then(|v| v.trim().parse().ok())
}

/// Host instructions per guest instruction on the loop, history off or on.
fn host_per_guest(history: &str) -> Option<f64> {
    let (small, large) = (10, 200_000);
    let d = counted(large, history)?.checked_sub(counted(small, history)?)?;
    Some(d as f64 / (instructions(large) - instructions(small)) as f64)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--loop") {
        loop_only(&args);
        return;
    }
    // `cargo test --benches` passes flags; run a tiny loop then, to prove the bench works.
    let quick = std::env::args().any(|a| a == "--test" || a == "--quick");
    let iterations: u64 = std::env::var("SPEED_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if quick { 1_000 } else { 20_000_000 });
    let runs = if quick { 1 } else { 3 };
    let code = program(iterations);
    let n = instructions(iterations);

    let (off, _) = best(runs, || {
        let (d, _, _) = emu_run(&code, iterations, false);
        (d, ())
    });
    // History on: fewer iterations keep the record within a few hundred MB.
    let hist_iters = (iterations / 4).max(1);
    let hist_code = program(hist_iters);
    let (on, bytes) = best(runs, || {
        let (d, b, _) = emu_run(&hist_code, hist_iters, true);
        (d, b)
    });
    let (uc, _) = best(runs, || (unicorn_run(&code, iterations), ()));
    let uc_hist = unicorn_run(&hist_code, hist_iters);

    let (r_off, r_on, r_uc) = (
        rate(n, off),
        rate(instructions(hist_iters), on),
        rate(n, uc),
    );
    let r_uc_hist = rate(instructions(hist_iters), uc_hist).max(r_uc);
    println!("loop of {iterations} iterations ({n} instructions), best of {runs}");
    println!("emu, history off : {:>8.1} M instr/s", r_off / 1e6);
    println!(
        "emu, history on  : {:>8.1} M instr/s  ({} iterations; history holds {:.1} MB, {:.1} bytes/step)",
        r_on / 1e6,
        hist_iters,
        bytes as f64 / 1e6,
        bytes as f64 / instructions(hist_iters) as f64
    );
    println!("unicorn          : {:>8.1} M instr/s", r_uc / 1e6);
    println!("ratio history off / unicorn: {:.2}x", r_off / r_uc);
    println!("ratio history on  / unicorn: {:.2}x", r_on / r_uc_hist);
    // Under callgrind a run is ~50 times slower: only the full bench counts.
    for history in ["off", "on"].into_iter().filter(|_| !quick) {
        match host_per_guest(history) {
            Some(h) => println!(
                "host instructions per guest instruction, history {history} (callgrind, N = 200,000 minus N = 10): {h:.1}"
            ),
            None => println!("host instructions per guest instruction: valgrind not found"),
        }
    }
    match exec_startup() {
        Some(d) => println!(
            "emu exec start-up (one case, median of 21): {:.1} ms",
            d.as_secs_f64() * 1e3
        ),
        None => {
            println!("emu exec start-up: build the binary first (cargo build --release -p emu)")
        }
    }
}
