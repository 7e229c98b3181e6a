//! Differential tests: emu against unicorn on the same `emu exec` cases.
//!
//! - `random_programs`: `DIFF_CASES` (default 10,000) seeded random programs (`DIFF_SEED`,
//!   default 0x5eed) over every instruction form the generator knows, compared field by
//!   field; regenerates `tests/differential-pass-table.md` and fails on any mismatch,
//!   printing the case line to replay with `emu exec`.
//! - One focused test per instruction family and per fault kind, each asserting the exact
//!   outcome Linux on x86-64 gives, and (unless a documented unicorn quirk prevents it) that
//!   unicorn agrees.

use emu::exec::CaseResult;
use iced_x86::code_asm::*;
use iced_x86::Mnemonic;
use stackswitch_tests::gen::{
    self, Rng, CODE, DATA, FS_BASE, ISLAND, NOACCESS, RO, RSP0, UNMAPPED,
};
use stackswitch_tests::oracle::Quirk;
use stackswitch_tests::{check, report, Checked};
use std::collections::BTreeMap;

// ---------- helpers ----------

fn run(name: &str, code: Vec<u8>, regs: &[(&str, u64)]) -> Checked {
    let mut rng = Rng::new(
        name.bytes()
            .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64)),
    );
    let line = gen::case_line(name, &mut rng, &code, regs, None, 1000);
    check(&line)
}

fn reg(r: &CaseResult, name: &str) -> u64 {
    let v = r.regs.as_ref().expect("regs")[name].as_str().expect("hex");
    emu::exec::parse_number(v).expect("number")
}

fn mem(r: &CaseResult, addr: u64, len: usize) -> Vec<u8> {
    for region in r.memory.as_ref().expect("memory") {
        let base = emu::exec::parse_number(&region.addr).expect("addr");
        let bytes = emu::exec::decode_hex(&region.bytes).expect("hex");
        if addr >= base && addr + len as u64 <= base + bytes.len() as u64 {
            let o = (addr - base) as usize;
            return bytes[o..o + len].to_vec();
        }
    }
    panic!("{addr:#x} is in no region")
}

fn same(c: &Checked) {
    assert!(c.diffs.is_empty(), "emu and unicorn differ:\n{}", report(c));
}

fn signal(r: &CaseResult) -> (String, i32, u64, u64) {
    let s = r
        .signal
        .as_ref()
        .unwrap_or_else(|| panic!("no signal: {}", serde_json::to_string(r).unwrap()));
    (
        s.name.to_string(),
        s.code,
        emu::exec::parse_number(&s.addr).expect("addr"),
        emu::exec::parse_number(&s.pc).expect("pc"),
    )
}

/// Asserts a run ended with the INT3 at the end of the program (SIGTRAP, pc after it).
fn ends_at_int3(r: &CaseResult, code: &[u8]) {
    assert_eq!(r.stop, "fault");
    assert_eq!(
        signal(r),
        ("SIGTRAP".to_string(), 0x80, 0, CODE + code.len() as u64)
    );
}

const STATUS: u64 = 0x8d5;

// ---------- random programs ----------

/// Mnemonics every default run must execute (at least `MIN_PER_MNEMONIC` cases each).
const REQUIRED: &[&str] = &[
    "MOV", "MOVZX", "MOVSX", "MOVSXD", "LEA", "XCHG", "BSWAP", "PUSH", "POP", "PUSHFQ", "POPFQ",
    "PUSHF", "POPF", "CMOVA", "CMOVAE", "CMOVB", "CMOVBE", "CMOVE", "CMOVNE", "CMOVG", "CMOVGE",
    "CMOVL", "CMOVLE", "CMOVO", "CMOVNO", "CMOVP", "CMOVNP", "CMOVS", "CMOVNS", "SETA", "SETAE",
    "SETB", "SETBE", "SETE", "SETNE", "SETG", "SETGE", "SETL", "SETLE", "SETO", "SETNO", "SETP",
    "SETNP", "SETS", "SETNS", "ADD", "ADC", "SUB", "SBB", "CMP", "INC", "DEC", "NEG", "MUL",
    "IMUL", "DIV", "IDIV", "AND", "OR", "XOR", "NOT", "TEST", "SHL", "SAL", "SHR", "SAR", "ROL",
    "ROR", "BT", "BTS", "BTR", "BTC", "CBW", "CWDE", "CDQE", "CWD", "CDQ", "CQO", "JMP", "JA",
    "JAE", "JB", "JBE", "JE", "JNE", "JG", "JGE", "JL", "JLE", "JO", "JNO", "JP", "JNP", "JS",
    "JNS", "CALL", "RET", "LEAVE", "NOP", "ENDBR64", "HLT", "INT3", "UD2",
];
const MIN_PER_MNEMONIC: u64 = 10;

/// Notes for the pass table: what is generated differently, and why.
fn static_note(m: &str) -> &'static str {
    match m {
        "LEAVE" => "16-bit LEAVE (66 C9) not generated: QEMU pops 8 bytes into RBP, the SDM 2 into BP (focused test)",
        "TEST" => "F6/F7 /1 alias not generated: QEMU raises #UD, hardware executes TEST (focused test)",
        "BSWAP" => "16-bit BSWAP not generated: undefined result; QEMU swaps 32 bits, emu/hardware clear the word (focused test)",
        "POPF" | "POPFQ" => "images keep TF=0, IF=1, IOPL=0, AC=0 (no single-step/#AC model; unicorn runs at CPL 0)",
        "HLT" => "unicorn runs at CPL 0: the oracle raises the CPL-3 #GP",
        "SHL" | "SAL" | "SHR" | "SAR" | "ROL" | "ROR" => "OF masked unless count 1; CF masked for SHL/SHR count >= width",
        "MUL" | "IMUL" => "SF/ZF/AF/PF masked (undefined)",
        "DIV" | "IDIV" => "all status flags masked (undefined)",
        "BT" | "BTS" | "BTR" | "BTC" => "OF/SF/AF/PF masked (undefined)",
        "AND" | "OR" | "XOR" | "TEST" => "AF masked (undefined)",
        _ => "",
    }
}

fn family(m: &str) -> &'static str {
    match m {
        "MOV" | "MOVZX" | "MOVSX" | "MOVSXD" | "LEA" | "XCHG" | "BSWAP" => "data movement",
        "PUSH" | "POP" | "PUSHF" | "PUSHFQ" | "POPF" | "POPFQ" | "LEAVE" => "stack",
        "CBW" | "CWDE" | "CDQE" | "CWD" | "CDQ" | "CQO" => "sign extension",
        "ADD" | "ADC" | "SUB" | "SBB" | "CMP" | "INC" | "DEC" | "NEG" => "add/sub",
        "MUL" | "IMUL" | "DIV" | "IDIV" => "multiply/divide",
        "AND" | "OR" | "XOR" | "NOT" | "TEST" => "logic",
        "SHL" | "SAL" | "SHR" | "SAR" | "ROL" | "ROR" => "shift/rotate",
        "BT" | "BTS" | "BTR" | "BTC" => "bit test",
        "JMP" | "CALL" | "RET" => "jmp/call/ret",
        "NOP" | "ENDBR64" => "nop",
        "HLT" | "INT3" | "UD2" => "trapping",
        m if m.starts_with("CMOV") => "cmovcc",
        m if m.starts_with("SET") => "setcc",
        m if m.starts_with('J') => "jcc",
        _ => "other",
    }
}

#[derive(Default)]
struct Tally {
    cases: u64,
    failed: u64,
    quirks: BTreeMap<Quirk, u64>,
}

struct Outcome {
    index: u64,
    mnemonics: Vec<String>,
    failure: Option<String>,
    quirks: Vec<Quirk>,
    end: String,
    masked_flag_diff: bool,
}

fn run_random(seed: u64, range: std::ops::Range<u64>) -> Vec<Outcome> {
    range
        .map(|i| {
            let line = gen::random_case(seed, i);
            let c = check(&line);
            let mut mnemonics: Vec<String> = c
                .info
                .mnemonics
                .iter()
                .map(|m| format!("{m:?}").to_uppercase())
                .collect();
            let last = mnemonics.last().cloned();
            mnemonics.sort();
            mnemonics.dedup();
            let end = match &c.emu.signal {
                Some(s) => format!(
                    "{} code {:#x}{}",
                    s.name,
                    s.code,
                    last.map(|m| format!(" ({m})")).unwrap_or_default()
                ),
                None => c.emu.stop.to_string(),
            };
            let flags = |r: &CaseResult| r.regs.as_ref().and_then(|x| x.get("rflags").cloned());
            Outcome {
                index: i,
                mnemonics,
                failure: (!c.diffs.is_empty()).then(|| report(&c)),
                quirks: c.info.quirks.clone(),
                end,
                masked_flag_diff: c.diffs.is_empty() && flags(&c.emu) != flags(&c.reference),
            }
        })
        .collect()
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| emu::exec::parse_number(&s))
        .unwrap_or(default)
}

/// The differential run: random programs on emu and unicorn, every field compared. Writes
/// `tests/differential-pass-table.md` and fails on any mismatch.
#[test]
fn random_programs() {
    let cases = env_u64("DIFF_CASES", 10_000);
    let seed = env_u64("DIFF_SEED", 0x5eed);
    let start = std::time::Instant::now();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4) as u64;
    let chunk = cases.div_ceil(threads);
    let outcomes: Vec<Outcome> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    run_random(seed, (t * chunk).min(cases)..((t + 1) * chunk).min(cases))
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("worker"))
            .collect()
    });
    let elapsed = start.elapsed();

    let mut per: BTreeMap<String, Tally> = BTreeMap::new();
    let mut ends: BTreeMap<String, u64> = BTreeMap::new();
    let mut quirk_total: BTreeMap<Quirk, u64> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut masked = 0;
    for o in &outcomes {
        for m in &o.mnemonics {
            let t = per.entry(m.clone()).or_default();
            t.cases += 1;
            if o.failure.is_some() {
                t.failed += 1;
            }
        }
        // A quirk applies to the instruction the case ended on.
        if let Some(last) = o
            .end
            .split('(')
            .nth(1)
            .map(|s| s.trim_end_matches(')').to_string())
        {
            for q in &o.quirks {
                *per.entry(last.clone())
                    .or_default()
                    .quirks
                    .entry(*q)
                    .or_default() += 1;
            }
        }
        for q in &o.quirks {
            *quirk_total.entry(*q).or_default() += 1;
        }
        *ends
            .entry(o.end.split(" (").next().unwrap_or("").to_string())
            .or_default() += 1;
        masked += o.masked_flag_diff as u64;
        if let Some(f) = &o.failure {
            failures.push((o.index, f.clone()));
        }
    }

    let mut md = String::new();
    md.push_str("# Differential pass table (emu vs unicorn)\n\n");
    md.push_str("Regenerated by `cargo test -p stackswitch-tests --test differential random_programs`; do not edit.\n\n");
    md.push_str(&format!(
        "Seed `{seed:#x}`, {cases} random programs, {} failed, {:.1} s. A case counts for every mnemonic it \
         executed (completed or faulted on). RFLAGS bits left undefined by the last instruction that wrote them \
         are ignored; {masked} passing cases differed only there.\n\n",
        failures.len(),
        elapsed.as_secs_f64()
    ));
    md.push_str("## Per mnemonic\n\n| mnemonic | family | cases | passed | failed | notes |\n|---|---|---:|---:|---:|---|\n");
    for (m, t) in &per {
        let mut notes = static_note(m).to_string();
        for (q, n) in &t.quirks {
            if !notes.is_empty() {
                notes.push_str("; ");
            }
            notes.push_str(&format!("{q:?} ×{n}"));
        }
        md.push_str(&format!(
            "| {m} | {} | {} | {} | {} | {notes} |\n",
            family(m),
            t.cases,
            t.cases - t.failed,
            t.failed
        ));
    }
    md.push_str("\n## How the cases ended (emu)\n\n| end | cases |\n|---|---:|\n");
    for (e, n) in &ends {
        md.push_str(&format!("| {e} | {n} |\n"));
    }
    md.push_str(
        "\n## Unicorn quirks corrected by the oracle\n\n| quirk | cases | what |\n|---|---:|---|\n",
    );
    for (q, n) in &quirk_total {
        md.push_str(&format!("| {q:?} | {n} | {} |\n", q.note()));
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("differential-pass-table.md");
    std::fs::write(&path, md).expect("write pass table");

    for (i, f) in failures.iter().take(5) {
        eprintln!("--- mismatch in random case {i} ---\n{f}");
    }
    assert!(
        failures.is_empty(),
        "{} of {cases} random cases differ (first ones above); table in {}",
        failures.len(),
        path.display()
    );
    if cases >= 10_000 {
        for m in REQUIRED {
            let n = per.get(*m).map_or(0, |t| t.cases);
            assert!(n >= MIN_PER_MNEMONIC, "{m} ran in only {n} cases");
        }
    }
    eprintln!(
        "{cases} cases, seed {seed:#x}, {:.1} s",
        elapsed.as_secs_f64()
    );
}

// ---------- emu bug regressions ----------

/// decode.rs mapped 8-bit registers with iced's 8-bit numbering (SIL = 10), so `mov sil`
/// wrote R10 and R8B..R15B indexed past the register file.
#[test]
fn rex_byte_registers_are_the_right_registers() {
    let code = gen::assemble(|a| {
        a.mov(sil, 0x11)?;
        a.mov(dil, 0x22)?;
        a.mov(spl, spl)?;
        a.mov(bpl, 0x33)?;
        a.mov(r8b, 0x44)?;
        a.mov(r15b, r8b)?;
        a.add(r12b, sil)?;
        a.int3()
    });
    let regs = [
        ("rsi", 0xaaaa_aaaa_aaaa_aa00),
        ("r10", 5),
        ("r12", 0x100),
        ("rdi", 0),
        ("rbp", 0),
        ("r8", 0),
        ("r15", 0),
    ];
    let c = run("rex-bytes", code.clone(), &regs);
    same(&c);
    ends_at_int3(&c.emu, &code);
    assert_eq!(reg(&c.emu, "rsi"), 0xaaaa_aaaa_aaaa_aa11);
    assert_eq!(reg(&c.emu, "rdi"), 0x22);
    assert_eq!(reg(&c.emu, "rbp"), 0x33);
    assert_eq!(reg(&c.emu, "r8"), 0x44);
    assert_eq!(reg(&c.emu, "r15"), 0x44);
    assert_eq!(reg(&c.emu, "r12"), 0x111);
    assert_eq!(reg(&c.emu, "r10"), 5);
    assert_eq!(reg(&c.emu, "rsp"), RSP0);
}

/// isa/bits.rs added the bit-offset displacement of BT* after masking a 32-bit (0x67)
/// address, so the effective address could exceed 4 GiB instead of wrapping.
#[test]
fn bit_offset_wraps_with_32_bit_addressing() {
    let code = gen::assemble(|a| {
        a.bts(dword_ptr(ebx), esi)?;
        a.int3()
    });
    // Offset 0x7fff_fff0 selects dword 0x3ff_ffff (bytes +0xfff_fffc) and bit 16.
    let ebx_val = (DATA + 0x10).wrapping_sub(0xfff_fffc) & 0xffff_ffff;
    let c = run(
        "bts-addr32-wrap",
        code.clone(),
        &[("rbx", ebx_val), ("rsi", 0x7fff_fff0)],
    );
    same(&c);
    ends_at_int3(&c.emu, &code);
    let case: serde_json::Value = serde_json::from_str(&c.line).unwrap();
    let data = emu::exec::decode_hex(case["memory"][1]["bytes"].as_str().unwrap()).unwrap();
    let old = u32::from_le_bytes(data[0x10..0x14].try_into().unwrap());
    let new = u32::from_le_bytes(mem(&c.emu, DATA + 0x10, 4).try_into().unwrap());
    assert_eq!(new, old | 1 << 16);
    assert_eq!(
        reg(&c.emu, "rflags") & 1,
        (old >> 16 & 1) as u64,
        "CF is the old bit"
    );
}

/// LEAVE took its width from iced's static stack increment, which is 0 for LEAVE, and so
/// popped 2 bytes; 64-bit LEAVE pops 8 (fixed in isa/stack.rs). 16-bit LEAVE (66 C9) pops 2
/// into BP and keeps RBP's upper bits (SDM Vol. 2A, LEAVE); QEMU pops 8 and zero-extends,
/// so that form is asserted on emu alone and left out of the random programs.
#[test]
fn leave_pops_the_operand_size() {
    let code = gen::assemble(|a| {
        a.push(0x1234_5678)?;
        a.mov(rbp, rsp)?;
        a.sub(rsp, 0x20)?;
        a.leave()?;
        a.int3()
    });
    let c = run("leave64", code.clone(), &[("rbp", 0xdead)]);
    same(&c);
    ends_at_int3(&c.emu, &code);
    assert_eq!(reg(&c.emu, "rbp"), 0x1234_5678);
    assert_eq!(reg(&c.emu, "rsp"), RSP0);

    let code16b = gen::assemble(|a| {
        a.mov(rbp, rsp)?;
        a.add_instruction(iced_x86::Instruction::with(iced_x86::Code::Leavew))?;
        a.int3()
    });
    let c = run(
        "leave16",
        code16b.clone(),
        &[("rbp", 0xaaaa_bbbb_cccc_dddd)],
    );
    let stack = mem(&c.emu, RSP0, 2);
    ends_at_int3(&c.emu, &code16b);
    assert_eq!(reg(&c.emu, "rsp"), RSP0 + 2);
    assert_eq!(
        reg(&c.emu, "rbp"),
        (RSP0 & !0xffff) | u16::from_le_bytes([stack[0], stack[1]]) as u64
    );
}

/// decode.rs did not see 32-bit addressing in an absolute `[disp32]` operand with a 0x67
/// prefix (no base or index register to tell), so a BT* bit offset moved it past 4 GiB
/// (and to a non-canonical #GP) instead of wrapping.
#[test]
fn absolute_operand_with_address_size_prefix_wraps() {
    let target = DATA + 0x20;
    let code = gen::assemble(|a| {
        // displ_size 4 asks iced for 32-bit addressing (0x67) of an absolute operand.
        let m = iced_x86::MemoryOperand::new(
            iced_x86::Register::None,
            iced_x86::Register::None,
            1,
            target as i64,
            4,
            false,
            iced_x86::Register::None,
        );
        a.add_instruction(iced_x86::Instruction::with2(
            iced_x86::Code::Bts_rm64_r64,
            m,
            iced_x86::Register::RAX,
        )?)?;
        a.int3()
    });
    // Offset 2^35 + 3: qword 2^29 (bytes +2^32, which wraps away) and bit 3.
    let c = run("bts-abs-addr32", code.clone(), &[("rax", (1 << 35) + 3)]);
    same(&c);
    ends_at_int3(&c.emu, &code);
    let case: serde_json::Value = serde_json::from_str(&c.line).unwrap();
    let data = emu::exec::decode_hex(case["memory"][1]["bytes"].as_str().unwrap()).unwrap();
    let old = data[0x20];
    assert_eq!(mem(&c.emu, target, 1)[0], old | 8);
}
