//! The items a feed carried, by the hash of their bytes ([`crate::ingest::recall`]): per
//! (source, item hash), the identity keys and content hash the full read of that item gave.
//!
//! A row is written only for an item whose first key belongs to an article once its poll is
//! recorded (which records every key of an item), under that article. A key never moves to
//! another article, and the row goes with its article when that is pruned (`ON DELETE
//! CASCADE`; its keys then stay as tombstones): so while the row is there, its article is the
//! one the store's probe for unchanged items ([`Store::unchanged`]) finds for those keys, and
//! the row answers the probe's question itself. Rows are never updated: the same hash of an
//! item in the same surroundings always reads to the same keys and content hash.

use rusqlite::{params, OptionalExtension};

use super::{Store, StoreError, StoredKey};

/// What reading an item gave, recalled by its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recalled {
    /// Identity keys, most authoritative first, as identifying gave them.
    pub keys: Vec<String>,
    /// The article stored under the first of them.
    pub article: i64,
    /// Whether its article has the content hash reading it gave: what [`Store::unchanged`]
    /// answers for it.
    pub unchanged: bool,
}

/// Keys are hex digests: a newline never occurs in one.
const KEY_SEPARATOR: char = '\n';

impl Store {
    /// For each of `hashes` (items of one document of `source`): what reading it gave, or None
    /// when it is not known.
    pub fn recall_items(
        &self,
        source: &str,
        hashes: &[[u8; 32]],
    ) -> Result<Vec<Option<Recalled>>, StoreError> {
        let conn = self.lock()?;
        // A source read for the first time (or whose items all went) has nothing to recall:
        // one look spares a miss per item.
        let any = conn
            .prepare_cached("SELECT 1 FROM feed_items WHERE source_id = ?1 LIMIT 1")?
            .query_row([source], |_| Ok(()))
            .optional()?;
        if any.is_none() {
            return Ok(vec![None; hashes.len()]);
        }
        let mut stmt = conn.prepare_cached(
            "SELECT f.keys, f.article_id, a.content_hash = f.content_hash
             FROM feed_items f JOIN articles a ON a.id = f.article_id
             WHERE f.source_id = ?1 AND f.item_hash = ?2",
        )?;
        let mut out = Vec::with_capacity(hashes.len());
        for hash in hashes {
            let found = stmt
                .query_row(params![source, hash.as_slice()], |r| {
                    let keys: String = r.get(0)?;
                    Ok(Recalled {
                        keys: keys.split(KEY_SEPARATOR).map(str::to_string).collect(),
                        article: r.get(1)?,
                        unchanged: r.get(2)?,
                    })
                })
                .optional()?;
            out.push(found);
        }
        Ok(out)
    }

    /// Remembers what reading each of `items` (item hash, keys, content hash) of `source` gave,
    /// once its poll is recorded, for the items whose first key belongs to an article; the
    /// others (tombstones) are left out. Forgets the source's items whose hash is not in
    /// `current` (the hashes of every item of the document read; empty: forget nothing).
    ///
    /// Only the items of a source's latest document can be recalled: a recall needs every
    /// item of a poll known, in the same surroundings. Older rows would only grow the table,
    /// by a whole feed each time its head changes (a channel `<pubDate>` that moves with each
    /// new article makes every item's hash new), for as long as their articles are kept.
    pub fn remember_items(
        &self,
        source: &str,
        current: &[[u8; 32]],
        items: &[(&[u8; 32], &[String], &str)],
    ) -> Result<(), StoreError> {
        if current.is_empty() && items.is_empty() {
            return Ok(());
        }
        let mut conn = self.lock()?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        if !current.is_empty() {
            let keep: std::collections::HashSet<&[u8]> =
                current.iter().map(|h| h.as_slice()).collect();
            let remembered: Vec<Vec<u8>> = tx
                .prepare_cached("SELECT item_hash FROM feed_items WHERE source_id = ?1")?
                .query_map([source], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let mut forget = tx
                .prepare_cached("DELETE FROM feed_items WHERE source_id = ?1 AND item_hash = ?2")?;
            for hash in remembered.iter().filter(|h| !keep.contains(h.as_slice())) {
                forget.execute(params![source, hash])?;
            }
        }
        {
            let mut lookup =
                tx.prepare_cached("SELECT article_id FROM article_keys WHERE key = ?1")?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO feed_items (source_id, item_hash, article_id, keys, content_hash)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
            )?;
            for (hash, keys, content_hash) in items {
                let Some(first) = keys.first() else { continue };
                let article = lookup
                    .query_row([StoredKey::of(first)], |r| r.get::<_, Option<i64>>(0))
                    .optional()?
                    .flatten();
                let Some(article) = article else { continue };
                let joined = keys.join(&KEY_SEPARATOR.to_string());
                insert.execute(params![
                    source,
                    hash.as_slice(),
                    article,
                    joined,
                    content_hash
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
impl Store {
    /// Every row of `table` in key order, each cell as text; an integer as `instant(i)` says.
    pub(crate) fn rows_of(&self, table: &str, instant: &dyn Fn(i64) -> String) -> Vec<String> {
        use rusqlite::types::Value;
        let conn = self.lock().unwrap();
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM {table} ORDER BY 1, 2"))
            .unwrap();
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                (0..n)
                    .map(|i| r.get::<_, Value>(i))
                    .collect::<Result<Vec<_>, _>>()
            })
            .unwrap();
        rows.map(|row| {
            let cells: Vec<String> = row
                .unwrap()
                .into_iter()
                .map(|v| match v {
                    Value::Integer(i) => instant(i),
                    other => format!("{other:?}"),
                })
                .collect();
            format!("{table}: {}", cells.join(" | "))
        })
        .collect()
    }
}
