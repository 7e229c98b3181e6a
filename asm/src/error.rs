//! Assembly errors: a place (file, line, column), what was expected and what was found, the
//! line with a caret under the place, and a suggestion when one is obvious.

use std::fmt;

/// A position in a source file: 1-based line and column (columns count characters).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Pos {
    /// File name as given to the assembler.
    pub file: String,
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub col: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// An error with its place in the source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsmError {
    /// Where.
    pub pos: Pos,
    /// What went wrong ("expected a register, found `RAX`").
    pub message: String,
    /// The source line, for the caret display.
    pub source_line: String,
    /// A hint, such as "did you mean `AX`?".
    pub suggestion: Option<String>,
}

impl AsmError {
    /// An error at `pos` whose source line the caller fills in later if it does not know it.
    pub fn new(pos: Pos, message: impl Into<String>) -> AsmError {
        AsmError {
            pos,
            message: message.into(),
            source_line: String::new(),
            suggestion: None,
        }
    }

    /// Adds a suggestion.
    pub fn suggest(mut self, s: impl Into<String>) -> AsmError {
        self.suggestion = Some(s.into());
        self
    }
}

impl fmt::Display for AsmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}: {}", self.pos, self.message)?;
        if !self.source_line.is_empty() {
            let line = self.source_line.replace('\t', "    ");
            // Columns count characters; tabs were widened to four spaces above.
            let prefix: String = self
                .source_line
                .chars()
                .take(self.pos.col.saturating_sub(1) as usize)
                .collect();
            let width = prefix.replace('\t', "    ").chars().count();
            writeln!(f, "    {line}")?;
            write!(f, "    {}^", " ".repeat(width))?;
        }
        if let Some(s) = &self.suggestion {
            write!(f, "\n    help: {s}")?;
        }
        Ok(())
    }
}

impl std::error::Error for AsmError {}
