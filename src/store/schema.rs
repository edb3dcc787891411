//! Versioned migrations, tracked in `PRAGMA user_version`. Each step runs in a transaction; a
//! database newer than this binary is refused untouched.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;

/// An identity key as `store::keys::StoredKey` binds it, from the column `key` holding it as
/// text (schema 14): a digest in lowercase hex becomes its 32 bytes. A macro, for `concat!`.
macro_rules! stored_key_of_key {
    () => {
        "CASE WHEN typeof(key) = 'text' AND length(key) = 64 AND NOT key GLOB '*[^0-9a-f]*'
              THEN unhex(key) ELSE key END"
    };
}
#[cfg(test)]
pub(super) const STORED_KEY_OF_KEY: &str = stored_key_of_key!();

/// Migrations in order; `MIGRATIONS[i]` brings version `i` to `i + 1`. Never edit a released
/// step: add a new one.
const MIGRATIONS: &[&str] = &[
    // 1: sources, articles, identity keys, provenance.
    "CREATE TABLE sources (
        id            TEXT PRIMARY KEY,
        config_url    TEXT NOT NULL,
        current_url   TEXT NOT NULL,
        etag          TEXT,
        last_modified TEXT,
        health        TEXT NOT NULL DEFAULT 'pending',
        last_attempt  INTEGER,
        last_success  INTEGER,
        last_error    TEXT,
        failures      INTEGER NOT NULL DEFAULT 0,
        next_poll     INTEGER,
        last_new      INTEGER
    );
    CREATE TABLE articles (
        id               INTEGER PRIMARY KEY,
        url              TEXT,
        canonical_url    TEXT,
        host             TEXT,
        guid             TEXT,
        title            TEXT NOT NULL,
        title_key        TEXT NOT NULL,
        summary_html     TEXT,
        content_html     TEXT,
        search_text      TEXT NOT NULL,
        authors          TEXT NOT NULL DEFAULT '',
        published        INTEGER NOT NULL,
        published_offset INTEGER NOT NULL DEFAULT 0,
        date_guessed     INTEGER NOT NULL DEFAULT 0,
        date_raw         TEXT,
        first_seen       INTEGER NOT NULL,
        updated          INTEGER,
        content_hash     TEXT NOT NULL,
        story_id         INTEGER  -- NULL: the article is its own story
    );
    CREATE INDEX articles_published ON articles (published DESC, first_seen DESC);
    CREATE INDEX articles_title_key ON articles (title_key);
    CREATE INDEX articles_first_seen ON articles (first_seen);
    CREATE TABLE article_keys (
        key        TEXT PRIMARY KEY,
        article_id INTEGER REFERENCES articles (id) ON DELETE SET NULL
    ) WITHOUT ROWID;
    CREATE INDEX article_keys_article ON article_keys (article_id);
    -- A rowid table: rowid order is the order in which sources first carried the article
    -- (first_seen has one-second resolution).
    CREATE TABLE article_sources (
        article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
        source_id  TEXT NOT NULL REFERENCES sources (id),
        first_seen INTEGER NOT NULL,
        last_seen  INTEGER NOT NULL,
        UNIQUE (article_id, source_id)
    );
    CREATE INDEX article_sources_source ON article_sources (source_id, article_id);",
    // 2: topic matches (stored at ingest, replaced by re-matching) and small key-value state.
    "CREATE TABLE matches (
        topic_id   TEXT NOT NULL,
        article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
        phrases    TEXT NOT NULL,
        matched_at INTEGER NOT NULL,
        PRIMARY KEY (topic_id, article_id)
    ) WITHOUT ROWID;
    CREATE INDEX matches_article ON matches (article_id);
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;",
    // 3: a stable public id per article (its first identity key), for feed guids.
    "ALTER TABLE articles ADD COLUMN ident TEXT;
    UPDATE articles SET ident = (SELECT min(key) FROM article_keys k WHERE k.article_id = articles.id);",
    // 4: digest windows per subscriber, and the outbox.
    "CREATE TABLE subscribers (
        email               TEXT PRIMARY KEY,
        added_at            INTEGER NOT NULL,
        window_end          INTEGER NOT NULL,
        unsubscribed_all    INTEGER NOT NULL DEFAULT 0,
        unsubscribed_topics TEXT NOT NULL DEFAULT '',
        unsubscribed_at     INTEGER
    ) WITHOUT ROWID;
    CREATE TABLE outbox (
        id           INTEGER PRIMARY KEY,
        email        TEXT NOT NULL,
        window_start INTEGER NOT NULL,
        window_end   INTEGER NOT NULL,
        message_id   TEXT NOT NULL UNIQUE,
        subject      TEXT NOT NULL,
        articles     INTEGER NOT NULL,
        status       TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
        attempts     INTEGER NOT NULL DEFAULT 0,
        next_attempt INTEGER,
        last_error   TEXT,
        reply        TEXT,
        created_at   INTEGER NOT NULL,
        sent_at      INTEGER,
        UNIQUE (email, window_start)
    );
    CREATE INDEX outbox_due ON outbox (status, next_attempt);
    -- The message apart from its status: marking a digest sent does not rewrite 100 KB.
    CREATE TABLE outbox_messages (
        id      INTEGER PRIMARY KEY REFERENCES outbox (id) ON DELETE CASCADE,
        message BLOB NOT NULL
    );",
    // 5: article pages to fetch (HTML sources with `[sources.article]`, `full_text` feeds).
    "CREATE TABLE pages (
        article_id INTEGER PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
        source_id  TEXT NOT NULL,
        url        TEXT NOT NULL,
        status     TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
        attempts   INTEGER NOT NULL DEFAULT 0,
        next_try   INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        fetched_at INTEGER
    );
    CREATE INDEX pages_due ON pages (source_id, status, next_try);",
    // 6: when a source was first polled at its current URL, which starts its staleness clock
    // when it never brings anything new. Existing rows start from their first article, or from
    // their last poll when they have none.
    "ALTER TABLE sources ADD COLUMN first_attempt INTEGER;
    UPDATE sources SET first_attempt = coalesce(
        (SELECT min(first_seen) FROM article_sources a WHERE a.source_id = sources.id),
        last_attempt);",
    // 7: instants in milliseconds (whole seconds put articles fetched in the second a digest
    // window closed at its exclusive end); a digest that could not be composed (a bug) is
    // recorded on its subscriber and retried later.
    "UPDATE sources SET last_attempt = last_attempt * 1000, last_success = last_success * 1000,
        next_poll = next_poll * 1000, last_new = last_new * 1000,
        first_attempt = first_attempt * 1000;
    UPDATE articles SET published = published * 1000, first_seen = first_seen * 1000,
        updated = updated * 1000;
    UPDATE article_sources SET first_seen = first_seen * 1000, last_seen = last_seen * 1000;
    UPDATE matches SET matched_at = matched_at * 1000;
    UPDATE subscribers SET added_at = added_at * 1000, window_end = window_end * 1000,
        unsubscribed_at = unsubscribed_at * 1000;
    UPDATE outbox SET window_start = window_start * 1000, window_end = window_end * 1000,
        next_attempt = next_attempt * 1000, created_at = created_at * 1000,
        sent_at = sent_at * 1000;
    UPDATE pages SET next_try = next_try * 1000, fetched_at = fetched_at * 1000;
    ALTER TABLE subscribers ADD COLUMN compose_error TEXT;
    ALTER TABLE subscribers ADD COLUMN compose_retry INTEGER;",
    // 8: what the last poll had to repair before the feed parsed (NULL: nothing), for
    // `bantin sources`.
    "ALTER TABLE sources ADD COLUMN last_note TEXT;",
    // 9: whether an article's title is a stand-in (its entry had none: a sitemap without news
    // titles), for its page's title to replace. Articles stored before are left as they are.
    "ALTER TABLE articles ADD COLUMN title_guessed INTEGER NOT NULL DEFAULT 0;",
    // 10: each match carries its article's feed order (published, first_seen), so a topic's
    // feed, its digest windows and `topics test` read one index range of the topic instead of
    // walking every article (a year of news is a million). Triggers keep the copies equal to
    // the article's: a match inserted without them gets them, and an article whose time
    // changes (a page's date replacing a guessed one) passes it on.
    "ALTER TABLE matches ADD COLUMN published INTEGER;
    ALTER TABLE matches ADD COLUMN first_seen INTEGER;
    UPDATE matches SET (published, first_seen) =
        (SELECT published, first_seen FROM articles a WHERE a.id = matches.article_id);
    CREATE INDEX matches_feed ON matches (topic_id, published DESC, first_seen DESC, article_id DESC);
    CREATE INDEX matches_seen ON matches (topic_id, first_seen);
    CREATE TRIGGER matches_order_on_insert AFTER INSERT ON matches
    WHEN NEW.published IS NULL OR NEW.first_seen IS NULL BEGIN
        UPDATE matches SET (published, first_seen) =
            (SELECT published, first_seen FROM articles a WHERE a.id = NEW.article_id)
        WHERE topic_id = NEW.topic_id AND article_id = NEW.article_id;
    END;
    CREATE TRIGGER matches_order_on_update AFTER UPDATE OF published, first_seen ON articles
    WHEN NEW.published IS NOT OLD.published OR NEW.first_seen IS NOT OLD.first_seen BEGIN
        UPDATE matches SET published = NEW.published, first_seen = NEW.first_seen
        WHERE article_id = NEW.id;
    END;",
    // 11: a source's provenance by when it was first seen, so a poll finds the articles it just
    // brought (to queue their pages) without walking everything the source ever carried.
    "CREATE INDEX article_sources_seen ON article_sources (source_id, first_seen);",
    // 12: where each field's match key lies in the search text (`MatchInput::search_layout`),
    // so re-matching and `topics test` rebuild an article's match input from it instead of
    // from its HTML. NULL (every article stored before, and any whose text could not be vouched
    // for) means: derive it from the HTML, as before. A change of the text rules must clear it
    // in a migration. The trigger clears it when an article's fields change and its search
    // text does not: whoever changed them did not rebuild it.
    "ALTER TABLE articles ADD COLUMN search_layout TEXT;
    CREATE TRIGGER articles_search_layout_stale
    AFTER UPDATE OF title, summary_html, content_html ON articles
    WHEN NEW.search_layout IS NOT NULL AND NEW.search_text IS OLD.search_text BEGIN
        UPDATE articles SET search_layout = NULL WHERE id = NEW.id;
    END;",
    // 13: the index from an article to its identity keys leaves tombstones out. A key becomes a
    // tombstone (article_id NULL) when its article is pruned; indexed, the tombstones of a
    // month were each inserted at a random place among a year's (the index orders them by
    // key), which dirtied a page of the index per tombstone and made up a third of a prune's
    // writes. Nothing looks tombstones up by this index.
    "DROP INDEX article_keys_article;
    CREATE INDEX article_keys_article ON article_keys (article_id) WHERE article_id IS NOT NULL;",
    // 14: identity keys in a rowid table, in the order they were stored, with a unique index
    // for lookups by key. Ordered by key (the table was WITHOUT ROWID on its key, a SHA-256
    // digest), the keys of a month of articles lay all over the table, so pruning the month
    // rewrote nearly every page of it to mark its keys as tombstones (110,000 pages on a year
    // of news). Now a month's keys lie together and their tombstones rewrite a few thousand
    // pages; the index on the key is not touched, since the key does not change. Keys stored
    // before keep the order of their articles, tombstones first. The key is now stored twice
    // (the table and its index), so a digest is kept as its 32 bytes rather than 64 hex digits
    // (`store::keys`).
    concat!(
        "CREATE TABLE article_keys_by_age (
        id         INTEGER PRIMARY KEY,
        key        NOT NULL,
        article_id INTEGER REFERENCES articles (id) ON DELETE SET NULL
    );
    INSERT INTO article_keys_by_age (key, article_id)
        SELECT ",
        stored_key_of_key!(),
        ", article_id FROM article_keys ORDER BY article_id IS NOT NULL, article_id, key;
    DROP TABLE article_keys;
    ALTER TABLE article_keys_by_age RENAME TO article_keys;
    CREATE UNIQUE INDEX article_keys_key ON article_keys (key);
    CREATE INDEX article_keys_article ON article_keys (article_id) WHERE article_id IS NOT NULL;"
    ),
    // 15: syndicated copies are looked up by their publication's six-day period, then title
    // (`find_story` in `store.rs` says how), instead of by title alone: ordered by title, a
    // month's articles lay all over the index, so a prune rewrote nearly every page of it and
    // each poll's new titles dirtied pages of their own; by period, a month's titles lie
    // together and a poll's land among the newest, which the page cache holds.
    "DROP INDEX articles_title_key;
    CREATE INDEX articles_story ON articles (published / 518400000, title_key);",
    // 16: a source's provenance rows are found by `article_sources_seen` (source, first seen),
    // which serves every lookup by source (counts, the latest row, the foreign key from
    // `sources`); an article's by the unique (article, source) index. The index by (source,
    // article) served none of them alone and cost a write per provenance row.
    "DROP INDEX article_sources_source;",
    // 17: what the digests of one window share (the literals of their bodies), kept once and
    // referred to by each of its outbox messages, which keep only their own parts. A shared
    // part goes when the last message referring to it does. AUTOINCREMENT: an id is never
    // given again, so a composer that remembers the id of a part it recorded cannot mistake
    // another window's part, stored after its own went, for it.
    "CREATE TABLE outbox_shared (
        id   INTEGER PRIMARY KEY AUTOINCREMENT,
        part BLOB NOT NULL
    );
    ALTER TABLE outbox_messages ADD COLUMN shared INTEGER REFERENCES outbox_shared (id);
    CREATE INDEX outbox_messages_shared ON outbox_messages (shared) WHERE shared IS NOT NULL;
    CREATE TRIGGER outbox_shared_unused AFTER DELETE ON outbox_messages
    WHEN OLD.shared IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM outbox_messages WHERE shared = OLD.shared) BEGIN
        DELETE FROM outbox_shared WHERE id = OLD.shared;
    END;",
    // 18: the items a source's feed carried, by the hash of their bytes in their surroundings
    // (`ingest::recall`), with the identity keys and content hash reading them gave: a re-poll
    // whose every item is here is recorded without reading its items again. A row goes with
    // its article (pruned) and with its source.
    "CREATE TABLE feed_items (
        source_id    TEXT NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
        item_hash    BLOB NOT NULL,
        article_id   INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
        keys         TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        PRIMARY KEY (source_id, item_hash)
    ) WITHOUT ROWID;
    CREATE INDEX feed_items_article ON feed_items (article_id);",
    // 19: webhook deliveries (`store::webhooks`).
    WEBHOOK_OUTBOX,
    // 20: admin alerts (`store::alerts`).
    ALERTS,
    // 21: an article's enclosures and images (`crate::media`), a JSON array, NULL when
    // it has none. A column, not a table: they are read only with their article, written only
    // with it (stored, updated in place, given a page's image), and go with it when it is
    // pruned; most articles have one image, which costs about 130 bytes here against a row
    // and an index entry of its own in a table.
    "ALTER TABLE articles ADD COLUMN media TEXT;",
    // 22: a story's copies by the story they joined, for paged feeds: a story shown on an
    // earlier page is found by its copies, so it is not shown again (`site::feeds`). Only
    // copies are in it (most articles are their own story).
    "CREATE INDEX articles_copies ON articles (story_id) WHERE story_id IS NOT NULL;",
    // 23: the full-text index of every article (`store::search`), filled from the stored
    // search texts by `search::build` as this step runs.
    super::search::MIGRATION,
];

/// The webhook outbox: one row per POST to make, its body frozen when queued. `kind` says what
/// queued it ("topic": an article newly matched to `subject`, the topic id; other kinds queue
/// their own), `article_id` which article (no foreign key: a queued delivery outlives its
/// article's pruning; a settled one goes with it), UNIQUE per (article, kind, subject) so an
/// article goes to a topic's webhook once.
/// Rows are sent oldest first per endpoint (`webhook_outbox_pending`) and counted per webhook
/// (`webhook_outbox_subject`, for `bantin webhooks` and `/metrics`). A delivered row stays, for
/// the counts and the UNIQUE key, without its body.
const WEBHOOK_OUTBOX: &str = "CREATE TABLE webhook_outbox (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        delivery     TEXT NOT NULL UNIQUE,
        kind         TEXT NOT NULL,
        subject      TEXT NOT NULL,
        article_id   INTEGER,
        endpoint     TEXT NOT NULL,
        body         BLOB NOT NULL,
        status       TEXT NOT NULL DEFAULT 'pending',
        attempts     INTEGER NOT NULL DEFAULT 0,
        next_attempt INTEGER NOT NULL,
        last_error   TEXT,
        response     INTEGER,
        created_at   INTEGER NOT NULL,
        delivered_at INTEGER
    );
    CREATE UNIQUE INDEX webhook_outbox_article ON webhook_outbox (article_id, kind, subject)
        WHERE article_id IS NOT NULL;
    CREATE INDEX webhook_outbox_pending ON webhook_outbox (endpoint, id) WHERE status = 'pending';
    CREATE INDEX webhook_outbox_subject ON webhook_outbox (kind, subject, endpoint, status);";

/// Admin alerts: what each subject (a source, a subscriber's digests) is now and what was last
/// said of it; the alerts said; the outbox's rows told apart (digests, alerts); how many items
/// each read of a source yielded, and how many it usually yields.
const ALERTS: &str = "CREATE TABLE alert_state (
        subject     TEXT PRIMARY KEY,
        condition   TEXT NOT NULL,
        detail      TEXT,
        since       INTEGER NOT NULL,
        reported    TEXT NOT NULL DEFAULT 'ok',
        reported_at INTEGER
    ) WITHOUT ROWID;
    CREATE TABLE alerts (
        id        INTEGER PRIMARY KEY,
        at        INTEGER NOT NULL,
        subject   TEXT NOT NULL,
        condition TEXT NOT NULL,
        was       TEXT NOT NULL,
        message   TEXT NOT NULL
    );
    ALTER TABLE outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'digest';
    ALTER TABLE sources ADD COLUMN items INTEGER;
    ALTER TABLE sources ADD COLUMN usual_items REAL;";

/// The schema version this binary writes.
pub const VERSION: i64 = MIGRATIONS.len() as i64;

pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    // The version is read inside an IMMEDIATE transaction: two processes opening a new database
    // at once (the daemon and a `bantin articles`) must not both run step 1.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > VERSION {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found,
            known: VERSION,
        });
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(step)?;
        // Known by its text, not its number, so that renumbering the steps cannot miss it.
        if *step == super::search::MIGRATION {
            super::search::build(&tx)?;
        }
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database written in whole seconds (schema 6) reads back the same instants after
    /// step 7, now in milliseconds.
    #[test]
    fn seconds_become_milliseconds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let mut conn = Connection::open(&path).unwrap();
        let tx = conn.transaction().unwrap();
        for step in &MIGRATIONS[..6] {
            tx.execute_batch(step).unwrap();
        }
        tx.pragma_update(None, "user_version", 6).unwrap();
        tx.execute_batch(
            "INSERT INTO sources (id, config_url, current_url, last_attempt, next_poll)
               VALUES ('a', 'u', 'u', 1800000000, 1800000900);
             INSERT INTO articles (title, title_key, search_text, published, first_seen,
               content_hash) VALUES ('t', 't', 't', 1799990000, 1800000000, 'h');
             INSERT INTO subscribers (email, added_at, window_end)
               VALUES ('a@b.vn', 1790000000, 1800000000);",
        )
        .unwrap();
        tx.commit().unwrap();
        migrate(&mut conn, &path).unwrap();
        let one = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(one("SELECT next_poll FROM sources"), 1_800_000_900_000);
        assert_eq!(one("SELECT last_attempt FROM sources"), 1_800_000_000_000);
        assert_eq!(one("SELECT published FROM articles"), 1_799_990_000_000);
        assert_eq!(one("SELECT first_seen FROM articles"), 1_800_000_000_000);
        assert_eq!(one("SELECT window_end FROM subscribers"), 1_800_000_000_000);
        assert_eq!(one("PRAGMA user_version"), VERSION);
    }

    /// A database of schema 9 gets its matches' feed order (step 10) from their articles, and
    /// keeps it equal to theirs afterwards: a page's date replacing a guessed one moves the
    /// article in its topics' feeds too.
    #[test]
    fn matches_carry_their_article_feed_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let mut conn = Connection::open(&path).unwrap();
        let tx = conn.transaction().unwrap();
        for step in &MIGRATIONS[..9] {
            tx.execute_batch(step).unwrap();
        }
        tx.pragma_update(None, "user_version", 9).unwrap();
        tx.execute_batch(
            "INSERT INTO articles (id, title, title_key, search_text, published, first_seen,
               content_hash) VALUES (1, 't', 't', 't', 1799990000000, 1800000000000, 'h'),
                                    (2, 'u', 'u', 'u', 1799990001000, 1800000001000, 'i');
             INSERT INTO matches (topic_id, article_id, phrases, matched_at)
               VALUES ('dan-van', 1, 'p', 1800000000000), ('kinh-te', 1, 'p', 1800000000000),
                      ('dan-van', 2, 'p', 1800000001000);",
        )
        .unwrap();
        tx.commit().unwrap();
        migrate(&mut conn, &path).unwrap();
        assert_eq!(
            conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
                .unwrap(),
            VERSION
        );
        let order = |conn: &Connection| -> Vec<(String, i64, i64, i64)> {
            conn.prepare(
                "SELECT topic_id, article_id, published, first_seen FROM matches
                 ORDER BY topic_id, article_id",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
        };
        let row = |t: &str, a, p, f| (t.to_string(), a, p, f);
        assert_eq!(
            order(&conn),
            [
                row("dan-van", 1, 1_799_990_000_000, 1_800_000_000_000),
                row("dan-van", 2, 1_799_990_001_000, 1_800_000_001_000),
                row("kinh-te", 1, 1_799_990_000_000, 1_800_000_000_000),
            ]
        );
        // A match stored the old way (no order given) gets it; a moved article moves its own.
        conn.execute_batch(
            "INSERT INTO matches (topic_id, article_id, phrases, matched_at)
               VALUES ('kinh-te', 2, 'p', 1800000002000);
             UPDATE articles SET published = 1799000000000 WHERE id = 1;",
        )
        .unwrap();
        assert_eq!(
            order(&conn),
            [
                row("dan-van", 1, 1_799_000_000_000, 1_800_000_000_000),
                row("dan-van", 2, 1_799_990_001_000, 1_800_000_001_000),
                row("kinh-te", 1, 1_799_000_000_000, 1_800_000_000_000),
                row("kinh-te", 2, 1_799_990_001_000, 1_800_000_001_000),
            ]
        );
    }

    /// A database of schema 13 keeps every identity key and tombstone through steps 14 and 15,
    /// now stored in the order of their articles (tombstones first), still one article per
    /// key; syndicated copies are looked up by period and title.
    #[test]
    fn identity_keys_keep_their_articles_in_the_order_they_came() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let mut conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        let tx = conn.transaction().unwrap();
        for step in &MIGRATIONS[..13] {
            tx.execute_batch(step).unwrap();
        }
        tx.pragma_update(None, "user_version", 13).unwrap();
        tx.execute_batch(
            "INSERT INTO articles (id, title, title_key, search_text, published, first_seen,
               content_hash) VALUES (1, 't', 't', 't', 1, 1, 'h'), (2, 'u', 'u', 'u', 2, 2, 'i');
             INSERT INTO article_keys (key, article_id) VALUES
               ('f0', 2), ('a1', 1), ('ee', NULL), ('b2', 2), ('c3', 1), ('0d', NULL),
               ('00000684bd975356b53f01ab18919dcaa73322247b1f7e144c754054d78af7a8', 2);",
        )
        .unwrap();
        tx.commit().unwrap();
        migrate(&mut conn, &path).unwrap();
        let digest = "00000684bd975356b53f01ab18919dcaa73322247b1f7e144c754054d78af7a8";
        let found: (String, i64) = conn
            .query_row(
                "SELECT typeof(key), article_id FROM article_keys WHERE key = ?1",
                [super::super::keys::StoredKey::of(digest)],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(
            found,
            ("blob".to_string(), 2),
            "a digest is kept as its bytes"
        );
        let keys: Vec<(String, Option<i64>)> = conn
            .prepare("SELECT key, article_id FROM article_keys WHERE typeof(key) = 'text' ORDER BY rowid")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let key = |k: &str, a: Option<i64>| (k.to_string(), a);
        assert_eq!(
            keys,
            [
                key("0d", None),
                key("ee", None),
                key("a1", Some(1)),
                key("c3", Some(1)),
                key("b2", Some(2)),
                key("f0", Some(2)),
            ]
        );
        assert!(conn
            .execute(
                "INSERT INTO article_keys (key, article_id) VALUES ('a1', 2)",
                []
            )
            .is_err());
        conn.execute("DELETE FROM articles WHERE id = 1", [])
            .unwrap();
        let tombstones: i64 = conn
            .query_row(
                "SELECT count(*) FROM article_keys WHERE article_id IS NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tombstones, 4, "a pruned article's keys stay as tombstones");
        let indexes: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('articles', 'article_keys') ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            indexes,
            [
                "article_keys_article",
                "article_keys_key",
                "articles_copies",
                "articles_first_seen",
                "articles_published",
                "articles_story"
            ]
        );
    }

    /// A database stored before the search index (schema 18) gets it, filled from every
    /// stored search text, as it opens; articles are found as if stored since.
    #[test]
    fn the_search_index_is_built_for_articles_stored_before() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let mut conn = Connection::open(&path).unwrap();
        let tx = conn.transaction().unwrap();
        for step in &MIGRATIONS[..18] {
            tx.execute_batch(step).unwrap();
        }
        tx.pragma_update(None, "user_version", 18).unwrap();
        tx.execute_batch(
            "INSERT INTO articles (id, title, title_key, search_text, search_layout, published,
               first_seen, content_hash)
             VALUES (1, 'Dân vận khéo', 'k', 'dân vận khéo', '16 0 0', 1799990000000,
                     1800000000000, 'h'),
                    (2, 'Nhân dân', 'k', 'nhân dân vận động', '10 13 0', 1799990060000,
                     1800000000000, 'i'),
                    (3, 'Tin', 'k', 'tin. dân vận', NULL, 1799990120000, 1800000000000, 'j');",
        )
        .unwrap();
        tx.commit().unwrap();
        drop(conn);
        let store = super::super::Store::open(&path).unwrap();
        let found = |typed: &str| {
            store
                .search(&super::super::SearchQuery {
                    query: crate::search::Query::parse(typed).unwrap(),
                    topic: None,
                    since: None,
                    limit: 10,
                })
                .unwrap()
        };
        assert_eq!(found("dân vận"), [3, 2, 1]);
        // Article 2's "dân" ends its title and "vận" starts its summary.
        assert_eq!(found("\"dân vận\""), [3, 1]);
        assert_eq!(found("\"dan van khEo\""), [1]);
    }
}
