//! `bantin alerts`: what is wrong now, and every alert said, newest first.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use super::{local, open_store};
use crate::config::Config;
use crate::store::{AlertRecord, AlertState};

#[derive(serde::Serialize)]
struct Listing {
    /// Subjects not well now, or whose recovery is still to be told.
    now: Vec<AlertState>,
    alerts: Vec<AlertRecord>,
}

pub async fn list(config: Config, limit: usize, json: bool) -> Result<ExitCode> {
    let store = open_store(&config).await?;
    let listing = tokio::task::spawn_blocking(move || -> Result<Listing> {
        Ok(Listing {
            now: store.alert_states()?,
            alerts: store.alerts(limit)?,
        })
    })
    .await??;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &listing)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let open: Vec<&AlertState> = listing
        .now
        .iter()
        .filter(|s| s.condition != s.reported || s.condition != crate::alerts::OK)
        .collect();
    if open.is_empty() {
        writeln!(out, "nothing is wrong now")?;
    } else {
        writeln!(out, "now:")?;
    }
    for s in open {
        let told = match (&s.reported_at, s.condition == s.reported) {
            (Some(t), true) => format!("told {}", local(*t)),
            (_, false) => "to be told (at most one alert a day for each)".to_string(),
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
