//! Numbers of the Linux x86-64 user ABI: system calls (`arch/x86/entry/syscalls/syscall_64.tbl`),
//! errno values (`include/uapi/asm-generic/errno-base.h`, `errno.h`), and the flags the
//! calls take (`include/uapi/linux/*.h`, `include/uapi/asm-generic/*.h`).

/// System call numbers, from `arch/x86/entry/syscalls/syscall_64.tbl`.
pub mod nr {
    macro_rules! calls {
        ($($name:ident = $n:expr),* $(,)?) => {
            $(#[allow(missing_docs)] pub const $name: u64 = $n;)*
            /// Every number the kernel knows, with its constant's name.
            const TABLE: &[(&str, u64)] = &[$((stringify!($name), $n)),*];
        };
    }

    /// The name of a system call number, as strace prints it (the constant's name in
    /// lower case).
    pub fn name(n: u64) -> Option<&'static str> {
        use std::collections::BTreeMap;
        use std::sync::OnceLock;
        static NAMES: OnceLock<BTreeMap<u64, String>> = OnceLock::new();
        NAMES
            .get_or_init(|| TABLE.iter().map(|&(s, n)| (n, s.to_lowercase())).collect())
            .get(&n)
            .map(String::as_str)
    }

    calls! {
        READ = 0, WRITE = 1, OPEN = 2, CLOSE = 3, STAT = 4, FSTAT = 5, LSTAT = 6, POLL = 7,
        LSEEK = 8, MMAP = 9, MPROTECT = 10, MUNMAP = 11, BRK = 12, RT_SIGACTION = 13,
        RT_SIGPROCMASK = 14, RT_SIGRETURN = 15, IOCTL = 16, PREAD64 = 17, PWRITE64 = 18,
        READV = 19, WRITEV = 20, ACCESS = 21, PIPE = 22, SCHED_YIELD = 24, MREMAP = 25,
        MINCORE = 27, MADVISE = 28, DUP = 32, DUP2 = 33, NANOSLEEP = 35, GETITIMER = 36,
        SETITIMER = 38, GETPID = 39, SOCKET = 41, CLONE = 56, FORK = 57, VFORK = 58,
        EXECVE = 59, EXIT = 60, WAIT4 = 61, KILL = 62, UNAME = 63, FCNTL = 72, GETCWD = 79,
        READLINK = 89, GETTIMEOFDAY = 96, GETRLIMIT = 97, SYSINFO = 99, GETUID = 102,
        GETGID = 104, GETEUID = 107, GETEGID = 108, GETPPID = 110, GETPGRP = 111, SETRLIMIT = 160,
        SIGALTSTACK = 131, PRCTL = 157, ARCH_PRCTL = 158, GETTID = 186, TKILL = 200,
        TIME = 201, FUTEX = 202, SCHED_SETAFFINITY = 203, SCHED_GETAFFINITY = 204,
        SET_TID_ADDRESS = 218, CLOCK_GETTIME = 228, CLOCK_GETRES = 229,
        CLOCK_NANOSLEEP = 230, EXIT_GROUP = 231, EPOLL_WAIT = 232, EPOLL_CTL = 233,
        TGKILL = 234, OPENAT = 257, NEWFSTATAT = 262, READLINKAT = 267, FACCESSAT = 269,
        PSELECT6 = 270, PPOLL = 271, SET_ROBUST_LIST = 273, GET_ROBUST_LIST = 274,
        EPOLL_PWAIT = 281, EVENTFD2 = 290, EPOLL_CREATE1 = 291, DUP3 = 292, PIPE2 = 293,
        PRLIMIT64 = 302, GETCPU = 309, GETRANDOM = 318, MEMBARRIER = 324, STATX = 332,
        RSEQ = 334, CLONE3 = 435, FACCESSAT2 = 439,
    }
}

/// errno values (`include/uapi/asm-generic/errno-base.h` and `errno.h`).
#[allow(missing_docs)]
pub mod errno {
    pub const EPERM: u64 = 1;
    pub const ENOENT: u64 = 2;
    pub const ESRCH: u64 = 3;
    pub const EINTR: u64 = 4;
    pub const EBADF: u64 = 9;
    pub const EAGAIN: u64 = 11;
    pub const ENOMEM: u64 = 12;
    pub const EACCES: u64 = 13;
    pub const EFAULT: u64 = 14;
    pub const EEXIST: u64 = 17;
    pub const ENOTDIR: u64 = 20;
    pub const EISDIR: u64 = 21;
    pub const EINVAL: u64 = 22;
    pub const ENOTTY: u64 = 25;
    pub const ESPIPE: u64 = 29;
    pub const ERANGE: u64 = 34;
    pub const ENOSYS: u64 = 38;
    pub const ETIMEDOUT: u64 = 110;
}

/// `mmap` and `mprotect` flags (`include/uapi/asm-generic/mman-common.h`, `mman.h`).
#[allow(missing_docs)]
pub mod mman {
    pub const PROT_READ: u64 = 1;
    pub const PROT_WRITE: u64 = 2;
    pub const PROT_EXEC: u64 = 4;
    pub const MAP_SHARED: u64 = 0x01;
    pub const MAP_PRIVATE: u64 = 0x02;
    pub const MAP_FIXED: u64 = 0x10;
    pub const MAP_ANONYMOUS: u64 = 0x20;
    pub const MAP_FIXED_NOREPLACE: u64 = 0x10_0000;
    pub const MADV_DONTNEED: u64 = 4;
}

/// `clone` flags (`include/uapi/linux/sched.h`).
#[allow(missing_docs)]
pub mod clone {
    pub const CLONE_VM: u64 = 0x100;
    pub const CLONE_FS: u64 = 0x200;
    pub const CLONE_FILES: u64 = 0x400;
    pub const CLONE_SIGHAND: u64 = 0x800;
    pub const CLONE_THREAD: u64 = 0x10000;
    pub const CLONE_SETTLS: u64 = 0x80000;
    pub const CLONE_PARENT_SETTID: u64 = 0x100000;
    pub const CLONE_CHILD_CLEARTID: u64 = 0x200000;
    pub const CLONE_CHILD_SETTID: u64 = 0x1000000;
}

/// `futex` operations (`include/uapi/linux/futex.h`).
#[allow(missing_docs)]
pub mod futex {
    pub const WAIT: u64 = 0;
    pub const WAKE: u64 = 1;
    pub const REQUEUE: u64 = 3;
    pub const CMP_REQUEUE: u64 = 4;
    pub const WAKE_OP: u64 = 5;
    pub const WAIT_BITSET: u64 = 9;
    pub const WAKE_BITSET: u64 = 10;
    pub const PRIVATE_FLAG: u64 = 128;
    pub const CLOCK_REALTIME: u64 = 256;
}

/// `rt_sigaction` flags and special handlers (`arch/x86/include/uapi/asm/signal.h`).
#[allow(missing_docs)]
pub mod sig {
    pub const SIG_DFL: u64 = 0;
    pub const SIG_IGN: u64 = 1;
    pub const SA_SIGINFO: u64 = 0x4;
    pub const SA_ONSTACK: u64 = 0x0800_0000;
    pub const SA_RESTART: u64 = 0x1000_0000;
    pub const SA_NODEFER: u64 = 0x4000_0000;
    pub const SA_RESETHAND: u64 = 0x8000_0000;
    pub const SA_RESTORER: u64 = 0x0400_0000;
    pub const SIG_BLOCK: u64 = 0;
    pub const SIG_UNBLOCK: u64 = 1;
    pub const SIG_SETMASK: u64 = 2;
    pub const SS_ONSTACK: u64 = 1;
    pub const SS_DISABLE: u64 = 2;
    /// `MINSIGSTKSZ` on x86-64.
    pub const MINSIGSTKSZ: u64 = 2048;
    pub const SIGKILL: u32 = 9;
    pub const SIGSTOP: u32 = 19;
    /// `si_code` of a signal sent by `kill`.
    pub const SI_USER: i32 = 0;
    /// `si_code` of a signal sent by `tkill`/`tgkill`.
    pub const SI_TKILL: i32 = -6;
}

/// The name of a signal as Go and strace print it.
pub fn signal_name(n: u32) -> String {
    const NAMES: [&str; 32] = [
        "",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    match NAMES.get(n as usize) {
        Some(s) if n > 0 => s.to_string(),
        _ => format!("SIGRT{n}"),
    }
}

/// What Linux does with a signal no handler catches (`kernel/signal.c`, the
/// `SIG_KERNEL_*_MASK` sets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultAction {
    /// Ends the process.
    Terminate,
    /// Ends the process and dumps core (the shell still shows 128 + the signal).
    Core,
    /// Nothing happens.
    Ignore,
    /// Stops the process (job control): the machine has no job control, so it is ignored.
    Stop,
}

/// The default action of a signal.
pub fn default_action(n: u32) -> DefaultAction {
    match n {
        // SIG_KERNEL_COREDUMP_MASK
        3 | 4 | 5 | 6 | 7 | 8 | 11 | 24 | 25 | 31 => DefaultAction::Core,
        // SIG_KERNEL_IGNORE_MASK: SIGCONT, SIGCHLD, SIGWINCH, SIGURG
        17 | 18 | 23 | 28 => DefaultAction::Ignore,
        // SIG_KERNEL_STOP_MASK
        19..=22 => DefaultAction::Stop,
        _ => DefaultAction::Terminate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_calls_have_strace_names_and_unknown_numbers_none() {
        assert_eq!(nr::name(nr::RT_SIGACTION), Some("rt_sigaction"));
        assert_eq!(nr::name(nr::EXIT_GROUP), Some("exit_group"));
        assert_eq!(nr::name(999), None);
    }

    #[test]
    fn default_actions_are_linuxs() {
        assert_eq!(default_action(11), DefaultAction::Core);
        assert_eq!(default_action(23), DefaultAction::Ignore); // SIGURG
        assert_eq!(default_action(15), DefaultAction::Terminate);
        assert_eq!(signal_name(23), "SIGURG");
        assert_eq!(signal_name(34), "SIGRT34");
    }
}
