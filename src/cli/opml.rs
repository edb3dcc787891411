//! `bantin opml export` and `bantin opml import FILE --into CONFIG`.
//!
//! Import appends `[[sources]]` tables to the end of the config file the admin names, keeping
//! everything already there (comments included), and only after the result has been checked:
//! a config that would not load is never written.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Subcommand;

use super::EXIT_CONFIG;
use crate::config::{self, Config};
use crate::site::opml::{self, Outline};

#[derive(Debug, Subcommand)]
pub enum OpmlAction {
    /// Print the configured sources as OPML 2.0 (the same as /sources.opml).
    Export,
    /// Append the feeds of an OPML file as [[sources]] to a config file; feeds already configured
    /// there are skipped.
    Import {
        /// The OPML file.
        file: PathBuf,
        /// The config file to append to (it is checked before anything is written).
        #[arg(long)]
        into: PathBuf,
    },
}

pub fn run(config: &Config, action: OpmlAction) -> Result<ExitCode> {
    match action {
        OpmlAction::Export => {
            std::io::stdout()
                .lock()
                .write_all(opml::sources(config).as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        OpmlAction::Import { file, into } => import(&file, &into),
    }
}

pub fn import(file: &Path, into: &Path) -> Result<ExitCode> {
    let target = match config::load(into) {
        Ok(c) => c,
        Err(problems) => {
            eprintln!("{problems}");
            eprintln!("{}: fix these before importing into it", into.display());
            return Ok(ExitCode::from(EXIT_CONFIG));
        }
    };
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let outlines: Vec<Outline> = opml::parse(&text)
        .with_context(|| format!("{}: not a usable OPML file", file.display()))?;

    let mut ids: Vec<String> = target.sources.iter().map(|s| s.id.clone()).collect();
    let mut added = Vec::new();
    let mut skipped = 0;
    let mut block = String::new();
    for o in outlines {
        let known = target.sources.iter().any(|s| same_feed(&s.url, &o.url))
            || added
                .iter()
                .any(|(_, u): &(String, url::Url)| same_feed(u, &o.url));
        if known {
            skipped += 1;
            continue;
        }
        let id = unique_id(&slug(&o.title, &o.url), &ids);
        ids.push(id.clone());
        block.push_str(&format!(
            "\n[[sources]]\nid = {}\nname = {}\nurl = {}\n",
            quote(&id),
            quote(&o.title),
            quote(o.url.as_str())
        ));
        if !o.tags.is_empty() {
            let tags: Vec<String> = o.tags.iter().map(|t| quote(t)).collect();
            block.push_str(&format!("tags = [{}]\n", tags.join(", ")));
        }
        added.push((id, o.url));
    }
    if added.is_empty() {
        println!(
            "nothing to import: {skipped} feed(s) already configured in {}",
            into.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let original = std::fs::read_to_string(into)?;
    let mut updated = original.clone();
    if !updated.ends_with('\n') {
        updated.push('\n');
    }
    updated.push_str(&format!(
        "\n# Imported from {} by `bantin opml import`.\n",
        file.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    updated.push_str(&block);

    // Check the result beside the real file (relative paths such as topics_file resolve the
    // same way), then move it into place.
    let dir = into
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let staged = dir.join(format!(
        ".{}.import",
        into.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    std::fs::write(&staged, &updated)
        .with_context(|| format!("cannot write {}", staged.display()))?;
    if let Err(problems) = config::load(&staged) {
        let _ = std::fs::remove_file(&staged);
        bail!(
            "the imported sources would make {} invalid; nothing was written:\n{problems}",
            into.display()
        );
    }
    std::fs::rename(&staged, into).with_context(|| format!("cannot replace {}", into.display()))?;
    let list: Vec<&str> = added.iter().map(|(id, _)| id.as_str()).collect();
    println!(
        "added {} source(s) to {}: {}{}",
        added.len(),
        into.display(),
        list.join(", "),
        if skipped > 0 {
            format!(" ({skipped} already configured)")
        } else {
            String::new()
        }
    );
    Ok(ExitCode::SUCCESS)
}

fn same_feed(a: &url::Url, b: &url::Url) -> bool {
    let key = |u: &url::Url| {
        let host = u
            .host_str()
            .unwrap_or("")
            .trim_start_matches("www.")
            .to_ascii_lowercase();
        format!(
            "{host}{}?{}",
            u.path().trim_end_matches('/'),
            u.query().unwrap_or("")
        )
    };
    key(a) == key(b)
}

fn slug(title: &str, url: &url::Url) -> String {
    let s = opml::slug(title);
    if s.is_empty() {
        opml::slug(url.host_str().unwrap_or("feed"))
    } else {
        s
    }
}

fn unique_id(base: &str, taken: &[String]) -> String {
    let base = if base.is_empty() { "feed" } else { base };
    if !taken.iter().any(|t| t == base) {
        return base.to_string();
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|c| !taken.contains(c))
        .unwrap_or_else(|| base.to_string())
}

/// A TOML basic string (JSON string escapes are valid TOML).
fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{}\"", s.replace(['"', '\\'], "")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_slugs_of_titles_or_hosts() {
        let url = url::Url::parse("https://baoquangninh.vn/rss/kinh-te.rss").unwrap();
        assert_eq!(
            slug("Báo Quảng Ninh – Kinh tế", &url),
            "bao-quang-ninh-kinh-te"
        );
        assert_eq!(slug("–", &url), "baoquangninh-vn");
    }

    #[test]
    fn ids_are_unique_slugs() {
        let taken = vec!["nhan-dan".to_string(), "nhan-dan-2".to_string()];
        assert_eq!(unique_id("nhan-dan", &taken), "nhan-dan-3");
        assert_eq!(unique_id("vov", &taken), "vov");
        assert!(config::is_slug(&opml::slug("Đài Tiếng nói Việt Nam (VOV)")));
        assert_eq!(quote("a \"b\" \\ c"), r#""a \"b\" \\ c""#);
    }
}
