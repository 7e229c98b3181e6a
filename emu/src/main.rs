//! The `emu` command line.

use std::io::{BufRead, BufWriter, Write};
use std::process::ExitCode;

const USAGE: &str = "usage: emu exec [FILE]   run JSON-lines cases from FILE or standard input";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("exec") => exec(args.get(1).map(String::as_str)),
        Some("-h") | Some("--help") | Some("help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
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
        let result = emu::exec::run_line(&text);
        if writeln!(out, "{result}").and_then(|_| out.flush()).is_err() {
            return ExitCode::SUCCESS; // Reader went away (e.g. piped into head).
        }
    }
    ExitCode::SUCCESS
}
