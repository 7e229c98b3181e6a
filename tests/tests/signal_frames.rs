//! Signal delivery as Linux does it: the frame on the alternate stack, the handler's
//! arguments, and `rt_sigreturn` restoring the interrupted registers.

use asm::{assemble, Source, Syntax};
use go_model::GoRelease;
use machine::{Cpu, Fault, Halt, Machine, Perm, Signal, Stop};
use std::collections::HashMap;

const TEXT: u64 = 0x50_0000;
const STACK: (u64, u64) = (0x7f_0000, 0x7f_4000);
const ALT: (u64, u64) = (0x7e_0000, 0x7e_8000);

const SRC: &str = "\
start:
    mov rbx, 0x1122334455667788
    mov rax, qword ptr [0x30]      ; faults: nothing at 0x30
    int3
handler:
    mov qword ptr [0x7f0800], rdi  ; the signal number
    mov rax, qword ptr [rsi+16]    ; siginfo.si_addr
    mov qword ptr [0x7f0808], rax
    mov qword ptr [0x7f0810], rsp  ; where the frame is
    mov rbx, 0                     ; clobber a register the kernel saved
    add qword ptr [rdx+168], 8     ; uc_mcontext.rip += 8: skip the faulting load
    ret
restorer:
    mov eax, 15                    ; rt_sigreturn
    syscall
";

fn setup() -> (Machine, usize, asm::Program) {
    let files: HashMap<String, String> = [("c.asm".to_string(), SRC.to_string())].into();
    let p = assemble(
        &[Source::new("c.asm", Syntax::Intel, TEXT)],
        GoRelease::named("1.24").unwrap(),
        &files,
    )
    .unwrap();
    let mut m = Machine::new();
    m.map(TEXT, 0x1000, Perm::RX, "C text").unwrap();
    m.poke(TEXT, &p.segments[0].1).unwrap();
    m.map(STACK.0, STACK.1 - STACK.0, Perm::RW, "thread stack")
        .unwrap();
    m.map(ALT.0, ALT.1 - ALT.0, Perm::RW, "gsignal stack")
        .unwrap();
    let mut cpu = Cpu {
        rip: TEXT,
        rflags: 0x202,
        ..Cpu::default()
    };
    cpu.gpr[4] = STACK.1 - 0x100;
    let t = m.spawn("thread 1", cpu);
    (m, t, p)
}

#[test]
fn handler_runs_on_the_altstack_and_sigreturn_restores_the_thread() {
    let (mut m, t, p) = setup();
    let r = m.run(t, 10, None);
    let Halt::Stopped(Stop::Fault(fault)) = r.halt else {
        panic!("{:?}", r.halt)
    };
    assert_eq!(fault, Fault::unmapped(0x30, TEXT + 10));
    let interrupted = m.thread(t).cpu;
    let frame = m
        .deliver_signal(
            t,
            &fault,
            p.symbol("handler").unwrap(),
            p.symbol("restorer").unwrap(),
            Some(ALT),
        )
        .unwrap();
    assert!(frame.on_altstack);
    let cpu = m.thread(t).cpu;
    assert_eq!(
        (cpu.rip, cpu.gpr[7], cpu.gpr[6], cpu.gpr[2]),
        (
            p.symbol("handler").unwrap(),
            11,
            frame.siginfo,
            frame.ucontext
        )
    );
    assert!(
        (ALT.0..ALT.1).contains(&cpu.gpr[4]) && (cpu.gpr[4] + 8) % 16 == 0,
        "called-function alignment on the altstack"
    );
    assert_eq!(
        m.memory().peek_u64(cpu.gpr[4]),
        p.symbol("restorer"),
        "the return address is the restorer"
    );

    let r = m.run(t, 100, None);
    assert!(stackswitch_tests::ended_at_int3(&r.halt), "{:?}", r.halt);
    let after = m.thread(t).cpu;
    let seen = |a: u64| m.memory().peek_u64(a).unwrap();
    assert_eq!(
        (seen(0x7f_0800), seen(0x7f_0808), seen(0x7f_0810)),
        (11, 0x30, frame.addr),
        "what the handler saw"
    );
    assert_eq!(
        after.gpr[0], interrupted.gpr[0],
        "RAX too is as it was: rt_sigreturn returns no value"
    );
    assert_eq!(
        after.gpr[3], 0x1122_3344_5566_7788,
        "sigreturn restored the register the handler clobbered"
    );
    assert_eq!(
        after.gpr[4], interrupted.gpr[4],
        "back on the thread's own stack"
    );
    assert_eq!(
        after.rip,
        TEXT + 19,
        "after the skipped load, past the int3"
    );
    // Step back through the return, the handler and the delivery, to the fault.
    while m.step_count() > 1 {
        assert!(m.step_back());
    }
    assert_eq!(m.thread(t).cpu, interrupted);
}

#[test]
fn without_an_altstack_the_frame_goes_below_the_red_zone() {
    let (mut m, t, p) = setup();
    let Halt::Stopped(Stop::Fault(fault)) = m.run(t, 10, None).halt else {
        panic!()
    };
    let sp = m.thread(t).cpu.gpr[4];
    let frame = m
        .deliver_signal(
            t,
            &fault,
            p.symbol("handler").unwrap(),
            p.symbol("restorer").unwrap(),
            None,
        )
        .unwrap();
    assert!(!frame.on_altstack);
    assert!(frame.addr + machine::signal::FRAME_SIZE <= sp - machine::signal::RED_ZONE);
    // A stack with no room: the delivery itself faults, and nothing changed.
    let (mut m, t, p) = setup();
    let Halt::Stopped(Stop::Fault(fault)) = m.run(t, 10, None).halt else {
        panic!()
    };
    let mut cpu = m.thread(t).cpu;
    cpu.gpr[4] = STACK.0 + 0x100;
    m.set_cpu(t, cpu);
    let e = m
        .deliver_signal(t, &fault, p.symbol("handler").unwrap(), 0, None)
        .unwrap_err();
    assert_eq!(e.signal, Signal::Sigsegv);
    assert_eq!(m.thread(t).cpu, cpu);
}
