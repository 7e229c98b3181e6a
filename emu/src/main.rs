//! The `emu` command line: `emu exec` (the JSON-lines contract), `emu asm` (listings),
//! `emu run` (scenarios of Go's runtime, to the end Go gives them), `emu test` (Go assembly
//! functions with the ABI checked) and `emu lesson`. A thin
//! shell over the session crate and the crates it re-exports.

use clap::{Parser, Subcommand, ValueEnum};
use session::asm::{self, Source, Syntax};
use session::machine;
use session::GoRelease;
use std::io::{BufRead, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

mod lesson_cli;
mod program_cli;
mod run_elf;
mod test_cli;

/// Whether `path` names a file that starts with the ELF magic.
fn is_elf(path: &str) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == *b"\x7fELF"
}

#[derive(Parser)]
#[command(
    name = "emu",
    about = "An exact x86-64 user-mode machine for Go's runtime stack switching"
)]
struct Cli {
    /// A release folder to add (its `release.toml` and `runtime/`, as in `releases/`);
    /// `--go` can then name it. May be given more than once.
    #[arg(long = "release-dir", global = true, value_name = "DIR")]
    release_dirs: Vec<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run JSON-lines cases from FILE (or standard input); one result line per case.
    Exec {
        /// Input file; standard input when absent or `-`.
        file: Option<String>,
    },
    /// Assemble FILE and print a listing like `go tool objdump`.
    Asm {
        /// Source file.
        file: String,
        /// Source syntax.
        #[arg(long, value_enum, default_value = "go")]
        syntax: SyntaxArg,
        /// Go release whose go_asm.h and conventions apply (the newest when absent).
        #[arg(long = "go")]
        go: Option<String>,
        /// Address of the first byte (hex with 0x, or decimal).
        #[arg(long, default_value = "0x401000")]
        base: String,
        /// Print the listing as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run a scenario (a built-in id, or a scenario file) to its end and print what the
    /// process prints, exiting with its exit status, as a shell would show it.
    ///
    /// `emu run [OPTIONS] ./prog [ARGS…]` runs a linux/amd64 executable instead (a file
    /// that starts with `\x7fELF`): its argv is `./prog ARGS…` exactly, its environment
    /// only the `--env` pairs, it reads host files read-only, and what it writes to fd 1
    /// and 2 is printed as it writes it. Options go before the program: everything after
    /// it is the program's. The exit status is the program's as a shell shows it (128 +
    /// signal when a signal killed it); 124 when --max-steps ran out, 125 when every
    /// thread waits forever, 70 when the machine met an instruction it does not run.
    Run {
        /// Scenario id (`cgo-c-null-write`), path to a scenario `.toml` file, or an
        /// executable.
        scenario: Option<String>,
        /// The executable's arguments (after its path).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
        /// Executable: seeds the scheduler, AT_RANDOM and getrandom.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Executable: the most steps to run before stopping.
        #[arg(long = "max-steps", default_value_t = 10_000_000_000)]
        max_steps: u64,
        /// Executable: an environment variable `K=V` to pass (may be repeated).
        #[arg(long = "env", value_name = "K=V")]
        env: Vec<String>,
        /// Executable: print each system call, strace-like, on standard error.
        #[arg(long = "trace-syscalls")]
        trace_syscalls: bool,
        /// Executable: run at full speed until a thread reaches this symbol's entry
        /// (`runtime.asmcgocall`, `main.main`…), show the threads, code, registers and
        /// stacks there, then take commands from standard input: `s` step, `n` step over,
        /// `b` back, `c` continue, `t N` follow thread N, `q` quit.
        #[arg(long = "break", value_name = "SYMBOL")]
        break_at: Option<String>,
        /// Go release (the newest when absent).
        #[arg(long = "go")]
        go: Option<String>,
        /// Print {"id","go","exit_status","stdout","stderr","signal","steps"} instead (for an
        /// executable: {"exit_status","signal","stdout","stderr","steps","threads",
        /// "syscalls","unknown_syscalls","outcome"}).
        #[arg(long)]
        json: bool,
        /// List the built-in scenarios.
        #[arg(long)]
        list: bool,
    },
    /// Run the Go assembly functions a test file names, each case in a goroutine's
    /// surroundings with the ABI checked at every instruction, and print the verdicts as
    /// `go test` does. Exit 0 when every case passes, 1 when one fails, 2 when a file is
    /// malformed (a located error `file:line:col: field: …`).
    Test(test_cli::Args),
    /// Lessons: list them, check them, or step through one in the terminal.
    Lesson {
        #[command(subcommand)]
        action: lesson_cli::Action,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum SyntaxArg {
    Go,
    Intel,
}

/// The release `--go` names (the newest when absent), or a message that lists the known
/// ones.
pub fn release(go: Option<&str>) -> Result<GoRelease, String> {
    let Some(name) = go else {
        return Ok(GoRelease::latest());
    };
    GoRelease::named(name).ok_or_else(|| {
        let known: Vec<String> = GoRelease::all().iter().map(|r| r.to_string()).collect();
        format!(
            "--go {name}: no such release (known: {}; --release-dir adds one)",
            known.join(", ")
        )
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    for dir in &cli.release_dirs {
        if let Err(e) = session::go_release::load_dir(dir) {
            eprintln!("emu: --release-dir {}: {e}", dir.display());
            return ExitCode::from(2);
        }
    }
    match cli.command {
        Command::Exec { file } => exec(file.as_deref()),
        Command::Asm {
            file,
            syntax,
            go,
            base,
            json,
        } => asm_listing(&file, syntax, go, &base, json),
        Command::Run {
            scenario,
            args,
            seed,
            max_steps,
            env,
            trace_syscalls,
            break_at,
            go,
            json,
            list,
        } => match scenario.as_deref().filter(|s| is_elf(s)) {
            Some(path) if break_at.is_some() => program_cli::walk(
                path,
                break_at.as_deref().unwrap_or_default(),
                &args,
                &env,
                seed,
            ),
            Some(path) => run_elf::run(
                path,
                &run_elf::Options {
                    args,
                    seed,
                    max_steps,
                    env,
                    trace_syscalls,
                    json,
                },
            ),
            None => run(scenario.as_deref(), go, json, list),
        },
        Command::Test(args) => test_cli::main(&args),
        Command::Lesson { action } => lesson_cli::main(action),
    }
}

/// `emu run`: a scenario to its end.
fn run(scenario: Option<&str>, go: Option<String>, json: bool, list: bool) -> ExitCode {
    use session::go_model::process::Ending;
    use session::go_model::scenario::Scenario;
    if list || scenario.is_none() {
        for s in Scenario::builtin() {
            println!("{:<28} {}", s.id, s.title);
        }
        return if list {
            ExitCode::SUCCESS
        } else {
            eprintln!("emu run: give a scenario id or file (the ids are listed above)");
            ExitCode::from(2)
        };
    }
    let name = scenario.unwrap_or_default();
    let loaded = if name.ends_with(".toml") || std::path::Path::new(name).is_file() {
        std::fs::read_to_string(name)
            .map_err(|e| format!("cannot read {name}: {e}"))
            .and_then(|text| Scenario::parse(name, &text).map_err(|e| e.to_string()))
    } else {
        Scenario::by_id(name).map_err(|e| e.to_string())
    };
    let s = match loaded {
        Ok(s) => s,
        Err(e) => {
            eprintln!("emu run: {e}");
            return ExitCode::from(2);
        }
    };
    let release = match release(go.as_deref()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("emu run: {e}");
            return ExitCode::from(2);
        }
    };
    let (p, end) = match s.run(release) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("emu run: {e}");
            return ExitCode::from(2);
        }
    };
    let (stdout, stderr) = (p.output(1), p.output(2));
    let status = match &end {
        Ending::Exited(s) => *s,
        Ending::StepLimit => {
            eprintln!("emu run: {}: no end within {} steps", s.id, s.max_steps);
            return ExitCode::from(2);
        }
        Ending::Stuck(why) => {
            eprintln!("emu run: {}: {why}", s.id);
            return ExitCode::from(2);
        }
    };
    if json {
        let signal = p.signals().first().map(|r| {
            serde_json::json!({
                "name": r.fault.signal.name(),
                "code": r.fault.code,
                "addr": format!("{:#x}", r.fault.addr),
                "pc": format!("{:#x}", r.fault.pc),
                "thread": r.thread,
            })
        });
        let out = serde_json::json!({
            "id": s.id,
            "go": release.to_string(),
            "exit_status": status,
            "stdout": stdout,
            "stderr": stderr,
            "signal": signal,
            "steps": p.steps(),
        });
        println!("{out}");
        return ExitCode::SUCCESS;
    }
    print!("{stdout}");
    eprint!("{stderr}");
    ExitCode::from(status.clamp(0, 255) as u8)
}

/// Reads cases line by line and writes one result line per case, in order.
fn exec(path: Option<&str>) -> ExitCode {
    let input: Box<dyn BufRead> = match path {
        None | Some("-") => Box::new(std::io::stdin().lock()),
        Some(p) => match std::fs::File::open(p) {
            Ok(f) => Box::new(std::io::BufReader::new(f)),
            Err(e) => {
                eprintln!("emu exec: cannot open {p}: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let mut out = BufWriter::new(std::io::stdout().lock());
    for line in input.split(b'\n') {
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                eprintln!("emu exec: read error: {e}");
                return ExitCode::from(2);
            }
        };
        let text = String::from_utf8_lossy(&line);
        if text.trim().is_empty() {
            continue;
        }
        let result = machine::exec::run_line(&text);
        if writeln!(out, "{result}").and_then(|_| out.flush()).is_err() {
            return ExitCode::SUCCESS; // Reader went away (e.g. piped into head).
        }
    }
    ExitCode::SUCCESS
}

fn asm_listing(
    file: &str,
    syntax: SyntaxArg,
    go: Option<String>,
    base: &str,
    json: bool,
) -> ExitCode {
    let Some(base) = machine::num::parse_number(base) else {
        eprintln!("emu asm: --base {base}: expected a number such as 0x401000");
        return ExitCode::from(2);
    };
    let syntax = match syntax {
        SyntaxArg::Go => Syntax::Go,
        SyntaxArg::Intel => Syntax::Intel,
    };
    let release = match release(go.as_deref()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("emu asm: {e}");
            return ExitCode::from(2);
        }
    };
    let loader = |path: &str| std::fs::read_to_string(path).ok();
    let program = match asm::assemble_listing(&[Source::new(file, syntax, base)], release, &loader)
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    if json {
        let instructions: Vec<serde_json::Value> = program
            .instructions
            .iter()
            .map(|l| {
                serde_json::json!({
                    "addr": format!("{:#x}", l.addr), "bytes": machine::exec::encode_hex(&l.bytes),
                    "file": l.file, "line": l.line, "col": l.col, "source": l.source,
                    "intel": l.intel, "att": l.att,
                })
            })
            .collect();
        let symbols: Vec<serde_json::Value> = program
            .symbols
            .iter()
            .map(|s| serde_json::json!({"name": s.name, "addr": format!("{:#x}", s.addr), "size": s.size}))
            .collect();
        println!(
            "{}",
            serde_json::json!({"instructions": instructions, "symbols": symbols, "undefined": program.undefined})
        );
        return ExitCode::SUCCESS;
    }
    let mut out = BufWriter::new(std::io::stdout().lock());
    if !program.undefined.is_empty() {
        let _ = writeln!(
            out,
            "; undefined (resolved to 0): {}",
            program.undefined.join(", ")
        );
    }
    for l in &program.instructions {
        if let Some(s) = program.symbols.iter().find(|s| s.addr == l.addr) {
            let _ = writeln!(out, "TEXT {}(SB) {}", s.name, l.file);
        }
        let name = l.file.rsplit('/').next().unwrap_or(&l.file);
        let _ = writeln!(
            out,
            "  {name}:{}\t{:#x}\t{:<20}\t{:<36}\t{}",
            l.line,
            l.addr,
            machine::exec::encode_hex(&l.bytes),
            l.source,
            l.intel
        );
    }
    ExitCode::SUCCESS
}
