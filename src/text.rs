//! Vietnamese text normalization: the one place where fetched bytes become text and text becomes
//! matching keys. The rules, and the real feeds that forced each of them, are in the project's
//! notes on Vietnamese sources (README, "Vietnamese text and dates"). Pure: no I/O, no clock.
//!
//! The pipeline, in the order ingest applies it:
//!
//! - [`decode`]: fetched bytes → `String`, exactly once per body (BOM, valid UTF-8, HTTP charset,
//!   XML declaration, `<meta charset>`, windows-1252). Never fails; never normalizes.
//! - [`html_to_text`]: HTML fragment → plain text, then [`clean`].
//! - [`clean`]: display text. Output is NFC, uses U+0110/U+0111 for Đ/đ, contains no invisible or
//!   control characters, has single spaces and no leading or trailing space. Case and the
//!   publisher's tone-mark style (hoà or hòa) are kept: this is what readers see.
//! - [`match_key`]: `clean`, then one tone-mark style (hòa, thủy, khỏe), then lowercase. Exact
//!   diacritics otherwise: "dân vận" and "dân văn" stay different keys.
//! - [`fold`]: `match_key` without diacritics, đ → d. Opt-in only (a phrase typed without accents),
//!   because folding merges unrelated syllables (§3: "dan van" also finds "người dân vẫn").
//!
//! HTML entities are decoded inside `clean`, exactly once per call, so `clean` is not idempotent on
//! text that literally shows an entity (`&amp;amp;` → `&amp;` → `&`): call it once per raw value.
//! `match_key` and `fold` accept raw or already-cleaned text; the second decode this implies for
//! cleaned text only matters for articles about HTML entities, which is acceptable for a key.
//!
//! HTML approach: a hand-written tag stripper (one linear pass over the bytes; entities are left
//! to `clean`), not `scraper`/html5ever: we never need the tree, only which bytes are text and
//! where words break. Measured in release mode on a 544-byte Nhân Dân-style summary (shared
//! 2-vCPU VM, best of runs): `html_to_text` takes 2.7 µs including `clean`, while
//! `Html::parse_fragment` plus a text walk plus `clean` takes 14 µs (3× the instructions under
//! callgrind) and still neither breaks words at blocks nor drops `<script>`. Hostile inputs of
//! 300 KB (unclosed quotes, thousands of comments, nested `<template>`) take under 2 ms: there
//! is no quadratic path.

use std::borrow::Cow;

use encoding_rs::Encoding;
use unicode_normalization::char::{decompose_canonical, is_combining_mark};
use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

/// Display text: decode HTML entities once, NFC, map Đ impostors, drop invisible characters,
/// collapse whitespace, trim. Keeps case and the publisher's tone-mark style.
pub fn clean(s: &str) -> String {
    // Entities first: `&#8203;` and `&nbsp;` must meet the invisible/space rules below, and
    // `e&#803;` must meet NFC. Invisible characters go before NFC so that one sitting between a
    // letter and its combining mark does not block composition.
    let decoded = html_escape::decode_html_entities(s);
    let visible = decoded.chars().filter_map(space_or_visible);
    let mut out = String::with_capacity(decoded.len());
    // Most titles are NFC already, and the composing iterator costs several times more than the
    // rest of `clean`: skip it when the quick check proves it would change nothing.
    if is_nfc_quick(visible.clone().filter(|&c| !is_precomposed_latin(c))) == IsNormalized::Yes {
        push_collapsed(&mut out, visible.map(replace_d_impostor));
    } else {
        push_collapsed(&mut out, visible.nfc().map(replace_d_impostor));
    }
    out
}

/// HTML fragment → plain text, then [`clean`]. Block elements, `<br>` and unknown elements
/// separate words; inline ones (`<b>`, `<a>`, `<span>`, …) do not. The contents of `<script>`,
/// `<style>`, `<noscript>`, `<template>`, `<iframe>`, `<svg>` and `<math>` are dropped, as are
/// comments and an unterminated tag at the end. Linear time; never panics, whatever the input.
/// The result is plain text, not HTML: `&lt;b&gt;` comes out as `<b>`, so escape it to render.
pub fn html_to_text(html: &str) -> String {
    if !html.contains('<') {
        return clean(html);
    }
    clean(&strip_tags(html))
}

/// Matching key: [`clean`], every open `oa`/`oe`/`uy` syllable in the tone style `òa óa ỏa õa ọa
/// òe … ùy úy ủy ũy ụy`, then lowercase (after the Đ mapping, so Đ → đ).
pub fn match_key(s: &str) -> String {
    match_key_of_clean(&clean(s))
}

/// [`match_key`] of text that already went through [`clean`] (or [`html_to_text`]): the same
/// key without cleaning twice. Ingest builds the search text from pieces it has cleaned already.
pub fn match_key_of_clean(cleaned: &str) -> String {
    canonical_tone_marks(cleaned).to_lowercase()
}

/// Accent-insensitive key: [`match_key`] without diacritics, with đ → d. ASCII for Vietnamese
/// input ("Đảng ủy" → "dang uy").
pub fn fold(s: &str) -> String {
    let key = match_key(s);
    if key.is_ascii() {
        return key;
    }
    let mut stripped = String::with_capacity(key.len());
    for c in key.chars() {
        push_without_marks(&mut stripped, c);
    }
    // A stray combining mark between two spaces leaves two spaces once removed.
    let mut out = String::with_capacity(stripped.len());
    push_collapsed(&mut out, stripped.chars());
    out
}

/// Sanitized HTML (markup already safe): NFC, Đ impostors mapped and invisible characters
/// removed, like [`clean`], but entities are left alone (decoding `&lt;` would create markup)
/// and whitespace is kept (it may sit inside `<pre>`).
pub fn clean_html(html: &str) -> String {
    clean_html_owned(html.to_owned())
}

/// [`clean_html`] of a fragment already owned: given back as it is when nothing needs to
/// change (most fragments), without a copy.
pub fn clean_html_owned(html: String) -> String {
    // Printable ASCII and the precomposed Latin letters need no work (but Ð and ð do); only
    // the rest goes through the table lookups.
    let unusual = || {
        html.chars().filter(|&c| {
            !(c.is_ascii_graphic() || c == ' ' || c == '\n' || is_precomposed_latin(c))
                || matches!(c, '\u{D0}' | '\u{F0}' | '\u{189}' | '\u{256}')
        })
    };
    let needs_filter =
        unusual().any(|c| is_invisible(c) && !c.is_whitespace() || replace_d_impostor(c) != c);
    // Checked on what stays: an invisible character dropped from between two combining marks
    // leaves them side by side, possibly out of canonical order.
    let nfc = is_nfc_quick(unusual().filter(|&c| c.is_whitespace() || !is_invisible(c)))
        == IsNormalized::Yes;
    if !needs_filter && nfc {
        // The common case: nothing to change.
        return html;
    }
    let visible = html
        .chars()
        .filter(|c| c.is_whitespace() || !is_invisible(*c));
    if nfc {
        visible.map(replace_d_impostor).collect()
    } else {
        visible.nfc().map(replace_d_impostor).collect()
    }
}

/// Result of decoding a fetched body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The decoded text, BOM removed, not normalized.
    pub text: String,
    /// The `encoding_rs` name of the encoding used, e.g. "UTF-8", "windows-1258".
    pub encoding: &'static str,
}

/// Decode fetched bytes exactly once: a BOM wins (and is removed); then bytes that are valid
/// UTF-8 stay UTF-8 whatever is declared; then the HTTP charset, the XML declaration and
/// `<meta charset>` (both looked for in the first 1024 bytes); then windows-1252. Never fails:
/// malformed sequences become U+FFFD. Not normalized: windows-1258 yields combining marks, which
/// [`clean`] composes later.
pub fn decode(bytes: &[u8], http_charset: Option<&str>) -> Decoded {
    if let Some((encoding, bom_len)) = Encoding::for_bom(bytes) {
        let body = bytes.get(bom_len..).unwrap_or_default();
        return decode_as(encoding, body);
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => return utf8(text.to_owned()),
        // Invalid only because the last character is cut off (a body truncated at a size
        // limit): still UTF-8; the partial character becomes U+FFFD.
        Err(e) if e.error_len().is_none() => {
            return utf8(String::from_utf8_lossy(bytes).into_owned())
        }
        Err(_) => {}
    }
    decode_as(declared_encoding(bytes, http_charset), bytes)
}

// ---------------------------------------------------------------------------------------------
// clean

/// Whitespace of any kind → ' '; invisible characters → dropped; everything else kept.
fn space_or_visible(c: char) -> Option<char> {
    if c.is_ascii_graphic() || is_precomposed_latin(c) {
        // Most characters: no table lookups.
        Some(c)
    } else if c.is_whitespace() {
        // Covers \t \n \r, U+00A0, U+2009, U+202F, U+3000 and every other Unicode space.
        Some(' ')
    } else if is_invisible(c) {
        None
    } else {
        Some(c)
    }
}

/// The blocks Vietnamese letters come from (Latin-1 Supplement letters, Latin Extended-A and -B,
/// Latin Extended Additional). Every character here is visible, not a space, already NFC and a
/// starter (a unit test checks this against the Unicode tables), so `clean` can skip the lookups.
fn is_precomposed_latin(c: char) -> bool {
    matches!(c, '\u{C0}'..='\u{24F}' | '\u{1E00}'..='\u{1EFF}')
}

/// Control characters and zero-width format characters. Removing U+200C/U+200D also splits emoji
/// ZWJ sequences, which does not matter for news titles. U+FFFD is kept: it marks a decode error.
fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            // Soft hyphen; combining grapheme joiner (it blocks NFC composition); Arabic letter
            // mark; Mongolian vowel separator.
            '\u{AD}' | '\u{34F}' | '\u{61C}' | '\u{180E}'
            // Zero-width space, non-joiner and joiner; left-to-right and right-to-left marks.
            | '\u{200B}'..='\u{200F}'
            // Bidi embeddings, overrides and isolates; word joiner; invisible operators.
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            // BOM (zero-width no-break space); interlinear annotation characters.
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
        )
}

/// Letters publishers use for Đ/đ (VTV uses U+00D0). Runs after NFC, before any lowercasing:
/// U+00D0 lowercases to U+00F0 ð, never to đ. U+0256 is U+0189's lowercase partner.
fn replace_d_impostor(c: char) -> char {
    match c {
        '\u{D0}' | '\u{189}' => 'Đ',
        '\u{F0}' | '\u{256}' => 'đ',
        c => c,
    }
}

/// Append `chars` to `out`, turning each run of ' ' into one space and dropping leading and
/// trailing ones. `chars` must already have every kind of whitespace mapped to ' '.
fn push_collapsed(out: &mut String, chars: impl Iterator<Item = char>) {
    let mut pending_space = false;
    for c in chars {
        if c == ' ' {
            pending_space = true;
            continue;
        }
        if pending_space && !out.is_empty() {
            out.push(' ');
        }
        pending_space = false;
        out.push(c);
    }
}

// ---------------------------------------------------------------------------------------------
// tone-mark style

/// Plain vowel → its forms with the five tone marks, in the order grave, acute, hook above,
/// tilde, dot below. Only the vowels of the `oa`, `oe`, `uy` pairs are needed.
const TONED: [(char, [char; 5]); 10] = [
    ('a', ['à', 'á', 'ả', 'ã', 'ạ']),
    ('A', ['À', 'Á', 'Ả', 'Ã', 'Ạ']),
    ('e', ['è', 'é', 'ẻ', 'ẽ', 'ẹ']),
    ('E', ['È', 'É', 'Ẻ', 'Ẽ', 'Ẹ']),
    ('o', ['ò', 'ó', 'ỏ', 'õ', 'ọ']),
    ('O', ['Ò', 'Ó', 'Ỏ', 'Õ', 'Ọ']),
    ('u', ['ù', 'ú', 'ủ', 'ũ', 'ụ']),
    ('U', ['Ù', 'Ú', 'Ủ', 'Ũ', 'Ụ']),
    ('y', ['ỳ', 'ý', 'ỷ', 'ỹ', 'ỵ']),
    ('Y', ['Ỳ', 'Ý', 'Ỷ', 'Ỹ', 'Ỵ']),
];

/// A toned vowel of [`TONED`] → (plain vowel, tone index).
fn split_tone(c: char) -> Option<(char, usize)> {
    // Rule out everything but Latin-1 and the Vietnamese block before searching the table.
    if !matches!(c, '\u{C0}'..='\u{FD}' | '\u{1EA0}'..='\u{1EF9}') {
        return None;
    }
    TONED.iter().find_map(|(plain, forms)| {
        forms
            .iter()
            .position(|&f| f == c)
            .map(|tone| (*plain, tone))
    })
}

/// A plain vowel of [`TONED`] with the given tone.
fn with_tone(plain: char, tone: usize) -> Option<char> {
    TONED
        .iter()
        .find(|(p, _)| *p == plain)
        .and_then(|(_, forms)| forms.get(tone).copied())
}

/// Move the tone mark of every open `oa`, `oe`, `uy` syllable to its first vowel (hoà → hòa,
/// thuỷ → thủy, khoẻ → khỏe, uỷ → ủy), keeping each letter's case. Input must be NFC.
fn canonical_tone_marks(s: &str) -> Cow<'_, str> {
    // Most text has no o/u followed by a toned a, e or y: find that out without allocating.
    let mut prev = ' ';
    let candidate = s.chars().any(|c| {
        let hit = matches!(prev, 'o' | 'O' | 'u' | 'U') && split_tone(c).is_some();
        prev = c;
        hit
    });
    if !candidate {
        return Cow::Borrowed(s);
    }
    let mut chars: Vec<char> = s.chars().collect();
    let mut changed = false;
    for i in 1..chars.len() {
        let before = i.checked_sub(2).and_then(|b| chars.get(b)).copied();
        let after = chars.get(i + 1).copied();
        if let Some((first, last)) = canonical_pair(before, chars[i - 1], chars[i], after) {
            chars[i - 1] = first;
            chars[i] = last;
            changed = true;
        }
    }
    if changed {
        Cow::Owned(chars.into_iter().collect())
    } else {
        Cow::Borrowed(s)
    }
}

/// Two adjacent characters `first`, `last` with their neighbours. If they are the vowels of an
/// open `oa`/`oe`/`uy` syllable with the tone on the second one, the pair with the tone moved to
/// the first; otherwise `None`. Syllables are runs of letters, so a neighbour that is not a
/// letter (or `None`) is a syllable boundary.
fn canonical_pair(
    before: Option<char>,
    first: char,
    last: char,
    after: Option<char>,
) -> Option<(char, char)> {
    // Cheapest test first: this runs for every character of every key. Plain o and u only, so
    // ô, ơ, ư never match; split_tone only knows plain a, e, y, so neither do ă, â, ê.
    if !matches!(first, 'o' | 'O' | 'u' | 'U') {
        return None;
    }
    let (plain_last, tone) = split_tone(last)?;
    let pair = (first.to_ascii_lowercase(), plain_last.to_ascii_lowercase());
    if !matches!(pair, ('o', 'a') | ('o', 'e') | ('u', 'y')) {
        return None;
    }
    // Only open syllables: the pair must end the syllable. In closed ones (hoàn, hoạch, thuyết)
    // both styles agree already, and oai, uya, uyê end in another vowel.
    // A combining mark left over after NFC counts as part of the syllable too: moving the tone
    // off a letter it follows could let it compose later, and keys must be stable.
    if after.is_some_and(|c| c.is_alphabetic() || is_combining_mark(c)) {
        return None;
    }
    if let Some(before) = before {
        // A third vowel in front is no Vietnamese syllable we know how to place marks in.
        if is_vowel(before) {
            return None;
        }
        // qu + y: the u belongs to the consonant, so quý, quỹ, quỳ are already right.
        if matches!(before, 'q' | 'Q') && matches!(first, 'u' | 'U') {
            return None;
        }
    }
    Some((with_tone(first, tone)?, plain_last))
}

/// Any Vietnamese vowel, with or without marks, either case.
fn is_vowel(c: char) -> bool {
    c.nfd()
        .next()
        .is_some_and(|base| matches!(base.to_ascii_lowercase(), 'a' | 'e' | 'i' | 'o' | 'u' | 'y'))
}

// ---------------------------------------------------------------------------------------------
// fold

/// Push `c` without its diacritics. NFD does not decompose đ (a letter of its own, not d + mark):
/// it is mapped by hand, or "Đảng" folds to "ang" as with the usual NFKD-then-ASCII recipe.
pub(crate) fn push_without_marks(out: &mut String, c: char) {
    match c {
        'đ' => out.push('d'),
        'Đ' => out.push('D'),
        c if c.is_ascii() => out.push(c),
        c if is_combining_mark(c) => {}
        c => {
            let start = out.len();
            let mut had_mark = false;
            decompose_canonical(c, |part| {
                if is_combining_mark(part) {
                    had_mark = true;
                } else {
                    out.push(part);
                }
            });
            // Characters that decompose without marks (Hangul syllables into jamo) stay whole.
            if !had_mark {
                out.truncate(start);
                out.push(c);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// decode

fn utf8(text: String) -> Decoded {
    Decoded {
        text,
        encoding: encoding_rs::UTF_8.name(),
    }
}

fn decode_as(encoding: &'static Encoding, bytes: &[u8]) -> Decoded {
    let (text, _had_errors) = encoding.decode_without_bom_handling(bytes);
    Decoded {
        text: text.into_owned(),
        encoding: encoding.name(),
    }
}

/// Where declarations are looked for: the XML declaration must be first anyway, and HTML
/// requires `<meta charset>` within the first 1024 bytes.
const PRESCAN_LEN: usize = 1024;

/// Encoding for bytes already known not to be UTF-8: the first declaration found (HTTP, XML,
/// meta), except that a UTF-8 label, which the bytes have just contradicted, loses to a later
/// legacy one (a server default of "charset=utf-8" over a windows-1258 page). windows-1252 if
/// nothing is declared.
fn declared_encoding(bytes: &[u8], http_charset: Option<&str>) -> &'static Encoding {
    let head = bytes.get(..PRESCAN_LEN).unwrap_or(bytes);
    // A `<meta charset>` placed after long inline scripts lies beyond the standard prescan: look
    // on through the head, when the first bytes declared nothing and `</head>` comes within
    // 64 KiB (never in the body).
    let meta = meta_charset(head).or_else(|| {
        let wide = bytes.get(..WIDE_PRESCAN_LEN).unwrap_or(bytes);
        meta_charset(&wide[..find_ignore_case(wide, b"</head", 0)?])
    });
    let declared = [
        http_charset.and_then(|label| encoding_for_label(label.as_bytes())),
        xml_declared_encoding(head),
        meta,
    ];
    let mut found = declared.into_iter().flatten();
    match found.next() {
        Some(first) if first == encoding_rs::UTF_8 => {
            found.find(|e| *e != encoding_rs::UTF_8).unwrap_or(first)
        }
        Some(first) => first,
        None => encoding_rs::WINDOWS_1252,
    }
}

/// How far [`declared_encoding`] looks for `<meta charset>` when the first bytes have none.
const WIDE_PRESCAN_LEN: usize = 64 * 1024;

/// `Encoding::for_label`, tolerating quotes, but never the "replacement" encoding (iso-2022-kr
/// and friends), which would turn the whole body into one U+FFFD.
fn encoding_for_label(label: &[u8]) -> Option<&'static Encoding> {
    let label = label.trim_ascii();
    let label = label
        .strip_prefix(b"\"")
        .and_then(|l| l.strip_suffix(b"\""))
        .unwrap_or(label);
    Encoding::for_label(label).filter(|e| *e != encoding_rs::REPLACEMENT)
}

/// A label found inside the document itself. A document whose declaration we could read as
/// ASCII is not UTF-16, so that label means UTF-8 (as the HTML prescan rules say).
fn in_document_encoding(label: &[u8]) -> Option<&'static Encoding> {
    encoding_for_label(label).map(|e| {
        if e == encoding_rs::UTF_16LE || e == encoding_rs::UTF_16BE {
            encoding_rs::UTF_8
        } else {
            e
        }
    })
}

/// `<?xml version="1.0" encoding="windows-1258"?>` → windows-1258. A declaration without
/// `encoding` means UTF-8 (XML 1.0 §4.3.3).
fn xml_declared_encoding(head: &[u8]) -> Option<&'static Encoding> {
    let head = head.trim_ascii_start();
    let rest = head.strip_prefix(b"<?xml")?;
    if !rest.first().is_some_and(u8::is_ascii_whitespace) {
        return None;
    }
    let declaration = match find(rest, b"?>", 0) {
        Some(end) => &rest[..end],
        None => rest,
    };
    let Some(at) = find(declaration, b"encoding", 0) else {
        return Some(encoding_rs::UTF_8);
    };
    let value = attribute_value(&declaration[at + b"encoding".len()..])?;
    in_document_encoding(value)
}

/// `<meta charset="…">` or `<meta http-equiv="Content-Type" content="text/html; charset=…">`.
fn meta_charset(head: &[u8]) -> Option<&'static Encoding> {
    let mut from = 0;
    while let Some(at) = find_ignore_case(head, b"<meta", from) {
        let tag_end = find(head, b">", at).unwrap_or(head.len());
        let tag = &head[at..tag_end];
        if let Some(cs) = find_ignore_case(tag, b"charset", 0) {
            let label = attribute_value(&tag[cs + b"charset".len()..]);
            if let Some(encoding) = label.and_then(in_document_encoding) {
                return Some(encoding);
            }
        }
        from = at + 1;
    }
    None
}

/// After an attribute name: `= "value"`, `='value'` or `=value` → value.
fn attribute_value(after_name: &[u8]) -> Option<&[u8]> {
    let rest = after_name.trim_ascii_start().strip_prefix(b"=")?;
    let rest = rest.trim_ascii_start();
    match rest.first() {
        Some(&quote @ (b'"' | b'\'')) => {
            let value = &rest[1..];
            let end = value.iter().position(|&b| b == quote)?;
            Some(&value[..end])
        }
        Some(_) => {
            let end = rest
                .iter()
                .position(|&b| {
                    b.is_ascii_whitespace() || matches!(b, b';' | b'>' | b'/' | b'"' | b'\'')
                })
                .unwrap_or(rest.len());
            Some(&rest[..end])
        }
        None => None,
    }
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if let [byte] = needle {
        return hay
            .get(from..)?
            .iter()
            .position(|b| b == byte)
            .map(|p| p + from);
    }
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn starts_with_ignore_case(hay: &[u8], prefix: &[u8]) -> bool {
    hay.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

fn find_ignore_case(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
        .map(|p| p + from)
}

// ---------------------------------------------------------------------------------------------
// html_to_text

/// How an element affects the text around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TagKind {
    /// Text flows through it: `<b>dân</b> vận` → "dân vận".
    Inline,
    /// Separates words: `dân</p><p>vận` → "dân vận". Also every unknown element, because gluing
    /// two words loses a match while an extra space costs nothing.
    Block,
    /// Contents are raw text up to the matching end tag, and dropped.
    RawText,
    /// Contents are markup, and dropped (nested ones are counted).
    Hidden(Hidden),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hidden {
    Template,
    Svg,
    Math,
}

fn tag_kind(name: &[u8]) -> TagKind {
    let mut lower = [0u8; 10];
    let Some(buffer) = lower.get_mut(..name.len()) else {
        return TagKind::Block;
    };
    for (l, n) in buffer.iter_mut().zip(name) {
        *l = n.to_ascii_lowercase();
    }
    match &*buffer {
        b"a" | b"abbr" | b"acronym" | b"b" | b"bdi" | b"bdo" | b"big" | b"cite" | b"code"
        | b"data" | b"del" | b"dfn" | b"em" | b"font" | b"i" | b"ins" | b"kbd" | b"label"
        | b"mark" | b"nobr" | b"q" | b"rp" | b"rt" | b"ruby" | b"s" | b"samp" | b"small"
        | b"span" | b"strike" | b"strong" | b"sub" | b"sup" | b"time" | b"tt" | b"u" | b"var"
        | b"wbr" => TagKind::Inline,
        b"script" | b"style" | b"noscript" | b"iframe" | b"noembed" | b"noframes" | b"xmp" => {
            TagKind::RawText
        }
        b"template" => TagKind::Hidden(Hidden::Template),
        b"svg" => TagKind::Hidden(Hidden::Svg),
        b"math" => TagKind::Hidden(Hidden::Math),
        _ => TagKind::Block,
    }
}

/// One piece of markup starting at a `<`. Positions are byte offsets into the input.
#[derive(Debug)]
enum Markup<'a> {
    /// The `<` is just a character ("a < b", "<3").
    LiteralLt,
    /// Comment, doctype, processing instruction, `</>`: skipped up to `end`.
    Skip {
        end: usize,
    },
    /// `<![CDATA[…]]>`: HTML treats it as a comment, but inside a feed's HTML it can only be a
    /// publisher's clumsy escaping of real text, so the text is kept.
    Cdata {
        text_start: usize,
        text_end: usize,
        end: usize,
    },
    Start {
        name: &'a [u8],
        end: usize,
        self_closing: bool,
    },
    End {
        name: &'a [u8],
        end: usize,
    },
    /// Unterminated tag or comment: like HTML5 at end of file, the rest is swallowed. This also
    /// drops the half tag at the end of a summary a feed truncated (`… <a href="http://ex`).
    Unterminated,
}

/// Text of an HTML fragment with tags removed and word breaks kept as spaces. Entities are left
/// for `clean`. Every `<`, `>` and quote is ASCII, so each offset used for slicing is on a char
/// boundary; slicing still goes through `get` so that a mistake cannot panic.
fn strip_tags(html: &str) -> String {
    let bytes = html.as_bytes();
    let mut out = String::with_capacity(html.len());
    let mut text_start = 0;
    let mut pos = 0;
    // The outermost dropped container, and how deeply it is nested in itself.
    let mut hidden: Option<(Hidden, usize)> = None;

    while let Some(lt) = find(bytes, b"<", pos) {
        let markup = parse_markup(bytes, lt);
        if let Markup::LiteralLt = markup {
            pos = lt + 1;
            continue;
        }
        if hidden.is_none() {
            out.push_str(html.get(text_start..lt).unwrap_or_default());
        }
        pos = match markup {
            Markup::LiteralLt | Markup::Unterminated => bytes.len(),
            Markup::Skip { end } => end,
            Markup::Cdata {
                text_start,
                text_end,
                end,
            } => {
                if hidden.is_none() {
                    out.push_str(html.get(text_start..text_end).unwrap_or_default());
                }
                end
            }
            Markup::Start {
                name,
                end,
                self_closing,
            } => match tag_kind(name) {
                TagKind::Inline => end,
                TagKind::Block => {
                    out.push(' ');
                    end
                }
                TagKind::RawText => {
                    // `<script/>` is not self-closing in HTML: its text still runs to `</script>`.
                    out.push(' ');
                    skip_raw_text(bytes, end, name)
                }
                TagKind::Hidden(kind) => {
                    out.push(' ');
                    // Honoured for all three (HTML only does for svg/math) so that a stray
                    // `<template/>` cannot swallow the rest of the item.
                    if !self_closing {
                        hidden = match hidden {
                            None => Some((kind, 1)),
                            Some((open, depth)) if open == kind => Some((open, depth + 1)),
                            other => other,
                        };
                    }
                    end
                }
            },
            Markup::End { name, end } => {
                let kind = tag_kind(name);
                if kind != TagKind::Inline {
                    out.push(' ');
                }
                if let (TagKind::Hidden(closed), Some((open, depth))) = (kind, hidden) {
                    if closed == open {
                        hidden = (depth > 1).then_some((open, depth - 1));
                    }
                }
                end
            }
        };
        text_start = pos;
    }
    if hidden.is_none() {
        out.push_str(html.get(text_start..).unwrap_or_default());
    }
    out
}

fn parse_markup(bytes: &[u8], lt: usize) -> Markup<'_> {
    let rest = bytes.get(lt..).unwrap_or_default();
    match rest.get(1) {
        Some(b'!') if rest.starts_with(b"<!--") => skip_comment(bytes, lt + 4),
        Some(b'!') if starts_with_ignore_case(rest, b"<![CDATA[") => {
            let text_start = lt + 9;
            match find(bytes, b"]]>", text_start) {
                Some(close) => Markup::Cdata {
                    text_start,
                    text_end: close,
                    end: close + 3,
                },
                None => Markup::Cdata {
                    text_start,
                    text_end: bytes.len(),
                    end: bytes.len(),
                },
            }
        }
        // Doctype, processing instruction, `</ x>`: bogus comments that end at the next `>`.
        Some(b'!' | b'?') => skip_to_gt(bytes, lt + 2),
        Some(b'/') => match rest.get(2) {
            Some(c) if c.is_ascii_alphabetic() => {
                let (name, after_name) = tag_name(bytes, lt + 2);
                match skip_attributes(bytes, after_name) {
                    Some((end, _)) => Markup::End { name, end },
                    None => Markup::Unterminated,
                }
            }
            Some(b'>') => Markup::Skip { end: lt + 3 },
            Some(_) => skip_to_gt(bytes, lt + 2),
            None => Markup::LiteralLt,
        },
        Some(c) if c.is_ascii_alphabetic() => {
            let (name, after_name) = tag_name(bytes, lt + 1);
            match skip_attributes(bytes, after_name) {
                Some((end, self_closing)) => Markup::Start {
                    name,
                    end,
                    self_closing,
                },
                None => Markup::Unterminated,
            }
        }
        _ => Markup::LiteralLt,
    }
}

/// After `<!--`. `<!-->` and `<!--->` are complete (empty) comments in HTML5; `--!>` also ends one.
fn skip_comment(bytes: &[u8], body: usize) -> Markup<'static> {
    let rest = bytes.get(body..).unwrap_or_default();
    if rest.starts_with(b">") {
        return Markup::Skip { end: body + 1 };
    }
    if rest.starts_with(b"->") {
        return Markup::Skip { end: body + 2 };
    }
    // One forward scan over the `--` pairs: searching for `-->` and `--!>` separately would
    // rescan the rest of the input for every comment, quadratic on a page of comments.
    let mut from = body;
    while let Some(dashes) = find(bytes, b"--", from) {
        let after = bytes.get(dashes + 2..).unwrap_or_default();
        if after.starts_with(b">") {
            return Markup::Skip { end: dashes + 3 };
        }
        if after.starts_with(b"!>") {
            return Markup::Skip { end: dashes + 4 };
        }
        from = dashes + 1;
    }
    Markup::Unterminated
}

fn skip_to_gt(bytes: &[u8], from: usize) -> Markup<'static> {
    match find(bytes, b">", from) {
        Some(gt) => Markup::Skip { end: gt + 1 },
        None => Markup::Unterminated,
    }
}

/// Tag name from `from` (its first letter) up to whitespace, `/` or `>`.
fn tag_name(bytes: &[u8], from: usize) -> (&[u8], usize) {
    let rest = bytes.get(from..).unwrap_or_default();
    let len = rest
        .iter()
        .position(|&b| b.is_ascii_whitespace() || b == b'/' || b == b'>')
        .unwrap_or(rest.len());
    (&rest[..len], from + len)
}

/// From just after a tag name to just after its `>`, stepping over quoted attribute values
/// (`<a title="x>y">`). Returns that position and whether the tag ended with `/>`; `None` if the
/// input ends first.
fn skip_attributes(bytes: &[u8], mut i: usize) -> Option<(usize, bool)> {
    let mut self_closing = false;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'>' => return Some((i + 1, self_closing)),
            b'/' => {
                self_closing = true;
                i += 1;
            }
            b'=' => {
                self_closing = false;
                i += 1;
                while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
                    i += 1;
                }
                if let Some(&quote @ (b'"' | b'\'')) = bytes.get(i) {
                    i = find(bytes, &[quote], i + 1)? + 1;
                }
            }
            _ => {
                self_closing = false;
                i += 1;
            }
        }
    }
    None
}

/// From just after `<script …>` to just after the matching `</script …>`, or the end of input.
/// Raw text does not nest, and markup inside it (`"<b>"` in a string) means nothing.
fn skip_raw_text(bytes: &[u8], mut i: usize, name: &[u8]) -> usize {
    while let Some(lt) = find(bytes, b"</", i) {
        let name_start = lt + 2;
        let name_end = name_start + name.len();
        let same_name = bytes
            .get(name_start..name_end)
            .is_some_and(|n| n.eq_ignore_ascii_case(name));
        let name_ends = matches!(
            bytes.get(name_end),
            None | Some(b'\t' | b'\n' | b'\x0c' | b'\r' | b' ' | b'/' | b'>')
        );
        if same_name && name_ends {
            return skip_attributes(bytes, name_end).map_or(bytes.len(), |(end, _)| end);
        }
        i = lt + 2;
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(f: fn(&str) -> String, cases: &[(&str, &str)]) {
        for (input, expected) in cases {
            assert_eq!(f(input), *expected, "input: {input:?}");
        }
    }

    #[test]
    fn clean_html_cases() {
        check(
            clean_html,
            &[
                (
                    "<p>Th\u{f4}ng \u{111}i\u{ea}\u{323}p</p>",
                    "<p>Thông điệp</p>",
                ),
                ("<b>\u{d0}\u{1ea3}ng</b> &lt;b&gt;", "<b>Đảng</b> &lt;b&gt;"),
                ("<pre>a\u{200b}\n  b</pre>", "<pre>a\n  b</pre>"),
            ],
        );
    }

    #[test]
    fn clean_cases() {
        check(
            clean,
            &[
                ("đ&atilde; c&oacute;", "đã có"),
                ("Lynk &amp; Co", "Lynk & Co"),
                // Decoded once only.
                ("Lynk &amp;amp; Co", "Lynk &amp; Co"),
                ("AT&T", "AT&T"),
                ("\n   Tiêu đề  \n", "Tiêu đề"),
                ("dự kiến \u{200b}\u{200b}tổ chức", "dự kiến tổ chức"),
                ("a\u{feff}b\u{ad}c\u{200c}d\u{200d}e\u{0}f\u{7}g", "abcdefg"),
                ("a\u{a0}b\u{202f}c\u{2009}d\u{3000}e\t\r\nf", "a b c d e f"),
                ("a&nbsp;&nbsp;b&#8203;c", "a bc"),
                // NFC, whatever the order of the two marks.
                ("Th\u{f4}ng \u{111}i\u{ea}\u{323}p", "Thông điệp"),
                ("\u{111}i\u{1ecd}\u{302}p", "điộp"),
                ("Vi\u{ea}&#803;t", "Việt"),
                // An invisible character does not block composition.
                ("Vi\u{ea}\u{200b}\u{323}t", "Việt"),
                // Nor does it hide marks in the wrong canonical order from NFC.
                ("x\u{305}\u{200b}\u{316}", "x\u{316}\u{305}"),
                // Đ impostors; case and tone style kept.
                ("Ðề xuất", "Đề xuất"),
                ("\u{189}ảng ủy", "Đảng ủy"),
                ("ðảng", "đảng"),
                ("&ETH;&eth;", "Đđ"),
                ("Uỷ ban HOÀ", "Uỷ ban HOÀ"),
                ("", ""),
                ("  \u{200b} ", ""),
                ("x\u{fffd}y", "x\u{fffd}y"),
            ],
        );
    }

    #[test]
    fn precomposed_latin_needs_no_lookup() {
        let latin = ('\u{C0}'..='\u{24F}').chain('\u{1E00}'..='\u{1EFF}');
        for c in latin {
            assert!(is_precomposed_latin(c));
            assert!(!c.is_whitespace() && !is_invisible(c), "{c:?}");
            assert_eq!(is_nfc_quick(std::iter::once(c)), IsNormalized::Yes, "{c:?}");
            assert_eq!(
                unicode_normalization::char::canonical_combining_class(c),
                0,
                "{c:?}"
            );
        }
    }

    #[test]
    fn clean_is_idempotent_without_entities() {
        for s in ["Thông điệp", "Ðề  xuất\u{a0}", "\u{ea}\u{323}", "a &amp; b"] {
            let once = clean(s);
            if !once.contains('&') {
                assert_eq!(clean(&once), once, "input: {s:?}");
            }
        }
    }

    #[test]
    fn match_key_cases() {
        check(
            match_key,
            &[
                ("Th\u{f4}ng \u{111}i\u{ea}\u{323}p", "thông điệp"),
                ("Ðề xuất", "đề xuất"),
                ("ÐỀ XUẤT", "đề xuất"),
                ("Uỷ ban", "ủy ban"),
                ("UỶ BAN", "ủy ban"),
                ("hoà giải", "hòa giải"),
                ("HOÀ", "hòa"),
                ("hoá học", "hóa học"),
                ("khoẻ", "khỏe"),
                ("thuỷ lợi", "thủy lợi"),
                ("tuý", "túy"),
                ("Hoạ sĩ", "họa sĩ"),
                ("loã xoã", "lõa xõa"),
                ("oà khóc", "òa khóc"),
                // Already canonical.
                ("hòa thủy khỏe", "hòa thủy khỏe"),
                // qu + vowel and gi + vowel stay.
                ("quý", "quý"),
                ("quỹ quả quỳ", "quỹ quả quỳ"),
                ("già giữ", "già giữ"),
                // Closed syllables and three-vowel nuclei keep their marks.
                ("hoàn thuyết hoạch", "hoàn thuyết hoạch"),
                ("hoài khuya khuỷu ngoẻo", "hoài khuya khuỷu ngoẻo"),
                // Syllables are split on any non-letter.
                ("Hoà-Bình, thuỷ.", "hòa-bình, thủy."),
                ("dự kiến \u{200b}\u{200b}tổ chức", "dự kiến tổ chức"),
                ("đ&atilde; c&oacute;", "đã có"),
                // Exact diacritics otherwise.
                ("dân vận", "dân vận"),
                ("dân văn", "dân văn"),
            ],
        );
    }

    #[test]
    fn tone_style_keeps_case() {
        check(
            |s| canonical_tone_marks(s).into_owned(),
            &[
                ("Hoà", "Hòa"),
                ("HOÀ", "HÒA"),
                ("hOÀ", "hÒA"),
                ("HOà", "HÒa"),
                ("Uỷ", "Ủy"),
                ("THUỶ", "THỦY"),
                ("QUÝ", "QUÝ"),
            ],
        );
    }

    #[test]
    fn fold_cases() {
        check(
            fold,
            &[
                ("Đảng ủy", "dang uy"),
                ("Ðảng uỷ", "dang uy"),
                ("vận", "van"),
                ("Nội", "noi"),
                ("Thành ủy TP.HCM", "thanh uy tp.hcm"),
                ("Th\u{f4}ng \u{111}i\u{ea}\u{323}p", "thong diep"),
                ("Hoà giải", "hoa giai"),
                ("ĐƯỜNG", "duong"),
                ("ĐẢNG ỦY", "dang uy"),
                ("Nhân dân vẫn", "nhan dan van"),
                ("a \u{301} b", "a b"),
            ],
        );
        let all = "àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ";
        assert!(fold(all).is_ascii());
        assert!(fold(&all.to_uppercase()).is_ascii());
    }

    #[test]
    fn html_to_text_cases() {
        check(
            html_to_text,
            &[
                ("<b>dân</b> vận", "dân vận"),
                ("d&acirc;n v&#7853;n", "dân vận"),
                ("dân</p><p>vận", "dân vận"),
                ("<p>a</p><p>b</p>", "a b"),
                ("dân<br>vận", "dân vận"),
                ("dân<br/>vận<div>x</div>", "dân vận x"),
                ("<span>dân</span><span> vận</span>", "dân vận"),
                ("d<b>â</b>n", "dân"),
                ("<custom-el>a</custom-el>b", "a b"),
                ("<script>alert(1)</script>x", "x"),
                ("<SCRIPT type=x>a</b>\"</scripty>\"</SCRIPT >y", "y"),
                ("<style>p { color: red }</style>Tin", "Tin"),
                ("<noscript><img src=x></noscript>Tin", "Tin"),
                ("<script>never closed", ""),
                (
                    "a<template><p>x</p><template>y</template>z</template>b",
                    "a b",
                ),
                ("<svg><title>icon</title><svg></svg>t</svg>Tin", "Tin"),
                ("<svg/>Tin", "Tin"),
                ("<math><mi>x</mi></math>y", "y"),
                ("<a title=\"x>y\" href='a>b'>link</a>", "link"),
                ("<a href=x\"y>link</a>", "link"),
                ("<!-- comment <p>x</p> -->after", "after"),
                ("<!-->x", "x"),
                ("<!--->x", "x"),
                ("a<!-- x --!>b", "ab"),
                ("<!---->a<!-- b -- c --->d", "ad"),
                ("x<!-- never closed", "x"),
                ("<!DOCTYPE html><?php echo 1 ?>x", "x"),
                ("a</>b", "ab"),
                ("a</ x>b", "ab"),
                ("<![CDATA[dân vận]]>", "dân vận"),
                ("<![CDATA[dân", "dân"),
                // Literal `<`, and entities decoded once after tags are gone.
                ("a < b", "a < b"),
                ("I <3 Hà Nội", "I <3 Hà Nội"),
                ("x<", "x<"),
                ("x</", "x</"),
                ("<p>1 &lt; 2</p>", "1 < 2"),
                ("&lt;b&gt;x&lt;/b&gt;", "<b>x</b>"),
                // Unclosed and garbage tags.
                ("<p>Nội dung <a href=\"http://ex", "Nội dung"),
                ("Tin <b", "Tin"),
                ("<p>x<div", "x"),
                ("<<<>>>", "<<<>>>"),
                ("<p<p>x", "x"),
                ("<a href='unclosed>text", ""),
                ("\n  <p>\n Tiêu&nbsp;đề </p>\n", "Tiêu đề"),
                ("", ""),
            ],
        );
    }

    /// Hostile input: every prefix of markup that is cut in awkward places must not panic, and
    /// must not leak the dropped script text.
    #[test]
    fn html_to_text_survives_every_prefix() {
        let html = "<p class=\"a>b\">Việt <b>Nam</b><!-- c --><script>var s='</p>';</script>\
                    <![CDATA[x]]><template><p>t</p></template>&amp;&#7853;</p ><a href='x'";
        for (i, _) in html.char_indices() {
            let text = html_to_text(&html[..i]);
            assert!(!text.contains("var s"), "prefix {i}: {text:?}");
        }
        assert_eq!(html_to_text(html), "Việt Nam x &ậ");
    }

    #[test]
    fn decode_cases() {
        let cases: &[(&[u8], Option<&str>, &str, &str)] = &[
            (b"\xef\xbb\xbfVi\xe1\xbb\x87t", None, "Việt", "UTF-8"),
            (b"\xff\xfeV\x00i\x00\xc7\x1et\x00", None, "Việt", "UTF-16LE"),
            (b"\xfe\xff\x00V\x00i\x1e\xc7\x00t", None, "Việt", "UTF-16BE"),
            // A BOM beats the HTTP header.
            (b"\xef\xbb\xbfx", Some("windows-1258"), "x", "UTF-8"),
            // Valid UTF-8 stays UTF-8 whatever is declared.
            ("Việt".as_bytes(), Some("iso-8859-1"), "Việt", "UTF-8"),
            (
                "<meta charset=\"iso-8859-1\">Việt".as_bytes(),
                None,
                "<meta charset=\"iso-8859-1\">Việt",
                "UTF-8",
            ),
            (
                "<?xml version=\"1.0\" encoding=\"windows-1258\"?><t>Việt</t>".as_bytes(),
                None,
                "<?xml version=\"1.0\" encoding=\"windows-1258\"?><t>Việt</t>",
                "UTF-8",
            ),
            // Truncated in the middle of a character: still UTF-8.
            (b"Vi\xe1\xbb", None, "Vi\u{fffd}", "UTF-8"),
            // Nothing declared: windows-1252.
            (b"caf\xe9 x", None, "café x", "windows-1252"),
            (b"caf\xe9 x", Some("\"latin1\""), "café x", "windows-1252"),
            // Unknown and "replacement" labels are ignored.
            (
                b"caf\xe9 x",
                Some("no-such-charset"),
                "café x",
                "windows-1252",
            ),
            (b"caf\xe9 x", Some("iso-2022-kr"), "café x", "windows-1252"),
            // Declared UTF-8 on bytes that are not: U+FFFD, not a failure.
            (b"caf\xe9!", Some("utf-8"), "caf\u{fffd}!", "UTF-8"),
            // An XML declaration without encoding means UTF-8.
            (
                b"<?xml version='1.0'?>caf\xe9!",
                None,
                "<?xml version='1.0'?>caf\u{fffd}!",
                "UTF-8",
            ),
        ];
        for (bytes, charset, text, encoding) in cases {
            let expected = Decoded {
                text: (*text).to_owned(),
                encoding,
            };
            assert_eq!(
                decode(bytes, *charset),
                expected,
                "input: {bytes:?} {charset:?}"
            );
        }
    }

    #[test]
    fn a_meta_charset_after_long_head_scripts_is_found() {
        let mut page = b"<html><head><script>".to_vec();
        page.extend(std::iter::repeat_n(b'x', 3000));
        page.extend_from_slice(
            b"</script><meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1258\"></head><body>Tha\xCCnh</body>",
        );
        let d = decode(&page, None);
        assert_eq!(d.encoding, "windows-1258");
        assert!(
            clean(&d.text).ends_with("Thành</body>"),
            "{:?}",
            &d.text[3000..]
        );
        // Past the head, a "<meta" in the body text is not a declaration.
        let mut body = b"<html><head></head><body>".to_vec();
        body.extend(std::iter::repeat_n(b'x', 2000));
        body.extend_from_slice(b"<meta charset=\"windows-1258\">caf\xe9!");
        assert_eq!(decode(&body, None).encoding, "windows-1252");
    }

    /// "Việt Nam" the way a windows-1258 publisher writes it: ê, then a combining dot below.
    fn windows_1258(text: &str) -> Vec<u8> {
        let (bytes, _, unmappable) = encoding_rs::WINDOWS_1258.encode(text);
        assert!(
            !unmappable,
            "test text must be encodable without character references"
        );
        bytes.into_owned()
    }

    #[test]
    fn decode_windows_1258() {
        let body = windows_1258("Vi\u{ea}\u{323}t Nam");
        assert!(std::str::from_utf8(&body).is_err());

        let decoded = decode(&body, Some("windows-1258"));
        assert_eq!(decoded.encoding, "windows-1258");
        // Combining marks survive decoding; `clean` composes them.
        assert_eq!(decoded.text, "Vi\u{ea}\u{323}t Nam");
        assert_eq!(clean(&decoded.text), "Việt Nam");

        let xml_declared = [
            &b"<?xml version=\"1.0\" encoding=\"windows-1258\"?>\n<title>"[..],
            &body,
            b"</title>",
        ]
        .concat();
        let decoded = decode(&xml_declared, None);
        assert_eq!(decoded.encoding, "windows-1258");
        assert_eq!(html_to_text(&decoded.text), "Việt Nam");

        let meta_declared = [
            &b"<html><head><META http-equiv=Content-Type content='text/html; charset=windows-1258'>"[..],
            &body,
        ]
        .concat();
        let decoded = decode(&meta_declared, None);
        assert_eq!(decoded.encoding, "windows-1258");
        assert_eq!(html_to_text(&decoded.text), "Việt Nam");

        let meta_charset = [&b"<meta charset=\"cp1258\"/>"[..], &body].concat();
        assert_eq!(decode(&meta_charset, None).encoding, "windows-1258");

        // A server-default "utf-8" header loses to the document's own legacy declaration.
        assert_eq!(
            decode(&xml_declared, Some("utf-8")).encoding,
            "windows-1258"
        );
        // Any other HTTP charset wins over the document.
        assert_eq!(
            decode(&xml_declared, Some("windows-1252")).encoding,
            "windows-1252"
        );
        // Declarations past the first 1024 bytes are not looked at, outside a `<head>`.
        let late = [&[b' '; 1024][..], b"<meta charset=windows-1258>", &body].concat();
        assert_eq!(decode(&late, None).encoding, "windows-1252");
    }
}
