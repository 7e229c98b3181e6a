//! The test file: which sources, which release, which functions with which cases. Read
//! once with every field's span kept, so that each mistake is reported as
//! `file:line:col: field: what`, never as a panic.
//!
//! ```toml
//! sources = ["funcs_amd64.s"]   # relative to this file; `.asm` files are Intel syntax (C)
//! go = "1.24"                   # optional: the release (the newest when absent)
//! package = "asmtest"           # optional: the Go package `·name` belongs to ("main")
//! max_steps = 100000            # optional: each case's budget
//!
//! [[func]]
//! name = "sum"                  # TEXT ·sum(SB)
//! signature = "func sum(xs []uint64) uint64"
//! cases = [
//!   { args = [[1, 2, 3, 40]], want = [46] },
//!   { name = "empty", args = [[]], want = [0] },
//! ]
//! ```

use crate::sig::{self, Signature, Type};
use serde::Deserialize;
use std::fmt;
use std::ops::Range;
use toml::Spanned;

/// A value of a parameter or result, resolved against its type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A scalar's bits (bool, integers, floats, unsafe.Pointer), zero-extended.
    Word(u64),
    /// A string's bytes.
    Str(Vec<u8>),
    /// A slice's or array's elements, or a struct's fields.
    List(Vec<Value>),
    /// What a pointer points at (placed in the heap region); `None` is nil.
    Ptr(Option<Box<Value>>),
}

/// A mistake in a test file, located.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecError {
    /// The test file.
    pub file: String,
    /// Line, from 1 (0 when the whole file is at fault, e.g. it cannot be read).
    pub line: usize,
    /// Column, from 1.
    pub col: usize,
    /// The field (`func[1].cases[2].want[0]`), or what the mistake is in.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file, self.line, self.col, self.field, self.message
        )
    }
}

impl std::error::Error for SpecError {}

/// Where the test file says to run: its sources and settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestFile {
    /// The file's path, as given.
    pub path: String,
    /// Source paths, relative to the test file, with their line in the test file.
    pub sources: Vec<(String, usize)>,
    /// The release named by `go`, if any.
    pub go: Option<String>,
    /// The Go package of the sources' `·name` symbols.
    pub package: String,
    /// Each case's step budget, if the file sets one.
    pub max_steps: Option<u64>,
    /// The functions to run.
    pub funcs: Vec<Func>,
}

/// One function under test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Func {
    /// `sum` (the symbol is `package·sum`).
    pub name: String,
    /// Its declaration.
    pub signature: Signature,
    /// Where `name` is written in the test file (line), for errors about it.
    pub line: usize,
    /// Its cases.
    pub cases: Vec<Case>,
}

/// One call with its arguments and the results it must give.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// `case-1`, or the name the file gives.
    pub name: String,
    /// One value per parameter.
    pub args: Vec<Value>,
    /// One value per result, when the case checks them.
    pub want: Option<Vec<Value>>,
    /// The case's own step budget.
    pub max_steps: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WrittenFile {
    sources: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    go: Option<Spanned<String>>,
    #[serde(default)]
    package: Option<Spanned<String>>,
    #[serde(default)]
    max_steps: Option<Spanned<i64>>,
    #[serde(default, rename = "func")]
    funcs: Vec<Spanned<WrittenFunc>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WrittenFunc {
    name: Spanned<String>,
    signature: Spanned<String>,
    #[serde(default)]
    cases: Vec<Spanned<WrittenCase>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WrittenCase {
    #[serde(default)]
    name: Option<Spanned<String>>,
    #[serde(default)]
    args: Option<Spanned<Vec<Spanned<toml::Value>>>>,
    #[serde(default)]
    want: Option<Spanned<Vec<Spanned<toml::Value>>>>,
    #[serde(default)]
    max_steps: Option<Spanned<i64>>,
}

/// The most source files a test file may name (each has 1 MiB of the address space).
pub const MAX_SOURCES: usize = 64;

/// The most steps a case may ask for.
pub const MAX_STEPS_LIMIT: u64 = 1_000_000_000;

pub use go_release::line_col;

struct Ctx<'a> {
    path: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    fn error(&self, span: Range<usize>, field: &str, message: impl Into<String>) -> SpecError {
        let (line, col) = line_col(self.text, span.start);
        SpecError {
            file: self.path.to_string(),
            line,
            col,
            field: field.to_string(),
            message: message.into(),
        }
    }
}

/// Reads a test file's text. `path` names it in errors.
pub fn parse(path: &str, text: &str) -> Result<TestFile, SpecError> {
    let cx = Ctx { path, text };
    let written: WrittenFile = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let message = e.message().trim().to_string();
        // serde names the field in its message; say which table the mistake is in.
        let field = if message.contains("missing field") || message.contains("unknown field") {
            "field"
        } else {
            "toml"
        };
        cx.error(span, field, message)
    })?;
    let sources = written
        .sources
        .get_ref()
        .iter()
        .map(|s| (s.get_ref().clone(), line_col(text, s.span().start).0))
        .collect::<Vec<_>>();
    if sources.is_empty() {
        return Err(cx.error(written.sources.span(), "sources", "names no source file"));
    }
    if sources.len() > MAX_SOURCES {
        return Err(cx.error(
            written.sources.span(),
            "sources",
            format!("{} files: at most {MAX_SOURCES}", sources.len()),
        ));
    }
    for (s, (name, _)) in written.sources.get_ref().iter().zip(&sources) {
        if name.trim().is_empty() {
            return Err(cx.error(s.span(), "sources", "an empty path"));
        }
    }
    let steps = |v: &Spanned<i64>, field: &str| -> Result<u64, SpecError> {
        let n = *v.get_ref();
        if n < 1 || n as u64 > MAX_STEPS_LIMIT {
            return Err(cx.error(
                v.span(),
                field,
                format!("{n}: expected 1 to {MAX_STEPS_LIMIT}"),
            ));
        }
        Ok(n as u64)
    };
    let max_steps = written
        .max_steps
        .as_ref()
        .map(|v| steps(v, "max_steps"))
        .transpose()?;
    let package = match &written.package {
        Some(p) => {
            let name = p.get_ref();
            let ok = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '/' || c == '.');
            if !ok {
                return Err(cx.error(
                    p.span(),
                    "package",
                    format!("`{name}` is not a Go package path"),
                ));
            }
            name.clone()
        }
        None => "main".to_string(),
    };
    let mut funcs: Vec<Func> = Vec::new();
    for (fi, f) in written.funcs.iter().enumerate() {
        let f = f.get_ref();
        let field = format!("func[{}]", fi + 1);
        let name = f.name.get_ref();
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(cx.error(
                f.name.span(),
                &format!("{field}.name"),
                "expected a function name",
            ));
        }
        if funcs.iter().any(|g| &g.name == name) {
            return Err(cx.error(
                f.name.span(),
                &format!("{field}.name"),
                format!("`{name}` is tested twice; give it one [[func]] with several cases"),
            ));
        }
        let signature = parse_signature(&cx, &f.signature, &format!("{field}.signature"))?;
        let mut cases = Vec::new();
        for (ci, c) in f.cases.iter().enumerate() {
            let case_field = format!("{field}.cases[{}]", ci + 1);
            let c_ref = c.get_ref();
            let args = match &c_ref.args {
                Some(a) => a,
                None if signature.params.is_empty() => &Spanned::new(0..0, Vec::new()),
                None => {
                    return Err(cx.error(
                        c.span(),
                        &format!("{case_field}.args"),
                        format!(
                            "missing: `{}` takes {} arguments",
                            name,
                            signature.params.len()
                        ),
                    ))
                }
            };
            let args = values(
                &cx,
                args,
                &signature.params,
                &format!("{case_field}.args"),
                "arguments",
            )?;
            let want = c_ref
                .want
                .as_ref()
                .map(|w| {
                    values(
                        &cx,
                        w,
                        &signature.results,
                        &format!("{case_field}.want"),
                        "results",
                    )
                })
                .transpose()?;
            let case_name = match &c_ref.name {
                Some(n) if n.get_ref().is_empty() || n.get_ref().contains(char::is_whitespace) => {
                    return Err(cx.error(
                        n.span(),
                        &format!("{case_field}.name"),
                        "a case name is one word (it names the case as go test names a subtest)",
                    ))
                }
                Some(n) => n.get_ref().clone(),
                None => format!("case-{}", ci + 1),
            };
            cases.push(Case {
                name: case_name,
                args,
                want,
                max_steps: c_ref
                    .max_steps
                    .as_ref()
                    .map(|v| steps(v, &format!("{case_field}.max_steps")))
                    .transpose()?,
            });
        }
        funcs.push(Func {
            name: name.clone(),
            signature,
            line: line_col(text, f.name.span().start).0,
            cases,
        });
    }
    Ok(TestFile {
        path: path.to_string(),
        sources,
        go: written.go.map(|g| g.into_inner()),
        package,
        max_steps,
        funcs,
    })
}

fn parse_signature(cx: &Ctx, s: &Spanned<String>, field: &str) -> Result<Signature, SpecError> {
    sig::parse(s.get_ref()).map_err(|e| {
        // The span starts at the opening quote; a basic string without escapes maps byte
        // for byte, which is how signatures are written.
        let raw = cx.text.get(s.span()).unwrap_or("");
        let offset = if raw.starts_with('"') && !raw.contains('\\') {
            s.span().start + 1 + e.at
        } else {
            s.span().start
        };
        cx.error(offset..offset, field, e.message)
    })
}

fn values(
    cx: &Ctx,
    list: &Spanned<Vec<Spanned<toml::Value>>>,
    params: &[sig::Param],
    field: &str,
    what: &str,
) -> Result<Vec<Value>, SpecError> {
    if list.get_ref().len() != params.len() {
        return Err(cx.error(
            list.span(),
            field,
            format!(
                "{} {what} given, the signature has {}",
                list.get_ref().len(),
                params.len()
            ),
        ));
    }
    list.get_ref()
        .iter()
        .zip(params)
        .enumerate()
        .map(|(i, (v, p))| {
            value(v.get_ref(), &p.ty, 0).map_err(|m| {
                cx.error(
                    v.span(),
                    &format!("{field}[{i}]"),
                    format!("{} {}: {m}", p.name, p.ty),
                )
            })
        })
        .collect()
}

/// The bits of an integer value for a type of `size` bytes, or why it does not fit.
fn integer(v: &toml::Value, size: u8, signed: bool) -> Result<u64, String> {
    let (raw, negative) = match v {
        toml::Value::Integer(n) => (*n as u64, *n < 0),
        toml::Value::String(s) => {
            let n = machine::num::parse_number(s)
                .ok_or_else(|| format!("`{s}` is not a number (decimal, 0x…, _ between digits)"))?;
            (n, s.trim().starts_with('-'))
        }
        other => return Err(format!("expected a number, found {}", other.type_str())),
    };
    let bits = size as u32 * 8;
    if negative && !signed {
        return Err("a negative value for an unsigned type".into());
    }
    if bits < 64 {
        let fits = if negative {
            (raw as i64) >= -(1i64 << (bits - 1))
        } else if signed {
            // A signed type also takes its bit pattern written as a non-negative number.
            raw < 1u64 << bits
        } else {
            raw < 1u64 << bits
        };
        if !fits {
            return Err(format!("does not fit in {bits} bits"));
        }
        return Ok(raw & ((1u64 << bits) - 1));
    }
    Ok(raw)
}

fn value(v: &toml::Value, t: &Type, depth: u32) -> Result<Value, String> {
    if depth > 32 {
        return Err("nested too deeply".into());
    }
    let list = |v: &toml::Value| -> Result<Vec<toml::Value>, String> {
        match v {
            toml::Value::Array(a) => Ok(a.clone()),
            other => Err(format!("expected an array, found {}", other.type_str())),
        }
    };
    Ok(match t {
        Type::Bool => match v {
            toml::Value::Boolean(b) => Value::Word(*b as u64),
            toml::Value::Integer(0) => Value::Word(0),
            toml::Value::Integer(1) => Value::Word(1),
            other => {
                return Err(format!(
                    "expected true or false, found {}",
                    other.type_str()
                ))
            }
        },
        Type::Int { size, signed } => Value::Word(integer(v, *size, *signed)?),
        Type::UnsafePointer => Value::Word(integer(v, 8, false)?),
        Type::Float { size } => match v {
            toml::Value::Float(x) if *size == 8 => Value::Word(x.to_bits()),
            toml::Value::Float(x) => Value::Word((*x as f32).to_bits() as u64),
            // An integer is the float's bits, as a register holds them.
            other => Value::Word(integer(other, *size, false)?),
        },
        Type::String => match v {
            toml::Value::String(s) => Value::Str(s.as_bytes().to_vec()),
            other => return Err(format!("expected a string, found {}", other.type_str())),
        },
        Type::Slice(e) => Value::List(
            list(v)?
                .iter()
                .map(|x| value(x, e, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Type::Array(n, e) => {
            let items = list(v)?;
            if items.len() as u64 != *n {
                return Err(format!("expected {n} elements, found {}", items.len()));
            }
            Value::List(
                items
                    .iter()
                    .map(|x| value(x, e, depth + 1))
                    .collect::<Result<_, _>>()?,
            )
        }
        Type::Struct(fields) => {
            let items = list(v)?;
            if items.len() != fields.len() {
                return Err(format!(
                    "expected {} fields (in order), found {}",
                    fields.len(),
                    items.len()
                ));
            }
            Value::List(
                items
                    .iter()
                    .zip(fields)
                    .map(|(x, (_, ft))| value(x, ft, depth + 1))
                    .collect::<Result<_, _>>()?,
            )
        }
        Type::Pointer(e) => match v {
            toml::Value::String(s) if s == "nil" => Value::Ptr(None),
            other => Value::Ptr(Some(Box::new(value(other, e, depth + 1)?))),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse("t.toml", text).unwrap_err().to_string()
    }

    #[test]
    fn a_test_file_reads_with_its_values_typed() {
        let f = parse(
            "t.toml",
            "sources = [\"a.s\"]\ngo = \"1.24\"\n[[func]]\nname = \"sum\"\n\
             signature = \"func sum(xs []uint64, k int8) uint64\"\n\
             cases = [{ args = [[1, \"0x10\"], -1], want = [17] }, { name = \"none\", args = [[], 0] }]\n",
        )
        .unwrap();
        assert_eq!(f.sources, vec![("a.s".to_string(), 1)]);
        assert_eq!(f.package, "main");
        let c = &f.funcs[0].cases;
        assert_eq!(
            c[0].args,
            vec![
                Value::List(vec![Value::Word(1), Value::Word(16)]),
                Value::Word(0xff)
            ]
        );
        assert_eq!(c[0].want, Some(vec![Value::Word(17)]));
        assert_eq!((c[0].name.as_str(), c[1].name.as_str()), ("case-1", "none"));
        assert_eq!(c[1].want, None);
    }

    #[test]
    fn mistakes_are_located_at_their_field() {
        let head = "sources = [\"a.s\"]\n[[func]]\nname = \"f\"\n";
        assert_eq!(
            err(&format!("{head}signature = \"func f(x uint65)\"\n")),
            "t.toml:4:23: func[1].signature: unknown type `uint65` (known: bool, int8…int64, \
             uint8…uint64, int, uint, uintptr, byte, rune, float32, float64, unsafe.Pointer, \
             string, []T, [N]T, *T, struct{…})"
        );
        assert_eq!(
            err(&format!(
                "{head}signature = \"func f(x uint8)\"\ncases = [{{ args = [256] }}]\n"
            )),
            "t.toml:5:20: func[1].cases[1].args[0]: x uint8: does not fit in 8 bits"
        );
        assert_eq!(
            err(&format!(
                "{head}signature = \"func f(x uint8)\"\ncases = [{{ args = [-1] }}]\n"
            )),
            "t.toml:5:20: func[1].cases[1].args[0]: x uint8: a negative value for an unsigned type"
        );
        assert_eq!(
            err(&format!(
                "{head}signature = \"func f(x uint8) bool\"\ncases = [{{ args = [1], want = [] }}]\n"
            )),
            "t.toml:5:31: func[1].cases[1].want: 0 results given, the signature has 1"
        );
        assert!(err("sources = [\"a.s\"]\nbogus = 1\n")
            .starts_with("t.toml:2:1: field: unknown field `bogus`"));
        assert!(err("sources = [\"a.s\"\n").starts_with("t.toml:"));
        assert_eq!(
            err("sources = []\n"),
            "t.toml:1:11: sources: names no source file"
        );
        assert_eq!(
            err("sources = [\"a.s\"]\nmax_steps = 0\n"),
            "t.toml:2:13: max_steps: 0: expected 1 to 1000000000"
        );
    }
}
