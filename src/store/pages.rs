//! Article pages to fetch: the full text of articles from HTML sources with `[sources.article]`
//! and from `full_text` feeds.
//!
//! - A row is queued (status `pending`) in the poll transaction that first stores the article
//!   for such a source, so a crash never loses one; the list is never blocked by its pages.
//! - A fetched page replaces the article's content and search text, and a title that was a
//!   stand-in (`title_guessed`: the entry had none) with its key; the content hash (what the
//!   list or feed published) is left alone, so the next poll still sees the item unchanged.
//! - A failed fetch is recorded on its row (`last_error`, `attempts`) and retried later with
//!   backoff; after [`MAX_ATTEMPTS`] it is `failed` and left alone.
//! - A page's image (`og:image`) joins the article's media only when they hold no image.
//! - An article whose list entry changes is queued again: its page may have changed too.

use chrono::{DateTime, FixedOffset, Utc};
use rusqlite::{params, OptionalExtension, Transaction};

use super::{from_unix, unix_ms, Store, StoreError};
use crate::media::{self, Media};

/// Attempts before a page is given up on.
pub const MAX_ATTEMPTS: u32 = 5;

/// A page waiting to be fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageJob {
    pub article_id: i64,
    pub url: String,
    /// Attempts so far.
    pub attempts: u32,
    /// The article's title and summary as stored: the text the page's body is matched with.
    pub title: String,
    pub summary_html: Option<String>,
    /// Whether the stored date was a guess (the list gave none): the page's date replaces it.
    pub date_guessed: bool,
    /// Whether the stored title was a stand-in (the entry had none): the page's replaces it.
    pub title_guessed: bool,
}

/// `MatchInput::search_layout` of a page's search text, kept only while the article still has
/// the title and summary it was built from: a list may have changed them since the page's job
/// was read.
#[derive(Debug, Clone, PartialEq)]
pub struct PageSearchLayout {
    pub layout: String,
    /// The match key of the title the text was built from.
    pub title_key: String,
    pub summary_html: Option<String>,
}

/// What a fetched page gives its article.
#[derive(Debug, Clone, PartialEq)]
pub struct PageUpdate {
    /// The page's title, for an article whose title was a stand-in.
    pub title: Option<PageTitle>,
    /// Sanitized HTML of the body.
    pub content_html: String,
    /// `text::match_key` of title, summary and body (as `ingest::normalize` builds it).
    pub search_text: String,
    /// The layout of `search_text` and what it was built from besides the body.
    pub search_layout: Option<PageSearchLayout>,
    /// Replaces the stored authors when not empty.
    pub authors: Vec<String>,
    /// Replaces the stored date when that was a guess.
    pub published: Option<DateTime<FixedOffset>>,
    /// The page's image: joins the article's media when they hold no image
    /// ([`media::with_page_image`]).
    pub image: Option<Media>,
}

/// An article's title from its page, with its key (`text::match_key`, as
/// `ingest::normalize` builds it): what syndicated copies share.
#[derive(Debug, Clone, PartialEq)]
pub struct PageTitle {
    pub title: String,
    pub key: String,
}

/// The last failure of an article page.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PageError {
    pub url: String,
    pub attempts: u32,
    pub error: String,
    /// When it is tried again.
    pub next_try: Option<DateTime<Utc>>,
}

/// Page counts of one source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PageCounts {
    pub pending: u64,
    pub done: u64,
    pub failed: u64,
}

/// Queues the pages of the articles `source` carried for the first time at `now` (the poll
/// being recorded). Called inside the poll's transaction.
pub(super) fn queue_new(tx: &Transaction, source: &str, now: i64) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO pages (article_id, source_id, url, status, next_try)
         SELECT s.article_id, s.source_id, a.url, 'pending', 0
           FROM article_sources s JOIN articles a ON a.id = s.article_id
          WHERE s.source_id = ?1 AND s.first_seen = ?2 AND a.url IS NOT NULL
         ON CONFLICT (article_id) DO NOTHING",
    )?
    .execute(params![source, now])?;
    Ok(())
}

/// Gives an article whose title was a stand-in its page's title, and joins it to the story of
/// a syndicated copy when it is on none.
fn retitle(tx: &Transaction, article_id: i64, title: &PageTitle) -> Result<(), StoreError> {
    let Some((host, published, story)) = tx
        .query_row(
            "UPDATE articles SET title = ?2, title_key = ?3, title_guessed = 0
             WHERE id = ?1 AND title_guessed = 1
             RETURNING host, published, story_id",
            params![article_id, title.title, title.key],
            |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                ))
            },
        )
        .optional()?
    else {
        return Ok(());
    };
    if story.is_none() {
        if let Some(story) = super::find_story(tx, &title.key, host.as_deref(), published)? {
            tx.execute(
                "UPDATE articles SET story_id = ?2 WHERE id = ?1",
                params![article_id, story],
            )?;
        }
    }
    Ok(())
}

/// Adds a page's image to an article's media when they hold none.
fn give_image(tx: &Transaction, article_id: i64, image: Option<Media>) -> Result<(), StoreError> {
    let stored: Option<Option<String>> = tx
        .query_row(
            "SELECT media FROM articles WHERE id = ?1",
            [article_id],
            |r| r.get(0),
        )
        .optional()?;
    let Some(stored) = stored else {
        return Ok(());
    };
    let before = super::media_of(stored.as_deref());
    let after = media::with_page_image(before.clone(), image);
    if after != before {
        tx.execute(
            "UPDATE articles SET media = ?2 WHERE id = ?1",
            params![article_id, super::media_column(&after)],
        )?;
    }
    Ok(())
}

/// An article changed in its list or feed: its page is fetched again.
pub(super) fn requeue(tx: &Transaction, article_id: i64) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE pages SET status = 'pending', attempts = 0, next_try = 0, last_error = NULL
         WHERE article_id = ?1",
    )?
    .execute([article_id])?;
    Ok(())
}

impl Store {
    /// Pages of `source` due at `now`, oldest article first, at most `limit`.
    pub fn due_pages(
        &self,
        source: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<PageJob>, StoreError> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare_cached(
            "SELECT p.article_id, p.url, p.attempts, a.title, a.summary_html, a.date_guessed,
                    a.title_guessed
               FROM pages p JOIN articles a ON a.id = p.article_id
              WHERE p.source_id = ?1 AND p.status = 'pending' AND p.next_try <= ?2
              ORDER BY p.article_id LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![source, unix_ms(now), limit as i64], |r| {
            Ok(PageJob {
                article_id: r.get(0)?,
                url: r.get(1)?,
                attempts: r.get(2)?,
                title: r.get(3)?,
                summary_html: r.get(4)?,
                date_guessed: r.get(5)?,
                title_guessed: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records a fetched page: the article gets its body (and date and title, when it had
    /// none). A new title brings its key, and with it the article's story: a syndicated copy
    /// already stored from another outlet (by title key, as at ingest).
    pub fn page_done(
        &self,
        article_id: i64,
        update: &PageUpdate,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE articles SET content_html = ?2, search_text = ?3, search_layout = NULL,
               authors = CASE WHEN ?4 <> '' THEN ?4 ELSE authors END
             WHERE id = ?1",
            params![
                article_id,
                update.content_html,
                update.search_text,
                update.authors.join("\n")
            ],
        )?;
        if let Some(t) = update.published {
            tx.execute(
                "UPDATE articles SET published = ?2, published_offset = ?3, date_guessed = 0,
                   date_raw = NULL
                 WHERE id = ?1 AND date_guessed = 1",
                params![
                    article_id,
                    unix_ms(t.with_timezone(&Utc)),
                    t.offset().local_minus_utc()
                ],
            )?;
        }
        if let Some(title) = &update.title {
            retitle(&tx, article_id, title)?;
        }
        if update.image.is_some() {
            give_image(&tx, article_id, update.image.clone())?;
        }
        // Last, so that it sees the article's fields as they now are.
        tx.execute(
            "UPDATE articles SET search_layout = ?2
             WHERE id = ?1 AND ?2 IS NOT NULL AND title_key = ?3 AND summary_html IS ?4",
            params![
                article_id,
                update.search_layout.as_ref().map(|l| &l.layout),
                update.search_layout.as_ref().map(|l| &l.title_key),
                update
                    .search_layout
                    .as_ref()
                    .and_then(|l| l.summary_html.as_ref()),
            ],
        )?;
        super::search::reindex(&tx, article_id)?;
        tx.execute(
            "UPDATE pages SET status = 'done', attempts = attempts + 1, last_error = NULL,
               fetched_at = ?2
             WHERE article_id = ?1",
            params![article_id, unix_ms(now)],
        )?;
        tx.commit()?;
        self.bump();
        Ok(())
    }

    /// Records a failed page fetch: retried at `next_try`, or given up after [`MAX_ATTEMPTS`].
    pub fn page_failed(
        &self,
        article_id: i64,
        error: &str,
        next_try: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let conn = self.lock()?;
        conn.execute(
            "UPDATE pages SET attempts = attempts + 1, last_error = ?2, next_try = ?3,
               status = CASE WHEN attempts + 1 >= ?4 THEN 'failed' ELSE 'pending' END
             WHERE article_id = ?1",
            params![article_id, error, unix_ms(next_try), MAX_ATTEMPTS],
        )?;
        Ok(())
    }

    /// Page counts per source, for `bantin sources`.
    pub fn page_counts(&self, source: &str) -> Result<PageCounts, StoreError> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare_cached(
            "SELECT status, count(*) FROM pages WHERE source_id = ?1 GROUP BY status",
        )?;
        let mut counts = PageCounts::default();
        let rows = stmt.query_map([source], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?))
        })?;
        for row in rows {
            let (status, n) = row?;
            match status.as_str() {
                "pending" => counts.pending = n,
                "done" => counts.done = n,
                _ => counts.failed = n,
            }
        }
        Ok(counts)
    }

    /// The last page errors of `source`, newest first.
    pub fn page_errors(&self, source: &str, limit: usize) -> Result<Vec<PageError>, StoreError> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare_cached(
            "SELECT url, attempts, last_error, next_try FROM pages
              WHERE source_id = ?1 AND last_error IS NOT NULL
              ORDER BY article_id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![source, limit as i64], |r| {
            Ok(PageError {
                url: r.get(0)?,
                attempts: r.get(1)?,
                error: r.get(2)?,
                next_try: r.get::<_, i64>(3).ok().and_then(from_unix),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::article::NewArticle;
    use crate::store::query_plans::fetched;
    use crate::store::{ArticleQuery, SourceSpec};

    fn article(key: &str, host: &str, title: &str, title_guessed: bool) -> NewArticle {
        let url = format!("https://{host}/{key}");
        NewArticle {
            keys: vec![key.to_string()],
            url: Some(url.clone()),
            canonical_url: Some(url),
            host: Some(host.to_string()),
            guid: None,
            title: title.to_string(),
            title_guessed,
            title_key: crate::text::match_key(title),
            summary_html: None,
            content_html: None,
            search_text: crate::text::match_key(title),
            search_layout: None,
            authors: Vec::new(),
            published: Utc
                .with_ymd_and_hms(2026, 11, 28, 2, 0, 0)
                .unwrap()
                .fixed_offset(),
            date_guessed: false,
            date_raw: None,
            content_hash: key.to_string(),
            matches: Vec::new(),
            media: Vec::new(),
        }
    }

    fn update(title: Option<&str>) -> PageUpdate {
        PageUpdate {
            title: title.map(|t| PageTitle {
                title: t.to_string(),
                key: crate::text::match_key(t),
            }),
            content_html: "<p>Nội dung.</p>".into(),
            search_text: "noi dung".into(),
            search_layout: None,
            authors: Vec::new(),
            published: None,
            image: None,
        }
    }

    /// A page's search layout is kept while the article has the title and summary its text was
    /// built from, and dropped when they changed since its job was read.
    #[test]
    fn a_page_keeps_its_search_layout_only_for_the_fields_it_was_built_from() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("b.db")).unwrap();
        store
            .sync_sources(&[SourceSpec {
                id: "feed".into(),
                url: "https://feed.vn/".into(),
            }])
            .unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 28, 3, 0, 0).unwrap();
        let title = "Hội nghị tổng kết";
        let record = fetched(vec![article("a", "nhandan.vn", title, false)], Vec::new());
        store.record_poll("feed", &record, now, now).unwrap();
        let job = store.due_pages("feed", now, 1).unwrap().remove(0);
        let layout_after = |summary_html: Option<&str>, title_key: &str| {
            let update = PageUpdate {
                search_layout: Some(PageSearchLayout {
                    layout: "17 0 8".into(),
                    title_key: title_key.into(),
                    summary_html: summary_html.map(String::from),
                }),
                ..update(None)
            };
            store.page_done(job.article_id, &update, now).unwrap();
            store
                .match_candidates_for(&[job.article_id])
                .unwrap()
                .remove(0)
                .search_layout
        };
        let key = crate::text::match_key(title);
        assert_eq!(layout_after(None, &key).as_deref(), Some("17 0 8"));
        assert_eq!(layout_after(Some("<p>Tóm tắt cũ.</p>"), &key), None);
        assert_eq!(layout_after(None, "tieu de cu"), None);
    }

    /// A stand-in title gives way to the page's, with its key, which joins the article to the
    /// story of a copy from another outlet; a real title stays.
    #[test]
    fn a_page_title_replaces_a_stand_in_and_finds_the_story() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("b.db")).unwrap();
        let specs = ["feed", "sitemap"].map(|id| SourceSpec {
            id: id.into(),
            url: format!("https://{id}.vn/"),
        });
        store.sync_sources(&specs).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 28, 3, 0, 0).unwrap();
        let title = "Hội nghị tổng kết công tác dân vận năm 2026";
        let poll = |source: &str, articles: Vec<NewArticle>| {
            store
                .record_poll(source, &fetched(articles, Vec::new()), now, now)
                .unwrap();
        };
        poll("feed", vec![article("a", "baochinhphu.vn", title, false)]);
        poll(
            "sitemap",
            vec![
                article("b", "nhandan.vn", "https://nhandan.vn/b", true),
                article("c", "nhandan.vn", "Tin đã có tiêu đề riêng", false),
            ],
        );
        let jobs = store.due_pages("sitemap", now, 10).unwrap();
        let guessed: Vec<(&str, bool)> = jobs
            .iter()
            .map(|j| (j.url.as_str(), j.title_guessed))
            .collect();
        assert_eq!(
            guessed,
            [
                ("https://nhandan.vn/b", true),
                ("https://nhandan.vn/c", false)
            ]
        );
        for job in &jobs {
            store
                .page_done(job.article_id, &update(Some(title)), now)
                .unwrap();
        }
        let all = store
            .articles(&ArticleQuery {
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        let by_url = |u: &str| {
            all.iter()
                .find(|a| a.url.as_deref() == Some(u))
                .unwrap_or_else(|| panic!("{u}: {all:#?}"))
        };
        let (a, b, c) = (
            by_url("https://baochinhphu.vn/a"),
            by_url("https://nhandan.vn/b"),
            by_url("https://nhandan.vn/c"),
        );
        assert_eq!(b.title, title);
        assert_eq!(b.story, a.id, "the page's title links the syndicated copy");
        assert_eq!(c.title, "Tin đã có tiêu đề riêng", "a real title stays");
        assert_eq!(c.story, c.id);
        // The title is no stand-in any more: a second page does not replace it.
        store
            .page_done(b.id, &update(Some("Một tiêu đề khác")), now)
            .unwrap();
        let again = store
            .articles(&ArticleQuery {
                ids: Some(vec![b.id]),
                limit: 1,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(again[0].title, title);
    }
}
