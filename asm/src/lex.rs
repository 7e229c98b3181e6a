//! Tokens of Go's assembler syntax (also used for Intel syntax), with their positions.

use super::error::{AsmError, Pos};

/// One token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tok {
    /// A name: letters, digits, `_`, `·`, `∕`, `.`, `@` (not starting with a digit).
    Ident(String),
    /// An integer literal (decimal, `0x` hex, `0` octal, `0b` binary, or a character).
    Int(u64),
    /// A string literal.
    Str(String),
    /// Punctuation: `( ) [ ] , $ + - * / % & | ^ ~ << >> : ; < > ! #`.
    Punct(&'static str),
}

/// A token and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// The token.
    pub tok: Tok,
    /// Where it starts (for tokens from a macro: where the macro was used).
    pub pos: Pos,
}

impl Token {
    /// Whether this is the punctuation `p`.
    pub fn is(&self, p: &str) -> bool {
        matches!(&self.tok, Tok::Punct(q) if *q == p)
    }
    /// The identifier text, if it is one.
    pub fn ident(&self) -> Option<&str> {
        match &self.tok {
            Tok::Ident(s) => Some(s),
            _ => None,
        }
    }
    /// How the token reads in a message.
    pub fn describe(&self) -> String {
        match &self.tok {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Int(v) => format!("`{v}`"),
            Tok::Str(s) => format!("\"{s}\""),
            Tok::Punct(p) => format!("`{p}`"),
        }
    }
}

/// Replaces `//` and `/* */` comments with spaces, keeping every newline and column.
pub fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_block = false;
    let mut in_string: Option<char> = None;
    while let Some(c) = chars.next() {
        if in_block {
            if c == '*' && chars.peek() == Some(&'/') {
                chars.next();
                out.push_str("  ");
                in_block = false;
            } else {
                out.push(if c == '\n' { '\n' } else { ' ' });
            }
            continue;
        }
        if let Some(q) = in_string {
            out.push(c);
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            } else if c == q || c == '\n' {
                in_string = None;
            }
            continue;
        }
        match c {
            '"' | '\'' => {
                in_string = Some(c);
                out.push(c);
            }
            '/' if chars.peek() == Some(&'/') => {
                out.push(' ');
                for n in chars.by_ref() {
                    if n == '\n' {
                        out.push('\n');
                        break;
                    }
                    out.push(' ');
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                out.push_str("  ");
                in_block = true;
            }
            _ => out.push(c),
        }
    }
    out
}

fn ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '·' || c == '∕' || c == '.' || c == '@'
}

fn ident_char(c: char) -> bool {
    ident_start(c) || c.is_ascii_digit()
}

const PUNCT2: [&str; 2] = ["<<", ">>"];
const PUNCT1: [&str; 21] = [
    "(", ")", "[", "]", ",", "$", "+", "-", "*", "/", "%", "&", "|", "^", "~", ":", ";", "<", ">",
    "!", "#",
];

/// Splits one line (comments already removed) into tokens.
pub fn tokenize(line: &str, file: &str, line_no: u32) -> Result<Vec<Token>, AsmError> {
    let chars: Vec<char> = line.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let pos = |col: usize| Pos {
        file: file.to_string(),
        line: line_no,
        col: col as u32 + 1,
    };
    let err = |col: usize, msg: String| {
        let mut e = AsmError::new(pos(col), msg);
        e.source_line = line.to_string();
        e
    };
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if ident_start(c) {
            while i < chars.len() && ident_char(chars[i]) {
                i += 1;
            }
            out.push(Token {
                tok: Tok::Ident(chars[start..i].iter().collect()),
                pos: pos(start),
            });
        } else if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let text: String = chars[start..i].iter().filter(|&&c| c != '_').collect();
            let value =
                parse_int(&text).ok_or_else(|| err(start, format!("malformed number `{text}`")))?;
            out.push(Token {
                tok: Tok::Int(value),
                pos: pos(start),
            });
        } else if c == '\'' {
            // A character constant such as 'a' or '\n'.
            let (value, len) = match (chars.get(i + 1), chars.get(i + 2), chars.get(i + 3)) {
                (Some('\\'), Some(e), Some('\'')) => (
                    escape(*e).ok_or_else(|| err(start, "unknown escape".into()))?,
                    4,
                ),
                (Some(ch), Some('\''), _) => (*ch as u64, 3),
                _ => return Err(err(start, "malformed character constant".into())),
            };
            i += len;
            out.push(Token {
                tok: Tok::Int(value),
                pos: pos(start),
            });
        } else if c == '"' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        return Err(err(
                            start,
                            "string not closed before the end of the line".into(),
                        ))
                    }
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some('\\') => {
                        let e = chars.get(i + 1).copied().unwrap_or(' ');
                        s.push(
                            escape(e)
                                .and_then(|v| char::from_u32(v as u32))
                                .ok_or_else(|| err(i, "unknown escape".into()))?,
                        );
                        i += 2;
                    }
                    Some(&ch) => {
                        s.push(ch);
                        i += 1;
                    }
                }
            }
            out.push(Token {
                tok: Tok::Str(s),
                pos: pos(start),
            });
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            if let Some(p) = PUNCT2.iter().find(|&&p| p == two) {
                out.push(Token {
                    tok: Tok::Punct(p),
                    pos: pos(start),
                });
                i += 2;
            } else if let Some(p) = PUNCT1.iter().find(|&&p| p.starts_with(c)) {
                out.push(Token {
                    tok: Tok::Punct(p),
                    pos: pos(start),
                });
                i += 1;
            } else {
                return Err(err(start, format!("unexpected character `{c}`")));
            }
        }
    }
    Ok(out)
}

fn escape(c: char) -> Option<u64> {
    Some(match c {
        'n' => 10,
        't' => 9,
        'r' => 13,
        '0' => 0,
        '\\' => 92,
        '\'' => 39,
        '"' => 34,
        _ => return None,
    })
}

/// Parses an integer literal as Go's assembler reads it.
pub fn parse_int(t: &str) -> Option<u64> {
    let lower = t.to_ascii_lowercase();
    if let Some(h) = lower.strip_prefix("0x") {
        u64::from_str_radix(h, 16).ok()
    } else if let Some(h) = lower
        .strip_suffix('h')
        .filter(|h| h.chars().all(|c| c.is_ascii_hexdigit()))
    {
        // MASM-style `0FFh`, as some Intel-syntax listings print it.
        u64::from_str_radix(h, 16).ok()
    } else if let Some(b) = lower.strip_prefix("0b") {
        u64::from_str_radix(b, 2).ok()
    } else if lower.len() > 1 && lower.starts_with('0') {
        u64::from_str_radix(&lower[1..], 8).ok()
    } else {
        lower.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_keep_columns() {
        let s = strip_comments("MOVQ AX, BX // copy\n/* a\n b */ RET");
        assert_eq!(s, "MOVQ AX, BX        \n    \n      RET");
    }

    #[test]
    fn tokens_of_a_runtime_line() {
        let t = tokenize("\tMOVQ\tfn+0(FP), AX", "x.s", 3).unwrap();
        let texts: Vec<String> = t.iter().map(|t| t.describe()).collect();
        assert_eq!(
            texts,
            ["`MOVQ`", "`fn`", "`+`", "`0`", "`(`", "`FP`", "`)`", "`,`", "`AX`"]
        );
        assert_eq!(t[1].pos.col, 7);
        let t = tokenize("TEXT runtime·asmcgocall(SB),NOSPLIT,$0-20", "x.s", 1).unwrap();
        assert_eq!(t[1].ident(), Some("runtime·asmcgocall"));
        assert!(tokenize("MOVQ $0x, AX", "x.s", 1).is_err());
    }
}
