//! The `bantin` binary: parse arguments, set up logging, hand over to the library.

use std::io::IsTerminal;
use std::process::ExitCode;

use bantin::config::{self, LogFormat};
use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    tune_malloc();
    let cli = bantin::cli::Cli::parse();
    init_logging(&cli);
    raise_file_limit();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bantin: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = match runtime.block_on(bantin::cli::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("bantin: {e:#}");
            ExitCode::FAILURE
        }
    };
    // Dropping the runtime would wait for every blocking task, however long (a store call
    // stuck behind a slow disk); the daemon has already given its work its deadline.
    runtime.shutdown_timeout(RUNTIME_GRACE);
    code
}

/// glibc's malloc, set for a process whose big buffers (feed bodies, their text) come and go.
/// Two arenas instead of eight per core: every thread that allocates while another holds an
/// arena gets one of its own, polls run on as many blocking threads as are in flight, and the
/// memory they free stays spread over arenas nobody reuses (a cold `bantin fetch`: 130 MiB of
/// RSS with the default, 92 MiB with two, same CPU time). And a fixed mmap threshold (glibc's
/// default, 128 KiB): left dynamic, it rises to the size of the first megabyte body freed,
/// after which every body lands in an arena and leaves a hole there when freed (67 → 58 MiB).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_malloc() {
    // SAFETY: mallopt only sets allocator parameters; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_malloc() {}

/// What exit waits for blocking tasks still running after the command returned.
const RUNTIME_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// Raises the soft limit on open files to the hard limit: the soft default under systemd and
/// most shells is 1024, which connections, polls and SQLite share (`bantin run` serves at most
/// half of it as HTTP connections). The limit in force is in the daemon's "HTTP limits" line.
fn raise_file_limit() {
    let before = rlimit::Resource::NOFILE.get_soft().ok();
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(now) if before != Some(now) => {
            tracing::debug!(from = ?before, to = now, "raised the open file limit")
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot raise the open file limit"),
    }
}

/// Logs go to stderr (systemd's journal under the unit). The filter is `RUST_LOG` when set and
/// valid, else `[log] level`, else "info"; `[log] format = "json"` writes one JSON object per
/// line for log shippers. Colour only on a terminal.
fn init_logging(cli: &bantin::cli::Cli) {
    // The config is read here only for `[log]`: the command reads it again and reports its
    // problems itself, so a config that does not load just means the defaults here.
    let log = config::load(&cli.config).map(|c| c.log).unwrap_or_default();
    let filter = EnvFilter::try_from_default_env()
        .ok()
        .or_else(|| {
            log.level
                .as_deref()
                .and_then(|l| EnvFilter::try_new(l).ok())
        })
        .unwrap_or_else(|| EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match log.format {
        LogFormat::Json => fmt.json().with_ansi(false).init(),
        LogFormat::Text => fmt.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}
