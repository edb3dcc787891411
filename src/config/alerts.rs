//! `[alerts]`: who hears about trouble, and when a source counts as failing.
//!
//! Keys: `email` (addresses, sent through the digests' mail path and outbox), `webhook` (an
//! http(s) URL that gets each alert as a JSON POST), `webhook_secret_file` (a file holding the
//! key that signs those POSTs; never inline), `failures` (consecutive failed polls before a
//! source counts as failing, 1 to 100, default 3: one timeout is not news) and `fewer_than`
//! (a list or sitemap source that yields fewer items than this fraction of its usual number
//! counts as broken, 0.01 to 0.5, default 0.25). Without the section, alerts are still worked out,
//! logged and listed by `bantin alerts`; nobody is sent them.

use std::path::PathBuf;

use url::Url;

use super::mail::mailbox;
use super::reader::{Reporter, Section};

const DEFAULT_FAILURES: u32 = 3;
const DEFAULT_FEWER_THAN: f64 = 0.25;
const ALERTS_KEYS: &[&str] = &[
    "email",
    "webhook",
    "webhook_secret_file",
    "failures",
    "fewer_than",
];

#[derive(Debug, Clone, PartialEq)]
pub struct Alerts {
    /// Each alert is mailed to these addresses.
    pub email: Vec<String>,
    /// Each alert is POSTed here as JSON.
    pub webhook: Option<Url>,
    /// The key signing those POSTs (HMAC-SHA256), read when one is sent.
    pub webhook_secret_file: Option<PathBuf>,
    /// Consecutive failed polls before a source counts as failing.
    pub failures: u32,
    /// A list or sitemap source yielding fewer items than this fraction of its usual number is
    /// reported.
    pub fewer_than: f64,
}

impl Default for Alerts {
    fn default() -> Alerts {
        Alerts {
            email: Vec::new(),
            webhook: None,
            webhook_secret_file: None,
            failures: DEFAULT_FAILURES,
            fewer_than: DEFAULT_FEWER_THAN,
        }
    }
}

pub(super) fn read_alerts(r: &mut Reporter, root: &Section) -> Alerts {
    let Some(t) = root.table(r, "alerts") else {
        return Alerts::default();
    };
    let email = t
        .spanned_strings(r, "email")
        .unwrap_or_default()
        .into_iter()
        .filter_map(|a| mailbox(r, a, "alerts.email"))
        .collect();
    let alerts = Alerts {
        email,
        webhook: t.url(r, "webhook"),
        webhook_secret_file: t
            .string(r, "webhook_secret_file")
            .map(|s| PathBuf::from(s.into_inner())),
        failures: t
            .integer_in(r, "failures", 1..=100)
            .map(|n| n as u32)
            .unwrap_or(DEFAULT_FAILURES),
        fewer_than: t
            .fraction_in(r, "fewer_than", 0.01..=0.5)
            .unwrap_or(DEFAULT_FEWER_THAN),
    };
    t.finish(r, ALERTS_KEYS);
    alerts
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::parse;
    use super::super::tests::problems;
    use super::*;

    #[test]
    fn defaults_without_the_section() {
        let c = parse(Path::new("b.toml"), "").unwrap();
        assert_eq!(c.alerts, Alerts::default());
        assert_eq!(c.alerts.failures, 3);
    }

    #[test]
    fn every_key_is_read() {
        let c = parse(
            Path::new("b.toml"),
            "[alerts]\nemail = [\"admin@bao.vn\", \"Trực ban <oncall@bao.vn>\"]\nwebhook = \"https://chat.example/hook\"\nwebhook_secret_file = \"/etc/bantin/alerts.secret\"\nfailures = 5\nfewer_than = 0.5\n",
        )
        .unwrap();
        assert_eq!(c.alerts.email, ["admin@bao.vn", "Trực ban <oncall@bao.vn>"]);
        assert_eq!(
            c.alerts.webhook.as_ref().map(Url::as_str),
            Some("https://chat.example/hook")
        );
        assert_eq!(
            c.alerts.webhook_secret_file,
            Some(PathBuf::from("/etc/bantin/alerts.secret"))
        );
        assert_eq!((c.alerts.failures, c.alerts.fewer_than), (5, 0.5));
    }

    #[test]
    fn bad_values_are_reported_where_they_are() {
        let got = problems(
            "[alerts]\nemail = [\"not an address\"]\nwebhook = \"ftp://x\"\nfailures = 0\nfewer_than = 2.0\nmail = 1\n",
        );
        let expected = [
            "b.toml:2:10: `alerts.email`: \"not an address\" is not an email address",
            "b.toml:3:11: `alerts.webhook`: \"ftp://x\" is not an http(s) URL",
            "b.toml:4:12: `alerts.failures` must be between 1 and 100, found 0",
            "b.toml:5:14: `alerts.fewer_than` must be between 0.01 and 0.5, found 2.0",
            "b.toml:6:1: unknown key `alerts.mail`, did you mean `email`?",
        ];
        for e in expected {
            assert!(got.iter().any(|g| g == e), "{e:?} not in {got:#?}");
        }
        assert_eq!(got.len(), expected.len(), "{got:#?}");
    }
}
