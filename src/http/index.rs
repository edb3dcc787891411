//! `/`: the index page ([`crate::site::index`]), cached like the feeds.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::cache::{cached, respond, Page};
use super::AppState;
use crate::site::index;
use crate::site::paths::{self, Links};

/// Seconds the page may be cached: source health changes with every poll, so a minute, not a
/// poll interval.
const INDEX_MAX_AGE: u64 = 60;

pub(super) async fn index(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let rendered = cached(&app, "index".into(), |app| {
        let body = index::render(&app.config(), &app.0.store, Links::Live)?;
        Ok(Page {
            status: StatusCode::OK,
            max_age: INDEX_MAX_AGE,
            content_type: "text/html; charset=utf-8",
            body: body.into_bytes(),
            last_modified: None,
        })
    })
    .await;
    respond(&app, &paths::route(paths::INDEX), rendered, &headers)
}
