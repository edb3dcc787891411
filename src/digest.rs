//! Pure: a subscriber's window of articles → subject, text and HTML. No I/O (except
//! [`Templates::load`]), no clock.
//!
//! One digest is one email per subscriber per schedule tick, covering all their topics; the mail
//! module builds the multipart/alternative message from [`Composed`] and sends it.
//!
//! What a digest shows, and why:
//!
//! - **One entry per story.** Articles sharing a `story` id (syndicated copies, see the README's
//!   "Every article once") merge into the first of them in input order; the entry lists the
//!   sources and matches the topics of all of them.
//! - **Each entry once.** It is listed under the first of the subscriber's topics it matches (in
//!   the subscriber's order) and names the others ("Cũng thuộc: …"). Topics the subscriber does
//!   not follow are never mentioned; an article that matches none of theirs is left out.
//! - **Newest first** inside a topic (by `published`; ties keep the input order), at most
//!   `max_items` per topic, then "và N bài khác" linking to the topic's web feed when known.
//! - **The window is the caller's.** Articles are not filtered by `published`: an article first
//!   seen in the window is new even if the outlet dated it days earlier (the caller selects by
//!   first-seen time). The window only dates the digest and the intro.
//! - **Times in the subscriber's zone**: the subject's date is the window's end, local.
//!
//! Invariants:
//!
//! - [`compose`] returns `None` exactly when no article matches one of the subscriber's topics.
//! - The subject never contains a control character (it goes into a header), and every value
//!   the templates receive is one line: CR, LF and other controls become spaces, so a title
//!   carrying `"\r\nBcc: …"` cannot start a header or break the text layout.
//! - The HTML template autoescapes every value (`& < > " '`); the text template prints values as
//!   they are. Links are `http`/`https` only; anything else (`javascript:`) is dropped.
//! - Text is not normalized again: ingest did it once (see [`crate::text`]); values are only
//!   flattened to one line, summaries converted with [`crate::text::html_to_text`].
//!
//! The templates (`config/templates/digest.txt` and `digest.html`, built into the binary too)
//! list the variables they receive in their header comment.

mod frame;

pub use frame::{Body, Frame, Literals, Split};

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, FixedOffset, TimeDelta, Utc};
use chrono_tz::Tz;
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};
use serde::Serialize;

use crate::media::Media;

/// One stored article, as the digest needs it.
#[derive(Debug, Clone)]
pub struct DigestArticle {
    pub id: i64,
    pub story: i64,
    pub title: String,
    pub url: Option<String>,
    pub summary_html: Option<String>,
    pub published: DateTime<FixedOffset>,
    /// Source display names, in first-seen order.
    pub sources: Vec<String>,
    /// Topic ids it matches.
    pub topics: Vec<String>,
    /// The image shown beside its title in the HTML digest; None when it has none, or when
    /// digests show none (`[mail] images`, off by default).
    pub image: Option<Media>,
    /// The summary as listed, made from `summary_html` and `title` by the first digest that
    /// lists the article and kept for the next ones (subscribers share their window's
    /// articles): leave it empty, and change neither of those once it is set.
    pub listed_summary: OnceLock<Option<String>>,
}

/// One of the subscriber's topics.
#[derive(Debug, Clone)]
pub struct DigestTopic {
    pub id: String,
    pub name: String,
    pub unsubscribe_url: Option<String>,
    pub feed_url: Option<String>,
}

/// Everything one digest is made from.
#[derive(Debug, Clone)]
pub struct DigestInput {
    pub subscriber_name: String,
    pub email: String,
    /// The subscriber's topics, in their order.
    pub topics: Vec<DigestTopic>,
    /// Shared by the digests of one window.
    pub articles: Arc<[DigestArticle]>,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub timezone: Tz,
    /// Entries listed per topic; the rest are counted ("và N bài khác"). 0 is read as 1.
    pub max_items: usize,
    pub unsubscribe_all_url: Option<String>,
}

/// A composed digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composed {
    /// One line, no control characters.
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Entries listed in the bodies (a merged story counts once; those cut by `max_items` not
    /// at all).
    pub articles: usize,
}

/// File names of the templates, in `config/templates/` and as template names (the `.html` one
/// autoescapes).
pub const TEXT_TEMPLATE: &str = "digest.txt";
pub const HTML_TEMPLATE: &str = "digest.html";

const EMBEDDED_TEXT: &str = include_str!("../config/templates/digest.txt");
const EMBEDDED_HTML: &str = include_str!("../config/templates/digest.html");

/// Subjects longer than this list fewer topics ("… và 3 chủ đề khác"). Most clients show far
/// fewer characters in a list; this keeps the whole subject readable in an opened message.
const SUBJECT_MAX_CHARS: usize = 120;
/// Up to this many topics are all named in the subject; beyond it, the first two and a count
/// (the example: 5 topics → "Dân vận, Xây dựng Đảng và 3 chủ đề khác").
const SUBJECT_ALL_TOPICS_UP_TO: usize = 3;
const SUBJECT_NAMED_TOPICS: usize = 2;
/// Summaries are cut at the last word boundary before this many characters.
const SUMMARY_MAX_CHARS: usize = 300;

/// Parsed templates: `digest.txt` and `digest.html`. Cheap to clone (shared inside).
#[derive(Clone)]
pub struct Templates {
    env: Environment<'static>,
}

impl fmt::Debug for Templates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Templates").finish_non_exhaustive()
    }
}

impl Templates {
    /// The templates shipped in the binary (same content as config/templates/*, via include_str!).
    pub fn embedded() -> Templates {
        static EMBEDDED: OnceLock<Templates> = OnceLock::new();
        EMBEDDED
            .get_or_init(|| {
                let origin = |name: &str| format!("(built-in) {name}");
                // Cannot fail in a released binary: the test `shipped_templates_parse_and_render`
                // parses and renders these very files.
                Templates::parse(
                    (EMBEDDED_TEXT.to_owned(), origin(TEXT_TEMPLATE)),
                    (EMBEDDED_HTML.to_owned(), origin(HTML_TEMPLATE)),
                )
                .expect("the built-in digest templates are valid")
            })
            .clone()
    }

    /// digest.txt and digest.html from `dir`; a missing file falls back to the embedded one; a
    /// template syntax error is an Err with file:line and message.
    ///
    /// Both templates are also rendered once on a sample digest, so a misspelled variable or an
    /// unknown filter is reported here (same format), not when the first digest goes out.
    pub fn load(dir: &Path) -> Result<Templates, TemplateError> {
        let read = |name: &str, embedded: &str| -> Result<(String, String), TemplateError> {
            let path = dir.join(name);
            match std::fs::read_to_string(&path) {
                Ok(source) => Ok((source, path.display().to_string())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    Ok((embedded.to_owned(), format!("(built-in) {name}")))
                }
                Err(source) => Err(TemplateError::Read { path, source }),
            }
        };
        Templates::parse(
            read(TEXT_TEMPLATE, EMBEDDED_TEXT)?,
            read(HTML_TEMPLATE, EMBEDDED_HTML)?,
        )
    }

    /// Parse both templates (source, origin for messages), then render them on a sample digest.
    fn parse(text: (String, String), html: (String, String)) -> Result<Templates, TemplateError> {
        let mut env = environment();
        let (text_source, text_origin) = text;
        let (html_source, html_origin) = html;
        let invalid = |origin: &str| {
            let origin = origin.to_owned();
            move |error| TemplateError::Invalid { origin, error }
        };
        env.add_template_owned(TEXT_TEMPLATE, text_source)
            .map_err(invalid(&text_origin))?;
        env.add_template_owned(HTML_TEMPLATE, html_source)
            .map_err(invalid(&html_origin))?;
        let templates = Templates { env };
        if let Some(digest) = Digest::build(&sample_input()) {
            for (name, origin) in [(TEXT_TEMPLATE, &text_origin), (HTML_TEMPLATE, &html_origin)] {
                templates.render(name, &digest).map_err(invalid(origin))?;
            }
        }
        Ok(templates)
    }

    fn render(&self, name: &str, digest: &Digest) -> Result<String, minijinja::Error> {
        self.env.get_template(name)?.render(digest)
    }

    fn render_both(&self, digest: &Digest) -> Result<(String, String), minijinja::Error> {
        Ok((
            self.render(TEXT_TEMPLATE, digest)?,
            self.render(HTML_TEMPLATE, digest)?,
        ))
    }
}

/// Why the digest templates cannot be used; one line, naming the file (and line) at fault.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// A template file that exists but cannot be read.
    #[error("{}: {source}", path.display())]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    /// A syntax error, or an error rendering the sample digest (an undefined variable, an
    /// unknown filter), in the template from `origin` (a path, or "(built-in) NAME").
    #[error("{}", located(origin, error))]
    Invalid {
        origin: String,
        error: minijinja::Error,
    },
}

/// Compose one subscriber's digest; `None` when none of the articles matches their topics.
///
/// A template that fails while rendering (possible only for data the sample in
/// [`Templates::load`] did not exercise) is logged and replaced by the built-in one: the
/// subscriber still gets their digest.
pub fn compose(input: &DigestInput, templates: &Templates) -> Option<Composed> {
    let digest = Digest::build(input)?;
    let (text, html) = match templates.render_both(&digest) {
        Ok(bodies) => bodies,
        Err(e) => {
            tracing::warn!(
                subscriber = %input.email,
                error = %describe(&e),
                "digest template failed; used the built-in one"
            );
            match Templates::embedded().render_both(&digest) {
                Ok(bodies) => bodies,
                Err(e) => {
                    tracing::error!(subscriber = %input.email, error = %describe(&e), "built-in digest template failed");
                    return None;
                }
            }
        }
    };
    Some(Composed {
        subject: digest.subject,
        text,
        html,
        articles: digest.shown,
    })
}

// ---------------------------------------------------------------------------------------------
// The template context. Field names are the templates' variables: renaming one breaks admins'
// templates, so add rather than rename.

/// Cheap to clone: the entries of each section are shared ([`Value`]s).
#[derive(Debug, Clone, Serialize)]
struct Digest {
    subject: String,
    /// The window's end, local: dd/mm/yyyy.
    date: String,
    window_start: String,
    window_end: String,
    timezone: &'static str,
    subscriber: Subscriber,
    /// Entries in the digest, listed or not.
    total: usize,
    /// Entries listed.
    shown: usize,
    /// Names of the topics with entries: "A, B và C".
    topic_list: String,
    /// Names of all the subscriber's topics: "A, B và C".
    subscribed_list: String,
    sections: Vec<Section>,
    topics: Vec<TopicInfo>,
    unsubscribe_all_url: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
struct Subscriber {
    name: String,
    email: String,
}

#[derive(Debug, Clone, Serialize)]
struct Section {
    id: String,
    name: String,
    /// The [`Entry`]s, converted for the templates once: a template reads them without
    /// converting them again, however many times the digest is rendered.
    articles: Value,
    total: usize,
    shown: usize,
    more: usize,
    feed_url: Option<String>,
    unsubscribe_url: Option<String>,
}

#[derive(Debug, Serialize)]
struct Entry {
    title: String,
    url: Option<String>,
    sources: Vec<String>,
    sources_text: String,
    /// dd/mm/yyyy HH:MM in the subscriber's time zone.
    published: String,
    summary: Option<String>,
    also_in: Vec<String>,
    also_in_text: String,
    /// Beside the title in the HTML digest, at a fixed size ([`Image`]).
    image: Option<Image>,
}

/// An article's image as the HTML digest shows it: always [`IMAGE_WIDTH`] wide and at most
/// [`IMAGE_MAX_HEIGHT`] high, both written as attributes, so the layout is the same whether
/// the client loads it or blocks it (most block remote images until asked), and the title is
/// its alt text. Nothing in the digest depends on it.
#[derive(Debug, Serialize)]
struct Image {
    url: String,
    width: u32,
    height: u32,
}

/// The width of an image in the HTML digest, in CSS pixels: a thumbnail beside the title.
const IMAGE_WIDTH: u32 = 120;
/// The height when the image's own proportions are unknown (3:2, most news photos), and the
/// most it may be.
const IMAGE_HEIGHT: u32 = 80;
const IMAGE_MAX_HEIGHT: u32 = 120;

impl Image {
    /// `m` at the digest's size, its height from its own proportions when known; only a web
    /// URL (ingest checked it; a digest checks links again all the same).
    fn of(m: &Media) -> Option<Image> {
        let url = web_link(Some(&m.url))?;
        let height = match (m.width, m.height) {
            (Some(w), Some(h)) if w > 0 => (u64::from(IMAGE_WIDTH) * u64::from(h) / u64::from(w))
                .clamp(1, u64::from(IMAGE_MAX_HEIGHT))
                as u32,
            _ => IMAGE_HEIGHT,
        };
        Some(Image {
            url,
            width: IMAGE_WIDTH,
            height,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
struct TopicInfo {
    id: String,
    name: String,
    /// Entries listed under it or counted in its "và N bài khác".
    articles: usize,
    feed_url: Option<String>,
    unsubscribe_url: Option<String>,
}

/// A story: the first article of it in input order, with the sources and topics of all.
struct Story<'a> {
    first: &'a DigestArticle,
    sources: Vec<String>,
    topics: Vec<&'a str>,
}

impl Digest {
    fn build(input: &DigestInput) -> Option<Digest> {
        let tz = input.timezone;
        // The subscriber's topics, first occurrence of an id wins.
        let mut topics: Vec<&DigestTopic> = Vec::new();
        for t in &input.topics {
            if !topics.iter().any(|known| known.id == t.id) {
                topics.push(t);
            }
        }
        let position: HashMap<&str, usize> = topics
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id.as_str(), i))
            .collect();
        let names: Vec<String> = topics.iter().map(|t| topic_name(t)).collect();

        // Topic index → (story, the subscriber's other topics of it).
        let mut grouped: Vec<Vec<(&Story, Vec<usize>)>> =
            topics.iter().map(|_| Vec::new()).collect();
        let stories = merge_stories(&input.articles);
        for story in &stories {
            let mut mine: Vec<usize> = story
                .topics
                .iter()
                .filter_map(|t| position.get(t).copied())
                .collect();
            mine.sort_unstable();
            mine.dedup();
            if let Some((&first, others)) = mine.split_first() {
                grouped[first].push((story, others.to_vec()));
            }
        }

        let max_items = input.max_items.max(1);
        let mut sections = Vec::new();
        let mut infos = Vec::new();
        for (i, (topic, mut members)) in topics.iter().zip(grouped).enumerate() {
            let total = members.len();
            infos.push(TopicInfo {
                id: topic.id.clone(),
                name: names[i].clone(),
                articles: total,
                feed_url: web_link(topic.feed_url.as_deref()),
                unsubscribe_url: None,
            });
            if total == 0 {
                continue;
            }
            // Stable: equal times keep the input order.
            members.sort_by_key(|(story, _)| std::cmp::Reverse(story.first.published));
            members.truncate(max_items);
            let articles: Vec<Entry> = members
                .into_iter()
                .map(|(story, others)| {
                    let also_in: Vec<String> = others.iter().map(|&o| names[o].clone()).collect();
                    entry(story, also_in, tz)
                })
                .collect();
            sections.push(Section {
                id: topic.id.clone(),
                name: names[i].clone(),
                total,
                shown: articles.len(),
                more: total - articles.len(),
                articles: Value::from_serialize(&articles),
                feed_url: web_link(topic.feed_url.as_deref()),
                unsubscribe_url: None,
            });
        }
        if sections.is_empty() {
            return None;
        }

        let section_names: Vec<&str> = sections.iter().map(|s| s.name.as_str()).collect();
        let date = input
            .window_end
            .with_timezone(&tz)
            .format("%d/%m/%Y")
            .to_string();
        let mut digest = Digest {
            subject: subject(&section_names, &date),
            date,
            window_start: local_time(&input.window_start, tz),
            window_end: local_time(&input.window_end, tz),
            timezone: tz.name(),
            subscriber: Subscriber::default(),
            total: sections.iter().map(|s| s.total).sum(),
            shown: sections.iter().map(|s| s.shown).sum(),
            topic_list: vietnamese_list(&section_names),
            subscribed_list: vietnamese_list(&names.iter().map(String::as_str).collect::<Vec<_>>()),
            sections,
            topics: infos,
            unsubscribe_all_url: None,
        };
        digest.personalize(input);
        Some(digest)
    }

    /// Sets what is the subscriber's own: their name and address, and their unsubscribe links
    /// (a topic's is that of its first occurrence in `input`). The rest of a digest depends on
    /// the window only ([`Frame`]).
    fn personalize(&mut self, input: &DigestInput) {
        let link = |id: &str| {
            let topic = input.topics.iter().find(|t| t.id == id)?;
            web_link(topic.unsubscribe_url.as_deref())
        };
        self.subscriber = Subscriber {
            name: one_line(&input.subscriber_name),
            email: one_line(&input.email),
        };
        for t in &mut self.topics {
            t.unsubscribe_url = link(&t.id);
        }
        for s in &mut self.sections {
            s.unsubscribe_url = link(&s.id);
        }
        self.unsubscribe_all_url = web_link(input.unsubscribe_all_url.as_deref());
    }
}

/// Articles of one story → one [`Story`] ([`crate::stories::merge`]: the first in input order
/// is kept; sources and topics are united in first-seen order), with each source name made
/// one line and empty ones left out.
fn merge_stories(articles: &[DigestArticle]) -> Vec<Story<'_>> {
    crate::stories::merge(articles)
        .into_iter()
        .map(|story| {
            let mut sources: Vec<String> = Vec::new();
            for s in story.sources.iter().map(|s| one_line(s)) {
                if !s.is_empty() && !sources.contains(&s) {
                    sources.push(s);
                }
            }
            Story {
                first: story.lead,
                sources,
                topics: story.topics,
            }
        })
        .collect()
}

impl crate::stories::Syndicated for DigestArticle {
    fn story(&self) -> i64 {
        self.story
    }
    fn sources(&self) -> &[String] {
        &self.sources
    }
    fn topics(&self) -> &[String] {
        &self.topics
    }
}

fn entry(story: &Story, also_in: Vec<String>, tz: Tz) -> Entry {
    let a = story.first;
    let title = one_line(&a.title);
    let summary = a
        .listed_summary
        .get_or_init(|| {
            a.summary_html
                .as_deref()
                .and_then(|html| summarize(html, &title))
        })
        .clone();
    Entry {
        url: web_link(a.url.as_deref()),
        sources_text: story.sources.join(", "),
        sources: story.sources.clone(),
        published: local_time(&a.published, tz),
        summary,
        also_in_text: also_in.join(", "),
        also_in,
        title,
        image: a.image.as_ref().and_then(Image::of),
    }
}

fn topic_name(t: &DigestTopic) -> String {
    let name = one_line(&t.name);
    if name.is_empty() {
        one_line(&t.id)
    } else {
        name
    }
}

/// "Bản tin A, B – 28/11/2026"; with many topics or long names "Bản tin A, B và 3 chủ đề khác –
/// 28/11/2026", at most [`SUBJECT_MAX_CHARS`] characters. `names` are one line already.
fn subject(names: &[&str], date: &str) -> String {
    let tail = format!(" – {date}");
    let budget = SUBJECT_MAX_CHARS.saturating_sub(tail.chars().count());
    let fits = |s: &str| s.chars().count() <= budget;
    let n = names.len();
    if n <= SUBJECT_ALL_TOPICS_UP_TO {
        let all = format!("Bản tin {}", names.join(", "));
        if fits(&all) {
            return all + &tail;
        }
    }
    let others = |k: usize| {
        if k < n {
            format!(" và {} chủ đề khác", n - k)
        } else {
            String::new()
        }
    };
    for k in (1..=SUBJECT_NAMED_TOPICS.min(n.saturating_sub(1))).rev() {
        let s = format!("Bản tin {}{}", names[..k].join(", "), others(k));
        if fits(&s) {
            return s + &tail;
        }
    }
    // Even one name is too long: shorten it.
    let first = names.first().copied().unwrap_or_default();
    let rest = others(1.min(n));
    let room = budget.saturating_sub("Bản tin ".chars().count() + rest.chars().count() + 1);
    format!("Bản tin {}{rest}{tail}", cut_at_word(first, room.max(1)))
}

/// "A", "A và B", "A, B và C".
fn vietnamese_list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} và {last}", init.join(", ")),
    }
}

/// dd/mm/yyyy HH:MM in `tz`.
fn local_time<Z: chrono::TimeZone>(t: &DateTime<Z>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%d/%m/%Y %H:%M").to_string()
}

/// Sanitized summary HTML → a short plain summary, or `None` when it is empty or only repeats
/// the title (many feeds do that).
fn summarize(html: &str, title: &str) -> Option<String> {
    let text = one_line(&crate::text::html_to_text(html));
    if text.is_empty() || text == title {
        return None;
    }
    Some(cut_at_word(&text, SUMMARY_MAX_CHARS))
}

/// `text` itself when it has at most `max` characters; otherwise cut at the last space before
/// `max` characters, without trailing punctuation, plus "…". A single word longer than half of
/// `max` (a URL) is cut inside instead, so the summary still says something.
fn cut_at_word(text: &str, max: usize) -> String {
    let Some((end, _)) = text.char_indices().nth(max) else {
        return text.to_owned();
    };
    let Some((head, tail)) = text.split_at_checked(end) else {
        return text.to_owned();
    };
    let cut = if tail.starts_with(char::is_whitespace) {
        head
    } else {
        match head.rfind(char::is_whitespace).and_then(|i| head.get(..i)) {
            Some(before) if before.chars().count() >= max / 2 => before,
            _ => head,
        }
    };
    let cut = cut.trim_end_matches(|c: char| {
        c.is_whitespace() || matches!(c, ',' | ';' | ':' | '.' | '-' | '–' | '—' | '(' | '"' | '“')
    });
    format!("{cut}…")
}

/// One line: control characters (CR, LF, tab, …) and line or paragraph separators become
/// spaces, runs of spaces collapse, the ends are trimmed. For the subject (a header) and every
/// value the templates receive.
fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split(|c: char| c.is_whitespace() || c.is_control()) {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// A link a message may carry: an absolute `http`/`https` URL without spaces or controls.
/// Anything else (`javascript:`, `data:`, relative) would be dangerous or dead in a mail client.
fn web_link(url: Option<&str>) -> Option<String> {
    let url = url?.trim();
    let (scheme, rest) = url.split_once(':')?;
    let web = scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
    let clean = !url.chars().any(|c| c.is_whitespace() || c.is_control());
    (web && clean && rest.starts_with("//") && rest.len() > 2).then(|| url.to_owned())
}

// ---------------------------------------------------------------------------------------------
// minijinja

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // By template name rather than minijinja's default guess, so it cannot drift: the HTML
    // body escapes every value, the text body none.
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env.set_formatter(format_value);
    // A misspelled variable is an error (caught by the sample render in `load`), not silence.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Block tags alone on a line leave no blank line: templates can be laid out readably.
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    env.add_filter("wordwrap", wordwrap);
    env
}

/// minijinja's formatter, except that HTML escaping leaves `/` alone: its `&#x2f;` in every URL
/// makes the HTML longer (Gmail clips bodies over 102 KB) and links look obfuscated to spam
/// filters. `& < > " '` are still escaped, which is enough in text and quoted attributes.
fn format_value(
    out: &mut minijinja::Output,
    state: &minijinja::State,
    value: &Value,
) -> Result<(), minijinja::Error> {
    if state.auto_escape() == AutoEscape::Html && !value.is_safe() {
        if let Some(s) = value.as_str() {
            return out
                .write_str(&html_escape::encode_quoted_attribute(s))
                .map_err(minijinja::Error::from);
        }
    }
    minijinja::escape_formatter(out, state, value)
}

/// `{{ text | wordwrap(72) }}`: lines of at most `width` characters (default 72), broken
/// between words only; a longer word (a URL) gets a line of its own, whole.
fn wordwrap(text: &str, width: Option<usize>) -> String {
    let width = width.unwrap_or(72).max(1);
    let mut out = String::with_capacity(text.len() + text.len() / width);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let mut column = 0;
        for word in line.split(' ').filter(|w| !w.is_empty()) {
            let len = word.chars().count();
            if column > 0 && column + 1 + len > width {
                out.push('\n');
                column = 0;
            } else if column > 0 {
                out.push(' ');
                column += 1;
            }
            out.push_str(word);
            column += len;
        }
    }
    out
}

/// "path:line: kind: detail", or without the line when minijinja does not know it.
fn located(origin: &str, e: &minijinja::Error) -> String {
    match e.line() {
        Some(line) => format!("{origin}:{line}: {}", describe(e)),
        None => format!("{origin}: {}", describe(e)),
    }
}

fn describe(e: &minijinja::Error) -> String {
    match e.detail() {
        Some(detail) => format!("{}: {detail}", e.kind()),
        None => e.kind().to_string(),
    }
}

/// A digest that goes through every branch of the shipped templates (a name, two topics, an
/// entry in both, a merged story, a summary, a cut topic, every link), to check templates.
fn sample_input() -> DigestInput {
    let end = DateTime::<Utc>::UNIX_EPOCH + TimeDelta::seconds(1_795_824_000); // 28/11/2026 07:00 +07
    let tz = chrono_tz::Asia::Ho_Chi_Minh;
    let at = |hours_before: i64| {
        (end - TimeDelta::hours(hours_before))
            .with_timezone(&tz)
            .fixed_offset()
    };
    let article = |id: i64, story: i64, source: &str, topics: &[&str]| DigestArticle {
        id,
        story,
        title: format!("Bài mẫu số {story}"),
        url: Some(format!("https://example.vn/bai-{id}")),
        summary_html: Some("<p>Tóm tắt <b>mẫu</b> của bài.</p>".to_owned()),
        published: at(id),
        sources: vec![source.to_owned()],
        topics: topics.iter().map(|t| (*t).to_owned()).collect(),
        image: url::Url::parse("https://example.vn/")
            .ok()
            .and_then(|base| Media::at(&format!("/anh-{id}.jpg"), &base)),
        listed_summary: OnceLock::new(),
    };
    let topic = |id: &str, name: &str| DigestTopic {
        id: id.to_owned(),
        name: name.to_owned(),
        unsubscribe_url: Some(format!("https://example.vn/huy/{id}")),
        feed_url: Some(format!("https://example.vn/topics/{id}.rss")),
    };
    DigestInput {
        subscriber_name: "Người nhận".to_owned(),
        email: "nguoi.nhan@example.vn".to_owned(),
        topics: vec![topic("a", "Chủ đề A"), topic("b", "Chủ đề B")],
        articles: vec![
            article(1, 1, "Báo X", &["a", "b"]),
            article(2, 1, "Báo Y", &["a"]),
            article(3, 3, "Báo X", &["a"]),
            article(4, 4, "Báo Y", &["b"]),
        ]
        .into(),
        window_start: end - TimeDelta::days(1),
        window_end: end,
        timezone: tz,
        max_items: 1,
        unsubscribe_all_url: Some("https://example.vn/huy".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use unicode_normalization::is_nfc;

    fn at(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        at(s).with_timezone(&Utc)
    }

    fn article(id: i64, title: &str, published: &str, topics: &[&str]) -> DigestArticle {
        DigestArticle {
            id,
            story: id,
            title: title.to_owned(),
            url: Some(format!("https://nhandan.vn/bai-{id}.html")),
            summary_html: None,
            published: at(published),
            sources: vec!["Nhân Dân".to_owned()],
            topics: topics.iter().map(|t| (*t).to_owned()).collect(),
            image: None,
            listed_summary: OnceLock::new(),
        }
    }

    fn topic(id: &str, name: &str) -> DigestTopic {
        DigestTopic {
            id: id.to_owned(),
            name: name.to_owned(),
            unsubscribe_url: None,
            feed_url: None,
        }
    }

    fn input(topics: Vec<DigestTopic>, articles: Vec<DigestArticle>) -> DigestInput {
        DigestInput {
            subscriber_name: "Nguyễn Văn An".to_owned(),
            email: "an@example.vn".to_owned(),
            topics,
            articles: articles.into(),
            window_start: utc("2026-11-27T00:00:00Z"),
            window_end: utc("2026-11-28T00:00:00Z"),
            timezone: chrono_tz::Asia::Ho_Chi_Minh,
            max_items: 30,
            unsubscribe_all_url: None,
        }
    }

    fn compose_embedded(input: &DigestInput) -> Composed {
        compose(input, &Templates::embedded()).expect("a digest")
    }

    const DAN_VAN: &str = "dan-van";
    const XDD: &str = "xay-dung-dang";

    #[test]
    fn subject_names_topics_and_local_date() {
        let names = [
            "Dân vận",
            "Xây dựng Đảng",
            "Cải cách hành chính",
            "Chuyển đổi số",
            "Kinh tế",
        ];
        let long = "Công tác dân vận của hệ thống chính trị ở cơ sở và quy chế dân chủ";
        let very_long = "Chủ đề ".repeat(30);
        let long_subject = format!("Bản tin {long} và 2 chủ đề khác – 28/11/2026");
        let hcm = chrono_tz::Asia::Ho_Chi_Minh;
        let ny = chrono_tz::America::New_York;
        #[rustfmt::skip]
        let cases: Vec<(Vec<&str>, &str, Tz, &str)> = vec![
            (names[..1].to_vec(), "2026-11-27T23:30:00Z", hcm, "Bản tin Dân vận – 28/11/2026"),
            (names[..1].to_vec(), "2026-11-27T23:30:00Z", chrono_tz::UTC, "Bản tin Dân vận – 27/11/2026"),
            (names[..2].to_vec(), "2026-11-28T00:30:00Z", ny, "Bản tin Dân vận, Xây dựng Đảng – 27/11/2026"),
            (names[..2].to_vec(), "2026-11-28T00:30:00Z", hcm, "Bản tin Dân vận, Xây dựng Đảng – 28/11/2026"),
            (names[..3].to_vec(), "2026-11-28T00:30:00Z", hcm, "Bản tin Dân vận, Xây dựng Đảng, Cải cách hành chính – 28/11/2026"),
            (names.to_vec(), "2026-11-27T23:30:00Z", hcm, "Bản tin Dân vận, Xây dựng Đảng và 3 chủ đề khác – 28/11/2026"),
            (vec![long, long, "Kinh tế"], "2026-11-27T23:30:00Z", hcm, &long_subject),
            (vec!["Dân vận\r\nBcc: x@example.vn", "Kinh\ttế"], "2026-11-27T23:30:00Z", hcm, "Bản tin Dân vận Bcc: x@example.vn, Kinh tế – 28/11/2026"),
        ];
        for (topic_names, end, tz, expected) in cases {
            let topics: Vec<DigestTopic> = topic_names
                .iter()
                .enumerate()
                .map(|(i, n)| topic(&format!("t{i}"), n))
                .collect();
            let articles = topics
                .iter()
                .enumerate()
                .map(|(i, t)| article(i as i64, "Bài", "2026-11-27T10:00:00+07:00", &[&t.id]))
                .collect();
            let mut digest = input(topics, articles);
            digest.window_end = utc(end);
            digest.timezone = tz;
            let composed = compose_embedded(&digest);
            assert_eq!(composed.subject, expected, "{topic_names:?} {end} {tz}");
        }

        // Names too long for any list: the first one is shortened.
        for count in [1, 4] {
            let topics: Vec<DigestTopic> = (0..count)
                .map(|i| topic(&format!("t{i}"), &very_long))
                .collect();
            let articles = topics
                .iter()
                .enumerate()
                .map(|(i, t)| article(i as i64, "Bài", "2026-11-27T10:00:00+07:00", &[&t.id]))
                .collect();
            let subject = compose_embedded(&input(topics, articles)).subject;
            assert!(subject.chars().count() <= SUBJECT_MAX_CHARS, "{subject}");
            assert!(subject.starts_with("Bản tin Chủ đề Chủ đề"), "{subject}");
            assert!(
                subject.ends_with("… – 28/11/2026")
                    || subject.ends_with("… và 3 chủ đề khác – 28/11/2026"),
                "{subject}"
            );
        }
    }

    #[test]
    fn subject_names_only_topics_with_articles() {
        let digest = input(
            vec![topic(DAN_VAN, "Dân vận"), topic(XDD, "Xây dựng Đảng")],
            vec![article(1, "Bài", "2026-11-27T10:00:00+07:00", &[XDD])],
        );
        let composed = compose_embedded(&digest);
        assert_eq!(composed.subject, "Bản tin Xây dựng Đảng – 28/11/2026");
        // The footer still names everything they follow (wherever its paragraph wraps).
        let words = composed
            .text
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            words.contains("đăng ký nhận tin về chủ đề Dân vận và Xây dựng Đảng."),
            "{}",
            composed.text
        );
    }

    #[test]
    fn an_article_in_two_topics_appears_once_under_the_first() {
        let digest = input(
            vec![
                topic(DAN_VAN, "Dân vận"),
                topic(XDD, "Xây dựng Đảng"),
                topic("cds", "Chuyển đổi số"),
            ],
            vec![
                // Its own topic order differs from the subscriber's; "other" is not theirs.
                article(
                    1,
                    "Hội nghị công tác dân vận",
                    "2026-11-27T10:00:00+07:00",
                    &["other", XDD, DAN_VAN],
                ),
                article(2, "Chỉ thời sự", "2026-11-27T11:00:00+07:00", &["other"]),
            ],
        );
        let composed = compose_embedded(&digest);
        assert_eq!(composed.articles, 1);
        assert_eq!(composed.subject, "Bản tin Dân vận – 28/11/2026");
        for body in [&composed.text, &composed.html] {
            assert_eq!(
                body.matches("Hội nghị công tác dân vận").count(),
                1,
                "{body}"
            );
            assert!(body.contains("Cũng thuộc: Xây dựng Đảng"), "{body}");
            assert!(!body.contains("Chỉ thời sự"));
            assert!(!body.contains("other"));
        }
        let dan_van = composed.text.find("== Dân vận").unwrap();
        let title = composed.text.find("Hội nghị công tác dân vận").unwrap();
        assert!(dan_van < title);
        assert!(!composed.text.contains("== Xây dựng Đảng"));
    }

    #[test]
    fn a_syndicated_story_appears_once_with_all_sources() {
        let mut first = article(
            1,
            "Thủ tướng chủ trì phiên họp Chính phủ",
            "2026-11-27T10:00:00+07:00",
            &[DAN_VAN],
        );
        first.sources = vec!["Báo Chính phủ".to_owned()];
        let mut copy = article(
            2,
            "Thủ tướng chủ trì phiên họp Chính phủ",
            "2026-11-27T10:05:00+07:00",
            &[XDD],
        );
        copy.story = 1;
        copy.url = Some("https://vtv.vn/copy.htm".to_owned());
        copy.sources = vec!["VTV".to_owned(), "Báo Chính phủ".to_owned()];
        let digest = input(
            vec![topic(DAN_VAN, "Dân vận"), topic(XDD, "Xây dựng Đảng")],
            vec![first, copy],
        );
        let composed = compose_embedded(&digest);
        assert_eq!(composed.articles, 1);
        for body in [&composed.text, &composed.html] {
            assert_eq!(body.matches("Thủ tướng chủ trì").count(), 1, "{body}");
            assert!(
                body.contains("Báo Chính phủ, VTV · 27/11/2026 10:00"),
                "{body}"
            );
            // The first one is kept, with its link; the copy's topic is noted.
            assert!(body.contains("https://nhandan.vn/bai-1.html"));
            assert!(!body.contains("vtv.vn/copy"));
            assert!(body.contains("Cũng thuộc: Xây dựng Đảng"));
        }
        // The same article passed once per topic is one entry too.
        let a = article(7, "Một bài", "2026-11-27T10:00:00+07:00", &[DAN_VAN]);
        let b = DigestArticle {
            topics: vec![XDD.to_owned()],
            ..a.clone()
        };
        let twice = compose_embedded(&input(
            vec![topic(DAN_VAN, "Dân vận"), topic(XDD, "Xây dựng Đảng")],
            vec![a, b],
        ));
        assert_eq!(twice.articles, 1);
        assert_eq!(twice.text.matches("Một bài").count(), 1);
    }

    #[test]
    fn newest_first_and_at_most_max_items_per_topic() {
        let articles: Vec<DigestArticle> = [
            (1, "2026-11-27T08:00:00+07:00"),
            (2, "2026-11-27T12:00:00+07:00"),
            (3, "2026-11-27T03:00:00Z"), // 10:00 +07
            (4, "2026-11-27T09:00:00+07:00"),
            (5, "2026-11-27T11:00:00+07:00"),
        ]
        .iter()
        .map(|(id, t)| article(*id, &format!("Bài số {id}"), t, &[DAN_VAN]))
        .collect();
        let mut t = topic(DAN_VAN, "Dân vận");
        t.feed_url = Some("https://bantin.example/topics/dan-van.rss".to_owned());
        let mut digest = input(vec![t], articles);
        digest.max_items = 2;
        let composed = compose_embedded(&digest);
        assert_eq!(composed.articles, 2);
        let listed: Vec<&str> = composed
            .text
            .lines()
            .filter_map(|l| l.strip_prefix("* "))
            .collect();
        assert_eq!(listed, ["Bài số 2", "Bài số 5"]);
        assert!(
            composed
                .text
                .contains("và 3 bài khác:\nhttps://bantin.example/topics/dan-van.rss\n"),
            "{}",
            composed.text
        );
        assert!(composed.text.contains("Có 5 bài mới về Dân vận"));
        assert!(composed.html.contains(
            "<a href=\"https://bantin.example/topics/dan-van.rss\" style=\"color:#0d47a1;\">và 3 bài khác</a>"
        ), "{}", composed.html);

        // Without a feed URL: the count, no link. All listed: no line at all.
        digest.topics[0].feed_url = None;
        let composed = compose_embedded(&digest);
        assert!(
            composed.text.contains("\nvà 3 bài khác\n"),
            "{}",
            composed.text
        );
        assert!(composed.html.contains(">và 3 bài khác</p>"));
        digest.max_items = 5;
        assert!(!compose_embedded(&digest).text.contains("bài khác"));
        // 0 would list nothing: read as 1.
        digest.max_items = 0;
        assert_eq!(compose_embedded(&digest).articles, 1);
    }

    #[test]
    fn times_are_in_the_subscribers_zone() {
        let cases = [
            (
                chrono_tz::Asia::Ho_Chi_Minh,
                "2026-11-27T23:50:00+07:00",
                "27/11/2026 23:50",
            ),
            (
                chrono_tz::UTC,
                "2026-11-27T23:50:00+07:00",
                "27/11/2026 16:50",
            ),
            (
                chrono_tz::America::New_York,
                "2026-11-28T04:30:00+07:00",
                "27/11/2026 16:30",
            ),
            (
                chrono_tz::Asia::Tokyo,
                "2026-11-27T22:30:00Z",
                "28/11/2026 07:30",
            ),
        ];
        for (tz, published, expected) in cases {
            let mut digest = input(
                vec![topic(DAN_VAN, "Dân vận")],
                vec![article(1, "Bài", published, &[DAN_VAN])],
            );
            digest.timezone = tz;
            let composed = compose_embedded(&digest);
            assert!(
                composed.text.contains(&format!("Nhân Dân · {expected}\n")),
                "{tz}: {}",
                composed.text
            );
            assert!(composed
                .text
                .contains(&format!("theo múi giờ {}.", tz.name())));
        }
    }

    #[test]
    fn summaries_are_cut_at_a_word_boundary() {
        let words = "Hội nghị toàn quốc quán triệt nghị quyết về công tác dân vận ".repeat(10);
        let words = words.trim_end();
        let check = |input: &str, max: usize, expected: &str| {
            assert_eq!(cut_at_word(input, max), expected, "{input:?} at {max}");
        };
        check("ngắn gọn", 300, "ngắn gọn");
        check("một hai ba", 10, "một hai ba");
        check("một hai ba bốn", 10, "một hai ba…");
        check("một hai, ba bốn", 9, "một hai…");
        check("một hai. Ba", 8, "một hai…");
        check("ba bốn năm", 3, "ba…"); // the cut falls on a space
        check("https://nhandan.vn/rat-dai", 10, "https://nh…");
        let cut = cut_at_word(words, SUMMARY_MAX_CHARS);
        assert!(cut.ends_with("…"));
        assert!(cut.chars().count() <= SUMMARY_MAX_CHARS + 1);
        assert!(cut.chars().count() > SUMMARY_MAX_CHARS - 20);
        let kept = cut.trim_end_matches('…');
        assert!(words.starts_with(kept));
        assert!(
            words[kept.len()..].starts_with(' '),
            "cut inside a word: {cut}"
        );

        // From summary HTML: tags gone, entities decoded once, a title repeat dropped.
        assert_eq!(
            summarize("<p>Tin <b>dân</b> v&#7853;n</p>", "Tiêu đề").as_deref(),
            Some("Tin dân vận")
        );
        assert_eq!(summarize("<p>Tiêu đề</p>", "Tiêu đề"), None);
        assert_eq!(summarize("<img src=\"x.jpg\">", "Tiêu đề"), None);

        let mut a = article(1, "Tiêu đề", "2026-11-27T10:00:00+07:00", &[DAN_VAN]);
        a.summary_html = Some(format!("<p>{words}</p>"));
        let composed = compose_embedded(&input(vec![topic(DAN_VAN, "Dân vận")], vec![a]));
        let summary: Vec<&str> = composed
            .text
            .lines()
            .skip_while(|l| !l.starts_with("  https://"))
            .skip(1)
            .take_while(|l| l.starts_with("  "))
            .collect();
        assert!(
            summary.len() >= 4,
            "wrapped over several lines: {}",
            composed.text
        );
        assert_eq!(one_line(&summary.join(" ")), cut);
        assert!(
            composed.text.lines().all(|l| l.chars().count() <= 76),
            "{}",
            composed.text
        );
        assert!(
            composed.html.contains(&format!("<br>{cut}\n")),
            "{}",
            composed.html
        );
    }

    #[test]
    fn nothing_new_means_no_message() {
        let topics = vec![topic(DAN_VAN, "Dân vận")];
        assert_eq!(
            compose(&input(topics.clone(), vec![]), &Templates::embedded()),
            None
        );
        let elsewhere = vec![article(1, "Bài", "2026-11-27T10:00:00+07:00", &[XDD])];
        assert_eq!(
            compose(&input(topics, elsewhere.clone()), &Templates::embedded()),
            None
        );
        assert_eq!(
            compose(&input(vec![], elsewhere), &Templates::embedded()),
            None
        );
    }

    #[test]
    fn hostile_values_are_escaped_in_html_and_literal_in_text() {
        let hostile = "<script>alert(1)</script> & \"Đảng\" 'x'\r\nBcc: evil@example.com";
        let flat = "<script>alert(1)</script> & \"Đảng\" 'x' Bcc: evil@example.com";
        let mut a = article(1, hostile, "2026-11-27T10:00:00+07:00", &[DAN_VAN]);
        a.url = Some("https://nhandan.vn/a?x=1&y=\"2\"".to_owned());
        a.sources = vec!["<b>Báo</b>".to_owned()];
        a.summary_html = Some("<p>&lt;img src=x onerror=alert(1)&gt; tóm tắt</p>".to_owned());
        let mut evil_link = article(2, "Liên kết lạ", "2026-11-27T09:00:00+07:00", &[DAN_VAN]);
        evil_link.url = Some("javascript:alert(1)".to_owned());
        let mut t = topic(DAN_VAN, "Dân <i>vận</i>");
        t.unsubscribe_url = Some("data:text/html,<script>".to_owned());
        let mut digest = input(vec![t], vec![a, evil_link]);
        digest.subscriber_name = "<img src=x>".to_owned();
        let composed = compose_embedded(&digest);

        assert!(!composed.subject.contains(['\r', '\n']));
        let html = &composed.html;
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Đảng&quot; &#x27;x&#x27; Bcc: evil@example.com"), "{html}");
        assert!(
            html.contains("href=\"https://nhandan.vn/a?x=1&amp;y=&quot;2&quot;\""),
            "{html}"
        );
        assert!(html.contains("&lt;b&gt;Báo&lt;/b&gt;"));
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt; tóm tắt"));
        assert!(html.contains("Chào &lt;img src=x&gt;"));
        assert!(html.contains("Dân &lt;i&gt;vận&lt;/i&gt;"));
        for bad in [
            "<script",
            "<img",
            "<b>",
            "<i>",
            "javascript:",
            "data:",
            "Bcc: evil@example.com\n",
        ] {
            assert!(!html.contains(bad), "{bad} in {html}");
        }

        let text = &composed.text;
        assert!(text.contains(&format!("* {flat}\n")), "{text}");
        assert!(text.contains("<b>Báo</b> · 27/11/2026 10:00"));
        assert!(text.contains("  <img src=x onerror=alert(1)> tóm tắt\n"));
        assert!(
            text.contains("* Liên kết lạ\n  Nhân Dân · 27/11/2026 09:00\n\n"),
            "{text}"
        );
        assert!(!text.contains("javascript:") && !text.contains("data:"));
        assert!(!text.contains('\r'));
    }

    #[test]
    fn vietnamese_text_stays_nfc_and_intact() {
        // NFC as ingest stores it, with letters from every Vietnamese tone and vowel.
        let title = "Đồng chí Nguyễn Thị Ửng dự hội nghị về quỹ, thuỷ lợi và hòa giải ở Quảng Ngãi";
        let summary = "Ưu tiên phát triển kinh tế số, đẩy mạnh công tác dân vận khéo";
        assert!(is_nfc(title) && is_nfc(summary));
        let mut a = article(1, title, "2026-11-27T10:00:00+07:00", &[DAN_VAN, XDD]);
        a.summary_html = Some(format!("<p>{summary}</p>"));
        a.sources = vec!["Báo Quảng Ngãi".to_owned()];
        let mut t = topic(DAN_VAN, "Dân vận");
        t.unsubscribe_url = Some("https://bantin.example/huy/dan-van".to_owned());
        let mut digest = input(vec![t, topic(XDD, "Xây dựng Đảng")], vec![a]);
        digest.unsubscribe_all_url = Some("https://bantin.example/huy".to_owned());
        let composed = compose_embedded(&digest);
        for body in [&composed.subject, &composed.text, &composed.html] {
            assert!(is_nfc(body), "not NFC: {body}");
        }
        // The text body wraps long lines: compare it with its line breaks undone.
        for body in [&one_line(&composed.text), &composed.html] {
            for expected in [
                title,
                summary,
                "Báo Quảng Ngãi",
                "Chào Nguyễn Văn An",
                "Cũng thuộc: Xây dựng Đảng",
                "Hủy đăng ký",
                "múi giờ",
            ] {
                assert!(body.contains(expected), "{expected} missing: {body}");
            }
        }
    }

    #[test]
    fn unsubscribe_links_only_when_given() {
        let topics = || vec![topic(DAN_VAN, "Dân vận"), topic(XDD, "Xây dựng Đảng")];
        let articles = vec![article(1, "Bài", "2026-11-27T10:00:00+07:00", &[DAN_VAN])];

        let without = compose_embedded(&input(topics(), articles.clone()));
        for body in [&without.text, &without.html] {
            assert!(!body.contains("Hủy đăng ký"), "{body}");
            assert!(body.contains("đã đăng ký nhận tin về"));
        }

        let mut digest = input(topics(), articles);
        digest.topics[0].unsubscribe_url =
            Some("https://bantin.example/huy?t=dan-van&k=1".to_owned());
        digest.unsubscribe_all_url = Some("https://bantin.example/huy?k=1".to_owned());
        let with = compose_embedded(&digest);
        assert!(
            with.text.contains(
                "Hủy đăng ký chủ đề Dân vận:\nhttps://bantin.example/huy?t=dan-van&k=1\n"
            ),
            "{}",
            with.text
        );
        assert!(with
            .text
            .contains("Hủy đăng ký tất cả:\nhttps://bantin.example/huy?k=1\n"));
        assert!(!with.text.contains("Hủy đăng ký chủ đề Xây dựng Đảng"));
        assert!(with.html.contains("<a href=\"https://bantin.example/huy?t=dan-van&amp;k=1\" style=\"color:#666666;\">Dân vận</a>"), "{}", with.html);
        assert!(with.html.contains("<a href=\"https://bantin.example/huy?k=1\" style=\"color:#666666;\">Hủy đăng ký tất cả bản tin</a>"));
        assert!(!with.html.contains(">Xây dựng Đảng</a>"));
    }

    #[test]
    fn load_reports_broken_templates_with_file_and_line() {
        let cases = [
            // (file, content, expected in the error)
            (
                HTML_TEMPLATE,
                "<p>\n{% if total %}\n<b>{{ total }}</b>\n",
                ":3: syntax error: unexpected end of input",
            ),
            (
                TEXT_TEMPLATE,
                "ok\n{{ total | no_such_filter }}\n",
                ":2: unknown filter",
            ),
            (
                TEXT_TEMPLATE,
                "{{ subject }}\n\n{{ subscribr.name }}\n",
                ":3: undefined value",
            ),
        ];
        for (file, content, expected) in cases {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join(file), content).unwrap();
            let err = Templates::load(dir.path()).unwrap_err().to_string();
            let path = dir.path().join(file).display().to_string();
            assert!(err.starts_with(&format!("{path}:")), "{err}");
            assert!(err.contains(expected), "{err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn load_falls_back_to_the_built_in_templates() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(TEXT_TEMPLATE),
            "{{ total }} bài: {{ topic_list }}\n",
        )
        .unwrap();
        let templates = Templates::load(dir.path()).unwrap();
        let digest = input(
            vec![topic(DAN_VAN, "Dân vận")],
            vec![article(1, "Bài", "2026-11-27T10:00:00+07:00", &[DAN_VAN])],
        );
        let mine = compose(&digest, &templates).unwrap();
        let builtin = compose_embedded(&digest);
        assert_eq!(mine.text, "1 bài: Dân vận\n");
        assert_eq!(mine.html, builtin.html);
    }

    #[test]
    fn a_template_failing_on_real_data_falls_back_to_the_built_in_one() {
        // Passes the sample render in `load` (its total is 3), fails on this digest.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(TEXT_TEMPLATE),
            "{% if total > 3 %}{{ nope }}{% endif %}{{ total }}\n",
        )
        .unwrap();
        let templates = Templates::load(dir.path()).unwrap();
        let few = input(
            vec![topic(DAN_VAN, "Dân vận")],
            vec![article(1, "Bài", "2026-11-27T10:00:00+07:00", &[DAN_VAN])],
        );
        assert_eq!(compose(&few, &templates).unwrap().text, "1\n");
        let many = input(
            vec![topic(DAN_VAN, "Dân vận")],
            (1..=4)
                .map(|i| article(i, "Bài", "2026-11-27T10:00:00+07:00", &[DAN_VAN]))
                .collect(),
        );
        assert_eq!(compose(&many, &templates), Some(compose_embedded(&many)));
    }

    #[test]
    fn shipped_templates_parse_and_render() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/templates");
        for file in [TEXT_TEMPLATE, HTML_TEMPLATE] {
            assert!(dir.join(file).is_file(), "{file} is shipped");
        }
        let shipped = Templates::load(&dir).unwrap();
        let sample = sample_input();
        let composed = compose(&sample, &shipped).unwrap();
        assert_eq!(
            Some(&composed),
            compose(&sample, &Templates::embedded()).as_ref()
        );
        assert_eq!(composed.subject, "Bản tin Chủ đề A, Chủ đề B – 28/11/2026");
        assert!(composed.text.ends_with('\n') && composed.html.ends_with("</html>\n"));
        assert!(!composed.text.contains("\n\n\n\n"), "{}", composed.text);
        // Mail-client rules the HTML keeps: inline styles only, nothing fetched but the
        // images `[mail] images` asks for.
        let without_images = compose_embedded(&without_images(&sample));
        for forbidden in [
            "<style", "class=", "<img", "<script", "<link", "url(", "@import",
        ] {
            assert!(!without_images.html.contains(forbidden), "{forbidden}");
            if forbidden != "<img" {
                assert!(!composed.html.contains(forbidden), "{forbidden}");
            }
        }
        assert!(composed.html.contains("max-width:640px"));
    }

    /// `input` as composed with `[mail] images` off: no article has an image to show.
    fn without_images(input: &DigestInput) -> DigestInput {
        DigestInput {
            articles: input
                .articles
                .iter()
                .map(|a| DigestArticle {
                    image: None,
                    listed_summary: OnceLock::new(),
                    ..a.clone()
                })
                .collect(),
            ..input.clone()
        }
    }

    /// With `[mail] images`, each listed article with an image shows it before its title, at a
    /// fixed size given as attributes, with the title as its alt text, so that a client that
    /// blocks images keeps the layout and says what is missing; the text digest is the same
    /// with or without them, and so is the HTML once the images are taken out.
    #[test]
    fn images_beside_titles_read_well_when_blocked() {
        let base = url::Url::parse("https://nhandan.vn/").unwrap();
        let image = |path: &str, w: Option<u32>, h: Option<u32>| {
            Media::at(path, &base).map(|m| m.image().dimensions(w, h))
        };
        let mut a = article(
            1,
            "Hội nghị <dân vận> \"khéo\"",
            "2026-11-27T10:00:00+07:00",
            &[DAN_VAN],
        );
        a.image = image("/anh/1.jpg?w=1200&h=0", Some(1200), Some(900));
        let mut b = article(
            2,
            "Bài không rõ kích thước ảnh",
            "2026-11-27T09:00:00+07:00",
            &[DAN_VAN],
        );
        b.image = image("/anh/2.jpg", None, None);
        let mut c = article(3, "Ảnh dọc", "2026-11-27T08:00:00+07:00", &[DAN_VAN]);
        c.image = image("/anh/3.jpg", Some(100), Some(1000));
        let d = article(4, "Bài không ảnh", "2026-11-27T07:00:00+07:00", &[DAN_VAN]);
        let with = input(vec![topic(DAN_VAN, "Dân vận")], vec![a, b, c, d]);
        let shown = compose_embedded(&with);
        let imgs: Vec<&str> = shown
            .html
            .match_indices("<img ")
            .map(|(at, _)| {
                let tag = &shown.html[at..];
                &tag[..tag.find('>').unwrap() + 1]
            })
            .collect();
        assert_eq!(imgs.len(), 3, "{}", shown.html);
        let attrs = |tag: &str| -> Vec<String> {
            ["src", "alt", "width", "height"]
                .iter()
                .map(|name| {
                    let from = tag.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
                    let rest = &tag[from..];
                    rest[..rest.find('"').unwrap()].to_string()
                })
                .collect()
        };
        assert_eq!(
            attrs(imgs[0]),
            [
                "https://nhandan.vn/anh/1.jpg?w=1200&amp;h=0",
                "Hội nghị &lt;dân vận&gt; &quot;khéo&quot;",
                "120",
                "90"
            ]
        );
        // Proportions unknown: 3:2; a tall image is cut to the most a row may take.
        assert_eq!(&attrs(imgs[1])[2..], ["120", "80"]);
        assert_eq!(&attrs(imgs[2])[2..], ["120", "120"]);
        // Each image comes before its title, which stays a link of its own.
        let first = shown.html.find("<img ").unwrap();
        let title = shown.html.find("Hội nghị &lt;dân vận&gt;").unwrap();
        assert!(first < title);

        let plain = compose_embedded(&without_images(&with));
        assert_eq!(plain.text, shown.text);
        assert!(!plain.html.contains("<img"), "{}", plain.html);
        let strip = |html: &str| -> String {
            html.lines()
                .filter(|l| !l.starts_with("<img ") && !l.starts_with("<div style=\"clear:both"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(strip(&shown.html), strip(&plain.html));
    }

    #[test]
    fn templates_are_shareable() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Templates>();
    }

    #[test]
    fn small_helpers() {
        assert_eq!(
            one_line("  a\r\nb\u{2028}c\u{85}d\te\u{0}f  "),
            "a b c d e f"
        );
        assert_eq!(vietnamese_list(&[]), "");
        assert_eq!(vietnamese_list(&["A"]), "A");
        assert_eq!(vietnamese_list(&["A", "B"]), "A và B");
        assert_eq!(vietnamese_list(&["A", "B", "C"]), "A, B và C");
        for (url, ok) in [
            ("https://nhandan.vn/a", true),
            ("HTTP://x.vn", true),
            (" https://x.vn/a ", true),
            ("javascript:alert(1)", false),
            ("https:x", false),
            ("https://", false),
            ("/relative", false),
            ("https://x.vn/a b", false),
            ("https://x.vn/\r\nBcc: y", false),
        ] {
            assert_eq!(web_link(Some(url)).is_some(), ok, "{url}");
        }
        assert_eq!(wordwrap("một hai ba bốn", Some(7)), "một hai\nba bốn");
        assert_eq!(
            wordwrap("a https://very.long/url b", Some(5)),
            "a\nhttps://very.long/url\nb"
        );
        assert_eq!(wordwrap("a\nb", None), "a\nb");
    }
}
