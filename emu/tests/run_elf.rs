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
