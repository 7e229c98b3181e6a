//! The kernel's state for one process and its system calls, as Linux x86-64 defines them.
//! Each handler names the Linux source it follows. Everything is deterministic: time is
//! the virtual clock of [`Kernel::now`], randomness comes from the seed.

use crate::abi::{self, errno::*, nr, sig::*};
use crate::files::{normalise, Entry, FileView};
use crate::user;
use crate::vm::{self, page_up, MMAP_BASE, MMAP_MIN, TASK_SIZE};
use machine::cpu::{R10, R8, R9, RAX, RDI, RDX, RSI};
use machine::memory::PAGE_SIZE;
use machine::{ModelAccess, SyscallFlow, SyscallHandler};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Nanoseconds of virtual time per executed instruction: a 1 GHz machine that retires
/// one instruction a cycle.
pub const NS_PER_STEP: u64 = 1;
/// CLOCK_MONOTONIC at the first instruction (one second after a virtual boot).
pub const BOOT_NS: u64 = 1_000_000_000;
/// CLOCK_REALTIME at the first instruction: 2026-01-01T00:00:00Z.
pub const EPOCH_NS: u64 = 1_767_225_600 * 1_000_000_000;
/// The CPUs `sched_getaffinity` reports (and so GOMAXPROCS): a fixed 2, whatever the host.
pub const CPUS: u64 = 2;
/// The process id; the main thread's tid (the machine numbers threads from it).
pub const PID: u32 = machine::kernel::PID;

/// What blocks a thread.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WaitKind {
    /// `futex` wait on this address for these bits.
    Futex {
        /// The futex word.
        addr: u64,
        /// FUTEX_WAIT_BITSET's mask (all ones for FUTEX_WAIT).
        bitset: u32,
    },
    /// `nanosleep`/`clock_nanosleep`.
    Sleep,
    /// `epoll_wait`: completed, in a step of the waiting thread, once a watched fd is
    /// ready (or at the deadline, with no events).
    Epoll {
        /// The epoll fd.
        epfd: u32,
        /// Where the events go.
        events: u64,
        /// How many fit.
        max: u32,
    },
}

/// A blocked thread's wait.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wait {
    /// On what.
    pub kind: WaitKind,
    /// When it times out, on the monotonic virtual clock (ns).
    pub deadline: Option<u64>,
    /// Order of arrival, so wakes are first come, first served.
    pub seq: u64,
}

/// `sigaltstack`'s state (`stack_t`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AltStack {
    /// ss_sp.
    pub sp: u64,
    /// ss_size (0: none).
    pub size: u64,
}

/// The kernel's view of one thread.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Task {
    /// Its tid.
    pub tid: u32,
    /// CLONE_CHILD_CLEARTID / set_tid_address: zeroed and woken on exit.
    pub clear_child_tid: u64,
    /// Blocked signals (bit n-1 for signal n).
    pub mask: u64,
    /// Signals sent to this thread, not yet delivered.
    pub pending: u64,
    /// The alternate signal stack.
    pub altstack: AltStack,
    /// What it waits for, if blocked.
    pub wait: Option<Wait>,
    /// set_robust_list's head (kept, not walked: no thread dies holding a robust lock here).
    pub robust_list: u64,
    /// Whether it has exited.
    pub exited: bool,
}

/// `struct sigaction` as `rt_sigaction` takes it on x86-64 (`kernel/signal.c`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigAction {
    /// sa_handler (SIG_DFL 0, SIG_IGN 1, or an address).
    pub handler: u64,
    /// sa_flags.
    pub flags: u64,
    /// sa_restorer.
    pub restorer: u64,
    /// sa_mask.
    pub mask: u64,
}

/// An open file description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fd {
    /// Standard input: always at end of file.
    Stdin,
    /// Standard output or error: writes become the process's output.
    Out(u32),
    /// A file of the file view, read-only.
    File {
        /// Its path.
        path: String,
        /// Its bytes.
        data: Arc<Vec<u8>>,
        /// The file offset.
        pos: u64,
        /// The open flags (for F_GETFL).
        flags: u64,
    },
    /// A directory opened with O_DIRECTORY or O_PATH.
    Dir(String),
    /// An epoll instance: its interest list is `Kernel::epolls[id]`.
    Epoll(u32),
    /// An eventfd: its counter is `Kernel::eventfds[id]`.
    EventFd(u32),
    /// One end of a pipe whose buffer is `Kernel::pipes[id]`.
    Pipe {
        /// The pipe.
        id: u32,
        /// The write end (else the read end).
        write: bool,
    },
}

/// The whole state of the kernel for the process. Cloned before each kernel step when
/// history is on, so step back restores it exactly.
#[derive(Clone, Debug)]
pub struct Kernel {
    /// By machine thread index.
    pub tasks: Vec<Task>,
    /// Open files.
    pub fds: BTreeMap<u32, Fd>,
    /// Per-signal dispositions, index = signal number (0 unused).
    pub actions: Vec<SigAction>,
    /// Where the heap starts.
    pub brk_start: u64,
    /// The current break.
    pub brk: u64,
    /// The next tid `clone` gives.
    pub next_tid: u32,
    /// Nanoseconds the clock jumped while every thread slept.
    pub clock_jump: u64,
    /// State of the seeded random stream (`getrandom`).
    pub rng: u64,
    /// Arrival counter for waits.
    pub wait_seq: u64,
    /// The working directory.
    pub cwd: String,
    /// AT_EXECFN and /proc/self/exe.
    pub exe_path: String,
    /// Signal that killed the process, if one did.
    pub killed_by: Option<u32>,
    /// Interest lists of epoll instances: fd → (events, data).
    pub epolls: BTreeMap<u32, BTreeMap<u32, (u32, u64)>>,
    /// eventfd counters.
    pub eventfds: BTreeMap<u32, u64>,
    /// Pipe buffers.
    pub pipes: BTreeMap<u32, Vec<u8>>,
    /// The next id of an epoll, eventfd or pipe.
    pub next_object: u32,
}

/// Counts and lines of the system-call trace (not part of the state step back restores:
/// it is what the runs did, a diagnostic).
#[derive(Clone, Debug, Default)]
pub struct Trace {
    /// Calls by name.
    pub counts: BTreeMap<String, u64>,
    /// Numbers the kernel does not know, with how often each was made.
    pub unknown: BTreeMap<u64, u64>,
    /// Whether to keep strace-like lines.
    pub lines_on: bool,
    /// strace-like lines not yet taken.
    pub lines: Vec<String>,
}

/// splitmix64: a small, well-mixed generator, enough for a deterministic stream.
pub fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn neg(e: u64) -> u64 {
    e.wrapping_neg()
}

/// Bit of signal `n` in a mask.
pub fn bit(n: u32) -> u64 {
    1u64 << (n - 1)
}

impl Kernel {
    /// CLOCK_MONOTONIC at machine step `step`.
    pub fn now(&self, step: u64) -> u64 {
        BOOT_NS + step * NS_PER_STEP + self.clock_jump
    }

    /// Whether thread `t` is blocked.
    pub fn blocked(&self, t: usize) -> bool {
        self.tasks.get(t).is_some_and(|t| t.wait.is_some())
    }

    /// Makes signal `n` pending for thread `t`, unless it is ignored and not blocked: then
    /// it is discarded at once, as prepare_signal/sig_ignored do (kernel/signal.c), so an
    /// ignored signal never interrupts a wait.
    pub fn send(&mut self, t: usize, n: u32) {
        let act = self.actions[n as usize];
        let ignored = act.handler == crate::abi::sig::SIG_IGN
            || (act.handler == crate::abi::sig::SIG_DFL
                && matches!(
                    crate::abi::default_action(n),
                    crate::abi::DefaultAction::Ignore | crate::abi::DefaultAction::Stop
                ));
        if ignored && self.tasks[t].mask & bit(n) == 0 {
            return;
        }
        self.tasks[t].pending |= bit(n);
    }

    /// Index of the thread with this tid.
    pub fn task_of(&self, tid: u32) -> Option<usize> {
        self.tasks.iter().position(|t| t.tid == tid)
    }

    /// The poll events an fd has now (`EPOLLIN` 1, `EPOLLOUT` 4), as each file's `poll`
    /// reports them (fs/eventfd.c, fs/pipe.c; regular files are always ready).
    pub fn poll_events(&self, fd: u32) -> u32 {
        const IN: u32 = 1;
        const OUT: u32 = 4;
        match self.fds.get(&fd) {
            Some(Fd::EventFd(id)) => {
                let c = self.eventfds.get(id).copied().unwrap_or(0);
                (if c > 0 { IN } else { 0 }) | if c < u64::MAX - 1 { OUT } else { 0 }
            }
            Some(Fd::Pipe { id, write: false }) => {
                IN * self.pipes.get(id).is_some_and(|b| !b.is_empty()) as u32
            }
            Some(Fd::Pipe { write: true, .. }) => OUT,
            Some(Fd::Stdin) => IN,
            Some(Fd::Out(_)) => OUT,
            Some(Fd::File { .. }) => IN | OUT,
            _ => 0,
        }
    }

    /// The ready events of an epoll instance, at most `max` (fs/eventpoll.c
    /// ep_send_events: each ready fd once, with its registered data; level-triggered).
    pub fn epoll_ready(&self, epfd: u32, max: u32) -> Vec<(u32, u64)> {
        let Some(Fd::Epoll(id)) = self.fds.get(&epfd) else {
            return Vec::new();
        };
        let Some(interest) = self.epolls.get(id) else {
            return Vec::new();
        };
        interest
            .iter()
            .filter_map(|(&fd, &(want, data))| {
                // EPOLLERR and EPOLLHUP are always reported; none happens here.
                let got = self.poll_events(fd) & want;
                (got != 0).then_some((got, data))
            })
            .take(max as usize)
            .collect()
    }

    /// FUTEX_REQUEUE: wakes up to `wake` waiters on `addr` (first come first), and moves
    /// up to `requeue` more to `addr2`, behind the waiters already there (requeue_futex
    /// puts them at the end of its queue). Returns how many were woken or moved.
    pub fn futex_requeue(&mut self, addr: u64, wake: u64, addr2: u64, requeue: u64) -> u64 {
        let woken = self.futex_wake(addr, u32::MAX, wake);
        let mut waiters = self.futex_waiters(addr, u32::MAX);
        waiters.truncate(requeue.min(u32::MAX as u64) as usize);
        for &i in &waiters {
            self.wait_seq += 1;
            if let Some(w) = self.tasks[i].wait.as_mut() {
                w.kind = WaitKind::Futex {
                    addr: addr2,
                    bitset: match w.kind {
                        WaitKind::Futex { bitset, .. } => bitset,
                        _ => u32::MAX,
                    },
                };
                w.seq = self.wait_seq;
            }
        }
        woken + waiters.len() as u64
    }

    /// The threads waiting on `addr` for any of `bits`, in order of arrival.
    fn futex_waiters(&self, addr: u64, bits: u32) -> Vec<usize> {
        let mut waiters: Vec<(u64, usize)> = self
            .tasks
            .iter()
            .enumerate()
            .filter_map(|(i, t)| match &t.wait {
                Some(Wait {
                    kind: WaitKind::Futex { addr: a, bitset },
                    seq,
                    ..
                }) if *a == addr && bitset & bits != 0 => Some((*seq, i)),
                _ => None,
            })
            .collect();
        waiters.sort();
        waiters.into_iter().map(|(_, i)| i).collect()
    }

    /// Wakes up to `n` futex waiters on `addr` whose bitset meets `bits`, first come first
    /// served (`kernel/futex/waitwake.c` futex_wake). Their RAX already holds 0.
    pub fn futex_wake(&mut self, addr: u64, bits: u32, n: u64) -> u64 {
        let mut woken = 0;
        for i in self.futex_waiters(addr, bits) {
            if woken == n {
                break;
            }
            self.tasks[i].wait = None;
            woken += 1;
        }
        woken
    }
}

/// One system call's context: the kernel state, the files, the trace, and the snapshots
/// for step back.
pub struct Sys<'a> {
    /// The kernel.
    pub k: &'a mut Kernel,
    /// What the process can open.
    pub files: &'a dyn FileView,
    /// The trace.
    pub trace: &'a mut Trace,
    /// `(step, state before it)` for step back, when history is on.
    pub snapshots: Option<&'a mut Vec<(u64, Kernel)>>,
    /// Set when a call ended the slice (blocked, yielded, signalled, exited).
    pub ended_slice: bool,
}

/// What a handler asks of the run.
enum Flow {
    /// Return this in RAX and go on.
    Ret(u64),
    /// Return this in RAX and end the slice (the thread blocked, yielded, or signalled).
    Yield(u64),
    /// The thread or the process ended.
    Gone,
}

impl SyscallHandler for Sys<'_> {
    fn syscall(&mut self, a: &mut ModelAccess, thread: usize) -> SyscallFlow {
        if let Some(s) = self.snapshots.as_deref_mut() {
            s.push((a.step(), self.k.clone()));
        }
        let n = a.cpu.gpr[RAX];
        let args = [
            a.cpu.gpr[RDI],
            a.cpu.gpr[RSI],
            a.cpu.gpr[RDX],
            a.cpu.gpr[R10],
            a.cpu.gpr[R8],
            a.cpu.gpr[R9],
        ];
        let name = nr::name(n);
        match name {
            Some(s) => *self.trace.counts.entry(s.to_string()).or_default() += 1,
            None => *self.trace.unknown.entry(n).or_default() += 1,
        }
        let flow = self.dispatch(a, thread, n, args);
        let (ret, end) = match flow {
            Flow::Ret(v) => (Some(v), false),
            Flow::Yield(v) => (Some(v), true),
            Flow::Gone => (None, true),
        };
        if let Some(v) = ret {
            a.cpu.gpr[RAX] = v;
        }
        if self.trace.lines_on {
            let tid = self.k.tasks.get(thread).map_or(0, |t| t.tid);
            let shown = match ret {
                Some(v) if (v as i64) < 0 && (v as i64) > -4096 => format!("-{}", v.wrapping_neg()),
                Some(v) => format!("{v:#x}"),
                None => "?".to_string(),
            };
            let name = name.map_or_else(|| format!("syscall_{n}"), str::to_string);
            self.trace.lines.push(format!(
                "[{tid}] {name}({:#x}, {:#x}, {:#x}, {:#x}, {:#x}, {:#x}) = {shown}",
                args[0], args[1], args[2], args[3], args[4], args[5]
            ));
        }
        a.set_event(machine::kernel::SyscallEvent {
            number: n,
            name: name.unwrap_or("unknown"),
            args: [args[0], args[1], args[2]],
            result: ret,
        });
        if end {
            self.ended_slice = true;
            SyscallFlow::EndSlice
        } else {
            SyscallFlow::Continue
        }
    }
}

impl Sys<'_> {
    fn dispatch(&mut self, a: &mut ModelAccess, t: usize, n: u64, x: [u64; 6]) -> Flow {
        use Flow::Ret;
        match n {
            nr::READ => Ret(self.read(a, x[0], x[1], x[2], None)),
            nr::PREAD64 => Ret(self.read(a, x[0], x[1], x[2], Some(x[3]))),
            nr::WRITE => Ret(self.write(a, x[0], x[1], x[2])),
            nr::WRITEV => Ret(self.writev(a, x[0], x[1], x[2])),
            nr::OPEN => Ret(self.openat(a, AT_FDCWD, x[0], x[1])),
            nr::OPENAT => Ret(self.openat(a, x[0], x[1], x[2])),
            nr::CLOSE => Ret(self.close(x[0])),
            nr::FSTAT => Ret(self.fstat(a, x[0], x[1])),
            nr::STAT | nr::LSTAT => Ret(self.newfstatat(a, AT_FDCWD, x[0], x[1], 0)),
            nr::NEWFSTATAT => Ret(self.newfstatat(a, x[0], x[1], x[2], x[3])),
            nr::LSEEK => Ret(self.lseek(x[0], x[1], x[2])),
            nr::READLINK => Ret(self.readlinkat(a, AT_FDCWD, x[0], x[1], x[2])),
            nr::READLINKAT => Ret(self.readlinkat(a, x[0], x[1], x[2], x[3])),
            nr::ACCESS => Ret(self.faccessat(a, AT_FDCWD, x[0])),
            nr::FACCESSAT | nr::FACCESSAT2 => Ret(self.faccessat(a, x[0], x[1])),
            nr::FCNTL => Ret(self.fcntl(x[0], x[1], x[2])),
            // drivers/tty/tty_io.c answers TCGETS only for a terminal: no fd is one here.
            nr::IOCTL => Ret(if self.k.fds.contains_key(&(x[0] as u32)) {
                neg(ENOTTY)
            } else {
                neg(EBADF)
            }),
            nr::GETCWD => Ret(self.getcwd(a, x[0], x[1])),
            nr::MMAP => Ret(self.mmap(a, x[0], x[1], x[2], x[3], x[4], x[5])),
            nr::MUNMAP => Ret(self.munmap(a, x[0], x[1])),
            nr::MPROTECT => Ret(self.mprotect(a, x[0], x[1], x[2])),
            nr::MADVISE => Ret(self.madvise(a, x[0], x[1], x[2])),
            nr::BRK => Ret(self.brk(a, x[0])),
            nr::RT_SIGACTION => Ret(self.rt_sigaction(a, x[0], x[1], x[2], x[3])),
            nr::RT_SIGPROCMASK => self.rt_sigprocmask(a, t, x[0], x[1], x[2], x[3]),
            nr::RT_SIGRETURN => self.rt_sigreturn(a, t),
            nr::SIGALTSTACK => Ret(self.sigaltstack(a, t, x[0], x[1])),
            nr::KILL => self.kill(x[0] as i32, x[1]),
            nr::TKILL => self.tgkill(t, PID as u64, x[0], x[1]),
            nr::TGKILL => self.tgkill(t, x[0], x[1], x[2]),
            nr::CLONE => Ret(self.clone(a, t, x[0], x[1], x[2], x[3], x[4])),
            // clone3 is newer than what we model; glibc falls back to clone on ENOSYS.
            nr::CLONE3 | nr::FORK | nr::VFORK | nr::EXECVE | nr::WAIT4 => Ret(neg(ENOSYS)),
            nr::FUTEX => self.futex(a, t, x[0], x[1], x[2], x[3], x[4], x[5]),
            nr::EXIT => self.exit(a, t, x[0]),
            nr::EXIT_GROUP => {
                // kernel/exit.c do_group_exit: the status is the low byte.
                a.exit_process((x[0] & 0xff) as i32);
                Flow::Gone
            }
            // kernel/sched/syscalls.c: yield the CPU; here, end the slice.
            nr::SCHED_YIELD => Flow::Yield(0),
            nr::SCHED_GETAFFINITY => Ret(self.sched_getaffinity(a, x[1], x[2])),
            nr::SCHED_SETAFFINITY => Ret(0),
            nr::GETPID => Ret(PID as u64),
            nr::GETTID => Ret(self.k.tasks[t].tid as u64),
            // The parent is a shell that is not part of the machine.
            nr::GETPPID => Ret(PID as u64 - 1),
            nr::GETPGRP => Ret(PID as u64),
            nr::GETUID | nr::GETEUID | nr::GETGID | nr::GETEGID => Ret(crate::load::UID),
            nr::CLOCK_GETTIME => Ret(self.clock_gettime(a, x[0], x[1])),
            nr::CLOCK_GETRES => Ret(self.clock_getres(a, x[1])),
            nr::GETTIMEOFDAY => Ret(self.gettimeofday(a, x[0])),
            nr::TIME => Ret(self.time(a, x[0])),
            nr::NANOSLEEP => self.nanosleep(a, t, CLOCK_MONOTONIC, 0, x[0]),
            nr::CLOCK_NANOSLEEP => self.nanosleep(a, t, x[0], x[1], x[2]),
            nr::GETRANDOM => Ret(self.getrandom(a, x[0], x[1])),
            nr::UNAME => Ret(self.uname(a, x[0])),
            nr::PRLIMIT64 => Ret(self.prlimit64(a, x[0], x[1], x[2], x[3])),
            nr::GETRLIMIT => Ret(self.prlimit64(a, 0, x[0], 0, x[1])),
            nr::SETRLIMIT => Ret(self.prlimit64(a, 0, x[0], x[1], 0)),
            nr::SET_TID_ADDRESS => {
                // kernel/fork.c: remembers the address, returns the tid.
                self.k.tasks[t].clear_child_tid = x[0];
                Ret(self.k.tasks[t].tid as u64)
            }
            nr::SET_ROBUST_LIST => Ret(if x[1] == 24 {
                self.k.tasks[t].robust_list = x[0];
                0
            } else {
                neg(EINVAL)
            }),
            // rseq is optional: glibc runs without it when registration fails.
            nr::RSEQ => Ret(neg(ENOSYS)),
            nr::ARCH_PRCTL => Ret(arch_prctl(a, x[0], x[1])),
            nr::PRCTL => Ret(neg(EINVAL)),
            nr::GETCPU => Ret(self.getcpu(a, x[0], x[1])),
            nr::MEMBARRIER => Ret(0),
            nr::SETITIMER | nr::GETITIMER => Ret(neg(ENOSYS)),
            nr::EPOLL_CREATE1 => Ret(self.epoll_create1(x[0])),
            nr::EPOLL_CTL => Ret(self.epoll_ctl(a, x[0], x[1], x[2], x[3])),
            nr::EPOLL_WAIT | nr::EPOLL_PWAIT => self.epoll_wait(a, t, x[0], x[1], x[2], x[3]),
            nr::EVENTFD2 => Ret(self.eventfd2(x[0])),
            nr::PIPE => Ret(self.pipe2(a, x[0], 0)),
            nr::PIPE2 => Ret(self.pipe2(a, x[0], x[1])),
            nr::SOCKET => Ret(neg(ENOSYS)),
            _ => Ret(neg(ENOSYS)),
        }
    }

    // ----- files (fs/read_write.c, fs/open.c, fs/stat.c) -----

    fn resolve(&self, a: &ModelAccess, dirfd: u64, path_addr: u64) -> Result<String, u64> {
        let path = user::read_cstr(a.mem, path_addr, 4096).ok_or(neg(EFAULT))?;
        if path.is_empty() {
            return Err(neg(ENOENT));
        }
        let base = if path.starts_with('/') || dirfd as i32 == AT_FDCWD as i32 {
            self.k.cwd.clone()
        } else {
            match self.k.fds.get(&(dirfd as u32)) {
                Some(Fd::Dir(d)) => d.clone(),
                Some(_) => return Err(neg(ENOTDIR)),
                None => return Err(neg(EBADF)),
            }
        };
        Ok(normalise(&base, &path))
    }

    fn lookup(&self, path: &str) -> Option<Entry> {
        // /proc/self/exe is the executable's path (fs/proc/base.c proc_exe_link).
        if path == "/proc/self/exe" {
            return Some(Entry::Link(self.k.exe_path.clone()));
        }
        // /proc, /sys and /dev describe the kernel and the machine the process runs on:
        // here that is this kernel, not the host a view may read from, so they are not
        // looked up in the view (a run must not depend on the host's THP setting or CPUs).
        if ["/proc", "/sys", "/dev"]
            .iter()
            .any(|d| path == *d || path.starts_with(&format!("{d}/")))
        {
            return None;
        }
        crate::files::follow(self.files, path)
    }

    /// The /proc files the kernel makes from the process's state: its mappings
    /// (`/proc/self/maps`, fs/proc/task_mmu.c). Made when the file is opened: Linux's
    /// seq_file makes them as they are read, which is the same for a reader that reads
    /// it through before it maps anything (glibc's `pthread_getattr_np` does).
    fn proc_file(&self, a: &ModelAccess, path: &str) -> Option<Entry> {
        let task = path.strip_prefix("/proc/")?.strip_suffix("/maps")?;
        let own = [
            "self".to_string(),
            "thread-self".to_string(),
            PID.to_string(),
        ];
        own.contains(&task.to_string())
            .then(|| Entry::File(Arc::new(vm::proc_maps(a.mem).into_bytes())))
    }

    fn openat(&mut self, a: &mut ModelAccess, dirfd: u64, path: u64, flags: u64) -> u64 {
        const O_ACCMODE: u64 = 3;
        const O_CREAT: u64 = 0o100;
        const O_TRUNC: u64 = 0o1000;
        const O_DIRECTORY: u64 = 0o200000;
        let path = match self.resolve(a, dirfd, path) {
            Ok(p) => p,
            Err(e) => return e,
        };
        // The view is read-only: asking to write is EACCES, as for a read-only file.
        if flags & O_ACCMODE != 0 || flags & (O_CREAT | O_TRUNC) != 0 {
            return neg(EACCES);
        }
        let proc = self.proc_file(a, &path);
        let fd = match proc.or_else(|| self.lookup(&path)) {
            Some(Entry::File(_)) if flags & O_DIRECTORY != 0 => return neg(ENOTDIR),
            Some(Entry::File(data)) => Fd::File {
                path,
                data,
                pos: 0,
                flags,
            },
            Some(Entry::Dir) => Fd::Dir(path),
            Some(Entry::Link(_)) | None => return neg(ENOENT),
        };
        // The lowest free descriptor (fs/file.c alloc_fd).
        let n = (0..)
            .find(|n| !self.k.fds.contains_key(n))
            .expect("a free fd");
        self.k.fds.insert(n, fd);
        n as u64
    }

    fn close(&mut self, fd: u64) -> u64 {
        match self.k.fds.remove(&(fd as u32)) {
            Some(_) => {
                // The file leaves every interest list (eventpoll_release on its last close).
                for interest in self.k.epolls.values_mut() {
                    interest.remove(&(fd as u32));
                }
                0
            }
            None => neg(EBADF),
        }
    }

    fn read(&mut self, a: &mut ModelAccess, fd: u64, buf: u64, count: u64, at: Option<u64>) -> u64 {
        let Some(f) = self.k.fds.get_mut(&(fd as u32)) else {
            return neg(EBADF);
        };
        match f {
            Fd::Stdin => 0,
            Fd::Out(_) | Fd::Pipe { write: true, .. } => neg(EBADF),
            Fd::Dir(_) => neg(EISDIR),
            Fd::Epoll(_) => neg(EINVAL),
            // fs/eventfd.c eventfd_read: 8 bytes, the counter, which becomes 0. Every
            // eventfd and pipe here is non-blocking (Go's and glibc's are): empty is EAGAIN.
            Fd::EventFd(id) => {
                let id = *id;
                if count < 8 {
                    return neg(EINVAL);
                }
                let c = self.k.eventfds.get(&id).copied().unwrap_or(0);
                if c == 0 {
                    return neg(EAGAIN);
                }
                if user::write_u64(a.mem, buf, c).is_none() {
                    return neg(EFAULT);
                }
                self.k.eventfds.insert(id, 0);
                8
            }
            Fd::Pipe { id, write: false } => {
                let id = *id;
                let data = self.k.pipes.get(&id).cloned().unwrap_or_default();
                if data.is_empty() {
                    return neg(EAGAIN);
                }
                let n = (count as usize).min(data.len());
                if user::write(a.mem, buf, &data[..n]).is_none() {
                    return neg(EFAULT);
                }
                self.k.pipes.insert(id, data[n..].to_vec());
                n as u64
            }
            Fd::File { data, pos, .. } => {
                let from = at.unwrap_or(*pos);
                let start = from.min(data.len() as u64) as usize;
                let n = (count.min(1 << 30) as usize).min(data.len() - start);
                if user::write(a.mem, buf, &data[start..start + n]).is_none() {
                    return neg(EFAULT);
                }
                if at.is_none() {
                    *pos += n as u64;
                }
                n as u64
            }
        }
    }

    fn write(&mut self, a: &mut ModelAccess, fd: u64, buf: u64, count: u64) -> u64 {
        match self.k.fds.get(&(fd as u32)) {
            Some(Fd::Out(which)) => {
                let which = *which;
                let Some(bytes) = user::read(a.mem, buf, count.min(1 << 30)) else {
                    return neg(EFAULT);
                };
                a.write(which, &bytes);
                count.min(1 << 30)
            }
            Some(Fd::EventFd(id)) => {
                // fs/eventfd.c eventfd_write: adds an 8-byte value to the counter.
                let id = *id;
                if count < 8 {
                    return neg(EINVAL);
                }
                let Some(v) = user::read_u64(a.mem, buf) else {
                    return neg(EFAULT);
                };
                let c = self.k.eventfds.get(&id).copied().unwrap_or(0);
                if v == u64::MAX || c.checked_add(v).is_none_or(|s| s == u64::MAX) {
                    return neg(EAGAIN);
                }
                self.k.eventfds.insert(id, c + v);
                8
            }
            Some(Fd::Pipe { id, write: true }) => {
                let id = *id;
                let Some(bytes) = user::read(a.mem, buf, count.min(65536)) else {
                    return neg(EFAULT);
                };
                let n = bytes.len() as u64;
                self.k.pipes.entry(id).or_default().extend(bytes);
                n
            }
            Some(_) => neg(EBADF),
            None => neg(EBADF),
        }
    }

    fn writev(&mut self, a: &mut ModelAccess, fd: u64, iov: u64, n: u64) -> u64 {
        if n > 1024 {
            return neg(EINVAL);
        }
        let mut total = 0u64;
        for i in 0..n {
            let (Some(base), Some(len)) = (
                user::read_u64(a.mem, iov + 16 * i),
                user::read_u64(a.mem, iov + 16 * i + 8),
            ) else {
                return neg(EFAULT);
            };
            let r = self.write(a, fd, base, len);
            if (r as i64) < 0 {
                return if total > 0 { total } else { r };
            }
            total += r;
        }
        total
    }

    fn fstat(&mut self, a: &mut ModelAccess, fd: u64, buf: u64) -> u64 {
        let st = match self.k.fds.get(&(fd as u32)) {
            None => return neg(EBADF),
            Some(Fd::Stdin | Fd::Out(_)) => Stat::char_device(fd),
            // A /proc file has no size (proc_reg_fops: st_size 0); readers read to its end.
            Some(Fd::File { path, data, .. }) if path.starts_with("/proc/") => Stat::file(path, 0),
            Some(Fd::File { path, data, .. }) => Stat::file(path, data.len() as u64),
            Some(Fd::Dir(path)) => Stat::dir(path),
            Some(Fd::Epoll(_) | Fd::EventFd(_) | Fd::Pipe { .. }) => Stat::char_device(fd),
        };
        match user::write(a.mem, buf, &st.bytes()) {
            Some(()) => 0,
            None => neg(EFAULT),
        }
    }

    fn newfstatat(
        &mut self,
        a: &mut ModelAccess,
        dirfd: u64,
        path: u64,
        buf: u64,
        flags: u64,
    ) -> u64 {
        const AT_EMPTY_PATH: u64 = 0x1000;
        if flags & AT_EMPTY_PATH != 0 && user::read(a.mem, path, 1) == Some(vec![0]) {
            return self.fstat(a, dirfd, buf);
        }
        let path = match self.resolve(a, dirfd, path) {
            Ok(p) => p,
            Err(e) => return e,
        };
        let st = match self.lookup(&path) {
            Some(Entry::File(d)) => Stat::file(&path, d.len() as u64),
            Some(Entry::Dir) => Stat::dir(&path),
            _ => return neg(ENOENT),
        };
        match user::write(a.mem, buf, &st.bytes()) {
            Some(()) => 0,
            None => neg(EFAULT),
        }
    }

    fn faccessat(&mut self, a: &mut ModelAccess, dirfd: u64, path: u64) -> u64 {
        match self.resolve(a, dirfd, path) {
            Ok(p) if self.lookup(&p).is_some() => 0,
            Ok(_) => neg(ENOENT),
            Err(e) => e,
        }
    }

    fn lseek(&mut self, fd: u64, off: u64, whence: u64) -> u64 {
        match self.k.fds.get_mut(&(fd as u32)) {
            None => neg(EBADF),
            Some(Fd::File { data, pos, .. }) => {
                let base = match whence {
                    0 => 0i64,
                    1 => *pos as i64,
                    2 => data.len() as i64,
                    _ => return neg(EINVAL),
                };
                match base.checked_add(off as i64) {
                    Some(p) if p >= 0 => {
                        *pos = p as u64;
                        p as u64
                    }
                    _ => neg(EINVAL),
                }
            }
            Some(_) => neg(ESPIPE),
        }
    }

    fn readlinkat(
        &mut self,
        a: &mut ModelAccess,
        dirfd: u64,
        path: u64,
        buf: u64,
        size: u64,
    ) -> u64 {
        let path = match self.resolve(a, dirfd, path) {
            Ok(p) => p,
            Err(e) => return e,
        };
        let target = if path == "/proc/self/exe" {
            self.k.exe_path.clone()
        } else if self.lookup(&path).is_none() {
            return neg(ENOENT);
        } else {
            match self.files.get(&path) {
                Some(Entry::Link(t)) => t,
                Some(_) => return neg(EINVAL),
                None => return neg(ENOENT),
            }
        };
        // fs/stat.c: the target, truncated, without a NUL.
        let n = (target.len() as u64).min(size) as usize;
        match user::write(a.mem, buf, &target.as_bytes()[..n]) {
            Some(()) => n as u64,
            None => neg(EFAULT),
        }
    }

    fn fcntl(&mut self, fd: u64, cmd: u64, _arg: u64) -> u64 {
        const F_GETFD: u64 = 1;
        const F_SETFD: u64 = 2;
        const F_GETFL: u64 = 3;
        const F_SETFL: u64 = 4;
        const O_RDONLY: u64 = 0;
        const O_WRONLY: u64 = 1;
        let Some(f) = self.k.fds.get(&(fd as u32)) else {
            return neg(EBADF);
        };
        match cmd {
            F_GETFD | F_SETFD | F_SETFL => 0,
            // fs/fcntl.c: the open flags; none is O_NONBLOCK, which Go's os package checks
            // on fds 0-2 (os/file_unix.go newFile).
            F_GETFL => match f {
                Fd::Stdin => O_RDONLY,
                Fd::Out(_) => O_WRONLY,
                Fd::File { flags, .. } => *flags,
                Fd::Dir(_) | Fd::Epoll(_) => O_RDONLY,
                // Created non-blocking (O_NONBLOCK 0o4000), read-write or one end.
                Fd::EventFd(_) => 2 | 0o4000,
                Fd::Pipe { write, .. } => *write as u64 | 0o4000,
            },
            _ => neg(EINVAL),
        }
    }

    fn getcwd(&mut self, a: &mut ModelAccess, buf: u64, size: u64) -> u64 {
        let mut s = self.k.cwd.clone().into_bytes();
        s.push(0);
        if (s.len() as u64) > size {
            return neg(ERANGE);
        }
        match user::write(a.mem, buf, &s) {
            Some(()) => s.len() as u64,
            None => neg(EFAULT),
        }
    }

    // ----- memory (mm/mmap.c, mm/mprotect.c, mm/madvise.c) -----

    #[allow(clippy::too_many_arguments)]
    fn mmap(
        &mut self,
        a: &mut ModelAccess,
        addr: u64,
        len: u64,
        prot: u64,
        flags: u64,
        fd: u64,
        off: u64,
    ) -> u64 {
        use abi::mman::*;
        let Some(len) = page_up(len).filter(|&l| l > 0 && l <= TASK_SIZE) else {
            return neg(EINVAL);
        };
        if off & (PAGE_SIZE - 1) != 0 || flags & (MAP_SHARED | MAP_PRIVATE) == 0 {
            return neg(EINVAL);
        }
        let file = if flags & MAP_ANONYMOUS != 0 {
            None
        } else {
            match self.k.fds.get(&(fd as u32)) {
                Some(Fd::File { data, path, .. }) => Some((data.clone(), path.clone())),
                Some(_) => return neg(EACCES),
                None => return neg(EBADF),
            }
        };
        if flags & MAP_SHARED != 0 && file.is_some() && prot & PROT_WRITE != 0 {
            // A writable shared file mapping would write through a read-only view.
            return neg(EACCES);
        }
        let fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0;
        let start = if fixed {
            if addr & (PAGE_SIZE - 1) != 0 || addr < MMAP_MIN || addr + len > TASK_SIZE {
                return neg(EINVAL);
            }
            if flags & MAP_FIXED_NOREPLACE != 0 && !a.mem.is_free(addr, len) {
                return neg(EEXIST);
            }
            addr
        } else {
            // A hint is taken when the range is free (mm/mmap.c get_unmapped_area).
            let hint = addr & !(PAGE_SIZE - 1);
            if hint >= MMAP_MIN && hint + len <= TASK_SIZE && a.mem.is_free(hint, len) {
                hint
            } else {
                match a.mem.find_free(len, MMAP_BASE) {
                    Some(s) => s,
                    None => return neg(ENOMEM),
                }
            }
        };
        let name = file.as_ref().map_or("anon".to_string(), |(_, p)| p.clone());
        if !vm::mirror_map(a.mem, start, start + len, prot & 7, &name) {
            return neg(ENOMEM);
        }
        if let Some((data, _)) = file {
            // A private file mapping: the file's bytes from `off`, zeros past its end.
            let from = (off as usize).min(data.len());
            let n = (len as usize).min(data.len() - from);
            if a.mem.poke(start, &data[from..from + n]).is_err() {
                return neg(ENOMEM);
            }
        }
        start
    }

    fn munmap(&mut self, a: &mut ModelAccess, addr: u64, len: u64) -> u64 {
        let Some(len) = page_up(len).filter(|&l| l > 0) else {
            return neg(EINVAL);
        };
        if addr & (PAGE_SIZE - 1) != 0 || addr.checked_add(len).is_none_or(|e| e > TASK_SIZE) {
            return neg(EINVAL);
        }
        if a.mem.unmap(addr, len).is_err() {
            return neg(EINVAL);
        }
        0
    }

    fn mprotect(&mut self, a: &mut ModelAccess, addr: u64, len: u64, prot: u64) -> u64 {
        let Some(len) = page_up(len) else {
            return neg(EINVAL);
        };
        if addr & (PAGE_SIZE - 1) != 0 || prot & !7 & !0x0300_0000 != 0 {
            return neg(EINVAL);
        }
        if len == 0 {
            return 0;
        }
        // mm/mprotect.c: a hole in the range is ENOMEM, after the pages below it changed.
        if !vm::mirror_protect(a.mem, addr, addr + len, prot & 7) {
            return neg(ENOMEM);
        }
        0
    }

    fn madvise(&mut self, a: &mut ModelAccess, addr: u64, len: u64, advice: u64) -> u64 {
        if addr & (PAGE_SIZE - 1) != 0 {
            return neg(EINVAL);
        }
        let Some(len) = page_up(len) else {
            return neg(EINVAL);
        };
        if advice == abi::mman::MADV_DONTNEED {
            // mm/madvise.c: private anonymous pages read back as zeros afterwards; a hole
            // in the range is ENOMEM, after the mapped part before it was dropped.
            if a.mem.discard(addr, len).is_err() {
                return neg(ENOMEM);
            }
        }
        // Every other advice is a hint the machine may ignore.
        0
    }

    fn brk(&mut self, a: &mut ModelAccess, want: u64) -> u64 {
        // mm/mmap.c brk: below the start or into another mapping leaves it unchanged.
        let k = &mut *self.k;
        if want < k.brk_start {
            return k.brk;
        }
        let (Some(old_end), Some(new_end)) = (page_up(k.brk), page_up(want)) else {
            return k.brk;
        };
        if new_end > old_end {
            if !a.mem.is_free(old_end, new_end - old_end)
                || !vm::mirror_map(a.mem, old_end, new_end, 3, "[heap]")
            {
                return k.brk;
            }
        } else if new_end < old_end {
            let _ = a.mem.unmap(new_end, old_end - new_end);
        }
        k.brk = want;
        want
    }

    // ----- signals (kernel/signal.c, arch/x86/kernel/signal.c) -----

    fn rt_sigaction(
        &mut self,
        a: &mut ModelAccess,
        signo: u64,
        act: u64,
        old: u64,
        size: u64,
    ) -> u64 {
        if size != 8 || signo == 0 || signo > 64 {
            return neg(EINVAL);
        }
        let cur = self.k.actions[signo as usize];
        let new = if act != 0 {
            let Some(b) = user::read(a.mem, act, 32) else {
                return neg(EFAULT);
            };
            let w = |i: usize| u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().expect("8"));
            // SIGKILL and SIGSTOP cannot be caught or ignored (do_sigaction).
            if signo as u32 == SIGKILL || signo as u32 == SIGSTOP {
                return neg(EINVAL);
            }
            // struct kernel_sigaction: handler, flags, restorer, mask.
            Some(SigAction {
                handler: w(0),
                flags: w(1),
                restorer: w(2),
                mask: w(3) & !(bit(SIGKILL) | bit(SIGSTOP)),
            })
        } else {
            None
        };
        if old != 0 {
            let words = [cur.handler, cur.flags, cur.restorer, cur.mask];
            let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
            if user::write(a.mem, old, &bytes).is_none() {
                return neg(EFAULT);
            }
        }
        if let Some(n) = new {
            self.k.actions[signo as usize] = n;
        }
        0
    }

    fn rt_sigprocmask(
        &mut self,
        a: &mut ModelAccess,
        t: usize,
        how: u64,
        set: u64,
        old: u64,
        size: u64,
    ) -> Flow {
        if size != 8 {
            return Flow::Ret(neg(EINVAL));
        }
        let cur = self.k.tasks[t].mask;
        let new = if set != 0 {
            let Some(s) = user::read_u64(a.mem, set) else {
                return Flow::Ret(neg(EFAULT));
            };
            Some(match how {
                SIG_BLOCK => cur | s,
                SIG_UNBLOCK => cur & !s,
                SIG_SETMASK => s,
                _ => return Flow::Ret(neg(EINVAL)),
            })
        } else {
            None
        };
        if old != 0 && user::write_u64(a.mem, old, cur).is_none() {
            return Flow::Ret(neg(EFAULT));
        }
        if let Some(m) = new {
            self.k.tasks[t].mask = m & !(bit(SIGKILL) | bit(SIGSTOP));
            // Unblocking may make a pending signal deliverable: let the scheduler look.
            if self.k.tasks[t].pending & !self.k.tasks[t].mask != 0 {
                return Flow::Yield(0);
            }
        }
        Flow::Ret(0)
    }

    fn rt_sigreturn(&mut self, a: &mut ModelAccess, t: usize) -> Flow {
        // The handler returned to sa_restorer, which popped the return address: RSP is
        // the ucontext (arch/x86/kernel/signal_64.c SYSCALL_DEFINE0(rt_sigreturn)).
        let uc = a.cpu.gpr[machine::cpu::RSP];
        match machine::signal::restore(a.cpu, a.mem) {
            Some(mask) => {
                self.k.tasks[t].mask = mask & !(bit(SIGKILL) | bit(SIGSTOP));
                // uc_stack is restored too (restore_altstack).
                if let (Some(sp), Some(size)) = (
                    user::read_u64(a.mem, uc + 16),
                    user::read_u64(a.mem, uc + 32),
                ) {
                    if size != 0 {
                        self.k.tasks[t].altstack = AltStack { sp, size };
                    }
                }
                let _ = uc;
                if self.k.tasks[t].pending & !self.k.tasks[t].mask != 0 {
                    // RAX was restored with everything else.
                    return Flow::Yield(a.cpu.gpr[RAX]);
                }
                Flow::Ret(a.cpu.gpr[RAX])
            }
            None => {
                // A bad frame: force_sig(SIGSEGV), which no handler may catch here.
                self.k.killed_by = Some(11);
                a.exit_process(128 + 11);
                Flow::Gone
            }
        }
    }

    fn sigaltstack(&mut self, a: &mut ModelAccess, t: usize, ss: u64, old: u64) -> u64 {
        let cur = self.k.tasks[t].altstack;
        let sp = a.cpu.gpr[machine::cpu::RSP];
        let on = cur.size != 0 && (cur.sp..cur.sp + cur.size).contains(&sp);
        if old != 0 {
            let flags = if cur.size == 0 {
                SS_DISABLE
            } else if on {
                SS_ONSTACK
            } else {
                0
            };
            // stack_t: ss_sp, ss_flags (int, padded), ss_size.
            let mut b = Vec::with_capacity(24);
            b.extend(cur.sp.to_le_bytes());
            b.extend(flags.to_le_bytes());
            b.extend(cur.size.to_le_bytes());
            if user::write(a.mem, old, &b).is_none() {
                return neg(EFAULT);
            }
        }
        if ss != 0 {
            let (Some(nsp), Some(flags), Some(size)) = (
                user::read_u64(a.mem, ss),
                user::read_u32(a.mem, ss + 8),
                user::read_u64(a.mem, ss + 16),
            ) else {
                return neg(EFAULT);
            };
            if on {
                return neg(EPERM);
            }
            let flags = flags as u64;
            if flags == SS_DISABLE {
                self.k.tasks[t].altstack = AltStack::default();
            } else if flags & !(SS_ONSTACK | 1 << 31) != 0 {
                return neg(EINVAL);
            } else if size < MINSIGSTKSZ {
                return neg(ENOMEM);
            } else {
                self.k.tasks[t].altstack = AltStack { sp: nsp, size };
            }
        }
        0
    }

    fn kill(&mut self, pid: i32, signo: u64) -> Flow {
        if signo > 64 {
            return Flow::Ret(neg(EINVAL));
        }
        if pid != PID as i32 && pid != 0 && pid != -1 {
            return Flow::Ret(neg(ESRCH));
        }
        if signo == 0 {
            return Flow::Ret(0);
        }
        // A process-directed signal goes to a thread that does not block it
        // (kernel/signal.c complete_signal); the main thread if all do.
        let s = signo as u32;
        let target = self
            .k
            .tasks
            .iter()
            .position(|t| t.mask & bit(s) == 0 && !t.exited)
            .unwrap_or(0);
        self.k.send(target, s);
        Flow::Yield(0)
    }

    fn tgkill(&mut self, _t: usize, tgid: u64, tid: u64, signo: u64) -> Flow {
        if signo > 64 || tid as i64 <= 0 {
            return Flow::Ret(neg(EINVAL));
        }
        if tgid as u32 != PID {
            return Flow::Ret(neg(ESRCH));
        }
        let Some(target) = self
            .k
            .task_of(tid as u32)
            .filter(|&t| !self.k.tasks[t].exited)
        else {
            return Flow::Ret(neg(ESRCH));
        };
        if signo == 0 {
            return Flow::Ret(0);
        }
        self.k.send(target, signo as u32);
        Flow::Yield(0)
    }

    // ----- threads (kernel/fork.c, kernel/exit.c, kernel/futex/) -----

    #[allow(clippy::too_many_arguments)]
    fn clone(
        &mut self,
        a: &mut ModelAccess,
        t: usize,
        flags: u64,
        stack: u64,
        ptid: u64,
        ctid: u64,
        tls: u64,
    ) -> u64 {
        use abi::clone::*;
        // Only threads: a new process (no CLONE_VM/CLONE_THREAD) is not modelled.
        let need = CLONE_VM | CLONE_THREAD | CLONE_SIGHAND;
        if flags & need != need {
            return neg(ENOSYS);
        }
        let tid = self.k.next_tid;
        let mut cpu = *a.cpu;
        cpu.gpr[RAX] = 0;
        if stack != 0 {
            cpu.gpr[machine::cpu::RSP] = stack;
        }
        if flags & CLONE_SETTLS != 0 {
            cpu.fs_base = tls;
        }
        if flags & CLONE_PARENT_SETTID != 0 && user::write_u32(a.mem, ptid, tid).is_none() {
            return neg(EFAULT);
        }
        if flags & CLONE_CHILD_SETTID != 0 && user::write_u32(a.mem, ctid, tid).is_none() {
            return neg(EFAULT);
        }
        self.k.next_tid += 1;
        let index = a.spawn(&format!("thread {tid}"), tid, cpu);
        let parent = &self.k.tasks[t];
        let task = Task {
            tid,
            clear_child_tid: if flags & CLONE_CHILD_CLEARTID != 0 {
                ctid
            } else {
                0
            },
            // The child starts with the parent's mask and no alternate stack
            // (copy_process clears sas_ss_sp for CLONE_VM without CLONE_VFORK).
            mask: parent.mask,
            ..Task::default()
        };
        if self.k.tasks.len() <= index {
            self.k.tasks.resize(index + 1, Task::default());
        }
        self.k.tasks[index] = task;
        tid as u64
    }

    fn exit(&mut self, a: &mut ModelAccess, t: usize, status: u64) -> Flow {
        // kernel/fork.c mm_release: zero *clear_child_tid and wake one waiter on it.
        let ctid = self.k.tasks[t].clear_child_tid;
        if ctid != 0 && user::write_u32(a.mem, ctid, 0).is_some() {
            self.k.futex_wake(ctid, u32::MAX, 1);
        }
        self.k.tasks[t].wait = None;
        self.k.tasks[t].exited = true;
        a.exit_thread(t, (status & 0xff) as i32);
        Flow::Gone
    }

    #[allow(clippy::too_many_arguments)]
    fn futex(
        &mut self,
        a: &mut ModelAccess,
        t: usize,
        addr: u64,
        op: u64,
        val: u64,
        timeout: u64,
        addr2: u64,
        val3: u64,
    ) -> Flow {
        use abi::futex::*;
        let cmd = op & !(PRIVATE_FLAG | CLOCK_REALTIME);
        match cmd {
            WAIT | WAIT_BITSET => {
                let bitset = if cmd == WAIT { u32::MAX } else { val3 as u32 };
                if bitset == 0 || addr & 3 != 0 {
                    return Flow::Ret(neg(EINVAL));
                }
                let Some(cur) = user::read_u32(a.mem, addr) else {
                    return Flow::Ret(neg(EFAULT));
                };
                if cur != val as u32 {
                    return Flow::Ret(neg(EAGAIN));
                }
                let now = self.k.now(a.step());
                let deadline = if timeout == 0 {
                    None
                } else {
                    let Some(ns) = read_timespec(a, timeout) else {
                        return Flow::Ret(neg(EFAULT));
                    };
                    // FUTEX_WAIT's timeout is relative; FUTEX_WAIT_BITSET's absolute, on
                    // CLOCK_MONOTONIC unless FUTEX_CLOCK_REALTIME (kernel/futex/syscalls.c).
                    Some(if cmd == WAIT {
                        now.saturating_add(ns)
                    } else if op & CLOCK_REALTIME != 0 {
                        ns.saturating_sub(EPOCH_NS - BOOT_NS)
                    } else {
                        ns
                    })
                };
                self.block(t, WaitKind::Futex { addr, bitset }, deadline);
                // The value a normal wake returns; a timeout or signal changes it later.
                Flow::Yield(0)
            }
            WAKE | WAKE_BITSET => {
                let bits = if cmd == WAKE { u32::MAX } else { val3 as u32 };
                if bits == 0 {
                    return Flow::Ret(neg(EINVAL));
                }
                let n = self.k.futex_wake(addr, bits, val);
                if n > 0 {
                    Flow::Yield(n)
                } else {
                    Flow::Ret(0)
                }
            }
            REQUEUE | CMP_REQUEUE => {
                // kernel/futex/requeue.c futex_requeue: the fourth argument is nr_requeue.
                let requeue = timeout as u32 as i32;
                if (val as u32 as i32) < 0 || requeue < 0 {
                    return Flow::Ret(neg(EINVAL));
                }
                if cmd == CMP_REQUEUE {
                    match user::read_u32(a.mem, addr) {
                        None => return Flow::Ret(neg(EFAULT)),
                        Some(cur) if cur != val3 as u32 => return Flow::Ret(neg(EAGAIN)),
                        Some(_) => {}
                    }
                }
                let n = self.k.futex_requeue(addr, val, addr2, requeue as u64);
                if n > 0 {
                    Flow::Yield(n)
                } else {
                    Flow::Ret(0)
                }
            }
            WAKE_OP => {
                let Some(old) = user::read_u32(a.mem, addr2) else {
                    return Flow::Ret(neg(EFAULT));
                };
                let Some((new, wake2)) = futex_op(val3 as u32, old) else {
                    return Flow::Ret(neg(ENOSYS));
                };
                if user::write_u32(a.mem, addr2, new).is_none() {
                    return Flow::Ret(neg(EFAULT));
                }
                // futex_wake_op: up to val waiters on the first word, then, when the
                // comparison of the second word's old value held, up to val2 on it.
                let mut n = self.k.futex_wake(addr, u32::MAX, val);
                if wake2 {
                    n += self.k.futex_wake(addr2, u32::MAX, timeout as u32 as u64);
                }
                if n > 0 {
                    Flow::Yield(n)
                } else {
                    Flow::Ret(0)
                }
            }
            _ => Flow::Ret(neg(ENOSYS)),
        }
    }

    fn block(&mut self, t: usize, kind: WaitKind, deadline: Option<u64>) {
        self.k.wait_seq += 1;
        self.k.tasks[t].wait = Some(Wait {
            kind,
            deadline,
            seq: self.k.wait_seq,
        });
    }

    // ----- epoll, eventfd, pipes (fs/eventpoll.c, fs/eventfd.c, fs/pipe.c) -----

    fn new_fd(&mut self, fd: Fd) -> u64 {
        let n = (0..)
            .find(|n| !self.k.fds.contains_key(n))
            .expect("a free fd");
        self.k.fds.insert(n, fd);
        n as u64
    }

    fn new_object(&mut self) -> u32 {
        self.k.next_object += 1;
        self.k.next_object
    }

    fn epoll_create1(&mut self, flags: u64) -> u64 {
        if flags & !0o2000000 != 0 {
            return neg(EINVAL);
        }
        let id = self.new_object();
        self.k.epolls.insert(id, BTreeMap::new());
        self.new_fd(Fd::Epoll(id))
    }

    fn eventfd2(&mut self, initval: u64) -> u64 {
        let id = self.new_object();
        self.k.eventfds.insert(id, initval & 0xffff_ffff);
        self.new_fd(Fd::EventFd(id))
    }

    fn pipe2(&mut self, a: &mut ModelAccess, fds: u64, _flags: u64) -> u64 {
        let id = self.new_object();
        self.k.pipes.insert(id, Vec::new());
        let r = self.new_fd(Fd::Pipe { id, write: false });
        let w = self.new_fd(Fd::Pipe { id, write: true });
        let mut b = Vec::with_capacity(8);
        b.extend((r as u32).to_le_bytes());
        b.extend((w as u32).to_le_bytes());
        if user::write(a.mem, fds, &b).is_none() {
            self.k.fds.remove(&(r as u32));
            self.k.fds.remove(&(w as u32));
            return neg(EFAULT);
        }
        0
    }

    fn epoll_ctl(&mut self, a: &mut ModelAccess, epfd: u64, op: u64, fd: u64, event: u64) -> u64 {
        const ADD: u64 = 1;
        const DEL: u64 = 2;
        const MOD: u64 = 3;
        let Some(Fd::Epoll(id)) = self.k.fds.get(&(epfd as u32)).cloned() else {
            return if self.k.fds.contains_key(&(epfd as u32)) {
                neg(EINVAL)
            } else {
                neg(EBADF)
            };
        };
        let fd = fd as u32;
        if !self.k.fds.contains_key(&fd) || fd == epfd as u32 {
            return neg(if fd == epfd as u32 { EINVAL } else { EBADF });
        }
        // struct epoll_event is packed on x86-64: u32 events, u64 data.
        let ev = if op == DEL {
            None
        } else {
            match (
                user::read_u32(a.mem, event),
                user::read_u64(a.mem, event + 4),
            ) {
                (Some(e), Some(d)) => Some((e, d)),
                _ => return neg(EFAULT),
            }
        };
        let interest = self.k.epolls.entry(id).or_default();
        match (op, ev) {
            (ADD, Some(ev)) if !interest.contains_key(&fd) => {
                interest.insert(fd, ev);
                0
            }
            (ADD, _) => neg(EEXIST),
            (MOD, Some(ev)) if interest.contains_key(&fd) => {
                interest.insert(fd, ev);
                0
            }
            (DEL, _) if interest.remove(&fd).is_some() => 0,
            (MOD | DEL, _) => neg(ENOENT),
            _ => neg(EINVAL),
        }
    }

    fn epoll_wait(
        &mut self,
        a: &mut ModelAccess,
        t: usize,
        epfd: u64,
        events: u64,
        max: u64,
        timeout: u64,
    ) -> Flow {
        let max = max as i32;
        if max <= 0 {
            return Flow::Ret(neg(EINVAL));
        }
        match self.k.fds.get(&(epfd as u32)) {
            Some(Fd::Epoll(_)) => {}
            Some(_) => return Flow::Ret(neg(EINVAL)),
            None => return Flow::Ret(neg(EBADF)),
        }
        let ready = self.k.epoll_ready(epfd as u32, max as u32);
        if !ready.is_empty() {
            return Flow::Ret(write_epoll_events(a, events, &ready));
        }
        let timeout = timeout as i32;
        if timeout == 0 {
            return Flow::Ret(0);
        }
        let deadline = (timeout > 0).then(|| self.k.now(a.step()) + timeout as u64 * 1_000_000);
        self.block(
            t,
            WaitKind::Epoll {
                epfd: epfd as u32,
                events,
                max: max as u32,
            },
            deadline,
        );
        // What a timeout returns: no events. A readiness wake writes the events later.
        Flow::Yield(0)
    }

    fn sched_getaffinity(&mut self, a: &mut ModelAccess, size: u64, mask: u64) -> u64 {
        // kernel/sched/syscalls.c: the size must hold the kernel's cpumask (8 bytes here);
        // returns the bytes written.
        if size < 8 || size & 7 != 0 {
            return neg(EINVAL);
        }
        match user::write_u64(a.mem, mask, (1 << CPUS) - 1) {
            Some(()) => 8,
            None => neg(EFAULT),
        }
    }

    fn getcpu(&mut self, a: &mut ModelAccess, cpu: u64, node: u64) -> u64 {
        if cpu != 0 && user::write_u32(a.mem, cpu, 0).is_none() {
            return neg(EFAULT);
        }
        if node != 0 && user::write_u32(a.mem, node, 0).is_none() {
            return neg(EFAULT);
        }
        0
    }

    // ----- time (kernel/time/posix-timers.c, kernel/time/hrtimer.c) -----

    fn clock_ns(&self, a: &ModelAccess, clock: u64) -> Option<u64> {
        let mono = self.k.now(a.step());
        match clock {
            CLOCK_REALTIME | 8 /* REALTIME_ALARM */ | 11 /* TAI */ => Some(mono - BOOT_NS + EPOCH_NS),
            // MONOTONIC, MONOTONIC_RAW, MONOTONIC_COARSE, BOOTTIME, and the CPU-time clocks
            // (the virtual machine spends all its time running the process).
            CLOCK_MONOTONIC | 2 | 3 | 4 | 6 | 7 => Some(mono),
            5 /* REALTIME_COARSE */ => Some(mono - BOOT_NS + EPOCH_NS),
            _ => None,
        }
    }

    fn clock_gettime(&mut self, a: &mut ModelAccess, clock: u64, ts: u64) -> u64 {
        let Some(ns) = self.clock_ns(a, clock) else {
            return neg(EINVAL);
        };
        match write_timespec(a, ts, ns) {
            Some(()) => 0,
            None => neg(EFAULT),
        }
    }

    fn clock_getres(&mut self, a: &mut ModelAccess, ts: u64) -> u64 {
        if ts != 0 && write_timespec(a, ts, NS_PER_STEP).is_none() {
            return neg(EFAULT);
        }
        0
    }

    fn gettimeofday(&mut self, a: &mut ModelAccess, tv: u64) -> u64 {
        let ns = self.clock_ns(a, CLOCK_REALTIME).expect("realtime");
        if tv != 0 {
            let mut b = Vec::with_capacity(16);
            b.extend((ns / 1_000_000_000).to_le_bytes());
            b.extend((ns % 1_000_000_000 / 1000).to_le_bytes());
            if user::write(a.mem, tv, &b).is_none() {
                return neg(EFAULT);
            }
        }
        0
    }

    fn time(&mut self, a: &mut ModelAccess, at: u64) -> u64 {
        let s = self.clock_ns(a, CLOCK_REALTIME).expect("realtime") / 1_000_000_000;
        if at != 0 && user::write_u64(a.mem, at, s).is_none() {
            return neg(EFAULT);
        }
        s
    }

    fn nanosleep(
        &mut self,
        a: &mut ModelAccess,
        t: usize,
        clock: u64,
        flags: u64,
        req: u64,
    ) -> Flow {
        const TIMER_ABSTIME: u64 = 1;
        let Some(ns) = read_timespec(a, req) else {
            return Flow::Ret(neg(EFAULT));
        };
        let now = self.k.now(a.step());
        let deadline = if flags & TIMER_ABSTIME != 0 {
            match clock {
                CLOCK_REALTIME => ns.saturating_sub(EPOCH_NS - BOOT_NS),
                _ => ns,
            }
        } else {
            now.saturating_add(ns)
        };
        if deadline <= now {
            return Flow::Yield(0);
        }
        self.block(t, WaitKind::Sleep, Some(deadline));
        Flow::Yield(0)
    }

    // ----- the rest -----

    fn getrandom(&mut self, a: &mut ModelAccess, buf: u64, len: u64) -> u64 {
        let len = len.min(1 << 25);
        let mut bytes = Vec::with_capacity(len as usize);
        while (bytes.len() as u64) < len {
            bytes.extend(splitmix(&mut self.k.rng).to_le_bytes());
        }
        bytes.truncate(len as usize);
        match user::write(a.mem, buf, &bytes) {
            Some(()) => len,
            None => neg(EFAULT),
        }
    }

    fn uname(&mut self, a: &mut ModelAccess, buf: u64) -> u64 {
        // struct new_utsname: six fields of 65 bytes. A fixed, documented system.
        let fields = [
            "Linux",
            "stackswitch",
            "6.1.0",
            "#1 SMP stackswitch",
            "x86_64",
            "(none)",
        ];
        let mut b = vec![0u8; 6 * 65];
        for (i, f) in fields.iter().enumerate() {
            b[i * 65..i * 65 + f.len()].copy_from_slice(f.as_bytes());
        }
        match user::write(a.mem, buf, &b) {
            Some(()) => 0,
            None => neg(EFAULT),
        }
    }

    fn prlimit64(
        &mut self,
        a: &mut ModelAccess,
        pid: u64,
        resource: u64,
        new: u64,
        old: u64,
    ) -> u64 {
        const RLIM_INFINITY: u64 = u64::MAX;
        if pid != 0 && pid as u32 != PID {
            return neg(ESRCH);
        }
        // kernel/sys.c: the limits a fresh login shell has; setting is accepted and kept
        // nowhere, since nothing here enforces a limit.
        let (cur, max) = match resource {
            3 /* STACK */ => (crate::load::STACK_SIZE, RLIM_INFINITY),
            7 /* NOFILE */ => (1024, 1 << 20),
            0..=15 => (RLIM_INFINITY, RLIM_INFINITY),
            _ => return neg(EINVAL),
        };
        if new != 0 && user::read(a.mem, new, 16).is_none() {
            return neg(EFAULT);
        }
        if old != 0 {
            let mut b = Vec::with_capacity(16);
            b.extend(cur.to_le_bytes());
            b.extend(max.to_le_bytes());
            if user::write(a.mem, old, &b).is_none() {
                return neg(EFAULT);
            }
        }
        0
    }
}

/// Writes epoll events (packed: u32 events, u64 data) and returns their count, or -EFAULT.
pub fn write_epoll_events(a: &mut ModelAccess, at: u64, ready: &[(u32, u64)]) -> u64 {
    let mut b = Vec::with_capacity(12 * ready.len());
    for (e, d) in ready {
        b.extend(e.to_le_bytes());
        b.extend(d.to_le_bytes());
    }
    match user::write(a.mem, at, &b) {
        Some(()) => ready.len() as u64,
        None => neg(EFAULT),
    }
}

const AT_FDCWD: u64 = (-100i64) as u64;
const CLOCK_REALTIME: u64 = 0;
const CLOCK_MONOTONIC: u64 = 1;

fn read_timespec(a: &ModelAccess, addr: u64) -> Option<u64> {
    let s = user::read_u64(a.mem, addr)?;
    let ns = user::read_u64(a.mem, addr + 8)?;
    Some(s.saturating_mul(1_000_000_000).saturating_add(ns))
}

fn write_timespec(a: &mut ModelAccess, addr: u64, ns: u64) -> Option<()> {
    let mut b = Vec::with_capacity(16);
    b.extend((ns / 1_000_000_000).to_le_bytes());
    b.extend((ns % 1_000_000_000).to_le_bytes());
    user::write(a.mem, addr, &b)
}

/// FUTEX_WAKE_OP's operation on the second word (kernel/futex/waitwake.c
/// futex_atomic_op_inuser; include/uapi/linux/futex.h FUTEX_OP): the new value of the word
/// and whether the comparison of its old value held. `encoded` is op (bits 28-30, bit 31
/// making the operand a shift count), cmp (24-27), a 12-bit signed operand (12-23) and a
/// 12-bit signed comparand (0-11). `None` for an op or cmp Linux does not know (ENOSYS).
fn futex_op(encoded: u32, old: u32) -> Option<(u32, bool)> {
    let sign_extend_12 = |v: u32| ((v << 20) as i32) >> 20;
    let op = (encoded >> 28) & 7;
    let cmp = (encoded >> 24) & 15;
    let mut oparg = sign_extend_12(encoded >> 12 & 0xfff) as u32;
    let cmparg = sign_extend_12(encoded & 0xfff);
    if encoded & (8 << 28) != 0 {
        // An out-of-range shift is masked to 0..31 (the kernel warns once).
        oparg = 1 << (oparg & 31);
    }
    let new = match op {
        0 => oparg,                   // FUTEX_OP_SET
        1 => old.wrapping_add(oparg), // FUTEX_OP_ADD
        2 => old | oparg,             // FUTEX_OP_OR
        3 => old & !oparg,            // FUTEX_OP_ANDN
        4 => old ^ oparg,             // FUTEX_OP_XOR
        _ => return None,
    };
    let old = old as i32;
    let holds = match cmp {
        0 => old == cmparg, // FUTEX_OP_CMP_EQ
        1 => old != cmparg, // FUTEX_OP_CMP_NE
        2 => old < cmparg,  // FUTEX_OP_CMP_LT
        3 => old <= cmparg, // FUTEX_OP_CMP_LE
        4 => old > cmparg,  // FUTEX_OP_CMP_GT
        5 => old >= cmparg, // FUTEX_OP_CMP_GE
        _ => return None,
    };
    Some((new, holds))
}

/// arch/x86/kernel/process_64.c do_arch_prctl_64.
fn arch_prctl(a: &mut ModelAccess, code: u64, addr: u64) -> u64 {
    use machine::kernel::arch::*;
    match code {
        SET_FS | SET_GS if addr >= TASK_SIZE => neg(EPERM),
        SET_FS => {
            a.cpu.fs_base = addr;
            0
        }
        SET_GS => {
            a.cpu.gs_base = addr;
            0
        }
        GET_FS | GET_GS => {
            let v = if code == GET_FS {
                a.cpu.fs_base
            } else {
                a.cpu.gs_base
            };
            match user::write_u64(a.mem, addr, v) {
                Some(()) => 0,
                None => neg(EFAULT),
            }
        }
        _ => neg(EINVAL),
    }
}

/// `struct stat` of x86-64 (`arch/x86/include/uapi/asm/stat.h`), 144 bytes.
struct Stat {
    dev: u64,
    ino: u64,
    mode: u32,
    rdev: u64,
    size: u64,
}

impl Stat {
    fn ino(path: &str) -> u64 {
        // A stable inode number from the path (FNV-1a).
        path.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        })
    }
    fn file(path: &str, size: u64) -> Stat {
        Stat {
            dev: 0x801,
            ino: Stat::ino(path),
            mode: 0o100_644,
            rdev: 0,
            size,
        }
    }
    fn dir(path: &str) -> Stat {
        Stat {
            dev: 0x801,
            ino: Stat::ino(path),
            mode: 0o040_755,
            rdev: 0,
            size: 4096,
        }
    }
    fn char_device(fd: u64) -> Stat {
        // A pipe-like character device (not a terminal: TCGETS says ENOTTY).
        Stat {
            dev: 0x16,
            ino: 3 + fd,
            mode: 0o020_620,
            rdev: 0x8800 + fd,
            size: 0,
        }
    }
    fn bytes(&self) -> Vec<u8> {
        let mut b = vec![0u8; 144];
        let put = |b: &mut Vec<u8>, off: usize, v: &[u8]| b[off..off + v.len()].copy_from_slice(v);
        put(&mut b, 0, &self.dev.to_le_bytes());
        put(&mut b, 8, &self.ino.to_le_bytes());
        put(&mut b, 16, &1u64.to_le_bytes()); // st_nlink
        put(&mut b, 24, &self.mode.to_le_bytes());
        put(&mut b, 28, &(crate::load::UID as u32).to_le_bytes());
        put(&mut b, 32, &(crate::load::UID as u32).to_le_bytes());
        put(&mut b, 40, &self.rdev.to_le_bytes());
        put(&mut b, 48, &self.size.to_le_bytes());
        put(&mut b, 56, &4096u64.to_le_bytes()); // st_blksize
        put(&mut b, 64, &self.size.div_ceil(512).to_le_bytes()); // st_blocks
        let t = EPOCH_NS / 1_000_000_000;
        for off in [72, 88, 104] {
            put(&mut b, off, &t.to_le_bytes());
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FUTEX_OP(op, oparg, cmp, cmparg) of include/uapi/linux/futex.h.
    fn encode(op: u32, oparg: i32, cmp: u32, cmparg: i32) -> u32 {
        (op & 0xf) << 28
            | (cmp & 0xf) << 24
            | (oparg as u32 & 0xfff) << 12
            | (cmparg as u32 & 0xfff)
    }

    #[test]
    fn wake_op_decodes_its_operation_as_linux_does() {
        assert_eq!(futex_op(encode(1, 5, 0, 0), 0), Some((5, true)), "ADD, EQ");
        assert_eq!(
            futex_op(encode(0, -1, 2, -2), 7),
            Some((u32::MAX, false)),
            "SET -1; 7 < -2"
        );
        assert_eq!(
            futex_op(encode(3, 1, 5, -2), 3),
            Some((2, true)),
            "ANDN; 3 >= -2"
        );
        // FUTEX_OP_OPARG_SHIFT: the operand is a shift count.
        assert_eq!(
            futex_op(encode(8 | 2, 4, 1, 0), 1),
            Some((0x11, true)),
            "OR 1 << 4"
        );
        assert_eq!(futex_op(encode(5, 0, 0, 0), 0), None, "op 5 is unknown");
        assert_eq!(futex_op(encode(0, 0, 6, 0), 0), None, "cmp 6 is unknown");
    }

    #[test]
    fn requeued_waiters_queue_behind_those_already_there() {
        let mut k = Kernel {
            tasks: vec![Task::default(); 4],
            fds: BTreeMap::new(),
            actions: vec![SigAction::default(); 65],
            brk_start: 0,
            brk: 0,
            next_tid: 0,
            clock_jump: 0,
            rng: 0,
            wait_seq: 0,
            cwd: "/".into(),
            exe_path: String::new(),
            killed_by: None,
            epolls: BTreeMap::new(),
            eventfds: BTreeMap::new(),
            pipes: BTreeMap::new(),
            next_object: 0,
        };
        let wait = |addr, seq| Wait {
            kind: WaitKind::Futex {
                addr,
                bitset: u32::MAX,
            },
            deadline: None,
            seq,
        };
        // Threads 0 and 1 wait on 0x100, 2 on 0x200 (it came last), 3 on 0x100 too.
        k.tasks[0].wait = Some(wait(0x100, 1));
        k.tasks[1].wait = Some(wait(0x100, 2));
        k.tasks[3].wait = Some(wait(0x100, 3));
        k.tasks[2].wait = Some(wait(0x200, 4));
        k.wait_seq = 4;
        assert_eq!(
            k.futex_requeue(0x100, 1, 0x200, 1),
            2,
            "one woken, one moved"
        );
        assert!(k.tasks[0].wait.is_none(), "the first waiter is woken");
        assert_eq!(
            k.futex_waiters(0x200, u32::MAX),
            vec![2, 1],
            "moved behind 2"
        );
        assert_eq!(k.futex_waiters(0x100, u32::MAX), vec![3], "3 stays");
    }
}
