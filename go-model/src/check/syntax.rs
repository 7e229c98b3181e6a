//! The check language as a tree: a claim, an expression or a place is parsed once, when
//! its file is loaded, and evaluation walks the tree. Every node keeps its span (a byte
//! range of the text it was parsed from), so that a mistake found then or later (an
//! unknown name, bad syntax) points at the token that is wrong.
//!
//! The grammar (words are separated by spaces; `+` and `-` between terms are words of
//! their own, so `&sym+0x2d` is one term: a symbol plus an offset):
//!
//! ```text
//! claim := ("stderr" | "stdout") "has" TEXT      the rest of the line, quotes trimmed
//!        | expr "in" REGION                     the rest of the line, a region's name
//!        | expr ("==" | "!=" | "<=" | ">=" | "<" | ">") expr
//! expr  := term (("+" | "-") term)*
//! term  := "[" expr "]"                          the 8 bytes of memory at an address
//!        | NUMBER                                as machine::num reads it
//!        | REGISTER | "g" | "exit" | "steps"
//!        | "&" (PATH | SYMBOL)                   an address: a field's, a g's, a symbol's
//!        | PATH                                  a field's value: g1.sched.sp, m0.tls[0]
//! place := FILE ":" LINE | SYMBOL | SYMBOL "+" NUMBER
//! ```

use machine::num::parse_number;
use machine::Cpu;

/// A byte range of the text a node was parsed from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    /// The first byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    fn to(self, other: Span) -> Span {
        Span::new(self.start, other.end)
    }
}

/// A mistake in the text of a claim, expression or place: bad syntax found when parsing,
/// or a name the world does not have, found when resolving. `span` is the offending token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mistake {
    /// Where in the text.
    pub span: Span,
    /// What is wrong.
    pub message: String,
}

impl Mistake {
    pub(crate) fn new(span: Span, message: impl Into<String>) -> Mistake {
        Mistake {
            span,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Mistake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Which output a `has` claim reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Standard output (fd 1).
    Stdout,
    /// Standard error (fd 2).
    Stderr,
}

impl Stream {
    /// Its file descriptor.
    pub fn fd(self) -> i32 {
        match self {
            Stream::Stdout => 1,
            Stream::Stderr => 2,
        }
    }

    /// `stdout`, `stderr`.
    pub fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// A comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<=`
    Le,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `>`
    Gt,
}

impl Op {
    const ALL: [Op; 6] = [Op::Eq, Op::Ne, Op::Le, Op::Ge, Op::Lt, Op::Gt];

    /// As written.
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Le => "<=",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Gt => ">",
        }
    }

    fn from_word(w: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|o| o.symbol() == w)
    }

    /// Whether `a op b` (unsigned, as addresses compare).
    pub fn holds(self, a: u64, b: u64) -> bool {
        match self {
            Op::Eq => a == b,
            Op::Ne => a != b,
            Op::Le => a <= b,
            Op::Ge => a >= b,
            Op::Lt => a < b,
            Op::Gt => a > b,
        }
    }
}

/// A claim: something that must hold at a point of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// The text, as written (trimmed).
    pub text: String,
    /// What it claims.
    pub kind: ClaimKind,
}

/// The kinds of claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClaimKind {
    /// `stderr has "fatal error"`: the output contains a text.
    Output {
        /// Which output.
        stream: Stream,
        /// The text it must contain.
        text: String,
    },
    /// `rsp in m0.g0 stack`: a value is an address in the memory region of that name.
    In {
        /// The address.
        value: Expr,
        /// The region's name.
        region: String,
        /// Where the name is.
        region_span: Span,
    },
    /// `g == &m0.g0`: two values compare so.
    Compare {
        /// The left side.
        left: Expr,
        /// The comparison.
        op: Op,
        /// The right side.
        right: Expr,
    },
}

/// An expression: terms added and subtracted (wrapping, as registers do).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expr {
    /// Its text, as written (trimmed).
    pub text: String,
    /// Where it is in the text parsed.
    pub span: Span,
    /// The terms, each with its sign (the first is always `+`).
    pub terms: Vec<(Sign, Term)>,
}

/// The sign of a term.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sign {
    /// Added.
    Plus,
    /// Subtracted.
    Minus,
}

/// One term of an expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Term {
    /// Its text, as written.
    pub text: String,
    /// Where it is.
    pub span: Span,
    /// What it is.
    pub kind: TermKind,
}

/// The kinds of term.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TermKind {
    /// A number.
    Number(u64),
    /// A register of the thread the claim reads (`rsp`, `rip`, `fs_base`).
    Register(&'static str),
    /// `g`: the word at FS−8, where Go on linux/amd64 keeps the current g.
    TlsG,
    /// `exit`: the exit status.
    Exit,
    /// `steps`: the steps run so far.
    Steps,
    /// `[expr]`: the 8 bytes of memory at the address.
    Memory(Box<Expr>),
    /// `g1.sched.sp`: the value of a field of the world (a g, m or p, or theirs).
    Field(Path),
    /// `&m0.g0`, `&runtime·asmcgocall+0x2d`: the address of a field or of a symbol.
    AddressOf(Target),
}

/// A name of the world and its fields, by segments: `m0.tls[1]` is `m0`, `tls[1]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Path {
    /// The segments.
    pub segments: Vec<Segment>,
}

/// One segment of a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// The name.
    pub name: String,
    /// An index, `tls[1]`.
    pub index: Option<u64>,
    /// Where it is.
    pub span: Span,
}

impl Path {
    /// The span of segments `from..`.
    pub fn span_from(&self, from: usize) -> Span {
        let s = &self.segments[from..];
        s[0].span.to(s[s.len() - 1].span)
    }
}

/// What `&` takes the address of: a path of the world when the text is one and the
/// world has it, else a symbol (whose names are not paths: `runtime·asmcgocall`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The text after `&`.
    pub text: String,
    /// Where that text is.
    pub span: Span,
    /// The text as a path, when it reads as one.
    pub path: Option<Path>,
}

/// A place in a program: where a point stops, where a breakpoint is, the line a fault is
/// expected at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    /// Its text, as written (trimmed).
    pub text: String,
    /// What it names.
    pub kind: PlaceKind,
}

/// The kinds of place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlaceKind {
    /// `file.s:12`: the first instruction of a source line.
    Line {
        /// The file, as the world's sources name it.
        file: String,
        /// 1-based.
        line: u32,
    },
    /// `runtime·asmcgocall`, `gosave<>+0x2e`: a symbol (the whole text), or when the
    /// program has no symbol of that name, a symbol plus an offset.
    Symbol,
}

impl std::fmt::Display for Claim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::fmt::Display for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// A word, or a bracket that opens or closes a memory read.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Word,
    Open,
    Close,
}

#[derive(Clone, Debug)]
struct Token<'a> {
    tok: Tok,
    text: &'a str,
    span: Span,
}

/// Words split at spaces; a `[` that starts a word opens a memory read, while a `[` inside
/// a word is an index that belongs to it (`m0.tls[0]`), up to its `]`.
fn lex(text: &str, base: usize) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c == '[' || c == ']' {
            chars.next();
            out.push(Token {
                tok: if c == '[' { Tok::Open } else { Tok::Close },
                text: &text[i..i + 1],
                span: Span::new(base + i, base + i + 1),
            });
            continue;
        }
        let start = i;
        let mut end = i;
        let mut index = false;
        while let Some(&(j, d)) = chars.peek() {
            if d.is_whitespace() && !index {
                break;
            }
            if d == '[' && !index {
                index = true;
            } else if d == ']' {
                if !index {
                    break;
                }
                index = false;
            }
            end = j + d.len_utf8();
            chars.next();
        }
        out.push(Token {
            tok: Tok::Word,
            text: &text[start..end],
            span: Span::new(base + start, base + end),
        });
    }
    out
}

/// The span of `s` (a trimmed slice of `text`) in `text`.
fn span_of(text: &str, s: &str) -> Span {
    let start = s.as_ptr() as usize - text.as_ptr() as usize;
    Span::new(start, start + s.len())
}

impl Claim {
    /// Parses a claim.
    pub fn parse(text: &str) -> Result<Claim, Mistake> {
        let t = text.trim();
        let whole = span_of(text, t);
        if t.is_empty() {
            return Err(Mistake::new(whole, "an empty claim"));
        }
        for stream in [Stream::Stderr, Stream::Stdout] {
            if let Some(rest) = t
                .strip_prefix(stream.name())
                .and_then(|r| r.strip_prefix(" has "))
            {
                return Ok(Claim {
                    text: t.to_string(),
                    kind: ClaimKind::Output {
                        stream,
                        text: rest.trim().trim_matches('"').to_string(),
                    },
                });
            }
        }
        let tokens = lex(text, 0);
        // The first `in` or comparison outside brackets splits the claim.
        let mut open: Vec<Span> = Vec::new();
        for (k, tk) in tokens.iter().enumerate() {
            match tk.tok {
                Tok::Open => open.push(tk.span),
                Tok::Close => {
                    if open.pop().is_none() {
                        return Err(Mistake::new(tk.span, "a `]` without its `[`"));
                    }
                }
                Tok::Word if !open.is_empty() => {}
                Tok::Word if tk.text == "in" => {
                    let value = parse_expr(text, &tokens[..k], tk.span)?;
                    let region = text[tk.span.end..].trim();
                    if region.is_empty() {
                        return Err(Mistake::new(tk.span, "`in` needs a region's name after it"));
                    }
                    return Ok(Claim {
                        text: t.to_string(),
                        kind: ClaimKind::In {
                            value,
                            region: region.to_string(),
                            region_span: span_of(text, region),
                        },
                    });
                }
                Tok::Word => {
                    if let Some(op) = Op::from_word(tk.text) {
                        let left = parse_expr(text, &tokens[..k], tk.span)?;
                        let right = parse_expr(text, &tokens[k + 1..], tk.span)?;
                        return Ok(Claim {
                            text: t.to_string(),
                            kind: ClaimKind::Compare { left, op, right },
                        });
                    }
                }
            }
        }
        if let Some(&unclosed) = open.last() {
            return Err(Mistake::new(unclosed, "this `[` is not closed"));
        }
        Err(Mistake::new(
            whole,
            format!(
                "`{t}`: expected `a == b` (or != < > <= >=), `a in REGION`, or `stderr has \"…\"`"
            ),
        ))
    }
}

impl Expr {
    /// Parses an expression (a question's `expr`, a typed answer).
    pub fn parse(text: &str) -> Result<Expr, Mistake> {
        let t = text.trim();
        parse_expr(text, &lex(text, 0), span_of(text, t))
    }
}

/// An expression made of all of `tokens`; `near` is where to point when there are none.
fn parse_expr(text: &str, tokens: &[Token], near: Span) -> Result<Expr, Mistake> {
    let Some(first) = tokens.first() else {
        return Err(Mistake::new(near, "expected a value here"));
    };
    let mut k = 0;
    let mut terms = Vec::new();
    let mut sign = Sign::Plus;
    loop {
        let (term, next) = parse_term(text, tokens, k)?;
        terms.push((sign, term));
        k = next;
        let Some(tk) = tokens.get(k) else { break };
        sign = match (&tk.tok, tk.text) {
            (Tok::Word, "+") => Sign::Plus,
            (Tok::Word, "-") => Sign::Minus,
            (Tok::Close, _) => return Err(Mistake::new(tk.span, "a `]` without its `[`")),
            _ => {
                return Err(Mistake::new(
                    tk.span,
                    format!("expected + or - between terms, found `{}`", tk.text),
                ))
            }
        };
        if k + 1 >= tokens.len() {
            return Err(Mistake::new(
                tk.span,
                format!("expected a value after `{}`", tk.text),
            ));
        }
        k += 1;
    }
    let span = first.span.to(tokens[tokens.len() - 1].span);
    Ok(Expr {
        text: text[span.start..span.end].to_string(),
        span,
        terms,
    })
}

/// The term at `tokens[k]`, and the index after it.
fn parse_term(text: &str, tokens: &[Token], k: usize) -> Result<(Term, usize), Mistake> {
    let tk = &tokens[k];
    match tk.tok {
        Tok::Close => Err(Mistake::new(tk.span, "a `]` without its `[`")),
        Tok::Open => {
            // The matching `]`.
            let mut depth = 0usize;
            let close = tokens[k..].iter().position(|t| {
                match t.tok {
                    Tok::Open => depth += 1,
                    Tok::Close => depth -= 1,
                    Tok::Word => {}
                }
                depth == 0
            });
            let Some(close) = close.map(|c| c + k) else {
                return Err(Mistake::new(tk.span, "this `[` is not closed"));
            };
            let inner = parse_expr(text, &tokens[k + 1..close], tk.span.to(tokens[close].span))?;
            let span = tk.span.to(tokens[close].span);
            Ok((
                Term {
                    text: text[span.start..span.end].to_string(),
                    span,
                    kind: TermKind::Memory(Box::new(inner)),
                },
                close + 1,
            ))
        }
        Tok::Word => Ok((word_term(tk.text, tk.span)?, k + 1)),
    }
}

fn word_term(w: &str, span: Span) -> Result<Term, Mistake> {
    let term = |kind| Term {
        text: w.to_string(),
        span,
        kind,
    };
    if let Some(n) = parse_number(w) {
        return Ok(term(TermKind::Number(n)));
    }
    if let Some(t) = w.strip_prefix('&') {
        if t.is_empty() {
            return Err(Mistake::new(span, "`&` needs a name or symbol after it"));
        }
        let tspan = Span::new(span.start + 1, span.end);
        return Ok(term(TermKind::AddressOf(Target {
            text: t.to_string(),
            span: tspan,
            path: parse_path(t, tspan.start),
        })));
    }
    if let Some((name, _)) = Cpu::default().named().into_iter().find(|(n, _)| *n == w) {
        return Ok(term(TermKind::Register(name)));
    }
    match w {
        "g" => return Ok(term(TermKind::TlsG)),
        "exit" => return Ok(term(TermKind::Exit)),
        "steps" => return Ok(term(TermKind::Steps)),
        _ => {}
    }
    if let Some(path) = parse_path(w, span.start) {
        return Ok(term(TermKind::Field(path)));
    }
    let what = if w == "in" || Op::from_word(w).is_some() || w == "+" || w == "-" {
        format!("expected a value, found `{w}`")
    } else {
        format!("`{w}`: not a number, register, name or symbol")
    };
    Err(Mistake::new(span, what))
}

/// `seg(.seg)*`, each segment letters, digits and `_` with an optional `[N]`.
fn parse_path(w: &str, base: usize) -> Option<Path> {
    let mut segments = Vec::new();
    let mut at = 0;
    for part in w.split('.') {
        let (name, index) = match part.split_once('[') {
            Some((n, rest)) => (n, Some(parse_number(rest.strip_suffix(']')?)?)),
            None => (part, None),
        };
        let ident = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !ident {
            return None;
        }
        segments.push(Segment {
            name: name.to_string(),
            index,
            span: Span::new(base + at, base + at + part.len()),
        });
        at += part.len() + 1;
    }
    Some(Path { segments })
}

impl Place {
    /// Parses a place: `file:line`, or a symbol with an optional `+offset`.
    pub fn parse(text: &str) -> Result<Place, Mistake> {
        let t = text.trim();
        if t.is_empty() {
            return Err(Mistake::new(
                span_of(text, t),
                "an empty place: a symbol, `symbol+0x12` or `file:line`",
            ));
        }
        let kind = match t.rsplit_once(':') {
            Some((file, line)) => match line.parse::<u32>() {
                Ok(line) => PlaceKind::Line {
                    file: file.to_string(),
                    line,
                },
                Err(_) => PlaceKind::Symbol,
            },
            None => PlaceKind::Symbol,
        };
        Ok(Place {
            text: t.to_string(),
            kind,
        })
    }

    /// The symbol and offset a symbol place may mean: `gosave<>+0x2e` → (`gosave<>`, 0x2e).
    pub fn symbol_offset(&self) -> Option<(&str, u64)> {
        split_offset(&self.text)
    }

    /// `(file, line)` for a line place.
    pub fn line(&self) -> Option<(&str, u32)> {
        match &self.kind {
            PlaceKind::Line { file, line } => Some((file, *line)),
            PlaceKind::Symbol => None,
        }
    }
}

/// `name+offset` → (`name`, offset).
pub(crate) fn split_offset(s: &str) -> Option<(&str, u64)> {
    let (name, off) = s.rsplit_once('+')?;
    Some((name, parse_number(off)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str, span: Span) -> &str {
        &text[span.start..span.end]
    }

    #[test]
    fn a_comparison_parses_into_terms() {
        let c = Claim::parse("g1.sched.sp == rsp + 8").unwrap();
        let ClaimKind::Compare { left, op, right } = &c.kind else {
            panic!("{c:?}")
        };
        assert_eq!(*op, Op::Eq);
        let TermKind::Field(p) = &left.terms[0].1.kind else {
            panic!()
        };
        let names: Vec<&str> = p.segments.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["g1", "sched", "sp"]);
        assert_eq!(right.terms.len(), 2);
        assert_eq!(right.terms[0].1.kind, TermKind::Register("rsp"));
        assert_eq!(right.terms[1], (Sign::Plus, right.terms[1].1.clone()));
        assert_eq!(right.terms[1].1.kind, TermKind::Number(8));
    }

    #[test]
    fn brackets_hold_expressions_and_indexes_stay_in_their_word() {
        let c = Claim::parse("[[rbp] + 8] == m0.tls[0]").unwrap();
        let ClaimKind::Compare { left, right, .. } = &c.kind else {
            panic!()
        };
        let TermKind::Memory(inner) = &left.terms[0].1.kind else {
            panic!()
        };
        assert_eq!(inner.text, "[rbp] + 8");
        let TermKind::Field(p) = &right.terms[0].1.kind else {
            panic!()
        };
        assert_eq!(p.segments[1].name, "tls");
        assert_eq!(p.segments[1].index, Some(0));
    }

    #[test]
    fn symbols_with_offsets_are_one_term() {
        let c = Claim::parse("[rsp] == &runtime·asmcgocall+0x2d").unwrap();
        let ClaimKind::Compare { right, .. } = &c.kind else {
            panic!()
        };
        let TermKind::AddressOf(t) = &right.terms[0].1.kind else {
            panic!()
        };
        assert_eq!(t.text, "runtime·asmcgocall+0x2d");
        assert_eq!(t.path, None);
        assert_eq!(split_offset(&t.text), Some(("runtime·asmcgocall", 0x2d)));
    }

    #[test]
    fn regions_and_outputs_keep_their_text() {
        let text = "rsp in Go heap (g, m and p structs)";
        let c = Claim::parse(text).unwrap();
        let ClaimKind::In {
            region,
            region_span,
            ..
        } = &c.kind
        else {
            panic!()
        };
        assert_eq!(region, "Go heap (g, m and p structs)");
        assert_eq!(at(text, *region_span), region);
        let c = Claim::parse(r#"stderr has "fatal error: fault""#).unwrap();
        assert_eq!(
            c.kind,
            ClaimKind::Output {
                stream: Stream::Stderr,
                text: "fatal error: fault".into()
            }
        );
    }

    #[test]
    fn mistakes_point_at_their_token() {
        let cases = [
            ("g1.sched.sp == rsp + ·x", "·x"),
            ("rsp ==", "=="),
            ("rsp + == 3", "+"),
            ("[rsp + 8 == 3", "["),
            ("rsp] == 3", "]"),
            ("rsp 8 == 3", "8"),
            ("&", "&"),
            ("rsp", "rsp"),
        ];
        for (text, token) in cases {
            let e = match Claim::parse(text) {
                Err(e) => e,
                Ok(c) => panic!("{text}: parsed as {c:?}"),
            };
            assert_eq!(at(text, e.span), token, "{text}: {}", e.message);
        }
    }

    #[test]
    fn places_are_lines_or_symbols() {
        let p = Place::parse("main_amd64.s:12").unwrap();
        assert_eq!(p.line(), Some(("main_amd64.s", 12)));
        let p = Place::parse("gosave<>+0x2e").unwrap();
        assert_eq!(p.kind, PlaceKind::Symbol);
        assert_eq!(p.symbol_offset(), Some(("gosave<>", 0x2e)));
        assert!(Place::parse("  ").is_err());
    }
}
