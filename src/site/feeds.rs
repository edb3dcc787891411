//! What a feed shows: the stories of a [`Scope`] (or of a search), newest first, one entry per story
//! ([`crate::stories`]), page by page ([`paging`]), as [`Entry`] values, and the feed's
//! [`Channel`] with the links to the pages around it. The server and the static export render
//! the same feeds from here.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::paging::{self, Cursor, PageQuery};
use super::paths::{self, Links};
use super::Scope;
use crate::config::Config;
use crate::publish::{Channel, Entry, Format, PageLinks};
use crate::store::{ArticleQuery, SearchQuery, Store, StoreError, StoredArticle};
use crate::stories::{self, Story};

/// Items in a feed unless `?limit=` says otherwise, and the most it may say.
pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 500;
/// Stored articles read per story wanted: room for syndicated copies folded into their story.
pub(super) const ARTICLES_PER_STORY: usize = 3;

/// One page of a feed, ready to render.
#[derive(Debug)]
pub struct FeedPage {
    /// Newest first, one per story (with every source of the story).
    pub entries: Vec<Entry>,
    /// When the newest of them last changed (Last-Modified).
    pub last_modified: Option<DateTime<Utc>>,
    /// The next older page, if any.
    pub older: Option<Cursor>,
    /// The next newer page, when this one is not the first.
    pub newer: Option<Cursor>,
}

/// The page `query` of the feed of `scope` ([`paging`] says how pages are cut).
pub fn page(
    config: &Config,
    store: &Store,
    scope: &Scope,
    query: &PageQuery,
) -> Result<FeedPage, StoreError> {
    let mut q = ArticleQuery::default();
    match scope {
        Scope::All => {}
        Scope::Source(s) => q.source = Some(s.clone()),
        Scope::Tag(t) => {
            q.any_source = Some(
                config
                    .sources
                    .iter()
                    .filter(|s| s.tags.contains(t))
                    .map(|s| s.id.clone())
                    .collect(),
            );
        }
        Scope::Topic(t) => q.topic = Some(t.clone()),
    }
    let topic_names: HashMap<&str, &str> = config.topics.topics().collect();
    let page = paging::read(store, &q, query)?;
    let stories = stories::merge(&page.articles);
    let last_modified = stories.iter().map(changed).max();
    Ok(FeedPage {
        entries: stories
            .iter()
            .map(|story| entry(config, &topic_names, story))
            .collect(),
        last_modified,
        older: page.older,
        newer: page.newer,
    })
}

/// The feed of a search: the stories of the newest articles holding its terms, as a feed's
/// first page makes them (a search is not paged: `?limit=` says how many).
pub fn search_entries(
    config: &Config,
    store: &Store,
    search: &SearchQuery,
    limit: usize,
) -> Result<(Vec<Entry>, Option<DateTime<Utc>>), StoreError> {
    let ids = store.search(&SearchQuery {
        limit: limit * ARTICLES_PER_STORY,
        ..search.clone()
    })?;
    let q = ArticleQuery {
        ids: Some(ids),
        since: search.since,
        ..ArticleQuery::default()
    };
    let topic_names: HashMap<&str, &str> = config.topics.topics().collect();
    let mut last_changed: Option<DateTime<Utc>> = None;
    let entries = newest_stories(store, q, limit, |story| {
        last_changed = last_changed.max(Some(changed(story)));
        entry(config, &topic_names, story)
    })?;
    Ok((entries, last_changed))
}

/// An article alone, as its topic's feeds show it: what a topic's webhook POSTs
/// ([`crate::publish::json_feed_item`]).
pub fn article_entry(config: &Config, article: &StoredArticle) -> Entry {
    let topic_names: HashMap<&str, &str> = config.topics.topics().collect();
    entry(config, &topic_names, &stories::alone(article))
}

/// The `limit` newest stories of `q`, each made into a `T` by `each`: the first page of a feed.
pub(super) fn newest_stories<T>(
    store: &Store,
    q: ArticleQuery,
    limit: usize,
    each: impl FnMut(&Story<'_, StoredArticle>) -> T,
) -> Result<Vec<T>, StoreError> {
    let first = PageQuery {
        limit,
        since: None,
        cursor: None,
    };
    let page = paging::read(store, &q, &first)?;
    Ok(stories::merge(&page.articles).iter().map(each).collect())
}

/// When any article of the story last changed.
fn changed(story: &Story<'_, StoredArticle>) -> DateTime<Utc> {
    story
        .articles
        .iter()
        .map(|a| a.updated.unwrap_or(a.first_seen).max(a.first_seen))
        .max()
        .unwrap_or(story.lead.first_seen)
}

fn entry(
    config: &Config,
    topic_names: &HashMap<&str, &str>,
    story: &Story<'_, StoredArticle>,
) -> Entry {
    let a = story.lead;
    Entry {
        id: format!("urn:bantin:{}", a.ident),
        title: a.title.clone(),
        link: a.url.clone(),
        summary_html: a.summary_html.clone(),
        content_html: a.content_html.clone(),
        published: a.published,
        updated: a.updated,
        authors: a.authors.clone(),
        categories: story
            .topics
            .iter()
            .map(|t| topic_names.get(t).copied().unwrap_or(t).to_string())
            .collect(),
        sources: story
            .sources
            .iter()
            .map(|id| match config.source(id) {
                Some(s) => (s.name.clone(), s.url.to_string()),
                None => (id.to_string(), config.http.public_url.to_string()),
            })
            .collect(),
        media: a.media.clone(),
    }
}

/// The feed itself: title and description from the scope, its own URL, its time, and on the
/// running server the pages around it. An exported feed is its first page alone: a file has
/// no query to page with.
pub fn channel(
    config: &Config,
    scope: &Scope,
    format: Format,
    query: &PageQuery,
    page: &FeedPage,
    links: Links,
) -> Channel {
    let base = &config.http.public_url;
    let title = match scope {
        Scope::All => "Tất cả nguồn".to_string(),
        Scope::Source(s) => config
            .source(s)
            .map(|x| x.name.clone())
            .unwrap_or_else(|| s.clone()),
        Scope::Tag(t) => format!("Nhóm nguồn {t}"),
        Scope::Topic(t) => config
            .topics
            .topics()
            .find(|(id, _)| id == t)
            .map(|(_, n)| n.to_string())
            .unwrap_or_else(|| t.clone()),
    };
    let url = |query: &PageQuery| {
        let path = paths::feed_page(scope, format, links, query);
        paths::absolute(base, &path).unwrap_or_else(|| base.to_string())
    };
    let at = |cursor: Option<Cursor>| PageQuery {
        cursor,
        ..query.clone()
    };
    let pages = match links {
        Links::Live => PageLinks {
            first: Some(url(&at(None))),
            next: page.older.map(|c| url(&at(Some(c)))),
            prev: page.newer.map(|c| url(&at(Some(c)))),
        },
        Links::Static => PageLinks::default(),
    };
    // An empty feed has no time of its own: the epoch keeps the bytes (and the ETag) stable.
    let updated = page.last_modified.unwrap_or_default();
    Channel {
        title: format!("bantin – {title}"),
        description: format!("{title}: tin tổng hợp từ các báo Đảng và Chính phủ"),
        link: base.to_string(),
        self_url: url(query),
        ttl_minutes: (poll_seconds(config) / 60).max(1) as u32,
        updated,
        pages,
    }
}

/// The channel of a search's feed: its title says what was searched for.
pub fn search_channel(
    config: &Config,
    typed: &str,
    format: Format,
    limit: usize,
    updated: Option<DateTime<Utc>>,
) -> Channel {
    let base = &config.http.public_url;
    let path = paths::search_with_query(format, typed, limit);
    Channel {
        title: format!("bantin – Tìm kiếm: {typed}"),
        description: format!("Các bài có {typed}: tin tổng hợp từ các báo Đảng và Chính phủ"),
        link: base.to_string(),
        self_url: paths::absolute(base, &path).unwrap_or_else(|| base.to_string()),
        ttl_minutes: (poll_seconds(config) / 60).max(1) as u32,
        updated: updated.unwrap_or_default(),
        pages: PageLinks::default(),
    }
}

/// Seconds between two polls on the default schedule (Cache-Control max-age, RSS ttl).
pub fn poll_seconds(config: &Config) -> u64 {
    let now = Utc::now();
    let mut ticks = config.poll.schedule.cron.after(&now);
    match (ticks.next(), ticks.next()) {
        (Some(a), Some(b)) => (b - a).num_seconds().clamp(60, 86_400) as u64,
        _ => 900,
    }
}
