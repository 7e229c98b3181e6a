//! Instruction semantics: one flat dispatch on iced's mnemonic to short handlers.
//!
//! A handler computes everything that can fault (loads, the store's page check, branch
//! targets) before it changes a register, so a fault leaves the thread exactly as it was
//! (SDM Vol. 3A, 6.5: faults are reported before the instruction's effects). It returns the
//! next RIP; the caller commits it.

mod alu;
mod atomic;
mod bits;
mod control;
pub(crate) mod cpuid;
mod data;
mod fast;
mod float;
mod muldiv;
mod scan;
mod shift;
mod sse;
mod stack;
mod string;

use crate::decode::{Access, Decoded};
use crate::fault::Fault;
use iced_x86::{ConditionCode, Mnemonic as M};

pub(crate) use crate::decode::{Handler, Next, Trap};
pub(crate) use fast::select;

/// The generic dispatch: every implemented instruction, every form. Its handlers read and
/// write `cpu.rflags` directly, so pending flags are computed first; a store into cached
/// code becomes [`Trap::CodeChanged`]. Its faults name `a.pc`, set here (the interpreter
/// loop does not set it for the fast handlers, whose fast paths cannot fault).
pub(crate) fn execute_generic(a: &mut Access, d: &Decoded) -> Next {
    a.pc = d.ip;
    a.flush_flags();
    let epoch = a.mem.code_epoch();
    let next = dispatch(a, d)?;
    if a.mem.code_epoch() != epoch {
        return Err(Trap::CodeChanged(next).into());
    }
    Ok(next)
}

fn dispatch(a: &mut Access, d: &Decoded) -> Next {
    match d.mnemonic {
        M::Mov => data::mov(a, d),
        M::Movzx => data::movzx(a, d),
        M::Movsx | M::Movsxd => data::movsx(a, d),
        M::Lea => data::lea(a, d),
        M::Xchg => data::xchg(a, d),
        M::Bswap => data::bswap(a, d),
        M::Cmova
        | M::Cmovae
        | M::Cmovb
        | M::Cmovbe
        | M::Cmove
        | M::Cmovg
        | M::Cmovge
        | M::Cmovl
        | M::Cmovle
        | M::Cmovne
        | M::Cmovno
        | M::Cmovnp
        | M::Cmovns
        | M::Cmovo
        | M::Cmovp
        | M::Cmovs => data::cmov(a, d),
        M::Seta
        | M::Setae
        | M::Setb
        | M::Setbe
        | M::Sete
        | M::Setg
        | M::Setge
        | M::Setl
        | M::Setle
        | M::Setne
        | M::Setno
        | M::Setnp
        | M::Setns
        | M::Seto
        | M::Setp
        | M::Sets => data::setcc(a, d),
        M::Cbw | M::Cwde | M::Cdqe => data::widen_accumulator(a, d),
        M::Cwd | M::Cdq | M::Cqo => data::sign_into_rdx(a, d),
        M::Push => stack::push(a, d),
        M::Pop => stack::pop(a, d),
        M::Pushf | M::Pushfq => stack::pushf(a, d),
        M::Popf | M::Popfq => stack::popf(a, d),
        M::Leave => stack::leave(a, d),
        M::Add => alu::add(a, d),
        M::Adc => alu::adc(a, d),
        M::Sub => alu::sub(a, d),
        M::Sbb => alu::sbb(a, d),
        M::Cmp => alu::cmp(a, d),
        M::And => alu::and(a, d),
        M::Or => alu::or(a, d),
        M::Xor => alu::xor(a, d),
        M::Test => alu::test(a, d),
        M::Inc => alu::inc(a, d),
        M::Dec => alu::dec(a, d),
        M::Neg => alu::neg(a, d),
        M::Not => alu::not(a, d),
        M::Mul => muldiv::mul(a, d),
        M::Imul => muldiv::imul(a, d),
        M::Div => muldiv::div(a, d),
        M::Idiv => muldiv::idiv(a, d),
        M::Shl | M::Sal => shift::shl(a, d),
        M::Shr => shift::shr(a, d),
        M::Sar => shift::sar(a, d),
        M::Rol => shift::rol(a, d),
        M::Ror => shift::ror(a, d),
        M::Bt => bits::bt(a, d),
        M::Bts => bits::bts(a, d),
        M::Btr => bits::btr(a, d),
        M::Btc => bits::btc(a, d),
        M::Jmp => control::jmp(a, d),
        M::Ja
        | M::Jae
        | M::Jb
        | M::Jbe
        | M::Je
        | M::Jg
        | M::Jge
        | M::Jl
        | M::Jle
        | M::Jne
        | M::Jno
        | M::Jnp
        | M::Jns
        | M::Jo
        | M::Jp
        | M::Js => control::jcc(a, d),
        M::Call => control::call(a, d),
        M::Jrcxz | M::Jecxz | M::Loop | M::Loope | M::Loopne => control::counter_branch(a, d),
        M::Ret => control::ret(a, d),
        M::Rcl | M::Rcr => shift::rotate_through_carry(a, d),
        M::Shld | M::Shrd => shift::double_shift(a, d),
        M::Bsf | M::Bsr | M::Tzcnt | M::Lzcnt => scan::bit_scan(a, d),
        M::Popcnt => scan::popcnt(a, d),
        M::Cmpxchg => atomic::cmpxchg(a, d),
        M::Cmpxchg8b | M::Cmpxchg16b => atomic::cmpxchg_wide(a, d),
        M::Xadd => atomic::xadd(a, d),
        M::Movnti => data::mov(a, d),
        _ if d.ins.is_string_instruction() => string::string(a, d),
        M::Movaps
        | M::Movapd
        | M::Movdqa
        | M::Movups
        | M::Movupd
        | M::Movdqu
        | M::Movntdq
        | M::Movntps
        | M::Movntpd => sse::move128(a, d),
        M::Movq | M::Movd => sse::movq_movd(a, d),
        M::Movsd | M::Movss => sse::move_scalar(a, d),
        M::Movhps | M::Movhpd | M::Movlps | M::Movlpd | M::Movhlps | M::Movlhps => {
            sse::move_half(a, d)
        }
        M::Pmovmskb | M::Movmskps | M::Movmskpd => sse::move_mask(a, d),
        M::Pinsrw => sse::pinsrw(a, d),
        M::Pextrw => sse::pextrw(a, d),
        M::Pshufd | M::Pshuflw | M::Pshufhw | M::Shufps | M::Shufpd => sse::shuffle(a, d),
        M::Psllw
        | M::Pslld
        | M::Psllq
        | M::Psrlw
        | M::Psrld
        | M::Psrlq
        | M::Psraw
        | M::Psrad
        | M::Pslldq
        | M::Psrldq => sse::shift(a, d),
        M::Pxor
        | M::Xorps
        | M::Xorpd
        | M::Por
        | M::Orps
        | M::Orpd
        | M::Pand
        | M::Andps
        | M::Andpd
        | M::Pandn
        | M::Andnps
        | M::Andnpd
        | M::Paddb
        | M::Paddw
        | M::Paddd
        | M::Paddq
        | M::Psubb
        | M::Psubw
        | M::Psubd
        | M::Psubq
        | M::Paddusb
        | M::Paddusw
        | M::Psubusb
        | M::Psubusw
        | M::Paddsb
        | M::Paddsw
        | M::Psubsb
        | M::Psubsw
        | M::Pcmpeqb
        | M::Pcmpeqw
        | M::Pcmpeqd
        | M::Pcmpgtb
        | M::Pcmpgtw
        | M::Pcmpgtd
        | M::Pminub
        | M::Pmaxub
        | M::Pminsw
        | M::Pmaxsw
        | M::Pavgb
        | M::Pavgw
        | M::Pmullw
        | M::Pmulhw
        | M::Pmulhuw
        | M::Pmuludq
        | M::Pmaddwd
        | M::Psadbw
        | M::Punpcklbw
        | M::Punpcklwd
        | M::Punpckldq
        | M::Punpcklqdq
        | M::Punpckhbw
        | M::Punpckhwd
        | M::Punpckhdq
        | M::Punpckhqdq
        | M::Unpcklps
        | M::Unpcklpd
        | M::Unpckhps
        | M::Unpckhpd
        | M::Packsswb
        | M::Packssdw
        | M::Packuswb => sse::lanewise(a, d),
        M::Addsd
        | M::Subsd
        | M::Mulsd
        | M::Divsd
        | M::Minsd
        | M::Maxsd
        | M::Sqrtsd
        | M::Addss
        | M::Subss
        | M::Mulss
        | M::Divss
        | M::Minss
        | M::Maxss
        | M::Sqrtss => float::arithmetic(a, d),
        M::Ucomisd | M::Comisd | M::Ucomiss | M::Comiss => float::compare(a, d),
        M::Cvtsi2sd | M::Cvtsi2ss => float::from_integer(a, d),
        M::Cvttsd2si | M::Cvtsd2si | M::Cvttss2si | M::Cvtss2si => float::to_integer(a, d),
        M::Cvtsd2ss | M::Cvtss2sd => float::convert(a, d),
        M::Ldmxcsr => float::ldmxcsr(a, d),
        M::Stmxcsr => float::stmxcsr(a, d),
        M::Fxsave | M::Fxsave64 => float::fxsave(a, d),
        M::Fxrstor | M::Fxrstor64 => float::fxrstor(a, d),
        M::Cpuid => cpuid::cpuid(a, d),
        // The machine's clock is its step counter, which the handler does not see.
        M::Rdtsc => Err(Trap::ReadTsc.into()),
        M::Cld => flag_set(a, d, crate::cpu::flag::DF, false),
        M::Std => flag_set(a, d, crate::cpu::flag::DF, true),
        M::Clc => flag_set(a, d, crate::cpu::flag::CF, false),
        M::Stc => flag_set(a, d, crate::cpu::flag::CF, true),
        M::Cmc => {
            a.cpu.rflags ^= crate::cpu::flag::CF;
            Ok(d.next_ip)
        }
        // Ordering and cache hints: one instruction at a time is already in order, and
        // the machine has no cache.
        M::Mfence
        | M::Lfence
        | M::Sfence
        | M::Prefetcht0
        | M::Prefetcht1
        | M::Prefetcht2
        | M::Prefetchnta
        | M::Prefetchw
        | M::Clflush => Ok(d.next_ip),
        // Not advertised by CPUID (OSXSAVE, RDTSCP): #UD, as on a CPU without them.
        M::Xgetbv | M::Rdtscp => Err(Fault::invalid_opcode(d.ip).into()),
        M::Nop | M::Endbr64 | M::Endbr32 | M::Pause => Ok(d.next_ip),
        // HLT is CPL-0 only: #GP in user mode, which Linux reports as SIGSEGV/SI_KERNEL.
        M::Hlt => Err(Fault::general_protection(d.ip).into()),
        // INT3 is a trap: the handler sees RIP after it (SDM Vol. 3A, 6.5).
        M::Int3 => Err(Fault::breakpoint(d.next_ip).into()),
        // `int 3` (CD 03) raises the same #BP trap as INT3; any other vector's gate is not
        // open to user mode on Linux (the legacy `int 0x80` entry is not modelled), so it
        // is a #GP.
        M::Int if d.ins.immediate8() == 3 => Err(Fault::breakpoint(d.next_ip).into()),
        M::Int if d.ins.immediate8() != 0x80 => Err(Fault::general_protection(d.ip).into()),
        M::Ud0 | M::Ud1 | M::Ud2 => Err(Fault::invalid_opcode(d.ip).into()),
        M::INVALID if d.ins.is_invalid() => Err(Fault::invalid_opcode(d.ip).into()),
        M::Syscall => Err(Trap::Syscall.into()),
        _ if d.privileged => Err(Fault::general_protection(d.ip).into()),
        _ => Err(Trap::Unimplemented.into()),
    }
}

/// CLD, STD, CLC, STC: one flag set or cleared.
fn flag_set(a: &mut Access, d: &Decoded, bit: u64, on: bool) -> Next {
    if on {
        a.cpu.rflags |= bit;
    } else {
        a.cpu.rflags &= !bit;
    }
    Ok(d.next_ip)
}

/// Evaluates a condition code on RFLAGS (SDM Vol. 1, Appendix B).
#[inline]
pub(crate) fn condition(cc: ConditionCode, rflags: u64) -> bool {
    use crate::cpu::flag::{CF, OF, PF, SF, ZF};
    let f = |bit: u64| rflags & bit != 0;
    match cc {
        ConditionCode::o => f(OF),
        ConditionCode::no => !f(OF),
        ConditionCode::b => f(CF),
        ConditionCode::ae => !f(CF),
        ConditionCode::e => f(ZF),
        ConditionCode::ne => !f(ZF),
        ConditionCode::be => f(CF) || f(ZF),
        ConditionCode::a => !f(CF) && !f(ZF),
        ConditionCode::s => f(SF),
        ConditionCode::ns => !f(SF),
        ConditionCode::p => f(PF),
        ConditionCode::np => !f(PF),
        ConditionCode::l => f(SF) != f(OF),
        ConditionCode::ge => f(SF) == f(OF),
        ConditionCode::le => f(ZF) || f(SF) != f(OF),
        ConditionCode::g => !f(ZF) && f(SF) == f(OF),
        ConditionCode::None => true,
    }
}
