//! The runtime's globals in the model, and the minimal p: the same numbers as
//! `emu/runtime/model.h`, which the runtime's assembly includes (a test checks that they
//! agree). Go keeps the free extra Ms and the idle Ps in linked lists; the model keeps each
//! in a small array behind a spin lock, so that every field the code touches has a layout
//! from the facts file.

/// The extra-M list's lock word (0 free, 1 held).
pub const EXTRAM_LOCK: u64 = 0x60_0000;
/// How many extra Ms are free.
pub const EXTRAM_COUNT: u64 = 0x60_0008;
/// Pointers to the free extra Ms (up to 8).
pub const EXTRAM_SLOTS: u64 = 0x60_0010;
/// The idle-P list's lock word.
pub const PIDLE_LOCK: u64 = 0x60_0080;
/// How many Ps are idle.
pub const PIDLE_COUNT: u64 = 0x60_0088;
/// Pointers to the idle Ps (up to 8).
pub const PIDLE_SLOTS: u64 = 0x60_0090;
/// The SIGSEGV handler C installed before Go (0: none), which Go forwards to.
pub const FWD_SIGSEGV: u64 = 0x60_0100;
/// Where C's global variables start.
pub const C_GLOBALS: u64 = 0x60_0800;

/// `p.id` (int32).
pub const P_ID: u64 = 0;
/// `p.status` (uint32).
pub const P_STATUS: u64 = 4;
/// The M a P is attached to (the model's field).
pub const P_M: u64 = 16;
/// `_Pidle`.
pub const P_IDLE: u32 = 0;
/// `_Prunning`.
pub const P_RUNNING: u32 = 1;

/// Every name `model.h` defines, with its value.
pub const DEFINES: &[(&str, u64)] = &[
    ("extram_lock", EXTRAM_LOCK),
    ("extram_count", EXTRAM_COUNT),
    ("extram_slots", EXTRAM_SLOTS),
    ("pidle_lock", PIDLE_LOCK),
    ("pidle_count", PIDLE_COUNT),
    ("pidle_slots", PIDLE_SLOTS),
    ("fwd_sigsegv", FWD_SIGSEGV),
    ("c_globals", C_GLOBALS),
    ("p_id", P_ID),
    ("p_status", P_STATUS),
    ("p_m", P_M),
    ("const__Pidle", P_IDLE as u64),
    ("const__Prunning", P_RUNNING as u64),
];

/// Words for an address among the globals.
pub fn global_name(a: u64) -> Option<String> {
    let slot = |base: u64, what: &str| {
        (base..base + 64)
            .contains(&a)
            .then(|| format!("{what}[{}]", (a - base) / 8))
    };
    Some(match a {
        EXTRAM_LOCK => "runtime.extram lock".into(),
        EXTRAM_COUNT => "runtime.extram count (free extra Ms)".into(),
        PIDLE_LOCK => "runtime.sched.pidle lock".into(),
        PIDLE_COUNT => "runtime.sched.npidle (idle Ps)".into(),
        FWD_SIGSEGV => "runtime.fwdSig[SIGSEGV] (C's handler)".into(),
        _ => {
            return slot(EXTRAM_SLOTS, "runtime.extram")
                .or_else(|| slot(PIDLE_SLOTS, "runtime.sched.pidle"))
                .or_else(|| {
                    (C_GLOBALS..C_GLOBALS + 0x800)
                        .contains(&a)
                        .then(|| format!("C globals +{:#x}", a - C_GLOBALS))
                })
        }
    })
}

/// The name of a word the runtime keeps in `function`'s frame at `offset` from its SP after
/// its switch, in `release` (asmcgocall's `old g` and `depth`): the release's data.
pub fn frame_slot(release: super::GoRelease, function: &str, offset: u64) -> Option<&'static str> {
    release
        .release()
        .frame_slots
        .iter()
        .find(|s| s.function == function && s.offset == offset)
        .map(|s| s.name.as_str())
}
