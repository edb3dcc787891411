//! Parsed entries → [`NewArticle`]s: clean text, sanitized HTML, plausible dates, canonical URLs
//! and identity keys. Pure: no I/O; `now` is a parameter.
//!
//! Identity precedence lives in one function, [`identity_keys`]; the keys are SHA-256 of
//! normalized strings with a kind prefix, stable across releases (changing them would make every
//! stored article come back as new).

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use sha2::{Digest, Sha256};
use url::Url;

use super::entry::{Listing, RawEntry};
use crate::article::NewArticle;
use crate::date;
use crate::media::{self, Media};
use crate::text;
use crate::topics::{Field, MatchInput};

/// Who carried the feed, and when.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub source_id: &'a str,
    /// Host of the source's URL: scopes guids, which are only unique within a site.
    pub source_host: &'a str,
    pub timezone: Tz,
    pub now: DateTime<Utc>,
}

/// The articles of one feed document, and how many items were dropped.
#[derive(Debug, Clone, Default)]
pub struct Normalized {
    pub articles: Vec<NewArticle>,
    /// Items with neither title nor link (placeholders).
    pub dropped: usize,
}

/// What identifies an entry, worked out before the expensive part of normalizing (sanitizing,
/// text keys), so that an entry the store already has unchanged costs almost nothing.
#[derive(Debug, Clone)]
pub struct Identified {
    /// Identity keys, most authoritative first ([`identity_keys`]).
    pub keys: Vec<String>,
    /// Hash of the entry as published (title, link, summary, content, authors): when it
    /// changes, the stored article is updated.
    pub content_hash: String,
    canonical: Option<Url>,
    /// The link is shared by different items of the document: it does not identify the item.
    shared: bool,
    /// Cleaned title (empty when the entry had none). Cleaning is skipped where nothing needs
    /// it yet (an item with a link of its own the store has unchanged): see [`describe`].
    title: Option<String>,
    /// The entry repeats an earlier entry of the same document word for word: skipped.
    pub repeat: bool,
    /// For an item with a link, the key it would have had if the link had been (or not been)
    /// shared with other items of its document: the link's key when it was shared, else the
    /// title key. See [`Identified::claim`]. Set by [`describe`].
    pub alt_key: Option<String>,
}

/// Normalizes every entry of one document.
pub fn normalize(feed: &Listing, ctx: &Context) -> Normalized {
    let ids = identify(feed, ctx);
    Normalized {
        dropped: ids.iter().filter(|i| i.is_none()).count(),
        articles: build(feed, &ids, ctx, |_| true).map(|(a, _)| a).collect(),
    }
}

/// Identifies every entry of one document (None: a placeholder with neither title nor link),
/// each described ([`describe`]).
///
/// An item repeated word for word within the document (same title, link, guid, date, text:
/// real feeds do this) is one item: its repeats are marked [`Identified::repeat`] and skipped.
pub fn identify(feed: &Listing, ctx: &Context) -> Vec<Option<Identified>> {
    let mut ids = identify_keys(feed, ctx);
    describe(feed, &mut ids, ctx, |_| true);
    ids
}

/// [`identify`] without [`describe`]: the keys and content hash, which are all the store's
/// probe for unchanged items needs. The title is cleaned only where the keys need it (an item
/// without a usable link or guid, a link several items share).
pub fn identify_keys(feed: &Listing, ctx: &Context) -> Vec<Option<Identified>> {
    let canon: Vec<Option<Url>> = feed
        .entries
        .iter()
        .map(|e| e.link.as_ref().map(canonical_url))
        .collect();
    let hashes: Vec<String> = feed.entries.iter().map(content_hash).collect();
    // Some CMSs point every item at the same page: a link that several *different* items share
    // within one document does not identify an item. Copies of one item do not make it shared.
    // Only a link more than one item carries can be shared: the titles of those items are
    // cleaned here, the others' when they are needed.
    let mut carriers: HashMap<&str, usize> = HashMap::with_capacity(canon.len());
    for u in canon.iter().flatten() {
        *carriers.entry(u.as_str()).or_default() += 1;
    }
    let multiple = |u: &Url| carriers.get(u.as_str()).is_some_and(|n| *n > 1);
    let mut titles: Vec<Option<String>> = feed
        .entries
        .iter()
        .zip(&canon)
        .map(|(e, u)| match u {
            Some(u) if !multiple(u) => None,
            _ => Some(entry_title(e)),
        })
        .collect();
    let mut variants: HashMap<&str, Vec<Variant>> = HashMap::new();
    for (i, e) in feed.entries.iter().enumerate() {
        if let (Some(u), Some(title)) = (&canon[i], &titles[i]) {
            let v = (
                title.as_str(),
                e.guid.as_deref(),
                e.date.as_ref().map_or("", |d| d.raw.as_str()),
                hashes[i].as_str(),
            );
            let seen = variants.entry(u.as_str()).or_default();
            if !seen.contains(&v) {
                seen.push(v);
            }
        }
    }
    let shared: Vec<bool> = canon
        .iter()
        .map(|u| {
            u.as_ref()
                .is_some_and(|u| variants.get(u.as_str()).map_or(0, Vec::len) > 1)
        })
        .collect();
    let keys: Vec<Option<Vec<String>>> = feed
        .entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            if e.link.is_none() && titles[i].as_ref().is_none_or(String::is_empty) {
                return None;
            }
            let own_link = canon[i].as_ref().filter(|_| !shared[i]);
            let has_guid = e.guid.as_deref().is_some_and(|g| !g.trim().is_empty());
            // The title key is the key of last resort: cleaned only when it is that.
            let title_key = match own_link.is_none() && !has_guid {
                true => text::match_key_of_clean(titles[i].get_or_insert_with(|| entry_title(e))),
                false => String::new(),
            };
            Some(identity_keys(&Identity {
                canonical_url: own_link,
                guid: e.guid.as_deref(),
                source_host: ctx.source_host,
                source_id: ctx.source_id,
                title_key: &title_key,
                date: raw_date(e),
            }))
        })
        .collect();
    let mut first_of: HashMap<(&[String], &str), usize> = HashMap::with_capacity(keys.len());
    let repeats: Vec<bool> = keys
        .iter()
        .zip(&hashes)
        .enumerate()
        .map(|(i, (k, h))| {
            k.as_ref()
                .is_some_and(|k| *first_of.entry((k.as_slice(), h.as_str())).or_insert(i) != i)
        })
        .collect();
    keys.into_iter()
        .zip(hashes)
        .zip(canon)
        .zip(titles)
        .zip(shared.into_iter().zip(repeats))
        .map(
            |((((keys, content_hash), canonical), title), (shared, repeat))| {
                Some(Identified {
                    keys: keys?,
                    content_hash,
                    canonical,
                    shared,
                    title,
                    repeat,
                    alt_key: None,
                })
            },
        )
        .collect()
}

/// Cleans the title and works out [`Identified::alt_key`] of the identified entries for which
/// `wanted(index)` is true: what claiming a known article and building need, and the probe
/// does not.
pub fn describe(
    feed: &Listing,
    ids: &mut [Option<Identified>],
    ctx: &Context,
    wanted: impl Fn(usize) -> bool,
) {
    for (i, (e, id)) in feed.entries.iter().zip(ids.iter_mut()).enumerate() {
        let Some(id) = id.as_mut().filter(|_| wanted(i)) else {
            continue;
        };
        let title = id.title.get_or_insert_with(|| entry_title(e));
        id.alt_key = id.canonical.as_ref().map(|u| {
            if id.shared {
                url_key(u.as_str())
            } else {
                title_key(&Identity {
                    canonical_url: Some(u),
                    guid: e.guid.as_deref(),
                    source_host: ctx.source_host,
                    source_id: ctx.source_id,
                    title_key: &text::match_key_of_clean(title),
                    date: raw_date(e),
                })
            }
        });
    }
}

/// The cleaned title of an entry; empty when it had none.
fn entry_title(e: &RawEntry) -> String {
    e.title.as_deref().map(plain).unwrap_or_default()
}

/// The date as published; "" when none.
fn raw_date(e: &RawEntry) -> &str {
    e.date.as_ref().map_or("", |d| d.raw.as_str())
}

/// What tells apart items sharing a link: title, guid, raw date, content hash.
type Variant<'a> = (&'a str, Option<&'a str>, &'a str, &'a str);

/// Hash of an entry as published (title, link, summary, content, authors).
fn content_hash(e: &RawEntry) -> String {
    let link = e.link.as_ref().map(Url::as_str).unwrap_or("");
    let authors = e.authors.join("\n");
    sha256_hex(&[
        e.title.as_deref().unwrap_or(""),
        link,
        e.summary.as_deref().unwrap_or(""),
        e.content.as_deref().unwrap_or(""),
        &authors,
    ])
}

impl Identified {
    /// Whether the item was identified by what it carries alone, not by comparing it with the
    /// other items of its document: not a repeat of one, its link not shared with others.
    pub fn on_its_own(&self) -> bool {
        !self.repeat && !self.shared
    }

    /// Whether `stored` (the title and canonical URL of the article kept under
    /// [`Identified::alt_key`]) is this item: the same title at the same link.
    /// False when the item was not described ([`describe`]).
    pub fn is(&self, stored: &(String, Option<String>)) -> bool {
        self.title.as_ref() == Some(&stored.0)
            && self.canonical.as_ref().map(Url::as_str) == stored.1.as_deref()
    }

    /// Takes on [`Identified::alt_key`] as an identity: the article stored under it is this
    /// one. Whether a link is shared within a document changes from poll to poll (a CMS points
    /// two items at one page today, not tomorrow); the article stays one.
    pub fn claim(&mut self) {
        if let Some(k) = self.alt_key.take() {
            if !self.keys.contains(&k) {
                self.keys.push(k);
            }
        }
    }
}

/// Builds the articles of the identified entries for which `wanted(index)` is true, each with
/// its text prepared for topic matching.
pub fn build<'a>(
    feed: &'a Listing,
    ids: &'a [Option<Identified>],
    ctx: &'a Context,
    wanted: impl Fn(usize) -> bool + 'a,
) -> impl Iterator<Item = (NewArticle, MatchInput)> + 'a {
    feed.entries
        .iter()
        .zip(ids)
        .enumerate()
        .filter(move |(i, _)| wanted(*i))
        .filter_map(|(_, (e, id))| id.as_ref().filter(|id| !id.repeat).map(|id| (e, id)))
        .map(|(e, id)| build_one(e, id, ctx))
}

fn build_one(e: &RawEntry, id: &Identified, ctx: &Context) -> (NewArticle, MatchInput) {
    let summary_html = e.summary.as_deref().and_then(sanitize);
    let content_html = e.content.as_deref().and_then(sanitize);
    let clean_title = match &id.title {
        Some(t) => t.clone(),
        None => entry_title(e),
    };
    // A title-less item (some feeds put everything in the description) gets a short one.
    let title = if clean_title.is_empty() {
        let from = [&summary_html, &content_html]
            .into_iter()
            .flatten()
            .map(|h| text::html_to_text(h))
            .find(|t| !t.is_empty())
            .unwrap_or_default();
        let short: String = from.split(' ').take(16).collect::<Vec<_>>().join(" ");
        if short.is_empty() {
            e.link.as_ref().map(|l| l.to_string()).unwrap_or_default()
        } else {
            short
        }
    } else {
        clean_title.clone()
    };
    // The text topics match is built here once, from the fields as stored (re-matching later
    // reads the same fields); the search text and the title key come from it.
    let input = MatchInput::from_html(&title, summary_html.as_deref(), content_html.as_deref());
    let title_key = input.normalized(Field::Title).to_string();
    let search_text = search_text(&input);
    let search_layout = Some(input.search_layout());

    let parsed = e
        .date
        .as_ref()
        .and_then(|d| d.parsed)
        .filter(|t| date::is_plausible(t.with_timezone(&Utc), ctx.now));
    let (published, date_guessed, date_raw) = match parsed {
        Some(t) => (t, false, None),
        None => (
            ctx.timezone
                .from_utc_datetime(&ctx.now.naive_utc())
                .fixed_offset(),
            true,
            e.date.as_ref().map(|d| d.raw.clone()),
        ),
    };
    let canonical = id.canonical.as_ref();
    let media = article_media(e, summary_html.as_deref(), content_html.as_deref());
    let article = NewArticle {
        keys: id.keys.clone(),
        url: e.link.as_ref().map(|u| u.to_string()),
        canonical_url: canonical.map(|u| u.to_string()),
        host: canonical.and_then(|u| u.host_str()).map(str::to_string),
        guid: e.guid.clone(),
        title,
        title_guessed: clean_title.is_empty(),
        title_key,
        summary_html,
        content_html,
        search_text,
        search_layout,
        authors: clean_authors(&e.authors),
        published,
        date_guessed,
        date_raw,
        content_hash: id.content_hash.clone(),
        matches: Vec::new(),
        media,
    };
    (article, input)
}

/// The entry's media; when it names no image, the first image of its sanitized summary (else
/// content) joins them, as feed readers show it: most Vietnamese feeds carry their picture only
/// there. Relative sources resolve against the item's link; an item without a link gets none
/// (nor has it a page to show it beside).
fn article_media(e: &RawEntry, summary: Option<&str>, content: Option<&str>) -> Vec<Media> {
    if media::image(&e.media).is_some() {
        return e.media.clone();
    }
    let found = e.link.as_ref().and_then(|base| {
        [summary, content]
            .into_iter()
            .flatten()
            .find_map(|html| media::first_image_in(html, base))
    });
    media::keep(e.media.iter().cloned().chain(found))
}

/// What identifies an item.
pub struct Identity<'a> {
    /// None when the item had no link, or shared it with other items of its document.
    pub canonical_url: Option<&'a Url>,
    pub guid: Option<&'a str>,
    pub source_host: &'a str,
    pub source_id: &'a str,
    pub title_key: &'a str,
    /// The raw date string ("" when none).
    pub date: &'a str,
}

/// Identity keys, most authoritative first. The store treats an item as known when any key is
/// known, and records all of them.
///
/// 1. The canonical URL: the same article from another category feed or another source.
/// 2. The guid, scoped to the source's host (numeric guids repeat across sites). A guid that is a
///    URL is canonicalized, which drops the `#0`, `#1` fragments BBC-style feeds append to
///    republished items. Used alone when there is no usable link.
/// 3. Only when neither exists: a hash of source, normalized title and raw date.
pub fn identity_keys(id: &Identity) -> Vec<String> {
    let mut keys = Vec::with_capacity(2);
    if let Some(u) = id.canonical_url {
        keys.push(url_key(u.as_str()));
    }
    if let Some(g) = id.guid.map(str::trim).filter(|g| !g.is_empty()) {
        let g = match Url::parse(g) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => canonical_url(&u).to_string(),
            _ => g.to_string(),
        };
        keys.push(sha256_hex(&["guid", &host_key(id.source_host), &g]));
    }
    if keys.is_empty() {
        keys.push(title_key(id));
    }
    keys
}

/// The key of last resort: source, normalized title, raw date.
fn title_key(id: &Identity) -> String {
    sha256_hex(&["title", id.source_id, id.title_key, id.date.trim()])
}

/// The identity key of a canonical URL.
fn url_key(canonical: &str) -> String {
    sha256_hex(&["url", canonical])
}

/// Query parameters that only track the reader: dropped from canonical URLs.
fn is_tracking_param(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.starts_with("utm_")
        || k.starts_with("at_")
        || matches!(
            k.as_str(),
            "fbclid" | "gclid" | "zarsrc" | "gidzl" | "_ga" | "mc_cid" | "mc_eid"
        )
}

/// One spelling per article URL: https, host lower-case without `www.`, no default port, no
/// fragment, no tracking parameters.
pub fn canonical_url(u: &Url) -> Url {
    let mut u = u.clone();
    if u.scheme() == "http" {
        let _ = u.set_scheme("https");
    }
    if let Some(host) = u
        .host_str()
        .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
    {
        let host = host.strip_prefix("www.").unwrap_or(&host).to_string();
        let _ = u.set_host(Some(&host));
    }
    if u.port() == Some(443) || u.port() == Some(80) {
        let _ = u.set_port(None);
    }
    u.set_fragment(None);
    if u.query().is_some() {
        let kept: Vec<(String, String)> = u
            .query_pairs()
            .filter(|(k, _)| !is_tracking_param(k))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if kept.is_empty() {
            u.set_query(None);
        } else {
            u.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    u
}

fn host_key(host: &str) -> String {
    let h = host.to_ascii_lowercase();
    h.strip_prefix("www.").unwrap_or(&h).to_string()
}

/// Plain text from a title-like field (which may carry HTML when the feed says type="html").
fn plain(s: &str) -> String {
    if s.contains('<') {
        text::html_to_text(s)
    } else {
        text::clean(s)
    }
}

static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::default();
    b.url_schemes(["http", "https", "mailto"].into_iter().collect())
        .link_rel(Some("noopener noreferrer"))
        .strip_comments(true);
    b
});

/// Sanitized HTML (no script, style, event attributes or javascript: URLs), text-cleaned;
/// None when nothing visible is left.
/// Author names as stored: cleaned, empty ones dropped.
pub fn clean_authors(authors: &[String]) -> Vec<String> {
    authors
        .iter()
        .map(|a| text::clean(a))
        .filter(|a| !a.is_empty())
        .collect()
}

/// The stored search text of an article: its normalized fields, joined.
pub fn search_text(input: &MatchInput) -> String {
    Field::ALL
        .iter()
        .map(|f| input.normalized(*f))
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Sanitized HTML (no scripts, styles, event handlers or foreign embeds), text cleaned; None
/// when nothing is left.
pub fn sanitize(html: &str) -> Option<String> {
    let clean = text::clean_html_owned(SANITIZER.clean(html).to_string());
    let trimmed = clean.trim();
    if trimmed.is_empty() {
        None
    } else if trimmed.len() == clean.len() {
        Some(clean)
    } else {
        Some(trimmed.to_string())
    }
}

fn sha256_hex(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update([0u8]);
        }
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::entry::RawDate;

    #[test]
    fn canonical_urls() {
        let check = |raw: &str, expected: &str| {
            assert_eq!(
                canonical_url(&Url::parse(raw).unwrap()).as_str(),
                expected,
                "{raw}"
            );
        };
        check(
            "http://www.Nhandan.vn/bai-viet-123.html",
            "https://nhandan.vn/bai-viet-123.html",
        );
        check(
            "https://vnexpress.net/a-4924.html?at_medium=RSS&at_campaign=rss",
            "https://vnexpress.net/a-4924.html",
        );
        check(
            "https://a.vn/x?id=5&utm_source=fb&utm_medium=x",
            "https://a.vn/x?id=5",
        );
        check("https://a.vn:443/x#0", "https://a.vn/x");
        check("https://a.vn/x?page=2", "https://a.vn/x?page=2");
    }

    fn ctx() -> Context<'static> {
        Context {
            source_id: "nhandan",
            source_host: "nhandan.vn",
            timezone: chrono_tz::Asia::Ho_Chi_Minh,
            now: Utc.with_ymd_and_hms(2026, 11, 28, 3, 0, 0).unwrap(),
        }
    }

    fn entry(title: &str, link: Option<&str>, guid: Option<&str>) -> RawEntry {
        RawEntry {
            title: Some(title.to_string()),
            link: link.map(|l| Url::parse(l).unwrap()),
            guid: guid.map(String::from),
            ..Default::default()
        }
    }

    #[test]
    fn placeholders_are_dropped_and_counted() {
        let feed = Listing {
            entries: vec![
                entry("", None, Some("x")),
                entry("Tin", Some("https://a.vn/1"), None),
            ],
            ..Default::default()
        };
        let n = normalize(&feed, &ctx());
        assert_eq!((n.articles.len(), n.dropped), (1, 1));
    }

    #[test]
    fn shared_links_fall_back_to_guid() {
        let feed = Listing {
            entries: vec![
                entry("Một", Some("https://a.vn/"), Some("1")),
                entry("Hai", Some("https://a.vn/"), Some("2")),
            ],
            ..Default::default()
        };
        let n = normalize(&feed, &ctx());
        assert_ne!(n.articles[0].keys, n.articles[1].keys);
        assert_eq!(n.articles[0].keys.len(), 1);
    }

    /// The probe's identification cleans no title where the keys do not need one, and gives
    /// the keys, repeats and content hashes a full identification gives: copies of one item
    /// under a link do not make it shared, different items under one link fall back to their
    /// guid, an item with neither link nor guid is keyed by its cleaned title.
    #[test]
    fn identifying_for_the_probe_gives_the_full_keys() {
        let copy = entry("Một", Some("https://a.vn/1"), Some("1"));
        let mut untitled_keyed = entry("  Tin &amp; ảnh ", None, None);
        untitled_keyed.date = Some(RawDate {
            raw: "22/8/2026".into(),
            parsed: None,
        });
        let feed = Listing {
            entries: vec![
                copy.clone(),
                copy,
                entry("Hai", Some("https://a.vn/chung"), Some("2")),
                entry("Ba", Some("https://a.vn/chung"), Some("3")),
                untitled_keyed,
                entry("", None, Some("x")),
                entry("Bốn", Some("https://a.vn/4"), None),
            ],
            ..Default::default()
        };
        let ctx = ctx();
        let quick = identify_keys(&feed, &ctx);
        let full = identify(&feed, &ctx);
        let summary = |ids: &[Option<Identified>]| -> Vec<Option<(Vec<String>, String, bool)>> {
            ids.iter()
                .map(|i| {
                    i.as_ref()
                        .map(|i| (i.keys.clone(), i.content_hash.clone(), i.repeat))
                })
                .collect()
        };
        assert_eq!(summary(&quick), summary(&full));
        let url = Url::parse("https://a.vn/1").unwrap();
        let guid = |g: &str| sha256_hex(&["guid", "nhandan.vn", g]);
        let keys: Vec<Option<Vec<String>>> = full
            .iter()
            .map(|i| i.as_ref().map(|i| i.keys.clone()))
            .collect();
        assert_eq!(
            keys,
            vec![
                Some(vec![url_key(url.as_str()), guid("1")]),
                Some(vec![url_key(url.as_str()), guid("1")]),
                Some(vec![guid("2")]),
                Some(vec![guid("3")]),
                Some(vec![sha256_hex(&[
                    "title",
                    "nhandan",
                    "tin & ảnh",
                    "22/8/2026"
                ])]),
                None,
                Some(vec![url_key("https://a.vn/4")]),
            ]
        );
        assert_eq!(
            full.iter()
                .map(|i| i.as_ref().is_some_and(|i| i.repeat))
                .collect::<Vec<_>>(),
            [false, true, false, false, false, false, false]
        );
        // Only the items whose keys needed it had their title cleaned: a link carried twice
        // (copies or not), no link.
        let cleaned: Vec<bool> = quick
            .iter()
            .map(|i| i.as_ref().is_some_and(|i| i.title.is_some()))
            .collect();
        assert_eq!(cleaned, [true, true, true, true, true, false, false]);
        // Described, each has its title and alternative key.
        assert_eq!(full[6].as_ref().unwrap().title.as_deref(), Some("Bốn"));
        assert_eq!(
            full[2].as_ref().unwrap().alt_key,
            Some(url_key("https://a.vn/chung"))
        );
    }

    /// Keys are stored: if this test has to change, every stored article would come back as
    /// new. Never change it; add a migration instead.
    #[test]
    fn identity_keys_are_stable_across_releases() {
        let url = Url::parse("https://nhandan.vn/bai-viet-post912345.html").unwrap();
        let keys = identity_keys(&Identity {
            canonical_url: Some(&url),
            guid: Some("912345"),
            source_host: "www.nhandan.vn",
            source_id: "nhandan",
            title_key: "công tác dân vận",
            date: "",
        });
        assert_eq!(
            keys,
            vec![
                sha256_hex(&["url", url.as_str()]),
                sha256_hex(&["guid", "nhandan.vn", "912345"])
            ]
        );
        // sha256("url\0https://nhandan.vn/bai-viet-post912345.html"), computed with sha256sum.
        assert_eq!(
            keys[0],
            "85804bf0d98d42f8dc5bafb7bd4111ed810e5d98095d0eae3602d74e06850d43"
        );
        let keys = identity_keys(&Identity {
            canonical_url: None,
            guid: None,
            source_host: "nhandan.vn",
            source_id: "nhandan",
            title_key: "công tác dân vận",
            date: "Sat, 22 Aug 2026 23:55:31 +0700",
        });
        assert_eq!(
            keys,
            vec!["40383a08f2224d69000af5187b94dda9fb91bf19d9015ae57bbdd296691361c1".to_string()]
        );
    }

    #[test]
    fn guid_fragments_do_not_change_identity() {
        let a = identity_keys(&Identity {
            canonical_url: None,
            guid: Some("https://www.bbc.com/news/x-1#0"),
            source_host: "www.bbc.com",
            source_id: "bbc",
            title_key: "",
            date: "",
        });
        let b = identity_keys(&Identity {
            canonical_url: None,
            guid: Some("https://www.bbc.com/news/x-1#1"),
            source_host: "bbc.com",
            source_id: "bbc",
            title_key: "",
            date: "",
        });
        assert_eq!(a, b);
    }

    #[test]
    fn implausible_dates_are_guessed_and_kept_raw() {
        let mut e = entry("Tin", Some("https://a.vn/1"), None);
        e.date = Some(RawDate {
            raw: "1/1/1980".into(),
            parsed: Some(
                chrono::FixedOffset::east_opt(7 * 3600)
                    .unwrap()
                    .with_ymd_and_hms(1980, 1, 1, 0, 0, 0)
                    .unwrap(),
            ),
        });
        let feed = Listing {
            entries: vec![e],
            ..Default::default()
        };
        let a = &normalize(&feed, &ctx()).articles[0];
        assert!(a.date_guessed);
        assert_eq!(a.date_raw.as_deref(), Some("1/1/1980"));
        assert_eq!(a.published.to_rfc3339(), "2026-11-28T10:00:00+07:00");
    }

    #[test]
    fn html_is_sanitized() {
        let mut e = entry("Tin", Some("https://a.vn/1"), None);
        e.summary = Some(r#"<p onclick="x()">Nội dung<script>alert(1)</script> <a href="javascript:alert(1)">x</a></p>"#.into());
        let feed = Listing {
            entries: vec![e],
            ..Default::default()
        };
        let a = &normalize(&feed, &ctx()).articles[0];
        let s = a.summary_html.as_deref().unwrap();
        assert!(
            !s.contains("script") && !s.contains("onclick") && !s.contains("javascript"),
            "{s}"
        );
        assert!(s.contains("Nội dung"));
        assert_eq!(a.search_text, "tin nội dung x");
    }
}
