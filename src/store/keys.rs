//! Identity keys as stored. A key is a SHA-256 digest in lowercase hex (what
//! `ingest::normalize::identity_keys` makes); stored as its 32 bytes it takes half the room of
//! its hex, in `article_keys` and again in its unique index (schema 14). Anything else is
//! stored as the text it is, so every key string still maps to one stored value and two keys
//! are equal stored exactly when they are equal as strings (a blob never equals a text in
//! SQLite). Every statement that binds a key goes through [`StoredKey`].

use rusqlite::types::{ToSql, ToSqlOutput, ValueRef};

/// A key bound as a statement parameter.
pub(crate) enum StoredKey<'a> {
    Digest([u8; 32]),
    Text(&'a str),
}

impl<'a> StoredKey<'a> {
    pub(crate) fn of(key: &'a str) -> StoredKey<'a> {
        digest(key).map_or(StoredKey::Text(key), StoredKey::Digest)
    }
}

impl ToSql for StoredKey<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            StoredKey::Digest(d) => ValueRef::Blob(d),
            StoredKey::Text(t) => ValueRef::Text(t.as_bytes()),
        }))
    }
}

/// The value of each lowercase hex digit; 0xff for every other byte.
const NIBBLE: [u8; 256] = {
    let mut table = [0xff; 256];
    let mut i = 0;
    while i < 16 {
        table[b"0123456789abcdef"[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// The 32 bytes of a digest written as 64 lowercase hex digits; None for anything else
/// (uppercase digits too: that string is another key). Every key of every poll goes through
/// it, so it has no branch per digit.
fn digest(key: &str) -> Option<[u8; 32]> {
    let hex: &[u8; 64] = key.as_bytes().try_into().ok()?;
    let mut out = [0u8; 32];
    let mut seen = 0u8;
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let (high, low) = (NIBBLE[usize::from(pair[0])], NIBBLE[usize::from(pair[1])]);
        seen |= high | low;
        *byte = high << 4 | (low & 0x0f);
    }
    // A digit's value is below 16; any other byte set the high bits.
    (seen & 0xf0 == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    /// The migration's SQL and [`StoredKey`] store every key alike: a digest as its bytes, the
    /// rest as text; so keys stored before step 14 are found by the code after it.
    #[test]
    fn the_migration_and_the_code_store_keys_alike() {
        let conn = Connection::open_in_memory().unwrap();
        let digest = "00000684bd975356b53f01ab18919dcaa73322247b1f7e144c754054d78af7a8";
        let cases = [
            digest.to_string(),
            digest.to_uppercase(),
            digest[..63].to_string(),
            format!("{digest}0"),
            format!("{}g", &digest[..63]),
            format!("{}/{}", &digest[..10], &digest[11..]),
            format!("{}:{}", &digest[..11], &digest[12..]),
            "url:https://bao.example.vn/a".to_string(),
            String::new(),
            "ạ".repeat(32),
        ];
        for key in &cases {
            let (from_sql, same): (Vec<u8>, bool) = conn
                .query_row(
                    &format!(
                        "SELECT CAST(k AS BLOB), k = ?2 FROM (SELECT {} AS k FROM (SELECT ?1 AS key))",
                        super::super::schema::STORED_KEY_OF_KEY
                    ),
                    rusqlite::params![key, StoredKey::of(key)],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            assert!(same, "{key:?} is stored alike");
            let expected = match StoredKey::of(key) {
                StoredKey::Digest(d) => d.to_vec(),
                StoredKey::Text(t) => t.as_bytes().to_vec(),
            };
            assert_eq!(from_sql, expected, "{key:?}");
        }
        assert!(matches!(StoredKey::of(digest), StoredKey::Digest(d) if d[..4] == [0, 0, 6, 0x84]));
        assert!(matches!(StoredKey::of(&cases[1]), StoredKey::Text(_)));
    }
}
