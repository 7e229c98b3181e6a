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
    // The prologue Go's assembler inserts (the newest release's: BP pushed first) is
    // attributed to the TEXT line (2).
    assert!(
        lines[1].contains(":2\t0x401000") && lines[1].ends_with("push rbp"),
        "{out}"
    );
    assert!(
        lines[2].contains(":2\t0x401001") && lines[2].ends_with("mov rbp, rsp"),
        "{out}"
    );
    assert!(
        lines[3].contains(":2\t0x401004") && lines[3].ends_with("sub rsp, 0x10"),
        "{out}"
    );
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
        "emu run: --go 1.93: no such release (known: 1.14, 1.24, 1.27; --release-dir adds one)\n"
    );
    let _ = std::fs::remove_dir_all(dir);
}

// The one helper that finds the installed Go toolchains (`STACKSWITCH_GOROOTS`), shared
// with the stackswitch-tests crate rather than written twice.
#[path = "../../tests/src/toolchains.rs"]
#[allow(dead_code)]
mod toolchains;

/// The values `emu asm`'s built-in go_asm.h gives `names`, read back from the listing of one
/// `MOVQ $name, AX` per name.
fn go_asm_h_through_the_cli(go: Option<&str>, names: &[&str]) -> Vec<(String, i64)> {
    let mut text = String::from("#include \"go_asm.h\"\n#include \"textflag.h\"\n");
    text.push_str("TEXT ·offsets(SB), NOSPLIT, $0\n");
    for n in names {
        text.push_str(&format!("\tMOVQ\t${n}, AX\n"));
    }
    text.push_str("\tRET\n");
    let path = std::env::temp_dir().join(format!(
        "emu-cli-offsets-{}-{}.s",
        std::process::id(),
        go.unwrap_or("default")
    ));
    std::fs::write(&path, text).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_emu"));
    cmd.arg("asm").arg(&path).arg("--json");
    if let Some(go) = go {
        cmd.args(["--go", go]);
    }
    let out = cmd.output().unwrap();
    std::fs::remove_file(&path).ok();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["undefined"],
        serde_json::json!([]),
        "every name is defined"
    );
    v["instructions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| {
            let name = i["source"].as_str()?.strip_prefix("MOVQ\t$")?;
            let name = name.strip_suffix(", AX")?;
            // go1.27 encodes a small `MOVQ $v, AX` as `MOVL $v, AX` (mov eax, v).
            let intel = i["intel"].as_str()?;
            let imm = intel
                .strip_prefix("mov rax, ")
                .or_else(|| intel.strip_prefix("mov eax, "))?;
            let value = session::machine::num::parse_number(imm)? as i64;
            Some((name.to_string(), value))
        })
        .collect()
}

/// `emu asm --go 1.27` assembles against go1.27.3's offsets: those of its release file
/// always, and those go1.27.3's own compiler writes into go_asm.h where it is installed.
#[test]
fn asm_go_1_27_has_the_offsets_of_go1_27_3() {
    let release = session::GoRelease::named("1.27").unwrap();
    let names: Vec<&str> = release.offsets().map(|(n, _)| n).collect();
    let ours = go_asm_h_through_the_cli(Some("1.27"), &names);
    assert_eq!(ours.len(), names.len(), "one value per name: {ours:?}");
    for (name, value) in &ours {
        assert_eq!(release.offset(name), Some(*value), "{name}");
    }
    let value = |n: &str| ours.iter().find(|(k, _)| k == n).map(|(_, v)| *v);
    // Where go1.27 moved a field, the CLI gives go1.27's place, not go1.24's.
    assert_eq!(value("g_syscallsp"), Some(104));
    assert_eq!(value("m_curg"), Some(184));
    assert_eq!(value("gobuf_ret"), None);

    let toolchain = toolchains::release("1.27");
    if toolchain.is_none() {
        assert!(
            std::env::var("STACKSWITCH_REQUIRE_GO").is_err(),
            "STACKSWITCH_REQUIRE_GO is set but STACKSWITCH_GOROOTS names no go1.27"
        );
        eprintln!("no go1.27 toolchain: emu asm --go 1.27 not compared with the real go_asm.h");
        return;
    }
    let toolchain = toolchain.unwrap();
    let real = toolchain.go_asm_h();
    let mut compared = 0;
    for (name, ours) in &ours {
        // The derived values (const__StackGuard) are the ones go_asm.h does not carry.
        if release.derived.contains_key(name) {
            continue;
        }
        assert_eq!(
            real.get(name),
            Some(ours),
            "{name} against {}",
            toolchain.version
        );
        compared += 1;
    }
    assert!(compared >= 40, "only {compared} values compared");
}

/// Without `--go`, `emu asm` assembles for the newest release.
#[test]
fn asm_without_go_is_the_newest_release() {
    let latest = session::GoRelease::latest();
    assert_eq!(latest.name, "1.27");
    let names = ["g_syscallsp", "m_curg", "m_gsignal", "gobuf_bp"];
    let default = go_asm_h_through_the_cli(None, &names);
    for (name, value) in &default {
        assert_eq!(latest.offset(name), Some(*value), "{name}");
    }
    assert_eq!(default.len(), names.len());
    assert_ne!(
        default,
        go_asm_h_through_the_cli(Some("1.24"), &names),
        "go1.24 places them elsewhere"
    );
}

/// `emu lesson play` opens a lesson under the newest release it declares, unless `--go`
/// names another.
#[test]
fn lesson_play_opens_with_the_newest_release() {
    let lessons = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../lessons");
    let play = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_emu"))
            .args(["lesson", "play", "6", "--dir"])
            .arg(&lessons)
            .args(extra)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        text.lines().next().unwrap_or_default().to_string()
    };
    assert!(play(&[]).ends_with("(go1.27)"), "{}", play(&[]));
    assert!(play(&["--go", "1.14"]).ends_with("(go1.14)"));
}
