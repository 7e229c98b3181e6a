//! CPUID: the one CPU the machine is (SDM Vol. 2A, CPUID, Tables 3-8 and 3-17).
//!
//! It is an x86-64 baseline processor (the "x86-64" level of the psABI): SSE and SSE2,
//! FXSAVE, CMOV, CX8, plus the two extras the machine implements, CMPXCHG16B and POPCNT.
//! It has no SSE3/SSSE3/SSE4, no AVX, AVX2 or AVX-512, no AES, no BMI1/BMI2/LZCNT, no ERMS,
//! no RDTSCP and no XSAVE: with OSXSAVE clear, XGETBV is #UD and software must not ask
//! for AVX state. The vendor is "GenuineIntel" so that glibc reads its cache sizes from
//! leaves 2 and 4 (which the table fills in) rather than guessing.
//!
//! What the programs then do, from their source:
//! - Go's `internal/cpu` (cpu_x86.go, `doinit`): HasSSE2, HasPOPCNT and HasCX16 are true,
//!   every AVX, AES, SSE3/SSSE3/SSE4, BMI and ERMS flag false, and HasRDTSCP false. So the
//!   runtime hashes with `memhashFallback` (not AES, alg.go `useAeshash`), `memmove` and
//!   `memclrNoHeapPointers` use their SSE paths (no AVX), `cputicks` runs LFENCE; RDTSC
//!   (asm_amd64.s, as `isIntel` is set), and `math/bits.OnesCount` uses POPCNT.
//! - glibc's `init_cpu_features` (sysdeps/x86/cpu-features.c) sees an Intel family 6 CPU
//!   without AVX, so its IFUNCs choose the `sse2` variants (`__memmove_sse2_unaligned`,
//!   `__strlen_sse2`, `__memset_sse2_unaligned`...), and `dl_init_cacheinfo` reads the
//!   caches below through leaf 2's 0xFF descriptor ("see leaf 4") and leaf 0xB.

/// Leaf 1 EAX: stepping 0, model 0xF, family 6 (family 6 is what glibc's Intel code
/// expects; the model is none that it tunes for).
const SIGNATURE: u32 = 0x0000_06f0;
/// Leaf 1 EBX: CLFLUSH line 8×8 = 64 bytes, one logical processor, APIC ID 0.
const BRAND_CLFLUSH_APIC: u32 = 8 << 8 | 1 << 16;

/// Leaf 1 ECX.
mod ecx1 {
    pub const CX16: u32 = 1 << 13;
    pub const POPCNT: u32 = 1 << 23;
}

/// Leaf 1 EDX: the x86-64 baseline (x87 and MMX are part of it and advertised, though the
/// machine stops with "unimplemented" on their instructions).
mod edx1 {
    pub const FPU: u32 = 1 << 0;
    pub const TSC: u32 = 1 << 4;
    pub const MSR: u32 = 1 << 5;
    pub const PAE: u32 = 1 << 6;
    pub const CX8: u32 = 1 << 8;
    pub const APIC: u32 = 1 << 9;
    pub const SEP: u32 = 1 << 11;
    pub const PGE: u32 = 1 << 13;
    pub const CMOV: u32 = 1 << 15;
    pub const PAT: u32 = 1 << 16;
    pub const CLFSH: u32 = 1 << 19;
    pub const MMX: u32 = 1 << 23;
    pub const FXSR: u32 = 1 << 24;
    pub const SSE: u32 = 1 << 25;
    pub const SSE2: u32 = 1 << 26;
}

/// Leaf 0x80000001 EDX.
mod edx_ext1 {
    pub const SYSCALL: u32 = 1 << 11;
    pub const NX: u32 = 1 << 20;
    pub const LM: u32 = 1 << 29;
}

/// The highest basic and extended leaves.
const MAX_BASIC: u32 = 0xb;
const MAX_EXTENDED: u32 = 0x8000_0008;

/// The brand string of leaves 0x80000002..4 (48 bytes, NUL padded).
const BRAND: &[u8] = b"stackswitch machine (emulated x86-64)";

/// Leaf 4, one sub-leaf per cache, then a null one: (type and level word, EBX, ECX).
/// EAX: type (1 data, 2 instruction, 3 unified) | level << 5 | self-initialising (bit 8);
/// EBX: (ways-1) << 22 | (partitions-1) << 12 | (line-1); ECX: sets-1. One core, one
/// thread. Sizes: 32 KiB L1d and L1i (8-way), 1 MiB L2 and 8 MiB L3 (16-way), 64-byte
/// lines.
const CACHES: [(u32, u32, u32); 4] = [
    (1 | 1 << 5 | 1 << 8, 7 << 22 | 63, 63),
    (2 | 1 << 5 | 1 << 8, 7 << 22 | 63, 63),
    (3 | 2 << 5 | 1 << 8, 15 << 22 | 63, 1023),
    (3 | 3 << 5 | 1 << 8, 15 << 22 | 63, 8191),
];

/// EAX, EBX, ECX, EDX for leaf `leaf`, sub-leaf `sub`.
pub fn leaf(leaf: u32, sub: u32) -> [u32; 4] {
    let le = |b: &[u8], i: usize| {
        let w = |k: usize| *b.get(i + k).unwrap_or(&0) as u32;
        w(0) | w(1) << 8 | w(2) << 16 | w(3) << 24
    };
    match leaf {
        // "GenuineIntel" in EBX, EDX, ECX.
        0 => [MAX_BASIC, le(b"Genu", 0), le(b"ntel", 0), le(b"ineI", 0)],
        1 => [
            SIGNATURE,
            BRAND_CLFLUSH_APIC,
            ecx1::CX16 | ecx1::POPCNT,
            edx1::FPU
                | edx1::TSC
                | edx1::MSR
                | edx1::PAE
                | edx1::CX8
                | edx1::APIC
                | edx1::SEP
                | edx1::PGE
                | edx1::CMOV
                | edx1::PAT
                | edx1::CLFSH
                | edx1::MMX
                | edx1::FXSR
                | edx1::SSE
                | edx1::SSE2,
        ],
        // One descriptor, 0xFF: "no descriptors here, use leaf 4"; AL = 1 (run once).
        2 => [0x0000_ff01, 0, 0, 0],
        4 => match CACHES.get(sub as usize) {
            Some(&(a, b, c)) => [a, b, c, 0],
            None => [0; 4],
        },
        // Leaf 7 sub-leaf 0: no extended features, and no further sub-leaves.
        7 => [0; 4],
        // Leaf 0xB: one thread at the SMT level, one core at the core level, x2APIC ID 0.
        0xb => match sub {
            0 => [0, 1, 1 << 8, 0],
            1 => [0, 1, 2 << 8 | 1, 0],
            _ => [0, 0, sub & 0xff, 0],
        },
        3 | 5 | 6 | 8 | 9 | 0xa => [0; 4],
        0x8000_0000 => [MAX_EXTENDED, 0, 0, 0],
        0x8000_0001 => [0, 0, 0, edx_ext1::SYSCALL | edx_ext1::NX | edx_ext1::LM],
        0x8000_0002..=0x8000_0004 => {
            let base = (leaf - 0x8000_0002) as usize * 16;
            [
                le(BRAND, base),
                le(BRAND, base + 4),
                le(BRAND, base + 8),
                le(BRAND, base + 12),
            ]
        }
        // L2 line size 64, 16-way (encoding 8), 1024 KiB, as leaf 4 says.
        0x8000_0006 => [0, 0, 64 | 8 << 12 | 1024 << 16, 0],
        // Physical and linear address sizes: 48 bits each.
        0x8000_0008 => [48 | 48 << 8, 0, 0, 0],
        0x8000_0005 | 0x8000_0007 => [0; 4],
        // Above the highest leaf of either range, Intel returns the highest basic leaf's
        // data (SDM Vol. 2A, CPUID, "INPUT EAX = 0"... note on invalid inputs).
        _ => self::leaf(MAX_BASIC, sub),
    }
}

/// The CPUID instruction: EAX and ECX select; the four registers are written as 32-bit
/// registers (their upper halves cleared).
pub fn cpuid(a: &mut crate::decode::Access, d: &crate::decode::Decoded) -> super::Next {
    use crate::cpu::{RAX, RBX, RCX, RDX};
    let r = leaf(a.cpu.gpr[RAX] as u32, a.cpu.gpr[RCX] as u32);
    for (idx, v) in [RAX, RBX, RCX, RDX].into_iter().zip(r) {
        a.cpu.gpr[idx] = v as u64;
    }
    Ok(d.next_ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(words: &[u32]) -> String {
        words
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .take_while(|&b| b != 0)
            .map(|b| b as char)
            .collect()
    }

    #[test]
    fn the_vendor_brand_and_features_are_the_documented_ones() {
        let l0 = leaf(0, 0);
        assert_eq!(text(&[l0[1], l0[3], l0[2]]), "GenuineIntel");
        let brand: Vec<u32> = (0x8000_0002..=0x8000_0004)
            .flat_map(|l| leaf(l, 0))
            .collect();
        assert_eq!(text(&brand), std::str::from_utf8(BRAND).unwrap());
        let l1 = leaf(1, 0);
        assert_ne!(l1[3] & edx1::SSE2, 0);
        assert_eq!(
            l1[2] & (1 << 27),
            0,
            "no OSXSAVE: software must not run XGETBV"
        );
        assert_eq!(l1[2] & (1 << 28), 0, "no AVX");
        assert_eq!(l1[2] & 1, 0, "no SSE3");
        assert_eq!(leaf(7, 0), [0; 4], "no BMI1, AVX2, ERMS");
        assert_eq!(leaf(0x8000_0008, 0)[0], 0x3030);
        // Out of range: the highest basic leaf.
        assert_eq!(leaf(0x42, 1), leaf(MAX_BASIC, 1));
        assert_eq!(leaf(0x8000_0042, 0), leaf(MAX_BASIC, 0));
    }

    #[test]
    fn leaf_4_describes_the_caches_glibc_sizes() {
        let size = |sub: u32| {
            let [_, b, c, _] = leaf(4, sub);
            ((b >> 22) + 1) * (((b >> 12) & 0x3ff) + 1) * ((b & 0xfff) + 1) * (c + 1)
        };
        assert_eq!(size(0), 32 << 10);
        assert_eq!(size(2), 1 << 20);
        assert_eq!(size(3), 8 << 20);
        assert_eq!(leaf(4, 4)[0] & 0x1f, 0, "a null cache ends the list");
    }
}
