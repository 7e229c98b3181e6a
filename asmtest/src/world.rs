//! The surroundings of a Go thread for one call: a goroutine's stack with real bounds, its
//! g (and an m) as the release lays them out, TLS so that `get_tls`/`g(CX)` finds g, a
//! heap region for what arguments point at, the return address into a stub, and the
//! arguments where the ABI puts them.

use crate::sig::{Layout, Place, Reg, Signature, Type};
use crate::spec::Value;
use go_release::GoRelease;
use machine::{Cpu, Machine, Perm};

/// Where the return address points: a page of `INT3`s the run stops at before running one.
pub const RETURN_STUB: u64 = 0x30_0000;
/// The TLS block: FS base points here; Go keeps g at `fs:-8` on linux/amd64
/// (`runtime/go_tls.h`, `cmd/internal/obj/x86`: the TLS slot is at -8 from FS).
pub const FS_BASE: u64 = 0x1000_0800;
/// The page holding g, and the one holding its m.
pub const G_ADDR: u64 = 0x1001_0000;
/// The goroutine's m.
pub const M_ADDR: u64 = 0x1002_0000;
/// The m's g0.
pub const G0_ADDR: u64 = 0x1003_0000;
/// The heap region for slices' arrays, strings and pointed-at values; Go's own heap
/// starts its arenas at 0xc000000000 on linux/amd64 (`runtime/malloc.go`, the arena hints).
pub const HEAP: u64 = 0xc0_0000_0000;
/// The goroutine's stack: 8 KiB, as a goroutine has after its stack has grown twice from
/// Go's 2 KiB start (`runtime/stack.go`, `stackMin`); Go carves it from its heap, with no
/// guard page below.
pub const STACK_LO: u64 = 0xc0_0008_0000;
/// One past the stack's top.
pub const STACK_HI: u64 = STACK_LO + 0x2000;
/// Bytes of the caller's own frame above the argument area.
pub const CALLER_FRAME: u64 = 64;
/// The value general registers hold on entry when the ABI gives them nothing: recognisable,
/// never a valid address, so code that reads a register it was not given stands out.
pub const POISON: u64 = 0xdead_0000_0000_0000;

const PAGE: u64 = 0x1000;

fn pages(n: u64) -> u64 {
    n.div_ceil(PAGE).max(1) * PAGE
}

/// Values placed in the heap region, and the bytes of the heap.
struct Heap {
    bytes: Vec<u8>,
}

impl Heap {
    fn alloc(&mut self, data: &[u8], align: u64) -> u64 {
        while self.bytes.len() as u64 % align.max(8) != 0 {
            self.bytes.push(0);
        }
        let at = HEAP + self.bytes.len() as u64;
        self.bytes.extend_from_slice(data);
        at
    }

    /// The bytes of `v` as a value of type `t` (pointed-at parts go to the heap).
    fn encode(&mut self, v: &Value, t: &Type) -> Vec<u8> {
        let mut out = vec![0u8; t.size() as usize];
        match (v, t) {
            (Value::Word(w), _) => {
                let n = out.len();
                out.copy_from_slice(&w.to_le_bytes()[..n]);
            }
            (Value::Str(s), Type::String) => {
                let p = self.alloc(s, 8);
                out[..8].copy_from_slice(&p.to_le_bytes());
                out[8..16].copy_from_slice(&(s.len() as u64).to_le_bytes());
            }
            (Value::List(items), Type::Slice(e)) => {
                let mut array = Vec::new();
                for x in items {
                    array.extend(self.encode(x, e));
                }
                let p = self.alloc(&array, e.align());
                out[..8].copy_from_slice(&p.to_le_bytes());
                out[8..16].copy_from_slice(&(items.len() as u64).to_le_bytes());
                out[16..24].copy_from_slice(&(items.len() as u64).to_le_bytes());
            }
            (Value::List(items), Type::Array(_, e)) => {
                let step = e.size() as usize;
                for (i, x) in items.iter().enumerate() {
                    let b = self.encode(x, e);
                    out[i * step..(i + 1) * step].copy_from_slice(&b);
                }
            }
            (Value::List(items), Type::Struct(fields)) => {
                for ((x, (_, ft)), off) in items.iter().zip(fields).zip(Type::field_offsets(fields))
                {
                    let b = self.encode(x, ft);
                    out[off as usize..off as usize + b.len()].copy_from_slice(&b);
                }
            }
            (Value::Ptr(Some(x)), Type::Pointer(e)) => {
                let b = self.encode(x, e);
                let p = self.alloc(&b, e.align());
                out.copy_from_slice(&p.to_le_bytes());
            }
            // nil, and shapes the loader never makes.
            _ => {}
        }
        out
    }
}

/// A thread ready to make the call.
pub struct World {
    /// The machine, with the program's code mapped.
    pub machine: Machine,
    /// The thread that calls.
    pub thread: usize,
    /// SP at the function's entry: where the return address is.
    pub entry_sp: u64,
    /// BP at entry (the caller's frame pointer).
    pub entry_bp: u64,
    /// g's address.
    pub g: u64,
    /// `g.stackguard0`.
    pub stackguard0: u64,
}

/// Builds the world for one call of the function at `entry`. Errors are the machine
/// refusing a mapping: a bug of this module, said as a message rather than a panic.
pub fn build(
    code: &[(u64, Vec<u8>)],
    release: GoRelease,
    entry: u64,
    sig: &Signature,
    layout: &Layout,
    internal: bool,
    args: &[Value],
) -> Result<World, String> {
    let mut m = Machine::new();
    m.set_history(false);
    let map = |m: &mut Machine, at: u64, size: u64, perm: Perm, name: &str| {
        m.map(at, pages(size), perm, name)
            .map_err(|e| format!("{name}: {e}"))
    };
    for (base, bytes) in code {
        if bytes.is_empty() {
            continue;
        }
        let start = base & !(PAGE - 1);
        map(
            &mut m,
            start,
            base + bytes.len() as u64 - start,
            Perm::RX,
            "code",
        )?;
        m.poke(*base, bytes).map_err(|e| format!("code: {e:?}"))?;
    }
    map(&mut m, RETURN_STUB, PAGE, Perm::RX, "return stub")?;
    m.poke(RETURN_STUB, &[0xcc; 16])
        .map_err(|e| format!("stub: {e:?}"))?;

    // g, its m and the m's g0, at the release's offsets (go_asm.h).
    let off = |name: &str| release.offset(name).map(|o| o as u64);
    let stackguard0 = STACK_LO + off("const__StackGuard").unwrap_or(928);
    map(&mut m, FS_BASE & !(PAGE - 1), PAGE, Perm::RW, "TLS")?;
    map(&mut m, G_ADDR, PAGE, Perm::RW, "g")?;
    map(
        &mut m,
        M_ADDR,
        off("m__size").unwrap_or(PAGE).max(PAGE),
        Perm::RW,
        "m",
    )?;
    map(&mut m, G0_ADDR, PAGE, Perm::RW, "g0")?;
    let mut words: Vec<(u64, u64)> = vec![(FS_BASE - 8, G_ADDR)];
    if let (Some(s), Some(lo), Some(hi)) = (off("g_stack"), off("stack_lo"), off("stack_hi")) {
        words.push((G_ADDR + s + lo, STACK_LO));
        words.push((G_ADDR + s + hi, STACK_HI));
    }
    for (base, name, value) in [
        (G_ADDR, "g_stackguard0", stackguard0),
        (G_ADDR, "g_stackguard1", stackguard0),
        (G_ADDR, "g_m", M_ADDR),
        (M_ADDR, "m_g0", G0_ADDR),
        (M_ADDR, "m_curg", G_ADDR),
        (G0_ADDR, "g_m", M_ADDR),
    ] {
        if let Some(o) = off(name) {
            words.push((base + o, value));
        }
    }
    for (a, v) in words {
        m.poke(a, &v.to_le_bytes())
            .map_err(|e| format!("g: {e:?}"))?;
    }

    // The arguments: the stack area (ABI0 all of it; ABIInternal what is not in registers).
    let mut heap = Heap { bytes: Vec::new() };
    let area = layout.size.div_ceil(8) * 8;
    let args_at = (STACK_HI - CALLER_FRAME - area) & !15;
    // The return address sits 8 below the arguments, so SP at entry is 8 off a multiple of
    // 16, as after a CALL from an aligned frame.
    let entry_sp = args_at - 8;
    let mut cpu = Cpu::default();
    for (i, r) in cpu.gpr.iter_mut().enumerate() {
        *r = POISON | i as u64;
    }
    let mut on_stack = Vec::new();
    for ((p, place), v) in sig.params.iter().zip(&layout.params).zip(args) {
        let bytes = heap.encode(v, &p.ty);
        match place {
            Place::Stack(o) => on_stack.push((args_at + o, bytes)),
            Place::Regs(parts) => set_regs(&mut cpu, parts, &bytes),
        }
    }
    map(
        &mut m,
        STACK_LO,
        STACK_HI - STACK_LO,
        Perm::RW,
        "goroutine stack",
    )?;
    on_stack.push((entry_sp, RETURN_STUB.to_le_bytes().to_vec()));
    for (at, bytes) in on_stack {
        m.poke(at, &bytes)
            .map_err(|e| format!("arguments: {e:?}"))?;
    }
    if !heap.bytes.is_empty() {
        map(&mut m, HEAP, heap.bytes.len() as u64, Perm::RW, "heap")?;
        m.poke(HEAP, &heap.bytes)
            .map_err(|e| format!("heap: {e:?}"))?;
    }
    let entry_bp = STACK_HI - 16;
    cpu.rip = entry;
    cpu.set("rsp", entry_sp);
    cpu.set("rbp", entry_bp);
    cpu.fs_base = FS_BASE;
    if internal {
        // The register ABI's fixed registers: R14 is g, X15 is zero (abi-internal.md,
        // "amd64 architecture").
        cpu.set("r14", G_ADDR);
        cpu.xmm[15] = 0;
    }
    let thread = m.spawn("goroutine", cpu);
    Ok(World {
        machine: m,
        thread,
        entry_sp,
        entry_bp,
        g: G_ADDR,
        stackguard0,
    })
}

fn set_regs(cpu: &mut Cpu, parts: &[(u64, u64, Reg)], bytes: &[u8]) {
    for &(off, size, reg) in parts {
        let mut word = [0u8; 8];
        word[..size as usize].copy_from_slice(&bytes[off as usize..(off + size) as usize]);
        let v = u64::from_le_bytes(word);
        match reg {
            Reg::Int(name) => {
                cpu.set(name, v);
            }
            Reg::Float(i) => cpu.xmm[i as usize] = v as u128,
        }
    }
}
