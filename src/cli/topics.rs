//! `bantin topics`, `bantin topics test` and `bantin match`: what topics match, and why.

use std::collections::HashSet;
use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use chrono::{DateTime, Utc};
use clap::Subcommand;

use super::{open_store, write_json, EXIT_CONFIG};
use crate::config::Config;
use crate::store::{Candidate, Store};
use crate::topics::{Explanation, Hit, MatchInput, SourceRef, Verdict};

#[derive(Debug, Subcommand)]
pub enum TopicsAction {
    /// Which stored articles the topic, as the files say now (even before a reload), matches;
    /// with the matching phrase in context, the articles vetoed by a `none` phrase and those
    /// whose only match lay inside an `ignore` phrase.
    Test {
        /// Topic id.
        id: String,
        /// Articles first seen in the last N days (default: rematch_days).
        #[arg(long)]
        days: Option<u32>,
        #[arg(long)]
        json: bool,
    },
}

/// Comma-separated topic ids, for messages.
pub fn list_ids(config: &Config) -> String {
    let ids: Vec<&str> = config.topics.topics().map(|(id, _)| id).collect();
    if ids.is_empty() {
        "none".into()
    } else {
        ids.join(", ")
    }
}

#[derive(serde::Serialize)]
struct TopicRow<'a> {
    id: &'a str,
    name: &'a str,
    /// Matching articles first seen in the last 24 hours.
    day: u64,
    week: u64,
    total: u64,
}

pub async fn list(config: Config, json: bool) -> Result<ExitCode> {
    let names: Vec<(String, String)> = config
        .topics
        .topics()
        .map(|(i, n)| (i.to_string(), n.to_string()))
        .collect();
    let store = open_store(&config).await?;
    let counts = tokio::task::spawn_blocking(move || store.topic_counts(Utc::now())).await??;
    let rows: Vec<TopicRow> = names
        .iter()
        .map(|(id, name)| {
            let c = counts.iter().find(|c| &c.topic == id);
            TopicRow {
                id,
                name,
                day: c.map_or(0, |c| c.day),
                week: c.map_or(0, |c| c.week),
                total: c.map_or(0, |c| c.total),
            }
        })
        .collect();
    let mut out = std::io::stdout().lock();
    if json {
        write_json(&mut out, &rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        writeln!(out, "no topics configured")?;
        return Ok(ExitCode::SUCCESS);
    }
    let w = rows.iter().map(|r| r.id.len()).max().unwrap_or(2).max(2);
    writeln!(
        out,
        "{:w$}  {:>6} {:>6} {:>7}  NAME",
        "ID", "24H", "7D", "TOTAL"
    )?;
    for r in &rows {
        writeln!(
            out,
            "{:w$}  {:>6} {:>6} {:>7}  {}",
            r.id, r.day, r.week, r.total, r.name
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(serde::Serialize)]
struct HitView<'a> {
    phrase: &'a str,
    role: &'static str,
    field: &'static str,
    context: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    masked_by: Option<&'a str>,
}

impl<'a> From<&'a Hit> for HitView<'a> {
    fn from(h: &'a Hit) -> Self {
        HitView {
            phrase: &h.phrase,
            role: h.role.as_str(),
            field: h.field.as_str(),
            context: &h.context,
            masked_by: h.masked_by.as_deref(),
        }
    }
}

#[derive(serde::Serialize)]
struct TestedArticle<'a> {
    id: i64,
    title: &'a str,
    sources: &'a [String],
    /// Whether the stored matches (from ingest or the last re-match) include this topic now.
    stored_match: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    vetoed_by: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    masked_by: Vec<&'a str>,
    hits: Vec<HitView<'a>>,
}

#[derive(serde::Serialize)]
struct TestReport<'a> {
    topic: &'a str,
    days: u32,
    considered: usize,
    matched: Vec<TestedArticle<'a>>,
    vetoed: Vec<TestedArticle<'a>>,
    masked: Vec<TestedArticle<'a>>,
    /// Stored as matching, but the topic as it is now does not match them.
    would_stop_matching: Vec<TestedArticle<'a>>,
}

pub async fn test(config: Config, id: &str, days: Option<u32>, json: bool) -> Result<ExitCode> {
    if !config.topics.topics().any(|(t, _)| t == id) {
        eprintln!("unknown topic {id:?} (configured: {})", list_ids(&config));
        return Ok(ExitCode::from(EXIT_CONFIG));
    }
    let days = days.unwrap_or(config.rematch_days);
    let store = open_store(&config).await?;
    let topic = id.to_string();
    // Matching a month of articles is CPU work: off the runtime, like the store's.
    let report = tokio::task::spawn_blocking(move || -> Result<Vec<u8>> {
        let mut out = Vec::new();
        write_test(&config, &store, &topic, days, Utc::now(), json, &mut out)?;
        Ok(out)
    })
    .await??;
    std::io::stdout().lock().write_all(&report)?;
    Ok(ExitCode::SUCCESS)
}

/// `bantin topics test ID`: the report on the articles first seen in the `days` before `now`,
/// as text or JSON, into `out`. The topic is known (checked by the caller).
pub fn write_test(
    config: &Config,
    store: &Store,
    id: &str,
    days: u32,
    now: DateTime<Utc>,
    json: bool,
    out: &mut impl Write,
) -> Result<()> {
    let since = now - chrono::Duration::days(i64::from(days));
    let stored: HashSet<i64> = store.matching_ids(id, since)?.into_iter().collect();
    // A month of articles is read a chunk at a time and explained on every core; only the
    // articles the report lists are kept. The topic's screen passes over the articles it
    // cannot have a hit in: they would be reported only if stored as matching.
    let screen = config.topics.screen(id);
    let mut considered = 0;
    let mut listed: Vec<(Candidate, Explanation)> = Vec::new();
    let keep = |article: i64, search_text: &[u8]| {
        stored.contains(&article) || screen.as_ref().is_none_or(|s| s.may_hit(search_text))
    };
    store.screened_candidates_by_chunk(since, keep, |chunk, looked| {
        considered += looked;
        let explained = crate::parallel::map(&chunk, |c| {
            let carriers = carriers_of(config, &c.sources);
            config.topics.explain(id, &c.match_input(), &carriers)
        });
        for (c, e) in chunk.into_iter().zip(explained) {
            let Some(e) = e else { continue };
            let reported = match e.verdict {
                Verdict::Matched | Verdict::Vetoed { .. } | Verdict::MaskedByIgnore { .. } => true,
                _ => stored.contains(&c.id),
            };
            if reported {
                listed.push((c, e));
            }
        }
        Ok(())
    })?;
    let mut report = TestReport {
        topic: id,
        days,
        considered,
        matched: Vec::new(),
        vetoed: Vec::new(),
        masked: Vec::new(),
        would_stop_matching: Vec::new(),
    };
    for (c, e) in &listed {
        let v = tested(c, e, stored.contains(&c.id));
        match &e.verdict {
            Verdict::Matched => report.matched.push(v),
            Verdict::Vetoed { .. } => report.vetoed.push(v),
            Verdict::MaskedByIgnore { .. } => report.masked.push(v),
            _ if stored.contains(&c.id) => report.would_stop_matching.push(v),
            _ => {}
        }
    }
    // Newest first, as everywhere else.
    for list in [
        &mut report.matched,
        &mut report.vetoed,
        &mut report.masked,
        &mut report.would_stop_matching,
    ] {
        list.sort_by_key(|a| std::cmp::Reverse(a.id));
    }

    if json {
        write_json(&mut *out, &report)?;
        return Ok(());
    }
    let new = report.matched.iter().filter(|a| !a.stored_match).count();
    writeln!(
        out,
        "topic {id}: {} of {} articles first seen in the last {days} days match ({new} not matched now, {} would stop matching)",
        report.matched.len(),
        report.considered,
        report.would_stop_matching.len(),
    )?;
    let sections: [(&str, &Vec<TestedArticle>); 4] = [
        ("MATCHED", &report.matched),
        ("VETOED by a `none` phrase", &report.vetoed),
        (
            "LOST their only match to an `ignore` phrase",
            &report.masked,
        ),
        (
            "WOULD STOP MATCHING (stored as matching, no match now)",
            &report.would_stop_matching,
        ),
    ];
    for (title, list) in sections {
        if list.is_empty() {
            continue;
        }
        writeln!(out, "\n{title} ({})", list.len())?;
        for a in list {
            let mark = if a.stored_match { ' ' } else { '+' };
            writeln!(
                out,
                "{mark} #{} [{}] {}",
                a.id,
                a.sources.join(","),
                a.title
            )?;
            if let Some(p) = a.vetoed_by {
                writeln!(out, "      vetoed by {p:?}")?;
            }
            for h in &a.hits {
                write_hit(out, h)?;
            }
        }
    }
    Ok(())
}

fn tested<'a>(c: &'a Candidate, e: &'a Explanation, stored_match: bool) -> TestedArticle<'a> {
    let (vetoed_by, masked_by) = match &e.verdict {
        Verdict::Vetoed { phrase } => (Some(phrase.as_str()), Vec::new()),
        Verdict::MaskedByIgnore { phrases } => (None, phrases.iter().map(String::as_str).collect()),
        _ => (None, Vec::new()),
    };
    TestedArticle {
        id: c.id,
        title: &c.title,
        sources: &c.sources,
        stored_match,
        vetoed_by,
        masked_by,
        hits: e.hits.iter().map(HitView::from).collect(),
    }
}

fn write_hit(out: &mut impl Write, h: &HitView) -> std::io::Result<()> {
    let masked = h
        .masked_by
        .map(|m| format!(" (inside ignore {m:?})"))
        .unwrap_or_default();
    writeln!(
        out,
        "      {} {:?} in {}{masked}: {}",
        h.role, h.phrase, h.field, h.context
    )
}

/// The carrying sources as matching sees them (ids unknown to the config have no tags).
fn carriers_of<'a>(config: &'a Config, ids: &'a [String]) -> Vec<SourceRef<'a>> {
    ids.iter()
        .map(|id| SourceRef {
            id,
            tags: config.source(id).map(|s| s.tags.as_slice()).unwrap_or(&[]),
        })
        .collect()
}

/// `bantin match --topic ID TEXT`: the text stands for every field, carried by every configured
/// source, so only the phrases decide.
pub fn explain_text(config: &Config, topic: &str, text: &str) -> Result<ExitCode> {
    let text = crate::text::clean(text);
    let input = MatchInput::from_plain(&text, &text, &text);
    let ids: Vec<String> = config.sources.iter().map(|s| s.id.clone()).collect();
    let carriers = carriers_of(config, &ids);
    let Some(e) = config.topics.explain(topic, &input, &carriers) else {
        eprintln!("unknown topic {topic:?} (configured: {})", list_ids(config));
        return Ok(ExitCode::from(EXIT_CONFIG));
    };
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "normalized: {}",
        input.normalized(crate::topics::Field::Title)
    )?;
    let mut shown: Vec<(&str, &str)> = Vec::new();
    let hits: Vec<&Hit> = e
        .hits
        .iter()
        .filter(|h| {
            let key = (h.phrase.as_str(), h.context.as_str());
            let new = !shown.contains(&key);
            shown.push(key);
            new
        })
        .collect();
    if hits.is_empty() {
        writeln!(out, "phrases found: none")?;
    } else {
        writeln!(out, "phrases found:")?;
        for h in hits {
            let mut v = HitView::from(h);
            v.field = "text";
            write_hit(&mut out, &v)?;
        }
    }
    let verdict = match &e.verdict {
        Verdict::Matched => format!("matches topic {topic}"),
        Verdict::Vetoed { phrase } => {
            format!("does not match: vetoed by the `none` phrase {phrase:?}")
        }
        Verdict::MaskedByIgnore { phrases } => format!(
            "does not match: every hit lies inside an `ignore` phrase ({})",
            phrases
                .iter()
                .map(|p| format!("{p:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Verdict::MissingAll { phrase } => {
            format!("does not match: the `all` phrase {phrase:?} is missing")
        }
        Verdict::NoMatch => "does not match: no phrase found".to_string(),
        Verdict::SourceExcluded => {
            "does not match: no configured source is allowed by the topic".to_string()
        }
    };
    writeln!(out, "verdict: {verdict}")?;
    Ok(ExitCode::SUCCESS)
}
