//! A re-polled feed recognized by its items' bytes: a poll whose every item the source's feed
//! carried before, byte for byte in the same surroundings, is recorded from what reading those
//! items gave then, without reading them again (no feed-rs on the items, no identifying).
//!
//! Each item of a feed read as written ([`Listing::verbatim`]) is remembered in the store under
//! the SHA-256 of its bytes, the document outside its items and `context` ([`feed::items`]),
//! with the identity keys and content hash identifying it gave. What an item reads to depends
//! only on what that hash covers: its own bytes; the document around it (namespaces, bases, the
//! dialect); the source's id and the body's URL (the base for its links, the host scoping its
//! guid); and the rules of reading and identifying (`RULES`, the crate's version). Dates are
//! not in the keys or the content hash (the raw date string is, which is in the item's bytes),
//! so `now` is not either.
//!
//! A poll is recalled only when every item is known, and then recorded exactly as the full
//! path records it: the full path would find each item unchanged (the store's probe for
//! unchanged items, answered by the remembered row: `store::recall` says why it is the same
//! answer) and record the keys as seen. Anything
//! else reads the document in full: an unknown item (new, edited, or re-spaced in a way
//! reading ignores), a document the shortcut is unsure of ([`feed::items`]: not plain UTF-8, a
//! DOCTYPE, anything but white space between items...), two items sharing a key (identifying
//! looks across items there: a link several items share does not identify them), an item the
//! probe finds changed in the store, an error. Only an item identified on its own (not a
//! repeat, not a shared link, not a placeholder) and stored under an article is remembered, so
//! a document holding another kind is always read in full.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::entry::{DateContext, Listing};
use super::feed;
use super::fetch::Body;
use super::kind;
use crate::config::{Source, SourceKind};
use crate::store::{Carried, Store};

/// The version of the rules of reading and identifying an item, in the hash of every item
/// remembered: a change to what an item's bytes read to (the feed reader, the identity keys, the
/// content hash) that the crate's version does not tell must change it, or items remembered
/// before would be recalled to what they read to then.
const RULES: &str = "1";

/// What a poll's recall found.
pub(crate) enum Recall {
    /// Every item known and unchanged: the keys to record as seen, in document order.
    Known(Known),
    /// Read in full; `Some` with the items' hashes when they can be remembered afterwards.
    Unknown(Option<Items>),
}

/// A recalled poll.
pub(crate) struct Known {
    /// Each item's article and identity keys, in document order.
    pub carried: Vec<Carried>,
    /// The document's poll hint.
    pub poll_hint: Option<std::time::Duration>,
}

/// The items of a document read in full, to remember once it is stored.
pub(crate) struct Items {
    hashes: Vec<[u8; 32]>,
    /// Items already remembered (they are not written again).
    known: Vec<bool>,
}

/// What else than an item's bytes and surroundings reading and identifying it depends on.
fn context(source: &Source, body: &Body) -> Vec<u8> {
    format!(
        "{RULES}\n{}\n{}\n{}\n{}\n{:?}",
        env!("CARGO_PKG_VERSION"),
        source.id,
        body.final_url,
        source.timezone.name(),
        source.date_order
    )
    .into_bytes()
}

/// Recalls `body` of `source` on a blocking thread (one of the readers: it is reading).
pub(crate) async fn look(
    store: &Store,
    source: &Source,
    body: &std::sync::Arc<Body>,
    now: DateTime<Utc>,
) -> Recall {
    if !matches!(source.kind, SourceKind::Feed { .. }) {
        return Recall::Unknown(None);
    }
    let (store, source, body) = (store.clone(), source.clone(), body.clone());
    kind::off_runtime(move || recall(&store, &source, &body, now))
        .await
        .unwrap_or(Recall::Unknown(None))
}

/// Whether every item of `body` is known for `source`, and unchanged in the store.
pub(crate) fn recall(store: &Store, source: &Source, body: &Body, now: DateTime<Utc>) -> Recall {
    let dates = DateContext::of(source, now);
    let Some(items) = feed::items(&body.bytes, &body.final_url, dates, &context(source, body))
    else {
        return Recall::Unknown(None);
    };
    // A failed lookup only costs the shortcut.
    let found = store
        .recall_items(&source.id, &items.hashes)
        .unwrap_or_default();
    let known: Vec<bool> = found.iter().map(Option::is_some).collect();
    let remember = |known| {
        Recall::Unknown(Some(Items {
            hashes: items.hashes.clone(),
            known,
        }))
    };
    if found.len() != items.hashes.len() || known.contains(&false) {
        return remember(known);
    }
    let found: Vec<_> = found.into_iter().flatten().collect();
    // Keys are SHA-256 digests: a fast hash of them is as good as SipHash.
    let mut keys =
        HashSet::with_capacity_and_hasher(found.len() * 2, foldhash::fast::FixedState::default());
    if !found.iter().flat_map(|f| &f.keys).all(|k| keys.insert(k)) {
        return remember(known);
    }
    // The store's probe, answered with the item (see `store::recall`).
    if !found.iter().all(|f| f.unchanged) {
        return remember(known);
    }
    Recall::Known(Known {
        carried: found
            .into_iter()
            .map(|f| Carried {
                article: f.article,
                keys: f.keys,
            })
            .collect(),
        poll_hint: items.poll_hint,
    })
}

impl Items {
    /// What to remember of `listing`, read in full from the document these are the items of:
    /// each item not yet remembered with what identifying it gave (`identified`, per entry).
    /// Nothing when the document was not read as written, or its entries are not its items.
    pub(crate) fn to_remember<'a>(
        &'a self,
        listing: &Listing,
        identified: &'a [Option<(Vec<String>, String)>],
    ) -> Remember<'a> {
        if !listing.verbatim
            || listing.entries.len() != self.hashes.len()
            || identified.len() != self.hashes.len()
        {
            return Remember::default();
        }
        let new = self
            .hashes
            .iter()
            .zip(&self.known)
            .zip(identified)
            .filter(|((_, known), _)| !**known)
            .filter_map(|((hash, _), id)| {
                let (keys, content_hash) = id.as_ref()?;
                Some((hash, keys.as_slice(), content_hash.as_str()))
            })
            .collect();
        Remember {
            current: &self.hashes,
            new,
        }
    }
}

/// What to remember of a document read in full: [`crate::store::Store::remember_items`].
#[derive(Default)]
pub(crate) struct Remember<'a> {
    /// The hashes of all its items: the source's only items remembered afterwards (empty:
    /// leave what is remembered as it is).
    pub current: &'a [[u8; 32]],
    /// Its items not remembered yet, with their identity keys and content hash.
    pub new: Vec<(&'a [u8; 32], &'a [String], &'a str)>,
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::TimeZone;
    use url::Url;

    use super::*;
    use crate::config::{Config, Schedule};
    use crate::ingest::{Polled, Report, Settle};
    use crate::store::SourceSpec;

    const URL: &str = "https://example.vn/rss/home.rss";

    /// A store polled as the daemon polls, recalling items or always reading them in full.
    struct Side {
        store: Store,
        config: Arc<Config>,
        recalls: bool,
        /// The span of each poll's wall-clock time, in milliseconds (the instants it records).
        polls: Vec<(i64, i64)>,
        _dir: tempfile::TempDir,
    }

    fn side(recalls: bool) -> Side {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("bantin.db");
        let path = dir.path().join("bantin.toml");
        let toml = format!(
            "[storage]\npath = {db:?}\n\n[[sources]]\nid = \"s\"\nname = \"s\"\nurl = \"{URL}\"\n\n[[sources]]\nid = \"t\"\nname = \"t\"\nurl = \"{URL}?t\"\n"
        );
        std::fs::write(&path, toml).unwrap();
        let config = crate::config::load(&path).unwrap();
        let store = Store::open(&db).unwrap();
        store
            .sync_sources(&[
                SourceSpec {
                    id: "s".into(),
                    url: URL.into(),
                },
                SourceSpec {
                    id: "t".into(),
                    url: format!("{URL}?t"),
                },
            ])
            .unwrap();
        Side {
            store,
            config: Arc::new(config),
            recalls,
            polls: Vec::new(),
            _dir: dir,
        }
    }

    /// `doc` as fetched from [`URL`], without validators.
    fn body_of(doc: &str) -> Body {
        Body {
            bytes: doc.as_bytes().to_vec(),
            charset: None,
            content_type: None,
            final_url: Url::parse(URL).unwrap(),
            moved_to: None,
            etag: None,
            last_modified: None,
            max_age: None,
        }
    }

    impl Side {
        /// Polls `doc` from source `id` at `now` as a poll settles it; whether it was recalled,
        /// and the report.
        fn poll(&mut self, id: &str, doc: &str, now: DateTime<Utc>) -> (bool, String) {
            let source = self.config.source(id).unwrap().clone();
            let body = body_of(doc);
            let recalled = match self.recalls {
                true => recall(&self.store, &source, &body, now),
                false => Recall::Unknown(None),
            };
            let (polled, was) = match recalled {
                Recall::Known(known) => (
                    Polled::Recalled {
                        body: Arc::new(body),
                        known,
                    },
                    true,
                ),
                Recall::Unknown(items) => {
                    let dates = DateContext::of(&source, now);
                    let listing = feed::parse(&body.bytes, None, &body.final_url, dates).unwrap();
                    let body = Arc::new(body);
                    let polled = Polled::Read {
                        body,
                        listing,
                        complete: true,
                        items,
                    };
                    (polled, false)
                }
            };
            let settle = Settle {
                store: self.store.clone(),
                schedule: Schedule::parse("0 */15 * * * *").unwrap(),
                config: self.config.clone(),
                failures: 0,
                now,
                source,
            };
            let start = Utc::now().timestamp_millis();
            let report = settle.run(Ok(polled)).unwrap();
            let end = Utc::now().timestamp_millis();
            // The next poll's instants are told apart from this one's: a millisecond later.
            while Utc::now().timestamp_millis() <= end {}
            self.polls.push((start, end));
            (was, format!("{:?} {}", report.outcome, report.next_poll))
        }

        /// Every table a poll writes but the remembered items, an instant recorded by the
        /// k-th poll written `poll k`.
        fn state(&self) -> Vec<String> {
            let instant = |i: i64| match self.polls.iter().position(|(a, b)| (*a..=*b).contains(&i))
            {
                Some(k) => format!("poll {k}"),
                None => i.to_string(),
            };
            [
                "sources",
                "articles",
                "article_keys",
                "article_sources",
                "matches",
                "pages",
            ]
            .into_iter()
            .flat_map(|t| self.store.rows_of(t, &instant))
            .collect()
        }

        fn remembered(&self) -> usize {
            self.store.rows_of("feed_items", &|i| i.to_string()).len()
        }
    }

    /// Polls `doc` from source `s` on both sides at `hours` past a fixed time; both record the
    /// same, and the recalling side recalls it when `recalled`.
    fn step(recalling: &mut Side, reading: &mut Side, doc: &str, hours: i64, recalled: bool) {
        step_as("s", recalling, reading, doc, hours, recalled);
    }

    /// [`step`] from source `id`.
    fn step_as(
        id: &str,
        recalling: &mut Side,
        reading: &mut Side,
        doc: &str,
        hours: i64,
        recalled: bool,
    ) {
        let now =
            Utc.with_ymd_and_hms(2026, 12, 7, 3, 0, 0).unwrap() + chrono::Duration::hours(hours);
        let (was, a) = recalling.poll(id, doc, now);
        let (_, b) = reading.poll(id, doc, now);
        assert_eq!((was, &a), (recalled, &b), "{doc}");
        assert_eq!(recalling.state(), reading.state(), "{doc}");
    }

    /// Both sides after `doc` was read in full, then recalled.
    fn recalled_once(doc: &str) -> (Side, Side) {
        let (mut recalling, mut reading) = (side(true), side(false));
        step(&mut recalling, &mut reading, doc, 0, false);
        step(&mut recalling, &mut reading, doc, 1, true);
        (recalling, reading)
    }

    fn rss(head: &str, items: &[&str]) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\">\n<channel>\n{head}\n{}\n</channel>\n</rss>\n",
            items.join("\n")
        )
    }

    const HEAD: &str = "<title>Tin mới</title><link>https://example.vn/</link><ttl>30</ttl>";
    const LINKED: &str = "<item><title>Một</title><link>https://example.vn/mot.html</link><guid>https://example.vn/mot.html</guid><pubDate>Mon, 07 Dec 2026 08:00:00 +0700</pubDate><description><![CDATA[<p>Có <item>thẻ</item> trong văn bản</p>]]></description></item>";
    const RELATIVE: &str =
        "<item><title>Hai</title><link>/hai.html</link><pubDate>2 giờ trước</pubDate></item>";
    const GUID_ONLY: &str = "<item><title>Ba</title><guid isPermaLink=\"false\">ba-3</guid></item>";
    const TITLE_ONLY: &str = "<item><title>Bốn</title><pubDate>07/12/2026 09:00</pubDate></item>";

    #[test]
    fn a_recalled_poll_records_what_reading_it_in_full_records() {
        let (mut recalling, mut reading) = (side(true), side(false));
        let (a, b) = (&mut recalling, &mut reading);
        let items = [LINKED, RELATIVE, GUID_ONLY, TITLE_ONLY];
        let doc = rss(HEAD, &items);
        step(a, b, &doc, 0, false);
        assert_eq!(a.remembered(), 4);
        // Unchanged, at another time (a relative date reads to another instant).
        step(a, b, &doc, 1, true);
        step(a, b, &doc, 5, true);
        // One item edited: read in full, then recalled.
        // The document with its second item as `second`.
        let with = |second: &str| rss(HEAD, &[LINKED, second, GUID_ONLY, TITLE_ONLY]);
        let edited = with(&RELATIVE.replace("Hai", "Hai (cập nhật)"));
        step(a, b, &edited, 6, false);
        // Only the latest document's items are remembered: the item before its edit is not.
        assert_eq!(a.remembered(), 4);
        step(a, b, &edited, 7, true);
        // White space inside an item that reading ignores: its bytes changed, read in full.
        let respaced = RELATIVE.replace("<title>", "\n  <title>");
        let spaced = with(&respaced);
        step(a, b, &spaced, 8, false);
        step(a, b, &spaced, 9, true);
        // White space between items does not change them.
        step(
            a,
            b,
            &spaced.replace("</item>\n<item>", "</item>\n\n  <item>"),
            9,
            true,
        );
        // A new item.
        let newer = "<item><title>Năm</title><link>https://example.vn/nam.html</link></item>";
        let grown = rss(HEAD, &[newer, LINKED, &respaced, GUID_ONLY, TITLE_ONLY]);
        step(a, b, &grown, 10, false);
        assert_eq!(a.remembered(), 5);
        step(a, b, &grown, 11, true);
        // Fewer items, all known.
        step(a, b, &rss(HEAD, &[LINKED, GUID_ONLY]), 12, true);
        // The feed's own dates, moving with each poll, do not make its items new.
        for hour in 13..16 {
            let head = format!(
                "{HEAD}<pubDate>Mon, 07 Dec 2026 {hour}:00:00 +0700</pubDate>\
                 <lastBuildDate>Mon, 07 Dec 2026 {hour}:05:00 +0700</lastBuildDate>"
            );
            step(
                a,
                b,
                &rss(&head, &[LINKED, GUID_ONLY, TITLE_ONLY]),
                hour,
                true,
            );
        }
        // A head that changes otherwise with each poll makes every item new, and the items of
        // the documents before are forgotten rather than kept beside them.
        for hour in 16..19 {
            let head = format!("{HEAD}<generator>v{hour}</generator>");
            step(
                a,
                b,
                &rss(&head, &[LINKED, GUID_ONLY, TITLE_ONLY]),
                hour,
                false,
            );
            assert_eq!(a.remembered(), 3);
        }
    }

    #[test]
    fn what_surrounds_the_items_is_part_of_them() {
        let items = [LINKED, RELATIVE, GUID_ONLY, TITLE_ONLY];
        let (mut recalling, mut reading) = recalled_once(&rss(HEAD, &items));
        let (a, b) = (&mut recalling, &mut reading);
        // The channel's head changed: every item is read again.
        let moved = HEAD.replace("https://example.vn/", "https://example.vn/moi/");
        step(a, b, &rss(&moved, &items), 2, false);
        step(a, b, &rss(&moved, &items), 3, true);
        let based = rss(HEAD, &items).replace(
            "<channel>",
            "<channel xml:base=\"https://example.vn/khac/\">",
        );
        step(a, b, &based, 4, false);
        step(a, b, &based, 5, true);
        // Anything but white space between two items.
        let between = rss(HEAD, &[LINKED, "<category>x</category>", GUID_ONLY]);
        step(a, b, &between, 6, false);
        step(a, b, &between, 7, false);
    }

    #[test]
    fn items_identified_together_are_always_read() {
        let (mut recalling, mut reading) = (side(true), side(false));
        let (a, b) = (&mut recalling, &mut reading);
        // The same item twice: one item, its repeat skipped.
        let twice = rss(HEAD, &[LINKED, LINKED, GUID_ONLY]);
        step(a, b, &twice, 0, false);
        step(a, b, &twice, 1, false);
        // Two items sharing a link: identified by their titles.
        let shared = rss(
            HEAD,
            &[
                "<item><title>Sáu</title><link>https://example.vn/chung</link></item>",
                "<item><title>Bảy</title><link>https://example.vn/chung</link></item>",
            ],
        );
        step(a, b, &shared, 2, false);
        step(a, b, &shared, 3, false);
        // One of them alone: its link is its own again, as in no earlier poll.
        let alone = rss(
            HEAD,
            &["<item><title>Sáu</title><link>https://example.vn/chung</link></item>"],
        );
        step(a, b, &alone, 4, false);
        step(a, b, &alone, 5, true);
        // Items whose links two documents shared differently: both known alone, read together.
        let other = rss(
            HEAD,
            &["<item><title>Bảy</title><link>https://example.vn/chung</link></item>"],
        );
        step(a, b, &other, 6, false);
        step(a, b, &shared, 7, false);
    }

    /// Another source carrying an article changes it: the store's probe finds the item changed,
    /// and it is read in full (and the article stored as this source has it again).
    #[test]
    fn an_article_another_source_changed_is_read_again() {
        let doc = rss(HEAD, &[LINKED, GUID_ONLY]);
        let (mut recalling, mut reading) = recalled_once(&doc);
        let (a, b) = (&mut recalling, &mut reading);
        let other = rss(HEAD, &[&LINKED.replace("Một", "Một (bản khác)")]);
        step_as("t", a, b, &other, 2, false);
        step(a, b, &doc, 3, false);
        step(a, b, &doc, 4, true);
    }

    #[test]
    fn a_pruned_articles_items_are_forgotten() {
        let doc = rss(HEAD, &[LINKED, RELATIVE, GUID_ONLY, TITLE_ONLY]);
        let (mut recalling, mut reading) = recalled_once(&doc);
        let (a, b) = (&mut recalling, &mut reading);
        let cutoff = Utc::now() + chrono::Duration::minutes(1);
        a.store.prune(cutoff, false).unwrap();
        b.store.prune(cutoff, false).unwrap();
        assert_eq!(a.remembered(), 0);
        // Their keys are tombstones: read in full, and nothing is stored again.
        step(a, b, &doc, 2, false);
        step(a, b, &doc, 3, false);
    }

    /// An article pruned between the recall of its item and the recording of the poll: the
    /// poll records what reading in full records, a tombstone.
    #[test]
    fn an_article_pruned_after_its_item_was_recalled_is_a_tombstone() {
        let (mut recalling, mut reading) = (side(true), side(false));
        let (a, b) = (&mut recalling, &mut reading);
        let doc = rss(HEAD, &[LINKED, GUID_ONLY]);
        step(a, b, &doc, 0, false);
        let source = a.config.source("s").unwrap().clone();
        let now = Utc::now();
        let Recall::Known(known) = recall(&a.store, &source, &body_of(&doc), now) else {
            panic!("not recalled");
        };
        let cutoff = Utc::now() + chrono::Duration::minutes(1);
        a.store.prune(cutoff, false).unwrap();
        b.store.prune(cutoff, false).unwrap();
        let settle = |side: &Side| Settle {
            store: side.store.clone(),
            schedule: Schedule::parse("0 */15 * * * *").unwrap(),
            config: side.config.clone(),
            failures: 0,
            now,
            source: source.clone(),
        };
        let recalled = Polled::Recalled {
            body: Arc::new(body_of(&doc)),
            known,
        };
        let dates = DateContext::of(&source, now);
        let read = Polled::Read {
            listing: feed::parse(doc.as_bytes(), None, &Url::parse(URL).unwrap(), dates).unwrap(),
            body: Arc::new(body_of(&doc)),
            complete: true,
            items: None,
        };
        let stats = |r: Report| match r.outcome {
            crate::ingest::Outcome::Stored { stats, .. } => stats,
            other => panic!("{other:?}"),
        };
        let (x, y) = (
            stats(settle(a).run(Ok(recalled)).unwrap()),
            stats(settle(b).run(Ok(read)).unwrap()),
        );
        assert_eq!((x.tombstoned, x.unchanged), (2, 0));
        assert_eq!(x, y);
    }

    #[test]
    fn only_feeds_read_as_written_are_recalled() {
        let (mut recalling, mut reading) = (side(true), side(false));
        let (a, b) = (&mut recalling, &mut reading);
        let atom = "<?xml version=\"1.0\"?><feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title><id>x</id>\n<entry><title>Tám</title><link href=\"/tam.html\"/><id>tam-8</id><updated>2026-12-07T08:00:00+07:00</updated></entry>\n<entry><title>Chín</title><link href=\"https://example.vn/chin.html\"/><id>chin-9</id></entry>\n</feed>";
        step(a, b, atom, 0, false);
        step(a, b, atom, 1, true);
        let unusual = [
            // Repaired (a bare "&"), an old dialect rewritten (no version), a byte order mark,
            // a DOCTYPE, a JSON Feed.
            rss(HEAD, &["<item><title>Q&A</title><link>https://example.vn/qa.html</link></item>"]),
            rss(HEAD, &[GUID_ONLY]).replace("<rss version=\"2.0\">", "<rss>"),
            format!("\u{feff}{}", rss(HEAD, &[LINKED])),
            rss(HEAD, &[RELATIVE]).replace("<rss ", "<!DOCTYPE rss><rss "),
            r#"{"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": [{"id": "1", "url": "https://example.vn/json.html", "title": "Mười"}]}"#.to_string(),
        ];
        for (n, doc) in unusual.iter().enumerate() {
            let hours = 2 + 2 * n as i64;
            step(a, b, doc, hours, false);
            step(a, b, doc, hours + 1, false);
        }
    }

    /// A busy outlet's feed in VnExpress's shape (a channel with its own date, an image and a
    /// generator; items with a CDATA summary holding a linked image, a guid equal to the link,
    /// a comment count), over two days.
    fn busy_feed(date: &str, items: std::ops::Range<usize>) -> String {
        let items: String = items
            .rev()
            .map(|n| {
                format!(
                    "<item>\n<title>Thủ tướng chủ trì hội nghị số {n} về công tác dân vận</title>\n\
                     <description><![CDATA[<a href=\"https://vnexpress.net/bai-{n}.html\"><img width=130 height=100 src=\"https://i.vnecdn.net/{n}.jpg\" ></a></br>Tóm tắt bài {n}: hội nghị bàn về đổi mới.]]></description>\n\
                     <pubDate>Sun, 17 Feb 2019 {:02}:{:02}:00 +0700</pubDate>\n\
                     <link>https://vnexpress.net/thoi-su/bai-{n}.html</link>\n\
                     <guid>https://vnexpress.net/thoi-su/bai-{n}.html</guid>\n\
                     <slash:comments>{}</slash:comments>\n</item>",
                    n / 60 % 24,
                    n % 60,
                    n % 7
                )
            })
            .collect::<Vec<_>>()
            .join("\n    ");
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <rss version=\"2.0\" xmlns:slash=\"http://purl.org/rss/1.0/modules/slash/\">\n  <channel>\n\
             <title>Tin mới nhất - VnExpress RSS</title>\n<description>VnExpress RSS</description>\n\
             <image><url>https://s.vnecdn.net/logo.png</url><title>VnExpress</title><link>https://vnexpress.net</link></image>\n\
             <pubDate>{date}</pubDate>\n<generator>VnExpress</generator>\n\
             <link>https://vnexpress.net/rss/tin-moi-nhat.rss</link>\n    {items}\n  </channel>\n</rss>\n"
        )
    }

    #[test]
    fn a_busy_feed_is_recalled_until_it_changes() {
        let first = busy_feed("Sun, 17 Feb 2019 14:15:30 +0700", 0..25);
        let (mut recalling, mut reading) = (side(true), side(false));
        let (a, b) = (&mut recalling, &mut reading);
        step(a, b, &first, 0, false);
        assert_eq!(a.remembered(), 25);
        step(a, b, &first, 1, true);
        // The next day brings new items: read in full, and only its items are remembered.
        let second = busy_feed("Mon, 18 Feb 2019 09:00:00 +0700", 5..30);
        step(a, b, &second, 24, false);
        assert_eq!(a.remembered(), 25);
        step(a, b, &second, 25, true);
        // Served again with the feed's own date moved: its items are the same.
        let moved = busy_feed("Mon, 18 Feb 2019 09:30:00 +0700", 5..30);
        step(a, b, &moved, 26, true);
        // Another generator: what surrounds the items changed.
        step(
            a,
            b,
            &moved.replace(">VnExpress</generator>", ">VnE 2</generator>"),
            27,
            false,
        );
    }
}
