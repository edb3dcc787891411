//! Command-line interface: argument shapes (clap) and one function per subcommand. Glue only:
//! the work happens in the library modules.

mod alerts;
mod digests;
mod maintenance;
mod opml;
mod pages;
mod search;
pub mod topics;
mod webhooks;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};

use crate::config::{self, Config};
use crate::daemon::{self, Ingestor};
use crate::ingest::Outcome;
use crate::store::{ArticleQuery, SourceHealth, Store};

/// Exit code for bad config or bad usage.
pub const EXIT_CONFIG: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "bantin",
    version,
    about = "Watches Vietnamese news sites, keeps every article once, republishes topic feeds"
)]
pub struct Cli {
    /// Main config file.
    #[arg(long, global = true, env = "BANTIN_CONFIG", default_value = config::DEFAULT_PATH)]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: poll every source on its schedule until SIGINT/SIGTERM.
    Run,
    /// Validate all config; print every problem as file:line:col: message (exit 2 if any).
    Check,
    /// Poll sources now (all, or the ids given) and print one line per source.
    Fetch {
        /// Source ids (default: every source).
        sources: Vec<String>,
    },
    /// Show each source's state: health, last success and error, failures, next poll, URL;
    /// `sources test ID` shows what one source yields now, storing nothing.
    Sources {
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        action: Option<pages::SourcesAction>,
    },
    /// List the feeds and sitemaps a site offers: the URL itself, its advertised feeds, common
    /// feed paths, the sitemaps its robots.txt names and common sitemap paths.
    Discover {
        url: String,
        #[arg(long)]
        json: bool,
    },
    /// Topics with their matches in the last 24 h, 7 days and in all; `topics test ID` tries a
    /// topic as the files say now on stored articles.
    Topics {
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        action: Option<topics::TopicsAction>,
    },
    /// Explain how one topic sees a piece of text: normalized form, phrases found, verdict.
    Match {
        /// Topic id.
        #[arg(long)]
        topic: String,
        /// The text (several words may be given unquoted).
        #[arg(required = true)]
        text: Vec<String>,
    },
    /// Write every feed (merged, per topic, per source, per tag; three formats), the index page
    /// and the OPML file into DIR, for a plain web server or CDN.
    Export {
        #[arg(long)]
        dir: PathBuf,
    },
    /// Sources as OPML: export to stdout, or import a file's feeds into a config file.
    Opml {
        #[command(subcommand)]
        action: opml::OpmlAction,
    },
    /// Digests: preview what would be sent, or send what is due.
    Digest {
        #[command(subcommand)]
        action: digests::DigestAction,
    },
    /// The digest outbox: subscriber, window, status, attempts, last error.
    Digests {
        #[arg(long)]
        json: bool,
    },
    /// Admin alerts: what is wrong now (failing, gone or stale sources, list pages yielding far
    /// fewer items, digests that failed for good), and every alert said, newest first.
    Alerts {
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Topic webhooks: per webhook, deliveries queued, delivered, failed, and the last error.
    Webhooks {
        #[arg(long)]
        json: bool,
    },
    /// Subscribers: topics, next send, unsubscribed state; `subscribers enable EMAIL`.
    Subscribers {
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        action: Option<digests::SubscribersAction>,
    },
    /// List stored articles, newest first.
    Articles {
        /// Only articles carried by this source.
        #[arg(long)]
        source: Option<String>,
        /// Only articles matching this topic.
        #[arg(long)]
        topic: Option<String>,
        /// Only articles published at or after this time (RFC 3339, e.g. 2026-11-28T00:00:00+07:00).
        #[arg(long, value_parser = parse_rfc3339)]
        since: Option<DateTime<Utc>>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Search every stored article, newest first. Words are all required; "quotes" make a
    /// phrase; typed with diacritics they match exactly, typed without, accent-free.
    Search {
        /// What to search for (several words may be given unquoted).
        #[arg(required = true)]
        query: Vec<String>,
        /// Only articles matching this topic.
        #[arg(long)]
        topic: Option<String>,
        /// Only articles published at or after this time: RFC 3339, or a duration back from
        /// now (30m, 12h, 7d, 2w).
        #[arg(long)]
        since: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Delete articles first seen more than `[storage] keep_days` ago, with their matches and
    /// pages, and give the space back. Their identity keys stay, so they are never stored again.
    Prune {
        /// Only count what would be removed; change nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
    /// Write a consistent copy of the database to FILE (safe while `bantin run` runs) and check
    /// it.
    Backup {
        file: PathBuf,
        /// Replace FILE if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Replace the database with the backup FILE. Refused while the database is in use (stop
    /// the daemon first); the replaced database is kept beside it.
    Restore { file: PathBuf },
}

fn parse_rfc3339(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{s:?} is not an RFC 3339 time ({e}); e.g. 2026-11-28T00:00:00+07:00"))
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> Result<ExitCode> {
    // Importing names its own target config; the --config file plays no part.
    if let Command::Opml {
        action: opml::OpmlAction::Import { file, into },
    } = &cli.command
    {
        return opml::import(file, into);
    }
    // Discovery needs no config: the file's [poll] settings when it loads, else the defaults.
    if let Command::Discover { url, json } = &cli.command {
        let poll = match config::load(&cli.config) {
            Ok(c) => c.poll,
            Err(_) => {
                config::parse(std::path::Path::new("(defaults)"), "")
                    .map_err(|p| anyhow::anyhow!("{p}"))?
                    .poll
            }
        };
        return pages::discover(&poll, url, *json).await;
    }
    let config = match config::load(&cli.config) {
        Ok(c) => c,
        Err(problems) => {
            eprintln!("{problems}");
            eprintln!("{}: {} problem(s)", cli.config.display(), problems.0.len());
            return Ok(ExitCode::from(EXIT_CONFIG));
        }
    };
    match cli.command {
        Command::Check => {
            // The digest templates are config too: a broken one is reported here, not at 07:00.
            let templates = config
                .path
                .parent()
                .unwrap_or(std::path::Path::new(""))
                .join("templates");
            if let Err(e) = crate::digest::Templates::load(&templates) {
                eprintln!("{e}");
                eprintln!("{}: 1 problem(s)", cli.config.display());
                return Ok(ExitCode::from(EXIT_CONFIG));
            }
            if !config.subscribers.is_empty() && !config.http.public_url_is_set() {
                eprintln!(
                    "warning: [http] public_url is not set: unsubscribe links in digests will point at {}, which subscribers cannot reach",
                    config.http.public_url
                );
            }
            let topics = match &config.topics_path {
                Some(p) => format!(", {} topics in {}", config.topics.len(), p.display()),
                None => ", no topics file".to_string(),
            };
            let subscribers = match &config.subscribers_path {
                Some(_) => format!(", {} subscribers", config.subscribers.len()),
                None => String::new(),
            };
            let webhooks = match config.webhooks.len() {
                0 => String::new(),
                n => format!(", {n} webhooks"),
            };
            for w in &config.webhooks {
                if let Some(file) = &w.secret_file {
                    // Read when sending; a file missing now is worth knowing before then.
                    if let Ok(path) = config::credential_path(file) {
                        if let Err(e) = std::fs::metadata(&path) {
                            eprintln!(
                                "warning: topic {:?}: webhook secret file {}: {e}",
                                w.topic,
                                path.display()
                            );
                        }
                    }
                }
            }
            println!(
                "{}: ok ({} sources{topics}{subscribers}{webhooks})",
                cli.config.display(),
                config.sources.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Run => run_daemon(config).await,
        Command::Topics { json, action: None } => topics::list(config, json).await,
        Command::Topics {
            action: Some(topics::TopicsAction::Test { id, days, json }),
            ..
        } => topics::test(config, &id, days, json).await,
        Command::Match { topic, text } => topics::explain_text(&config, &topic, &text.join(" ")),
        Command::Export { dir } => export(config, &dir).await,
        Command::Digest { action } => digests::digest(config, action).await,
        Command::Digests { json } => digests::outbox(config, json).await,
        Command::Alerts { limit, json } => alerts::list(config, limit, json).await,
        Command::Webhooks { json } => webhooks::list(config, json).await,
        Command::Subscribers { json, action } => digests::subscribers(config, json, action).await,
        Command::Opml { action } => opml::run(&config, action),
        Command::Fetch { sources } => fetch(config, &sources).await,
        Command::Sources { json, action: None } => sources(config, json).await,
        Command::Sources {
            action: Some(pages::SourcesAction::Test { id, pages, json }),
            ..
        } => pages::test(&config, &id, pages, json).await,
        Command::Discover { .. } => unreachable!("handled before the config is loaded"),
        Command::Prune { dry_run, json } => maintenance::prune(config, dry_run, json).await,
        Command::Backup { file, force } => maintenance::backup(config, &file, force).await,
        Command::Restore { file } => maintenance::restore(config, &file).await,
        Command::Search {
            query,
            topic,
            since,
            limit,
            json,
        } => {
            let search = search::Search {
                typed: query.join(" "),
                topic,
                since,
                limit,
            };
            search::search(config, search, json).await
        }
        Command::Articles {
            source,
            topic,
            since,
            limit,
            json,
        } => {
            if let Some(t) = topic
                .as_deref()
                .filter(|t| !config.topics.topics().any(|(id, _)| id == *t))
            {
                eprintln!(
                    "unknown topic {t:?} (configured: {})",
                    topics::list_ids(&config)
                );
                return Ok(ExitCode::from(EXIT_CONFIG));
            }
            articles(
                config,
                ArticleQuery {
                    source,
                    topic,
                    since,
                    limit,
                    ..ArticleQuery::default()
                },
                json,
            )
            .await
        }
    }
}

/// Opens the store for a command that only reads: sources are recorded, but stored matches are
/// left as they are (re-matching is the daemon's and `fetch`'s business), so trying a topics
/// file with `--config` never rewrites the real database's matches.
pub(crate) async fn open_store(config: &Config) -> Result<Store> {
    let path = config.storage.path.clone();
    let specs = daemon::source_specs(config);
    let store = tokio::task::spawn_blocking(move || -> Result<Store> {
        let store = Store::open(&path)
            .with_context(|| format!("cannot open the database at {}", path.display()))?;
        store.sync_sources(&specs)?;
        Ok(store)
    })
    .await??;
    Ok(store)
}

pub(crate) async fn open(config: Config) -> Result<Ingestor> {
    let db = config.storage.path.clone();
    Ingestor::open(config)
        .await
        .with_context(|| format!("cannot open the database at {}", db.display()))
}

async fn run_daemon(mut config: Config) -> Result<ExitCode> {
    let listen = config.http.listen;
    let listener = crate::http::bind(listen)
        .with_context(|| format!("cannot listen on {listen} ([http] listen)"))?;
    config.http.bound(listener.local_addr()?);
    let starting = crate::notify::Notifier::from_env()
        .keep_starting("opening the database (a migration may take minutes)");
    let ingestor = open(config).await?;
    drop(starting);
    daemon::run(ingestor, Some(listener), shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

async fn export(config: Config, dir: &std::path::Path) -> Result<ExitCode> {
    let store = open_store(&config).await?;
    let dir = dir.to_path_buf();
    let files =
        tokio::task::spawn_blocking(move || crate::export::write(&config, &store, &dir)).await??;
    println!("wrote {} files", files.len());
    Ok(ExitCode::SUCCESS)
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only SIGINT stops bantin");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn fetch(config: Config, ids: &[String]) -> Result<ExitCode> {
    let unknown: Vec<&String> = ids
        .iter()
        .filter(|id| !config.sources.iter().any(|s| &s.id == *id))
        .collect();
    if !unknown.is_empty() {
        let known: Vec<&str> = config.sources.iter().map(|s| s.id.as_str()).collect();
        eprintln!(
            "unknown source id(s): {} (configured: {})",
            unknown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            known.join(", ")
        );
        return Ok(ExitCode::from(EXIT_CONFIG));
    }
    let total = if ids.is_empty() {
        config.sources.len()
    } else {
        ids.len()
    };
    let width = config.sources.iter().map(|s| s.id.len()).max().unwrap_or(0);
    let ingestor = open(config).await?;
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(total as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(bar)
    } else {
        None
    };
    let reports = ingestor
        .poll_now(ids, |r| {
            if let Some(bar) = &bar {
                bar.set_message(r.source.clone());
                bar.inc(1);
            }
        })
        .await?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let mut out = std::io::stdout().lock();
    let mut failed = Vec::new();
    for r in &reports {
        writeln!(out, "{:width$}  {}", r.source, r.outcome)?;
        if matches!(r.outcome, Outcome::Failed(_) | Outcome::Gone) {
            failed.push(r.source.as_str());
        }
    }
    if failed.is_empty() {
        writeln!(out, "{} sources polled, all ok", reports.len())?;
    } else {
        writeln!(
            out,
            "{} sources polled, {} failed: {}",
            reports.len(),
            failed.len(),
            failed.join(", ")
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(serde::Serialize)]
struct SourceView {
    id: String,
    name: String,
    state: SourceHealth,
    url: String,
    current_url: String,
    last_success: Option<String>,
    last_attempt: Option<String>,
    last_error: Option<String>,
    /// What the last parsed feed needed, e.g. "feed needed repair (bare \"&\" escaped)".
    note: Option<String>,
    failures: u32,
    next_poll: Option<String>,
    articles: u64,
    /// When it last brought an article it had not carried before.
    last_new: Option<String>,
    /// No new article for `[poll] stale_days` days or more (see `SourceState::stale_days`).
    stale: bool,
    /// Days without a new article, when stale.
    #[serde(skip_serializing_if = "Option::is_none")]
    stale_days: Option<u32>,
    /// Article pages (sources that read them): fetched, waiting or retrying, given up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pages: Option<crate::store::PageCounts>,
    /// The latest article page errors: (url, error).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    page_errors: Vec<(String, String)>,
}

async fn sources(config: Config, json: bool) -> Result<ExitCode> {
    let names: Vec<(String, String, String)> = config
        .sources
        .iter()
        .map(|s| (s.id.clone(), s.name.clone(), s.url.to_string()))
        .collect();
    let store = open_store(&config).await?;
    let ids: Vec<String> = config.sources.iter().map(|s| s.id.clone()).collect();
    let readers: Vec<String> = config
        .sources
        .iter()
        .filter(|s| s.fetches_pages())
        .map(|s| s.id.clone())
        .collect();
    let (states, page_info) = tokio::task::spawn_blocking(move || -> Result<_> {
        let states = store.source_states(&ids)?;
        let mut info = std::collections::HashMap::new();
        for id in readers {
            let counts = store.page_counts(&id)?;
            let errors = store.page_errors(&id, 3)?;
            info.insert(id, (counts, errors));
        }
        Ok((states, info))
    })
    .await??;
    let now = Utc::now();
    let views: Vec<SourceView> = names
        .into_iter()
        .filter_map(|(id, name, url)| {
            let s = states.iter().find(|s| s.id == id)?;
            let info = page_info.get(&id);
            let stale_days = s.stale_days(now, config.poll.stale_days);
            Some(SourceView {
                id,
                name,
                state: s.health,
                url,
                current_url: s.current_url.clone(),
                last_success: s.last_success.map(local),
                last_attempt: s.last_attempt.map(local),
                last_error: s.last_error.clone(),
                note: s.last_note.clone(),
                failures: s.failures,
                next_poll: (s.health != SourceHealth::Gone)
                    .then_some(s.next_poll.map(local))
                    .flatten(),
                articles: s.articles,
                last_new: s.last_new.map(local),
                stale: stale_days.is_some(),
                stale_days,
                pages: info.map(|(c, _)| *c),
                page_errors: info
                    .map(|(_, e)| e.iter().map(|e| (e.url.clone(), e.error.clone())).collect())
                    .unwrap_or_default(),
            })
        })
        .collect();
    let mut out = std::io::stdout().lock();
    if json {
        write_json(&mut out, &views)?;
        return Ok(ExitCode::SUCCESS);
    }
    let w = views.iter().map(|v| v.id.len()).max().unwrap_or(2).max(2);
    writeln!(
        out,
        "{:w$}  {:8} {:25} {:>8} {:25} {:>8}  URL",
        "ID", "STATE", "LAST SUCCESS", "FAILURES", "NEXT POLL", "ARTICLES"
    )?;
    for v in &views {
        let state = v.state.as_str();
        writeln!(
            out,
            "{:w$}  {:8} {:25} {:>8} {:25} {:>8}  {}",
            v.id,
            state,
            v.last_success.as_deref().unwrap_or("never"),
            v.failures,
            v.next_poll
                .as_deref()
                .unwrap_or(if v.state == SourceHealth::Gone {
                    "never"
                } else {
                    "now"
                }),
            v.articles,
            v.current_url,
        )?;
        if v.current_url != v.url {
            writeln!(out, "{:w$}  moved permanently from {}", "", v.url)?;
        }
        if let Some(e) = &v.last_error {
            writeln!(out, "{:w$}  last error: {e}", "")?;
        }
        if let Some(n) = &v.note {
            writeln!(out, "{:w$}  note: {n}", "")?;
        }
        if let Some(days) = v.stale_days {
            writeln!(out, "{:w$}  stale: no new articles for {days} days", "")?;
        }
        if let Some(p) = &v.pages {
            writeln!(
                out,
                "{:w$}  pages: {} fetched, {} waiting, {} given up",
                "", p.done, p.pending, p.failed
            )?;
            for (url, e) in &v.page_errors {
                writeln!(out, "{:w$}    {url}: {e}", "")?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(serde::Serialize)]
struct ArticleView<'a> {
    id: i64,
    title: &'a str,
    url: Option<&'a str>,
    published: String,
    date_guessed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    date_raw: Option<&'a str>,
    sources: &'a [String],
    first_seen: String,
    updated: Option<String>,
    story: i64,
    topics: &'a [String],
    guid: Option<&'a str>,
    authors: &'a [String],
    summary_html: Option<&'a str>,
}

async fn articles(config: Config, query: ArticleQuery, json: bool) -> Result<ExitCode> {
    let store = open_store(&config).await?;
    let list = tokio::task::spawn_blocking(move || store.articles(&query)).await??;
    print_articles(&list, json)
}

/// Articles as `bantin articles` lists them: a line or two each, or JSON.
fn print_articles(list: &[crate::store::StoredArticle], json: bool) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    if json {
        let views: Vec<ArticleView> = list
            .iter()
            .map(|a| ArticleView {
                id: a.id,
                title: &a.title,
                url: a.url.as_deref(),
                published: a.published.to_rfc3339(),
                date_guessed: a.date_guessed,
                date_raw: a.date_raw.as_deref(),
                sources: &a.sources,
                first_seen: local(a.first_seen),
                updated: a.updated.map(local),
                story: a.story,
                topics: &a.topics,
                guid: a.guid.as_deref(),
                authors: &a.authors,
                summary_html: a.summary_html.as_deref(),
            })
            .collect();
        write_json(&mut out, &views)?;
        return Ok(ExitCode::SUCCESS);
    }
    for a in list {
        let when = a.published.format("%Y-%m-%d %H:%M %:z");
        let guessed = if a.date_guessed { "?" } else { " " };
        writeln!(out, "{when}{guessed} [{}] {}", a.sources.join(","), a.title)?;
        if let Some(u) = &a.url {
            writeln!(out, "    {u}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `value` as pretty JSON and a newline: what every `--json` prints.
pub(crate) fn write_json(out: &mut impl Write, value: &impl serde::Serialize) -> Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)?;
    Ok(())
}

/// RFC 3339 in Vietnam's time, which is what admins read.
pub(crate) fn local(t: DateTime<Utc>) -> String {
    t.with_timezone(&chrono_tz::Asia::Ho_Chi_Minh).to_rfc3339()
}
