//! The caps on what a feed document can make the daemon hold at once. feed-rs builds the whole
//! document in memory, and every later step (entries, keys, articles, the store's batch) holds
//! one value per item, so a document's cost grows with its items and the length of its texts,
//! not with what a reader could use. Beyond these caps the document is cut, and the cut is
//! noted on the source's row beside its repairs (`bantin sources`), never silent:
//!
//! - [`MAX_ITEMS`] items per document: real news feeds carry 20 to 500; a feed of 60,000 items
//!   cost over 100 MB in one poll. The first items are kept (feeds list the newest first); the
//!   cut is made in the text before feed-rs reads it, so the items past the cap are never built.
//! - [`MAX_TITLE_CHARS`] characters of a title: real headlines are under 200. A title of 4 MB is
//!   stored cut, not refused.
//! - [`MAX_SUMMARY_CHARS`] of a summary, [`MAX_CONTENT_CHARS`] of an article body: far above any
//!   real article (a long VnExpress article is about 60,000 characters of HTML), low enough that
//!   each is copied a few times (decoded, sanitized, made plain for topics) without a spike.
//!
//! Every cut is at a char boundary; an HTML text cut inside a tag is closed by the sanitizer.

use std::sync::LazyLock;

use regex::Regex;

use crate::ingest::entry::RawEntry;

/// Items read from one document.
pub const MAX_ITEMS: usize = 10_000;
/// Characters kept of an item's title.
pub const MAX_TITLE_CHARS: usize = 1_000;
/// Characters kept of an item's summary (HTML).
pub const MAX_SUMMARY_CHARS: usize = 100_000;
/// Characters kept of an item's body (HTML).
pub const MAX_CONTENT_CHARS: usize = 1_000_000;

/// The document with the items past the first [`MAX_ITEMS`] left out, and how many items it
/// had; None when it has no more than that (or its items cannot be told apart safely).
///
/// The text from the end of item [`MAX_ITEMS`] to the end of the last item is dropped, so the
/// channel's or feed's close (and anything after the items) stays and the document stays well
/// formed.
pub(super) fn keep_first_items(text: &str, items: usize) -> Option<(String, usize)> {
    static END: LazyLock<Option<Regex>> =
        LazyLock::new(|| Regex::new(r"</(?:[A-Za-z_][\w.-]*:)?(?:item|entry)\s*>").ok());
    if items <= MAX_ITEMS {
        return None;
    }
    let end = END.as_ref()?;
    let keep_until = end.find_iter(text).nth(MAX_ITEMS - 1)?.end();
    let last = end.find_iter(text).last()?.end();
    if last <= keep_until {
        return None;
    }
    let mut kept = String::with_capacity(keep_until + (text.len() - last));
    kept.push_str(text.get(..keep_until)?);
    kept.push_str(text.get(last..)?);
    Some((kept, items))
}

/// The note for a document cut to [`MAX_ITEMS`] items.
pub(super) fn items_note(items: usize) -> String {
    format!("{items} items, the first {MAX_ITEMS} read")
}

/// Cuts each entry's title, summary and body to their caps; returns the notes for what was
/// cut (none when nothing was).
pub(super) fn cut_texts(entries: &mut [RawEntry]) -> Vec<String> {
    let (mut titles, mut summaries, mut bodies) = (0, 0, 0);
    for e in entries.iter_mut() {
        titles += usize::from(cut(&mut e.title, MAX_TITLE_CHARS));
        summaries += usize::from(cut(&mut e.summary, MAX_SUMMARY_CHARS));
        bodies += usize::from(cut(&mut e.content, MAX_CONTENT_CHARS));
    }
    [
        (titles, "title", MAX_TITLE_CHARS),
        (summaries, "summary", MAX_SUMMARY_CHARS),
        (bodies, "body", MAX_CONTENT_CHARS),
    ]
    .into_iter()
    .filter(|(n, _, _)| *n > 0)
    .map(|(n, what, max)| {
        let what = if n == 1 {
            format!("a {what}")
        } else if what == "body" {
            format!("{n} bodies")
        } else if what == "summary" {
            format!("{n} summaries")
        } else {
            format!("{n} {what}s")
        };
        format!("{what} cut at {max} characters")
    })
    .collect()
}

/// Cuts `text` to its first `max` characters; true when it was longer.
fn cut(text: &mut Option<String>, max: usize) -> bool {
    let Some(t) = text else { return false };
    // A char is at most 4 bytes: a text of at most `max` bytes needs no count.
    if t.len() <= max {
        return false;
    }
    match t.char_indices().nth(max) {
        Some((at, _)) => {
            t.truncate(at);
            t.shrink_to_fit();
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_past_the_cap_are_left_out_and_the_document_stays_whole() {
        let items: String = (0..MAX_ITEMS + 5)
            .map(|i| format!("<item><title>Tin {i}</title></item>\n"))
            .collect();
        let doc = format!("<rss><channel><title>Báo</title>\n{items}</channel></rss>\n");
        assert_eq!(keep_first_items(&doc, MAX_ITEMS), None);
        let (kept, n) = keep_first_items(&doc, MAX_ITEMS + 5).unwrap();
        assert_eq!(n, MAX_ITEMS + 5);
        assert_eq!(kept.matches("<item>").count(), MAX_ITEMS);
        assert!(kept.contains(&format!("<title>Tin {}</title>", MAX_ITEMS - 1)));
        assert!(!kept.contains(&format!("<title>Tin {MAX_ITEMS}</title>")));
        assert!(kept.ends_with("</item>\n</channel></rss>\n"));
    }

    #[test]
    fn long_texts_are_cut_at_a_char_boundary() {
        let title = "Hội nghị ".repeat(MAX_TITLE_CHARS);
        let mut entries = vec![
            RawEntry {
                title: Some(title.clone()),
                summary: Some("ngắn".into()),
                ..RawEntry::default()
            },
            RawEntry {
                title: Some("Tin thường".into()),
                ..RawEntry::default()
            },
        ];
        assert_eq!(cut_texts(&mut entries), ["a title cut at 1000 characters"]);
        let cut_title = entries[0].title.as_deref().unwrap();
        assert_eq!(cut_title.chars().count(), MAX_TITLE_CHARS);
        assert!(title.starts_with(cut_title));
        assert_eq!(entries[0].summary.as_deref(), Some("ngắn"));
        assert_eq!(entries[1].title.as_deref(), Some("Tin thường"));
        assert!(cut_texts(&mut entries).is_empty());
    }
}
