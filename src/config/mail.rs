//! `[mail]` in the main file and `subscribers.toml`: who gets which digests, and how mail leaves.
//!
//! Keys of `[mail]`: `from`, `reply_to`, `secret_file`, `outbox` (the Maildir, the default
//! transport), `images` (an image beside each title of the HTML digest) and `[mail.smtp]` (`host`, `port`, `security`, `username`, `password_file`,
//! `password_env`, `timeout`, `connections`). Keys of a `[[subscribers]]` entry: `email`, `name`, `topics`,
//! `schedule`, `timezone`, `max_items`.
//!
//! Passwords are never read from the config file itself: only from a file or an environment
//! variable named there, resolved when mail is sent (so the value is never in a `Config`).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono_tz::Tz;
use toml::Spanned;

use super::reader::{parse_toml, suggest, Problem, Reporter, Section};
use super::Schedule;

/// Digests are sent daily at 07:00 unless a subscriber says otherwise.
pub const DEFAULT_DIGEST_SCHEDULE: &str = "0 0 7 * * *";
const DEFAULT_FROM: &str = "bantin <bantin@localhost>";
const DEFAULT_OUTBOX: &str = "data/outbox";
const DEFAULT_MAX_ITEMS: usize = 30;

#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub reply_to: Option<String>,
    pub transport: MailTransport,
    /// The HMAC secret for unsubscribe links (else `BANTIN_SECRET`, else one kept in the database).
    pub secret_file: Option<PathBuf>,
    /// `images`: the HTML digest shows each article's image, small, beside its title. Off by
    /// default: many mail clients block remote images, and the digest reads the same without.
    pub images: bool,
}

/// Where digests go: an SMTP server, or (the default) a Maildir any mail client can open.
#[derive(Debug, Clone)]
pub enum MailTransport {
    Smtp(SmtpConfig),
    Maildir(PathBuf),
}

#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: PasswordSource,
    pub timeout: Duration,
    /// Connections to the relay, and so digests delivered at once.
    pub connections: u32,
}

/// `[mail.smtp] connections` unless set ([`crate::mail::DEFAULT_CONNECTIONS`]); at most
/// [`MAX_SMTP_CONNECTIONS`], a politeness bound (Postfix lets one client open 50 by default).
pub const MAX_SMTP_CONNECTIONS: i64 = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    StartTls,
    Tls,
    None,
}

/// Where the SMTP password is, never the password itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    None,
    File(PathBuf),
    Env(String),
}

/// Why a secret named in the config cannot be had. No message carries the secret itself.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error(
        "{} names $CREDENTIALS_DIRECTORY, which is not set: systemd sets it for the service \
         (LoadCredential=); outside it, name the file itself",
        path.display()
    )]
    CredentialsDirectoryUnset { path: PathBuf },
    // The io error is part of the message, not a `source`: shown through a chain it would
    // be said twice.
    #[error("cannot read the SMTP password file {}: {error}", path.display())]
    PasswordFile {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("the SMTP password variable {variable} is not set")]
    PasswordVariable { variable: String },
}

impl PasswordSource {
    /// Reads the password now (trailing newline trimmed).
    pub fn resolve(&self) -> Result<Option<String>, CredentialError> {
        match self {
            PasswordSource::None => Ok(None),
            PasswordSource::File(p) => {
                let p = credential_path(p)?;
                std::fs::read_to_string(&p)
                    .map(|s| Some(s.trim_end_matches(['\r', '\n']).to_string()))
                    .map_err(|error| CredentialError::PasswordFile { path: p, error })
            }
            PasswordSource::Env(v) => {
                std::env::var(v)
                    .map(Some)
                    .map_err(|_| CredentialError::PasswordVariable {
                        variable: v.clone(),
                    })
            }
        }
    }
}

/// A secret file path with a leading `$CREDENTIALS_DIRECTORY` (or `${CREDENTIALS_DIRECTORY}`)
/// expanded from the environment: systemd sets it for a service with `LoadCredential=`, so the
/// config names a credential without hard-coding the unit's name. Expanded when the file is
/// read, so `bantin check` outside the service accepts it.
pub fn credential_path(p: &Path) -> Result<PathBuf, CredentialError> {
    expand_credentials(p, std::env::var_os("CREDENTIALS_DIRECTORY"))
}

fn expand_credentials(
    p: &Path,
    dir: Option<std::ffi::OsString>,
) -> Result<PathBuf, CredentialError> {
    let text = p.to_string_lossy();
    let rest = ["$CREDENTIALS_DIRECTORY", "${CREDENTIALS_DIRECTORY}"]
        .iter()
        .find_map(|prefix| text.strip_prefix(prefix));
    let Some(rest) = rest else {
        return Ok(p.to_path_buf());
    };
    match dir {
        Some(dir) => Ok(PathBuf::from(dir).join(rest.trim_start_matches('/'))),
        None => Err(CredentialError::CredentialsDirectoryUnset {
            path: p.to_path_buf(),
        }),
    }
}

/// Enough of an address to deliver to: one '@', something on both sides, no spaces or angle
/// brackets (a bare host such as localhost is fine). The SMTP server has the last word.
pub fn is_plausible_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"')
        })
        && !domain.contains('@')
}

/// A subscriber, validated.
#[derive(Debug, Clone)]
pub struct Subscriber {
    pub email: String,
    pub name: String,
    /// Topic ids, in the subscriber's order.
    pub topics: Vec<String>,
    pub schedule: Schedule,
    pub timezone: Tz,
    /// Articles per topic in one digest.
    pub max_items: usize,
}

const MAIL_KEYS: &[&str] = &[
    "from",
    "reply_to",
    "secret_file",
    "outbox",
    "images",
    "smtp",
];
const SMTP_KEYS: &[&str] = &[
    "host",
    "port",
    "security",
    "username",
    "password_file",
    "password_env",
    "password",
    "timeout",
    "connections",
];

pub(super) fn read_mail(r: &mut Reporter, root: &Section) -> Mail {
    let mut mail = Mail {
        from: DEFAULT_FROM.to_string(),
        reply_to: None,
        transport: MailTransport::Maildir(DEFAULT_OUTBOX.into()),
        secret_file: None,
        images: false,
    };
    let Some(t) = root.table(r, "mail") else {
        return mail;
    };
    mail.images = t.boolean(r, "images").unwrap_or(false);
    if let Some(from) = address(r, &t, "from") {
        mail.from = from;
    }
    mail.reply_to = address(r, &t, "reply_to");
    mail.secret_file = t
        .string(r, "secret_file")
        .map(|s| PathBuf::from(s.into_inner()));
    if let Some(outbox) = t.string(r, "outbox") {
        mail.transport = MailTransport::Maildir(PathBuf::from(outbox.into_inner()));
    }
    if let Some(s) = t.table(r, "smtp") {
        let security = s
            .parsed(r, "security", |v| match v {
                "starttls" => Ok(SmtpSecurity::StartTls),
                "tls" => Ok(SmtpSecurity::Tls),
                "none" => Ok(SmtpSecurity::None),
                _ => Err(format!("unknown security {v:?} (starttls, tls or none)")),
            })
            .unwrap_or(SmtpSecurity::StartTls);
        let default_port = match security {
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::None => 25,
        };
        if let Some(p) = s.string(r, "password") {
            r.at(
                p.span(),
                "`mail.smtp.password`: passwords are never written in the config; use `password_file` or `password_env`".into(),
            );
        }
        let password = match (s.string(r, "password_file"), s.string(r, "password_env")) {
            (Some(f), Some(e)) => {
                r.at(
                    e.span(),
                    "`mail.smtp`: give `password_file` or `password_env`, not both".into(),
                );
                PasswordSource::File(PathBuf::from(f.into_inner()))
            }
            (Some(f), None) => PasswordSource::File(PathBuf::from(f.into_inner())),
            (None, Some(e)) => PasswordSource::Env(e.into_inner()),
            (None, None) => PasswordSource::None,
        };
        let host = s.string(r, "host");
        if host.is_none() {
            r.at(
                s.span.start..s.span.start,
                "`mail.smtp` is missing required key `host`".into(),
            );
        }
        let smtp = SmtpConfig {
            host: host.map(Spanned::into_inner).unwrap_or_default(),
            port: s
                .integer_in(r, "port", 1..=65535)
                .map(|n| n as u16)
                .unwrap_or(default_port),
            security,
            username: s.string(r, "username").map(Spanned::into_inner),
            password,
            timeout: s.duration(r, "timeout").unwrap_or(Duration::from_secs(30)),
            connections: s
                .integer_in(r, "connections", 1..=MAX_SMTP_CONNECTIONS)
                .map_or(crate::mail::DEFAULT_CONNECTIONS, |n| n as u32),
        };
        s.finish(r, SMTP_KEYS);
        mail.transport = MailTransport::Smtp(smtp);
    }
    t.finish(r, MAIL_KEYS);
    mail
}

/// `Name <addr@host>` or a bare address.
fn address(r: &mut Reporter, t: &Section, key: &str) -> Option<String> {
    let v = t.string(r, key)?;
    mailbox(r, v, &t.dotted(key))
}

/// `v` when it is `Name <addr@host>` or a bare address, else reported at it as `key`'s.
pub(super) fn mailbox(r: &mut Reporter, v: Spanned<String>, key: &str) -> Option<String> {
    let addr = v
        .get_ref()
        .rsplit_once('<')
        .map(|(_, a)| a.trim_end_matches('>'))
        .unwrap_or(v.get_ref());
    if is_plausible_email(addr.trim()) && !v.get_ref().contains(['\r', '\n']) {
        Some(v.into_inner())
    } else {
        r.at(
            v.span(),
            format!("`{key}`: {:?} is not an email address", v.get_ref()),
        );
        None
    }
}

const SUBSCRIBER_KEYS: &[&str] = &[
    "email",
    "name",
    "topics",
    "schedule",
    "timezone",
    "max_items",
];

/// Reads `[[subscribers]]`; problems go to `problems`.
pub(super) fn parse_subscribers(
    path: &Path,
    text: &str,
    topics: &[&str],
    problems: &mut Vec<Problem>,
) -> Vec<Subscriber> {
    let mut r = Reporter::new(path, text);
    let table = parse_toml(&mut r, text);
    let root = Section::new(table.get_ref(), table.span(), "");
    let mut out: Vec<Subscriber> = Vec::new();
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for t in root.array_of_tables(&mut r, "subscribers") {
        let email = t.string(&mut r, "email");
        let name = t.string(&mut r, "name").map(Spanned::into_inner);
        let mut wanted = Vec::new();
        for topic in t.spanned_strings(&mut r, "topics").unwrap_or_default() {
            if topics.contains(&topic.get_ref().as_str()) {
                wanted.push(topic.into_inner());
            } else {
                let hint = suggest(topic.get_ref(), topics)
                    .map(|c| format!(", did you mean {c:?}?"))
                    .unwrap_or_default();
                r.at(
                    topic.span(),
                    format!("unknown topic {:?}{hint}", topic.get_ref()),
                );
            }
        }
        let schedule = t.parsed(&mut r, "schedule", Schedule::parse);
        let timezone = t.parsed(&mut r, "timezone", |s| {
            Tz::from_str(s).map_err(|_| {
                format!("unknown time zone {s:?} (an IANA name such as \"Asia/Ho_Chi_Minh\")")
            })
        });
        let max_items = t
            .integer_in(&mut r, "max_items", 1..=500)
            .map(|n| n as usize);
        t.finish(&mut r, SUBSCRIBER_KEYS);
        let Some(email) = email else {
            r.at(
                t.span.start..t.span.start,
                "subscriber is missing required key `email`".into(),
            );
            continue;
        };
        let address = email.get_ref().trim().to_lowercase();
        if !is_plausible_email(&address) {
            r.at(
                email.span(),
                format!("{:?} is not an email address", email.get_ref()),
            );
            continue;
        }
        if let Some(line) = seen.get(&address) {
            r.at(
                email.span(),
                format!("duplicate subscriber {address:?} (first on line {line})"),
            );
            continue;
        }
        seen.insert(address.clone(), r.line_col(email.span().start).0);
        if wanted.is_empty() && t.has("topics") {
            continue;
        }
        if !t.has("topics") {
            r.at(
                email.span(),
                format!("subscriber {address:?} has no `topics`"),
            );
            continue;
        }
        out.push(Subscriber {
            name: name.unwrap_or_else(|| address.clone()),
            email: address,
            topics: wanted,
            schedule: schedule.unwrap_or_else(|| {
                // The default is a constant known to parse.
                Schedule::parse(DEFAULT_DIGEST_SCHEDULE)
                    .expect("the default digest schedule is valid")
            }),
            timezone: timezone.unwrap_or(chrono_tz::Asia::Ho_Chi_Minh),
            max_items: max_items.unwrap_or(DEFAULT_MAX_ITEMS),
        });
    }
    root.finish(&mut r, &["subscribers"]);
    problems.extend(r.into_problems());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::load_files;

    #[test]
    fn credential_paths_expand_the_systemd_credentials_directory() {
        let dir = Some(std::ffi::OsString::from("/run/credentials/bantin.service"));
        for written in [
            "$CREDENTIALS_DIRECTORY/smtp-password",
            "${CREDENTIALS_DIRECTORY}/smtp-password",
        ] {
            assert_eq!(
                expand_credentials(Path::new(written), dir.clone()).unwrap(),
                Path::new("/run/credentials/bantin.service/smtp-password")
            );
        }
        assert_eq!(
            expand_credentials(Path::new("/etc/bantin/secret"), None).unwrap(),
            Path::new("/etc/bantin/secret")
        );
        let err = expand_credentials(Path::new("$CREDENTIALS_DIRECTORY/x"), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not set"), "{err}");
        assert_eq!(
            err,
            "$CREDENTIALS_DIRECTORY/x names $CREDENTIALS_DIRECTORY, which is not set: systemd sets \
             it for the service (LoadCredential=); outside it, name the file itself"
        );
    }

    fn load_with(main: &str, subscribers: &str) -> Result<crate::config::Config, Vec<String>> {
        load_files(&[
            ("bantin.toml", main),
            (
                "topics.toml",
                "[[topics]]\nid = \"dan-van\"\nany = [\"dân vận\"]\n",
            ),
            ("subscribers.toml", subscribers),
        ])
    }

    #[test]
    fn defaults_are_a_maildir_and_a_daily_digest() {
        let c = load_with("", "[[subscribers]]\nemail = \"Hoa@Example.vn\"\nname = \"Nguyễn Thị Hoa\"\ntopics = [\"dan-van\"]\n").unwrap();
        assert!(
            matches!(&c.mail.transport, MailTransport::Maildir(p) if p == Path::new("data/outbox"))
        );
        let s = &c.subscribers[0];
        assert_eq!(
            (s.email.as_str(), s.name.as_str(), s.max_items),
            ("hoa@example.vn", "Nguyễn Thị Hoa", 30)
        );
        assert_eq!(s.schedule.text, DEFAULT_DIGEST_SCHEDULE);
        assert_eq!(s.timezone, chrono_tz::Asia::Ho_Chi_Minh);
        assert!(!c.mail.images, "digests show no images unless asked");
    }

    #[test]
    fn images_in_digests_are_asked_for_with_a_boolean() {
        let c = load_with(
            "[mail]
images = true
",
            "",
        )
        .unwrap();
        assert!(c.mail.images);
        let got = load_with(
            "[mail]
images = \"yes\"
image = true
",
            "",
        )
        .unwrap_err();
        assert!(
            got.iter()
                .any(|g| g.starts_with("bantin.toml:2:10: `mail.images`")),
            "{got:#?}"
        );
        assert!(
            got.iter().any(
                |g| g.starts_with("bantin.toml:3:1: unknown key `mail.image`")
                    && g.ends_with("did you mean `images`?")
            ),
            "{got:#?}"
        );
    }

    #[test]
    fn smtp_settings_are_read_and_passwords_stay_out() {
        let c = load_with(
            "[mail]\nfrom = \"bantin <tin@example.vn>\"\n[mail.smtp]\nhost = \"smtp.example.vn\"\nsecurity = \"tls\"\nusername = \"tin\"\npassword_env = \"SMTP_PASS\"\n",
            "",
        )
        .unwrap();
        let MailTransport::Smtp(s) = &c.mail.transport else {
            panic!("smtp expected")
        };
        assert_eq!(
            (s.host.as_str(), s.port, s.security),
            ("smtp.example.vn", 465, SmtpSecurity::Tls)
        );
        assert_eq!(s.password, PasswordSource::Env("SMTP_PASS".into()));
        let got = load_with(
            "[mail.smtp]\nhost = \"h\"\npassword = \"hunter2\"\nsecurity = \"ssl\"\n",
            "",
        )
        .unwrap_err();
        assert!(
            got.iter().any(|g| g.starts_with(
                "bantin.toml:3:12: `mail.smtp.password`: passwords are never written"
            )),
            "{got:#?}"
        );
        assert!(
            got.iter().any(|g| g
                .starts_with("bantin.toml:4:12: `mail.smtp.security`: unknown security \"ssl\"")),
            "{got:#?}"
        );
        assert!(
            !got.iter().any(|g| g.contains("hunter2")),
            "the password is never echoed: {got:#?}"
        );
    }

    #[test]
    fn subscriber_problems_are_reported_with_positions() {
        let got = load_with(
            "",
            "[[subscribers]]\nemail = \"a@b.vn\"\ntopics = [\"dan-vn\"]\nschedule = \"daily\"\n[[subscribers]]\nemail = \"A@b.vn\"\ntopics = [\"dan-van\"]\nmax_itms = 3\n[[subscribers]]\nemail = \"not an address\"\ntopics = [\"dan-van\"]\n",
        )
        .unwrap_err();
        let expected = [
            "subscribers.toml:3:11: unknown topic \"dan-vn\", did you mean \"dan-van\"?",
            "subscribers.toml:4:12: `subscribers[0].schedule`: invalid cron schedule",
            "subscribers.toml:6:9: duplicate subscriber \"a@b.vn\" (first on line 2)",
            "subscribers.toml:8:1: unknown key `subscribers[1].max_itms`, did you mean `max_items`?",
            "subscribers.toml:10:9: \"not an address\" is not an email address",
        ];
        for e in expected {
            assert!(
                got.iter().any(|g| g.starts_with(e)),
                "missing {e:?} in {got:#?}"
            );
        }
    }
}
