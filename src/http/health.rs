//! `/healthz` (JSON for probes: is the database answering, is the scheduler turning, how are
//! the sources) and `/metrics` (Prometheus text). Never cached; the source counts are
//! [`HealthSummary`]'s, as the daemon's status line's are.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use super::{plain, AppState};
use crate::site::paths;
use crate::store::{HealthSummary, SourceHealth, StoreError};

/// The scheduler is considered dead when it has not turned for this long, in seconds.
const HEARTBEAT_MAX_AGE: i64 = 180;

/// The stored state of every configured source, summed up, and the other counts `f` reads,
/// on a blocking thread.
async fn read<T: Send + 'static>(
    app: &AppState,
    f: impl FnOnce(&crate::store::Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<(T, HealthSummary), StoreError> {
    let store = app.0.store.clone();
    let config = app.config();
    tokio::task::spawn_blocking(move || {
        let ids: Vec<String> = config.sources.iter().map(|s| s.id.clone()).collect();
        let other = f(&store)?;
        let states = store.source_states(&ids)?;
        let health = HealthSummary::of(&states, Utc::now(), config.poll.stale_days);
        Ok((other, health))
    })
    .await
    .map_err(StoreError::Task)?
}

pub(super) async fn healthz(State(app): State<AppState>) -> Response {
    let db = read(&app, |store| store.article_count()).await;
    let config = app.config();
    let beat = app.0.metrics.last_beat();
    let scheduler = beat > 0 && Utc::now().timestamp() - beat <= HEARTBEAT_MAX_AGE;
    let (status, body) = match &db {
        Ok((articles, health)) => {
            let ok = scheduler;
            (
                if ok {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                },
                serde_json::json!({
                    // Failing, gone or stale sources degrade the service but do not make it
                    // unavailable.
                    "status": if !ok {
                        "unavailable"
                    } else if health.troubled() > 0 {
                        "degraded"
                    } else {
                        "ok"
                    },
                    "database": true,
                    "scheduler": scheduler,
                    "articles": articles,
                    "sources": {
                        "ok": health.count(SourceHealth::Ok),
                        "failing": health.count(SourceHealth::Failing),
                        "gone": health.count(SourceHealth::Gone),
                        "empty": health.count(SourceHealth::Empty),
                        "pending": health.count(SourceHealth::Pending),
                        "stale": health.stale.len(),
                    },
                    // No new article for `stale_days` days: their feeds may have moved.
                    "stale": health.stale,
                    "stale_days": config.poll.stale_days,
                }),
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "health check: database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({ "status": "unavailable", "database": false, "scheduler": scheduler }),
            )
        }
    };
    app.0
        .metrics
        .request(&paths::route(paths::HEALTHZ), status.as_u16());
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response()
}

pub(super) async fn metrics(State(app): State<AppState>) -> Response {
    let route = paths::route(paths::METRICS);
    let db = read(&app, |store| {
        Ok((
            store.article_count()?,
            store.topic_counts(Utc::now())?,
            store.webhook_statuses()?,
        ))
    })
    .await;
    let Ok(((articles, topics, webhooks), health)) = db else {
        return plain(
            &app,
            &route,
            StatusCode::SERVICE_UNAVAILABLE,
            "database unavailable",
        );
    };
    let config = app.config();
    let m = &app.0.metrics;
    let mut out = String::new();
    out.push_str("# HELP bantin_fetches_total Source polls by outcome.\n# TYPE bantin_fetches_total counter\n");
    for (outcome, n) in m.fetch_counts() {
        out.push_str(&format!(
            "bantin_fetches_total{{outcome=\"{outcome}\"}} {n}\n"
        ));
    }
    out.push_str("# HELP bantin_articles Stored articles.\n# TYPE bantin_articles gauge\n");
    out.push_str(&format!("bantin_articles {articles}\n"));
    out.push_str("# HELP bantin_topic_matches Stored articles matching each topic.\n# TYPE bantin_topic_matches gauge\n");
    for (id, _) in config.topics.topics() {
        let n = topics.iter().find(|t| t.topic == id).map_or(0, |t| t.total);
        out.push_str(&format!("bantin_topic_matches{{topic=\"{id}\"}} {n}\n"));
    }
    // By what queued them, not by URL: a URL may carry a token.
    out.push_str("# HELP bantin_webhook_deliveries Webhook deliveries by kind, subject (a topic id) and status.\n# TYPE bantin_webhook_deliveries gauge\n");
    let mut counts: std::collections::BTreeMap<(&str, &str, &str), u64> = Default::default();
    for w in &webhooks {
        for (status, n) in [
            ("queued", w.queued),
            ("delivered", w.delivered),
            ("failed", w.failed),
            ("cancelled", w.cancelled),
            ("failing", w.failing),
        ] {
            *counts.entry((&w.kind, &w.subject, status)).or_default() += n;
        }
    }
    for ((kind, subject, status), n) in counts {
        out.push_str(&format!(
            "bantin_webhook_deliveries{{kind=\"{kind}\",subject=\"{subject}\",status=\"{status}\"}} {n}\n"
        ));
    }
    out.push_str("# HELP bantin_sources Sources by state.\n# TYPE bantin_sources gauge\n");
    for (h, n) in health.counts() {
        out.push_str(&format!("bantin_sources{{state=\"{}\"}} {n}\n", h.as_str()));
    }
    out.push_str("# HELP bantin_sources_stale Sources with no new article for [poll] stale_days days.\n# TYPE bantin_sources_stale gauge\n");
    out.push_str(&format!("bantin_sources_stale {}\n", health.stale.len()));
    out.push_str("# HELP bantin_http_requests_total HTTP requests by route and status.\n# TYPE bantin_http_requests_total counter\n");
    for ((route, status), n) in m.request_counts() {
        out.push_str(&format!(
            "bantin_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}\n"
        ));
    }
    out.push_str("# HELP bantin_panics_total Panics caught at a task edge, by unit of work.\n# TYPE bantin_panics_total counter\n");
    for (unit, n) in m.panic_counts() {
        out.push_str(&format!("bantin_panics_total{{unit=\"{unit}\"}} {n}\n"));
    }
    app.0.metrics.request(&route, 200);
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        out,
    )
        .into_response()
}
