//! The speed benchmark's loop, alone, for an instruction counter:
//!
//! ```text
//!     mov rcx, N
//!     xor eax, eax
//! top:
//!     add rax, rcx
//!     mov [rbx+8], rax
//!     xor rdx, [rbx+8]
//!     dec rcx
//!     jnz top
//!     int3
//! ```
//!
//! `speed_loop N [on|off]` runs it with history on or off (default off) and prints the
//! steps and the history's bytes per step. Under `valgrind --tool=callgrind`, the host
//! instructions of a run with N = 200,000 minus those of a run with N = 10, divided by the
//! 999,950 guest instructions between them, is the interpreter's cost per guest
//! instruction without start-up; `tests/benches/speed.rs` does that and prints it.

use iced_x86::code_asm::*;
use machine::{Cpu, Halt, Machine, Perm};

const CODE: u64 = 0x40_0000;
const DATA: u64 = 0x60_0000;

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = match args.next().map(|s| s.parse()) {
        Some(Ok(n)) => n,
        _ => {
            eprintln!("usage: speed_loop N [on|off]");
            std::process::exit(2);
        }
    };
    let history = args.next().as_deref() == Some("on");
    let mut a = CodeAssembler::new(64).expect("64-bit assembler");
    let mut top = a.create_label();
    a.mov(rcx, n).expect("mov");
    a.xor(eax, eax).expect("xor");
    a.set_label(&mut top).expect("label");
    a.add(rax, rcx).expect("add");
    a.mov(qword_ptr(rbx + 8), rax).expect("store");
    a.xor(rdx, qword_ptr(rbx + 8)).expect("load");
    a.dec(rcx).expect("dec");
    a.jnz(top).expect("jnz");
    a.int3().expect("int3");
    let code = a.assemble(CODE).expect("assemble the loop");
    let mut m = Machine::new();
    m.map(CODE, 0x1000, Perm::RX, "text").expect("map text");
    m.map(DATA, 0x1000, Perm::RW, "data").expect("map data");
    m.poke(CODE, &code).expect("poke");
    let mut cpu = Cpu {
        rip: CODE,
        ..Cpu::default()
    };
    cpu.gpr[3] = DATA;
    let t = m.spawn("loop", cpu);
    m.set_history(history);
    let stop = CODE + code.len() as u64 - 1;
    let r = m.run(t, u64::MAX, Some(stop));
    assert_eq!(r.halt, Halt::StopAt(stop));
    assert_eq!(r.steps, 2 + 5 * n);
    assert_eq!(m.thread(t).cpu.gpr[0], n * (n + 1) / 2, "the sum 1..=N");
    println!(
        "steps {} history_bytes_per_step {:.2}",
        r.steps,
        m.history_bytes() as f64 / r.steps as f64
    );
}
