//! Go's handling of a synchronous signal, per release, as the named stages a learner steps
//! through: the kernel delivers, `sigtramp` and `sigtrampgo` find g, `sighandler` decides,
//! `sigpanic` panics or throws. Each stage lists the state it reads. Source: the project's
//! reference facts (`shared/reference/go-runtime-facts.md`), which record the decision path
//! and the report formats of go1.14 and go1.24.

use super::GoRelease;
use machine::fault::{Fault, Signal};
use serde::Serialize;

/// What the handler can see when a fault arrives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SignalState {
    /// The fault, as the kernel reports it.
    pub fault: Fault,
    /// g from TLS (0: a thread C created, with no g).
    pub g: u64,
    /// `g.m` (0 when there is no g).
    pub g_m: u64,
    /// `m.curg`: the user goroutine the m runs.
    pub m_curg: u64,
    /// `m.id`, printed as `m=N` by go1.24's cgo report.
    pub m_id: u64,
    /// `m.incgo`: the m is running C code called through cgo.
    pub m_incgo: bool,
    /// `m.isExtraInC` (go1.21+): an extra M bound to a C thread that is back in C.
    pub m_is_extra_in_c: bool,
    /// A C handler for this signal was installed before Go's.
    pub c_handler: bool,
}

/// One stage of the handling, for the step-through.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Stage {
    /// `kernel delivers`, `sigtramp`, `sigtrampgo`, `sighandler`, `sigpanic`, `throw`.
    pub name: &'static str,
    /// What the stage reads, as (what, value).
    pub reads: Vec<(String, String)>,
    /// What it concludes, in a sentence.
    pub says: String,
}

/// How the process ends (or goes on).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Outcome {
    /// The C handler installed before Go runs.
    ForwardToC,
    /// Nobody handles it: the default action kills the process with the signal; the shell
    /// sees 128 + the signal number and Go prints nothing.
    Killed {
        /// The shell's exit status (139 for SIGSEGV).
        exit_status: i32,
    },
    /// Go prints a report and exits with status 2.
    Report {
        /// The report's first lines, exactly as Go prints them.
        header: Vec<String>,
        /// 2: Go's own fatal and panic reports.
        exit_status: i32,
        /// Whether it is a panic (recoverable in principle) rather than a fatal error.
        panic: bool,
    },
}

/// The signal's description as Go's signal table words it.
pub fn describe(signal: Signal) -> &'static str {
    match signal {
        Signal::Sigsegv => "segmentation violation",
        Signal::Sigbus => "bus error",
        Signal::Sigfpe => "floating-point exception",
        Signal::Sigill => "illegal instruction",
        Signal::Sigtrap => "trace/breakpoint trap",
    }
}

/// `[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x…]`
pub fn signal_line(f: &Fault) -> String {
    format!(
        "[signal {}: {} code={:#x} addr={:#x} pc={:#x}]",
        f.signal.name(),
        describe(f.signal),
        f.code,
        f.addr,
        f.pc
    )
}

fn hex(v: u64) -> String {
    format!("{v:#x}")
}

/// Go's own reports end the process with exit status 2.
fn report(header: Vec<String>, panic: bool) -> Outcome {
    Outcome::Report {
        header,
        exit_status: 2,
        panic,
    }
}

/// The fatal error for a signal Go cannot turn into a panic.
fn unexpected_signal(f: &Fault) -> Vec<String> {
    vec![
        "fatal error: unexpected signal during runtime execution".to_string(),
        signal_line(f),
    ]
}

fn throw_stage() -> Stage {
    Stage {
        name: "throw",
        reads: vec![],
        says: "print the fatal error and the signal, then the stacks".into(),
    }
}

/// Whether the fault arrived in Go code, as the forwarding test decides it.
fn in_go_code(release: GoRelease, s: &SignalState) -> bool {
    s.g != 0
        && s.g_m != 0
        && s.m_curg != 0
        && !s.m_incgo
        && !(release.signals.extra_m_in_c && s.m_is_extra_in_c)
}

/// Decides what Go does with a synchronous fault, stage by stage.
pub fn decide(release: GoRelease, s: &SignalState) -> (Vec<Stage>, Outcome) {
    let f = &s.fault;
    let mut stages = vec![Stage {
        name: "kernel delivers",
        reads: vec![
            ("signal".into(), f.signal.name().into()),
            ("si_code".into(), hex(f.code as u64)),
            ("si_addr".into(), hex(f.addr)),
            ("pc".into(), hex(f.pc)),
        ],
        says: "the kernel stops the thread, switches to the alternate signal stack it registered, pushes a signal frame and enters Go's handler".into(),
    }];
    stages.push(Stage {
        name: "sigtramp",
        reads: vec![],
        says: "the assembly entry point saves the C callee-saved registers and calls sigtrampgo"
            .into(),
    });
    let mut reads = vec![
        ("TLS g".into(), hex(s.g)),
        ("g.m".into(), hex(s.g_m)),
        ("m.curg".into(), hex(s.m_curg)),
        ("m.incgo".into(), s.m_incgo.to_string()),
    ];
    if release.signals.extra_m_in_c {
        reads.push(("m.isExtraInC".into(), s.m_is_extra_in_c.to_string()));
    }
    reads.push((
        "C handler installed before Go".into(),
        s.c_handler.to_string(),
    ));
    let go_code = in_go_code(release, s);
    if s.c_handler && !go_code {
        stages.push(Stage {
            name: "sigtrampgo",
            reads,
            says: "the fault did not arrive in Go code and C installed a handler first: forward the signal to it".into(),
        });
        return (stages, Outcome::ForwardToC);
    }
    if s.g == 0 {
        stages.push(Stage {
            name: "sigtrampgo",
            reads,
            says: "no g in TLS: a thread C created, where Go cannot handle the fault; the default action kills the process".into(),
        });
        return (
            stages,
            Outcome::Killed {
                exit_status: 128 + f.signal.number() as i32,
            },
        );
    }
    stages.push(Stage {
        name: "sigtrampgo",
        reads,
        says: "g is set: hand the signal to sighandler on the gsignal stack".into(),
    });
    let on_curg = s.g == s.m_curg;
    if release.signals.fatal_off_curg && !on_curg {
        // From go1.21 a fault on g0 or gsignal (C code reached through cgo runs on g0) is
        // fatal at once.
        let header = if s.m_incgo {
            vec![
                format!("{}: {}", f.signal.name(), describe(f.signal)),
                format!(
                    "PC={:#x} m={} sigcode={} addr={:#x}",
                    f.pc, s.m_id, f.code, f.addr
                ),
                "signal arrived during cgo execution".to_string(),
            ]
        } else {
            unexpected_signal(f)
        };
        stages.push(Stage {
            name: "sighandler",
            reads: vec![
                ("g == m.curg".into(), "false".into()),
                ("m.incgo".into(), s.m_incgo.to_string()),
            ],
            says: "the fault is not on the user goroutine: print the signal and die".into(),
        });
        return (stages, report(header, false));
    }
    stages.push(Stage {
        name: "sighandler",
        reads: vec![("g == m.curg".into(), on_curg.to_string()), ("pc".into(), hex(f.pc))],
        says: "record sig, code, addr and pc in g, and make the faulting code look as if it called sigpanic".into(),
    });
    // sigpanic can only panic on the user goroutine, in Go code.
    if !on_curg || s.m_incgo {
        stages.push(Stage {
            name: "sigpanic",
            reads: vec![
                ("g == m.curg".into(), on_curg.to_string()),
                ("m.incgo".into(), s.m_incgo.to_string()),
            ],
            says: "not on the user goroutine in Go code: a panic is impossible, throw".into(),
        });
        stages.push(throw_stage());
        let header = unexpected_signal(f);
        return (stages, report(header, false));
    }
    // A nil dereference is a SIGSEGV from the MMU (SEGV_MAPERR or SEGV_ACCERR; 0 on some
    // kernels) below 0x1000; SI_KERNEL (a non-canonical address) is not, whatever addr says.
    let mmu_code = matches!(f.code, 0..=2);
    if f.signal == Signal::Sigsegv && mmu_code && f.addr < 0x1000 {
        stages.push(Stage {
            name: "sigpanic",
            reads: vec![
                ("si_code".into(), hex(f.code as u64)),
                ("addr".into(), hex(f.addr)),
            ],
            says: "an MMU fault below 0x1000 is a nil dereference: panic".into(),
        });
        let header = vec![
            "panic: runtime error: invalid memory address or nil pointer dereference".to_string(),
            signal_line(f),
        ];
        return (stages, report(header, true));
    }
    stages.push(Stage {
        name: "sigpanic",
        reads: vec![
            ("si_code".into(), hex(f.code as u64)),
            ("addr".into(), hex(f.addr)),
        ],
        says: "not a nil dereference (an address of 0x1000 or more, or not an MMU fault): report the address and throw".into(),
    });
    stages.push(throw_stage());
    let header = vec![
        format!("unexpected fault address {:#x}", f.addr),
        "fatal error: fault".to_string(),
        signal_line(f),
    ];
    (stages, report(header, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(fault: Fault) -> SignalState {
        SignalState {
            fault,
            g: 0xc000_0001,
            g_m: 0xc000_1000,
            m_curg: 0xc000_0001,
            m_id: 0,
            m_incgo: false,
            m_is_extra_in_c: false,
            c_handler: false,
        }
    }

    fn header(release: GoRelease, s: &SignalState) -> Vec<String> {
        match decide(release, s).1 {
            Outcome::Report {
                header,
                exit_status: 2,
                ..
            } => header,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn nil_dereference_in_go_code_panics_in_both_releases() {
        let s = state(Fault::unmapped(0, 0x45f3a2));
        for r in [
            GoRelease::named("1.14").unwrap(),
            GoRelease::named("1.24").unwrap(),
        ] {
            assert_eq!(
                header(r, &s),
                [
                    "panic: runtime error: invalid memory address or nil pointer dereference",
                    "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x45f3a2]"
                ]
            );
        }
    }

    #[test]
    fn a_fault_at_a_real_address_is_fatal() {
        let s = state(Fault::unmapped(0x1234_5678, 0x45f3a2));
        assert_eq!(
            header(GoRelease::named("1.14").unwrap(), &s),
            [
                "unexpected fault address 0x12345678",
                "fatal error: fault",
                "[signal SIGSEGV: segmentation violation code=0x1 addr=0x12345678 pc=0x45f3a2]"
            ]
        );
    }

    #[test]
    fn a_crash_in_c_called_through_cgo_differs_by_release() {
        // On g0 (asmcgocall switched), in C.
        let s = SignalState {
            g: 0xc000_2000,
            m_incgo: true,
            ..state(Fault::unmapped(0, 0x4a1b2c))
        };
        assert_eq!(
            header(GoRelease::named("1.14").unwrap(), &s),
            [
                "fatal error: unexpected signal during runtime execution",
                "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a1b2c]"
            ]
        );
        let (stages, _) = decide(GoRelease::named("1.14").unwrap(), &s);
        let names: Vec<&str> = stages.iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            [
                "kernel delivers",
                "sigtramp",
                "sigtrampgo",
                "sighandler",
                "sigpanic",
                "throw"
            ]
        );
        assert_eq!(
            header(GoRelease::named("1.24").unwrap(), &s),
            [
                "SIGSEGV: segmentation violation",
                "PC=0x4a1b2c m=0 sigcode=1 addr=0x0",
                "signal arrived during cgo execution"
            ]
        );
    }

    #[test]
    fn forwarding_and_threads_without_g() {
        // A C handler installed first runs when the fault is in C...
        let in_c = SignalState {
            g: 0xc000_2000,
            m_incgo: true,
            c_handler: true,
            ..state(Fault::unmapped(0, 0x500010))
        };
        assert_eq!(
            decide(GoRelease::named("1.14").unwrap(), &in_c).1,
            Outcome::ForwardToC
        );
        // ...but not when it is in Go code: Go panics.
        let in_go = SignalState {
            c_handler: true,
            ..state(Fault::unmapped(0, 0x45f3a2))
        };
        assert!(matches!(
            decide(GoRelease::named("1.24").unwrap(), &in_go).1,
            Outcome::Report { panic: true, .. }
        ));
        // go1.24: an extra M bound to a C thread that is back in C is not Go code.
        let extra = SignalState {
            m_is_extra_in_c: true,
            ..in_go.clone()
        };
        assert_eq!(
            decide(GoRelease::named("1.24").unwrap(), &extra).1,
            Outcome::ForwardToC
        );
        assert!(
            matches!(
                decide(GoRelease::named("1.14").unwrap(), &extra).1,
                Outcome::Report { .. }
            ),
            "go1.14 has no isExtraInC"
        );
        // No g, no C handler: killed by the signal, 139, nothing printed.
        let no_g = SignalState {
            g: 0,
            g_m: 0,
            m_curg: 0,
            ..state(Fault::unmapped(0, 0x500010))
        };
        assert_eq!(
            decide(GoRelease::named("1.14").unwrap(), &no_g).1,
            Outcome::Killed { exit_status: 139 }
        );
    }
}
