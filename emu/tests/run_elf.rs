//! `emu run ./prog [args…]`: a real executable (here a small C program without libc, built
//! with the host's cc) runs with exactly the arguments and environment given, its output
//! printed, its exit status the process's; `--json`, `--max-steps` and `--trace-syscalls`.

use std::path::PathBuf;
use std::process::Command;

/// Prints its argv and envp, one string a line, then exits with argc.
const ECHO: &str = r#"
static long sys(long n, long a, long b, long c) {
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}
static void line(const char *s) { long n = 0; while (s[n]) n++; sys(1, 1, (long)s, n); sys(1, 1, (long)"\n", 1); }
void _start(void) {
    long *sp;
    __asm__ volatile("lea 8(%%rbp), %0" : "=r"(sp));
    long argc = sp[0];
    char **argv = (char **)(sp + 1);
    for (long i = 0; i < argc; i++) line(argv[i]);
    for (char **e = argv + argc + 1; *e; e++) line(*e);
    if (argc > 1 && argv[1][0] == 'l') for (;;) {}
    sys(231, argc, 0, 0);
}
"#;

/// The program, built once for all the tests (which run in parallel).
fn echo() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT.get_or_init(build_echo).clone()
}

fn build_echo() -> PathBuf {
    let dir = std::env::temp_dir().join("stackswitch-emu-run-elf");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("echo.c"), ECHO).unwrap();
    let exe = dir.join("echo");
    let out = Command::new("cc")
        .current_dir(&dir)
        .args(["-O1", "-static", "-nostdlib", "-fno-pie", "-no-pie"])
        .args([
            "-fno-omit-frame-pointer",
            "-mgeneral-regs-only",
            "-fno-stack-protector",
        ])
        .arg("-o")
        .arg(&exe)
        .arg("echo.c")
        .output()
        .expect("cc runs (test.sh installs gcc)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

fn emu(args: &[&str]) -> (String, String, Option<i32>) {
    let out = Command::new(env!("CARGO_BIN_EXE_emu"))
        .args(args)
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code(),
    )
}

#[test]
fn the_program_gets_exactly_its_arguments_and_the_env_given() {
    let exe = echo();
    let path = exe.to_str().unwrap();
    let (out, _, status) = emu(&["run", "--env", "K=V", "--env", "A=b c", path, "x", "--flag"]);
    assert_eq!(out, format!("{path}\nx\n--flag\nK=V\nA=b c\n"));
    assert_eq!(status, Some(3), "exit status argc");
}

#[test]
fn json_reports_status_output_steps_and_system_calls() {
    let exe = echo();
    let (out, _, status) = emu(&["run", "--json", exe.to_str().unwrap(), "one"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["exit_status"], 2);
    assert_eq!(v["signal"], serde_json::Value::Null);
    assert!(v["stdout"].as_str().unwrap().ends_with("\none\n"));
    assert_eq!(v["stderr"], "");
    assert_eq!(v["threads"], 1);
    assert_eq!(v["syscalls"]["write"], 4);
    assert_eq!(v["syscalls"]["exit_group"], 1);
    assert!(v["steps"].as_u64().unwrap() > 10);
    assert_eq!(v["unknown_syscalls"], serde_json::json!({}));
    assert_eq!(status, Some(2));
}

#[test]
fn a_program_that_never_ends_stops_at_max_steps_with_a_message() {
    let exe = echo();
    let (_, err, status) = emu(&[
        "run",
        "--max-steps",
        "100000",
        exe.to_str().unwrap(),
        "loop",
    ]);
    assert!(err.contains("no end within 100000 steps"), "{err}");
    assert_eq!(status, Some(124));
}

#[test]
fn trace_syscalls_prints_strace_like_lines_on_stderr() {
    let exe = echo();
    let (_, err, _) = emu(&["run", "--trace-syscalls", exe.to_str().unwrap()]);
    let lines: Vec<&str> = err.lines().collect();
    assert!(lines[0].starts_with("[1000] write(0x1, "), "{err}");
    assert!(
        lines.last().unwrap().starts_with("[1000] exit_group(0x1"),
        "{err}"
    );
}

/// `emu run --break SYMBOL ./prog` with `commands` on standard input.
fn walk(symbol: &str, commands: &str) -> (String, String, Option<i32>) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_emu"))
        .args(["run", "--break", symbol])
        .arg(echo())
        .arg("x")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("emu runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(commands.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code(),
    )
}

#[test]
fn break_stops_at_the_symbol_then_steps_and_steps_back_to_the_window_start() {
    let (out, err, status) = walk("_start", "s\ns\nb\nb\nb\nq\n");
    assert_eq!(status, Some(0), "{err}");
    let shows: Vec<&str> = out.lines().filter(|l| l.contains(" · step ")).collect();
    // The stop, two steps, two steps back; the third back is refused at the window's start.
    assert_eq!(shows.len(), 5, "{out}");
    assert!(
        shows[0].ends_with("at the breakpoint _start on thread 1000"),
        "{}",
        shows[0]
    );
    let step = |l: &str| -> u64 {
        l.split(" · step ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let at = step(shows[0]);
    assert_eq!(
        shows.iter().map(|l| step(l)).collect::<Vec<_>>(),
        [at, at + 1, at + 2, at + 1, at]
    );
    assert!(
        out.contains("this is the start of the stepping window"),
        "{out}"
    );
    // At the stop, the followed thread's RIP is the listing's marked instruction.
    let first: Vec<&str> = out.split(" · step ").nth(1).unwrap().lines().collect();
    let rip = first
        .iter()
        .find(|l| l.trim_start().starts_with("▶ [0]"))
        .and_then(|l| l.split("rip ").nth(1))
        .and_then(|r| r.split_whitespace().next())
        .expect("the followed thread's line");
    assert!(
        first
            .iter()
            .any(|l| l.trim_start().starts_with(&format!("▶ {rip} "))),
        "{out}"
    );
}

#[test]
fn break_on_a_symbol_the_binary_lacks_is_a_clear_error() {
    let (_, err, status) = walk("runtime.nosuch", "q\n");
    assert_eq!(status, Some(2));
    assert!(
        err.contains("--break runtime.nosuch") && err.contains("no symbol"),
        "{err}"
    );
}

#[test]
fn continuing_past_the_breakpoint_runs_to_the_end_with_the_programs_status() {
    let (out, err, status) = walk("_start", "c\n");
    // argc is 2 (the path and "x"): the program exits with it.
    assert_eq!(status, Some(2), "{err}");
    assert!(out.contains("ended: exited with status 2"), "{out}");
    assert!(
        out.contains("| x"),
        "the output so far shows what it printed:\n{out}"
    );
}
