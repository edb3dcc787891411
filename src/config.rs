//! Configuration: TOML files → a validated [`Config`].
//!
//! Three files: the main one (`bantin.toml`), the topics file and the subscribers file (each
//! named in the main file, else looked for beside it). Each is read into TOML's spanned tree
//! once, then every section is read through a `Section` that records which keys it consumed.
//! Problems do not stop the reading: each one becomes a [`Problem`] with `file:line:col`, and
//! all of them, from all three files, are reported together (unknown keys get a "did you
//! mean"). Nothing downstream re-parses a string: schedules are `cron::Schedule`, URLs are
//! `Url`, time zones are `chrono_tz::Tz`.
//!
//! This file holds the orchestration: which file is read from where, the top-level keys, and
//! [`Config`] itself. The reader and reporter are in `reader`; each section is its own module
//! owning its types, defaults, known keys and reader: `storage`, `poll`, `http`, `log`,
//! `sources`, `topics` (the topics file), `mail` (`[mail]` and the subscribers file) and
//! `alerts`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use toml::Spanned;

mod alerts;
mod http;
mod log;
mod mail;
mod poll;
mod reader;
mod sources;
mod storage;
mod topics;

pub use alerts::Alerts;
pub use http::{base_url_for, Http, DEFAULT_HEADER_TIMEOUT};
pub use log::{Log, LogFormat};
pub use mail::{
    credential_path, is_plausible_email, CredentialError, Mail, MailTransport, PasswordSource,
    SmtpConfig, SmtpSecurity, Subscriber,
};
pub use poll::{Poll, Schedule, ScheduleError, DEFAULT_SCHEDULE};
pub use reader::{is_slug, Problem, Problems};
pub use sources::{ArticleRules, Css, CssError, ListRules, Source, SourceKind};
pub use storage::Storage;
pub use topics::{TopicWebhook, DEFAULT_WEBHOOK_TIMEOUT};

use crate::topics::Matcher;
use reader::{parse_toml, Reporter, Section};

/// The default location of the main config file, relative to the working directory.
pub const DEFAULT_PATH: &str = "config/bantin.toml";
const DEFAULT_TOPICS_FILE: &str = "topics.toml";
const DEFAULT_SUBSCRIBERS_FILE: &str = "subscribers.toml";
const DEFAULT_REMATCH_DAYS: u32 = 30;
/// The main file's top-level keys; each table is read by its own module.
const ROOT_KEYS: &[&str] = &[
    "topics_file",
    "subscribers_file",
    "rematch_days",
    "storage",
    "poll",
    "http",
    "mail",
    "log",
    "alerts",
    "sources",
];

/// A validated configuration. Built only by [`load`] / [`parse`].
#[derive(Debug, Clone)]
pub struct Config {
    /// The main config file this was read from.
    pub path: PathBuf,
    pub storage: Storage,
    pub poll: Poll,
    pub http: Http,
    pub sources: Vec<Source>,
    /// The topics file read, if any (`topics_file`, else `topics.toml` beside the main file
    /// when it exists).
    pub topics_path: Option<PathBuf>,
    /// Compiled topics.
    pub topics: Arc<Matcher>,
    /// The topics file's text ("" without one), for [`Config::topics_fingerprint`].
    topics_text: String,
    /// After topics change, articles first seen within this many days are matched again.
    pub rematch_days: u32,
    pub mail: Mail,
    /// `[alerts]`: who hears about failing sources and digests.
    pub alerts: Alerts,
    pub log: Log,
    /// The subscribers file read, if any.
    pub subscribers_path: Option<PathBuf>,
    pub subscribers: Vec<Subscriber>,
    /// The topics' webhooks (`[[topics]] webhook`), in the topics file's order.
    pub webhooks: Vec<TopicWebhook>,
    /// Every file this configuration reads or would read if it existed: the main file, the
    /// topics file and the subscribers file.
    watched: Vec<PathBuf>,
}

impl Config {
    /// The files this configuration reads, including those it would read once they exist
    /// (a `topics.toml` or `subscribers.toml` created beside the main file later): the daemon
    /// watches them all for changes.
    pub fn files(&self) -> Vec<PathBuf> {
        if self.watched.is_empty() {
            return vec![self.path.clone()];
        }
        self.watched.clone()
    }

    pub fn source(&self, id: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.id == id)
    }

    /// Changes whenever what topics match could change: the topics file's text, or a source's
    /// tags (topics can select sources by tag).
    pub fn topics_fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(self.topics_text.as_bytes());
        for s in &self.sources {
            h.update([0]);
            h.update(s.id.as_bytes());
            for t in &s.tags {
                h.update([1]);
                h.update(t.as_bytes());
            }
        }
        hex::encode(h.finalize())
    }
}

/// Reads and validates the config file at `path` and the topics file it names (or
/// `topics.toml` beside it); every problem of both files is reported.
pub fn load(path: &Path) -> Result<Config, Problems> {
    let text = std::fs::read_to_string(path).map_err(|e| unreadable(path, &e))?;
    let mut problems = Vec::new();
    let main = parse_main(path, &text, &mut problems);
    let dir = path.parent().unwrap_or(Path::new(""));
    let (topics_path, explicit) = match &main.topics_file {
        Some(f) => (dir.join(f), true),
        None => (dir.join(DEFAULT_TOPICS_FILE), false),
    };
    let mut config = main.config;
    match std::fs::read_to_string(&topics_path) {
        Ok(text) => {
            if let Some(t) =
                topics::parse_topics(&topics_path, &text, &config.sources, &mut problems)
            {
                config.topics = Arc::new(t.matcher);
                config.webhooks = t.webhooks;
            }
            config.topics_text = text;
            config.topics_path = Some(topics_path.clone());
        }
        Err(e) if explicit || e.kind() != std::io::ErrorKind::NotFound => {
            problems.push(unreadable(&topics_path, &e).0.remove(0));
        }
        Err(_) => {}
    }
    let (subscribers_path, explicit) = match &main.subscribers_file {
        Some(f) => (dir.join(f), true),
        None => (dir.join(DEFAULT_SUBSCRIBERS_FILE), false),
    };
    match std::fs::read_to_string(&subscribers_path) {
        Ok(text) => {
            let topic_ids: Vec<&str> = config.topics.topics().map(|(id, _)| id).collect();
            config.subscribers =
                mail::parse_subscribers(&subscribers_path, &text, &topic_ids, &mut problems);
            config.subscribers_path = Some(subscribers_path.clone());
        }
        Err(e) if explicit || e.kind() != std::io::ErrorKind::NotFound => {
            problems.push(unreadable(&subscribers_path, &e).0.remove(0));
        }
        Err(_) => {}
    }
    config.watched = vec![path.to_path_buf(), topics_path, subscribers_path];
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(Problems(problems))
    }
}

fn unreadable(path: &Path, e: &std::io::Error) -> Problems {
    Problems(vec![Problem {
        file: path.to_path_buf(),
        line: 1,
        col: 1,
        message: format!("cannot read config file: {e}"),
    }])
}

/// Validates the main config text alone (no topics file is read); `path` is for messages.
pub fn parse(path: &Path, text: &str) -> Result<Config, Problems> {
    let mut problems = Vec::new();
    let main = parse_main(path, text, &mut problems);
    if problems.is_empty() {
        Ok(main.config)
    } else {
        Err(Problems(problems))
    }
}

/// The main file, read: a config (with no topics yet) and where the topics file is.
struct Main {
    config: Config,
    topics_file: Option<String>,
    subscribers_file: Option<String>,
}

fn parse_main(path: &Path, text: &str, problems: &mut Vec<Problem>) -> Main {
    let mut r = Reporter::new(path, text);
    let table = parse_toml(&mut r, text);
    let root = Section::new(table.get_ref(), table.span(), "");

    let storage = storage::read_storage(&mut r, &root);
    let log = log::read_log(&mut r, &root);
    let topics_file = root.string(&mut r, "topics_file").map(Spanned::into_inner);
    let subscribers_file = root
        .string(&mut r, "subscribers_file")
        .map(Spanned::into_inner);
    let mail = mail::read_mail(&mut r, &root);
    let rematch_days = root
        .integer_in(&mut r, "rematch_days", 0..=3650)
        .map(|n| n as u32)
        .unwrap_or(DEFAULT_REMATCH_DAYS);
    let alerts = alerts::read_alerts(&mut r, &root);
    let poll = poll::read_poll(&mut r, &root);
    let http = http::read_http(&mut r, &root);
    let sources = sources::read_sources(&mut r, &root);
    root.finish(&mut r, ROOT_KEYS);
    problems.extend(r.into_problems());
    Main {
        config: Config {
            path: path.to_path_buf(),
            storage,
            poll,
            http,
            sources,
            topics_path: None,
            topics: Arc::new(Matcher::empty()),
            topics_text: String::new(),
            rematch_days,
            mail,
            alerts,
            log,
            subscribers_path: None,
            subscribers: Vec::new(),
            webhooks: Vec::new(),
            watched: Vec::new(),
        },
        topics_file,
        subscribers_file,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every problem of `text` read as a main file named `b.toml`, as shown to a person.
    pub(super) fn problems(text: &str) -> Vec<String> {
        match parse(Path::new("b.toml"), text) {
            Ok(_) => Vec::new(),
            Err(p) => p.0.iter().map(|p| p.to_string()).collect(),
        }
    }

    /// Loads `files` (name, text) written to one directory, the first being the main file;
    /// problems are shown with the file name alone.
    pub(super) fn load_files(files: &[(&str, &str)]) -> Result<Config, Vec<String>> {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        load(&dir.path().join(files[0].0)).map_err(|p| {
            p.0.iter()
                .map(|p| {
                    format!(
                        "{}:{}:{}: {}",
                        p.file.file_name().unwrap().to_string_lossy(),
                        p.line,
                        p.col,
                        p.message
                    )
                })
                .collect()
        })
    }

    #[test]
    fn defaults_apply_to_an_empty_file() {
        let c = parse(Path::new("b.toml"), "").unwrap();
        assert_eq!(c.storage.path, PathBuf::from("data/bantin.db"));
        assert_eq!(c.poll.schedule.text, DEFAULT_SCHEDULE);
        assert_eq!(c.poll.max_bytes, 16 * 1024 * 1024);
        assert!(c.sources.is_empty());
    }

    #[test]
    fn every_problem_is_reported_with_position() {
        let got = problems(
            "[poll]\nschedul = \"0 * * * * *\"\nconcurrency = 0\n\n[[sources]]\nid = \"Bad Id\"\nurl = \"ftp://x\"\ntimezone = \"Mars/Base\"\n\n[[sources]]\nid = \"a\"\nurl = \"https://a.vn/rss\"\ndate_order = \"ymd\"\n[[sources]]\nid = \"a\"\nurl = \"https://b.vn/rss\"\n",
        );
        let expected = [
            "b.toml:2:1: unknown key `poll.schedul`, did you mean `schedule`?",
            "b.toml:3:15: `poll.concurrency` must be between 1 and 256, found 0",
            "b.toml:6:6: source id \"Bad Id\" must be a slug",
            "b.toml:7:7: `sources[0].url`: \"ftp://x\" is not an http(s) URL",
            "b.toml:8:12: `sources[0].timezone`: unknown time zone \"Mars/Base\"",
            "b.toml:13:14: `sources[1].date_order`",
            "b.toml:15:6: duplicate source id \"a\" (first defined on line 11)",
        ];
        assert_eq!(got.len(), expected.len(), "{got:#?}");
        for (g, e) in got.iter().zip(expected) {
            assert!(g.starts_with(e), "{g:?} should start with {e:?}");
        }
    }

    #[test]
    fn syntax_errors_have_positions() {
        let got = problems("[poll]\nschedule = \"0 * * * * *\nx = 1\n");
        assert!(!got.is_empty());
        assert!(got[0].starts_with("b.toml:2:"), "{got:?}");
    }

    #[test]
    fn wrong_types_are_named() {
        let got = problems("[poll]\nconcurrency = \"eight\"\n[[sources]]\nid = \"a\"\nurl = \"https://a.vn\"\ntags = \"x\"\n");
        assert_eq!(
            got,
            vec![
                "b.toml:2:15: `poll.concurrency` must be an integer, found string",
                "b.toml:6:8: `sources[0].tags` must be an array of strings, found string",
            ]
        );
    }
}
