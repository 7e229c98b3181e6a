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

const FRAMED: &str =
    "#include \"textflag.h\"\nTEXT ·f(SB), NOSPLIT, $16-8\n\tMOVQ\tx+0(FP), AX\n\tRET\n";

fn asm(args: &[&str]) -> (String, String, i32) {
    let path =
        std::env::temp_dir().join(format!("emu-cli-{}-{}.s", std::process::id(), args.len()));
    std::fs::write(&path, FRAMED).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_emu"))
        .arg("asm")
        .arg(&path)
        .args(args)
        .output()
        .unwrap();
    std::fs::remove_file(&path).ok();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.code().unwrap(),
    )
}

#[test]
fn asm_listing_shows_address_bytes_go_line_and_intel() {
    let (out, _, code) = asm(&["--base", "0x401000"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("TEXT runtime·f(SB) "), "{out}");
    // The prologue Go's assembler inserts is attributed to the TEXT line (2).
    assert!(
        lines[1].contains(":2\t0x401000") && lines[1].contains("4883ec18"),
        "{out}"
    );
    assert!(lines[1].ends_with("sub rsp, 0x18"), "{out}");
    let load = lines
        .iter()
        .find(|l| l.contains("MOVQ\tx+0(FP), AX"))
        .unwrap();
    assert!(
        load.contains(":3\t")
            && load.contains("488b442420")
            && load.ends_with("mov rax, qword ptr [rsp+0x20]"),
        "{load}"
    );
}

#[test]
fn asm_json_has_the_contract_fields() {
    let (out, _, code) = asm(&["--json", "--go", "1.14", "--base", "4096"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let first = &v["instructions"][0];
    for field in [
        "addr", "bytes", "file", "line", "col", "source", "intel", "att",
    ] {
        assert!(first.get(field).is_some(), "missing {field}: {first}");
    }
    assert_eq!(first["addr"], "0x1000");
    assert_eq!(first["line"], 2);
    assert_eq!(first["att"], "sub $0x18,%rsp");
    assert_eq!(v["symbols"][0]["name"], "runtime·f");
    assert_eq!(v["symbols"][0]["addr"], "0x1000");
    let addrs: Vec<u64> = v["instructions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| session::machine::num::parse_number(i["addr"].as_str().unwrap()).unwrap())
        .collect();
    assert!(addrs.windows(2).all(|w| w[0] < w[1]), "address order");
}

#[test]
fn asm_errors_are_located_and_exit_non_zero() {
    let path = std::env::temp_dir().join(format!("emu-cli-bad-{}.s", std::process::id()));
    std::fs::write(&path, "TEXT ·f(SB), $0\n\tMOVQ\tRAX, BX\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_emu"))
        .arg("asm")
        .arg(&path)
        .output()
        .unwrap();
    std::fs::remove_file(&path).ok();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains(":2:7: unknown register `RAX`") && err.contains("help: did you mean `AX`?"),
        "{err}"
    );
}

/// `--release-dir` adds a release from files alone, and `--go` names it.
#[test]
fn run_under_a_release_dir() {
    let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../releases/go1.24");
    let dir = std::env::temp_dir().join(format!("emu-cli-release-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("runtime")).unwrap();
    for e in std::fs::read_dir(from.join("runtime")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.join("runtime").join(e.file_name())).unwrap();
    }
    let text = std::fs::read_to_string(from.join("release.toml"))
        .unwrap()
        .replace("name = \"1.24\"", "name = \"1.93\"")
        .replace("key = \"go1_24\"", "key = \"go1_93\"");
    std::fs::write(dir.join("release.toml"), text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_emu"))
        .args(["run", "cgo-c-null-write", "--go", "1.93", "--release-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("signal arrived during cgo execution"),
        "{stderr}"
    );
    // Without the folder the release is unknown, and the message lists the known ones.
    let out = Command::new(env!("CARGO_BIN_EXE_emu"))
        .args(["run", "cgo-c-null-write", "--go", "1.93"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "emu run: --go 1.93: no such release (known: 1.14, 1.24; --release-dir adds one)\n"
    );
    let _ = std::fs::remove_dir_all(dir);
}
