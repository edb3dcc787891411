//! `bantin sources test ID` and `bantin discover URL`: the tools for setting up a source, feed,
//! HTML page or sitemap, before it is added.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;

use super::EXIT_CONFIG;
use crate::config::{Config, Poll};
use crate::ingest::discover::{self, Shape, Via};
use crate::ingest::fetch::Fetcher;
use crate::ingest::preview::{self, DatePreview, FollowedPreview, PagePreview, SourceTest};

#[derive(Debug, Subcommand)]
pub enum SourcesAction {
    /// Fetch one source now and show what would be extracted (items, titles, links, dates with
    /// the raw string, article text of the first pages); nothing is stored.
    Test {
        /// Source id.
        id: String,
        /// Article pages to fetch and extract (sources that read their pages).
        #[arg(long, default_value_t = 3)]
        pages: usize,
        #[arg(long)]
        json: bool,
    },
}

pub async fn test(config: &Config, id: &str, pages: usize, json: bool) -> Result<ExitCode> {
    let Some(source) = config.source(id) else {
        let ids: Vec<&str> = config.sources.iter().map(|s| s.id.as_str()).collect();
        eprintln!("unknown source {id:?} (configured: {})", ids.join(", "));
        return Ok(ExitCode::from(EXIT_CONFIG));
    };
    let fetcher = fetcher(&config.poll)?;
    match preview::test_source(&fetcher, source, pages).await {
        Ok(t) if json => {
            println!("{}", serde_json::to_string_pretty(&t)?);
            Ok(if t.items.is_empty() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Ok(t) => {
            print_test(&t);
            Ok(if t.items.is_empty() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Err(e) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "source": id, "error": e.to_string() })
                );
            } else {
                println!("{id}: error: {e}");
            }
            Ok(ExitCode::FAILURE)
        }
    }
}

fn print_test(t: &SourceTest) {
    let title = t
        .title
        .as_deref()
        .map(|s| format!(" {s:?}"))
        .unwrap_or_default();
    println!("{} ({}) {}{title}", t.source, t.kind, t.url);
    for f in &t.followed {
        print_followed(f);
    }
    for note in &t.notes {
        println!("note: {note}");
    }
    println!("{} items", t.items.len());
    for (i, item) in t.items.iter().enumerate() {
        if item.title.is_empty() {
            println!("{:3}. (no title)", i + 1);
        } else {
            println!("{:3}. {}", i + 1, item.title);
        }
        println!(
            "     link: {}",
            item.link.as_deref().unwrap_or("(none: item skipped)")
        );
        if let Some(g) = &item.guid {
            println!("     id:   {g}");
        }
        println!("     date: {}", show_date(item.date.as_ref()));
        println!("     text: {} chars", item.text_chars);
        if let Some(p) = &item.page {
            print_page(p, item.title.is_empty());
        }
    }
    for warning in &t.warnings {
        println!("warning: {warning}");
    }
}

/// An item's article page; its title too when the item had none (the page's replaces it).
fn print_page(p: &PagePreview, untitled: bool) {
    if let Some(e) = &p.error {
        println!("     page: error: {e}");
        return;
    }
    let by = if p.authors.is_empty() {
        String::new()
    } else {
        format!(", by {}", p.authors.join(", "))
    };
    println!(
        "     page: {} chars, date {}{by}",
        p.content_chars,
        show_date(p.date.as_ref())
    );
    if let (true, Some(title)) = (untitled, &p.title) {
        println!("     page title: {title}");
    }
    for line in &p.first_lines {
        let short: String = line.chars().take(160).collect();
        println!("           | {short}");
    }
}

/// One line per document of a sitemap index, indented by its level.
fn print_followed(f: &FollowedPreview) {
    let indent = "  ".repeat(usize::from(f.depth));
    let lastmod = f
        .lastmod
        .as_deref()
        .map(|l| format!(" (lastmod {l})"))
        .unwrap_or_default();
    let what = match (f.fate, f.count) {
        ("index", Some(n)) => format!("sitemap index, {n} child sitemaps"),
        ("read", Some(1)) => "read, 1 entry".to_string(),
        ("read", Some(n)) => format!("read, {n} entries"),
        ("not_modified", _) => "not modified since the last poll (304)".to_string(),
        ("not_followed", Some(n)) => format!("sitemap index of {n}, not followed"),
        (fate, _) => fate.to_string(),
    };
    let why = f
        .why
        .as_deref()
        .map(|w| format!(": {w}"))
        .unwrap_or_default();
    println!("{indent}{}{lastmod}  {what}{why}", f.url);
}

fn show_date(d: Option<&DatePreview>) -> String {
    match d {
        None => "(none: the first-seen time is used)".into(),
        Some(d) => match &d.parsed {
            Some(p) => format!("{:?} → {p}", d.raw),
            None => format!("{:?} → unreadable (the first-seen time is used)", d.raw),
        },
    }
}

pub async fn discover(poll: &Poll, url: &str, json: bool) -> Result<ExitCode> {
    let url = match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => u,
        _ => {
            eprintln!("{url:?} is not an http(s) URL");
            return Ok(ExitCode::from(EXIT_CONFIG));
        }
    };
    let fetcher = fetcher(poll)?;
    let found = match discover::discover(&fetcher, &url).await {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{url}: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&found)?);
    } else {
        if let Some(t) = &found.page_title {
            println!("{url}: page {t:?}");
        }
        if found.feeds.is_empty() && found.sitemaps.is_empty() {
            println!("no feed found: read the page with `kind = \"html\"` and selectors (README, \"Sources without feeds\")");
        }
        for f in &found.feeds {
            let via = match f.via {
                Via::Itself => "the URL is a feed",
                Via::Advertised => "advertised by the page",
                Via::CommonPath => "common path",
                Via::Index => "listed on the site's feed index",
                Via::Robots => "named in robots.txt",
            };
            println!(
                "{}  {:?}, {} items ({via})",
                f.url,
                f.title.as_deref().unwrap_or(""),
                f.items
            );
        }
        for (u, e) in &found.broken {
            println!("{u}  advertised but broken: {e}");
        }
        if found.feeds.is_empty() && !found.sitemaps.is_empty() {
            println!("no feed found: the sitemaps below can be read with `kind = \"sitemap\"`");
        }
        for s in &found.sitemaps {
            let via = match s.via {
                Via::Itself => "the URL is a sitemap",
                Via::Robots => "named in robots.txt",
                Via::CommonPath | Via::Advertised | Via::Index => "common path",
            };
            let (what, advice) = match s.shape {
                Shape::Index { children } => {
                    (format!("sitemap index, {children} child sitemaps"), "")
                }
                Shape::Urlset { entries, titled } if titled < entries => (
                    match titled {
                        0 => format!("sitemap, {entries} entries without titles"),
                        _ => format!("news sitemap, {entries} entries, {titled} with titles"),
                    },
                    ": full_text = true reads their titles from the article pages",
                ),
                Shape::Urlset { entries, .. } => {
                    (format!("news sitemap, {entries} entries with titles"), "")
                }
            };
            println!("{}  {what} ({via}){advice}", s.url);
        }
    }
    Ok(if found.feeds.is_empty() && found.sitemaps.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn fetcher(poll: &Poll) -> Result<Fetcher> {
    Fetcher::new(poll).context("cannot build the HTTP client")
}
