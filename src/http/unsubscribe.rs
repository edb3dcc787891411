//! `/unsubscribe?token=…`: a GET shows a confirmation page with a button (mail scanners follow
//! links; only a POST acts), a POST unsubscribes (also the RFC 8058 one-click POST mail clients
//! send). Only what a valid token ([`crate::unsubscribe::verify`]) carries is acted on.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use super::{AppState, Params};
use crate::config::Config;
use crate::site::paths;
use crate::store::StoreError;
use crate::unsubscribe::{self, Request};

/// The request a token carries, or a page saying the link is not valid.
fn verified(app: &AppState, q: &HashMap<String, String>) -> Result<Request, Box<Response>> {
    let secret = app
        .0
        .secret
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let request = match (secret, q.get("token")) {
        (Some(secret), Some(token)) => unsubscribe::verify(&secret, token).ok(),
        _ => None,
    };
    request.ok_or_else(|| {
        Box::new(html_page(
            app,
            StatusCode::BAD_REQUEST,
            "Liên kết không hợp lệ",
            "Liên kết hủy đăng ký này không hợp lệ hoặc đã bị sửa đổi.",
        ))
    })
}

/// What the request unsubscribes from, in words.
fn what(req: &Request, config: &Config) -> String {
    match &req.topic {
        None => "tất cả bản tin".to_string(),
        Some(t) => {
            let name = config
                .topics
                .topics()
                .find(|(id, _)| id == t)
                .map(|(_, n)| n.to_string())
                .unwrap_or_else(|| t.clone());
            format!("bản tin chủ đề “{name}”")
        }
    }
}

/// GET: a confirmation page with a button.
pub(super) async fn page(State(app): State<AppState>, Query(q): Params) -> Response {
    let req = match verified(&app, &q) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    let token = q.get("token").cloned().unwrap_or_default();
    let body = format!(
        "<p>Hủy đăng ký {} cho địa chỉ <b>{}</b>?</p>\n<form method=\"post\" action=\"{}\"><button type=\"submit\">Hủy đăng ký</button></form>",
        html_escape::encode_text(&what(&req, &app.config())),
        html_escape::encode_text(&req.email),
        html_escape::encode_double_quoted_attribute(&paths::unsubscribe(&token)),
    );
    html_page(&app, StatusCode::OK, "Hủy đăng ký", &body)
}

/// POST: unsubscribes.
pub(super) async fn post(State(app): State<AppState>, Query(q): Params) -> Response {
    let req = match verified(&app, &q) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    let store = app.0.store.clone();
    let (email, topic) = (req.email.clone(), req.topic.clone());
    let done = tokio::task::spawn_blocking(move || {
        store.unsubscribe(&email, topic.as_deref(), Utc::now())
    })
    .await
    .map_err(StoreError::Task)
    .and_then(|r| r);
    match done {
        Ok(true) => {
            tracing::info!(subscriber = %req.email, topic = ?req.topic, "unsubscribed");
            let body = format!(
                "<p>Đã hủy đăng ký {} cho <b>{}</b>. Bạn sẽ không nhận các bản tin này nữa.</p>",
                html_escape::encode_text(&what(&req, &app.config())),
                html_escape::encode_text(&req.email)
            );
            html_page(&app, StatusCode::OK, "Đã hủy đăng ký", &body)
        }
        Ok(false) => html_page(
            &app,
            StatusCode::NOT_FOUND,
            "Không tìm thấy",
            "Địa chỉ này không có trong danh sách nhận bản tin.",
        ),
        Err(e) => {
            tracing::error!(error = %e, "unsubscribe failed");
            html_page(
                &app,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Lỗi",
                "Chưa hủy được; xin thử lại sau.",
            )
        }
    }
}

/// A small Vietnamese HTML page; `body` is already escaped HTML.
fn html_page(app: &AppState, status: StatusCode, title: &str, body: &str) -> Response {
    app.0
        .metrics
        .request(&paths::route(paths::UNSUBSCRIBE), status.as_u16());
    let html = format!(
        "<!doctype html>\n<html lang=\"vi\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{t} – bantin</title></head>\n<body style=\"font: 16px/1.5 system-ui, sans-serif; max-width: 36rem; margin: 2rem auto; padding: 0 1rem\"><h1 style=\"font-size: 1.4rem\">{t}</h1>\n{body}\n</body></html>\n",
        t = html_escape::encode_text(title),
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response()
}
