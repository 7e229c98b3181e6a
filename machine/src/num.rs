//! Numbers as text: the one parser and the one formatter every crate of stackswitch uses,
//! so that `emu exec`'s JSON strings, the check language of lessons and scenarios, and
//! every address the page, the CLI and the reports print follow the same rules.
//!
//! [`parse_number`] reads:
//!
//! - decimal digits (`42`), or `0x`/`0X` and hexadecimal digits in either case (`0x2a`,
//!   `0xFF`);
//! - `_` between two digits, to group them (`1_000_000`, `0xffff_f825_048b_4864`), but not
//!   first, last, doubled or straight after `0x`;
//! - one optional leading `-`: the value is then the two's complement of the magnitude,
//!   as a register holds a negative number (`-8` is `0xfffffffffffffff8`, the same value
//!   `emu exec` gives a JSON `-8`); the magnitude must fit a signed 64-bit word (at most
//!   2^63);
//! - surrounding whitespace, which is ignored.
//!
//! Nothing else is a number: no `+` sign, no octal or binary prefix, no empty digits, no
//! value beyond 64 bits. [`hex`] prints a value as `0x` and lowercase hex digits without
//! leading zeros (`0x0`, `0x7ffff7dfff70`), which is what every output of stackswitch uses.
//!
//! ```
//! use machine::num::{hex, parse_number};
//! assert_eq!(parse_number("0x10"), Some(16));
//! assert_eq!(parse_number("1_000"), Some(1000));
//! assert_eq!(parse_number("-1"), Some(u64::MAX));
//! assert_eq!(parse_number("+1"), None);
//! assert_eq!(hex(255), "0xff");
//! ```

/// Reads a number by the rules of this module: decimal or `0x` hex, `_` between digits,
/// an optional leading `-` (two's complement). `None` when the text is not one.
pub fn parse_number(s: &str) -> Option<u64> {
    let t = s.trim();
    let (negative, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let (digits, radix) = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => (h, 16),
        None => (t, 10),
    };
    let grouped_well = !digits.starts_with('_') && !digits.ends_with('_') && !digits.contains("__");
    if digits.is_empty() || !grouped_well {
        return None;
    }
    let mut value: u64 = 0;
    for c in digits.chars().filter(|&c| c != '_') {
        // Digit by digit rather than `from_str_radix`, which would also take a `+`.
        let d = c.to_digit(radix)?;
        value = value.checked_mul(radix as u64)?.checked_add(d as u64)?;
    }
    if !negative {
        return Some(value);
    }
    // The magnitude of an i64: up to 2^63, whose negation is i64::MIN.
    if value > 1 << 63 {
        return None;
    }
    Some(value.wrapping_neg())
}

/// A value as stackswitch prints addresses and words: `0x` and lowercase hex digits,
/// without leading zeros.
pub fn hex(v: u64) -> String {
    format!("{v:#x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_and_hex_read() {
        assert_eq!(parse_number("0"), Some(0));
        assert_eq!(parse_number("42"), Some(42));
        assert_eq!(parse_number("0x2a"), Some(42));
        assert_eq!(parse_number("0X2A"), Some(42));
        assert_eq!(parse_number(" 0x10 "), Some(16));
        assert_eq!(parse_number("18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_number("0xffffffffffffffff"), Some(u64::MAX));
    }

    #[test]
    fn underscores_only_between_digits() {
        assert_eq!(parse_number("1_000"), Some(1000));
        assert_eq!(
            parse_number("0xffff_f825_048b_4864"),
            Some(0xffff_f825_048b_4864)
        );
        for bad in ["_1", "1_", "1__0", "0x_10", "0x10_", "_"] {
            assert_eq!(parse_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_minus_is_twos_complement_within_i64() {
        assert_eq!(parse_number("-1"), Some(u64::MAX));
        assert_eq!(parse_number("-0x8"), Some((-8i64) as u64));
        assert_eq!(parse_number("-0"), Some(0));
        assert_eq!(parse_number("-9223372036854775808"), Some(i64::MIN as u64));
        assert_eq!(parse_number("-9223372036854775809"), None);
        assert_eq!(parse_number("--1"), None);
    }

    #[test]
    fn anything_else_is_not_a_number() {
        for bad in [
            "",
            " ",
            "-",
            "0x",
            "+1",
            "0b1",
            "1.5",
            "0x1g",
            "12a",
            "rsp",
            "18446744073709551616",
            "0x10000000000000000",
        ] {
            assert_eq!(parse_number(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn hex_has_no_leading_zeros() {
        assert_eq!(hex(0), "0x0");
        assert_eq!(hex(0x7fff_f7df_ff70), "0x7ffff7dfff70");
        assert_eq!(hex(u64::MAX), "0xffffffffffffffff");
    }
}
