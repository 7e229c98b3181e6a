//! `emu run --break SYMBOL ./prog`: a real executable run at full speed to a breakpoint,
//! then walked through in the terminal with the page's session (`session::program`): the
//! same threads, registers, listing, stacks and runtime structures, named from the binary.
//!
//! After the stop it reads commands, one per line, from standard input (a terminal or a
//! script): `s` step, `n` step over, `b` step back, `c` run on to the breakpoint again (or
//! the end), `t N` follow thread N, `q` quit. At the end of input it quits.

use session::program::{ProgramConfig, ProgramSession, ProgramSnapshot, ProgramState, StackKind};
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

/// Words of each stack printed, from its stack pointer up.
const WORDS: usize = 12;
/// Instructions printed before and after RIP.
const AROUND: usize = 4;

/// Runs `path` to `symbol` and walks through it.
pub fn walk(path: &str, symbol: &str, args: &[String], env: &[String], seed: u64) -> ExitCode {
    let elf = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("emu run: cannot read {path}: {e}");
            return ExitCode::from(2);
        }
    };
    let mut argv = vec![path.to_string()];
    argv.extend(args.iter().cloned());
    let config = ProgramConfig {
        name: path.to_string(),
        elf,
        argv,
        envp: env.to_vec(),
        seed,
    };
    let mut s = match ProgramSession::open_with_files(config, Box::new(linux::files::HostFiles)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("emu run: {path}: {e}");
            return ExitCode::from(2);
        }
    };
    // The Go source beside each instruction: the files the pclntab names, read from the
    // host where they are (the toolchain's GOROOT and the build's folder); a path Go wrote
    // as `$GOROOT/…` (a -trimpath build) is read under $GOROOT when that is set.
    s.set_sources(Box::new(|file: &str| {
        let path = match file.strip_prefix("$GOROOT/") {
            Some(rest) => format!("{}/{rest}", std::env::var("GOROOT").ok()?),
            None => file.to_string(),
        };
        std::fs::read_to_string(path).ok()
    }));
    if let Err(e) = s.set_breakpoint(symbol) {
        eprintln!("emu run: --break {symbol}: {e}");
        return ExitCode::from(2);
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let prompt = std::io::stdin().is_terminal();
    let _ = s.run();
    finish(&mut s);
    show(&mut out, &s.snapshot());
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    loop {
        if let ProgramState::Ended { status, .. } = s.state() {
            return ExitCode::from(status.unwrap_or(1).clamp(0, 255) as u8);
        }
        if prompt {
            let _ = write!(
                out,
                "(s step, n over, b back, c continue, t N thread, q quit) "
            );
            let _ = out.flush();
        }
        let Some(Ok(line)) = lines.next() else {
            return ExitCode::SUCCESS;
        };
        let mut words = line.split_whitespace();
        let result = match words.next() {
            Some("s") => s.step(),
            Some("n") => s.step_over(),
            Some("b") => s.step_back(),
            Some("c") => s.run(),
            Some("t") => match words.next().and_then(|w| w.parse().ok()) {
                Some(n) if n < s.snapshot().threads.len() => {
                    s.focus(n);
                    Ok(())
                }
                _ => {
                    let _ = writeln!(out, "t N: N is a thread index from the list");
                    continue;
                }
            },
            Some("q") => return ExitCode::SUCCESS,
            None => continue,
            Some(other) => {
                let _ = writeln!(out, "unknown command `{other}`: s, n, b, c, t N or q");
                continue;
            }
        };
        if let Err(e) = result {
            let _ = writeln!(out, "{e}");
            continue;
        }
        finish(&mut s);
        show(&mut out, &s.snapshot());
    }
}

/// Works a run or step over to its stop.
fn finish(s: &mut ProgramSession) {
    while s.work(50_000_000, &|| false) {}
}

fn hex_or_dash(v: Option<u64>) -> String {
    v.map_or("-".into(), |v| format!("{v:#x}"))
}

/// `function+offset file:line` of a code name.
fn place(c: &session::program::CodeName) -> String {
    format!(
        "{}+{:#x} {}:{}",
        c.function,
        c.offset,
        c.file.as_deref().unwrap_or("?"),
        c.line.unwrap_or(0)
    )
}

/// Prints what the program shows now.
fn show(out: &mut impl Write, snap: &ProgramSnapshot) {
    let _ = writeln!(out, "\n{}", "─".repeat(100));
    let state = match &snap.state {
        ProgramState::AtBreakpoint { thread } => format!(
            "at the breakpoint {} on thread {}",
            snap.breakpoint.as_ref().map_or("", |b| b.symbol.as_str()),
            snap.threads.get(*thread).map_or(0, |t| t.tid)
        ),
        ProgramState::Ended { how, .. } => format!("ended: {how}"),
        ProgramState::Paused => "paused".into(),
        ProgramState::Running => "running".into(),
        ProgramState::Loaded => "loaded".into(),
    };
    let _ = writeln!(
        out,
        "{} · {} · {} · step {} · {state}",
        snap.name,
        snap.go_version.as_deref().unwrap_or("not a Go binary"),
        snap.linking,
        snap.step
    );
    if let Some(m) = &snap.message {
        let _ = writeln!(out, "  ({m})");
    }
    if let Some(m) = &snap.names_missing {
        let _ = writeln!(out, "  ({m})");
    }
    let _ = writeln!(out, "threads:");
    for t in &snap.threads {
        let code = t.code.as_ref().map_or(String::new(), place);
        let mark = if t.followed { "▶" } else { " " };
        let _ = writeln!(
            out,
            "  {mark} [{}] tid {} {:<24} rip {:#x} {code}",
            t.index, t.tid, t.state, t.rip
        );
    }
    let _ = writeln!(out, "code:");
    let cur = snap.listing.iter().position(|i| i.current).unwrap_or(0);
    for i in snap
        .listing
        .iter()
        .skip(cur.saturating_sub(AROUND))
        .take(2 * AROUND + 1)
    {
        let place = i.code.as_ref().map_or(String::new(), place);
        let target = i
            .target
            .as_deref()
            .map_or(String::new(), |t| format!(" ; {t}"));
        let _ = writeln!(
            out,
            "  {} {:#x}  {:<40} {place}",
            if i.current { "▶" } else { " " },
            i.addr,
            format!("{}{target}", i.text)
        );
        if let Some(src) = &i.source {
            let _ = writeln!(out, "             {}", src.trim());
        }
    }
    let _ = writeln!(out, "registers:");
    for chunk in snap.registers.chunks(4) {
        let line: Vec<String> = chunk
            .iter()
            .map(|r| format!("{:<8}{:#018x}", r.name, r.value))
            .collect();
        let _ = writeln!(out, "  {}", line.join("  "));
    }
    for st in &snap.stacks {
        let kind = match st.kind {
            StackKind::Goroutine => format!("goroutine {}", st.goid.unwrap_or(0)),
            StackKind::G0 => "g0 (the m's system stack)".into(),
            StackKind::Gsignal => "gsignal (the m's signal stack)".into(),
        };
        let _ = writeln!(
            out,
            "stack of {kind}: g {:#x} [{:#x}, {:#x}) sp {}{}",
            st.g,
            st.lo,
            st.hi,
            hex_or_dash(st.sp),
            if st.live { "  ◀ RSP is here" } else { "" }
        );
        for w in st.words.iter().take(WORDS) {
            let _ = writeln!(
                out,
                "    hi-{:#06x} {:>18}  {:<34} {}",
                st.hi.saturating_sub(w.addr),
                hex_or_dash(w.value),
                w.frame.as_deref().unwrap_or("frame not named"),
                w.reading.as_deref().unwrap_or("")
            );
        }
    }
    if !snap.stdout.is_empty() || !snap.stderr.is_empty() {
        let _ = writeln!(out, "output so far:");
        for l in snap.stdout.lines().chain(snap.stderr.lines()).take(40) {
            let _ = writeln!(out, "  | {l}");
        }
    }
}
