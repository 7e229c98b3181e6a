//! The machine as the lessons use it: threads with their own FS base (Go's g lives at
//! fs:-8), the kernel model, faults that leave state untouched, step events, and clear
//! errors for what the machine does not do.

use iced_x86::code_asm::*;
use machine::{AccessKind, Cpu, Fault, Halt, Machine, Perm, Signal, Stop, ThreadState};

const TEXT: u64 = 0x40_0000;
const TLS: u64 = 0x61_0000;
const STACK: u64 = 0x7f_e000;

/// Assembles with iced and loads a machine: text at TEXT (r-x), one stack page per thread
/// and a TLS page. Returns the machine and its first thread.
fn machine(build: impl FnOnce(&mut CodeAssembler)) -> (Machine, usize) {
    let mut a = CodeAssembler::new(64).unwrap();
    build(&mut a);
    let code = a.assemble(TEXT).unwrap();
    let mut m = Machine::new();
    m.map(TEXT, 0x1000, Perm::RX, "text").unwrap();
    m.map(TLS, 0x2000, Perm::RW, "TLS").unwrap();
    m.map(STACK, 0x2000, Perm::RW, "stack").unwrap();
    m.poke(TEXT, &code).unwrap();
    let mut cpu = Cpu {
        rip: TEXT,
        rflags: 0x202,
        ..Cpu::default()
    };
    cpu.gpr[4] = STACK + 0x1000;
    let t = m.spawn("thread 1", cpu);
    (m, t)
}

fn acc(m: &Machine, t: usize) -> u64 {
    m.thread(t).cpu.gpr[0]
}

#[test]
fn each_thread_sees_its_own_g_at_fs_minus_8() {
    // get_tls(CX); MOVQ g(CX), AX  is  mov rax, fs:[-8] on linux/amd64.
    let (mut m, t1) = machine(|a| {
        a.mov(rax, qword_ptr(0xffff_ffff_ffff_fff8u64).fs())
            .unwrap();
        a.int3().unwrap();
    });
    m.poke(TLS + 0x0ff8, &0xc0_0000_01a0u64.to_le_bytes())
        .unwrap(); // g1 in thread 1's TLS
    m.poke(TLS + 0x1ff8, &0xc0_0000_02b0u64.to_le_bytes())
        .unwrap(); // g2 in thread 2's TLS
    let mut cpu = m.thread(t1).cpu;
    cpu.fs_base = TLS + 0x1000;
    m.set_cpu(t1, cpu);
    cpu.fs_base = TLS + 0x2000;
    let t2 = m.spawn("thread 2", cpu);
    m.step(t2).unwrap();
    m.step(t1).unwrap();
    assert_eq!(acc(&m, t1), 0xc0_0000_01a0);
    assert_eq!(acc(&m, t2), 0xc0_0000_02b0);
    assert_eq!(m.thread(t2).tid, m.thread(t1).tid + 1);
}

#[test]
fn arch_prctl_sets_and_gets_fs_like_go_runtime_settls() {
    let (mut m, t) = machine(|a| {
        a.mov(eax, 158u32).unwrap(); // arch_prctl
        a.mov(edi, 0x1002u32).unwrap(); // ARCH_SET_FS
        a.mov(rsi, TLS + 0x100).unwrap();
        a.syscall().unwrap();
        a.mov(r12, rax).unwrap();
        a.mov(eax, 158u32).unwrap();
        a.mov(edi, 0x1003u32).unwrap(); // ARCH_GET_FS into [TLS+0x800]
        a.mov(rsi, TLS + 0x800).unwrap();
        a.syscall().unwrap();
        a.mov(r13, rax).unwrap();
        a.mov(eax, 158u32).unwrap();
        a.mov(edi, 0x1002u32).unwrap();
        a.mov(rsi, 0x8000_0000_0000_0000u64).unwrap(); // outside user space
        a.syscall().unwrap();
        a.mov(r14, rax).unwrap();
        a.mov(eax, 158u32).unwrap();
        a.mov(edi, 0x9999u32).unwrap();
        a.syscall().unwrap();
        a.int3().unwrap();
    });
    let r = m.run(t, 100, None);
    assert!(matches!(
        r.halt,
        Halt::Stopped(Stop::Fault(Fault {
            signal: Signal::Sigtrap,
            ..
        }))
    ));
    let cpu = m.thread(t).cpu;
    assert_eq!(cpu.fs_base, TLS + 0x100);
    assert_eq!(cpu.gpr[12], 0);
    assert_eq!(cpu.gpr[13], 0);
    assert_eq!(m.memory().peek_u64(TLS + 0x800), Some(TLS + 0x100));
    assert_eq!(
        cpu.gpr[14] as i64, -1,
        "EPERM for a base outside user space"
    );
    assert_eq!(cpu.gpr[0] as i64, -22, "EINVAL for an unknown code");
}

#[test]
fn syscall_clobbers_rcx_r11_and_unknown_numbers_give_enosys() {
    let (mut m, t) = machine(|a| {
        a.mov(eax, 0x1234u32).unwrap();
        a.syscall().unwrap();
        a.int3().unwrap();
    });
    m.step(t).unwrap();
    let flags = m.thread(t).cpu.rflags;
    m.step(t).unwrap();
    let cpu = m.thread(t).cpu;
    assert_eq!(cpu.gpr[0] as i64, -38);
    assert_eq!(cpu.gpr[1], TEXT + 7, "RCX holds the return address");
    assert_eq!(cpu.gpr[11], flags, "R11 holds RFLAGS");
}

#[test]
fn write_getpid_gettid_and_exit_group() {
    let (mut m, t) = machine(|a| {
        let mut msg = a.create_label();
        a.mov(eax, 1u32).unwrap();
        a.mov(edi, 2u32).unwrap();
        a.lea(rsi, ptr(msg)).unwrap();
        a.mov(edx, 6u32).unwrap();
        a.syscall().unwrap();
        a.mov(r12, rax).unwrap();
        a.mov(eax, 39u32).unwrap();
        a.syscall().unwrap();
        a.mov(r13, rax).unwrap();
        a.mov(eax, 186u32).unwrap();
        a.syscall().unwrap();
        a.mov(r14, rax).unwrap();
        a.mov(eax, 1u32).unwrap();
        a.mov(edi, 7u32).unwrap(); // not stdout or stderr
        a.syscall().unwrap();
        a.mov(r15, rax).unwrap();
        a.mov(eax, 231u32).unwrap();
        a.mov(edi, 2u32).unwrap();
        a.syscall().unwrap();
        a.ud2().unwrap();
        a.set_label(&mut msg).unwrap();
        a.db(b"fatal\n").unwrap();
    });
    let other = m.spawn(
        "thread 2",
        Cpu {
            rip: TEXT,
            ..Cpu::default()
        },
    );
    let r = m.run(t, 100, None);
    assert_eq!(r.halt, Halt::ProcessExit(2));
    assert_eq!(m.exit_status(), Some(2));
    assert_eq!(m.output_of(2), b"fatal\n");
    let cpu = m.thread(t).cpu;
    assert_eq!(cpu.gpr[12], 6);
    assert_eq!(cpu.gpr[13], machine::kernel::PID as u64);
    assert_eq!(cpu.gpr[14], m.thread(t).tid as u64);
    assert_eq!(cpu.gpr[15] as i64, -9, "EBADF");
    assert_eq!(
        m.thread(other).state,
        ThreadState::Exited(2),
        "exit_group ends every thread"
    );
    assert_eq!(m.step(other), Err(Stop::NotRunnable(other)));
}

#[test]
fn exit_ends_one_thread_and_the_last_one_ends_the_process() {
    let (mut m, t1) = machine(|a| {
        a.mov(eax, 60u32).unwrap();
        a.mov(edi, 5u32).unwrap();
        a.syscall().unwrap();
    });
    let t2 = m.spawn("thread 2", m.thread(t1).cpu);
    assert_eq!(m.run(t1, 10, None).halt, Halt::ThreadExit(5));
    assert_eq!(m.exit_status(), None);
    assert_eq!(m.run(t2, 10, None).halt, Halt::ProcessExit(5));
    assert_eq!(m.exit_status(), Some(5));
    m.step_back();
    assert_eq!(m.exit_status(), None);
    assert_eq!(m.thread(t2).state, ThreadState::Runnable);
}

#[test]
fn a_fault_leaves_registers_and_memory_as_they_were() {
    // PUSH into an unmapped page below the stack: RSP must not move.
    let (mut m, t) = machine(|a| {
        a.mov(rsp, STACK).unwrap();
        a.push(rax).unwrap();
    });
    m.step(t).unwrap();
    let before = m.thread(t).cpu;
    let err = m.step(t).unwrap_err();
    assert_eq!(err, Stop::Fault(Fault::unmapped(STACK - 8, TEXT + 10)));
    assert_eq!(m.thread(t).cpu, before);

    // A store straddling into a read-only page changes neither page.
    let (mut m, t) = machine(|a| {
        a.mov(rbx, TEXT - 4).unwrap();
        a.mov(qword_ptr(rbx), rcx).unwrap();
    });
    m.map(TEXT - 0x1000, 0x1000, Perm::RW, "data").unwrap();
    let mut cpu = m.thread(t).cpu;
    cpu.gpr[1] = u64::MAX;
    m.set_cpu(t, cpu);
    m.step(t).unwrap();
    let err = m.step(t).unwrap_err();
    assert_eq!(
        err,
        Stop::Fault(Fault::access(TEXT, TEXT + 10)),
        "second page is r-x: ACCERR at its first byte"
    );
    assert_eq!(m.memory().peek(TEXT - 4, 4).unwrap(), vec![0; 4]);
}

#[test]
fn faults_match_linux_si_codes() {
    type Build = Box<dyn Fn(&mut CodeAssembler)>;
    let cases: Vec<(&str, Build, Fault)> = vec![
        (
            "nil g.m read",
            Box::new(|a| a.mov(rax, qword_ptr(rax + 0x30)).unwrap()),
            Fault::unmapped(0x30, TEXT),
        ),
        (
            "write to text",
            Box::new(|a| a.mov(dword_ptr(TEXT), eax).unwrap()),
            Fault::access(TEXT, TEXT),
        ),
        (
            "non-canonical",
            Box::new(|a| {
                a.mov(rbx, 0x8000_0000_0000_0000u64).unwrap();
                a.mov(rax, qword_ptr(rbx)).unwrap();
            }),
            Fault::general_protection(TEXT + 10),
        ),
        (
            "non-canonical stack is #SS",
            Box::new(|a| {
                a.mov(rsp, 0x8000_0000_0000_0008u64).unwrap();
                a.push(rax).unwrap();
            }),
            Fault::stack_segment(TEXT + 10),
        ),
        (
            "hlt",
            Box::new(|a| a.hlt().unwrap()),
            Fault::general_protection(TEXT),
        ),
        (
            "divide by zero",
            Box::new(|a| {
                a.xor(ecx, ecx).unwrap();
                a.div(rcx).unwrap();
            }),
            Fault::divide(TEXT + 2),
        ),
        (
            "quotient overflow",
            Box::new(|a| {
                a.mov(edx, 1u32).unwrap();
                a.mov(ecx, 1u32).unwrap();
                a.div(ecx).unwrap();
            }),
            Fault::divide(TEXT + 10),
        ),
        (
            "ud2",
            Box::new(|a| a.ud2().unwrap()),
            Fault::invalid_opcode(TEXT),
        ),
        (
            "int3",
            Box::new(|a| a.int3().unwrap()),
            Fault::breakpoint(TEXT + 1),
        ),
        (
            "jump to non-canonical faults on the jump",
            Box::new(|a| {
                a.mov(rax, 0x8000_0000_0000_0000u64).unwrap();
                a.jmp(rax).unwrap();
            }),
            Fault::general_protection(TEXT + 10),
        ),
        (
            "call into unmapped memory faults at the target",
            Box::new(|a| {
                a.mov(eax, 0x1234_5000u32).unwrap();
                a.call(rax).unwrap();
            }),
            Fault::unmapped(0x1234_5000, 0x1234_5000),
        ),
        (
            "fetch from a data page",
            Box::new(|a| {
                a.mov(eax, TLS as u32).unwrap();
                a.jmp(rax).unwrap();
            }),
            Fault::access(TLS, TLS),
        ),
    ];
    for (name, build, expected) in cases {
        let (mut m, t) = machine(build);
        let r = m.run(t, 10, None);
        assert_eq!(r.halt, Halt::Stopped(Stop::Fault(expected)), "{name}");
        assert_eq!(
            m.thread(t).cpu.rip,
            expected.pc,
            "{name}: RIP as the handler sees it"
        );
    }
}

#[test]
fn guard_page_with_no_access_gives_accerr() {
    let (mut m, t) = machine(|a| {
        a.mov(rax, qword_ptr(STACK - 0x1000 + 0x18)).unwrap();
    });
    m.map(STACK - 0x1000, 0x1000, Perm::NONE, "guard").unwrap();
    assert_eq!(
        m.step(t),
        Err(Stop::Fault(Fault::access(STACK - 0x1000 + 0x18, TEXT)))
    );
    m.protect(STACK - 0x1000, 0x1000, Perm::R).unwrap();
    m.step(t).unwrap();
}

#[test]
fn unimplemented_instruction_is_an_error_not_a_signal() {
    // x87 is not modelled: FLD1 stops the machine with its name and address.
    let (mut m, t) = machine(|a| {
        a.nop().unwrap();
        a.fld1().unwrap();
    });
    m.step(t).unwrap();
    let before = m.thread(t).cpu;
    let err = m.step(t).unwrap_err();
    assert_eq!(
        err,
        Stop::Unimplemented {
            text: "fld1".into(),
            addr: TEXT + 1
        }
    );
    assert_eq!(
        err.to_string(),
        "unimplemented instruction `fld1` at 0x400001"
    );
    assert_eq!(m.thread(t).cpu, before);
}

#[test]
fn step_events_report_instruction_registers_and_memory() {
    let (mut m, t) = machine(|a| {
        a.mov(rax, 0x1122_3344u64).unwrap();
        a.push(rax).unwrap();
        a.mov(rcx, qword_ptr(0x30u64)).unwrap();
    });
    m.step(t).unwrap();
    let e = m.step_event(t);
    assert_eq!(e.step, 1);
    let ins = e.instruction.unwrap();
    assert_eq!(ins.instruction.code(), iced_x86::Code::Push_r64);
    assert_eq!(ins.instruction.op0_register(), iced_x86::Register::RAX);
    assert_eq!(ins.bytes, vec![0x50]);
    let names: Vec<_> = e.regs.iter().map(|r| r.name).collect();
    assert_eq!(names, ["rsp", "rip"]);
    assert_eq!(e.regs[0].new, STACK + 0x1000 - 8);
    assert_eq!(e.memory.len(), 1);
    assert_eq!(e.memory[0].kind, AccessKind::Write);
    assert_eq!(e.memory[0].addr, STACK + 0x1000 - 8);
    assert_eq!(e.memory[0].old, vec![0; 8]);
    assert_eq!(e.memory[0].new, 0x1122_3344u64.to_le_bytes().to_vec());
    let e = m.step_event(t);
    assert_eq!(
        e.fault,
        Some(Fault::unmapped(0x30, e.instruction.as_ref().unwrap().addr))
    );
    assert!(e.regs.is_empty());
    let ins = e.instruction.unwrap().instruction;
    assert_eq!(ins.mnemonic(), iced_x86::Mnemonic::Mov);
    assert_eq!(ins.op0_register(), iced_x86::Register::RCX);
    assert_eq!(ins.memory_displacement64(), 0x30);
}

#[test]
fn region_names_resolve_addresses() {
    let (m, _) = machine(|a| a.nop().unwrap());
    assert_eq!(m.memory().region_of(STACK + 0x10).unwrap().name, "stack");
    assert_eq!(m.memory().region_of(TLS + 0x1ff8).unwrap().name, "TLS");
    assert!(m.memory().region_of(0x1000).is_none());
    assert_eq!(m.memory().perm_of(TEXT), Some(Perm::RX));
}

#[test]
fn stop_at_and_step_limit() {
    let (mut m, t) = machine(|a| {
        let mut top = a.create_label();
        a.set_label(&mut top).unwrap();
        a.inc(rax).unwrap();
        a.jmp(top).unwrap();
    });
    let r = m.run(t, 1001, None);
    assert_eq!(
        r,
        machine::RunResult {
            steps: 1001,
            halt: Halt::StepLimit
        }
    );
    assert_eq!(acc(&m, t), 501);
    let r = m.run(t, 1000, Some(TEXT));
    assert_eq!(
        r,
        machine::RunResult {
            steps: 1,
            halt: Halt::StopAt(TEXT)
        }
    );
}
