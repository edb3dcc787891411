//! Running bantin for years, as an admin meets it: `bantin prune` (tombstones, dry run, space
//! given back), `bantin backup` while ingest writes, `bantin restore`, a database from a newer
//! bantin, and stale sources in `bantin sources`, `/healthz` and the index page. A fixture feed
//! server on loopback, a config and database in a temp dir; the database is aged or inspected
//! directly with SQLite where a test needs time to have passed.

use std::path::Path;
use std::process::Output;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::common::*;
use bantin::http::{self, AppState};
use bantin::metrics::Metrics;
use chrono::Utc;
use rusqlite::Connection;
use serde_json::Value;

fn shown(o: &Output) -> String {
    format!(
        "status: {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn stdout(o: &Output) -> String {
    assert!(o.status.success(), "{}", shown(o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json(o: &Output) -> Value {
    serde_json::from_str(&stdout(o)).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", shown(o)))
}

/// A direct connection to the test's database, to age rows or look at the file.
fn sqlite(path: &Path) -> Connection {
    let c = Connection::open(path).unwrap();
    c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    c
}

fn one(c: &Connection, sql: &str) -> i64 {
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// `days` ago as the store keeps instants (milliseconds since the epoch).
fn days_ago(days: i64) -> i64 {
    Utc::now().timestamp_millis() - days * 86_400_000
}

/// Makes articles look first seen `days` ago (and their provenance with them).
fn age(c: &Connection, days: i64, which: &str) {
    let t = days_ago(days);
    c.execute(
        &format!("UPDATE article_sources SET first_seen = ?1 WHERE article_id IN (SELECT id FROM articles WHERE {which})"),
        [t],
    )
    .unwrap();
    c.execute(
        &format!("UPDATE articles SET first_seen = ?1 WHERE {which}"),
        [t],
    )
    .unwrap();
}

fn titles(o: &Output) -> Vec<String> {
    let mut t: Vec<String> = json(o)
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["title"].as_str().unwrap().to_string())
        .collect();
    t.sort();
    t
}

const DATE: &str = "Sat, 22 Aug 2026 08:00:00 +0700";

/// Three items with guids; `suffix` changes their titles (an outlet editing them).
fn three_items(suffix: &str) -> String {
    rss(&[
        item(
            &format!("Tin một{suffix}"),
            "https://sggp.org.vn/tin-mot-post800001.html",
            Some("800001"),
            DATE,
        ),
        item(
            &format!("Tin hai{suffix}"),
            "https://sggp.org.vn/tin-hai-post800002.html",
            Some("800002"),
            DATE,
        ),
        item(
            &format!("Tin ba{suffix}"),
            "https://sggp.org.vn/tin-ba-post800003.html",
            Some("800003"),
            DATE,
        ),
    ]
    .concat())
}

/// `n` items from `first` on, each with a body of about `body` bytes of Vietnamese text.
fn big_feed(first: usize, n: usize, body: usize) -> String {
    let para = "Chính phủ chỉ đạo các bộ, ngành và địa phương đẩy mạnh cải cách hành chính. ";
    let text = para.repeat(body / para.len() + 1);
    rss(&(first..first + n)
        .map(|i| {
            format!(
                "<item><title>Bản tin số {i} về cải cách</title><link>https://baochinhphu.vn/ban-tin-{i}.htm</link>\
                 <guid isPermaLink=\"false\">bcp-{i}</guid><pubDate>{DATE}</pubDate>\
                 <description><![CDATA[<p>{i}: {text}</p>]]></description></item>\n"
            )
        })
        .collect::<String>())
}

// ---------------------------------------------------------------------------------------------
// Pruning

#[tokio::test]
async fn pruned_articles_are_never_stored_again_when_their_source_serves_them_again() {
    let srv = Server::start().await;
    srv.set("/rss", Route::feed(three_items("")));
    let env = Env::new(&source("sggp", &srv.url("/rss"), ""));
    let ing = env.ingestor().await;
    assert_eq!(
        poll(&ing, &["sggp"]).await[0].outcome.to_string(),
        "new: 3 new, 0 updated, 0 unchanged"
    );
    let db = sqlite(&env.db_path());
    // Older than the default [storage] keep_days = 365.
    age(&db, 400, "title IN ('Tin một', 'Tin hai')");

    let out = stdout(&run_bantin(Some(&env.config_path), &["prune"]).await);
    assert!(out.contains("pruned 2 articles first seen before"), "{out}");
    assert!(out.contains("keep_days = 365"), "{out}");
    assert!(out.contains("identity keys kept as tombstones"), "{out}");
    assert_eq!(one(&db, "SELECT count(*) FROM articles"), 1);
    let tombstones = one(
        &db,
        "SELECT count(*) FROM article_keys WHERE article_id IS NULL",
    );
    assert!(
        tombstones >= 2,
        "every key of the pruned articles stays: {tombstones}"
    );
    assert_eq!(one(&db, "SELECT count(*) FROM pragma_foreign_key_check"), 0);

    // Served again as they were, then edited: never stored again.
    for suffix in ["", " (cập nhật)"] {
        srv.set("/rss", Route::feed(three_items(suffix)));
        let outcome = poll(&ing, &["sggp"]).await[0].outcome.to_string();
        assert!(outcome.ends_with("2 pruned earlier"), "{outcome}");
        assert!(
            outcome.starts_with("unchanged: 0 new") || outcome.starts_with("updated: 0 new"),
            "{outcome}"
        );
    }
    let listed = run_bantin(Some(&env.config_path), &["articles", "--json"]).await;
    assert_eq!(titles(&listed), ["Tin ba (cập nhật)"]);
}

#[tokio::test]
async fn prune_dry_run_counts_and_changes_nothing() {
    let srv = Server::start().await;
    srv.set("/rss", Route::feed(three_items("")));
    let env = Env::new(&source("sggp", &srv.url("/rss"), ""));
    let ing = env.ingestor().await;
    poll(&ing, &["sggp"]).await;
    let db = sqlite(&env.db_path());
    age(&db, 400, "1");
    let snapshot = |db: &Connection| -> String {
        db.query_row(
            "SELECT (SELECT group_concat(id || ':' || first_seen) FROM articles)
                 || '|' || (SELECT group_concat(hex(key) || ':' || coalesce(article_id, '-')) FROM article_keys)
                 || '|' || (SELECT count(*) FROM article_sources)
                 || '|' || (SELECT count(*) FROM matches)",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    let before = snapshot(&db);

    let out = stdout(&run_bantin(Some(&env.config_path), &["prune", "--dry-run"]).await);
    assert!(out.contains("would prune 3 articles"), "{out}");
    assert!(out.contains("nothing changed (dry run)"), "{out}");
    let dry = json(&run_bantin(Some(&env.config_path), &["prune", "--dry-run", "--json"]).await);
    assert_eq!(dry["dry_run"], true, "{dry}");
    assert_eq!(dry["articles"], 3, "{dry}");
    assert_eq!(dry["keep_days"], 365, "{dry}");
    assert_eq!(snapshot(&db), before, "a dry run changed the database");
    assert_eq!(articles(&ing).len(), 3);

    let real = json(&run_bantin(Some(&env.config_path), &["prune", "--json"]).await);
    assert_eq!(real["dry_run"], false, "{real}");
    for field in [
        "articles",
        "source_links",
        "tombstones",
        "matches",
        "page_jobs",
    ] {
        assert_eq!(
            real[field], dry[field],
            "{field}: dry run {dry}, real {real}"
        );
    }
    assert!(articles(&ing).is_empty());
}

#[tokio::test]
async fn pruning_many_articles_gives_the_space_back_to_the_file_system() {
    const N: usize = 1_200;
    let srv = Server::start().await;
    srv.set("/rss", Route::feed(big_feed(0, N, 3_000)));
    let env = Env::new(&source("bcp", &srv.url("/rss"), ""));
    let ing = env.ingestor().await;
    let outcome = poll(&ing, &["bcp"]).await[0].outcome.to_string();
    assert!(outcome.starts_with(&format!("new: {N} new")), "{outcome}");
    drop(ing);
    let db = sqlite(&env.db_path());
    age(&db, 400, "id > 10");
    db.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    let (pages_before, file_before) = (
        one(&db, "PRAGMA page_count"),
        std::fs::metadata(env.db_path()).unwrap().len(),
    );
    drop(db);

    let got = json(&run_bantin(Some(&env.config_path), &["prune", "--json"]).await);
    assert_eq!(got["articles"], N - 10, "{got}");

    let db = sqlite(&env.db_path());
    let (pages_after, free_after) = (
        one(&db, "PRAGMA page_count"),
        one(&db, "PRAGMA freelist_count"),
    );
    drop(db);
    let file_after = std::fs::metadata(env.db_path()).unwrap().len();
    eprintln!(
        "pruned {} of {N} articles: {pages_before} → {pages_after} pages, file {file_before} → {file_after} bytes, reported {} bytes reclaimed",
        N - 10,
        got["bytes_reclaimed"]
    );
    assert_eq!(free_after, 0, "every free page given back");
    assert!(
        pages_after * 5 < pages_before,
        "{pages_before} → {pages_after} pages"
    );
    assert_eq!(
        got["pages_freed"].as_i64().unwrap(),
        pages_before - pages_after,
        "{got}"
    );
    assert_eq!(
        got["bytes_reclaimed"].as_u64().unwrap(),
        got["pages_freed"].as_u64().unwrap() * 4096
    );
    assert!(
        file_after * 5 < file_before,
        "the file itself shrinks: {file_before} → {file_after} bytes"
    );
    let out = run_bantin(
        Some(&env.config_path),
        &["articles", "--json", "--limit", "100"],
    )
    .await;
    assert_eq!(titles(&out).len(), 10);
}

// ---------------------------------------------------------------------------------------------
// Backups and restores

#[tokio::test]
async fn a_backup_taken_while_ingest_writes_is_consistent_and_complete() {
    let srv = Server::start().await;
    srv.set("/rss", Route::feed(big_feed(0, 400, 3_000)));
    let env = Env::new(&source("bcp", &srv.url("/rss"), ""));
    let ing = env.ingestor().await;
    poll(&ing, &["bcp"]).await;

    // A writer storing ten new articles per poll until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let polls = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (ing, srv, stop, polls) = (ing.clone(), srv.clone(), stop.clone(), polls.clone());
        tokio::spawn(async move {
            let mut next = 400;
            while !stop.load(Ordering::SeqCst) {
                srv.set("/rss", Route::feed(big_feed(next, 10, 3_000)));
                poll(&ing, &["bcp"]).await;
                next += 10;
                polls.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    wait_until(
        "the writer has stored a poll",
        std::time::Duration::from_secs(15),
        || {
            let polls = polls.clone();
            async move { polls.load(Ordering::SeqCst) > 0 }
        },
    )
    .await;
    let polls_then = polls.load(Ordering::SeqCst);
    let stored_before = ing.store.article_count().unwrap();
    let target = env.dir.path().join("backups/bantin-backup.db");
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    let out = run_bantin(
        Some(&env.config_path),
        &["backup", target.to_str().unwrap()],
    )
    .await;
    let stored_after = ing.store.article_count().unwrap();
    let polls_during = polls.load(Ordering::SeqCst) - polls_then;
    stop.store(true, Ordering::SeqCst);
    writer.await.unwrap();

    let printed = stdout(&out);
    eprintln!("{printed}({polls_during} polls stored articles while the backup ran)");
    assert!(printed.contains("integrity ok"), "{printed}");
    let copy = Connection::open(&target).unwrap();
    let check: String = copy
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let mode: String = copy
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "delete", "a backup is one self-contained file");
    let in_copy = one(&copy, "SELECT count(*) FROM articles") as u64;
    assert!(
        (stored_before..=stored_after).contains(&in_copy),
        "{in_copy} articles in the copy; {stored_before} before the backup, {stored_after} after ({polls_during} polls meanwhile)"
    );
    assert!(
        printed.contains(&format!("{in_copy} articles")),
        "{printed}"
    );
    // Every article's provenance and keys came along from the same snapshot.
    assert_eq!(
        one(&copy, "SELECT count(*) FROM articles a WHERE NOT EXISTS (SELECT 1 FROM article_sources s WHERE s.article_id = a.id)"),
        0
    );
    let leftovers: Vec<String> = std::fs::read_dir(target.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(leftovers, ["bantin-backup.db"], "no temporary files left");
}

#[tokio::test]
async fn a_backup_never_replaces_an_existing_file_unless_forced() {
    let srv = Server::start().await;
    srv.set("/rss", Route::feed(three_items("")));
    let env = Env::new(&source("sggp", &srv.url("/rss"), ""));
    poll(&env.ingestor().await, &["sggp"]).await;
    let target = env.dir.path().join("backup.db");
    std::fs::write(&target, "an older backup").unwrap();

    let out = run_bantin(
        Some(&env.config_path),
        &["backup", target.to_str().unwrap()],
    )
    .await;
    assert!(!out.status.success(), "{}", shown(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{}",
        shown(&out)
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "an older backup");

    let out = run_bantin(
        Some(&env.config_path),
        &["backup", "--force", target.to_str().unwrap()],
    )
    .await;
    assert!(stdout(&out).contains("3 articles"), "{}", shown(&out));
    assert_eq!(one(&sqlite(&target), "SELECT count(*) FROM articles"), 3);
}

#[tokio::test]
async fn restore_is_refused_while_the_database_is_open_then_brings_the_backup_back() {
    let srv = Server::start().await;
    srv.set("/rss", Route::feed(three_items("")));
    let env = Env::new(&source("sggp", &srv.url("/rss"), ""));
    let ing = env.ingestor().await;
    poll(&ing, &["sggp"]).await;
    let backup = env.dir.path().join("backup.db");
    stdout(
        &run_bantin(
            Some(&env.config_path),
            &["backup", backup.to_str().unwrap()],
        )
        .await,
    );
    srv.set("/rss", Route::feed(big_feed(0, 5, 100)));
    poll(&ing, &["sggp"]).await;
    assert_eq!(articles(&ing).len(), 8);

    // The ingestor still has the database open, as a running daemon would.
    let out = run_bantin(
        Some(&env.config_path),
        &["restore", backup.to_str().unwrap()],
    )
    .await;
    assert!(!out.status.success(), "{}", shown(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is in use"),
        "{}",
        shown(&out)
    );
    assert_eq!(articles(&ing).len(), 8, "nothing replaced");
    drop(ing);

    let out = stdout(
        &run_bantin(
            Some(&env.config_path),
            &["restore", backup.to_str().unwrap()],
        )
        .await,
    );
    assert!(out.contains("3 articles"), "{out}");
    let listed = run_bantin(Some(&env.config_path), &["articles", "--json"]).await;
    assert_eq!(titles(&listed), ["Tin ba", "Tin hai", "Tin một"]);
    let kept: Vec<String> = std::fs::read_dir(env.db_path().parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.starts_with("bantin.db.before-restore-")
                && !n.ends_with("-wal")
                && !n.ends_with("-shm")
        })
        .collect();
    assert_eq!(kept.len(), 1, "the replaced database is kept: {kept:?}");
    let old = sqlite(&env.db_path().with_file_name(&kept[0]));
    assert_eq!(one(&old, "SELECT count(*) FROM articles"), 8);
}

#[tokio::test]
async fn a_database_from_a_newer_bantin_is_refused_by_every_command_and_left_untouched() {
    let env = Env::new("");
    drop(env.ingestor().await);
    {
        let db = sqlite(&env.db_path());
        let known = one(&db, "PRAGMA user_version");
        db.pragma_update(None, "user_version", known + 1).unwrap();
    }
    let bytes = std::fs::read(env.db_path()).unwrap();
    let backup = env.dir.path().join("backup.db");
    for args in [
        &["articles"][..],
        &["sources", "--json"],
        &["prune"],
        &["backup", backup.to_str().unwrap()],
    ] {
        let out = run_bantin(Some(&env.config_path), args).await;
        assert!(!out.status.success(), "{args:?}: {}", shown(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("newer than this bantin knows") && err.contains("was not changed"),
            "{args:?}: {}",
            shown(&out)
        );
        assert_eq!(
            std::fs::read(env.db_path()).unwrap(),
            bytes,
            "{args:?} changed the file"
        );
    }
    assert!(!backup.exists());
}

// ---------------------------------------------------------------------------------------------
// Stale sources

#[tokio::test]
async fn sources_with_nothing_new_for_stale_days_are_flagged_everywhere() {
    let srv = Server::start().await;
    srv.set("/fresh.rss", Route::feed(big_feed(0, 2, 100)));
    srv.set("/moved.rss", Route::feed(three_items("")));
    // Never had anything: stale once polled for stale_days.
    srv.set("/quiet.rss", Route::feed(rss("")));
    let env = Env::new(
        &[
            source("fresh", &srv.url("/fresh.rss"), ""),
            source("moved", &srv.url("/moved.rss"), ""),
            source("quiet", &srv.url("/quiet.rss"), ""),
        ]
        .concat(),
    );
    let ing = env.ingestor().await;
    poll(&ing, &["fresh", "moved", "quiet"]).await;

    // The HTTP side, with a scheduler that has just turned.
    let metrics = Arc::new(Metrics::default());
    metrics.beat(Utc::now().timestamp());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    let app = AppState::new(Arc::new(env.config()), ing.store.clone(), metrics);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(http::serve(listener, app, async move {
        let _ = stopped.await;
    }));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let healthz = || async {
        let r = client.get(format!("{base}healthz")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        serde_json::from_slice::<Value>(&r.bytes().await.unwrap()).unwrap()
    };
    let h = healthz().await;
    assert_eq!(h["status"], "ok", "{h}");
    assert_eq!(h["stale"], serde_json::json!([]), "{h}");

    // Ten days since `moved` last brought anything; `quiet` first polled eight days ago.
    let db = sqlite(&env.db_path());
    db.execute(
        "UPDATE sources SET last_new = ?1, first_attempt = ?2 WHERE id = 'moved'",
        [days_ago(10), days_ago(30)],
    )
    .unwrap();
    age(
        &db,
        10,
        "id IN (SELECT article_id FROM article_sources WHERE source_id = 'moved')",
    );
    db.execute(
        "UPDATE sources SET first_attempt = ?1 WHERE id = 'quiet'",
        [days_ago(8)],
    )
    .unwrap();
    // Polled again, serving what it served before: still nothing new.
    poll(&ing, &["moved", "quiet"]).await;

    let list = json(&run_bantin(Some(&env.config_path), &["sources", "--json"]).await);
    let by_id = |id: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(by_id("fresh")["stale"], false, "{list}");
    assert!(by_id("fresh").get("stale_days").is_none(), "{list}");
    assert_eq!(by_id("moved")["stale"], true, "{list}");
    assert_eq!(by_id("moved")["stale_days"], 10, "{list}");
    assert_eq!(
        by_id("moved")["state"],
        "ok",
        "stale is not a failure: {list}"
    );
    assert_eq!(by_id("quiet")["stale"], true, "{list}");
    assert_eq!(by_id("quiet")["stale_days"], 8, "{list}");

    let text = stdout(&run_bantin(Some(&env.config_path), &["sources"]).await);
    assert!(
        text.contains("stale: no new articles for 10 days"),
        "{text}"
    );
    assert!(text.contains("stale: no new articles for 8 days"), "{text}");
    assert_eq!(text.matches("stale:").count(), 2, "{text}");

    let h = healthz().await;
    assert_eq!(h["status"], "degraded", "{h}");
    assert_eq!(h["stale"], serde_json::json!(["moved", "quiet"]), "{h}");
    assert_eq!(h["sources"]["stale"], 2, "{h}");
    assert_eq!(h["stale_days"], 7, "{h}");

    let index = client
        .get(&base)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(index.contains("không có bài mới 10 ngày"), "{index}");
    assert!(index.contains("không có bài mới 8 ngày"), "{index}");

    // The feed comes back with something new: no longer stale.
    srv.set("/moved.rss", Route::feed(big_feed(100, 1, 100)));
    poll(&ing, &["moved"]).await;
    let h = healthz().await;
    assert_eq!(h["stale"], serde_json::json!(["quiet"]), "{h}");

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
