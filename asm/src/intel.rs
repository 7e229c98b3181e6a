//! Intel syntax for the C side of a lesson, accepting what iced's Intel formatter prints:
//! `mov rax, qword ptr fs:[0xfffffffffffffff8]`, `call qword ptr [rax+8]`,
//! `jmp short 0x401000`, plus labels (`name:`; names starting with `.` are local to the
//! file, others are symbols other files can call), `;` and `//` comments, and the data
//! directives `db`, `dw`, `dd`, `dq` (numbers and strings).

use super::error::{AsmError, Pos};
use super::lex::{tokenize, Tok, Token};
use super::program::{Item, ItemKind, Op, Target};
use super::select::{Mem, Operand};
use iced_x86::{Mnemonic, Register};
use std::collections::HashMap;
use std::sync::OnceLock;

fn mnemonics() -> &'static HashMap<String, Mnemonic> {
    static TABLE: OnceLock<HashMap<String, Mnemonic>> = OnceLock::new();
    TABLE.get_or_init(|| {
        Mnemonic::values()
            .map(|m| (format!("{m:?}").to_ascii_lowercase(), m))
            .collect()
    })
}

fn registers() -> &'static HashMap<String, Register> {
    static TABLE: OnceLock<HashMap<String, Register>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t: HashMap<String, Register> = Register::values()
            .filter(|r| r.is_gpr() || r.is_xmm() || r.is_segment_register() || *r == Register::RIP)
            .map(|r| (format!("{r:?}").to_ascii_lowercase(), r))
            .collect();
        // iced calls the low byte of r8 `r8l`; assemblers also write `r8b`.
        for n in 8..16 {
            if let Some(&r) = t.get(&format!("r{n}l")) {
                t.insert(format!("r{n}b"), r);
            }
        }
        t
    })
}

fn size_keyword(w: &str) -> Option<u32> {
    Some(match w {
        "byte" => 1,
        "word" => 2,
        "dword" => 4,
        "qword" => 8,
        "xmmword" | "oword" => 16,
        _ => return None,
    })
}

fn strip_comment(line: &str) -> String {
    let mut out = String::new();
    let mut in_str = false;
    let mut prev = ' ';
    for c in line.chars() {
        if c == '"' {
            in_str = !in_str;
        }
        if !in_str && (c == ';' || (c == '/' && prev == '/')) {
            if c == '/' {
                out.pop();
            }
            break;
        }
        out.push(c);
        prev = c;
    }
    out
}

struct Cursor<'a> {
    toks: &'a [Token],
    i: usize,
    line: &'a str,
    pos: Pos,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<&'a Token> {
        self.toks.get(self.i)
    }
    fn here(&self) -> Pos {
        self.peek().map_or_else(
            || {
                let mut p = self.pos.clone();
                p.col = self.line.chars().count() as u32 + 1;
                p
            },
            |t| t.pos.clone(),
        )
    }
    fn fail<T>(&self, msg: impl Into<String>) -> Result<T, AsmError> {
        let mut e = AsmError::new(self.here(), msg);
        e.source_line = self.line.to_string();
        Err(e)
    }
    fn found(&self) -> String {
        self.peek()
            .map_or("the end of the line".into(), |t| t.describe())
    }
    fn eat(&mut self, p: &str) -> bool {
        if self.peek().is_some_and(|t| t.is(p)) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn eat_word(&mut self, w: &str) -> bool {
        if self.peek().and_then(|t| t.ident()) == Some(w) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    /// A number: decimal, `0x…`, or `…h` hex, with an optional sign.
    fn number(&mut self) -> Result<i64, AsmError> {
        let neg = self.eat("-");
        if !neg {
            self.eat("+");
        }
        let v = match self.peek().map(|t| &t.tok) {
            Some(Tok::Int(v)) => {
                self.i += 1;
                *v as i64
            }
            // `0FFFFh` lexes as an identifier-ish token after a digit; `FFh` needs a digit first.
            Some(Tok::Ident(w))
                if w.ends_with('h') && w[..w.len() - 1].chars().all(|c| c.is_ascii_hexdigit()) =>
            {
                self.i += 1;
                match u64::from_str_radix(&w[..w.len() - 1], 16) {
                    Ok(v) => v as i64,
                    Err(_) => return self.fail("malformed number"),
                }
            }
            _ => return self.fail(format!("expected a number, found {}", self.found())),
        };
        Ok(if neg { v.wrapping_neg() } else { v })
    }
}

fn register(w: &str) -> Option<Register> {
    registers().get(&w.to_ascii_lowercase()).copied()
}

/// Parses one operand.
fn operand(c: &mut Cursor, file_scope: &str) -> Result<(Op, Option<u32>), AsmError> {
    // Size and segment prefixes: `qword ptr fs:[...]`.
    let mut size = None;
    if let Some(s) = c.peek().and_then(|t| t.ident()).and_then(size_keyword) {
        c.i += 1;
        if !c.eat_word("ptr") {
            return c.fail(format!(
                "expected `ptr` after the size, found {}",
                c.found()
            ));
        }
        size = Some(s);
    }
    let mut segment = Register::None;
    if let Some(seg) = c
        .peek()
        .and_then(|t| t.ident())
        .and_then(register)
        .filter(|r| r.is_segment_register())
    {
        if c.toks.get(c.i + 1).is_some_and(|t| t.is(":")) {
            c.i += 2;
            segment = seg;
        }
    }
    if c.eat("[") {
        let mut mem = Mem {
            base: Register::None,
            index: Register::None,
            scale: 1,
            disp: 0,
            segment,
            size,
        };
        let mut symbol: Option<String> = None;
        let mut sign = 1i64;
        loop {
            match c.peek().map(|t| &t.tok) {
                Some(Tok::Ident(w))
                    if register(w)
                        .is_some_and(|r| r.is_gpr64() || r.is_gpr32() || r == Register::RIP) =>
                {
                    let r = register(w).expect("checked");
                    c.i += 1;
                    if c.eat("*") {
                        mem.index = r;
                        mem.scale = c.number()? as u32;
                        if ![1, 2, 4, 8].contains(&mem.scale) {
                            return c
                                .fail(format!("scale must be 1, 2, 4 or 8, found {}", mem.scale));
                        }
                    } else if mem.base == Register::None {
                        mem.base = r;
                    } else {
                        mem.index = r;
                    }
                }
                Some(Tok::Ident(w))
                    if register(w).is_none()
                        && !(w.ends_with('h')
                            && w.chars().next().is_some_and(|ch| ch.is_ascii_digit())) =>
                {
                    symbol = Some(scoped(w, file_scope));
                    c.i += 1;
                }
                _ => {
                    let v = c.number()?;
                    mem.disp = mem.disp.wrapping_add(sign * v);
                }
            }
            if c.eat("]") {
                break;
            }
            sign = if c.eat("+") {
                1
            } else if c.eat("-") {
                -1
            } else {
                return c.fail(format!("expected `+`, `-` or `]`, found {}", c.found()));
            };
        }
        if let Some(sym) = symbol {
            if mem.base != Register::None && mem.base != Register::RIP
                || mem.index != Register::None
            {
                return c.fail("a symbol in memory is addressed relative to RIP only");
            }
            let name = sym;
            return Ok((Op::SymMem(Target::Symbol(name, mem.disp), size), size));
        }
        if mem.base == Register::RIP {
            return c.fail("write RIP-relative operands with a label: [rip+label]");
        }
        return Ok((Op::Plain(Operand::Mem(mem)), size));
    }
    // `short` / `near` before a branch target, as iced prints them.
    let _ = c.eat_word("short") || c.eat_word("near");
    match c.peek().map(|t| &t.tok) {
        Some(Tok::Ident(w)) if register(w).is_some() => {
            let r = register(w).expect("checked");
            c.i += 1;
            let s = r.size() as u32;
            Ok((Op::Plain(Operand::Reg(r)), Some(s)))
        }
        Some(Tok::Ident(w))
            if !(w.ends_with('h') && w.chars().next().is_some_and(|ch| ch.is_ascii_digit())) =>
        {
            // A label of this file, or else a symbol of another: the block encoder picks the
            // short or near form.
            let name = scoped(w, file_scope);
            c.i += 1;
            Ok((Op::Branch(Target::Label(name)), None))
        }
        _ => Ok((Op::Plain(Operand::Imm(c.number()?)), None)),
    }
}

/// Local labels (`.loop`) are private to their file.
fn scoped(name: &str, file_scope: &str) -> String {
    if name.starts_with('.') {
        format!("{file_scope}{name}")
    } else {
        name.to_string()
    }
}

/// Parses an Intel-syntax file into program items.
pub(crate) fn lower(path: &str, text: &str) -> Result<Vec<Item>, AsmError> {
    let mut items = Vec::new();
    let scope = format!("{path}:");
    let mut ordinal = 0;
    for (n, raw) in text.split('\n').enumerate() {
        let raw = raw.trim_end_matches('\r');
        let clean = strip_comment(raw);
        let toks = tokenize(&clean, path, n as u32 + 1).map_err(|mut e| {
            e.source_line = raw.to_string();
            e
        })?;
        let mut t: &[Token] = &toks;
        let line_pos = |t: &Token| t.pos.clone();
        while t.len() >= 2 && t[1].is(":") && t[0].ident().is_some() {
            let name = scoped(t[0].ident().expect("checked"), &scope);
            let global = !name.starts_with(&scope);
            items.push(Item {
                kind: ItemKind::Label { name, global },
                pos: line_pos(&t[0]),
                source: raw.to_string(),
                scope: scope.clone(),
                ordinal: None,
            });
            t = &t[2..];
        }
        if t.is_empty() {
            continue;
        }
        let pos = t[0].pos.clone();
        let Some(word) = t[0].ident().map(|w| w.to_ascii_lowercase()) else {
            let mut e = AsmError::new(
                pos,
                format!("expected an instruction, found {}", t[0].describe()),
            );
            e.source_line = raw.to_string();
            return Err(e);
        };
        // iced prints `data16` before a 16-bit form that has no 16-bit operand to show.
        let (word, t, forced) = if word == "data16" && t.len() > 1 && t[1].ident().is_some() {
            (
                t[1].ident().expect("checked").to_ascii_lowercase(),
                &t[1..],
                Some(2),
            )
        } else {
            (word, t, None)
        };
        let mut c = Cursor {
            toks: &t[1..],
            i: 0,
            line: raw,
            pos: pos.clone(),
        };
        let kind = if let Some(width) = match word.as_str() {
            "db" => Some(1),
            "dw" => Some(2),
            "dd" => Some(4),
            "dq" => Some(8),
            _ => None,
        } {
            let mut bytes = Vec::new();
            loop {
                if let Some(Tok::Str(s)) = c.peek().map(|t| &t.tok) {
                    bytes.extend(s.as_bytes());
                    c.i += 1;
                } else {
                    let v = c.number()?;
                    bytes.extend_from_slice(&v.to_le_bytes()[..width]);
                }
                if c.peek().is_none() {
                    break;
                }
                if !c.eat(",") {
                    return c.fail(format!("expected `,`, found {}", c.found()));
                }
            }
            ItemKind::Data(bytes)
        } else {
            let mnemonic = *mnemonics().get(&word).ok_or_else(|| {
                let mut e = AsmError::new(pos.clone(), format!("unknown instruction `{word}`"));
                e.source_line = raw.to_string();
                e
            })?;
            let mut ops = Vec::new();
            let mut size = None;
            while c.peek().is_some() {
                let (op, s) = operand(&mut c, &scope)?;
                size = size.or(s);
                ops.push(op);
                if c.peek().is_some() && !c.eat(",") {
                    return c.fail(format!(
                        "expected `,` between operands, found {}",
                        c.found()
                    ));
                }
            }
            // Stack operations are 64-bit unless `data16` says otherwise.
            if matches!(mnemonic, Mnemonic::Push | Mnemonic::Pop) {
                size = forced.or(size).or(Some(8));
            } else if forced.is_some() {
                size = forced;
            }
            // iced prints `imul r, r, imm` with the repeated register once: `imul r, imm`.
            if mnemonic == Mnemonic::Imul && ops.len() == 2 {
                if let (Op::Plain(Operand::Reg(_)), Op::Plain(Operand::Imm(_))) = (&ops[0], &ops[1])
                {
                    ops.insert(1, ops[0].clone());
                }
            }
            // A numeric branch target is an absolute address, as iced prints it.
            if word.starts_with('j') || word == "call" {
                for op in &mut ops {
                    if let Op::Plain(Operand::Imm(v)) = op {
                        *op = Op::Plain(Operand::Branch(*v as u64));
                    }
                }
            }
            // Widening moves name both sizes; the operand size is the destination's.
            if matches!(
                mnemonic,
                Mnemonic::Movzx | Mnemonic::Movsx | Mnemonic::Movsxd
            ) {
                if let Some(Op::Plain(Operand::Reg(r))) = ops.first() {
                    size = Some(r.size() as u32);
                }
            }
            ItemKind::Ins {
                mnemonic,
                size,
                ops,
                code: None,
            }
        };
        items.push(Item {
            kind,
            pos,
            source: raw.to_string(),
            scope: scope.clone(),
            ordinal: Some(ordinal),
        });
        ordinal += 1;
    }
    Ok(items)
}
