//! Configuration: TOML files → a validated [`Config`].
//!
//! The file is read into TOML's spanned tree once, then every section is read through a
//! `Section` that records which keys it consumed. Problems do not stop the reading: each one
//! becomes a [`Problem`] with `file:line:col`, and all of them are reported together (unknown keys
//! get a "did you mean"). Nothing downstream re-parses a string: schedules are `cron::Schedule`,
//! URLs are `Url`, time zones are `chrono_tz::Tz`.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono_tz::Tz;
use toml::de::{DeTable, DeValue};
use toml::Spanned;
use url::Url;

mod mail;

pub use mail::{
    credential_path, Mail, MailTransport, PasswordSource, SmtpConfig, SmtpSecurity, Subscriber,
};

use crate::date::DateOrder;
use crate::topics::{Field, Matcher, Role, SourceFilter, TopicSpec};

/// The default location of the main config file, relative to the working directory.
pub const DEFAULT_PATH: &str = "config/bantin.toml";
/// Every 15 minutes, on the minute (cron with a seconds field).
pub const DEFAULT_SCHEDULE: &str = "0 */15 * * * *";
const DEFAULT_DB: &str = "data/bantin.db";
const DEFAULT_TOPICS_FILE: &str = "topics.toml";
const DEFAULT_SUBSCRIBERS_FILE: &str = "subscribers.toml";
const DEFAULT_REMATCH_DAYS: u32 = 30;
const DEFAULT_KEEP_DAYS: u32 = 365;
const DEFAULT_STALE_DAYS: u32 = 7;
const DEFAULT_USER_AGENT: &str = concat!(
    "bantin/",
    env!("CARGO_PKG_VERSION"),
    " (news bulletin; feed reader; polite polling)"
);

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
    pub log: Log,
    /// The subscribers file read, if any.
    pub subscribers_path: Option<PathBuf>,
    pub subscribers: Vec<Subscriber>,
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

#[derive(Debug, Clone)]
pub struct Storage {
    /// SQLite database file; relative paths are relative to the working directory.
    pub path: PathBuf,
    /// Articles first seen longer ago than this are pruned (their identity keys stay as
    /// tombstones, so they never come back as new).
    pub keep_days: u32,
}

/// `[log]`: what the daemon writes to stderr.
#[derive(Debug, Clone, Default)]
pub struct Log {
    /// A `tracing` filter such as "info" or "bantin=debug"; `RUST_LOG` wins when set.
    pub level: Option<String>,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (coloured only on a terminal).
    #[default]
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

#[derive(Debug, Clone)]
pub struct Http {
    /// Address `bantin run` serves feeds on.
    pub listen: std::net::SocketAddr,
    /// Base of absolute links in feeds and pages (ends with '/').
    pub public_url: Url,
    /// Whether `public_url` was derived from `listen` rather than set.
    derived_url: bool,
    /// Connections served at once; None: derived from the file limit at startup
    /// ([`crate::http::connections::connection_cap`]).
    pub max_connections: Option<usize>,
    /// How long a connection may take to send a complete request head, counted from when it
    /// opened or from the end of its previous response (so also the keep-alive idle timeout).
    pub header_timeout: Duration,
}

/// `[http] header_timeout` unless set: a feed reader on a poor mobile link sends a request
/// head in well under a second; 10 s leaves room and frees a slow client's descriptor soon.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Bounds of `[http] max_connections` and `header_timeout`.
const MAX_CONNECTIONS: std::ops::RangeInclusive<i64> = 1..=1_048_576;
const HEADER_TIMEOUT: std::ops::RangeInclusive<Duration> =
    Duration::from_millis(100)..=Duration::from_secs(3600);

impl Http {
    /// Whether `public_url` was set in the config (not derived from `listen`).
    pub fn public_url_is_set(&self) -> bool {
        !self.derived_url
    }

    /// Records the address actually bound (port 0 picks one): a derived public URL follows it.
    pub fn bound(&mut self, addr: std::net::SocketAddr) {
        self.listen = addr;
        if self.derived_url {
            self.public_url = base_url_for(addr);
        }
    }
}

#[derive(Debug, Clone)]
pub struct Poll {
    pub schedule: Schedule,
    /// Fetches in flight at once, over all hosts.
    pub concurrency: usize,
    /// Fetches in flight at once to one host.
    pub per_host: usize,
    /// Minimum spacing between two requests to one host.
    pub host_interval: Duration,
    /// Total time for one fetch: connect, headers and body.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Body cap, enforced while streaming.
    pub max_bytes: u64,
    pub user_agent: String,
    /// A source with no new article for this many days is flagged stale (sites move feeds
    /// without notice).
    pub stale_days: u32,
}

/// A cron schedule together with the text it came from (for display).
#[derive(Debug, Clone)]
pub struct Schedule {
    pub text: String,
    pub cron: cron::Schedule,
}

impl Schedule {
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let cron = cron::Schedule::from_str(text).map_err(|e| {
            // The cron crate's messages span several lines (with a caret); keep the last one.
            let e = e.to_string();
            let reason = e.lines().map(str::trim).rfind(|l| !l.is_empty() && *l != "^").unwrap_or("");
            format!("invalid cron schedule {text:?}: {reason} (6 fields: sec min hour day month weekday, e.g. \"0 */15 * * * *\")")
        })?;
        if cron.upcoming(chrono::Utc).next().is_none() {
            return Err(format!("cron schedule {text:?} never fires"));
        }
        Ok(Schedule {
            text: text.to_string(),
            cron,
        })
    }

    /// The first tick strictly after `t`.
    pub fn next_after(
        &self,
        t: chrono::DateTime<chrono::Utc>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        self.cron.after(&t).next()
    }
}

#[derive(Debug, Clone)]
pub struct Source {
    /// Slug: lower-case ASCII letters, digits and '-'.
    pub id: String,
    pub name: String,
    pub url: Url,
    pub tags: Vec<String>,
    /// Overrides `[poll] schedule`.
    pub schedule: Option<Schedule>,
    /// Zone of zone-less dates in this source.
    pub timezone: Tz,
    pub date_order: DateOrder,
    /// Overrides `[poll] user_agent` (some sites refuse anything but a browser-like agent).
    pub user_agent: Option<String>,
    /// Fetched before the feed when the site sets its cookies elsewhere (qdnd.vn).
    pub prime_url: Option<Url>,
    pub kind: SourceKind,
    /// How to read a list page (`kind = "html"`).
    pub list: Option<ListRules>,
    /// How to read an article page: set for sources whose article pages are fetched.
    pub article: Option<ArticleRules>,
    /// Fetch each new article's page for its full text (feed sources that carry summaries).
    pub full_text: bool,
}

impl Source {
    /// Whether each new article's own page is fetched: an HTML source with `[sources.article]`,
    /// or any source with `full_text = true`.
    pub fn fetches_pages(&self) -> bool {
        self.full_text || (self.kind == SourceKind::Html && self.article.is_some())
    }
}

/// What a source's URL serves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SourceKind {
    /// RSS, Atom or JSON Feed.
    #[default]
    Feed,
    /// An HTML list page read with CSS selectors (`[sources.list]`).
    Html,
}

/// A CSS selector together with the text it came from (for display and errors).
#[derive(Debug, Clone)]
pub struct Css {
    pub text: String,
    pub selector: scraper::Selector,
}

impl Css {
    pub fn parse(text: &str) -> Result<Css, String> {
        if text.trim().is_empty() {
            return Err("empty CSS selector".into());
        }
        scraper::Selector::parse(text)
            .map(|selector| Css {
                text: text.to_string(),
                selector,
            })
            .map_err(|e| {
                // scraper words some errors as its own bug ("please report this"), over several
                // lines: keep the first line of anything else.
                let reason = e.to_string();
                let reason = match reason.lines().next() {
                    Some(line) if !reason.contains("report this") => line.to_string(),
                    _ => "not valid CSS selector syntax".to_string(),
                };
                format!("invalid CSS selector {text:?}: {reason}")
            })
    }
}

/// `[sources.list]`: one element per article on the list page, and where its parts are inside it.
#[derive(Debug, Clone)]
pub struct ListRules {
    pub item: Css,
    /// The first match inside the item gives the link...
    pub link: Css,
    /// ...from this attribute (default `href`).
    pub link_attr: String,
    /// Default: the text of the link element.
    pub title: Option<Css>,
    pub date: Option<Css>,
    pub summary: Option<Css>,
}

/// `[sources.article]`: where an article page keeps its parts. Without `content`, a
/// readability-style extractor finds the body.
#[derive(Debug, Clone, Default)]
pub struct ArticleRules {
    pub content: Option<Css>,
    pub date: Option<Css>,
    pub author: Option<Css>,
    /// Page chrome inside the content to drop (comment boxes, related news).
    pub remove: Vec<Css>,
}

/// One problem in a config file, with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.col,
            self.message
        )
    }
}

/// All problems found in the configuration.
#[derive(Debug, Clone, thiserror::Error)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
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
            if let Some(m) = parse_topics(&topics_path, &text, &config.sources, &mut problems) {
                config.topics = Arc::new(m);
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

/// TOML text → its spanned tree; syntax errors are reported and parsing goes on.
fn parse_toml<'i>(r: &mut Reporter, text: &'i str) -> Spanned<DeTable<'i>> {
    let (root, syntax) = DeTable::parse_recoverable(text);
    for e in syntax {
        r.at(e.span().unwrap_or(0..0), e.message().trim().to_string());
    }
    root
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

    let storage = match root.table(&mut r, "storage") {
        Some(t) => {
            let s = Storage {
                path: t
                    .string(&mut r, "path")
                    .map(|s| PathBuf::from(s.as_ref()))
                    .unwrap_or_else(|| DEFAULT_DB.into()),
                keep_days: t
                    .integer_in(&mut r, "keep_days", 1..=36_500)
                    .map(|n| n as u32)
                    .unwrap_or(DEFAULT_KEEP_DAYS),
            };
            t.finish(&mut r, &["path", "keep_days"]);
            s
        }
        None => Storage {
            path: DEFAULT_DB.into(),
            keep_days: DEFAULT_KEEP_DAYS,
        },
    };
    let log = read_log(&mut r, &root);
    let topics_file = root.string(&mut r, "topics_file").map(Spanned::into_inner);
    let subscribers_file = root
        .string(&mut r, "subscribers_file")
        .map(Spanned::into_inner);
    let mail = mail::read_mail(&mut r, &root);
    let rematch_days = root
        .integer_in(&mut r, "rematch_days", 0..=3650)
        .map(|n| n as u32)
        .unwrap_or(DEFAULT_REMATCH_DAYS);
    let poll = read_poll(&mut r, &root);
    let http = read_http(&mut r, &root);
    let sources = read_sources(&mut r, &root);
    root.finish(
        &mut r,
        &[
            "topics_file",
            "subscribers_file",
            "rematch_days",
            "storage",
            "poll",
            "http",
            "mail",
            "log",
            "sources",
        ],
    );
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
            log,
            subscribers_path: None,
            subscribers: Vec::new(),
            watched: Vec::new(),
        },
        topics_file,
        subscribers_file,
    }
}

const TOPIC_KEYS: &[&str] = &[
    "id", "name", "any", "all", "none", "ignore", "regex", "fields", "sources",
];

/// Reads `[[topics]]` and compiles them; None when anything is wrong (reported in `problems`).
fn parse_topics(
    path: &Path,
    text: &str,
    sources: &[Source],
    problems: &mut Vec<Problem>,
) -> Option<Matcher> {
    let mut r = Reporter::new(path, text);
    let table = parse_toml(&mut r, text);
    let root = Section::new(table.get_ref(), table.span(), "");
    let mut specs = Vec::new();
    // Where each phrase of each topic is, to point compile errors at it.
    let mut spans: Vec<Vec<(Role, Vec<Range<usize>>)>> = Vec::new();
    let mut seen: Vec<(String, usize)> = Vec::new();
    for t in root.array_of_tables(&mut r, "topics") {
        let mut spec = TopicSpec::default();
        let mut where_: Vec<(Role, Vec<Range<usize>>)> = Vec::new();
        match t.string(&mut r, "id") {
            Some(id) => {
                if !is_slug(id.get_ref()) {
                    r.at(
                        id.span(),
                        format!(
                            "topic id {:?} must be a slug: lower-case letters a-z, digits and '-'",
                            id.get_ref()
                        ),
                    );
                }
                if let Some((_, line)) = seen.iter().find(|(s, _)| s == id.get_ref()) {
                    r.at(
                        id.span(),
                        format!(
                            "duplicate topic id {:?} (first defined on line {line})",
                            id.get_ref()
                        ),
                    );
                }
                seen.push((id.get_ref().clone(), r.line_col(id.span().start).0));
                spec.id = id.into_inner();
            }
            None => r.at(
                t.span.start..t.span.start,
                "topic is missing required key `id`".into(),
            ),
        }
        spec.name = t
            .string(&mut r, "name")
            .map(Spanned::into_inner)
            .unwrap_or_else(|| spec.id.clone());
        for (role, key) in [
            (Role::Any, "any"),
            (Role::All, "all"),
            (Role::None, "none"),
            (Role::Ignore, "ignore"),
            (Role::Regex, "regex"),
        ] {
            let items = t.spanned_strings(&mut r, key).unwrap_or_default();
            where_.push((role, items.iter().map(|s| s.span()).collect()));
            let values = items.into_iter().map(Spanned::into_inner).collect();
            match role {
                Role::Any => spec.any = values,
                Role::All => spec.all = values,
                Role::None => spec.none = values,
                Role::Ignore => spec.ignore = values,
                Role::Regex => spec.regex = values,
            }
        }
        for f in t.spanned_strings(&mut r, "fields").unwrap_or_default() {
            match Field::parse(f.get_ref()) {
                Some(field) => spec.fields.push(field),
                None => r.at(
                    f.span(),
                    format!(
                        "unknown field {:?} (fields are \"title\", \"summary\", \"content\")",
                        f.get_ref()
                    ),
                ),
            }
        }
        for s in t.spanned_strings(&mut r, "sources").unwrap_or_default() {
            let v = s.get_ref();
            match v.strip_prefix("tag:") {
                Some(tag) if sources.iter().any(|src| src.tags.iter().any(|x| x == tag)) => {
                    spec.sources.push(SourceFilter::Tag(tag.to_string()))
                }
                Some(tag) => r.at(s.span(), format!("no source has the tag {tag:?}")),
                None if sources.iter().any(|src| src.id == *v) => {
                    spec.sources.push(SourceFilter::Source(v.clone()))
                }
                None => {
                    let ids: Vec<&str> = sources.iter().map(|s| s.id.as_str()).collect();
                    let hint = suggest(v, &ids)
                        .map(|c| format!(", did you mean {c:?}?"))
                        .unwrap_or_default();
                    r.at(
                        s.span(),
                        format!("unknown source {v:?}{hint} (use a source id, or \"tag:NAME\")"),
                    )
                }
            }
        }
        t.finish(&mut r, TOPIC_KEYS);
        spans.push(where_);
        specs.push((spec, t.span.clone()));
    }
    root.finish(&mut r, &["topics"]);
    let topic_spans: Vec<Range<usize>> = specs.iter().map(|(_, s)| s.clone()).collect();
    let matcher = match Matcher::compile(specs.into_iter().map(|(s, _)| s).collect()) {
        Ok(m) => Some(m),
        Err(errors) => {
            for e in errors {
                let span = spans
                    .get(e.topic)
                    .and_then(|m| m.iter().find(|(role, _)| *role == e.role))
                    .and_then(|(_, v)| v.get(e.index))
                    .cloned()
                    .or_else(|| topic_spans.get(e.topic).map(|s| s.start..s.start))
                    .unwrap_or(0..0);
                r.at(span, e.message);
            }
            None
        }
    };
    let ok = r.problems.is_empty();
    problems.extend(r.into_problems());
    matcher.filter(|_| ok)
}

fn read_http(r: &mut Reporter, root: &Section) -> Http {
    let default_listen = std::net::SocketAddr::from(([127, 0, 0, 1], 8080));
    let Some(t) = root.table(r, "http") else {
        return Http {
            listen: default_listen,
            public_url: base_url_for(default_listen),
            derived_url: true,
            max_connections: None,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
        };
    };
    let listen = t
        .parsed(r, "listen", |s| {
            s.parse::<std::net::SocketAddr>().map_err(|_| {
                format!("{s:?} is not an address with a port, such as \"127.0.0.1:8080\"")
            })
        })
        .unwrap_or(default_listen);
    let explicit = t.url(r, "public_url");
    let derived_url = explicit.is_none();
    let public_url = explicit
        .map(|mut u| {
            if !u.path().ends_with('/') {
                let p = format!("{}/", u.path());
                u.set_path(&p);
            }
            u
        })
        .unwrap_or_else(|| base_url_for(listen));
    let max_connections = t
        .integer_in(r, "max_connections", MAX_CONNECTIONS)
        .map(|n| n as usize);
    let header_timeout = t
        .duration_in(r, "header_timeout", HEADER_TIMEOUT)
        .unwrap_or(DEFAULT_HEADER_TIMEOUT);
    t.finish(
        r,
        &["listen", "public_url", "max_connections", "header_timeout"],
    );
    Http {
        listen,
        public_url,
        derived_url,
        max_connections,
        header_timeout,
    }
}

/// `http://ADDR/` for a listen address (unspecified addresses become 127.0.0.1).
pub fn base_url_for(addr: std::net::SocketAddr) -> Url {
    let ip = if addr.ip().is_unspecified() {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        addr.ip()
    };
    let host = match ip {
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        v4 => v4.to_string(),
    };
    // An IP address and a port always make a valid URL.
    Url::parse(&format!("http://{host}:{}/", addr.port())).expect("an IP and a port make a URL")
}

const POLL_KEYS: &[&str] = &[
    "schedule",
    "concurrency",
    "per_host",
    "host_interval",
    "timeout",
    "connect_timeout",
    "max_bytes",
    "user_agent",
    "stale_days",
];

fn read_poll(r: &mut Reporter, root: &Section) -> Poll {
    let default_schedule =
        || Schedule::parse(DEFAULT_SCHEDULE).expect("the default schedule is valid");
    let mut poll = Poll {
        schedule: default_schedule(),
        concurrency: 8,
        per_host: 2,
        host_interval: Duration::from_secs(1),
        timeout: Duration::from_secs(30),
        connect_timeout: Duration::from_secs(10),
        max_bytes: 16 * 1024 * 1024,
        user_agent: DEFAULT_USER_AGENT.to_string(),
        stale_days: DEFAULT_STALE_DAYS,
    };
    let Some(t) = root.table(r, "poll") else {
        return poll;
    };
    if let Some(s) = t.schedule(r, "schedule") {
        poll.schedule = s;
    }
    if let Some(n) = t.integer_in(r, "concurrency", 1..=256) {
        poll.concurrency = n as usize;
    }
    if let Some(n) = t.integer_in(r, "per_host", 1..=16) {
        poll.per_host = n as usize;
    }
    if let Some(d) = t.duration(r, "host_interval") {
        poll.host_interval = d;
    }
    if let Some(d) = t.duration(r, "timeout") {
        poll.timeout = d;
    }
    if let Some(d) = t.duration(r, "connect_timeout") {
        poll.connect_timeout = d;
    }
    if let Some(n) = t.integer_in(r, "max_bytes", 1024..=1 << 34) {
        poll.max_bytes = n as u64;
    }
    if let Some(s) = t.string(r, "user_agent") {
        poll.user_agent = s.into_inner();
    }
    if let Some(n) = t.integer_in(r, "stale_days", 1..=3650) {
        poll.stale_days = n as u32;
    }
    t.finish(r, POLL_KEYS);
    poll
}

const SOURCE_KEYS: &[&str] = &[
    "id",
    "name",
    "url",
    "tags",
    "schedule",
    "timezone",
    "date_order",
    "user_agent",
    "prime_url",
    "kind",
    "list",
    "article",
    "full_text",
];

fn read_log(r: &mut Reporter, root: &Section) -> Log {
    let Some(t) = root.table(r, "log") else {
        return Log::default();
    };
    let level = t.parsed(r, "level", |s| {
        tracing_subscriber::EnvFilter::try_new(s)
            .map(|_| s.to_string())
            .map_err(|e| format!("invalid log filter {s:?}: {e} (e.g. \"info\", \"bantin=debug\")"))
    });
    let format = t
        .parsed(r, "format", |s| match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!(
                "unknown log format {s:?}: expected \"text\" or \"json\""
            )),
        })
        .unwrap_or_default();
    t.finish(r, &["level", "format"]);
    Log { level, format }
}

fn read_list_rules(r: &mut Reporter, t: &Section) -> Option<ListRules> {
    let item = t.css(r, "item");
    let link = t.css(r, "link");
    let link_attr = t
        .string(r, "link_attr")
        .map(Spanned::into_inner)
        .unwrap_or_else(|| "href".into());
    let title = t.css(r, "title");
    let date = t.css(r, "date");
    let summary = t.css(r, "summary");
    t.finish(
        r,
        &["item", "link", "link_attr", "title", "date", "summary"],
    );
    for key in ["item", "link"] {
        if !t.has(key) {
            r.at(
                t.span.start..t.span.start,
                format!("`{}` is missing required key `{key}`", t.path),
            );
        }
    }
    Some(ListRules {
        item: item?,
        link: link?,
        link_attr,
        title,
        date,
        summary,
    })
}

fn read_article_rules(r: &mut Reporter, t: &Section) -> ArticleRules {
    let rules = ArticleRules {
        content: t.css(r, "content"),
        date: t.css(r, "date"),
        author: t.css(r, "author"),
        remove: t
            .spanned_strings(r, "remove")
            .unwrap_or_default()
            .into_iter()
            .filter_map(|s| match Css::parse(s.get_ref()) {
                Ok(c) => Some(c),
                Err(e) => {
                    r.at(s.span(), format!("`{}`: {e}", t.dotted("remove")));
                    None
                }
            })
            .collect(),
    };
    t.finish(r, &["content", "date", "author", "remove"]);
    rules
}

fn read_sources(r: &mut Reporter, root: &Section) -> Vec<Source> {
    let mut out: Vec<Source> = Vec::new();
    let mut seen: Vec<(String, Range<usize>)> = Vec::new();
    for t in root.array_of_tables(r, "sources") {
        let id = t.string(r, "id");
        let name = t.string(r, "name");
        let url = t.url(r, "url");
        let tags = t.string_array(r, "tags").unwrap_or_default();
        let schedule = t.schedule(r, "schedule");
        let timezone = t.parsed(r, "timezone", |s| {
            Tz::from_str(s).map_err(|_| {
                format!("unknown time zone {s:?} (an IANA name such as \"Asia/Ho_Chi_Minh\")")
            })
        });
        let date_order = t.parsed(r, "date_order", DateOrder::from_str);
        let user_agent = t.string(r, "user_agent").map(Spanned::into_inner);
        let prime_url = t.url(r, "prime_url");
        let kind = t
            .parsed(r, "kind", |s| match s {
                "feed" => Ok(SourceKind::Feed),
                "html" => Ok(SourceKind::Html),
                _ => Err(format!(
                    "unknown source kind {s:?}: expected \"feed\" or \"html\""
                )),
            })
            .unwrap_or_default();
        let list = t.table(r, "list").and_then(|l| read_list_rules(r, &l));
        let article = t.table(r, "article").map(|a| read_article_rules(r, &a));
        let full_text = t.boolean(r, "full_text").unwrap_or(false);
        t.finish(r, SOURCE_KEYS);
        match kind {
            SourceKind::Html if list.is_none() && !t.has("list") => r.at(
                t.key_span("kind"),
                "an html source needs a `[sources.list]` table (item and link selectors)".into(),
            ),
            SourceKind::Feed if t.has("list") => r.at(
                t.key_span("list"),
                "`[sources.list]` is only read for `kind = \"html\"` sources".into(),
            ),
            SourceKind::Feed if t.has("article") && !full_text => r.at(
                t.key_span("article"),
                "`[sources.article]` is only read when the article pages are fetched: set `full_text = true` (or `kind = \"html\"`)".into(),
            ),
            _ => {}
        }

        match &id {
            None => r.at(
                t.span.start..t.span.start,
                "source is missing required key `id`".into(),
            ),
            Some(id) => {
                if !is_slug(id.get_ref()) {
                    r.at(
                        id.span(),
                        format!(
                            "source id {:?} must be a slug: lower-case letters a-z, digits and '-'",
                            id.get_ref()
                        ),
                    );
                }
                if let Some((_, first)) = seen.iter().find(|(s, _)| s == id.get_ref()) {
                    let (line, _) = r.line_col(first.start);
                    r.at(
                        id.span(),
                        format!(
                            "duplicate source id {:?} (first defined on line {line})",
                            id.get_ref()
                        ),
                    );
                }
                seen.push((id.get_ref().clone(), id.span()));
            }
        }
        if url.is_none() && !t.has("url") {
            r.at(
                t.span.start..t.span.start,
                "source is missing required key `url`".into(),
            );
        }
        for tag in &tags {
            if !is_slug(tag) {
                r.at(
                    t.key_span("tags"),
                    format!("tag {tag:?} must be a slug: lower-case letters a-z, digits and '-'"),
                );
            }
        }
        if let (Some(id), Some(url)) = (id, url) {
            let id = id.into_inner();
            out.push(Source {
                name: name.map(Spanned::into_inner).unwrap_or_else(|| id.clone()),
                id,
                url,
                tags,
                schedule,
                timezone: timezone.unwrap_or(chrono_tz::Asia::Ho_Chi_Minh),
                date_order: date_order.unwrap_or_default(),
                user_agent,
                prime_url,
                kind,
                list,
                article,
                full_text,
            });
        }
    }
    out
}

/// The candidate closest to `word`, if close enough to be a likely typo.
fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(word, c), *c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Enough of an address to deliver to: one '@', something on both sides, no spaces or angle
/// brackets (a bare host such as localhost is fine). The SMTP server has the last word.
pub fn is_plausible_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"')
        })
        && !domain.contains('@')
}

/// Lower-case ASCII letters, digits and '-', not starting or ending with '-'.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Collects problems and turns byte offsets into line and column.
struct Reporter<'t> {
    file: PathBuf,
    text: &'t str,
    problems: Vec<Problem>,
    /// Byte offset where each line starts (a file of 10,000 subscribers asks often).
    line_starts: Vec<usize>,
}

impl<'t> Reporter<'t> {
    fn new(file: &Path, text: &'t str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Reporter {
            file: file.to_path_buf(),
            text,
            problems: Vec::new(),
            line_starts,
        }
    }

    /// The problems in file order.
    fn into_problems(mut self) -> Vec<Problem> {
        self.problems.sort_by_key(|p| (p.line, p.col));
        self.problems.dedup();
        self.problems
    }

    fn at(&mut self, span: Range<usize>, message: String) {
        let (line, col) = self.line_col(span.start);
        self.problems.push(Problem {
            file: self.file.clone(),
            line,
            col,
            message,
        });
    }

    /// 1-based line and column (in characters) of a byte offset.
    fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self
            .line_starts
            .partition_point(|&start| start <= offset)
            .max(1);
        let line_start = self.line_starts.get(line - 1).copied().unwrap_or(0);
        let col = self
            .text
            .get(line_start..offset)
            .map_or(0, |s| s.chars().count())
            + 1;
        (line, col)
    }
}

/// A TOML table being read: typed getters report type errors; `finish` reports unknown keys.
struct Section<'a, 'i> {
    table: &'a DeTable<'i>,
    span: Range<usize>,
    path: String,
}

impl<'a, 'i> Section<'a, 'i> {
    fn new(table: &'a DeTable<'i>, span: Range<usize>, path: &str) -> Self {
        Section {
            table,
            span,
            path: path.to_string(),
        }
    }

    fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    fn get(&self, key: &str) -> Option<&'a Spanned<DeValue<'i>>> {
        self.table
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == key)
            .map(|(_, v)| v)
    }

    fn key_span(&self, key: &str) -> Range<usize> {
        self.table
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == key)
            .map(|(k, _)| k.span())
            .unwrap_or(self.span.clone())
    }

    fn dotted(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn wrong_type(&self, r: &mut Reporter, key: &str, v: &Spanned<DeValue>, expected: &str) {
        r.at(
            v.span(),
            format!(
                "`{}` must be {expected}, found {}",
                self.dotted(key),
                v.get_ref().type_str()
            ),
        );
    }

    fn table(&self, r: &mut Reporter, key: &str) -> Option<Section<'a, 'i>> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Table(t) => Some(Section::new(t, v.span(), &self.dotted(key))),
            _ => {
                self.wrong_type(r, key, v, "a table");
                None
            }
        }
    }

    fn array_of_tables(&self, r: &mut Reporter, key: &str) -> Vec<Section<'a, 'i>> {
        let Some(v) = self.get(key) else {
            return Vec::new();
        };
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(r, key, v, "an array of tables ([[sources]])");
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item.get_ref() {
                DeValue::Table(t) => out.push(Section::new(
                    t,
                    item.span(),
                    &format!("{}[{i}]", self.dotted(key)),
                )),
                _ => self.wrong_type(r, key, item, "an array of tables ([[sources]])"),
            }
        }
        out
    }

    fn string(&self, r: &mut Reporter, key: &str) -> Option<Spanned<String>> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::String(s) => Some(Spanned::new(v.span(), s.to_string())),
            _ => {
                self.wrong_type(r, key, v, "a string");
                None
            }
        }
    }

    /// An array of strings, each with its span.
    fn spanned_strings(&self, r: &mut Reporter, key: &str) -> Option<Vec<Spanned<String>>> {
        let v = self.get(key)?;
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(r, key, v, "an array of strings");
            return None;
        };
        let mut out = Vec::new();
        for item in items.iter() {
            match item.get_ref() {
                DeValue::String(s) => out.push(Spanned::new(item.span(), s.to_string())),
                _ => self.wrong_type(r, key, item, "a string"),
            }
        }
        Some(out)
    }

    fn string_array(&self, r: &mut Reporter, key: &str) -> Option<Vec<String>> {
        let v = self.get(key)?;
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(r, key, v, "an array of strings");
            return None;
        };
        let mut out = Vec::new();
        for item in items.iter() {
            match item.get_ref() {
                DeValue::String(s) => out.push(s.to_string()),
                _ => self.wrong_type(r, key, item, "a string"),
            }
        }
        Some(out)
    }

    fn integer_in(
        &self,
        r: &mut Reporter,
        key: &str,
        range: std::ops::RangeInclusive<i64>,
    ) -> Option<i64> {
        let v = self.get(key)?;
        let DeValue::Integer(i) = v.get_ref() else {
            self.wrong_type(r, key, v, "an integer");
            return None;
        };
        match i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()) {
            Ok(n) if range.contains(&n) => Some(n),
            _ => {
                r.at(
                    v.span(),
                    format!(
                        "`{}` must be between {} and {}, found {}",
                        self.dotted(key),
                        range.start(),
                        range.end(),
                        i.as_str()
                    ),
                );
                None
            }
        }
    }

    /// A duration: a string such as "30s", "2m", "1h 30m", or an integer number of seconds.
    fn duration(&self, r: &mut Reporter, key: &str) -> Option<Duration> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Integer(_) => self
                .integer_in(r, key, 0..=86_400 * 7)
                .map(|n| Duration::from_secs(n as u64)),
            DeValue::String(s) => match humantime::parse_duration(s) {
                Ok(d) => Some(d),
                Err(e) => {
                    r.at(
                        v.span(),
                        format!(
                            "`{}`: invalid duration {:?}: {e} (e.g. \"30s\", \"2m\")",
                            self.dotted(key),
                            s.as_ref()
                        ),
                    );
                    None
                }
            },
            _ => {
                self.wrong_type(r, key, v, "a duration such as \"30s\"");
                None
            }
        }
    }

    /// A [`duration`](Self::duration) within `range`.
    fn duration_in(
        &self,
        r: &mut Reporter,
        key: &str,
        range: std::ops::RangeInclusive<Duration>,
    ) -> Option<Duration> {
        let d = self.duration(r, key)?;
        if range.contains(&d) {
            return Some(d);
        }
        let span = self.get(key).map(|v| v.span()).unwrap_or(0..0);
        r.at(
            span,
            format!(
                "`{}` must be between {} and {}, found {}",
                self.dotted(key),
                humantime::format_duration(*range.start()),
                humantime::format_duration(*range.end()),
                humantime::format_duration(d)
            ),
        );
        None
    }

    fn boolean(&self, r: &mut Reporter, key: &str) -> Option<bool> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.wrong_type(r, key, v, "true or false");
                None
            }
        }
    }

    fn css(&self, r: &mut Reporter, key: &str) -> Option<Css> {
        self.parsed(r, key, Css::parse)
    }

    fn schedule(&self, r: &mut Reporter, key: &str) -> Option<Schedule> {
        self.parsed(r, key, Schedule::parse)
    }

    fn url(&self, r: &mut Reporter, key: &str) -> Option<Url> {
        self.parsed(r, key, |s| match Url::parse(s) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(u),
            Ok(_) => Err(format!("{s:?} is not an http(s) URL")),
            Err(e) => Err(format!("invalid URL {s:?}: {e}")),
        })
    }

    /// A string converted by `f`; a conversion error is reported at the value.
    fn parsed<T>(
        &self,
        r: &mut Reporter,
        key: &str,
        f: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let s = self.string(r, key)?;
        match f(s.get_ref()) {
            Ok(v) => Some(v),
            Err(e) => {
                r.at(s.span(), format!("`{}`: {e}", self.dotted(key)));
                None
            }
        }
    }

    /// Reports every key not in `known`, with a suggestion when one is close.
    fn finish(&self, r: &mut Reporter, known: &[&str]) {
        for (k, _) in self.table.iter() {
            let key = k.get_ref().as_ref();
            if known.contains(&key) {
                continue;
            }
            let msg = match suggest(key, known) {
                Some(c) => format!("unknown key `{}`, did you mean `{c}`?", self.dotted(key)),
                None => format!(
                    "unknown key `{}` (known keys: {})",
                    self.dotted(key),
                    known.join(", ")
                ),
            };
            r.at(k.span(), msg);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        match parse(Path::new("b.toml"), text) {
            Ok(_) => Vec::new(),
            Err(p) => p.0.iter().map(|p| p.to_string()).collect(),
        }
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
    fn a_full_source_is_read() {
        let c = parse(
            Path::new("b.toml"),
            r#"
[poll]
timeout = "5s"
[[sources]]
id = "baochinhphu"
name = "Báo Chính phủ"
url = "https://baochinhphu.vn/rss"
tags = ["chinh-phu"]
date_order = "mdy"
schedule = "0 */5 * * * *"
"#,
        )
        .unwrap();
        let s = &c.sources[0];
        assert_eq!(s.id, "baochinhphu");
        assert_eq!(s.name, "Báo Chính phủ");
        assert_eq!(s.date_order, DateOrder::Mdy);
        assert_eq!(s.timezone, chrono_tz::Asia::Ho_Chi_Minh);
        assert_eq!(c.poll.timeout, Duration::from_secs(5));
        assert!(s.schedule.is_some());
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
    fn http_limits_are_read_and_checked() {
        let c = parse(Path::new("b.toml"), "").unwrap();
        assert_eq!(c.http.max_connections, None);
        assert_eq!(c.http.header_timeout, DEFAULT_HEADER_TIMEOUT);
        let c = parse(
            Path::new("b.toml"),
            "[http]\nmax_connections = 300\nheader_timeout = \"2s\"\n",
        )
        .unwrap();
        assert_eq!(c.http.max_connections, Some(300));
        assert_eq!(c.http.header_timeout, Duration::from_secs(2));
        let got =
            problems("[http]\nmax_connections = 0\nheader_timeout = \"0s\"\nheader_timout = 5\n");
        let expected = [
            "b.toml:2:19: `http.max_connections` must be between 1 and 1048576, found 0",
            "b.toml:3:18: `http.header_timeout` must be between 100ms and 1h, found 0s",
            "b.toml:4:1: unknown key `http.header_timout`, did you mean `header_timeout`?",
        ];
        assert_eq!(got, expected);
        let got = problems("[http]\nmax_connections = \"many\"\nheader_timeout = \"soon\"\n");
        assert_eq!(got.len(), 2, "{got:#?}");
        assert!(
            got[0].starts_with("b.toml:2:19: `http.max_connections`"),
            "{got:#?}"
        );
        assert!(
            got[1].starts_with("b.toml:3:18: `http.header_timeout`: invalid duration"),
            "{got:#?}"
        );
    }

    #[test]
    fn html_sources_and_their_selectors_are_checked() {
        let got = problems(concat!(
            "[[sources]]\nid = \"a\"\nurl = \"https://a.vn/tin\"\nkind = \"html\"\n", // 1-4
            "[[sources]]\nid = \"b\"\nurl = \"https://b.vn/tin\"\nkind = \"html\"\n", // 5-8
            "[sources.list]\nitem = \"div..x\"\nlnk = \"a\"\n",                       // 9-11
            "[sources.article]\nremove = [\".ok\", \"p[\"]\n",                        // 12-13
            "[[sources]]\nid = \"c\"\nurl = \"https://c.vn/rss\"\nkind = \"page\"\n", // 14-17
            "[sources.article]\ncontent = \".body\"\n",                               // 18-19
            "[log]\nformat = \"xml\"\n",                                              // 20-21
        ));
        let expected = [
            "b.toml:4:1: an html source needs a `[sources.list]` table",
            "b.toml:10:8: `sources[1].list.item`: invalid CSS selector \"div..x\": not valid CSS selector syntax",
            "b.toml:11:1: unknown key `sources[1].list.lnk`, did you mean `link`?",
            "b.toml:9:1: `sources[1].list` is missing required key `link`",
            "b.toml:13:18: `sources[1].article.remove`: invalid CSS selector \"p[\": Unexpected EOL",
            "b.toml:17:8: `sources[2].kind`: unknown source kind \"page\"",
            "b.toml:18:10: `[sources.article]` is only read when the article pages are fetched",
            "b.toml:21:10: `log.format`: unknown log format \"xml\"",
        ];
        assert_eq!(got.len(), expected.len(), "{got:#?}");
        for e in expected {
            assert!(
                got.iter().any(|g| g.starts_with(e)),
                "{e:?} not in {got:#?}"
            );
        }
        let ok = parse(
            Path::new("b.toml"),
            "[[sources]]\nid = \"a\"\nurl = \"https://a.vn/tin\"\nkind = \"html\"\n[sources.list]\nitem = \"li\"\nlink = \"a\"\n[sources.article]\n",
        )
        .unwrap();
        let a = &ok.sources[0];
        assert_eq!(a.kind, SourceKind::Html);
        assert_eq!(a.list.as_ref().unwrap().link_attr, "href");
        assert!(
            a.fetches_pages(),
            "an article table means its pages are read"
        );
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

    fn load_pair(main: &str, topics: &str) -> Result<Config, Vec<String>> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bantin.toml"), main).unwrap();
        std::fs::write(dir.path().join("topics.toml"), topics).unwrap();
        let r = load(&dir.path().join("bantin.toml"));
        r.map_err(|p| {
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

    const MAIN: &str =
        "[[sources]]\nid = \"nhandan\"\nurl = \"https://nhandan.vn/rss\"\ntags = [\"dang\"]\n";

    #[test]
    fn topics_beside_the_main_file_are_loaded() {
        let c = load_pair(MAIN, "[[topics]]\nid = \"dan-van\"\nname = \"Dân vận\"\nany = [\"dân vận\"]\nsources = [\"tag:dang\", \"nhandan\"]\n").unwrap();
        let topics: Vec<(&str, &str)> = c.topics.topics().collect();
        assert_eq!(topics, vec![("dan-van", "Dân vận")]);
        assert_eq!(c.rematch_days, 30);
        assert!(c.topics_path.unwrap().ends_with("topics.toml"));
    }

    #[test]
    fn every_topic_problem_is_reported_with_position() {
        let got = load_pair(
            MAIN,
            "[[topics]]\nid = \"dan-van\"\nany = [\"dân vận\", \"  \"]\nignor = [\"x\"]\nfields = [\"body\"]\nsources = [\"nhandam\", \"tag:none\"]\nregex = [\"(\"]\n[[topics]]\nid = \"dan-van\"\nname = \"Trống\"\n",
        )
        .unwrap_err();
        let expected = [
            "topics.toml:3:19: phrase \"  \" is empty after normalization",
            "topics.toml:4:1: unknown key `topics[0].ignor`, did you mean `ignore`?",
            "topics.toml:5:11: unknown field \"body\"",
            "topics.toml:6:12: unknown source \"nhandam\", did you mean \"nhandan\"?",
            "topics.toml:6:23: no source has the tag \"none\"",
            "topics.toml:7:10: ",
            "topics.toml:9:6: duplicate topic id \"dan-van\" (first defined on line 2)",
        ];
        for e in expected {
            assert!(
                got.iter().any(|g| g.starts_with(e)),
                "missing {e:?} in {got:#?}"
            );
        }
        assert!(
            got.iter().any(|g| g.contains("nothing to match")),
            "{got:#?}"
        );
    }

    #[test]
    fn an_explicit_topics_file_must_exist() {
        let got = load_pair(&format!("topics_file = \"elsewhere.toml\"\n{MAIN}"), "").unwrap_err();
        assert!(
            got[0].starts_with("elsewhere.toml:1:1: cannot read config file"),
            "{got:?}"
        );
    }
}
