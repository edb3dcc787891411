//! `bantin digest preview|send`, `bantin digests`, `bantin subscribers [enable EMAIL]`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use chrono::Utc;
use clap::Subcommand;

use super::{local, open_store, write_json, EXIT_CONFIG};
use crate::config::Config;
use crate::postman::Postman;
use crate::store::OutboxKind;

#[derive(Debug, Subcommand)]
pub enum DigestAction {
    /// What would be sent to EMAIL now; sends and marks nothing.
    Preview {
        email: String,
        /// Also write the HTML part to this file (open it in a browser).
        #[arg(long)]
        html: Option<PathBuf>,
    },
    /// Send what is due (including retries); with --now, close each named subscriber's window
    /// (every active subscriber's when none is named) at this moment and send it immediately.
    Send {
        emails: Vec<String>,
        #[arg(long)]
        now: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SubscribersAction {
    /// Undo every unsubscribe of EMAIL (made through a link in a digest).
    Enable { email: String },
}

fn known(config: &Config, email: &str) -> bool {
    config
        .subscribers
        .iter()
        .any(|s| s.email == email.to_lowercase())
}

async fn postman(config: Config) -> Result<Postman> {
    let store = open_store(&config).await?;
    Ok(Postman::new(Arc::new(config), store)?)
}

pub async fn digest(config: Config, action: DigestAction) -> Result<ExitCode> {
    match action {
        DigestAction::Preview { email, html } => {
            if !known(&config, &email) {
                eprintln!("{email:?} is not in the subscribers file");
                return Ok(ExitCode::from(EXIT_CONFIG));
            }
            let p = postman(config).await?;
            let email = email.to_lowercase();
            let preview =
                tokio::task::spawn_blocking(move || p.preview(&email, Utc::now())).await??;
            let mut out = std::io::stdout().lock();
            match preview {
                None => writeln!(out, "nothing to send: no new articles in this subscriber's topics since the last digest")?,
                Some((m, articles)) => {
                    writeln!(out, "To: {}\nSubject: {}\nMessage-ID: <{}>\nArticles: {articles}\n", m.to, m.subject, m.message_id)?;
                    writeln!(out, "{}", m.text)?;
                    if let Some(path) = html {
                        std::fs::write(&path, &m.html)?;
                        writeln!(out, "(HTML part written to {})", path.display())?;
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        DigestAction::Send { emails, now } => {
            if let Some(e) = emails.iter().find(|e| !known(&config, e)) {
                eprintln!("{e:?} is not in the subscribers file");
                return Ok(ExitCode::from(EXIT_CONFIG));
            }
            let everyone: Vec<String> =
                config.subscribers.iter().map(|s| s.email.clone()).collect();
            let p = postman(config).await?;
            let at = Utc::now();
            let mut closed_now = 0;
            if now {
                let emails = if emails.is_empty() {
                    active(&p, everyone).await?
                } else {
                    emails
                };
                for e in &emails {
                    let (p2, e2) = (p.clone(), e.to_lowercase());
                    let composed =
                        tokio::task::spawn_blocking(move || p2.compose_now(&e2, at)).await??;
                    if composed {
                        closed_now += 1;
                    } else {
                        println!("{e}: nothing new to send");
                    }
                }
            }
            let mut r = p.round(at).await?;
            r.composed += closed_now;
            println!(
                "{} composed, {} sent, {} to retry, {} failed",
                r.composed, r.sent, r.retrying, r.failed
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Of `emails`, those not unsubscribed from everything.
async fn active(p: &Postman, emails: Vec<String>) -> Result<Vec<String>> {
    let p = p.clone();
    let kept = tokio::task::spawn_blocking(move || -> Result<Vec<String>> {
        let mut kept = Vec::new();
        for e in emails {
            if !p.subscriber_state(&e)?.is_some_and(|s| s.unsubscribed_all) {
                kept.push(e);
            }
        }
        Ok(kept)
    })
    .await??;
    Ok(kept)
}

pub async fn outbox(config: Config, json: bool) -> Result<ExitCode> {
    let store = open_store(&config).await?;
    let list = tokio::task::spawn_blocking(move || store.outbox(200)).await??;
    let mut out = std::io::stdout().lock();
    if json {
        write_json(&mut out, &list)?;
        return Ok(ExitCode::SUCCESS);
    }
    if list.is_empty() {
        writeln!(out, "the outbox is empty")?;
    }
    for d in &list {
        if d.kind == OutboxKind::Alert {
            writeln!(
                out,
                "#{} {} alerts of {}  {}  {} attempt(s)",
                d.id,
                d.email,
                local(d.window_start),
                d.status,
                d.attempts
            )?;
        } else {
            writeln!(
                out,
                "#{} {} {} → {}  {}  {} article(s), {} attempt(s)",
                d.id,
                d.email,
                local(d.window_start),
                local(d.window_end),
                d.status,
                d.articles,
                d.attempts
            )?;
        }
        if let Some(e) = &d.last_error {
            writeln!(out, "    last error: {e}")?;
        }
        if let Some(r) = &d.reply {
            writeln!(out, "    server: {r}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(serde::Serialize)]
struct SubscriberView {
    email: String,
    name: String,
    topics: Vec<String>,
    schedule: String,
    timezone: String,
    next_send: Option<String>,
    unsubscribed_all: bool,
    unsubscribed_topics: Vec<String>,
    /// Why the last digest could not be composed, until one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
}

pub async fn subscribers(
    config: Config,
    json: bool,
    action: Option<SubscribersAction>,
) -> Result<ExitCode> {
    let store = open_store(&config).await?;
    if let Some(SubscribersAction::Enable { email }) = action {
        let email = email.to_lowercase();
        let e2 = email.clone();
        let done = tokio::task::spawn_blocking(move || store.enable_subscriber(&e2)).await??;
        if done {
            println!("{email}: receives digests again");
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!("{email:?} has never been a subscriber here");
        return Ok(ExitCode::from(EXIT_CONFIG));
    }
    let emails: Vec<String> = config.subscribers.iter().map(|s| s.email.clone()).collect();
    let st = store.clone();
    let states = tokio::task::spawn_blocking(move || -> Result<Vec<_>> {
        st.sync_subscribers(&emails, Utc::now())?;
        emails.iter().map(|e| Ok(st.subscriber_state(e)?)).collect()
    })
    .await??;
    let views: Vec<SubscriberView> = config
        .subscribers
        .iter()
        .zip(states)
        .map(|(s, st)| {
            let window_end = st.as_ref().map(|x| x.window_end).unwrap_or_else(Utc::now);
            let next = s
                .schedule
                .cron
                .after(&window_end.with_timezone(&s.timezone))
                .next()
                .map(|t| t.with_timezone(&Utc));
            SubscriberView {
                email: s.email.clone(),
                name: s.name.clone(),
                topics: s.topics.clone(),
                schedule: s.schedule.text.clone(),
                timezone: s.timezone.to_string(),
                next_send: next.map(local),
                unsubscribed_all: st.as_ref().is_some_and(|x| x.unsubscribed_all),
                last_error: st.as_ref().and_then(|x| x.compose_error.clone()),
                unsubscribed_topics: st.map(|x| x.unsubscribed_topics).unwrap_or_default(),
            }
        })
        .collect();
    let mut out = std::io::stdout().lock();
    if json {
        write_json(&mut out, &views)?;
        return Ok(ExitCode::SUCCESS);
    }
    if views.is_empty() {
        writeln!(out, "no subscribers configured")?;
    }
    for v in &views {
        let state = if v.unsubscribed_all {
            "unsubscribed".to_string()
        } else if !v.unsubscribed_topics.is_empty() {
            format!("unsubscribed from {}", v.unsubscribed_topics.join(", "))
        } else {
            "active".to_string()
        };
        writeln!(
            out,
            "{} ({})  topics: {}  next: {}  [{state}]",
            v.email,
            v.name,
            v.topics.join(", "),
            v.next_send.as_deref().unwrap_or("—")
        )?;
        if let Some(e) = &v.last_error {
            writeln!(out, "  last error: {e}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
