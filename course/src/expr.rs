//! The check language of [`go_model::check`], as lessons write it, with one addition:
//! memory may be read at any expression, `[rsp + 48]`, `[[rbp] + 8]`. Before a claim is
//! handed to the check language, every bracket whose inside is an expression (has spaces)
//! is evaluated at the point and replaced by its address, innermost first, so
//! `[rsp + 48] == &g1` becomes `[0x7ffff7dfff70] == &g1`.

use go_model::check::{self, CheckError};
use go_model::process::Process;

/// Replaces each `[a + b]` by `[0x…]`, the address the expression has now.
pub fn reduce(p: &Process, thread: usize, text: &str) -> Result<String, CheckError> {
    let mut s = text.to_string();
    let mut from = 0;
    while let Some(r) = s[from..].find(']').map(|k| k + from) {
        let Some(l) = s[..r].rfind('[') else {
            return Err(CheckError::Bad(format!("`{text}`: a `]` without its `[`")));
        };
        let inner = s[l + 1..r].trim();
        if inner.contains(char::is_whitespace) {
            let v = check::value(p, thread, inner)?;
            let addr = format!("[{v:#x}]");
            s.replace_range(l..=r, &addr);
            from = l + addr.len();
        } else {
            from = r + 1;
        }
    }
    Ok(s)
}

/// [`check::evaluate`] with expressions inside brackets.
pub fn evaluate(p: &Process, thread: usize, claim: &str) -> Result<(), CheckError> {
    // Quoted output text is not an expression.
    let t = claim.trim();
    if t.starts_with("stderr has ") || t.starts_with("stdout has ") {
        return check::evaluate(p, thread, claim);
    }
    check::evaluate(p, thread, &reduce(p, thread, claim)?)
}

/// [`check::value`] with expressions inside brackets.
pub fn value(p: &Process, thread: usize, expr: &str) -> Result<u64, CheckError> {
    check::value(p, thread, &reduce(p, thread, expr)?)
}
