//! Typed reads from a spanned TOML tree, collecting every error with its span instead of
//! stopping at the first.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::duration::parse_duration;
use crate::types::{CommandLine, split_command_line};

/// Byte span in the source.
pub(crate) type Span = Range<usize>;

/// What parsing and validation collect.
#[derive(Debug, Default)]
pub(crate) struct Ctx {
    /// Errors with their spans.
    pub(crate) errors: Vec<(Span, String)>,
    /// Span of every value read, by key path (`instance[0].vrid`).
    pub(crate) positions: BTreeMap<String, Span>,
    /// Key paths whose value was missing or invalid: checks that need them are skipped so
    /// that one mistake gives one error.
    pub(crate) bad: BTreeSet<String>,
}

impl Ctx {
    pub(crate) fn error(&mut self, span: Span, message: impl Into<String>) {
        self.errors.push((span, message.into()));
    }

    /// Marks `path` invalid and reports `message` at `span`.
    pub(crate) fn bad(&mut self, path: &str, span: Span, message: impl Into<String>) {
        self.bad.insert(path.to_string());
        self.error(span, message);
    }

    /// Whether `path` was read without error (or was absent and defaulted).
    pub(crate) fn ok(&self, path: &str) -> bool {
        !self.bad.contains(path)
    }
}

/// Reads the keys of one table; reports the ones nobody asked for.
pub(crate) struct TableReader<'t, 'i> {
    table: &'t DeTable<'i>,
    /// Span that errors about the whole table point at (its header).
    pub(crate) span: Span,
    /// Key path prefix (`instance[0]`).
    pub(crate) path: String,
    /// Name of the table in messages (`[[instance]] "VI_1"`).
    pub(crate) label: String,
    used: BTreeSet<String>,
}

impl<'t, 'i> TableReader<'t, 'i> {
    pub(crate) fn new(table: &'t DeTable<'i>, span: Span, path: String, label: String) -> Self {
        TableReader {
            table,
            span,
            path,
            label,
            used: BTreeSet::new(),
        }
    }

    pub(crate) fn key_path(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    /// Whether the table has `key` (does not mark it read).
    pub(crate) fn has(&self, key: &str) -> bool {
        self.table.iter().any(|(k, _)| k.get_ref() == key)
    }

    /// The raw value of `key`, marking it read and recording its position.
    pub(crate) fn take(&mut self, ctx: &mut Ctx, key: &str) -> Option<&'t Spanned<DeValue<'i>>> {
        let (_, value) = self.table.iter().find(|(k, _)| k.get_ref() == key)?;
        self.used.insert(key.to_string());
        ctx.positions.insert(self.key_path(key), value.span());
        Some(value)
    }

    fn type_error(&self, ctx: &mut Ctx, key: &str, v: &Spanned<DeValue<'_>>, want: &str) {
        ctx.bad(
            &self.key_path(key),
            v.span(),
            format!("`{key}` must be {want}, found {}", describe(v.get_ref())),
        );
    }

    /// Reports a missing required key.
    pub(crate) fn missing(&self, ctx: &mut Ctx, key: &str, what: &str) {
        ctx.bad(
            &self.key_path(key),
            self.span.clone(),
            format!("{} has no `{key}` ({what})", self.label),
        );
    }

    /// A string.
    pub(crate) fn string(&mut self, ctx: &mut Ctx, key: &str) -> Option<(String, Span)> {
        let v = self.take(ctx, key)?;
        match v.get_ref() {
            DeValue::String(s) => Some((s.to_string(), v.span())),
            _ => {
                self.type_error(ctx, key, v, "a string");
                None
            }
        }
    }

    /// A required string.
    pub(crate) fn required_string(
        &mut self,
        ctx: &mut Ctx,
        key: &str,
        what: &str,
    ) -> Option<(String, Span)> {
        if !self.has(key) {
            self.missing(ctx, key, what);
            return None;
        }
        self.string(ctx, key)
    }

    /// A string parsed by `parse`, whose error message is reported at the value.
    pub(crate) fn parsed<T>(
        &mut self,
        ctx: &mut Ctx,
        key: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let (s, span) = self.string(ctx, key)?;
        match parse(&s) {
            Ok(v) => Some(v),
            Err(e) => {
                ctx.bad(&self.key_path(key), span, format!("`{key}`: {e}"));
                None
            }
        }
    }

    /// An integer within `range`.
    pub(crate) fn int(
        &mut self,
        ctx: &mut Ctx,
        key: &str,
        range: std::ops::RangeInclusive<i64>,
    ) -> Option<i64> {
        let v = self.take(ctx, key)?;
        let DeValue::Integer(i) = v.get_ref() else {
            self.type_error(ctx, key, v, "an integer");
            return None;
        };
        match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) if range.contains(&n) => Some(n),
            _ => {
                ctx.bad(
                    &self.key_path(key),
                    v.span(),
                    format!(
                        "`{key}` must be {}..={}, found {}",
                        range.start(),
                        range.end(),
                        i.as_str()
                    ),
                );
                None
            }
        }
    }

    /// A boolean.
    pub(crate) fn bool(&mut self, ctx: &mut Ctx, key: &str) -> Option<bool> {
        let v = self.take(ctx, key)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.type_error(ctx, key, v, "true or false");
                None
            }
        }
    }

    /// A duration string (`"1s"`, `"100ms"`).
    pub(crate) fn duration(&mut self, ctx: &mut Ctx, key: &str) -> Option<Duration> {
        let v = self.take(ctx, key)?;
        match v.get_ref() {
            DeValue::String(s) => match parse_duration(s) {
                Ok(d) => Some(d),
                Err(e) => {
                    ctx.bad(&self.key_path(key), v.span(), format!("`{key}`: {e}"));
                    None
                }
            },
            DeValue::Integer(i) => {
                ctx.bad(
                    &self.key_path(key),
                    v.span(),
                    format!(
                        "`{key}` is a duration: write it as a string with a unit, e.g. \"{}s\" or \"{}ms\"",
                        i.as_str(),
                        i.as_str()
                    ),
                );
                None
            }
            _ => {
                self.type_error(ctx, key, v, "a duration string like \"1s\" or \"100ms\"");
                None
            }
        }
    }

    /// An array of strings, each with its span.
    pub(crate) fn string_list(&mut self, ctx: &mut Ctx, key: &str) -> Option<Vec<(String, Span)>> {
        let v = self.take(ctx, key)?;
        let DeValue::Array(items) = v.get_ref() else {
            self.type_error(ctx, key, v, "an array of strings");
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for (n, item) in items.iter().enumerate() {
            match item.get_ref() {
                DeValue::String(s) => {
                    ctx.positions
                        .insert(format!("{}[{n}]", self.key_path(key)), item.span());
                    out.push((s.to_string(), item.span()));
                }
                other => {
                    ok = false;
                    ctx.bad(
                        &self.key_path(key),
                        item.span(),
                        format!(
                            "`{key}` must be an array of strings, found {} in it",
                            describe(other)
                        ),
                    );
                }
            }
        }
        ok.then_some(out)
    }

    /// A command line: a string (split as a shell would, without running one) or an array of
    /// strings.
    pub(crate) fn command(&mut self, ctx: &mut Ctx, key: &str) -> Option<CommandLine> {
        let v = self.take(ctx, key)?;
        let argv = match v.get_ref() {
            DeValue::String(s) => match split_command_line(s) {
                Ok(argv) => argv,
                Err(e) => {
                    ctx.bad(&self.key_path(key), v.span(), format!("`{key}`: {e}"));
                    return None;
                }
            },
            DeValue::Array(items) => {
                let mut argv = Vec::new();
                for item in items.iter() {
                    match item.get_ref() {
                        DeValue::String(s) => argv.push(s.to_string()),
                        other => {
                            ctx.bad(
                                &self.key_path(key),
                                item.span(),
                                format!(
                                    "`{key}` must be a command line string or an array of strings, found {} in it",
                                    describe(other)
                                ),
                            );
                            return None;
                        }
                    }
                }
                argv
            }
            _ => {
                self.type_error(ctx, key, v, "a command line string or an array of strings");
                return None;
            }
        };
        if argv.first().is_none_or(|p| p.is_empty()) {
            ctx.bad(
                &self.key_path(key),
                v.span(),
                format!("`{key}` is empty: it must name a program"),
            );
            return None;
        }
        Some(CommandLine { argv })
    }

    /// Reports every key that was not read, suggesting the closest allowed one.
    pub(crate) fn finish(self, ctx: &mut Ctx, allowed: &[&str]) {
        for (k, _) in self.table.iter() {
            let key = k.get_ref().as_ref();
            if self.used.contains(key) {
                continue;
            }
            let mut message = format!("unknown key `{key}` in {}", self.label);
            if let Some(best) = closest(key, allowed) {
                message.push_str(&format!(" (did you mean `{best}`?)"));
            } else {
                message.push_str(&format!(" (known keys: {})", allowed.join(", ")));
            }
            ctx.bad(&self.key_path(key), k.span(), message);
        }
    }
}

/// How a value is named in messages.
pub(crate) fn describe(v: &DeValue<'_>) -> String {
    match v {
        DeValue::String(s) => format!("the string {s:?}"),
        DeValue::Integer(i) => format!("the integer {}", i.as_str()),
        DeValue::Float(f) => format!("the float {}", f.as_str()),
        DeValue::Boolean(b) => format!("{b}"),
        DeValue::Datetime(d) => format!("the date-time {d}"),
        DeValue::Array(_) => "an array".to_string(),
        DeValue::Table(_) => "a table".to_string(),
    }
}

/// The allowed name closest to `key`, if it is close enough to be a typo.
pub(crate) fn closest<'a>(key: &str, allowed: &[&'a str]) -> Option<&'a str> {
    allowed
        .iter()
        .map(|a| (edit_distance(key, a), *a))
        .filter(|(d, a)| *d <= 2.max(a.len() / 4) || (key.len() >= 4 && a.starts_with(key)))
        .min()
        .map(|(_, a)| a)
}

/// Levenshtein distance over characters.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(cur).min(row[j])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_catch_typos_only() {
        let allowed = ["advert_interval", "priority", "vrid"];
        assert_eq!(closest("advert_int", &allowed), Some("advert_interval"));
        assert_eq!(closest("priorty", &allowed), Some("priority"));
        assert_eq!(closest("colour", &allowed), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
