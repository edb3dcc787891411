//! `[[sources]]`: the sites polled, and for HTML sources how their list pages and article
//! pages are read.
//!
//! Keys of a source: `id` (a slug, unique), `name`, `url`, `tags`, `schedule`, `timezone`,
//! `date_order`, `user_agent`, `prime_url`, `kind` (`"feed"`, `"html"` or `"sitemap"`),
//! `full_text`, and two tables: `[sources.list]` (`item`, `link`, `link_attr`, `title`, `date`,
//! `summary`; required by and only read for `kind = "html"`) and `[sources.article]` (`content`,
//! `date`, `author`, `remove`; only read when article pages are fetched). Selectors are compiled here, so a bad
//! one is a config problem at its position, never a poll failure.

use std::ops::Range;
use std::str::FromStr;

use chrono_tz::Tz;
use toml::Spanned;
use url::Url;

use super::reader::{is_slug, Reporter, Section};
use super::Schedule;
use crate::date::DateOrder;
pub use crate::ingest::scrape::{Css, CssError};

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
    /// What the URL serves, with the rules for reading it and its article pages.
    pub kind: SourceKind,
}

impl Source {
    /// Whether each new article's own page is fetched (see [`SourceKind::pages`]).
    pub fn fetches_pages(&self) -> bool {
        self.kind.pages().is_some()
    }
}

/// What a source's URL serves, with the rules that go with it. Only meaningful combinations can
/// be written: an html source always has its list rules, and article rules exist only where
/// article pages are fetched.
#[derive(Debug, Clone)]
pub enum SourceKind {
    /// RSS, Atom or JSON Feed (`kind = "feed"`, the default). `pages`: how each new article's
    /// page is read for its full text, when it is (`full_text = true`, with `[sources.article]`
    /// or without: the readability extractor).
    Feed { pages: Option<ArticleRules> },
    /// An HTML list page read with CSS selectors (`kind = "html"`, `[sources.list]`). `pages`:
    /// `[sources.article]`, or the readability extractor when only `full_text = true` is set.
    Html {
        list: ListRules,
        pages: Option<ArticleRules>,
    },
    /// A sitemap (`kind = "sitemap"`): a news sitemap or a plain one, or a sitemap index whose
    /// newest child sitemaps are read. `pages` as for feeds: sitemaps without the News extension
    /// carry no titles, and with `full_text` the article page gives one.
    Sitemap { pages: Option<ArticleRules> },
}

impl SourceKind {
    /// The name of the kind as written in the config (`kind = "…"`).
    pub fn name(&self) -> &'static str {
        match self {
            SourceKind::Feed { .. } => "feed",
            SourceKind::Html { .. } => "html",
            SourceKind::Sitemap { .. } => "sitemap",
        }
    }

    /// How article pages are read; None when they are not fetched.
    pub fn pages(&self) -> Option<&ArticleRules> {
        match self {
            SourceKind::Feed { pages }
            | SourceKind::Html { pages, .. }
            | SourceKind::Sitemap { pages } => pages.as_ref(),
        }
    }

    /// The list rules of an html source.
    pub fn list(&self) -> Option<&ListRules> {
        match self {
            SourceKind::Html { list, .. } => Some(list),
            SourceKind::Feed { .. } | SourceKind::Sitemap { .. } => None,
        }
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

/// `kind = "…"` as written, before its rules are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Feed,
    Html,
    Sitemap,
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
const LIST_KEYS: &[&str] = &["item", "link", "link_attr", "title", "date", "summary"];
const ARTICLE_KEYS: &[&str] = &["content", "date", "author", "remove"];

/// A CSS selector at `key`; an invalid one is reported at its value.
fn css(r: &mut Reporter, t: &Section, key: &str) -> Option<Css> {
    t.parsed(r, key, Css::parse)
}

pub(super) fn read_list_rules(r: &mut Reporter, t: &Section) -> Option<ListRules> {
    let item = css(r, t, "item");
    let link = css(r, t, "link");
    let link_attr = t
        .string(r, "link_attr")
        .map(Spanned::into_inner)
        .unwrap_or_else(|| "href".into());
    let title = css(r, t, "title");
    let date = css(r, t, "date");
    let summary = css(r, t, "summary");
    t.finish(r, LIST_KEYS);
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

pub(super) fn read_article_rules(r: &mut Reporter, t: &Section) -> ArticleRules {
    let rules = ArticleRules {
        content: css(r, t, "content"),
        date: css(r, t, "date"),
        author: css(r, t, "author"),
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
    t.finish(r, ARTICLE_KEYS);
    rules
}

pub(super) fn read_sources(r: &mut Reporter, root: &Section) -> Vec<Source> {
    let mut out: Vec<Source> = Vec::new();
    let mut seen: Vec<(String, Range<usize>)> = Vec::new();
    for t in root.array_of_tables(r, "sources") {
        let id = t.string(r, "id");
        let name = t.string(r, "name");
        let url = t.url(r, "url");
        let tags = t.string_array(r, "tags").unwrap_or_default();
        let schedule = t.parsed(r, "schedule", Schedule::parse);
        let timezone = t.parsed(r, "timezone", |s| {
            Tz::from_str(s).map_err(|_| {
                format!("unknown time zone {s:?} (an IANA name such as \"Asia/Ho_Chi_Minh\")")
            })
        });
        let date_order = t.parsed(r, "date_order", DateOrder::from_str);
        let user_agent = t.string(r, "user_agent").map(Spanned::into_inner);
        let prime_url = t.url(r, "prime_url");
        let written = t
            .parsed(r, "kind", |s| match s {
                "feed" => Ok(Kind::Feed),
                "html" => Ok(Kind::Html),
                "sitemap" => Ok(Kind::Sitemap),
                _ => Err(format!(
                    "unknown source kind {s:?}: expected \"feed\", \"html\" or \"sitemap\""
                )),
            })
            .unwrap_or(Kind::Feed);
        let html = written == Kind::Html;
        let list = t.table(r, "list").and_then(|l| read_list_rules(r, &l));
        let article = t.table(r, "article").map(|a| read_article_rules(r, &a));
        let full_text = t.boolean(r, "full_text").unwrap_or(false);
        t.finish(r, SOURCE_KEYS);
        match html {
            true if list.is_none() && !t.has("list") => r.at(
                t.key_span("kind"),
                "an html source needs a `[sources.list]` table (item and link selectors)".into(),
            ),
            false if t.has("list") => r.at(
                t.key_span("list"),
                "`[sources.list]` is only read for `kind = \"html\"` sources".into(),
            ),
            false if t.has("article") && !full_text => r.at(
                t.key_span("article"),
                "`[sources.article]` is only read when the article pages are fetched: set `full_text = true` (or `kind = \"html\"`)".into(),
            ),
            _ => {}
        }
        // An html source's `[sources.article]` alone means its pages are read; `full_text`
        // alone reads them with the readability extractor.
        let pages = match (article, full_text || html) {
            (Some(rules), true) => Some(rules),
            (None, true) if full_text => Some(ArticleRules::default()),
            _ => None,
        };
        let kind = match (written, list) {
            (Kind::Html, Some(list)) => SourceKind::Html { list, pages },
            (Kind::Sitemap, _) => SourceKind::Sitemap { pages },
            // An html source without usable list rules has had its problem reported, so the
            // config is refused; it is kept (as a feed) only so that topics naming it are not
            // also told the source is unknown.
            (Kind::Html, None) | (Kind::Feed, _) => SourceKind::Feed { pages },
        };

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
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::*;
    use crate::config::parse;
    use crate::config::tests::problems;

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
        assert_eq!(a.kind.name(), "html");
        assert_eq!(a.kind.list().unwrap().link_attr, "href");
        assert!(
            a.fetches_pages(),
            "an article table means its pages are read"
        );
    }

    #[test]
    fn sitemap_sources_read_pages_as_feeds_do() {
        let got = problems(concat!(
            "[[sources]]\nid = \"a\"\nurl = \"https://a.vn/sitemap.xml\"\nkind = \"sitemap\"\n", // 1-4
            "[sources.list]\nitem = \"li\"\nlink = \"a\"\n", // 5-7
            "[[sources]]\nid = \"b\"\nurl = \"https://b.vn/sitemap.xml\"\nkind = \"sitemap\"\n", // 8-11
            "[sources.article]\ncontent = \".body\"\n", // 12-13
            "[[sources]]\nid = \"c\"\nurl = \"https://c.vn/sitemap.xml\"\nkind = \"site-map\"\n", // 14-17
        ));
        assert_eq!(
            got,
            [
                "b.toml:5:10: `[sources.list]` is only read for `kind = \"html\"` sources",
                "b.toml:12:10: `[sources.article]` is only read when the article pages are fetched: set `full_text = true` (or `kind = \"html\"`)",
                "b.toml:17:8: `sources[2].kind`: unknown source kind \"site-map\": expected \"feed\", \"html\" or \"sitemap\"",
            ],
        );
        let ok = parse(
            Path::new("b.toml"),
            concat!(
                "[[sources]]\nid = \"a\"\nurl = \"https://a.vn/sitemap.xml\"\nkind = \"sitemap\"\n",
                "[[sources]]\nid = \"b\"\nurl = \"https://b.vn/sitemap.xml\"\nkind = \"sitemap\"\nfull_text = true\n",
                "[[sources]]\nid = \"c\"\nurl = \"https://c.vn/sitemap.xml\"\nkind = \"sitemap\"\nfull_text = true\n",
                "[sources.article]\ncontent = \".body\"\n",
            ),
        )
        .unwrap();
        let [a, b, c] = &ok.sources[..] else {
            panic!("{:?}", ok.sources)
        };
        assert_eq!(a.kind.name(), "sitemap");
        assert!(a.kind.list().is_none() && !a.fetches_pages());
        assert!(b.fetches_pages() && b.kind.pages().unwrap().content.is_none());
        assert_eq!(
            c.kind.pages().unwrap().content.as_ref().unwrap().text(),
            ".body"
        );
    }
}
