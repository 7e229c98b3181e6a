//! Instructions as text: the Intel syntax the UI, the CLI and listings show (and the Intel
//! assembler reads back), and AT&T as GNU objdump prints it.

use iced_x86::{Formatter, GasFormatter, Instruction, IntelFormatter};

/// Formats an instruction in iced's Intel syntax with `0x` hex, as the UI and the CLI show it.
pub fn intel(ins: &Instruction) -> String {
    let mut f = IntelFormatter::new();
    f.options_mut().set_hex_prefix("0x");
    f.options_mut().set_hex_suffix("");
    f.options_mut().set_space_after_operand_separator(true);
    f.options_mut().set_uppercase_hex(false);
    f.options_mut().set_branch_leading_zeros(false);
    // Sizes always shown (`qword ptr`): a learner should not have to infer them.
    f.options_mut()
        .set_memory_size_options(iced_x86::MemorySizeOptions::Always);
    // `add rax, -1`, not `add rax, 0xffffffffffffffff`.
    f.options_mut().set_signed_immediate_operands(true);
    let mut s = String::new();
    f.format(ins, &mut s);
    s
}

/// Formats an instruction in AT&T syntax, as GNU objdump prints it.
pub fn att(ins: &Instruction) -> String {
    let mut s = String::new();
    GasFormatter::new().format(ins, &mut s);
    s
}
