//! Diagnostics: errors and warnings located as `FILE:LINE:COL`.

use std::fmt;
use std::ops::Range;

/// Whether a diagnostic stops the config from being used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The config is invalid: `vrrpd` refuses to run it.
    Error,
    /// The config is valid but will not work as its author most likely meant.
    Warning,
}

/// One error or warning, located in a file.
///
/// `Display` prints `FILE:LINE:COL: message` for errors and
/// `FILE:LINE:COL: warning: message` for warnings (lines and columns from 1, columns in
/// characters), always on one line: control characters in the file name or the message (a
/// newline in a path quoted from the config, say) are printed escaped (`\n`), so a config
/// cannot forge extra diagnostic lines or terminal escapes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file name as given by the caller.
    pub file: String,
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
    /// What is wrong and, where we can tell, how to fix it.
    pub message: String,
}

impl Diagnostic {
    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Writes `text` with every control character escaped (`\n`, `\u{1b}`).
pub(crate) fn write_one_line(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    for c in text.chars() {
        if c.is_control() {
            write!(f, "{}", c.escape_debug())?;
        } else {
            f.write_fmt(format_args!("{c}"))?;
        }
    }
    Ok(())
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_one_line(f, &self.file)?;
        write!(f, ":{}:{}: ", self.line, self.column)?;
        if self.severity == Severity::Warning {
            f.write_str("warning: ")?;
        }
        write_one_line(f, &self.message)
    }
}

/// A list of diagnostics that displays one per line (the form `check-config` prints).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// The errors among them.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| d.is_error())
    }

    /// The warnings among them.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| !d.is_error())
    }
}

/// Every error at once; `Display` prints one `FILE:LINE:COL: message` per line.
impl std::error::Error for Diagnostics {}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            d.fmt(f)?;
        }
        Ok(())
    }
}

/// A source text with its name, for turning byte offsets into lines and columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// The name diagnostics print (usually the path as the user gave it).
    pub name: String,
    /// The text.
    pub text: String,
}

impl SourceFile {
    /// A named text.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        SourceFile {
            name: name.into(),
            text: text.into(),
        }
    }

    /// Line and column (both from 1, column in characters) of a byte offset. Offsets past the
    /// end, or inside a multi-byte character, are clamped.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while offset > 0 && !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }

    /// A diagnostic at the start of `span`.
    pub fn diagnostic(
        &self,
        severity: Severity,
        span: &Range<usize>,
        message: impl Into<String>,
    ) -> Diagnostic {
        let (line, column) = self.line_col(span.start);
        Diagnostic {
            severity,
            file: self.name.clone(),
            line,
            column,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_from_one() {
        let src = SourceFile::new("f.toml", "ab\nçd = 1\n");
        assert_eq!(src.line_col(0), (1, 1));
        assert_eq!(src.line_col(3), (2, 1));
        // "ç" is two bytes; "d" is the second character.
        assert_eq!(src.line_col(5), (2, 2));
        // inside the two-byte character: clamped to its start
        assert_eq!(src.line_col(4), (2, 1));
        assert_eq!(src.line_col(1000), (3, 1));
    }

    #[test]
    fn a_diagnostic_is_always_one_line() {
        // Found by the keepalived_import fuzz target: a script path with a newline, quoted in
        // a warning, split it in two lines.
        let src = SourceFile::new("a\n.toml", "x = 1\n");
        let w = src.diagnostic(
            Severity::Warning,
            &(0..1),
            "/etc/kx {\n    script /etc/x\u{1b}[2J does not exist on this host",
        );
        assert_eq!(
            w.to_string(),
            "a\\n.toml:1:1: warning: /etc/kx {\\n    script /etc/x\\u{1b}[2J does not exist on this host"
        );
        // A tab is a control character too; quotes, backslashes and letters stay as they are.
        let e = src.diagnostic(Severity::Error, &(0..1), "tab\there \"é\" \\ ok");
        assert_eq!(e.to_string(), "a\\n.toml:1:1: tab\\there \"é\" \\ ok");
    }

    #[test]
    fn display_matches_the_cli_contract() {
        let src = SourceFile::new("a.toml", "x\ny = 1\n");
        let e = src.diagnostic(Severity::Error, &(4..5), "bad");
        assert_eq!(e.to_string(), "a.toml:2:3: bad");
        let w = src.diagnostic(Severity::Warning, &(0..1), "odd");
        assert_eq!(w.to_string(), "a.toml:1:1: warning: odd");
    }
}
