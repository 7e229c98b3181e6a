//! What can go wrong reading a binary: every malformed or missing piece is one of these.

/// Why a binary, or a question about it, could not be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The bytes are not an ELF file the `object` crate reads.
    #[error("not a readable ELF file: {0}")]
    Elf(String),
    /// Only 64-bit little-endian binaries are read (every linux/amd64 Go binary is one).
    #[error("not a 64-bit little-endian ELF file")]
    NotElf64Le,
    /// Neither a `.gopclntab` section, nor `runtime.pclntab`, nor a pclntab header in the
    /// data: not a Go binary, or one of a release before Go 1.18.
    #[error("no Go pclntab (not a Go binary, or one built before Go 1.18)")]
    NoPclntab,
    /// The pclntab header's magic is not one this crate reads (0xfffffff0 of Go 1.18–1.19,
    /// 0xfffffff1 of Go 1.20 and later).
    #[error("unsupported pclntab magic {0:#x} (Go 1.18 and later are read)")]
    PclntabMagic(u32),
    /// A table points outside the data it lives in.
    #[error("truncated or malformed {0}")]
    Malformed(&'static str),
    /// The PC lies in no Go function.
    #[error("no Go function holds pc {0:#x}")]
    NoFunction(u64),
    /// The binary carries no DWARF (built with `-ldflags=-w` or stripped).
    #[error("no DWARF in this binary (built with -ldflags=-w, or stripped)")]
    NoDwarf,
    /// A DWARF section is compressed with a format this crate does not inflate.
    #[error("DWARF section {0} is compressed in a format other than zlib")]
    Compression(String),
    /// The DWARF could not be read.
    #[error("malformed DWARF: {0}")]
    Dwarf(String),
    /// The DWARF has no struct type of that name.
    #[error("no struct type {0} in the DWARF")]
    NoType(String),
}

impl From<gimli::Error> for Error {
    fn from(e: gimli::Error) -> Error {
        Error::Dwarf(e.to_string())
    }
}
