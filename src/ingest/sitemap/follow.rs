//! `kind = "sitemap"`: a source's sitemap read, and when it is an index, its newest child
//! sitemaps fetched and read into one listing. The async half of the sitemap kind, called from
//! [`crate::ingest::kind::read`]; the parent module stays pure.
//!
//! ```text
//! the source's body ─┬─ urlset → its entries
//!                    └─ index  → children on its own site, newest first (children_to_fetch):
//!                                 the newest always, the others when their lastmod is after the
//!                                 last poll, each fetched with If-Modified-Since
//!                                   ├─ urlset → its entries, merged
//!                                   └─ index  → its children the same way (one level only)
//! ```
//!
//! Invariants:
//! - At most [`MAX_FOLLOWED`] child documents are fetched per poll, at all levels together, one
//!   after another through the poll's [`crate::ingest::fetch::Fetcher`], so the per-host limits and spacing apply.
//!   Newest first, so the news comes first: a first poll of an archive index reads its newest
//!   children, and later polls those that change. Children that changed since the last poll
//!   but found the bound reached are said in the listing's notes: their new entries are missed
//!   unless they change again (a site whose sitemaps change faster is better read from its
//!   news sitemap, which `bantin discover` lists).
//! - At most [`MAX_ENTRIES`] entries come out of one poll, however many children were read; a
//!   page listed by two children is kept once, from the newer.
//! - One child failing is a note on the listing, not the poll's failure; only when every child
//!   fetched failed (and none answered 304) is the poll's error the first failure. Either way a
//!   failure makes the listing incomplete ([`Listed::complete`]), so the next poll reads the
//!   index and its children whole again.
//! - Shutdown stops the reading between fetches; what was read by then is kept.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use url::Url;

use super::{children_to_fetch, parse, Child, Index, Sitemap, SitemapError, UrlSet, MAX_ENTRIES};
use crate::config::Source;
use crate::ingest::entry::{Listing, RawDate, RawEntry};
use crate::ingest::fetch::{Body, FetchError, Request, Response};
use crate::ingest::kind::{off_runtime, Context, Listed, ReadError};

/// Child documents fetched per poll at most, at all levels. Five covers what news sites
/// publish: the news sitemap (the last two days), the current day's or month's sitemap and the
/// one before it (a poll just after midnight still finds the last articles of the day), or a
/// nested index with its two newest children. At the default spacing of one request a second
/// per host it adds at most five seconds to a poll; a first poll of a big archive index reads
/// its newest five and no more.
pub const MAX_FOLLOWED: usize = 5;

/// How deep documents are fetched: the source's index is level 0, its children level 1, the
/// children of an index among them level 2. An index at level 2 is not followed: the protocol
/// has no index of indexes, and sites that nest do it once (a per-section index in a site
/// index).
pub const MAX_DEPTH: u8 = 2;

/// A child's `lastmod` is compared with the last poll this much earlier, and If-Modified-Since
/// asks for changes since then: publishers' clocks and ours differ, and generators that stamp
/// a sitemap with its newest article's time write it later, from a job that runs every so
/// often. A child changed within the hour before a poll is read once or twice more; one missed
/// would be its new entries lost.
const CLOCK_SLACK: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// A document fetched, or passed over, while following an index.
#[derive(Debug, Clone, PartialEq)]
pub struct Followed {
    pub url: Url,
    /// 0: the source's own index; 1: its children; 2: the children of an index among them.
    pub depth: u8,
    /// The `lastmod` its index gave it, as written.
    pub lastmod: Option<String>,
    pub fate: Fate,
}

/// What became of a followed document.
#[derive(Debug, Clone, PartialEq)]
pub enum Fate {
    /// An index, whose children follow it in the list. Of its `children`: `off_site` are not on
    /// its own site (never fetched), `unchanged` were passed over (their `lastmod` is not after
    /// the last poll), `left` were not read because [`MAX_FOLLOWED`] documents were.
    Index {
        children: usize,
        off_site: usize,
        unchanged: usize,
        left: usize,
    },
    /// A sitemap read, with this many entries (before merging with the others).
    Read {
        entries: usize,
    },
    /// It answered 304 to If-Modified-Since.
    NotModified,
    /// An index at [`MAX_DEPTH`]: not followed.
    TooDeep {
        children: usize,
    },
    Failed(ChildError),
    /// Shutdown came first.
    Cancelled,
}

/// Why a child sitemap was not read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ChildError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Read(#[from] SitemapError),
}

/// The entries of a sitemap source's body: a sitemap's own, or an index's children's.
pub async fn read(
    ctx: &Context<'_>,
    source: &Source,
    body: Arc<Body>,
) -> Result<Listed, ReadError> {
    let url = body.final_url.clone();
    match read_off_runtime(ctx, body).await?? {
        Sitemap::Urls(set) => Ok(Listed {
            listing: set.to_feed(),
            followed: Vec::new(),
        }),
        Sitemap::Index(index) => {
            let mut walk = Walk::new(ctx, source);
            walk.repairs
                .extend(index.notes.iter().map(ToString::to_string));
            // Listed first, its counts once its children are followed.
            walk.followed.push(Followed {
                url: url.clone(),
                depth: 0,
                lastmod: None,
                fate: Fate::Cancelled,
            });
            walk.followed[0].fate = walk.children(&url, &index, 0).await;
            walk.finish()
        }
    }
}

/// `body` read as a sitemap on a blocking thread, compressed documents decompressed up to the
/// fetch cap.
async fn read_off_runtime(
    ctx: &Context<'_>,
    body: Arc<Body>,
) -> Result<Result<Sitemap, SitemapError>, ReadError> {
    let (dates, cap) = (ctx.dates, ctx.fetcher.max_bytes());
    off_runtime(move || {
        let charset = body.charset.as_deref();
        parse(&body.bytes, charset, &body.final_url, dates, cap)
    })
    .await
}

/// Whether a child whose index dates it `lastmod` may have changed after `since` (the last
/// poll). Undated, unreadable and never-polled mean it may. A date without a time of day
/// covers the whole day.
fn may_have_changed(lastmod: Option<&RawDate>, since: Option<DateTime<Utc>>) -> bool {
    let (Some(since), Some(lastmod)) = (since, lastmod) else {
        return true;
    };
    let Some(at) = lastmod.parsed else {
        return true;
    };
    let end = if lastmod.raw.contains(':') {
        at
    } else {
        at + chrono::TimeDelta::days(1)
    };
    end.with_timezone(&Utc) > since - CLOCK_SLACK
}

/// One poll's walk over an index and its children.
struct Walk<'c, 'a> {
    ctx: &'c Context<'a>,
    source: &'c Source,
    /// Child documents that may still be fetched.
    budget: usize,
    followed: Vec<Followed>,
    title: Option<String>,
    entries: Vec<RawEntry>,
    /// Pages kept so far, fragment removed.
    pages: HashSet<Url>,
    /// Entries past [`MAX_ENTRIES`], not kept.
    beyond: usize,
    repairs: Vec<String>,
}

impl<'c, 'a> Walk<'c, 'a> {
    fn new(ctx: &'c Context<'a>, source: &'c Source) -> Walk<'c, 'a> {
        Walk {
            ctx,
            source,
            budget: MAX_FOLLOWED,
            followed: Vec::new(),
            title: None,
            entries: Vec::new(),
            pages: HashSet::new(),
            beyond: 0,
            repairs: Vec::new(),
        }
    }

    /// Follows the children of `index` (at `url`, level `depth`), each listed after it; returns
    /// the index's own fate.
    async fn children(&mut self, url: &Url, index: &Index, depth: u8) -> Fate {
        let on_site = children_to_fetch(index, url, usize::MAX);
        let (mut unchanged, mut left) = (0, 0);
        for (i, child) in on_site.iter().enumerate() {
            // The newest child always: a news sitemap rewritten in place may keep its lastmod.
            if i > 0 && !may_have_changed(child.lastmod.as_ref(), self.ctx.since) {
                unchanged += 1;
                continue;
            }
            if self.budget == 0 {
                left += 1;
                continue;
            }
            let lastmod = child.lastmod.as_ref().map(|d| d.raw.clone());
            if self.ctx.cancel.is_cancelled() {
                // Said once, where reading stopped; the rest wait like children past the bound.
                self.followed.push(Followed {
                    url: child.loc.clone(),
                    depth: depth + 1,
                    lastmod,
                    fate: Fate::Cancelled,
                });
                self.budget = 0;
                left += 1;
                continue;
            }
            self.budget -= 1;
            // Listed before what it leads to (a nested index's children); its fate once read.
            let at = self.followed.len();
            self.followed.push(Followed {
                url: child.loc.clone(),
                depth: depth + 1,
                lastmod,
                fate: Fate::Cancelled,
            });
            let fate = self.child(child, depth + 1).await;
            if fate == Fate::Cancelled {
                self.budget = 0;
            }
            self.followed[at].fate = fate;
        }
        if left > 0 && self.ctx.since.is_some() && !self.ctx.cancel.is_cancelled() {
            self.repairs.push(format!(
                "{left} child sitemaps of {url} changed since the last poll were not read (at most {MAX_FOLLOWED} a poll): read the news sitemap itself to miss nothing"
            ));
        }
        Fate::Index {
            children: index.children.len(),
            off_site: index.children.len() - on_site.len(),
            unchanged,
            left,
        }
    }

    /// Fetches and reads one child at level `depth`.
    async fn child(&mut self, child: &Child, depth: u8) -> Fate {
        let since = self.ctx.since.map(|t| t - CLOCK_SLACK);
        let request = Request::followed(self.source, child.loc.clone(), since);
        let fetched = tokio::select! {
            r = self.ctx.fetcher.fetch(&request) => r,
            _ = self.ctx.cancel.cancelled() => return Fate::Cancelled,
        };
        let body: Arc<Body> = match fetched {
            Ok(Response::NotModified { .. }) => return Fate::NotModified,
            Ok(Response::Body(body)) => Arc::from(body),
            Err(e) => return self.failed(&child.loc, e.into()),
        };
        let url = body.final_url.clone();
        match read_off_runtime(self.ctx, body).await {
            Err(_) => Fate::Cancelled,
            Ok(Err(e)) => self.failed(&child.loc, e.into()),
            Ok(Ok(Sitemap::Urls(set))) => {
                let entries = set.entries.len();
                self.merge(&url, &set);
                Fate::Read { entries }
            }
            Ok(Ok(Sitemap::Index(inner))) if depth < MAX_DEPTH => {
                self.noted(&url, inner.notes.iter().map(ToString::to_string));
                Box::pin(self.children(&url, &inner, depth)).await
            }
            Ok(Ok(Sitemap::Index(inner))) => Fate::TooDeep {
                children: inner.children.len(),
            },
        }
    }

    fn failed(&mut self, url: &Url, error: ChildError) -> Fate {
        tracing::warn!(source = %self.source.id, url = %url, %error, "child sitemap failed");
        self.repairs.push(format!(
            "child sitemap {url} failed ({error}): read again at the next poll"
        ));
        Fate::Failed(error)
    }

    /// The notes of the document at `url`, named by it.
    fn noted(&mut self, url: &Url, notes: impl Iterator<Item = String>) {
        self.repairs.extend(notes.map(|n| format!("{url}: {n}")));
    }

    /// Adds the entries of a child sitemap: pages not listed by a newer child, up to
    /// [`MAX_ENTRIES`] in all.
    fn merge(&mut self, url: &Url, set: &UrlSet) {
        let listing = set.to_feed();
        self.noted(url, listing.repairs.into_iter());
        if self.title.is_none() {
            self.title = listing.title;
        }
        for entry in listing.entries {
            let Some(mut page) = entry.link.clone() else {
                continue;
            };
            page.set_fragment(None);
            if self.pages.contains(&page) {
                continue;
            }
            if self.entries.len() >= MAX_ENTRIES {
                self.beyond += 1;
                continue;
            }
            self.pages.insert(page);
            self.entries.push(entry);
        }
    }

    /// The listing, or the poll's error when every child fetched failed.
    fn finish(mut self) -> Result<Listed, ReadError> {
        let mut failures = self.followed.iter().filter_map(|f| match &f.fate {
            Fate::Failed(e) => Some((&f.url, e)),
            _ => None,
        });
        let answered = self
            .followed
            .iter()
            .any(|f| matches!(f.fate, Fate::Read { .. } | Fate::NotModified));
        if let (Some((url, error)), false) = (failures.next(), answered) {
            return Err(ReadError::Children {
                url: url.clone(),
                error: Box::new(error.clone()),
                failed: 1 + failures.count(),
            });
        }
        let cancelled = self
            .followed
            .iter()
            .any(|f| matches!(f.fate, Fate::Cancelled));
        if cancelled && self.entries.is_empty() {
            return Err(ReadError::Interrupted);
        }
        if self.beyond > 0 {
            self.repairs.push(format!(
                "more than {MAX_ENTRIES} entries in the child sitemaps read: the newest {MAX_ENTRIES} kept, {} dropped",
                self.beyond
            ));
        }
        Ok(Listed {
            listing: Listing {
                title: self.title,
                poll_hint: None,
                entries: self.entries,
                repairs: self.repairs,
                verbatim: false,
            },
            followed: self.followed,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::ingest::entry::DateContext;

    fn dates() -> DateContext {
        DateContext {
            tz: chrono_tz::Asia::Ho_Chi_Minh,
            order: crate::date::DateOrder::Dmy,
            now: Utc::now(),
        }
    }

    #[test]
    fn a_child_is_passed_over_only_when_its_lastmod_is_well_before_the_last_poll() {
        let since = Utc.with_ymd_and_hms(2026, 11, 28, 3, 0, 0).unwrap(); // 10:00 +07:00
        let check = |lastmod: Option<&str>, since: Option<DateTime<Utc>>, expected: bool| {
            let date = lastmod.map(|raw| RawDate::read(raw, dates()));
            assert_eq!(
                may_have_changed(date.as_ref(), since),
                expected,
                "{lastmod:?} since {since:?}"
            );
        };
        let at = Some(since);
        check(Some("2026-11-28T09:30:00+07:00"), at, true); // within the slack
        check(Some("2026-11-28T08:59:59+07:00"), at, false);
        check(Some("2026-11-28T08:00:00+07:00"), at, false);
        check(Some("2026-11-28T11:00:00+07:00"), at, true);
        // A date alone covers its day: 28 Nov is still going on at 10:00.
        check(Some("2026-11-28"), at, true);
        check(Some("2026-11-27"), at, false);
        // Undated, unreadable, never polled: fetched.
        check(None, at, true);
        check(Some("không rõ"), at, true);
        check(Some("2020-01-01T00:00:00Z"), None, true);
    }
}
