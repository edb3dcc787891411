//! A window's digest rendered once for all its subscribers: the subscribers of one window (same
//! topics, articles, time zone and length) get the same digest but for a few values of their
//! own (name, address, unsubscribe links), so each template is rendered once into literal
//! pieces with slots for those values, and each subscriber's bodies are the pieces with their
//! values filled in.
//!
//! Templates are the admin's, so a frame is only used where it is the very text a full render
//! gives. Each template is rendered on two sets of sentinel values for the subscriber's own
//! values: one short, one longer than a line (a value wrapped into a paragraph, cut or counted
//! changes the text around it), both with upper and lower case letters (a value changed by a
//! filter is no longer found) and `& " ' < \` (found escaped where the template escapes it, not
//! found where it escapes it otherwise). The template's pieces are kept only when the two
//! renders are the same outside the sentinels, and when the frame filled with the first
//! subscriber's values gives exactly their full render; otherwise that template is rendered in
//! full for every subscriber, from a copy of the window's digest with their values (the entries
//! are shared, not copied). (Both shipped templates are framed: the plain-text one keeps the
//! subscriber's address on its own line, out of the paragraph it wraps.) A template that tests a
//! value of the subscriber other than for being empty (`{% if "x" in subscriber.email %}`), or
//! changes a part of it the sentinels lack (`replace("@", " at ")`), is beyond what two renders
//! can tell, unless the first subscriber's full render shows it; subscribers without a name or a
//! link take the full render.
//!
//! A subscriber's digest can also be had in parts ([`Frame::split`]): the window's literals
//! ([`Literals`], the same for every subscriber of the window) and, per body, either the
//! subscriber's values to put between them or the whole text ([`Body`]), so that the outbox keeps
//! what the subscribers share once.
//!
//! Invariant, for templates within those limits: [`Frame::compose`] returns what
//! [`super::compose`] returns for the same input, byte for byte, or makes it with
//! [`super::compose`]; and [`Frame::split`]'s bodies filled with the frame's literals
//! ([`Body::fill`]) are [`Frame::compose`]'s.

use std::sync::Arc;

use super::{
    compose, one_line, web_link, Composed, Digest, DigestArticle, DigestInput, DigestTopic,
    Templates, HTML_TEMPLATE, TEXT_TEMPLATE,
};

/// A value of the subscriber's own in a rendered template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Name,
    Email,
    /// The unsubscribe link of the input's topic at this index.
    TopicUnsubscribe(usize),
    UnsubscribeAll,
}

/// One template's output: `literals[0]`, slot 0's value, `literals[1]`, … (one more literal
/// than slots).
#[derive(Debug)]
struct Pieces {
    literals: Vec<String>,
    slots: Vec<Slot>,
}

/// The literals of a window's framed bodies, shared by all its subscribers (None: that body is
/// rendered in full for each).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Literals {
    pub text: Option<Vec<String>>,
    pub html: Option<Vec<String>>,
}

/// One body of a subscriber's digest, apart from what the window's subscribers share.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Body {
    /// The whole text.
    Full(String),
    /// The subscriber's values, as the body shows them, to put between the window's literals.
    Framed(Vec<String>),
}

impl Body {
    /// The body's text, its values put between `literals` (which must be the frame's that made
    /// it: one more literal than values; None otherwise).
    pub fn fill(&self, literals: Option<&[String]>) -> Option<String> {
        match self {
            Body::Full(text) => Some(text.clone()),
            Body::Framed(values) => {
                let literals = literals?;
                if literals.len() != values.len() + 1 {
                    return None;
                }
                let len = literals.iter().map(String::len).sum::<usize>()
                    + values.iter().map(String::len).sum::<usize>();
                let mut out = String::with_capacity(len);
                for (i, literal) in literals.iter().enumerate() {
                    out.push_str(literal);
                    if let Some(value) = values.get(i) {
                        out.push_str(value);
                    }
                }
                Some(out)
            }
        }
    }
}

/// A subscriber's digest in parts ([`Frame::split`]): the bodies filled with `literals` make
/// [`Frame::compose`]'s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub subject: String,
    pub articles: usize,
    pub text: Body,
    pub html: Body,
    /// The window's literals, when a body is [`Body::Framed`].
    pub literals: Option<Arc<Literals>>,
}

impl Split {
    /// The whole digest.
    pub fn fill(&self) -> Option<Composed> {
        let literals = self.literals.as_deref();
        Some(Composed {
            subject: self.subject.clone(),
            text: self.text.fill(literals.and_then(|l| l.text.as_deref()))?,
            html: self.html.fill(literals.and_then(|l| l.html.as_deref()))?,
            articles: self.articles,
        })
    }

    fn full(c: Composed) -> Split {
        Split {
            subject: c.subject,
            articles: c.articles,
            text: Body::Full(c.text),
            html: Body::Full(c.html),
            literals: None,
        }
    }
}

/// A window's digest rendered once; see the module docs.
#[derive(Debug)]
pub struct Frame {
    /// What the window is: a subscriber's input matches it in everything but their own values.
    articles: Arc<[DigestArticle]>,
    shape: Shape,
    /// None: not framed (no digest, or no values to check it with): composed in full.
    framed: Option<Framed>,
}

#[derive(Debug)]
struct Framed {
    subject: String,
    articles: usize,
    /// The digest with sentinels, for the templates rendered in full: each subscriber's is a
    /// copy with their values ([`Digest::personalize`]).
    digest: Digest,
    /// Per body, the slots between the literals; None: rendered in full per subscriber.
    text: Option<Vec<Slot>>,
    html: Option<Vec<Slot>>,
    literals: Arc<Literals>,
}

/// Everything of a [`DigestInput`] but the articles and the subscriber's own values.
#[derive(Debug, PartialEq, Eq)]
struct Shape {
    /// Per topic: id, name, feed link, whether it has an unsubscribe link.
    topics: Vec<(String, String, Option<String>, bool)>,
    window_start: chrono::DateTime<chrono::Utc>,
    window_end: chrono::DateTime<chrono::Utc>,
    timezone: chrono_tz::Tz,
    max_items: usize,
    unsubscribe_all: bool,
}

impl Shape {
    fn of(input: &DigestInput) -> Shape {
        Shape {
            topics: input
                .topics
                .iter()
                .map(|t| {
                    (
                        t.id.clone(),
                        t.name.clone(),
                        t.feed_url.clone(),
                        t.unsubscribe_url.is_some(),
                    )
                })
                .collect(),
            window_start: input.window_start,
            window_end: input.window_end,
            timezone: input.timezone,
            max_items: input.max_items,
            unsubscribe_all: input.unsubscribe_all_url.is_some(),
        }
    }
}

/// Sentinel set `set` (0: short, 1: longer than a wrapped line) for `slot`: no whitespace and
/// no control character (the digest keeps values one line, links without spaces), a mark no
/// digest holds by chance (private-use characters), both cases, and what escapers change
/// (`& " ' < \`: HTML, JSON, URLs).
fn sentinel(slot: Slot, set: usize) -> String {
    let id = match slot {
        Slot::Name => "N".to_owned(),
        Slot::Email => "E".to_owned(),
        Slot::TopicUnsubscribe(i) => format!("T{i}"),
        Slot::UnsubscribeAll => "A".to_owned(),
    };
    let padding = if set == 0 { "" } else { &"Xx".repeat(50) };
    let mark = format!("\u{E000}Qq&\"'<\\{id}.{set}{padding}\u{E001}");
    match slot {
        Slot::TopicUnsubscribe(_) | Slot::UnsubscribeAll => format!("https://s.invalid/{mark}"),
        Slot::Name | Slot::Email => mark,
    }
}

/// The values of a subscriber, as the digest shows them (see [`Digest::build`]); None when one
/// is missing (rendered in full: a template may test it).
fn values(input: &DigestInput) -> Option<Values> {
    let name = one_line(&input.subscriber_name);
    let email = one_line(&input.email);
    if name.is_empty() || email.is_empty() {
        return None;
    }
    Some(Values {
        name,
        email,
        topics: input
            .topics
            .iter()
            .map(|t| match &t.unsubscribe_url {
                Some(url) => web_link(Some(url)).map(Some),
                None => Some(None),
            })
            .collect::<Option<_>>()?,
        all: match &input.unsubscribe_all_url {
            Some(url) => Some(web_link(Some(url))?),
            None => None,
        },
    })
}

struct Values {
    name: String,
    email: String,
    topics: Vec<Option<String>>,
    all: Option<String>,
}

impl Values {
    fn get(&self, slot: Slot) -> &str {
        match slot {
            Slot::Name => &self.name,
            Slot::Email => &self.email,
            Slot::TopicUnsubscribe(i) => self
                .topics
                .get(i)
                .and_then(Option::as_deref)
                .unwrap_or_default(),
            Slot::UnsubscribeAll => self.all.as_deref().unwrap_or_default(),
        }
    }

    /// Every slot this subscriber has a value for.
    fn slots(&self) -> Vec<Slot> {
        let mut slots = vec![Slot::Name, Slot::Email];
        slots.extend(
            self.topics
                .iter()
                .enumerate()
                .filter(|(_, u)| u.is_some())
                .map(|(i, _)| Slot::TopicUnsubscribe(i)),
        );
        if self.all.is_some() {
            slots.push(Slot::UnsubscribeAll);
        }
        slots
    }
}

/// `input` with the sentinels of `set` for the subscriber's values.
fn with_sentinels(input: &DigestInput, set: usize) -> DigestInput {
    DigestInput {
        subscriber_name: sentinel(Slot::Name, set),
        email: sentinel(Slot::Email, set),
        topics: input
            .topics
            .iter()
            .enumerate()
            .map(|(i, t)| DigestTopic {
                unsubscribe_url: t
                    .unsubscribe_url
                    .as_ref()
                    .map(|_| sentinel(Slot::TopicUnsubscribe(i), set)),
                ..t.clone()
            })
            .collect(),
        unsubscribe_all_url: input
            .unsubscribe_all_url
            .as_ref()
            .map(|_| sentinel(Slot::UnsubscribeAll, set)),
        ..input.clone()
    }
}

/// How a value appears in the template's output: escaped in the HTML one.
fn shown(template: &str, value: &str) -> String {
    if template == HTML_TEMPLATE {
        html_escape::encode_quoted_attribute(value).into_owned()
    } else {
        value.to_owned()
    }
}

/// `output` cut at the sentinels of `set` (as `template` shows them).
fn cut(output: &str, template: &str, set: usize, slots: &[Slot]) -> Pieces {
    let marks: Vec<(Slot, String)> = slots
        .iter()
        .map(|&s| (s, shown(template, &sentinel(s, set))))
        .collect();
    let mut literals = Vec::new();
    let mut found = Vec::new();
    let mut rest = output;
    loop {
        let next = marks
            .iter()
            .filter_map(|(slot, mark)| rest.find(mark.as_str()).map(|at| (at, *slot, mark)))
            .min_by_key(|(at, _, _)| *at);
        let Some((at, slot, mark)) = next else {
            break;
        };
        let (Some(before), Some(after)) = (rest.get(..at), rest.get(at + mark.len()..)) else {
            break;
        };
        literals.push(before.to_owned());
        found.push(slot);
        rest = after;
    }
    literals.push(rest.to_owned());
    Pieces {
        literals,
        slots: found,
    }
}

/// The values of `slots` as `template` shows them.
fn shown_values(template: &str, slots: &[Slot], values: &Values) -> Vec<String> {
    slots
        .iter()
        .map(|&s| shown(template, values.get(s)))
        .collect()
}

impl Pieces {
    fn fill(&self, template: &str, values: &Values) -> Option<String> {
        Body::Framed(shown_values(template, &self.slots, values)).fill(Some(&self.literals))
    }
}

impl Frame {
    /// Renders the window of `input` once (see the module docs); `input`'s own values check the
    /// frame against a full render.
    pub fn render(input: &DigestInput, templates: &Templates) -> Frame {
        let articles = Arc::clone(&input.articles);
        let shape = Shape::of(input);
        let framed = compose(input, templates).and_then(|full| {
            let values = values(input)?;
            let [short, long] = [0, 1].map(|set| Digest::build(&with_sentinels(input, set)));
            let (short, long) = (short?, long?);
            let slots = values.slots();
            let piece = |template: &str, expected: &str| {
                let a = templates.render(template, &short).ok()?;
                let b = templates.render(template, &long).ok()?;
                let (a, b) = (cut(&a, template, 0, &slots), cut(&b, template, 1, &slots));
                let same = a.literals == b.literals && a.slots == b.slots;
                (same && a.fill(template, &values).as_deref() == Some(expected)).then_some(a)
            };
            let text = piece(TEXT_TEMPLATE, &full.text);
            let html = piece(HTML_TEMPLATE, &full.html);
            let (text_slots, text_literals) = text.map(|p| (p.slots, p.literals)).unzip();
            let (html_slots, html_literals) = html.map(|p| (p.slots, p.literals)).unzip();
            Some(Framed {
                subject: full.subject,
                articles: full.articles,
                digest: short,
                text: text_slots,
                html: html_slots,
                literals: Arc::new(Literals {
                    text: text_literals,
                    html: html_literals,
                }),
            })
        });
        Frame {
            articles,
            shape,
            framed,
        }
    }

    /// The literals every subscriber of the window shares (None: nothing is framed).
    pub fn literals(&self) -> Option<&Arc<Literals>> {
        self.framed
            .as_ref()
            .filter(|f| f.text.is_some() || f.html.is_some())
            .map(|f| &f.literals)
    }

    /// Whether `input` is of this frame's window: the same articles (the very list), topics,
    /// window, time zone and length.
    pub fn is_for(&self, input: &DigestInput) -> bool {
        Arc::ptr_eq(&self.articles, &input.articles) && Shape::of(input) == self.shape
    }

    /// `input`'s digest, exactly as [`super::compose`] makes it: from the frame where it can
    /// be, else by a full render. `input` is any subscriber of the frame's window (of another
    /// window, it is composed in full).
    pub fn compose(&self, input: &DigestInput, templates: &Templates) -> Option<Composed> {
        self.split(input, templates)?.fill()
    }

    /// `input`'s digest in parts: its own values where a body is framed, the whole text where
    /// it is rendered in full (see [`Frame::compose`]).
    pub fn split(&self, input: &DigestInput, templates: &Templates) -> Option<Split> {
        let full = || compose(input, templates).map(Split::full);
        if !self.is_for(input) {
            return full();
        }
        let (Some(framed), Some(values)) = (&self.framed, values(input)) else {
            return full();
        };
        if framed.text.is_none() && framed.html.is_none() {
            return full();
        }
        // A template rendered in full needs the subscriber's digest; it fails as it would
        // without the frame (then `compose` falls back to the built-in templates).
        let mut digest = None;
        let mut body = |slots: &Option<Vec<Slot>>, template: &str| match slots {
            Some(slots) => Some(Body::Framed(shown_values(template, slots, &values))),
            None => {
                let d = digest.get_or_insert_with(|| {
                    let mut d = framed.digest.clone();
                    d.personalize(input);
                    d
                });
                templates.render(template, d).ok().map(Body::Full)
            }
        };
        match (
            body(&framed.text, TEXT_TEMPLATE),
            body(&framed.html, HTML_TEMPLATE),
        ) {
            (Some(text), Some(html)) => Some(Split {
                subject: framed.subject.clone(),
                articles: framed.articles,
                text,
                html,
                literals: Some(Arc::clone(&framed.literals)),
            }),
            _ => full(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::sample_input;

    /// The sample window, for a subscriber of `name` and `email`, with or without links.
    fn subscriber(base: &DigestInput, name: &str, email: &str, links: bool) -> DigestInput {
        let token = email.replace('@', "%40");
        DigestInput {
            subscriber_name: name.to_owned(),
            email: email.to_owned(),
            topics: base
                .topics
                .iter()
                .map(|t| DigestTopic {
                    unsubscribe_url: links
                        .then(|| format!("https://bantin.example.vn/huy?t={}&k={token}", t.id)),
                    ..t.clone()
                })
                .collect(),
            unsubscribe_all_url: links.then(|| format!("https://bantin.example.vn/huy?k={token}")),
            ..base.clone()
        }
    }

    fn subscribers(base: &DigestInput, links: bool) -> Vec<DigestInput> {
        [
            ("Nguyễn Thị Hoa", "hoa@example.vn"),
            ("A", "a@b.vn"),
            (
                "Trần <Văn> \"Bình\" & 'Út' có một cái tên rất dài, dài hơn một dòng của bản tin văn bản",
                "mot.dia.chi.rat.dai.de.xuong.dong.trong.doan.cuoi@don-vi-hanh-chinh.example.vn",
            ),
            ("  Lê\r\nVăn   An ", "an@example.vn"),
            ("", "khong-ten@example.vn"),
        ]
        .into_iter()
        .map(|(name, email)| subscriber(base, name, email, links))
        .collect()
    }

    #[test]
    fn framed_digests_are_full_renders_byte_for_byte() {
        let base = sample_input();
        for templates in [
            Templates::embedded(),
            Templates::load(
                &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/templates"),
            )
            .unwrap(),
        ] {
            for links in [true, false] {
                let all = subscribers(&base, links);
                let frame = Frame::render(&all[0], &templates);
                let framed = frame.framed.as_ref().expect("a framed digest");
                // Both shipped templates are framed (the text one keeps the address on its own
                // line, out of the wrapped paragraph).
                assert!(framed.text.as_ref().is_some_and(|p| p.len() >= 2));
                assert!(framed.html.as_ref().is_some_and(|p| p.len() >= 2));
                for input in &all {
                    assert!(frame.is_for(input));
                    assert_eq!(
                        frame.compose(input, &templates),
                        compose(input, &templates),
                        "{}",
                        input.subscriber_name
                    );
                }
            }
        }
    }

    #[test]
    fn a_template_changing_a_subscribers_value_is_rendered_in_full() {
        let base = sample_input();
        // Transformed, counted, unescaped, cut, wrapped: each differs from the value filled in.
        for (text, html, html_framed) in [
            ("{{ subscriber.name | upper }}\n", "<p>{{ subscriber.name }}</p>\n", true),
            ("{{ subscriber.email | length }}\n", "<p>{{ subscriber.email | safe }}</p>\n", false),
            ("{{ subscriber.name | lower }} {{ total }}\n", "<p>{{ unsubscribe_all_url[:20] }}</p>\n", false),
            ("{{ subscriber.name | replace(\"&\", \"và\") }}\n", "<p>{{ subscriber.email | replace(\"<\", \"\") }}</p>\n", false),
            ("{% filter wordwrap(30) %}Địa chỉ {{ subscriber.email }} đã đăng ký.{% endfilter %}\n", "<p>{{ subscriber.name | title }}</p>\n", false),
        ] {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join(TEXT_TEMPLATE), text).unwrap();
            std::fs::write(dir.path().join(HTML_TEMPLATE), html).unwrap();
            let templates = Templates::load(dir.path()).unwrap();
            let all = subscribers(&base, true);
            let frame = Frame::render(&all[0], &templates);
            let framed = frame.framed.as_ref().expect("a framed digest");
            assert!(framed.text.is_none(), "{text}");
            assert_eq!(framed.html.is_some(), html_framed, "{html}");
            for input in &all {
                assert_eq!(frame.compose(input, &templates), compose(input, &templates));
            }
        }
    }

    #[test]
    fn another_window_is_composed_in_full() {
        let base = sample_input();
        let templates = Templates::embedded();
        let frame = Frame::render(
            &subscriber(&base, "Hoa", "hoa@example.vn", true),
            &templates,
        );
        let mut other = subscriber(&base, "An", "an@example.vn", true);
        other.max_items = 5;
        assert!(!frame.is_for(&other));
        assert_eq!(
            frame.compose(&other, &templates),
            compose(&other, &templates)
        );
        let mut other = subscriber(&base, "An", "an@example.vn", true);
        other.articles = base.articles.iter().cloned().collect();
        assert!(!frame.is_for(&other));
        assert_eq!(
            frame.compose(&other, &templates),
            compose(&other, &templates)
        );
    }
}
