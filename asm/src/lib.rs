//! Assemblers: Go's assembler syntax (as the runtime writes it) and Intel syntax, both
//! encoded by iced-x86, with source maps from every byte back to its line. The Go release
//! gives `go_asm.h` and the rules of the code Go's assembler inserts; the crate needs no
//! machine.
//!
//! ```
//! use asm::{assemble, Source, Syntax};
//! use go_release::GoRelease;
//! let src = "#include \"go_asm.h\"\n#include \"go_tls.h\"\n#include \"textflag.h\"\n\
//!            TEXT ·getg(SB), NOSPLIT, $0-8\n\tget_tls(CX)\n\tMOVQ g(CX), AX\n\tMOVQ AX, ret+0(FP)\n\tRET\n";
//! let files = std::collections::HashMap::from([("getg.s".to_string(), src.to_string())]);
//! let p = assemble(&[Source::new("getg.s", Syntax::Go, 0x40_0000)], GoRelease::named("1.14").unwrap(), &files).unwrap();
//! assert_eq!(p.instructions[0].intel, "mov rax, qword ptr fs:[0xfffffffffffffff8]");
//! assert_eq!(p.symbolize(0x40_0009).unwrap(), "runtime·getg+0x9");
//! ```

pub mod error;
pub mod go;
pub mod intel;
pub mod lex;
pub mod preprocess;
pub mod program;
pub mod select;
pub mod text;

pub use error::{AsmError, Pos};
pub use go::{FramePointer, GoAbi, GoOptions};
pub use go_release::GoRelease;
pub use preprocess::Loader;
pub use program::{Listed, Program, Symbol, TextDecl};

/// Which syntax a source file is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Syntax {
    /// Go's assembler (Plan 9) syntax.
    Go,
    /// Intel syntax, as iced's Intel formatter prints it.
    Intel,
}

/// A source file and where its code goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// Path, as the loader knows it.
    pub path: String,
    /// Syntax.
    pub syntax: Syntax,
    /// Address of its first byte.
    pub base: u64,
}

impl Source {
    /// A source file at `base`.
    pub fn new(path: &str, syntax: Syntax, base: u64) -> Source {
        Source {
            path: path.to_string(),
            syntax,
            base,
        }
    }
}

/// Assembles several files into one program; symbols resolve across files, and a symbol
/// that no file defines is an error.
pub fn assemble(
    sources: &[Source],
    release: GoRelease,
    loader: &dyn Loader,
) -> Result<Program, AsmError> {
    assemble_with(sources, &GoOptions::for_release(release), loader, false)
}

/// Assembles for a listing: like [`assemble`], but symbols no file defines resolve to
/// address 0 and are listed in [`Program::undefined`], as an object file leaves them.
pub fn assemble_listing(
    sources: &[Source],
    release: GoRelease,
    loader: &dyn Loader,
) -> Result<Program, AsmError> {
    assemble_with(sources, &GoOptions::for_release(release), loader, true)
}

/// Like [`assemble_listing`], with Go's assembler run as `options` say: its package, the
/// macros `go build` predefines, the include folders, its `go_asm.h` and the rules of the
/// code it inserts. Releases the model does not hold (go1.19, go1.27) are assembled so.
pub fn assemble_listing_with(
    sources: &[Source],
    options: &GoOptions,
    loader: &dyn Loader,
) -> Result<Program, AsmError> {
    assemble_with(sources, options, loader, true)
}

/// Like [`assemble`], with Go's assembler run as `options` say (its package, include
/// folders, `go_asm.h` and inserted-code rules); a symbol no file defines is an error.
pub fn assemble_with_options(
    sources: &[Source],
    options: &GoOptions,
    loader: &dyn Loader,
) -> Result<Program, AsmError> {
    assemble_with(sources, options, loader, false)
}

fn assemble_with(
    sources: &[Source],
    options: &GoOptions,
    loader: &dyn Loader,
    allow_undefined: bool,
) -> Result<Program, AsmError> {
    let builtins = go::builtin_headers(&options.go_asm_h);
    let mut units = Vec::new();
    for s in sources {
        let text = loader.load(&s.path).ok_or_else(|| {
            AsmError::new(
                Pos {
                    file: s.path.clone(),
                    line: 0,
                    col: 0,
                },
                "cannot read the file",
            )
        })?;
        let items = match s.syntax {
            Syntax::Go => {
                let mut pp = preprocess::Preprocessor::new(loader, &builtins);
                pp.include_dirs(&options.include);
                for (name, value) in &options.defines {
                    pp.predefine(name, value);
                }
                let lines = pp.file(&s.path, &text)?;
                go::lower(&lines, options)?
            }
            Syntax::Intel => intel::lower(&s.path, &text)?,
        };
        units.push(program::Unit {
            base: s.base,
            items,
        });
    }
    program::link(&units, allow_undefined)
}
