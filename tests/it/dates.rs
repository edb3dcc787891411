//! Publication dates as Vietnamese outlets write them (README, "Vietnamese text and dates"), through the whole
//! pipeline: fetched, parsed with the source's zone and day/month order, stored, read back.

use crate::common::*;
use bantin::store::StoredArticle;
use chrono::{Duration as Span, FixedOffset, TimeZone, Utc};

/// (raw pubDate, stored `published.to_rfc3339()`) for a source with the default day-first order.
const DMY: &[(&str, &str)] = &[
    // VnExpress, Dân Trí, VOV: RFC 822.
    (
        "Sat, 22 Aug 2026 23:55:31 +0700",
        "2026-08-22T23:55:31+07:00",
    ),
    // Thanh Niên: 2-digit year.
    ("Sun, 23 Aug 26 05:52:00 +0700", "2026-08-23T05:52:00+07:00"),
    // VTV, CafeF: `+07` is hours.
    ("Sat, 22 Aug 2026 23:13:00 +07", "2026-08-22T23:13:00+07:00"),
    // Nhân Dân, SGGP, VietnamPlus, CAND: colon offset.
    (
        "Fri, 21 Aug 2026 23:19:06 +07:00",
        "2026-08-21T23:19:06+07:00",
    ),
    // vietnambiz: `GMT+7`.
    (
        "Mon, 07 Sep 2026 19:41:53 GMT+7",
        "2026-09-07T19:41:53+07:00",
    ),
    // VnExpress-style pages: Vietnamese weekday, day/month/year.
    (
        "Thứ 5, 28/05/2026 17:00:00 GMT+7",
        "2026-05-28T17:00:00+07:00",
    ),
    // BBC Tiếng Việt: GMT.
    ("Sat, 22 Aug 2026 10:06:43 GMT", "2026-08-22T10:06:43+00:00"),
    // A wrong weekday (23 August 2026 is a Sunday) is skipped, not checked.
    (
        "Sat, 23 Aug 2026 05:00:00 +0700",
        "2026-08-23T05:00:00+07:00",
    ),
    // Numeric, zone-less, day first: 8 September, local time.
    ("8/9/2026 09:15", "2026-09-08T09:15:00+07:00"),
];

/// The same for a source configured with `date_order = "mdy"` (Báo Chính phủ, Tuổi Trẻ).
const MDY: &[(&str, &str)] = &[
    ("8/22/2026 9:15:00 PM", "2026-08-22T21:15:00+07:00"),
    // Tuổi Trẻ: U+202F before PM.
    ("8/22/2026 9:50:00\u{202f}PM", "2026-08-22T21:50:00+07:00"),
    // Month first: 9 August.
    ("8/9/2026 9:15:00 AM", "2026-08-09T09:15:00+07:00"),
    ("8/23/2026 12:05:00 AM", "2026-08-23T00:05:00+07:00"),
    ("8/23/2026 12:30:00 PM", "2026-08-23T12:30:00+07:00"),
];

fn link(source: &str, i: usize) -> String {
    format!("https://{source}.example.vn/bai-{i}.html")
}

/// One item per raw date, linked as `link(source, i)`; `None` leaves pubDate out.
fn dated_items(source: &str, dates: &[Option<&str>]) -> String {
    dates
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let date = d
                .map(|d| format!("<pubDate>{d}</pubDate>"))
                .unwrap_or_default();
            format!(
                "<item><title>Bài số {i} của {source}</title><link>{}</link>{date}</item>\n",
                link(source, i)
            )
        })
        .collect()
}

fn find<'a>(list: &'a [StoredArticle], url: &str) -> &'a StoredArticle {
    list.iter()
        .find(|a| a.url.as_deref() == Some(url))
        .unwrap_or_else(|| panic!("{url} not stored"))
}

#[tokio::test]
async fn every_feed_date_form_is_stored_with_its_instant_and_offset() {
    let srv = Server::start().await;
    let dmy: Vec<Option<&str>> = DMY.iter().map(|(raw, _)| Some(*raw)).collect();
    let mdy: Vec<Option<&str>> = MDY.iter().map(|(raw, _)| Some(*raw)).collect();
    srv.set(
        "/rss_dates_dmy.rss",
        Route::feed(rss(&dated_items("dmy", &dmy))),
    );
    srv.set(
        "/rss_dates_mdy.rss",
        Route::feed(rss(&dated_items("mdy", &mdy))),
    );
    let env = Env::new(
        &[
            source("dmy", &srv.url("/rss_dates_dmy.rss"), ""),
            source(
                "mdy",
                &srv.url("/rss_dates_mdy.rss"),
                "date_order = \"mdy\"",
            ),
        ]
        .concat(),
    );
    let ing = env.ingestor().await;
    poll(&ing, &["dmy", "mdy"]).await;

    let list = articles(&ing);
    let mut wrong = Vec::new();
    for (source, table) in [("dmy", DMY), ("mdy", MDY)] {
        for (i, (raw, expected)) in table.iter().enumerate() {
            let a = find(&list, &link(source, i));
            let got = a.published.to_rfc3339();
            if got != *expected || a.date_guessed || a.date_raw.is_some() {
                wrong.push(format!(
                    "{source} {raw:?}: expected {expected}, stored {got} (date_guessed {}, date_raw {:?})",
                    a.date_guessed, a.date_raw
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "dates read wrong:\n{}", wrong.join("\n"));
}

#[tokio::test]
async fn atom_dates_keep_their_offsets_and_zone_less_ones_are_local() {
    let srv = Server::start().await;
    let atom = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Atom thử</title>
  <id>urn:bantin:test:atom</id>
  <updated>2026-08-22T22:00:00+07:00</updated>
  <entry>
    <title>Có cả published và updated</title>
    <id>urn:bantin:test:1</id>
    <link rel="alternate" href="https://atom.example.vn/1.html"/>
    <published>2026-08-22T21:15:00+07:00</published>
    <updated>2026-08-22T22:00:00+07:00</updated>
  </entry>
  <entry>
    <title>Chỉ có updated, giờ UTC</title>
    <id>urn:bantin:test:2</id>
    <link href="https://atom.example.vn/2.html"/>
    <updated>2026-08-22T14:15:00Z</updated>
  </entry>
  <entry>
    <title>Không ghi múi giờ</title>
    <id>urn:bantin:test:3</id>
    <link href="https://atom.example.vn/3.html"/>
    <published>2026-08-22T21:15:00</published>
  </entry>
</feed>
"#;
    srv.set(
        "/atom_rfc3339_dates.xml",
        Route::feed(atom).with_content_type("application/atom+xml"),
    );
    let env = Env::new(&source("atom", &srv.url("/atom_rfc3339_dates.xml"), ""));
    let ing = env.ingestor().await;
    let r = poll(&ing, &["atom"]).await;
    assert_eq!(
        r[0].outcome.to_string(),
        "new: 3 new, 0 updated, 0 unchanged"
    );

    let list = articles(&ing);
    for (url, expected) in [
        (
            "https://atom.example.vn/1.html",
            "2026-08-22T21:15:00+07:00",
        ),
        (
            "https://atom.example.vn/2.html",
            "2026-08-22T14:15:00+00:00",
        ),
        (
            "https://atom.example.vn/3.html",
            "2026-08-22T21:15:00+07:00",
        ),
    ] {
        let a = find(&list, url);
        assert_eq!(a.published.to_rfc3339(), expected, "{url}");
        assert!(!a.date_guessed, "{url}");
    }
}

#[tokio::test]
async fn implausible_or_unreadable_dates_fall_back_to_first_seen_and_keep_the_raw_string() {
    let srv = Server::start().await;
    let soon = FixedOffset::east_opt(7 * 3600)
        .unwrap()
        .timestamp_opt((Utc::now() + Span::hours(2)).timestamp(), 0)
        .unwrap();
    let soon_raw = soon.to_rfc2822();
    let dates = [
        Some("không rõ ngày"),
        Some("Mon, 02 Sep 2030 10:00:00 +0700"),
        Some("Mon, 03 Sep 1990 10:00:00 +0700"),
        None,
        // Two hours ahead is within a day: believed.
        Some(soon_raw.as_str()),
    ];
    srv.set(
        "/rss_bad_dates.rss",
        Route::feed(rss(&dated_items("bad", &dates))),
    );
    let env = Env::new(&source("bad", &srv.url("/rss_bad_dates.rss"), ""));
    let ing = env.ingestor().await;
    let before = Utc::now().timestamp();
    let r = poll(&ing, &["bad"]).await;
    let after = Utc::now().timestamp();
    assert_eq!(
        r[0].outcome.to_string(),
        "new: 5 new, 0 updated, 0 unchanged"
    );

    let list = articles(&ing);
    for (i, raw) in dates.iter().enumerate().take(4) {
        let a = find(&list, &link("bad", i));
        assert!(a.date_guessed, "{raw:?}: date_guessed should be true");
        assert_eq!(a.date_raw.as_deref(), *raw, "the raw date is kept");
        let published = a.published.timestamp();
        assert!(
            (before..=after).contains(&published),
            "{raw:?}: published {} is not the poll time",
            a.published
        );
        assert!(
            (published - a.first_seen.timestamp()).abs() <= 1,
            "{raw:?}: published {} vs first_seen {}",
            a.published,
            a.first_seen
        );
        assert_eq!(
            a.published.offset().local_minus_utc(),
            7 * 3600,
            "{raw:?}: shown in the source's zone"
        );
    }
    let a = find(&list, &link("bad", 4));
    assert!(!a.date_guessed, "{soon_raw:?} is plausible");
    assert_eq!(a.published.to_rfc3339(), soon.to_rfc3339());
}

#[tokio::test]
async fn json_feed_1_1_is_parsed_and_stored() {
    let srv = Server::start().await;
    let json = r#"{
  "version": "https://jsonfeed.org/version/1.1",
  "title": "Báo thử JSON",
  "home_page_url": "https://json.example.vn/",
  "language": "vi",
  "items": [
    {
      "id": "json-1",
      "url": "https://json.example.vn/tin-moi-1.html",
      "title": "Khai mạc kỳ họp thứ 10 Quốc hội khóa XV",
      "content_html": "<p>Sáng nay, Quốc hội khai mạc kỳ họp.</p>",
      "date_published": "2026-08-22T21:15:00+07:00",
      "authors": [{ "name": "Minh Anh" }]
    },
    {
      "id": "json-2",
      "url": "https://json.example.vn/tin-moi-2.html",
      "title": "Hà Nội công bố quy hoạch Thủ đô",
      "summary": "Quy hoạch mới.",
      "date_published": "2026-08-21T08:00:00+07:00",
      "date_modified": "2026-08-21T09:30:00+07:00"
    }
  ]
}"#;
    srv.set(
        "/json_feed_1_1.json",
        Route::feed(json).with_content_type("application/feed+json"),
    );
    let env = Env::new(&source("json", &srv.url("/json_feed_1_1.json"), ""));
    let ing = env.ingestor().await;
    let r = poll(&ing, &["json"]).await;
    assert_eq!(
        r[0].outcome.to_string(),
        "new: 2 new, 0 updated, 0 unchanged"
    );
    // Unchanged on the next poll: the ids and urls are stable keys.
    let r = poll(&ing, &["json"]).await;
    assert_eq!(
        r[0].outcome.to_string(),
        "unchanged: 0 new, 0 updated, 2 unchanged"
    );

    let list = articles(&ing);
    let got: Vec<(&str, String, Option<&str>)> = list
        .iter()
        .map(|a| {
            (
                a.title.as_str(),
                a.published.to_rfc3339(),
                a.guid.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "Khai mạc kỳ họp thứ 10 Quốc hội khóa XV",
                "2026-08-22T21:15:00+07:00".to_string(),
                Some("json-1")
            ),
            (
                "Hà Nội công bố quy hoạch Thủ đô",
                "2026-08-21T08:00:00+07:00".to_string(),
                Some("json-2")
            ),
        ]
    );
    assert_eq!(list[0].authors, ["Minh Anh"]);
    assert!(list[0]
        .content_html
        .as_deref()
        .unwrap_or_default()
        .contains("Quốc hội khai mạc"));
    assert_eq!(
        list[0].url.as_deref(),
        Some("https://json.example.vn/tin-moi-1.html")
    );
}
