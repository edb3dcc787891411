//! `bantin prune`, `bantin backup`, `bantin restore`: the database's upkeep. Glue only: the
//! work (and every guarantee) is in [`crate::store`]'s retention module.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::{Days, Timelike, Utc};

use super::local;
use crate::config::Config;
use crate::store::{BackupError, BackupOptions, PruneStats, Store};

/// Opens the database as it is, without recording the configured sources: upkeep writes
/// nothing but what it is asked to.
async fn open(config: &Config) -> Result<Store> {
    let path = config.storage.path.clone();
    tokio::task::spawn_blocking(move || {
        Store::open(&path)
            .with_context(|| format!("cannot open the database at {}", path.display()))
    })
    .await?
}

/// Deletes (or with `dry_run` counts) the articles first seen more than `[storage] keep_days`
/// ago, and reports what went and the space given back.
pub async fn prune(config: Config, dry_run: bool, json: bool) -> Result<ExitCode> {
    let keep_days = config.storage.keep_days;
    // Whole seconds: what the store compares, and what is printed.
    let now = Utc::now().with_nanosecond(0).unwrap_or_else(Utc::now);
    let cutoff = now
        .checked_sub_days(Days::new(keep_days.into()))
        .context("[storage] keep_days reaches before the calendar")?;
    let store = open(&config).await?;
    let stats = tokio::task::spawn_blocking(move || store.prune(cutoff, dry_run)).await??;
    let mut out = std::io::stdout().lock();
    if json {
        #[derive(serde::Serialize)]
        struct View<'a> {
            cutoff: String,
            keep_days: u32,
            #[serde(flatten)]
            stats: &'a PruneStats,
        }
        serde_json::to_writer_pretty(
            &mut out,
            &View {
                cutoff: local(cutoff),
                keep_days,
                stats: &stats,
            },
        )?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let (verb, removed, kept) = if dry_run {
        ("would prune", "would be removed", "would be kept")
    } else {
        ("pruned", "removed", "kept")
    };
    writeln!(
        out,
        "{verb} {} articles first seen before {} ([storage] keep_days = {keep_days})",
        stats.articles,
        local(cutoff)
    )?;
    writeln!(
        out,
        "  {} topic matches, {} source links, {} article pages {removed}",
        stats.matches, stats.source_links, stats.page_jobs
    )?;
    writeln!(
        out,
        "  {} identity keys {kept} as tombstones: these items are never stored again",
        stats.tombstones
    )?;
    if dry_run {
        writeln!(
            out,
            "  nothing changed (dry run); database {}",
            size(stats.database_bytes)
        )?;
    } else {
        writeln!(
            out,
            "  reclaimed {} ({} pages); database now {}",
            size(stats.bytes_reclaimed),
            stats.pages_freed,
            size(stats.database_bytes)
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes a consistent, checked copy of the database to `file`, also while the daemon runs.
pub async fn backup(config: Config, file: &Path, force: bool) -> Result<ExitCode> {
    let store = open(&config).await?;
    let target = file.to_path_buf();
    let options = BackupOptions {
        overwrite: force,
        ..Default::default()
    };
    let done = tokio::task::spawn_blocking(move || store.backup(&target, &options)).await?;
    let report = match done {
        Ok(r) => r,
        Err(e @ BackupError::Exists { .. }) => {
            eprintln!("bantin: {e}; pass --force to replace it");
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => return Err(e).context("backup failed; no file was written"),
    };
    println!(
        "backup written to {}: {}, {} articles, integrity ok, schema version {} ({} ms)",
        report.path.display(),
        size(report.bytes),
        report.articles,
        report.schema_version,
        report.elapsed_ms
    );
    Ok(ExitCode::SUCCESS)
}

/// Replaces the database with the backup in `file`; refused while the daemon runs.
pub async fn restore(config: Config, file: &Path) -> Result<ExitCode> {
    let database = config.storage.path.clone();
    let backup = file.to_path_buf();
    let done =
        tokio::task::spawn_blocking(move || Store::restore(&backup, &database, Utc::now())).await?;
    let report = match done {
        Ok(r) => r,
        Err(e @ BackupError::InUse { .. }) => {
            eprintln!("bantin: {e}");
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => return Err(e).context("restore failed"),
    };
    println!(
        "restored {} from {}: {}, {} articles",
        report.database.display(),
        file.display(),
        size(report.bytes),
        report.articles
    );
    if let Some(p) = &report.previous {
        println!(
            "the database it replaced is kept as {} (delete it when satisfied)",
            p.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Bytes for people: "12.3 MiB".
fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_read_like_people_write_them() {
        for (bytes, want) in [
            (0, "0 B"),
            (1023, "1023 B"),
            (1024, "1.0 KiB"),
            (1536, "1.5 KiB"),
            (12 * 1024 * 1024 + 300 * 1024, "12.3 MiB"),
            (3 << 30, "3.0 GiB"),
        ] {
            assert_eq!(super::size(bytes), want, "{bytes}");
        }
    }
}
