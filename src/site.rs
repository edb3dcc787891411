//! What bantin publishes, whoever serves it: the feeds of every [`Scope`], the index page and
//! the OPML list of sources, each at the path [`paths`] gives it. The HTTP server
//! ([`crate::http`]) answers requests with them; [`crate::export`] writes them to files for a
//! plain web server. Neither axum nor the file system appears here: this module reads the store
//! and renders.
//!
//! - [`paths`]: every path bantin serves, built in one place (routes, page links, export file
//!   names, the links in digests). Pure.
//! - [`feeds`]: a scope → its stories, newest first → [`crate::publish::Entry`] values and the
//!   feed's [`crate::publish::Channel`].
//! - [`paging`]: paged feeds (RFC 5005): a page's stories from its cursor, the cursors of the
//!   pages around it, and `?since=`; every story on exactly one page.
//! - [`index`]: the index page (topics, latest stories, source health).
//! - [`opml`]: the configured sources as OPML, and the OPML reader `bantin opml import` uses.
//!   Pure.

pub mod feeds;
pub mod index;
pub mod opml;
pub mod paging;
pub mod paths;

/// What a feed shows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every source.
    All,
    /// One source, by id.
    Source(String),
    /// The sources with a tag.
    Tag(String),
    /// One topic, by id.
    Topic(String),
}
