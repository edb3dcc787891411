//! Search queries: what a reader types (`bantin search`, `/search.rss?q=`) → the terms the
//! store's index looks up, with the Vietnamese rules of [`crate::topics`]; and what the index
//! holds for each article. Pure: no I/O, no clock (`now` is a parameter).
//!
//! # Semantics
//!
//! - Each word is a term, and every term is required ("dân vận" finds articles with both
//!   syllables, anywhere). Quotes (`"…"`, or the typographic `“…”`) make a phrase: its
//!   syllables next to each other, in order, not broken by punctuation ("nhân dân. Vận động"
//!   does not hold "dân vận"), within one field. A quote left open runs to the end.
//! - A term goes through [`text::match_key`] like topic phrases (entities, NFC, Đ impostors,
//!   invisible characters, one tone-mark style, lowercase), so "Uỷ ban", "ủy ban" and its NFD
//!   spelling are one term, and matches whole syllables only ("an" is not in "dân").
//! - A query typed with diacritics matches exactly those ("dân" never finds "dẫn"), every
//!   word of it: in "ủy ban" the "ban" is as typed, not bàn or bạn. A query whose every key is
//!   pure ASCII matches accent-free, đ folded to d ("dan" finds "dân", "dẫn", "đan"). (Topics
//!   decide per phrase; a query is read as one phrase typed by one reader.)
//! - A word with punctuation inside ("TP.HCM", "COVID-19") is a phrase of its parts, with that
//!   punctuation at that place: it matches any punctuation there, as in topics.
//!
//! # The index
//!
//! Two texts per article ([`indexed`]): its syllables as stored (the search text, already match
//! keys) and the same syllables folded. Syllables are cut exactly as topics cut them
//! (`topics::for_each_syllable`) and written with one space between them, so the index's
//! tokenizer (SQLite FTS5 `unicode61` with diacritics kept and letters, digits and marks as
//! token characters) sees the same syllables. Where topics see a break (punctuation, or the end
//! of a field) the texts carry the token [`BREAK`] (punctuation) or [`FIELD_BREAK`],
//! which no query syllable is, so a phrase cannot span them; a query's phrase with punctuation
//! inside carries [`BREAK`] at that place.

use std::fmt::Write as _;

use chrono::{DateTime, Duration, Utc};

use crate::text;
use crate::topics;

/// The longest query accepted, in characters: a few sentences. Longer is a mistake or abuse.
pub const MAX_QUERY_CHARS: usize = 500;
/// The most terms (words and phrases) a query may have.
pub const MAX_TERMS: usize = 16;
/// The token standing for punctuation between two syllables. The index's tokenizer takes `|`
/// as a token character (`tokenchars`); it is never part of a syllable.
pub const BREAK: &str = "|";
/// The token between two fields (title, summary, content): no query term holds it, so no
/// phrase spans two fields.
pub const FIELD_BREAK: &str = "||";

/// A parsed query: its terms, all required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    terms: Vec<Term>,
}

/// One required word or phrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// Its syllables (match keys, or folded ones), with [`BREAK`] where punctuation was.
    pub syllables: Vec<String>,
    /// Typed without diacritics: looked up among the folded syllables.
    pub folded: bool,
}

/// Why a query cannot be searched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("the search is empty: give one or more words")]
    Empty,
    #[error("the search {0:?} has no words, only punctuation or symbols")]
    NoWords(String),
    #[error("the search is too long: {chars} characters, at most {MAX_QUERY_CHARS}")]
    TooLong { chars: usize },
    #[error("the search has too many words or phrases: {terms}, at most {MAX_TERMS}")]
    TooManyTerms { terms: usize },
}

impl Query {
    /// Reads what a reader typed; see the module's semantics.
    pub fn parse(typed: &str) -> Result<Query, QueryError> {
        let chars = typed.chars().count();
        if chars > MAX_QUERY_CHARS {
            return Err(QueryError::TooLong { chars });
        }
        if typed.trim().is_empty() {
            return Err(QueryError::Empty);
        }
        let mut terms = Vec::new();
        let mut piece = String::new();
        let mut quoted = false;
        for c in typed.chars() {
            if matches!(c, '"' | '“' | '”' | '„') {
                push_terms(&mut terms, &piece, quoted);
                piece.clear();
                quoted = !quoted;
            } else {
                piece.push(c);
            }
        }
        push_terms(&mut terms, &piece, quoted);
        if terms.is_empty() {
            return Err(QueryError::NoWords(typed.to_string()));
        }
        if terms.len() > MAX_TERMS {
            return Err(QueryError::TooManyTerms { terms: terms.len() });
        }
        let folded = terms
            .iter()
            .all(|t: &Term| t.syllables.iter().all(|s| s.is_ascii()));
        for t in &mut terms {
            t.folded = folded;
        }
        Ok(Query { terms })
    }

    pub fn terms(&self) -> &[Term] {
        &self.terms
    }

    /// The FTS5 query of the index: every term as a phrase of its column, joined by AND.
    /// Syllables hold only letters, digits and marks (and a break is `|`), so nothing in them
    /// needs quoting; a `"` is doubled all the same, as FTS5 escapes it.
    pub fn fts5(&self) -> String {
        let mut out = String::new();
        for (i, t) in self.terms.iter().enumerate() {
            if i > 0 {
                out.push_str(" AND ");
            }
            let column = if t.folded { "folded" } else { "exact" };
            let phrase = t.syllables.join(" ").replace('"', "\"\"");
            let _ = write!(out, "{column} : \"{phrase}\"");
        }
        out
    }
}

/// The terms of one piece of the query: the whole piece as a phrase when it was quoted, else
/// each word of it.
fn push_terms(terms: &mut Vec<Term>, piece: &str, quoted: bool) {
    if quoted {
        terms.extend(term(piece));
    } else {
        terms.extend(piece.split_whitespace().filter_map(term));
    }
}

/// A word or phrase as a term; None when it has no syllable.
fn term(typed: &str) -> Option<Term> {
    let key = text::match_key(typed);
    let mut syllables = Vec::new();
    topics::for_each_syllable(&key, |range, break_before| {
        if break_before {
            syllables.push(BREAK.to_string());
        }
        syllables.push(key.get(range).unwrap_or_default().to_string());
    });
    // Folded or not is the whole query's: see `Query::parse`.
    (!syllables.is_empty()).then_some(Term {
        syllables,
        folded: false,
    })
}

/// What the index holds for an article: its syllables, exact and folded, one space between
/// them, [`BREAK`] between two that punctuation or a field's end separates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indexed {
    pub exact: String,
    pub folded: String,
}

/// [`Indexed`] of a stored search text; its layout (`MatchInput::search_layout`), when known and
/// fitting, says where each field ends.
pub fn indexed(search_text: &str, layout: Option<&str>) -> Indexed {
    let whole = [search_text, "", ""];
    let fields = layout
        .and_then(|l| topics::split_search_text(search_text, l))
        .unwrap_or(whole);
    let mut exact = String::with_capacity(search_text.len() + 16);
    let mut folded = String::with_capacity(search_text.len() + 16);
    for key in fields {
        let mut new_field = !exact.is_empty();
        topics::for_each_syllable(key, |range, break_before| {
            let syllable = key.get(range).unwrap_or_default();
            if !exact.is_empty() {
                let token = if new_field {
                    Some(FIELD_BREAK)
                } else {
                    break_before.then_some(BREAK)
                };
                if let Some(token) = token {
                    exact.push(' ');
                    exact.push_str(token);
                    folded.push(' ');
                    folded.push_str(token);
                }
                exact.push(' ');
                folded.push(' ');
            }
            new_field = false;
            exact.push_str(syllable);
            topics::push_folded(&mut folded, syllable);
        });
    }
    Indexed { exact, folded }
}

/// `--since` / `?since=`: an RFC 3339 time, or a duration back from `now`: a number and `m`
/// (minutes), `h`, `d` or `w` (`30m`, `12h`, `7d`, `2w`).
pub fn parse_since(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, SinceError> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let bad = || SinceError(s.to_string());
    let unit = s.chars().last().ok_or_else(bad)?;
    let number = s.strip_suffix(unit).ok_or_else(bad)?;
    let n: i64 = number.parse().map_err(|_| bad())?;
    if n < 0 {
        return Err(bad());
    }
    let back = match unit {
        'm' => Duration::try_minutes(n),
        'h' => Duration::try_hours(n),
        'd' => Duration::try_days(n),
        'w' => Duration::try_weeks(n),
        _ => None,
    }
    .ok_or_else(bad)?;
    Ok(now
        .checked_sub_signed(back)
        .unwrap_or(DateTime::<Utc>::MIN_UTC))
}

/// A `since` that is neither a time nor a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "since must be an RFC 3339 time (2026-11-28T00:00:00+07:00) or a duration back from now \
     (30m, 12h, 7d, 2w), not {0:?}"
)]
pub struct SinceError(pub String);

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use unicode_normalization::UnicodeNormalization;

    fn terms(q: &str) -> Vec<(String, bool)> {
        Query::parse(q)
            .unwrap()
            .terms()
            .iter()
            .map(|t| (t.syllables.join(" "), t.folded))
            .collect()
    }

    fn exact(s: &str) -> (String, bool) {
        (s.to_string(), false)
    }

    fn folded(s: &str) -> (String, bool) {
        (s.to_string(), true)
    }

    #[test]
    fn words_phrases_and_their_columns() {
        let cases: &[(&str, Vec<(String, bool)>)] = &[
            ("dân vận", vec![exact("dân"), exact("vận")]),
            ("\"dân vận\"", vec![exact("dân vận")]),
            ("“Dân Vận” khéo", vec![exact("dân vận"), exact("khéo")]),
            ("dan van", vec![folded("dan"), folded("van")]),
            ("\"DAN VAN\"", vec![folded("dan van")]),
            ("đan", vec![exact("đan")]),
            // One tone-mark style, NFC, Đ impostors.
            ("Uỷ ban", vec![exact("ủy"), exact("ban")]),
            (
                &"hoà giải".nfd().collect::<String>(),
                vec![exact("hòa"), exact("giải")],
            ),
            ("Ðảng", vec![exact("đảng")]),
            // Punctuation inside a word: a phrase with a break; around it: ignored.
            ("TP.HCM", vec![folded("tp | hcm")]),
            ("(dân vận),", vec![exact("dân"), exact("vận")]),
            ("\"nhân dân. Vận\"", vec![exact("nhân dân | vận")]),
            // An open quote runs to the end; an empty phrase is nothing.
            ("kinh \"tế xã hội", vec![exact("kinh"), exact("tế xã hội")]),
            ("dân van", vec![exact("dân"), exact("van")]),
            ("\"\" dân", vec![exact("dân")]),
            ("&quot;dân&quot;", vec![exact("dân")]),
        ];
        for (q, want) in cases {
            assert_eq!(&terms(q), want, "{q:?}");
        }
    }

    #[test]
    fn hostile_queries_get_clear_errors() {
        assert_eq!(Query::parse(""), Err(QueryError::Empty));
        assert_eq!(Query::parse(" \u{a0}\t"), Err(QueryError::Empty));
        assert!(matches!(
            Query::parse("?!… --"),
            Err(QueryError::NoWords(_))
        ));
        assert!(matches!(
            Query::parse("\"\"\""),
            Err(QueryError::NoWords(_))
        ));
        assert!(matches!(Query::parse("🙂"), Err(QueryError::NoWords(_))));
        let long = "dân ".repeat(200);
        assert_eq!(Query::parse(&long), Err(QueryError::TooLong { chars: 800 }));
        let many = "a ".repeat(MAX_TERMS + 1);
        assert_eq!(
            Query::parse(&many),
            Err(QueryError::TooManyTerms {
                terms: MAX_TERMS + 1
            })
        );
        assert!(QueryError::NoWords("?!".into())
            .to_string()
            .contains("no words"));
    }

    #[test]
    fn fts5_query_names_the_column_of_each_term() {
        let q = Query::parse("\"dân vận\" khéo tp.hcm").unwrap();
        assert_eq!(
            q.fts5(),
            "exact : \"dân vận\" AND exact : \"khéo\" AND exact : \"tp | hcm\""
        );
        let q = Query::parse("dang \"uy ban\"").unwrap();
        assert_eq!(q.fts5(), "folded : \"dang\" AND folded : \"uy ban\"");
    }

    #[test]
    fn indexed_text_breaks_at_punctuation_and_fields() {
        let [title, summary, content] = ["dân vận khéo", "nhân dân. vận động", "đảng ủy"];
        let text = format!("{title} {summary} {content}");
        let layout = format!("{} {} {}", title.len(), summary.len(), content.len());
        let got = indexed(&text, Some(&layout));
        assert_eq!(got.exact, "dân vận khéo || nhân dân | vận động || đảng ủy");
        assert_eq!(got.folded, "dan van kheo || nhan dan | van dong || dang uy");
        // Without a layout (or with one that does not fit), one field.
        let one = indexed(&text, None);
        assert_eq!(one.exact, "dân vận khéo nhân dân | vận động đảng ủy");
        assert_eq!(indexed(&text, Some("1 2 3")), one);
        assert_eq!(indexed("", None).exact, "");
        assert_eq!(indexed(" ... ", None).exact, "");
    }

    #[test]
    fn since_is_a_time_or_a_duration() {
        let now = Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap();
        let ok = |s: &str| parse_since(s, now).unwrap();
        assert_eq!(ok("7d"), now - Duration::days(7));
        assert_eq!(ok("12h"), now - Duration::hours(12));
        assert_eq!(ok("30m"), now - Duration::minutes(30));
        assert_eq!(ok("2w"), now - Duration::weeks(2));
        assert_eq!(
            ok("2026-11-28T00:00:00+07:00"),
            Utc.with_ymd_and_hms(2026, 11, 27, 17, 0, 0).unwrap()
        );
        for bad in [
            "999999999999w",
            "",
            "7",
            "d",
            "-7d",
            "7y",
            "7dd",
            "yesterday",
            "7 d",
            "đ",
        ] {
            assert!(parse_since(bad, now).is_err(), "{bad:?}");
        }
    }
}
