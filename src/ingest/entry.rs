//! What every source kind yields, whatever it read: a [`Listing`] of [`RawEntry`]s, before
//! normalization. The kinds (`feed`, the list pages of `scrape`) fill these types; `normalize`
//! and the store only ever see them, never a parser's own types.
//!
//! Text here is raw (not cleaned, HTML not sanitized) and every date keeps the string the
//! publisher wrote beside the instant read from it ([`RawDate`]), so an unreadable date can be
//! shown to the admin as it was.

use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use chrono_tz::Tz;
use url::Url;

use crate::config::Source;
use crate::date::{self, DateOrder};
use crate::media::Media;

/// The entries one fetched document lists (a feed, or an HTML list page), with what the
/// document says about itself.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    pub title: Option<String>,
    /// `<ttl>` or `sy:updatePeriod`/`sy:updateFrequency`: how often the publisher says to poll.
    pub poll_hint: Option<Duration>,
    pub entries: Vec<RawEntry>,
    /// What had to be repaired before the document parsed (empty for a well-formed feed), in
    /// words for `bantin sources`: `bare "&" escaped`, `truncated tail closed`.
    pub repairs: Vec<String>,
    /// A feed read as written: no dialect rewritten, nothing repaired or cut, the dialect check
    /// proving so. Only the items of such a document are recalled by their bytes on the next
    /// poll ([`crate::ingest::recall`]). False for every other kind.
    pub verbatim: bool,
}

/// One item as the source carried it (text not yet cleaned, HTML not yet sanitized).
#[derive(Debug, Clone, Default)]
pub struct RawEntry {
    /// The item's own id; None when the source gave none.
    pub guid: Option<String>,
    /// The item's link, resolved against the document's base.
    pub link: Option<Url>,
    pub title: Option<String>,
    /// HTML.
    pub summary: Option<String>,
    /// HTML.
    pub content: Option<String>,
    pub authors: Vec<String>,
    pub date: Option<RawDate>,
    /// Enclosures, images and other media the item names, checked ([`crate::media`]).
    pub media: Vec<Media>,
}

/// A date as published, and the instant [`date::parse`] read from it (None: unreadable).
#[derive(Debug, Clone, PartialEq)]
pub struct RawDate {
    pub raw: String,
    pub parsed: Option<DateTime<FixedOffset>>,
}

impl RawDate {
    /// `raw` read with the source's zone and day/month order.
    pub fn read(raw: &str, dates: DateContext) -> RawDate {
        RawDate {
            raw: raw.to_string(),
            parsed: date::parse(raw, dates.tz, dates.order, dates.now),
        }
    }
}

/// How to read a source's zone-less and numeric dates.
#[derive(Debug, Clone, Copy)]
pub struct DateContext {
    pub tz: Tz,
    pub order: DateOrder,
    pub now: DateTime<Utc>,
}

impl DateContext {
    /// The dates of `source`, read at `now`.
    pub fn of(source: &Source, now: DateTime<Utc>) -> DateContext {
        DateContext {
            tz: source.timezone,
            order: source.date_order,
            now,
        }
    }
}
