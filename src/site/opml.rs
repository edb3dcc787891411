//! OPML 2.0: the configured sources as a list any feed reader imports (`/sources.opml`,
//! `bantin opml export`), and the reader of such lists (`bantin opml import`). Pure.
//!
//! The reader takes what feed readers export: outlines at any depth, feeds marked by an
//! `xmlUrl`, folders as parent outlines. Only http(s) feeds are kept; a folder's title and the
//! `category` attribute become tags (slugs); a feed without a usable title is named after its
//! host. Anything else in the file is ignored, and the file is outside input: the reader never
//! panics on it (fuzz target `opml`).

use html_escape::encode_double_quoted_attribute;
use url::Url;

use crate::config::Config;
use crate::publish::xml_text;

/// One feed to list.
#[derive(Debug, Clone, Copy)]
pub struct Feed<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub url: &'a str,
    pub tags: &'a [String],
}

/// The configured sources as OPML 2.0.
pub fn sources(config: &Config) -> String {
    write(config.sources.iter().map(|s| Feed {
        id: &s.id,
        name: &s.name,
        url: s.url.as_str(),
        tags: &s.tags,
    }))
}

/// `feeds` as OPML 2.0, one `rss` outline each, in the order given. Characters XML cannot
/// carry are left out ([`xml_text`]): a title read from another OPML file may hold one (an
/// entity such as `&#xFFFE;` decoded by [`crate::text::clean`]), and one would make the whole
/// list unreadable.
pub fn write<'a>(feeds: impl IntoIterator<Item = Feed<'a>>) -> String {
    let attr = |s: &str| encode_double_quoted_attribute(&xml_text(s)).into_owned();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n  <head>\n    <title>bantin – nguồn tin</title>\n  </head>\n  <body>\n");
    for feed in feeds {
        let tags = feed.tags.join(",");
        out.push_str(&format!(
            "    <outline type=\"rss\" text=\"{}\" title=\"{}\" xmlUrl=\"{}\" category=\"{}\" bantinId=\"{}\"/>\n",
            attr(feed.name),
            attr(feed.name),
            attr(feed.url),
            attr(&tags),
            attr(feed.id),
        ));
    }
    out.push_str("  </body>\n</opml>\n");
    out
}

/// One feed of an OPML file.
#[derive(Debug, Clone, PartialEq)]
pub struct Outline {
    /// Clean display text ([`crate::text::clean`]), never empty.
    pub title: String,
    /// http or https.
    pub url: Url,
    /// Slugs ([`slug`]), from `category` (split at `,` and `/`) and then the parent outline.
    pub tags: Vec<String>,
}

/// Why a file is not a usable OPML file.
#[derive(Debug, thiserror::Error)]
pub enum OpmlError {
    #[error(transparent)]
    Xml(#[from] roxmltree::Error),
    #[error("the root element is <{0}>, not <opml>")]
    NotOpml(String),
}

/// Every outline with an http(s) `xmlUrl`, at any depth, in document order.
pub fn parse(text: &str) -> Result<Vec<Outline>, OpmlError> {
    let doc = roxmltree::Document::parse(text)?;
    if !doc.root_element().has_tag_name("opml") {
        return Err(OpmlError::NotOpml(
            doc.root_element().tag_name().name().to_owned(),
        ));
    }
    let mut out = Vec::new();
    for node in doc.descendants().filter(|n| n.has_tag_name("outline")) {
        let Some(raw) = node.attribute("xmlUrl") else {
            continue;
        };
        let Ok(url) = Url::parse(raw.trim()) else {
            continue;
        };
        if !matches!(url.scheme(), "http" | "https") {
            continue;
        }
        let title = node
            .attribute("title")
            .or(node.attribute("text"))
            .map(crate::text::clean)
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| url.host_str().unwrap_or("feed").to_string());
        let mut tags: Vec<String> = node
            .attribute("category")
            .unwrap_or("")
            .split([',', '/'])
            .map(slug)
            .filter(|t| !t.is_empty())
            .collect();
        if let Some(parent) = node.parent_element().filter(|p| p.has_tag_name("outline")) {
            if let Some(t) = parent
                .attribute("title")
                .or(parent.attribute("text"))
                .map(slug)
            {
                if !t.is_empty() {
                    tags.push(t);
                }
            }
        }
        tags.dedup();
        out.push(Outline { title, url, tags });
    }
    Ok(out)
}

/// "Báo Quảng Ninh – Kinh tế" → "bao-quang-ninh-kinh-te": folded, lower-case ASCII letters and
/// digits joined by single hyphens, at most 40 characters; empty when nothing is left.
pub fn slug(s: &str) -> String {
    let folded = crate::text::fold(s);
    let mut out = String::new();
    for c in folded.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-')
        .chars()
        .take(40)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outlines_with_titles_tags_and_nesting() {
        let o = parse(
            r#"<?xml version="1.0"?><opml version="2.0"><head/><body>
<outline text="Báo Đảng"><outline type="rss" text="Nhân Dân" xmlUrl="https://nhandan.vn/rss/home.rss" category="dang"/></outline>
<outline text="no feed"/>
<outline title="Báo Quảng Ninh – Kinh tế" xmlUrl="https://baoquangninh.vn/rss/kinh-te.rss"/>
<outline text="bad" xmlUrl="javascript:alert(1)"/>
</body></opml>"#,
        )
        .unwrap();
        assert_eq!(o.len(), 2);
        assert_eq!(o[0].title, "Nhân Dân");
        assert_eq!(o[0].tags, vec!["dang", "bao-dang"]);
        assert_eq!(slug(&o[1].title), "bao-quang-ninh-kinh-te");
        assert!(matches!(parse("<rss/>"), Err(OpmlError::NotOpml(root)) if root == "rss"));
        assert!(matches!(parse("<opml"), Err(OpmlError::Xml(_))));
    }

    #[test]
    fn written_lists_read_back() {
        let tags = ["dang".to_owned(), "thoi-su".to_owned()];
        let feeds = [
            Feed {
                id: "nhan-dan",
                name: "Nhân Dân & \"Đảng\" <b>",
                url: "https://nhandan.vn/rss/home.rss?a=1&b=2",
                tags: &tags,
            },
            Feed {
                id: "vov",
                name: "VOV",
                url: "https://vov.vn/rss.xml",
                tags: &[],
            },
        ];
        let text = write(feeds);
        assert!(text.contains(
            r#"<outline type="rss" text="Nhân Dân &amp; &quot;Đảng&quot; &lt;b&gt;" title="Nhân Dân &amp; &quot;Đảng&quot; &lt;b&gt;" xmlUrl="https://nhandan.vn/rss/home.rss?a=1&amp;b=2" category="dang,thoi-su" bantinId="nhan-dan"/>"#
        ), "{text}");
        let read = parse(&text).unwrap();
        let got: Vec<(&str, &str, &[String])> = read
            .iter()
            .map(|o| (o.title.as_str(), o.url.as_str(), o.tags.as_slice()))
            .collect();
        let want: Vec<(&str, &str, &[String])> =
            feeds.iter().map(|f| (f.name, f.url, f.tags)).collect();
        assert_eq!(got, want);

        // A character XML cannot carry is left out rather than make the list unreadable.
        let odd = Feed {
            id: "odd",
            name: "Tin\u{FFFE}\u{1} mới",
            url: "https://example.vn/rss",
            tags: &[],
        };
        assert_eq!(parse(&write([odd])).unwrap()[0].title, "Tin mới");
    }
}
