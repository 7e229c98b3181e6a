//! Loading an ELF executable as Linux's `fs/binfmt_elf.c` does (`load_elf_binary`): its
//! PT_LOAD segments with their bss, the program interpreter of a dynamically linked
//! program (PT_INTERP), and the initial stack `create_elf_tables` builds: argc, argv,
//! envp and the auxiliary vector.

use crate::vm::{page_up, MMAP_BASE};
use machine::memory::PAGE_SIZE;
use machine::Machine;
use object::elf::{self, FileHeader64, ProgramHeader64};
use object::read::elf::{FileHeader, ProgramHeader};
use object::LittleEndian as LE;

/// Where a position-independent executable goes (`ELF_ET_DYN_BASE`, 2/3 of the 47-bit
/// address space, page-aligned), with address randomisation off.
pub const PIE_BASE: u64 = 0x5555_5555_4000;
/// One past the top of the main thread's stack (`STACK_TOP` with randomisation off).
pub const STACK_TOP: u64 = 0x7fff_ffff_f000;
/// The main thread's stack: the default `RLIMIT_STACK` of 8 MiB.
pub const STACK_SIZE: u64 = 8 << 20;

/// Why an executable could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// Not an ELF file the machine can run.
    #[error("not a linux/amd64 ELF executable: {0}")]
    NotElf(String),
    /// A segment does not fit or overlaps another.
    #[error("cannot map segment at {addr:#x}: {why}")]
    Segment {
        /// The segment's address.
        addr: u64,
        /// Why.
        why: String,
    },
    /// PT_INTERP names a loader the file view does not have.
    #[error("program interpreter {0} not found")]
    Interpreter(String),
    /// The arguments and environment do not fit the stack.
    #[error("arguments and environment do not fit the stack")]
    TooBig,
}

/// One loaded ELF image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// The load bias (0 for ET_EXEC).
    pub base: u64,
    /// Its entry point, biased.
    pub entry: u64,
    /// Where its program headers are in memory.
    pub phdr: u64,
    /// Their number.
    pub phnum: u64,
    /// One past its highest segment byte, rounded to a page: where `brk` starts.
    pub end: u64,
    /// PT_INTERP's path, if any.
    pub interp: Option<String>,
    /// Whether the stack is to be executable (PT_GNU_STACK with PF_X, or no PT_GNU_STACK).
    pub exec_stack: bool,
}

fn not_elf(e: impl std::fmt::Display) -> LoadError {
    LoadError::NotElf(e.to_string())
}

/// Loads the image in `bytes`; `dyn_base` is where an ET_DYN image goes.
pub fn load_image(
    m: &mut Machine,
    bytes: &[u8],
    dyn_base: u64,
    name: &str,
) -> Result<Image, LoadError> {
    let h = FileHeader64::<LE>::parse(bytes).map_err(not_elf)?;
    let e = h.endian().map_err(not_elf)?;
    if h.e_machine(e) != elf::EM_X86_64 {
        return Err(not_elf(format!("machine {} is not x86-64", h.e_machine(e))));
    }
    let base = match h.e_type(e) {
        elf::ET_EXEC => 0,
        elf::ET_DYN => dyn_base,
        t => return Err(not_elf(format!("ELF type {t} is not an executable"))),
    };
    let phs: &[ProgramHeader64<LE>] = h.program_headers(e, bytes).map_err(not_elf)?;
    let mut image = Image {
        base,
        entry: base.wrapping_add(h.e_entry(e)),
        phdr: 0,
        phnum: phs.len() as u64,
        end: 0,
        interp: None,
        exec_stack: true,
    };
    let mut first_load: Option<&ProgramHeader64<LE>> = None;
    let mut mapped_to = 0u64;
    for ph in phs {
        match ph.p_type(e) {
            elf::PT_LOAD => {
                first_load.get_or_insert(ph);
                mapped_to = load_segment(m, bytes, ph, base, mapped_to, name)?;
                image.end = image.end.max(mapped_to);
            }
            elf::PT_INTERP => {
                let path = ph
                    .interpreter(e, bytes)
                    .map_err(not_elf)?
                    .ok_or_else(|| not_elf("empty PT_INTERP"))?;
                image.interp = Some(String::from_utf8_lossy(path).into_owned());
            }
            elf::PT_PHDR => image.phdr = base.wrapping_add(ph.p_vaddr(e)),
            elf::PT_GNU_STACK => image.exec_stack = ph.p_flags(e) & elf::PF_X != 0,
            // PT_TLS is libc's (or Go's runtime's) to set up; PT_DYNAMIC the loader's.
            _ => {}
        }
    }
    let first = first_load.ok_or_else(|| not_elf("no PT_LOAD segment"))?;
    if image.phdr == 0 {
        // Without PT_PHDR the headers are where the first segment maps their file offset
        // (binfmt_elf.c: phdr_addr = e_phoff - p_offset + p_vaddr).
        image.phdr = base
            .wrapping_add(first.p_vaddr(e))
            .wrapping_sub(first.p_offset(e))
            .wrapping_add(h.e_phoff(e));
    }
    Ok(image)
}

/// Maps one PT_LOAD segment; `mapped_to` is where the previous one ended, so a page two
/// segments share is mapped once with both permissions. Returns where this one ends.
fn load_segment(
    m: &mut Machine,
    bytes: &[u8],
    ph: &ProgramHeader64<LE>,
    base: u64,
    mapped_to: u64,
    name: &str,
) -> Result<u64, LoadError> {
    let e = LE;
    let vaddr = base.wrapping_add(ph.p_vaddr(e));
    let memsz = ph.p_memsz(e);
    let seg_err = |why: String| LoadError::Segment { addr: vaddr, why };
    let data = ph
        .data(e, bytes)
        .map_err(|_| seg_err("file range out of bounds".into()))?;
    if (data.len() as u64) > memsz {
        return Err(seg_err("p_filesz is larger than p_memsz".into()));
    }
    let lo = vaddr & !(PAGE_SIZE - 1);
    let hi = vaddr
        .checked_add(memsz)
        .and_then(page_up)
        .ok_or_else(|| seg_err("segment wraps the address space".into()))?;
    let flags = ph.p_flags(e);
    let prot = (if flags & elf::PF_R != 0 { 1 } else { 0 })
        | (if flags & elf::PF_W != 0 { 2 } else { 0 })
        | (if flags & elf::PF_X != 0 { 4 } else { 0 });
    let start = lo.max(mapped_to);
    if start > lo {
        // The shared page keeps the union of both segments' rights.
        let shared_prot = prot | m.memory().perm_of(lo).map_or(0, crate::vm::prot);
        m.protect(lo, PAGE_SIZE, crate::vm::perm(shared_prot))
            .map_err(|e| seg_err(format!("{e:?}")))?;
    }
    if hi > start {
        m.map(start, hi - start, crate::vm::perm(prot), name)
            .map_err(|e| seg_err(e.to_string()))?;
    }
    m.poke(vaddr, data).map_err(|e| seg_err(format!("{e:?}")))?;
    Ok(hi.max(mapped_to))
}

/// The auxiliary vector's keys (`include/uapi/linux/auxvec.h`).
#[allow(missing_docs)]
pub mod at {
    pub const NULL: u64 = 0;
    pub const PHDR: u64 = 3;
    pub const PHENT: u64 = 4;
    pub const PHNUM: u64 = 5;
    pub const PAGESZ: u64 = 6;
    pub const BASE: u64 = 7;
    pub const FLAGS: u64 = 8;
    pub const ENTRY: u64 = 9;
    pub const UID: u64 = 11;
    pub const EUID: u64 = 12;
    pub const GID: u64 = 13;
    pub const EGID: u64 = 14;
    pub const PLATFORM: u64 = 15;
    pub const HWCAP: u64 = 16;
    pub const CLKTCK: u64 = 17;
    pub const SECURE: u64 = 23;
    pub const RANDOM: u64 = 25;
    pub const HWCAP2: u64 = 26;
    pub const EXECFN: u64 = 31;
}

/// `AT_HWCAP` on x86 is CPUID leaf 1's EDX (`arch/x86/include/asm/elf.h` ELF_HWCAP): what
/// the machine's own CPUID reports.
pub fn hwcap() -> u64 {
    machine::machine::cpuid(1, 0)[3] as u64
}
/// `AT_CLKTCK`: `USER_HZ`.
pub const CLKTCK: u64 = 100;
/// The user and group ids the process has.
pub const UID: u64 = 1000;

/// What the initial stack holds besides argv and envp.
pub struct StackInfo<'a> {
    /// The main executable.
    pub exe: &'a Image,
    /// The interpreter's base (AT_BASE), 0 for a static program.
    pub interp_base: u64,
    /// The 16 bytes AT_RANDOM points at.
    pub random: [u8; 16],
    /// AT_EXECFN: the path the program was started as.
    pub execfn: &'a str,
}

/// Builds the initial stack below [`STACK_TOP`] (`create_elf_tables`) and returns the
/// initial RSP, which points at argc.
pub fn build_stack(
    m: &mut Machine,
    argv: &[String],
    envp: &[String],
    info: &StackInfo,
) -> Result<u64, LoadError> {
    let mut image: Vec<u8> = Vec::new();
    let mut sp = STACK_TOP - 8; // bprm->p starts one pointer below the top
    let put = |image: &mut Vec<u8>, sp: &mut u64, b: &[u8]| -> u64 {
        *sp -= b.len() as u64;
        image.splice(0..0, b.iter().copied());
        *sp
    };
    // Strings, as `copy_strings` leaves them: the file name highest, then envp, then argv.
    let cstr = |s: &str| {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        v
    };
    let execfn = put(&mut image, &mut sp, &cstr(info.execfn));
    let mut env_addrs: Vec<u64> = envp
        .iter()
        .rev()
        .map(|s| put(&mut image, &mut sp, &cstr(s)))
        .collect();
    env_addrs.reverse();
    let mut arg_addrs: Vec<u64> = argv
        .iter()
        .rev()
        .map(|s| put(&mut image, &mut sp, &cstr(s)))
        .collect();
    arg_addrs.reverse();
    if STACK_TOP - sp > STACK_SIZE / 4 {
        // Linux limits argument strings to a quarter of the stack limit (fs/exec.c).
        return Err(LoadError::TooBig);
    }
    let strings_lo = sp;
    m.poke(strings_lo, &image).map_err(|_| LoadError::TooBig)?;
    // create_elf_tables: align, then the platform string and the random bytes.
    let mut p = strings_lo & !15;
    p -= 7;
    let platform = p;
    m.poke(platform, b"x86_64\0")
        .map_err(|_| LoadError::TooBig)?;
    p -= 16;
    let random = p;
    m.poke(random, &info.random)
        .map_err(|_| LoadError::TooBig)?;
    let exe = info.exe;
    let auxv: Vec<(u64, u64)> = vec![
        (at::HWCAP, hwcap()),
        (at::PAGESZ, PAGE_SIZE),
        (at::CLKTCK, CLKTCK),
        (at::PHDR, exe.phdr),
        (at::PHENT, 56),
        (at::PHNUM, exe.phnum),
        (at::BASE, info.interp_base),
        (at::FLAGS, 0),
        (at::ENTRY, exe.entry),
        (at::UID, UID),
        (at::EUID, UID),
        (at::GID, UID),
        (at::EGID, UID),
        (at::SECURE, 0),
        (at::RANDOM, random),
        (at::HWCAP2, 0),
        (at::EXECFN, execfn),
        (at::PLATFORM, platform),
        (at::NULL, 0),
    ];
    let mut words: Vec<u64> = vec![argv.len() as u64];
    words.extend(&arg_addrs);
    words.push(0);
    words.extend(&env_addrs);
    words.push(0);
    for (k, v) in auxv {
        words.extend([k, v]);
    }
    // STACK_ROUND: argc ends up 16-byte aligned.
    let rsp = (p - 8 * words.len() as u64) & !15;
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    m.poke(rsp, &bytes).map_err(|_| LoadError::TooBig)?;
    Ok(rsp)
}

/// Where the interpreter of a dynamically linked program goes: top-down below
/// [`MMAP_BASE`], as `load_elf_interp` maps it with a non-fixed mmap.
pub fn interp_base(mem: &machine::Memory, bytes: &[u8]) -> Result<u64, LoadError> {
    let h = FileHeader64::<LE>::parse(bytes).map_err(not_elf)?;
    let phs: &[ProgramHeader64<LE>] = h.program_headers(LE, bytes).map_err(not_elf)?;
    let span = phs
        .iter()
        .filter(|p| p.p_type(LE) == elf::PT_LOAD)
        .map(|p| p.p_vaddr(LE).saturating_add(p.p_memsz(LE)))
        .max()
        .and_then(page_up)
        .ok_or_else(|| not_elf("interpreter has no PT_LOAD"))?;
    mem.find_free(span, MMAP_BASE)
        .ok_or_else(|| not_elf("no room for the interpreter"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn hwcap_is_the_machines_sse2_baseline() {
        let h = super::hwcap();
        // FPU, CMOV, FXSR, SSE, SSE2 (CPUID.1:EDX bits 0, 15, 24, 25, 26).
        for bit in [0, 15, 24, 25, 26] {
            assert_ne!(h & 1 << bit, 0, "bit {bit} of {h:#x}");
        }
    }
}
