//! Domain data passed from ingest to store: a normalized article ready to be stored once.
//!
//! Everything here is plain data. Text is already cleaned (NFC, no impostors, no invisible
//! characters), HTML already sanitized, and the identity keys already computed, so the store only
//! compares keys and never re-interprets text.

use chrono::{DateTime, FixedOffset};

use crate::media::Media;
use crate::topics::TopicMatch;

/// An article as one source carried it, normalized and ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewArticle {
    /// Identity keys, most authoritative first (see `ingest::normalize::identity_keys`).
    /// Any one of them found in the store means "this article is already known".
    pub keys: Vec<String>,
    /// The link as published, made absolute.
    pub url: Option<String>,
    /// The canonical form of `url` (https, no `www.`, no tracking parameters, no fragment).
    pub canonical_url: Option<String>,
    /// Host of the canonical URL without `www.`: syndication links stories across hosts only.
    pub host: Option<String>,
    /// The item's own id (RSS guid / Atom id / JSON Feed id), when it had one.
    pub guid: Option<String>,
    /// Plain display title.
    pub title: String,
    /// True when the entry had no title and `title` stands in for one (its first words, or its
    /// URL): the article page's title replaces it when the page is read.
    pub title_guessed: bool,
    /// `text::match_key` of the title: what syndicated copies share.
    pub title_key: String,
    /// Sanitized HTML.
    pub summary_html: Option<String>,
    /// Sanitized HTML of the full content, when the feed carried it.
    pub content_html: Option<String>,
    /// `text::match_key` of title, summary and content as plain text: what topics match against.
    pub search_text: String,
    /// `MatchInput::search_layout` of the same input, when `search_text` was built from these
    /// very fields: matching then rebuilds its input from `search_text` instead of the HTML.
    pub search_layout: Option<String>,
    pub authors: Vec<String>,
    pub published: DateTime<FixedOffset>,
    /// True when no plausible date was found and `published` is the first-seen time.
    pub date_guessed: bool,
    /// The raw date string when it could not be used.
    pub date_raw: Option<String>,
    /// Hash of the item as published (title, link, summary, content, authors): a change means
    /// "updated".
    pub content_hash: String,
    /// Topics the article matches, with the phrases that matched.
    pub matches: Vec<TopicMatch>,
    /// Enclosures and images, checked and capped ([`crate::media`]).
    pub media: Vec<Media>,
}
