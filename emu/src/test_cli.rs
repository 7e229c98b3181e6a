//! `emu test`: the verdicts of test files of Go assembly functions, as `go test` prints
//! them, as JSON lines, as JUnit XML and as a coverage listing.

use session::asmtest::{self, report, FileReport, Options};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// What `emu test` was given.
#[derive(clap::Args)]
pub struct Args {
    /// Test files (`funcs_test.toml`).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// One JSON object per line: each finding, each case, each file.
    #[arg(long)]
    pub json: bool,
    /// Also write a JUnit XML report to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Print each source line with how many times it ran.
    #[arg(long)]
    pub coverage: bool,
    /// Go release (over the file's `go`; the newest when neither says).
    #[arg(long = "go")]
    pub go: Option<String>,
    /// Each case's step budget (over the file's; 1,000,000 when neither says).
    #[arg(long = "max-steps")]
    pub max_steps: Option<u64>,
    /// Print a `--- PASS:` line for each passing case too.
    #[arg(short, long)]
    pub verbose: bool,
}

/// Runs every file; 0 when all pass, 1 when a case fails, 2 for a file that cannot run.
pub fn main(args: &Args) -> ExitCode {
    let release = match args
        .go
        .as_deref()
        .map(|g| crate::release(Some(g)))
        .transpose()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("emu test: {e}");
            return ExitCode::from(2);
        }
    };
    if args.max_steps == Some(0) {
        eprintln!("emu test: --max-steps 0: a case needs at least one step");
        return ExitCode::from(2);
    }
    let options = Options {
        release,
        max_steps: args.max_steps,
    };
    let mut reports: Vec<FileReport> = Vec::new();
    let mut broken = false;
    let mut out = std::io::stdout().lock();
    for path in &args.files {
        match asmtest::run_path(path, &options) {
            Ok(r) => {
                let text = if args.json {
                    report::json_lines(&r)
                } else {
                    report::text(&r, args.verbose)
                };
                let _ = out.write_all(text.as_bytes());
                if args.coverage {
                    let _ = out.write_all(report::coverage(&r).as_bytes());
                }
                reports.push(r);
            }
            Err(e) => {
                eprintln!("{e}");
                broken = true;
            }
        }
    }
    let _ = out.flush();
    if let Some(junit) = &args.junit {
        if let Err(e) = std::fs::write(junit, report::junit(&reports)) {
            eprintln!("emu test: --junit {}: {e}", junit.display());
            return ExitCode::from(2);
        }
    }
    if broken {
        ExitCode::from(2)
    } else if reports.iter().all(FileReport::passed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
