//! Every article once: across polls, across sources, through changes, tracking parameters and
//! missing guids; text normalized once at ingest; syndicated copies linked into one story;
//! pruned articles never come back.

use crate::common::*;
use bantin::store::StoredArticle;
use chrono::{Duration as Days, Utc};

#[tokio::test]
async fn same_feed_twice_stores_each_article_once() {
    let srv = Server::start().await;
    let body = rss(&[
        item(
            "Tăng cường công tác dân vận",
            "https://bao.example.vn/a-1.html",
            Some("1"),
            "Sat, 22 Aug 2026 23:55:31 +0700",
        ),
        item(
            "Hội nghị Trung ương",
            "https://bao.example.vn/a-2.html",
            Some("2"),
            "Sat, 22 Aug 2026 20:00:00 +0700",
        ),
    ]
    .concat());
    srv.set("/rss", Route::feed(body));
    let env = Env::new(&source("a", &srv.url("/rss"), ""));
    let ing = env.ingestor().await;

    let r = poll(&ing, &["a"]).await;
    assert_eq!(
        r[0].outcome.to_string(),
        "new: 2 new, 0 updated, 0 unchanged"
    );
    let r = poll(&ing, &["a"]).await;
    assert_eq!(
        r[0].outcome.to_string(),
        "unchanged: 0 new, 0 updated, 2 unchanged"
    );
    let list = articles(&ing);
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].title, "Tăng cường công tác dân vận");
    assert_eq!(list[0].published.to_rfc3339(), "2026-08-22T23:55:31+07:00");
    assert_eq!(list[0].sources, vec!["a"]);
}

/// An RSS item written out in full; `None` leaves the element out.
fn raw_item(
    title: Option<&str>,
    link: Option<&str>,
    guid: Option<&str>,
    pub_date: Option<&str>,
    description: &str,
) -> String {
    let mut s = String::from("<item>\n");
    if let Some(t) = title {
        s += &format!("  <title>{t}</title>\n");
    }
    if let Some(l) = link {
        s += &format!("  <link>{l}</link>\n");
    }
    if let Some(g) = guid {
        s += &format!("  <guid isPermaLink=\"false\">{g}</guid>\n");
    }
    if let Some(d) = pub_date {
        s += &format!("  <pubDate>{d}</pubDate>\n");
    }
    s += &format!("  <description><![CDATA[{description}]]></description>\n</item>\n");
    s
}

fn by_url<'a>(list: &'a [StoredArticle], url: &str) -> &'a StoredArticle {
    list.iter()
        .find(|a| a.url.as_deref() == Some(url))
        .unwrap_or_else(|| {
            panic!(
                "no article with url {url}; stored: {:#?}",
                list.iter().map(|a| &a.url).collect::<Vec<_>>()
            )
        })
}

#[tokio::test]
async fn one_url_in_two_sources_is_one_article_with_both_sources_in_first_seen_order() {
    let srv = Server::start().await;
    let link = "https://baochinhphu.vn/thu-tuong-chu-tri-phien-hop-chinh-phu-thuong-ky-102260822211500001.htm";
    let title = "Thủ tướng chủ trì phiên họp Chính phủ thường kỳ tháng 8";
    let date = "Sat, 22 Aug 2026 21:15:00 +0700";
    // The site's home feed and one of its category feeds carry the same article; one gives a
    // guid, the other none.
    srv.set(
        "/rss/home.rss",
        Route::feed(rss(&item(title, link, Some("102260822211500001"), date))),
    );
    srv.set(
        "/rss/thoi-su.rss",
        Route::feed(rss(&item(title, link, None, date))),
    );
    // Ids chosen so that alphabetical order is the opposite of first-seen order.
    let env = Env::new(
        &[
            source("trang-chu", &srv.url("/rss/home.rss"), ""),
            source("thoi-su", &srv.url("/rss/thoi-su.rss"), ""),
        ]
        .concat(),
    );
    let ing = env.ingestor().await;

    let first = poll(&ing, &["trang-chu"]).await;
    assert_eq!(
        first[0].outcome.to_string(),
        "new: 1 new, 0 updated, 0 unchanged"
    );
    let second = poll(&ing, &["thoi-su"]).await;
    assert!(
        second[0].outcome.to_string().contains(": 0 new,"),
        "{}",
        second[0].outcome
    );

    let list = articles(&ing);
    assert_eq!(list.len(), 1, "{list:#?}");
    assert_eq!(list[0].title, title);
    assert_eq!(
        list[0].sources,
        vec!["trang-chu", "thoi-su"],
        "sources in the order they first carried it"
    );
    let states = ing.states().await.unwrap();
    assert_eq!(
        states
            .iter()
            .map(|s| (s.id.as_str(), s.articles))
            .collect::<Vec<_>>(),
        vec![("trang-chu", 1), ("thoi-su", 1)]
    );
}

#[tokio::test]
async fn a_changed_item_is_updated_in_place() {
    let srv = Server::start().await;
    let link = "https://nhandan.vn/hoi-nghi-trung-uong-post870001.html";
    let date = Some("Fri, 21 Aug 2026 23:19:06 +07:00");
    let before = raw_item(
        Some("Khai mạc Hội nghị Trung ương"),
        Some(link),
        Some("870001"),
        date,
        "<p>Sáng nay khai mạc.</p>",
    ) + &raw_item(
        Some("Tin khác"),
        Some("https://nhandan.vn/tin-khac-post870002.html"),
        Some("870002"),
        date,
        "<p>Khác.</p>",
    );
    let after = raw_item(
        Some("Khai mạc trọng thể Hội nghị lần thứ 15 Ban Chấp hành Trung ương"),
        Some(link),
        Some("870001"),
        date,
        "<p>Sáng nay khai mạc trọng thể; Tổng Bí thư phát biểu.</p>",
    ) + &raw_item(
        Some("Tin khác"),
        Some("https://nhandan.vn/tin-khac-post870002.html"),
        Some("870002"),
        date,
        "<p>Khác.</p>",
    );
    srv.set("/rss", Route::feed(rss(&before)));
    let env = Env::new(&source("nhandan", &srv.url("/rss"), ""));
    let ing = env.ingestor().await;

    assert_eq!(
        poll(&ing, &["nhandan"]).await[0].outcome.to_string(),
        "new: 2 new, 0 updated, 0 unchanged"
    );
    let old = by_url(&articles(&ing), link).clone();
    assert_eq!(old.updated, None);

    srv.set("/rss", Route::feed(rss(&after)));
    assert_eq!(
        poll(&ing, &["nhandan"]).await[0].outcome.to_string(),
        "updated: 0 new, 1 updated, 1 unchanged"
    );

    let list = articles(&ing);
    assert_eq!(list.len(), 2);
    let new = by_url(&list, link);
    assert_eq!(new.id, old.id, "updated in place, not stored again");
    assert_eq!(
        new.title,
        "Khai mạc trọng thể Hội nghị lần thứ 15 Ban Chấp hành Trung ương"
    );
    assert!(
        new.summary_html
            .as_deref()
            .unwrap_or("")
            .contains("Tổng Bí thư phát biểu"),
        "{:?}",
        new.summary_html
    );
    assert!(
        new.updated.is_some(),
        "`updated` set on the changed article"
    );
    assert_eq!(new.first_seen, old.first_seen);
    assert_eq!(new.published, old.published);
    assert_eq!(
        by_url(&list, "https://nhandan.vn/tin-khac-post870002.html").updated,
        None,
        "the unchanged one keeps no `updated`"
    );
}

#[tokio::test]
async fn tracking_parameters_scheme_and_www_do_not_make_another_article() {
    let srv = Server::start().await;
    let title = "Quốc hội thông qua Luật Đất đai sửa đổi";
    let date = "Sat, 22 Aug 2026 10:00:00 +0700";
    // One site lists the same article in three category feeds, each with its own spelling of the
    // link (the last one padded with newlines, as VnExpress's CMS does).
    let spellings = [
        ("/rss/tin-moi-nhat.rss", "https://vnexpress.net/quoc-hoi-thong-qua-luat-dat-dai-4924561.html?utm_source=rss&amp;utm_medium=x"),
        ("/rss/thoi-su.rss", "https://vnexpress.net/quoc-hoi-thong-qua-luat-dat-dai-4924561.html?at_medium=RSS&amp;at_campaign=rss"),
        ("/rss/phap-luat.rss", "\n      http://www.vnexpress.net/quoc-hoi-thong-qua-luat-dat-dai-4924561.html\n    "),
    ];
    let mut config = String::new();
    for (i, (path, link)) in spellings.iter().enumerate() {
        srv.set(
            path,
            Route::feed(rss(&raw_item(
                Some(title),
                Some(link),
                None,
                Some(date),
                "<p>Tóm tắt.</p>",
            ))),
        );
        config += &source(&format!("vnexpress-{i}"), &srv.url(path), "");
    }
    let env = Env::new(&config);
    let ing = env.ingestor().await;

    let r = poll(&ing, &["vnexpress-0"]).await;
    assert_eq!(
        r[0].outcome.to_string(),
        "new: 1 new, 0 updated, 0 unchanged"
    );
    for id in ["vnexpress-1", "vnexpress-2"] {
        let r = poll(&ing, &[id]).await;
        assert!(
            r[0].outcome.to_string().contains(": 0 new,"),
            "{id}: {}",
            r[0].outcome
        );
    }
    let list = articles(&ing);
    assert_eq!(list.len(), 1, "{list:#?}");
    assert_eq!(
        list[0].canonical_url.as_deref(),
        Some("https://vnexpress.net/quoc-hoi-thong-qua-luat-dat-dai-4924561.html")
    );
    assert_eq!(list[0].sources.len(), 3, "{:?}", list[0].sources);
}

#[tokio::test]
async fn items_without_guid_are_recognized_by_link() {
    let srv = Server::start().await;
    // Tuổi Trẻ style: no <guid>, month-first 12-hour dates with U+202F before PM.
    let a = raw_item(
        Some("<![CDATA[Bộ Chính trị ban hành quy định mới]]>"),
        Some("https://tuoitre.vn/bo-chinh-tri-ban-hanh-quy-dinh-moi-20260822215000001.htm"),
        None,
        Some("8/22/2026 9:50:00\u{202f}PM"),
        "<p>a</p>",
    );
    let b = raw_item(
        Some("<![CDATA[TP.HCM khởi công tuyến metro số 2]]>"),
        Some("https://tuoitre.vn/tp-hcm-khoi-cong-tuyen-metro-so-2-20260822200000002.htm"),
        None,
        Some("8/22/2026 8:00:00\u{202f}PM"),
        "<p>b</p>",
    );
    let c = raw_item(
        Some("<![CDATA[Hà Nội mở rộng phố đi bộ]]>"),
        Some("https://tuoitre.vn/ha-noi-mo-rong-pho-di-bo-20260823060000003.htm"),
        None,
        Some("8/23/2026 6:00:00\u{202f}AM"),
        "<p>c</p>",
    );
    srv.set(
        "/rss_no_guid.rss",
        Route::feed(rss(&[a.clone(), b.clone()].concat())),
    );
    let env = Env::new(&source(
        "tuoitre",
        &srv.url("/rss_no_guid.rss"),
        "date_order = \"mdy\"",
    ));
    let ing = env.ingestor().await;

    assert_eq!(
        poll(&ing, &["tuoitre"]).await[0].outcome.to_string(),
        "new: 2 new, 0 updated, 0 unchanged"
    );
    // Next poll: a newer item on top, the two known ones below it.
    srv.set("/rss_no_guid.rss", Route::feed(rss(&[c, a, b].concat())));
    assert_eq!(
        poll(&ing, &["tuoitre"]).await[0].outcome.to_string(),
        "new: 1 new, 0 updated, 2 unchanged"
    );
    let list = articles(&ing);
    assert_eq!(list.len(), 3);
    assert!(
        list.iter().all(|a| a.guid.is_none()),
        "no guid invented: {list:#?}"
    );
}

#[tokio::test]
async fn items_sharing_one_link_are_told_apart_by_guid() {
    let srv = Server::start().await;
    // A CMS quirk: every item links to the site's home page; only the guids differ.
    let home = "https://hanoimoi.vn/";
    let date = Some("Sat, 22 Aug 2026 09:00:00 +0700");
    let items = [
        raw_item(
            Some("Hà Nội triển khai chuyển đổi số"),
            Some(home),
            Some("hnm-1001"),
            date,
            "<p>1</p>",
        ),
        raw_item(
            Some("Thủ đô chuẩn bị Đại hội Đảng bộ"),
            Some(home),
            Some("hnm-1002"),
            date,
            "<p>2</p>",
        ),
        raw_item(
            Some("Người dân góp ý dự thảo văn kiện"),
            Some(home),
            Some("hnm-1003"),
            date,
            "<p>3</p>",
        ),
    ]
    .concat();
    srv.set("/rss_shared_link.rss", Route::feed(rss(&items)));
    let env = Env::new(&source("hanoimoi", &srv.url("/rss_shared_link.rss"), ""));
    let ing = env.ingestor().await;

    assert_eq!(
        poll(&ing, &["hanoimoi"]).await[0].outcome.to_string(),
        "new: 3 new, 0 updated, 0 unchanged"
    );
    assert_eq!(
        poll(&ing, &["hanoimoi"]).await[0].outcome.to_string(),
        "unchanged: 0 new, 0 updated, 3 unchanged"
    );
    let list = articles(&ing);
    let mut titles: Vec<&str> = list.iter().map(|a| a.title.as_str()).collect();
    titles.sort();
    assert_eq!(
        titles,
        [
            "Hà Nội triển khai chuyển đổi số",
            "Người dân góp ý dự thảo văn kiện",
            "Thủ đô chuẩn bị Đại hội Đảng bộ"
        ]
    );
}

#[tokio::test]
async fn items_without_link_or_guid_are_recognized_by_title_and_date() {
    let srv = Server::start().await;
    // The same notice every week: same title, another date, so another article.
    let items = [
        raw_item(
            Some("Thông báo lịch tiếp công dân"),
            None,
            None,
            Some("Mon, 17 Aug 2026 08:00:00 +0700"),
            "<p>Tuần 34.</p>",
        ),
        raw_item(
            Some("Thông báo lịch tiếp công dân"),
            None,
            None,
            Some("Mon, 24 Aug 2026 08:00:00 +0700"),
            "<p>Tuần 35.</p>",
        ),
        raw_item(
            Some("Kết quả kỳ họp thứ 10"),
            None,
            None,
            Some("Tue, 25 Aug 2026 16:00:00 +0700"),
            "<p>Kết quả.</p>",
        ),
    ]
    .concat();
    srv.set("/rss_no_link_no_guid.rss", Route::feed(rss(&items)));
    let env = Env::new(&source(
        "cong-thong-tin",
        &srv.url("/rss_no_link_no_guid.rss"),
        "",
    ));
    let ing = env.ingestor().await;

    assert_eq!(
        poll(&ing, &["cong-thong-tin"]).await[0].outcome.to_string(),
        "new: 3 new, 0 updated, 0 unchanged"
    );
    assert_eq!(
        poll(&ing, &["cong-thong-tin"]).await[0].outcome.to_string(),
        "unchanged: 0 new, 0 updated, 3 unchanged"
    );
    let list = articles(&ing);
    assert_eq!(list.len(), 3);
    let notices: Vec<String> = list
        .iter()
        .filter(|a| a.title == "Thông báo lịch tiếp công dân")
        .map(|a| a.published.to_rfc3339())
        .collect();
    assert_eq!(notices.len(), 2, "{list:#?}");
    assert!(list.iter().all(|a| a.url.is_none() && a.guid.is_none()));
}

#[tokio::test]
async fn placeholder_items_are_dropped_and_counted() {
    let srv = Server::start().await;
    let date = "Sat, 22 Aug 2026 12:00:00 +0700";
    let items = [
        item(
            "Tin thứ nhất",
            "https://vnexpress.net/tin-thu-nhat-4924001.html",
            Some("4924001"),
            date,
        ),
        // What VnExpress leaves in its feed now and then: an item with nothing in it.
        "<item>\n  <title>\n  </title>\n  <link></link>\n  <description></description>\n</item>\n"
            .to_string(),
        item(
            "Tin thứ hai",
            "https://vnexpress.net/tin-thu-hai-4924002.html",
            Some("4924002"),
            date,
        ),
    ]
    .concat();
    srv.set("/rss_placeholder_item.rss", Route::feed(rss(&items)));
    let env = Env::new(&source(
        "vnexpress",
        &srv.url("/rss_placeholder_item.rss"),
        "",
    ));
    let ing = env.ingestor().await;

    let r = poll(&ing, &["vnexpress"]).await;
    assert_eq!(
        r[0].outcome.to_string(),
        "new: 2 new, 0 updated, 0 unchanged, 1 placeholder items dropped"
    );
    let list = articles(&ing);
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|a| !a.title.is_empty()));
}

#[tokio::test]
async fn titles_are_stored_as_clean_nfc_text() {
    let srv = Server::start().await;
    // (title element content as the feed writes it, title as stored)
    let cases: &[(&str, &str)] = &[
        // NFD, and the marks of ộ in the order dot below then circumflex.
        (
            "Ho\u{323}\u{302}i nghi\u{323} ba\u{300}n thông đie\u{302}\u{323}p cu\u{309}a Chu\u{309} ti\u{323}ch",
            "H\u{1ed9}i ngh\u{1ecb} b\u{e0}n th\u{f4}ng \u{111}i\u{1ec7}p c\u{1ee7}a Ch\u{1ee7} t\u{1ecb}ch",
        ),
        // VTV writes Đ as U+00D0 (and đ as U+00F0).
        ("\u{d0}ại hội \u{f0}ại biểu \u{d0}ảng bộ tỉnh", "\u{110}ại hội \u{111}ại biểu \u{110}ảng bộ tỉnh"),
        // Thanh Niên: entities left inside CDATA, and CDATA padded with newlines.
        (
            "\n      <![CDATA[ Đầu năm đ&atilde; c&oacute; 5.000 lao động mất việc ]]>\n    ",
            "Đầu năm đã có 5.000 lao động mất việc",
        ),
        // VnExpress double-escapes: after XML parsing `&amp;` is left, decoded once more to `&`.
        ("Lynk &amp;amp; Co ra mắt mẫu xe mới", "Lynk & Co ra mắt mẫu xe mới"),
        // Zero-width spaces and a no-break space.
        ("Dự kiến \u{200b}\u{200b}tổ chức\u{a0}lễ kỷ niệm", "Dự kiến tổ chức lễ kỷ niệm"),
    ];
    let items: String = cases
        .iter()
        .enumerate()
        .map(|(i, (raw, _))| {
            raw_item(
                Some(raw),
                Some(&format!("https://bao.example.vn/tin-{i}.html")),
                None,
                Some("Sat, 22 Aug 2026 12:00:00 +0700"),
                "<p>x</p>",
            )
        })
        .collect();
    srv.set("/rss_messy_text.rss", Route::feed(rss(&items)));
    let env = Env::new(&source("bao", &srv.url("/rss_messy_text.rss"), ""));
    let ing = env.ingestor().await;
    poll(&ing, &["bao"]).await;

    let list = articles(&ing);
    for (i, (raw, expected)) in cases.iter().enumerate() {
        let stored = &by_url(&list, &format!("https://bao.example.vn/tin-{i}.html")).title;
        assert_eq!(
            stored,
            expected,
            "title written as {raw:?} stored as {stored:?} ({:x?})",
            stored.chars().map(u32::from).collect::<Vec<_>>()
        );
    }
}

#[tokio::test]
async fn summaries_are_cleaned_like_titles() {
    let srv = Server::start().await;
    let summary =
        "<p>\u{d0}ại hội thông qua Nghi\u{323} quyê\u{301}t\u{200b} về công tác dân vận.</p>";
    srv.set(
        "/rss",
        Route::feed(rss(&raw_item(
            Some("Đại hội"),
            Some("https://vtv.vn/dai-hoi-2026082212.htm"),
            None,
            Some("Sat, 22 Aug 2026 23:13:00 +07"),
            summary,
        ))),
    );
    let env = Env::new(&source("vtv", &srv.url("/rss"), ""));
    let ing = env.ingestor().await;
    poll(&ing, &["vtv"]).await;

    let stored = articles(&ing)[0].summary_html.clone().unwrap_or_default();
    assert!(
        stored.contains("\u{110}ại hội thông qua Ngh\u{1ecb} quy\u{1ebf}t về công tác dân vận."),
        "summary not cleaned (NFC, Đ impostor, zero-width space): {stored:?}"
    );
}

#[tokio::test]
async fn syndicated_copies_share_a_story() {
    let srv = Server::start().await;
    let long = "Thủ tướng chủ trì hội nghị hòa giải tranh chấp đất đai";
    let late = "Chính phủ ban hành nghị định mới về quản lý thuế";
    let short = "Tin tức";
    // Báo Chính phủ publishes first...
    let bcp = [
        item(
            long,
            "https://baochinhphu.vn/thu-tuong-chu-tri-hoi-nghi-102260822090000001.htm",
            None,
            "Sat, 22 Aug 2026 09:00:00 +0700",
        ),
        item(
            late,
            "https://baochinhphu.vn/nghi-dinh-moi-ve-quan-ly-thue-102260817080000002.htm",
            None,
            "Mon, 17 Aug 2026 08:00:00 +0700",
        ),
        item(
            short,
            "https://baochinhphu.vn/tin-tuc-102260822100000003.htm",
            None,
            "Sat, 22 Aug 2026 10:00:00 +0700",
        ),
    ]
    .concat();
    // ...VTV carries the same titles on its own site: one 3 hours later (in the old tone-mark
    // style, `hoà`), one 5 days later, and the generic short one the same day.
    let vtv = [
        item(
            "Thủ tướng chủ trì hội nghị hoà giải tranh chấp đất đai",
            "https://vtv.vn/chinh-tri/thu-tuong-chu-tri-hoi-nghi-20260822120000001.htm",
            None,
            "Sat, 22 Aug 2026 12:00:00 +07",
        ),
        item(
            late,
            "https://vtv.vn/kinh-te/nghi-dinh-moi-ve-quan-ly-thue-20260822080000002.htm",
            None,
            "Sat, 22 Aug 2026 08:00:00 +07",
        ),
        item(
            short,
            "https://vtv.vn/tin-tuc-20260822110000003.htm",
            None,
            "Sat, 22 Aug 2026 11:00:00 +07",
        ),
    ]
    .concat();
    srv.set("/baochinhphu.rss", Route::feed(rss(&bcp)));
    srv.set("/vtv.rss", Route::feed(rss(&vtv)));
    let env = Env::new(
        &[
            source("baochinhphu", &srv.url("/baochinhphu.rss"), ""),
            source("vtv", &srv.url("/vtv.rss"), ""),
        ]
        .concat(),
    );
    let ing = env.ingestor().await;
    poll(&ing, &["baochinhphu"]).await;
    poll(&ing, &["vtv"]).await;

    let list = articles(&ing);
    assert_eq!(
        list.len(),
        6,
        "copies on other sites are articles of their own: {list:#?}"
    );
    let story = |url: &str| by_url(&list, url).story;
    assert_eq!(
        story("https://vtv.vn/chinh-tri/thu-tuong-chu-tri-hoi-nghi-20260822120000001.htm"),
        story("https://baochinhphu.vn/thu-tuong-chu-tri-hoi-nghi-102260822090000001.htm"),
        "same title on two sites 3 hours apart: one story"
    );
    assert_ne!(
        story("https://vtv.vn/kinh-te/nghi-dinh-moi-ve-quan-ly-thue-20260822080000002.htm"),
        story("https://baochinhphu.vn/nghi-dinh-moi-ve-quan-ly-thue-102260817080000002.htm"),
        "5 days apart: another story"
    );
    assert_ne!(
        story("https://vtv.vn/tin-tuc-20260822110000003.htm"),
        story("https://baochinhphu.vn/tin-tuc-102260822100000003.htm"),
        "a short generic title links nothing"
    );
}

#[tokio::test]
async fn pruned_articles_are_not_stored_again() {
    let srv = Server::start().await;
    let body = rss(&[
        item(
            "Tin một",
            "https://sggp.org.vn/tin-mot-post800001.html",
            Some("800001"),
            "Sat, 22 Aug 2026 08:00:00 +07:00",
        ),
        item(
            "Tin hai",
            "https://sggp.org.vn/tin-hai-post800002.html",
            Some("800002"),
            "Sat, 22 Aug 2026 09:00:00 +07:00",
        ),
    ]
    .concat());
    srv.set("/rss", Route::feed(body));
    let env = Env::new(&source("sggp", &srv.url("/rss"), ""));
    let ing = env.ingestor().await;
    assert_eq!(
        poll(&ing, &["sggp"]).await[0].outcome.to_string(),
        "new: 2 new, 0 updated, 0 unchanged"
    );

    let pruned = ing
        .store
        .prune(Utc::now() + Days::days(365 * 100), false)
        .unwrap();
    assert_eq!(pruned.articles, 2);
    assert!(articles(&ing).is_empty());

    let r = poll(&ing, &["sggp"]).await;
    assert_eq!(
        r[0].outcome.to_string(),
        "unchanged: 0 new, 0 updated, 0 unchanged, 2 pruned earlier"
    );
    assert!(
        articles(&ing).is_empty(),
        "pruned articles came back: {:#?}",
        articles(&ing)
    );
    assert_eq!(ing.store.article_count().unwrap(), 0);
}

#[tokio::test]
async fn html_is_sanitized_before_storing() {
    let srv = Server::start().await;
    let description = concat!(
        r#"<p onclick="steal()">Nội dung <b>chính</b><script>alert('x')</script> "#,
        r#"<a href="javascript:alert(1)">xem thêm</a> <a href="https://nhandan.vn/bai-khac.html">bài khác</a>"#,
        r#"<img src="https://nhandan.vn/anh.jpg" onerror="hack()"></p><style>body{display:none}</style>"#,
        r#"<iframe src="https://evil.example/"></iframe>"#,
    );
    let item = format!(
        "<item><title>Bài có mã độc</title><link>https://nhandan.vn/bai-co-ma-doc-post1.html</link>\
         <pubDate>Sat, 22 Aug 2026 12:00:00 +07:00</pubDate>\
         <description><![CDATA[{description}]]></description>\
         <content:encoded><![CDATA[<div onmouseover=\"x()\">Toàn văn<script src=\"https://evil.example/x.js\"></script></div>]]></content:encoded></item>"
    );
    let body = rss(&item).replace(
        "<rss version=\"2.0\">",
        "<rss version=\"2.0\" xmlns:content=\"http://purl.org/rss/1.0/modules/content/\">",
    );
    srv.set("/rss_script_in_description.rss", Route::feed(body));
    let env = Env::new(&source(
        "nhandan",
        &srv.url("/rss_script_in_description.rss"),
        "",
    ));
    let ing = env.ingestor().await;
    poll(&ing, &["nhandan"]).await;

    let a = &articles(&ing)[0];
    let summary = a.summary_html.as_deref().unwrap_or_default();
    for bad in [
        "<script",
        "alert",
        "onclick",
        "javascript:",
        "onerror",
        "<style",
        "display:none",
        "<iframe",
        "evil.example",
    ] {
        assert!(!summary.contains(bad), "summary keeps {bad:?}: {summary}");
    }
    for good in [
        "Nội dung",
        "<b>chính</b>",
        "xem thêm",
        "https://nhandan.vn/bai-khac.html",
        "https://nhandan.vn/anh.jpg",
    ] {
        assert!(summary.contains(good), "summary lost {good:?}: {summary}");
    }
    let content = a.content_html.as_deref().unwrap_or_default();
    assert!(content.contains("Toàn văn"), "{content}");
    for bad in ["<script", "onmouseover", "evil.example"] {
        assert!(!content.contains(bad), "content keeps {bad:?}: {content}");
    }
}

/// How many stored articles carry each title, sorted by title.
fn title_counts(ing: &bantin::daemon::Ingestor) -> Vec<(String, usize)> {
    let mut counts = std::collections::BTreeMap::new();
    for a in articles(ing) {
        *counts.entry(a.title).or_insert(0) += 1;
    }
    counts.into_iter().collect()
}

fn counts(list: &[(&str, usize)]) -> Vec<(String, usize)> {
    let mut v: Vec<(String, usize)> = list.iter().map(|(t, n)| (t.to_string(), *n)).collect();
    v.sort();
    v
}

const A_TITLE: &str = "Tăng cường công tác dân vận ở cơ sở";
const A_LINK: &str = "https://tuoitre.vn/tang-cuong-cong-tac-dan-van-20261128.htm";
const A_DATE: &str = "Sat, 28 Nov 2026 09:00:00 +0700";
const B_TITLE: &str = "Hội nghị Ban Chấp hành Trung ương";

#[tokio::test]
async fn an_item_repeated_word_for_word_is_one_article() {
    // Tuổi Trẻ items carry no guid; a later poll served the same item twice.
    let srv = Server::start().await;
    let a = raw_item(Some(A_TITLE), Some(A_LINK), None, Some(A_DATE), "<p>a</p>");
    srv.set("/rss", Route::feed(rss(&a)));
    let env = Env::new(&source("tuoitre", &srv.url("/rss"), ""));
    let ing = env.ingestor().await;
    assert_eq!(
        poll(&ing, &["tuoitre"]).await[0].outcome.to_string(),
        "new: 1 new, 0 updated, 0 unchanged"
    );

    let b = raw_item(
        Some(B_TITLE),
        Some("https://tuoitre.vn/hoi-nghi-trung-uong-20261129.htm"),
        None,
        Some(A_DATE),
        "<p>b</p>",
    );
    srv.set("/rss", Route::feed(rss(&[b, a.clone(), a].concat())));
    assert_eq!(
        poll(&ing, &["tuoitre"]).await[0].outcome.to_string(),
        "new: 1 new, 0 updated, 1 unchanged"
    );
    assert_eq!(title_counts(&ing), counts(&[(A_TITLE, 1), (B_TITLE, 1)]));
    // A first poll that already repeats it stores it once too.
    let env = Env::new(&source("tuoitre", &srv.url("/rss"), ""));
    let ing = env.ingestor().await;
    assert_eq!(
        poll(&ing, &["tuoitre"]).await[0].outcome.to_string(),
        "new: 2 new, 0 updated, 0 unchanged"
    );
    assert_eq!(title_counts(&ing), counts(&[(A_TITLE, 1), (B_TITLE, 1)]));
}

#[tokio::test]
async fn a_link_shared_in_one_poll_and_not_in_another_keeps_one_article() {
    let srv = Server::start().await;
    let a = raw_item(Some(A_TITLE), Some(A_LINK), None, Some(A_DATE), "<p>a</p>");
    // A different item pointing at the same page (a CMS glitch).
    let other = raw_item(Some(B_TITLE), Some(A_LINK), None, Some(A_DATE), "<p>b</p>");
    srv.set("/rss", Route::feed(rss(&a)));
    let env = Env::new(&source("tuoitre", &srv.url("/rss"), ""));
    let ing = env.ingestor().await;
    poll(&ing, &["tuoitre"]).await;
    // Now the link is shared: A is still the article known under it.
    srv.set(
        "/rss",
        Route::feed(rss(&[a.clone(), other.clone()].concat())),
    );
    assert_eq!(
        poll(&ing, &["tuoitre"]).await[0].outcome.to_string(),
        "new: 1 new, 0 updated, 1 unchanged"
    );
    assert_eq!(title_counts(&ing), counts(&[(A_TITLE, 1), (B_TITLE, 1)]));
    // And the other way round: shared first, then not.
    let env = Env::new(&source("tuoitre", &srv.url("/rss"), ""));
    let ing = env.ingestor().await;
    poll(&ing, &["tuoitre"]).await;
    srv.set("/rss", Route::feed(rss(&a)));
    assert_eq!(
        poll(&ing, &["tuoitre"]).await[0].outcome.to_string(),
        "unchanged: 0 new, 0 updated, 1 unchanged"
    );
    assert_eq!(title_counts(&ing), counts(&[(A_TITLE, 1), (B_TITLE, 1)]));
}
