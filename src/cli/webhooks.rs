//! `bantin webhooks`: each webhook with its deliveries (queued, delivered, failing, failed,
//! cancelled) and its last error.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use super::open_store;
use super::write_json;
use crate::config::Config;
use crate::store::WebhookStatus;

/// A webhook as listed: the configured ones first, in the config's order (with no deliveries
/// yet, all counts zero), then those only the outbox remembers (removed or changed since).
#[derive(serde::Serialize)]
struct WebhookView {
    #[serde(flatten)]
    status: WebhookStatus,
    configured: bool,
}

pub async fn list(config: Config, json: bool) -> Result<ExitCode> {
    let store = open_store(&config).await?;
    let stored = tokio::task::spawn_blocking(move || store.webhook_statuses()).await??;
    let mut views: Vec<WebhookView> = crate::webhook::endpoints(&config)
        .into_iter()
        .map(|e| {
            let status = stored
                .iter()
                .find(|s| s.kind == e.kind && s.subject == e.subject && s.endpoint == e.url)
                .cloned()
                .unwrap_or(WebhookStatus {
                    kind: e.kind,
                    subject: e.subject,
                    endpoint: e.url,
                    queued: 0,
                    delivered: 0,
                    failed: 0,
                    cancelled: 0,
                    failing: 0,
                    last_error: None,
                    last_delivered: None,
                });
            WebhookView {
                status,
                configured: true,
            }
        })
        .collect();
    for s in stored {
        let known = views.iter().any(|v| {
            v.status.kind == s.kind
                && v.status.subject == s.subject
                && v.status.endpoint == s.endpoint
        });
        if !known {
            views.push(WebhookView {
                status: s,
                configured: false,
            });
        }
    }
    let mut out = std::io::stdout().lock();
    if json {
        write_json(&mut out, &views)?;
        return Ok(ExitCode::SUCCESS);
    }
    if views.is_empty() {
        writeln!(
            out,
            "no webhooks (`webhook = \"https://…\"` in a topic sets one)"
        )?;
    }
    for v in &views {
        let s = &v.status;
        let state = match (v.configured, s.failing) {
            (false, _) => "  (no longer configured)".to_string(),
            (true, 0) => String::new(),
            (true, _) => "  failing".to_string(),
        };
        writeln!(out, "{} {}  {}{state}", s.kind, s.subject, s.endpoint)?;
        writeln!(
            out,
            "    {} queued, {} delivered, {} failed, {} cancelled; last delivered {}",
            s.queued,
            s.delivered,
            s.failed,
            s.cancelled,
            s.last_delivered
                .map(super::local)
                .unwrap_or_else(|| "never".into())
        )?;
        if let Some(e) = &s.last_error {
            writeln!(out, "    last error: {e}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
