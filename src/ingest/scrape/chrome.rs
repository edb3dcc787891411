//! Page chrome removed from an article body: the admin's `remove` selectors and date and
//! author lines, elements that are never article text, elements named as chrome (comment
//! boxes, related news, share bars), and the widgets after a chrome heading ("Tin liên quan",
//! "Ý kiến bạn đọc"), so that topics never match the titles of other articles listed under
//! this one. Every walk is iterative ([`super::depth::Walk`]).

use std::collections::HashSet;

use scraper::{ElementRef, Html, Node, Selector};
use url::Url;

use super::depth::Walk;
use super::{absolutize, has_substance, Css, NodeRef};
use crate::text;

/// Elements that are never article text.
const DROP_TAGS: [&str; 16] = [
    "script", "style", "noscript", "iframe", "form", "button", "input", "nav", "aside", "svg",
    "textarea", "select", "template", "object", "embed", "dialog",
];

/// Class or id fragments of page chrome inside article bodies.
const CHROME_NAMES: [&str; 10] = [
    "comment",
    "binh-luan",
    "binhluan",
    "related",
    "tin-khac",
    "tinkhac",
    "lien-quan",
    "lienquan",
    "social",
    "share",
];

/// Headings that start the widgets Vietnamese news pages put after the article, folded
/// (lowercase, no diacritics): "Ý kiến bạn đọc", "Tin liên quan", "Thông báo", …
const CHROME_MARKERS: [&str; 9] = [
    "y kien ban doc",
    "y kien cua ban",
    "binh luan",
    "tin khac",
    "tin lien quan",
    "cac tin khac",
    "tin cung chuyen muc",
    "thong bao",
    "gui binh luan",
];

/// Most marker headings weighed per page (each costs a walk over the text around it).
const MAX_MARKER_CHECKS: usize = 16;

/// Where the body sits in the tree being cleaned.
pub(super) enum Root<'s> {
    /// The first match of the content selector.
    FirstMatch(&'s Selector),
    /// The root element (of a fragment).
    Whole,
}

/// What the admin's selectors drop from a body.
pub(super) struct Chrome<'r> {
    /// `rules.remove`: every match goes.
    pub(super) remove: &'r [Css],
    /// `rules.date` and `rules.author`: matches go when they are a line, not a block that holds
    /// the body (a broad selector must not empty the article).
    pub(super) lines: Vec<&'r Css>,
}

/// Longest text (non-space characters) of a date or author match dropped from a body.
const LINE_LEN: usize = 200;

/// Cleans the body in place and returns its inner HTML; None when no text or image is left.
///
/// Dropped: `remove` matches; [`DROP_TAGS`]; elements whose class or id names chrome
/// ([`CHROME_NAMES`]); and, inside the container of a chrome heading ([`CHROME_MARKERS`]), that
/// heading and everything after it. Then relative `href`/`src`/`srcset`/`poster` become
/// absolute against `base`, and lazy-loaded images get their real `src`.
///
/// (Node ids stay inside this function: their type, `ego_tree::NodeId`, is not nameable here.)
pub(super) fn clean_content(
    html: &mut Html,
    root: Root,
    chrome: &Chrome,
    base: &Url,
) -> Option<String> {
    let root_id = match root {
        Root::FirstMatch(selector) => html.root_element().select(selector).next()?.id(),
        Root::Whole => html.root_element().id(),
    };
    let detach = |html: &mut Html, ids: Vec<_>| {
        for id in ids {
            if let Some(mut node) = html.tree.get_mut(id) {
                node.detach();
            }
        }
    };
    let element = html.tree.get(root_id).and_then(ElementRef::wrap)?;
    let doomed = page_chrome(element, chrome)
        .iter()
        .map(|n| n.id())
        .collect();
    detach(html, doomed);
    let element = html.tree.get(root_id).and_then(ElementRef::wrap)?;
    let doomed = widgets_after_markers(element)
        .iter()
        .map(|n| n.id())
        .collect();
    detach(html, doomed);
    absolutize(html, base);
    let element = html.tree.get(root_id).and_then(ElementRef::wrap)?;
    has_substance(element).then(|| element.inner_html().trim().to_string())
}

/// `remove` matches, date and author lines, [`DROP_TAGS`] and elements named as chrome,
/// outermost only.
fn page_chrome<'a>(root: ElementRef<'a>, chrome: &Chrome) -> Vec<NodeRef<'a>> {
    let lines = chrome
        .lines
        .iter()
        .flat_map(|css| root.select(css.selector()))
        .filter(|e| e.text().map(visible_len).sum::<usize>() <= LINE_LEN);
    let removed: HashSet<_> = chrome
        .remove
        .iter()
        .flat_map(|css| root.select(css.selector()))
        .chain(lines)
        .map(|e| e.id())
        .collect();
    let mut doomed = Vec::new();
    let mut walk = Walk::new(*root);
    while let Some(node) = walk.next() {
        let Node::Element(e) = node.value() else {
            continue;
        };
        let named_chrome = || {
            [e.attr("class"), e.id()].into_iter().flatten().any(|v| {
                let v = v.to_ascii_lowercase();
                CHROME_NAMES.iter().any(|c| v.contains(c))
            })
        };
        let dropped_tag =
            DROP_TAGS.contains(&e.name()) && !(e.name() == "form" && is_page_form(node));
        if removed.contains(&node.id()) || dropped_tag || named_chrome() {
            doomed.push(node);
            walk.skip_children(node);
        }
    }
    doomed
}

/// ASP.NET pages (many `*.gov.vn` portals) wrap the whole page in one `<form>`: a form with
/// that much text is the page, not a comment box.
fn is_page_form(form: NodeRef) -> bool {
    const PAGE_TEXT: usize = 1000;
    let mut total = 0;
    for node in form.descendants() {
        if let Node::Text(t) = node.value() {
            total += visible_len(t);
            if total > PAGE_TEXT {
                return true;
            }
        }
    }
    false
}

/// Chrome headings ("Tin liên quan", "Ý kiến bạn đọc", …) and everything after each inside
/// its container. A heading counts only when what follows it is not mostly body text: the
/// text after it outside links must not exceed the text before it. Government pages print
/// "THÔNG BÁO" as the first line of an official notice, and that must not cut the notice.
fn widgets_after_markers(root: ElementRef) -> Vec<NodeRef> {
    let mut doomed = Vec::new();
    let mut before = 0usize;
    let mut checks = 0;
    let mut walk = Walk::new(*root);
    while let Some(node) = walk.next() {
        match node.value() {
            Node::Text(t) => before += visible_len(t),
            Node::Element(_) if checks < MAX_MARKER_CHECKS => {
                let Some(el) = ElementRef::wrap(node) else {
                    continue;
                };
                if !is_marker(el) {
                    continue;
                }
                checks += 1;
                if unlinked_text_after(node, before) > before {
                    // Body text follows: the heading is part of the body. Its children hold
                    // the same text, so they are not weighed again.
                    before += el.text().map(visible_len).sum::<usize>();
                    walk.skip_children(node);
                    continue;
                }
                doomed.push(node);
                doomed.extend(node.next_siblings());
                // Everything after the heading in its container is gone: go on after it.
                walk.skip_rest_of_parent(node);
            }
            _ => {}
        }
    }
    doomed
}

/// A short element whose whole text is a chrome heading, standing alone (no text beside it:
/// "Xem <b>Bình luận</b> dưới đây" is a sentence, not a heading).
fn is_marker(el: ElementRef) -> bool {
    const MAX_LEN: usize = 48;
    const MAX_NODES: usize = 32;
    let mut text = String::new();
    for node in el.descendants().take(MAX_NODES + 1) {
        if let Node::Text(t) = node.value() {
            text.push_str(t);
            if text.len() > MAX_LEN * 4 {
                return false;
            }
        }
    }
    if el.descendants().nth(MAX_NODES).is_some() {
        return false;
    }
    let folded = text::fold(&text);
    let folded = folded.trim().trim_end_matches(':').trim_end();
    if !CHROME_MARKERS.contains(&folded) {
        return false;
    }
    let beside_text = el
        .prev_siblings()
        .chain(el.next_siblings())
        .any(|s| matches!(s.value(), Node::Text(t) if !t.trim().is_empty()));
    !beside_text
}

/// Visible characters of the text after `node` in its container, outside links, counted up
/// to just past `cap`.
fn unlinked_text_after(node: NodeRef, cap: usize) -> usize {
    let mut total = 0;
    for sibling in node.next_siblings() {
        match sibling.value() {
            Node::Text(t) => total += visible_len(t),
            Node::Element(e) if e.name() == "a" => continue,
            _ => {}
        }
        let mut walk = Walk::new(sibling);
        while let Some(n) = walk.next() {
            match n.value() {
                Node::Element(e) if e.name() == "a" => walk.skip_children(n),
                Node::Text(t) => total += visible_len(t),
                _ => {}
            }
            if total > cap {
                return total;
            }
        }
        if total > cap {
            return total;
        }
    }
    total
}

pub(super) fn visible_len(t: &str) -> usize {
    t.chars().filter(|c| !c.is_whitespace()).count()
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::*;
    use crate::config::ArticleRules;

    /// A dangcongsan.vn article: date line, title, photo with caption, body, author line, then
    /// the widgets (share bar, related news, readers' comments, comment form, notices).
    const ARTICLE_PAGE: &str = r#"<!DOCTYPE html>
<html><head><meta charset="utf-8">
<title>Hội nghị toàn quốc về công tác dân vận - Báo điện tử Đảng Cộng sản Việt Nam</title>
<meta property="og:title" content="Hội nghị toàn quốc về công tác dân vận">
<meta name="author" content="Báo điện tử Đảng Cộng sản Việt Nam">
</head><body>
<header><nav><a href="/">Trang chủ</a><a href="/thoi-su">Thời sự</a></nav></header>
<div class="detail-content">
  <div class="date">Thứ Hai, 19/01/2020 10:30 (GMT+7)</div>
  <h1 class="title">Hội nghị toàn quốc về công tác dân vận</h1>
  <figure class="image"><img src="/Uploads/Images/2020/1/19/hoinghi.jpg" alt="">
    <figcaption>Quang cảnh hội nghị. (Ảnh: TTXVN)</figcaption></figure>
  <p>ĐCSVN – Sáng 19/1, tại Hà Nội, Ban Dân vận Trung ương tổ chức hội nghị toàn quốc tổng kết
     công tác dân vận năm 2019, triển khai nhiệm vụ năm 2020.</p>
  <p>Phát biểu tại hội nghị, đồng chí Trưởng Ban nhấn mạnh việc thực hiện
     <a href="/dan-van/quy-che-dan-chu-o-co-so-543210.html">quy chế dân chủ ở cơ sở</a> và phong trào thi đua
     "Dân vận khéo" trong cả hệ thống chính trị.</p>
  <div class="ads">QUẢNG CÁO GIỮA BÀI</div>
  <script>var tracking = "mã theo dõi";</script>
  <p class="author">Tác giả: Minh Anh</p>
  <div class="box-share"><a href="https://facebook.com/sharer">Chia sẻ Facebook</a></div>
  <div class="box">
    <h3 class="box-title">Tin liên quan</h3>
    <ul>
      <li><a href="/x-1000001.html">Tin khác số một về hội nghị</a></li>
      <li><a href="/x-1000002.html">Tin khác số hai về đại hội</a></li>
    </ul>
  </div>
  <div class="box-title"><span>Ý kiến bạn đọc:</span></div>
  <div class="list">Bạn đọc Nguyễn Văn A: Bài viết rất hay.</div>
  <form><textarea>Nội dung</textarea><button>Gửi bình luận</button></form>
  <div id="comment-list"><p>Bạn đọc B: Đồng ý với tác giả.</p></div>
</div>
<div class="footer">Bản quyền thuộc Báo điện tử Đảng Cộng sản Việt Nam</div>
</body></html>"#;

    #[test]
    fn article_body_kept_and_chrome_dropped() {
        let rules = ArticleRules {
            date: Some(css(".date")),
            author: Some(css(".author")),
            remove: vec![css(".ads")],
            ..article_rules("div.detail-content")
        };
        let page_url = url("https://dangcongsan.vn/thoi-su/hoi-nghi-toan-quoc-1234567.html");
        let page = extract_article(
            ARTICLE_PAGE.as_bytes(),
            None,
            &page_url,
            Some(&rules),
            ctx(),
        )
        .unwrap();
        assert_eq!(
            page.title.as_deref(),
            Some("Hội nghị toàn quốc về công tác dân vận")
        );
        assert_eq!(instant(&page.date), Some(utc("2020-01-19T03:30:00Z")));
        assert_eq!(page.authors, ["Minh Anh"]);

        let body = body_text(&page);
        for kept in [
            "Sáng 19/1, tại Hà Nội, Ban Dân vận Trung ương",
            "quy chế dân chủ ở cơ sở",
            "Quang cảnh hội nghị. (Ảnh: TTXVN)",
        ] {
            assert!(body.contains(kept), "{kept:?} missing from {body:?}");
        }
        for dropped in [
            // Read into `authors` and `date`, not repeated in the body.
            "Tác giả: Minh Anh",
            "GMT+7",
            "QUẢNG CÁO",
            "mã theo dõi",
            "Chia sẻ",
            "Tin liên quan",
            "Tin khác số một",
            "Ý kiến bạn đọc",
            "Bài viết rất hay",
            "Gửi bình luận",
            "Đồng ý với tác giả",
            "Trang chủ",
            "Bản quyền",
        ] {
            assert!(!body.contains(dropped), "{dropped:?} left in {body:?}");
        }
        let html = page.content_html.unwrap();
        assert!(
            html.contains(r#"src="https://dangcongsan.vn/Uploads/Images/2020/1/19/hoinghi.jpg""#),
            "{html}"
        );
        assert!(
            html.contains(
                r#"href="https://dangcongsan.vn/dan-van/quy-che-dan-chu-o-co-so-543210.html""#
            ),
            "{html}"
        );
    }

    #[test]
    fn chrome_headings_only_cut_after_the_body() {
        // An official notice starts with the word THÔNG BÁO: that is the document, not chrome.
        let page = r#"<div class="content">
            <p style="text-align:center"><strong>THÔNG BÁO</strong></p>
            <p>Kết luận của Bộ Chính trị về tiếp tục thực hiện Nghị quyết số 25 về tăng cường
               và đổi mới sự lãnh đạo của Đảng đối với công tác dân vận trong tình hình mới.</p>
            <p>Xem <b>Bình luận</b> của chuyên gia ở phần sau của văn bản.</p>
            <p>Các cấp ủy đảng tổ chức quán triệt, triển khai thực hiện nghiêm túc.</p>
            <div><b>Ý kiến của bạn</b></div>
            <p>Thông báo: Ý kiến của bạn sẽ được biên tập trước khi đăng.</p>
            </div>"#;
        let page = extract_article(
            page.as_bytes(),
            None,
            &url("https://dangcongsan.vn/van-ban/thong-bao-123456.html"),
            Some(&article_rules("div.content")),
            ctx(),
        )
        .unwrap();
        let body = body_text(&page);
        assert!(
            body.starts_with("THÔNG BÁO Kết luận của Bộ Chính trị"),
            "{body}"
        );
        assert!(body.contains("Xem Bình luận của chuyên gia"), "{body}");
        assert!(body.contains("triển khai thực hiện nghiêm túc"), "{body}");
        assert!(!body.contains("biên tập trước khi đăng"), "{body}");
    }
}
