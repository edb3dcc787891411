//! bantin watches the news sites of the Vietnamese Party and government, keeps every article
//! once in SQLite, republishes merged and topic feeds and emails topic digests.
//!
//! # Bird's-eye view
//!
//! ```text
//! sources ─► fetch ─► parse ─► normalize ─► topics ─► store (dedup) ─┬─► http: feeds, pages
//! (config)  polite    feed-rs   text, dates,   match    SQLite, UNIQUE  │
//!           conditional or CSS  canonical URL           keys, matches   └─► digest ─► mail (outbox)
//!              ▲      selectors                              │
//!              └──── article pages (full text) ◄─────────────┘
//! ```
//!
//! One direction; each arrow is a module boundary and each foreign crate lives behind one:
//! reqwest in [`ingest::fetch`], feed-rs in [`ingest::feed`], quick-xml in
//! [`ingest::sitemap`], scraper and dom_smoothie in [`ingest::scrape`] (config's CSS selectors
//! are its [`ingest::scrape::Css`]), ammonia in [`ingest::normalize`], aho-corasick in
//! [`topics`], rusqlite in [`store`], axum and hyper in [`http`], lettre in [`mail`]; reqwest
//! also in [`webhook`], for its POSTs. Their types appear in no other module's signatures. (minijinja renders both the digests,
//! [`digest`], and the index page, [`site::index`]; each keeps its templates to itself.)
//!
//! # Code map
//!
//! - [`config`]: TOML → validated [`config::Config`]; every problem reported at once. One
//!   module per section (`[storage]`, `[poll]`, `[http]`, `[log]`, `[[sources]]`, the topics
//!   file, `[mail]` and the subscribers file) over one spanned-TOML reader.
//! - [`text`]: Vietnamese text normalization (NFC, Đ impostors, invisible characters,
//!   tone-mark style, folding). Pure.
//! - [`date`]: lenient date parsing for every form Vietnamese outlets publish. Pure.
//! - [`ingest`]: one poll of one source; [`ingest::fetch`] (HTTP, politeness, conditional GET),
//!   [`ingest::sniff`] (what a body is: empty, feed, HTML, cookie challenge, binary; its
//!   title), [`ingest::kind`] (the one dispatch from a source's kind to the module that reads
//!   its bodies), [`ingest::entry`] (what every kind yields: a listing of raw entries),
//!   [`ingest::feed`] (the feed kind: decoding, old dialects rewritten for feed-rs, broken
//!   feeds repaired and noted, [`ingest::feed::cap`] the caps on items and text lengths),
//!   [`ingest::sitemap`] (the sitemap kind: news sitemaps, indexes,
//!   plain-text sitemaps and robots.txt read; [`ingest::sitemap::follow`] fetches an index's
//!   newest children, bounded, conditionally), [`ingest::normalize`] (entries →
//!   [`article::NewArticle`], canonical URLs, identity keys), [`ingest::scrape`] (HTML list
//!   pages (the html kind) and article pages with CSS selectors or a readability extractor,
//!   page chrome removal, the nesting guard; scraper and dom_smoothie live here),
//!   [`ingest::pages`] (each new article's page, fetched after the list, through the one page
//!   pipeline `sources test` uses too), [`ingest::recall`] (a re-polled feed whose every item
//!   was read before, byte for byte in the same surroundings, recorded without reading its
//!   items again; [`ingest::feed::items`] locates and hashes them), [`ingest::discover`] and
//!   [`ingest::preview`]
//!   (`bantin discover`, `sources test`).
//!   `sniff`, `feed`, `sitemap` (not `sitemap::follow`), `normalize` and `scrape` are pure.
//! - [`media`]: what an article carries besides its text (enclosures, Media RSS, Atom
//!   enclosure links, JSON Feed images and attachments, a page's `og:image`, else its
//!   description's first image): only web URLs, each once, capped. Pure. The feed kind reads
//!   them in `ingest::feed::media` (what feed-rs leaves out too), pages in [`ingest::scrape`].
//! - [`topics`]: the compiled topic matcher (one Aho-Corasick automaton for all topics):
//!   syllable-bounded phrases, exact or accent-free, `none` vetoes, `ignore` masks; a topic's
//!   screen of stored search texts for `topics test`. Pure.
//! - [`store`]: the only place with SQL (articles, matches, article pages, subscribers'
//!   windows, the outbox, the webhook outbox, the items each feed last carried; retention,
//!   backup and restore).
//!   Identity keys are stored through `store::keys` (a digest as its bytes).
//!   [`store::HealthSummary`] counts the
//!   sources' health once for `/healthz`, `/metrics` and the status line. Its test
//!   `store::query_plans` runs `EXPLAIN QUERY PLAN` on every statement of the hot paths.
//! - [`search`]: search queries (words, phrases, exact or accent-free, as topics read them) →
//!   the terms of the store's full-text index, and what that index holds per article. Pure.
//!   The index itself (SQLite FTS5, kept in step with `articles` by the store) and the search
//!   are in `store::search`.
//! - [`stories`]: syndicated copies merged into one story, for feeds, pages and digests alike.
//!   Pure.
//! - [`publish`]: entries → RSS / Atom / JSON Feed bytes; [`publish::Format::ALL`] lists the
//!   formats, and routes, page links and the export follow it. Pure.
//! - [`site`]: what bantin publishes, whoever serves it: [`site::paths`] (every path, built
//!   once: routes, links, export file names, digest links), [`site::feeds`] (a scope → its
//!   stories → entries and channel), [`site::paging`] (paged feeds, RFC 5005: a page's stories
//!   from its cursor, the cursors of the pages around it, `?since=`; every story on exactly one
//!   page), [`site::index`] (the index page), [`site::opml`] (the sources as OPML, and the
//!   OPML reader of `opml import`). No axum.
//! - [`http`]: the axum server, one module per route (feeds, index, health and metrics,
//!   unsubscribe pages) and the render cache (ETag/304, compression; bounded in bodies and
//!   bytes, least recently used out). [`http::connections`]:
//!   the accept loop (request-head timeout, connection cap), so slow clients cannot use up
//!   descriptors.
//! - [`export`]: `bantin export`: the same feeds, index page and OPML as files.
//! - [`digest`]: a subscriber's window of articles → subject, text, HTML (minijinja). Pure.
//!   [`digest::Frame`]: a window's digest rendered once for all its subscribers, also in parts
//!   (the window's literals, each subscriber's values).
//! - [`mail`]: lettre: messages, SMTP and Maildir delivery.
//! - [`postman`]: digests end to end: windows, outbox, retries, exactly once; links from
//!   [`site::paths`]. The outbox keeps a window's literals once, each message its own parts;
//!   sending builds the message from them, the same bytes at every attempt.
//! - [`webhook`]: topic webhooks end to end: an article's body (its JSON Feed item, through
//!   [`site::feeds`] and [`publish`]), queued with its match (`store::webhooks`), delivered in
//!   order per endpoint with retries, signed (HMAC-SHA256).
//! - [`unsubscribe`]: HMAC-signed unsubscribe tokens. Pure.
//! - [`parallel`]: CPU-bound work over many items on every core, order kept (re-matching a
//!   month of articles).
//! - [`guard`]: task edges: a panic in a poll, a page, a digest or a request becomes that
//!   unit's recorded error.
//! - [`alerts`]: admin alerts: each source's condition (failing, gone, stale, far fewer items
//!   than usual) and each subscriber's (digests failing for good) said at most once a day per
//!   subject, with its recovery, mailed through the outbox to `[alerts] email`.
//! - [`metrics`]: process counters for `/metrics` and `/healthz`.
//! - [`daemon`]: the scheduler, reload (SIGHUP, file changes) and shutdown. `daemon/service.rs`
//!   is the loop, one named step per event; `agenda.rs` (when each source is due, in memory),
//!   `reload.rs` and `status.rs` beside it.
//! - [`notify`]: the systemd notification protocol (ready, status, reload, stop, watchdog).
//! - [`cli`]: one function per subcommand.
//!
//! # Invariants
//!
//! - An article is stored once: identity keys are unique in `article_keys`; a known key
//!   means a known article, updated in place when its content changed. Keys of pruned articles
//!   stay (tombstones).
//! - Text is normalized once, at ingest, by [`text`]; nothing downstream re-normalizes.
//! - One transaction per source poll; shutdown never interrupts one.
//! - A failing source is recorded on its row and retried with backoff; it never stops the others.
//!   A panic is a failure like any other ([`guard`]): of its source, its article page or its
//!   digest, counted in `/metrics`.
//! - Matching at ingest and re-matching stored articles read the same stored fields through the
//!   same function, so both give the same answer; re-matching never changes `first_seen`.
//! - A digest is in the outbox, with its Message-ID, in the transaction that closes its window;
//!   it is marked sent only after the server accepted it.
//! - A webhook POST is in the webhook outbox, its body frozen, in the transaction that stores the
//!   match it announces; at most one per (topic, article); delivered oldest first per endpoint,
//!   marked delivered only after a 2xx.

// `clippy::string_slice` is denied crate-wide (Cargo.toml). Unit tests slice fixtures of
// their own at known boundaries (and one checks that a bad slice is caught); the library
// itself is linted without this in the normal, non-test build.
#![cfg_attr(test, allow(clippy::string_slice))]

pub mod alerts;
pub mod article;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod date;
pub mod digest;
pub mod export;
pub mod guard;
pub mod http;
pub mod ingest;
pub mod mail;
pub mod media;
pub mod metrics;
pub mod notify;
pub mod parallel;
pub mod postman;
pub mod publish;
pub mod search;
pub mod site;
pub mod store;
pub mod stories;
pub mod text;
pub mod topics;
pub mod unsubscribe;
pub mod webhook;
