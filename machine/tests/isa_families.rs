//! The SSE, string, atomic, bit-scan, CPUID and RDTSC families: what each computes on
//! chosen inputs, and that stepping every one of them back restores registers, XMM
//! registers, MXCSR and memory exactly.

use iced_x86::code_asm::*;
use machine::{Cpu, Fault, Machine, Perm, Stop};

const TEXT: u64 = 0x40_0000;
const DATA: u64 = 0x60_0000;

fn machine(build: impl FnOnce(&mut CodeAssembler), cpu: Cpu) -> (Machine, usize) {
    let mut a = CodeAssembler::new(64).unwrap();
    build(&mut a);
    let code = a.assemble(TEXT).unwrap();
    let mut m = Machine::new();
    m.map(TEXT, 0x1000, Perm::RX, "text").unwrap();
    m.map(DATA, 0x2000, Perm::RW, "data").unwrap();
    m.poke(TEXT, &code).unwrap();
    let data: Vec<u8> = (0..0x2000u32).map(|i| (i * 7 + 3) as u8).collect();
    m.poke(DATA, &data).unwrap();
    let t = m.spawn("main", Cpu { rip: TEXT, ..cpu });
    (m, t)
}

/// Runs `n` steps, checks the state changed, steps all back and checks it is restored.
fn forwards_and_back(m: &mut Machine, t: usize, n: usize) -> Cpu {
    let cpu0 = m.thread(t).cpu;
    let mem0 = m.memory().peek(DATA, 0x2000).unwrap();
    for _ in 0..n {
        m.step(t).unwrap();
    }
    let after = m.thread(t).cpu;
    for _ in 0..n {
        assert!(m.step_back());
    }
    assert_eq!(m.thread(t).cpu, cpu0, "registers, XMM and MXCSR restored");
    assert_eq!(
        m.memory().peek(DATA, 0x2000).unwrap(),
        mem0,
        "memory restored"
    );
    for _ in 0..n {
        m.step(t).unwrap();
    }
    assert_eq!(m.thread(t).cpu, after, "the same run again");
    after
}

fn xmm(bytes: [u8; 16]) -> u128 {
    u128::from_le_bytes(bytes)
}

#[test]
fn sse_integer_ops_find_a_byte_as_strlen_does() {
    // glibc's __strlen_sse2 idea: compare 16 bytes with zero, take the mask, scan it.
    let mut cpu = Cpu::default();
    cpu.xmm[1] = xmm(*b"hello, world\0abc");
    let (mut m, t) = machine(
        |a| {
            a.pxor(xmm0, xmm0).unwrap();
            a.pcmpeqb(xmm0, xmm1).unwrap();
            a.pmovmskb(eax, xmm0).unwrap();
            a.bsf(eax, eax).unwrap();
            a.pshufd(xmm2, xmm1, 0x1b).unwrap();
            a.punpcklbw(xmm3, xmm1).unwrap();
            a.psrldq(xmm1, 4).unwrap();
            a.movdqu(xmmword_ptr(DATA + 3), xmm2).unwrap();
        },
        cpu,
    );
    let after = forwards_and_back(&mut m, t, 8);
    assert_eq!(after.gpr[0], 12, "the NUL is byte 12");
    assert_eq!(
        after.xmm[2] as u32,
        u32::from_le_bytes(*b"\0abc"),
        "lanes reversed"
    );
    assert_eq!(after.xmm[1] as u8, b'o', "shifted right by 4 bytes");
    assert_eq!(
        m.memory().peek(DATA + 3, 4).unwrap(),
        b"\0abc".to_vec(),
        "an unaligned store"
    );
}

#[test]
fn aligned_moves_fault_on_a_misaligned_address() {
    let (mut m, t) = machine(
        |a| a.movaps(xmm0, xmmword_ptr(DATA + 8)).unwrap(),
        Cpu::default(),
    );
    assert_eq!(m.step(t), Err(Stop::Fault(Fault::general_protection(TEXT))));
    let (mut m, t) = machine(
        |a| a.pxor(xmm0, xmmword_ptr(DATA + 4)).unwrap(),
        Cpu::default(),
    );
    assert!(
        m.step(t).is_err(),
        "legacy SSE m128 operands must be aligned"
    );
}

#[test]
fn scalar_double_arithmetic_and_conversions() {
    let mut cpu = Cpu::default();
    cpu.xmm[0] = 1.5f64.to_bits() as u128 | 0xdead << 64;
    cpu.xmm[1] = 2.25f64.to_bits() as u128;
    cpu.gpr[3] = (-7i64) as u64;
    let (mut m, t) = machine(
        |a| {
            a.mulsd(xmm0, xmm1).unwrap(); // 3.375
            a.cvtsi2sd(xmm2, rbx).unwrap(); // -7.0
            a.addsd(xmm0, xmm2).unwrap(); // -3.625
            a.cvttsd2si(rax, xmm0).unwrap(); // -3
            a.cvtsd2si(rcx, xmm0).unwrap(); // -4 (nearest)
            a.ucomisd(xmm0, xmm1).unwrap(); // less: CF
            a.sqrtsd(xmm3, xmm1).unwrap(); // 1.5
            a.cvtsd2ss(xmm4, xmm3).unwrap();
            a.stmxcsr(dword_ptr(DATA)).unwrap();
        },
        cpu,
    );
    let after = forwards_and_back(&mut m, t, 9);
    assert_eq!(f64::from_bits(after.xmm[0] as u64), -3.625);
    assert_eq!(after.xmm[0] >> 64, 0xdead, "the high lane is kept");
    assert_eq!(after.gpr[0] as i64, -3);
    assert_eq!(after.gpr[1] as i64, -4);
    assert_eq!(after.rflags & 0x45, 1, "CF only: less");
    assert_eq!(f64::from_bits(after.xmm[3] as u64), 1.5);
    assert_eq!(f32::from_bits(after.xmm[4] as u32), 1.5);
    assert_eq!(after.mxcsr, 0x1f80 | 0x20, "PE from the inexact conversion");
    assert_eq!(m.memory().peek(DATA, 4).unwrap(), 0x1fa0u32.to_le_bytes());
}

#[test]
fn nan_and_out_of_range_convert_to_the_integer_indefinite() {
    let mut cpu = Cpu::default();
    cpu.xmm[0] = f64::NAN.to_bits() as u128;
    cpu.xmm[1] = 1e300f64.to_bits() as u128;
    let (mut m, t) = machine(
        |a| {
            a.cvttsd2si(rax, xmm0).unwrap();
            a.cvttsd2si(ecx, xmm1).unwrap();
        },
        cpu,
    );
    let after = forwards_and_back(&mut m, t, 2);
    assert_eq!(after.gpr[0], 0x8000_0000_0000_0000);
    assert_eq!(after.gpr[1], 0x8000_0000);
    assert_eq!(after.mxcsr & 1, 1, "IE");
}

#[test]
fn rounding_mode_from_ldmxcsr_applies() {
    let mut cpu = Cpu::default();
    cpu.xmm[0] = 2.5f64.to_bits() as u128;
    cpu.gpr[3] = DATA;
    let (mut m, t) = machine(
        |a| {
            a.mov(dword_ptr(rbx), 0x1f80 | 1 << 13).unwrap(); // round down
            a.ldmxcsr(dword_ptr(rbx)).unwrap();
            a.cvtsd2si(rax, xmm0).unwrap();
            a.mov(dword_ptr(rbx), 0x1f80 | 2 << 13).unwrap(); // round up
            a.ldmxcsr(dword_ptr(rbx)).unwrap();
            a.cvtsd2si(rcx, xmm0).unwrap();
            a.mov(dword_ptr(rbx), 0x10000).unwrap(); // a reserved bit
            a.ldmxcsr(dword_ptr(rbx)).unwrap();
        },
        cpu,
    );
    for _ in 0..7 {
        m.step(t).unwrap();
    }
    let cpu = m.thread(t).cpu;
    assert_eq!((cpu.gpr[0], cpu.gpr[1]), (2, 3));
    assert_eq!(
        m.step(t),
        Err(Stop::Fault(Fault::general_protection(cpu.rip)))
    );
}

#[test]
fn rep_movs_and_stos_honour_df_and_count() {
    let mut cpu = Cpu::default();
    cpu.gpr[6] = DATA; // RSI
    cpu.gpr[7] = DATA + 0x100; // RDI
    cpu.gpr[1] = 5; // RCX
    let (mut m, t) = machine(
        |a| {
            a.rep().movsb().unwrap();
            a.std().unwrap();
            a.mov(rdi, DATA + 0x205).unwrap();
            a.mov(ecx, 3).unwrap();
            a.mov(eax, 0xabab_abab_u32).unwrap();
            a.rep().stosd().unwrap();
            a.cld().unwrap();
        },
        cpu,
    );
    let src = m.memory().peek(DATA, 5).unwrap();
    let after = forwards_and_back(&mut m, t, 7);
    assert_eq!(m.memory().peek(DATA + 0x100, 5).unwrap(), src);
    assert_eq!(after.gpr[1], 0, "RCX counted down");
    // STOSD with DF=1 from DATA+0x205 downwards: 0x205, 0x201, 0x1fd.
    assert_eq!(after.gpr[7], DATA + 0x205 - 12);
    assert_eq!(m.memory().peek(DATA + 0x1fd, 12).unwrap(), vec![0xab; 12]);
    assert_eq!(after.rflags & (1 << 10), 0);
}

#[test]
fn a_rep_that_faults_part_way_stops_where_the_hardware_does() {
    let mut cpu = Cpu::default();
    cpu.gpr[7] = DATA + 0x2000 - 16; // 16 bytes before the end of the data
    cpu.gpr[1] = 10; // RCX: 10 quadwords, only 2 fit
    let (mut m, t) = machine(|a| a.rep().stosq().unwrap(), cpu);
    m.step(t).unwrap();
    let part = m.thread(t).cpu;
    assert_eq!(part.rip, TEXT, "still on the instruction");
    assert_eq!((part.gpr[1], part.gpr[7]), (8, DATA + 0x2000));
    assert_eq!(
        m.step(t),
        Err(Stop::Fault(Fault::unmapped(DATA + 0x2000, TEXT)))
    );
    assert_eq!(m.thread(t).cpu, part, "the fault itself changes nothing");
    assert!(m.step_back());
    assert_eq!(m.thread(t).cpu, Cpu { rip: TEXT, ..cpu });
}

#[test]
fn repne_scasb_finds_a_byte() {
    let mut cpu = Cpu::default();
    cpu.gpr[7] = DATA;
    cpu.gpr[1] = u64::MAX;
    cpu.gpr[0] = 3 * 7 + 3; // the byte at DATA + 3
    let (mut m, t) = machine(|a| a.repne().scasb().unwrap(), cpu);
    let after = forwards_and_back(&mut m, t, 1);
    assert_eq!(after.gpr[7], DATA + 4, "RDI is past the match");
    assert_eq!(after.gpr[1], u64::MAX - 4);
    assert_ne!(after.rflags & 0x40, 0, "ZF: found");
}

#[test]
fn locked_exchanges_and_wide_compare_exchange() {
    let mut cpu = Cpu::default();
    cpu.gpr[3] = DATA + 0x40;
    let (mut m, t) = machine(
        |a| {
            a.mov(qword_ptr(rbx), 10).unwrap();
            a.mov(eax, 10).unwrap();
            a.mov(ecx, 20).unwrap();
            a.lock().cmpxchg(qword_ptr(rbx), rcx).unwrap(); // equal: memory = 20
            a.lock().cmpxchg(qword_ptr(rbx), rcx).unwrap(); // unequal: RAX = 20
            a.mov(edx, 5).unwrap();
            a.lock().xadd(qword_ptr(rbx), rdx).unwrap(); // memory 25, RDX 20
            a.xor(edx, edx).unwrap();
            a.xor(eax, eax).unwrap();
            a.lock().cmpxchg16b(xmmword_ptr(rbx)).unwrap(); // unequal: RDX:RAX = memory
        },
        cpu,
    );
    let after = forwards_and_back(&mut m, t, 10);
    assert_eq!(m.memory().peek(DATA + 0x40, 1).unwrap(), vec![25]);
    assert_eq!(after.gpr[0], 25, "RAX got the low quadword");
    assert_eq!(after.rflags & 0x40, 0, "ZF clear: unequal");
    let mut cpu = Cpu::default();
    cpu.gpr[3] = DATA + 8;
    let (mut m, t) = machine(|a| a.cmpxchg16b(xmmword_ptr(rbx)).unwrap(), cpu);
    assert_eq!(
        m.step(t),
        Err(Stop::Fault(Fault::general_protection(TEXT))),
        "CMPXCHG16B needs 16-byte alignment"
    );
}

#[test]
fn cpuid_and_rdtsc_are_deterministic() {
    let (mut m, t) = machine(
        |a| {
            a.xor(eax, eax).unwrap();
            a.cpuid().unwrap();
            a.rdtsc().unwrap();
            a.mov(rsi, rax).unwrap();
            a.rdtsc().unwrap();
        },
        Cpu::default(),
    );
    let after = forwards_and_back(&mut m, t, 5);
    assert_eq!(after.gpr[3], u32::from_le_bytes(*b"Genu") as u64);
    assert_eq!(after.gpr[6], 2, "two steps before the first RDTSC");
    assert_eq!((after.gpr[0], after.gpr[2]), (4, 0), "one tick per step");
}

#[test]
fn fxsave_and_fxrstor_round_trip_the_sse_state() {
    let mut cpu = Cpu::default();
    cpu.xmm[7] = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210;
    cpu.mxcsr = 0x1f80 | 3 << 13;
    cpu.gpr[3] = DATA + 0x200;
    let (mut m, t) = machine(
        |a| {
            a.fxsave(ptr(rbx)).unwrap();
            a.pxor(xmm7, xmm7).unwrap();
            a.fxrstor(ptr(rbx)).unwrap();
        },
        cpu,
    );
    let after = forwards_and_back(&mut m, t, 3);
    assert_eq!(after.xmm[7], cpu.xmm[7]);
    assert_eq!(after.mxcsr, cpu.mxcsr);
    assert_eq!(
        m.memory().peek(DATA + 0x200 + 24, 4).unwrap(),
        cpu.mxcsr.to_le_bytes()
    );
}

#[test]
fn bit_scans_shld_and_popcnt() {
    let mut cpu = Cpu::default();
    cpu.gpr[0] = 0x8000_0000_0000_0010;
    cpu.gpr[1] = 0xffff_0000_0000_0000;
    let (mut m, t) = machine(
        |a| {
            a.tzcnt(rdx, rax).unwrap(); // BSF on this CPU: 4
            a.bsr(rsi, rax).unwrap(); // 63
            a.popcnt(rdi, rcx).unwrap(); // 16
            a.shld(rax, rcx, 8).unwrap();
        },
        cpu,
    );
    let after = forwards_and_back(&mut m, t, 4);
    assert_eq!((after.gpr[2], after.gpr[6], after.gpr[7]), (4, 63, 16));
    assert_eq!(after.gpr[0], 0x0000_0000_0000_10ff);
}

#[test]
fn loop_and_jrcxz_count_rcx() {
    let mut cpu = Cpu::default();
    cpu.gpr[1] = 4;
    let (mut m, t) = machine(
        |a| {
            let mut top = a.create_label();
            let mut done = a.create_label();
            a.set_label(&mut top).unwrap();
            a.add(rax, 1).unwrap();
            a.loop_(top).unwrap();
            a.jrcxz(done).unwrap();
            a.ud2().unwrap();
            a.set_label(&mut done).unwrap();
            a.nop().unwrap();
        },
        cpu,
    );
    // Four rounds of ADD and LOOP, then JRCXZ jumps over UD2 to the NOP.
    let after = forwards_and_back(&mut m, t, 9);
    assert_eq!((after.gpr[0], after.gpr[1]), (4, 0));
    assert_eq!(
        m.disassemble(after.rip).unwrap().instruction.mnemonic(),
        iced_x86::Mnemonic::Nop
    );
}

#[test]
fn an_unmasked_simd_exception_is_sigfpe_and_changes_nothing() {
    let mut cpu = Cpu::default();
    cpu.xmm[0] = 1.0f64.to_bits() as u128;
    cpu.mxcsr = 0x1f80 & !(1 << 9); // ZM clear: divide by zero unmasked
    let (mut m, t) = machine(|a| a.divsd(xmm0, xmm1).unwrap(), cpu);
    let before = m.thread(t).cpu;
    assert_eq!(
        m.step(t),
        Err(Stop::Fault(Fault {
            signal: machine::Signal::Sigfpe,
            code: 3, // FPE_FLTDIV
            addr: TEXT,
            pc: TEXT,
        }))
    );
    assert_eq!(m.thread(t).cpu, before);
}

#[test]
fn daz_reads_denormals_as_zero_and_fz_flushes_tiny_results() {
    let mut cpu = Cpu::default();
    cpu.xmm[0] = 1; // the smallest denormal
    cpu.xmm[1] = 2f64.to_bits() as u128;
    cpu.xmm[2] = f64::MIN_POSITIVE.to_bits() as u128;
    cpu.xmm[3] = 0.25f64.to_bits() as u128;
    cpu.mxcsr = 0x1f80 | 0x40 | 0x8000;
    let (mut m, t) = machine(
        |a| {
            a.mulsd(xmm0, xmm1).unwrap(); // DAZ: 0 * 2
            a.mulsd(xmm2, xmm3).unwrap(); // tiny: FZ gives 0
        },
        cpu,
    );
    let after = forwards_and_back(&mut m, t, 2);
    assert_eq!((after.xmm[0], after.xmm[2] as u64), (0, 0));
    assert_eq!(after.mxcsr & 0x3f, 0x30, "UE and PE from the flush");
}

#[test]
fn a_conversion_from_memory_steps_back_its_mxcsr_flags() {
    let mut cpu = Cpu::default();
    cpu.gpr[3] = DATA;
    let (mut m, t) = machine(
        |a| {
            a.mov(rax, f64::NAN.to_bits()).unwrap();
            a.mov(qword_ptr(rbx), rax).unwrap();
            a.cvttsd2si(rcx, qword_ptr(rbx)).unwrap(); // no XMM register: IE all the same
        },
        cpu,
    );
    let after = forwards_and_back(&mut m, t, 3);
    assert_eq!(after.mxcsr & 1, 1, "IE");
    assert_eq!(after.gpr[1], 1 << 63);
}
