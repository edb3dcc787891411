//! Feeds other tools read: bantin against feedparser's own test corpus (BSD-2; the sdist on
//! PyPI ships it), and the dialect and repair fixtures that corpus led to.
//!
//! The corpus is not in the repository. `.ci/run` fetches it into `target/feedparser-corpus`
//! and sets `BANTIN_FEEDPARSER_CORPUS`; by hand:
//!
//! ```text
//! pip download --no-deps --no-binary :all: feedparser==6.0.14 -d /tmp/fp
//! mkdir -p target/feedparser-corpus && tar xzf /tmp/fp/feedparser-6.0.14.tar.gz -C target/feedparser-corpus
//! ```
//!
//! Every case under `tests/wellformed` and `tests/illformed` is served by the fixture server and
//! polled, one source per file, into one SQLite file. Each must end with a recorded state. The
//! cases whose `Expect:` line asks for an entry's title or link are compared with what bantin
//! stored, both sides normalized the way bantin normalizes a title (see [`like_bantin`]).
// The whole harness is shared with tests/it; this binary uses a part of it.
#[allow(dead_code)]
#[path = "it/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bantin::store::ArticleQuery;
use common::{run_bantin, source, Env, Route, Server};

const CORPUS_VAR: &str = "BANTIN_FEEDPARSER_CORPUS";
const DEFAULT_CORPUS: &str = "target/feedparser-corpus/feedparser-6.0.14";
/// Agreement measured on feedparser 6.0.14's corpus (README "Feeds other tools read"), less a
/// little: a change that makes bantin read fewer of these feeds fails here.
const AGREEMENT_FLOOR: f64 = 0.90;

/// A fixture under `tests/feeds`.
fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/feeds")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Each dialect and breakage feedparser reads, and bantin once refused or emptied, read
/// through the real ingest: (fixture, titles stored, links stored).
#[tokio::test]
async fn dialects_and_broken_feeds_are_read() {
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "rss_no_version.xml",
            &["Tin không phiên bản"],
            &["https://bao.example.vn/a.html"],
        ),
        (
            "rss_091_items_outside_channel.xml",
            &["Tin ngoài kênh"],
            &["https://bao.example.vn/b.html"],
        ),
        (
            "rss090.xml",
            &["Tin RSS 0.90"],
            &["https://bao.example.vn/c.html"],
        ),
        (
            "atom03.xml",
            &["Tin Atom 0.3", "Bài thứ hai"],
            &[
                "https://bao.example.vn/d.html",
                "https://bao.example.vn/e.html",
            ],
        ),
        (
            "atom_title_xhtml_mime.xml",
            &["Tiêu đề XHTML"],
            &["https://bao.example.vn/f.html"],
        ),
        (
            "rss1_dc_title_no_link.xml",
            &["Chỉ có dc:title", "Không có link"],
            &["https://bao.example.vn/g.html"],
        ),
        (
            "rss_bare_ampersand.xml",
            &["Hỏi & đáp"],
            &["https://bao.example.vn/h.html?a=1&b=2"],
        ),
        (
            "rss_html_entities.xml",
            &["Chính phủ họp – é"],
            &["https://bao.example.vn/i.html"],
        ),
        (
            "rss_truncated.xml",
            &["Tin đầy đủ"],
            &["https://bao.example.vn/j.html"],
        ),
    ];
    let server = Server::start().await;
    let mut extra = String::new();
    for (i, (name, _, _)) in cases.iter().enumerate() {
        server.set(&format!("/{name}"), Route::feed(fixture(name)));
        extra.push_str(&source(
            &format!("f{i}"),
            &server.url(&format!("/{name}")),
            "",
        ));
    }
    let env = Env::new(&extra);
    let ing = env.ingestor().await;
    for (i, (name, titles, links)) in cases.iter().enumerate() {
        let id = format!("f{i}");
        let report = common::poll(&ing, &[&id]).await.remove(0);
        let stored = ing
            .store
            .articles(&ArticleQuery {
                source: Some(id.clone()),
                limit: 100,
                ..Default::default()
            })
            .unwrap();
        let mut got_titles: Vec<&str> = stored.iter().map(|a| a.title.as_str()).collect();
        let mut got_links: Vec<&str> = stored.iter().filter_map(|a| a.url.as_deref()).collect();
        got_titles.sort_unstable();
        got_links.sort_unstable();
        let (mut titles, mut links) = (titles.to_vec(), links.to_vec());
        titles.sort_unstable();
        links.sort_unstable();
        assert_eq!(
            (got_titles, got_links),
            (titles, links),
            "{name}: {}",
            report.outcome
        );
    }
}

/// The shapes real Vietnamese feeds have (CDATA titles with HTML entities, links
/// padded with newlines, a 2-digit year, `</br>`, a raw `&` inside CDATA, an empty
/// placeholder item) are read as before: no dialect rewrite, no repair.
#[test]
fn vietnamese_feed_shapes_need_no_repair() {
    let base = url::Url::parse("https://bao.example.vn/rss/tin-moi-nhat.rss").unwrap();
    let dates = bantin::ingest::entry::DateContext {
        tz: chrono_tz::Asia::Ho_Chi_Minh,
        order: bantin::date::DateOrder::Dmy,
        now: chrono::Utc::now(),
    };
    let f = bantin::ingest::feed::parse(&fixture("rss_vietnamese_shapes.xml"), None, &base, dates)
        .unwrap();
    assert!(f.repairs.is_empty(), "{:?}", f.repairs);
    let links: Vec<Option<&str>> = f
        .entries
        .iter()
        .map(|e| e.link.as_ref().map(|u| u.as_str()))
        .collect();
    assert_eq!(
        links,
        [
            Some("https://bao.example.vn/dau-nam-1.html"),
            Some("https://bao.example.vn/chinh-phu-2.html"),
            None
        ]
    );
    assert_eq!(f.title.as_deref(), Some("Tin mới nhất - Báo thử RSS"));
}

/// A feed that needed repair says so in `bantin sources` (text and JSON), until a poll reads
/// it clean again.
#[tokio::test]
async fn repair_is_noted_on_the_source_until_the_feed_is_clean() {
    let server = Server::start().await;
    server.set("/rss", Route::feed(fixture("rss_bare_ampersand.xml")));
    let env = Env::new(&source("bao", &server.url("/rss"), ""));
    let ing = env.ingestor().await;
    common::poll(&ing, &["bao"]).await;
    let note = "feed needed repair (bare \"&\" escaped)";
    let out = run_bantin(Some(&env.config_path), &["sources"]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("note: {note}")), "{text}");
    let out = run_bantin(Some(&env.config_path), &["sources", "--json"]).await;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[0]["note"], note, "{json}");

    server.set("/rss", Route::feed(common::feed_of("bao.example.vn", 1)));
    common::poll(&ing, &["bao"]).await;
    let out = run_bantin(Some(&env.config_path), &["sources", "--json"]).await;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[0]["note"], serde_json::Value::Null, "{json}");
    let out = run_bantin(Some(&env.config_path), &["sources"]).await;
    assert!(!String::from_utf8_lossy(&out.stdout).contains("note:"));
}

/// A document that yields no item is the source's error, naming why; a valid feed without
/// items is not.
#[tokio::test]
async fn nothing_read_is_an_error_naming_why() {
    let server = Server::start().await;
    server.set(
        "/foo",
        Route::feed("<?xml version=\"1.0\"?><foo><bar>x</bar></foo>"),
    );
    server.set(
        "/empty",
        Route::feed("<rss version=\"2.0\"><channel><title>Trống</title></channel></rss>"),
    );
    let extra =
        source("foo", &server.url("/foo"), "") + &source("empty", &server.url("/empty"), "");
    let env = Env::new(&extra);
    let ing = env.ingestor().await;
    let reports = common::poll(&ing, &["foo", "empty"]).await;
    let outcome = |id: &str| {
        reports
            .iter()
            .find(|r| r.source == id)
            .unwrap()
            .outcome
            .to_string()
    };
    assert_eq!(
        outcome("foo"),
        "error: no items: the document's root is <foo>, not a feed's"
    );
    assert_eq!(outcome("empty"), "empty: valid feed with no items");
}

/// One `Expect:` condition bantin can be compared on.
#[derive(Debug, Clone, PartialEq)]
enum Field {
    Title,
    Link,
}

#[derive(Debug, Clone)]
struct Expectation {
    entry: usize,
    field: Field,
    value: String,
}

struct Case {
    rel: String,
    body: Vec<u8>,
    content_type: String,
    /// Other `Header:` lines, served as they are.
    headers: Vec<(String, String)>,
    expect: Vec<Expectation>,
    /// `feed['title']` expectations: bantin does not store a feed's title.
    feed_title: bool,
}

fn corpus_dir() -> PathBuf {
    let dir = std::env::var_os(CORPUS_VAR)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_CORPUS));
    assert!(
        dir.join("tests/wellformed").is_dir(),
        "feedparser's corpus is not at {} ({CORPUS_VAR} unset or wrong). Fetch it once:\n  \
         pip download --no-deps --no-binary :all: feedparser==6.0.14 -d /tmp/fp\n  \
         mkdir -p target/feedparser-corpus && tar xzf /tmp/fp/feedparser-6.0.14.tar.gz -C target/feedparser-corpus\n\
         (.ci/run does this), or point {CORPUS_VAR} at an unpacked feedparser sdist.",
        dir.display()
    );
    dir
}

fn xml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            xml_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "xml") {
            out.push(p);
        }
    }
}

/// The header comment's `Header: Content-type:` and `Expect:` lines.
fn read_case(root: &Path, path: &Path) -> Case {
    let body = std::fs::read(path).unwrap();
    let head = String::from_utf8_lossy(&body[..body.len().min(4096)]).into_owned();
    let comment = head
        .split_once("<!--")
        .and_then(|(_, c)| c.split_once("-->"))
        .map(|(c, _)| c.to_string())
        .unwrap_or_default();
    let mut content_type = "application/xml".to_string();
    let mut headers = Vec::new();
    let mut expect = Vec::new();
    let mut feed_title = false;
    for line in comment.lines() {
        let line = line.trim();
        if let Some(h) = line.strip_prefix("Header:") {
            if let Some((k, v)) = h.split_once(':') {
                if k.trim().eq_ignore_ascii_case("content-type") {
                    content_type = v.trim().to_string();
                } else {
                    headers.push((k.trim().to_string(), v.trim().to_string()));
                }
            }
        }
        if let Some(e) = line.strip_prefix("Expect:") {
            let (found, feed) = expectations(e);
            expect = found;
            feed_title = feed;
        }
    }
    Case {
        rel: path.strip_prefix(root).unwrap().display().to_string(),
        body,
        content_type,
        headers,
        expect,
        feed_title,
    }
}

/// The simple forms: `entries[N]['title'|'link'] == '…'`, `entries[N]['title_detail']['value']
/// == '…'`; and whether there is a `feed['title']` one.
fn expectations(e: &str) -> (Vec<Expectation>, bool) {
    static RE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r#"(entries\[(\d+)\]|feed)\[['"](title|link|title_detail)['"]\](\[['"]value['"]\])?\s*==\s*"#,
        )
        .unwrap()
    });
    let re = &*RE;
    let mut out = Vec::new();
    let mut feed = false;
    for c in re.captures_iter(e) {
        let kind = &c[3];
        if kind == "title_detail" && c.get(4).is_none() {
            continue;
        }
        let Some(value) = e.get(c.get(0).unwrap().end()..).and_then(python_string) else {
            continue;
        };
        let Some(n) = c.get(2) else {
            feed |= kind != "link";
            continue;
        };
        out.push(Expectation {
            entry: n.as_str().parse().unwrap(),
            field: if kind == "link" {
                Field::Link
            } else {
                Field::Title
            },
            value,
        });
    }
    (out, feed)
}

/// A Python string literal at the start of `s` (`u'…'`, `"…"`, `'''…'''`, `"""…"""`).
fn python_string(s: &str) -> Option<String> {
    let s = s.strip_prefix('u').unwrap_or(s);
    let quote = ["'''", "\"\"\"", "'", "\""]
        .into_iter()
        .find(|q| s.starts_with(q))?;
    let mut rest = s.get(quote.len()..)?.chars().peekable();
    let mut out = String::new();
    loop {
        if rest.clone().collect::<String>().starts_with(quote) {
            return Some(out);
        }
        let c = rest.next()?;
        if c != '\\' {
            out.push(c);
            continue;
        }
        match rest.next()? {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'u' => {
                let hex: String = (0..4).filter_map(|_| rest.next()).collect();
                out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
            }
            'U' => {
                let hex: String = (0..8).filter_map(|_| rest.next()).collect();
                out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
            }
            'x' => {
                let hex: String = (0..2).filter_map(|_| rest.next()).collect();
                out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
            }
            other => out.push(other),
        }
    }
}

/// Both sides as bantin makes a stored title: markup to text when there is a `<`, then
/// `text::clean` (HTML entities decoded once, NFC, invisible characters dropped, whitespace
/// collapsed and trimmed). Links are compared as parsed URLs (`http://a/` = `http://a`). An
/// expected empty title where bantin stored nothing agrees: bantin drops an item with neither
/// title nor link as a placeholder.
fn like_bantin(field: &Field, s: &str) -> String {
    match field {
        Field::Title if s.contains('<') => bantin::text::html_to_text(s),
        Field::Title => bantin::text::clean(s),
        Field::Link => url::Url::parse(s.trim())
            .map(|u| u.to_string())
            .unwrap_or_else(|_| s.trim().to_string()),
    }
}

/// What one poll round of the whole corpus may add to the test process's peak RSS.
const ONE_ROUND_GROWTH_KIB: u64 = 64 * 1024;

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedparser_corpus() {
    let root = corpus_dir();
    let mut files = Vec::new();
    for d in ["tests/wellformed", "tests/illformed"] {
        xml_files(&root.join(d), &mut files);
    }
    assert!(
        files.len() > 1500,
        "only {} corpus files found",
        files.len()
    );
    let cases: Vec<Case> = files.iter().map(|p| read_case(&root, p)).collect();
    let server = Server::start().await;
    let mut extra = String::new();
    for (i, c) in cases.iter().enumerate() {
        let path = format!("/{}", c.rel);
        let mut route = Route::feed(c.body.clone()).with_content_type(&c.content_type);
        for (k, v) in &c.headers {
            route = route.with_header(k, v);
        }
        server.set(&path, route);
        extra.push_str(&source(&format!("c{i:04}"), &server.url(&path), ""));
    }
    let env = Env::new(&extra);
    let ing = env.ingestor().await;
    let ids: Vec<String> = (0..cases.len()).map(|i| format!("c{i:04}")).collect();

    // Polled one at a time, each compared right after its poll: corpus files share links,
    // and a later file with the same link updates the one stored article.
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let kind_of = |outcome: &str| -> String {
        outcome
            .split([':', '('])
            .next()
            .unwrap_or_default()
            .to_string()
    };
    let (mut checked, mut agreeing) = (0usize, 0usize);
    let mut disagreeing: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let feed_titles = cases.iter().filter(|c| c.feed_title).count();
    for (case, id) in cases.iter().zip(&ids) {
        let report = ing
            .poll_now(std::slice::from_ref(id), |_| {})
            .await
            .unwrap();
        let outcome = report[0].outcome.to_string();
        *outcomes.entry(kind_of(&outcome)).or_default() += 1;
        if case.expect.is_empty() {
            continue;
        }
        let mut stored = ing
            .store
            .articles(&ArticleQuery {
                source: Some(id.clone()),
                limit: 1000,
                ..Default::default()
            })
            .unwrap();
        stored.sort_by_key(|a| a.id);
        for e in &case.expect {
            checked += 1;
            // feedparser's own test server; the cases are served at the same paths here.
            let value = e.value.replace("http://127.0.0.1:8097", &server.url(""));
            let want = like_bantin(&e.field, &value);
            let got = stored.get(e.entry).map(|a| match e.field {
                Field::Title => a.title.clone(),
                Field::Link => like_bantin(&Field::Link, a.url.as_deref().unwrap_or("")),
            });
            let mut got_value = String::new();
            let reason = match got {
                Some(g) if g == want => {
                    agreeing += 1;
                    continue;
                }
                Some(g) => {
                    got_value = g;
                    format!("{:?} differs", e.field)
                }
                // An item with neither title nor link is a placeholder bantin drops.
                None if e.field == Field::Title
                    && want.is_empty()
                    && !outcome.starts_with("error") =>
                {
                    agreeing += 1;
                    continue;
                }
                None if outcome.starts_with("error") => {
                    format!(
                        "source failed: {}",
                        outcome.chars().take(60).collect::<String>()
                    )
                }
                None => format!(
                    "entry {} not stored ({})",
                    e.entry,
                    outcome.split(':').next().unwrap_or_default()
                ),
            };
            let detail = format!("{}: want {want:?}, stored {got_value:?}", case.rel);
            disagreeing.entry(reason).or_default().push(detail);
        }
    }

    let states = ing.store.source_states(&ids).unwrap();
    assert_eq!(states.len(), ids.len());
    let unrecorded: Vec<&str> = states
        .iter()
        .filter(|s| s.last_success.is_none() && s.last_error.is_none())
        .map(|s| s.id.as_str())
        .collect();
    assert!(
        unrecorded.is_empty(),
        "sources with no recorded state: {unrecorded:?}"
    );

    let rate = agreeing as f64 / checked.max(1) as f64;
    println!(
        "feedparser corpus: {} cases polled; outcomes {outcomes:?}",
        cases.len()
    );
    println!(
        "expectations on entry titles and links: {checked} checked, {agreeing} agree ({:.1}%), {} disagree; {feed_titles} cases expect a feed title (not stored, not checked)",
        rate * 100.0,
        checked - agreeing
    );
    for (reason, list) in &disagreeing {
        println!("  {:4} {reason}", list.len());
        let verbose = std::env::var_os("BANTIN_FEEDPARSER_VERBOSE").is_some();
        for d in list.iter().take(if verbose { usize::MAX } else { 3 }) {
            println!("         {d}");
        }
    }
    if let Some(kib) = peak_rss_kib() {
        println!("peak RSS of the test process: {} MiB", kib / 1024);
    }

    // The whole corpus in one poll round, as `bantin fetch` of 1,758 sources: every source
    // ends with a recorded state, and memory stays bounded by the polls in flight (before,
    // bodies fetched faster than they were stored waited in memory: 267 MiB for 1,600 cases).
    let before = peak_rss_kib().unwrap_or(0);
    let env = Env::new(&extra);
    let ing = env.ingestor().await;
    let reports = ing.poll_now(&[], |_| {}).await.unwrap();
    assert_eq!(reports.len(), cases.len());
    let states = ing.states().await.unwrap();
    let unrecorded: Vec<&str> = states
        .iter()
        .filter(|s| s.last_success.is_none() && s.last_error.is_none())
        .map(|s| s.id.as_str())
        .collect();
    assert!(unrecorded.is_empty(), "no recorded state: {unrecorded:?}");
    let after = peak_rss_kib().unwrap_or(0);
    println!(
        "one round of all {} cases: peak RSS {} MiB (was {} MiB)",
        cases.len(),
        after / 1024,
        before / 1024
    );
    assert!(
        after.saturating_sub(before) <= ONE_ROUND_GROWTH_KIB,
        "one round grew the peak RSS from {} to {} MiB",
        before / 1024,
        after / 1024
    );
    assert!(
        rate >= AGREEMENT_FLOOR,
        "agreement with feedparser fell to {:.1}% (floor {:.1}%)",
        rate * 100.0,
        AGREEMENT_FLOOR * 100.0
    );
}
