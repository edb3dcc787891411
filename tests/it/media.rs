//! Media end to end: enclosures, Media RSS, Atom enclosure links, JSON Feed images and
//! attachments, an image only in a description, and an article page's `og:image`, served by the
//! fixture server, polled by the daemon into SQLite, and read back from its RSS, Atom and JSON
//! feeds over HTTP; hostile media (script and data URLs, huge attributes, a thousand
//! enclosures) dropped or capped.

use std::time::Duration;

use crate::common::*;
use bantin::daemon::{self, Ingestor};
use bantin::media::{Media, Medium, MAX_PER_ARTICLE};
use bantin::store::{SourceHealth, StoredArticle};
use tokio::sync::oneshot;

const WITHIN: Duration = Duration::from_secs(20);

const MEDIA_NS: &str = "http://search.yahoo.com/mrss/";

/// An RSS 2.0 document declaring the Media RSS namespace around `items`.
fn rss_with_media(items: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" xmlns:media=\"{MEDIA_NS}\">\n<channel>\n<title>Báo ảnh</title>\n<link>https://anh.example.vn/</link>\n<description>d</description>\n{items}\n</channel>\n</rss>\n"
    )
}

fn rss_item(title: &str, link: &str, inner: &str) -> String {
    format!(
        "<item><title>{title}</title><link>{link}</link><guid>{link}</guid><pubDate>Mon, 07 Dec 2026 08:00:00 +0700</pubDate>{inner}</item>\n"
    )
}

const PHOTO_AND_VIDEO: &str = "Ảnh và video lễ khai mạc";
const GROUP_ONLY: &str = "Ảnh chỉ trong media:group";
const THUMBNAIL_ONLY: &str = "Ảnh chỉ có media:thumbnail";
const DESCRIPTION_IMAGE: &str = "Ảnh chỉ nằm trong phần mô tả";
const HOSTILE: &str = "Đa phương tiện độc hại";
const ATOM_AUDIO: &str = "Bản tin phát thanh buổi sáng";
const JSON_IMAGES: &str = "Bài có ảnh bìa và tệp đính kèm";
const PAGE_IMAGE: &str = "Bài có ảnh trên trang";
const TWITTER_IMAGE: &str = "Bài chỉ có twitter:image";

fn rss_feed() -> String {
    let huge = format!("https://cdn.example.vn/{}.jpg", "a".repeat(100_000));
    let thousand: String = (0..1000)
        .map(|i| format!("<enclosure url=\"https://cdn.example.vn/nhieu/{i}.jpg\" type=\"image/jpeg\" length=\"{i}\"/>"))
        .collect();
    let items = [
        rss_item(
            PHOTO_AND_VIDEO,
            "https://anh.example.vn/khai-mac.html",
            "<description>Khai mạc.</description>\
             <enclosure url=\"https://cdn.example.vn/khai-mac.jpg?w=1200&amp;h=0\" type=\"image/jpeg\" length=\"34567\"/>\
             <media:content url=\"/video/khai-mac.mp4\" type=\"video/mp4\" fileSize=\"999\" width=\"640\" height=\"360\"/>\
             <media:thumbnail url=\"https://cdn.example.vn/khai-mac-nho.jpg\" width=\"180\" height=\"108\"/>",
        ),
        rss_item(
            GROUP_ONLY,
            "https://anh.example.vn/nhom.html",
            "<description>Nhóm.</description>\
             <media:group><media:content url=\"https://cdn.example.vn/hd\" medium=\"image\" width=\"1200\" height=\"800\"/>\
             <media:content url=\"https://cdn.example.vn/sd.jpg\" medium=\"image\"/></media:group>",
        ),
        rss_item(
            THUMBNAIL_ONLY,
            "https://anh.example.vn/thumb.html",
            "<description>Thumb.</description><media:thumbnail url=\"https://cdn.example.vn/chi-thumb.png\"/>",
        ),
        rss_item(
            DESCRIPTION_IMAGE,
            "https://anh.example.vn/mo-ta.html",
            "<description><![CDATA[<a href=\"https://anh.example.vn/mo-ta.html\"><img src=\"https://images.example.vn/zoom/600_315/mo-ta.jpg\"></a> Làn sóng mới.]]></description>",
        ),
        rss_item(
            HOSTILE,
            "https://anh.example.vn/doc-hai.html",
            &format!(
                "<description>Độc hại.</description>\
                 <enclosure url=\"javascript:alert(1)\" type=\"image/png\" length=\"1\"/>\
                 <media:content url=\"data:image/png;base64,iVBORw0KGgo=\" type=\"image/png\"/>\
                 <media:thumbnail url=\"{huge}\"/>\
                 <enclosure url=\"https://cdn.example.vn/loai.jpg\" type=\"{}\" length=\"-5\"/>\
                 {thousand}",
                "x".repeat(5000)
            ),
        ),
    ];
    rss_with_media(&items.concat())
}

fn atom_feed() -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
<title>Đài phát thanh</title><id>urn:dai</id><updated>2026-12-07T01:00:00Z</updated>
<entry><title>{ATOM_AUDIO}</title><id>urn:dai:1</id><updated>2026-12-07T01:00:00Z</updated>
<link rel="alternate" href="https://dai.example.vn/ban-tin-sang.html"/>
<link rel="enclosure" href="/audio/ban-tin-sang.mp3" type="audio/mpeg" length="123456"/>
<link rel="enclosure" href="javascript:alert(1)" type="audio/mpeg"/>
<summary>Bản tin.</summary></entry>
</feed>"#
    )
}

fn json_feed() -> String {
    serde_json::json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Báo JSON",
        "items": [{
            "id": "j1",
            "url": "https://json.example.vn/bai-1.html",
            "title": JSON_IMAGES,
            "content_html": "<p>Nội dung.</p>",
            "date_published": "2026-12-07T08:00:00+07:00",
            "image": "https://json.example.vn/anh-chinh.webp",
            "banner_image": "/anh-bia.jpg",
            "attachments": [
                {"url": "https://json.example.vn/van-ban.pdf", "mime_type": "application/pdf", "size_in_bytes": 2048},
                {"url": "data:text/html,<script>alert(1)</script>", "mime_type": "text/html"}
            ]
        }]
    })
    .to_string()
}

/// An article page: its body in `div.noi-dung`, and `head` in its head.
fn article_page(title: &str, head: &str) -> String {
    format!(
        r#"<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8"><title>{title}</title>{head}</head>
<body><h1>{title}</h1><div class="noi-dung"><p>Sáng 7-12, hội nghị đã diễn ra với sự tham dự của các đại biểu.</p></div></body></html>"#
    )
}

fn html(body: impl Into<Vec<u8>>) -> Route {
    Route::feed(body).with_content_type("text/html; charset=utf-8")
}

/// A feed whose items carry no image, and whose article pages do.
fn serve_pages(srv: &Server) -> String {
    srv.set(
        "/trang/1.html",
        html(article_page(
            PAGE_IMAGE,
            r#"<meta property="og:image" content="/og/anh-trang.jpg"><meta property="og:image:width" content="1200"><meta property="og:image:height" content="630"><meta name="twitter:image" content="https://cdn.example.vn/khong-dung.jpg">"#,
        )),
    );
    srv.set(
        "/trang/2.html",
        html(article_page(
            TWITTER_IMAGE,
            r#"<meta property="og:image" content="javascript:alert(1)"><meta name="twitter:image" content="https://cdn.example.vn/twitter.jpg">"#,
        )),
    );
    let items = [
        rss_item(
            PAGE_IMAGE,
            &srv.url("/trang/1.html"),
            "<description>Tóm tắt một.</description>",
        ),
        rss_item(
            TWITTER_IMAGE,
            &srv.url("/trang/2.html"),
            "<description>Tóm tắt hai.</description>",
        ),
    ];
    rss_with_media(&items.concat())
}

async fn fixture() -> (Server, Env) {
    let srv = Server::start().await;
    srv.set("/rss", Route::feed(rss_feed()));
    srv.set(
        "/atom",
        Route::feed(atom_feed()).with_content_type("application/atom+xml"),
    );
    srv.set(
        "/json",
        Route::feed(json_feed()).with_content_type("application/feed+json"),
    );
    let pages = serve_pages(&srv);
    srv.set("/trang.rss", Route::feed(pages));
    let sources = [
        source("anh", &srv.url("/rss"), ""),
        source("dai", &srv.url("/atom"), ""),
        source("json", &srv.url("/json"), ""),
        source(
            "trang",
            &srv.url("/trang.rss"),
            "full_text = true\n[sources.article]\ncontent = \"div.noi-dung\"\n",
        ),
    ];
    let env = Env::new(&sources.concat());
    (srv, env)
}

fn by_title<'a>(all: &'a [StoredArticle], title: &str) -> &'a StoredArticle {
    all.iter()
        .find(|a| a.title == title)
        .unwrap_or_else(|| panic!("no article {title:?}"))
}

/// (url, type, length, width, height) of each medium.
type Row = (
    String,
    Option<String>,
    Option<u64>,
    Option<u32>,
    Option<u32>,
);

fn rows(media: &[Media]) -> Vec<Row> {
    media
        .iter()
        .map(|m| {
            (
                m.url.clone(),
                m.mime_type.clone(),
                m.length,
                m.width,
                m.height,
            )
        })
        .collect()
}

fn row(url: &str, t: Option<&str>, len: Option<u64>, w: Option<u32>, h: Option<u32>) -> Row {
    (url.to_string(), t.map(str::to_string), len, w, h)
}

/// What each fixture item's article keeps, in the order readers get it.
fn assert_stored(all: &[StoredArticle], srv: &Server) {
    assert_eq!(
        rows(&by_title(all, PHOTO_AND_VIDEO).media),
        [
            row(
                "https://cdn.example.vn/khai-mac.jpg?w=1200&h=0",
                Some("image/jpeg"),
                Some(34567),
                None,
                None
            ),
            row(
                &srv.url("/video/khai-mac.mp4"),
                Some("video/mp4"),
                Some(999),
                Some(640),
                Some(360)
            ),
            row(
                "https://cdn.example.vn/khai-mac-nho.jpg",
                Some("image/jpeg"),
                None,
                Some(180),
                Some(108)
            ),
        ]
    );
    let group = &by_title(all, GROUP_ONLY).media;
    assert_eq!(
        rows(group),
        [
            row(
                "https://cdn.example.vn/hd",
                None,
                None,
                Some(1200),
                Some(800)
            ),
            row(
                "https://cdn.example.vn/sd.jpg",
                Some("image/jpeg"),
                None,
                None,
                None
            ),
        ]
    );
    assert_eq!(group[0].medium, Medium::Image);
    assert_eq!(
        rows(&by_title(all, THUMBNAIL_ONLY).media),
        [row(
            "https://cdn.example.vn/chi-thumb.png",
            Some("image/png"),
            None,
            None,
            None
        )]
    );
    assert_eq!(
        rows(&by_title(all, DESCRIPTION_IMAGE).media),
        [row(
            "https://images.example.vn/zoom/600_315/mo-ta.jpg",
            Some("image/jpeg"),
            None,
            None,
            None
        )]
    );
    // Script and data URLs and the huge one are gone; of a thousand enclosures the first
    // ones are kept, up to the cap; a type of 5,000 characters and a negative length are not.
    let hostile = &by_title(all, HOSTILE).media;
    assert_eq!(hostile.len(), MAX_PER_ARTICLE);
    assert_eq!(
        rows(&hostile[..2]),
        [
            row(
                "https://cdn.example.vn/loai.jpg",
                Some("image/jpeg"),
                None,
                None,
                None
            ),
            row(
                "https://cdn.example.vn/nhieu/0.jpg",
                Some("image/jpeg"),
                None,
                None,
                None
            ),
        ]
    );
    assert_eq!(
        hostile[MAX_PER_ARTICLE - 1].url,
        format!("https://cdn.example.vn/nhieu/{}.jpg", MAX_PER_ARTICLE - 2)
    );
    assert_eq!(
        rows(&by_title(all, ATOM_AUDIO).media),
        [row(
            &srv.url("/audio/ban-tin-sang.mp3"),
            Some("audio/mpeg"),
            Some(123456),
            None,
            None
        )]
    );
    assert_eq!(
        rows(&by_title(all, JSON_IMAGES).media),
        [
            row(
                "https://json.example.vn/anh-chinh.webp",
                Some("image/webp"),
                None,
                None,
                None
            ),
            row(
                &srv.url("/anh-bia.jpg"),
                Some("image/jpeg"),
                None,
                None,
                None
            ),
            row(
                "https://json.example.vn/van-ban.pdf",
                Some("application/pdf"),
                Some(2048),
                None,
                None
            ),
        ]
    );
    assert_eq!(
        rows(&by_title(all, PAGE_IMAGE).media),
        [row(
            &srv.url("/og/anh-trang.jpg"),
            Some("image/jpeg"),
            None,
            Some(1200),
            Some(630)
        )]
    );
    assert_eq!(
        rows(&by_title(all, TWITTER_IMAGE).media),
        [row(
            "https://cdn.example.vn/twitter.jpg",
            Some("image/jpeg"),
            None,
            None,
            None
        )]
    );
}

#[tokio::test]
async fn media_are_kept_from_every_kind_of_feed_and_page() {
    let (srv, env) = fixture().await;
    let ing = env.ingestor().await;
    poll(&ing, &["anh", "dai", "json", "trang"]).await;
    let all = articles(&ing);
    assert_eq!(
        all.len(),
        9,
        "{:?}",
        all.iter().map(|a| &a.title).collect::<Vec<_>>()
    );
    assert_stored(&all, &srv);

    // The same bytes again: nothing new, nothing lost.
    poll(&ing, &["anh", "dai", "json", "trang"]).await;
    let again = articles(&ing);
    assert_eq!(again.len(), 9);
    assert_stored(&again, &srv);
}

/// An item whose text changed is updated in place, with its new media.
#[tokio::test]
async fn an_updated_article_gets_its_new_media() {
    let srv = Server::start().await;
    let link = "https://anh.example.vn/cap-nhat.html";
    let feed = |summary: &str, image: &str| {
        rss_with_media(&rss_item(
            "Bài được cập nhật",
            link,
            &format!("<description>{summary}</description><enclosure url=\"{image}\" type=\"image/jpeg\" length=\"10\"/>"),
        ))
    };
    srv.set(
        "/rss",
        Route::feed(feed("Bản đầu.", "https://cdn.example.vn/dau.jpg")),
    );
    let env = Env::new(&source("anh", &srv.url("/rss"), ""));
    let ing = env.ingestor().await;
    poll(&ing, &["anh"]).await;
    let url = |ing: &Ingestor| {
        articles(ing)
            .iter()
            .flat_map(|a| a.media.iter().map(|m| m.url.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(url(&ing), ["https://cdn.example.vn/dau.jpg"]);
    srv.set(
        "/rss",
        Route::feed(feed("Bản sửa.", "https://cdn.example.vn/sua.jpg")),
    );
    poll(&ing, &["anh"]).await;
    assert_eq!(url(&ing), ["https://cdn.example.vn/sua.jpg"]);
}

/// The daemon serving on a listener of its own, after its first poll of every source.
struct Daemon {
    base: String,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), bantin::daemon::DaemonError>>,
}

impl Daemon {
    async fn start(env: &Env, articles_wanted: usize) -> Daemon {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut config = env.config();
        config.http.bound(listener.local_addr().unwrap());
        let base = config.http.public_url.to_string();
        let ing = Ingestor::open(config).await.unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(daemon::run(ing.clone(), Some(listener), async move {
            let _ = stopped.await;
        }));
        wait_until(
            "every source is polled, every page read",
            WITHIN,
            move || {
                let ing = ing.clone();
                async move {
                    let states = ing.states().await.unwrap();
                    let all = articles(&ing);
                    states.iter().all(|s| s.health == SourceHealth::Ok)
                        && all.len() == articles_wanted
                        && all.iter().filter(|a| !a.media.is_empty()).count() == articles_wanted
                }
            },
        )
        .await;
        Daemon { base, stop, task }
    }

    async fn get(&self, path: &str) -> Vec<u8> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let url = format!("{}{}", self.base, path.trim_start_matches('/'));
        let resp = reqwest::get(&url).await.unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{url}");
        resp.bytes().await.unwrap().to_vec()
    }

    async fn stop(self) {
        self.stop.send(()).unwrap();
        tokio::time::timeout(WITHIN, self.task)
            .await
            .expect("run did not return after shutdown")
            .unwrap()
            .expect("run returned an error");
    }
}

#[tokio::test]
async fn every_feed_format_carries_the_media_over_http() {
    let (srv, env) = fixture().await;
    let d = Daemon::start(&env, 9).await;

    // RSS: one enclosure (the first medium), every medium as media:content.
    let rss_bytes = d.get("/feed.rss").await;
    let channel = rss::Channel::read_from(&rss_bytes[..]).expect("the RSS feed reads back");
    assert_eq!(
        channel.namespaces().get("media").map(String::as_str),
        Some(MEDIA_NS)
    );
    let item = |title: &str| {
        channel
            .items()
            .iter()
            .find(|i| i.title() == Some(title))
            .unwrap_or_else(|| panic!("no item {title:?}"))
    };
    let photo = item(PHOTO_AND_VIDEO);
    let enclosure = photo.enclosure().expect("an enclosure");
    assert_eq!(
        (enclosure.url(), enclosure.mime_type(), enclosure.length()),
        (
            "https://cdn.example.vn/khai-mac.jpg?w=1200&h=0",
            "image/jpeg",
            "34567"
        )
    );
    let contents = &photo.extensions()["media"]["content"];
    let video = &contents[1];
    assert_eq!(
        (
            video.attrs()["url"].as_str(),
            video.attrs()["type"].as_str(),
            video.attrs()["fileSize"].as_str(),
            video.attrs()["width"].as_str(),
            video.attrs()["medium"].as_str()
        ),
        (
            srv.url("/video/khai-mac.mp4").as_str(),
            "video/mp4",
            "999",
            "640",
            "video"
        )
    );
    assert_eq!(contents.len(), 3);
    // An image whose format nobody named, and an article without a length.
    let group = item(GROUP_ONLY).enclosure().unwrap();
    assert_eq!(
        (group.url(), group.mime_type(), group.length()),
        ("https://cdn.example.vn/hd", "image/*", "0")
    );
    assert_eq!(
        item(HOSTILE).extensions()["media"]["content"].len(),
        MAX_PER_ARTICLE
    );
    let text = String::from_utf8(rss_bytes.clone()).unwrap();
    assert!(
        !text.contains("javascript:") && !text.contains("data:"),
        "{text}"
    );

    // Atom: every medium as a rel="enclosure" link.
    let atom_bytes = d.get("/feed.atom").await;
    let atom =
        atom_syndication::Feed::read_from(&atom_bytes[..]).expect("the Atom feed reads back");
    let entry = atom
        .entries()
        .iter()
        .find(|e| e.title().as_str() == JSON_IMAGES)
        .unwrap();
    let enclosures: Vec<(&str, Option<&str>, Option<&str>)> = entry
        .links()
        .iter()
        .filter(|l| l.rel() == "enclosure")
        .map(|l| (l.href(), l.mime_type(), l.length()))
        .collect();
    let banner = srv.url("/anh-bia.jpg");
    assert_eq!(
        enclosures,
        [
            (
                "https://json.example.vn/anh-chinh.webp",
                Some("image/webp"),
                None
            ),
            (banner.as_str(), Some("image/jpeg"), None),
            (
                "https://json.example.vn/van-ban.pdf",
                Some("application/pdf"),
                Some("2048")
            ),
        ]
    );
    // The alternate link is still the article's.
    assert_eq!(
        entry
            .links()
            .iter()
            .find(|l| l.rel() == "alternate")
            .map(|l| l.href()),
        Some("https://json.example.vn/bai-1.html")
    );

    // JSON Feed: `image` is the first image, `attachments` every medium.
    let json: serde_json::Value = serde_json::from_slice(&d.get("/feed.json").await).unwrap();
    let items = json["items"].as_array().unwrap();
    let json_item = |title: &str| {
        items
            .iter()
            .find(|i| i["title"] == title)
            .unwrap_or_else(|| panic!("no item {title:?}"))
    };
    let audio = json_item(ATOM_AUDIO);
    assert!(audio.get("image").is_none(), "audio is no image: {audio}");
    assert_eq!(
        audio["attachments"],
        serde_json::json!([{
            "url": srv.url("/audio/ban-tin-sang.mp3"),
            "mime_type": "audio/mpeg",
            "size_in_bytes": 123456
        }])
    );
    assert_eq!(
        json_item(PAGE_IMAGE)["image"],
        srv.url("/og/anh-trang.jpg").as_str()
    );
    assert_eq!(
        json_item(DESCRIPTION_IMAGE)["image"],
        "https://images.example.vn/zoom/600_315/mo-ta.jpg"
    );
    // Each format reads back with feed-rs too, with the media in place.
    for bytes in [&rss_bytes, &atom_bytes] {
        let feed = feed_rs::parser::parse(&bytes[..]).expect("feed-rs reads it");
        let photo = feed
            .entries
            .iter()
            .find(|e| {
                e.title
                    .as_ref()
                    .is_some_and(|t| t.content == PHOTO_AND_VIDEO)
            })
            .unwrap();
        let urls: Vec<String> = photo
            .media
            .iter()
            .flat_map(|m| {
                m.content
                    .iter()
                    .filter_map(|c| c.url.as_ref().map(|u| u.to_string()))
            })
            .chain(
                photo
                    .links
                    .iter()
                    .filter(|l| l.rel.as_deref() == Some("enclosure"))
                    .map(|l| l.href.clone()),
            )
            .collect();
        assert!(
            urls.iter()
                .any(|u| u == "https://cdn.example.vn/khai-mac.jpg?w=1200&h=0"),
            "{urls:?}"
        );
    }
    d.stop().await;
}
