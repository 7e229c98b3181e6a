//! Malformed and truncated ELF executables load or give a `linux::LoadError`, never a
//! panic; what loads runs a few thousand steps and ends in an `Outcome`.
//!
//! Bytes that start with the ELF magic are the file as they are. Any other bytes edit a
//! tiny valid executable the target writes itself (an ELF header, a PT_LOAD and a
//! PT_GNU_STACK program header, and `exit(0)`), so most mutations land in the header and
//! program-header fields the loader reads: the first two bytes say where to cut the file,
//! then each three bytes are an offset (two bytes) and the byte to put there.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// Where the tiny executable is linked (an ET_EXEC, as Go's static binaries are).
const BASE: u64 = 0x40_0000;
/// ELF header and program header sizes (ELF-64 object file format, 1.5).
const EHDR: usize = 64;
const PHDR: usize = 56;

/// `mov eax, 60; xor edi, edi; syscall`: exit(0).
const EXIT_0: [u8; 9] = [0xb8, 0x3c, 0x00, 0x00, 0x00, 0x31, 0xff, 0x0f, 0x05];

fn tiny_elf() -> Vec<u8> {
    let code_at = EHDR + 2 * PHDR;
    let size = (code_at + EXIT_0.len()) as u64;
    let mut f = Vec::with_capacity(size as usize);
    // e_ident: magic, ELFCLASS64, ELFDATA2LSB, EV_CURRENT, System V ABI, padding.
    f.extend_from_slice(b"\x7fELF\x02\x01\x01\x00");
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&2u16.to_le_bytes()); // e_type: ET_EXEC
    f.extend_from_slice(&62u16.to_le_bytes()); // e_machine: EM_X86_64
    f.extend_from_slice(&1u32.to_le_bytes()); // e_version
    f.extend_from_slice(&(BASE + code_at as u64).to_le_bytes()); // e_entry
    f.extend_from_slice(&(EHDR as u64).to_le_bytes()); // e_phoff
    f.extend_from_slice(&0u64.to_le_bytes()); // e_shoff: no sections
    f.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    f.extend_from_slice(&(EHDR as u16).to_le_bytes()); // e_ehsize
    f.extend_from_slice(&(PHDR as u16).to_le_bytes()); // e_phentsize
    f.extend_from_slice(&2u16.to_le_bytes()); // e_phnum
    f.extend_from_slice(&[0; 6]); // e_shentsize, e_shnum, e_shstrndx
                                  // PT_LOAD, R+X: the whole file at BASE, a page of bss after it.
    program_header(&mut f, 1, 5, 0, BASE, size, size + 0x1000);
    // PT_GNU_STACK, RW: a stack that is not executable.
    program_header(&mut f, 0x6474_e551, 6, 0, 0, 0, 0);
    f.extend_from_slice(&EXIT_0);
    f
}

fn program_header(
    f: &mut Vec<u8>,
    kind: u32,
    flags: u32,
    off: u64,
    vaddr: u64,
    filesz: u64,
    memsz: u64,
) {
    f.extend_from_slice(&kind.to_le_bytes());
    f.extend_from_slice(&flags.to_le_bytes());
    for word in [off, vaddr, vaddr, filesz, memsz, 0x1000] {
        f.extend_from_slice(&word.to_le_bytes());
    }
}

fn edited(data: &[u8]) -> Vec<u8> {
    let mut f = tiny_elf();
    let Some((cut, edits)) = data.split_first_chunk::<2>() else {
        return f;
    };
    for e in edits.chunks_exact(3) {
        let at = u16::from_le_bytes([e[0], e[1]]) as usize % f.len();
        f[at] = e[2];
    }
    let keep = u16::from_le_bytes(*cut) as usize;
    if keep < f.len() {
        f.truncate(keep);
    }
    f
}

fuzz_target!(|data: &[u8]| {
    let file = if data.starts_with(b"\x7fELF") {
        data.to_vec()
    } else {
        edited(data)
    };
    let config = linux::Config {
        argv: vec!["/fuzz/prog".into()],
        exe_path: "/fuzz/prog".into(),
        ..linux::Config::default()
    };
    let loaded = linux::Process::load(&file, config);
    if data.is_empty() {
        // The untouched seed is a valid executable: it must load and exit 0.
        let mut p = loaded.expect("the tiny executable loads");
        assert_eq!(p.run(5_000), linux::Outcome::Exited(0));
        return;
    }
    let Ok(mut p) = loaded else {
        return;
    };
    p.set_history(false);
    let _ = p.run(5_000);
});
