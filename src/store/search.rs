//! The full-text index of every stored article, and the search over it.
//!
//! `article_search` is a contentless SQLite FTS5 table (`content=''`: it keeps the index, not
//! the text, which `articles.search_text` already holds) with two columns, the syllables as
//! stored and folded ([`search::indexed`] says what they hold and why a phrase cannot cross
//! punctuation). `contentless_delete=1` lets a row be deleted by its rowid alone.
//!
//! The rowid is the article's place in a newest-first list ([`index_key`]): its publication
//! minute in the high 32 bits, its id in the low 32. FTS5 walks a term's matches in rowid order
//! and stops at the limit, so the newest matches of a common word cost as little as those of a
//! rare one, instead of every match being sorted by date; `--since` is a rowid range. Articles
//! of the same minute come by id (the order they were stored), which only matters at the edge
//! of a page: the page itself is sorted as feeds are (published, then first seen). Ids must stay
//! below 2^32, which at ten thousand articles a day is a million years.
//!
//! Kept in step with `articles` in the same transaction: [`index_new`] after an article is
//! stored, [`reindex`] after it changed (its text or its date), and the schema's triggers drop
//! the old row when an article is deleted (prune) or its search text or date changes. The
//! triggers are plain SQL
//! so that any connection may delete articles; only the store writes them. A restored backup
//! brings its own index. [`MIGRATION`] creates the table and [`build`] fills it for a database
//! stored before.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, Transaction};

use super::{unix_ms, Store, StoreError};
use crate::search::{self, Query};

/// Creates the index and its triggers. `KEY(OLD)` of [`index_key`], in SQL: the minute is
/// clamped to 32 bits, and SQLite's `/` truncates toward zero as Rust's does.
pub(super) const MIGRATION: &str = "
    CREATE VIRTUAL TABLE article_search USING fts5(
        exact, folded,
        content = '', contentless_delete = 1, detail = full,
        tokenize = \"unicode61 remove_diacritics 0 categories 'L* N* Co M*' tokenchars '|'\"
    );
    CREATE TRIGGER articles_search_deleted AFTER DELETE ON articles BEGIN
        DELETE FROM article_search
         WHERE rowid = (max(min(OLD.published / 60000, 2147483647), -2147483648) << 32)
                       | (OLD.id & 4294967295);
    END;
    CREATE TRIGGER articles_search_changed AFTER UPDATE OF search_text, published ON articles
    BEGIN
        DELETE FROM article_search
         WHERE rowid = (max(min(OLD.published / 60000, 2147483647), -2147483648) << 32)
                       | (OLD.id & 4294967295);
    END;";

/// The low 32 bits of a rowid: the article's id.
const ID_BITS: i64 = 0xFFFF_FFFF;

/// An article's rowid in the index: publication minute, then id (see the module docs).
pub(super) fn index_key(published_ms: i64, id: i64) -> i64 {
    minute_floor(published_ms) | (id & ID_BITS)
}

/// The smallest rowid of an article published at or after `published_ms`.
fn minute_floor(published_ms: i64) -> i64 {
    (published_ms / 60_000).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) << 32
}

/// Indexes article `id`, just stored, in the same transaction. No row of it can be in the
/// index yet, so none is looked for to delete first.
pub(super) fn index_new(tx: &Transaction, id: i64) -> Result<(), StoreError> {
    write(tx, id, Replace::No)
}

/// (Re)writes the index row of article `id` from what is stored now. Call after changing an
/// article (its text or date), in the same transaction; an unchanged article is written again
/// as it was.
pub(super) fn reindex(tx: &Transaction, id: i64) -> Result<(), StoreError> {
    write(tx, id, Replace::Yes)
}

/// Whether [`write`] first deletes the article's row.
#[derive(PartialEq)]
enum Replace {
    Yes,
    No,
}

fn write(tx: &Transaction, id: i64, replace: Replace) -> Result<(), StoreError> {
    let row = tx
        .prepare_cached("SELECT published, search_text, search_layout FROM articles WHERE id = ?1")?
        .query_row([id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        });
    let (published, text, layout) = match row {
        Ok(row) => row,
        Err(rusqlite::Error::QueryReturnedNoRows) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let key = index_key(published, id);
    if replace == Replace::Yes {
        tx.prepare_cached("DELETE FROM article_search WHERE rowid = ?1")?
            .execute([key])?;
    }
    insert(tx, key, &text, layout.as_deref())
}

fn insert(conn: &Connection, key: i64, text: &str, layout: Option<&str>) -> Result<(), StoreError> {
    let indexed = search::indexed(text, layout);
    conn.prepare_cached("INSERT INTO article_search (rowid, exact, folded) VALUES (?1, ?2, ?3)")?
        .execute(params![key, indexed.exact, indexed.folded])?;
    Ok(())
}

/// Fills the index with every stored article: the migration that creates it, on a database
/// stored before. One pass in id order; then the index's segments are merged into one, which
/// searches read fastest.
pub(super) fn build(tx: &Transaction) -> Result<(), StoreError> {
    let count: i64 = tx.query_row("SELECT count(*) FROM articles", [], |r| r.get(0))?;
    if count > 0 {
        tracing::info!(
            articles = count,
            "building the search index (once, after an upgrade)"
        );
    }
    let mut rows =
        tx.prepare("SELECT id, published, search_text, search_layout FROM articles ORDER BY id")?;
    let mut rows = rows.query([])?;
    while let Some(r) = rows.next()? {
        let (id, published): (i64, i64) = (r.get(0)?, r.get(1)?);
        let text = r.get_ref(2)?.as_str().unwrap_or_default();
        let layout = r.get_ref(3)?.as_str_or_null().ok().flatten();
        insert(tx, index_key(published, id), text, layout)?;
    }
    if count > 0 {
        tx.execute(
            "INSERT INTO article_search (article_search) VALUES ('optimize')",
            [],
        )?;
    }
    Ok(())
}

/// What to search for.
#[derive(Debug, Clone)]
pub struct SearchQuery {
    pub query: Query,
    /// Only articles matching this topic.
    pub topic: Option<String>,
    /// Only articles published at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// At most this many.
    pub limit: usize,
}

impl Store {
    /// The ids of the newest articles holding every term of `q` (newest by publication minute,
    /// then as stored: see the module docs), at most `q.limit`.
    pub fn search(&self, q: &SearchQuery) -> Result<Vec<i64>, StoreError> {
        let conn = self.lock()?;
        let mut sql =
            String::from("SELECT rowid FROM article_search WHERE article_search MATCH :match");
        let mut named: Vec<(&str, rusqlite::types::Value)> =
            vec![(":match", q.query.fts5().into())];
        if let Some(since) = q.since {
            sql.push_str(" AND rowid >= :since");
            named.push((":since", minute_floor(unix_ms(since)).into()));
        }
        if let Some(topic) = &q.topic {
            // Checked as the index yields its newest matches: a topic of few articles with a
            // common word reads that word's matches until enough are the topic's.
            sql.push_str(
                " AND EXISTS (SELECT 1 FROM matches m WHERE m.topic_id = :topic
                                AND m.article_id = article_search.rowid & 4294967295)",
            );
            named.push((":topic", topic.clone().into()));
        }
        sql.push_str(" ORDER BY rowid DESC LIMIT :limit");
        named.push((":limit", i64::try_from(q.limit).unwrap_or(i64::MAX).into()));
        let mut stmt = conn.prepare_cached(&sql)?;
        let params: Vec<(&str, &dyn rusqlite::ToSql)> = named
            .iter()
            .map(|(n, v)| (*n, v as &dyn rusqlite::ToSql))
            .collect();
        let keys = stmt.query_map(params.as_slice(), |r| r.get::<_, i64>(0))?;
        keys.map(|k| Ok(k? & ID_BITS)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::article::NewArticle;
    use crate::store::query_plans::fetched;
    use crate::store::{ArticleQuery, PageUpdate, SourceSpec};
    use crate::topics::{MatchInput, TopicMatch};
    use chrono::TimeZone;
    use unicode_normalization::UnicodeNormalization;

    fn at(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap() + chrono::Duration::minutes(minute)
    }

    /// An article as ingest makes it (search text and layout from its cleaned fields),
    /// published at minute `n`, matching `topics`.
    fn article(n: i64, title: &str, summary: &str, topics: &[&str]) -> NewArticle {
        let (title, summary) = (crate::text::clean(title), crate::text::clean(summary));
        let input = MatchInput::from_plain(&title, &summary, "");
        let url = format!("https://bao.example.vn/bai-{n}.html");
        NewArticle {
            keys: vec![format!("url:{url}")],
            url: Some(url.clone()),
            canonical_url: Some(url),
            host: Some("bao.example.vn".into()),
            guid: None,
            title_key: crate::text::match_key(&title),
            search_text: crate::ingest::normalize::search_text(&input),
            search_layout: Some(input.search_layout()),
            title,
            title_guessed: false,
            summary_html: Some(summary),
            content_html: None,
            authors: Vec::new(),
            published: at(n).fixed_offset(),
            date_guessed: false,
            date_raw: None,
            content_hash: format!("h{n}"),
            media: Vec::new(),
            matches: topics
                .iter()
                .map(|t| TopicMatch {
                    topic: t.to_string(),
                    phrases: vec!["dân vận".into()],
                })
                .collect(),
        }
    }

    fn store_with(articles: Vec<NewArticle>) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("b.db")).unwrap();
        store
            .sync_sources(&[SourceSpec {
                id: "a".into(),
                url: "https://bao.example.vn/rss".into(),
            }])
            .unwrap();
        store
            .record_poll("a", &fetched(articles, Vec::new()), at(10_000), at(10_001))
            .unwrap();
        (dir, store)
    }

    /// The titles of the newest articles holding `q`, newest first.
    fn found(store: &Store, q: &str) -> Vec<String> {
        found_with(store, q, None, None, 50)
    }

    fn found_with(
        store: &Store,
        q: &str,
        topic: Option<&str>,
        since: Option<DateTime<Utc>>,
        limit: usize,
    ) -> Vec<String> {
        let ids = store
            .search(&SearchQuery {
                query: Query::parse(q).unwrap(),
                topic: topic.map(String::from),
                since,
                limit,
            })
            .unwrap();
        let articles = store
            .articles(&ArticleQuery {
                ids: Some(ids.clone()),
                limit: ids.len(),
                ..Default::default()
            })
            .unwrap();
        articles.into_iter().map(|a| a.title).collect()
    }

    fn titles(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| crate::text::clean(s)).collect()
    }

    #[test]
    fn vietnamese_words_and_phrases() {
        let nfd: String = "Công tác dân vận".nfd().collect();
        let (_dir, store) = store_with(vec![
            article(1, "Dân vận khéo", "", &[]),
            article(2, "DÂN VẬN Ở CƠ SỞ", "", &[]),
            article(3, &nfd, "", &[]),
            article(4, "Hướng dẫn vận động", "", &[]),
            article(5, "Đan vân len", "", &[]),
            article(6, "Hoà giải ở cơ sở", "", &[]),
            article(7, "Nhân dân. Vận động", "", &[]),
            article(8, "Sân bay mới", "", &[]),
            article(9, "An ninh trật tự", "", &[]),
            // The title ends with "dân", the summary starts with "vận".
            article(10, "Ban nhân dân", "vận hành", &[]),
        ]);
        let dan_van_words = titles(&[
            "Ban nhân dân",
            "Nhân dân. Vận động",
            &nfd,
            "DÂN VẬN Ở CƠ SỞ",
            "Dân vận khéo",
        ]);
        assert_eq!(found(&store, "dân vận"), dan_van_words);
        assert_eq!(found(&store, "DÂN VẬN"), dan_van_words);
        assert_eq!(
            found(&store, &"dân vận".nfd().collect::<String>()),
            dan_van_words
        );
        let dan_van_phrase = titles(&[&nfd, "DÂN VẬN Ở CƠ SỞ", "Dân vận khéo"]);
        assert_eq!(found(&store, "\"dân vận\""), dan_van_phrase);
        assert_eq!(found(&store, "“Dân Vận”"), dan_van_phrase);
        assert_eq!(
            found(&store, "\"dan van\""),
            titles(&[
                "Đan vân len",
                "Hướng dẫn vận động",
                &nfd,
                "DÂN VẬN Ở CƠ SỞ",
                "Dân vận khéo"
            ])
        );
        assert_eq!(found(&store, "dan van").len(), 7);
        // Whole syllables: "an" is not in "dân" nor "sân".
        assert_eq!(found(&store, "an"), titles(&["An ninh trật tự"]));
        assert_eq!(found(&store, "ân"), Vec::<String>::new());
        // Both tone-mark styles, either way round.
        for q in ["hòa giải", "hoà giải", "HOÀ GIẢI", "\"hoa giai\""] {
            assert_eq!(found(&store, q), titles(&["Hoà giải ở cơ sở"]), "{q}");
        }
        assert_eq!(found(&store, "đan"), titles(&["Đan vân len"]));
        assert_eq!(found(&store, "dẫn"), titles(&["Hướng dẫn vận động"]));
        // A word with punctuation inside is a phrase with a break there.
        assert_eq!(found(&store, "dân.vận"), titles(&["Nhân dân. Vận động"]));
        // Letters newer than the index's tokenizer knows, other scripts, digits: no error.
        for q in [
            "\u{a7ca}",
            "ꟊ dân",
            "人民",
            "２０２６",
            "x\u{301}\u{301}",
            "\"| ||\"",
        ] {
            if let Ok(query) = Query::parse(q) {
                let got = store.search(&SearchQuery {
                    query,
                    topic: None,
                    since: None,
                    limit: 5,
                });
                assert!(got.is_ok(), "{q}: {got:?}");
            }
        }
    }

    #[test]
    fn newest_first_within_limit_since_and_topic() {
        let (_dir, store) = store_with(
            (0..30)
                .map(|n| {
                    let topics: &[&str] = if n % 3 == 0 { &["dan-van"] } else { &[] };
                    article(n * 7, &format!("Hội nghị dân vận số {n}"), "", topics)
                })
                .collect(),
        );
        let numbered = |ns: &[i64]| -> Vec<String> {
            ns.iter()
                .map(|n| format!("Hội nghị dân vận số {n}"))
                .collect()
        };
        assert_eq!(
            found_with(&store, "hội nghị", None, None, 3),
            numbered(&[29, 28, 27])
        );
        assert_eq!(
            found_with(&store, "dan van", None, Some(at(25 * 7)), 50),
            numbered(&[29, 28, 27, 26, 25])
        );
        assert_eq!(
            found_with(&store, "hội", Some("dan-van"), None, 4),
            numbered(&[27, 24, 21, 18])
        );
        assert_eq!(
            found_with(&store, "hội", Some("kinh-te"), None, 4),
            Vec::<String>::new()
        );
    }

    #[test]
    fn the_index_follows_updates_pages_and_prunes() {
        let (_dir, store) = store_with(vec![
            article(1, "Tin cũ về dân vận", "", &[]),
            article(2, "Tin khác", "", &[]),
        ]);
        // The same article, changed in its feed: found by its new words only.
        let mut changed = article(1, "Tin mới về kinh tế", "", &[]);
        changed.content_hash = "h1-new".into();
        store
            .record_poll(
                "a",
                &fetched(vec![changed], Vec::new()),
                at(10_010),
                at(10_011),
            )
            .unwrap();
        assert_eq!(found(&store, "dân vận"), Vec::<String>::new());
        assert_eq!(found(&store, "kinh tế"), ["Tin mới về kinh tế"]);
        // Its page brings a body (and its date moves: the article's rowid in the index does).
        let id = store.search(&SearchQuery {
            query: Query::parse("khác").unwrap(),
            topic: None,
            since: None,
            limit: 1,
        });
        let id = id.unwrap()[0];
        let body = "tin khác thân bài về chuyển đổi số";
        store
            .page_done(
                id,
                &PageUpdate {
                    title: None,
                    content_html: "<p>Thân bài về chuyển đổi số</p>".into(),
                    search_text: body.into(),
                    search_layout: None,
                    authors: Vec::new(),
                    published: None,
                    image: None,
                },
                at(10_020),
            )
            .unwrap();
        assert_eq!(found(&store, "\"chuyển đổi số\""), ["Tin khác"]);
        let rows = |store: &Store| -> i64 {
            store
                .lock()
                .unwrap()
                .query_row("SELECT count(*) FROM article_search", [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(rows(&store), 2);
        // Pruned: gone from the index too.
        store.prune(at(20_000), false).unwrap();
        assert_eq!(found(&store, "tin"), Vec::<String>::new());
        assert_eq!(rows(&store), 0);
    }

    /// The triggers' SQL computes the same rowid as [`index_key`], at the edges too.
    #[test]
    fn the_triggers_key_is_index_key() {
        let conn = Connection::open_in_memory().unwrap();
        for (published, id) in [
            (1_796_000_000_000, 1),
            (1_796_000_059_999, 3_524_993),
            (-1, 7),
            (-60_001, 7),
            (0, 0),
            (i64::MAX, 4_294_967_295),
            (i64::MIN, 12),
            (1_796_000_000_000, 4_294_967_297),
        ] {
            let sql: i64 = conn
                .query_row(
                    "SELECT (max(min(?1 / 60000, 2147483647), -2147483648) << 32)
                            | (?2 & 4294967295)",
                    params![published, id],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(sql, index_key(published, id), "{published} {id}");
            assert_eq!(index_key(published, id) & ID_BITS, id & ID_BITS);
        }
        // Newest first: a later minute sorts after whatever the ids.
        assert!(index_key(120_000, 1) > index_key(60_000, 4_000_000_000));
        assert!(index_key(-60_000, 9) < index_key(0, 1));
        assert!(minute_floor(61_000) <= index_key(61_000, 0));
        assert!(minute_floor(61_000) > index_key(59_999, ID_BITS));
    }
}
