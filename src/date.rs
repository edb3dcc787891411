//! Lenient parsing of publication dates as Vietnamese publishers write them: pure, table-tested.
//!
//! Feeds and article pages carry dates in a dozen shapes (README, "Vietnamese text and dates"): RFC 822 with
//! wrong weekdays, `+07` meaning hours, `GMT+7`, 2-digit years, month-first 12-hour wall times with
//! U+202F before `PM`, and page forms such as `Chủ Nhật, ngày 19 tháng 1 năm 2020`,
//! `Cập nhật lúc 10:30 ngày 19/01/2020` or `15 giờ trước`. [`parse`] turns any of them into an
//! instant; [`is_plausible`] says whether that instant can be believed.
//!
//! How: a well-formed RFC 3339 string goes straight to chrono's parser. Anything else is folded
//! character by character (lowercase, diacritics dropped, `đ` → `d`, odd spaces → space, NFC or
//! NFD alike) into at most `MAX_TOKENS` tokens kept on the stack, a small grammar picks out a
//! date, a time, an offset or a relative phrase, and chrono validates the pieces. No allocation.
//!
//! chrono's RFC 2822 parser is deliberately not used, even for feed dates: it rejects a wrong
//! weekday, `+07`, `+07:00` and `GMT+7` (each of which real outlets send), reads 2-digit years by
//! a fixed rule instead of against `now`, and silently reads any unknown zone name (`ICT`,
//! Indochina Time, is +07:00) as UTC. Rewriting the string until chrono accepts it would still
//! leave the page forms to a tokenizer, so one tokenizer handles them all.
//!
//! Invariants:
//! - Pure: no I/O and no clock; `now` is used only for relative phrases ("15 giờ trước",
//!   "Hôm qua 10:30") and to pick the century of a 2-digit year.
//! - A date or time without an offset is wall time in the caller's `tz` (Asia/Ho_Chi_Minh for
//!   Vietnamese sources); a date without a time is 00:00 there.
//! - Numeric dates are day/month/year unless the caller says [`DateOrder::Mdy`]. An invalid
//!   reading is never rescued by swapping day and month: `8/22/2026` under `Dmy` is `None`, which
//!   shows the source is misconfigured instead of hiding it (its `8/9/2026` would still be wrong).
//! - Weekdays are skipped, never checked: publishers get them wrong.
//! - Unknown words are skipped ("Cập nhật lúc", "Tác giả"), but every number must have a role:
//!   an unexplained number, two dates, two times or two offsets give `None` rather than a guess.
//! - `parse` never judges plausibility and never returns `now` for input it cannot read.

use std::str::FromStr;

use chrono::{
    DateTime, Datelike, Days, FixedOffset, Months, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    TimeDelta, TimeZone, Utc,
};
use chrono_tz::Tz;
use unicode_normalization::char::{decompose_canonical, is_combining_mark};

/// Order of numeric day and month in dates like 8/9/2026.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DateOrder {
    /// Day first: `8/9/2026` is 8 September, as Vietnamese is written.
    #[default]
    Dmy,
    /// Month first: `8/9/2026` is 9 August (Báo Chính phủ's and Tuổi Trẻ's feeds).
    Mdy,
}

impl FromStr for DateOrder {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("dmy") {
            Ok(Self::Dmy)
        } else if s.eq_ignore_ascii_case("mdy") {
            Ok(Self::Mdy)
        } else {
            Err(format!(
                "unknown date order {s:?}: expected \"dmy\" or \"mdy\""
            ))
        }
    }
}

/// Parses a date as publishers write it (feeds and HTML pages). Returns the instant with the
/// offset the string gave, or, when it gave none, the offset of `tz` at that local time. `now` is
/// used only for relative forms ("15 giờ trước", "Hôm qua 10:30", "Hôm nay 08:00", "2 ngày trước",
/// "30 phút trước") and for resolving 2-digit years. Returns None when nothing parses. Does NOT
/// judge plausibility (see [`is_plausible`]).
///
/// A day word without a time ("hôm nay", "hôm qua") reads as 00:00 local on that day, like any
/// other date without a time. A relative phrase keeps the precision of `now` and carries the
/// offset of `tz` at the resulting instant.
pub fn parse(
    raw: &str,
    tz: Tz,
    order: DateOrder,
    now: DateTime<Utc>,
) -> Option<DateTime<FixedOffset>> {
    let trimmed = raw.trim();
    // Fast path for `<time datetime>` and `article:published_time` values. The tokenizer below
    // reads the same strings to the same instants (tested); chrono is just quicker at it.
    if trimmed.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        if let Ok(t) = DateTime::parse_from_rfc3339(trimmed) {
            return Some(t);
        }
    }
    parse_lenient(trimmed, tz, order, now)
}

/// 1995-01-01T00:00:00Z as a Unix timestamp: the plausibility cut-off (Vietnam's public
/// internet dates from 1997, so an earlier date is a misreading).
const EARLIEST_PLAUSIBLE: i64 = 788_918_400;

/// A date more than one day in the future, or before 1995-01-01, is suspect.
pub fn is_plausible(t: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    t.timestamp() >= EARLIEST_PLAUSIBLE && t.signed_duration_since(now) <= TimeDelta::days(1)
}

/// Everything but the RFC 3339 fast path.
fn parse_lenient(
    s: &str,
    tz: Tz,
    order: DateOrder,
    now: DateTime<Utc>,
) -> Option<DateTime<FixedOffset>> {
    let scanner = Scanner::scan(s)?;
    let fields = Fields::read(Toks(scanner.tokens()), order, now.year())?;
    fields.resolve(tz, now)
}

// ---------------------------------------------------------------------------------------------
// Tokens

/// More tokens than this is not a date (a date string with a weekday, a label and a zone has
/// about 20); stopping early also bounds the work done on a whole paragraph passed by mistake.
const MAX_TOKENS: usize = 48;

/// Longest word the grammar knows ("september"); longer words are kept as [`Word::Other`].
const WORD_MAX: usize = 10;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Tok {
    kind: Kind,
    /// Whitespace came right before this token. "+07" binds to a time, "- 10:30" does not.
    spaced: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Kind {
    /// Past the last token.
    #[default]
    End,
    /// A run of ASCII digits; `digits` counts leading zeros ("07" has 2). Past 19 digits, `value`
    /// holds the leading 19.
    Num {
        value: u64,
        digits: u8,
    },
    Word(Word),
    /// ASCII punctuation; other symbols (`·`, `•`) become `?`, dashes become `-`.
    Punct(u8),
}

/// A time span unit for relative phrases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Span {
    Seconds(u32),
    /// Calendar months: "1 tháng trước" on 31 March is 28 (or 29) February.
    Months(u32),
}

/// Words after folding (lowercase, no diacritics, `đ` → `d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Word {
    /// English month name or abbreviation, 1-based.
    Month(u32),
    /// "thu": English Thursday, or Vietnamese "Thứ" before a weekday name or number.
    Thu,
    /// "hai", "ba", "tu", "sau", "bay" (Thứ Hai … Thứ Bảy; "năm" is [`Word::Nam`]).
    ViWeekday,
    /// AM/PM, and vi-VN's designators "SA"/"CH" (sáng/chiều), "sáng", "chiều", "tối".
    Meridiem {
        pm: bool,
    },
    /// "gmt", "ut", "utc", "z": +00:00, or the offset that follows ("GMT+7").
    Utc,
    /// A named zone with a fixed offset in seconds ("ict", RFC 822's US zones).
    Zone(i32),
    /// "ngày": day marker ("ngày 19") or unit ("2 ngày trước").
    Ngay,
    /// "tháng": month marker or unit.
    Thang,
    /// "năm": year marker, unit, or Thứ Năm (Thursday).
    Nam,
    Unit(Span),
    /// "trước", "ago".
    Ago,
    /// "hôm" in "hôm qua" (yesterday), "hôm nay" (today), "hôm kia" (the day before yesterday).
    Hom,
    Qua,
    Nay,
    Kia,
    /// "h" in "10h30", the Vietnamese way of writing 10:30.
    H,
    /// "t": ISO's date-time separator, or "T2" … "T7" for Thứ Hai … Thứ Bảy.
    T,
    Other,
}

impl Word {
    fn classify(w: &[u8]) -> Word {
        match w {
            b"jan" | b"january" => Word::Month(1),
            b"feb" | b"february" => Word::Month(2),
            b"mar" | b"march" => Word::Month(3),
            b"apr" | b"april" => Word::Month(4),
            b"may" => Word::Month(5),
            b"jun" | b"june" => Word::Month(6),
            b"jul" | b"july" => Word::Month(7),
            b"aug" | b"august" => Word::Month(8),
            b"sep" | b"sept" | b"september" => Word::Month(9),
            b"oct" | b"october" => Word::Month(10),
            b"nov" | b"november" => Word::Month(11),
            b"dec" | b"december" => Word::Month(12),
            b"thu" => Word::Thu,
            b"hai" | b"ba" | b"tu" | b"sau" | b"bay" => Word::ViWeekday,
            b"am" | b"sa" | b"sang" => Word::Meridiem { pm: false },
            b"pm" | b"ch" | b"chieu" | b"toi" => Word::Meridiem { pm: true },
            b"gmt" | b"ut" | b"utc" | b"z" => Word::Utc,
            b"ict" => Word::Zone(7 * 3600),
            b"edt" => Word::Zone(-4 * 3600),
            b"est" | b"cdt" => Word::Zone(-5 * 3600),
            b"cst" | b"mdt" => Word::Zone(-6 * 3600),
            b"mst" | b"pdt" => Word::Zone(-7 * 3600),
            b"pst" => Word::Zone(-8 * 3600),
            b"ngay" => Word::Ngay,
            b"thang" => Word::Thang,
            b"nam" => Word::Nam,
            b"giay" | b"sec" | b"secs" | b"second" | b"seconds" => Word::Unit(Span::Seconds(1)),
            b"phut" | b"min" | b"mins" | b"minute" | b"minutes" => Word::Unit(Span::Seconds(60)),
            b"gio" | b"hr" | b"hrs" | b"hour" | b"hours" => Word::Unit(Span::Seconds(3600)),
            b"day" | b"days" => Word::Unit(Span::Seconds(86_400)),
            b"tuan" | b"week" | b"weeks" => Word::Unit(Span::Seconds(604_800)),
            b"month" | b"months" => Word::Unit(Span::Months(1)),
            b"year" | b"years" => Word::Unit(Span::Months(12)),
            b"truoc" | b"ago" => Word::Ago,
            b"hom" => Word::Hom,
            b"qua" => Word::Qua,
            b"nay" => Word::Nay,
            b"kia" => Word::Kia,
            b"h" => Word::H,
            b"t" => Word::T,
            _ => Word::Other,
        }
    }

    /// The unit this word stands for in "N `<unit>` trước".
    fn span(self) -> Option<Span> {
        match self {
            Word::Unit(span) => Some(span),
            Word::Ngay => Some(Span::Seconds(86_400)),
            Word::Thang => Some(Span::Months(1)),
            Word::Nam => Some(Span::Months(12)),
            _ => None,
        }
    }
}

/// The token being built.
#[derive(Clone, Copy)]
enum Pending {
    None,
    Num {
        value: u64,
        digits: u8,
    },
    /// `known` is false once the word has a non-Latin letter or outgrows `buf`.
    Word {
        buf: [u8; WORD_MAX],
        len: usize,
        known: bool,
    },
}

/// Folds and splits a string into tokens, on the stack.
struct Scanner {
    toks: [Tok; MAX_TOKENS],
    len: usize,
    overflow: bool,
    pending: Pending,
    spaced: bool,
}

impl Scanner {
    /// None when the string has more than [`MAX_TOKENS`] tokens.
    fn scan(s: &str) -> Option<Scanner> {
        let mut scanner = Scanner {
            toks: [Tok::default(); MAX_TOKENS],
            len: 0,
            overflow: false,
            pending: Pending::None,
            spaced: false,
        };
        for c in s.chars() {
            scanner.feed(c);
            if scanner.overflow {
                return None;
            }
        }
        scanner.flush();
        (!scanner.overflow).then_some(scanner)
    }

    fn tokens(&self) -> &[Tok] {
        &self.toks[..self.len]
    }

    /// Folding per character instead of NFC-normalizing the string first: canonical
    /// decomposition followed by dropping the combining marks gives the same base letters for
    /// NFC input, NFD input and the mixed orders outlets produce (`ê` + U+0323, `ọ` + U+0302),
    /// without allocating.
    fn feed(&mut self, c: char) {
        match c {
            '0'..='9' => self.digit(c as u8 - b'0'),
            'a'..='z' | 'A'..='Z' => self.letter(c.to_ascii_lowercase() as u8),
            // U+00A0, U+202F and U+2009 are whitespace too.
            c if c.is_whitespace() || c.is_ascii_control() => self.space(),
            c if c.is_ascii() => self.punct(c as u8),
            // đ does not decompose; Ð (U+00D0), ð and Ɖ stand in for Đ/đ in real feeds.
            'đ' | 'Đ' | 'ð' | 'Ð' | 'Ɖ' => self.letter(b'd'),
            '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}' | '\u{ad}' => {}
            '\u{2010}'..='\u{2015}' | '\u{2212}' => self.punct(b'-'),
            c if is_combining_mark(c) => {}
            c => decompose_canonical(c, |d| self.feed_decomposed(d)),
        }
    }

    fn feed_decomposed(&mut self, d: char) {
        if d.is_ascii_alphabetic() {
            self.letter(d.to_ascii_lowercase() as u8);
        } else if is_combining_mark(d) {
            // The tone and vowel marks of Vietnamese letters.
        } else if d.is_alphabetic() {
            self.foreign_letter();
        } else {
            self.punct(b'?');
        }
    }

    fn digit(&mut self, d: u8) {
        if let Pending::Num { value, digits } = &mut self.pending {
            // Keep the leading 19 digits (they fit in a u64) and count the rest: a fraction of
            // second may be arbitrarily long, anything else that long is rejected by its length.
            if *digits < 19 {
                *value = *value * 10 + u64::from(d);
            }
            *digits = digits.saturating_add(1);
        } else {
            self.flush();
            self.pending = Pending::Num {
                value: u64::from(d),
                digits: 1,
            };
        }
    }

    fn letter(&mut self, b: u8) {
        self.start_word();
        if let Pending::Word { buf, len, known } = &mut self.pending {
            match buf.get_mut(*len) {
                Some(slot) => {
                    *slot = b;
                    *len += 1;
                }
                None => *known = false,
            }
        }
    }

    fn foreign_letter(&mut self) {
        self.start_word();
        if let Pending::Word { known, .. } = &mut self.pending {
            *known = false;
        }
    }

    fn start_word(&mut self) {
        if !matches!(self.pending, Pending::Word { .. }) {
            self.flush();
            self.pending = Pending::Word {
                buf: [0; WORD_MAX],
                len: 0,
                known: true,
            };
        }
    }

    fn space(&mut self) {
        self.flush();
        self.spaced = true;
    }

    fn punct(&mut self, b: u8) {
        self.flush();
        self.push(Kind::Punct(b));
    }

    fn flush(&mut self) {
        match std::mem::replace(&mut self.pending, Pending::None) {
            Pending::None => {}
            Pending::Num { value, digits } => self.push(Kind::Num { value, digits }),
            Pending::Word { buf, len, known } => {
                let word = if known {
                    Word::classify(&buf[..len])
                } else {
                    Word::Other
                };
                self.push(Kind::Word(word));
            }
        }
    }

    fn push(&mut self, kind: Kind) {
        match self.toks.get_mut(self.len) {
            Some(slot) => {
                *slot = Tok {
                    kind,
                    spaced: self.spaced,
                };
                self.len += 1;
            }
            None => self.overflow = true,
        }
        self.spaced = false;
    }
}

/// Token lookups that read past the end as [`Kind::End`].
#[derive(Clone, Copy)]
struct Toks<'a>(&'a [Tok]);

impl Toks<'_> {
    fn get(self, i: usize) -> Tok {
        self.0.get(i).copied().unwrap_or_default()
    }

    fn num(self, i: usize) -> Option<(u64, u8)> {
        match self.get(i).kind {
            Kind::Num { value, digits } => Some((value, digits)),
            _ => None,
        }
    }

    /// A number with no space before it.
    fn num_tight(self, i: usize) -> Option<(u64, u8)> {
        if self.get(i).spaced {
            None
        } else {
            self.num(i)
        }
    }

    fn word(self, i: usize) -> Option<Word> {
        match self.get(i).kind {
            Kind::Word(w) => Some(w),
            _ => None,
        }
    }

    fn punct(self, i: usize) -> Option<u8> {
        match self.get(i).kind {
            Kind::Punct(p) => Some(p),
            _ => None,
        }
    }

    /// Punctuation `p` with no space before it.
    fn punct_tight(self, i: usize, p: u8) -> bool {
        let t = self.get(i);
        !t.spaced && t.kind == Kind::Punct(p)
    }
}

// ---------------------------------------------------------------------------------------------
// Grammar

/// What the tokens said. Each slot may be filled once; a second fill rejects the string.
#[derive(Default)]
struct Fields {
    date: Option<NaiveDate>,
    /// "hôm nay" = 0, "hôm qua" = 1, "hôm kia" = 2 days before `now`'s local date.
    days_back: Option<u64>,
    time: Option<NaiveTime>,
    /// A numeric offset ("+0700", "GMT+7"), in seconds east of UTC.
    offset: Option<i32>,
    /// A bare zone name ("GMT", "Z", "ICT"). A numeric offset wins over it, so that
    /// "+0700 (ICT)" and the like read once.
    zone_word: Option<i32>,
    /// "N `<unit>` trước": how many of which unit before `now`.
    ago: Option<(u64, Span)>,
}

fn fill<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    match slot {
        Some(_) => None,
        None => {
            *slot = Some(value);
            Some(())
        }
    }
}

impl Fields {
    fn read(t: Toks<'_>, order: DateOrder, this_year: i32) -> Option<Fields> {
        let mut f = Fields::default();
        // Index just past the last time: a '-' there is an offset sign ("21:15:00-07:00"),
        // elsewhere it is a separator ("19/01/2020 - 10:30").
        let mut time_end = usize::MAX;
        let mut i = 0;
        while i < t.0.len() {
            i = match t.get(i).kind {
                Kind::Num { .. } => {
                    if let Some((date, next)) = numeric_date(t, i, order, this_year) {
                        fill(&mut f.date, date)?;
                        next
                    } else if let Some((time, next)) = clock(t, i) {
                        fill(&mut f.time, time)?;
                        time_end = next;
                        next
                    } else if let Some((date, next)) = day_month_name_year(t, i, this_year) {
                        fill(&mut f.date, date)?;
                        next
                    } else if let Some((date, next)) = vietnamese_date(t, i) {
                        fill(&mut f.date, date)?;
                        next
                    } else if let Some((ago, next)) = relative(t, i) {
                        fill(&mut f.ago, ago)?;
                        next
                    } else {
                        // A number we cannot explain means we misread the string.
                        return None;
                    }
                }
                Kind::Word(Word::Month(_)) => match month_day_year(t, i) {
                    Some((date, next)) => {
                        fill(&mut f.date, date)?;
                        next
                    }
                    None => i + 1,
                },
                Kind::Word(Word::Thu) => skip_weekday(t, i),
                Kind::Word(Word::Utc) => match signed_offset(t, i + 1) {
                    Some((offset, next)) => {
                        fill(&mut f.offset, offset)?;
                        next
                    }
                    None => {
                        f.zone_word(0)?;
                        i + 1
                    }
                },
                Kind::Word(Word::Zone(offset)) => {
                    f.zone_word(offset)?;
                    i + 1
                }
                Kind::Word(Word::Hom) => {
                    let back = match t.word(i + 1) {
                        Some(Word::Nay) => Some(0),
                        Some(Word::Qua) => Some(1),
                        Some(Word::Kia) => Some(2),
                        // "hôm 19/1" is just "on the 19th".
                        _ => None,
                    };
                    match back {
                        Some(back) => {
                            fill(&mut f.days_back, back)?;
                            i + 2
                        }
                        None => i + 1,
                    }
                }
                // "T2" … "T7": Thứ Hai … Thứ Bảy, abbreviated. An ISO "T" before the time is
                // followed by a 2-digit hour (or a space), so it is simply skipped.
                Kind::Word(Word::T) if !t.get(i + 1).spaced => skip_weekday(t, i),
                Kind::Punct(b'+') => match signed_offset(t, i) {
                    Some((offset, next)) => {
                        fill(&mut f.offset, offset)?;
                        next
                    }
                    None => i + 1,
                },
                Kind::Punct(b'-') if i == time_end => match signed_offset(t, i) {
                    Some((offset, next)) => {
                        fill(&mut f.offset, offset)?;
                        next
                    }
                    None => i + 1,
                },
                // Weekdays, labels ("Cập nhật lúc"), markers without their numbers, separators.
                _ => i + 1,
            };
        }
        Some(f)
    }

    /// Bare zone names may repeat ("GMT (UTC)") but not disagree.
    fn zone_word(&mut self, offset: i32) -> Option<()> {
        match self.zone_word {
            Some(previous) if previous != offset => None,
            _ => {
                self.zone_word = Some(offset);
                Some(())
            }
        }
    }

    fn resolve(self, tz: Tz, now: DateTime<Utc>) -> Option<DateTime<FixedOffset>> {
        if let Some((count, span)) = self.ago {
            let alone = self.date.is_none()
                && self.days_back.is_none()
                && self.time.is_none()
                && self.offset.is_none()
                && self.zone_word.is_none();
            return if alone {
                before_now(now, tz, count, span)
            } else {
                None
            };
        }
        let date = match (self.date, self.days_back) {
            (Some(date), None) => date,
            (None, Some(back)) => local_date(now, tz)?.checked_sub_days(Days::new(back))?,
            _ => return None,
        };
        let naive = date.and_time(self.time.unwrap_or(NaiveTime::MIN));
        match self.offset.or(self.zone_word) {
            Some(secs) => FixedOffset::east_opt(secs)?
                .from_local_datetime(&naive)
                .single(),
            None => local(naive, tz),
        }
    }
}

/// `8/22/2026`, `19-01-2020`, `19.01.2020`, `2026-08-22`, `19/01/20`: three numbers joined by the
/// same separator, no spaces. A 4-digit first number is a year (ISO order, whatever `order` says).
fn numeric_date(
    t: Toks<'_>,
    i: usize,
    order: DateOrder,
    this_year: i32,
) -> Option<(NaiveDate, usize)> {
    let (a, a_digits) = t.num(i)?;
    let sep = t.punct(i + 1).filter(|p| matches!(p, b'/' | b'-' | b'.'))?;
    if !t.punct_tight(i + 1, sep) || !t.punct_tight(i + 3, sep) {
        return None;
    }
    let (b, b_digits) = t.num_tight(i + 2)?;
    let (c, c_digits) = t.num_tight(i + 4)?;
    let (year, month, day) = if a_digits == 4 && b_digits <= 2 && c_digits <= 2 {
        (year_of(a, a_digits, this_year)?, b, c)
    } else if a_digits <= 2 && b_digits <= 2 {
        let year = year_of(c, c_digits, this_year)?;
        match order {
            DateOrder::Dmy => (year, b, a),
            DateOrder::Mdy => (year, a, b),
        }
    } else {
        return None;
    };
    Some((ymd(year, month, day)?, i + 5))
}

/// `10:30`, `9:15:00 PM`, `21:15:00.123`, `10h30`, `10h`.
fn clock(t: Toks<'_>, i: usize) -> Option<(NaiveTime, usize)> {
    let (hour, hour_digits) = t.num(i)?;
    if hour_digits > 2 {
        return None;
    }
    let (minute, second, mut next) = if t.punct_tight(i + 1, b':') {
        let minute = two_digits(t.num_tight(i + 2))?;
        if t.punct_tight(i + 3, b':') {
            (minute, Some(two_digits(t.num_tight(i + 4))?), i + 5)
        } else {
            (minute, None, i + 3)
        }
    } else if !t.get(i + 1).spaced && t.word(i + 1) == Some(Word::H) {
        match t.num_tight(i + 2) {
            Some((minute, 2)) => (minute, None, i + 3),
            _ => (0, None, i + 2),
        }
    } else {
        return None;
    };
    let mut nanos = 0;
    if second.is_some() && t.punct_tight(next, b'.') {
        if let Some((fraction, digits)) = t.num_tight(next + 1) {
            nanos = fraction_nanos(fraction, digits)?;
            next += 2;
        }
    }
    let mut hour = u32::try_from(hour).ok()?;
    if let Some(Word::Meridiem { pm }) = t.word(next) {
        hour = twelve_hour(hour, pm);
        next += 1;
    }
    let minute = u32::try_from(minute).ok()?;
    // chrono writes a leap second as second 59 with nanoseconds past 1e9, as its RFC 3339
    // parser does, so both paths agree on "23:59:60".
    let (second, nanos) = match second.unwrap_or(0) {
        60 => (59, nanos + 1_000_000_000),
        s => (u32::try_from(s).ok()?, nanos),
    };
    Some((
        NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?,
        next,
    ))
}

fn two_digits(n: Option<(u64, u8)>) -> Option<u64> {
    match n {
        Some((value, 2)) => Some(value),
        _ => None,
    }
}

/// Nanoseconds from the digits after the decimal point; past 9 digits they are truncated, as
/// chrono's RFC 3339 parser does.
fn fraction_nanos(value: u64, digits: u8) -> Option<u32> {
    let kept = u32::from(digits.min(19));
    let nanos = if kept <= 9 {
        value * 10u64.pow(9 - kept)
    } else {
        value / 10u64.pow(kept - 9)
    };
    u32::try_from(nanos).ok()
}

/// 12 AM is 00, 12 PM is 12. A marker after an hour that is not 1..=12 (`13:00 PM`, seen in
/// hand-edited pages) is ignored rather than rejected.
fn twelve_hour(hour: u32, pm: bool) -> u32 {
    match (hour, pm) {
        (12, false) => 0,
        (1..=11, true) => hour + 12,
        _ => hour,
    }
}

/// `22 Aug 2026`, `23 Aug 26`, `22-Aug-2026`, `22 Aug. 2026`.
fn day_month_name_year(t: Toks<'_>, i: usize, this_year: i32) -> Option<(NaiveDate, usize)> {
    let (day, day_digits) = t.num(i)?;
    if day_digits > 2 {
        return None;
    }
    let mut j = i + 1;
    if matches!(t.punct(j), Some(b'-' | b'.')) {
        j += 1;
    }
    let Some(Word::Month(month)) = t.word(j) else {
        return None;
    };
    j += 1;
    if matches!(t.punct(j), Some(b'-' | b'.' | b',')) {
        j += 1;
    }
    let (year, year_digits) = t.num(j)?;
    if t.punct_tight(j + 1, b':') {
        // "22 Aug 10:30": the number is an hour, and there is no year.
        return None;
    }
    let date = ymd(
        year_of(year, year_digits, this_year)?,
        u64::from(month),
        day,
    )?;
    Some((date, j + 1))
}

/// `Aug 22, 2026`, `August 22 2026`.
fn month_day_year(t: Toks<'_>, i: usize) -> Option<(NaiveDate, usize)> {
    let Some(Word::Month(month)) = t.word(i) else {
        return None;
    };
    let mut j = i + 1;
    if t.punct(j) == Some(b'.') {
        j += 1;
    }
    let (day, day_digits) = t.num(j)?;
    if day_digits > 2 {
        return None;
    }
    j += 1;
    if t.punct(j) == Some(b',') {
        j += 1;
    }
    let (year, 4) = t.num(j)? else {
        return None;
    };
    if t.punct_tight(j + 1, b':') {
        return None;
    }
    let date = ymd(i32::try_from(year).ok()?, u64::from(month), day)?;
    Some((date, j + 1))
}

/// `19 tháng 1 năm 2020`, `19 tháng 01, 2020`, `19 tháng 1/2020` ("ngày" before it is skipped).
fn vietnamese_date(t: Toks<'_>, i: usize) -> Option<(NaiveDate, usize)> {
    let (day, day_digits) = t.num(i)?;
    if day_digits > 2 || t.word(i + 1) != Some(Word::Thang) {
        return None;
    }
    let (month, month_digits) = t.num(i + 2)?;
    if month_digits > 2 {
        return None;
    }
    let mut j = i + 3;
    if t.word(j) == Some(Word::Nam) || matches!(t.punct(j), Some(b',' | b'/')) {
        j += 1;
    }
    let (year, 4) = t.num(j)? else {
        return None;
    };
    Some((ymd(i32::try_from(year).ok()?, month, day)?, j + 1))
}

/// `15 giờ trước`, `2 ngày trước`, `3 hours ago`.
fn relative(t: Toks<'_>, i: usize) -> Option<((u64, Span), usize)> {
    let (count, _) = t.num(i)?;
    let span = t.word(i + 1).and_then(Word::span)?;
    (t.word(i + 2) == Some(Word::Ago)).then_some(((count, span), i + 3))
}

/// Skips "Thứ Hai" … "Thứ Bảy", "Thứ 2" … "Thứ 7" (and "T2" … "T7"), and English "Thu". The
/// number of "Thứ 5" must be eaten here or it would read as part of a date, but "Thu 5/28/2026"
/// and "Thu 5 May 2026" are English, with the 5 belonging to the date.
fn skip_weekday(t: Toks<'_>, i: usize) -> usize {
    match t.get(i + 1).kind {
        Kind::Word(Word::ViWeekday | Word::Nam) => i + 2,
        Kind::Num {
            value: 2..=7,
            digits: 1,
        } => {
            let after = t.get(i + 2);
            let joined =
                !after.spaced && matches!(after.kind, Kind::Punct(b'/' | b'-' | b'.' | b':'));
            let month_follows = matches!(after.kind, Kind::Word(Word::Month(_)));
            if joined || month_follows {
                i + 1
            } else {
                i + 2
            }
        }
        _ => i + 1,
    }
}

/// `+0700`, `+07:00`, `+07` (hours: VTV, CafeF), `+7`, `-0000` at `i` (the sign). The digits
/// must follow the sign directly.
fn signed_offset(t: Toks<'_>, i: usize) -> Option<(i32, usize)> {
    let sign = match t.punct(i)? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (value, digits) = t.num_tight(i + 1)?;
    let (hours, minutes, next) = match digits {
        4 => (value / 100, value % 100, i + 2),
        1 | 2 if t.punct_tight(i + 2, b':') => match t.num_tight(i + 3) {
            Some((minutes, 2)) => (value, minutes, i + 4),
            _ => (value, 0, i + 2),
        },
        1 | 2 => (value, 0, i + 2),
        _ => return None,
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    let secs = i32::try_from(hours * 3600 + minutes * 60).ok()?;
    Some((sign * secs, next))
}

fn ymd(year: i32, month: u64, day: u64) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, u32::try_from(month).ok()?, u32::try_from(day).ok()?)
}

/// A 4-digit year as is; a 2-digit year in the latest century that puts it at most a year after
/// `this_year` (news is about the past: in 2026, `26` is 2026, `95` is 1995, `30` is 1930).
fn year_of(value: u64, digits: u8, this_year: i32) -> Option<i32> {
    let value = i32::try_from(value).ok()?;
    match digits {
        4 => Some(value),
        2 => {
            let year = this_year - this_year.rem_euclid(100) + value;
            Some(if year > this_year + 1 {
                year - 100
            } else {
                year
            })
        }
        _ => None,
    }
}

/// Wall time in `tz` to an instant. An ambiguous time (clocks turned back) takes the earlier
/// instant. A time in a gap (clocks jumped forward) does not exist; rather than drop a real
/// article's date, it is read with the offset in force on one side of the gap.
fn local(naive: NaiveDateTime, tz: Tz) -> Option<DateTime<FixedOffset>> {
    if let Some(t) = tz.from_local_datetime(&naive).earliest() {
        return Some(t.fixed_offset());
    }
    let offset = tz.offset_from_utc_datetime(&naive).fix();
    offset.from_local_datetime(&naive).single()
}

/// Today in `tz`; None at the ends of chrono's range, where the local date does not exist
/// (`date_naive` would panic there).
fn local_date(now: DateTime<Utc>, tz: Tz) -> Option<NaiveDate> {
    let offset = tz.offset_from_utc_datetime(&now.naive_utc()).fix();
    Some(now.naive_utc().checked_add_offset(offset)?.date())
}

fn before_now(now: DateTime<Utc>, tz: Tz, count: u64, span: Span) -> Option<DateTime<FixedOffset>> {
    let then = match span {
        Span::Seconds(unit) => {
            let secs = i64::try_from(count).ok()?.checked_mul(i64::from(unit))?;
            now.checked_sub_signed(TimeDelta::try_seconds(secs)?)?
                .with_timezone(&tz)
        }
        Span::Months(unit) => {
            let months = u32::try_from(count).ok()?.checked_mul(unit)?;
            now.with_timezone(&tz)
                .checked_sub_months(Months::new(months))?
        }
    };
    Some(then.fixed_offset())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Asia::{Ho_Chi_Minh, Tokyo};

    const HCM: Tz = Ho_Chi_Minh;
    use DateOrder::{Dmy, Mdy};

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-28T03:00:00Z")
            .expect("valid")
            .with_timezone(&Utc)
    }

    #[track_caller]
    fn check(raw: &str, order: DateOrder, expected: &str) {
        let got = parse(raw, HCM, order, now()).map(|t| t.to_rfc3339());
        assert_eq!(got.as_deref(), Some(expected), "parse({raw:?}, {order:?})");
    }

    #[track_caller]
    fn check_none(raw: &str, order: DateOrder) {
        let got = parse(raw, HCM, order, now()).map(|t| t.to_rfc3339());
        assert_eq!(got, None, "parse({raw:?}, {order:?})");
    }

    #[test]
    fn rfc822_feed_dates() {
        for (raw, expected) in [
            (
                "Sat, 22 Aug 2026 23:55:31 +0700",
                "2026-08-22T23:55:31+07:00",
            ),
            ("Sat, 22 Aug 2026 10:06:43 GMT", "2026-08-22T10:06:43+00:00"),
            ("Sat, 22 Aug 2026 10:06:43 UT", "2026-08-22T10:06:43+00:00"),
            ("Sat, 22 Aug 2026 10:06:43 Z", "2026-08-22T10:06:43+00:00"),
            ("Sat, 22 Aug 2026 10:06:43 UTC", "2026-08-22T10:06:43+00:00"),
            (
                "Sat, 22 Aug 2026 10:06:43 -0000",
                "2026-08-22T10:06:43+00:00",
            ),
            (
                "Sat, 22 Aug 2026 10:06:43 +0000",
                "2026-08-22T10:06:43+00:00",
            ),
            (
                "Sat, 22 Aug 2026 10:06:43 -0500",
                "2026-08-22T10:06:43-05:00",
            ),
            (
                "Sat, 22 Aug 2026 10:06:43 +0530",
                "2026-08-22T10:06:43+05:30",
            ),
            ("Sat, 22 Aug 2026 10:06:43 EST", "2026-08-22T10:06:43-05:00"),
            ("Sat, 22 Aug 2026 10:06:43 ICT", "2026-08-22T10:06:43+07:00"),
            (
                "Sat, 22 Aug 2026 23:55:31 +0700 (ICT)",
                "2026-08-22T23:55:31+07:00",
            ),
            (
                "Sat, 22 Aug 2026 23:55:31 +0700 (CEST)",
                "2026-08-22T23:55:31+07:00",
            ),
            // Thanh Niên: 2-digit years.
            ("Sun, 23 Aug 26 05:52:00 +0700", "2026-08-23T05:52:00+07:00"),
            ("Sat, 27 Jan 24 14:15:00 +0700", "2024-01-27T14:15:00+07:00"),
            ("Fri, 27 Jan 95 14:15:00 +0700", "1995-01-27T14:15:00+07:00"),
            // VTV, CafeF: `+07` is hours.
            ("Sat, 22 Aug 2026 23:13:00 +07", "2026-08-22T23:13:00+07:00"),
            ("Sun, 23 Aug 2026 05:49:00 +07", "2026-08-23T05:49:00+07:00"),
            // Nhân Dân, SGGP, VietnamPlus, CAND: colon offsets.
            (
                "Fri, 21 Aug 2026 23:19:06 +07:00",
                "2026-08-21T23:19:06+07:00",
            ),
            // vietnambiz: `GMT+7`.
            (
                "Mon, 07 Sep 2026 19:41:53 GMT+7",
                "2026-09-07T19:41:53+07:00",
            ),
            (
                "Mon, 07 Sep 2026 19:41:53 GMT+07:00",
                "2026-09-07T19:41:53+07:00",
            ),
            (
                "Mon, 07 Sep 2026 19:41:53 GMT+0700",
                "2026-09-07T19:41:53+07:00",
            ),
            (
                "Mon, 07 Sep 2026 19:41:53 UTC+7",
                "2026-09-07T19:41:53+07:00",
            ),
            (
                "Mon, 07 Sep 2026 19:41:53 GMT-3",
                "2026-09-07T19:41:53-03:00",
            ),
            // Wrong weekday (22 Aug 2026 is a Saturday), none, full names, odd case.
            (
                "Mon, 22 Aug 2026 23:55:31 +0700",
                "2026-08-22T23:55:31+07:00",
            ),
            ("22 Aug 2026 23:55:31 +0700", "2026-08-22T23:55:31+07:00"),
            (
                "Saturday, 22 August 2026 23:55:31 +0700",
                "2026-08-22T23:55:31+07:00",
            ),
            (
                "SAT, 22 AUG 2026 23:55:31 +0700",
                "2026-08-22T23:55:31+07:00",
            ),
            ("Sat, 22 Aug 2026 23:55 +0700", "2026-08-22T23:55:00+07:00"),
            ("Sat, 2 Aug 2026 3:05:00 +0700", "2026-08-02T03:05:00+07:00"),
            // No zone: local time.
            ("Sat, 22 Aug 2026 23:55:31", "2026-08-22T23:55:31+07:00"),
            // English Thursday vs Vietnamese "Thứ".
            (
                "Thu, 28 May 2026 10:00:00 +0700",
                "2026-05-28T10:00:00+07:00",
            ),
            ("Thu 5 May 2026 10:00:00 +0700", "2026-05-05T10:00:00+07:00"),
            ("Aug 22, 2026 9:15 PM", "2026-08-22T21:15:00+07:00"),
            ("August 22 2026", "2026-08-22T00:00:00+07:00"),
        ] {
            check(raw, Dmy, expected);
        }
    }

    #[test]
    fn numeric_feed_dates() {
        for (raw, order, expected) in [
            // Báo Chính phủ, Tuổi Trẻ: month first, 12-hour, local time.
            ("8/22/2026 9:15:00 PM", Mdy, "2026-08-22T21:15:00+07:00"),
            ("8/22/2026 11:00:00 PM", Mdy, "2026-08-22T23:00:00+07:00"),
            ("8/23/2026 5:20:00 AM", Mdy, "2026-08-23T05:20:00+07:00"),
            (
                "8/22/2026 9:50:00\u{202f}PM",
                Mdy,
                "2026-08-22T21:50:00+07:00",
            ),
            (
                "8/22/2026 9:50:00\u{a0}PM",
                Mdy,
                "2026-08-22T21:50:00+07:00",
            ),
            ("8/22/2026 9:50:00PM", Mdy, "2026-08-22T21:50:00+07:00"),
            ("8/22/2026 9:50:00 pm", Mdy, "2026-08-22T21:50:00+07:00"),
            // vi-VN designators: SA (sáng) and CH (chiều).
            ("8/22/2026 9:50:00 CH", Mdy, "2026-08-22T21:50:00+07:00"),
            ("8/22/2026 9:50:00 SA", Mdy, "2026-08-22T09:50:00+07:00"),
            ("8/9/2026 9:15:00 AM", Mdy, "2026-08-09T09:15:00+07:00"),
            ("8/9/2026 09:15", Dmy, "2026-09-08T09:15:00+07:00"),
            // 12-hour edges.
            ("8/23/2026 12:30:00 AM", Mdy, "2026-08-23T00:30:00+07:00"),
            ("8/23/2026 12:00:00 AM", Mdy, "2026-08-23T00:00:00+07:00"),
            ("8/23/2026 12:30:00 PM", Mdy, "2026-08-23T12:30:00+07:00"),
            ("8/23/2026 1:00:00 PM", Mdy, "2026-08-23T13:00:00+07:00"),
            ("8/23/2026 13:00:00 PM", Mdy, "2026-08-23T13:00:00+07:00"),
            ("Thu 5/28/2026 10:00 AM", Mdy, "2026-05-28T10:00:00+07:00"),
            // Vietnamese weekday with a day-first date.
            (
                "Thứ 5, 28/05/2026 17:00:00 GMT+7",
                Dmy,
                "2026-05-28T17:00:00+07:00",
            ),
            ("Thứ 5 28/05/2026 17:00", Dmy, "2026-05-28T17:00:00+07:00"),
            (
                "Thứ năm, 28/05/2026 - 17:00",
                Dmy,
                "2026-05-28T17:00:00+07:00",
            ),
            // 2-digit years against now (2026): at most a year ahead.
            ("19/01/20", Dmy, "2020-01-19T00:00:00+07:00"),
            ("19/01/27", Dmy, "2027-01-19T00:00:00+07:00"),
            ("19/01/28", Dmy, "1928-01-19T00:00:00+07:00"),
            ("2026/08/22", Mdy, "2026-08-22T00:00:00+07:00"),
        ] {
            check(raw, order, expected);
        }
    }

    #[test]
    fn page_dates() {
        for (raw, expected) in [
            (
                "Chủ Nhật, ngày 19 tháng 1 năm 2020",
                "2020-01-19T00:00:00+07:00",
            ),
            ("Chủ nhật, 19 tháng 01, 2020", "2020-01-19T00:00:00+07:00"),
            ("ngày 19 tháng 1/2020 10:30", "2020-01-19T10:30:00+07:00"),
            (
                "Thứ Hai, 19/01/2020 10:30 (GMT+7)",
                "2020-01-19T10:30:00+07:00",
            ),
            (
                "Thứ Bảy, 22/8/2026, 23:55 (GMT+7)",
                "2026-08-22T23:55:00+07:00",
            ),
            ("10:30 | 19/01/2020", "2020-01-19T10:30:00+07:00"),
            ("19/01/2020 - 10:30", "2020-01-19T10:30:00+07:00"),
            ("19/01/2020 – 10:30", "2020-01-19T10:30:00+07:00"),
            ("10:30 - 19/01/2020", "2020-01-19T10:30:00+07:00"),
            (
                "Cập nhật lúc 10:30 ngày 19/01/2020",
                "2020-01-19T10:30:00+07:00",
            ),
            ("10h30 ngày 19/01/2020", "2020-01-19T10:30:00+07:00"),
            ("19/01/2020 10h", "2020-01-19T10:00:00+07:00"),
            ("19/01/2020", "2020-01-19T00:00:00+07:00"),
            ("19-01-2020 10:30", "2020-01-19T10:30:00+07:00"),
            ("19.01.2020 10:30", "2020-01-19T10:30:00+07:00"),
            ("2020-01-19", "2020-01-19T00:00:00+07:00"),
            ("CN, 19/01/2020 · 10:30", "2020-01-19T10:30:00+07:00"),
            ("T2, 20/01/2020", "2020-01-20T00:00:00+07:00"),
            ("T7 25/01/2020 10:30", "2020-01-25T10:30:00+07:00"),
            ("Đăng hôm 19/01/2020", "2020-01-19T00:00:00+07:00"),
            ("19/01/2020 8:00 tối", "2020-01-19T20:00:00+07:00"),
            // Relative to now = 2026-11-28T10:00:00+07:00.
            ("15 giờ trước", "2026-11-27T19:00:00+07:00"),
            ("30 phút trước", "2026-11-28T09:30:00+07:00"),
            ("45 giây trước", "2026-11-28T09:59:15+07:00"),
            ("2 ngày trước", "2026-11-26T10:00:00+07:00"),
            ("1 tuần trước", "2026-11-21T10:00:00+07:00"),
            ("1 tháng trước", "2026-10-28T10:00:00+07:00"),
            ("1 năm trước", "2025-11-28T10:00:00+07:00"),
            ("3 hours ago", "2026-11-28T07:00:00+07:00"),
            ("Hôm qua 10:30", "2026-11-27T10:30:00+07:00"),
            ("Hôm qua, 10:30", "2026-11-27T10:30:00+07:00"),
            ("10:30 hôm qua", "2026-11-27T10:30:00+07:00"),
            ("Hôm nay 08:00", "2026-11-28T08:00:00+07:00"),
            ("Hôm kia 08:00", "2026-11-26T08:00:00+07:00"),
            // A day word alone is that day at 00:00, like any date without a time.
            ("hôm nay", "2026-11-28T00:00:00+07:00"),
        ] {
            check(raw, Dmy, expected);
        }
    }

    #[test]
    fn iso_dates() {
        for (raw, expected) in [
            ("2026-08-22T21:15:00+07:00", "2026-08-22T21:15:00+07:00"),
            ("2026-08-22T14:15:00Z", "2026-08-22T14:15:00+00:00"),
            ("2026-08-22t14:15:00z", "2026-08-22T14:15:00+00:00"),
            ("2026-08-22T21:15:00", "2026-08-22T21:15:00+07:00"),
            ("2026-08-22 21:15:00", "2026-08-22T21:15:00+07:00"),
            ("2026-08-22T21:15", "2026-08-22T21:15:00+07:00"),
            // Not "T5" (Thursday): the 5 is an hour.
            ("2026-08-22T5:00", "2026-08-22T05:00:00+07:00"),
            (
                "2026-08-22T21:15:00.123+07:00",
                "2026-08-22T21:15:00.123+07:00",
            ),
            ("2026-08-22T21:15:00.5", "2026-08-22T21:15:00.500+07:00"),
            (
                "2026-08-22T21:15:00.123456789Z",
                "2026-08-22T21:15:00.123456789+00:00",
            ),
            (
                "2026-08-22T21:15:00.1234567891234Z",
                "2026-08-22T21:15:00.123456789+00:00",
            ),
            (
                "2026-08-22 21:15:00.123456789012345678901234567Z",
                "2026-08-22T21:15:00.123456789+00:00",
            ),
            ("2026-08-22T21:15:00+0700", "2026-08-22T21:15:00+07:00"),
            ("2026-08-22T21:15:00-07:00", "2026-08-22T21:15:00-07:00"),
            ("2026-08-22T21:15:00 +07:00", "2026-08-22T21:15:00+07:00"),
            ("2026-12-31T23:59:60Z", "2026-12-31T23:59:60+00:00"),
        ] {
            check(raw, Dmy, expected);
        }
    }

    /// The RFC 3339 fast path is an optimisation: the tokenizer must read the same instants.
    #[test]
    fn tokenizer_agrees_with_rfc3339_fast_path() {
        for raw in [
            "2026-08-22T21:15:00+07:00",
            "2026-08-22T14:15:00Z",
            "2026-08-22 21:15:00-03:30",
            "2026-08-22T21:15:00.123456+07:00",
            "2026-12-31T23:59:60.5Z",
            "2026-08-22T21:15:00.123456789012345678901234567+07:00",
        ] {
            let fast = DateTime::parse_from_rfc3339(raw).expect("valid RFC 3339");
            let slow = parse_lenient(raw, HCM, Dmy, now());
            assert_eq!(slow, Some(fast), "{raw}");
            assert_eq!(
                slow.map(|t| t.offset().local_minus_utc()),
                Some(fast.offset().local_minus_utc())
            );
        }
    }

    #[test]
    fn unicode_forms_and_padding() {
        for (raw, expected) in [
            // NFD, as Nhân Dân sends text.
            (
                "Chu\u{309} Nha\u{302}\u{323}t, nga\u{300}y 19 tha\u{301}ng 1 na\u{306}m 2020",
                "2020-01-19T00:00:00+07:00",
            ),
            // Marks in the wrong order (dot below before circumflex).
            (
                "Chủ Nha\u{323}\u{302}t, 19/01/2020",
                "2020-01-19T00:00:00+07:00",
            ),
            (
                "Chu Nhat, ngay 19 thang 1 nam 2020",
                "2020-01-19T00:00:00+07:00",
            ),
            (
                "CHỦ NHẬT, NGÀY 19 THÁNG 1 NĂM 2020",
                "2020-01-19T00:00:00+07:00",
            ),
            (
                "Th\u{1b0}\u{301} Ba, 21/01/2020",
                "2020-01-21T00:00:00+07:00",
            ),
            ("Thu Sau, 24/01/2020", "2020-01-24T00:00:00+07:00"),
            ("THỨ BẢY, 25/01/2020", "2020-01-25T00:00:00+07:00"),
            ("Ho\u{302}m qua 10:30", "2026-11-27T10:30:00+07:00"),
            ("HÔM QUA 10:30", "2026-11-27T10:30:00+07:00"),
            ("hom qua 10:30", "2026-11-27T10:30:00+07:00"),
            ("15 gio truoc", "2026-11-27T19:00:00+07:00"),
            // Ð (U+00D0) for Đ in "Đăng lúc".
            (
                "\u{d0}ăng lúc 10:30 19/01/2020",
                "2020-01-19T10:30:00+07:00",
            ),
            (
                "\n\t  Sat, 22 Aug 2026 23:55:31 +0700  \n",
                "2026-08-22T23:55:31+07:00",
            ),
            (
                "\n  2026-08-22T21:15:00+07:00\n",
                "2026-08-22T21:15:00+07:00",
            ),
            ("19/01/2020\u{2009}10:30", "2020-01-19T10:30:00+07:00"),
            ("19/01/2020\u{200b} 10:30", "2020-01-19T10:30:00+07:00"),
            ("\u{feff}19/01/2020 10:30", "2020-01-19T10:30:00+07:00"),
        ] {
            check(raw, Dmy, expected);
        }
    }

    #[test]
    fn zone_less_times_use_the_given_zone() {
        let got = |raw: &str| parse(raw, Tokyo, Dmy, now()).map(|t| t.to_rfc3339());
        assert_eq!(
            got("2026-08-22 21:15:00").as_deref(),
            Some("2026-08-22T21:15:00+09:00")
        );
        assert_eq!(
            got("19/01/2020 10:30").as_deref(),
            Some("2020-01-19T10:30:00+09:00")
        );
        // Tokyo's date at now (2026-11-28T12:00+09:00).
        assert_eq!(
            got("Hôm qua 10:30").as_deref(),
            Some("2026-11-27T10:30:00+09:00")
        );
        // An explicit offset wins over the zone.
        assert_eq!(
            got("Sat, 22 Aug 2026 23:55:31 +0700").as_deref(),
            Some("2026-08-22T23:55:31+07:00")
        );
        // A wall time in a DST gap still reads (New York, 2026-03-08 02:30 does not exist).
        let ny = parse("2026-03-08 02:30", chrono_tz::America::New_York, Dmy, now());
        assert!(ny.is_some());
        // An ambiguous wall time takes the earlier instant (EDT, before clocks go back).
        let ny = parse("2026-11-01 01:30", chrono_tz::America::New_York, Dmy, now());
        assert_eq!(
            ny.map(|t| t.to_rfc3339()).as_deref(),
            Some("2026-11-01T01:30:00-04:00")
        );
    }

    #[test]
    fn garbage_is_none() {
        for raw in [
            "",
            "   ",
            "\u{200b}",
            "abc",
            "32/13/2026",
            "2026-02-30",
            "29/02/2026",
            "25:00 19/01/2020",
            "19/01/2020 10:61",
            "10:30",
            "Sat, 22 Aug",
            "22 Aug 10:30",
            "GMT+7",
            "+",
            "-",
            ":",
            "//",
            "hôm",
            "T2",
            "Số 123 ngày 19/01/2020",
            "19/01/2020 20/01/2020",
            "19/01/2020 10:30 11:30",
            "19/01/2020 10:30 +0700 +0800",
            "19/01/2020 GMT ICT",
            "15 giờ trước 10:30",
            "Hôm qua 19/01/2020",
            "99999999999999999999 ngày trước",
            "99999999999 năm trước",
            "19/01/2020 10:30 +2500",
            "1/2/3/4",
            "19/01/202",
            "tháng 1/2020",
            "123456789012345678901234567890",
        ] {
            check_none(raw, Dmy);
        }
        // Month-first dates under the default order are not rescued by swapping.
        check_none("8/22/2026 9:15:00 PM", Dmy);
        check_none("22/8/2026", Mdy);
        // Too many tokens: not a date, and not read to the end.
        check_none(&"1 ".repeat(10_000), Dmy);
    }

    /// No input may panic: every prefix of every form (on char boundaries), and odd characters.
    #[test]
    fn never_panics() {
        let forms = [
            "Thứ 5, 28/05/2026 17:00:00 GMT+07:00",
            "Chu\u{309} Nha\u{302}\u{323}t, nga\u{300}y 19 tha\u{301}ng 1 na\u{306}m 2020",
            "2026-08-22T21:15:00.123456789+07:00",
            "8/22/2026 9:50:00\u{202f}PM",
            "Cập nhật lúc 10h30 ngày 19/01/2020 (GMT+7)",
            "15 giờ trước",
            "\u{0}\u{7f}\u{85}\u{2028}\u{fffd}日本語 2026年8月22日 ١٢/٠٨/٢٠٢٦",
        ];
        for form in forms {
            for (i, _) in form.char_indices() {
                for order in [Dmy, Mdy] {
                    let _ = parse(&form[..i], HCM, order, now());
                    let _ = parse(&form[i..], HCM, order, now());
                }
            }
        }
    }

    #[test]
    fn plausibility() {
        let at = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .expect("valid")
                .with_timezone(&Utc)
        };
        let now = now();
        assert!(is_plausible(now, now));
        assert!(is_plausible(at("2026-11-29T03:00:00Z"), now));
        assert!(!is_plausible(at("2026-11-29T03:00:01Z"), now));
        assert!(is_plausible(at("1995-01-01T00:00:00Z"), now));
        assert!(!is_plausible(at("1994-12-31T23:59:59Z"), now));
        assert_eq!(at("1995-01-01T00:00:00Z").timestamp(), EARLIEST_PLAUSIBLE);
    }

    #[test]
    fn date_order_from_str() {
        assert_eq!("dmy".parse::<DateOrder>(), Ok(Dmy));
        assert_eq!("MDY".parse::<DateOrder>(), Ok(Mdy));
        assert_eq!("Dmy".parse::<DateOrder>(), Ok(Dmy));
        assert_eq!(DateOrder::default(), Dmy);
        let err = "ymd".parse::<DateOrder>().expect_err("invalid");
        assert!(
            err.contains("\"ymd\"") && err.contains("dmy") && err.contains("mdy"),
            "{err}"
        );
    }
}
