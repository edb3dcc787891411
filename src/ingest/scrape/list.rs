//! The html kind: a list page read with the source's CSS selectors ([`ListRules`]) → one
//! [`RawEntry`] per item element.

use std::collections::HashSet;

use scraper::{ElementRef, Selector};
use url::Url;

use super::{
    absolute_fragment, article_id, date_strings, element_text, has_substance, pick_date, web_link,
    Page, ScrapeError, SELECTORS,
};
use crate::config::ListRules;
use crate::ingest::entry::{DateContext, Listing, RawDate, RawEntry};
use crate::text;

/// A list page → one RawEntry per item element. `base` resolves relative links (and `<base
/// href>` when the page has one). guid = [`article_id`] of the link. Title: `rules.title` text,
/// else the link element's text (or its `title` attribute). Summary: inner HTML of
/// `rules.summary`. Date: text of `rules.date` (or its `datetime`/`title` attribute when
/// present), else a `<time datetime>` inside the item. Items without a usable link (none, `#`,
/// `javascript:`, `mailto:`) or without a title are skipped; the same link twice on a page is
/// kept once. `Listing::title` is the page's `<title>`.
pub fn parse_list(
    bytes: &[u8],
    charset: Option<&str>,
    base: &Url,
    rules: &ListRules,
    dates: DateContext,
) -> Result<Listing, ScrapeError> {
    let page = Page::read(bytes, charset, base)?;
    let items: Vec<ElementRef> = page.select(rules.item.selector()).collect();
    if items.is_empty() {
        return Err(page.challenge_or(ScrapeError::NoItems {
            selector: rules.item.text().to_string(),
            title: page.title_for_error(),
        }));
    }
    let mut seen = HashSet::new();
    let mut entries = Vec::new();
    let mut summaries = Vec::new();
    let mut linked = 0;
    for &item in &items {
        let Some(link) = item_link(item, rules, &page.base) else {
            continue;
        };
        linked += 1;
        let Some(title) = item_title(item, rules, &link, &page.base) else {
            continue;
        };
        let mut key = link.clone();
        key.set_fragment(None);
        if !seen.insert(key) {
            continue;
        }
        if let Some(summary) = rules
            .summary
            .as_ref()
            .and_then(|s| item.select(s.selector()).next())
            .filter(|s| has_substance(*s))
        {
            summaries.push((entries.len(), summary.inner_html()));
        }
        entries.push(RawEntry {
            guid: article_id(&link),
            date: item_date(item, rules, dates),
            link: Some(link),
            title: Some(title),
            ..RawEntry::default()
        });
    }
    if entries.is_empty() {
        return Err(if linked == 0 {
            ScrapeError::NoLinks {
                item: rules.item.text().to_string(),
                count: items.len(),
                link: rules.link.text().to_string(),
                attr: rules.link_attr.clone(),
            }
        } else {
            ScrapeError::NoTitles {
                item: rules.item.text().to_string(),
                count: linked,
                title: match &rules.title {
                    Some(t) => format!("`{}`", t.text()),
                    None => format!("text or title of `{}`", rules.link.text()),
                },
            }
        });
    }
    let title = page.title();
    for (index, summary) in summaries {
        entries[index].summary = Some(absolute_fragment(&summary, &page.base));
    }
    Ok(Listing {
        title,
        poll_hint: None,
        entries,
        repairs: Vec::new(),
        verbatim: false,
    })
}

/// The item's link: the first match of `rules.link` (the item itself included) whose
/// `link_attr` is a web link.
fn item_link(item: ElementRef, rules: &ListRules, base: &Url) -> Option<Url> {
    link_elements(item, rules.link.selector())
        .find_map(|a| web_link(a.attr(&rules.link_attr)?, base))
}

fn link_elements<'a>(
    item: ElementRef<'a>,
    link: &'a Selector,
) -> impl Iterator<Item = ElementRef<'a>> + 'a {
    let own = link.matches(&item).then_some(item);
    own.into_iter().chain(item.select(link))
}

/// `rules.title` text; else the text of a link element pointing to `link` (a thumbnail link
/// without text usually comes first), else such an element's `title` attribute.
fn item_title(item: ElementRef, rules: &ListRules, link: &Url, base: &Url) -> Option<String> {
    if let Some(title) = rules.title.as_ref().and_then(|t| {
        item.select(t.selector())
            .map(element_text)
            .find(|t| !t.is_empty())
    }) {
        return Some(title);
    }
    let same: Vec<ElementRef> = link_elements(item, rules.link.selector())
        .filter(|a| {
            a.attr(&rules.link_attr)
                .and_then(|h| web_link(h, base))
                .is_some_and(|u| u == *link)
        })
        .collect();
    same.iter()
        .map(|a| element_text(*a))
        .chain(same.iter().filter_map(|a| a.attr("title")).map(text::clean))
        .find(|t| !t.is_empty())
}

/// `rules.date` (its `datetime`, `content` or `title` attribute, or its text), else a `<time
/// datetime>` in the item.
fn item_date(item: ElementRef, rules: &ListRules, dates: DateContext) -> Option<RawDate> {
    let mut candidates = Vec::new();
    if let Some(el) = rules
        .date
        .as_ref()
        .and_then(|d| item.select(d.selector()).next())
    {
        candidates.extend(date_strings(el));
    }
    candidates.extend(
        item.select(&SELECTORS.time)
            .filter_map(|t| t.attr("datetime"))
            .map(str::to_string),
    );
    pick_date(candidates, dates)
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

    /// A thanhuytphcm.vn category page: thumbnail link first, then the headline; several date
    /// styles; junk items (ads, login, contact, a photo without caption, a repeat).
    const LIST_PAGE: &str = r##"<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8">
<title>
    Tin tức - Thành ủy Thành phố Hồ Chí Minh
</title></head>
<body>
<nav><a href="/">Trang chủ</a> <a href="/tin-tuc-su-kien">Tin tức</a></nav>
<div class="list-news">
  <div class="news-item">
    <a class="thumb" href="/tin-tuc/hoi-nghi-cong-tac-dan-van-1491881281"><img src="/uploads/2020/01/dv.jpg" alt=""></a>
    <h3><a href="/tin-tuc/hoi-nghi-cong-tac-dan-van-1491881281">
        Hội nghị tổng kết công tác dân vận năm 2019
    </a></h3>
    <div class="date">Thứ Hai, 19/01/2020 10:30 (GMT+7)</div>
    <div class="sapo">Sáng 19/1, Ban Dân vận Thành ủy tổ chức hội nghị. <a href="/chu-de/dan-van">Xem thêm</a> <img src="../uploads/a.jpg"></div>
  </div>
  <div class="news-item">
    <h3><a href="https://thanhuytphcm.vn/tin-tuc/mat-tran-to-quoc-1491881282">Mặt trận Tổ quốc Thành phố giám sát quy chế dân chủ ở cơ sở</a></h3>
    <span class="date">10:30 | 19/01/2020</span>
  </div>
  <div class="news-item">
    <a href="tin-tuc/dan-van-kheo-1491881283?utm_source=home" title="Phong trào Dân vận khéo năm 2026"><img src="x.jpg"></a>
    <span class="date">15 giờ trước</span>
  </div>
  <div class="news-item"><h3><a href="/tin-tuc/hoi-nghi-cong-tac-dan-van-1491881281#binh-luan">Hội nghị tổng kết (bình luận)</a></h3></div>
  <div class="news-item"><a href="#">Quảng cáo</a></div>
  <div class="news-item"><a href="javascript:void(0)">Đăng nhập</a></div>
  <div class="news-item"><a href="mailto:bbt@thanhuytphcm.vn">Liên hệ</a></div>
  <div class="news-item"><a href="/tin-tuc/anh-1491881284"><img src="y.jpg"></a></div>
  <div class="news-item">
    <h3><a href="/tin-tuc/dai-hoi-dang-bo-2020">Đại hội Đảng bộ Thành phố</a></h3>
    <time datetime="2026-11-27T08:00:00">Hôm qua</time>
  </div>
</div>
</body></html>"##;

    #[test]
    fn list_page_items_links_titles_and_dates() {
        let rules = ListRules {
            date: Some(css(".date")),
            summary: Some(css(".sapo")),
            ..list_rules("div.news-item", "a")
        };
        let base = url("https://thanhuytphcm.vn/tin-tuc-su-kien");
        let feed = parse_list(LIST_PAGE.as_bytes(), None, &base, &rules, ctx()).unwrap();
        assert_eq!(
            feed.title.as_deref(),
            Some("Tin tức - Thành ủy Thành phố Hồ Chí Minh")
        );
        let got: Vec<_> = feed
            .entries
            .iter()
            .map(|e| {
                (
                    e.title.as_deref().unwrap(),
                    e.link.as_ref().unwrap().as_str(),
                    e.guid.as_deref(),
                    instant(&e.date),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "Hội nghị tổng kết công tác dân vận năm 2019",
                    "https://thanhuytphcm.vn/tin-tuc/hoi-nghi-cong-tac-dan-van-1491881281",
                    Some("1491881281"),
                    Some(utc("2020-01-19T03:30:00Z")),
                ),
                (
                    "Mặt trận Tổ quốc Thành phố giám sát quy chế dân chủ ở cơ sở",
                    "https://thanhuytphcm.vn/tin-tuc/mat-tran-to-quoc-1491881282",
                    Some("1491881282"),
                    Some(utc("2020-01-19T03:30:00Z")),
                ),
                (
                    "Phong trào Dân vận khéo năm 2026",
                    "https://thanhuytphcm.vn/tin-tuc/dan-van-kheo-1491881283?utm_source=home",
                    Some("1491881283"),
                    // 15 hours before now.
                    Some(utc("2026-11-27T12:00:00Z")),
                ),
                (
                    "Đại hội Đảng bộ Thành phố",
                    "https://thanhuytphcm.vn/tin-tuc/dai-hoi-dang-bo-2020",
                    None,
                    // <time datetime> without offset: Vietnamese wall time.
                    Some(utc("2026-11-27T01:00:00Z")),
                ),
            ]
        );
        let first = &feed.entries[0];
        assert_eq!(
            first.date.as_ref().unwrap().raw,
            "Thứ Hai, 19/01/2020 10:30 (GMT+7)"
        );
        let summary = first.summary.as_deref().unwrap();
        assert!(summary.contains("Ban Dân vận Thành ủy"), "{summary}");
        assert!(
            summary.contains(r#"href="https://thanhuytphcm.vn/chu-de/dan-van""#),
            "{summary}"
        );
        assert!(
            summary.contains(r#"src="https://thanhuytphcm.vn/uploads/a.jpg""#),
            "{summary}"
        );
        assert_eq!(feed.entries[1].summary, None);
    }

    #[test]
    fn list_page_title_selector_and_base_href() {
        // mattran.org.vn style: relative links written against <base href>, headline in <h3>.
        let page = r#"<html><head><base href="https://mattran.org.vn/"><title>Tin tức</title></head><body>
            <ul class="list">
              <li><a href="tin-tuc/hiep-thuong-12345.html"><span class="tit">Hội nghị hiệp thương</span></a>
                  <p class="time" title="20/11/2026 08:15">3 ngày trước</p></li>
              <li><a href="tin-tuc/giam-sat-12346.html" title="Tooltip"><span class="tit"> </span>Giám sát</a></li>
            </ul></body></html>"#;
        let rules = ListRules {
            title: Some(css(".tit")),
            date: Some(css(".time")),
            ..list_rules("ul.list > li", "a")
        };
        let base = url("https://mattran.org.vn/chuyen-muc/tin-tuc/trang-2.html");
        let feed = parse_list(page.as_bytes(), None, &base, &rules, ctx()).unwrap();
        let e = &feed.entries[0];
        assert_eq!(
            e.link.as_ref().unwrap().as_str(),
            "https://mattran.org.vn/tin-tuc/hiep-thuong-12345.html"
        );
        assert_eq!(e.title.as_deref(), Some("Hội nghị hiệp thương"));
        // The `title` attribute holds the exact date; the text is relative.
        assert_eq!(e.date.as_ref().unwrap().raw, "20/11/2026 08:15");
        assert_eq!(instant(&e.date), Some(utc("2026-11-20T01:15:00Z")));
        // An empty title match falls back to the link text.
        assert_eq!(feed.entries[1].title.as_deref(), Some("Giám sát"));
        assert_eq!(feed.entries[1].date, None);
    }

    #[test]
    fn list_item_that_is_itself_the_link() {
        let page = r#"<div><a class="news" href="/a-123456.html">Tin một</a><a class="news" href="/b-123457.html">Tin hai</a></div>"#;
        let base = url("https://tuyengiaodanvan.vn/");
        let feed = parse_list(
            page.as_bytes(),
            None,
            &base,
            &list_rules("a.news", "a"),
            ctx(),
        )
        .unwrap();
        let titles: Vec<_> = feed.entries.iter().map(|e| e.title.as_deref()).collect();
        assert_eq!(titles, [Some("Tin một"), Some("Tin hai")]);
    }
}
