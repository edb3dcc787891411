//! `bantin export --dir DIR`: every feed the server would serve, the index page and the OPML
//! list written as files, for a plain web server or a CDN. The same pages as the server's
//! ([`crate::site`]), with [`Links::Static`]: a source's or a tag's feed is a file of its own
//! (`sources/ID.rss`), not a query on the merged feed.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::publish::{self, Format};
use crate::site::feeds::{self, DEFAULT_LIMIT};
use crate::site::index::{self, IndexError};
use crate::site::paging::PageQuery;
use crate::site::paths::{self, Links};
use crate::site::{opml, Scope};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Writes every feed (merged, per source, per tag and per topic, in every format, the first
/// page of the default limit, with no links to other pages), the index page and the OPML file under `dir`. Returns the files written.
pub fn write(config: &Config, store: &Store, dir: &Path) -> Result<Vec<PathBuf>, ExportError> {
    let mut written = Vec::new();
    let mut write = |rel: &str, bytes: &[u8]| -> Result<(), ExportError> {
        let path = dir.join(rel);
        let failed = |source| ExportError::Write {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(failed)?;
        }
        std::fs::write(&path, bytes).map_err(failed)?;
        written.push(path);
        Ok(())
    };
    // A file cannot be asked for a page: each feed is its first page, without page links.
    let first = PageQuery {
        limit: DEFAULT_LIMIT,
        since: None,
        cursor: None,
    };
    for scope in scopes(config) {
        let page = feeds::page(config, store, &scope, &first)?;
        for format in Format::ALL {
            let channel = feeds::channel(config, &scope, format, &first, &page, Links::Static);
            write(
                &paths::feed(&scope, format, Links::Static),
                &publish::render(format, &channel, &page.entries),
            )?;
        }
    }
    write(
        paths::INDEX_FILE,
        index::render(config, store, Links::Static)?.as_bytes(),
    )?;
    write(paths::SOURCES_OPML, opml::sources(config).as_bytes())?;
    Ok(written)
}

/// Every feed there is: merged, each topic, each source, each tag (sorted, once each).
fn scopes(config: &Config) -> Vec<Scope> {
    let mut scopes = vec![Scope::All];
    scopes.extend(
        config
            .topics
            .topics()
            .map(|(id, _)| Scope::Topic(id.to_string())),
    );
    scopes.extend(config.sources.iter().map(|s| Scope::Source(s.id.clone())));
    let mut tags: Vec<&String> = config.sources.iter().flat_map(|s| &s.tags).collect();
    tags.sort();
    tags.dedup();
    scopes.extend(tags.into_iter().map(|t| Scope::Tag(t.clone())));
    scopes
}
