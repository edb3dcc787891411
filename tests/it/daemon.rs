//! The daemon: in process through `bantin::daemon::run` with a shutdown future the test drives,
//! and as a real `bantin run` process stopped by SIGTERM or SIGINT.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::*;
use bantin::daemon::{self, SHUTDOWN_GRACE};
use bantin::store::{SourceHealth, Store};
use tokio::sync::oneshot;

/// Long enough for a loaded CI machine, short enough to fail fast.
const WITHIN: Duration = Duration::from_secs(10);

#[tokio::test]
async fn the_daemon_polls_every_source_and_stops_when_told() {
    let srv = Server::start().await;
    srv.set("/nhandan.rss", Route::feed(feed_of("nhandan.vn", 3)));
    srv.set("/vtv.rss", Route::feed(feed_of("vtv.vn", 2)));
    let env = Env::new(
        &[
            source("nhandan", &srv.url("/nhandan.rss"), ""),
            source("vtv", &srv.url("/vtv.rss"), ""),
        ]
        .concat(),
    );
    let ing = env.ingestor().await;

    let (stop, stopped) = oneshot::channel::<()>();
    let daemon = tokio::spawn(daemon::run(ing.clone(), None, async move {
        let _ = stopped.await;
    }));
    wait_until("both sources are stored", WITHIN, || {
        let n = articles(&ing).len();
        async move { n == 5 }
    })
    .await;

    stop.send(()).unwrap();
    let result = tokio::time::timeout(WITHIN, daemon)
        .await
        .expect("run did not return within 10 s after shutdown");
    result.unwrap().expect("run returned an error");

    let states = ing.states().await.unwrap();
    for s in &states {
        assert_eq!(s.health, SourceHealth::Ok, "{s:?}");
        assert!(
            s.next_poll.is_some_and(|t| t > s.last_success.unwrap()),
            "next poll scheduled after the last one: {s:?}"
        );
    }
    assert_eq!(
        states.iter().map(|s| s.articles).collect::<Vec<_>>(),
        [3, 2]
    );
    assert_eq!(
        srv.hits("/nhandan.rss"),
        1,
        "polled once, then waits for its schedule"
    );
}

#[tokio::test]
async fn shutdown_during_a_poll_leaves_a_consistent_database() {
    let srv = Server::start().await;
    srv.set("/nhanh.rss", Route::feed(feed_of("nhandan.vn", 3)));
    // The slow source sends its feed one byte every 100 ms: minutes for the whole body.
    srv.set(
        "/cham.rss",
        Route::Trickle {
            bytes: feed_of("qdnd.vn", 3).into_bytes(),
            every: Duration::from_millis(100),
        },
    );
    let env = Env::with_poll(
        "host_interval = \"0s\"\ntimeout = \"120s\"\nconnect_timeout = \"2s\"",
        &[
            source("nhanh", &srv.url("/nhanh.rss"), ""),
            source("cham", &srv.url("/cham.rss"), ""),
        ]
        .concat(),
    );
    let ing = env.ingestor().await;

    let (stop, stopped) = oneshot::channel::<()>();
    let daemon = tokio::spawn(daemon::run(ing.clone(), None, async move {
        let _ = stopped.await;
    }));
    wait_until(
        "the fast source is stored while the slow one is being fetched",
        WITHIN,
        || {
            let fast = articles(&ing).len();
            let slow_started = srv.hits("/cham.rss") == 1;
            async move { fast == 3 && slow_started }
        },
    )
    .await;

    stop.send(()).unwrap();
    let asked = Instant::now();
    let result = tokio::time::timeout(WITHIN, daemon)
        .await
        .expect("run did not return within 10 s after shutdown");
    result.unwrap().expect("run returned an error");
    assert!(
        asked.elapsed() < SHUTDOWN_GRACE,
        "shutdown took {:?}: the fetch in flight was waited out instead of cancelled",
        asked.elapsed()
    );

    assert_eq!(ing.store.integrity_check().unwrap(), Ok(()));
    // Read back through a fresh handle, as the next start would.
    let store = Store::open(&env.db_path()).unwrap();
    assert_eq!(store.integrity_check().unwrap(), Ok(()));
    let stored = articles(&ing);
    let mut titles: Vec<&str> = stored.iter().map(|a| a.title.as_str()).collect();
    titles.sort();
    assert_eq!(
        titles,
        [
            "Tin 0 của nhandan.vn",
            "Tin 1 của nhandan.vn",
            "Tin 2 của nhandan.vn"
        ]
    );
    assert!(stored.iter().all(|a| a.sources == ["nhanh"]), "{stored:#?}");

    let states = store
        .source_states(&["nhanh".to_string(), "cham".to_string()])
        .unwrap();
    let (fast, slow) = (&states[0], &states[1]);
    assert_eq!(
        (fast.health, fast.articles, fast.failures),
        (SourceHealth::Ok, 3, 0),
        "{fast:?}"
    );
    assert_eq!(
        slow.failures, 0,
        "a cancelled fetch is not a failure: {slow:?}"
    );
    assert_eq!(slow.articles, 0, "{slow:?}");
    assert_eq!(slow.last_error, None, "{slow:?}");
    assert_eq!(
        slow.last_attempt, None,
        "nothing recorded for the interrupted poll: {slow:?}"
    );
    assert_eq!(slow.health, SourceHealth::Pending, "{slow:?}");
}

/// Starts `bantin run` on a fixture feed, waits until `bantin articles --json` shows its
/// articles, sends `signal` with kill(1), and expects a clean exit within 10 s.
async fn stops_cleanly_on(signal: &str) {
    let srv = Server::start().await;
    srv.set("/rss", Route::feed(feed_of("sggp.org.vn", 2)));
    let env = Env::new(&source("sggp", &srv.url("/rss"), ""));
    // Create the database first: a CLI started while the daemon creates the schema would race
    // it (tests/cli.rs, commands_started_together_on_a_new_database_all_succeed).
    let created = run_bantin(Some(&env.config_path), &["sources", "--json"]).await;
    assert!(created.status.success(), "{created:?}");
    let log = env.dir.path().join("bantin.log");
    let mut running = Running::start(&env.config_path, log);

    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let o = run_bantin(Some(&env.config_path), &["articles", "--json"]).await;
        let n = serde_json::from_slice::<serde_json::Value>(&o.stdout)
            .ok()
            .and_then(|v| v.as_array().map(Vec::len));
        if n == Some(2) {
            break;
        }
        if let Ok(Some(status)) = running.child.try_wait() {
            panic!("bantin run exited early with {status}:\n{}", running.log());
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "articles never appeared:\n{}",
            running.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let pid = running.child.id().to_string();
    let sent = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(&pid)
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{signal} {pid} failed");
    let deadline = tokio::time::Instant::now() + WITHIN;
    let status = loop {
        if let Some(status) = running.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "bantin run still running 10 s after SIG{signal}:\n{}",
            running.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        status.code(),
        Some(0),
        "exit after SIG{signal}: {status}\n{}",
        running.log()
    );

    // The database is whole and the articles are still there after the process is gone.
    let store = Store::open(&env.db_path()).unwrap();
    assert_eq!(store.integrity_check().unwrap(), Ok(()));
    assert_eq!(store.article_count().unwrap(), 2);
}

#[tokio::test]
async fn bantin_run_stops_cleanly_on_sigterm() {
    stops_cleanly_on("TERM").await;
}

#[tokio::test]
async fn bantin_run_stops_cleanly_on_sigint() {
    stops_cleanly_on("INT").await;
}
