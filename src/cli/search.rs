//! `bantin search QUERY [--topic ID] [--since …] [--limit N] [--json]`: the stored articles
//! holding a query's terms ([`crate::search`]), newest first, listed as `bantin articles` lists
//! them. A query or `--since` that cannot be read, or an unknown topic, is a usage error
//! (exit 2) that says why.

use std::process::ExitCode;

use anyhow::Result;
use chrono::Utc;

use super::{open_store, print_articles, topics, EXIT_CONFIG};
use crate::config::Config;
use crate::search::{self, Query};
use crate::store::{ArticleQuery, SearchQuery};

/// What `bantin search` was asked.
pub(super) struct Search {
    /// The words given, joined by spaces.
    pub typed: String,
    pub topic: Option<String>,
    pub since: Option<String>,
    pub limit: usize,
}

pub(super) async fn search(config: Config, s: Search, json: bool) -> Result<ExitCode> {
    let usage = |msg: String| {
        eprintln!("{msg}");
        Ok(ExitCode::from(EXIT_CONFIG))
    };
    let query = match Query::parse(&s.typed) {
        Ok(q) => q,
        Err(e) => return usage(e.to_string()),
    };
    let since = match s
        .since
        .as_deref()
        .map(|t| search::parse_since(t, Utc::now()))
    {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => return usage(e.to_string()),
    };
    if let Some(t) = s
        .topic
        .as_deref()
        .filter(|t| !config.topics.topics().any(|(id, _)| id == *t))
    {
        return usage(format!(
            "unknown topic {t:?} (configured: {})",
            topics::list_ids(&config)
        ));
    }
    let store = open_store(&config).await?;
    let search = SearchQuery {
        query,
        topic: s.topic,
        since,
        limit: s.limit,
    };
    let list = tokio::task::spawn_blocking(move || {
        let ids = store.search(&search)?;
        store.articles(&ArticleQuery {
            limit: ids.len(),
            ids: Some(ids),
            since: search.since,
            ..ArticleQuery::default()
        })
    })
    .await??;
    print_articles(&list, json)
}
