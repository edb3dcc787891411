//! `bantin alerts`: what is wrong now, and every alert said, newest first.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use super::{local, open_store, write_json};
use chrono::Utc;

use crate::alerts;
use crate::config::Config;
use crate::store::{AlertRecord, AlertState, Store};

#[derive(serde::Serialize)]
struct Listing {
    /// Subjects not well now, or whose recovery is still to be told.
    now: Vec<AlertState>,
    alerts: Vec<AlertRecord>,
}

/// What is stored of each subject, with the sources' conditions worked out afresh: the
/// daemon's rounds store them, and this shows the truth also between rounds or without a
/// daemon (after a `bantin fetch`).
fn conditions_now(config: &Config, store: &Store) -> Result<Vec<AlertState>> {
    let now = Utc::now();
    let mut states = store.alert_states()?;
    for c in alerts::source_conditions(config, store, now)? {
        match states.iter_mut().find(|s| s.subject == c.subject) {
            Some(s) if s.condition != c.condition => {
                (s.condition, s.detail, s.since) = (c.condition, c.detail, now);
            }
            Some(_) => {}
            None if c.condition != alerts::OK => states.push(AlertState {
                subject: c.subject,
                condition: c.condition,
                detail: c.detail,
                since: now,
                reported: alerts::OK.to_string(),
                reported_at: None,
            }),
            None => {}
        }
    }
    Ok(states)
}

pub async fn list(config: Config, limit: usize, json: bool) -> Result<ExitCode> {
    let store = open_store(&config).await?;
    let cf = config.clone();
    let listing = tokio::task::spawn_blocking(move || -> Result<Listing> {
        Ok(Listing {
            now: conditions_now(&cf, &store)?,
            alerts: store.alerts(limit)?,
        })
    })
    .await??;
    let mut out = std::io::stdout().lock();
    if json {
        write_json(&mut out, &listing)?;
        return Ok(ExitCode::SUCCESS);
    }
    let open: Vec<&AlertState> = listing
        .now
        .iter()
        .filter(|s| s.condition != s.reported || s.condition != alerts::OK)
        .collect();
    if open.is_empty() {
        writeln!(out, "nothing is wrong now")?;
    } else {
        writeln!(out, "now:")?;
    }
    for s in open {
        let told = match (&s.reported_at, s.condition == s.reported) {
            (Some(t), true) => format!("told {}", local(*t)),
            (Some(t), false) if Utc::now() - *t < crate::store::ALERT_EVERY => {
                format!("to be told a day after the last alert ({})", local(*t))
            }
            (_, false) => "to be told at the daemon's next round".to_string(),
            (None, true) => String::new(),
        };
        writeln!(
            out,
            "  {}  {} since {}  {told}",
            s.subject,
            s.condition,
            local(s.since)
        )?;
        if let Some(d) = &s.detail {
            writeln!(out, "      {d}")?;
        }
    }
    if listing.alerts.is_empty() {
        writeln!(out, "no alert yet")?;
    } else {
        writeln!(out, "alerts, newest first:")?;
    }
    let recipients = match (config.alerts.email.is_empty(), &config.alerts.webhook) {
        (true, None) => " (nobody is sent them: no [alerts] email or webhook)",
        _ => "",
    };
    for a in &listing.alerts {
        writeln!(
            out,
            "  #{} {}  {} → {}  {}",
            a.id,
            local(a.at),
            a.was,
            a.condition,
            a.message
        )?;
    }
    if !listing.alerts.is_empty() && !recipients.is_empty() {
        writeln!(out, "{}", recipients.trim_start())?;
    }
    Ok(ExitCode::SUCCESS)
}
