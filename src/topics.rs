//! Topic matching: which configured topics an article belongs to, and why. Pure: no I/O, no
//! clock. [`Matcher::compile`] turns validated [`TopicSpec`]s into one immutable [`Matcher`];
//! ingest prepares each article once as a [`MatchInput`] and asks [`Matcher::matches`];
//! `bantin topics test` and `bantin match` ask [`Matcher::explain`] for the same verdict with
//! every hit shown in context.
//!
//! # Semantics (the notes on Vietnamese sources, §3)
//!
//! - Text and phrases go through the same normalization, [`text::match_key`] (entities, NFC,
//!   Đ impostors, invisible characters, one tone-mark style, lowercase): "Uỷ ban" matches
//!   "ủy ban", decomposed text matches precomposed phrases.
//! - Phrases match whole syllables only ("dân vận" is not in "dân vậnh"), and punctuation breaks
//!   them ("nhân dân. Vận động" does not contain "dân vận"). Punctuation inside a phrase
//!   ("TP.HCM") matches any punctuation at that place; at its edges it is ignored.
//! - A phrase written with diacritics matches exactly those ("dân vận" never finds "dân vẫn"). A
//!   phrase whose key is pure ASCII ("dang uy") matches accent-insensitively, with đ → d: it
//!   finds "Đảng ủy" (and, by design of folding, "đang ủy").
//! - `none` vetoes the topic; a hit of `any`, `all` or `regex` lying entirely inside a hit of an
//!   `ignore` phrase does not count ("dân vận" inside "nhân dân vận dụng"). `any` and `regex`
//!   form one group: when it is non-empty, one of them must hit. Each `all` phrase must hit too.
//! - `regex` patterns (Rust `regex` syntax, compiled case-insensitively) run on the normalized
//!   exact text of each field, [`MatchInput::normalized`]: NFC, lowercase, modern tone style
//!   (ủy, hòa), punctuation kept. Empty regex matches are not hits.
//! - `fields` limits every role to title, summary or content; `sources` limits the topic to
//!   articles carried by one of the listed sources or tags (an article with no known carrier
//!   passes only topics without a `sources` list).
//!
//! # How
//!
//! A field's key is cut into syllables (runs of letters, digits and combining marks). Two
//! strings are built from them, "exact" (the syllables) and "folded" (each syllable without
//! diacritics), both as ` s1 s2 \n s3 ` for every field: every syllable has a space on each
//! side, punctuation between two syllables becomes ` \n `, and fields are joined by `\0`.
//! Phrases are written the same way, spaces at both ends included, so an automaton hit *is* a
//! whole-syllable hit: no boundary check, and no hits inside syllables to throw away. Both strings
//! record where each syllable starts, so a hit maps to a syllable, then to the byte range of the
//! field's normalized text: the one coordinate system in which exact, folded and regex hits are
//! compared for `ignore` masking and shown in context.
//!
//! All phrases of all topics compile into one Aho-Corasick automaton per mode (exact, folded),
//! deduplicated (a pattern maps to every (topic, role, phrase) that uses it), searched with
//! overlapping Standard semantics because `ignore` and `any` phrases overlap. Regexes are
//! deduplicated too, and a `RegexSet` picks the few worth running. Matching an article thus
//! costs two automaton passes over its text plus work proportional to its hits, whatever the
//! number of topics.
//!
//! `bantin topics test` runs one topic over a month of stored articles: [`Matcher::screen`]
//! gives it a [`Screen`] that looks for the topic's phrases in each stored search text, cheaply
//! and never turning away an article with a hit, so only the few it lets through are rebuilt and
//! explained.
//!
//! Invariants: [`Matcher::matches`] and [`Matcher::explain`] share hit collection and judgement
//! (one private `judge` function), so they always agree. A `Matcher` is immutable and
//! `Send + Sync`.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, MatchKind};
use memchr::memmem::Finder;
use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use crate::text;

// ---------------------------------------------------------------------------------------------
// Public types

/// An article field a topic can look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Title,
    Summary,
    Content,
}

impl Field {
    pub const ALL: [Field; 3] = [Field::Title, Field::Summary, Field::Content];

    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Summary => "summary",
            Field::Content => "content",
        }
    }

    pub fn parse(s: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.as_str() == s)
    }

    fn index(self) -> usize {
        match self {
            Field::Title => 0,
            Field::Summary => 1,
            Field::Content => 2,
        }
    }
}

/// One entry of a topic's `sources`: `"nhandan"` or `"tag:dang"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceFilter {
    Source(String),
    Tag(String),
}

/// A topic as the config file gives it, already checked for shape (ids are slugs, lists are lists).
#[derive(Debug, Clone, Default)]
pub struct TopicSpec {
    pub id: String,
    pub name: String,
    pub any: Vec<String>,
    pub all: Vec<String>,
    pub none: Vec<String>,
    pub ignore: Vec<String>,
    pub regex: Vec<String>,
    /// Empty = all three.
    pub fields: Vec<Field>,
    /// Empty = every source.
    pub sources: Vec<SourceFilter>,
}

/// The list of a topic a phrase or regex comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Any,
    All,
    None,
    Ignore,
    Regex,
}

impl Role {
    /// The config key.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Any => "any",
            Role::All => "all",
            Role::None => "none",
            Role::Ignore => "ignore",
            Role::Regex => "regex",
        }
    }

    /// Config order, for sorting hits and phrases.
    fn rank(self) -> u8 {
        match self {
            Role::Any => 0,
            Role::All => 1,
            Role::None => 2,
            Role::Ignore => 3,
            Role::Regex => 4,
        }
    }

    /// `any`, `all` and `regex` hits make a topic match; `ignore` can mask them.
    fn is_positive(self) -> bool {
        matches!(self, Role::Any | Role::All | Role::Regex)
    }

    /// The roles whose hits satisfy the "one of them" requirement.
    fn is_any_group(self) -> bool {
        matches!(self, Role::Any | Role::Regex)
    }
}

/// A problem compiling one phrase or regex, located so the config loader can point at it:
/// `topic` indexes the specs given to [`Matcher::compile`], `index` the list named by `role`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    pub topic: usize,
    pub role: Role,
    pub index: usize,
    pub message: String,
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "topic {}: {}[{}]: {}",
            self.topic,
            self.role.as_str(),
            self.index,
            self.message
        )
    }
}

impl std::error::Error for CompileError {}

/// Who carried an article.
#[derive(Debug, Clone, Copy)]
pub struct SourceRef<'a> {
    pub id: &'a str,
    pub tags: &'a [String],
}

/// One topic an article matches, with the phrases (as written in the config) that matched,
/// deduplicated, in config order (`any`, then `all`, then `regex`; each in list order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMatch {
    pub topic: String,
    pub phrases: Vec<String>,
}

/// Why an article does or does not match a topic. When several reasons apply, the first in
/// this order wins: `SourceExcluded`, `Vetoed`, `Matched`, `MaskedByIgnore` (every positive hit
/// masked), `MissingAll`, `MaskedByIgnore` (every `any`/`regex` hit masked), `NoMatch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Matched,
    /// A `none` phrase vetoed it (even if any/all matched). The first such phrase in config order.
    Vetoed {
        phrase: String,
    },
    /// It had any/all/regex hits, but every one (or every `any`/`regex` one, while the `all`
    /// phrases were satisfied) lay inside an `ignore` phrase.
    MaskedByIgnore {
        /// The ignore phrases that masked, in config order.
        phrases: Vec<String>,
    },
    /// Some `all` phrase had no (unmasked) hit. The first such phrase in config order.
    MissingAll {
        phrase: String,
    },
    NoMatch,
    /// None of the carrying sources is in the topic's `sources`.
    SourceExcluded,
}

/// One hit of one phrase or regex of the explained topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// As written in the config.
    pub phrase: String,
    pub role: Role,
    pub field: Field,
    /// The normalized field text around the hit, the hit marked with « and », at most 8
    /// syllables each side, "…" where cut.
    pub context: String,
    /// For any/all/regex hits: the ignore phrase whose hit contains this one.
    pub masked_by: Option<String>,
}

/// Everything about one topic and one article: the verdict and every hit, in text order
/// (field, then position).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub topic: String,
    pub verdict: Verdict,
    pub hits: Vec<Hit>,
}

impl Explanation {
    pub fn matched(&self) -> bool {
        self.verdict == Verdict::Matched
    }
}

// ---------------------------------------------------------------------------------------------
// MatchInput

/// Fields are joined by this in the search strings. Keys never contain control characters and
/// patterns never contain it, so no hit spans two fields.
const FIELD_SEPARATOR: char = '\0';

/// Between two syllables separated by punctuation, in search strings and patterns. Each
/// syllable keeps its own spaces, so ` a ` then ` b ` with a break reads ` a \n b `.
const SEGMENT_BREAK: &str = "\n ";

/// Normalized text of an article's three fields, ready to match (tokenized, exact + folded).
/// Built once per article; independent of any `Matcher`, so it survives a config reload.
#[derive(Debug, Clone)]
pub struct MatchInput {
    /// The match key of each field, in [`Field::index`] order.
    keys: [String; 3],
    /// ` s1 s2 \n s3 ` per field, joined by [`FIELD_SEPARATOR`].
    exact: String,
    /// The same with each syllable folded (no diacritics, đ → d).
    folded: String,
    /// Every syllable of every field, in order.
    syllables: Vec<Syllable>,
    /// Which syllables belong to each field.
    field_syllables: [Range<usize>; 3],
}

/// Where one syllable is: its first byte in `exact` and in `folded` (both strictly increasing
/// over the article, so a hit's start finds its syllable by binary search), and its bytes in
/// the field's key.
#[derive(Debug, Clone, Copy)]
struct Syllable {
    exact: usize,
    folded: usize,
    start: usize,
    end: usize,
}

impl MatchInput {
    /// Plain texts, as [`text::clean`] or [`text::html_to_text`] made them (not yet match-keyed).
    pub fn from_plain(title: &str, summary: &str, content: &str) -> MatchInput {
        MatchInput::from_keys([
            text::match_key_of_clean(title),
            text::match_key_of_clean(summary),
            text::match_key_of_clean(content),
        ])
    }

    /// From stored HTML: the title is plain (cleaned), summary and content sanitized HTML.
    pub fn from_html(
        title: &str,
        summary_html: Option<&str>,
        content_html: Option<&str>,
    ) -> MatchInput {
        let summary = summary_html.map(text::html_to_text).unwrap_or_default();
        let content = content_html.map(text::html_to_text).unwrap_or_default();
        MatchInput::from_plain(title, &summary, &content)
    }

    /// The normalized exact text of a field (for display in explanations; regexes run on it).
    pub fn normalized(&self, field: Field) -> &str {
        &self.keys[field.index()]
    }

    /// Where each field's key lies in the search text ([`normalize::search_text`]: the
    /// non-empty keys joined by a space): their byte lengths, in the order of `Field::index`.
    ///
    /// [`normalize::search_text`]: crate::ingest::normalize::search_text
    pub fn search_layout(&self) -> String {
        let [title, summary, content] = self.keys.each_ref().map(String::len);
        format!("{title} {summary} {content}")
    }

    /// The input of an article rebuilt from its stored search text and
    /// [`search_layout`](Self::search_layout), without re-reading its HTML: the same keys as
    /// [`MatchInput::from_html`] gave when they were stored. None when the layout does not fit
    /// the text.
    pub fn from_search_text(search_text: &str, layout: &str) -> Option<MatchInput> {
        let keys = split_search_text(search_text, layout)?;
        Some(MatchInput::from_keys(keys.map(str::to_owned)))
    }

    /// Whether [`MatchInput::from_search_text`] can rebuild an article from this search text
    /// and layout (else its input comes from its HTML).
    /// Its UTF-8 is not checked (where a text is read whole, it is).
    pub fn fits_search_layout(search_text: &[u8], layout: &str) -> bool {
        layout_ranges(search_text, layout).is_some()
    }

    fn from_keys(keys: [String; 3]) -> MatchInput {
        let capacity: usize = keys.iter().map(|k| k.len() + 4).sum();
        let mut exact = String::with_capacity(capacity);
        let mut folded = String::with_capacity(capacity);
        let mut syllables = Vec::with_capacity(capacity / 5);
        let mut field_syllables = [0..0, 0..0, 0..0];
        for (f, key) in keys.iter().enumerate() {
            if f > 0 {
                exact.push(FIELD_SEPARATOR);
                folded.push(FIELD_SEPARATOR);
            }
            let first = syllables.len();
            exact.push(' ');
            folded.push(' ');
            for_each_syllable(key, |range, break_before| {
                if break_before {
                    exact.push_str(SEGMENT_BREAK);
                    folded.push_str(SEGMENT_BREAK);
                }
                let syllable = key.get(range.clone()).unwrap_or_default();
                syllables.push(Syllable {
                    exact: exact.len(),
                    folded: folded.len(),
                    start: range.start,
                    end: range.end,
                });
                exact.push_str(syllable);
                exact.push(' ');
                push_folded(&mut folded, syllable);
                folded.push(' ');
            });
            field_syllables[f] = first..syllables.len();
        }
        MatchInput {
            keys,
            exact,
            folded,
            syllables,
            field_syllables,
        }
    }

    fn field_of(&self, syllable: usize) -> Option<Field> {
        Field::ALL
            .into_iter()
            .find(|f| self.field_syllables[f.index()].contains(&syllable))
    }

    /// The syllables (global indices) that overlap `bytes` of `field`'s key.
    fn syllables_overlapping(&self, field: Field, bytes: &Range<usize>) -> Range<usize> {
        let range = self.field_syllables[field.index()].clone();
        let Some(own) = self.syllables.get(range.clone()) else {
            return range.start..range.start;
        };
        let first = own.partition_point(|s| s.end <= bytes.start);
        let last = own.partition_point(|s| s.start < bytes.end);
        range.start + first..range.start + last.max(first)
    }
}

/// The three keys laid out in a search text: see [`MatchInput::search_layout`].
pub(crate) fn split_search_text<'t>(search_text: &'t str, layout: &str) -> Option<[&'t str; 3]> {
    let [a, b, c] = layout_ranges(search_text.as_bytes(), layout)?;
    Some([
        search_text.get(a)?,
        search_text.get(b)?,
        search_text.get(c)?,
    ])
}

/// Where each key lies in a search text's bytes, if the layout fits it: each key (but empty
/// ones) after the one before and a space, at character boundaries, the last at the end.
fn layout_ranges(text: &[u8], layout: &str) -> Option<[Range<usize>; 3]> {
    // A UTF-8 continuation byte is never the first of a character.
    let boundary = |i: usize| i == text.len() || text.get(i).is_some_and(|&b| (b as i8) >= -0x40);
    let mut lengths = layout.split(' ').map(|n| n.parse::<usize>().ok());
    let mut keys = [0..0, 0..0, 0..0];
    let mut at = 0;
    let mut first = true;
    for key in &mut keys {
        let length = lengths.next()??;
        if length == 0 {
            continue;
        }
        if !first {
            if text.get(at) != Some(&b' ') {
                return None;
            }
            at += 1;
        }
        first = false;
        let end = at.checked_add(length)?;
        if end > text.len() || !boundary(at) || !boundary(end) {
            return None;
        }
        *key = at..end;
        at = end;
    }
    (lengths.next().is_none() && at == text.len()).then_some(keys)
}

/// Call `f(byte range, break_before)` for each syllable of a match key: a maximal run of
/// letters, digits and combining marks. `break_before` says that something other than
/// whitespace separates it from the previous syllable (never true for the first).
pub(crate) fn for_each_syllable(key: &str, mut f: impl FnMut(Range<usize>, bool)) {
    let mut start = None;
    let mut seen_syllable = false;
    let mut pending_break = false;
    for (i, c) in key.char_indices() {
        if is_syllable_char(c) {
            if start.is_none() {
                start = Some(i);
            }
            continue;
        }
        if let Some(s) = start.take() {
            f(s..i, pending_break && seen_syllable);
            seen_syllable = true;
            pending_break = false;
        }
        if !c.is_whitespace() {
            pending_break = true;
        }
    }
    if let Some(s) = start {
        f(s..key.len(), pending_break && seen_syllable);
    }
}

fn is_syllable_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric()
    } else if let Some(folded) = fold_latin(c) {
        // Every Vietnamese letter: skip the slow Unicode tables.
        folded != NOT_A_LETTER
    } else {
        c.is_alphanumeric() || is_combining_mark(c)
    }
}

/// Which characters [`fold_latin`] knows: Latin-1 Supplement letters, Latin Extended-A and -B,
/// Latin Extended Additional. Every Vietnamese letter is in there.
const LATIN: [Range<u32>; 2] = [0xC0..0x250, 0x1E00..0x1F00];

/// In the [`fold_latin`] table: × and ÷, the two non-letters of those blocks.
const NOT_A_LETTER: u8 = 0;

/// In the [`fold_latin`] table: a letter whose fold is not one ASCII letter (ø, ß, đ is not one
/// of them: it folds to d).
const NOT_ASCII: u8 = 1;

/// The fold of a letter of the [`LATIN`] blocks as one ASCII byte (or [`NOT_A_LETTER`],
/// [`NOT_ASCII`]); `None` outside them. A table built once from the general path, because
/// folding looks at every character of every article and `decompose_canonical` is a search.
fn fold_latin(c: char) -> Option<u8> {
    static TABLE: OnceLock<Vec<u8>> = OnceLock::new();
    let code = u32::from(c);
    let [a, b] = &LATIN;
    let index = if a.contains(&code) {
        code - a.start
    } else if b.contains(&code) {
        (a.end - a.start) + (code - b.start)
    } else {
        return None;
    };
    let table = TABLE.get_or_init(|| {
        LATIN
            .iter()
            .flat_map(|r| r.clone())
            .map(|code| match char::from_u32(code) {
                Some(c) if c.is_alphanumeric() => {
                    let mut folded = String::new();
                    push_folded_slow(&mut folded, c);
                    match folded.as_bytes() {
                        [byte] if byte.is_ascii_alphanumeric() => *byte,
                        _ => NOT_ASCII,
                    }
                }
                _ => NOT_A_LETTER,
            })
            .collect()
    });
    table.get(usize::try_from(index).ok()?).copied()
}

/// Push one syllable of a match key without its diacritics, đ → d: what [`text::fold`] does to
/// it (a unit test holds them equal), without re-normalizing text that is normalized already.
/// Per syllable, so the folded string keeps the exact one's syllables one for one.
pub(crate) fn push_folded(out: &mut String, syllable: &str) {
    if syllable.is_ascii() {
        out.push_str(syllable);
        return;
    }
    for c in syllable.chars() {
        if c.is_ascii() {
            out.push(c);
            continue;
        }
        match fold_latin(c) {
            Some(byte) if byte > NOT_ASCII => out.push(char::from(byte)),
            _ => push_folded_slow(out, c),
        }
    }
}

/// [`push_folded`] of one character, by the Unicode tables: [`text`]'s own folding (keys are
/// lower-case, so its `Đ` → `D` never comes up).
fn push_folded_slow(out: &mut String, c: char) {
    text::push_without_marks(out, c);
}

/// A phrase's key as a search pattern (` s1 s2 \n s3 `) and its number of syllables; `None`
/// if it has no syllable.
fn pattern_of(key: &str) -> Option<(String, usize)> {
    let mut pattern = String::with_capacity(key.len() + 2);
    pattern.push(' ');
    let mut count = 0;
    for_each_syllable(key, |range, break_before| {
        if break_before {
            pattern.push_str(SEGMENT_BREAK);
        }
        pattern.push_str(key.get(range).unwrap_or_default());
        pattern.push(' ');
        count += 1;
    });
    (count > 0).then_some((pattern, count))
}

// ---------------------------------------------------------------------------------------------
// Matcher

/// The compiled matcher: immutable, Send + Sync, cheap to share in an Arc.
#[derive(Debug)]
pub struct Matcher {
    topics: Vec<Topic>,
    /// Phrases typed with diacritics, searched in [`MatchInput::exact`].
    exact: Automaton,
    /// Accent-free phrases, searched in [`MatchInput::folded`].
    folded: Automaton,
    regexes: Regexes,
}

#[derive(Debug)]
struct Topic {
    spec: TopicSpec,
    /// By [`Field::index`].
    fields: [bool; 3],
}

impl Topic {
    fn phrase(&self, role: Role, index: usize) -> &str {
        let list = match role {
            Role::Any => &self.spec.any,
            Role::All => &self.spec.all,
            Role::None => &self.spec.none,
            Role::Ignore => &self.spec.ignore,
            Role::Regex => &self.spec.regex,
        };
        list.get(index).map_or("", String::as_str)
    }

    fn allows(&self, sources: &[SourceRef]) -> bool {
        let filters = &self.spec.sources;
        filters.is_empty()
            || sources.iter().any(|source| {
                filters.iter().any(|filter| match filter {
                    SourceFilter::Source(id) => id == source.id,
                    SourceFilter::Tag(tag) => source.tags.contains(tag),
                })
            })
    }
}

/// One use of a pattern or regex: topic index, role, index in the role's list.
#[derive(Debug, Clone, Copy)]
struct Use {
    topic: usize,
    role: Role,
    index: usize,
}

#[derive(Debug, Default)]
struct Automaton {
    search: Option<AhoCorasick>,
    /// By pattern id.
    patterns: Vec<Pattern>,
    /// Pattern text → pattern id, while compiling.
    ids: HashMap<String, usize>,
}

#[derive(Debug)]
struct Pattern {
    text: String,
    syllables: usize,
    uses: Vec<Use>,
}

#[derive(Debug, Default)]
struct Regexes {
    /// Which regexes match a field at all, to run only those; `None` when there are no
    /// regexes or the set would not compile (its size limit is global), then all are run.
    set: Option<RegexSet>,
    list: Vec<CompiledRegex>,
    /// Regex as compiled → index in `list`, while compiling.
    ids: HashMap<String, usize>,
}

#[derive(Debug)]
struct CompiledRegex {
    source: String,
    regex: Regex,
    uses: Vec<Use>,
}

/// A hit of one phrase or regex for one (topic, role, index), located in the field's key
/// (`start..end`, bytes) and in syllables (`first..last`, global indices).
#[derive(Debug, Clone, Copy)]
struct RawHit {
    topic: usize,
    role: Role,
    index: usize,
    field: Field,
    start: usize,
    end: usize,
    first: usize,
    last: usize,
}

/// [`Verdict`] without strings, for the hot path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Judgement {
    Matched,
    Vetoed {
        index: usize,
    },
    /// `all_hits`: every positive hit was masked; otherwise every `any`/`regex` one was.
    MaskedByIgnore {
        all_hits: bool,
    },
    MissingAll {
        index: usize,
    },
    NoMatch,
    SourceExcluded,
}

impl Automaton {
    fn add(&mut self, pattern: String, syllables: usize, used: Use) {
        let id = *self.ids.entry(pattern.clone()).or_insert_with(|| {
            self.patterns.push(Pattern {
                text: pattern,
                syllables,
                uses: Vec::new(),
            });
            self.patterns.len() - 1
        });
        if let Some(p) = self.patterns.get_mut(id) {
            p.uses.push(used);
        }
    }

    fn build(&mut self) -> Result<(), aho_corasick::BuildError> {
        self.ids = HashMap::new();
        if self.patterns.is_empty() {
            return Ok(());
        }
        let texts = self.patterns.iter().map(|p| p.text.as_str());
        // Standard semantics: the only kind that supports overlapping search, which we need
        // because `ignore` phrases overlap the `any` phrases they mask.
        let search = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(texts)?;
        self.search = Some(search);
        Ok(())
    }

    /// Push a hit for every use (of a topic passing `only`, in a field it looks at) of every
    /// pattern found in `haystack`, `position` telling where syllables start in it.
    fn scan(
        &self,
        topics: &[Topic],
        input: &MatchInput,
        haystack: &str,
        position: impl Fn(&Syllable) -> usize,
        only: Option<usize>,
        hits: &mut Vec<RawHit>,
    ) {
        let Some(search) = &self.search else {
            return;
        };
        // Cannot panic: the automaton was built with MatchKind::Standard.
        for m in search.find_overlapping_iter(haystack) {
            let Some(pattern) = self.patterns.get(m.pattern().as_usize()) else {
                continue;
            };
            // Patterns start with the space before their first syllable.
            let Ok(first) = input
                .syllables
                .binary_search_by_key(&(m.start() + 1), &position)
            else {
                continue;
            };
            let last = first + pattern.syllables;
            let (Some(field), Some(a), Some(b)) = (
                input.field_of(first),
                input.syllables.get(first),
                input.syllables.get(last - 1),
            ) else {
                continue;
            };
            for u in &pattern.uses {
                if only.is_some_and(|t| t != u.topic)
                    || !topics.get(u.topic).is_some_and(|t| t.fields[field.index()])
                {
                    continue;
                }
                hits.push(RawHit {
                    topic: u.topic,
                    role: u.role,
                    index: u.index,
                    field,
                    start: a.start,
                    end: b.end,
                    first,
                    last,
                });
            }
        }
    }
}

impl Regexes {
    fn add(&mut self, source: String, regex: Regex, used: Use) {
        let id = *self.ids.entry(source.clone()).or_insert_with(|| {
            self.list.push(CompiledRegex {
                source,
                regex,
                uses: Vec::new(),
            });
            self.list.len() - 1
        });
        if let Some(r) = self.list.get_mut(id) {
            r.uses.push(used);
        }
    }

    fn build(&mut self) {
        self.ids = HashMap::new();
        if self.list.is_empty() {
            return;
        }
        self.set = regex_set_builder(self.list.iter().map(|r| r.source.as_str()))
            .build()
            .ok();
    }

    fn scan(
        &self,
        topics: &[Topic],
        input: &MatchInput,
        only: Option<usize>,
        hits: &mut Vec<RawHit>,
    ) {
        if self.list.is_empty() {
            return;
        }
        let wanted = |u: &Use, field: Field| {
            only.is_none_or(|t| t == u.topic)
                && topics.get(u.topic).is_some_and(|t| t.fields[field.index()])
        };
        for field in Field::ALL {
            let text = input.normalized(field);
            let mut run = |r: &CompiledRegex| {
                if !r.uses.iter().any(|u| wanted(u, field)) {
                    return;
                }
                for m in r.regex.find_iter(text) {
                    if m.is_empty() {
                        continue;
                    }
                    let syllables = input.syllables_overlapping(field, &m.range());
                    for u in r.uses.iter().filter(|u| wanted(u, field)) {
                        hits.push(RawHit {
                            topic: u.topic,
                            role: u.role,
                            index: u.index,
                            field,
                            start: m.start(),
                            end: m.end(),
                            first: syllables.start,
                            last: syllables.end,
                        });
                    }
                }
            };
            match &self.set {
                Some(set) => set
                    .matches(text)
                    .iter()
                    .filter_map(|i| self.list.get(i))
                    .for_each(&mut run),
                None => self.list.iter().for_each(&mut run),
            }
        }
    }
}

/// Regexes run on lowercase text, so a pattern written with capitals ("Đại hội XIV") would
/// silently never match: compile case-insensitively.
fn regex_builder(source: &str) -> RegexBuilder {
    let mut builder = RegexBuilder::new(source);
    builder.case_insensitive(true);
    builder
}

fn regex_set_builder<'a>(sources: impl IntoIterator<Item = &'a str>) -> RegexSetBuilder {
    let mut builder = RegexSetBuilder::new(sources);
    builder.case_insensitive(true);
    builder
}

/// The regex crate's message on one line: its syntax errors span several (pattern, caret line,
/// `error: …`); keep the last.
fn regex_message(source: &str, error: &regex::Error) -> String {
    let full = error.to_string();
    let detail = full
        .lines()
        .rev()
        .find_map(|line| line.trim().strip_prefix("error: "))
        .map(str::to_owned)
        .unwrap_or_else(|| full.split_whitespace().collect::<Vec<_>>().join(" "));
    format!("invalid regex {source:?}: {detail}")
}

impl Matcher {
    /// Compile every topic; on failure, every problem found (not just the first).
    pub fn compile(specs: Vec<TopicSpec>) -> Result<Matcher, Vec<CompileError>> {
        let mut errors = Vec::new();
        let mut exact = Automaton::default();
        let mut folded = Automaton::default();
        let mut regexes = Regexes::default();
        let mut topics = Vec::with_capacity(specs.len());
        for (t, spec) in specs.into_iter().enumerate() {
            let error = |role, index, message| CompileError {
                topic: t,
                role,
                index,
                message,
            };
            if spec.any.is_empty() && spec.all.is_empty() && spec.regex.is_empty() {
                errors.push(error(
                    Role::Any,
                    0,
                    "topic has nothing to match: give `any`, `all` or `regex`".to_owned(),
                ));
            }
            let lists = [
                (Role::Any, &spec.any),
                (Role::All, &spec.all),
                (Role::None, &spec.none),
                (Role::Ignore, &spec.ignore),
            ];
            for (role, list) in lists {
                for (index, phrase) in list.iter().enumerate() {
                    let key = text::match_key(phrase);
                    let Some((pattern, syllables)) = pattern_of(&key) else {
                        errors.push(error(
                            role,
                            index,
                            format!("phrase {phrase:?} is empty after normalization"),
                        ));
                        continue;
                    };
                    let used = Use {
                        topic: t,
                        role,
                        index,
                    };
                    // A key without diacritics was typed without them: match it loosely.
                    if key.is_ascii() {
                        folded.add(pattern, syllables, used);
                    } else {
                        exact.add(pattern, syllables, used);
                    }
                }
            }
            for (index, written) in spec.regex.iter().enumerate() {
                if written.trim().is_empty() {
                    errors.push(error(Role::Regex, index, "regex is empty".to_owned()));
                    continue;
                }
                // The text is NFC: a pattern typed with combining marks must be too.
                let source: String = written.nfc().collect();
                match regex_builder(&source).build() {
                    Ok(regex) => regexes.add(
                        source,
                        regex,
                        Use {
                            topic: t,
                            role: Role::Regex,
                            index,
                        },
                    ),
                    Err(e) => errors.push(error(Role::Regex, index, regex_message(written, &e))),
                }
            }
            let mut fields = [spec.fields.is_empty(); 3];
            for f in &spec.fields {
                fields[f.index()] = true;
            }
            topics.push(Topic { spec, fields });
        }
        for automaton in [&mut exact, &mut folded] {
            // Only with absurd configs (billions of automaton states): not one phrase's fault.
            if let Err(e) = automaton.build() {
                errors.push(CompileError {
                    topic: 0,
                    role: Role::Any,
                    index: 0,
                    message: format!("the topics' phrases are too many to compile: {e}"),
                });
            }
        }
        regexes.build();
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Matcher {
            topics,
            exact,
            folded,
            regexes,
        })
    }

    /// No topics: matches nothing.
    pub fn empty() -> Matcher {
        Matcher {
            topics: Vec::new(),
            exact: Automaton::default(),
            folded: Automaton::default(),
            regexes: Regexes::default(),
        }
    }

    /// (id, name) of every topic, in config order.
    pub fn topics(&self) -> impl Iterator<Item = (&str, &str)> {
        self.topics
            .iter()
            .map(|t| (t.spec.id.as_str(), t.spec.name.as_str()))
    }

    pub fn len(&self) -> usize {
        self.topics.len()
    }

    pub fn is_empty(&self) -> bool {
        self.topics.is_empty()
    }

    /// The [`Screen`] of one topic, or `None` when it cannot have one: the topic has regexes
    /// (they see whole fields, anchors and all), or no topic has this id.
    pub fn screen(&self, topic: &str) -> Option<Screen> {
        let t = self.topics.iter().position(|x| x.spec.id == topic)?;
        if !self.topics.get(t)?.spec.regex.is_empty() {
            return None;
        }
        let patterns = |automaton: &'_ Automaton| -> Vec<String> {
            automaton
                .patterns
                .iter()
                .filter(|p| {
                    p.uses
                        .iter()
                        .any(|u| u.topic == t && u.role != Role::Ignore)
                })
                .map(|p| p.text.clone())
                .collect()
        };
        let exact = PhraseSet::build(patterns(&self.exact));
        let folded = PhraseSet::build(patterns(&self.folded));
        // A topic with neither `any` nor `all` phrases would match without a hit (compiling
        // refuses one, but the screen does not depend on that).
        (exact.is_some() || folded.is_some()).then_some(Screen { exact, folded })
    }

    /// The hot path: every topic the article matches, in config order.
    pub fn matches(&self, input: &MatchInput, sources: &[SourceRef]) -> Vec<TopicMatch> {
        let mut hits = Vec::new();
        self.collect(input, None, &mut hits);
        if hits.is_empty() {
            return Vec::new();
        }
        hits.sort_unstable_by_key(|h| h.topic);
        let mut found = Vec::new();
        for group in hits.chunk_by(|a, b| a.topic == b.topic) {
            let Some(topic) = group.first().map(|h| h.topic) else {
                continue;
            };
            if self.judge(topic, group, sources) == Judgement::Matched {
                if let Some(t) = self.topics.get(topic) {
                    found.push(TopicMatch {
                        topic: t.spec.id.clone(),
                        phrases: matched_phrases(t, group),
                    });
                }
            }
        }
        found
    }

    /// Everything about one topic and one article, for `bantin topics test` and `bantin match`.
    /// `None` if no topic has this id.
    pub fn explain(
        &self,
        topic: &str,
        input: &MatchInput,
        sources: &[SourceRef],
    ) -> Option<Explanation> {
        let t = self.topics.iter().position(|x| x.spec.id == topic)?;
        let compiled = self.topics.get(t)?;
        let mut hits = Vec::new();
        self.collect(input, Some(t), &mut hits);
        hits.sort_unstable_by_key(|h| (h.field.index(), h.start, h.end, h.role.rank(), h.index));
        let verdict = match self.judge(t, &hits, sources) {
            Judgement::Matched => Verdict::Matched,
            Judgement::Vetoed { index } => Verdict::Vetoed {
                phrase: compiled.phrase(Role::None, index).to_owned(),
            },
            Judgement::MaskedByIgnore { all_hits } => {
                let mut masking: Vec<usize> = hits
                    .iter()
                    .filter(|h| {
                        if all_hits {
                            h.role.is_positive()
                        } else {
                            h.role.is_any_group()
                        }
                    })
                    .filter_map(|h| masking_ignore(&hits, h).map(|g| g.index))
                    .collect();
                masking.sort_unstable();
                masking.dedup();
                Verdict::MaskedByIgnore {
                    phrases: dedup_strings(
                        masking
                            .into_iter()
                            .map(|i| compiled.phrase(Role::Ignore, i).to_owned()),
                    ),
                }
            }
            Judgement::MissingAll { index } => Verdict::MissingAll {
                phrase: compiled.phrase(Role::All, index).to_owned(),
            },
            Judgement::NoMatch => Verdict::NoMatch,
            Judgement::SourceExcluded => Verdict::SourceExcluded,
        };
        let shown = hits
            .iter()
            .map(|h| Hit {
                phrase: compiled.phrase(h.role, h.index).to_owned(),
                role: h.role,
                field: h.field,
                context: context(input, h),
                masked_by: if h.role.is_positive() {
                    masking_ignore(&hits, h)
                        .map(|g| compiled.phrase(Role::Ignore, g.index).to_owned())
                } else {
                    None
                },
            })
            .collect();
        Some(Explanation {
            topic: compiled.spec.id.clone(),
            verdict,
            hits: shown,
        })
    }

    /// Every hit of every topic (or only of topic `only`), unordered.
    fn collect(&self, input: &MatchInput, only: Option<usize>, hits: &mut Vec<RawHit>) {
        self.exact
            .scan(&self.topics, input, &input.exact, |s| s.exact, only, hits);
        self.folded
            .scan(&self.topics, input, &input.folded, |s| s.folded, only, hits);
        self.regexes.scan(&self.topics, input, only, hits);
    }

    /// The verdict for topic `t`, given all its hits (in any order). The one place that decides,
    /// for both `matches` and `explain`.
    fn judge(&self, t: usize, hits: &[RawHit], sources: &[SourceRef]) -> Judgement {
        let Some(topic) = self.topics.get(t) else {
            return Judgement::NoMatch;
        };
        if !topic.allows(sources) {
            return Judgement::SourceExcluded;
        }
        if let Some(index) = hits
            .iter()
            .filter(|h| h.role == Role::None)
            .map(|h| h.index)
            .min()
        {
            return Judgement::Vetoed { index };
        }
        let counts = |h: &&RawHit| masking_ignore(hits, h).is_none();
        let any_group_empty = topic.spec.any.is_empty() && topic.spec.regex.is_empty();
        let any_ok = any_group_empty
            || hits
                .iter()
                .filter(|h| h.role.is_any_group())
                .any(|h| counts(&h));
        let missing_all = (0..topic.spec.all.len()).find(|&i| {
            !hits
                .iter()
                .filter(|h| h.role == Role::All && h.index == i)
                .any(|h| counts(&h))
        });
        if any_ok && missing_all.is_none() {
            return Judgement::Matched;
        }
        let mut positive = hits.iter().filter(|h| h.role.is_positive()).peekable();
        if positive.peek().is_some() && positive.all(|h| !counts(&h)) {
            return Judgement::MaskedByIgnore { all_hits: true };
        }
        if let Some(index) = missing_all {
            return Judgement::MissingAll { index };
        }
        // `any_ok` is false here: any hit of the group was masked.
        if hits.iter().any(|h| h.role.is_any_group()) {
            return Judgement::MaskedByIgnore { all_hits: false };
        }
        Judgement::NoMatch
    }
}

/// A look at an article's search text (its match keys joined: [`MatchInput::search_layout`])
/// that tells whether one topic can have a hit other than an `ignore` phrase in it, without
/// building the article's [`MatchInput`]: `bantin topics test` explains only the articles it
/// lets through (and those stored as matching), and reports the same.
///
/// It never drops a hit. Where a phrase hits, each run of its syllables that nothing but
/// whitespace separates is in the keys: verbatim (phrases with diacritics, searched in the
/// input's exact string, which copies the keys' syllables) or folded (accent-free phrases:
/// folding goes character by character, so the fold of a run is a part of the fold of the
/// whole text), once each run of whitespace is one space. A test and the `topics` fuzz
/// target hold it to that.
#[derive(Debug)]
pub struct Screen {
    exact: Option<PhraseSet>,
    folded: Option<PhraseSet>,
}

impl Screen {
    /// False only if the topic has no hit but `ignore` ones in an article with this search
    /// text. Its bytes are first searched for the syllables of phrases with diacritics as they
    /// are (most articles lack one of every phrase's); only then, or for accent-free phrases,
    /// is the text checked as UTF-8 (an invalid one is let through, to fail where it is read
    /// whole), its spaces made single, and folded.
    pub fn may_hit(&self, search_text: &[u8]) -> bool {
        let exact = self
            .exact
            .as_ref()
            .filter(|set| set.any_phrase_has_syllables_in(search_text));
        if exact.is_none() && self.folded.is_none() {
            return false;
        }
        let Ok(text) = simdutf8::basic::from_utf8(search_text) else {
            return true;
        };
        if exact.is_some_and(|set| set.any_phrase_in(&screen_text(text, Screening::AsItIs))) {
            return true;
        }
        self.folded.as_ref().is_some_and(|set| {
            let folded = screen_text(text, Screening::Folded);
            set.any_phrase_has_syllables_in(&folded) && set.any_phrase_in(&folded)
        })
    }
}

/// What [`screen_text`] does to the characters that are not whitespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Screening {
    AsItIs,
    /// As [`push_folded`] does (ASCII stays as it is).
    Folded,
}

/// `text` with every run of whitespace one space (as [`char::is_whitespace`] says), the other
/// characters kept or folded. It looks at every byte of a month of articles: ASCII, most of
/// them, is copied byte by byte, and only the others are decoded.
fn screen_text(text: &str, screening: Screening) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut space = false;
    let mut at = 0;
    while let Some(&b) = bytes.get(at) {
        if b.is_ascii() {
            // ' ', and \t \n \x0B \x0C \r: the ASCII whitespace of `char::is_whitespace`.
            if b == b' ' || (0x09..=0x0D).contains(&b) {
                if !space {
                    out.push(b' ');
                }
                space = true;
            } else {
                out.push(b);
                space = false;
            }
            at += 1;
            continue;
        }
        // `at` is a character boundary: it only ever moves by whole characters.
        let Some(c) = text.get(at..).and_then(|rest| rest.chars().next()) else {
            break;
        };
        at += c.len_utf8();
        if c.is_whitespace() {
            if !space {
                out.push(b' ');
            }
            space = true;
            continue;
        }
        space = false;
        let mut buf = [0; 4];
        match (screening, fold_latin(c)) {
            (Screening::Folded, Some(byte)) if byte > NOT_ASCII => out.push(byte),
            (Screening::Folded, _) => {
                let mut folded = String::new();
                push_folded_slow(&mut folded, c);
                out.extend_from_slice(folded.as_bytes());
            }
            (Screening::AsItIs, _) => out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes()),
        }
    }
    out
}

/// Phrases as the runs of syllables that make them up, each searched on its own (SIMD
/// substring search) at most once per text, single syllables first and the longest first:
/// most texts lack one of a phrase's syllables, and a long syllable with diacritics is rare.
#[derive(Debug)]
struct PhraseSet {
    finders: Vec<Finder<'static>>,
    phrases: Vec<Phrase>,
}

/// As indices into [`PhraseSet::finders`].
#[derive(Debug)]
struct Phrase {
    syllables: Vec<usize>,
    /// Runs of two syllables or more, their syllables joined by a space.
    runs: Vec<usize>,
}

impl PhraseSet {
    /// From patterns (` s1 s2 \n s3 `: [`pattern_of`]); `None` without any.
    fn build(patterns: Vec<String>) -> Option<PhraseSet> {
        let mut ids: HashMap<String, usize> = HashMap::new();
        let mut finders = Vec::new();
        let mut id = |s: String| {
            *ids.entry(s).or_insert_with_key(|s| {
                finders.push(Finder::new(s.as_bytes()).into_owned());
                finders.len() - 1
            })
        };
        let phrases: Vec<Phrase> = patterns
            .iter()
            .map(|pattern| {
                let mut syllables: Vec<&str> = pattern.split_whitespace().collect();
                syllables.sort_by_key(|s| std::cmp::Reverse(s.len()));
                let runs = pattern
                    .split(SEGMENT_BREAK)
                    .map(|run| run.split_whitespace().collect::<Vec<_>>())
                    .filter(|run| run.len() > 1)
                    .map(|run| id(run.join(" ")))
                    .collect();
                Phrase {
                    syllables: syllables.into_iter().map(|s| id(s.to_owned())).collect(),
                    runs,
                }
            })
            .collect();
        (!phrases.is_empty()).then_some(PhraseSet { finders, phrases })
    }

    fn found(&self, finder: usize, text: &[u8]) -> bool {
        self.finders
            .get(finder)
            .is_some_and(|f| f.find(text).is_some())
    }

    /// Whether every syllable of some phrase is somewhere in `text`.
    fn any_phrase_has_syllables_in(&self, text: &[u8]) -> bool {
        let mut known: Vec<Option<bool>> = vec![None; self.finders.len()];
        self.phrases.iter().any(|p| {
            p.syllables.iter().all(|&f| match known.get_mut(f) {
                Some(k) => *k.get_or_insert_with(|| self.found(f, text)),
                None => false,
            })
        })
    }

    /// Whether some phrase has all its syllables and runs in `text` (spaces made single).
    fn any_phrase_in(&self, text: &[u8]) -> bool {
        let mut known: Vec<Option<bool>> = vec![None; self.finders.len()];
        self.phrases.iter().any(|p| {
            p.syllables
                .iter()
                .chain(&p.runs)
                .all(|&f| match known.get_mut(f) {
                    Some(k) => *k.get_or_insert_with(|| self.found(f, text)),
                    None => false,
                })
        })
    }
}

/// The `ignore` hit (of the same topic, among `hits`) that contains `hit`, if any.
fn masking_ignore<'h>(hits: &'h [RawHit], hit: &RawHit) -> Option<&'h RawHit> {
    hits.iter().find(|g| {
        g.role == Role::Ignore && g.field == hit.field && g.start <= hit.start && hit.end <= g.end
    })
}

/// The phrases behind the unmasked positive hits of one topic, in config order, deduplicated.
fn matched_phrases(topic: &Topic, hits: &[RawHit]) -> Vec<String> {
    let mut which: Vec<(Role, usize)> = hits
        .iter()
        .filter(|h| h.role.is_positive() && masking_ignore(hits, h).is_none())
        .map(|h| (h.role, h.index))
        .collect();
    which.sort_unstable_by_key(|&(role, index)| (role.rank(), index));
    which.dedup();
    dedup_strings(
        which
            .into_iter()
            .map(|(role, index)| topic.phrase(role, index).to_owned()),
    )
}

/// Keep the first of equal strings, in order ("Dân vận" and "dân vận" both stay: as written).
fn dedup_strings(strings: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in strings {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// How many syllables of context each side of a hit.
const CONTEXT_SYLLABLES: usize = 8;

/// "…làm tốt «công tác dân vận» trong…": the hit in its field's normalized text.
fn context(input: &MatchInput, hit: &RawHit) -> String {
    let text = input.normalized(hit.field);
    let field = &input.field_syllables[hit.field.index()];
    let lo = hit.first.saturating_sub(CONTEXT_SYLLABLES).max(field.start);
    let hi = (hit.last + CONTEXT_SYLLABLES).min(field.end);
    let cut_before = lo > field.start;
    let cut_after = hi < field.end;
    let from = match input.syllables.get(lo) {
        Some(s) if cut_before => s.start.min(hit.start),
        _ => 0,
    };
    let to = match hi.checked_sub(1).and_then(|i| input.syllables.get(i)) {
        Some(s) if cut_after => s.end.max(hit.end),
        _ => text.len(),
    };
    let piece = |r: Range<usize>| text.get(r).unwrap_or("");
    format!(
        "{}{}«{}»{}{}",
        if cut_before { "…" } else { "" },
        piece(from..hit.start),
        piece(hit.start..hit.end),
        piece(hit.end..to),
        if cut_after { "…" } else { "" },
    )
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    /// The input rebuilt from a stored search text and its layout is the one the HTML gives,
    /// whichever fields are empty; a layout that does not fit the text gives none.
    #[test]
    fn the_stored_search_text_rebuilds_the_input_of_the_html() {
        let summaries = [None, Some(""), Some("<p>Công tác <b>dân vận</b> khéo.</p>")];
        let contents = [None, Some("<p>Đổi mới, sáng tạo.</p><p>Xe buýt 2026.</p>")];
        for title in ["", "Tăng cường công tác DÂN VẬN"] {
            for summary in summaries {
                for content in contents {
                    let html = MatchInput::from_html(title, summary, content);
                    let text = crate::ingest::normalize::search_text(&html);
                    let stored = MatchInput::from_search_text(&text, &html.search_layout())
                        .unwrap_or_else(|| panic!("{title:?} {summary:?} {content:?}"));
                    assert_eq!(stored.keys, html.keys);
                    assert_eq!(stored.exact, html.exact);
                    assert_eq!(stored.folded, html.folded);
                    assert_eq!(stored.field_syllables, html.field_syllables);
                }
            }
        }
        let text = "tang cuong cong tac";
        for layout in [
            "", "4 14", "4 14 0 0", "5 13 0", "4 15 0", "x 14 0", "3 15 0",
        ] {
            assert!(
                MatchInput::from_search_text(text, layout).is_none(),
                "{layout:?}"
            );
            assert!(!MatchInput::fits_search_layout(text.as_bytes(), layout));
        }
        assert!(MatchInput::from_search_text(text, "4 14 0").is_some());
        assert!(MatchInput::fits_search_layout(text.as_bytes(), "4 14 0"));
        for (text, layout) in [
            ("ô", "1 0 0"),
            ("ô", "2 0 0"),
            ("ô ô", "2 0 2"),
            ("ô ô", "1 0 3"),
        ] {
            assert_eq!(
                MatchInput::from_search_text(text, layout).is_some(),
                MatchInput::fits_search_layout(text.as_bytes(), layout),
                "{text:?} {layout:?}"
            );
        }
    }

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn topic(id: &str, any: &[&str]) -> TopicSpec {
        TopicSpec {
            id: id.to_owned(),
            name: id.to_owned(),
            any: strings(any),
            ..TopicSpec::default()
        }
    }

    /// Shaped like the shipped "dân vận" topic.
    fn dan_van() -> TopicSpec {
        TopicSpec {
            name: "Dân vận".to_owned(),
            ignore: strings(&[
                "nhân dân vận dụng",
                "người dân vận chuyển",
                "nông dân vận hành",
                "dân vận hành",
            ]),
            none: strings(&["bóng đá"]),
            ..topic(
                "dan-van",
                &[
                    "dân vận",
                    "công tác dân vận",
                    "Ban Dân vận",
                    "dân chủ ở cơ sở",
                ],
            )
        }
    }

    fn compile(specs: Vec<TopicSpec>) -> Matcher {
        match Matcher::compile(specs) {
            Ok(m) => m,
            Err(e) => panic!("compile: {e:?}"),
        }
    }

    /// Text as ingest stores it (cleaned), in the content field.
    fn content(text: &str) -> MatchInput {
        MatchInput::from_plain("", "", &text::clean(text))
    }

    fn nfd(s: &str) -> String {
        s.nfd().collect()
    }

    const NO_TAGS: &[String] = &[];
    const ANY_SOURCE: &[SourceRef] = &[SourceRef {
        id: "nhandan",
        tags: NO_TAGS,
    }];

    /// The ids `matches` returns, after checking that `explain` agrees on every topic.
    fn matched_ids(m: &Matcher, input: &MatchInput, sources: &[SourceRef]) -> Vec<String> {
        let ids: Vec<String> = m
            .matches(input, sources)
            .into_iter()
            .map(|t| t.topic)
            .collect();
        for (id, _) in m.topics() {
            let explained = m.explain(id, input, sources).map(|e| e.matched());
            assert_eq!(
                explained,
                Some(ids.iter().any(|i| i == id)),
                "explain and matches disagree on {id} for {:?}",
                input.normalized(Field::Content)
            );
        }
        ids
    }

    /// Table check: each text (in the content field) matches exactly the listed topics.
    fn check(m: &Matcher, cases: &[(&str, &[&str])]) {
        for (text, expected) in cases {
            let got = matched_ids(m, &content(text), ANY_SOURCE);
            assert_eq!(got, strings(expected), "text: {text:?}");
        }
    }

    #[test]
    fn dan_van_true_and_false_cases() {
        let m = compile(vec![dan_van()]);
        let yes: &[&str] = &["dan-van"];
        let no: &[&str] = &[];
        check(
            &m,
            &[
                // §3: accent-insensitive search got these wrong.
                ("Người dân vẫn chờ", no),
                ("dân văn phòng", no),
                ("Dân vân", no),
                // Words spanning the syllables.
                ("nhân dân vận dụng sáng tạo", no),
                ("Nông dân vận hành máy", no),
                ("người dân vận chuyển hàng hóa", no),
                ("dân vận hành", no),
                // Syllable boundary and punctuation.
                ("dân vậnh", no),
                ("ádân vận", no),
                ("nhân dân. Vận động", no),
                ("dân, vận", no),
                ("dân-vận", no),
                // Veto.
                ("Công tác dân vận trong bóng đá", no),
                ("Tăng cường công tác dân vận", yes),
                ("Ban Dân vận Tỉnh ủy", yes),
                ("Dân vận khéo.", yes),
                ("(dân vận)", yes),
                ("CÔNG TÁC DÂN VẬN", yes),
                ("Thực hiện dân chủ ở cơ sở", yes),
                // A masked hit plus a real one.
                (
                    "Nhân dân vận dụng sáng tạo các chủ trương và làm tốt công tác dân vận",
                    yes,
                ),
                ("nhân dân vận dụng; dân vận", yes),
                // Decomposed text (Nhân Dân) against precomposed phrases.
                (&nfd("Tăng cường công tác dân vận"), yes),
                ("Tăng cường công tác d\u{e2}n v\u{e2}\u{323}n", yes),
                ("Tăng cường công tác d\u{e2}n va\u{323}\u{302}n", yes),
                // Invisible characters.
                ("công tác dân\u{200b} vận", yes),
                ("dân\u{a0}vận", yes),
            ],
        );
    }

    #[test]
    fn html_input_matches_after_tags_and_entities() {
        let m = compile(vec![dan_van()]);
        for html in [
            "<p><b>dân</b> vận</p>",
            "d&acirc;n v&#7853;n",
            "<p>nhân dân</p><p>vận động</p><p>công tác <i>dân vận</i></p>",
        ] {
            let input = MatchInput::from_html("", Some(html), None);
            assert_eq!(matched_ids(&m, &input, ANY_SOURCE), ["dan-van"], "{html}");
            let input = MatchInput::from_html("", None, Some(html));
            assert_eq!(matched_ids(&m, &input, ANY_SOURCE), ["dan-van"], "{html}");
        }
        // A block boundary is a word boundary, not punctuation: "nhân dân vận" across <p>s is
        // still ordinary text.
        let input = MatchInput::from_html("", Some("<p>nhân dân</p><p>vận động</p>"), None);
        assert_eq!(input.normalized(Field::Summary), "nhân dân vận động");
        assert_eq!(matched_ids(&m, &input, ANY_SOURCE), ["dan-van"]);
    }

    #[test]
    fn normalization_applies_to_phrases_and_text_alike() {
        let m = compile(vec![
            topic("old-style", &["Uỷ ban nhân dân"]),
            topic("new-style", &["ủy ban nhân dân"]),
            topic("dang-uy", &["Đảng ủy"]),
            topic("nfd-phrase", &[&nfd("hòa giải")]),
            topic("impostor-phrase", &["Ðảng viên"]),
        ]);
        let both: &[&str] = &["old-style", "new-style"];
        check(
            &m,
            &[
                ("Uỷ ban nhân dân tỉnh", both),
                ("ủy ban nhân dân tỉnh", both),
                ("UỶ BAN NHÂN DÂN", both),
                ("ỦY BAN NHÂN DÂN", both),
                ("Ðảng ủy xã", &["dang-uy"]),
                ("\u{189}ảng uỷ xã", &["dang-uy"]),
                ("ĐẢNG ỦY", &["dang-uy"]),
                ("hoà giải", &["nfd-phrase"]),
                ("HÒA GIẢI", &["nfd-phrase"]),
                ("đảng viên", &["impostor-phrase"]),
                ("Đảng viên", &["impostor-phrase"]),
                ("dang uy", &[]),
            ],
        );
    }

    #[test]
    fn accent_free_phrases_match_loosely() {
        let m = compile(vec![
            topic("loose", &["dang uy"]),
            topic("exact", &["đảng ủy"]),
            topic("loose-dan-van", &["dan van"]),
        ]);
        check(
            &m,
            &[
                ("Đảng ủy", &["loose", "exact"]),
                ("ĐẢNG ỦY", &["loose", "exact"]),
                ("Ðảng uỷ", &["loose", "exact"]),
                ("dang uy", &["loose"]),
                ("DANG UY", &["loose"]),
                // The price of folding, as §3 measured it.
                ("người dân vẫn chờ", &["loose-dan-van"]),
                ("dân văn phòng", &["loose-dan-van"]),
                // Boundaries hold in folded text too.
                ("dang uyen", &[]),
                ("dang. uy", &[]),
            ],
        );
    }

    /// A topic's screen never turns away an article with a hit of one of its phrases other
    /// than an `ignore` one (what `bantin topics test` reports), and turns away others.
    #[test]
    fn the_screen_lets_through_every_article_with_a_hit() {
        let m = compile(vec![
            dan_van(),
            topic(
                "loose",
                &["dan van", "cong tac", "dang uy", "phat trien, ben vung"],
            ),
            topic("common", &["phát triển bền vững"]),
            TopicSpec {
                all: strings(&["tỉnh ủy", "Hà Nội, Việt Nam"]),
                none: strings(&["bóng đá"]),
                ..topic("all-only", &[])
            },
            TopicSpec {
                regex: strings(&[r"\bdân\b"]),
                ..topic("regex", &["dân vận"])
            },
        ]);
        assert!(m.screen("regex").is_none(), "regexes see whole fields");
        assert!(m.screen("nope").is_none());
        let fixture = include_str!("../tests/feeds/rss_vietnamese_shapes.xml");
        let mut texts: Vec<String> = [
            "",
            "Công tác dân vận khéo",
            "CÔNG TÁC DÂN VẬN",
            "nhân dân vận dụng sáng tạo",
            "dân, vận",
            "Dân-vận.",
            "đảng ủy xã",
            "Đảng Ủy",
            "dang uy",
            "dẫn vấn",
            "Hà Nội, Việt Nam",
            "Hà Nội Việt Nam",
            "tỉnh ủy Hà Nội; Việt Nam",
            "bóng đá",
            "bong da",
            "Ban Dân vận Trung ương",
            "người dân vận chuyển hàng",
            "nhân dân",
            "vận tải",
            "phát  triển\nbền\u{a0}vững",
            "phat trien ben vung",
            "phát triển. Bền vững",
            "dân\tvận",
            "dân \u{301} vận",
            "ban\u{2003}dân vận",
            "dân vậnkhéo",
        ]
        .iter()
        .flat_map(|t| [t.to_string(), nfd(t)])
        .collect();
        texts.extend(fixture.split("<item>").map(text::html_to_text));
        let (mut through, mut away) = (0, 0);
        for (i, t) in texts.iter().flat_map(|t| (0..4).map(move |i| (i, t))) {
            let title = text::clean(t);
            let input = match i {
                0 => MatchInput::from_plain(&title, "", ""),
                1 => MatchInput::from_plain("", &title, ""),
                2 => MatchInput::from_plain("Tin tức", "", &title),
                // Not cleaned: spaces of every kind, several in a row.
                _ => MatchInput::from_plain(t, "x", t),
            };
            let search = crate::ingest::normalize::search_text(&input);
            for id in ["dan-van", "loose", "all-only", "common"] {
                let Some(screen) = m.screen(id) else {
                    panic!("{id} has a screen");
                };
                let Some(e) = m.explain(id, &input, ANY_SOURCE) else {
                    panic!("{id} explained");
                };
                if screen.may_hit(search.as_bytes()) {
                    through += 1;
                } else {
                    away += 1;
                    assert!(
                        e.hits.iter().all(|h| h.role == Role::Ignore),
                        "{id} screened {t:?} away: {e:?}"
                    );
                }
            }
        }
        assert!(through > 10 && away > 10, "{through} through, {away} away");
    }

    #[test]
    fn folded_syllables_agree_with_text_fold() {
        let all = "àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ";
        let words = [
            "đảng", "ủy", "vận", "nội", "thông", "điệp", "hòa", "nguyễn", "khuỷu", "gì",
            "x\u{305}", "한국", "ß", "2026",
        ];
        // Every letter of the table's blocks, as a match key has it (lowercase).
        let latin = LATIN
            .iter()
            .flat_map(|r| r.clone())
            .filter_map(char::from_u32)
            .filter(|c| c.is_alphanumeric())
            .map(|c| c.to_lowercase().collect::<String>());
        for c in LATIN
            .iter()
            .flat_map(|r| r.clone())
            .filter_map(char::from_u32)
        {
            assert_eq!(
                is_syllable_char(c),
                c.is_alphanumeric() || is_combining_mark(c),
                "{c:?}"
            );
        }
        let cases = all.chars().map(String::from).chain(words.map(String::from));
        for s in cases.chain(latin) {
            let mut folded = String::new();
            push_folded(&mut folded, &text::match_key(&s));
            assert_eq!(folded, text::fold(&s), "{s:?}");
        }
    }

    #[test]
    fn all_requires_each_phrase() {
        let m = compile(vec![
            TopicSpec {
                all: strings(&["tỉnh ủy", "dân vận"]),
                ignore: strings(&["nhân dân vận dụng"]),
                ..topic("meeting", &["hội nghị", "hội thảo"])
            },
            TopicSpec {
                all: strings(&["biên giới", "hải đảo"]),
                ..topic("only-all", &[])
            },
        ]);
        check(
            &m,
            &[
                ("Hội nghị Tỉnh ủy về công tác dân vận", &["meeting"]),
                ("Hội thảo: dân vận và tỉnh ủy", &["meeting"]),
                ("Hội nghị Tỉnh ủy", &[]),
                ("Tỉnh ủy, dân vận", &[]),
                ("Hội nghị tỉnh ủy: nhân dân vận dụng", &[]),
                ("biên giới, hải đảo", &["only-all"]),
                ("biên giới", &[]),
            ],
        );
        let explain = |text: &str| {
            m.explain("meeting", &content(text), ANY_SOURCE)
                .map(|e| e.verdict)
        };
        assert_eq!(
            explain("Hội nghị Tỉnh ủy"),
            Some(Verdict::MissingAll {
                phrase: "dân vận".to_owned()
            })
        );
        assert_eq!(explain("Tỉnh ủy, dân vận"), Some(Verdict::NoMatch));
        assert_eq!(
            explain("Hội nghị tỉnh ủy: nhân dân vận dụng"),
            Some(Verdict::MissingAll {
                phrase: "dân vận".to_owned()
            })
        );
    }

    #[test]
    fn fields_restrict_every_role() {
        let m = compile(vec![
            TopicSpec {
                fields: vec![Field::Title],
                ..topic("title-only", &["dân vận"])
            },
            TopicSpec {
                fields: vec![Field::Title, Field::Summary],
                none: strings(&["bóng đá"]),
                ..topic("no-content", &["dân vận"])
            },
        ]);
        let input = |t: &str, s: &str, c: &str| MatchInput::from_plain(t, s, c);
        let cases: &[(MatchInput, &[&str])] = &[
            (input("", "", "công tác dân vận"), &[]),
            (
                input("Công tác dân vận", "", ""),
                &["title-only", "no-content"],
            ),
            (input("", "Dân vận khéo", ""), &["no-content"]),
            // A veto in a field the topic does not read does not count.
            (
                input("Dân vận", "", "bóng đá"),
                &["title-only", "no-content"],
            ),
            (input("Dân vận", "bóng đá", ""), &["title-only"]),
            // No phrase spans two fields.
            (input("công tác dân", "vận", ""), &[]),
        ];
        for (input, expected) in cases {
            assert_eq!(
                matched_ids(&m, input, ANY_SOURCE),
                strings(expected),
                "{:?}",
                input.keys
            );
        }
    }

    #[test]
    fn sources_filter_by_id_and_tag() {
        let m = compile(vec![
            TopicSpec {
                sources: vec![SourceFilter::Source("nhandan".to_owned())],
                ..topic("by-id", &["dân vận"])
            },
            TopicSpec {
                sources: vec![
                    SourceFilter::Tag("dang".to_owned()),
                    SourceFilter::Source("qdnd".to_owned()),
                ],
                ..topic("by-tag", &["dân vận"])
            },
            topic("everywhere", &["dân vận"]),
        ]);
        let dang = strings(&["dang", "trung-uong"]);
        let other = strings(&["tinh"]);
        let input = content("công tác dân vận");
        let cases: &[(&[SourceRef], &[&str])] = &[
            (
                &[SourceRef {
                    id: "nhandan",
                    tags: &other,
                }],
                &["by-id", "everywhere"],
            ),
            (
                &[SourceRef {
                    id: "dangcongsan",
                    tags: &dang,
                }],
                &["by-tag", "everywhere"],
            ),
            (
                &[SourceRef {
                    id: "qdnd",
                    tags: NO_TAGS,
                }],
                &["by-tag", "everywhere"],
            ),
            (
                &[SourceRef {
                    id: "vtv",
                    tags: &other,
                }],
                &["everywhere"],
            ),
            // Carried by several sources: one allowed one is enough.
            (
                &[
                    SourceRef {
                        id: "vtv",
                        tags: &other,
                    },
                    SourceRef {
                        id: "nhandan",
                        tags: NO_TAGS,
                    },
                ],
                &["by-id", "everywhere"],
            ),
            // No known carrier: only unfiltered topics.
            (&[], &["everywhere"]),
        ];
        for (sources, expected) in cases {
            assert_eq!(
                matched_ids(&m, &input, sources),
                strings(expected),
                "{sources:?}"
            );
        }
        let vtv = [SourceRef {
            id: "vtv",
            tags: &other,
        }];
        let explained = m.explain("by-id", &input, &vtv);
        assert_eq!(explained.map(|e| e.verdict), Some(Verdict::SourceExcluded));
    }

    #[test]
    fn regex_hits_count_like_any_and_can_be_masked() {
        let m = compile(vec![
            TopicSpec {
                regex: strings(&[r"đại hội (xiii|xiv)\b", r"Nghị quyết số \d+"]),
                ..topic("congress", &[])
            },
            TopicSpec {
                regex: strings(&[r"\bdân vận\b"]),
                ignore: strings(&["nhân dân vận dụng"]),
                ..topic("regex-masked", &[])
            },
            TopicSpec {
                regex: strings(&["tp\\.hcm"]),
                ..topic("with-any", &["thành phố hồ chí minh"])
            },
        ]);
        check(
            &m,
            &[
                ("Đại hội XIV của Đảng", &["congress"]),
                ("ĐẠI HỘI XIII", &["congress"]),
                ("Đại hội XIIIa", &[]),
                ("Thực hiện Nghị quyết số 18-NQ/TW", &["congress"]),
                ("nhân dân vận dụng", &[]),
                ("nhân dân vận dụng; công tác dân vận", &["regex-masked"]),
                ("Tại TP.HCM hôm nay", &["with-any"]),
                ("Thành phố Hồ Chí Minh", &["with-any"]),
                ("TP HCM", &[]),
            ],
        );
        let explained = m.explain("regex-masked", &content("Nhân dân vận dụng"), ANY_SOURCE);
        assert_eq!(
            explained.map(|e| (e.verdict, e.hits)),
            Some((
                Verdict::MaskedByIgnore {
                    phrases: strings(&["nhân dân vận dụng"])
                },
                vec![
                    Hit {
                        phrase: "nhân dân vận dụng".to_owned(),
                        role: Role::Ignore,
                        field: Field::Content,
                        context: "«nhân dân vận dụng»".to_owned(),
                        masked_by: None,
                    },
                    Hit {
                        phrase: r"\bdân vận\b".to_owned(),
                        role: Role::Regex,
                        field: Field::Content,
                        context: "nhân «dân vận» dụng".to_owned(),
                        masked_by: Some("nhân dân vận dụng".to_owned()),
                    },
                ]
            ))
        );
        let found = m.matches(&content("Đại hội XIV, Nghị quyết số 57"), ANY_SOURCE);
        assert_eq!(
            found,
            [TopicMatch {
                topic: "congress".to_owned(),
                phrases: strings(&[r"đại hội (xiii|xiv)\b", r"Nghị quyết số \d+"]),
            }]
        );
    }

    #[test]
    fn identical_phrases_are_shared_across_topics() {
        let m = compile(vec![
            topic("a", &["dân vận", "mặt trận"]),
            TopicSpec {
                none: strings(&["mặt trận"]),
                ..topic("b", &["Dân vận"])
            },
            topic("c", &["dan van"]),
        ]);
        assert_eq!(m.exact.patterns.len(), 2);
        assert_eq!(m.folded.patterns.len(), 1);
        check(
            &m,
            &[
                ("công tác dân vận", &["a", "b", "c"]),
                ("dân vận và mặt trận", &["a", "c"]),
            ],
        );
        let found = m.matches(&content("dân vận"), ANY_SOURCE);
        assert_eq!(
            found
                .into_iter()
                .map(|t| (t.topic, t.phrases))
                .collect::<Vec<_>>(),
            [
                ("a".to_owned(), strings(&["dân vận"])),
                ("b".to_owned(), strings(&["Dân vận"])),
                ("c".to_owned(), strings(&["dan van"])),
            ]
        );
    }

    #[test]
    fn matched_phrases_are_deduplicated_in_config_order() {
        let m = compile(vec![TopicSpec {
            all: strings(&["tỉnh ủy"]),
            ..topic("t", &["công tác dân vận", "dân vận", "dân vận", "Dân vận"])
        }]);
        let found = m.matches(
            &content("Dân vận, tỉnh ủy, công tác dân vận, dân vận"),
            ANY_SOURCE,
        );
        assert_eq!(
            found,
            [TopicMatch {
                topic: "t".to_owned(),
                phrases: strings(&["công tác dân vận", "dân vận", "Dân vận", "tỉnh ủy"]),
            }]
        );
    }

    #[test]
    fn explanation_shows_verdicts_and_context() {
        let m = compile(vec![dan_van()]);
        let text = "Hội nghị đã nhấn mạnh: nhân dân vận dụng sáng tạo các chủ trương của Đảng, \
                    và các cấp phải làm tốt công tác dân vận trong tình hình mới hiện nay.";
        let explained = m.explain("dan-van", &content(text), ANY_SOURCE);
        let hit = |phrase: &str, role, context: &str, masked_by: Option<&str>| Hit {
            phrase: phrase.to_owned(),
            role,
            field: Field::Content,
            context: context.to_owned(),
            masked_by: masked_by.map(str::to_owned),
        };
        assert_eq!(
            explained,
            Some(Explanation {
                topic: "dan-van".to_owned(),
                verdict: Verdict::Matched,
                hits: vec![
                    hit(
                        "nhân dân vận dụng",
                        Role::Ignore,
                        "hội nghị đã nhấn mạnh: «nhân dân vận dụng» sáng tạo các chủ trương của \
                         đảng, và…",
                        None
                    ),
                    hit(
                        "dân vận",
                        Role::Any,
                        "hội nghị đã nhấn mạnh: nhân «dân vận» dụng sáng tạo các chủ trương của \
                         đảng…",
                        Some("nhân dân vận dụng")
                    ),
                    hit(
                        "công tác dân vận",
                        Role::Any,
                        "…của đảng, và các cấp phải làm tốt «công tác dân vận» trong tình hình \
                         mới hiện nay.",
                        None
                    ),
                    hit(
                        "dân vận",
                        Role::Any,
                        "…và các cấp phải làm tốt công tác «dân vận» trong tình hình mới hiện nay.",
                        None
                    ),
                ],
            })
        );

        let verdict = |text: &str| {
            m.explain("dan-van", &content(text), ANY_SOURCE)
                .map(|e| e.verdict)
        };
        assert_eq!(
            verdict("Công tác dân vận và bóng đá"),
            Some(Verdict::Vetoed {
                phrase: "bóng đá".to_owned()
            })
        );
        assert_eq!(
            verdict("Nhân dân vận dụng, nông dân vận hành"),
            Some(Verdict::MaskedByIgnore {
                phrases: strings(&["nhân dân vận dụng", "nông dân vận hành"])
            })
        );
        assert_eq!(verdict("Người dân vẫn chờ"), Some(Verdict::NoMatch));
        assert_eq!(verdict(""), Some(Verdict::NoMatch));
        assert_eq!(m.explain("no-such-topic", &content("x"), ANY_SOURCE), None);
    }

    #[test]
    fn context_is_cut_at_eight_syllables() {
        let m = compile(vec![topic("t", &["dân vận"])]);
        let input = MatchInput::from_plain(
            "một hai ba bốn năm sáu bảy tám chín dân vận một hai ba bốn năm sáu bảy tám chín",
            "",
            "",
        );
        let hits = m
            .explain("t", &input, ANY_SOURCE)
            .map(|e| e.hits)
            .unwrap_or_default();
        let contexts: Vec<(Field, String)> =
            hits.into_iter().map(|h| (h.field, h.context)).collect();
        assert_eq!(
            contexts,
            [(
                Field::Title,
                "…hai ba bốn năm sáu bảy tám chín «dân vận» một hai ba bốn năm sáu bảy tám…"
                    .to_owned()
            )]
        );
    }

    #[test]
    fn compile_reports_every_error_located() {
        let specs = vec![
            TopicSpec {
                ignore: strings(&["…"]),
                ..topic("a", &["  ", "dân vận", "!!!"])
            },
            TopicSpec {
                regex: strings(&["ok", "(unclosed", ""]),
                ..topic("b", &["x"])
            },
            topic("c", &[]),
            TopicSpec {
                none: strings(&["\u{200b}"]),
                ..topic("d", &["y"])
            },
        ];
        let errors = match Matcher::compile(specs) {
            Ok(_) => panic!("compiled"),
            Err(errors) => errors,
        };
        let located: Vec<(usize, Role, usize, &str)> = errors
            .iter()
            .map(|e| (e.topic, e.role, e.index, e.message.as_str()))
            .collect();
        assert_eq!(
            located,
            [
                (
                    0,
                    Role::Any,
                    0,
                    "phrase \"  \" is empty after normalization"
                ),
                (
                    0,
                    Role::Any,
                    2,
                    "phrase \"!!!\" is empty after normalization"
                ),
                (
                    0,
                    Role::Ignore,
                    0,
                    "phrase \"…\" is empty after normalization"
                ),
                (
                    1,
                    Role::Regex,
                    1,
                    "invalid regex \"(unclosed\": unclosed group"
                ),
                (1, Role::Regex, 2, "regex is empty"),
                (
                    2,
                    Role::Any,
                    0,
                    "topic has nothing to match: give `any`, `all` or `regex`"
                ),
                (
                    3,
                    Role::None,
                    0,
                    "phrase \"\\u{200b}\" is empty after normalization"
                ),
            ]
        );
        assert!(errors.iter().all(|e| !e.message.contains('\n')));
    }

    #[test]
    fn empty_matcher_and_accessors() {
        let m = Matcher::empty();
        assert!(m.is_empty());
        assert_eq!(m.len(), 0);
        assert!(m.matches(&content("dân vận"), ANY_SOURCE).is_empty());

        let m = compile(vec![dan_van(), topic("b", &["x"])]);
        assert_eq!(m.len(), 2);
        assert_eq!(
            m.topics().collect::<Vec<_>>(),
            [("dan-van", "Dân vận"), ("b", "b")]
        );
        for f in Field::ALL {
            assert_eq!(Field::parse(f.as_str()), Some(f));
        }
        assert_eq!(Field::parse("body"), None);
        assert_eq!(Role::None.as_str(), "none");
    }

    #[test]
    fn tokenization_keeps_exact_and_folded_aligned() {
        let input = MatchInput::from_plain("Đảng ủy, TP.HCM", "", "hòa \u{301} giải");
        assert_eq!(input.exact, " đảng ủy \n tp \n hcm \0 \0 hòa \u{301} giải ");
        assert_eq!(input.folded, " dang uy \n tp \n hcm \0 \0 hoa  giai ");
        assert_eq!(input.syllables.len(), 7);
        assert_eq!(input.field_syllables, [0..4, 4..4, 4..7]);
        let m = compile(vec![topic("t", &["hoa giai"]), topic("u", &["TP-HCM"])]);
        assert_eq!(matched_ids(&m, &input, ANY_SOURCE), ["u"]);
    }

    #[test]
    fn matcher_is_shareable() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Matcher>();
        send_sync::<MatchInput>();
    }
}
