//! The `bantin` binary as an admin uses it: `check`, `fetch`, `sources`, `articles`, against a
//! fixture server on loopback and a config and database in a temp dir.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::*;
use chrono::DateTime;
use serde_json::Value;

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Both streams, for assertion messages.
fn shown(o: &Output) -> String {
    format!(
        "status: {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        stdout(o),
        stderr(o)
    )
}

fn json(o: &Output) -> Value {
    assert!(o.status.success(), "{}", shown(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", shown(o)))
}

/// A config file with exactly `text`, in its own temp dir.
fn config_file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bantin.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// Every line of `check`'s stderr is `path:line:col: message`, except the closing count.
fn assert_one_problem_per_line(o: &Output, path: &Path, problems: usize) {
    let err = stderr(o);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    let summary = format!("{}: {problems} problem(s)", path.display());
    assert_eq!(
        lines.last().copied(),
        Some(summary.as_str()),
        "{}",
        shown(o)
    );
    for line in &lines[..lines.len() - 1] {
        let rest = line
            .strip_prefix(&format!("{}:", path.display()))
            .unwrap_or_else(|| panic!("{line:?} does not start with the path\n{}", shown(o)));
        let mut parts = rest.splitn(3, ':');
        let (l, c, msg) = (parts.next(), parts.next(), parts.next());
        assert!(
            l.is_some_and(|l| l.parse::<usize>().is_ok())
                && c.is_some_and(|c| c.parse::<usize>().is_ok())
                && msg.is_some_and(|m| m.starts_with(' ') && m.len() > 1),
            "{line:?} is not path:line:col: message\n{}",
            shown(o)
        );
    }
    assert_eq!(lines.len() - 1, problems, "{}", shown(o));
}

#[tokio::test]
async fn check_reports_every_problem_with_its_position() {
    let (_dir, path) = config_file(concat!(
        "[storage]\n",                                 // 1
        "path = \"data/bantin.db\"\n",                 // 2
        "\n",                                          // 3
        "[poll]\n",                                    // 4
        "schedule = \"0 */15 * * * *\"\n",             // 5
        "timout = \"5s\"\n",                           // 6  typo
        "\n",                                          // 7
        "[[sources]]\n",                               // 8
        "id = \"nhandan\"\n",                          // 9
        "url = \"https://nhandan.vn/rss/home.rss\"\n", // 10
        "schedule = \"every 5 minutes\"\n",            // 11 bad cron
        "\n",                                          // 12
        "[[sources]]\n",                               // 13
        "id = \"sggp\"\n",                             // 14
        "url = \"sggp.org.vn/rss/home.rss\"\n",        // 15 bad url
        "\n",                                          // 16
        "[[sources]]\n",                               // 17
        "id = \"nhandan\"\n",                          // 18 duplicate
        "url = \"https://nhandan.vn/rss/chinhtri-1.rss\"\n",
    ));
    let o = run_bantin(Some(&path), &["check"]).await;
    assert_eq!(o.status.code(), Some(2), "{}", shown(&o));
    let err = stderr(&o);
    let p = path.display();
    for expected in [
        format!("{p}:6:1: unknown key `poll.timout`, did you mean `timeout`?"),
        format!("{p}:11:12: `sources[0].schedule`: invalid cron schedule \"every 5 minutes\""),
        format!("{p}:15:7: `sources[1].url`: invalid URL \"sggp.org.vn/rss/home.rss\""),
        format!("{p}:18:6: duplicate source id \"nhandan\" (first defined on line 9)"),
    ] {
        assert!(
            err.lines().any(|l| l.starts_with(&expected)),
            "missing {expected:?}\n{}",
            shown(&o)
        );
    }
    assert!(!stdout(&o).contains("ok"), "{}", shown(&o));
    // Editors and CI read one problem per line: a message must not spill onto lines of its own.
    assert_one_problem_per_line(&o, &path, 4);
}

#[tokio::test]
async fn check_reports_a_syntax_error_and_goes_on() {
    let (_dir, path) = config_file(concat!(
        "[poll]\n",
        "timeout = \"5s\n", // 2: unterminated string
        "concurrency = 4\n",
        "\n",
        "[[sources]]\n",
        "id = \"baochinhphu\"\n",
        "url = \"https://baochinhphu.vn/home.rss\"\n",
        "date_ordr = \"mdy\"\n", // 8
    ));
    let o = run_bantin(Some(&path), &["check"]).await;
    assert_eq!(o.status.code(), Some(2), "{}", shown(&o));
    let err = stderr(&o);
    let first = err.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!("{}:2:", path.display())),
        "syntax error not reported at line 2\n{}",
        shown(&o)
    );
    assert!(
        err.contains(&format!(
            "{}:8:1: unknown key `sources[0].date_ordr`, did you mean `date_order`?",
            path.display()
        )),
        "problems after the syntax error are reported too\n{}",
        shown(&o)
    );
    assert_one_problem_per_line(&o, &path, 2);
}

#[tokio::test]
async fn check_accepts_a_good_config() {
    let env = Env::new(
        &[
            source("nhandan", "https://nhandan.vn/rss/home.rss", ""),
            source(
                "baochinhphu",
                "https://baochinhphu.vn/home.rss",
                "date_order = \"mdy\"",
            ),
        ]
        .concat(),
    );
    let o = run_bantin(Some(&env.config_path), &["check"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", shown(&o));
    assert_eq!(
        stdout(&o).trim(),
        format!(
            "{}: ok (2 sources, no topics file)",
            env.config_path.display()
        )
    );
    assert!(
        !env.db_path().exists(),
        "check must not create the database"
    );
}

#[tokio::test]
async fn check_accepts_the_shipped_config() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/bantin.toml");
    let o = run_bantin(Some(&path), &["check"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", shown(&o));
    assert!(stdout(&o).contains(": ok ("), "{}", shown(&o));
}

#[tokio::test]
async fn config_path_can_come_from_bantin_config() {
    let env = Env::new(&source("nhandan", "https://nhandan.vn/rss/home.rss", ""));
    // Another working directory, so that the default config/bantin.toml cannot be found by chance.
    let elsewhere = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(bin());
    cmd.current_dir(elsewhere.path())
        .env("BANTIN_CONFIG", &env.config_path)
        .env("RUST_LOG", "warn")
        .arg("check");
    let o = run_command(cmd).await;
    assert_eq!(o.status.code(), Some(0), "{}", shown(&o));
    assert_eq!(
        stdout(&o).trim(),
        format!(
            "{}: ok (1 sources, no topics file)",
            env.config_path.display()
        )
    );
}

#[tokio::test]
async fn fetch_prints_one_line_per_source_and_names_the_failed_ones() {
    let srv = Server::start().await;
    srv.set("/nhandan.rss", Route::feed(feed_of("nhandan.vn", 2)));
    srv.set("/hanoimoi.rss", Route::status(500, "Internal Server Error"));
    let env = Env::new(
        &[
            source("nhandan", &srv.url("/nhandan.rss"), ""),
            source("hanoimoi", &srv.url("/hanoimoi.rss"), ""),
        ]
        .concat(),
    );

    let o = run_bantin(Some(&env.config_path), &["fetch"]).await;
    assert_eq!(
        o.status.code(),
        Some(0),
        "a failing source is not a failing command\n{}",
        shown(&o)
    );
    let out = stdout(&o);
    let line = |id: &str| -> String {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .map(|l| l.get(id.len()..).unwrap().trim().to_string())
            .unwrap_or_else(|| panic!("no line for {id}\n{}", shown(&o)))
    };
    assert_eq!(line("nhandan"), "new: 2 new, 0 updated, 0 unchanged");
    assert!(
        line("hanoimoi").starts_with("error: HTTP 500"),
        "{}",
        shown(&o)
    );
    assert_eq!(
        out.lines().last(),
        Some("2 sources polled, 1 failed: hanoimoi"),
        "{}",
        shown(&o)
    );

    // Once more: the known articles are not new.
    let o = run_bantin(Some(&env.config_path), &["fetch", "nhandan"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", shown(&o));
    assert!(
        stdout(&o).contains("unchanged: 0 new, 0 updated, 2 unchanged"),
        "{}",
        shown(&o)
    );
    assert!(
        stdout(&o).contains("1 sources polled, all ok"),
        "{}",
        shown(&o)
    );
}

#[tokio::test]
async fn fetch_refuses_an_unknown_source_id() {
    let env = Env::new(&source("nhandan", "http://127.0.0.1:9/rss", ""));
    let o = run_bantin(Some(&env.config_path), &["fetch", "nhan-dan"]).await;
    assert_eq!(o.status.code(), Some(2), "{}", shown(&o));
    let err = stderr(&o);
    assert!(
        err.contains("nhan-dan") && err.contains("unknown source"),
        "{}",
        shown(&o)
    );
    assert!(
        err.contains("nhandan"),
        "the message lists the configured ids\n{}",
        shown(&o)
    );
}

#[tokio::test]
async fn sources_show_each_sources_state() {
    let srv = Server::start().await;
    srv.set("/nhandan.rss", Route::feed(feed_of("nhandan.vn", 3)));
    srv.set("/hanoimoi.rss", Route::status(500, "Internal Server Error"));
    let env = Env::new(
        &[
            source("nhandan", &srv.url("/nhandan.rss"), ""),
            source("hanoimoi", &srv.url("/hanoimoi.rss"), ""),
        ]
        .concat(),
    );
    let o = run_bantin(Some(&env.config_path), &["fetch"]).await;
    assert!(o.status.success(), "{}", shown(&o));

    let v = json(&run_bantin(Some(&env.config_path), &["sources", "--json"]).await);
    let list = v
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {v:#}"));
    let ids: Vec<&str> = list.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["nhandan", "hanoimoi"], "config order");
    let rfc3339 = |v: &Value| {
        v.as_str()
            .is_some_and(|s| DateTime::parse_from_rfc3339(s).is_ok())
    };

    let ok = &list[0];
    assert_eq!(ok["state"], "ok", "{ok:#}");
    assert!(rfc3339(&ok["last_success"]), "{ok:#}");
    assert_eq!(ok["last_error"], Value::Null, "{ok:#}");
    assert_eq!(ok["failures"], 0, "{ok:#}");
    assert!(rfc3339(&ok["next_poll"]), "{ok:#}");
    assert_eq!(ok["current_url"], srv.url("/nhandan.rss"), "{ok:#}");
    assert_eq!(ok["articles"], 3, "{ok:#}");

    let failing = &list[1];
    assert_eq!(failing["state"], "failing", "{failing:#}");
    assert_eq!(failing["last_success"], Value::Null, "{failing:#}");
    assert!(
        failing["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("HTTP 500")),
        "{failing:#}"
    );
    assert_eq!(failing["failures"], 1, "{failing:#}");
    assert!(rfc3339(&failing["next_poll"]), "{failing:#}");
    assert_eq!(
        failing["current_url"],
        srv.url("/hanoimoi.rss"),
        "{failing:#}"
    );
    assert_eq!(failing["articles"], 0, "{failing:#}");

    let o = run_bantin(Some(&env.config_path), &["sources"]).await;
    assert!(o.status.success(), "{}", shown(&o));
    let out = stdout(&o);
    let row = |id: &str| {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .unwrap_or_else(|| panic!("no row for {id}:\n{out}"))
    };
    assert!(
        row("nhandan").split_whitespace().nth(1) == Some("ok"),
        "{out}"
    );
    assert!(
        row("hanoimoi").split_whitespace().nth(1) == Some("failing"),
        "{out}"
    );
    assert!(out.contains("HTTP 500"), "the last error is shown:\n{out}");
}

#[tokio::test]
async fn articles_json_lists_newest_first_and_filters() {
    let srv = Server::start().await;
    let shared = item(
        "Tin chung của hai nguồn",
        "https://chung.vn/tin-chung.html",
        None,
        "Thu, 20 Aug 2026 10:00:00 +0700",
    );
    let a = [
        item(
            "A mới",
            "https://a.vn/a-moi.html",
            None,
            "Sat, 22 Aug 2026 21:15:00 +0700",
        ),
        item(
            "A cũ",
            "https://a.vn/a-cu.html",
            None,
            "Fri, 21 Aug 2026 08:00:00 +0700",
        ),
        shared.clone(),
    ]
    .concat();
    let b = [
        item(
            "B mới nhất",
            "https://b.vn/b.html",
            None,
            "Sat, 22 Aug 2026 23:00:00 +07:00",
        ),
        shared,
    ]
    .concat();
    srv.set("/a.rss", Route::feed(rss(&a)));
    srv.set("/b.rss", Route::feed(rss(&b)));
    let env = Env::new(
        &[
            source("a", &srv.url("/a.rss"), ""),
            source("b", &srv.url("/b.rss"), ""),
        ]
        .concat(),
    );
    assert!(run_bantin(Some(&env.config_path), &["fetch"])
        .await
        .status
        .success());

    let titles = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|a| a["title"].as_str().unwrap().to_string())
            .collect()
    };
    let all = json(&run_bantin(Some(&env.config_path), &["articles", "--json"]).await);
    assert_eq!(
        titles(&all),
        ["B mới nhất", "A mới", "A cũ", "Tin chung của hai nguồn"],
        "newest first"
    );

    let first = &all[0];
    assert!(first["id"].is_i64(), "{first:#}");
    assert_eq!(first["url"], "https://b.vn/b.html");
    assert_eq!(first["published"], "2026-08-22T23:00:00+07:00");
    assert_eq!(first["date_guessed"], false);
    assert_eq!(first["sources"], serde_json::json!(["b"]));
    assert!(
        first["first_seen"]
            .as_str()
            .is_some_and(|s| DateTime::parse_from_rfc3339(s).is_ok()),
        "{first:#}"
    );
    assert_eq!(first["updated"], Value::Null);
    let mut shared_sources: Vec<&str> = all[3]["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    shared_sources.sort();
    assert_eq!(shared_sources, ["a", "b"], "{:#}", all[3]);
    for a in all.as_array().unwrap() {
        let p = a["published"].as_str().unwrap();
        assert!(
            DateTime::parse_from_rfc3339(p).is_ok_and(|t| t.offset().local_minus_utc() == 7 * 3600),
            "{p}"
        );
    }

    let by = |args: &'static [&'static str]| {
        let mut full = vec!["articles", "--json"];
        full.extend_from_slice(args);
        let config = env.config_path.clone();
        async move { json(&run_bantin(Some(&config), &full).await) }
    };
    assert_eq!(
        titles(&by(&["--source", "b"]).await),
        ["B mới nhất", "Tin chung của hai nguồn"]
    );
    assert_eq!(
        titles(&by(&["--since", "2026-08-21T00:00:00+07:00"]).await),
        ["B mới nhất", "A mới", "A cũ"]
    );
    // An instant, whatever the offset it is written in: 22 Aug 14:15 UTC is 21:15 in Hà Nội.
    assert_eq!(
        titles(&by(&["--since", "2026-08-22T14:15:00Z"]).await),
        ["B mới nhất", "A mới"]
    );
    assert_eq!(
        titles(&by(&["--limit", "2"]).await),
        ["B mới nhất", "A mới"]
    );
    assert_eq!(
        titles(
            &by(&[
                "--source",
                "a",
                "--since",
                "2026-08-21T00:00:00+07:00",
                "--limit",
                "1"
            ])
            .await
        ),
        ["A mới"]
    );
}

#[tokio::test]
async fn articles_rejects_a_bad_since() {
    let env = Env::new("");
    let o = run_bantin(
        Some(&env.config_path),
        &["articles", "--json", "--since", "hôm qua"],
    )
    .await;
    assert!(!o.status.success(), "{}", shown(&o));
    let err = stderr(&o);
    assert!(
        err.contains("hôm qua") && err.contains("RFC 3339"),
        "the error names the value and the format\n{}",
        shown(&o)
    );
    assert!(stdout(&o).trim().is_empty(), "{}", shown(&o));
}

#[tokio::test]
async fn the_database_is_created_with_its_directories_on_first_run() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("var/lib/bantin/bantin.db");
    let config = dir.path().join("bantin.toml");
    std::fs::write(
        &config,
        format!(
            "[storage]\npath = {db:?}\n\n[[sources]]\nid = \"a\"\nurl = \"https://a.vn/rss\"\n"
        ),
    )
    .unwrap();
    let o = run_bantin(Some(&config), &["sources", "--json"]).await;
    assert!(o.status.success(), "{}", shown(&o));
    assert!(db.is_file(), "{} not created", db.display());
    assert_eq!(json(&o)[0]["state"], "pending");
}

#[tokio::test]
async fn a_relative_database_path_is_relative_to_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bantin.toml");
    std::fs::write(&config, "[storage]\npath = \"du-lieu/bantin.db\"\n").unwrap();
    let mut cmd = std::process::Command::new(bin());
    cmd.current_dir(dir.path())
        .env_remove("BANTIN_CONFIG")
        .env("RUST_LOG", "warn")
        .args(["--config", "bantin.toml", "articles"]);
    let o = run_command(cmd).await;
    assert!(o.status.success(), "{}", shown(&o));
    assert!(
        dir.path().join("du-lieu/bantin.db").is_file(),
        "{}",
        shown(&o)
    );
}

#[tokio::test]
async fn commands_started_together_on_a_new_database_all_succeed() {
    // `bantin run` started by the service manager while an admin runs `bantin articles`: both
    // find no database and create the schema at the same moment.
    let env = Env::new(&source("a", "https://a.vn/rss", ""));
    let children: Vec<std::process::Child> = (0..6)
        .map(|_| {
            std::process::Command::new(bin())
                .env_remove("BANTIN_CONFIG")
                .env("RUST_LOG", "warn")
                .arg("--config")
                .arg(&env.config_path)
                .args(["articles", "--json"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut failed = Vec::new();
    for child in children {
        let o = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
            .await
            .unwrap();
        if !o.status.success() {
            failed.push(shown(&o));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of 6 concurrent first runs failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
}
