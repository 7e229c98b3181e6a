//! Programs: several source files placed at chosen addresses, symbols resolved across them,
//! encoded with iced's block encoder, and a source map from every instruction to its line.

use super::error::{AsmError, Pos};
use super::select::{self, Operand};
use iced_x86::{Code, Encoder, Mnemonic};
use std::collections::HashMap;

/// Where a branch or an address goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// A label of the same function (Go) or file (Intel).
    Label(String),
    /// A symbol anywhere in the program, plus an offset.
    Symbol(String, i64),
    /// The instruction `n` source instructions away (Go's `n(PC)`).
    Relative(i64),
}

/// An operand before symbols are resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// Fully known.
    Plain(Operand),
    /// A branch target.
    Branch(Target),
    /// A RIP-relative memory operand naming a symbol (`sym+8(SB)`, `[rip+sym]`).
    SymMem(Target, Option<u32>),
}

/// One item of a file, in order.
#[derive(Clone, Debug)]
pub(crate) enum ItemKind {
    /// An instruction; `code` forces a particular encoding where the syntax demands one.
    Ins {
        mnemonic: Mnemonic,
        size: Option<u32>,
        ops: Vec<Op>,
        code: Option<Code>,
    },
    /// Raw bytes (`BYTE`, `db`).
    Data(Vec<u8>),
    /// A label: names the address of the next item. `global` labels are symbols.
    Label { name: String, global: bool },
    /// The end of a symbol (for its size).
    End(String),
    /// A statement that encodes to nothing (`PCDATA`, `get_tls`, `NOP`), kept so that Go's
    /// `n(PC)` counts it.
    Nothing,
    /// A Go `TEXT` directive as laid out (encodes to nothing).
    Text(TextDecl),
    /// NOPs up to the next multiple of `to` bytes from the label `from` (Go's `PCALIGN`,
    /// counted from the function's start; `asm6.go`, `span6` and `fillnop`).
    Align { to: u64, from: String },
}

/// Go's NOPs of 1 to 9 bytes (`asm6.go`, `nop`); longer padding repeats the longest.
const GO_NOPS: [&[u8]; 9] = [
    &[0x90],
    &[0x66, 0x90],
    &[0x0f, 0x1f, 0x00],
    &[0x0f, 0x1f, 0x40, 0x00],
    &[0x0f, 0x1f, 0x44, 0x00, 0x00],
    &[0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00],
    &[0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00],
    &[0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
    &[0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
];

/// `n` bytes of NOPs as Go's `fillnop` writes them, one NOP per chunk.
fn go_nops(mut n: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while n > 0 {
        let m = n.min(GO_NOPS.len());
        out.push(GO_NOPS[m - 1].to_vec());
        n -= m;
    }
    out
}

/// An item with its place in the source.
#[derive(Clone, Debug)]
pub(crate) struct Item {
    pub kind: ItemKind,
    pub pos: Pos,
    /// The source line as written.
    pub source: String,
    /// For Go: labels are scoped to the function; this is the function's name.
    pub scope: String,
    /// Index among the source's own instructions, for `n(PC)`; `None` for code the
    /// assembler inserted (prologue, epilogue, stack-split check).
    pub ordinal: Option<usize>,
}

/// A file's items and where they go.
pub(crate) struct Unit {
    pub base: u64,
    pub items: Vec<Item>,
}

/// One encoded instruction (or data directive) and where it came from.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Listed {
    /// Address.
    pub addr: u64,
    /// Encoded bytes.
    pub bytes: Vec<u8>,
    /// Source file.
    pub file: String,
    /// Line (for inserted code: the line of the `TEXT` directive, or of the `RET`).
    pub line: u32,
    /// Column.
    pub col: u32,
    /// The source line as written.
    pub source: String,
    /// iced's Intel syntax.
    pub intel: String,
    /// iced's AT&T (GNU as) syntax.
    pub att: String,
}

/// A symbol: a `TEXT` function or a global label.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Symbol {
    /// Name as the runtime spells it (`runtime·asmcgocall`).
    pub name: String,
    /// Address.
    pub addr: u64,
    /// Size in bytes (to the next symbol of its file, or its end).
    pub size: u64,
}

/// A Go-syntax `TEXT` directive: what it declares and the frame Go's assembler gave the
/// function (`cmd/internal/obj/x86/obj6.go`, `preprocess`), for tools that check what the
/// function does against what it declared.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TextDecl {
    /// The symbol (`main·sum`, `runtime·asmcgocall`).
    pub name: String,
    /// The file of the `TEXT` line.
    pub file: String,
    /// The `TEXT` line.
    pub line: u32,
    /// The flags (`textflag.h`: NOSPLIT = 4, NOFRAME = 512, …).
    pub flags: i64,
    /// The frame size as written (`$24` of `$24-16`; -8 is Go's "no frame at all").
    pub frame: i64,
    /// The argument size as written (`16` of `$24-16`), if written.
    pub args: Option<i64>,
    /// Declared `<ABIInternal>`.
    pub internal: bool,
    /// Bytes below the return address once the prologue ran: the frame plus the saved BP.
    pub auto: i64,
    /// Whether the prologue saves BP (a frame or a call, and not NOFRAME).
    pub saves_bp: bool,
    /// Whether the prologue has the stack-split check (which calls `runtime·morestack`).
    pub split: bool,
}

/// An assembled program.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Program {
    /// Every instruction and data directive, in address order.
    pub instructions: Vec<Listed>,
    /// Every symbol, in address order.
    pub symbols: Vec<Symbol>,
    /// Each file's bytes: (base address, bytes).
    #[serde(skip)]
    pub segments: Vec<(u64, Vec<u8>)>,
    /// Symbols referenced but not defined (only when linking a listing, where they resolve
    /// to address 0, as an object file leaves them to the linker).
    pub undefined: Vec<String>,
    /// The Go `TEXT` directives, in source order.
    pub texts: Vec<TextDecl>,
}

impl Program {
    /// The symbol at or before `addr`, as `symbol+0x12` (or the symbol's name at offset 0).
    pub fn symbolize(&self, addr: u64) -> Option<String> {
        let s = self
            .symbols
            .iter()
            .rev()
            .find(|s| s.addr <= addr && addr < s.addr + s.size.max(1))?;
        Some(if addr == s.addr {
            s.name.clone()
        } else {
            format!("{}+{:#x}", s.name, addr - s.addr)
        })
    }

    /// The listed instruction that contains `addr`.
    pub fn line_at(&self, addr: u64) -> Option<&Listed> {
        let i = self.instructions.partition_point(|l| l.addr <= addr);
        let l = self.instructions.get(i.checked_sub(1)?)?;
        (addr < l.addr + l.bytes.len() as u64).then_some(l)
    }

    /// The address of a symbol.
    pub fn symbol(&self, name: &str) -> Option<u64> {
        self.symbols.iter().find(|s| s.name == name).map(|s| s.addr)
    }

    /// The `TEXT` directive of a Go function.
    pub fn text(&self, name: &str) -> Option<&TextDecl> {
        self.texts.iter().find(|t| t.name == name)
    }
}

fn error(item: &Item, msg: impl Into<String>) -> AsmError {
    let mut e = AsmError::new(item.pos.clone(), msg);
    e.source_line = item.source.clone();
    e
}

/// Lays out and encodes units, resolving labels and symbols across them.
///
/// Branches are sized as Go's assembler sizes them (`cmd/internal/obj/x86/asm6.go`,
/// `span6`): a backward branch is short when its target, already placed, is in reach; a
/// forward branch starts short and becomes near for good once a pass finds its target out
/// of reach; passes repeat until no address moves. (iced's block encoder shrinks from near
/// instead, which can settle on a near branch Go's assembler makes short.) Each instruction
/// is then encoded by iced at its address.
pub(crate) fn link(units: &[Unit], allow_undefined: bool) -> Result<Program, AsmError> {
    let mut undefined: Vec<String> = Vec::new();
    // Symbols and labels: (scope, name) → (unit, item index of the label).
    let mut labels: HashMap<(String, String), (usize, usize)> = HashMap::new();
    let mut globals: HashMap<String, (usize, usize)> = HashMap::new();
    for (u, unit) in units.iter().enumerate() {
        for (i, item) in unit.items.iter().enumerate() {
            if let ItemKind::Label { name, global } = &item.kind {
                let key = (item.scope.clone(), name.clone());
                if labels.insert(key, (u, i)).is_some() || (*global && globals.contains_key(name)) {
                    return Err(error(item, format!("`{name}` is defined twice")));
                }
                if *global {
                    globals.insert(name.clone(), (u, i));
                }
            }
        }
    }
    // Addresses of every item from the last pass (the first pass guesses).
    let mut addrs: Vec<Vec<u64>> = units
        .iter()
        .map(|u| (0..=u.items.len()).map(|_| u.base).collect())
        .collect();
    // Forward branches found out of reach: near from then on.
    let mut long: Vec<Vec<bool>> = units.iter().map(|u| vec![false; u.items.len()]).collect();
    let mut encoded: Vec<Encoded> = Vec::new();
    for _pass in 0..64 {
        encoded.clear();
        let mut stable = true;
        let ctx = Context {
            labels: &labels,
            globals: &globals,
            addrs: &addrs,
        };
        let mut grown = Vec::new();
        for (u, unit) in units.iter().enumerate() {
            let (enc, newly_long) = encode_unit(
                u,
                unit,
                &ctx,
                &long[u],
                allow_undefined.then_some(&mut undefined),
            )?;
            encoded.push(enc);
            grown.push(newly_long);
        }
        for (u, g) in grown.into_iter().enumerate() {
            for i in g {
                long[u][i] = true;
                stable = false;
            }
        }
        for (u, unit) in units.iter().enumerate() {
            let (bytes, spans) = &encoded[u];
            let mut next = unit.base + bytes.len() as u64;
            // Labels and ends take the address of the next item that has bytes.
            let mut fresh = vec![0; unit.items.len() + 1];
            fresh[unit.items.len()] = next;
            for i in (0..unit.items.len()).rev() {
                let a = match spans[i] {
                    Some((off, _)) => unit.base + off as u64,
                    None => next,
                };
                next = a;
                fresh[i] = a;
            }
            if fresh != addrs[u] {
                stable = false;
                addrs[u] = fresh;
            }
        }
        if stable {
            let mut p = listing(units, &encoded, &addrs, &globals);
            undefined.sort();
            undefined.dedup();
            p.undefined = undefined;
            return Ok(p);
        }
        undefined.clear();
    }
    Err(AsmError::new(
        Pos::default(),
        "the layout did not settle (branches keep changing size)",
    ))
}

/// What every unit's encoding reads: names and the last pass's addresses.
struct Context<'a> {
    labels: &'a HashMap<(String, String), (usize, usize)>,
    globals: &'a HashMap<String, (usize, usize)>,
    addrs: &'a [Vec<u64>],
}

/// Where a target is: an item of some unit plus an offset.
#[derive(Clone, Copy)]
struct Place {
    unit: usize,
    item: usize,
    offset: i64,
}

fn resolve(
    t: &Target,
    u: usize,
    i: usize,
    unit: &Unit,
    ctx: &Context<'_>,
    pads: &[usize],
) -> Result<Place, AsmError> {
    let item = &unit.items[i];
    let place = |uu: usize, ii: usize, offset: i64| -> Place {
        // A label names the next item with bytes; one of another unit keeps its address.
        let item = if uu == u {
            first_code_at_or_after(unit, ii, pads)
        } else {
            ii
        };
        Place {
            unit: uu,
            item,
            offset,
        }
    };
    match t {
        Target::Label(name) => {
            let &(uu, ii) = ctx
                .labels
                .get(&(item.scope.clone(), name.clone()))
                .or_else(|| ctx.globals.get(name))
                .ok_or_else(|| error(item, format!("undefined label `{name}`")))?;
            Ok(place(uu, ii, 0))
        }
        Target::Symbol(name, off) => {
            let &(uu, ii) = ctx
                .globals
                .get(name)
                .or_else(|| ctx.labels.get(&(item.scope.clone(), name.clone())))
                .ok_or_else(|| error(item, format!("undefined symbol `{name}`")))?;
            Ok(place(uu, ii, *off))
        }
        Target::Relative(n) => {
            let me = item
                .ordinal
                .ok_or_else(|| error(item, "relative branch in inserted code"))?
                as i64;
            let want = me + n;
            let j = unit
                .items
                .iter()
                .position(|it| {
                    it.ordinal == Some(want as usize) && want >= 0 && it.scope == item.scope
                })
                .ok_or_else(|| error(item, format!("branch {n}(PC) goes outside the function")))?;
            Ok(place(u, j, 0))
        }
    }
}

/// The index of the first item at or after `i` that is encoded (labels take its address);
/// `pads` are this pass's padding bytes of each `Align` item.
fn first_code_at_or_after(unit: &Unit, i: usize, pads: &[usize]) -> usize {
    (i..unit.items.len())
        .find(|&j| match unit.items[j].kind {
            ItemKind::Ins { .. } => true,
            ItemKind::Data(ref b) => !b.is_empty(),
            ItemKind::Align { .. } => pads[j] > 0,
            _ => false,
        })
        .unwrap_or(unit.items.len())
}

/// A unit's bytes and each item's span in them.
type Encoded = (Vec<u8>, Vec<Option<(usize, usize)>>);

fn is_short_capable(code: Code) -> bool {
    code.as_short_branch() != code || code.as_near_branch() != code
}

fn encode_unit(
    u: usize,
    unit: &Unit,
    ctx: &Context<'_>,
    long: &[bool],
    mut undefined: Option<&mut Vec<String>>,
) -> Result<(Encoded, Vec<usize>), AsmError> {
    let addrs = ctx.addrs;
    let mut bytes: Vec<u8> = Vec::new();
    let mut spans = vec![None; unit.items.len()];
    // This pass's address of every item placed so far.
    let mut here_of = vec![0u64; unit.items.len() + 1];
    // Forward short branches: (item, target place), checked once the pass is done.
    let mut forward_short: Vec<(usize, Place)> = Vec::new();
    // Padding of each PCALIGN, from the addresses of the last pass.
    let pads: Vec<usize> = unit
        .items
        .iter()
        .enumerate()
        .map(|(i, item)| match &item.kind {
            ItemKind::Align { to, from } => {
                let start = ctx
                    .labels
                    .get(&(item.scope.clone(), from.clone()))
                    .map_or(unit.base, |&(uu, ii)| addrs[uu][ii]);
                let pc = addrs[u][i].wrapping_sub(start);
                ((to - (pc & (to - 1))) & (to - 1)) as usize
            }
            _ => 0,
        })
        .collect();
    for (i, item) in unit.items.iter().enumerate() {
        let here = unit.base + bytes.len() as u64;
        here_of[i] = here;
        // A place's address: exact if this pass placed it already, else the last pass's.
        let addr_of = |p: &Place, here_of: &[u64]| -> u64 {
            let a = if p.unit == u && p.item <= i {
                if p.item == i {
                    here
                } else {
                    here_of[p.item]
                }
            } else {
                addrs[p.unit][p.item]
            };
            a.wrapping_add(p.offset as u64)
        };
        let start = bytes.len();
        match &item.kind {
            ItemKind::Ins {
                mnemonic,
                size,
                ops,
                code,
            } => {
                let mut plain = Vec::with_capacity(ops.len());
                let mut branch: Option<(Place, bool)> = None;
                let mut to_undefined = false;
                for op in ops {
                    plain.push(match op {
                        Op::Plain(p) => *p,
                        Op::Branch(t) => {
                            match (resolve(t, u, i, unit, ctx, &pads), &mut undefined, t) {
                                (Ok(place), _, _) => {
                                    branch = Some((place, matches!(t, Target::Symbol(..))));
                                    Operand::Branch(addr_of(&place, &here_of))
                                }
                                (Err(_), Some(list), Target::Symbol(name, _)) => {
                                    list.push(name.clone());
                                    to_undefined = true;
                                    Operand::Branch(0)
                                }
                                // An Intel-syntax branch to a name no file defines here: a
                                // symbol of another file, which a listing leaves to the linker.
                                (Err(_), Some(list), Target::Label(name))
                                    if !name.contains('.') =>
                                {
                                    list.push(name.clone());
                                    to_undefined = true;
                                    Operand::Branch(0)
                                }
                                (Err(e), _, _) => return Err(e),
                            }
                        }
                        Op::SymMem(t, size) => {
                            let target =
                                match (resolve(t, u, i, unit, ctx, &pads), &mut undefined, t) {
                                    (Ok(place), _, _) => addr_of(&place, &here_of),
                                    (Err(_), Some(list), Target::Symbol(name, _)) => {
                                        list.push(name.clone());
                                        0
                                    }
                                    (Err(e), _, _) => return Err(e),
                                };
                            Operand::Mem(select::Mem {
                                base: iced_x86::Register::RIP,
                                index: iced_x86::Register::None,
                                scale: 1,
                                disp: target as i64,
                                segment: iced_x86::Register::None,
                                size: *size,
                            })
                        }
                    });
                }
                let mut ins = match code {
                    Some(c) => select::build_code(*c, &plain, *size).ok_or_else(|| {
                        // Named by its mnemonic: formatting an iced `Code` would carry
                        // the names of all its ~4,900 forms into every binary (the page's
                        // wasm among them) for this one message.
                        let name = format!("{:?}", c.mnemonic()).to_lowercase();
                        error(item, format!("cannot encode {name} with these operands"))
                    })?,
                    None => select::select(*mnemonic, *size, &plain).map_err(|e| match e {
                        select::SelectError::UnknownMnemonic => {
                            error(item, format!("unknown instruction {mnemonic:?}"))
                        }
                        select::SelectError::NoForm(_) => error(
                            item,
                            format!(
                                "no form of {} takes these operands",
                                format!("{mnemonic:?}").to_lowercase()
                            ),
                        ),
                    })?,
                };
                let mut enc = Encoder::new(64);
                let encoded = match branch {
                    Some((place, to_symbol)) if is_short_capable(ins.code()) => {
                        let target = ins.near_branch64();
                        let backward = place.unit == u && place.item <= i;
                        // A branch to a symbol is a relocation in Go's object files: always
                        // the rel32 form, never shortened.
                        let try_short = !to_symbol && !long[i];
                        let short = {
                            let mut s = ins;
                            s.set_code(ins.code().as_short_branch());
                            s.set_near_branch64(target);
                            s
                        };
                        if try_short && backward {
                            match enc.encode(&short, here) {
                                Ok(_) => enc.take_buffer(),
                                Err(_) => {
                                    // A failed encode may leave bytes behind: start afresh.
                                    enc = Encoder::new(64);
                                    ins.set_code(ins.code().as_near_branch());
                                    enc.encode(&ins, here).map_err(|e| {
                                        error(item, format!("cannot encode the branch: {e}"))
                                    })?;
                                    enc.take_buffer()
                                }
                            }
                        } else if try_short && place.unit == u {
                            // Forward: short for now, with a displacement that the next
                            // pass corrects if this one's guess was wrong.
                            forward_short.push((i, place));
                            let mut guess = short;
                            let reach = target.wrapping_sub(here + 2) as i64;
                            if !(-128..=127).contains(&reach) {
                                guess.set_near_branch64(here + 2);
                            }
                            enc.encode(&guess, here).map_err(|e| {
                                error(item, format!("cannot encode the branch: {e}"))
                            })?;
                            enc.take_buffer()
                        } else {
                            ins.set_code(ins.code().as_near_branch());
                            enc.encode(&ins, here).map_err(|e| {
                                error(item, format!("cannot reach the target: {e}"))
                            })?;
                            enc.take_buffer()
                        }
                    }
                    _ => {
                        if to_undefined && is_short_capable(ins.code()) {
                            // A branch to a symbol the listing leaves undefined.
                            ins.set_code(ins.code().as_near_branch());
                        }
                        match enc.encode(&ins, here) {
                            Ok(_) => enc.take_buffer(),
                            // A branch to an address (Intel syntax) that the short form
                            // chosen without a distance cannot reach, unless the source
                            // asked for short.
                            Err(_)
                                if code.is_none()
                                    && is_short_capable(ins.code())
                                    && ins.code().as_near_branch() != ins.code() =>
                            {
                                enc = Encoder::new(64);
                                ins.set_code(ins.code().as_near_branch());
                                enc.encode(&ins, here)
                                    .map_err(|e| error(item, format!("encoding failed: {e}")))?;
                                enc.take_buffer()
                            }
                            Err(e) => return Err(error(item, format!("encoding failed: {e}"))),
                        }
                    }
                };
                bytes.extend_from_slice(&encoded);
            }
            ItemKind::Align { .. } => {
                for nop in go_nops(pads[i]) {
                    bytes.extend_from_slice(&nop);
                }
            }
            ItemKind::Data(b) => bytes.extend_from_slice(b),
            _ => {}
        }
        if bytes.len() > start {
            spans[i] = Some((start, bytes.len() - start));
        }
    }
    here_of[unit.items.len()] = unit.base + bytes.len() as u64;
    // Labels take the address of the next item with bytes.
    let mut next = here_of[unit.items.len()];
    for i in (0..unit.items.len()).rev() {
        if spans[i].is_none() {
            here_of[i] = next;
        }
        next = here_of[i];
    }
    // Forward short branches whose target this pass put out of reach become near.
    let newly_long: Vec<usize> = forward_short
        .into_iter()
        .filter(|(i, place)| {
            let end = here_of[*i] + spans[*i].map_or(0, |(_, l)| l) as u64;
            let target = here_of[place.item].wrapping_add(place.offset as u64);
            !(-128..=127).contains(&(target.wrapping_sub(end) as i64))
        })
        .map(|(i, _)| i)
        .collect();
    Ok(((bytes, spans), newly_long))
}

fn listing(
    units: &[Unit],
    encoded: &[Encoded],
    addrs: &[Vec<u64>],
    globals: &HashMap<String, (usize, usize)>,
) -> Program {
    let mut p = Program::default();
    for (u, unit) in units.iter().enumerate() {
        let (bytes, spans) = &encoded[u];
        p.segments.push((unit.base, bytes.clone()));
        p.texts
            .extend(unit.items.iter().filter_map(|item| match &item.kind {
                ItemKind::Text(t) => Some(t.clone()),
                _ => None,
            }));
        for (i, item) in unit.items.iter().enumerate() {
            let Some((off, len)) = spans[i] else { continue };
            let addr = unit.base + off as u64;
            let code = &bytes[off..off + len];
            let mut dec =
                iced_x86::Decoder::with_ip(64, code, addr, iced_x86::DecoderOptions::NONE);
            let ins = dec.decode();
            let (i_txt, a_txt) = if matches!(item.kind, ItemKind::Data(_)) {
                let hex: Vec<String> = code.iter().map(|b| format!("{b:#04x}")).collect();
                (
                    format!("db {}", hex.join(", ")),
                    format!(".byte {}", hex.join(", ")),
                )
            } else {
                (crate::text::intel(&ins), crate::text::att(&ins))
            };
            p.instructions.push(Listed {
                addr,
                bytes: code.to_vec(),
                file: item.pos.file.clone(),
                line: item.pos.line,
                col: item.pos.col,
                source: item.source.trim().to_string(),
                intel: i_txt,
                att: a_txt,
            });
        }
    }
    p.instructions.sort_by_key(|l| l.addr);
    let mut syms: Vec<(String, u64, u64)> = Vec::new();
    for (name, &(u, i)) in globals {
        let start = addrs[u][i];
        // A symbol ends at its End item, else at the next global of its unit, else the unit.
        let end_item = units[u]
            .items
            .iter()
            .position(|it| matches!(&it.kind, ItemKind::End(n) if n == name));
        let end = match end_item {
            Some(e) => addrs[u][e],
            None => addrs[u][units[u].items.len()],
        };
        syms.push((name.clone(), start, end.saturating_sub(start)));
    }
    syms.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    p.symbols = syms
        .into_iter()
        .map(|(name, addr, size)| Symbol { name, addr, size })
        .collect();
    p
}
