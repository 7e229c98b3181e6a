//! Names from a Go executable itself.
//!
//! A Go binary carries everything a debugger needs to name what runs in it, without any
//! table of ours: the *pclntab* (the runtime's own symbol table, which `runtime.Callers`,
//! panics and the profiler read) gives, for any PC, the function, its file and line, the
//! stack pointer's distance from the frame's top and the functions inlined there; the
//! *DWARF* the linker writes gives the layouts of the runtime's structures (`runtime.g`,
//! `runtime.m`, `runtime.gobuf`, …); the *build info* blob gives the Go release.
//!
//! [`Binary::parse`] takes the file's bytes (no file system: the crate builds for
//! wasm32-unknown-unknown, where the page hands it a dropped file) and every reader returns
//! an [`Error`] on malformed input instead of panicking.
//!
//! ```no_run
//! # fn demo(bytes: &[u8]) -> Result<(), gobin::Error> {
//! let bin = gobin::Binary::parse(bytes)?;
//! let asmcgocall = bin.function_named("runtime.asmcgocall").expect("a Go binary has it");
//! let here = bin.location(asmcgocall.entry)?;
//! println!("{} at {}:{}", here.function.name, here.file, here.line);
//! let g = bin.struct_layout("runtime.g")?;
//! println!("g.sched at {}", g.field("sched").map_or(0, |f| f.offset));
//! # Ok(()) }
//! ```

mod buildinfo;
mod dwarf;
mod elf;
mod error;
mod pclntab;
mod reader;
#[cfg(any(test, feature = "synthetic"))]
#[doc(hidden)]
pub mod synthetic;
#[cfg(test)]
mod tests;

pub use dwarf::{Field, StructLayout};
pub use elf::ElfSymbol;
pub use error::Error;
pub use pclntab::{Frame, FuncFlags, Function, Location, PclnFormat};

use elf::Elf;
use pclntab::Pclntab;

/// A parsed Go executable: a 64-bit little-endian ELF file (linux/amd64 is the one tested).
#[derive(Debug, Clone)]
pub struct Binary {
    elf: Elf,
    go_version: Option<String>,
    pclntab: Pclntab,
}

impl Binary {
    /// Parses an ELF Go executable: its sections and ELF symbols, its pclntab and its Go
    /// version. DWARF is read on demand by [`Binary::struct_layout`], so a binary built with
    /// `-ldflags=-w` parses and only the layouts are missing.
    pub fn parse(data: &[u8]) -> Result<Binary, Error> {
        let elf = Elf::parse(data)?;
        let go_version = buildinfo::go_version(&elf);
        let pclntab = Pclntab::find(&elf, go_version.as_deref())?;
        Ok(Binary {
            elf,
            go_version,
            pclntab,
        })
    }

    /// The Go release that built the binary (`go1.24.3`), from the build info blob
    /// (`\xff Go buildinf:`, runtime/debug and cmd/go/internal/version), or `None` when the
    /// binary has none that reads.
    pub fn go_version(&self) -> Option<&str> {
        self.go_version.as_deref()
    }

    /// Which pclntab layout the binary uses (its header's magic).
    pub fn pclntab_format(&self) -> PclnFormat {
        self.pclntab.format()
    }

    /// The address function entries are offsets from: `moduledata.text`, the start of Go's
    /// own text (in an externally linked binary C code comes before it).
    pub fn text_start(&self) -> u64 {
        self.pclntab.text_start()
    }

    /// Every function the pclntab knows, in address order.
    pub fn functions(&self) -> &[Function] {
        self.pclntab.functions()
    }

    /// The Go function whose code holds `pc`, if any.
    pub fn function_at(&self, pc: u64) -> Option<&Function> {
        self.pclntab.function_at(pc)
    }

    /// The file, line, stack-pointer delta and inlined frames of `pc`, which must lie in a
    /// Go function ([`Error::NoFunction`] otherwise; use [`Binary::elf_symbol_at`] for C).
    pub fn location(&self, pc: u64) -> Result<Location, Error> {
        self.pclntab.location(&self.elf, pc)
    }

    /// The address of symbol `name` as `go tool nm` lists it: the ELF symbol of that name
    /// (where `runtime.asmcgocall` is the ABIInternal wrapper and `runtime.asmcgocall.abi0`
    /// the assembly body, C functions of a cgo binary, data such as `runtime.g0`), and in a
    /// binary without `.symtab` the pclntab's function ([`Binary::function_named`]).
    pub fn symbol(&self, name: &str) -> Option<u64> {
        self.elf
            .symbol(name)
            .map(|s| s.address)
            .or_else(|| self.pclntab.function_named(name).map(|f| f.entry))
    }

    /// The Go function named `name` (`runtime.asmcgocall`; a `.abi0` suffix is ignored):
    /// the body the runtime means, never the ABI wrapper that shares its name.
    pub fn function_named(&self, name: &str) -> Option<&Function> {
        self.pclntab.function_named(name)
    }

    /// The ELF symbols (`.symtab`), in address order; empty for a stripped binary.
    pub fn elf_symbols(&self) -> &[ElfSymbol] {
        self.elf.symbols()
    }

    /// The ELF function symbol whose range holds `pc`: the names of non-Go code (glibc and
    /// the cgo glue in a static cgo binary), which the pclntab does not cover.
    pub fn elf_symbol_at(&self, pc: u64) -> Option<&ElfSymbol> {
        self.elf.function_at(pc)
    }

    /// A name for any address, as a debugger writes `runtime.m0+16`: the Go function
    /// holding it, else the ELF symbol (code or data) whose range holds it; with the
    /// offset from that name's start.
    pub fn name_of(&self, address: u64) -> Option<(&str, u64)> {
        if let Some(f) = self.pclntab.function_at(address) {
            return Some((&f.name, address - f.entry));
        }
        self.elf
            .symbol_at(address)
            .map(|s| (s.name.as_str(), address - s.address))
    }

    /// The layout of the struct type `name` (`runtime.g`) from the binary's DWARF:
    /// [`Error::NoDwarf`] for a binary built without it, [`Error::NoType`] when it has no
    /// such struct.
    pub fn struct_layout(&self, name: &str) -> Result<StructLayout, Error> {
        dwarf::struct_layout(&self.elf, name)
    }

    /// The layouts of those of `names` the DWARF has, in the order found, in one pass (the
    /// DWARF is inflated once): [`Error::NoDwarf`] for a binary built without it.
    pub fn struct_layouts(&self, names: &[&str]) -> Result<Vec<StructLayout>, Error> {
        dwarf::struct_layouts(&self.elf, names)
    }
}
