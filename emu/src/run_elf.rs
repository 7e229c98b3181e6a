//! `emu run ./prog [args…]`: a real linux/amd64 executable on the machine, through the
//! `linux` crate, with host files read-only.

use linux::{Config, Outcome, Process};
use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

/// The options of `emu run` that apply to an executable.
pub struct Options {
    /// argv\[1..\].
    pub args: Vec<String>,
    /// The seed.
    pub seed: u64,
    /// The step budget.
    pub max_steps: u64,
    /// `K=V` pairs: the whole environment.
    pub env: Vec<String>,
    /// strace-like lines on standard error.
    pub trace_syscalls: bool,
    /// One JSON object instead of the program's output.
    pub json: bool,
}

/// Exit status when `--max-steps` runs out, as timeout(1) uses.
const BUDGET_STATUS: u8 = 124;
/// Exit status when every thread waits forever.
const DEADLOCK_STATUS: u8 = 125;
/// Exit status when the machine stops (EX_SOFTWARE).
const MACHINE_STATUS: u8 = 70;

/// Runs the executable at `path`.
pub fn run(path: &str, o: &Options) -> ExitCode {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("emu run: cannot read {path}: {e}");
            return ExitCode::from(2);
        }
    };
    let exe_path = std::fs::canonicalize(path)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| path.to_string());
    let cwd = std::env::current_dir()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "/".into());
    let mut argv = vec![path.to_string()];
    argv.extend(o.args.iter().cloned());
    let config = Config {
        argv,
        envp: o.env.clone(),
        seed: o.seed,
        files: Box::new(linux::files::HostFiles),
        exe_path,
        cwd,
        trace_syscalls: o.trace_syscalls,
    };
    let mut p = match Process::load(&bytes, config) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("emu run: {path}: {e}");
            return ExitCode::from(2);
        }
    };
    p.set_history(false);
    let started = Instant::now();
    let mut printed = 0;
    let outcome = loop {
        let left = o.max_steps.saturating_sub(p.machine.step_count());
        let outcome = p.run(left.min(2_000_000));
        if !o.json {
            printed = stream(&p, printed);
        }
        if o.trace_syscalls {
            let mut err = std::io::stderr().lock();
            for l in p.take_trace_lines() {
                let _ = writeln!(err, "{l}");
            }
        }
        if outcome != Outcome::Budget || p.machine.step_count() >= o.max_steps {
            break outcome;
        }
    };
    let wall = started.elapsed();
    let steps = p.machine.step_count();
    let (status, message) = match &outcome {
        Outcome::Exited(s) => (*s as u8, None),
        Outcome::Killed { signal } => (
            (128 + signal) as u8,
            Some(format!("killed by {}", linux::abi::signal_name(*signal))),
        ),
        Outcome::Budget => (
            BUDGET_STATUS,
            Some(format!("no end within {} steps (--max-steps)", o.max_steps)),
        ),
        Outcome::Deadlock => (
            DEADLOCK_STATUS,
            Some("deadlock: every thread waits and nothing can wake one".to_string()),
        ),
        Outcome::MachineStop(why) => (MACHINE_STATUS, Some(format!("machine stopped: {why}"))),
    };
    if o.json {
        let signal = match &outcome {
            Outcome::Killed { signal } => Some(linux::abi::signal_name(*signal)),
            _ => None,
        };
        let unknown: serde_json::Map<String, serde_json::Value> = p
            .unknown_syscalls()
            .iter()
            .map(|(n, c)| (n.to_string(), (*c).into()))
            .collect();
        let out = serde_json::json!({
            "exit_status": status,
            "signal": signal,
            "outcome": message,
            "stdout": String::from_utf8_lossy(&p.output_of(1)),
            "stderr": String::from_utf8_lossy(&p.output_of(2)),
            "steps": steps,
            "threads": p.machine.threads().len(),
            "syscalls": p.syscall_counts(),
            "unknown_syscalls": unknown,
            "wall_ms": wall.as_millis() as u64,
        });
        println!("{out}");
        return ExitCode::from(status);
    }
    if let Some(m) = message {
        eprintln!("emu run: {path}: {m} after {steps} steps");
    }
    ExitCode::from(status)
}

/// Prints the output entries from `from` on, each to its own stream, and returns how many
/// have been printed.
fn stream(p: &Process, from: usize) -> usize {
    let out = p.machine.output();
    let (mut so, mut se) = (std::io::stdout().lock(), std::io::stderr().lock());
    for o in &out[from.min(out.len())..] {
        let _ = if o.fd == 2 {
            se.write_all(&o.bytes).and_then(|_| se.flush())
        } else {
            so.write_all(&o.bytes).and_then(|_| so.flush())
        };
    }
    out.len()
}
