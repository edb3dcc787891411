//! Every path bantin serves, in one place: the router mounts these, the index page and the
//! feeds link to them, the static export names its files after them, and digests put them in
//! their links. Pure; no axum types.
//!
//! Paths are relative (no leading `/`), to be joined to `[http] public_url` (which may itself
//! have a path, such as `https://example.vn/bantin/`); [`route`] gives the absolute path the
//! router mounts. On the running server a source's or a tag's feed is a query on the merged
//! feed (`feed.rss?source=nhan-dan`); exported as files it is a file of its own
//! (`sources/nhan-dan.rss`), as [`Links`] says.

use url::Url;

use super::feeds::DEFAULT_LIMIT;
use super::paging::{self, PageQuery};
use super::Scope;
use crate::publish::Format;

/// The index page.
pub const INDEX: &str = "";
/// The index page as an exported file.
pub const INDEX_FILE: &str = "index.html";
/// The configured sources as OPML.
pub const SOURCES_OPML: &str = "sources.opml";
/// Liveness and source health, JSON.
pub const HEALTHZ: &str = "healthz";
/// Prometheus metrics.
pub const METRICS: &str = "metrics";
/// The unsubscribe page (a GET confirms, a POST acts); see [`unsubscribe`].
pub const UNSUBSCRIBE: &str = "unsubscribe";
/// Search results as a feed: `search.EXT?q=…`.
pub const SEARCH: &str = "search";
/// The directory of topic feeds: `topics/ID.EXT`.
pub const TOPICS: &str = "topics";
/// The merged feed's file name without its extension: `feed.EXT`.
const MERGED: &str = "feed";
/// Exported per-source and per-tag feeds: `sources/ID.EXT`, `tags/NAME.EXT`.
const SOURCES: &str = "sources";
const TAGS: &str = "tags";

/// Where feeds live: on the running server (query parameters) or as exported files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    Live,
    Static,
}

/// The absolute path the router mounts for a relative `path`: `/` + path.
pub fn route(path: &str) -> String {
    format!("/{path}")
}

/// The feed of `scope` in `format`, with the default number of items.
pub fn feed(scope: &Scope, format: Format, links: Links) -> String {
    let ext = format.extension();
    match (scope, links) {
        (Scope::All, _) => format!("{MERGED}.{ext}"),
        (Scope::Topic(t), _) => format!("{TOPICS}/{t}.{ext}"),
        (Scope::Source(s), Links::Live) => format!("{MERGED}.{ext}?source={s}"),
        (Scope::Tag(t), Links::Live) => format!("{MERGED}.{ext}?tag={t}"),
        (Scope::Source(s), Links::Static) => format!("{SOURCES}/{s}.{ext}"),
        (Scope::Tag(t), Links::Static) => format!("{TAGS}/{t}.{ext}"),
    }
}

/// The page `query` of the feed of `scope` in `format`: [`feed`] with the query parameters
/// that differ from the first page of the default feed (`limit`, `since`, `before`/`after`).
pub fn feed_page(scope: &Scope, format: Format, links: Links, query: &PageQuery) -> String {
    let mut path = feed(scope, format, links);
    let mut param = |name: &str, value: &str| {
        path.push(if path.contains('?') { '&' } else { '?' });
        path.push_str(name);
        path.push('=');
        path.push_str(value);
    };
    if query.limit != DEFAULT_LIMIT {
        param("limit", &query.limit.to_string());
    }
    if let Some(since) = query.since {
        param("since", &paging::since_param(since));
    }
    if let Some(cursor) = &query.cursor {
        // Cursors are URL-safe base64: nothing to escape.
        param(cursor.param(), &cursor.value());
    }
    path
}

/// The search feed in `format`, without its query: the route.
pub fn search(format: Format) -> String {
    format!("{SEARCH}.{}", format.extension())
}

/// The search feed of what a reader typed, in `format`, with `limit` items (the parameter
/// left out when it is the default).
pub fn search_with_query(format: Format, typed: &str, limit: usize) -> String {
    let q: String = url::form_urlencoded::byte_serialize(typed.as_bytes()).collect();
    let path = format!("{}?q={q}", search(format));
    if limit == DEFAULT_LIMIT {
        path
    } else {
        format!("{path}&limit={limit}")
    }
}

/// The topic id and format of a file name under [`TOPICS`] (`dan-van.rss`), the inverse of
/// [`feed`] for [`Scope::Topic`]; None for an unknown extension.
pub fn topic_feed_file(file: &str) -> Option<(&str, Format)> {
    let (id, ext) = file.rsplit_once('.')?;
    Some((id, Format::from_extension(ext)?))
}

/// The unsubscribe link carrying `token` (tokens are URL-safe: nothing to escape).
pub fn unsubscribe(token: &str) -> String {
    format!("{UNSUBSCRIBE}?token={token}")
}

/// `path` under the public URL `base`, or None when the two do not make a URL.
pub fn absolute(base: &Url, path: &str) -> Option<String> {
    base.join(path).map(|u| u.to_string()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_paths() {
        let topic = Scope::Topic("dan-van".into());
        let source = Scope::Source("nhan-dan".into());
        let tag = Scope::Tag("dang".into());
        for (scope, format, links, limit, expected) in [
            (
                &Scope::All,
                Format::Rss,
                Links::Live,
                DEFAULT_LIMIT,
                "feed.rss",
            ),
            (
                &Scope::All,
                Format::Json,
                Links::Static,
                DEFAULT_LIMIT,
                "feed.json",
            ),
            (
                &Scope::All,
                Format::Atom,
                Links::Live,
                5,
                "feed.atom?limit=5",
            ),
            (
                &topic,
                Format::Atom,
                Links::Live,
                DEFAULT_LIMIT,
                "topics/dan-van.atom",
            ),
            (
                &topic,
                Format::Rss,
                Links::Static,
                DEFAULT_LIMIT,
                "topics/dan-van.rss",
            ),
            (
                &topic,
                Format::Rss,
                Links::Live,
                7,
                "topics/dan-van.rss?limit=7",
            ),
            (
                &source,
                Format::Rss,
                Links::Live,
                DEFAULT_LIMIT,
                "feed.rss?source=nhan-dan",
            ),
            (
                &source,
                Format::Rss,
                Links::Live,
                3,
                "feed.rss?source=nhan-dan&limit=3",
            ),
            (
                &source,
                Format::Json,
                Links::Static,
                DEFAULT_LIMIT,
                "sources/nhan-dan.json",
            ),
            (
                &tag,
                Format::Atom,
                Links::Live,
                DEFAULT_LIMIT,
                "feed.atom?tag=dang",
            ),
            (
                &tag,
                Format::Rss,
                Links::Static,
                DEFAULT_LIMIT,
                "tags/dang.rss",
            ),
        ] {
            assert_eq!(
                feed_page(
                    scope,
                    format,
                    links,
                    &PageQuery {
                        limit,
                        since: None,
                        cursor: None
                    }
                ),
                expected,
                "{scope:?} {format:?} {links:?} {limit}"
            );
        }
    }

    #[test]
    fn page_paths() {
        use crate::site::paging::Cursor;
        use crate::store::FeedKey;
        let key = FeedKey {
            published: 1,
            first_seen: 2,
            id: 3,
        };
        let since = chrono::DateTime::parse_from_rfc3339("2026-12-07T13:00:00+07:00")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let page = |limit, since, cursor| PageQuery {
            limit,
            since,
            cursor,
        };
        let value = Cursor::Before(key).value();
        for (scope, query, expected) in [
            (
                Scope::All,
                page(DEFAULT_LIMIT, None, None),
                "feed.rss".to_string(),
            ),
            (
                Scope::All,
                page(DEFAULT_LIMIT, None, Some(Cursor::Before(key))),
                format!("feed.rss?before={value}"),
            ),
            (
                Scope::Source("nhan-dan".into()),
                page(5, Some(since), Some(Cursor::After(key))),
                format!(
                    "feed.rss?source=nhan-dan&limit=5&since=2026-12-07T06:00:00Z&after={value}"
                ),
            ),
            (
                Scope::Topic("dan-van".into()),
                page(DEFAULT_LIMIT, Some(since), None),
                "topics/dan-van.rss?since=2026-12-07T06:00:00Z".to_string(),
            ),
        ] {
            assert_eq!(
                feed_page(&scope, Format::Rss, Links::Live, &query),
                expected
            );
        }
    }

    #[test]
    fn topic_files_read_back() {
        for format in Format::ALL {
            let path = feed(&Scope::Topic("dan-van".into()), format, Links::Live);
            let file = path.strip_prefix("topics/").unwrap();
            assert_eq!(topic_feed_file(file), Some(("dan-van", format)));
        }
        assert_eq!(topic_feed_file("a.b.rss"), Some(("a.b", Format::Rss)));
        for bad in ["dan-van", "dan-van.xml", "dan-van.RSS", ""] {
            assert_eq!(topic_feed_file(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn links_under_the_public_url() {
        let base = Url::parse("https://bantin.example/tin/").unwrap();
        assert_eq!(route(INDEX), "/");
        assert_eq!(route(SOURCES_OPML), "/sources.opml");
        assert_eq!(
            absolute(&base, &unsubscribe("abc_-1")).as_deref(),
            Some("https://bantin.example/tin/unsubscribe?token=abc_-1")
        );
        assert_eq!(
            absolute(
                &base,
                &feed(
                    &Scope::Topic("dan-van".into()),
                    Format::DEFAULT,
                    Links::Live
                )
            )
            .as_deref(),
            Some("https://bantin.example/tin/topics/dan-van.rss")
        );
        assert_eq!(absolute(&base, INDEX).as_deref(), Some(base.as_str()));
    }
}
