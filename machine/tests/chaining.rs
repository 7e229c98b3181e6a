//! Block chaining (code_cache.rs): a run that goes from block to block through their
//! links must see code changes on the next pass, and stop, step back and go forward
//! again exactly where a run of single steps does.

use iced_x86::code_asm::*;
use machine::{Cpu, Fault, Halt, Machine, Perm, Stop};

const X: u64 = 0x40_0000;
const B: u64 = 0x50_0000;

fn assemble(at: u64, build: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>) -> Vec<u8> {
    let mut a = CodeAssembler::new(64).unwrap();
    build(&mut a).unwrap();
    a.assemble(at).unwrap()
}

/// Block X (its own page, r-x) stores EAX into the immediate of block B's `add ebx,
/// imm32` (another page, rwx), increments EAX and jumps to B; B adds, counts ECX down
/// and jumps back to X while it is not zero. B's INT3 follows at `int3`.
fn self_patching_loop() -> (Machine, usize, u64) {
    let x = assemble(X, |a| {
        a.mov(dword_ptr(rsi), eax)?;
        a.inc(eax)?;
        a.jmp(B)
    });
    let b = assemble(B, |a| {
        // An immediate that needs 32 bits, so that the encoding is 81 C3 imm32 and the
        // immediate is at B + 2.
        a.add(ebx, 0x1234_5678)?;
        a.dec(ecx)?;
        a.jne(X)?;
        a.int3()
    });
    assert_eq!(&b[..2], [0x81, 0xc3], "add ebx, imm32");
    let mut m = Machine::new();
    m.map(X, 0x1000, Perm::RX, "x").unwrap();
    m.map(B, 0x1000, Perm::RWX, "b").unwrap();
    m.poke(X, &x).unwrap();
    m.poke(B, &b).unwrap();
    let mut cpu = Cpu {
        rip: X,
        rflags: 0x2,
        ..Cpu::default()
    };
    cpu.gpr[0] = 1; // EAX: the first immediate
    cpu.gpr[1] = 5; // ECX: passes
    cpu.gpr[6] = B + 2; // RSI: B's immediate
    let t = m.spawn("t", cpu);
    (m, t, B + b.len() as u64 - 1)
}

#[test]
fn a_store_into_a_chained_block_is_seen_on_the_next_pass() {
    for history in [false, true] {
        let (mut m, t, int3) = self_patching_loop();
        m.set_history(history);
        let r = m.run(t, 1000, None);
        // Each pass adds the immediate X just stored: 1 + 2 + 3 + 4 + 5. A block still
        // chained to the old B would add 1 five times (or run a dropped block).
        assert_eq!(m.thread(t).cpu.gpr[3], 15, "history {history}");
        assert_eq!(
            r.steps,
            5 * 6 + 1,
            "five passes of six instructions and INT3"
        );
        assert_eq!(
            r.halt,
            Halt::Stopped(Stop::Fault(Fault::breakpoint(int3 + 1)))
        );
        // A loader write between runs: the next run's first lookup sees it, and the
        // loop it chains then runs the new code.
        let mut cpu = m.thread(t).cpu;
        cpu.rip = B;
        cpu.gpr[1] = 2;
        cpu.gpr[3] = 0;
        m.set_cpu(t, cpu);
        m.poke(B + 2, &100u32.to_le_bytes()).unwrap();
        let r = m.run(t, 4, None);
        assert_eq!((r.steps, r.halt), (4, Halt::StepLimit));
        assert_eq!(m.thread(t).cpu.rip, X + 2, "past X's store, which wrote 6");
        m.run(t, 1000, None);
        assert_eq!(m.thread(t).cpu.gpr[3], 100 + 6, "history {history}");
    }
}

/// A loop of two chained blocks (the second entered by a jump and left by a branch back):
/// `mov ecx, 7; top: add rax, rcx; mov [rbx], rax; jmp next; next: xor rdx, [rbx];
/// dec ecx; jnz top; int3`.
fn two_block_loop() -> (Machine, usize, Vec<u64>) {
    let code = assemble(X, |a| {
        let mut top = a.create_label();
        let mut next = a.create_label();
        a.mov(ecx, 7)?;
        a.set_label(&mut top)?;
        a.add(rax, rcx)?;
        a.mov(qword_ptr(rbx), rax)?;
        a.jmp(next)?;
        a.set_label(&mut next)?;
        a.xor(rdx, qword_ptr(rbx))?;
        a.dec(ecx)?;
        a.jne(top)?;
        a.int3()
    });
    let mut m = Machine::new();
    m.map(X, 0x1000, Perm::RX, "text").unwrap();
    m.map(B, 0x1000, Perm::RW, "data").unwrap();
    m.poke(X, &code).unwrap();
    let mut cpu = Cpu {
        rip: X,
        rflags: 0x2,
        ..Cpu::default()
    };
    cpu.gpr[3] = B;
    let t = m.spawn("t", cpu);
    // Every instruction's address, for stop addresses.
    let mut addrs = Vec::new();
    let mut d = iced_x86::Decoder::with_ip(64, &code, X, iced_x86::DecoderOptions::NONE);
    while d.can_decode() {
        addrs.push(d.decode().ip());
    }
    (m, t, addrs)
}

/// (registers, the data word) after each single step from the start, until INT3.
fn single_steps() -> Vec<(Cpu, u64)> {
    let (mut m, t, _) = two_block_loop();
    let mut states = vec![(m.thread(t).cpu, 0)];
    while m.step(t).is_ok() {
        states.push((m.thread(t).cpu, m.memory().peek_u64(B).unwrap()));
    }
    states
}

#[test]
fn chained_runs_stop_where_single_steps_do() {
    let states = single_steps();
    let total = states.len() as u64 - 1;
    assert_eq!(total, 1 + 7 * 6, "the loop ran to INT3");
    // Every step budget, with history off and on, in one run each: chained runs end on
    // the same step and state as single steps.
    for history in [false, true] {
        for n in 0..=total {
            let (mut m, t, _) = two_block_loop();
            m.set_history(history);
            let r = m.run(t, n, None);
            assert_eq!((r.steps, r.halt), (n, Halt::StepLimit), "budget {n}");
            let (cpu, word) = states[n as usize];
            assert_eq!(m.thread(t).cpu, cpu, "budget {n}, history {history}");
            assert_eq!(m.memory().peek_u64(B), Some(word));
        }
    }
    // Every instruction as a stop address: the run stops at its first arrival there, and
    // after one more step, at its next arrival.
    let (_, _, addrs) = two_block_loop();
    for &at in &addrs[1..] {
        let arrivals: Vec<usize> = (0..states.len())
            .filter(|&i| states[i].0.rip == at)
            .collect();
        let (mut m, t, _) = two_block_loop();
        let r = m.run(t, u64::MAX, Some(at));
        assert_eq!((r.steps, r.halt), (arrivals[0] as u64, Halt::StopAt(at)));
        assert_eq!(m.thread(t).cpu, states[arrivals[0]].0, "stop at {at:#x}");
        if let Some(&next) = arrivals.get(1) {
            m.step(t).unwrap();
            let r = m.run(t, u64::MAX, Some(at));
            assert_eq!(r.steps, (next - arrivals[0] - 1) as u64, "again at {at:#x}");
            assert_eq!(m.thread(t).cpu, states[next].0);
        }
    }
}

#[test]
fn a_chained_run_steps_back_to_every_step_and_forward_again() {
    let states = single_steps();
    let total = states.len() as u64 - 1;
    let (mut m, t, addrs) = two_block_loop();
    let int3 = *addrs.last().unwrap();
    m.set_history(true);
    let r = m.run(t, u64::MAX, Some(int3));
    assert_eq!(r.steps, total);
    for back in (0..total).rev() {
        assert!(m.go_back_to(back), "back to {back}");
        let (cpu, word) = states[back as usize];
        assert_eq!(m.thread(t).cpu, cpu, "state of step {back}");
        assert_eq!(m.memory().peek_u64(B), Some(word), "memory at step {back}");
    }
    // Forward again from the start, chained, to the same end.
    let r = m.run(t, u64::MAX, Some(int3));
    assert_eq!(r.steps, total);
    assert_eq!(m.thread(t).cpu, states[total as usize].0);
    assert_eq!(m.memory().peek_u64(B), Some(states[total as usize].1));
}
