//! The pclntab: the runtime's table from PCs to functions, files, lines, stack-pointer
//! deltas and inlining (runtime/symtab.go: `pcHeader`, `moduledata`, `functab`, `_func`,
//! `findfunc`, `pcvalue`, `funcline1`, `funcdata`; runtime/symtabinl.go: `inlinedCall`;
//! internal/abi/symtab.go: the PCDATA and FUNCDATA indexes).

use crate::elf::Elf;
use crate::reader::{bytes, c_string, u32_at, u64_at, uvarint32};
use crate::Error;
use std::collections::HashMap;

/// `pcHeader.magic` of Go 1.18 and 1.19.
const MAGIC_GO118: u32 = 0xffff_fff0;
/// `pcHeader.magic` of Go 1.20 and later (`_func` gained `startLine`, `inlinedCall` lost
/// its file and line).
const MAGIC_GO120: u32 = 0xffff_fff1;
/// `pcHeader` on a 64-bit target: magic, pad, pad, minLC, ptrSize, then eight words.
const HEADER_LEN: usize = 72;
/// `_PCDATA_InlTreeIndex` (internal/abi/symtab.go; cmd/internal/objabi before Go 1.21).
const PCDATA_INL_TREE_INDEX: u32 = 2;
/// `_FUNCDATA_InlTree`.
const FUNCDATA_INL_TREE: u32 = 3;
/// Inlining is at most this deep at one PC in any real binary; a longer chain is a loop in
/// malformed data.
const MAX_INLINE_DEPTH: usize = 256;
/// `moduledata.text`: after `pcHeader` (8), five slices (5 × 24), `ftab` (24),
/// `findfunctab` (8), `minpc` and `maxpc` (16). Every release from 1.18 to 1.27 agrees.
const MODULEDATA_TEXT: usize = 176;

/// The pclntab layouts this crate reads, by header magic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PclnFormat {
    /// Magic 0xfffffff0: Go 1.18 and 1.19.
    Go118,
    /// Magic 0xfffffff1: Go 1.20 and later.
    Go120,
}

impl PclnFormat {
    /// The size of `_func` before its pcdata and funcdata arrays.
    fn func_len(self) -> usize {
        match self {
            PclnFormat::Go118 => 40,
            PclnFormat::Go120 => 44,
        }
    }

    /// Where `nfuncdata` sits in `_func` (the last byte, after funcID, flag and a pad).
    fn nfuncdata_at(self) -> usize {
        self.func_len() - 1
    }

    /// Where `funcID` sits (`flag` is the byte after it).
    fn func_id_at(self) -> usize {
        self.func_len() - 4
    }

    /// The size of one `inlinedCall`, and where its `nameOff` and `parentPc` sit.
    fn inlined_call(self) -> (usize, usize, usize) {
        match self {
            // parent int16, funcID, pad, file int32, line int32, func_ int32, parentPc int32.
            PclnFormat::Go118 => (20, 12, 16),
            // funcID, pad [3], nameOff int32, parentPc int32, startLine int32.
            PclnFormat::Go120 => (16, 4, 8),
        }
    }
}

/// One function of the pclntab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    /// Its name as the runtime prints it (`runtime.mstart`, `main.main.func1`).
    pub name: String,
    /// Its first instruction.
    pub entry: u64,
    /// The address after its last byte: the next function's entry (or the end of text).
    pub end: u64,
    /// The line of its `func` keyword or `TEXT` directive (`_func.startLine`, Go 1.20 and
    /// later; `None` before).
    pub start_line: Option<i32>,
    /// The size of its arguments and results in bytes (`_func.args`).
    pub args: i32,
    /// `_func.funcID`: nonzero for the runtime functions tracebacks treat specially
    /// (`goexit`, `mstart`, `systemstack`, …). The numbering changes between releases
    /// (internal/abi/symtab.go), so it is given raw.
    pub func_id: u8,
    /// `_func.flag`.
    pub flags: FuncFlags,
    /// Where its `_func` starts in the pclntab data.
    func_at: usize,
}

/// The bits of `_func.flag` (internal/abi/symtab.go `FuncFlag`; the same bits since Go 1.17).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FuncFlags {
    /// The top of a stack (`goexit`, `mstart`, `rt0_go`): a traceback stops here, done.
    pub top_frame: bool,
    /// Writes SP other than by a constant (`gogo`, `systemstack`): pcsp cannot describe
    /// the frame, so an unwinder cannot go past it.
    pub sp_write: bool,
    /// Written in assembly.
    pub asm: bool,
}

impl FuncFlags {
    fn from_bits(bits: u8) -> FuncFlags {
        FuncFlags {
            top_frame: bits & 1 != 0,
            sp_write: bits & 2 != 0,
            asm: bits & 4 != 0,
        }
    }
}

/// One frame at a PC: an inlined call, or the function the code physically belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The function's name.
    pub name: String,
    /// The source file of the position in this frame.
    pub file: String,
    /// The line of that position.
    pub line: i32,
    /// Whether the compiler inlined this call into the frame after it.
    pub inlined: bool,
}

/// What the pclntab says about one PC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The function whose code holds the PC (the outermost frame).
    pub function: Function,
    /// The source file of the PC (the innermost inlined position, as `go tool objdump`
    /// and a traceback's first line print it).
    pub file: String,
    /// Its line.
    pub line: i32,
    /// How far SP is below the frame's top at the PC (pcsp: 0 at the entry, the frame
    /// size plus pushed words after the prologue).
    pub sp_delta: i32,
    /// The frames at the PC, innermost first: each inlined call, then the function itself.
    pub frames: Vec<Frame>,
}

impl Location {
    /// The inlined frames only, innermost first (empty where nothing is inlined).
    pub fn inlined(&self) -> &[Frame] {
        &self.frames[..self.frames.len().saturating_sub(1)]
    }
}

/// The pclntab of a binary with the addresses it is relative to.
#[derive(Debug, Clone)]
pub(crate) struct Pclntab {
    format: PclnFormat,
    /// From the header to the end of the section holding it.
    data: Vec<u8>,
    min_lc: u8,
    text_start: u64,
    funcnametab: usize,
    cutab: usize,
    filetab: usize,
    pctab: usize,
    functions: Vec<Function>,
    /// Function indexes by name: a name is shared by an assembly body and its ABI wrapper.
    by_name: HashMap<String, Vec<usize>>,
    /// `moduledata.gofunc`, the base of funcdata offsets (`go:func.*`).
    gofunc: Option<u64>,
}

impl Pclntab {
    /// Finds and reads the pclntab of `elf`.
    pub(crate) fn find(elf: &Elf, go_version: Option<&str>) -> Result<Pclntab, Error> {
        let (address, data) = locate(elf)?;
        Pclntab::read(elf, address, data, go_version)
    }

    fn read(
        elf: &Elf,
        address: u64,
        data: &[u8],
        go_version: Option<&str>,
    ) -> Result<Pclntab, Error> {
        let head = bytes(data, 0, HEADER_LEN, "pclntab header")?;
        let magic = u32_at(head, 0, "pclntab magic")?;
        let format = match magic {
            MAGIC_GO118 => PclnFormat::Go118,
            MAGIC_GO120 => PclnFormat::Go120,
            other => return Err(Error::PclntabMagic(other)),
        };
        let (min_lc, ptr_size) = (head[6], head[7]);
        if ptr_size != 8 || min_lc == 0 {
            return Err(Error::Malformed(
                "pclntab header (pointer size or instruction size)",
            ));
        }
        let word = |i: usize| -> Result<usize, Error> {
            usize::try_from(u64_at(head, 8 + 8 * i, "pclntab header")?)
                .map_err(|_| Error::Malformed("pclntab header"))
        };
        let nfunc = word(0)?;
        let header_text_start = u64_at(head, 24, "pclntab header")?;
        let (funcnametab, cutab, filetab, pctab, pclntable) =
            (word(3)?, word(4)?, word(5)?, word(6)?, word(7)?);
        for off in [funcnametab, cutab, filetab, pctab, pclntable] {
            if off > data.len() {
                return Err(Error::Malformed("pclntab header offsets"));
            }
        }
        // The functab has nfunc + 1 entries: the last one's entryoff is the end of text.
        let functab_len = nfunc
            .checked_add(1)
            .and_then(|n| n.checked_mul(8))
            .ok_or(Error::Malformed("functab"))?;
        let functab = bytes(data, pclntable, functab_len, "functab")?;

        let moduledata = find_moduledata(elf, address, address.wrapping_add(funcnametab as u64));
        let text_start = moduledata
            .and_then(|m| elf.read(m.wrapping_add(MODULEDATA_TEXT as u64), 8))
            .and_then(|b| u64_at(b, 0, "moduledata.text").ok())
            .filter(|&t| t != 0)
            .or((header_text_start != 0).then_some(header_text_start))
            .or_else(|| elf.symbol("runtime.text").map(|s| s.address))
            .or_else(|| elf.section(".text").map(|(a, _)| a))
            .ok_or(Error::Malformed("no text start (moduledata.text)"))?;
        let gofunc = ["go:func.*", "go.func.*"]
            .iter()
            .find_map(|n| elf.symbol(n).map(|s| s.address))
            .or_else(|| {
                let m = moduledata?;
                let at = moduledata_gofunc(format, go_version);
                u64_at(
                    elf.read(m.wrapping_add(at as u64), 8)?,
                    0,
                    "moduledata.gofunc",
                )
                .ok()
            });

        let mut table = Pclntab {
            format,
            data: data.to_vec(),
            min_lc,
            text_start,
            funcnametab,
            cutab,
            filetab,
            pctab,
            functions: Vec::with_capacity(nfunc),
            by_name: HashMap::with_capacity(nfunc),
            gofunc,
        };
        let mut previous = 0u32;
        for i in 0..nfunc {
            let entry_off = u32_at(functab, 8 * i, "functab")?;
            let func_off = u32_at(functab, 8 * i + 4, "functab")? as usize;
            let end_off = u32_at(functab, 8 * i + 8, "functab")?;
            if entry_off < previous || end_off < entry_off {
                return Err(Error::Malformed("functab order"));
            }
            previous = entry_off;
            let func_at = pclntable
                .checked_add(func_off)
                .ok_or(Error::Malformed("functab"))?;
            bytes(&table.data, func_at, format.func_len(), "_func")?;
            let name_off = u32_at(&table.data, func_at + 4, "_func.nameOff")?;
            let name = table.name(name_off)?;
            let record = &table.data[func_at..func_at + format.func_len()];
            let start_line = match format {
                PclnFormat::Go118 => None,
                PclnFormat::Go120 => Some(u32_at(record, 36, "_func.startLine")? as i32),
            };
            let id_at = format.func_id_at();
            table.by_name.entry(name.clone()).or_default().push(i);
            table.functions.push(Function {
                name,
                entry: text_start.wrapping_add(u64::from(entry_off)),
                end: text_start.wrapping_add(u64::from(end_off)),
                start_line,
                args: u32_at(record, 8, "_func.args")? as i32,
                func_id: record[id_at],
                flags: FuncFlags::from_bits(record[id_at + 1]),
                func_at,
            });
        }
        Ok(table)
    }

    pub(crate) fn format(&self) -> PclnFormat {
        self.format
    }

    pub(crate) fn text_start(&self) -> u64 {
        self.text_start
    }

    pub(crate) fn functions(&self) -> &[Function] {
        &self.functions
    }

    /// The function named `name` (the pclntab drops the linker's `.abi0` suffix, so it is
    /// dropped here too). Where an ABI wrapper shares the name, the body wins: the
    /// compiler writes its wrappers' positions as `<autogenerated>`
    /// (cmd/compile/internal/ssagen/abi.go, `makeABIWrapper`).
    pub(crate) fn function_named(&self, name: &str) -> Option<&Function> {
        let name = name.strip_suffix(".abi0").unwrap_or(name);
        let all = self.by_name.get(name)?;
        let body = all.iter().find(|&&i| {
            let f = &self.functions[i];
            self.file_line(f, f.entry)
                .is_ok_and(|(file, _)| file != "<autogenerated>")
        });
        body.or(all.first()).map(|&i| &self.functions[i])
    }

    /// `findfunc`: the last function whose entry is at or below `pc`, if `pc` is before its
    /// end.
    pub(crate) fn function_at(&self, pc: u64) -> Option<&Function> {
        let upto = self.functions.partition_point(|f| f.entry <= pc);
        let f = self.functions.get(upto.checked_sub(1)?)?;
        (pc < f.end).then_some(f)
    }

    pub(crate) fn location(&self, elf: &Elf, pc: u64) -> Result<Location, Error> {
        let function = self.function_at(pc).ok_or(Error::NoFunction(pc))?.clone();
        let (file, line) = self.file_line(&function, pc)?;
        let sp_delta = self.pcvalue(&function, self.field(&function, 16)?, pc)?;
        let mut frames = Vec::new();
        let mut trace_pc = pc;
        if let Some(tree) = self.inline_tree(&function)? {
            let (entry_len, name_at, parent_pc_at) = self.format.inlined_call();
            let index_table = self.pcdata(&function, PCDATA_INL_TREE_INDEX)?;
            loop {
                let index = self.pcvalue(&function, index_table, trace_pc)?;
                let Ok(index) = usize::try_from(index) else {
                    break;
                };
                if frames.len() == MAX_INLINE_DEPTH {
                    return Err(Error::Malformed("inline tree (a loop)"));
                }
                let at = index
                    .checked_mul(entry_len)
                    .and_then(|o| tree.checked_add(o as u64))
                    .ok_or(Error::Malformed("inline tree index"))?;
                let call = elf
                    .read(at, entry_len)
                    .ok_or(Error::Malformed("inline tree entry"))?;
                let name = self.name(u32_at(call, name_at, "inlinedCall")?)?;
                let parent_pc = u32_at(call, parent_pc_at, "inlinedCall")?;
                let (file, line) = self.file_line(&function, trace_pc)?;
                frames.push(Frame {
                    name,
                    file,
                    line,
                    inlined: true,
                });
                // The call site is the position of the instruction at parentPc
                // (runtime/symtabinl.go, inlineUnwinder.next).
                trace_pc = function.entry.wrapping_add(u64::from(parent_pc));
            }
        }
        let (outer_file, outer_line) = self.file_line(&function, trace_pc)?;
        frames.push(Frame {
            name: function.name.clone(),
            file: outer_file,
            line: outer_line,
            inlined: false,
        });
        Ok(Location {
            function,
            file,
            line,
            sp_delta,
            frames,
        })
    }

    /// The name at `off` in the funcnametab.
    fn name(&self, off: u32) -> Result<String, Error> {
        let at = self
            .funcnametab
            .checked_add(off as usize)
            .ok_or(Error::Malformed("funcnametab"))?;
        c_string(&self.data, at, "funcnametab")
    }

    /// The `u32` field at `at` in the function's `_func`.
    fn field(&self, f: &Function, at: usize) -> Result<u32, Error> {
        let at = f.func_at.checked_add(at).ok_or(Error::Malformed("_func"))?;
        u32_at(&self.data, at, "_func")
    }

    /// `funcline1`: the file and line of `pc` through pcfile, cutab and filetab.
    fn file_line(&self, f: &Function, pc: u64) -> Result<(String, i32), Error> {
        let file_no = self.pcvalue(f, self.field(f, 20)?, pc)?;
        let line = self.pcvalue(f, self.field(f, 24)?, pc)?;
        let cu_offset = self.field(f, 32)?;
        let file = match u32::try_from(file_no) {
            Ok(n) => {
                let index = u64::from(cu_offset) + u64::from(n);
                let at = usize::try_from(index * 4)
                    .ok()
                    .and_then(|o| self.cutab.checked_add(o))
                    .ok_or(Error::Malformed("cutab"))?;
                match u32_at(&self.data, at, "cutab")? {
                    u32::MAX => "?".to_string(),
                    off => c_string(
                        &self.data,
                        self.filetab.saturating_add(off as usize),
                        "filetab",
                    )?,
                }
            }
            Err(_) => "?".to_string(),
        };
        Ok((file, line))
    }

    /// The offset of the function's pcdata table `index` in the pctab, 0 when it has none.
    fn pcdata(&self, f: &Function, index: u32) -> Result<u32, Error> {
        let npcdata = self.field(f, 28)?;
        if index >= npcdata {
            return Ok(0);
        }
        self.field(f, self.format.func_len() + 4 * index as usize)
    }

    /// The address of the function's inline tree (`funcdata(f, _FUNCDATA_InlTree)`).
    fn inline_tree(&self, f: &Function) -> Result<Option<u64>, Error> {
        let npcdata = self.field(f, 28)? as usize;
        let nfuncdata = *self
            .data
            .get(f.func_at + self.format.nfuncdata_at())
            .ok_or(Error::Malformed("_func"))?;
        if FUNCDATA_INL_TREE >= u32::from(nfuncdata) {
            return Ok(None);
        }
        let at = npcdata
            .checked_add(FUNCDATA_INL_TREE as usize)
            .and_then(|n| n.checked_mul(4))
            .and_then(|o| o.checked_add(self.format.func_len()))
            .ok_or(Error::Malformed("_func funcdata"))?;
        let off = self.field(f, at)?;
        if off == u32::MAX {
            return Ok(None);
        }
        let base = self
            .gofunc
            .ok_or(Error::Malformed("no go:func.* base for funcdata"))?;
        Ok(Some(base.wrapping_add(u64::from(off))))
    }

    /// `pcvalue`: the value the table at `off` in the pctab gives `target`. The table is a
    /// list of (value delta, pc delta) varint pairs from the entry, the value starting at
    /// -1; a value delta is zig-zag coded, a pc delta counts `minLC` units; a zero value
    /// delta after the first pair ends it.
    fn pcvalue(&self, f: &Function, off: u32, target: u64) -> Result<i32, Error> {
        if off == 0 {
            return Ok(-1);
        }
        let mut at = self
            .pctab
            .checked_add(off as usize)
            .ok_or(Error::Malformed("pctab"))?;
        let mut pc = f.entry;
        let mut value: i32 = -1;
        loop {
            let uvdelta = uvarint32(&self.data, &mut at, "pctab")?;
            // The runtime's `step` takes a zero delta as the end unless pc is still the
            // entry; ending before `target` is the runtime's "invalid pc-encoded table".
            if uvdelta == 0 && pc != f.entry {
                return Err(Error::Malformed("pctab (pc past the table's end)"));
            }
            let vdelta = if uvdelta & 1 != 0 {
                !((uvdelta >> 1) as i32)
            } else {
                (uvdelta >> 1) as i32
            };
            value = value.wrapping_add(vdelta);
            let pcdelta = uvarint32(&self.data, &mut at, "pctab")?;
            pc = pc.wrapping_add(u64::from(pcdelta) * u64::from(self.min_lc));
            if target < pc {
                return Ok(value);
            }
        }
    }
}

/// Where the pclntab is: the `.gopclntab` section of an internally linked binary, the
/// `runtime.pclntab` symbol of an externally linked one, or a header found in the data.
fn locate(elf: &Elf) -> Result<(u64, &[u8]), Error> {
    if let Some(found) = elf.section(".gopclntab") {
        return Ok(found);
    }
    if let Some(s) = elf.symbol("runtime.pclntab") {
        if let Some(data) = elf.image_from(s.address) {
            return Ok((s.address, data));
        }
    }
    // A stripped external link: look for the header (magic, two zero pads, an instruction
    // size of 1, 8-byte pointers) at the 8-byte alignment the linker gives it.
    for (_, address, data) in elf.mapped() {
        for at in (0..data.len().saturating_sub(HEADER_LEN)).step_by(8) {
            let w = &data[at..at + 8];
            if matches!(
                u32::from_le_bytes([w[0], w[1], w[2], w[3]]),
                MAGIC_GO118 | MAGIC_GO120
            ) && w[4..] == [0, 0, 1, 8]
            {
                return Ok((address.wrapping_add(at as u64), &data[at..]));
            }
        }
    }
    Err(Error::NoPclntab)
}

/// The address of `runtime.firstmoduledata`: its symbol, or the word in the data that
/// points at the pclntab header followed by the funcnametab slice's pointer.
fn find_moduledata(elf: &Elf, pclntab: u64, funcnametab: u64) -> Option<u64> {
    if let Some(s) = elf.symbol("runtime.firstmoduledata") {
        return Some(s.address);
    }
    elf.mapped().find_map(|(_, address, data)| {
        (0..data.len().saturating_sub(16))
            .step_by(8)
            .find_map(|at| {
                let first = u64_at(data, at, "moduledata").ok()?;
                let second = u64_at(data, at + 8, "moduledata").ok()?;
                (first == pclntab && second == funcnametab)
                    .then_some(address.wrapping_add(at as u64))
            })
    })
}

/// Where `moduledata.gofunc` sits, used only when the binary has no `go:func.*` symbol.
/// Go 1.18–1.19: after `types, etypes, rodata`; Go 1.20 added `covctrs, ecovctrs`;
/// Go 1.27 added `typedesclen`, `itaboffset` and `itabsize` (runtime/symtab.go).
fn moduledata_gofunc(format: PclnFormat, go_version: Option<&str>) -> usize {
    let minor = go_version
        .and_then(|v| v.strip_prefix("go1."))
        .and_then(|v| v.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|m| m.parse::<u32>().ok());
    match (format, minor) {
        (PclnFormat::Go118, _) => 304,
        (PclnFormat::Go120, Some(m)) if m >= 27 => 344,
        (PclnFormat::Go120, _) => 320,
    }
}
