//! Differential tests: emu against unicorn on the same `emu exec` cases.
//!
//! - `random_programs`: `DIFF_CASES` (default 10,000) seeded random programs (`DIFF_SEED`,
//!   default 0x5eed) over every instruction form the generator knows, compared field by
//!   field; regenerates `tests/differential-pass-table.md` and fails on any mismatch,
//!   printing the case line to replay with `emu exec`.
//! - One focused test per instruction family and per fault kind, each asserting the exact
//!   outcome Linux on x86-64 gives, and (unless a documented unicorn quirk prevents it) that
//!   unicorn agrees.

use iced_x86::code_asm::*;
use machine::exec::CaseResult;
use stackswitch_tests::gen::{
    self, Rng, CODE, DATA, FS_BASE, ISLAND, NOACCESS, RO, RSP0, UNMAPPED,
};
use stackswitch_tests::oracle::Quirk;
use stackswitch_tests::{check, minimize, report, Checked};
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
    machine::num::parse_number(v).expect("number")
}

fn mem(r: &CaseResult, addr: u64, len: usize) -> Vec<u8> {
    for region in r.memory.as_ref().expect("memory") {
        let base = machine::num::parse_number(&region.addr).expect("addr");
        let bytes = machine::exec::decode_hex(&region.bytes).expect("hex");
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
        machine::num::parse_number(&s.addr).expect("addr"),
        machine::num::parse_number(&s.pc).expect("pc"),
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
    "MOV",
    "MOVZX",
    "MOVSX",
    "MOVSXD",
    "LEA",
    "XCHG",
    "BSWAP",
    "PUSH",
    "POP",
    "PUSHFQ",
    "POPFQ",
    "PUSHF",
    "POPF",
    "CMOVA",
    "CMOVAE",
    "CMOVB",
    "CMOVBE",
    "CMOVE",
    "CMOVNE",
    "CMOVG",
    "CMOVGE",
    "CMOVL",
    "CMOVLE",
    "CMOVO",
    "CMOVNO",
    "CMOVP",
    "CMOVNP",
    "CMOVS",
    "CMOVNS",
    "SETA",
    "SETAE",
    "SETB",
    "SETBE",
    "SETE",
    "SETNE",
    "SETG",
    "SETGE",
    "SETL",
    "SETLE",
    "SETO",
    "SETNO",
    "SETP",
    "SETNP",
    "SETS",
    "SETNS",
    "ADD",
    "ADC",
    "SUB",
    "SBB",
    "CMP",
    "INC",
    "DEC",
    "NEG",
    "MUL",
    "IMUL",
    "DIV",
    "IDIV",
    "AND",
    "OR",
    "XOR",
    "NOT",
    "TEST",
    "SHL",
    "SAL",
    "SHR",
    "SAR",
    "ROL",
    "ROR",
    "BT",
    "BTS",
    "BTR",
    "BTC",
    "CBW",
    "CWDE",
    "CDQE",
    "CWD",
    "CDQ",
    "CQO",
    "JMP",
    "JA",
    "JAE",
    "JB",
    "JBE",
    "JE",
    "JNE",
    "JG",
    "JGE",
    "JL",
    "JLE",
    "JO",
    "JNO",
    "JP",
    "JNP",
    "JS",
    "JNS",
    "CALL",
    "RET",
    "LEAVE",
    "NOP",
    "ENDBR64",
    "HLT",
    "INT3",
    "UD2",
    // Added with the SSE, string and atomic families (issue 15).
    "BSF",
    "BSR",
    "POPCNT",
    "SHLD",
    "SHRD",
    "RCL",
    "RCR",
    "CMPXCHG",
    "XADD",
    "CLD",
    "STD",
    "CLC",
    "STC",
    "CMC",
    "MOVAPS",
    "MOVUPS",
    "MOVDQA",
    "MOVDQU",
    "MOVQ",
    "MOVD",
    "MOVSD",
    "MOVSS",
    "MOVHPS",
    "MOVLPS",
    "MOVHLPS",
    "MOVLHPS",
    "PMOVMSKB",
    "PXOR",
    "XORPS",
    "POR",
    "PAND",
    "PANDN",
    "ANDPS",
    "PADDB",
    "PADDQ",
    "PSUBB",
    "PCMPEQB",
    "PCMPEQW",
    "PCMPEQD",
    "PCMPGTB",
    "PMINUB",
    "PMAXUB",
    "PUNPCKLBW",
    "PUNPCKLQDQ",
    "PSHUFD",
    "PSLLDQ",
    "PSRLDQ",
    "PSRLQ",
    "PSLLQ",
    "ADDSD",
    "SUBSD",
    "MULSD",
    "DIVSD",
    "SQRTSD",
    "MINSD",
    "MAXSD",
    "UCOMISD",
    "COMISD",
    "CVTSI2SD",
    "CVTTSD2SI",
    "CVTSD2SS",
    "CVTSS2SD",
];
const MIN_PER_MNEMONIC: u64 = 10;

/// Notes for the pass table: what is generated differently, and why.
fn static_note(m: &str) -> &'static str {
    match m {
        "LEAVE" => "16-bit LEAVE (66 C9) not generated: QEMU pops 8 bytes into RBP, the SDM 2 into BP (focused test)",
        "TEST" => "AF masked (undefined); F6/F7 /1 alias not generated: QEMU raises #UD, hardware executes TEST (focused test)",
        "BSWAP" => "16-bit BSWAP not generated: undefined result; QEMU swaps 32 bits, emu/hardware clear the word (focused test)",
        "POPF" | "POPFQ" => "images keep TF=0, IF=1, IOPL=0, AC=0 (no single-step/#AC model; unicorn runs at CPL 0)",
        "HLT" => "unicorn runs at CPL 0: the oracle raises the CPL-3 #GP",
        "SHL" | "SAL" | "SHR" | "SAR" | "ROL" | "ROR" => "OF masked unless count 1; CF masked for SHL/SHR count >= width",
        "MUL" | "IMUL" => "SF/ZF/AF/PF masked (undefined)",
        "DIV" | "IDIV" => "all status flags masked (undefined)",
        "BT" | "BTS" | "BTR" | "BTC" => "OF/SF/AF/PF masked (undefined)",
        "AND" | "OR" | "XOR" => "AF masked (undefined)",
        "SHLD" | "SHRD" => "RIP-relative imm8 forms not generated: QEMU's address is one byte low (focused test)",
        "BSF" | "BSR" => "TZCNT/LZCNT not generated: unicorn's CPU has BMI1/LZCNT, this one runs them as BSF/BSR (focused test)",
        "PEXTRW" => "SSE4.1 form (66 0F 3A 15) not generated: #UD on this CPU",
        "ADDSD" | "SUBSD" | "MULSD" | "DIVSD" | "SQRTSD" | "MINSD" | "MAXSD" | "ADDSS"
        | "SUBSS" | "MULSS" | "DIVSS" | "SQRTSS" | "MINSS" | "MAXSS" | "UCOMISD" | "COMISD"
        | "UCOMISS" | "COMISS" | "CVTSI2SD" | "CVTSI2SS" | "CVTTSD2SI" | "CVTSD2SI"
        | "CVTTSS2SI" | "CVTSS2SI" | "CVTSD2SS" | "CVTSS2SD" => {
            "MXCSR flags 0x3f not compared (QEMU does not gather them); FZ not generated (QEMU 5 ignores it for SSE); unit tests cover both"
        }
        "STMXCSR" | "LDMXCSR" | "FXSAVE" | "FXRSTOR" | "CPUID" | "RDTSC" => {
            "not generated (MXCSR flags, CPU model, clock differ from unicorn's): focused tests in machine/tests/isa_families.rs"
        }
        _ => "",
    }
}

fn family(m: &str) -> &'static str {
    match m {
        "MOV" | "MOVZX" | "MOVSX" | "MOVSXD" | "LEA" | "XCHG" | "BSWAP" | "MOVNTI" => {
            "data movement"
        }
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
        "MOVSB" | "MOVSW" | "MOVSQ" | "STOSB" | "STOSW" | "STOSD" | "STOSQ" | "LODSB" | "LODSW"
        | "LODSD" | "LODSQ" | "CMPSB" | "CMPSW" | "CMPSQ" | "SCASB" | "SCASW" | "SCASD"
        | "SCASQ" => "string",
        "BSF" | "BSR" | "POPCNT" => "bit scan",
        "SHLD" | "SHRD" | "RCL" | "RCR" => "shift/rotate",
        "CMPXCHG" | "XADD" | "CMPXCHG8B" | "CMPXCHG16B" => "exchange",
        "CLD" | "STD" | "CLC" | "STC" | "CMC" => "flags",
        "MFENCE" | "LFENCE" | "SFENCE" | "PREFETCHT0" | "PREFETCHNTA" => "fence/hint",
        "ADDSD" | "SUBSD" | "MULSD" | "DIVSD" | "SQRTSD" | "MINSD" | "MAXSD" | "ADDSS"
        | "MULSS" | "DIVSS" | "UCOMISD" | "COMISD" | "UCOMISS" | "CVTSI2SD" | "CVTSI2SS"
        | "CVTTSD2SI" | "CVTSD2SI" | "CVTTSS2SI" | "CVTSD2SS" | "CVTSS2SD" => "sse float",
        // MOVSD is both the string move and the SSE scalar move.
        "MOVSD" => "string / sse move",
        m if m.starts_with("MOV") => "sse move",
        m if m.starts_with('P') || m.ends_with("PS") || m.ends_with("PD") => "sse integer/logic",
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
        .and_then(|s| machine::num::parse_number(&s))
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
        "Seed `{seed:#x}`, {cases} random programs, {} failed. A case counts for every mnemonic it \
         executed (completed or faulted on). RFLAGS bits left undefined by the last instruction that wrote them \
         are ignored; {masked} passing cases differed only there. (No timings here: the table changes only when \
         results do.)\n\n",
        failures.len()
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
        if let Some(m) = minimize(&gen::random_case(seed, *i)) {
            eprintln!(
                "--- the same case cut to the first {} steps that differ ---\n{}",
                m.emu.steps,
                report(&m)
            );
        }
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
    let data = machine::exec::decode_hex(case["memory"][1]["bytes"].as_str().unwrap()).unwrap();
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
    let data = machine::exec::decode_hex(case["memory"][1]["bytes"].as_str().unwrap()).unwrap();
    let old = data[0x20];
    assert_eq!(mem(&c.emu, target, 1)[0], old | 8);
}

// ---------- focused: one per instruction family ----------

fn flags(r: &CaseResult) -> u64 {
    reg(r, "rflags") & STATUS
}

#[test]
fn family_data_movement() {
    let code = gen::assemble(|a| {
        a.mov(eax, 0xffff_fff0u32 as i32)?; // zero-extends into RAX
        a.movzx(ecx, byte_ptr(rbx))?;
        a.movsx(rdx, word_ptr(rbx))?;
        a.movsxd(rsi, dword_ptr(rbx))?;
        a.lea(rdi, qword_ptr(rbx + r8 * 4 - 8))?;
        a.lea(r9d, qword_ptr(rbx + r8 * 4 - 8))?;
        a.xchg(qword_ptr(rbx + 8), r10)?;
        a.bswap(r11)?;
        a.bswap(r12d)?;
        a.mov(r13, qword_ptr(DATA + 0x800))?; // absolute
        a.mov(r14, qword_ptr(r15).fs())?; // FS-relative
        a.mov(word_ptr(r15 + 8).fs(), r14w)?;
        a.int3()
    });
    let base = DATA + 0x100;
    let c = run(
        "data-movement",
        code.clone(),
        &[
            ("rax", u64::MAX),
            ("rbx", base),
            ("r8", 3),
            ("r10", 0x1122),
            ("r11", 0x0102_0304_0506_0708),
            ("r12", 0xaabb_ccdd_1122_3344),
            ("r15", 0x10),
        ],
    );
    same(&c);
    ends_at_int3(&c.emu, &code);
    let case: serde_json::Value = serde_json::from_str(&c.line).unwrap();
    let data = machine::exec::decode_hex(case["memory"][1]["bytes"].as_str().unwrap()).unwrap();
    let at = |o: usize, n: usize| {
        let mut b = [0u8; 8];
        b[..n].copy_from_slice(&data[o..o + n]);
        u64::from_le_bytes(b)
    };
    let r = &c.emu;
    assert_eq!(reg(r, "rax"), 0xffff_fff0);
    assert_eq!(reg(r, "rcx"), at(0x100, 1));
    assert_eq!(reg(r, "rdx"), at(0x100, 2) as i16 as i64 as u64);
    assert_eq!(reg(r, "rsi"), at(0x100, 4) as i32 as i64 as u64);
    assert_eq!(reg(r, "rdi"), base + 4);
    assert_eq!(reg(r, "r9"), (base + 4) & 0xffff_ffff);
    assert_eq!(reg(r, "r10"), at(0x108, 8));
    assert_eq!(mem(r, base + 8, 8), 0x1122u64.to_le_bytes());
    assert_eq!(reg(r, "r11"), 0x0807_0605_0403_0201);
    assert_eq!(reg(r, "r12"), 0x4433_2211);
    assert_eq!(reg(r, "r13"), at(0x800, 8));
    // fs:[r15] is FS_BASE + 0x10.
    let fs_off = (FS_BASE - DATA) as usize + 0x10;
    assert_eq!(reg(r, "r14"), at(fs_off, 8));
    assert_eq!(
        mem(r, FS_BASE + 0x18, 2),
        (at(fs_off, 2) as u16).to_le_bytes()
    );
}

/// BSWAP with a 16-bit operand is undefined; hardware (and emu) clear the low word and
/// keep the rest. QEMU writes a 32-bit swap instead, so only emu is checked.
#[test]
fn bswap16_clears_the_word_on_emu() {
    let code = gen::assemble(|a| {
        a.add_instruction(iced_x86::Instruction::with1(
            iced_x86::Code::Bswap_r16,
            iced_x86::Register::AX,
        )?)?;
        a.int3()
    });
    let c = run("bswap16", code.clone(), &[("rax", 0x1122_3344_5566_7788)]);
    ends_at_int3(&c.emu, &code);
    assert_eq!(reg(&c.emu, "rax"), 0x1122_3344_5566_0000);
}

#[test]
fn family_stack() {
    let code = gen::assemble(|a| {
        a.push(rax)?;
        a.push(0x7fff_ffff)?;
        a.push(-2)?; // sign-extended imm8
        a.pushfq()?;
        a.pop(rcx)?;
        a.pop(qword_ptr(rsp + 8))?; // address uses RSP after the pop
        a.pop(rdx)?;
        a.pop(si)?; // 16-bit pop: low word of the qword pushed from RAX
        a.push(rsp)?; // pushes RSP before the decrement
        a.pop(rdi)?;
        a.int3()
    });
    let c = run(
        "stack",
        code.clone(),
        &[
            ("rax", 0x1111_2222_3333_4444),
            ("rflags", 0x2d7),
            ("rsi", 0xffff_ffff_ffff_ffff),
        ],
    );
    same(&c);
    ends_at_int3(&c.emu, &code);
    let r = &c.emu;
    assert_eq!(reg(r, "rcx"), 0x2d7, "the image is RFLAGS");
    assert_eq!(reg(r, "rdx"), 0x7fff_ffff);
    assert_eq!(
        reg(r, "rsi"),
        0xffff_ffff_ffff_fffe,
        "POP SI took the -2 that POP [RSP+8] stored"
    );
    assert_eq!(reg(r, "rdi"), RSP0 - 6);
    assert_eq!(reg(r, "rsp"), RSP0 - 6);
    // POP [RSP+8] stored the popped -2 over RAX's slot; PUSH RSP then overwrote its
    // lowest two bytes.
    assert_eq!(mem(r, RSP0 - 6, 6), [0xff; 6]);
}

/// POPFQ at CPL 3 changes the status flags, DF, NT, AC and ID but keeps IF and IOPL, and
/// this machine keeps TF clear (it does not model single-step traps). Unicorn runs at
/// CPL 0, where POPFQ may change IF and IOPL, so only emu is checked here; the random
/// programs compare POPF/POPFQ images that keep those bits as Linux leaves them.
#[test]
fn popfq_keeps_privileged_bits_and_tf() {
    let code = gen::assemble(|a| {
        a.push(0x0024_7fd7)?; // everything: status, TF, IF, DF, IOPL=3, NT, AC, ID
        a.popfq()?;
        a.int3()
    });
    let c = run("popfq-privileged", code.clone(), &[("rflags", 0x202)]);
    ends_at_int3(&c.emu, &code);
    let f = reg(&c.emu, "rflags");
    assert_eq!(f & STATUS, 0x8d5 & 0x0024_7fd7);
    assert_eq!(f & (1 << 8), 0, "TF stays clear");
    assert_eq!(f & (3 << 12), 0, "IOPL stays 0");
    assert_ne!(f & (1 << 9), 0, "IF stays set");
    assert_ne!(f & (1 << 10), 0, "DF is writable");
    assert_ne!(f & (1 << 21), 0, "ID is writable");
}

/// Every condition, through SETcc into memory and CMOVcc, for several flag images.
#[test]
fn family_setcc_cmovcc() {
    use iced_x86::ConditionCode as C;
    let conds = [
        C::o,
        C::no,
        C::b,
        C::ae,
        C::e,
        C::ne,
        C::be,
        C::a,
        C::s,
        C::ns,
        C::p,
        C::np,
        C::l,
        C::ge,
        C::le,
        C::g,
    ];
    let holds = |cc: C, f: u64| {
        let b = |bit: u64| f & bit != 0;
        let (cf, pf, zf, sf, of) = (b(1), b(4), b(0x40), b(0x80), b(0x800));
        match cc {
            C::o => of,
            C::no => !of,
            C::b => cf,
            C::ae => !cf,
            C::e => zf,
            C::ne => !zf,
            C::be => cf || zf,
            C::a => !cf && !zf,
            C::s => sf,
            C::ns => !sf,
            C::p => pf,
            C::np => !pf,
            C::l => sf != of,
            C::ge => sf == of,
            C::le => zf || sf != of,
            _ => !zf && sf == of,
        }
    };
    for image in [0x202u64, 0x2d7, 0xa02, 0x282, 0x842, 0x246, 0x203, 0x8c3] {
        let code = gen::assemble(|a| {
            for (i, cc) in conds.iter().enumerate() {
                let m = byte_ptr(rbx + i as i32);
                match cc {
                    C::o => a.seto(m)?,
                    C::no => a.setno(m)?,
                    C::b => a.setb(m)?,
                    C::ae => a.setae(m)?,
                    C::e => a.sete(m)?,
                    C::ne => a.setne(m)?,
                    C::be => a.setbe(m)?,
                    C::a => a.seta(m)?,
                    C::s => a.sets(m)?,
                    C::ns => a.setns(m)?,
                    C::p => a.setp(m)?,
                    C::np => a.setnp(m)?,
                    C::l => a.setl(m)?,
                    C::ge => a.setge(m)?,
                    C::le => a.setle(m)?,
                    _ => a.setg(m)?,
                }
            }
            // CMOVcc into a 32-bit register: written (zero-extended) either way.
            a.cmovo(eax, ecx)?;
            a.cmovb(r8, rcx)?;
            a.cmovg(r9w, cx)?;
            a.cmovp(r10, qword_ptr(rbx))?;
            a.int3()
        });
        let init = 0xdead_beef_0000_0000u64;
        let c = run(
            &format!("setcc-{image:#x}"),
            code.clone(),
            &[
                ("rflags", image),
                ("rbx", DATA + 0x200),
                ("rax", init),
                ("r8", init),
                ("r9", init),
                ("rcx", 0x1234_5678_9abc_def0),
            ],
        );
        same(&c);
        ends_at_int3(&c.emu, &code);
        let bytes = mem(&c.emu, DATA + 0x200, 16);
        for (i, cc) in conds.iter().enumerate() {
            assert_eq!(
                bytes[i],
                holds(*cc, image) as u8,
                "{cc:?} with flags {image:#x}"
            );
        }
        let r = &c.emu;
        assert_eq!(
            reg(r, "rax"),
            if holds(C::o, image) { 0x9abc_def0 } else { 0 }
        );
        assert_eq!(
            reg(r, "r8"),
            if holds(C::b, image) {
                0x1234_5678_9abc_def0
            } else {
                init
            }
        );
        assert_eq!(
            reg(r, "r9"),
            if holds(C::g, image) {
                init | 0xdef0
            } else {
                init
            }
        );
        assert_eq!(flags(r), image & STATUS, "SETcc/CMOVcc change no flags");
    }
}

/// ADD/ADC/SUB/SBB/CMP/INC/DEC/NEG results and all six flags at the edges.
#[test]
fn family_add_sub() {
    // (program, initial rax, initial rcx, initial flags, expected rax, expected flags)
    type Prog = fn(&mut CodeAssembler) -> Result<(), IcedError>;
    let cases: [(&str, Prog, u64, u64, u64, u64, u64); 10] = [
        (
            "add8-of",
            |a| a.add(al, 1),
            0x7f,
            0,
            0x202,
            0x80,
            0x80 | 0x10 | 0x800,
        ),
        (
            "add64-cf",
            |a| a.add(rax, rcx),
            u64::MAX,
            1,
            0x202,
            0,
            0x40 | 0x10 | 0x4 | 0x1,
        ),
        (
            "adc16",
            |a| a.adc(ax, cx),
            0xfffe,
            1,
            0x203,
            0,
            0x40 | 0x10 | 0x4 | 0x1,
        ),
        (
            "sub32-borrow",
            |a| a.sub(eax, ecx),
            0,
            1,
            0x202,
            0xffff_ffff,
            0x80 | 0x10 | 0x4 | 0x1,
        ),
        (
            "sbb8-ah",
            |a| a.sbb(ah, cl),
            0x8000,
            0,
            0x203,
            0x7f00,
            0x800 | 0x10,
        ),
        (
            "cmp64",
            |a| a.cmp(rax, rcx),
            5,
            5,
            0x2d7 & !0x40,
            5,
            0x40 | 0x4,
        ),
        (
            "inc-keeps-cf",
            |a| a.inc(eax),
            0xffff_ffff,
            0,
            0x203,
            0,
            0x40 | 0x10 | 0x4 | 0x1,
        ),
        (
            "dec16-of",
            |a| a.dec(ax),
            0x8000,
            0,
            0x202,
            0x7fff,
            0x800 | 0x10 | 0x4,
        ),
        ("neg-zero", |a| a.neg(rax), 0, 0, 0x203, 0, 0x40 | 0x4),
        (
            "neg-min",
            |a| a.neg(eax),
            0x8000_0000,
            0,
            0x202,
            0x8000_0000,
            0x800 | 0x80 | 0x4 | 0x1,
        ),
    ];
    for (name, prog, rax0, rcx0, f0, rax1, f1) in cases {
        let code = gen::assemble(|a| {
            prog(a)?;
            a.int3()
        });
        let c = run(
            name,
            code.clone(),
            &[("rax", rax0), ("rcx", rcx0), ("rflags", f0)],
        );
        same(&c);
        ends_at_int3(&c.emu, &code);
        assert_eq!(reg(&c.emu, "rax"), rax1, "{name}");
        assert_eq!(flags(&c.emu), f1, "{name}");
    }
}

#[test]
fn family_mul_div() {
    let code = gen::assemble(|a| {
        a.mov(rax, -3i64)?;
        a.mov(rcx, 7i64)?;
        a.mul(rcx)?; // unsigned: RDX:RAX = (2^64-3)*7
        a.mov(r8, rax)?;
        a.mov(r9, rdx)?;
        a.mov(rax, -3i64)?;
        a.imul(rcx)?; // signed: -21, fits
        a.mov(r10, rax)?;
        a.mov(r11, rdx)?;
        a.imul_3(r12, rcx, 0x1000_0000)?; // 3-operand
        a.imul_2(r13d, ecx)?; // 2-operand, 32-bit
        a.mov(ax, 1000)?;
        a.mov(bl, 7)?;
        a.div(bl)?; // AL = 142, AH = 6
        a.mov(r14, rax)?;
        a.mov(rax, -1000i64)?;
        a.cqo()?;
        a.mov(rbx, 7i64)?;
        a.idiv(rbx)?; // -142 rem -6
        a.int3()
    });
    let c = run("mul-div", code.clone(), &[("r12", 0), ("r13", 0x10)]);
    same(&c);
    ends_at_int3(&c.emu, &code);
    let r = &c.emu;
    let p = (u64::MAX - 2) as u128 * 7;
    assert_eq!((reg(r, "r8"), reg(r, "r9")), (p as u64, (p >> 64) as u64));
    assert_eq!((reg(r, "r10"), reg(r, "r11")), ((-21i64) as u64, u64::MAX));
    assert_eq!(reg(r, "r12"), 0x7000_0000);
    assert_eq!(reg(r, "r13"), 0x70);
    assert_eq!(reg(r, "r14") & 0xffff, (6 << 8) | 142);
    assert_eq!(
        (reg(r, "rax"), reg(r, "rdx")),
        ((-142i64) as u64, (-6i64) as u64)
    );
}

#[test]
fn family_logic() {
    let code = gen::assemble(|a| {
        a.and(rax, rcx)?;
        a.or(edx, 0x8000_0000u32 as i32)?;
        a.xor(bl, bl)?;
        a.not(qword_ptr(rsp - 8))?;
        a.test(ecx, ecx)?;
        a.int3()
    });
    let c = run(
        "logic",
        code.clone(),
        &[
            ("rax", 0xf0f0),
            ("rcx", 0xff00_0000_0000_ff00),
            ("rdx", 0x1_0000_0001),
            ("rbx", 0x1234),
            ("rflags", 0xad7),
        ],
    );
    same(&c);
    ends_at_int3(&c.emu, &code);
    let r = &c.emu;
    assert_eq!(reg(r, "rax"), 0xf000);
    assert_eq!(reg(r, "rdx"), 0x8000_0001);
    assert_eq!(reg(r, "rbx"), 0x1200);
    // TEST ecx (0x0000ff00): CF=OF=0, SF=0, ZF=0, PF of 0x00 = 1; AF undefined.
    assert_eq!(flags(r) & !0x10, 0x4);
}

/// Shifts and rotates by 1, imm and CL, with counts 0 and at least the width.
#[test]
fn family_shift_rotate() {
    let code = gen::assemble(|a| {
        a.shl(al, 1)?; // 0x81 -> 0x02, CF=1, OF=1
        a.mov(r8, rax)?;
        a.pushfq()?;
        a.mov(cl, 0)?;
        a.shr(rdx, cl)?; // count 0: no change, flags kept
        a.pushfq()?;
        a.sar(esi, 40)?; // masked to 8
        a.mov(cl, 9)?;
        a.shl(di, cl)?; // 16-bit by 9
        a.rol(r9b, 12)?; // count 12: rotate by 4
        a.ror(r10, 1)?;
        a.mov(cl, 64)?;
        a.shl(r11, cl)?; // masked to 0
        a.int3()
    });
    let c = run(
        "shift-rotate",
        code.clone(),
        &[
            ("rax", 0x81),
            ("rdx", 0x1234),
            ("rsi", 0x8000_0000),
            ("rdi", 0xffff_00ff),
            ("r9", 0x1f),
            ("r10", 1),
            ("r11", 5),
            ("rflags", 0x202),
        ],
    );
    same(&c);
    ends_at_int3(&c.emu, &code);
    let r = &c.emu;
    assert_eq!(reg(r, "r8") & 0xff, 0x02);
    let f1 = u64::from_le_bytes(mem(r, RSP0 - 8, 8).try_into().unwrap());
    let f2 = u64::from_le_bytes(mem(r, RSP0 - 16, 8).try_into().unwrap());
    assert_eq!(f1 & 0x801, 0x801, "SHL by 1: CF and OF set");
    assert_eq!(f2 & STATUS, f1 & STATUS, "count 0 changes no flags");
    assert_eq!(reg(r, "rdx"), 0x1234);
    assert_eq!(reg(r, "rsi"), 0xff80_0000);
    assert_eq!(reg(r, "rdi"), 0xffff_fe00);
    assert_eq!(reg(r, "r9"), 0xf1);
    assert_eq!(reg(r, "r10"), 0x8000_0000_0000_0000);
    assert_eq!(reg(r, "r11"), 5);
}

#[test]
fn family_bit_test() {
    let code = gen::assemble(|a| {
        a.bt(rax, 63)?;
        a.setb(r8b)?;
        a.bts(ecx, 33)?; // imm offset masked to 1
        a.btr(qword_ptr(rbx), rdx)?; // rdx = -1: bit 63 of the qword below
        a.btc(word_ptr(rbx), 17)?; // imm: bit 1 of the word itself
        a.int3()
    });
    let c = run(
        "bit-test",
        code.clone(),
        &[
            ("rax", 1 << 63),
            ("rcx", 0),
            ("rbx", DATA + 0x300),
            ("rdx", u64::MAX),
            ("r8", 0),
        ],
    );
    same(&c);
    ends_at_int3(&c.emu, &code);
    let case: serde_json::Value = serde_json::from_str(&c.line).unwrap();
    let data = machine::exec::decode_hex(case["memory"][1]["bytes"].as_str().unwrap()).unwrap();
    let below = u64::from_le_bytes(data[0x2f8..0x300].try_into().unwrap());
    let word = u16::from_le_bytes(data[0x300..0x302].try_into().unwrap());
    let r = &c.emu;
    assert_eq!(reg(r, "r8"), 1);
    assert_eq!(reg(r, "rcx"), 2);
    assert_eq!(
        u64::from_le_bytes(mem(r, DATA + 0x2f8, 8).try_into().unwrap()),
        below & !(1 << 63)
    );
    assert_eq!(
        u16::from_le_bytes(mem(r, DATA + 0x300, 2).try_into().unwrap()),
        word ^ 2
    );
    assert_eq!(flags(r) & 1, (word >> 1 & 1) as u64, "CF is the old bit");
}

#[test]
fn family_sign_extension() {
    for (name, ins, rax0, rax1, rdx1) in [
        (
            "cbw",
            iced_x86::Code::Cbw,
            0x1234_5680u64,
            0x1234_ff80u64,
            0xdddd,
        ),
        (
            "cwde",
            iced_x86::Code::Cwde,
            0x1234_5678_0000_8000,
            0xffff_8000,
            0xdddd,
        ),
        (
            "cdqe",
            iced_x86::Code::Cdqe,
            0x8000_0000,
            0xffff_ffff_8000_0000,
            0xdddd,
        ),
        ("cwd", iced_x86::Code::Cwd, 0x8000, 0x8000, 0xffff),
        ("cdq", iced_x86::Code::Cdq, 0x7fff_ffff, 0x7fff_ffff, 0),
        ("cqo", iced_x86::Code::Cqo, u64::MAX, u64::MAX, u64::MAX),
    ] {
        let code = gen::assemble(|a| {
            a.add_instruction(iced_x86::Instruction::with(ins))?;
            a.int3()
        });
        let c = run(name, code.clone(), &[("rax", rax0), ("rdx", 0xdddd)]);
        same(&c);
        ends_at_int3(&c.emu, &code);
        assert_eq!(reg(&c.emu, "rax"), rax1, "{name}");
        assert_eq!(reg(&c.emu, "rdx"), rdx1, "{name}");
    }
}

#[test]
fn family_control_flow() {
    let code = gen::assemble(|a| {
        let mut skip = a.create_label();
        let mut sub = a.create_label();
        let mut sub2 = a.create_label();
        let mut after = a.create_label();
        a.endbr64()?;
        a.cmp(rax, 1)?;
        a.je(skip)?; // taken
        a.mov(r8, 1i64)?;
        a.set_label(&mut skip)?;
        a.nop()?;
        a.jne(after)?; // not taken
        a.push(0x55)?;
        a.call(sub)?; // RET 8 pops the argument
        a.lea(r9, ptr(sub2))?;
        a.mov(qword_ptr(rbx), r9)?;
        a.call(qword_ptr(rbx))?;
        a.lea(r10, ptr(after))?;
        a.jmp(r10)?;
        a.mov(r8, 2i64)?;
        a.set_label(&mut after)?;
        a.add_instruction(iced_x86::Instruction::with1(
            iced_x86::Code::Nop_rm32,
            iced_x86::MemoryOperand::with_base_displ(iced_x86::Register::RAX, 0x100),
        )?)?;
        a.int3()?;
        a.set_label(&mut sub)?;
        a.mov(r11, qword_ptr(rsp + 8))?;
        a.add_instruction(iced_x86::Instruction::with1(
            iced_x86::Code::Retnq_imm16,
            8,
        )?)?;
        a.set_label(&mut sub2)?;
        a.mov(r12, rsp)?;
        a.ret()
    });
    let c = run(
        "control",
        code.clone(),
        &[("rax", 1), ("r8", 0), ("rbx", DATA + 0x400)],
    );
    same(&c);
    assert_eq!(signal(&c.emu).0, "SIGTRAP");
    assert_eq!(c.emu.steps, 18);
    let r = &c.emu;
    assert_eq!(reg(r, "r8"), 0, "the skipped MOVs did not run");
    assert_eq!(reg(r, "r11"), 0x55);
    assert_eq!(reg(r, "r12"), RSP0 - 8);
    assert_eq!(reg(r, "rsp"), RSP0);
}

/// The undocumented F6/F7 /1 encoding of TEST runs as TEST on hardware (and emu); QEMU
/// raises #UD, so only emu is checked and the random programs leave it out.
#[test]
fn test_alias_f7_1_runs_as_test_on_emu() {
    let code = gen::assemble(|a| {
        a.add_instruction(iced_x86::Instruction::with2(
            iced_x86::Code::Test_rm32_imm32_F7r1,
            iced_x86::Register::EAX,
            0x10,
        )?)?;
        a.int3()
    });
    let c = run(
        "test-f7r1",
        code.clone(),
        &[("rax", 0x10), ("rflags", 0x2c3)],
    );
    ends_at_int3(&c.emu, &code);
    assert_eq!(flags(&c.emu) & !0x10, 0);
}

// ---------- focused: one per fault kind ----------

/// Runs `prog` and asserts both machines stop with exactly this signal, at this RIP,
/// after `steps` completed instructions.
fn expect_fault(
    name: &str,
    regs: &[(&str, u64)],
    prog: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>,
    want: (&str, i32, u64, u64),
    steps: u64,
) -> Checked {
    let code = gen::assemble(|a| {
        prog(a)?;
        a.int3()
    });
    let c = run(name, code, regs);
    same(&c);
    for r in [&c.emu, &c.reference] {
        assert_eq!(r.stop, "fault", "{name}");
        assert_eq!(
            signal(r),
            (want.0.to_string(), want.1, want.2, want.3),
            "{name}"
        );
        assert_eq!(reg(r, "rip"), want.3, "{name}");
        assert_eq!(r.steps, steps, "{name}");
    }
    c
}

const MAPERR: i32 = 1;
const ACCERR: i32 = 2;
const KERNEL: i32 = 0x80;

#[test]
fn fault_unmapped_read() {
    expect_fault(
        "unmapped-read",
        &[("rbx", UNMAPPED + 0x10)],
        |a| a.mov(rax, qword_ptr(rbx + 8)),
        ("SIGSEGV", MAPERR, UNMAPPED + 0x18, CODE),
        0,
    );
}

#[test]
fn fault_unmapped_write_leaves_state() {
    let c = expect_fault(
        "unmapped-write",
        &[("rbx", UNMAPPED), ("rax", 7)],
        |a| {
            a.inc(rax)?;
            a.add(qword_ptr(rbx), rax)
        },
        ("SIGSEGV", MAPERR, UNMAPPED, CODE + 3),
        1,
    );
    assert_eq!(
        reg(&c.emu, "rax"),
        8,
        "the completed INC stays, the ADD did nothing"
    );
}

#[test]
fn fault_write_to_read_only_page() {
    expect_fault(
        "ro-write",
        &[("rbx", RO + 0x40)],
        |a| a.mov(dword_ptr(rbx), 1),
        ("SIGSEGV", ACCERR, RO + 0x40, CODE),
        0,
    );
}

#[test]
fn read_of_read_only_page_succeeds() {
    let code = gen::assemble(|a| {
        a.mov(rax, qword_ptr(rbx))?;
        a.int3()
    });
    let c = run("ro-read", code.clone(), &[("rbx", RO)]);
    same(&c);
    ends_at_int3(&c.emu, &code);
}

#[test]
fn fault_fetch_from_non_executable_page() {
    expect_fault(
        "fetch-nx",
        &[("rax", DATA + 0x20)],
        |a| a.jmp(rax),
        ("SIGSEGV", ACCERR, DATA + 0x20, DATA + 0x20),
        1,
    );
}

#[test]
fn fault_fetch_from_unmapped_page() {
    let c = expect_fault(
        "fetch-unmapped",
        &[("rax", UNMAPPED + 0x123)],
        |a| a.call(rax),
        ("SIGSEGV", MAPERR, UNMAPPED + 0x123, UNMAPPED + 0x123),
        1,
    );
    assert_eq!(
        reg(&c.emu, "rsp"),
        RSP0 - 8,
        "the CALL completed and pushed"
    );
}

#[test]
fn fault_no_access_page() {
    expect_fault(
        "none-read",
        &[("rbx", NOACCESS + 0x8)],
        |a| a.cmp(byte_ptr(rbx), 0),
        ("SIGSEGV", ACCERR, NOACCESS + 0x8, CODE),
        0,
    );
    expect_fault(
        "none-fetch",
        &[("rax", NOACCESS)],
        |a| a.jmp(rax),
        ("SIGSEGV", ACCERR, NOACCESS, NOACCESS),
        1,
    );
}

#[test]
fn fault_non_canonical_data_address() {
    expect_fault(
        "noncanon-data",
        &[("rbx", 0x8000_0000_0000_0000)],
        |a| a.mov(rax, qword_ptr(rbx)),
        ("SIGSEGV", KERNEL, 0, CODE),
        0,
    );
}

#[test]
fn fault_non_canonical_stack_address_is_sigbus() {
    expect_fault(
        "noncanon-rbp",
        &[("rbp", 0x0000_8000_0000_0000)],
        |a| a.mov(rax, qword_ptr(rbp + 8)),
        ("SIGBUS", KERNEL, 0, CODE),
        0,
    );
    expect_fault(
        "noncanon-push",
        &[("rsp", 0x1_0000_0000_0000)],
        |a| a.push(rax),
        ("SIGBUS", KERNEL, 0, CODE),
        0,
    );
}

#[test]
fn fault_push_to_unmapped_stack() {
    let c = expect_fault(
        "push-unmapped",
        &[("rsp", UNMAPPED + 8)],
        |a| a.push(rax),
        ("SIGSEGV", MAPERR, UNMAPPED, CODE),
        0,
    );
    assert_eq!(reg(&c.emu, "rsp"), UNMAPPED + 8);
}

#[test]
fn fault_ud2() {
    expect_fault(
        "ud2",
        &[],
        |a| {
            a.nop()?;
            a.ud2()
        },
        ("SIGILL", 2, CODE + 1, CODE + 1),
        1,
    );
}

#[test]
fn fault_hlt() {
    expect_fault("hlt", &[], |a| a.hlt(), ("SIGSEGV", KERNEL, 0, CODE), 0);
}

#[test]
fn fault_int3_is_a_trap() {
    expect_fault(
        "int3",
        &[],
        |a| {
            a.nop()?;
            a.int3()
        },
        ("SIGTRAP", KERNEL, 0, CODE + 2),
        2,
    );
}

#[test]
fn fault_straddling_access_into_unmapped_page() {
    let c = expect_fault(
        "straddle-read",
        &[("rbx", ISLAND + 0xffc)],
        |a| a.mov(rax, qword_ptr(rbx)),
        ("SIGSEGV", MAPERR, ISLAND + 0x1000, CODE),
        0,
    );
    let _ = c;
    // A store that straddles writes nothing (QEMU writes the first part; the oracle undoes it).
    let c = expect_fault(
        "straddle-write",
        &[("rbx", ISLAND + 0xffe), ("rax", u64::MAX)],
        |a| a.mov(dword_ptr(rbx), eax),
        ("SIGSEGV", MAPERR, ISLAND + 0x1000, CODE),
        0,
    );
    let case: serde_json::Value = serde_json::from_str(&c.line).unwrap();
    let island =
        machine::exec::decode_hex(case["memory"][4]["bytes"].as_str().unwrap_or("")).unwrap();
    let before = island.get(0xffe..0x1000).map_or(vec![0, 0], |b| b.to_vec());
    assert_eq!(mem(&c.emu, ISLAND + 0xffe, 2), before);
}

#[test]
fn fault_straddling_store_into_read_only_page() {
    expect_fault(
        "straddle-ro",
        &[("rbx", RO - 2)],
        |a| a.mov(qword_ptr(rbx), 0),
        ("SIGSEGV", ACCERR, RO, CODE),
        0,
    );
}

#[test]
fn fault_divide_by_zero_and_overflow() {
    expect_fault(
        "div0",
        &[("rcx", 0)],
        |a| a.div(ecx),
        ("SIGFPE", 1, CODE, CODE),
        0,
    );
    expect_fault(
        "div-overflow",
        &[("rdx", 5), ("rcx", 5)],
        |a| a.div(rcx),
        ("SIGFPE", 1, CODE, CODE),
        0,
    );
    expect_fault(
        "idiv-min",
        &[("rax", 0x8000_0000), ("rcx", u64::MAX)],
        |a| {
            a.cdq()?;
            a.idiv(ecx)
        },
        ("SIGFPE", 1, CODE + 1, CODE + 1),
        1,
    );
}

#[test]
fn fault_non_canonical_branch_target() {
    let bad = 0x8000_0000_0000_1000u64;
    let c = expect_fault(
        "jmp-noncanon",
        &[("rax", bad)],
        |a| a.jmp(rax),
        ("SIGSEGV", KERNEL, 0, CODE),
        0,
    );
    let _ = c;
    let c = expect_fault(
        "call-noncanon",
        &[("rax", bad)],
        |a| a.call(rax),
        ("SIGSEGV", KERNEL, 0, CODE),
        0,
    );
    assert_eq!(reg(&c.emu, "rsp"), RSP0, "nothing pushed");
    expect_fault(
        "ret-noncanon",
        &[("rax", bad)],
        |a| {
            a.push(rax)?;
            a.ret()
        },
        ("SIGSEGV", KERNEL, 0, CODE + 1),
        1,
    );
}

#[test]
fn fault_fetch_straddling_into_unmapped_page() {
    // The code page ends with the first two bytes of a 10-byte MOV; the rest would be on
    // the unmapped page after it.
    let mut rng = Rng::new(9);
    let mut code = gen::assemble(|a| {
        a.mov(rax, CODE + 0xffe)?;
        a.jmp(rax)
    });
    let mut enc = iced_x86::Encoder::new(64);
    enc.encode(
        &iced_x86::Instruction::with2(iced_x86::Code::Mov_r64_imm64, iced_x86::Register::RCX, 1i64)
            .unwrap(),
        CODE + 0xffe,
    )
    .unwrap();
    let tail = enc.take_buffer()[..2].to_vec();
    code.resize(0xffe, 0xcc);
    code.extend_from_slice(&tail);
    let line = gen::case_line("fetch-straddle", &mut rng, &code, &[], None, 100);
    let c = check(&line);
    same(&c);
    assert_eq!(
        signal(&c.emu),
        ("SIGSEGV".to_string(), MAPERR, CODE + 0x1000, CODE + 0xffe)
    );
    assert_eq!(c.emu.steps, 2);
}

#[test]
fn stop_at_and_max_steps() {
    let code = gen::assemble(|a| {
        a.inc(rax)?;
        a.inc(rax)?;
        a.inc(rax)?;
        a.int3()
    });
    let mut rng = Rng::new(3);
    let c = check(&gen::case_line(
        "stop-at",
        &mut rng,
        &code,
        &[("rax", 0)],
        Some(CODE + 6),
        100,
    ));
    same(&c);
    assert_eq!(
        (
            c.emu.stop,
            c.emu.steps,
            reg(&c.emu, "rax"),
            reg(&c.emu, "rip")
        ),
        ("stop_at", 2, 2, CODE + 6)
    );
    let c = check(&gen::case_line(
        "max-steps",
        &mut rng,
        &code,
        &[("rax", 0)],
        None,
        1,
    ));
    same(&c);
    assert_eq!(
        (
            c.emu.stop,
            c.emu.steps,
            reg(&c.emu, "rax"),
            reg(&c.emu, "rip")
        ),
        ("max_steps", 1, 1, CODE + 3)
    );
}

/// The minimizer cuts a failing case to the step where the machines part. A real
/// divergence is needed: the F6/F7 /1 TEST alias, which emu runs and QEMU rejects, placed
/// after three other instructions.
#[test]
fn minimize_finds_the_diverging_step() {
    let code = gen::assemble(|a| {
        a.inc(rax)?;
        a.inc(rcx)?;
        a.inc(rdx)?;
        a.add_instruction(iced_x86::Instruction::with2(
            iced_x86::Code::Test_rm32_imm32_F7r1,
            iced_x86::Register::EAX,
            1,
        )?)?;
        a.inc(rbx)?;
        a.inc(rsi)?;
        a.int3()
    });
    let mut rng = Rng::new(5);
    let line = gen::case_line("minimize", &mut rng, &code, &[], None, 100);
    let m = minimize(&line).expect("the alias makes the machines differ");
    assert_eq!((m.emu.stop, m.emu.steps), ("max_steps", 4));
    assert_eq!(signal(&m.reference).0, "SIGILL");
    let r = report(&m);
    assert!(r.contains("cargo run -q -p emu -- exec") && r.contains("\"max_steps\":4"));
    assert!(
        minimize(&gen::random_case(1, 1)).is_none(),
        "a passing case has nothing to minimize"
    );
}
