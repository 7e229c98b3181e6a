//! Go's assembler syntax (Plan 9 style), the subset Go's runtime uses on linux/amd64.
//!
//! Operands are written source first, destination last; sizes come from the mnemonic's
//! suffix (`MOVQ`, `ADDL`); registers are named without width (`AX` is AL, AX, EAX or RAX by
//! the suffix). The pseudo-registers are `FP` (arguments: `name+off(FP)`), `SB` (symbols),
//! `SP` (with a symbol, `x-8(SP)` is the top of the local frame; without one, `8(SP)` is the
//! hardware register) and `PC` (`2(PC)` is two instructions ahead).
//!
//! Frames follow Go's assembler on amd64 (`cmd/internal/obj/x86/obj6.go`): a function with
//! a frame gets `SUBQ $frame, SP`, and unless it is `NOFRAME`, 8 more bytes to save BP
//! (`MOVQ BP, frame(SP)`; `LEAQ frame(SP), BP`), undone before each `RET`. A function that is
//! not `NOSPLIT` (and is not a small leaf, which Go's assembler makes `NOSPLIT` itself) gets
//! the stack-split check: load g, compare SP with `g.stackguard0`, and call
//! `runtime·morestack_noctxt` when the stack is too small. All inserted code is attributed
//! to the `TEXT` line (the epilogue to its `RET`), as Go attributes it.

use super::error::{AsmError, Pos};
use super::lex::{Tok, Token};
use super::preprocess::Line;
use super::program::{Item, ItemKind, Op, Target};
use super::select::{Mem, Operand};
use iced_x86::{Code, Mnemonic as M, Register as R};

use go_release::GoRelease;

/// `textflag.h` values.
pub mod textflag {
    /// The function may not grow the stack: no split check.
    pub const NOSPLIT: i64 = 4;
    /// The function's closure context register is live.
    pub const NEEDCTXT: i64 = 64;
    /// No frame pointer save even with a frame.
    pub const NOFRAME: i64 = 512;
}

/// Go's `StackSmall`: frames up to this size compare SP itself with the guard.
const STACK_SMALL: i64 = 128;
/// Go's `StackBig`: frames larger than this need a different check (not supported).
const STACK_BIG: i64 = 4096;
/// Where g lives: `fs:[-8]` on linux/amd64 non-shared builds.
const TLS_G: i64 = -8;

fn err(pos: &Pos, line: &str, msg: impl Into<String>) -> AsmError {
    let mut e = AsmError::new(pos.clone(), msg);
    e.source_line = line.to_string();
    e
}

/// A Go register name: which register, and whether the name fixes the width.
fn register(name: &str) -> Option<(u8, Option<u32>)> {
    const WIDE: [&str; 16] = [
        "AX", "CX", "DX", "BX", "SP", "BP", "SI", "DI", "R8", "R9", "R10", "R11", "R12", "R13",
        "R14", "R15",
    ];
    if let Some(i) = WIDE.iter().position(|&n| n == name) {
        return Some((i as u8, None));
    }
    const BYTE: [&str; 16] = [
        "AL", "CL", "DL", "BL", "SPB", "BPB", "SIB", "DIB", "R8B", "R9B", "R10B", "R11B", "R12B",
        "R13B", "R14B", "R15B",
    ];
    if let Some(i) = BYTE.iter().position(|&n| n == name) {
        return Some((i as u8, Some(1)));
    }
    match name {
        "AH" => Some((16, Some(1))),
        "CH" => Some((17, Some(1))),
        "DH" => Some((18, Some(1))),
        "BH" => Some((19, Some(1))),
        _ => {
            let n: u8 = name.strip_prefix('X')?.parse().ok()?;
            (n < 16).then_some((32 + n, Some(16)))
        }
    }
}

/// The iced register for a Go register number at a width.
fn iced_register(num: u8, size: u32) -> R {
    const R64: [R; 16] = [
        R::RAX,
        R::RCX,
        R::RDX,
        R::RBX,
        R::RSP,
        R::RBP,
        R::RSI,
        R::RDI,
        R::R8,
        R::R9,
        R::R10,
        R::R11,
        R::R12,
        R::R13,
        R::R14,
        R::R15,
    ];
    const R32: [R; 16] = [
        R::EAX,
        R::ECX,
        R::EDX,
        R::EBX,
        R::ESP,
        R::EBP,
        R::ESI,
        R::EDI,
        R::R8D,
        R::R9D,
        R::R10D,
        R::R11D,
        R::R12D,
        R::R13D,
        R::R14D,
        R::R15D,
    ];
    const R16: [R; 16] = [
        R::AX,
        R::CX,
        R::DX,
        R::BX,
        R::SP,
        R::BP,
        R::SI,
        R::DI,
        R::R8W,
        R::R9W,
        R::R10W,
        R::R11W,
        R::R12W,
        R::R13W,
        R::R14W,
        R::R15W,
    ];
    const R8: [R; 16] = [
        R::AL,
        R::CL,
        R::DL,
        R::BL,
        R::SPL,
        R::BPL,
        R::SIL,
        R::DIL,
        R::R8L,
        R::R9L,
        R::R10L,
        R::R11L,
        R::R12L,
        R::R13L,
        R::R14L,
        R::R15L,
    ];
    match num {
        16..=19 => [R::AH, R::CH, R::DH, R::BH][num as usize - 16],
        32..=47 => [
            R::XMM0,
            R::XMM1,
            R::XMM2,
            R::XMM3,
            R::XMM4,
            R::XMM5,
            R::XMM6,
            R::XMM7,
            R::XMM8,
            R::XMM9,
            R::XMM10,
            R::XMM11,
            R::XMM12,
            R::XMM13,
            R::XMM14,
            R::XMM15,
        ][num as usize - 32],
        n => match size {
            8 => R64[n as usize],
            4 => R32[n as usize],
            2 => R16[n as usize],
            _ => R8[n as usize],
        },
    }
}

/// Names people write by habit from other assemblers, and the Go name.
fn suggest_register(name: &str) -> Option<&'static str> {
    Some(match name.to_ascii_uppercase().as_str() {
        "RAX" | "EAX" => "AX",
        "RBX" | "EBX" => "BX",
        "RCX" | "ECX" => "CX",
        "RDX" | "EDX" => "DX",
        "RSI" | "ESI" => "SI",
        "RDI" | "EDI" => "DI",
        "RSP" | "ESP" => "SP",
        "RBP" | "EBP" => "BP",
        "R8D" | "R8W" => "R8",
        "R9D" | "R9W" => "R9",
        "R10D" | "R10W" => "R10",
        "R11D" | "R11W" => "R11",
        "R12D" | "R12W" => "R12",
        "R13D" | "R13W" => "R13",
        "R14D" | "R14W" => "R14",
        "R15D" | "R15W" => "R15",
        "RIP" => "PC or a symbol(SB)",
        _ => return None,
    })
}

/// How a Go mnemonic maps to iced.
#[derive(Clone, Copy, Debug)]
struct Spec {
    mnemonic: M,
    /// Operand size from the suffix.
    size: Option<u32>,
    /// Size of the source for the widening moves (`MOVBLZX`: 1).
    src_size: Option<u32>,
    /// A fixed encoding.
    code: Option<Code>,
    /// Operands are not reversed (CMP).
    keep_order: bool,
}

fn spec(m: M, size: Option<u32>) -> Spec {
    Spec {
        mnemonic: m,
        size,
        src_size: None,
        code: None,
        keep_order: false,
    }
}

const CONDITIONS: [(&str, [M; 3]); 16] = [
    ("EQ", [M::Je, M::Sete, M::Cmove]),
    ("NE", [M::Jne, M::Setne, M::Cmovne]),
    ("CS", [M::Jb, M::Setb, M::Cmovb]),
    ("LO", [M::Jb, M::Setb, M::Cmovb]),
    ("CC", [M::Jae, M::Setae, M::Cmovae]),
    ("HS", [M::Jae, M::Setae, M::Cmovae]),
    ("HI", [M::Ja, M::Seta, M::Cmova]),
    ("LS", [M::Jbe, M::Setbe, M::Cmovbe]),
    ("GE", [M::Jge, M::Setge, M::Cmovge]),
    ("GT", [M::Jg, M::Setg, M::Cmovg]),
    ("LE", [M::Jle, M::Setle, M::Cmovle]),
    ("LT", [M::Jl, M::Setl, M::Cmovl]),
    ("MI", [M::Js, M::Sets, M::Cmovs]),
    ("PL", [M::Jns, M::Setns, M::Cmovns]),
    ("OS", [M::Jo, M::Seto, M::Cmovo]),
    ("OC", [M::Jno, M::Setno, M::Cmovno]),
];

fn condition(name: &str, which: usize) -> Option<M> {
    match name {
        "Z" => Some([M::Je, M::Sete, M::Cmove][which]),
        "NZ" => Some([M::Jne, M::Setne, M::Cmovne][which]),
        "PS" => Some([M::Jp, M::Setp, M::Cmovp][which]),
        "PC" => Some([M::Jnp, M::Setnp, M::Cmovnp][which]),
        _ => CONDITIONS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, m)| m[which]),
    }
}

fn suffix_size(c: char) -> Option<u32> {
    match c {
        'B' => Some(1),
        'W' => Some(2),
        'L' => Some(4),
        'Q' => Some(8),
        _ => None,
    }
}

/// Maps a Go mnemonic (`MOVQ`, `JEQ`, `CMOVQEQ`, `MOVBLZX`) to iced.
fn lookup(name: &str) -> Option<Spec> {
    // Go's mnemonics are ASCII; the suffix split below must not cut a character in two.
    if !name.is_ascii() {
        return None;
    }
    let widen = |m, src, dst| Spec {
        mnemonic: m,
        size: Some(dst),
        src_size: Some(src),
        code: None,
        keep_order: false,
    };
    let fixed = match name {
        "CALL" => spec(M::Call, None),
        "JMP" => spec(M::Jmp, None),
        "RET" => spec(M::Ret, None),
        "NOP" => spec(M::Nop, None),
        "SYSCALL" => spec(M::Syscall, None),
        "HLT" => spec(M::Hlt, None),
        "PAUSE" => spec(M::Pause, None),
        "MFENCE" => spec(M::Mfence, None),
        "LFENCE" => spec(M::Lfence, None),
        "SFENCE" => spec(M::Sfence, None),
        "CLD" => spec(M::Cld, None),
        "STD" => spec(M::Std, None),
        "CQO" => spec(M::Cqo, None),
        "CDQ" => spec(M::Cdq, None),
        "CWD" => spec(M::Cwd, None),
        "CBW" => spec(M::Cbw, None),
        "CWDE" => spec(M::Cwde, None),
        "CDQE" => spec(M::Cdqe, None),
        "INT" => spec(M::Int, None),
        "UNDEF" => spec(M::Ud2, None),
        "PUSHFQ" => spec(M::Pushfq, None),
        "POPFQ" => spec(M::Popfq, None),
        "XORPS" => spec(M::Xorps, Some(16)),
        "PXOR" => spec(M::Pxor, Some(16)),
        "MOVUPS" => spec(M::Movups, Some(16)),
        "MOVOU" => spec(M::Movdqu, Some(16)),
        "IMUL3Q" => spec(M::Imul, Some(8)),
        "IMUL3L" => spec(M::Imul, Some(4)),
        "MOVBLZX" => widen(M::Movzx, 1, 4),
        "MOVBQZX" => widen(M::Movzx, 1, 8),
        "MOVWLZX" => widen(M::Movzx, 2, 4),
        "MOVWQZX" => widen(M::Movzx, 2, 8),
        "MOVBLSX" => widen(M::Movsx, 1, 4),
        "MOVBQSX" => widen(M::Movsx, 1, 8),
        "MOVWLSX" => widen(M::Movsx, 2, 4),
        "MOVWQSX" => widen(M::Movsx, 2, 8),
        "MOVLQSX" => widen(M::Movsxd, 4, 8),
        // Zero-extending 32 to 64 bits is a 32-bit move; Go encodes it as `8B /r`.
        "MOVLQZX" => Spec {
            mnemonic: M::Mov,
            size: Some(4),
            src_size: None,
            code: Some(Code::Mov_r32_rm32),
            keep_order: false,
        },
        _ => {
            if let Some(c) = name.strip_prefix('J') {
                return condition(c, 0).map(|m| spec(m, None));
            }
            if let Some(c) = name.strip_prefix("SET") {
                return condition(c, 1).map(|m| spec(m, Some(1)));
            }
            if let Some(rest) = name.strip_prefix("CMOV") {
                let size = suffix_size(rest.chars().next()?)?;
                return condition(&rest[1..], 2).map(|m| spec(m, Some(size)));
            }
            let (base, last) = name.split_at(name.len().checked_sub(1)?);
            let size = suffix_size(last.chars().next()?)?;
            let m = match base {
                "MOV" => M::Mov,
                "LEA" => M::Lea,
                "ADD" => M::Add,
                "ADC" => M::Adc,
                "SUB" => M::Sub,
                "SBB" => M::Sbb,
                "AND" => M::And,
                "OR" => M::Or,
                "XOR" => M::Xor,
                "CMP" => M::Cmp,
                "TEST" => M::Test,
                "INC" => M::Inc,
                "DEC" => M::Dec,
                "NEG" => M::Neg,
                "NOT" => M::Not,
                "SHL" | "SAL" => M::Shl,
                "SHR" => M::Shr,
                "SAR" => M::Sar,
                "ROL" => M::Rol,
                "ROR" => M::Ror,
                "XCHG" => M::Xchg,
                "BSWAP" => M::Bswap,
                "MUL" => M::Mul,
                "IMUL" => M::Imul,
                "DIV" => M::Div,
                "IDIV" => M::Idiv,
                "BT" => M::Bt,
                "BTS" => M::Bts,
                "BTR" => M::Btr,
                "BTC" => M::Btc,
                "CMPXCHG" => M::Cmpxchg,
                "XADD" => M::Xadd,
                "PUSH" => M::Push,
                "POP" => M::Pop,
                _ => return None,
            };
            let mut s = spec(m, Some(size));
            s.keep_order = m == M::Cmp;
            return Some(s);
        }
    };
    Some(fixed)
}

/// An operand as written, before frame offsets are known.
#[derive(Clone, Debug)]
enum GoOperand {
    Reg(u8, Option<u32>),
    Imm(i64),
    /// `$sym+off(SB)`: the address of a symbol.
    Addr(String, i64),
    /// Memory through a register, FP, pseudo-SP, SB or TLS.
    Mem {
        base: Base,
        index: Option<(u8, u32)>,
        off: i64,
        sym: Option<String>,
    },
    /// `MOVQ TLS, r`: names the thread-local base register.
    Tls,
    Label(String),
    /// `n(PC)`.
    Pc(i64),
}

#[derive(Clone, Debug, PartialEq)]
enum Base {
    Reg(u8),
    Fp,
    /// `x-8(SP)`: the pseudo-SP (the symbol distinguishes it from hardware SP).
    PseudoSp,
    Sb,
    /// `0(r)(TLS*1)`: g's TLS slot.
    Tls,
}

struct Parser<'a> {
    toks: &'a [Token],
    i: usize,
    line: &'a str,
    pos: Pos,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&'a Token> {
        self.toks.get(self.i)
    }
    fn next(&mut self) -> Option<&'a Token> {
        let t = self.toks.get(self.i);
        self.i += 1;
        t
    }
    fn here(&self) -> Pos {
        self.peek()
            .map_or_else(|| self.end_pos(), |t| t.pos.clone())
    }
    fn end_pos(&self) -> Pos {
        let mut p = self.pos.clone();
        p.col = self.line.chars().count() as u32 + 1;
        p
    }
    fn fail<T>(&self, msg: impl Into<String>) -> Result<T, AsmError> {
        Err(err(&self.here(), self.line, msg))
    }
    fn found(&self) -> String {
        self.peek()
            .map_or("the end of the line".into(), |t| t.describe())
    }
    fn expect(&mut self, p: &str) -> Result<(), AsmError> {
        if self.peek().is_some_and(|t| t.is(p)) {
            self.i += 1;
            Ok(())
        } else {
            self.fail(format!("expected `{p}`, found {}", self.found()))
        }
    }
    fn eat(&mut self, p: &str) -> bool {
        if self.peek().is_some_and(|t| t.is(p)) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    // Expressions: | ^ & << >> + - * / % unary - ~ +, parentheses, integers.
    fn expr(&mut self) -> Result<i64, AsmError> {
        self.binary(0)
    }
    fn binary(&mut self, level: usize) -> Result<i64, AsmError> {
        const LEVELS: [&[&str]; 4] = [&["|"], &["^"], &["&", "<<", ">>"], &["+", "-"]];
        if level == LEVELS.len() {
            return self.product();
        }
        let mut v = self.binary(level + 1)?;
        while let Some(op) = self.peek().and_then(|t| match &t.tok {
            Tok::Punct(p) if LEVELS[level].contains(p) => Some(*p),
            _ => None,
        }) {
            self.i += 1;
            let r = self.binary(level + 1)?;
            v = match op {
                "|" => v | r,
                "^" => v ^ r,
                "&" => v & r,
                "<<" => v.wrapping_shl(r as u32),
                ">>" => ((v as u64).wrapping_shr(r as u32)) as i64,
                "+" => v.wrapping_add(r),
                _ => v.wrapping_sub(r),
            };
        }
        Ok(v)
    }
    fn product(&mut self) -> Result<i64, AsmError> {
        let mut v = self.unary()?;
        loop {
            let op = match self.peek() {
                Some(t) if t.is("*") => "*",
                Some(t) if t.is("/") => "/",
                Some(t) if t.is("%") => "%",
                _ => return Ok(v),
            };
            let at = self.here();
            self.i += 1;
            let r = self.unary()?;
            v = match op {
                "*" => v.wrapping_mul(r),
                _ if r == 0 => return Err(err(&at, self.line, "division by zero in a constant")),
                "/" => v.wrapping_div(r),
                _ => v.wrapping_rem(r),
            };
        }
    }
    fn unary(&mut self) -> Result<i64, AsmError> {
        if self.eat("-") {
            return Ok(self.unary()?.wrapping_neg());
        }
        if self.eat("+") {
            return self.unary();
        }
        if self.eat("~") {
            return Ok(!self.unary()?);
        }
        if self.eat("(") {
            let v = self.expr()?;
            self.expect(")")?;
            return Ok(v);
        }
        match self.peek().map(|t| &t.tok) {
            Some(Tok::Int(v)) => {
                self.i += 1;
                Ok(*v as i64)
            }
            Some(Tok::Ident(name)) => self.fail(format!(
                "unknown constant `{name}` (is a #define or #include missing?)"
            )),
            _ => self.fail(format!("expected a number, found {}", self.found())),
        }
    }

    /// A symbol name: an identifier, optionally followed by `<>` (file-local).
    fn symbol_name(&mut self, package: &str) -> Result<String, AsmError> {
        let Some(Tok::Ident(name)) = self.next().map(|t| &t.tok) else {
            self.i -= 1;
            return self.fail(format!("expected a symbol name, found {}", self.found()));
        };
        let mut name = if let Some(rest) = name.strip_prefix('·') {
            format!("{package}·{rest}")
        } else {
            name.clone()
        };
        if self.peek().is_some_and(|t| t.is("<"))
            && self.toks.get(self.i + 1).is_some_and(|t| t.is(">"))
        {
            self.i += 2;
            name.push_str("<>");
        }
        Ok(name)
    }

    /// `(R)` `(R)(I*s)` after an offset; `base_word` is what is inside the first parentheses.
    fn parenthesized(&mut self) -> Result<(Base, Option<(u8, u32)>), AsmError> {
        self.expect("(")?;
        let at = self.here();
        let word = match self.next().map(|t| &t.tok) {
            Some(Tok::Ident(w)) => w.clone(),
            _ => {
                self.i -= 1;
                return self.fail(format!("expected a register, found {}", self.found()));
            }
        };
        self.expect(")")?;
        let base = match word.as_str() {
            "FP" => Base::Fp,
            "SB" => Base::Sb,
            "SP" => Base::Reg(4),
            "PC" => {
                return Err(err(
                    &at,
                    self.line,
                    "PC is only for branch targets such as 2(PC)",
                ))
            }
            w => match register(w) {
                Some((n, None)) => Base::Reg(n),
                Some(_) => {
                    return Err(err(
                        &at,
                        self.line,
                        format!("`{w}` cannot address memory; use the 64-bit name"),
                    ))
                }
                None => {
                    let e = err(&at, self.line, format!("unknown register `{w}`"));
                    return Err(match suggest_register(w) {
                        Some(s) => e.suggest(format!("did you mean `{s}`?")),
                        None => e,
                    });
                }
            },
        };
        if !self.peek().is_some_and(|t| t.is("(")) {
            return Ok((base, None));
        }
        self.i += 1;
        let at = self.here();
        let index = match self.next().map(|t| &t.tok) {
            Some(Tok::Ident(w)) => w.clone(),
            _ => return Err(err(&at, self.line, "expected an index register")),
        };
        self.expect("*")?;
        let scale_at = self.here();
        let scale = self.expr()?;
        self.expect(")")?;
        if index == "TLS" {
            return Ok((Base::Tls, None));
        }
        let Some((n, None)) = register(&index) else {
            return Err(err(
                &at,
                self.line,
                format!("unknown index register `{index}`"),
            ));
        };
        if ![1, 2, 4, 8].contains(&scale) {
            return Err(err(
                &scale_at,
                self.line,
                format!("scale must be 1, 2, 4 or 8, found {scale}"),
            ));
        }
        Ok((base, Some((n, scale as u32))))
    }

    fn operand(&mut self, package: &str) -> Result<GoOperand, AsmError> {
        let start = self.i;
        if self.eat("$") {
            // `$sym(SB)` or `$sym+8(SB)`: an address.
            if let (Some(Tok::Ident(_)), true) = (self.peek().map(|t| &t.tok), self.has_sb_ahead())
            {
                let name = self.symbol_name(package)?;
                let off = if self.peek().is_some_and(|t| t.is("+") || t.is("-")) {
                    self.expr()?
                } else {
                    0
                };
                let (base, _) = self.parenthesized()?;
                if base != Base::Sb {
                    return self.fail("expected (SB) after a symbol");
                }
                return Ok(GoOperand::Addr(name, off));
            }
            return Ok(GoOperand::Imm(self.expr()?));
        }
        if let Some(Tok::Ident(w)) = self.peek().map(|t| &t.tok) {
            let next_is_paren = self.toks.get(self.i + 1).is_some_and(|t| t.is("("));
            let next_is_sign = self
                .toks
                .get(self.i + 1)
                .is_some_and(|t| t.is("+") || t.is("-") || t.is("<"));
            if w == "TLS" {
                self.i += 1;
                return Ok(GoOperand::Tls);
            }
            if let Some((n, fixed)) = register(w) {
                self.i += 1;
                return Ok(GoOperand::Reg(n, fixed));
            }
            if !next_is_paren && !next_is_sign && !w.starts_with('·') {
                self.i += 1;
                if let Some(s) = suggest_register(w) {
                    // A label is an identifier too; only suggest when it reads as a register.
                    if self.peek().is_none_or(|t| t.is(","))
                        && w.to_ascii_uppercase() == *w
                        && !w.contains('_')
                    {
                        return Err(err(
                            &self.toks[start].pos,
                            self.line,
                            format!("unknown register `{w}`"),
                        )
                        .suggest(format!("did you mean `{s}`?")));
                    }
                }
                return Ok(GoOperand::Label(w.clone()));
            }
            // A symbol before the parentheses: `name+8(FP)`, `x-8(SP)`, `sym(SB)`.
            let name = self.symbol_name(package)?;
            let off = if self.peek().is_some_and(|t| t.is("+") || t.is("-")) {
                self.expr()?
            } else {
                0
            };
            let (base, index) = self.parenthesized()?;
            let base = match base {
                Base::Reg(4) => Base::PseudoSp,
                Base::Reg(_) | Base::Tls => {
                    return Err(err(
                        &self.toks[start].pos,
                        self.line,
                        "a symbol may only be used with FP, SP or SB",
                    ))
                }
                b => b,
            };
            return Ok(GoOperand::Mem {
                base,
                index,
                off,
                sym: Some(name),
            });
        }
        // An offset, then parentheses: `8(SP)`, `-8(AX)(BX*8)`, `2(PC)`, `(AX)`.
        // `(R)` starts with a register; `(g_sched+gobuf_sp)(R8)` with an offset expression.
        let paren_register = self.peek().is_some_and(|t| t.is("("))
            && self
                .toks
                .get(self.i + 1)
                .and_then(|t| t.ident())
                .is_some_and(|w| register(w).is_some() || matches!(w, "FP" | "SB" | "SP" | "PC"));
        let off = if paren_register { 0 } else { self.expr()? };
        if !self.peek().is_some_and(|t| t.is("(")) {
            return Err(err(
                &self.toks[start].pos,
                self.line,
                "expected `(register)` after an offset (immediates start with `$`)",
            ));
        }
        if self.toks.get(self.i + 1).and_then(|t| t.ident()) == Some("PC") {
            self.i += 3;
            return Ok(GoOperand::Pc(off));
        }
        let (base, index) = self.parenthesized()?;
        if base == Base::Fp {
            return Err(err(
                &self.toks[start].pos,
                self.line,
                "FP needs an argument name, as in `x+0(FP)`",
            ));
        }
        Ok(GoOperand::Mem {
            base,
            index,
            off,
            sym: None,
        })
    }

    fn has_sb_ahead(&self) -> bool {
        self.toks[self.i..]
            .windows(3)
            .any(|w| w[0].is("(") && w[1].ident() == Some("SB") && w[2].is(")"))
    }
}

/// One parsed statement.
enum Stmt {
    Label(String),
    Text {
        name: String,
        flags: i64,
        frame: i64,
    },
    Ins {
        op: String,
        spec: Spec,
        operands: Vec<GoOperand>,
    },
    Data(Vec<u8>),
}

struct Parsed {
    stmt: Stmt,
    pos: Pos,
    line: String,
}

fn split_statements(tokens: &[Token]) -> Vec<&[Token]> {
    tokens
        .split(|t| t.is(";"))
        .filter(|s| !s.is_empty())
        .collect()
}

fn parse_line(line: &Line, package: &str, out: &mut Vec<Parsed>) -> Result<(), AsmError> {
    for mut toks in split_statements(&line.tokens) {
        // Labels: `name:` before a statement.
        while toks.len() >= 2 && toks[1].is(":") {
            let name = toks[0]
                .ident()
                .ok_or_else(|| err(&toks[0].pos, &line.text, "a label must be a name"))?;
            out.push(Parsed {
                stmt: Stmt::Label(name.to_string()),
                pos: toks[0].pos.clone(),
                line: line.text.clone(),
            });
            toks = &toks[2..];
        }
        if toks.is_empty() {
            continue;
        }
        let pos = toks[0].pos.clone();
        let Some(op) = toks[0].ident() else {
            return Err(err(
                &pos,
                &line.text,
                format!("expected an instruction, found {}", toks[0].describe()),
            ));
        };
        let mut p = Parser {
            toks: &toks[1..],
            i: 0,
            line: &line.text,
            pos: pos.clone(),
        };
        let mut operands = Vec::new();
        let mut raw: Vec<&[Token]> = Vec::new();
        if !toks[1..].is_empty() {
            // Split at top-level commas (commas inside parentheses belong to no operand here).
            let mut depth = 0;
            let mut start = 0;
            for (k, t) in toks[1..].iter().enumerate() {
                if t.is("(") {
                    depth += 1;
                } else if t.is(")") {
                    depth -= 1;
                } else if t.is(",") && depth == 0 {
                    raw.push(&toks[1 + start..1 + k]);
                    start = k + 1;
                }
            }
            raw.push(&toks[1 + start..]);
        }
        let stmt = match op {
            "TEXT" => {
                if raw.len() < 2 || raw.len() > 3 {
                    return Err(err(
                        &pos,
                        &line.text,
                        "expected TEXT sym(SB), [flags,] $frame[-args]",
                    ));
                }
                let mut sp = Parser {
                    toks: raw[0],
                    i: 0,
                    line: &line.text,
                    pos: pos.clone(),
                };
                let name = sp.symbol_name(package)?;
                let (base, _) = sp.parenthesized()?;
                if base != Base::Sb {
                    return sp.fail("a TEXT symbol is written sym(SB)");
                }
                let flags = if raw.len() == 3 {
                    let mut fp = Parser {
                        toks: raw[1],
                        i: 0,
                        line: &line.text,
                        pos: pos.clone(),
                    };
                    flag_expr(&mut fp)?
                } else {
                    0
                };
                let mut fr = Parser {
                    toks: raw[raw.len() - 1],
                    i: 0,
                    line: &line.text,
                    pos: pos.clone(),
                };
                fr.expect("$")?;
                let frame = fr.unary()?;
                // `-args` after the frame size is the argument size; it does not change code.
                if fr.eat("-") {
                    fr.unary()?;
                }
                if fr.peek().is_some() {
                    return fr.fail(format!("unexpected {} after the frame size", fr.found()));
                }
                Stmt::Text { name, flags, frame }
            }
            "BYTE" | "WORD" | "LONG" | "QUAD" => {
                let width = match op {
                    "BYTE" => 1,
                    "WORD" => 2,
                    "LONG" => 4,
                    _ => 8,
                };
                let mut bytes = Vec::new();
                for r in &raw {
                    let mut q = Parser {
                        toks: r,
                        i: 0,
                        line: &line.text,
                        pos: pos.clone(),
                    };
                    q.expect("$")?;
                    let v = q.expr()?;
                    bytes.extend_from_slice(&v.to_le_bytes()[..width]);
                }
                Stmt::Data(bytes)
            }
            "PCDATA" | "FUNCDATA" => continue,
            "GLOBL" | "DATA" => {
                return Err(err(
                    &pos,
                    &line.text,
                    format!("{op} is not supported: data lives in the world the lesson builds"),
                ))
            }
            _ => {
                let spec = lookup(op).ok_or_else(|| {
                    let e = err(&pos, &line.text, format!("unknown instruction `{op}`"));
                    match op.to_ascii_uppercase().as_str() {
                        "MOV" | "ADD" | "SUB" | "CMP" | "LEA" | "PUSH" | "POP" | "XOR" | "AND"
                        | "OR" => e.suggest(format!(
                            "Go names carry a size: `{}Q` (64-bit), `{}L` (32-bit)",
                            op.to_ascii_uppercase(),
                            op.to_ascii_uppercase()
                        )),
                        "INT3" => e.suggest("write `INT $3`"),
                        "UD2" => e.suggest("Go's assembler calls it `UNDEF`"),
                        _ => e,
                    }
                })?;
                for r in &raw {
                    if r.is_empty() {
                        p.i = 0;
                        return Err(err(&pos, &line.text, "empty operand"));
                    }
                    let mut q = Parser {
                        toks: r,
                        i: 0,
                        line: &line.text,
                        pos: r[0].pos.clone(),
                    };
                    let o = q.operand(package)?;
                    if q.peek().is_some() {
                        return q.fail(format!("unexpected {} in operand", q.found()));
                    }
                    operands.push(o);
                }
                Stmt::Ins {
                    op: op.to_string(),
                    spec,
                    operands,
                }
            }
        };
        out.push(Parsed {
            stmt,
            pos,
            line: line.text.clone(),
        });
    }
    Ok(())
}

/// TEXT flags: `NOSPLIT|NOFRAME` (already macro-expanded to numbers) or a number.
fn flag_expr(p: &mut Parser) -> Result<i64, AsmError> {
    let v = p.expr()?;
    if p.peek().is_some() {
        return p.fail(format!("unexpected {} in TEXT flags", p.found()));
    }
    Ok(v)
}

/// The built-in headers for a release.
pub fn builtin_headers(go_asm_h: &str) -> std::collections::HashMap<String, String> {
    let textflag = "// Flags for TEXT and GLOBL (values as in Go's textflag.h).\n\
        #define NOPROF 1\n#define DUPOK 2\n#define NOSPLIT 4\n#define RODATA 8\n#define NOPTR 16\n\
        #define WRAPPER 32\n#define NEEDCTXT 64\n#define TLSBSS 256\n#define NOFRAME 512\n\
        #define REFLECTMETHOD 1024\n#define TOPFRAME 2048\n#define ABIWRAPPER 4096\n";
    let go_tls = "// g lives in thread-local storage: get_tls loads nothing on linux/amd64, and\n\
        // g(r) is the FS-relative slot.\n#define get_tls(r) MOVQ TLS, r\n#define g(r) 0(r)(TLS*1)\n";
    let funcdata = "#define PCDATA_StackMapIndex 0\n#define FUNCDATA_ArgsPointerMaps 0\n\
        #define FUNCDATA_LocalsPointerMaps 1\n#define NO_LOCAL_POINTERS FUNCDATA $FUNCDATA_LocalsPointerMaps, no_pointers_stackmap(SB)\n";
    [
        ("textflag.h", textflag),
        ("go_tls.h", go_tls),
        ("funcdata.h", funcdata),
        ("go_asm.h", go_asm_h),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// One function being lowered.
struct Function {
    name: String,
    flags: i64,
    frame: i64,
    pos: Pos,
    line: String,
    body: Vec<Parsed>,
}

impl Function {
    fn saves_bp(&self) -> bool {
        self.frame > 0 && self.flags & textflag::NOFRAME == 0
    }
    /// Bytes the prologue subtracts from SP.
    fn total(&self) -> i64 {
        self.frame + if self.saves_bp() { 8 } else { 0 }
    }
    fn calls(&self) -> bool {
        self.body
            .iter()
            .any(|p| matches!(&p.stmt, Stmt::Ins { spec, .. } if spec.mnemonic == M::Call))
    }
    /// Go's assembler skips the check for NOSPLIT functions and for small leaf functions.
    fn needs_split_check(&self) -> bool {
        self.flags & textflag::NOSPLIT == 0 && (self.calls() || self.frame >= STACK_SMALL)
    }
}

/// Lowers parsed statements of one file to program items.
pub(crate) fn lower(
    lines: &[Line],
    package: &str,
    release: GoRelease,
) -> Result<Vec<Item>, AsmError> {
    let mut parsed = Vec::new();
    for l in lines {
        parse_line(l, package, &mut parsed)?;
    }
    let mut functions: Vec<Function> = Vec::new();
    for p in parsed {
        match p.stmt {
            Stmt::Text { name, flags, frame } => functions.push(Function {
                name,
                flags,
                frame,
                pos: p.pos,
                line: p.line,
                body: Vec::new(),
            }),
            _ => match functions.last_mut() {
                Some(f) => f.body.push(p),
                None => return Err(err(&p.pos, &p.line, "code before the first TEXT directive")),
            },
        }
    }
    let mut items = Vec::new();
    for f in &functions {
        lower_function(f, release, &mut items)?;
    }
    Ok(items)
}

fn item(kind: ItemKind, pos: &Pos, line: &str, scope: &str, ordinal: Option<usize>) -> Item {
    Item {
        kind,
        pos: pos.clone(),
        source: line.to_string(),
        scope: scope.to_string(),
        ordinal,
    }
}

fn ins(m: M, size: u32, ops: Vec<Op>) -> ItemKind {
    ItemKind::Ins {
        mnemonic: m,
        size: Some(size),
        ops,
        code: None,
    }
}

fn reg(r: R) -> Op {
    Op::Plain(Operand::Reg(r))
}

fn mem(base: R, disp: i64, size: Option<u32>) -> Op {
    Op::Plain(Operand::Mem(Mem {
        base,
        index: R::None,
        scale: 1,
        disp,
        segment: R::None,
        size,
    }))
}

fn lower_function(f: &Function, release: GoRelease, items: &mut Vec<Item>) -> Result<(), AsmError> {
    let scope = f.name.clone();
    let (tp, tl) = (&f.pos, f.line.as_str());
    let start_label = format!("{}:entry", f.name);
    items.push(item(
        ItemKind::Label {
            name: f.name.clone(),
            global: true,
        },
        tp,
        tl,
        &scope,
        None,
    ));
    items.push(item(
        ItemKind::Label {
            name: start_label.clone(),
            global: false,
        },
        tp,
        tl,
        &scope,
        None,
    ));
    if f.frame < 0 || f.frame > STACK_BIG {
        return Err(err(
            tp,
            tl,
            format!("frame size {} is outside 0..={STACK_BIG}", f.frame),
        ));
    }
    let total = f.total();
    let split = f.needs_split_check();
    let morestack = format!("{}:morestack", f.name);
    if split {
        // Load g from TLS into a scratch register and compare SP with g.stackguard0.
        // With the register ABI, Go's assembler reads g from R14 (obj6.go, stacksplit);
        // before it, from TLS into CX.
        let g_reg = if release.abi.register_abi {
            R::R14
        } else {
            R::RCX
        };
        let tls = Op::Plain(Operand::Mem(Mem {
            base: R::None,
            index: R::None,
            scale: 1,
            disp: TLS_G,
            segment: R::FS,
            size: Some(8),
        }));
        items.push(item(
            ins(M::Mov, 8, vec![reg(g_reg), tls]),
            tp,
            tl,
            &scope,
            None,
        ));
        let sp = if total <= STACK_SMALL {
            R::RSP
        } else {
            items.push(item(
                ins(
                    M::Lea,
                    8,
                    vec![reg(R::R12), mem(R::RSP, -(total - STACK_SMALL), None)],
                ),
                tp,
                tl,
                &scope,
                None,
            ));
            R::R12
        };
        items.push(item(
            ins(
                M::Cmp,
                8,
                vec![
                    reg(sp),
                    mem(g_reg, release.required("g_stackguard0") as i64, Some(8)),
                ],
            ),
            tp,
            tl,
            &scope,
            None,
        ));
        items.push(item(
            ItemKind::Ins {
                mnemonic: M::Jbe,
                size: None,
                ops: vec![Op::Branch(Target::Label(morestack.clone()))],
                code: None,
            },
            tp,
            tl,
            &scope,
            None,
        ));
    }
    if total > 0 {
        items.push(item(
            ins(M::Sub, 8, vec![reg(R::RSP), Op::Plain(Operand::Imm(total))]),
            tp,
            tl,
            &scope,
            None,
        ));
        if f.saves_bp() {
            items.push(item(
                ins(
                    M::Mov,
                    8,
                    vec![mem(R::RSP, total - 8, Some(8)), reg(R::RBP)],
                ),
                tp,
                tl,
                &scope,
                None,
            ));
            items.push(item(
                ins(M::Lea, 8, vec![reg(R::RBP), mem(R::RSP, total - 8, None)]),
                tp,
                tl,
                &scope,
                None,
            ));
        }
    }
    let mut ordinal = 0;
    for p in &f.body {
        match &p.stmt {
            Stmt::Label(name) => items.push(item(
                ItemKind::Label {
                    name: name.clone(),
                    global: false,
                },
                &p.pos,
                &p.line,
                &scope,
                None,
            )),
            Stmt::Data(bytes) => {
                items.push(item(
                    ItemKind::Data(bytes.clone()),
                    &p.pos,
                    &p.line,
                    &scope,
                    Some(ordinal),
                ));
                ordinal += 1;
            }
            Stmt::Ins { op, spec, operands } => {
                if spec.mnemonic == M::Ret {
                    if !operands.is_empty() {
                        return Err(err(
                            &p.pos,
                            &p.line,
                            "RET takes no operands in Go's assembler",
                        ));
                    }
                    if total > 0 {
                        if f.saves_bp() {
                            items.push(item(
                                ins(
                                    M::Mov,
                                    8,
                                    vec![reg(R::RBP), mem(R::RSP, total - 8, Some(8))],
                                ),
                                &p.pos,
                                &p.line,
                                &scope,
                                None,
                            ));
                        }
                        items.push(item(
                            ins(M::Add, 8, vec![reg(R::RSP), Op::Plain(Operand::Imm(total))]),
                            &p.pos,
                            &p.line,
                            &scope,
                            None,
                        ));
                    }
                }
                match lower_instruction(op, *spec, operands, f, &p.pos, &p.line)? {
                    Some(kind) => items.push(item(kind, &p.pos, &p.line, &scope, Some(ordinal))),
                    None => {
                        // `MOVQ TLS, r` emits nothing, but still counts for n(PC).
                    }
                }
                ordinal += 1;
            }
            Stmt::Text { .. } => unreachable!("TEXT starts a new function"),
        }
    }
    if split {
        items.push(item(
            ItemKind::Label {
                name: morestack,
                global: false,
            },
            tp,
            tl,
            &scope,
            None,
        ));
        let callee = if f.flags & textflag::NEEDCTXT != 0 {
            "runtime·morestack"
        } else {
            "runtime·morestack_noctxt"
        };
        items.push(item(
            ItemKind::Ins {
                mnemonic: M::Call,
                size: None,
                ops: vec![Op::Branch(Target::Symbol(callee.into(), 0))],
                code: None,
            },
            tp,
            tl,
            &scope,
            None,
        ));
        items.push(item(
            ItemKind::Ins {
                mnemonic: M::Jmp,
                size: None,
                ops: vec![Op::Branch(Target::Label(start_label))],
                code: None,
            },
            tp,
            tl,
            &scope,
            None,
        ));
    }
    items.push(item(ItemKind::End(f.name.clone()), tp, tl, &scope, None));
    Ok(())
}

fn lower_instruction(
    op: &str,
    spec: Spec,
    operands: &[GoOperand],
    f: &Function,
    pos: &Pos,
    line: &str,
) -> Result<Option<ItemKind>, AsmError> {
    // `get_tls(r)` is `MOVQ TLS, r`: nothing to emit on linux/amd64 (FS already is the base).
    if spec.mnemonic == M::Mov && matches!(operands, [GoOperand::Tls, GoOperand::Reg(..)]) {
        return Ok(None);
    }
    // Go's NOP is a pseudo-instruction: it emits no byte.
    if spec.mnemonic == M::Nop && operands.is_empty() {
        return Ok(None);
    }
    let expected = match spec.mnemonic {
        M::Ret
        | M::Nop
        | M::Syscall
        | M::Hlt
        | M::Pause
        | M::Mfence
        | M::Lfence
        | M::Sfence
        | M::Cld
        | M::Std
        | M::Cqo
        | M::Cdq
        | M::Cwd
        | M::Cbw
        | M::Cwde
        | M::Cdqe
        | M::Ud2
        | M::Pushfq
        | M::Popfq => 0..=0,
        M::Imul if op.starts_with("IMUL3") => 3..=3,
        M::Imul => 1..=2,
        M::Call
        | M::Jmp
        | M::Int
        | M::Push
        | M::Pop
        | M::Inc
        | M::Dec
        | M::Neg
        | M::Not
        | M::Bswap
        | M::Mul
        | M::Div
        | M::Idiv => 1..=1,
        m if format!("{m:?}").starts_with('J') || format!("{m:?}").starts_with("Set") => 1..=1,
        _ => 2..=2,
    };
    if !expected.contains(&operands.len()) {
        let want = if expected.start() == expected.end() {
            format!("{}", expected.start())
        } else {
            format!("{} or {}", expected.start(), expected.end())
        };
        let e = err(
            pos,
            line,
            format!(
                "{op} takes {want} operand{}, found {}",
                if want == "1" { "" } else { "s" },
                operands.len()
            ),
        );
        return Err(
            if operands.len() == 3 && expected == (2..=2) && spec.mnemonic == M::Imul {
                e.suggest("three-operand multiply is IMUL3Q $imm, src, dst")
            } else {
                e
            },
        );
    }
    let size = spec.size;
    let is_branch = matches!(spec.mnemonic, M::Call | M::Jmp)
        || format!("{:?}", spec.mnemonic).starts_with('J');
    let mut ops = Vec::with_capacity(operands.len());
    for (k, o) in operands.iter().enumerate() {
        // The source of a widening move has its own size; shift counts in CX mean CL.
        let is_source = k + 1 < operands.len();
        let width = if is_source {
            spec.src_size.or(size)
        } else {
            size
        };
        let shift_count = is_source
            && matches!(spec.mnemonic, M::Shl | M::Shr | M::Sar | M::Rol | M::Ror)
            && matches!(o, GoOperand::Reg(1, None));
        ops.push(match o {
            GoOperand::Reg(n, fixed) => {
                let w = if shift_count {
                    1
                } else {
                    fixed.or(width).unwrap_or(8)
                };
                reg(iced_register(*n, w))
            }
            GoOperand::Imm(v) => Op::Plain(Operand::Imm(*v)),
            GoOperand::Tls => {
                return Err(err(
                    pos,
                    line,
                    "TLS can only be loaded into a register (get_tls)",
                ))
            }
            GoOperand::Label(l) if is_branch => Op::Branch(Target::Label(l.clone())),
            GoOperand::Label(l) => {
                return Err(err(
                    pos,
                    line,
                    format!("`{l}` is not a register; labels are branch targets"),
                ))
            }
            GoOperand::Pc(n) if is_branch => Op::Branch(Target::Relative(*n)),
            GoOperand::Pc(_) => return Err(err(pos, line, "n(PC) is a branch target")),
            GoOperand::Addr(sym, off) => {
                // `MOVQ $sym(SB), r` takes the symbol's address: Go encodes it as LEAQ.
                if spec.mnemonic != M::Mov || k != 0 {
                    return Err(err(
                        pos,
                        line,
                        "an address $sym(SB) can only be moved into a register",
                    ));
                }
                let dst = match operands.last() {
                    Some(GoOperand::Reg(n, None)) => iced_register(*n, 8),
                    _ => {
                        return Err(err(
                            pos,
                            line,
                            "an address $sym(SB) can only be moved into a register",
                        ))
                    }
                };
                return Ok(Some(ItemKind::Ins {
                    mnemonic: M::Lea,
                    size: Some(8),
                    ops: vec![
                        reg(dst),
                        Op::SymMem(Target::Symbol(sym.clone(), *off), None),
                    ],
                    code: None,
                }));
            }
            GoOperand::Mem {
                base: Base::Sb,
                sym: Some(s),
                off,
                ..
            } if is_branch => Op::Branch(Target::Symbol(s.clone(), *off)),
            GoOperand::Mem {
                base,
                index,
                off,
                sym,
            } => {
                let mem_size = if spec.mnemonic == M::Lea { None } else { width };
                let index_reg = index.map_or(R::None, |(n, _)| iced_register(n, 8));
                let scale = index.map_or(1, |(_, s)| s);
                let m = |base: R, disp: i64, segment: R| Mem {
                    base,
                    index: index_reg,
                    scale,
                    disp,
                    segment,
                    size: mem_size,
                };
                match base {
                    Base::Sb => Op::SymMem(
                        Target::Symbol(sym.clone().unwrap_or_default(), *off),
                        mem_size,
                    ),
                    Base::Fp => Op::Plain(Operand::Mem(m(R::RSP, off + f.total() + 8, R::None))),
                    Base::PseudoSp => Op::Plain(Operand::Mem(m(R::RSP, off + f.frame, R::None))),
                    Base::Reg(n) => Op::Plain(Operand::Mem(m(iced_register(*n, 8), *off, R::None))),
                    // g(r) = 0(r)(TLS*1): the register plays no part; g is at fs:[-8].
                    Base::Tls => Op::Plain(Operand::Mem(Mem {
                        base: R::None,
                        index: R::None,
                        scale: 1,
                        disp: off + TLS_G,
                        segment: R::FS,
                        size: mem_size,
                    })),
                }
            }
        });
    }
    // Go writes source first; iced (Intel) wants the destination first. CMP keeps Go's order.
    if !spec.keep_order {
        ops.reverse();
    }
    let mnemonic = spec.mnemonic;
    // Go's `MOVQ $imm, r` of a value that only fits in 32 unsigned bits is a 32-bit move.
    if mnemonic == M::Mov && size == Some(8) {
        if let [Op::Plain(Operand::Reg(r)), Op::Plain(Operand::Imm(v))] = ops.as_slice() {
            if *v > i32::MAX as i64 && *v <= u32::MAX as i64 && r.is_gpr64() {
                let r32 = iced_register(r.number() as u8, 4);
                return Ok(Some(ins(
                    M::Mov,
                    4,
                    vec![reg(r32), Op::Plain(Operand::Imm(*v))],
                )));
            }
        }
    }
    // INT $3 is `CD 03` in Go's assembler, not the one-byte INT3.
    let code = spec.code.or(if mnemonic == M::Int {
        Some(Code::Int_imm8)
    } else {
        None
    });
    Ok(Some(ItemKind::Ins {
        mnemonic,
        size,
        ops,
        code,
    }))
}
