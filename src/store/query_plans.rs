//! Every statement on a hot path reads through an index. The store's own calls run on a small
//! database with SQLite's statement trace on; each statement they ran is then given to
//! `EXPLAIN QUERY PLAN`, and no plan may walk a whole big table (`SCAN articles`, `SCAN m`
//! without `USING … INDEX`). The statements are the ones the code runs, not copies, so a later
//! edit of a query cannot bring back a full scan unnoticed: on a year of news (a million
//! articles) one such scan costs seconds per poll, request or digest.
//!
//! Test-only. Trigger bodies are not traced one by one; the schema's triggers look rows up by
//! key (`matches` by article id).

use std::cell::RefCell;

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::trace::{TraceEvent, TraceEventCodes};
use rusqlite::Connection;

use super::{ArticleQuery, FeedKey, FeedOrder, NewDigest, PollRecord, SourceSpec, Store};
use crate::article::NewArticle;
use crate::topics::TopicMatch;

thread_local! {
    /// The statements run on this thread since tracing started, their parameters inlined.
    static TRACED: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn trace(event: TraceEvent<'_>) {
    if let TraceEvent::Stmt(stmt, sql) = event {
        // A trigger's program is reported as a "-- TRIGGER name" comment.
        if sql.trim_start().starts_with("--") {
            return;
        }
        let sql = stmt.expanded_sql().unwrap_or_else(|| sql.to_string());
        TRACED.with(|t| t.borrow_mut().push(sql));
    }
}

/// Runs `work` on `store` with tracing on; the statements it ran.
fn traced(store: &Store, work: impl FnOnce(&Store)) -> Vec<String> {
    TRACED.with(|t| t.borrow_mut().clear());
    store
        .lock()
        .unwrap()
        .trace_v2(TraceEventCodes::SQLITE_TRACE_STMT, Some(trace));
    work(store);
    store
        .lock()
        .unwrap()
        .trace_v2(TraceEventCodes::empty(), None);
    TRACED.with(|t| t.take())
}

/// Tables small enough to walk: one row per configured source, subscriber or setting.
const SMALL: &[&str] = &["sources", "subscribers", "meta"];

/// The plan lines of `sql` that walk a big table without an index; every plan line is added
/// to `plans`.
fn full_scans(conn: &Connection, sql: &str, plans: &mut String) -> Vec<String> {
    let head = sql.trim_start().to_ascii_uppercase();
    if !["SELECT", "WITH", "INSERT", "UPDATE", "DELETE"]
        .iter()
        .any(|k| head.starts_with(k))
    {
        return Vec::new();
    }
    let mut stmt = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap_or_else(|e| panic!("EXPLAIN QUERY PLAN {sql}: {e}"));
    let details: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for d in &details {
        plans.push_str(d);
        plans.push('\n');
    }
    details
        .into_iter()
        .filter(|d| {
            let Some(rest) = d.strip_prefix("SCAN ") else {
                return false;
            };
            let name = rest.split_whitespace().next().unwrap_or_default();
            !rest.contains(" USING ")
                && !rest.contains("VIRTUAL TABLE")
                && !SMALL.contains(&name)
                // A CTE or subquery already cut down by an index.
                && !rest.starts_with("(subquery")
                && !["doomed", "CONSTANT"].contains(&name)
        })
        .collect()
}

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap()
}

pub(super) fn article(n: usize, topics: &[&str]) -> NewArticle {
    let title = format!("Hội nghị tổng kết công tác dân vận số {n}");
    let url = format!("https://bao.example.vn/bai-{n}.html");
    NewArticle {
        keys: vec![format!("url:{url}"), format!("guid:{n}")],
        url: Some(url.clone()),
        canonical_url: Some(url),
        host: Some("bao.example.vn".into()),
        guid: Some(n.to_string()),
        title_key: crate::text::match_key(&title),
        search_text: crate::text::match_key(&title),
        search_layout: None,
        title,
        title_guessed: false,
        summary_html: Some("<p>Tóm tắt.</p>".into()),
        content_html: None,
        authors: Vec::new(),
        published: at(20, 1).fixed_offset() + chrono::Duration::minutes(n as i64),
        date_guessed: false,
        date_raw: None,
        content_hash: format!("h{n}"),
        matches: topics
            .iter()
            .map(|t| TopicMatch {
                topic: t.to_string(),
                phrases: vec!["dân vận".into()],
            })
            .collect(),
        media: Vec::new(),
    }
}

/// A feed's poll that brought `articles` and still carries `seen`, whose pages are to be
/// fetched (the store's other tests use it too).
pub(super) fn fetched(articles: Vec<NewArticle>, seen: Vec<Vec<String>>) -> PollRecord {
    PollRecord::Fetched {
        articles,
        seen,
        carried: Vec::new(),
        etag: None,
        last_modified: None,
        moved_to: None,
        pages: true,
        note: None,
        complete: true,
    }
}

#[test]
fn hot_queries_read_through_an_index() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("b.db")).unwrap();
    let sources = ["a", "b"].map(|id| SourceSpec {
        id: id.into(),
        url: format!("https://{id}.example.vn/rss"),
    });
    store.sync_sources(&sources).unwrap();
    let emails = vec!["doc-gia@example.vn".to_string()];
    store.sync_subscribers(&emails, at(1, 0)).unwrap();
    let first: Vec<NewArticle> = (0..20)
        .map(|n| article(n, if n % 2 == 0 { &["dan-van"] } else { &[] }))
        .collect();
    store
        .record_poll("a", &fetched(first, Vec::new()), at(20, 2), at(20, 3))
        .unwrap();

    let mut checked = Vec::new();
    let mut plans = String::new();
    let mut check = |what: &str, work: &dyn Fn(&Store)| {
        let statements = traced(&store, work);
        assert!(!statements.is_empty(), "{what} ran no statement");
        let conn = Connection::open(store.path()).unwrap();
        for sql in statements {
            let scans = full_scans(&conn, &sql, &mut plans);
            assert!(
                scans.is_empty(),
                "{what}: {sql}\nwalks a whole table: {scans:?}"
            );
            checked.push(what.to_string());
        }
    };

    // Per poll: probes, then a poll with new, changed and known items, and a cross-post.
    check("a poll", &|s| {
        let keys = vec!["url:https://bao.example.vn/bai-1.html".to_string()];
        s.unchanged(&[(keys.as_slice(), "h1")]).unwrap();
        s.articles_by_key(&[keys[0].as_str()]).unwrap();
        s.source_states(&["a".into(), "b".into()]).unwrap();
        let mut changed = article(3, &["dan-van"]);
        changed.content_hash = "h3-new".into();
        let articles = vec![article(1, &[]), changed, article(40, &["dan-van"])];
        s.record_poll("a", &fetched(articles, Vec::new()), at(21, 2), at(21, 3))
            .unwrap();
        let seen = vec![vec!["guid:5".to_string()]];
        s.record_poll(
            "b",
            &fetched(vec![article(41, &[])], seen),
            at(21, 2),
            at(21, 3),
        )
        .unwrap();
        s.due_pages("a", at(21, 4), 10).unwrap();
        // A feed's items remembered, recalled, and recorded as carried.
        let (hash, keys) = ([7u8; 32], vec!["guid:5".to_string()]);
        s.remember_items("b", &[hash], &[(&hash, keys.as_slice(), "h5")])
            .unwrap();
        s.recall_items("b", &[hash, [8u8; 32]]).unwrap();
        let mut record = fetched(Vec::new(), Vec::new());
        if let PollRecord::Fetched { carried, .. } = &mut record {
            carried.push(super::Carried { article: 5, keys });
        }
        s.record_poll("b", &record, at(21, 5), at(21, 6)).unwrap();
    });
    // Per request: every feed the site serves, and the topic counts of its index.
    check("a feed request", &|s| {
        let queries = [
            ArticleQuery {
                limit: 50,
                ..Default::default()
            },
            ArticleQuery {
                topic: Some("dan-van".into()),
                limit: 50,
                ..Default::default()
            },
            ArticleQuery {
                topic: Some("dan-van".into()),
                since: Some(at(1, 0)),
                limit: 50,
                ..Default::default()
            },
            ArticleQuery {
                source: Some("b".into()),
                limit: 50,
                ..Default::default()
            },
            ArticleQuery {
                any_source: Some(vec!["a".into(), "b".into()]),
                since: Some(at(1, 0)),
                limit: 50,
                ..Default::default()
            },
            ArticleQuery {
                ids: Some(vec![1, 2, 3]),
                limit: 3,
                ..Default::default()
            },
        ];
        // The pages of paged feeds: from a place, either way, and the copies of their stories.
        let place = FeedKey {
            published: at(21, 0).timestamp_millis(),
            first_seen: at(21, 0).timestamp_millis(),
            id: 3,
        };
        let mut paged = Vec::new();
        for scope in &queries[..5] {
            paged.push(ArticleQuery {
                older_than: Some(place),
                ..scope.clone()
            });
            paged.push(ArticleQuery {
                newer_than: Some(place),
                order: FeedOrder::OldestFirst,
                ..scope.clone()
            });
            paged.push(ArticleQuery {
                stories: Some(vec![1, 2]),
                newer_than: Some(place),
                ..scope.clone()
            });
            paged.push(ArticleQuery {
                seen_after: Some(at(20, 0)),
                older_than: Some(place),
                ..scope.clone()
            });
        }
        let queries: Vec<ArticleQuery> = queries.into_iter().chain(paged).collect();
        for q in &queries {
            s.articles(q).unwrap();
        }
        s.topic_counts(at(22, 0)).unwrap();
    });
    // Per digest: the window query, closing the window, the outbox.
    check("a digest", &|s| {
        let state = s.subscriber_state(&emails[0]).unwrap().unwrap();
        s.digest_articles(
            &["dan-van".into(), "kinh-te".into()],
            state.window_end,
            at(22, 0),
        )
        .unwrap();
        let up_to = s.last_article_id().unwrap();
        let digest = NewDigest {
            email: emails[0].clone(),
            window_start: state.window_end,
            window_end: at(22, 0),
            message_id: "<1@bantin.example.vn>".into(),
            subject: "Bản tin".into(),
            message: b"Tin".to_vec(),
            articles: 3,
            shared: Some(std::sync::Arc::new(super::SharedPart::new(
                b"Tin chung".to_vec(),
            ))),
        };
        s.close_window(
            &emails[0],
            state.window_end,
            at(22, 0),
            up_to,
            Some(&digest),
            at(22, 0),
        )
        .unwrap();
        for d in s.due_digests(at(22, 0)).unwrap() {
            let message = s.outbox_message(d.id).unwrap().unwrap();
            s.outbox_shared(message.shared.unwrap()).unwrap().unwrap();
            s.mark_sent(d.id, "250 OK", at(22, 0)).unwrap();
        }
    });
    // `topics test` and a re-match: a month of candidates, stored matches, changed ones written.
    check("topics test and re-match", &|s| {
        s.matching_ids("dan-van", at(1, 0)).unwrap();
        s.screened_candidates_by_chunk(at(1, 0), |id, _| id % 2 == 0, |_, _| Ok(()))
            .unwrap();
        let mut results = Vec::new();
        s.match_candidates_by_chunk(at(1, 0), |chunk| {
            results.extend(chunk.iter().map(|c| {
                let topics = if c.id % 3 == 0 {
                    vec!["kinh-te"]
                } else {
                    vec!["dan-van"]
                };
                (c.id, article(0, &topics).matches)
            }));
            Ok(())
        })
        .unwrap();
        s.replace_matches(&results, at(22, 0)).unwrap();
    });
    // Webhooks: a poll queuing its topics' POSTs (a syndicated copy among them), a delivery
    // round, the listing.
    check("webhooks", &|s| {
        let endpoints = [(
            "dan-van".to_string(),
            "https://hook.example.vn/".to_string(),
        )];
        let render = |a: &super::StoredArticle| a.title.clone().into_bytes();
        let hooks = super::TopicHooks {
            endpoints: &endpoints,
            render: &render,
        };
        let mut copy = article(40, &["dan-van"]);
        copy.keys = vec!["url:https://other.example.vn/40.html".into()];
        copy.host = Some("other.example.vn".into());
        copy.content_hash = "h40-copy".into();
        let articles = vec![article(60, &["dan-van"]), copy];
        s.record_poll_now_and_queue("b", &fetched(articles, Vec::new()), at(23, 0), &hooks)
            .unwrap();
        s.replace_matches_and_queue(&[(1, article(0, &["dan-van"]).matches)], at(23, 0), &hooks)
            .unwrap();
        for d in s.delivery_heads().unwrap() {
            s.mark_delivery_retry(d.id, "HTTP 500", Some(500), at(23, 1))
                .unwrap();
            let head = s.delivery_head(&d.endpoint).unwrap().unwrap();
            s.mark_delivered(head.id, 200, at(23, 2)).unwrap();
        }
        s.webhook_statuses().unwrap();
    });
    // Retention: a batch of the oldest articles at a time.
    check("a prune", &|s| {
        s.prune(at(21, 0), false).unwrap();
    });
    // Search: the index yields its newest matches in order (no sort of every match), a
    // topic's matches are looked up by key, a time is a range of the index.
    let statements = traced(&store, |s| {
        for (typed, topic, since) in [
            ("dân vận", None, None),
            ("\"dan van\"", Some("dan-van"), None),
            ("hội nghị", None, Some(at(20, 0))),
        ] {
            s.search(&super::SearchQuery {
                query: crate::search::Query::parse(typed).unwrap(),
                topic: topic.map(String::from),
                since,
                limit: 50,
            })
            .unwrap();
        }
    });
    let conn = Connection::open(store.path()).unwrap();
    let mut search_plans = String::new();
    for sql in &statements {
        let scans = full_scans(&conn, sql, &mut search_plans);
        assert!(
            scans.is_empty(),
            "a search: {sql}\nwalks a whole table: {scans:?}"
        );
    }
    assert_eq!(statements.len(), 3, "{statements:?}");
    assert!(
        search_plans.contains("VIRTUAL TABLE INDEX") && !search_plans.contains("TEMP B-TREE"),
        "{search_plans}"
    );
    assert!(
        search_plans.contains("USING PRIMARY KEY (topic_id=? AND article_id=?)"),
        "{search_plans}"
    );
    assert!(
        checked.len() > 20,
        "only {} statements checked",
        checked.len()
    );
    // An index is not enough when it leads to everything a source ever carried: a poll finds
    // the articles it brought (for their pages) by when they were first seen.
    assert!(
        plans.contains("USING INDEX article_sources_seen (source_id=? AND first_seen=?)"),
        "{plans}"
    );
    // Nor when it leads to a year of titles: a syndicated copy is looked up among its
    // period's, and an identity key by itself.
    for index in [
        "USING INDEX articles_story (<expr>=? AND title_key=?)",
        "USING INDEX article_keys_key (key=?)",
    ] {
        assert!(plans.contains(index), "{index} not used:\n{plans}");
    }
}
