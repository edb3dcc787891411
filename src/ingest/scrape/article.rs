//! Article pages → body, title, date, authors and image: with the source's content selector
//! ([`ArticleRules`]) or, without one, a readability extractor (dom_smoothie, which lives here
//! alone). The body leaves page chrome behind ([`super::chrome`]).

use scraper::{Html, Selector};
use url::Url;

use super::chrome::{clean_content, Chrome, Root};
use super::{date_strings, element_text, pick_date, squash, Css, Page, ScrapeError, SELECTORS};
use crate::config::ArticleRules;
use crate::ingest::entry::{DateContext, RawDate};
use crate::media::Media;
use crate::text;

/// Most elements handed to the readability extractor (a long news page has about 5,000).
const MAX_READABILITY_ELEMENTS: usize = 100_000;

/// What an article page holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArticlePage {
    pub title: Option<String>,
    /// The body as HTML (not yet sanitized), links absolute, page chrome removed.
    pub content_html: Option<String>,
    pub date: Option<RawDate>,
    pub authors: Vec<String>,
    /// The page's image: `og:image`, else `twitter:image`, checked ([`crate::media`]).
    pub image: Option<Media>,
}

/// An article page → its body, date, authors and image. With `rules.content`, its first match
/// is the body; without (or without `rules`), a readability extractor (dom_smoothie) finds it. Either
/// way, dropped from the body: `rules.remove`, `rules.date` and `rules.author` matches; script, style, noscript, iframe, form,
/// button, input, nav, aside, svg (and other controls); elements whose class or id contains
/// "comment", "binh-luan", "related", "tin-khac", "social" or "share"; and a heading such as
/// "Tin liên quan", "Ý kiến bạn đọc", "Bình luận" or "Thông báo" with everything after it in its
/// container, when what follows is not body text. Relative links and image sources become
/// absolute against `url` (or the page's `<base href>`).
///
/// Date, the first that parses (else the first found, unparsed): `rules.date`;
/// `article:published_time`, `itemprop="datePublished"` or `pubdate` meta; JSON-LD
/// `datePublished`; the first `<time datetime>`. Authors: `rules.author` matches (without a
/// "Tác giả:" label); else `<meta name="author">`; else JSON-LD author names. Image: `og:image`,
/// else `twitter:image`.
pub fn extract_article(
    bytes: &[u8],
    charset: Option<&str>,
    url: &Url,
    rules: Option<&ArticleRules>,
    dates: DateContext,
) -> Result<ArticlePage, ScrapeError> {
    let mut page = Page::read(bytes, charset, url)?;
    let json_ld = json_ld_objects(&page);
    let date = article_date(&page, rules.and_then(|r| r.date.as_ref()), &json_ld, dates);
    let authors = article_authors(&page, rules.and_then(|r| r.author.as_ref()), &json_ld);
    let title = article_title(&page);
    let image = article_image(&page);
    let chrome = Chrome {
        remove: rules.map(|r| r.remove.as_slice()).unwrap_or_default(),
        // The date and author lines are read into their own fields; inside the body they would
        // only repeat them.
        lines: rules
            .map(|r| r.date.iter().chain(r.author.as_ref()).collect())
            .unwrap_or_default(),
    };

    if let Some(content) = rules.and_then(|r| r.content.as_ref()) {
        if page.select(content.selector()).next().is_none() {
            return Err(page.challenge_or(ScrapeError::NoContent {
                selector: content.text().to_string(),
                title: page.title_for_error(),
            }));
        }
        let base = page.base.clone();
        let root = Root::FirstMatch(content.selector());
        let html = clean_content(&mut page.html, root, &chrome, &base).ok_or_else(|| {
            ScrapeError::EmptyContent {
                selector: content.text().to_string(),
            }
        })?;
        return Ok(ArticlePage {
            title,
            content_html: Some(html),
            date,
            authors,
            image,
        });
    }

    let not_readable = || ScrapeError::NotReadable {
        title: page.title_for_error(),
    };
    let article = readability(&page, url).ok_or_else(|| page.challenge_or(not_readable()))?;
    let mut fragment = Html::parse_fragment(&article.content);
    let html =
        clean_content(&mut fragment, Root::Whole, &chrome, &page.base).ok_or_else(not_readable)?;
    let byline = article.byline.as_deref().map(text::clean);
    Ok(ArticlePage {
        title: title.or_else(|| Some(text::clean(&article.title)).filter(|t| !t.is_empty())),
        content_html: Some(html),
        date: date.or_else(|| {
            let raw = article.published_time.as_deref()?.trim();
            (!raw.is_empty()).then(|| RawDate::read(raw, dates))
        }),
        authors: if authors.is_empty() {
            byline.filter(|b| !b.is_empty()).into_iter().collect()
        } else {
            authors
        },
        image,
    })
}

/// `og:image` (with `og:image:type`, `:width`, `:height` when given), else `twitter:image`,
/// resolved against the page's base; only a web URL.
fn article_image(page: &Page) -> Option<Media> {
    let og = page.meta(&SELECTORS.og_image).and_then(|u| {
        let number = |s: &Selector| page.meta(s).and_then(|n| n.trim().parse::<u32>().ok());
        Some(
            Media::at(&u, &page.base)?
                .typed(page.meta(&SELECTORS.og_image_type).as_deref())
                .image()
                .dimensions(
                    number(&SELECTORS.og_image_width),
                    number(&SELECTORS.og_image_height),
                ),
        )
    });
    og.or_else(|| Some(Media::at(&page.meta(&SELECTORS.twitter_image)?, &page.base)?.image()))
}

fn article_title(page: &Page) -> Option<String> {
    page.meta(&SELECTORS.og_title)
        .map(|t| text::clean(&t))
        .filter(|t| !t.is_empty())
        .or_else(|| {
            page.select(&SELECTORS.h1)
                .map(element_text)
                .find(|t| !t.is_empty())
        })
        .or_else(|| page.title())
}

fn article_date(
    page: &Page,
    rule: Option<&Css>,
    json_ld: &[serde_json::Value],
    dates: DateContext,
) -> Option<RawDate> {
    let mut candidates = Vec::new();
    if let Some(el) = rule.and_then(|r| page.select(r.selector()).next()) {
        candidates.extend(date_strings(el));
    }
    for el in page.select(&SELECTORS.published) {
        candidates.extend(date_strings(el));
    }
    candidates.extend(
        json_ld
            .iter()
            .filter_map(|o| string_or_first(o.get("datePublished")?))
            .map(squash),
    );
    if let Some(time) = page.select(&SELECTORS.time).next() {
        candidates.extend(time.attr("datetime").map(squash));
    }
    candidates.retain(|c| !c.is_empty());
    pick_date(candidates, dates)
}

fn article_authors(page: &Page, rule: Option<&Css>, json_ld: &[serde_json::Value]) -> Vec<String> {
    let mut authors: Vec<String> = Vec::new();
    let add = |authors: &mut Vec<String>, name: String| {
        if !name.is_empty() && !authors.contains(&name) {
            authors.push(name);
        }
    };
    if let Some(rule) = rule {
        for el in page.select(rule.selector()) {
            add(
                &mut authors,
                without_author_label(&element_text(el)).to_string(),
            );
        }
    }
    if authors.is_empty() {
        if let Some(meta) = page.meta(&SELECTORS.author) {
            add(&mut authors, text::clean(&meta));
        }
    }
    if authors.is_empty() {
        for author in json_ld.iter().filter_map(|o| o.get("author")).take(1) {
            let list = match author {
                serde_json::Value::Array(a) => a.iter().collect(),
                one => vec![one],
            };
            for a in list {
                let name = match a {
                    serde_json::Value::String(s) => Some(s.as_str()),
                    other => other.get("name").and_then(|n| n.as_str()),
                };
                add(&mut authors, name.map(text::clean).unwrap_or_default());
            }
        }
    }
    authors
}

/// "Tác giả: Minh Anh" → "Minh Anh". Only that label: "Theo", "PV" and the like stay.
fn without_author_label(s: &str) -> &str {
    let label_end = s.char_indices().nth(7).map_or(s.len(), |(i, _)| i);
    let Some((label, rest)) = s.split_at_checked(label_end) else {
        return s;
    };
    if text::fold(label) != "tac gia" {
        return s;
    }
    if rest.starts_with(|c: char| c.is_alphanumeric()) {
        return s;
    }
    rest.trim_start_matches(|c: char| c == ':' || c.is_whitespace())
}

fn string_or_first(v: &serde_json::Value) -> Option<&str> {
    match v {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Array(a) => a.iter().find_map(|x| x.as_str()),
        _ => None,
    }
}

/// The objects of the page's JSON-LD blocks, article types first: top-level objects, array
/// items and `@graph` members. A block that is not JSON is skipped; one with raw line breaks in
/// strings (common) is read after turning control characters into spaces.
fn json_ld_objects(page: &Page) -> Vec<serde_json::Value> {
    const MAX_OBJECTS: usize = 64;
    let mut objects = Vec::new();
    for script in page.select(&SELECTORS.json_ld) {
        let kind = script.attr("type").unwrap_or_default().trim();
        if !kind.eq_ignore_ascii_case("application/ld+json") {
            continue;
        }
        let code: String = script.text().collect();
        let value = serde_json::from_str::<serde_json::Value>(code.trim()).or_else(|_| {
            let spaced: String = code
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            serde_json::from_str(spaced.trim())
        });
        let Ok(value) = value else { continue };
        let mut pending = vec![value];
        while let Some(v) = pending.pop() {
            match v {
                serde_json::Value::Array(items) => pending.extend(items.into_iter().rev()),
                serde_json::Value::Object(mut map) => {
                    if let Some(graph) = map.remove("@graph") {
                        pending.push(graph);
                    }
                    objects.push(serde_json::Value::Object(map));
                }
                _ => {}
            }
            if objects.len() >= MAX_OBJECTS {
                break;
            }
        }
    }
    // Article types first: a WebPage or Organization may carry dates and names too.
    let is_article = |o: &serde_json::Value| {
        let t = o.get("@type").map(|t| t.to_string()).unwrap_or_default();
        t.contains("Article") || t.contains("BlogPosting")
    };
    let (mut articles, others): (Vec<_>, Vec<_>) = objects.into_iter().partition(is_article);
    articles.extend(others);
    articles
}

/// Runs the readability extractor on the (depth-cut) page; None when it finds nothing.
fn readability(page: &Page, url: &Url) -> Option<dom_smoothie::Article> {
    let cfg = dom_smoothie::Config {
        max_elements_to_parse: MAX_READABILITY_ELEMENTS,
        ..dom_smoothie::Config::default()
    };
    let source = page.html.html();
    // A heuristic third-party extractor on untrusted markup: a panic in it must cost one
    // article, not the poll of the whole source.
    std::panic::catch_unwind(|| {
        dom_smoothie::Readability::new(source, Some(url.as_str()), Some(cfg))
            .and_then(|mut r| r.parse())
            .ok()
    })
    .ok()
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use crate::ingest::sniff;
    use chrono::Utc;

    #[test]
    fn windows_1258_page_declared_only_in_meta() {
        // windows-1258 writes tones as combining marks after the base letter: "à" is "a" + 0xCC.
        let page = "<html><head>\
            <meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1258\">\
            <title>Tha\u{300}nh u\u{309}y Tha\u{300}nh phô\u{301} Hô\u{300} Chi\u{301} Minh</title></head>\
            <body><div class=\"detail\"><p>Công ta\u{301}c dân vâ\u{323}n cu\u{309}a \u{110}a\u{309}ng</p></div></body></html>";
        let (bytes, _, lossy) = encoding_rs::WINDOWS_1258.encode(page);
        assert!(!lossy);
        assert!(std::str::from_utf8(&bytes).is_err(), "must not be UTF-8");
        let page = extract_article(
            &bytes,
            None,
            &url("https://hcmcpv.org.vn/tin-tuc/cong-tac-dan-van-1491881290"),
            Some(&article_rules("div.detail")),
            ctx(),
        )
        .unwrap();
        assert_eq!(
            page.title.as_deref(),
            Some("Thành ủy Thành phố Hồ Chí Minh")
        );
        assert_eq!(body_text(&page), "Công tác dân vận của Đảng");
        assert_eq!(
            sniff::html_title(&text::decode(&bytes, None).text).as_deref(),
            Some("Thành ủy Thành phố Hồ Chí Minh")
        );
    }

    #[test]
    fn date_only_in_meta_is_local_time() {
        let page = r#"<html><head>
            <meta property="article:published_time" content="2026-11-20T08:15:00">
            </head><body><div class="noidung"><p>Nội dung bài viết.</p></div></body></html>"#;
        let page = extract_article(
            page.as_bytes(),
            None,
            &url("https://tuyengiaodanvan.vn/tin-tuc/bai-viet-123456"),
            Some(&article_rules(".noidung")),
            ctx(),
        )
        .unwrap();
        let date = page.date.unwrap();
        assert_eq!(date.raw, "2026-11-20T08:15:00");
        assert_eq!(
            date.parsed.map(|t| t.with_timezone(&Utc)),
            Some(utc("2026-11-20T01:15:00Z"))
        );
    }

    #[test]
    fn date_and_authors_from_json_ld() {
        // A broken block first (skipped), then a @graph whose article has a raw line break in
        // a string (read anyway).
        let page = "<html><head>
            <script type=\"application/ld+json\">{\"@context\": \"https://schema.org\", </script>
            <script type=\"application/ld+json\">{\"@context\":\"https://schema.org\",\"@graph\":[
              {\"@type\":\"WebSite\",\"name\":\"Báo Nhân Dân\",\"datePublished\":\"2010-01-01\"},
              {\"@type\":\"NewsArticle\",\"headline\":\"Dân vận\",\"description\":\"dòng một\ndòng hai\",
               \"datePublished\":\"2026-11-21T09:00:00+07:00\",
               \"author\":[{\"@type\":\"Person\",\"name\":\"Lan Hương\"},{\"name\":\"Quốc Việt\"}]}]}
            </script></head><body><article><p>Nội dung.</p></article></body></html>";
        let page = extract_article(
            page.as_bytes(),
            None,
            &url("https://nhandan.vn/dan-van-post912345.html"),
            Some(&article_rules("article")),
            ctx(),
        )
        .unwrap();
        assert_eq!(instant(&page.date), Some(utc("2026-11-21T02:00:00Z")));
        assert_eq!(page.date.unwrap().raw, "2026-11-21T09:00:00+07:00");
        assert_eq!(page.authors, ["Lan Hương", "Quốc Việt"]);
    }

    #[test]
    fn date_order_of_preference() {
        let check = |head: &str, body: &str, expected: Option<&str>| {
            let page = format!(
                "<html><head>{head}</head><body><div class=\"c\">{body}<p>Nội dung.</p></div></body></html>"
            );
            let got = extract(
                &page,
                ArticleRules {
                    date: Some(css(".ngay")),
                    ..article_rules(".c")
                },
            );
            assert_eq!(
                instant(&got.date),
                expected.map(utc),
                "{head} {body}: {:?}",
                got.date
            );
        };
        let meta =
            r#"<meta property="article:published_time" content="2026-11-20T08:15:00+07:00">"#;
        let time = r#"<time datetime="2026-11-22T10:00:00+07:00">22/11</time>"#;
        // The rule wins over the meta tag, the meta tag over <time>.
        check(
            meta,
            r#"<span class="ngay">Chủ Nhật, ngày 19 tháng 1 năm 2020</span>"#,
            Some("2020-01-18T17:00:00Z"),
        );
        check(meta, time, Some("2026-11-20T01:15:00Z"));
        check("", time, Some("2026-11-22T03:00:00Z"));
        check(
            r#"<meta itemprop="datePublished" content="2026-11-23T07:00:00">"#,
            "",
            Some("2026-11-23T00:00:00Z"),
        );
        check("", "", None);
        // A rule match that does not parse is kept raw when nothing else has a date.
        let page = r#"<div class="c"><span class="ngay">Cập nhật: không rõ</span><p>x</p></div>"#;
        let got = extract(
            page,
            ArticleRules {
                date: Some(css(".ngay")),
                ..article_rules(".c")
            },
        );
        assert_eq!(
            got.date,
            Some(RawDate {
                raw: "Cập nhật: không rõ".into(),
                parsed: None
            })
        );
    }

    #[test]
    fn authors_from_rule_meta_or_nothing() {
        let check = |page: &str, rule: Option<&str>, expected: &[&str]| {
            // A body beside the author lines (which are dropped from it).
            let page = format!(
                "{page}<p>Ban Dân vận Trung ương tổ chức hội nghị toàn quốc tổng kết công tác dân vận năm 2019, triển khai nhiệm vụ năm 2020.</p>"
            );
            let got = extract(
                &page,
                ArticleRules {
                    author: rule.map(css),
                    ..article_rules("body")
                },
            );
            assert_eq!(got.authors, expected, "{page}");
        };
        check(
            r#"<p class="tg">Tác giả:  Minh  Anh </p><p class="tg">Quốc Việt</p><p>x</p>"#,
            Some(".tg"),
            &["Minh Anh", "Quốc Việt"],
        );
        check(
            r#"<p class="tg">Theo TTXVN</p>"#,
            Some(".tg"),
            &["Theo TTXVN"],
        );
        check(
            r#"<head><meta name="author" content="Hồng Phúc"></head><p>x</p>"#,
            Some(".tg"),
            &["Hồng Phúc"],
        );
        check("<p>x</p>", None, &[]);
    }

    #[test]
    fn readability_fallback_without_selectors() {
        let paragraph = "Sáng 19/1, tại Hà Nội, Ban Dân vận Trung ương tổ chức hội nghị toàn quốc \
            tổng kết công tác dân vận năm 2019 và triển khai nhiệm vụ năm 2020. Hội nghị được \
            kết nối trực tuyến tới các tỉnh ủy, thành ủy trong cả nước, với sự tham dự của \
            nhiều đồng chí lãnh đạo các ban, bộ, ngành và đoàn thể chính trị - xã hội.";
        let page = format!(
            r#"<html><head><title>Hội nghị dân vận - Mặt trận Tổ quốc Việt Nam</title>
            <meta property="article:published_time" content="2026-11-20T08:15:00"></head>
            <body>
            <div class="menu"><ul><li><a href="/">Trang chủ</a></li><li><a href="/tin-tuc">Tin tức</a></li></ul></div>
            <div class="sidebar"><h4>Đọc nhiều</h4><ul><li><a href="/a-1.html">Tin đọc nhiều nhất</a></li></ul></div>
            <div class="main"><div class="article">
              <h1>Hội nghị toàn quốc tổng kết công tác dân vận</h1>
              <p>{paragraph}</p><p>{paragraph}</p><p>{paragraph}</p>
              <figure><img src="/uploads/hoinghi.jpg"><figcaption>Quang cảnh hội nghị</figcaption></figure>
              <p>Phát biểu chỉ đạo, đồng chí Trưởng Ban nhấn mạnh phong trào thi đua Dân vận khéo.</p>
              <h3>Tin liên quan</h3>
              <ul><li><a href="/tin-tuc/khac-1000001.html">Tin khác số một về hội nghị</a></li>
                  <li><a href="/tin-tuc/khac-1000002.html">Tin khác số hai về đại hội</a></li></ul>
              <div class="comment-box"><p>Bạn đọc A: Bài viết rất hay và bổ ích cho cán bộ cơ sở.</p></div>
            </div></div>
            <div class="footer">Bản quyền thuộc Mặt trận Tổ quốc Việt Nam</div>
            </body></html>"#
        );
        let page = extract_article(
            page.as_bytes(),
            None,
            &url("https://mattran.org.vn/tin-tuc/hoi-nghi-dan-van-54321.html"),
            None,
            ctx(),
        )
        .unwrap();
        let body = body_text(&page);
        assert!(body.contains("Ban Dân vận Trung ương tổ chức"), "{body}");
        assert!(body.contains("phong trào thi đua Dân vận khéo"), "{body}");
        for dropped in [
            "Tin liên quan",
            "Tin khác số một",
            "Bài viết rất hay",
            "Tin đọc nhiều",
            "Bản quyền",
        ] {
            assert!(!body.contains(dropped), "{dropped:?} left in {body:?}");
        }
        assert_eq!(instant(&page.date), Some(utc("2026-11-20T01:15:00Z")));
        assert!(page.title.is_some());
    }

    #[test]
    fn readability_finds_nothing_on_an_empty_page() {
        let err = extract_article(
            "<html><head><title>Trang chủ</title></head><body><nav><a href='/'>x</a></nav></body></html>"
                .as_bytes(),
            None,
            &url("https://example.vn/"),
            None,
            ctx(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            ScrapeError::NotReadable {
                title: Some("Trang chủ".into())
            }
        );
    }
}
