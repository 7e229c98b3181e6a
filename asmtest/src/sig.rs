//! Go function signatures and where their arguments and results live.
//!
//! A signature is Go's declaration as `funcs.go` writes it (`func sum(xs []uint64) uint64`).
//! Two layouts follow from it:
//!
//! - **ABI0** (every assembly function of a package other than the runtime): arguments and
//!   results in memory above the return address, each aligned to its type's alignment, the
//!   results starting at the next multiple of 8 after the arguments. This is the layout
//!   `go vet`'s asmdecl checks `name+off(FP)` against (`asmdecl.go`, `asmParseDecl`: each
//!   parameter at `offset += -offset & (align-1)`, results after `offset += -offset &
//!   (maxAlign-1)`, the argument size being the offset after the last result).
//! - **ABIInternal** (Go's register ABI, `src/cmd/compile/abi-internal.md`): each argument
//!   whose parts fit in the registers left (integers in RAX, RBX, RCX, RDI, RSI, R8, R9,
//!   R10, R11; floats in X0–X14) goes in registers, otherwise it goes whole to the stack;
//!   results start again from the first register. The stack holds the stack-assigned
//!   arguments, then (pointer-aligned) the stack-assigned results, then (pointer-aligned)
//!   a spill slot for each register-assigned argument.

use std::fmt;

/// A Go type an assembly function can take or return.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Type {
    /// `bool`: one byte, 0 or 1.
    Bool,
    /// `int8` … `uint64`, `int`, `uint`, `uintptr`, `byte`, `rune`.
    Int {
        /// Size in bytes: 1, 2, 4 or 8.
        size: u8,
        /// Whether negative values are the type's own.
        signed: bool,
    },
    /// `float32` or `float64` (bits given as numbers, or a TOML float).
    Float {
        /// 4 or 8.
        size: u8,
    },
    /// `unsafe.Pointer`.
    UnsafePointer,
    /// `string`: pointer and length.
    String,
    /// `[]T`: pointer, length, capacity.
    Slice(Box<Type>),
    /// `[N]T`.
    Array(u64, Box<Type>),
    /// `*T`: the value given is placed in the heap region and its address passed.
    Pointer(Box<Type>),
    /// `struct { a T; b U }`.
    Struct(Vec<(String, Type)>),
}

/// Words of the machine: Go's `PtrSize` on amd64.
pub const PTR_SIZE: u64 = 8;

fn align_up(x: u64, a: u64) -> u64 {
    x.div_ceil(a) * a
}

impl Type {
    /// Size in bytes, as Go's `types.Sizes` for amd64 (`gc` sizes) gives it.
    pub fn size(&self) -> u64 {
        match self {
            Type::Bool => 1,
            Type::Int { size, .. } | Type::Float { size } => *size as u64,
            Type::UnsafePointer | Type::Pointer(_) => PTR_SIZE,
            Type::String => 2 * PTR_SIZE,
            Type::Slice(_) => 3 * PTR_SIZE,
            Type::Array(n, t) => n.saturating_mul(t.size()),
            Type::Struct(fields) => {
                let mut off = 0;
                for (_, t) in fields {
                    off = align_up(off, t.align()) + t.size();
                }
                align_up(off, self.align())
            }
        }
    }

    /// Alignment in bytes.
    pub fn align(&self) -> u64 {
        match self {
            Type::Bool => 1,
            Type::Int { size, .. } | Type::Float { size } => *size as u64,
            Type::UnsafePointer | Type::Pointer(_) | Type::String | Type::Slice(_) => PTR_SIZE,
            Type::Array(_, t) => t.align(),
            Type::Struct(fields) => fields.iter().map(|(_, t)| t.align()).max().unwrap_or(1),
        }
    }

    /// Offsets of a struct's fields.
    pub fn field_offsets(fields: &[(String, Type)]) -> Vec<u64> {
        let mut off = 0;
        fields
            .iter()
            .map(|(_, t)| {
                off = align_up(off, t.align());
                let here = off;
                off += t.size();
                here
            })
            .collect()
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Bool => write!(f, "bool"),
            Type::Int { size, signed } => {
                write!(f, "{}int{}", if *signed { "" } else { "u" }, size * 8)
            }
            Type::Float { size } => write!(f, "float{}", size * 8),
            Type::UnsafePointer => write!(f, "unsafe.Pointer"),
            Type::String => write!(f, "string"),
            Type::Slice(t) => write!(f, "[]{t}"),
            Type::Array(n, t) => write!(f, "[{n}]{t}"),
            Type::Pointer(t) => write!(f, "*{t}"),
            Type::Struct(fields) => {
                write!(f, "struct{{")?;
                for (i, (n, t)) in fields.iter().enumerate() {
                    write!(f, "{}{n} {t}", if i > 0 { "; " } else { " " })?;
                }
                write!(f, " }}")
            }
        }
    }
}

/// A named parameter or result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    /// Its name (`xs`); unnamed ones are called as asmdecl calls them: `arg`, `arg1`, …
    /// and `ret`, `ret1`, ….
    pub name: String,
    /// Its type.
    pub ty: Type,
}

/// A parsed `func name(params) results`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// The function's name.
    pub name: String,
    /// Parameters in order.
    pub params: Vec<Param>,
    /// Results in order.
    pub results: Vec<Param>,
}

/// A mistake in a signature: what, and at which byte of the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigError {
    /// Byte offset in the signature text.
    pub at: usize,
    /// What is wrong.
    pub message: String,
}

struct Lexer<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn skip_space(&mut self) {
        while let Some(c) = self.text[self.pos..].chars().next() {
            if c.is_whitespace() {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
    }

    fn fail<T>(&self, message: impl Into<String>) -> Result<T, SigError> {
        Err(SigError {
            at: self.pos,
            message: message.into(),
        })
    }

    fn peek_char(&mut self) -> Option<char> {
        self.skip_space();
        self.text[self.pos..].chars().next()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek_char() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Result<(), SigError> {
        if self.eat(c) {
            Ok(())
        } else {
            let found = self.describe();
            self.fail(format!("expected `{c}`, found {found}"))
        }
    }

    fn describe(&mut self) -> String {
        match self.peek_char() {
            None => "the end".to_string(),
            Some(c) => format!("`{c}`"),
        }
    }

    /// An identifier (letters, digits, `_`, and a `.` inside for `unsafe.Pointer`).
    fn ident(&mut self) -> Option<(usize, &'a str)> {
        self.skip_space();
        let start = self.pos;
        let rest = &self.text[start..];
        let first = rest.chars().next()?;
        if !(first.is_alphabetic() || first == '_') {
            return None;
        }
        let len = rest
            .char_indices()
            .find(|&(_, c)| !(c.is_alphanumeric() || c == '_' || c == '.'))
            .map_or(rest.len(), |(i, _)| i);
        self.pos += len;
        Some((start, &rest[..len]))
    }

    fn number(&mut self) -> Result<u64, SigError> {
        self.skip_space();
        let rest = &self.text[self.pos..];
        let len = rest
            .char_indices()
            .find(|&(_, c)| !c.is_ascii_digit())
            .map_or(rest.len(), |(i, _)| i);
        match rest[..len].parse::<u64>() {
            Ok(n) if n <= 1 << 20 => {
                self.pos += len;
                Ok(n)
            }
            Ok(_) => self.fail("array length beyond 1048576"),
            Err(_) => self.fail("expected an array length"),
        }
    }
}

fn named_type(name: &str) -> Option<Type> {
    let int = |size, signed| Some(Type::Int { size, signed });
    match name {
        "bool" => Some(Type::Bool),
        "int8" => int(1, true),
        "uint8" | "byte" => int(1, false),
        "int16" => int(2, true),
        "uint16" => int(2, false),
        "int32" | "rune" => int(4, true),
        "uint32" => int(4, false),
        "int64" | "int" => int(8, true),
        "uint64" | "uint" | "uintptr" => int(8, false),
        "float32" => Some(Type::Float { size: 4 }),
        "float64" => Some(Type::Float { size: 8 }),
        "unsafe.Pointer" => Some(Type::UnsafePointer),
        "string" => Some(Type::String),
        _ => None,
    }
}

/// Nesting deeper than this is refused (a fuzzer's `[][][]…` must not exhaust the stack).
const MAX_DEPTH: u32 = 32;

fn parse_type(lx: &mut Lexer, depth: u32) -> Result<Type, SigError> {
    if depth > MAX_DEPTH {
        return lx.fail("type nested too deeply");
    }
    match lx.peek_char() {
        Some('*') => {
            lx.pos += 1;
            Ok(Type::Pointer(Box::new(parse_type(lx, depth + 1)?)))
        }
        Some('[') => {
            lx.pos += 1;
            if lx.eat(']') {
                return Ok(Type::Slice(Box::new(parse_type(lx, depth + 1)?)));
            }
            let n = lx.number()?;
            lx.expect(']')?;
            let elem = parse_type(lx, depth + 1)?;
            if n.saturating_mul(elem.size()) > 1 << 20 {
                return lx.fail("array larger than 1 MiB");
            }
            Ok(Type::Array(n, Box::new(elem)))
        }
        _ => {
            let at = lx.pos;
            let Some((start, name)) = lx.ident() else {
                let found = lx.describe();
                return lx.fail(format!("expected a type, found {found}"));
            };
            if name == "struct" {
                return parse_struct(lx, depth);
            }
            named_type(name).ok_or(SigError {
                at: start.max(at),
                message: format!(
                    "unknown type `{name}` (known: bool, int8…int64, uint8…uint64, int, uint, \
                     uintptr, byte, rune, float32, float64, unsafe.Pointer, string, []T, [N]T, \
                     *T, struct{{…}})"
                ),
            })
        }
    }
}

fn parse_struct(lx: &mut Lexer, depth: u32) -> Result<Type, SigError> {
    lx.expect('{')?;
    let mut fields = Vec::new();
    loop {
        lx.eat(';');
        if lx.eat('}') {
            break;
        }
        let mut names = Vec::new();
        loop {
            let Some((_, name)) = lx.ident() else {
                let found = lx.describe();
                return lx.fail(format!("expected a field name, found {found}"));
            };
            names.push(name.to_string());
            if !lx.eat(',') {
                break;
            }
        }
        let ty = parse_type(lx, depth + 1)?;
        for n in names {
            fields.push((n, ty.clone()));
        }
        if !lx.eat(';') && lx.peek_char() != Some('}') {
            let found = lx.describe();
            return lx.fail(format!("expected `;` or `}}`, found {found}"));
        }
    }
    Ok(Type::Struct(fields))
}

/// A parameter list `(a, b int64, s []byte)` or `(int64, bool)`: Go's rule is that either
/// every entry is named or none is.
fn parse_params(lx: &mut Lexer, unnamed: &str) -> Result<Vec<Param>, SigError> {
    lx.expect('(')?;
    // Entries as written: (an optional name, a type).
    let mut entries: Vec<(Option<String>, Option<Type>)> = Vec::new();
    if !lx.eat(')') {
        loop {
            let save = lx.pos;
            let first = lx.ident();
            let next = lx.peek_char();
            match (first, next) {
                // `name type`, or the bare name of a grouped `a, b T`.
                (Some((_, name)), Some(c))
                    if named_type(name).is_none() && name != "struct" && c != ',' && c != ')' =>
                {
                    let ty = parse_type(lx, 0)?;
                    entries.push((Some(name.to_string()), Some(ty)));
                }
                (Some((_, name)), Some(',' | ')')) if named_type(name).is_none() => {
                    entries.push((Some(name.to_string()), None));
                }
                _ => {
                    lx.pos = save;
                    let ty = parse_type(lx, 0)?;
                    entries.push((None, Some(ty)));
                }
            }
            if lx.eat(')') {
                break;
            }
            lx.expect(',')?;
        }
    }
    let any_named =
        entries.iter().any(|(_, t)| t.is_some()) && entries.iter().any(|e| e.0.is_some());
    let mut params = Vec::new();
    if any_named {
        // Grouped names take the type of the next typed entry.
        let mut pending: Vec<String> = Vec::new();
        for (name, ty) in entries {
            match (name, ty) {
                (Some(n), None) => pending.push(n),
                (Some(n), Some(t)) => {
                    for p in pending.drain(..) {
                        params.push(Param {
                            name: p,
                            ty: t.clone(),
                        });
                    }
                    params.push(Param { name: n, ty: t });
                }
                (None, _) => return lx.fail("mixed named and unnamed parameters"),
            }
        }
        if !pending.is_empty() {
            return lx.fail(format!("`{}` has no type", pending.join(", ")));
        }
    } else {
        for (i, (name, ty)) in entries.into_iter().enumerate() {
            let ty = match (name, ty) {
                (_, Some(t)) => t,
                (Some(n), None) => {
                    return lx.fail(format!("unknown type `{n}`"));
                }
                (None, None) => return lx.fail("expected a type"),
            };
            let name = if i == 0 {
                unnamed.to_string()
            } else {
                format!("{unnamed}{i}")
            };
            params.push(Param { name, ty });
        }
    }
    Ok(params)
}

/// Parses `func name(params) results`.
pub fn parse(text: &str) -> Result<Signature, SigError> {
    let mut lx = Lexer { text, pos: 0 };
    match lx.ident() {
        Some((_, "func")) => {}
        _ => {
            lx.pos = 0;
            lx.skip_space();
            return lx.fail("a signature starts with `func`");
        }
    }
    let Some((_, name)) = lx.ident() else {
        let found = lx.describe();
        return lx.fail(format!("expected the function's name, found {found}"));
    };
    let name = name.to_string();
    let params = parse_params(&mut lx, "arg")?;
    let results = match lx.peek_char() {
        None => Vec::new(),
        Some('(') => parse_params(&mut lx, "ret")?,
        Some(_) => vec![Param {
            name: "ret".into(),
            ty: parse_type(&mut lx, 0)?,
        }],
    };
    if lx.peek_char().is_some() {
        let found = lx.describe();
        return lx.fail(format!("unexpected {found} after the signature"));
    }
    Ok(Signature {
        name,
        params,
        results,
    })
}

/// Go's integer argument registers in the register ABI, in order (`abi-internal.md`,
/// "amd64 architecture").
pub const INT_REGS: [&str; 9] = ["rax", "rbx", "rcx", "rdi", "rsi", "r8", "r9", "r10", "r11"];
/// Go's floating-point argument registers: X0–X14 (X15 is the zero register).
pub const FLOAT_REGS: usize = 15;

/// Where one scalar part of a register-assigned value goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reg {
    /// An integer register, by name (`rax`).
    Int(&'static str),
    /// X0–X14.
    Float(u8),
}

/// Where a parameter or result lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// In memory at this offset from the first argument byte (0(FP), 8 above the entry SP).
    Stack(u64),
    /// In registers: each scalar part, at its offset within the value, with its size.
    Regs(Vec<(u64, u64, Reg)>),
}

/// The layout of a call: where each parameter and result is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// One place per parameter.
    pub params: Vec<Place>,
    /// One place per result.
    pub results: Vec<Place>,
    /// Bytes of the argument area above the return address (ABI0: `go vet`'s expected
    /// `$...-N`; ABIInternal: stack-assigned values plus the spill area).
    pub size: u64,
    /// Where the results begin (ABI0) or the stack results begin (ABIInternal).
    pub results_at: u64,
}

/// The ABI0 layout (asmdecl's and the compiler's for assembly functions).
pub fn abi0(sig: &Signature) -> Layout {
    let mut off = 0;
    let place = |t: &Type, off: &mut u64| {
        *off = align_up(*off, t.align());
        let at = *off;
        *off += t.size();
        Place::Stack(at)
    };
    let params = sig.params.iter().map(|p| place(&p.ty, &mut off)).collect();
    if !sig.results.is_empty() {
        off = align_up(off, PTR_SIZE);
    }
    let results_at = off;
    let results = sig.results.iter().map(|p| place(&p.ty, &mut off)).collect();
    Layout {
        params,
        results,
        size: off,
        results_at,
    }
}

/// Register assignment of one value (`abi-internal.md`, "Function call argument and result
/// passing"): `None` when it does not fit in the registers left or holds an array of more
/// than one element, in which case it goes to the stack whole.
fn assign(
    t: &Type,
    base: u64,
    ints: &mut usize,
    floats: &mut usize,
) -> Option<Vec<(u64, u64, Reg)>> {
    let mut parts = Vec::new();
    let int = |off: u64, size: u64, ints: &mut usize| -> Option<(u64, u64, Reg)> {
        let r = *INT_REGS.get(*ints)?;
        *ints += 1;
        Some((off, size, Reg::Int(r)))
    };
    match t {
        Type::Bool | Type::Int { .. } | Type::UnsafePointer | Type::Pointer(_) => {
            parts.push(int(base, t.size(), ints)?)
        }
        Type::Float { size } => {
            if *floats >= FLOAT_REGS {
                return None;
            }
            parts.push((base, *size as u64, Reg::Float(*floats as u8)));
            *floats += 1;
        }
        Type::String => {
            parts.push(int(base, 8, ints)?);
            parts.push(int(base + 8, 8, ints)?);
        }
        Type::Slice(_) => {
            for k in 0..3 {
                parts.push(int(base + 8 * k, 8, ints)?);
            }
        }
        Type::Array(0, _) => {}
        Type::Array(1, e) => parts.extend(assign(e, base, ints, floats)?),
        Type::Array(..) => return None,
        Type::Struct(fields) => {
            for ((_, ft), off) in fields.iter().zip(Type::field_offsets(fields)) {
                parts.extend(assign(ft, base + off, ints, floats)?);
            }
        }
    }
    Some(parts)
}

/// The ABIInternal layout on amd64.
pub fn abi_internal(sig: &Signature) -> Layout {
    let mut off = 0;
    let stack = |t: &Type, off: &mut u64| {
        *off = align_up(*off, t.align());
        let at = *off;
        *off += t.size();
        Place::Stack(at)
    };
    let assign_all = |list: &[Param], off: &mut u64| -> Vec<Place> {
        let (mut ints, mut floats) = (0, 0);
        list.iter()
            .map(|p| {
                let (i0, f0) = (ints, floats);
                match assign(&p.ty, 0, &mut ints, &mut floats) {
                    Some(parts) => Place::Regs(parts),
                    None => {
                        // Not all of it fits: all of it goes to the stack, and the registers
                        // it took are free again.
                        (ints, floats) = (i0, f0);
                        stack(&p.ty, off)
                    }
                }
            })
            .collect()
    };
    let params = assign_all(&sig.params, &mut off);
    off = align_up(off, PTR_SIZE);
    let results_at = off;
    let results = assign_all(&sig.results, &mut off);
    off = align_up(off, PTR_SIZE);
    // The spill area: a slot for each register-assigned argument, which the callee may use.
    for (p, place) in sig.params.iter().zip(&params) {
        if matches!(place, Place::Regs(_)) {
            off = align_up(off, p.ty.align()) + p.ty.size();
        }
    }
    off = align_up(off, PTR_SIZE);
    Layout {
        params,
        results,
        size: off,
        results_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offsets(l: &Layout) -> (Vec<u64>, Vec<u64>) {
        let at = |p: &Place| match p {
            Place::Stack(o) => *o,
            Place::Regs(_) => u64::MAX,
        };
        (
            l.params.iter().map(at).collect(),
            l.results.iter().map(at).collect(),
        )
    }

    #[test]
    fn abi0_aligns_each_argument_and_starts_results_on_a_word() {
        // What `go vet` expects for these declarations (asmdecl's offsets and `$...-N`);
        // tests/tests/asmtest.rs compares the same with the real `go vet`.
        let s = parse("func f(a uint8, b uint16, c uint8, d uint32) uint8").unwrap();
        let l = abi0(&s);
        assert_eq!(offsets(&l), (vec![0, 2, 4, 8], vec![16]));
        assert_eq!(l.size, 17);
        let s = parse("func sum(xs []uint64) uint64").unwrap();
        let l = abi0(&s);
        assert_eq!(offsets(&l), (vec![0], vec![24]));
        assert_eq!(l.size, 32);
        let s = parse("func f(s string, b bool) (n int32, ok bool)").unwrap();
        let l = abi0(&s);
        assert_eq!(offsets(&l), (vec![0, 16], vec![24, 28]));
        assert_eq!(l.size, 29);
        // No results: the size is where the arguments end, not rounded.
        assert_eq!(abi0(&parse("func f(b bool)").unwrap()).size, 1);
    }

    #[test]
    fn signatures_name_unnamed_parameters_as_asmdecl_does() {
        let s = parse("func f(int64, bool) (uint8, uint8)").unwrap();
        let names: Vec<_> = s
            .params
            .iter()
            .chain(&s.results)
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names, ["arg", "arg1", "ret", "ret1"]);
        let s = parse("func f(a, b int32, p *[4]uint64, q struct{x, y int8; z uint64})").unwrap();
        assert_eq!(
            s.params[1].ty,
            Type::Int {
                size: 4,
                signed: true
            }
        );
        assert_eq!(s.params[2].ty.to_string(), "*[4]uint64");
        assert_eq!(s.params[3].ty.size(), 16);
    }

    #[test]
    fn signature_errors_point_at_the_mistake() {
        let e = parse("func f(x uint65) int").unwrap_err();
        assert_eq!(e.at, 9);
        assert!(
            e.message.starts_with("unknown type `uint65`"),
            "{}",
            e.message
        );
        let e = parse("func f(x int").unwrap_err();
        assert_eq!(
            (e.at, e.message.as_str()),
            (12, "expected `,`, found the end")
        );
        assert!(parse("fn f()").is_err());
        let deep = format!("func f(x {}int)", "[]".repeat(100));
        assert!(parse(&deep)
            .unwrap_err()
            .message
            .contains("nested too deeply"));
    }

    #[test]
    fn abi_internal_assigns_registers_as_the_abi_document_does() {
        // abi-internal.md's worked example, with amd64's registers for its R0 and R1:
        // a1 in RAX, a2 ([2]uintptr: an array of more than one element) on the stack, a3 in
        // RBX; r1 (holding such an array) on the stack after a2, r2 in RAX and RBX; then
        // the spill slots of a1 and a3, padded to a word.
        let s = parse(
            "func f(a1 uint8, a2 [2]uintptr, a3 uint8) \
             (r1 struct { x uintptr; y [2]uintptr }, r2 string)",
        )
        .unwrap();
        let l = abi_internal(&s);
        assert_eq!(l.params[0], Place::Regs(vec![(0, 1, Reg::Int("rax"))]));
        assert_eq!(l.params[1], Place::Stack(0));
        assert_eq!(l.params[2], Place::Regs(vec![(0, 1, Reg::Int("rbx"))]));
        assert_eq!(l.results[0], Place::Stack(16));
        assert_eq!(
            l.results[1],
            Place::Regs(vec![(0, 8, Reg::Int("rax")), (8, 8, Reg::Int("rbx"))])
        );
        assert_eq!(l.size, 48);
    }

    #[test]
    fn abi_internal_sends_what_does_not_fit_to_the_stack_whole() {
        // Two slices and a string take eight of the nine integer registers; the next slice
        // does not fit in the one left and goes to the stack whole, and the int after it
        // takes the register the slice gave back.
        let s = parse("func f(a, b []byte, s string, d []byte, n int, x float64) (int, float64)")
            .unwrap();
        let l = abi_internal(&s);
        assert_eq!(
            l.params[1],
            Place::Regs(vec![
                (0, 8, Reg::Int("rdi")),
                (8, 8, Reg::Int("rsi")),
                (16, 8, Reg::Int("r8"))
            ])
        );
        assert_eq!(
            l.params[2],
            Place::Regs(vec![(0, 8, Reg::Int("r9")), (8, 8, Reg::Int("r10"))])
        );
        assert_eq!(l.params[3], Place::Stack(0));
        assert_eq!(l.params[4], Place::Regs(vec![(0, 8, Reg::Int("r11"))]));
        assert_eq!(l.params[5], Place::Regs(vec![(0, 8, Reg::Float(0))]));
        assert_eq!(l.results[0], Place::Regs(vec![(0, 8, Reg::Int("rax"))]));
        assert_eq!(l.results[1], Place::Regs(vec![(0, 8, Reg::Float(0))]));
        // 24 bytes of stack argument, then the spill slots of a, b, s, n and x.
        assert_eq!(l.size, 24 + 24 + 24 + 16 + 8 + 8);
    }
}
