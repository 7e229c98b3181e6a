//! Worlds: a process as Go's runtime lays it out, built on the machine, where every byte
//! has a name.
//!
//! A world has OS threads (each a machine thread with its own FS base; a Go thread runs an
//! m with a g0 stack and a gsignal stack), goroutines (g structs in a heap region, stacks
//! with an unmapped guard page below), Ps, the extra Ms that C threads borrow when they
//! call Go, C threads that have no g, and text regions where sources are assembled.
//! [`World::describe`] turns any address into words: `g1.sched.sp`,
//! `m0.g0 stack +0x1f40`, `TLS of thread 2, g slot`, `runtime·asmcgocall+0x3a`.

use super::model as g;
use super::GoRelease;
use asm::{self, Loader, Program, Source, Syntax};
use go_release::layout::offset;
use machine::cpu::Cpu;
use machine::machine::Machine;
use machine::memory::{Perm, PAGE_SIZE};
use serde::{Deserialize, Serialize};

/// Where things go. Go-looking addresses make the learner's reading match real crashes.
pub mod addr {
    /// Go text: the runtime and Go functions.
    pub const GO_TEXT: u64 = 0x40_1000;
    /// C text: functions called through cgo, signal handlers installed by C.
    pub const C_TEXT: u64 = 0x50_0000;
    /// Runtime globals (the extra-M list head, installed handlers).
    pub const GLOBALS: u64 = 0x60_0000;
    /// The Go heap, where g, m and p structs live.
    pub const HEAP: u64 = 0xc000_000000;
    /// Goroutine stacks, one slot of [`STACK_SLOT`] bytes each, in the Go heap's arena.
    pub const GOROUTINE_STACKS: u64 = 0xc000_100000;
    /// Bytes per goroutine stack slot (the stack plus its guard page).
    pub const STACK_SLOT: u64 = 0x10000;
    /// gsignal stacks (32 KiB each, as Go allocates them).
    pub const SIGNAL_STACKS: u64 = 0xc000_400000;
    /// System stacks of threads (g0 of Go threads, the stacks of C threads), as pthread
    /// would place them, going down.
    pub const SYSTEM_STACKS_TOP: u64 = 0x7fff_f7e0_0000;
    /// Bytes per system stack slot.
    pub const SYSTEM_SLOT: u64 = 0x10_0000;
    /// Thread-local storage blocks, one page per thread.
    pub const TLS: u64 = 0x7fff_f7f0_0000;
}

/// Size of a goroutine's initial stack (Go starts goroutines with 8 KiB).
const GOROUTINE_STACK: u64 = 0x2000;
/// gsignal stacks are 32 KiB.
const SIGNAL_STACK: u64 = 0x8000;
/// A system (g0 or C) stack in the model: 64 KiB is plenty for lessons.
const SYSTEM_STACK: u64 = 0x10000;
/// Where FS points inside a thread's TLS page: the g slot is 8 bytes below it.
const FS_IN_TLS_PAGE: u64 = 0x800;

/// One OS thread of the world.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreadSpec {
    /// A name for the UI; defaults to `thread N`.
    #[serde(default)]
    pub name: Option<String>,
    /// A thread C created: no m, no g (its TLS g slot is 0).
    #[serde(default)]
    pub c: bool,
    /// The function the thread starts in (a symbol). A Go thread starts it on its
    /// goroutine's stack (or g0's) with the arguments on the stack and `runtime·goexit+1`
    /// as the return address, as a new goroutine starts; a C thread with the arguments in
    /// RDI, RSI, RDX, RCX and `thread_exit` as the return address, as pthread starts it.
    #[serde(default)]
    pub entry: Option<String>,
    /// The entry's arguments: numbers, or symbols (their addresses).
    #[serde(default)]
    pub args: Vec<Arg>,
    /// For a Go thread that runs no goroutine: start on `g0` (the default) or on
    /// `gsignal` (TLS g and RSP on that g's stack, as inside a signal handler).
    #[serde(default)]
    pub on: Option<String>,
}

/// An argument: a number or the address of a symbol.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Arg {
    /// A number.
    Number(u64),
    /// A symbol's address (`main·work`, `c_entrance`).
    Symbol(String),
}

/// One goroutine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoroutineSpec {
    /// goid (1 is main).
    pub id: u64,
    /// The thread whose m runs it (it is then that m's curg and in its TLS), if any.
    #[serde(default)]
    pub thread: Option<usize>,
    /// `running`, `syscall` or `dead`; defaults to running when on a thread.
    #[serde(default)]
    pub status: Option<String>,
}

/// A source file assembled into the world.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// Path, as the loader knows it.
    pub path: String,
    /// `go` (placed in Go text) or `intel` (placed in C text).
    pub syntax: Syntax,
}

/// The description of a world, as lessons give it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorldSpec {
    /// OS threads, in order: thread 0 is the process's first thread.
    pub threads: Vec<ThreadSpec>,
    /// Goroutines.
    #[serde(default)]
    pub goroutines: Vec<GoroutineSpec>,
    /// Extra Ms waiting for C threads that call Go (each with a g0 and a dead curg).
    #[serde(default)]
    pub extra_ms: usize,
    /// Ps.
    #[serde(default = "one")]
    pub ps: usize,
    /// Sources, assembled in order: Go files one after another in Go text, Intel files in
    /// C text.
    #[serde(default)]
    pub sources: Vec<SourceSpec>,
    /// Load the runtime's sources (`asmcgocall`, `cgocall`, the signal entry…) before
    /// the user's; on by default.
    #[serde(default = "yes")]
    pub runtime: bool,
    /// A SIGSEGV handler C installed before Go started (a symbol): Go forwards the faults
    /// that do not arrive in Go code to it.
    #[serde(default)]
    pub c_handler: Option<String>,
}

fn yes() -> bool {
    true
}

fn one() -> usize {
    1
}

/// A g as placed in memory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GInfo {
    /// How the UI names it: `g1`, `m0.g0`, `m0.gsignal`, `extra m1.curg`.
    pub name: String,
    /// Address of the g struct.
    pub addr: u64,
    /// goid (0 for g0 and gsignal).
    pub goid: u64,
    /// `g.stack.lo`.
    pub stack_lo: u64,
    /// `g.stack.hi`.
    pub stack_hi: u64,
    /// The name of its stack region.
    pub stack_name: String,
}

/// An m as placed in memory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MInfo {
    /// `m0`, `m1`…; extra Ms are named `extra m2`.
    pub name: String,
    /// Address of the m struct.
    pub addr: u64,
    /// Index into [`World::gs`] of its g0.
    pub g0: usize,
    /// Index of its gsignal (none for extra Ms until they are bound).
    pub gsignal: Option<usize>,
    /// The machine thread running it, if any.
    pub thread: Option<usize>,
    /// An extra M (for C threads calling Go).
    pub extra: bool,
}

/// A thread of the world.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ThreadInfo {
    /// Its name.
    pub name: String,
    /// Index of the machine thread.
    pub machine_thread: usize,
    /// The m it runs, if it is a Go thread.
    pub m: Option<usize>,
    /// Its TLS page.
    pub tls: u64,
    /// Its FS base (g slot at FS−8).
    pub fs_base: u64,
    /// Its system stack: g0's for a Go thread, the C stack for a C thread.
    pub stack: (u64, u64),
}

/// A built world: the machine, the assembled program, and where everything is.
pub struct World {
    /// The machine, threads ready to run.
    pub machine: Machine,
    /// The assembled sources.
    pub program: Program,
    /// The Go release whose layouts were used.
    pub release: GoRelease,
    /// Every g (goroutines, g0s, gsignals).
    pub gs: Vec<GInfo>,
    /// Every m.
    pub ms: Vec<MInfo>,
    /// Addresses of the p structs.
    pub ps: Vec<u64>,
    /// Every thread.
    pub threads: Vec<ThreadInfo>,
}

/// What went wrong building a world.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    /// A source did not assemble.
    #[error("{0}")]
    Asm(#[from] asm::AsmError),
    /// The spec contradicts itself.
    #[error("{0}")]
    Spec(String),
}

fn status_value(release: GoRelease, s: &str) -> Option<i64> {
    offset(release, &format!("const__G{s}"))
}

struct Builder {
    m: Machine,
    release: GoRelease,
    heap_next: u64,
    gs: Vec<GInfo>,
}

impl Builder {
    fn off(&self, name: &str) -> u64 {
        offset(self.release, name).unwrap_or_else(|| panic!("layout has {name}")) as u64
    }
    fn put(&mut self, addr: u64, v: u64) {
        self.m
            .poke(addr, &v.to_le_bytes())
            .expect("world memory is mapped");
    }
    /// Allocates `size` bytes in the heap region, 64-byte aligned as Go's size classes are.
    fn alloc(&mut self, size: u64) -> u64 {
        let a = self.heap_next;
        self.heap_next = (a + size + 63) & !63;
        a
    }
    fn new_g(
        &mut self,
        name: &str,
        goid: u64,
        stack: (u64, u64),
        stack_name: &str,
        status: &str,
    ) -> usize {
        let size = self.off("g__size");
        let g = self.alloc(size);
        let (lo, hi) = stack;
        self.put(g + self.off("g_stack") + self.off("stack_lo"), lo);
        self.put(g + self.off("g_stack") + self.off("stack_hi"), hi);
        // stackguard0 = lo + StackGuard: the prologue's split check compares SP with it.
        let guard = lo + self.off("const__StackGuard");
        self.put(g + self.off("g_stackguard0"), guard);
        self.put(g + self.off("g_stackguard1"), guard);
        self.put(g + self.off("g_goid"), goid);
        let st = status_value(self.release, status).unwrap_or(2) as u64;
        // atomicstatus is a uint32.
        self.m
            .poke(g + self.off("g_atomicstatus"), &(st as u32).to_le_bytes())
            .expect("mapped");
        self.gs.push(GInfo {
            name: name.to_string(),
            addr: g,
            goid,
            stack_lo: lo,
            stack_hi: hi,
            stack_name: stack_name.to_string(),
        });
        self.gs.len() - 1
    }
}

impl World {
    /// Builds a world from its description, assembling its sources with `loader`.
    pub fn build(
        spec: &WorldSpec,
        release: GoRelease,
        loader: &dyn Loader,
    ) -> Result<World, WorldError> {
        let runtime_loader = super::runtime::RuntimeLoader {
            release,
            user: loader,
        };
        let loader: &dyn Loader = &runtime_loader;
        let mut files: Vec<(String, Syntax)> = Vec::new();
        if spec.runtime {
            files.extend(
                super::runtime::sources()
                    .iter()
                    .map(|(p, s)| (p.to_string(), *s)),
            );
        }
        files.extend(spec.sources.iter().map(|s| (s.path.clone(), s.syntax)));
        let mut sources = Vec::new();
        // Place files one after another; sizes are known only after assembling, so
        // assemble each alone first to learn its size.
        let (mut go_next, mut c_next) = (addr::GO_TEXT, addr::C_TEXT);
        for (path, syntax) in &files {
            let base = if *syntax == Syntax::Go {
                &mut go_next
            } else {
                &mut c_next
            };
            let alone =
                asm::assemble_listing(&[Source::new(path, *syntax, *base)], release, loader)?;
            let size: u64 = alone.segments.iter().map(|(_, b)| b.len() as u64).sum();
            sources.push(Source::new(path, *syntax, *base));
            *base = (*base + size + 0x3f) & !0x3f;
        }
        let program = if sources.is_empty() {
            Program::default()
        } else {
            asm::assemble(&sources, release, loader)?
        };
        let mut b = Builder {
            m: Machine::new(),
            release,
            heap_next: addr::HEAP,
            gs: Vec::new(),
        };
        let text = |b: &mut Builder, base: u64, end: u64, name: &str| {
            if end > base {
                let size = (end - base + PAGE_SIZE - 1) & !(PAGE_SIZE - 1);
                b.m.map(base, size, Perm::RX, name).expect("text fits");
            }
        };
        text(&mut b, addr::GO_TEXT, go_next, "Go text");
        text(&mut b, addr::C_TEXT, c_next, "C text");
        for (base, bytes) in &program.segments {
            b.m.poke(*base, bytes).expect("text is mapped");
        }
        b.m.map(addr::GLOBALS, PAGE_SIZE, Perm::RW, "runtime globals")
            .expect("globals");
        b.m.map(
            addr::HEAP,
            0x10_0000,
            Perm::RW,
            "Go heap (g, m and p structs)",
        )
        .expect("heap");

        let mut threads = Vec::new();
        let mut ms: Vec<MInfo> = Vec::new();
        let m_size = b.off("m__size");
        // Go threads first get their m, g0 and gsignal; C threads only a stack and TLS.
        for (i, t) in spec.threads.iter().enumerate() {
            let name = t
                .name
                .clone()
                .unwrap_or_else(|| format!("thread {}", i + 1));
            let tls = addr::TLS + i as u64 * PAGE_SIZE;
            b.m.map(tls, PAGE_SIZE, Perm::RW, &format!("TLS of {name}"))
                .expect("tls");
            let top = addr::SYSTEM_STACKS_TOP - i as u64 * addr::SYSTEM_SLOT;
            let lo = top - SYSTEM_STACK;
            let m_index = (!t.c).then_some(ms.len());
            let stack_name = match m_index {
                Some(k) => format!("m{k}.g0 stack"),
                None => format!("{name} stack"),
            };
            b.m.map(lo, SYSTEM_STACK, Perm::RW, &stack_name)
                .expect("stack");
            if let Some(k) = m_index {
                let m = b.alloc(m_size);
                let g0 = b.new_g(&format!("m{k}.g0"), 0, (lo, top), &stack_name, "running");
                let sig_lo =
                    addr::SIGNAL_STACKS + k as u64 * (SIGNAL_STACK + PAGE_SIZE) + PAGE_SIZE;
                let sig_name = format!("m{k}.gsignal stack");
                b.m.map(sig_lo, SIGNAL_STACK, Perm::RW, &sig_name)
                    .expect("signal stack");
                let gsignal = b.new_g(
                    &format!("m{k}.gsignal"),
                    0,
                    (sig_lo, sig_lo + SIGNAL_STACK),
                    &sig_name,
                    "running",
                );
                let (g0a, gsa) = (b.gs[g0].addr, b.gs[gsignal].addr);
                b.put(m + b.off("m_g0"), g0a);
                b.put(m + b.off("m_gsignal"), gsa);
                b.put(m + b.off("m_id"), k as u64);
                b.put(
                    m + b.off("m_procid"),
                    machine::kernel::PID as u64 + i as u64,
                );
                b.put(g0a + b.off("g_m"), m);
                b.put(gsa + b.off("g_m"), m);
                // A switch to g0 lands at g0.sched.sp: the top of the system stack.
                b.put(g0a + b.off("g_sched") + b.off("gobuf_sp"), top - 0x40);
                ms.push(MInfo {
                    name: format!("m{k}"),
                    addr: m,
                    g0,
                    gsignal: Some(gsignal),
                    thread: Some(i),
                    extra: false,
                });
            }
            let fs_base = tls + FS_IN_TLS_PAGE;
            let cpu = Cpu {
                rflags: 0x202,
                fs_base,
                gpr: {
                    let mut r = [0; 16];
                    r[4] = top - 0x100;
                    r
                },
                ..Cpu::default()
            };
            let machine_thread = b.m.spawn(&name, cpu);
            threads.push(ThreadInfo {
                name,
                machine_thread,
                m: m_index,
                tls,
                fs_base,
                stack: (lo, top),
            });
        }
        // Ps: minimal structs. The first go to the Go threads' Ms, in order; the rest wait
        // in the idle list.
        let ps: Vec<u64> = (0..spec.ps).map(|_| b.alloc(0x100)).collect();
        let mut idle = 0u64;
        for (i, &p) in ps.iter().enumerate() {
            b.m.poke(p + g::P_ID, &(i as u32).to_le_bytes())
                .expect("heap");
            match ms.get(i) {
                Some(m) => {
                    b.put(m.addr + b.off("m_p"), p);
                    b.put(p + g::P_M, m.addr);
                    b.m.poke(p + g::P_STATUS, &g::P_RUNNING.to_le_bytes())
                        .expect("heap");
                }
                None => {
                    b.put(g::PIDLE_SLOTS + 8 * idle, p);
                    idle += 1;
                }
            }
        }
        b.put(g::PIDLE_COUNT, idle);
        // Goroutines.
        for (n, g) in spec.goroutines.iter().enumerate() {
            let slot = addr::GOROUTINE_STACKS + n as u64 * addr::STACK_SLOT;
            // The guard page below the stack stays unmapped: overflowing it faults.
            let lo = slot + addr::STACK_SLOT - GOROUTINE_STACK;
            let stack_name = format!("g{} stack", g.id);
            b.m.map(lo, GOROUTINE_STACK, Perm::RW, &stack_name)
                .expect("goroutine stack");
            let status = g.status.clone().unwrap_or_else(|| {
                if g.thread.is_some() {
                    "running".into()
                } else {
                    "syscall".into()
                }
            });
            let status = match status.as_str() {
                "running" => "running",
                "syscall" => "syscall",
                "dead" => "dead",
                other => {
                    return Err(WorldError::Spec(format!(
                        "goroutines: unknown status \"{other}\" (running, syscall, dead)"
                    )))
                }
            };
            let gi = b.new_g(
                &format!("g{}", g.id),
                g.id,
                (lo, lo + GOROUTINE_STACK),
                &stack_name,
                status,
            );
            if let Some(t) = g.thread {
                let th: &ThreadInfo = threads.get(t).ok_or_else(|| {
                    WorldError::Spec(format!(
                        "goroutine {} runs on thread {t}, which does not exist",
                        g.id
                    ))
                })?;
                let k = th.m.ok_or_else(|| {
                    WorldError::Spec(format!(
                        "goroutine {} cannot run on {}, a C thread",
                        g.id, th.name
                    ))
                })?;
                let (m_addr, g_addr, tls, machine_thread) =
                    (ms[k].addr, b.gs[gi].addr, th.tls, th.machine_thread);
                b.put(g_addr + b.off("g_m"), m_addr);
                b.put(m_addr + b.off("m_curg"), g_addr);
                b.put(tls + FS_IN_TLS_PAGE - 8, g_addr);
                // The thread runs on this goroutine's stack.
                let mut cpu = b.m.thread(machine_thread).cpu;
                cpu.gpr[4] = lo + GOROUTINE_STACK - 0x100;
                b.m.set_cpu(machine_thread, cpu);
            }
        }
        // Threads of Go whose m runs no goroutine sit on g0 (or on gsignal when asked).
        for (i, th) in threads.iter().enumerate() {
            if let Some(k) = th.m {
                let slot = th.tls + FS_IN_TLS_PAGE - 8;
                if b.m.memory().peek_u64(slot) == Some(0) {
                    let gi = match spec.threads[i].on.as_deref() {
                        None | Some("g0") => ms[k].g0,
                        Some("gsignal") => ms[k].gsignal.expect("Go threads have a gsignal"),
                        Some(other) => {
                            return Err(WorldError::Spec(format!(
                                "threads[{i}].on: \"{other}\" (g0 or gsignal)"
                            )))
                        }
                    };
                    let (g, hi) = (b.gs[gi].addr, b.gs[gi].stack_hi);
                    b.put(slot, g);
                    let mut cpu = b.m.thread(th.machine_thread).cpu;
                    cpu.gpr[4] = hi - 0x100;
                    b.m.set_cpu(th.machine_thread, cpu);
                }
            } else if spec.threads[i].on.is_some() {
                return Err(WorldError::Spec(format!(
                    "threads[{i}].on: a C thread has no g to run on"
                )));
            }
        }
        // Extra Ms: each with a g0, which gets the stack of the C thread that borrows the M
        // (needm sets it), and a dead curg with a goroutine stack, all in the free list.
        for e in 0..spec.extra_ms {
            let k = ms.len();
            let m = b.alloc(m_size);
            let g0 = b.new_g(&format!("m{k}.g0"), 0, (0, 0), "", "running");
            let slot =
                addr::GOROUTINE_STACKS + (spec.goroutines.len() + e) as u64 * addr::STACK_SLOT;
            let lo = slot + addr::STACK_SLOT - GOROUTINE_STACK;
            let curg_stack = format!("m{k}.curg stack");
            b.m.map(lo, GOROUTINE_STACK, Perm::RW, &curg_stack)
                .expect("stack");
            let curg = b.new_g(
                &format!("m{k}.curg"),
                100 + e as u64,
                (lo, lo + GOROUTINE_STACK),
                &curg_stack,
                "dead",
            );
            let (g0a, curga) = (b.gs[g0].addr, b.gs[curg].addr);
            b.put(m + b.off("m_g0"), g0a);
            b.put(m + b.off("m_curg"), curga);
            b.put(m + b.off("m_id"), k as u64);
            b.put(g0a + b.off("g_m"), m);
            b.put(curga + b.off("g_m"), m);
            // cgocallback starts the curg at the top of its stack.
            b.put(
                curga + b.off("g_sched") + b.off("gobuf_sp"),
                lo + GOROUTINE_STACK - 0x40,
            );
            if let Some(flag) = offset(release, "m_isextra") {
                b.m.poke(m + flag as u64, &[1]).expect("mapped");
            }
            b.put(g::EXTRAM_SLOTS + 8 * e as u64, m);
            ms.push(MInfo {
                name: format!("m{k}"),
                addr: m,
                g0,
                gsignal: None,
                thread: None,
                extra: true,
            });
        }
        b.put(g::EXTRAM_COUNT, spec.extra_ms as u64);
        if let Some(h) = &spec.c_handler {
            let a = program.symbol(h).ok_or_else(|| {
                WorldError::Spec(format!("c_handler: no symbol `{h}` in the sources"))
            })?;
            b.put(g::FWD_SIGSEGV, a);
        }
        // Where each thread starts.
        for (i, t) in spec.threads.iter().enumerate() {
            let Some(entry) = &t.entry else { continue };
            let resolve = |what: &str, name: &str| {
                program.symbol(name).ok_or_else(|| {
                    WorldError::Spec(format!(
                        "threads[{i}].{what}: no symbol `{name}` in the sources"
                    ))
                })
            };
            let pc = resolve("entry", entry)?;
            let mut args = Vec::new();
            for a in &t.args {
                args.push(match a {
                    Arg::Number(n) => *n,
                    Arg::Symbol(name) => resolve("args", name)?,
                });
            }
            let th = &threads[i];
            let mut cpu = b.m.thread(th.machine_thread).cpu;
            let top = cpu.gpr[4] & !15;
            if t.c {
                if args.len() > 4 {
                    return Err(WorldError::Spec(format!(
                        "threads[{i}].args: a C thread takes at most 4 arguments in registers"
                    )));
                }
                for (r, v) in [7, 6, 2, 1].into_iter().zip(&args) {
                    cpu.gpr[r] = *v;
                }
                let ret = resolve("entry", "thread_exit")?;
                cpu.gpr[4] = top - 8;
                b.put(top - 8, ret);
            } else {
                // Arguments above the return address, as a Go (ABI0) call leaves them.
                let sp = top - 8 * (args.len() as u64 + 1) - 8;
                for (n, v) in args.iter().enumerate() {
                    b.put(sp + 8 + 8 * n as u64, *v);
                }
                b.put(sp, resolve("entry", "runtime·goexit")? + 1);
                cpu.gpr[4] = sp;
            }
            cpu.rip = pc;
            b.m.set_cpu(th.machine_thread, cpu);
        }
        // The register ABI (go1.17 and later) keeps g in R14 in Go code.
        if release.abi.register_abi {
            for th in threads.iter().filter(|t| t.m.is_some()) {
                let g = b.m.memory().peek_u64(th.fs_base - 8).unwrap_or(0);
                let mut cpu = b.m.thread(th.machine_thread).cpu;
                cpu.gpr[14] = g;
                b.m.set_cpu(th.machine_thread, cpu);
            }
        }
        let Builder { mut m, gs, .. } = b;
        // Building is not a step the learner can undo: start history clean.
        m.set_history(true);
        Ok(World {
            machine: m,
            program,
            release,
            gs,
            ms,
            ps,
            threads,
        })
    }

    /// The g whose struct contains `a`, with the offset into it.
    fn g_at(&self, a: u64) -> Option<(&GInfo, u64)> {
        let size = offset(self.release, "g__size")? as u64;
        self.gs
            .iter()
            .find(|g| (g.addr..g.addr + size).contains(&a))
            .map(|g| (g, a - g.addr))
    }

    fn m_at(&self, a: u64) -> Option<(&MInfo, u64)> {
        let size = offset(self.release, "m__size")? as u64;
        self.ms
            .iter()
            .find(|m| (m.addr..m.addr + size).contains(&a))
            .map(|m| (m, a - m.addr))
    }

    /// Names a field of a struct from the layouts: the field with the greatest offset at or
    /// below `off`, `+0x…` when inside it.
    fn field(&self, prefix: &str, off: u64) -> String {
        let mut best: Option<(&str, i64)> = None;
        for (name, value) in go_release::layout::offsets(self.release) {
            if let Some(field) = name.strip_prefix(prefix) {
                if field.starts_with('_') && field.ends_with("size") || value as u64 > off {
                    continue;
                }
                if best.is_none_or(|(_, v)| value > v) {
                    best = Some((field, value));
                }
            }
        }
        match best {
            Some((field, v)) if v as u64 == off => field.to_string(),
            Some((field, v)) => format!("{field}+{:#x}", off - v as u64),
            None => format!("+{off:#x}"),
        }
    }

    /// Words for an address: a field of a g or m, a slot of TLS, a place in a stack or a
    /// symbol in text.
    pub fn describe(&self, a: u64) -> Option<String> {
        if let Some((g, off)) = self.g_at(a) {
            let sched = offset(self.release, "g_sched")? as u64;
            let gobuf = offset(self.release, "gobuf__size")? as u64;
            let stack = offset(self.release, "g_stack")? as u64;
            return Some(if (sched..sched + gobuf).contains(&off) {
                format!("{}.sched.{}", g.name, self.field("gobuf_", off - sched))
            } else if (stack..stack + 16).contains(&off) {
                format!("{}.stack.{}", g.name, self.field("stack_", off - stack))
            } else {
                format!("{}.{}", g.name, self.field("g_", off))
            });
        }
        if let Some((m, off)) = self.m_at(a) {
            let tls = offset(self.release, "m_tls")? as u64;
            if (tls..tls + 48).contains(&off) {
                return Some(format!("{}.tls[{}]", m.name, (off - tls) / 8));
            }
            return Some(format!("{}.{}", m.name, self.field("m_", off)));
        }
        if let Some(t) = self
            .threads
            .iter()
            .find(|t| (t.tls..t.tls + PAGE_SIZE).contains(&a))
        {
            return Some(if a == t.fs_base - 8 {
                format!("TLS of {}, g slot", t.name)
            } else {
                format!(
                    "TLS of {} {:+#x} from FS",
                    t.name,
                    a as i64 - t.fs_base as i64
                )
            });
        }
        if let Some(p) = self.ps.iter().position(|&p| (p..p + 0x100).contains(&a)) {
            return Some(format!("p{p}+{:#x}", a - self.ps[p]));
        }
        if let Some(name) = g::global_name(a) {
            return Some(name);
        }
        if let Some(s) = self.program.symbolize(a) {
            return Some(s);
        }
        let region = self.machine.memory().region_of(a)?;
        Some(format!("{} +{:#x}", region.name, a - region.start))
    }

    /// The name of the g at a struct address (`g1`, `m0.g0`), for reading pointers.
    pub fn g_named(&self, addr: u64) -> Option<&str> {
        self.gs
            .iter()
            .find(|g| g.addr == addr)
            .map(|g| g.name.as_str())
    }

    /// How a pointer value reads: `&g1`, `&m0`, `&p0`, or where it points.
    pub fn pointer(&self, v: u64) -> Option<String> {
        if let Some(g) = self.g_named(v) {
            return Some(format!("&{g}"));
        }
        if let Some(m) = self.ms.iter().find(|m| m.addr == v) {
            return Some(format!("&{}", m.name));
        }
        if let Some(p) = self.ps.iter().position(|&p| p == v) {
            return Some(format!("&p{p}"));
        }
        self.describe(v)
    }
}
