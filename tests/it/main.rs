//! The integration tests: one binary, one module per area, all sharing [`common`] (the
//! fixture HTTP server, the SMTP server, temp configs, the daemon's parts in process). One
//! binary means the harness and bantin's test build are compiled and linked once, not once per
//! area. `cargo test --test it http::` runs one area.
//!
//! `tests/feedparser.rs` stays a binary of its own: it asserts the peak RSS of its own process,
//! which tests running beside it would inflate.

mod common;

mod alerts;
mod cli;
mod daemon;
mod dates;
mod dedup;
mod digests;
mod fetch;
mod fuzz_regressions;
mod http;
mod kill;
mod lifecycle;
mod mail;
mod media;
mod paged_feeds;
mod pages;
mod panics;
mod retention;
mod search;
mod sitemaps;
mod slow_clients;
mod smtp_server;
mod topics;
mod webhooks;
