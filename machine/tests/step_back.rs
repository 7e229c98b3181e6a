//! Step back is exact: for random programs on several threads, running N steps and then
//! stepping back N steps gives the initial state bit for bit (every register of every
//! thread, every mapped byte, output, thread states), and stepping forward again from a
//! point in the middle reproduces the same run.

use iced_x86::code_asm::*;
use machine::{Cpu, Machine, Perm, Stop};

const TEXT: u64 = 0x40_0000;
const DATA: u64 = 0x60_0000;
const STACKS: u64 = 0x7f_0000;
const THREADS: usize = 3;

/// A tiny deterministic generator (SplitMix64), so failures replay from the seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const R64: [AsmRegister64; 6] = [rax, rcx, rdx, rsi, rdi, r8];
const R32: [AsmRegister32; 6] = [eax, ecx, edx, esi, edi, r8d];
const R8: [AsmRegister8; 4] = [al, ah, cl, dh];

/// One random instruction that cannot fault: registers, memory in the data page through
/// RBX (and FS), the stack, flags, and system calls that change kernel state.
fn random_instruction(a: &mut CodeAssembler, rng: &mut Rng) {
    let r = |rng: &mut Rng| R64[rng.below(6) as usize];
    let e = |rng: &mut Rng| R32[rng.below(6) as usize];
    let slot = |rng: &mut Rng| qword_ptr(rbx + (rng.below(64) * 8) as i32);
    match rng.below(22) {
        0 => a.mov(r(rng), rng.next()).unwrap(),
        1 => a.add(r(rng), r(rng)).unwrap(),
        2 => a.sub(e(rng), e(rng)).unwrap(),
        3 => a.xor(r(rng), slot(rng)).unwrap(),
        4 => a.mov(slot(rng), r(rng)).unwrap(),
        5 => a.adc(slot(rng), r(rng)).unwrap(),
        6 => a.imul_3(r(rng), r(rng), rng.below(1000) as i32).unwrap(),
        7 => a.shl(e(rng), cl).unwrap(),
        8 => a.rol(r(rng), rng.below(70) as u32).unwrap(),
        9 => a.mul(r(rng)).unwrap(),
        10 => a.push(r(rng)).unwrap(),
        11 => a.pop(r(rng)).unwrap(),
        12 => a.pushfq().unwrap(),
        13 => a.popfq().unwrap(),
        14 => a.setne(R8[rng.below(4) as usize]).unwrap(),
        15 => a.cmovl(r(rng), slot(rng)).unwrap(),
        16 => a.xchg(slot(rng), r(rng)).unwrap(),
        17 => a.bts(slot(rng), (rng.below(64)) as u32).unwrap(),
        18 => a
            .mov(
                byte_ptr(rbx + rng.below(512) as i32),
                R8[rng.below(4) as usize],
            )
            .unwrap(),
        19 => a.mov(qword_ptr(0x800u64).fs(), r(rng)).unwrap(),
        20 => {
            // write(1, data, 5): output is kernel state that step back must restore.
            a.push(rax).unwrap();
            a.push(rdi).unwrap();
            a.push(rsi).unwrap();
            a.push(rdx).unwrap();
            a.push(rcx).unwrap();
            a.push(r11).unwrap();
            a.mov(eax, 1u32).unwrap();
            a.mov(edi, 1u32).unwrap();
            a.mov(rsi, rbx).unwrap();
            a.mov(edx, 5u32).unwrap();
            a.syscall().unwrap();
            a.pop(r11).unwrap();
            a.pop(rcx).unwrap();
            a.pop(rdx).unwrap();
            a.pop(rsi).unwrap();
            a.pop(rdi).unwrap();
            a.pop(rax).unwrap();
        }
        _ => {
            // arch_prctl(ARCH_SET_FS, DATA + offset): the FS base must come back too.
            a.push(rax).unwrap();
            a.push(rdi).unwrap();
            a.push(rsi).unwrap();
            a.push(rcx).unwrap();
            a.push(r11).unwrap();
            a.mov(eax, 158u32).unwrap();
            a.mov(edi, 0x1002u32).unwrap();
            a.lea(rsi, qword_ptr(rbx + (rng.below(8) * 0x100) as i32))
                .unwrap();
            a.syscall().unwrap();
            a.pop(r11).unwrap();
            a.pop(rcx).unwrap();
            a.pop(rsi).unwrap();
            a.pop(rdi).unwrap();
            a.pop(rax).unwrap();
        }
    }
}

/// A program whose instructions never fault; each thread loops over it forever.
fn program(rng: &mut Rng) -> Vec<u8> {
    let mut a = CodeAssembler::new(64).unwrap();
    let mut top = a.create_label();
    a.set_label(&mut top).unwrap();
    // Keep the stack balanced per iteration whatever the random pushes and pops did.
    a.mov(rsp, rbp).unwrap();
    for _ in 0..40 {
        random_instruction(&mut a, rng);
    }
    a.jmp(top).unwrap();
    a.assemble(TEXT).unwrap()
}

/// Everything step back must restore.
#[derive(Debug, PartialEq)]
struct State {
    threads: Vec<machine::Thread>,
    memory: Vec<(u64, Vec<u8>)>,
    output: Vec<machine::kernel::Output>,
    steps: u64,
}

fn state(m: &Machine) -> State {
    State {
        threads: m.threads().to_vec(),
        memory: m
            .memory()
            .pages()
            .iter()
            .map(|&(a, _)| (a, m.memory().peek(a, 4096).unwrap()))
            .collect(),
        output: m.output().to_vec(),
        steps: m.step_count(),
    }
}

fn world(seed: u64) -> (Machine, Rng) {
    let mut rng = Rng(seed);
    let code = program(&mut rng);
    let mut m = Machine::new();
    m.map(TEXT, 0x2000, Perm::RX, "text").unwrap();
    m.map(DATA, 0x4000, Perm::RW, "data").unwrap();
    m.poke(TEXT, &code).unwrap();
    for t in 0..THREADS as u64 {
        let base = STACKS + t * 0x10_000;
        m.map(base, 0x8000, Perm::RW, &format!("stack of thread {t}"))
            .unwrap();
        let mut cpu = Cpu {
            rip: TEXT,
            rflags: 0x202,
            fs_base: DATA + 0x1000 * t,
            ..Cpu::default()
        };
        cpu.gpr[3] = DATA + 0x800 * t; // rbx: this thread's data
        cpu.gpr[4] = base + 0x4000; // rsp
        cpu.gpr[5] = base + 0x4000; // rbp: where each iteration resets rsp
        for r in [0, 1, 2, 6, 7, 8] {
            cpu.gpr[r] = rng.next();
        }
        m.spawn(&format!("thread {t}"), cpu);
    }
    (m, rng)
}

/// Runs a random interleaving of `n` steps; returns the thread of each step.
fn run_random(m: &mut Machine, rng: &mut Rng, n: u64) -> Vec<usize> {
    let mut order = Vec::new();
    while (order.len() as u64) < n {
        let t = rng.below(THREADS as u64) as usize;
        let burst = 1 + rng.below(7);
        for _ in 0..burst.min(n - order.len() as u64) {
            m.step(t)
                .unwrap_or_else(|e: Stop| panic!("step {} on thread {t}: {e}", order.len()));
            order.push(t);
        }
    }
    order
}

#[test]
fn n_steps_forward_then_n_back_restores_everything() {
    for seed in 0..24u64 {
        let (mut m, mut rng) = world(seed);
        let initial = state(&m);
        let n = 200 + rng.below(1800);
        let order = run_random(&mut m, &mut rng, n);
        assert_eq!(m.step_count(), n);
        assert_ne!(state(&m), initial, "seed {seed}: the run changed nothing");
        for k in (0..n).rev() {
            assert_eq!(
                m.last_thread(),
                Some(order[k as usize]),
                "seed {seed}: step {k} ran on another thread"
            );
            assert!(m.step_back(), "seed {seed}: could not undo step {k}");
        }
        assert!(
            !m.step_back(),
            "seed {seed}: undid more steps than were taken"
        );
        assert_eq!(
            state(&m),
            initial,
            "seed {seed}: state after {n} steps back differs"
        );
    }
}

#[test]
fn going_back_then_forward_on_the_same_schedule_replays_exactly() {
    for seed in 100..108u64 {
        let (mut m, mut rng) = world(seed);
        let schedule: Vec<(usize, u64)> = (0..60)
            .map(|_| (rng.below(THREADS as u64) as usize, 1 + rng.below(40)))
            .collect();
        let total: u64 = schedule.iter().map(|s| s.1).sum();
        assert_eq!(m.run_schedule(&schedule).steps, total);
        let end = state(&m);
        // Back to the middle of the schedule, then forward along the rest of it.
        let (head, tail) = schedule.split_at(30);
        let middle: u64 = head.iter().map(|s| s.1).sum();
        assert!(m.go_back_to(middle));
        assert_eq!(m.run_schedule(tail).steps, total - middle);
        assert_eq!(
            state(&m),
            end,
            "seed {seed}: replay from step {middle} diverged"
        );
        // And a different path from the middle is allowed: history is truncated, not stuck.
        assert!(m.go_back_to(middle));
        m.run_schedule(&[(0, 10), (2, 10)]);
        assert_eq!(m.step_count(), middle + 20);
    }
}

#[test]
fn step_back_restores_code_that_was_overwritten() {
    // Self-modifying code: a store rewrites the next instruction. Undoing the store must
    // also drop the decoded copy of the new instruction.
    let mut a = CodeAssembler::new(64).unwrap();
    a.mov(byte_ptr(0x40_0010u64), 0x40u32).unwrap(); // patch `add eax, 1` imm: 1 -> 0x40
    a.nop().unwrap();
    let mut code = a.assemble(TEXT).unwrap();
    code.resize(0x10 - 2, 0x90);
    code.extend([0x83, 0xc0, 0x01]); // add eax, 1 at 0x40000e; its imm byte is at 0x400010
    code.push(0xcc);
    let mut m = Machine::new();
    m.map(TEXT, 0x1000, Perm::RWX, "text").unwrap();
    m.poke(TEXT, &code).unwrap();
    let t = m.spawn(
        "main",
        Cpu {
            rip: TEXT,
            ..Cpu::default()
        },
    );
    // Run the unpatched add first, so its decoding is cached.
    let mut plain = m.thread(t).cpu;
    plain.rip = 0x40_000e;
    m.set_cpu(t, plain);
    m.step(t).unwrap();
    assert_eq!(m.thread(t).cpu.gpr[0], 1);
    m.set_cpu(
        t,
        Cpu {
            rip: TEXT,
            ..Cpu::default()
        },
    );
    let r = m.run(t, 100, Some(0x40_0011));
    assert_eq!(r.halt, machine::Halt::StopAt(0x40_0011));
    assert_eq!(m.thread(t).cpu.gpr[0], 0x40, "the patched instruction ran");
    while m.step_back() {}
    assert_eq!(m.memory().peek(0x40_0010, 1).unwrap(), vec![1]);
    let mut plain = m.thread(t).cpu;
    plain.rip = 0x40_000e;
    m.set_cpu(t, plain);
    m.step(t).unwrap();
    assert_eq!(
        m.thread(t).cpu.gpr[0],
        1,
        "the restored instruction ran, not the cached patch"
    );
}

#[test]
fn history_memory_cost_is_reported_and_freed() {
    let (mut m, mut rng) = world(7);
    assert_eq!(m.history_len(), 0);
    run_random(&mut m, &mut rng, 5000);
    assert_eq!(m.history_len(), 5000);
    let bytes = m.history_bytes();
    assert!(
        bytes > 5000 * 8,
        "records alone take 8 bytes a step, got {bytes}"
    );
    assert!(
        bytes < 5000 * 200,
        "history should be compact, got {bytes} bytes for 5000 steps"
    );
    m.set_history(false);
    assert_eq!(m.history_len(), 0);
    assert_eq!(m.history_bytes(), 0);
    assert!(!m.step_back());
}

/// The threads as they are, and a digest of every mapped byte (a full copy per step would
/// be too much to keep for a long run).
fn digest(m: &Machine) -> (Vec<machine::Thread>, u64, u64) {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for (a, _) in m.memory().pages() {
        m.memory().peek(a, 4096).unwrap().hash(&mut h);
    }
    (m.threads().to_vec(), h.finish(), m.step_count())
}

#[test]
fn every_step_of_long_runs_comes_back_one_step_back_at_a_time() {
    // Long runs record one step-back record per pass through a block; stepping back into
    // the middle of one replays the block's first steps. A twin machine that took the
    // same steps one at a time says what every step must look like.
    for seed in 200..206u64 {
        let (mut m, mut rng) = world(seed);
        let (mut twin, _) = world(seed);
        twin.set_history(false);
        let schedule: Vec<(usize, u64)> = (0..16)
            .map(|_| (rng.below(THREADS as u64) as usize, 1 + rng.below(150)))
            .collect();
        let mut states = vec![digest(&twin)];
        for &(t, n) in &schedule {
            for _ in 0..n {
                twin.step(t).unwrap();
                states.push(digest(&twin));
            }
        }
        let total = states.len() as u64 - 1;
        assert_eq!(m.run_schedule(&schedule).steps, total);
        assert_eq!(m.history_len() as u64, total);
        assert_eq!(digest(&m), states[total as usize], "seed {seed}: the run");
        // Back a few steps, forward again along the same schedule's tail.
        for k in (0..total).rev() {
            assert!(m.step_back(), "seed {seed}: could not undo step {k}");
            assert_eq!(
                digest(&m),
                states[k as usize],
                "seed {seed}: state after stepping back to step {k}"
            );
            assert_eq!(m.history_len() as u64, k);
        }
        assert!(!m.step_back());
        // go_back_to into the middle of a block, then on along another path.
        m.run_schedule(&schedule);
        let middle = total / 2 + 3;
        assert!(m.go_back_to(middle));
        assert_eq!(
            digest(&m),
            states[middle as usize],
            "seed {seed}: go_back_to"
        );
        m.run_schedule(&[(1, 25), (0, 7)]);
        assert_eq!(m.step_count(), middle + 32);
        assert!(m.go_back_to(middle - 1));
        assert_eq!(digest(&m), states[middle as usize - 1]);
    }
}
