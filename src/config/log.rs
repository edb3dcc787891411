//! `[log]`: what the daemon writes to stderr.
//!
//! Keys: `level` (a `tracing` filter, checked here so a typo is a config problem and not a
//! silent default) and `format` (`"text"` or `"json"`).

use super::reader::{Reporter, Section};

const LOG_KEYS: &[&str] = &["level", "format"];

/// `[log]`: what the daemon writes to stderr.
#[derive(Debug, Clone, Default)]
pub struct Log {
    /// A `tracing` filter such as "info" or "bantin=debug"; `RUST_LOG` wins when set.
    pub level: Option<String>,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (coloured only on a terminal).
    #[default]
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

pub(super) fn read_log(r: &mut Reporter, root: &Section) -> Log {
    let Some(t) = root.table(r, "log") else {
        return Log::default();
    };
    let level = t.parsed(r, "level", |s| {
        tracing_subscriber::EnvFilter::try_new(s)
            .map(|_| s.to_string())
            .map_err(|e| format!("invalid log filter {s:?}: {e} (e.g. \"info\", \"bantin=debug\")"))
    });
    let format = t
        .parsed(r, "format", |s| match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!(
                "unknown log format {s:?}: expected \"text\" or \"json\""
            )),
        })
        .unwrap_or_default();
    t.finish(r, LOG_KEYS);
    Log { level, format }
}
