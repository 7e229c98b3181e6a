//! The runtime's globals in the model, and the minimal p: the same numbers as
//! `go-model/runtime/model.h`, which the runtime's assembly includes (a test below checks
//! that they agree). Go keeps the free extra Ms and the idle Ps in linked lists; the model
//! keeps each in a fixed-size array behind a spin lock, so that every field the code
//! touches has a layout from the facts file. The arrays' sizes are limits of the world a
//! spec may ask for ([`EXTRAM_CAPACITY`], [`PIDLE_CAPACITY`]): the assembly does not check
//! bounds, so the world builder refuses more rather than letting a table run into the
//! next global.

/// The extra-M list's lock word (0 free, 1 held).
pub const EXTRAM_LOCK: u64 = 0x60_0000;
/// How many extra Ms are free.
pub const EXTRAM_COUNT: u64 = 0x60_0008;
/// The extra M that `newextram` adds when a C thread's `needm` has emptied the list: the
/// model makes it with the world, and cgocallback puts it on the list (0 once it has).
pub const EXTRAM_SPARE: u64 = 0x60_0010;
/// The idle-P list's lock word.
pub const PIDLE_LOCK: u64 = 0x60_0080;
/// How many Ps are idle.
pub const PIDLE_COUNT: u64 = 0x60_0088;
/// How many Ps there are (`runtime.gomaxprocs`; `allp` holds them).
pub const ALLP_COUNT: u64 = 0x60_0090;
/// The SIGSEGV handler C installed before Go (0: none), which Go forwards to.
pub const FWD_SIGSEGV: u64 = 0x60_0100;
/// Pointers to the free extra Ms ([`EXTRAM_CAPACITY`] of them at most).
pub const EXTRAM_SLOTS: u64 = 0x60_0200;
/// How many pointers the extra-M table holds: every extra M of the world can be free at
/// once, so this bounds `world.extra_ms`.
pub const EXTRAM_CAPACITY: u64 = 64;
/// Pointers to the idle Ps ([`PIDLE_CAPACITY`] of them at most).
pub const PIDLE_SLOTS: u64 = 0x60_0400;
/// How many pointers the idle-P table holds: every P can be idle at once (each M gives
/// its P back), so this bounds `world.ps`.
pub const PIDLE_CAPACITY: u64 = 64;
/// Pointers to every P (`runtime.allp`), [`PIDLE_CAPACITY`] of them at most.
pub const ALLP_SLOTS: u64 = 0x60_0600;
/// Where C's global variables start (lessons' C code uses these addresses directly).
pub const C_GLOBALS: u64 = 0x60_0800;
/// Bytes of C globals, to the end of the globals page.
pub const C_GLOBALS_SIZE: u64 = 0x800;

// The tables must end before whatever follows them: a full table never touches the next
// global.
const _: () = assert!(EXTRAM_SLOTS > FWD_SIGSEGV);
const _: () = assert!(EXTRAM_SLOTS + 8 * EXTRAM_CAPACITY <= PIDLE_SLOTS);
const _: () = assert!(PIDLE_SLOTS + 8 * PIDLE_CAPACITY <= ALLP_SLOTS);
const _: () = assert!(ALLP_SLOTS + 8 * PIDLE_CAPACITY <= C_GLOBALS);

/// `p.id` (int32).
pub const P_ID: u64 = 0;
/// `p.status` (uint32).
pub const P_STATUS: u64 = 4;
/// The M a P is attached to (the model's field).
pub const P_M: u64 = 16;

/// Every name `model.h` defines, with its value.
pub const DEFINES: &[(&str, u64)] = &[
    ("extram_lock", EXTRAM_LOCK),
    ("extram_count", EXTRAM_COUNT),
    ("extram_spare", EXTRAM_SPARE),
    ("pidle_lock", PIDLE_LOCK),
    ("pidle_count", PIDLE_COUNT),
    ("allp_count", ALLP_COUNT),
    ("fwd_sigsegv", FWD_SIGSEGV),
    ("extram_slots", EXTRAM_SLOTS),
    ("extram_capacity", EXTRAM_CAPACITY),
    ("pidle_slots", PIDLE_SLOTS),
    ("pidle_capacity", PIDLE_CAPACITY),
    ("allp_slots", ALLP_SLOTS),
    ("c_globals", C_GLOBALS),
    ("p_id", P_ID),
    ("p_status", P_STATUS),
    ("p_m", P_M),
];

/// Words for an address among the globals.
pub fn global_name(a: u64) -> Option<String> {
    let slot = |base: u64, capacity: u64, what: &str| {
        (base..base + 8 * capacity)
            .contains(&a)
            .then(|| format!("{what}[{}]", (a - base) / 8))
    };
    Some(match a {
        EXTRAM_LOCK => "runtime.extram lock".into(),
        EXTRAM_COUNT => "runtime.extram count (free extra Ms)".into(),
        EXTRAM_SPARE => "the extra M newextram makes next".into(),
        PIDLE_LOCK => "runtime.sched.pidle lock".into(),
        PIDLE_COUNT => "runtime.sched.npidle (idle Ps)".into(),
        ALLP_COUNT => "runtime.gomaxprocs (Ps)".into(),
        FWD_SIGSEGV => "runtime.fwdSig[SIGSEGV] (C's handler)".into(),
        _ => {
            return slot(EXTRAM_SLOTS, EXTRAM_CAPACITY, "runtime.extram")
                .or_else(|| slot(PIDLE_SLOTS, PIDLE_CAPACITY, "runtime.sched.pidle"))
                .or_else(|| slot(ALLP_SLOTS, PIDLE_CAPACITY, "runtime.allp"))
                .or_else(|| {
                    (C_GLOBALS..C_GLOBALS + C_GLOBALS_SIZE)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `model.h` is what the assembly reads; [`DEFINES`] is what Rust reads. Every
    /// `#define` of the header is in the table with the same value, and the other way
    /// round.
    #[test]
    fn model_h_agrees_with_the_constants() {
        let header = include_str!("../runtime/model.h");
        let mut defined: Vec<(String, u64)> = Vec::new();
        for line in header.lines() {
            let Some(rest) = line.strip_prefix("#define") else {
                continue;
            };
            let mut words = rest.split_whitespace();
            let (Some(name), Some(value)) = (words.next(), words.next()) else {
                panic!("model.h: a #define without a value: {line:?}");
            };
            let value = match value.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => value.parse(),
            }
            .unwrap_or_else(|e| panic!("model.h: {line:?}: {e}"));
            defined.push((name.to_string(), value));
        }
        let table: Vec<(String, u64)> = DEFINES.iter().map(|&(n, v)| (n.to_string(), v)).collect();
        assert_eq!(defined, table);
    }

    #[test]
    fn full_tables_are_named_slot_by_slot() {
        let last = PIDLE_SLOTS + 8 * (PIDLE_CAPACITY - 1);
        assert_eq!(
            global_name(last).as_deref(),
            Some("runtime.sched.pidle[63]")
        );
        assert_eq!(
            global_name(EXTRAM_SLOTS + 8 * (EXTRAM_CAPACITY - 1)).as_deref(),
            Some("runtime.extram[63]")
        );
        assert_eq!(
            global_name(FWD_SIGSEGV).as_deref(),
            Some("runtime.fwdSig[SIGSEGV] (C's handler)")
        );
    }
}
