//! `[http]`: the feed server's address, its public URL and its limits on clients.
//!
//! Keys: `listen` (default `127.0.0.1:8080`), `public_url` (the base of absolute links; derived
//! from `listen` when unset, and then following the port actually bound), `max_connections`
//! and `header_timeout` (both bounded, so a typo cannot open the server to a slow-client flood
//! or shut every client out).

use std::time::Duration;

use url::Url;

use super::reader::{Reporter, Section};

const HTTP_KEYS: &[&str] = &["listen", "public_url", "max_connections", "header_timeout"];

#[derive(Debug, Clone)]
pub struct Http {
    /// Address `bantin run` serves feeds on.
    pub listen: std::net::SocketAddr,
    /// Base of absolute links in feeds and pages (ends with '/').
    pub public_url: Url,
    /// Whether `public_url` was derived from `listen` rather than set.
    derived_url: bool,
    /// Connections served at once; None: derived from the file limit at startup
    /// ([`crate::http::connections::connection_cap`]).
    pub max_connections: Option<usize>,
    /// How long a connection may take to send a complete request head, counted from when it
    /// opened or from the end of its previous response (so also the keep-alive idle timeout).
    pub header_timeout: Duration,
}

/// `[http] header_timeout` unless set: a feed reader on a poor mobile link sends a request
/// head in well under a second; 10 s leaves room and frees a slow client's descriptor soon.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Bounds of `[http] max_connections` and `header_timeout`.
const MAX_CONNECTIONS: std::ops::RangeInclusive<i64> = 1..=1_048_576;
const HEADER_TIMEOUT: std::ops::RangeInclusive<Duration> =
    Duration::from_millis(100)..=Duration::from_secs(3600);

impl Http {
    /// Whether `public_url` was set in the config (not derived from `listen`).
    pub fn public_url_is_set(&self) -> bool {
        !self.derived_url
    }

    /// Records the address actually bound (port 0 picks one): a derived public URL follows it.
    pub fn bound(&mut self, addr: std::net::SocketAddr) {
        self.listen = addr;
        if self.derived_url {
            self.public_url = base_url_for(addr);
        }
    }
}

pub(super) fn read_http(r: &mut Reporter, root: &Section) -> Http {
    let default_listen = std::net::SocketAddr::from(([127, 0, 0, 1], 8080));
    let Some(t) = root.table(r, "http") else {
        return Http {
            listen: default_listen,
            public_url: base_url_for(default_listen),
            derived_url: true,
            max_connections: None,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
        };
    };
    let listen = t
        .parsed(r, "listen", |s| {
            s.parse::<std::net::SocketAddr>().map_err(|_| {
                format!("{s:?} is not an address with a port, such as \"127.0.0.1:8080\"")
            })
        })
        .unwrap_or(default_listen);
    let explicit = t.url(r, "public_url");
    let derived_url = explicit.is_none();
    let public_url = explicit
        .map(|mut u| {
            if !u.path().ends_with('/') {
                let p = format!("{}/", u.path());
                u.set_path(&p);
            }
            u
        })
        .unwrap_or_else(|| base_url_for(listen));
    let max_connections = t
        .integer_in(r, "max_connections", MAX_CONNECTIONS)
        .map(|n| n as usize);
    let header_timeout = t
        .duration_in(r, "header_timeout", HEADER_TIMEOUT)
        .unwrap_or(DEFAULT_HEADER_TIMEOUT);
    t.finish(r, HTTP_KEYS);
    Http {
        listen,
        public_url,
        derived_url,
        max_connections,
        header_timeout,
    }
}

/// `http://ADDR/` for a listen address (unspecified addresses become 127.0.0.1).
pub fn base_url_for(addr: std::net::SocketAddr) -> Url {
    let ip = if addr.ip().is_unspecified() {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        addr.ip()
    };
    let host = match ip {
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        v4 => v4.to_string(),
    };
    // An IP address and a port always make a valid URL.
    Url::parse(&format!("http://{host}:{}/", addr.port())).expect("an IP and a port make a URL")
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::parse;
    use crate::config::tests::problems;

    #[test]
    fn http_limits_are_read_and_checked() {
        let c = parse(Path::new("b.toml"), "").unwrap();
        assert_eq!(c.http.max_connections, None);
        assert_eq!(c.http.header_timeout, DEFAULT_HEADER_TIMEOUT);
        let c = parse(
            Path::new("b.toml"),
            "[http]\nmax_connections = 300\nheader_timeout = \"2s\"\n",
        )
        .unwrap();
        assert_eq!(c.http.max_connections, Some(300));
        assert_eq!(c.http.header_timeout, Duration::from_secs(2));
        let got =
            problems("[http]\nmax_connections = 0\nheader_timeout = \"0s\"\nheader_timout = 5\n");
        let expected = [
            "b.toml:2:19: `http.max_connections` must be between 1 and 1048576, found 0",
            "b.toml:3:18: `http.header_timeout` must be between 100ms and 1h, found 0s",
            "b.toml:4:1: unknown key `http.header_timout`, did you mean `header_timeout`?",
        ];
        assert_eq!(got, expected);
        let got = problems("[http]\nmax_connections = \"many\"\nheader_timeout = \"soon\"\n");
        assert_eq!(got.len(), 2, "{got:#?}");
        assert!(
            got[0].starts_with("b.toml:2:19: `http.max_connections`"),
            "{got:#?}"
        );
        assert!(
            got[1].starts_with("b.toml:3:18: `http.header_timeout`: invalid duration"),
            "{got:#?}"
        );
    }
}
