//! `emu lesson`: list the lessons, check them (every checkpoint, question and ending, under
//! every release each declares), and play one in the terminal.

use clap::Subcommand;
use session::course::{self as lesson, Lesson, LessonError, QuestionKind};
use session::walkthrough::{self as view, Player};
use session::GoRelease;
use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What `emu lesson` does.
#[derive(Subcommand)]
pub enum Action {
    /// List the lessons in order.
    List {
        /// The lessons folder (found from the current directory when absent).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Check lessons: every checkpoint and question holds and each ends as declared,
    /// under every release it declares. Exits non-zero on any failure.
    Check {
        /// Lesson files or folders (every lesson in lessons/ when absent).
        paths: Vec<PathBuf>,
        /// Only this release.
        #[arg(long = "go")]
        go: Option<String>,
    },
    /// Step through a lesson: Enter steps, `b` steps back, `c` runs to the next stop,
    /// `q` quits. When standard input is not a terminal, prints the whole walkthrough.
    Play {
        /// The lesson's number, id, or file.
        lesson: String,
        /// Go release (the newest the lesson declares when absent).
        #[arg(long = "go")]
        go: Option<String>,
        /// The lessons folder (found from the current directory when absent).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// At most this many steps are printed one by one (non-interactive).
        #[arg(long, default_value_t = 1500)]
        print_steps: usize,
    },
}

/// Runs `emu lesson …`.
pub fn main(action: Action) -> ExitCode {
    let chosen = |go: Option<String>| match go {
        None => Ok(None),
        Some(name) => crate::release(Some(&name)).map(Some),
    };
    match action {
        Action::List { dir } => list(dir),
        Action::Check { paths, go } => match chosen(go) {
            Ok(only) => check(&paths, only),
            Err(e) => usage(&e),
        },
        Action::Play {
            lesson,
            go,
            dir,
            print_steps,
        } => match chosen(go) {
            Ok(release) => play(&lesson, release, dir, print_steps),
            Err(e) => usage(&e),
        },
    }
}

fn usage(message: &str) -> ExitCode {
    eprintln!("emu lesson: {message}");
    ExitCode::from(2)
}

/// The lessons folder: `lessons/` here or in a parent holding the workspace, else the
/// one next to emu's sources.
fn lessons_dir(given: Option<PathBuf>) -> PathBuf {
    if let Some(d) = given {
        return d;
    }
    if let Ok(cwd) = std::env::current_dir() {
        for d in cwd.ancestors() {
            let candidate = d.join("lessons");
            if candidate.is_dir() && (d == cwd || d.join("Cargo.toml").is_file()) {
                return candidate;
            }
        }
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../lessons")
}

/// Every lesson file under the given paths (files, or folders of `.toml` files).
fn lesson_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    let dirs: Vec<PathBuf> = if paths.is_empty() {
        vec![lessons_dir(None)]
    } else {
        paths.to_vec()
    };
    for p in dirs {
        if p.is_dir() {
            files.extend(Lesson::files_in(&p).map_err(|e| format!("{}: {e}", p.display()))?);
        } else {
            files.push(p);
        }
    }
    Ok(files)
}

/// Loads every lesson in `dir`, printing the files that do not load.
fn load_all(dir: &Path) -> (Vec<Lesson>, Vec<LessonError>) {
    let mut lessons = Vec::new();
    let mut errors = Vec::new();
    match Lesson::files_in(dir) {
        Ok(files) => {
            for f in files {
                match Lesson::load(&f) {
                    Ok(l) => lessons.push(l),
                    Err(e) => errors.push(e),
                }
            }
        }
        Err(e) => errors.push(LessonError {
            file: dir.display().to_string(),
            line: None,
            col: None,
            field: String::new(),
            message: e.to_string(),
        }),
    }
    lessons.sort_by_key(|l| l.number);
    (lessons, errors)
}

fn releases_text(l: &Lesson) -> String {
    l.releases
        .iter()
        .map(|r| r.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn list(dir: Option<PathBuf>) -> ExitCode {
    let dir = lessons_dir(dir);
    let (lessons, errors) = load_all(&dir);
    for l in &lessons {
        println!(
            "{:>3}  {:<28} {:<10} {}{}",
            l.number,
            l.id,
            releases_text(l),
            l.title,
            if l.known_wrong.is_some() {
                "  [known wrong]"
            } else {
                ""
            }
        );
    }
    for e in &errors {
        eprintln!("emu lesson: {e}");
    }
    if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn check(paths: &[PathBuf], only: Option<GoRelease>) -> ExitCode {
    let files = match lesson_files(paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("emu lesson check: {e}");
            return ExitCode::from(2);
        }
    };
    if files.is_empty() {
        eprintln!("emu lesson check: no lesson files");
        return ExitCode::from(2);
    }
    let mut lessons = Vec::new();
    let mut failed = 0usize;
    for f in &files {
        match Lesson::load(f) {
            Ok(l) => lessons.push(l),
            Err(e) => {
                println!("ERROR {e}");
                failed += 1;
            }
        }
    }
    for e in lesson::check_unique(&lessons) {
        println!("ERROR {e}");
        failed += 1;
    }
    let (mut ok, mut known, mut runs) = (0usize, 0usize, 0usize);
    let mut reported: Vec<String> = Vec::new();
    for l in &lessons {
        for &r in l.releases.iter().filter(|r| only.is_none_or(|o| o == **r)) {
            runs += 1;
            match l.check(r) {
                Err(e) => {
                    // The same mistake under each release is reported once.
                    let text = e.to_string();
                    if !reported.contains(&text) {
                        println!("ERROR {text}");
                        reported.push(text);
                    }
                    failed += 1;
                }
                Ok(report) => {
                    let problems = report.problems();
                    let head = format!("{}  go{}  {}", l.file, r, l.id);
                    match (&report.known_wrong, report.holds()) {
                        (None, true) => {
                            ok += 1;
                            println!(
                                "ok    {head}: {} items, {} claims, {} steps",
                                report.items.len(),
                                report.claims(),
                                report.steps
                            );
                        }
                        (Some(why), false) => {
                            known += 1;
                            println!("KNOWN WRONG  {head}: {why}");
                            for p in &problems {
                                println!("      {p}");
                            }
                        }
                        (Some(why), true) => {
                            failed += 1;
                            println!(
                                "FAIL  {head}: marked known_wrong (\"{why}\") but every claim holds: remove the mark"
                            );
                        }
                        (None, false) => {
                            failed += 1;
                            println!("FAIL  {head}");
                            for p in &problems {
                                println!("      {p}");
                            }
                        }
                    }
                }
            }
        }
    }
    println!(
        "{} lesson files, {runs} runs: {ok} ok, {known} known wrong, {failed} failed",
        files.len()
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn find_lesson(name: &str, dir: Option<PathBuf>) -> Result<Lesson, String> {
    let path = Path::new(name);
    if name.ends_with(".toml") || path.is_file() {
        return Lesson::load(path).map_err(|e| e.to_string());
    }
    let dir = lessons_dir(dir);
    let (lessons, errors) = load_all(&dir);
    let found = lessons
        .into_iter()
        .find(|l| l.id == name || name.parse::<u32>().ok() == Some(l.number));
    match found {
        Some(l) => Ok(l),
        None => {
            let mut msg = format!(
                "no lesson `{name}` in {} (emu lesson list shows them)",
                dir.display()
            );
            for e in errors {
                msg.push_str(&format!("\n  {e}"));
            }
            Err(msg)
        }
    }
}

/// Text to the terminal, indented, with Markdown left as it is (it reads as text).
fn block(out: &mut impl Write, indent: &str, text: &str) {
    for line in text.trim_end().lines() {
        let _ = writeln!(out, "{indent}{line}");
    }
}

const WIDTH: usize = 110;

fn play(name: &str, release: Option<GoRelease>, dir: Option<PathBuf>, cap: usize) -> ExitCode {
    let lesson = match find_lesson(name, dir) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("emu lesson play: {e}");
            return ExitCode::from(2);
        }
    };
    // Like the page, the newest release the lesson holds for.
    let release = release
        .or_else(|| lesson.releases.iter().max().copied())
        .unwrap_or_else(GoRelease::latest);
    let mut player = match Player::new(&lesson, release) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("emu lesson play: {e}");
            return ExitCode::from(2);
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    intro(&mut out, &lesson, release);
    let interactive = std::io::stdin().is_terminal();
    if interactive {
        drop(out);
        interactive_play(&mut player)
    } else {
        walkthrough(&mut out, &mut player, cap)
    }
}

fn intro(out: &mut impl Write, lesson: &Lesson, release: GoRelease) {
    let _ = writeln!(
        out,
        "Lesson {}: {}  (go{release})",
        lesson.number, lesson.title
    );
    let _ = writeln!(out, "{}", "═".repeat(WIDTH.min(100)));
    block(out, "", &lesson.summary);
    if let Some(why) = &lesson.known_wrong {
        let _ = writeln!(out, "\n(!) This lesson is marked known to be wrong: {why}");
    }
    if !lesson.differences.is_empty() {
        let _ = writeln!(out, "\nThe releases differ here:");
        for d in &lesson.differences {
            let _ = writeln!(out, "  • {}", d.topic);
            for (r, text) in &d.by_release {
                block(out, &format!("      go{r}: "), text);
            }
        }
    }
    let _ = writeln!(
        out,
        "\n  step  thread       line                 source                             | Intel                              symbol"
    );
}

/// Prints what the items reached say; returns whether any was reached.
fn show_reached(
    out: &mut impl Write,
    player: &Player,
    reached: &[(usize, usize)],
    ask: &mut dyn FnMut(&lesson::Question) -> Option<String>,
) -> bool {
    for &(i, thread) in reached {
        let item = &player.items[i];
        let p = &player.process;
        if let Some(text) = item.text {
            let _ = writeln!(out);
            block(out, "   ▌ ", text);
        }
        if !item.claims.is_empty() {
            for c in item.claims {
                let verdict = match session::go_model::check::evaluate(p, thread, c.get_ref()) {
                    Ok(()) => "✓".to_string(),
                    Err(e) => format!("✗ {e}"),
                };
                let _ = writeln!(out, "   ▌   check: {}  {verdict}", c.get_ref());
            }
        }
        if let Some(q) = item.question {
            let _ = writeln!(out);
            block(out, "   ? ", &q.ask);
            for (k, c) in q.choice_texts().into_iter().enumerate() {
                let _ = writeln!(out, "   ?   {}) {c}", (b'a' + k as u8) as char);
            }
            let given = ask(q);
            let truth = match q.kind {
                QuestionKind::FaultLine => None,
                _ => lesson::run::machine_answer(p, thread, q).ok(),
            };
            if let Some(g) = given {
                let answer = q.answer_text();
                let right = if q.choices.is_empty() {
                    g.trim() == answer
                } else {
                    let k = g
                        .trim()
                        .bytes()
                        .next()
                        .map(|b| b.wrapping_sub(b'a') as usize);
                    k.and_then(|k| q.choice_texts().get(k).copied())
                        .is_some_and(|c| c == answer)
                        || g.trim() == answer
                };
                let _ = writeln!(
                    out,
                    "   ?   {}",
                    if right { "Right." } else { "Not quite." }
                );
            }
            let _ = writeln!(out, "   ?   Answer: {}", q.answer_text());
            if let Some(t) = truth {
                let _ = writeln!(out, "   ?   (the machine says: {t})");
            } else {
                let _ = writeln!(out, "   ?   (the next fault will tell)");
            }
            block(out, "   ?   ", &q.explain);
        }
    }
    !reached.is_empty()
}

/// What was reached before a step, for deciding what to print after it.
struct Forward {
    reached: Vec<(usize, usize)>,
}

fn walkthrough(out: &mut impl Write, player: &mut Player, cap: usize) -> ExitCode {
    let mut printed = 0usize;
    let mut seen: HashMap<(usize, u64), u32> = HashMap::new();
    let mut skipped = 0u64;
    let mut last_live: Option<String> = None;
    let mut no_ask = |_: &lesson::Question| None;
    let stacks_now = |out: &mut dyn Write, player: &Player, thread: usize| {
        let _ = writeln!(out);
        for l in view::stacks(&player.process, thread, WIDTH) {
            let _ = writeln!(out, "        {l}");
        }
        let _ = writeln!(out);
    };
    let mut started = false;
    loop {
        let (next, reached) = player.arrive();
        let Some(thread) = next else {
            show_reached(out, player, &reached, &mut no_ask);
            break;
        };
        if !started {
            // The start: what is reached at step 0, then the stacks as they are.
            started = true;
            show_reached(out, player, &reached, &mut no_ask);
            stacks_now(out, player, thread);
            last_live = view::live_region(&player.process, thread);
            let step = player.step(thread);
            for l in view::step_lines(&player.process, &step) {
                let _ = writeln!(out, "{l}");
            }
            printed += 1;
            continue;
        }
        let at_stop = !reached.is_empty();
        if at_stop {
            flush_skipped(out, &mut skipped, cap);
            show_reached(out, player, &reached, &mut no_ask);
            let _ = writeln!(out);
        }
        let step = player.step(thread);
        let fwd = Forward { reached };
        let pc = step
            .event
            .as_ref()
            .and_then(|e| e.instruction.as_ref())
            .map(|d| d.addr);
        let notable = !fwd.reached.is_empty()
            || step.stage.is_some()
            || step
                .event
                .as_ref()
                .is_some_and(|e| e.fault.is_some() || e.error.is_some() || e.syscall.is_some());
        let repeats = pc.map_or(0, |pc| {
            let n = seen.entry((step.thread, pc)).or_insert(0);
            *n += 1;
            *n
        });
        // A loop's third time round is summarised, not printed.
        let quiet = !notable && (repeats > 2 || printed >= cap);
        if quiet {
            skipped += 1;
            continue;
        }
        flush_skipped(out, &mut skipped, cap);
        let thread = step.thread;
        for l in view::step_lines(&player.process, &step) {
            let _ = writeln!(out, "{l}");
        }
        printed += 1;
        let live = view::live_region(&player.process, thread);
        let switched = live != last_live;
        if switched || !fwd.reached.is_empty() {
            if switched && last_live.is_some() {
                let _ = writeln!(
                    out,
                    "        ⇄ RSP of {} is now in {}",
                    player.process.world.threads[thread].name,
                    live.clone().unwrap_or_else(|| "no region".into())
                );
            }
            if switched {
                stacks_now(out, player, thread);
            }
            last_live = live;
        }
    }
    if skipped > 0 {
        let _ = writeln!(out, "        … {skipped} more steps");
    }
    ending(out, player)
}

fn ending(out: &mut impl Write, player: &Player) -> ExitCode {
    let p = &player.process;
    let _ = writeln!(out, "\n── the end (step {}) ──", p.steps());
    let so = p.output(1);
    let se = p.output(2);
    if !so.is_empty() {
        let _ = writeln!(out, "standard output:");
        block(out, "  | ", &so);
    }
    if !se.is_empty() {
        let _ = writeln!(out, "standard error:");
        block(out, "  | ", &se);
    }
    match (p.exit_status(), p.error()) {
        (Some(s), _) => {
            let _ = writeln!(out, "exit status {s}");
        }
        (None, Some(e)) => {
            let _ = writeln!(out, "stopped: {e}");
        }
        _ => {
            let _ = writeln!(out, "stopped after {} steps", p.steps());
        }
    }
    if let Some(e) = player.lesson.ending_for(player.release) {
        let mut problems = Vec::new();
        if p.exit_status() != Some(e.exit_status) {
            problems.push(format!("expected exit status {}", e.exit_status));
        }
        if let Some(want) = &e.stderr {
            problems.extend(session::go_model::scenario::compare_lines(want, &se));
        }
        if problems.is_empty() {
            let _ = writeln!(out, "(as the lesson declares)");
        } else {
            for pr in problems {
                let _ = writeln!(out, "(!) not as declared: {pr}");
            }
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}

fn interactive_play(player: &mut Player) -> ExitCode {
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let stdout = std::io::stdout();
    let help =
        "Enter: step   b: back   c: continue to the next stop   r: registers   s: stacks   q: quit";
    println!("{help}\n");
    {
        let mut out = stdout.lock();
        let t = 0;
        for l in view::stacks(&player.process, t, WIDTH) {
            let _ = writeln!(out, "        {l}");
        }
    }
    // The items reached at each step, for showing again after stepping back.
    loop {
        print!("[step {}] > ", player.process.steps());
        let _ = std::io::stdout().flush();
        let Some(Ok(cmd)) = lines.next() else {
            return ExitCode::SUCCESS;
        };
        let cmd = cmd.trim().to_string();
        let mut out = stdout.lock();
        match cmd.as_str() {
            "q" => return ExitCode::SUCCESS,
            "b" => {
                if player.back() {
                    let t = player.process.world.machine.last_thread().unwrap_or(0);
                    let pc = player.process.world.machine.thread(t).cpu.rip;
                    if let Some((place, src, intel)) = view::source_at(&player.process, pc) {
                        let _ = writeln!(
                            out,
                            "back to step {}: {place}  {src}  | {intel}",
                            player.process.steps()
                        );
                    }
                } else {
                    let _ = writeln!(out, "at the start");
                }
            }
            "r" => {
                let t = player.process.world.machine.last_thread().unwrap_or(0);
                for l in view::registers(&player.process, t) {
                    let _ = writeln!(out, "  {l}");
                }
            }
            "s" => {
                let t = player.process.world.machine.last_thread().unwrap_or(0);
                for l in view::stacks(&player.process, t, WIDTH) {
                    let _ = writeln!(out, "        {l}");
                }
            }
            "" | "c" => {
                let until_stop = cmd == "c";
                loop {
                    // Ask questions on the terminal before stepping on.
                    drop(out);
                    let (next, reached) = player.arrive();
                    out = stdout.lock();
                    let mut ask = |_: &lesson::Question| -> Option<String> {
                        print!("   ?   your answer: ");
                        let _ = std::io::stdout().flush();
                        let mut s = String::new();
                        std::io::stdin().lock().read_line(&mut s).ok()?;
                        Some(s)
                    };
                    drop(out);
                    let mut o = std::io::stdout();
                    let stop = show_reached(&mut o, player, &reached, &mut ask);
                    out = stdout.lock();
                    let Some(thread) = next else {
                        drop(out);
                        let mut o = std::io::stdout();
                        return ending(&mut o, player);
                    };
                    let step = player.step(thread);
                    for l in view::step_lines(&player.process, &step) {
                        let _ = writeln!(out, "{l}");
                    }
                    let next_bp = player
                        .process
                        .world
                        .threads
                        .iter()
                        .enumerate()
                        .any(|(i, _)| {
                            player
                                .breakpoints
                                .contains(&player.process.world.machine.thread(i).cpu.rip)
                        });
                    if !until_stop || stop || next_bp || player.ended() {
                        if !until_stop {
                            for l in view::stacks(&player.process, step.thread, WIDTH) {
                                let _ = writeln!(out, "        {l}");
                            }
                        }
                        break;
                    }
                }
            }
            _ => {
                let _ = writeln!(out, "{help}");
            }
        }
    }
}

/// Says how many quiet steps went unprinted since the last printed one, if any.
fn flush_skipped(out: &mut dyn std::io::Write, skipped: &mut u64, cap: usize) {
    if *skipped > 0 {
        let _ = writeln!(
            out,
            "        … {skipped} more step{} (the loop above goes round, or the printing cap of {cap} steps is reached)",
            if *skipped == 1 { "" } else { "s" }
        );
        *skipped = 0;
    }
}
