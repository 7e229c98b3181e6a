//! The machine's API for a kernel of the caller's (`run_with`, `SyscallHandler`,
//! `ModelAccess`) and for delivering any signal (`deliver`): what a system call does in
//! its step, a thread it creates and a thread it ends included, is undone by one step
//! back; a delivered signal's frame keeps the blocked mask and the SSE state, and
//! `signal::restore` gives both back.

use iced_x86::code_asm::*;
use machine::cpu::{RAX, RDI, RSP};
use machine::{
    Cpu, Delivery, Halt, Machine, ModelAccess, Perm, SigInfo, SyscallFlow, SyscallHandler,
    ThreadState,
};

const TEXT: u64 = 0x40_0000;
const STACK: u64 = 0x7f_0000;

fn machine_with(code: impl FnOnce(&mut CodeAssembler)) -> (Machine, usize) {
    let mut a = CodeAssembler::new(64).unwrap();
    code(&mut a);
    let bytes = a.assemble(TEXT).unwrap();
    let mut m = Machine::new();
    m.map(TEXT, 0x1000, Perm::RX, "text").unwrap();
    m.poke(TEXT, &bytes).unwrap();
    m.map(STACK, 0x2000, Perm::RW, "stack").unwrap();
    let mut cpu = Cpu {
        rip: TEXT,
        ..Cpu::default()
    };
    cpu.gpr[RSP] = STACK + 0x1000;
    let t = m.spawn("main", cpu);
    (m, t)
}

/// A kernel with two calls: 56 starts a thread at RDI (returning its index), 60 ends the
/// calling thread. It counts the calls it saw.
#[derive(Default)]
struct Tiny {
    calls: u64,
}

impl SyscallHandler for Tiny {
    fn syscall(&mut self, a: &mut ModelAccess, thread: usize) -> SyscallFlow {
        self.calls += 1;
        match a.cpu.gpr[RAX] {
            56 => {
                let mut cpu = *a.cpu;
                cpu.rip = a.cpu.gpr[RDI];
                cpu.gpr[RAX] = 0;
                let child = a.spawn("child", 2000, cpu);
                a.cpu.gpr[RAX] = child as u64;
                a.write(1, b"spawned\n");
                SyscallFlow::EndSlice
            }
            60 => {
                a.exit_thread(thread, a.cpu.gpr[RDI] as i32);
                SyscallFlow::EndSlice
            }
            _ => {
                a.cpu.gpr[RAX] = (-38i64) as u64;
                SyscallFlow::Continue
            }
        }
    }
}

#[test]
fn a_system_call_that_creates_a_thread_is_undone_by_one_step_back() {
    let (mut m, t) = machine_with(|a| {
        let mut child = a.create_label();
        a.mov(rdi, 0u64).unwrap(); // patched below: the child's entry
        a.mov(eax, 56).unwrap();
        a.syscall().unwrap();
        a.mov(eax, 60).unwrap();
        a.mov(edi, 3).unwrap();
        a.syscall().unwrap();
        a.set_label(&mut child).unwrap();
        a.nop().unwrap();
        a.mov(eax, 60).unwrap();
        a.mov(edi, 4).unwrap();
        a.syscall().unwrap();
    });
    // The child starts at the NOP: the 10-byte MOV, 5-byte MOVs and 2-byte SYSCALLs before it.
    let child_entry = TEXT + 10 + 5 + 2 + 5 + 5 + 2;
    let mut cpu = m.thread(t).cpu;
    cpu.gpr[RDI] = child_entry;
    cpu.rip = TEXT + 10;
    m.set_cpu(t, cpu);
    let mut k = Tiny::default();
    let before = m.thread(t).cpu;
    let r = m.run_with(t, 100, None, &mut k);
    // The spawn ended the slice after the SYSCALL, counted as a step.
    assert_eq!(r.halt, Halt::StepLimit);
    assert_eq!(r.steps, 2);
    assert_eq!(m.threads().len(), 2);
    assert_eq!(m.thread(1).tid, 2000);
    assert_eq!(m.thread(1).cpu.rip, child_entry);
    assert_eq!(m.thread(t).cpu.gpr[RAX], 1, "the new thread's index");
    assert_eq!(m.output_of(1), b"spawned\n");
    assert_eq!(m.last_thread(), Some(t));
    // One step back: no child, no output, the caller before its SYSCALL.
    assert!(m.step_back());
    assert_eq!(m.threads().len(), 1);
    assert!(m.output().is_empty());
    assert_eq!(m.thread(t).cpu.rip, TEXT + 15);
    // Forward again, then both threads exit: the process ends with the last one's status.
    assert_eq!(m.run_with(t, 100, None, &mut k).halt, Halt::StepLimit);
    assert_eq!(m.run_with(t, 100, None, &mut k).halt, Halt::ThreadExit(3));
    assert_eq!(m.exit_status(), None);
    // The last thread's exit ends the process.
    assert_eq!(m.run_with(1, 100, None, &mut k).halt, Halt::ProcessExit(4));
    assert_eq!(m.thread(1).state, ThreadState::Exited(4));
    assert_eq!(m.exit_status(), Some(4));
    assert_eq!(k.calls, 4);
    // All the way back: as built.
    assert!(m.go_back_to(0));
    assert_eq!(m.threads().len(), 1);
    assert_eq!(m.thread(t).cpu, before);
    assert_eq!(m.exit_status(), None);
}

#[test]
fn a_delivered_signal_keeps_the_mask_and_sse_state_that_restore_gives_back() {
    let (mut m, t) = machine_with(|a| {
        a.nop().unwrap();
    });
    let mut cpu = m.thread(t).cpu;
    cpu.xmm[3] = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210;
    cpu.mxcsr = 0x1f80 | 0x6000; // round toward zero
    m.set_cpu(t, cpu);
    let info = SigInfo {
        signo: 10,
        code: -6,
        addr: 0,
        pid: 1000,
        uid: 1000,
        fault: false,
    };
    let how = Delivery {
        handler: TEXT,
        restorer: 0x1234,
        altstack: None,
        saved_mask: 1 << 22,
    };
    let frame = m.deliver(t, &info, &how).unwrap();
    let mem = m.memory();
    // siginfo: signo, code SI_TKILL, si_pid and si_uid.
    assert_eq!(mem.peek_u64(frame.siginfo), Some(10));
    assert_eq!(mem.peek_u64(frame.siginfo + 8), Some((-6i32) as u32 as u64));
    assert_eq!(mem.peek_u64(frame.siginfo + 16), Some(1000 | 1000 << 32));
    assert_eq!(
        mem.peek_u64(frame.ucontext + machine::signal::SIGMASK),
        Some(1 << 22)
    );
    // fpstate points above the frame at a 64-byte aligned FXSAVE image.
    let fp = mem.peek_u64(frame.ucontext + 40 + 184).unwrap();
    assert!(fp > frame.addr && fp % 64 == 0);
    assert_eq!(mem.peek_u64(fp + 160 + 3 * 16), Some(0xfedc_ba98_7654_3210));
    // The handler clobbers SSE state; rt_sigreturn (RSP at the ucontext) restores it.
    let mut c = m.thread(t).cpu;
    c.xmm[3] = 0;
    c.mxcsr = 0x1f80;
    c.gpr[RSP] = frame.ucontext;
    let mask = machine::signal::restore(&mut c, m.memory()).unwrap();
    assert_eq!(mask, 1 << 22);
    assert_eq!(c.xmm[3], cpu.xmm[3]);
    assert_eq!(c.mxcsr, cpu.mxcsr);
    assert_eq!(c.rip, TEXT);
}
