//! The spanned-TOML reader every config file goes through: a [`Reporter`] collects problems
//! and turns byte offsets into `file:line:col`, a [`Section`] reads one table with typed getters
//! and, in [`Section::finish`], reports every key it was not asked for with a "did you mean".
//!
//! Invariants: reading never stops at a problem (each getter reports and returns `None`, so
//! the caller falls back to a default and goes on); a file's problems come out in file order,
//! each once; messages name the key by its full dotted path (`sources[1].list.item`).

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::de::{DeTable, DeValue};
use toml::Spanned;
use url::Url;

/// One problem in a config file, with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.col,
            self.message
        )
    }
}

/// All problems found in the configuration.
#[derive(Debug, Clone, thiserror::Error)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

/// TOML text → its spanned tree; syntax errors are reported and parsing goes on.
pub(super) fn parse_toml<'i>(r: &mut Reporter, text: &'i str) -> Spanned<DeTable<'i>> {
    let (root, syntax) = DeTable::parse_recoverable(text);
    for e in syntax {
        r.at(e.span().unwrap_or(0..0), e.message().trim().to_string());
    }
    root
}

/// The candidate closest to `word`, if close enough to be a likely typo.
pub(super) fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(word, c), *c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Lower-case ASCII letters, digits and '-', not starting or ending with '-'.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Collects problems and turns byte offsets into line and column.
pub(super) struct Reporter<'t> {
    file: PathBuf,
    text: &'t str,
    problems: Vec<Problem>,
    /// Byte offset where each line starts (a file of 10,000 subscribers asks often).
    line_starts: Vec<usize>,
}

impl<'t> Reporter<'t> {
    pub(super) fn new(file: &Path, text: &'t str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Reporter {
            file: file.to_path_buf(),
            text,
            problems: Vec::new(),
            line_starts,
        }
    }

    /// The problems in file order.
    pub(super) fn into_problems(mut self) -> Vec<Problem> {
        self.problems.sort_by_key(|p| (p.line, p.col));
        self.problems.dedup();
        self.problems
    }

    pub(super) fn at(&mut self, span: Range<usize>, message: String) {
        let (line, col) = self.line_col(span.start);
        self.problems.push(Problem {
            file: self.file.clone(),
            line,
            col,
            message,
        });
    }

    pub(super) fn has_problems(&self) -> bool {
        !self.problems.is_empty()
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub(super) fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self
            .line_starts
            .partition_point(|&start| start <= offset)
            .max(1);
        let line_start = self.line_starts.get(line - 1).copied().unwrap_or(0);
        let col = self
            .text
            .get(line_start..offset)
            .map_or(0, |s| s.chars().count())
            + 1;
        (line, col)
    }
}

/// A TOML table being read: typed getters report type errors; `finish` reports unknown keys.
pub(super) struct Section<'a, 'i> {
    table: &'a DeTable<'i>,
    pub(super) span: Range<usize>,
    /// The table's dotted path, as messages name it (`sources[1].list`).
    pub(super) path: String,
}

impl<'a, 'i> Section<'a, 'i> {
    pub(super) fn new(table: &'a DeTable<'i>, span: Range<usize>, path: &str) -> Self {
        Section {
            table,
            span,
            path: path.to_string(),
        }
    }

    pub(super) fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub(super) fn get(&self, key: &str) -> Option<&'a Spanned<DeValue<'i>>> {
        self.table
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == key)
            .map(|(_, v)| v)
    }

    pub(super) fn key_span(&self, key: &str) -> Range<usize> {
        self.table
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == key)
            .map(|(k, _)| k.span())
            .unwrap_or(self.span.clone())
    }

    pub(super) fn dotted(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub(super) fn wrong_type(
        &self,
        r: &mut Reporter,
        key: &str,
        v: &Spanned<DeValue>,
        expected: &str,
    ) {
        r.at(
            v.span(),
            format!(
                "`{}` must be {expected}, found {}",
                self.dotted(key),
                v.get_ref().type_str()
            ),
        );
    }

    pub(super) fn table(&self, r: &mut Reporter, key: &str) -> Option<Section<'a, 'i>> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Table(t) => Some(Section::new(t, v.span(), &self.dotted(key))),
            _ => {
                self.wrong_type(r, key, v, "a table");
                None
            }
        }
    }

    pub(super) fn array_of_tables(&self, r: &mut Reporter, key: &str) -> Vec<Section<'a, 'i>> {
        let Some(v) = self.get(key) else {
            return Vec::new();
        };
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(r, key, v, "an array of tables ([[sources]])");
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item.get_ref() {
                DeValue::Table(t) => out.push(Section::new(
                    t,
                    item.span(),
                    &format!("{}[{i}]", self.dotted(key)),
                )),
                _ => self.wrong_type(r, key, item, "an array of tables ([[sources]])"),
            }
        }
        out
    }

    pub(super) fn string(&self, r: &mut Reporter, key: &str) -> Option<Spanned<String>> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::String(s) => Some(Spanned::new(v.span(), s.to_string())),
            _ => {
                self.wrong_type(r, key, v, "a string");
                None
            }
        }
    }

    /// An array of strings, each with its span.
    pub(super) fn spanned_strings(
        &self,
        r: &mut Reporter,
        key: &str,
    ) -> Option<Vec<Spanned<String>>> {
        let v = self.get(key)?;
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(r, key, v, "an array of strings");
            return None;
        };
        let mut out = Vec::new();
        for item in items.iter() {
            match item.get_ref() {
                DeValue::String(s) => out.push(Spanned::new(item.span(), s.to_string())),
                _ => self.wrong_type(r, key, item, "a string"),
            }
        }
        Some(out)
    }

    /// An array of strings.
    pub(super) fn string_array(&self, r: &mut Reporter, key: &str) -> Option<Vec<String>> {
        let strings = self.spanned_strings(r, key)?;
        Some(strings.into_iter().map(Spanned::into_inner).collect())
    }

    pub(super) fn integer_in(
        &self,
        r: &mut Reporter,
        key: &str,
        range: std::ops::RangeInclusive<i64>,
    ) -> Option<i64> {
        let v = self.get(key)?;
        let DeValue::Integer(i) = v.get_ref() else {
            self.wrong_type(r, key, v, "an integer");
            return None;
        };
        match i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()) {
            Ok(n) if range.contains(&n) => Some(n),
            _ => {
                r.at(
                    v.span(),
                    format!(
                        "`{}` must be between {} and {}, found {}",
                        self.dotted(key),
                        range.start(),
                        range.end(),
                        i.as_str()
                    ),
                );
                None
            }
        }
    }

    /// A number (written with a decimal point, or whole) within `range`.
    pub(super) fn fraction_in(
        &self,
        r: &mut Reporter,
        key: &str,
        range: std::ops::RangeInclusive<f64>,
    ) -> Option<f64> {
        let v = self.get(key)?;
        let text = match v.get_ref() {
            DeValue::Float(f) => f.as_str().replace('_', ""),
            DeValue::Integer(i) if i.radix() == 10 => i.as_str().replace('_', ""),
            _ => {
                self.wrong_type(r, key, v, "a number");
                return None;
            }
        };
        match text.parse::<f64>() {
            Ok(n) if range.contains(&n) => Some(n),
            _ => {
                r.at(
                    v.span(),
                    format!(
                        "`{}` must be between {} and {}, found {text}",
                        self.dotted(key),
                        range.start(),
                        range.end(),
                    ),
                );
                None
            }
        }
    }

    /// A duration: a string such as "30s", "2m", "1h 30m", or an integer number of seconds.
    pub(super) fn duration(&self, r: &mut Reporter, key: &str) -> Option<Duration> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Integer(_) => self
                .integer_in(r, key, 0..=86_400 * 7)
                .map(|n| Duration::from_secs(n as u64)),
            DeValue::String(s) => match humantime::parse_duration(s) {
                Ok(d) => Some(d),
                Err(e) => {
                    r.at(
                        v.span(),
                        format!(
                            "`{}`: invalid duration {:?}: {e} (e.g. \"30s\", \"2m\")",
                            self.dotted(key),
                            s.as_ref()
                        ),
                    );
                    None
                }
            },
            _ => {
                self.wrong_type(r, key, v, "a duration such as \"30s\"");
                None
            }
        }
    }

    /// A [`duration`](Self::duration) within `range`.
    pub(super) fn duration_in(
        &self,
        r: &mut Reporter,
        key: &str,
        range: std::ops::RangeInclusive<Duration>,
    ) -> Option<Duration> {
        let d = self.duration(r, key)?;
        if range.contains(&d) {
            return Some(d);
        }
        let span = self.get(key).map(|v| v.span()).unwrap_or(0..0);
        r.at(
            span,
            format!(
                "`{}` must be between {} and {}, found {}",
                self.dotted(key),
                humantime::format_duration(*range.start()),
                humantime::format_duration(*range.end()),
                humantime::format_duration(d)
            ),
        );
        None
    }

    pub(super) fn boolean(&self, r: &mut Reporter, key: &str) -> Option<bool> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.wrong_type(r, key, v, "true or false");
                None
            }
        }
    }

    pub(super) fn url(&self, r: &mut Reporter, key: &str) -> Option<Url> {
        self.parsed(r, key, |s| match Url::parse(s) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(u),
            Ok(_) => Err(format!("{s:?} is not an http(s) URL")),
            Err(e) => Err(format!("invalid URL {s:?}: {e}")),
        })
    }

    /// A string converted by `f`; a conversion error is reported at the value, as
    /// "`dotted.key`: error".
    pub(super) fn parsed<T, E: fmt::Display>(
        &self,
        r: &mut Reporter,
        key: &str,
        f: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        let s = self.string(r, key)?;
        match f(s.get_ref()) {
            Ok(v) => Some(v),
            Err(e) => {
                r.at(s.span(), format!("`{}`: {e}", self.dotted(key)));
                None
            }
        }
    }

    /// Reports every key not in `known`, with a suggestion when one is close.
    pub(super) fn finish(&self, r: &mut Reporter, known: &[&str]) {
        for (k, _) in self.table.iter() {
            let key = k.get_ref().as_ref();
            if known.contains(&key) {
                continue;
            }
            let msg = match suggest(key, known) {
                Some(c) => format!("unknown key `{}`, did you mean `{c}`?", self.dotted(key)),
                None => format!(
                    "unknown key `{}` (known keys: {})",
                    self.dotted(key),
                    known.join(", ")
                ),
            };
            r.at(k.span(), msg);
        }
    }
}
