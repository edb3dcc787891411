//! `/search.EXT?q=…`: the stored articles holding a query's terms ([`crate::search`]), newest
//! first, as a feed in every [`Format`], like the other feeds (`?limit=`, ETag and 304), and
//! narrowed by `?topic=ID` and `?since=` (RFC 3339 or a duration such as `7d`). A missing,
//! empty or unusable `q` is a 400 that says why. Results are rendered for each request and not
//! kept: readers choose the queries, so a cache of them would have no bound.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::Utc;

use super::cache::{fresh, respond, Page};
use super::feeds::limit_of;
use super::{plain, AppState, Params};
use crate::publish::{self, Format};
use crate::search::{self, Query as SearchTerms};
use crate::site::feeds;
use crate::site::paths;
use crate::store::SearchQuery;

pub(super) async fn search(
    State(app): State<AppState>,
    Query(q): Params,
    headers: HeaderMap,
    format: Format,
) -> Response {
    let route = paths::route(&paths::search(format));
    let bad = |msg: &str| plain(&app, &route, StatusCode::BAD_REQUEST, msg);
    let Some(typed) = q.get("q").cloned() else {
        return bad(&format!(
            "give the words to search for as ?q=, e.g. {}",
            paths::route(&paths::search_with_query(
                format,
                "\"dân vận\"",
                feeds::DEFAULT_LIMIT
            ))
        ));
    };
    let terms = match SearchTerms::parse(&typed) {
        Ok(terms) => terms,
        Err(e) => return bad(&e.to_string()),
    };
    let limit = match limit_of(&q) {
        Ok(l) => l,
        Err(msg) => return bad(&msg),
    };
    let since = match q.get("since").map(|s| search::parse_since(s, Utc::now())) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => return bad(&e.to_string()),
    };
    let config = app.config();
    let topic = q.get("topic").cloned();
    if let Some(t) = topic
        .as_deref()
        .filter(|t| !config.topics.topics().any(|(id, _)| id == *t))
    {
        let msg = format!("no topic {t:?}");
        return plain(&app, &route, StatusCode::NOT_FOUND, &msg);
    }
    let search = SearchQuery {
        query: terms,
        topic,
        since,
        limit,
    };
    let rendered = fresh(&app, move |app| {
        let config = app.config();
        let (entries, last_modified) =
            feeds::search_entries(&config, &app.0.store, &search, limit)?;
        let channel = feeds::search_channel(&config, &typed, format, limit, last_modified);
        Ok(Page {
            status: StatusCode::OK,
            max_age: feeds::poll_seconds(&config),
            content_type: format.content_type(),
            body: publish::render(format, &channel, &entries),
            last_modified,
        })
    })
    .await;
    respond(&app, &route, rendered, &headers)
}
