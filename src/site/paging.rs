//! Paged feeds (RFC 5005 §3): a feed's stories page by page, newest first, each page linking
//! to the next older one (`rel="next"`) and, past the first, to the newer one (`rel="prev"`),
//! so a reader or a script walks back through everything still stored.
//!
//! A page is asked for with a [`Cursor`]: older than a place in feed order ([`FeedKey`]:
//! published, first seen, id), or newer than one. The place is an article's, not an offset,
//! so pages stay where they are while new articles arrive on the first.
//!
//! The invariant, for a fixed database: walking `next` from the first page yields every story
//! of the feed exactly once, newest first. A story (syndicated copies merged,
//! [`crate::stories`]) stands at the place of its newest copy in the feed (its lead), and a
//! page older than `K` holds the stories whose lead is older than `K`: a copy older than `K` of
//! a story with a copy at `K` or newer was shown before and is left out. A page ends at the
//! lead of its last story, or, when reading [`MAX_BATCHES`] batches found fewer stories than
//! it holds, at the last article read (every story whose lead lies between is on the page), so
//! a request reads a bounded number of articles however many copies a story has.

use std::collections::{HashMap, HashSet};

use base64::Engine;
use chrono::{DateTime, Datelike, SecondsFormat, Utc};

use super::feeds::ARTICLES_PER_STORY;
use crate::store::{ArticleQuery, FeedKey, FeedOrder, Store, StoreError, StoredArticle};

/// Batches of articles one page reads at most.
const MAX_BATCHES: usize = 8;

/// Where a page is in its feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cursor {
    /// The stories whose lead is older than this place (`?before=`; the next page).
    Before(FeedKey),
    /// The stories whose lead is newer than this place, the oldest of them (`?after=`; the
    /// previous page).
    After(FeedKey),
}

/// Why a `?before=` or `?after=` value is not a cursor bantin gave.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("{param}={value:?} is not a page cursor: use the next and prev links of the feed")]
    Malformed { param: &'static str, value: String },
    #[error("use either ?before= or ?after=, not both")]
    Both,
}

/// Bytes of an encoded place: three big-endian i64.
const KEY_BYTES: usize = 24;
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

impl Cursor {
    /// The query parameter that carries it.
    pub fn param(&self) -> &'static str {
        match self {
            Cursor::Before(_) => "before",
            Cursor::After(_) => "after",
        }
    }

    /// Its value in a URL: the place as 24 bytes in URL-safe base64 (32 characters).
    pub fn value(&self) -> String {
        let (Cursor::Before(key) | Cursor::After(key)) = self;
        let mut bytes = Vec::with_capacity(KEY_BYTES);
        for n in [key.published, key.first_seen, key.id] {
            bytes.extend_from_slice(&n.to_be_bytes());
        }
        B64.encode(bytes)
    }

    /// The cursor of a request's `before` and `after` parameters (None when neither is given).
    pub fn from_params(
        before: Option<&str>,
        after: Option<&str>,
    ) -> Result<Option<Cursor>, CursorError> {
        match (before, after) {
            (Some(_), Some(_)) => Err(CursorError::Both),
            (Some(v), None) => Ok(Some(Cursor::Before(place("before", v)?))),
            (None, Some(v)) => Ok(Some(Cursor::After(place("after", v)?))),
            (None, None) => Ok(None),
        }
    }
}

/// The place `value` encodes: exactly [`KEY_BYTES`] bytes of URL-safe base64, no padding.
fn place(param: &'static str, value: &str) -> Result<FeedKey, CursorError> {
    let malformed = || CursorError::Malformed {
        param,
        value: value.chars().take(64).collect(),
    };
    let bytes = B64.decode(value).map_err(|_| malformed())?;
    if bytes.len() != KEY_BYTES {
        return Err(malformed());
    }
    let mut numbers = bytes
        .chunks_exact(8)
        .filter_map(|b| Some(i64::from_be_bytes(b.try_into().ok()?)));
    match (numbers.next(), numbers.next(), numbers.next()) {
        (Some(published), Some(first_seen), Some(id)) => Ok(FeedKey {
            published,
            first_seen,
            id,
        }),
        _ => Err(malformed()),
    }
}

/// What a request asks of a feed besides its scope.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageQuery {
    /// Stories per page.
    pub limit: usize,
    /// Only articles that arrived (were first seen) after this instant.
    pub since: Option<DateTime<Utc>>,
    /// None: the first page.
    pub cursor: Option<Cursor>,
}

/// Why a `?since=` value is not an instant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("since={0:?} is not an RFC 3339 time such as 2026-12-07T06:00:00Z or 2026-12-07T13:00:00%2B07:00")]
pub struct SinceError(String);

/// A `?since=` value: RFC 3339, in the years 1 to 9999 (UTC) that links can write back. A `+`
/// of an offset sent unescaped arrives as a space (the form encoding), which is read back as
/// the `+` it was.
pub fn since(value: &str) -> Result<DateTime<Utc>, SinceError> {
    let parse = |v: &str| DateTime::parse_from_rfc3339(v).ok();
    parse(value)
        .or_else(|| match value.rsplit_once(' ') {
            Some((time, offset)) if time.contains('T') || time.contains('t') => {
                parse(&format!("{time}+{offset}"))
            }
            _ => None,
        })
        .map(|t| t.with_timezone(&Utc))
        .filter(|t| (1..=9999).contains(&t.year()))
        .ok_or_else(|| SinceError(value.chars().take(64).collect()))
}

/// `since` as links carry it: UTC, so nothing in it needs escaping.
pub fn since_param(since: DateTime<Utc>) -> String {
    since.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// One page of a feed: the articles of its stories (newest first, so the stories merge in
/// order, [`crate::stories::merge`]) and the pages around it.
#[derive(Debug, Default)]
pub struct Page {
    pub articles: Vec<StoredArticle>,
    /// The next older page, if there are older stories.
    pub older: Option<Cursor>,
    /// The next newer page, if this is not the first.
    pub newer: Option<Cursor>,
}

/// The page of `scope` (the filters of an [`ArticleQuery`]) that `query` asks for.
pub(super) fn read(
    store: &Store,
    scope: &ArticleQuery,
    query: &PageQuery,
) -> Result<Page, StoreError> {
    let scope = ArticleQuery {
        seen_after: query.since,
        ..scope.clone()
    };
    match query.cursor {
        None => older_than(store, &scope, None, query.limit),
        Some(Cursor::Before(key)) => older_than(store, &scope, Some(key), query.limit),
        Some(Cursor::After(key)) => newer_than(store, &scope, key, query.limit),
    }
}

/// The copies in `scope` newer than `key` of the stories `ids`, newest first (so the first copy
/// of each story read is its lead).
fn copies_newer(
    store: &Store,
    scope: &ArticleQuery,
    ids: Vec<i64>,
    key: FeedKey,
) -> Result<Vec<StoredArticle>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    store.articles(&ArticleQuery {
        stories: Some(ids),
        newer_than: Some(key),
        older_than: None,
        order: FeedOrder::NewestFirst,
        limit: usize::MAX,
        ..scope.clone()
    })
}

/// A page read from the newest end, or from just older than `key`.
fn older_than(
    store: &Store,
    scope: &ArticleQuery,
    key: Option<FeedKey>,
    limit: usize,
) -> Result<Page, StoreError> {
    let batch = limit.saturating_mul(ARTICLES_PER_STORY).max(1);
    let mut kept: Vec<StoredArticle> = Vec::new();
    // The page's stories in order, each with its lead's place.
    let mut stories: Vec<(i64, FeedKey)> = Vec::new();
    let mut seen: HashSet<i64> = HashSet::new();
    let mut from = key;
    let mut more = false;
    for round in 1..=MAX_BATCHES {
        let articles = store.articles(&ArticleQuery {
            older_than: from,
            newer_than: None,
            order: FeedOrder::NewestFirst,
            limit: batch,
            ..scope.clone()
        })?;
        let full = articles.len() == batch;
        if let Some(last) = articles.last() {
            from = Some(last.feed_key());
        }
        // Stories with a copy at `key` or newer were on the pages before this one.
        let shown: HashSet<i64> = match key {
            Some(key) => {
                let new: HashSet<i64> = articles
                    .iter()
                    .map(|a| a.story)
                    .filter(|s| !seen.contains(s))
                    .collect();
                copies_newer(store, scope, new.into_iter().collect(), key.just_older())?
                    .iter()
                    .map(|a| a.story)
                    .collect()
            }
            None => HashSet::new(),
        };
        for a in articles {
            if shown.contains(&a.story) {
                continue;
            }
            if seen.insert(a.story) {
                stories.push((a.story, a.feed_key()));
            }
            kept.push(a);
        }
        if stories.len() > limit {
            more = true;
            break;
        }
        if !full {
            break;
        }
        if round == MAX_BATCHES {
            more = true;
        }
    }
    let older = if stories.len() > limit {
        stories.truncate(limit);
        stories.last().map(|&(_, lead)| Cursor::Before(lead))
    } else if more {
        from.map(Cursor::Before)
    } else {
        None
    };
    let on_page: HashSet<i64> = stories.iter().map(|&(s, _)| s).collect();
    kept.retain(|a| on_page.contains(&a.story));
    let newer = key.map(|key| match stories.first() {
        Some(&(_, lead)) => Cursor::After(lead),
        // Nothing older than `key`: the page before is the one ending at it.
        None => Cursor::After(key.just_older()),
    });
    Ok(Page {
        articles: kept,
        older,
        newer,
    })
}

/// The `limit` stories whose leads are the oldest newer than `key` (the page before the one
/// that starts at `key`), read from `key` upward.
fn newer_than(
    store: &Store,
    scope: &ArticleQuery,
    key: FeedKey,
    limit: usize,
) -> Result<Page, StoreError> {
    let batch = limit.saturating_mul(ARTICLES_PER_STORY).max(1);
    let mut copies: Vec<StoredArticle> = Vec::new();
    let mut leads: HashMap<i64, FeedKey> = HashMap::new();
    let mut from = key;
    // Whether articles newer than `from` are left unread.
    let mut unread = false;
    for round in 1..=MAX_BATCHES {
        let articles = store.articles(&ArticleQuery {
            newer_than: Some(from),
            older_than: None,
            order: FeedOrder::OldestFirst,
            limit: batch,
            ..scope.clone()
        })?;
        let full = articles.len() == batch;
        if let Some(last) = articles.last() {
            from = last.feed_key();
        }
        let new: HashSet<i64> = articles
            .iter()
            .map(|a| a.story)
            .filter(|s| !leads.contains_key(s))
            .collect();
        // Every copy newer than `key` of each story met: the first, newest, is its lead.
        for c in copies_newer(store, scope, new.into_iter().collect(), key)? {
            leads.entry(c.story).or_insert_with(|| c.feed_key());
            copies.push(c);
        }
        unread = full;
        // Stories whose lead was read are known in full; a story led from above `from` waits.
        let known = leads.values().filter(|&&lead| lead <= from).count();
        if !full || known > limit || round == MAX_BATCHES {
            break;
        }
    }
    let mut page: Vec<(FeedKey, i64)> = leads
        .iter()
        .filter(|&(_, &lead)| !unread || lead <= from)
        .map(|(&story, &lead)| (lead, story))
        .collect();
    page.sort_unstable();
    let over = page.len() > limit;
    page.truncate(limit);
    let newer = if over {
        page.last().map(|&(lead, _)| Cursor::After(lead))
    } else if unread {
        // Every story led at `from` or older is here; newer ones are beyond it.
        Some(Cursor::After(from))
    } else {
        None
    };
    let older = Some(match page.first() {
        Some(&(lead, _)) => Cursor::Before(lead),
        None => Cursor::Before(key.just_newer()),
    });
    let on_page: HashSet<i64> = page.iter().map(|&(_, s)| s).collect();
    // Newest first, as every page is: the first copy of each story leads it.
    copies.retain(|c| on_page.contains(&c.story));
    copies.sort_unstable_by_key(|c| std::cmp::Reverse(c.feed_key()));
    copies.dedup_by_key(|c| c.id);
    Ok(Page {
        articles: copies,
        older,
        newer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(published: i64, first_seen: i64, id: i64) -> FeedKey {
        FeedKey {
            published,
            first_seen,
            id,
        }
    }

    #[test]
    fn cursors_read_back() {
        for k in [
            key(1_765_000_000_000, 1_765_000_100_000, 42),
            key(0, 0, 0),
            key(i64::MIN, -1, i64::MAX),
        ] {
            for c in [Cursor::Before(k), Cursor::After(k)] {
                let v = c.value();
                assert_eq!(v.len(), 32, "{v}");
                assert!(
                    v.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                    "URL-safe: {v}"
                );
                let (before, after) = match c {
                    Cursor::Before(_) => (Some(v.as_str()), None),
                    Cursor::After(_) => (None, Some(v.as_str())),
                };
                assert_eq!(Cursor::from_params(before, after), Ok(Some(c)));
            }
        }
    }

    #[test]
    fn malformed_cursors_are_refused() {
        let good = Cursor::Before(key(1, 2, 3)).value();
        let long = format!("{good}AA");
        let short = &good[..31];
        let padded = format!("{}==", &good[..30]);
        for bad in [
            "",
            "1",
            "abc",
            short,
            long.as_str(),
            padded.as_str(),
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.",
            "tin-moi-nhat",
            "ăăăăăăăăăăăăăăăă",
        ] {
            let got = Cursor::from_params(Some(bad), None);
            assert!(
                matches!(
                    got,
                    Err(CursorError::Malformed {
                        param: "before",
                        ..
                    })
                ),
                "{bad:?}: {got:?}"
            );
        }
        assert_eq!(
            Cursor::from_params(Some(&good), Some(&good)),
            Err(CursorError::Both)
        );
        assert_eq!(Cursor::from_params(None, None), Ok(None));
        let msg = Cursor::from_params(None, Some("x"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            msg,
            "after=\"x\" is not a page cursor: use the next and prev links of the feed"
        );
    }

    #[test]
    fn since_values() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        for (value, expected) in [
            ("2026-12-07T06:00:00Z", Some("2026-12-07T06:00:00Z")),
            ("2026-12-07T13:00:00+07:00", Some("2026-12-07T06:00:00Z")),
            // The `+` sent unescaped in a query arrives as a space.
            ("2026-12-07T13:00:00 07:00", Some("2026-12-07T06:00:00Z")),
            ("2026-12-07t06:00:00.5z", Some("2026-12-07T06:00:00.5Z")),
            ("2026-12-07", None),
            ("hôm qua", None),
            ("", None),
            ("2026-12-07 07:00", None),
            ("2026-13-07T06:00:00Z", None),
            // Instants links could not write back.
            ("0001-01-01T00:00:00+00:01", None),
            ("9999-12-31T23:59:59-00:01", None),
        ] {
            assert_eq!(since(value).ok(), expected.map(at), "{value:?}");
        }
        assert_eq!(
            since_param(at("2026-12-07T13:00:00+07:00")),
            "2026-12-07T06:00:00Z"
        );
        assert_eq!(
            since(&since_param(at("2026-12-07T06:00:00.25Z"))).ok(),
            Some(at("2026-12-07T06:00:00.25Z"))
        );
    }
}
