//! What a feed shows: the stories of a [`Scope`] (or of a search), newest first, one entry per story
//! ([`crate::stories`]), as [`Entry`] values, and the feed's [`Channel`]. The server and the
//! static export render the same feeds from here.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::paths::{self, Links};
use super::Scope;
use crate::config::Config;
use crate::publish::{Channel, Entry, Format};
use crate::store::{ArticleQuery, SearchQuery, Store, StoreError, StoredArticle};
use crate::stories::{self, Story};

/// Items in a feed unless `?limit=` says otherwise, and the most it may say.
pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 500;
/// Stored articles read per story wanted: room for syndicated copies folded into their story.
const ARTICLES_PER_STORY: usize = 3;

/// The feed of `scope`: newest first, one entry per story (with every source of the story), at
/// most `limit`; and when the newest of them last changed (Last-Modified).
pub fn entries(
    config: &Config,
    store: &Store,
    scope: &Scope,
    limit: usize,
) -> Result<(Vec<Entry>, Option<DateTime<Utc>>), StoreError> {
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
    entries_of(config, store, q, limit)
}

/// The feed of a search: the stories of the newest articles holding its terms, as
/// [`entries`] makes them.
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
    entries_of(config, store, q, limit)
}

fn entries_of(
    config: &Config,
    store: &Store,
    q: ArticleQuery,
    limit: usize,
) -> Result<(Vec<Entry>, Option<DateTime<Utc>>), StoreError> {
    let topic_names: HashMap<&str, &str> = config.topics.topics().collect();
    let mut last_changed: Option<DateTime<Utc>> = None;
    let entries = newest_stories(store, q, limit, |story| {
        last_changed = last_changed.max(Some(changed(story)));
        entry(config, &topic_names, story)
    })?;
    Ok((entries, last_changed))
}

/// The `limit` newest stories of `q`, each made into a `T` by `each`.
pub(super) fn newest_stories<T>(
    store: &Store,
    q: ArticleQuery,
    limit: usize,
    mut each: impl FnMut(&Story<'_, StoredArticle>) -> T,
) -> Result<Vec<T>, StoreError> {
    let articles = store.articles(&ArticleQuery {
        limit: limit * ARTICLES_PER_STORY,
        ..q
    })?;
    Ok(stories::merge(&articles)
        .iter()
        .take(limit)
        .map(&mut each)
        .collect())
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
    }
}

/// The feed itself: title and description from the scope, its own URL, its time.
pub fn channel(
    config: &Config,
    scope: &Scope,
    format: Format,
    limit: usize,
    updated: Option<DateTime<Utc>>,
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
    let path = paths::feed_with_limit(scope, format, links, limit);
    // An empty feed has no time of its own: the epoch keeps the bytes (and the ETag) stable.
    let updated = updated.unwrap_or_default();
    Channel {
        title: format!("bantin – {title}"),
        description: format!("{title}: tin tổng hợp từ các báo Đảng và Chính phủ"),
        link: base.to_string(),
        self_url: paths::absolute(base, &path).unwrap_or_else(|| base.to_string()),
        ttl_minutes: (poll_seconds(config) / 60).max(1) as u32,
        updated,
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
