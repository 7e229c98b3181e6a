//! Offsets of Go's runtime structures on linux/amd64, per release, as the compiler
//! generates them into `go_asm.h` (`go build -work -a runtime`). Source: the project's
//! reference facts (`shared/reference/go-runtime-facts.md`), measured from Go's releases.

use super::GoRelease;

/// One `go_asm.h` constant: its name (`g_sched`) and value.
pub type Offset = (&'static str, i64);

const COMMON: &[Offset] = &[
    ("stack_lo", 0),
    ("stack_hi", 8),
    ("gobuf_sp", 0),
    ("gobuf_pc", 8),
    ("gobuf_g", 16),
    ("gobuf_ctxt", 24),
    ("gobuf_ret", 32),
    ("gobuf_lr", 40),
    ("gobuf_bp", 48),
    ("gobuf__size", 56),
    ("g_stack", 0),
    ("g_stackguard0", 16),
    ("g_stackguard1", 24),
    ("g__panic", 32),
    ("g__defer", 40),
    ("g_m", 48),
    ("g_sched", 56),
    ("g_syscallsp", 112),
    ("g_syscallpc", 120),
    ("m_g0", 0),
    ("m_morebuf", 8),
    ("m_divmod", 64),
    ("m_procid", 72),
    ("m_gsignal", 80),
    ("m_goSigStack", 88),
    ("m_sigmask", 128),
    ("m_tls", 136),
    ("m_mstartfn", 184),
    ("m_curg", 192),
    ("m_caughtsig", 200),
    ("m_p", 208),
    ("m_nextp", 216),
    ("m_oldp", 224),
    ("m_id", 232),
    ("m_incgo", 280),
];

const GO114: &[Offset] = &[
    ("g_stktopsp", 128),
    ("g_param", 136),
    ("g_atomicstatus", 144),
    ("g_goid", 152),
    ("g__size", 376),
    ("m_ncgo", 312),
    ("m_cgoCallersUse", 316),
    ("m_cgoCallers", 320),
    ("m__size", 832),
    ("const__StackGuard", 896),
];

const GO124: &[Offset] = &[
    ("g_syscallbp", 128),
    ("g_stktopsp", 136),
    ("g_param", 144),
    ("g_atomicstatus", 152),
    ("g_goid", 160),
    ("g__size", 440),
    ("m_isextra", 281),
    ("m_isExtraInC", 282),
    ("m_ncgo", 304),
    ("m_cgoCallersUse", 308),
    ("m_cgoCallers", 312),
    ("m__size", 1808),
    ("const__StackGuard", 928),
];

/// Goroutine status values (`runtime2.go`), the same in both releases.
pub const STATUS: &[Offset] = &[
    ("const__Grunning", 2),
    ("const__Gsyscall", 3),
    ("const__Gdead", 6),
];

/// Every offset of a release, common ones first.
pub fn offsets(release: GoRelease) -> Vec<Offset> {
    let specific = match release {
        GoRelease::Go114 => GO114,
        GoRelease::Go124 => GO124,
    };
    COMMON
        .iter()
        .chain(specific)
        .chain(STATUS)
        .copied()
        .collect()
}

/// One offset by its `go_asm.h` name.
pub fn offset(release: GoRelease, name: &str) -> Option<i64> {
    offsets(release)
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// The text of `go_asm.h` for a release, as the assembler's built-in header.
pub fn go_asm_h(release: GoRelease) -> String {
    let mut s =
        String::from("// Offsets of the runtime's structures (generated from the layouts).\n");
    for (name, value) in offsets(release) {
        s.push_str(&format!("#define {name} {value}\n"));
    }
    s
}
