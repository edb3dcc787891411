//! The feeds: merged (`/feed.EXT`, narrowed by `?source=` or `?tag=`), per topic
//! (`/topics/ID.EXT`), in every [`Format`], with `?limit=`, `?since=` and the page cursors
//! `?before=` / `?after=` ([`crate::site::paging`]); and `/sources.opml`. Handlers check
//! the request and hand [`crate::site`] a [`Scope`]; the bodies are cached ([`super::cache`]).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::cache::{cached, respond, Page};
use super::{merged_feed_route, plain, AppState, Params};
use crate::publish::{self, Format};
use crate::site::feeds::{self, DEFAULT_LIMIT, MAX_LIMIT};
use crate::site::paging::{self, Cursor, PageQuery};
use crate::site::paths::{self, Links};
use crate::site::{opml as opml_list, Scope};

/// Seconds `/sources.opml` may be cached: sources change only with the configuration.
const OPML_MAX_AGE: u64 = 300;

/// The merged feed in `format`, or one source's or one tag's.
pub(super) async fn feed(
    State(app): State<AppState>,
    Query(q): Params,
    headers: HeaderMap,
    format: Format,
) -> Response {
    let route = merged_feed_route(format);
    let config = app.config();
    let scope = match (q.get("source"), q.get("tag")) {
        (Some(_), Some(_)) => {
            return plain(
                &app,
                &route,
                StatusCode::BAD_REQUEST,
                "use either ?source= or ?tag=, not both",
            )
        }
        (Some(s), None) => {
            if config.source(s).is_none() {
                let msg = format!(
                    "no source {s:?}; see {} for the sources",
                    paths::route(paths::SOURCES_OPML)
                );
                return plain(&app, &route, StatusCode::NOT_FOUND, &msg);
            }
            Scope::Source(s.clone())
        }
        (None, Some(t)) => {
            if !config.sources.iter().any(|s| s.tags.contains(t)) {
                let msg = format!("no source has the tag {t:?}");
                return plain(&app, &route, StatusCode::NOT_FOUND, &msg);
            }
            Scope::Tag(t.clone())
        }
        (None, None) => Scope::All,
    };
    let query = match page_query(&q) {
        Ok(query) => query,
        Err(msg) => return plain(&app, &route, StatusCode::BAD_REQUEST, &msg),
    };
    serve_feed(app, &route, scope, format, query, &headers).await
}

/// A topic's feed: `/topics/ID.EXT`.
pub(super) async fn topic_feed(
    State(app): State<AppState>,
    Path(file): Path<String>,
    Query(q): Params,
    headers: HeaderMap,
) -> Response {
    let route = paths::route(&format!("{}/{{id}}", paths::TOPICS));
    let Some((id, format)) = paths::topic_feed_file(&file) else {
        let msg = format!("not found: topic feeds are {}", topic_feed_forms());
        return plain(&app, &route, StatusCode::NOT_FOUND, &msg);
    };
    let config = app.config();
    if !config.topics.topics().any(|(t, _)| t == id) {
        let known: Vec<&str> = config.topics.topics().map(|(t, _)| t).collect();
        let msg = format!(
            "no topic {id:?}; topics: {}",
            if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            }
        );
        return plain(&app, &route, StatusCode::NOT_FOUND, &msg);
    }
    let query = match page_query(&q) {
        Ok(query) => query,
        Err(msg) => return plain(&app, &route, StatusCode::BAD_REQUEST, &msg),
    };
    let scope = Scope::Topic(id.to_string());
    serve_feed(app, &route, scope, format, query, &headers).await
}

/// "/topics/ID.rss, /topics/ID.atom and /topics/ID.json": the paths a topic feed may have.
fn topic_feed_forms() -> String {
    let forms: Vec<String> = Format::ALL
        .into_iter()
        .map(|f| paths::route(&paths::feed(&Scope::Topic("ID".into()), f, Links::Live)))
        .collect();
    match forms.split_last() {
        Some((last, init)) if !init.is_empty() => format!("{} and {last}", init.join(", ")),
        _ => forms.concat(),
    }
}

/// `?limit=`: stories a page; the default without one.
pub(super) fn limit_of(q: &HashMap<String, String>) -> Result<usize, String> {
    match q.get("limit") {
        None => Ok(DEFAULT_LIMIT),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(format!(
                "limit must be a number from 1 to {MAX_LIMIT}, not {v:?}"
            )),
        },
    }
}

/// The page a request asks for: `?limit=`, `?since=`, `?before=` or `?after=`.
fn page_query(q: &HashMap<String, String>) -> Result<PageQuery, String> {
    let limit = limit_of(q)?;
    let since = q
        .get("since")
        .map(|v| paging::since(v))
        .transpose()
        .map_err(|e| e.to_string())?;
    let cursor = Cursor::from_params(
        q.get("before").map(String::as_str),
        q.get("after").map(String::as_str),
    )
    .map_err(|e| e.to_string())?;
    Ok(PageQuery {
        limit,
        since,
        cursor,
    })
}

async fn serve_feed(
    app: AppState,
    route: &str,
    scope: Scope,
    format: Format,
    query: PageQuery,
    headers: &HeaderMap,
) -> Response {
    // Every page is a body of its own, with its own ETag.
    let key = format!("feed|{scope:?}|{}|{query:?}", format.extension());
    let rendered = cached(&app, key, move |app| {
        let config = app.config();
        let page = feeds::page(&config, &app.0.store, &scope, &query)?;
        let channel = feeds::channel(&config, &scope, format, &query, &page, Links::Live);
        Ok(Page {
            status: StatusCode::OK,
            max_age: feeds::poll_seconds(&config),
            content_type: format.content_type(),
            body: publish::render(format, &channel, &page.entries),
            last_modified: page.last_modified,
        })
    })
    .await;
    respond(&app, route, rendered, headers)
}

/// `/sources.opml`: the configured sources.
pub(super) async fn opml(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let rendered = cached(&app, "opml".into(), |app| {
        Ok(Page {
            status: StatusCode::OK,
            max_age: OPML_MAX_AGE,
            content_type: "text/x-opml; charset=utf-8",
            body: opml_list::sources(&app.config()).into_bytes(),
            last_modified: None,
        })
    })
    .await;
    respond(&app, &paths::route(paths::SOURCES_OPML), rendered, &headers)
}
