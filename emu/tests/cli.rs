//! The `emu` binary: `emu exec` reads JSON Lines from standard input or a file and writes
//! one result line per case, in order; bad input never stops the stream.

use std::io::Write;
use std::process::{Command, Stdio};

const LOOP: &str = r#"{"name":"a","regs":{"rip":"0x400000"},"memory":[{"addr":"0x400000","size":4096,"perm":"r-x","bytes":"b807000000cc"}]}"#;

fn exec_stdin(input: &str) -> (String, i32) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_emu"))
        .arg("exec")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        out.status.code().unwrap(),
    )
}

#[test]
fn one_result_per_line_in_order_from_stdin() {
    let input = format!("{LOOP}\nnot json\n\n{}\n", LOOP.replace("\"a\"", "\"b\""));
    let (out, code) = exec_stdin(&input);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.len(),
        3,
        "blank lines are skipped, bad lines still answered: {out}"
    );
    assert!(
        lines[0].starts_with(r#"{"name":"a","stop":"fault","steps":2,"signal":{"name":"SIGTRAP""#),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains(r#""rax":"0x7""#));
    assert!(
        lines[1].starts_with(r#"{"name":null,"stop":"error""#),
        "{}",
        lines[1]
    );
    assert!(lines[2].starts_with(r#"{"name":"b","#));
}

#[test]
fn reads_a_file_argument() {
    let path = std::env::temp_dir().join(format!("emu-cli-{}.jsonl", std::process::id()));
    std::fs::write(&path, format!("{LOOP}\n")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_emu"))
        .arg("exec")
        .arg(&path)
        .output()
        .unwrap();
    std::fs::remove_file(&path).ok();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 1);
}

#[test]
fn missing_file_and_unknown_command_fail_with_a_message() {
    let out = Command::new(env!("CARGO_BIN_EXE_emu"))
        .args(["exec", "/no/such/file.jsonl"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot open /no/such/file.jsonl"));
    let out = Command::new(env!("CARGO_BIN_EXE_emu"))
        .arg("frobnicate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .to_lowercase()
        .contains("usage"));
}
