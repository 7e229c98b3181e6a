//! The preprocessor of Go's assembler: `#include`, `#define` (object-like and function-like,
//! with `\` continuation lines), `#undef`, `#ifdef`, `#ifndef`, `#else`, `#endif`.
//!
//! `#include "file"` is resolved as Go's assembler resolves it (`cmd/asm/internal/lex`,
//! `Input.include`): first relative to the folder of the including file, then in each `-I`
//! folder in order, then among the built-in headers of the selected Go release
//! (`textflag.h`, `go_tls.h`, `funcdata.h`, `go_asm.h`). Files come from a [`Loader`], so the
//! library itself never touches a filesystem. Macros given with `-D` (`GOOS_linux`,
//! `GOARCH_amd64`, as `go build` passes them) are predefined.

use super::error::{AsmError, Pos};
use super::lex::{strip_comments, tokenize, Tok, Token};
use std::collections::HashMap;

/// Supplies source files by path.
pub trait Loader {
    /// The text of `path`, or `None` if there is no such file.
    fn load(&self, path: &str) -> Option<String>;
}

impl Loader for HashMap<String, String> {
    fn load(&self, path: &str) -> Option<String> {
        self.get(path).cloned()
    }
}

impl<F: Fn(&str) -> Option<String>> Loader for F {
    fn load(&self, path: &str) -> Option<String> {
        self(path)
    }
}

/// One source line after preprocessing: its tokens with macros expanded.
#[derive(Clone, Debug)]
pub struct Line {
    /// Tokens, macros expanded (expanded tokens carry the position of the macro's use).
    pub tokens: Vec<Token>,
    /// The line as written, for error messages.
    pub text: String,
}

#[derive(Clone, Debug)]
struct Macro {
    params: Option<Vec<String>>,
    body: Vec<Token>,
}

/// Preprocessor state: macros and built-in headers.
pub struct Preprocessor<'a> {
    loader: &'a dyn Loader,
    builtins: &'a HashMap<String, String>,
    macros: HashMap<String, Macro>,
    depth: u32,
    include: Vec<String>,
}

fn err(pos: Pos, text: &str, msg: impl Into<String>) -> AsmError {
    let mut e = AsmError::new(pos, msg);
    e.source_line = text.to_string();
    e
}

fn folder_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[..i + 1],
        None => "",
    }
}

impl<'a> Preprocessor<'a> {
    /// A preprocessor reading files from `loader`, with `builtins` as the headers that
    /// `#include` falls back to.
    pub fn new(loader: &'a dyn Loader, builtins: &'a HashMap<String, String>) -> Preprocessor<'a> {
        Preprocessor {
            loader,
            builtins,
            macros: HashMap::new(),
            depth: 0,
            include: Vec::new(),
        }
    }

    /// Folders `#include` searches after the including file's own (Go's `-I`), in order.
    pub fn include_dirs(&mut self, dirs: &[String]) {
        self.include = dirs.to_vec();
    }

    /// Defines `name` as `value` before any file is read (Go's `-D name=value`).
    pub fn predefine(&mut self, name: &str, value: &str) {
        let body = tokenize(value, "<command line>", 0).unwrap_or_default();
        self.macros
            .insert(name.to_string(), Macro { params: None, body });
    }

    /// Preprocesses one file.
    pub fn file(&mut self, path: &str, text: &str) -> Result<Vec<Line>, AsmError> {
        let clean = strip_comments(text);
        let raw: Vec<&str> = text.split('\n').collect();
        let lines: Vec<&str> = clean.split('\n').collect();
        let mut out = Vec::new();
        // Each entry: (this branch is active, some branch of this #if was taken).
        let mut conds: Vec<(bool, bool)> = Vec::new();
        let mut i = 0;
        while i < lines.len() {
            let line_no = i as u32 + 1;
            let original = raw.get(i).copied().unwrap_or("").trim_end_matches('\r');
            let mut line = lines[i].trim_end_matches('\r').to_string();
            i += 1;
            let active = conds.iter().all(|c| c.0);
            if line.trim_start().starts_with('#') {
                // Continuation lines belong to the directive. In a macro's body the escaped
                // line break stays a line break, which ends a statement (Go's lexer keeps
                // the `\n` token: cmd/asm/internal/lex/input.go, `macroDefinition`).
                let is_define = line.trim_start()[1..].trim_start().starts_with("define");
                while line.ends_with('\\') && i < lines.len() {
                    line.pop();
                    line.push(if is_define { ';' } else { ' ' });
                    line.push_str(lines[i].trim_end_matches('\r'));
                    i += 1;
                }
                let trimmed = line.trim_start();
                let directive = trimmed[1..].trim_start();
                let word: String = directive
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                let col = (line.len() - trimmed.len()) as u32 + 1;
                let pos = Pos {
                    file: path.to_string(),
                    line: line_no,
                    col,
                };
                let rest = directive[word.len()..].trim();
                match word.as_str() {
                    "ifdef" | "ifndef" => {
                        let defined = self.macros.contains_key(rest);
                        let take = defined == (word == "ifdef");
                        conds.push((take, take));
                    }
                    "else" => {
                        let top = conds
                            .last_mut()
                            .ok_or_else(|| err(pos, original, "#else without #ifdef"))?;
                        *top = (!top.1, true);
                    }
                    "endif" => {
                        conds
                            .pop()
                            .ok_or_else(|| err(pos, original, "#endif without #ifdef"))?;
                    }
                    _ if !active => {}
                    "define" => self.define(&line, path, line_no, original)?,
                    "undef" => {
                        self.macros.remove(rest);
                    }
                    "include" => {
                        let name = rest.trim_matches(|c| c == '"' || c == '<' || c == '>');
                        if name.is_empty() || !(rest.starts_with('"') || rest.starts_with('<')) {
                            return Err(err(pos, original, "expected #include \"file\""));
                        }
                        let local = format!("{}{}", folder_of(path), name);
                        let found = std::iter::once(local)
                            .chain(
                                self.include
                                    .iter()
                                    .map(|d| format!("{}/{name}", d.trim_end_matches('/'))),
                            )
                            .find_map(|p| self.loader.load(&p).map(|t| (p, t)));
                        let (inc_path, text) = match found {
                            Some(t) => t,
                            None => match self.builtins.get(name) {
                                Some(t) => (name.to_string(), t.clone()),
                                None => {
                                    return Err(err(
                                        pos,
                                        original,
                                        format!("cannot find include file \"{name}\""),
                                    )
                                    .suggest(format!(
                                        "looked in \"{}\" and the built-in headers ({})",
                                        folder_of(path),
                                        sorted_keys(self.builtins)
                                    )))
                                }
                            },
                        };
                        self.depth += 1;
                        if self.depth > 32 {
                            return Err(err(
                                pos,
                                original,
                                "#include nested too deeply (a file includes itself?)",
                            ));
                        }
                        out.extend(self.file(&inc_path, &text)?);
                        self.depth -= 1;
                    }
                    other => return Err(err(pos, original, format!("unknown directive #{other}"))),
                }
                continue;
            }
            if !active {
                continue;
            }
            let tokens = tokenize(&line, path, line_no).map_err(|mut e| {
                e.source_line = original.to_string();
                e
            })?;
            if tokens.is_empty() {
                continue;
            }
            let tokens = self.expand(tokens, &mut Vec::new(), original)?;
            out.push(Line {
                tokens,
                text: original.to_string(),
            });
        }
        if !conds.is_empty() {
            let pos = Pos {
                file: path.to_string(),
                line: lines.len() as u32,
                col: 1,
            };
            return Err(err(pos, "", "#ifdef without #endif"));
        }
        Ok(out)
    }

    fn define(
        &mut self,
        line: &str,
        path: &str,
        line_no: u32,
        original: &str,
    ) -> Result<(), AsmError> {
        let start = line.find("define").expect("directive word") + "define".len();
        let rest = &line[start..];
        let name: String = rest
            .trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '·')
            .collect();
        let col = (start + rest.len() - rest.trim_start().len()) as u32 + 1;
        let pos = Pos {
            file: path.to_string(),
            line: line_no,
            col,
        };
        if name.is_empty() {
            return Err(err(pos, original, "expected a macro name after #define"));
        }
        let after = &rest.trim_start()[name.len()..];
        // A function-like macro has its `(` right after the name.
        let (params, body_text) = if let Some(p) = after.strip_prefix('(') {
            let close = p
                .find(')')
                .ok_or_else(|| err(pos.clone(), original, "missing `)` in macro parameters"))?;
            let params: Vec<String> = p[..close]
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            (Some(params), &p[close + 1..])
        } else {
            (None, after)
        };
        let body_col = line.len() - body_text.len();
        let padded = format!("{}{}", " ".repeat(body_col), body_text);
        let body = tokenize(&padded, path, line_no).map_err(|mut e| {
            e.source_line = original.to_string();
            e
        })?;
        self.macros.insert(name, Macro { params, body });
        Ok(())
    }

    /// Expands macros in `tokens`; `hide` holds the macros being expanded (no recursion).
    fn expand(
        &self,
        tokens: Vec<Token>,
        hide: &mut Vec<String>,
        text: &str,
    ) -> Result<Vec<Token>, AsmError> {
        let mut out = Vec::with_capacity(tokens.len());
        let mut i = 0;
        while i < tokens.len() {
            let t = &tokens[i];
            let Some(name) = t.ident() else {
                out.push(t.clone());
                i += 1;
                continue;
            };
            let Some(m) = self
                .macros
                .get(name)
                .filter(|_| !hide.iter().any(|h| h == name))
            else {
                out.push(t.clone());
                i += 1;
                continue;
            };
            let use_pos = t.pos.clone();
            let mut body = m.body.clone();
            match &m.params {
                None => i += 1,
                Some(params) => {
                    if !tokens.get(i + 1).is_some_and(|t| t.is("(")) {
                        // A function-like macro name without arguments is left alone.
                        out.push(t.clone());
                        i += 1;
                        continue;
                    }
                    let (args, next) = split_args(&tokens, i + 2).ok_or_else(|| {
                        err(
                            use_pos.clone(),
                            text,
                            format!("missing `)` after the arguments of {name}"),
                        )
                    })?;
                    if args.len() != params.len()
                        && !(params.is_empty() && args.len() == 1 && args[0].is_empty())
                    {
                        return Err(err(
                            use_pos,
                            text,
                            format!(
                                "macro {name} takes {} arguments, found {}",
                                params.len(),
                                args.len()
                            ),
                        ));
                    }
                    let mut substituted = Vec::new();
                    for b in body {
                        match b.ident().and_then(|id| params.iter().position(|p| p == id)) {
                            Some(k) => substituted.extend(args[k].iter().cloned()),
                            None => substituted.push(b),
                        }
                    }
                    body = substituted;
                    i = next;
                }
            }
            for b in &mut body {
                b.pos = use_pos.clone();
            }
            hide.push(name.to_string());
            let expanded = self.expand(body, hide, text)?;
            hide.pop();
            out.extend(expanded);
        }
        Ok(out)
    }
}

/// Splits macro arguments at top-level commas, from just after the `(`; returns them and
/// the index after the closing `)`.
fn split_args(tokens: &[Token], start: usize) -> Option<(Vec<Vec<Token>>, usize)> {
    let mut args = vec![Vec::new()];
    let mut depth = 0;
    let mut i = start;
    while i < tokens.len() {
        let t = &tokens[i];
        if t.is("(") {
            depth += 1;
        } else if t.is(")") {
            if depth == 0 {
                return Some((args, i + 1));
            }
            depth -= 1;
        } else if t.is(",") && depth == 0 {
            args.push(Vec::new());
            i += 1;
            continue;
        }
        args.last_mut().expect("an argument").push(t.clone());
        i += 1;
    }
    None
}

fn sorted_keys(m: &HashMap<String, String>) -> String {
    let mut k: Vec<&str> = m.keys().map(String::as_str).collect();
    k.sort();
    k.join(", ")
}

/// Whether a token list is one identifier `name`.
pub fn is_word(t: &Token, name: &str) -> bool {
    matches!(&t.tok, Tok::Ident(s) if s == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(files: &[(&str, &str)], main: &str) -> Result<Vec<String>, AsmError> {
        let map: HashMap<String, String> = files
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let builtins: HashMap<String, String> = [(
            "go_tls.h".to_string(),
            "#define\tget_tls(r)\tMOVQ TLS, r\n#define\tg(r)\t0(r)(TLS*1)\n".to_string(),
        )]
        .into();
        let mut p = Preprocessor::new(&map, &builtins);
        let text = map[main].clone();
        Ok(p.file(main, &text)?
            .iter()
            .map(|l| {
                l.tokens
                    .iter()
                    .map(|t| t.describe().trim_matches('`').to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect())
    }

    #[test]
    fn expands_go_tls_macros_at_the_use_site() {
        let src = "#include \"go_tls.h\"\n\tget_tls(CX)\n\tMOVQ\tg(CX), R8 // load g\n";
        let out = run(&[("rt/asm.s", src)], "rt/asm.s").unwrap();
        assert_eq!(out, ["MOVQ TLS , CX", "MOVQ 0 ( CX ) ( TLS * 1 ) , R8"]);
    }

    #[test]
    fn local_includes_win_and_conditionals_work() {
        let files = [
            ("rt/asm.s", "#include \"go_tls.h\"\n#ifdef LOCAL\nA\n#else\nB\n#endif\n#define TWICE(x) x; \\\n x\nTWICE(C)\n"),
            ("rt/go_tls.h", "#define LOCAL 1\n"),
        ];
        // The escaped line break of a macro body ends a statement, as in Go's lexer.
        assert_eq!(run(&files, "rt/asm.s").unwrap(), ["A", "C ; ; C"]);
    }

    #[test]
    fn errors_name_the_place() {
        let e = run(&[("a.s", "#include \"nope.h\"\n")], "a.s").unwrap_err();
        assert_eq!(e.pos.line, 1);
        assert!(
            e.to_string()
                .starts_with("a.s:1:1: cannot find include file \"nope.h\""),
            "{e}"
        );
        let e = run(&[("a.s", "#define F(a, b) a\nF(1)\n")], "a.s").unwrap_err();
        assert_eq!((e.pos.line, e.pos.col), (2, 1));
        assert!(e.message.contains("takes 2 arguments, found 1"));
        let e = run(&[("a.s", "#ifdef X\n")], "a.s").unwrap_err();
        assert!(e.message.contains("without #endif"));
    }
}
