//! `bantin run` in production: the real binary under a stand-in for systemd (a datagram socket
//! in a temp dir as `NOTIFY_SOCKET`), and its logs as the config asks for them.
//!
//! Without `NOTIFY_SOCKET` the binary runs unchanged: every other test that starts `bantin run`
//! shows that.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::{feed_of, source, wait_until, Env, Route, Running, Server};
use tokio::net::UnixDatagram;

const WITHIN: Duration = Duration::from_secs(20);

/// Starts `bantin run` on `env` with `vars` set, `RUST_LOG` only when given, and stderr in the
/// temp dir.
fn start(env: &Env, vars: &[(&str, &str)]) -> Running {
    let log = env.dir.path().join("bantin.log");
    let mut cmd = Command::new(crate::common::bin());
    for v in [
        "BANTIN_CONFIG",
        "RUST_LOG",
        "NOTIFY_SOCKET",
        "WATCHDOG_USEC",
        "WATCHDOG_PID",
    ] {
        cmd.env_remove(v);
    }
    cmd.envs(vars.iter().copied())
        .arg("--config")
        .arg(&env.config_path)
        .arg("run")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    Running {
        child: cmd.spawn().unwrap(),
        log,
    }
}

/// The service manager's side of the notify socket.
struct Manager {
    sock: UnixDatagram,
}

impl Manager {
    fn bind(path: &Path) -> Manager {
        Manager {
            sock: UnixDatagram::bind(path).unwrap(),
        }
    }

    /// Reads datagrams until one has a line for which `want` holds; returns that datagram's
    /// lines. Panics (with the daemon's log) when none comes within [`WITHIN`].
    async fn until(
        &self,
        running: &mut Running,
        what: &str,
        want: impl Fn(&str) -> bool,
    ) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + WITHIN;
        let mut buf = vec![0u8; 4096];
        loop {
            running.assert_alive();
            let got = tokio::time::timeout_at(deadline, self.sock.recv(&mut buf)).await;
            let Ok(n) = got else {
                panic!("no {what} within {WITHIN:?}:\n{}", running.log());
            };
            let text = String::from_utf8(buf[..n.unwrap()].to_vec()).unwrap();
            let lines: Vec<String> = text.lines().map(str::to_string).collect();
            if lines.iter().any(|l| want(l)) {
                return lines;
            }
        }
    }
}

fn status_of(lines: &[String]) -> &str {
    lines
        .iter()
        .find_map(|l| l.strip_prefix("STATUS="))
        .unwrap_or_else(|| panic!("no STATUS in {lines:?}"))
}

async fn get(url: &str) -> u16 {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder().timeout(WITHIN).build().unwrap();
    client.get(url).send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn under_systemd_ready_status_watchdog_reload_and_stop_are_reported() {
    let server = Server::start().await;
    server.set("/rss", Route::feed(feed_of("bao.example.vn", 2)));
    let env = Env::new(&source("bao", &server.url("/rss"), ""));
    let manager = Manager::bind(&env.dir.path().join("notify"));
    let socket = env.dir.path().join("notify");
    let mut running = start(
        &env,
        &[
            ("NOTIFY_SOCKET", socket.to_str().unwrap()),
            // 2 s: a ping every second. WATCHDOG_PID stays unset (it would have to be the
            // child's pid, unknown before the spawn).
            ("WATCHDOG_USEC", "2000000"),
            ("RUST_LOG", "info"),
        ],
    );

    // READY=1 once config, database and listener are up, with a first status line; the
    // feeds are served by then.
    let ready = manager
        .until(&mut running, "READY=1", |l| l == "READY=1")
        .await;
    let status = status_of(&ready).to_string();
    assert!(status.starts_with("1 source, "), "{status}");
    let addr = status
        .split("serving on ")
        .nth(1)
        .and_then(|s| s.split(';').next())
        .unwrap_or_else(|| panic!("no address in {status:?}"));
    assert_eq!(get(&format!("http://{addr}/healthz")).await, 200);

    // The summary follows the first poll round.
    let polled = manager
        .until(&mut running, "a status after the first poll round", |l| {
            l.starts_with("STATUS=") && l.contains("2 articles new in the last poll round")
        })
        .await;
    assert_eq!(
        status_of(&polled),
        format!("1 source, none failing; 2 articles new in the last poll round; serving on {addr}")
    );

    // The watchdog is fed, again and again.
    for _ in 0..3 {
        manager
            .until(&mut running, "WATCHDOG=1", |l| l == "WATCHDOG=1")
            .await;
    }

    // SIGHUP: RELOADING=1 (with the monotonic time notify-reload wants), then READY=1 and the
    // result.
    running.signal("HUP");
    let reloading = manager
        .until(&mut running, "RELOADING=1", |l| l == "RELOADING=1")
        .await;
    assert!(
        reloading.iter().any(|l| l.starts_with("MONOTONIC_USEC=")),
        "{reloading:?}"
    );
    let reloaded = manager
        .until(&mut running, "the reload result", |l| {
            l.starts_with("STATUS=configuration reloaded")
        })
        .await;
    assert!(reloaded.contains(&"READY=1".to_string()), "{reloaded:?}");
    assert_eq!(
        status_of(&reloaded),
        "configuration reloaded: 1 source, 0 topics"
    );

    // A broken config is refused, and the status says so (the file watcher may report it
    // first; either way it is the same message).
    let mut text = std::fs::read_to_string(&env.config_path).unwrap();
    text.push_str("\n[poll]\nconcurrency = \"many\"\n");
    std::fs::write(&env.config_path, text).unwrap();
    running.signal("HUP");
    let failed = manager
        .until(&mut running, "the failed reload", |l| {
            l.starts_with("STATUS=reload failed")
        })
        .await;
    assert!(
        status_of(&failed).ends_with("; keeping the running configuration"),
        "{failed:?}"
    );

    // SIGTERM: STOPPING=1, then a clean exit.
    running.signal("TERM");
    manager
        .until(&mut running, "STOPPING=1", |l| l == "STOPPING=1")
        .await;
    let deadline = tokio::time::Instant::now() + WITHIN;
    let exit = loop {
        if let Some(status) = running.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still running after SIGTERM:\n{}",
            running.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(exit.success(), "{exit}:\n{}", running.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn log_format_json_writes_one_json_object_per_line() {
    let env = Env::new("[log]\nformat = \"json\"\n");
    let mut running = start(&env, &[]);
    wait_until("the daemon logs that it is ready", WITHIN, || {
        running.assert_alive();
        let ready = running.log().contains("\"ready\"");
        async move { ready }
    })
    .await;
    running.signal("TERM");
    assert!(running.child.wait().unwrap().success(), "{}", running.log());

    let log = running.log();
    let events: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    let started = events
        .iter()
        .find(|e| e["fields"]["message"] == "bantin started")
        .unwrap_or_else(|| panic!("no start event in:\n{log}"));
    assert_eq!(started["level"], "INFO");
    assert_eq!(started["fields"]["sources"], 0);
    assert!(!log.contains('\x1b'), "no colour codes in JSON logs");
}

/// `RUST_LOG` wins; else `[log] level`; else info.
#[tokio::test(flavor = "multi_thread")]
async fn log_level_comes_from_rust_log_then_the_config() {
    for (rust_log, level, info_logged) in [
        (None, None, true),
        (None, Some("warn"), false),
        (Some("info"), Some("warn"), true),
        (Some("warn"), None, false),
    ] {
        let config = level
            .map(|l| format!("[log]\nlevel = \"{l}\"\n"))
            .unwrap_or_default();
        let env = Env::new(&config);
        let socket = env.dir.path().join("notify");
        let manager = Manager::bind(&socket);
        let mut vars = vec![("NOTIFY_SOCKET", socket.to_str().unwrap())];
        vars.extend(rust_log.map(|l| ("RUST_LOG", l)));
        let mut running = start(&env, &vars);
        manager
            .until(&mut running, "READY=1", |l| l == "READY=1")
            .await;
        running.signal("TERM");
        assert!(running.child.wait().unwrap().success(), "{}", running.log());
        assert_eq!(
            running.log().contains("bantin started"),
            info_logged,
            "RUST_LOG={rust_log:?}, [log] level={level:?}:\n{}",
            running.log()
        );
    }
}
