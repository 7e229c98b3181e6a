//! Programs: several source files placed at chosen addresses, symbols resolved across them,
//! encoded with iced's block encoder, and a source map from every instruction to its line.

use super::error::{AsmError, Pos};
use super::select::{self, Operand};
use iced_x86::{BlockEncoder, BlockEncoderOptions, Code, Instruction, InstructionBlock, Mnemonic};
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
}

const FAKE_IP_BASE: u64 = 0x7f00_0000_0000_0000;

fn fake_ip(unit: usize, item: usize) -> u64 {
    FAKE_IP_BASE + ((unit as u64) << 40) + item as u64 * 16
}

fn error(item: &Item, msg: impl Into<String>) -> AsmError {
    let mut e = AsmError::new(item.pos.clone(), msg);
    e.source_line = item.source.clone();
    e
}

/// Lays out and encodes units, resolving labels and symbols across them.
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
    // Real addresses of every item, refined until the layout is stable.
    let mut addrs: Vec<Vec<u64>> = units
        .iter()
        .map(|u| (0..=u.items.len()).map(|i| u.base + i as u64 * 8).collect())
        .collect();
    let mut encoded: Vec<Encoded> = Vec::new();
    for _round in 0..8 {
        encoded.clear();
        for (u, unit) in units.iter().enumerate() {
            encoded.push(encode_unit(
                u,
                unit,
                &labels,
                &globals,
                &addrs,
                allow_undefined.then_some(&mut undefined),
            )?);
        }
        let mut stable = true;
        for (u, unit) in units.iter().enumerate() {
            let spans = &encoded[u].1;
            let mut next = unit.base + encoded[u].0.len() as u64;
            // Labels and ends take the address of the next item that has bytes.
            for i in (0..unit.items.len()).rev() {
                let a = match spans[i] {
                    Some((off, _)) => unit.base + off as u64,
                    None => next,
                };
                next = a;
                if addrs[u][i] != a {
                    stable = false;
                    addrs[u][i] = a;
                }
            }
            let end = unit.base + encoded[u].0.len() as u64;
            if addrs[u][unit.items.len()] != end {
                addrs[u][unit.items.len()] = end;
                stable = false;
            }
        }
        if stable {
            let mut p = listing(units, &encoded, &addrs, &globals);
            undefined.sort();
            undefined.dedup();
            p.undefined = undefined;
            return Ok(p);
        }
    }
    Err(AsmError::new(
        Pos::default(),
        "the layout did not settle (branches keep changing size)",
    ))
}

fn resolve(
    t: &Target,
    u: usize,
    i: usize,
    unit: &Unit,
    labels: &HashMap<(String, String), (usize, usize)>,
    globals: &HashMap<String, (usize, usize)>,
    addrs: &[Vec<u64>],
) -> Result<(u64, bool), AsmError> {
    let item = &unit.items[i];
    // Returns (address, whether it is an item of this unit, as a fake IP).
    let local = |uu: usize, ii: usize| -> (u64, bool) {
        if uu == u {
            (fake_ip(u, first_code_at_or_after(unit, ii)), true)
        } else {
            (addrs[uu][ii], false)
        }
    };
    match t {
        Target::Label(name) => {
            let &(uu, ii) = labels
                .get(&(item.scope.clone(), name.clone()))
                .or_else(|| globals.get(name))
                .ok_or_else(|| error(item, format!("undefined label `{name}`")))?;
            Ok(local(uu, ii))
        }
        Target::Symbol(name, off) => {
            let &(uu, ii) = globals
                .get(name)
                .or_else(|| labels.get(&(item.scope.clone(), name.clone())))
                .ok_or_else(|| error(item, format!("undefined symbol `{name}`")))?;
            if *off == 0 {
                Ok(local(uu, ii))
            } else {
                Ok((addrs[uu][ii].wrapping_add(*off as u64), false))
            }
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
                .position(|it| it.ordinal == Some(want as usize) && want >= 0)
                .ok_or_else(|| error(item, format!("branch {n}(PC) goes outside the function")))?;
            Ok(local(u, j))
        }
    }
}

/// The index of the first item at or after `i` that is encoded (labels take its address).
fn first_code_at_or_after(unit: &Unit, i: usize) -> usize {
    (i..unit.items.len())
        .find(|&j| matches!(unit.items[j].kind, ItemKind::Ins { .. } | ItemKind::Data(_)))
        .unwrap_or(unit.items.len())
}

type Encoded = (Vec<u8>, Vec<Option<(usize, usize)>>);

fn encode_unit(
    u: usize,
    unit: &Unit,
    labels: &HashMap<(String, String), (usize, usize)>,
    globals: &HashMap<String, (usize, usize)>,
    addrs: &[Vec<u64>],
    mut undefined: Option<&mut Vec<String>>,
) -> Result<Encoded, AsmError> {
    let mut instrs = Vec::new();
    let mut which = Vec::new(); // item index of each instruction
    for (i, item) in unit.items.iter().enumerate() {
        let mut ins = match &item.kind {
            ItemKind::Ins {
                mnemonic,
                size,
                ops,
                code,
            } => {
                let mut plain = Vec::with_capacity(ops.len());
                for op in ops {
                    plain.push(match op {
                        Op::Plain(p) => *p,
                        Op::Branch(t) => match (
                            resolve(t, u, i, unit, labels, globals, addrs),
                            &mut undefined,
                            t,
                        ) {
                            (Ok((a, _)), _, _) => Operand::Branch(a),
                            (Err(_), Some(list), Target::Symbol(name, _)) => {
                                list.push(name.clone());
                                Operand::Branch(0)
                            }
                            // An Intel-syntax branch to a name no file defines here: a
                            // symbol of another file, which a listing leaves to the linker.
                            (Err(_), Some(list), Target::Label(name)) if !name.contains('.') => {
                                list.push(name.clone());
                                Operand::Branch(0)
                            }
                            (Err(e), _, _) => return Err(e),
                        },
                        Op::SymMem(t, size) => {
                            let (a, is_local) = match (
                                resolve(t, u, i, unit, labels, globals, addrs),
                                &mut undefined,
                                t,
                            ) {
                                (Ok(r), _, _) => r,
                                (Err(_), Some(list), Target::Symbol(name, _)) => {
                                    list.push(name.clone());
                                    (0, false)
                                }
                                (Err(e), _, _) => return Err(e),
                            };
                            // A RIP-relative operand needs the real address, even in this unit.
                            let real = if is_local {
                                real_of_fake(a, u, addrs)
                            } else {
                                a
                            };
                            Operand::Mem(select::Mem {
                                base: iced_x86::Register::RIP,
                                index: iced_x86::Register::None,
                                scale: 1,
                                disp: real as i64,
                                segment: iced_x86::Register::None,
                                size: *size,
                            })
                        }
                    });
                }
                let mut ins = match code {
                    Some(c) => select::build_code(*c, &plain, *size).ok_or_else(|| {
                        error(item, format!("cannot encode {:?} with these operands", c))
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
                if let [Op::Branch(Target::Symbol(..))] = ops.as_slice() {
                    // A branch to a symbol is a relocation in Go's object files: always the
                    // rel32 form, never shortened. Encode it at its laid-out address.
                    ins.as_near_branch();
                    let here = addrs[u][i];
                    let mut target = ins.near_branch64();
                    if target >= FAKE_IP_BASE {
                        target = real_of_fake(target, u, addrs);
                    }
                    ins.set_near_branch64(target);
                    let mut enc = iced_x86::Encoder::new(64);
                    let bytes = enc
                        .encode(&ins, here)
                        .map(|_| enc.take_buffer())
                        .map_err(|e| error(item, format!("cannot reach the symbol: {e}")))?;
                    Instruction::with_declare_byte(&bytes).expect("a branch fits in 16 bytes")
                } else {
                    ins
                }
            }
            ItemKind::Data(bytes) => {
                if bytes.is_empty() {
                    continue;
                }
                let mut ins = Instruction::with_declare_byte(bytes)
                    .map_err(|_| error(item, "a data directive holds at most 16 bytes"))?;
                ins.set_ip(fake_ip(u, i));
                ins
            }
            _ => continue,
        };
        ins.set_ip(fake_ip(u, i));
        instrs.push(ins);
        which.push(i);
    }
    let mut spans = vec![None; unit.items.len()];
    if instrs.is_empty() {
        return Ok((Vec::new(), spans));
    }
    // The block encoder moves RIP-relative operands with the code; our RIP-relative
    // targets are real addresses, so encode at the real base.
    let block = InstructionBlock::new(&instrs, unit.base);
    let result = BlockEncoder::encode(
        64,
        block,
        BlockEncoderOptions::RETURN_NEW_INSTRUCTION_OFFSETS,
    )
    .map_err(|e| error(&unit.items[which[0]], format!("encoding failed: {e}")))?;
    let offsets = &result.new_instruction_offsets;
    for (k, &i) in which.iter().enumerate() {
        let start = offsets[k] as usize;
        let end = offsets
            .get(k + 1)
            .map_or(result.code_buffer.len(), |&o| o as usize);
        spans[i] = Some((start, end - start));
    }
    Ok((result.code_buffer, spans))
}

fn real_of_fake(fake: u64, u: usize, addrs: &[Vec<u64>]) -> u64 {
    let i = ((fake - FAKE_IP_BASE - ((u as u64) << 40)) / 16) as usize;
    addrs[u][i.min(addrs[u].len() - 1)]
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
