//! The only place that knows lettre: builds RFC 5322 messages and delivers them over SMTP or into a Maildir.
//!
//! [`build`] turns an [`Outgoing`] (what the digest module composed, plus the envelope the caller
//! chose) into one message, built once: a [`Built`] holds its envelope and its final bytes. A
//! [`Mailer`] delivers it, either to an SMTP relay through one connection pool, or into a Maildir
//! (the default when no relay is configured: every message lands as a file a mail client can
//! open).
//!
//! The message: `multipart/alternative` with a `text/plain` and a `text/html` part, both UTF-8,
//! 7bit when ASCII with short lines, else quoted-printable or base64 (lettre's chooser picks the
//! shorter); nothing is an attachment. Line endings become CRLF (here, in one pass: lettre's own
//! conversion inserts one `\r` at a time, which is quadratic in a 100 KB body). Headers: From,
//! Reply-To, To, Subject (RFC 2047 words when not ASCII), Date, Message-ID,
//! `Auto-Submitted: auto-generated` (RFC 3834, so vacation responders stay quiet), `Precedence:
//! bulk` (the older convention the same responders honour), and the RFC 2369 / RFC 8058
//! unsubscribe headers.
//!
//! Invariants:
//!
//! - **No header injection.** CR, LF and every other control character in the subject and in
//!   display names become one space before lettre sees them (lettre would RFC 2047-encode them
//!   anyway; this keeps the header readable). Addresses, the Message-ID and the unsubscribe URIs
//!   are validated and refused ([`MailError::Invalid`]) rather than repaired. The envelope is
//!   derived from the To header, so a message has exactly the one recipient the caller named.
//! - **Resends are the same message.** The Message-ID and Date come from the caller; nothing in
//!   [`build`] reads the clock or invents an id. (Multipart boundaries are random, so the bytes
//!   of two builds differ, what a mail client shows does not; [`Built::with_boundary`] takes the
//!   boundary from the caller, and then the same parts build the same bytes.)
//! - **Secrets stay secret.** The SMTP password is printed by no `Debug`, `Display` or error.
//! - **Failures are classified once, here**: [`MailError::Permanent`] means "do not retry this
//!   message" (a 5xx reply, a message we refuse to build); everything else a relay can do to us
//!   (4xx, refused connection, timeout, TLS or protocol trouble) is [`MailError::Transient`].
//! - **Bounded and cancel-safe.** One SMTP delivery takes at most `timeout`; a delivery cut
//!   short never leaves its half-spoken connection in the pool (see `Smtp`).
//!
//! The Maildir is written here, not by lettre: its `FileTransport` writes `.eml` files, not the
//! `tmp/` → `new/` protocol that lets a mail client open the directory.

use std::fmt;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Datelike, Utc};
use email_encoding::body::Encoding;
use lettre::address::Envelope;
use lettre::message::header::{ContentTransferEncoding, HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls as ClientTls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::PoolConfig;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// Connections to the relay, and deliveries in flight at once, unless `[mail.smtp]
/// connections` says otherwise ([`Mailer::with_connections`]). Each delivery is a handful of
/// round trips to the relay, so a few at once keep both sides busy; a few stay well below what
/// relays allow one client (Postfix: 50 by default), so a mail-out is not taken for a flood.
pub const DEFAULT_CONNECTIONS: u32 = 4;

/// How to reach the SMTP server.
#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    /// Resolved by the caller from `password_file` / `password_env`; never printed.
    pub password: Option<String>,
    /// Bounds connecting, and also one whole delivery (connect, TLS, AUTH, message, reply).
    pub timeout: Duration,
    /// Extra root certificate (DER) to trust, for tests and private relays; None = system roots.
    pub extra_root_der: Option<Vec<u8>>,
}

/// By hand, so that the password never reaches a log line.
impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| Redacted))
            .field("timeout", &self.timeout)
            .field(
                "extra_root_der",
                &self.extra_root_der.as_ref().map(|d| DerLen(d.len())),
            )
            .finish()
    }
}

/// Stands in for a secret in `Debug` output.
struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A certificate in `Debug` output: its size, not its bytes.
struct DerLen(usize);

impl fmt::Debug for DerLen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes of DER>", self.0)
    }
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain text, then STARTTLS, which must succeed (RFC 3207; submission on port 587).
    StartTls,
    /// TLS from the first byte (RFC 8314; submissions on port 465).
    Tls,
    /// Plain text only: for a relay on loopback or a trusted network.
    None,
}

/// Where digests go.
#[derive(Debug, Clone)]
pub enum Transport {
    Smtp(SmtpSettings),
    /// A Maildir (tmp/, new/, cur/ are created as needed).
    Maildir(PathBuf),
}

/// One message, ready to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// `"bantin <bantin@example.vn>"` or a bare address.
    pub from: String,
    pub reply_to: Option<String>,
    /// `"Nguyễn Thị Hoa <hoa@example.vn>"` or a bare address.
    pub to: String,
    pub subject: String,
    /// LF line endings (CRLF is accepted too).
    pub text: String,
    pub html: String,
    /// Stable Message-ID without angle brackets, e.g. `"digest.42.1764288000@bantin.example.vn"`
    /// (the caller makes it; a resend uses the same one).
    pub message_id: String,
    pub date: DateTime<Utc>,
    /// RFC 8058 one-click URL (`https`; `http` is accepted for local setups, but receivers only
    /// offer one-click for https). Also sets `List-Unsubscribe-Post: List-Unsubscribe=One-Click`.
    pub unsubscribe_url: Option<String>,
    /// `mailto:` URI, or a bare address (`mailto:` is prepended).
    pub unsubscribe_mailto: Option<String>,
}

/// A message built once ([`Built::of`]): the envelope and the bytes the relay receives;
/// [`Mailer::send_built`] sends it as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    /// The envelope sender (MAIL FROM), the From header's address.
    pub envelope_from: Option<String>,
    /// The envelope recipients (RCPT TO): the To header's one address.
    pub envelope_to: Vec<String>,
    /// RFC 5322, CRLF line endings.
    pub bytes: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// A bad address, Message-ID, URI or date: permanent.
    #[error("invalid message: {0}")]
    Invalid(String),
    /// 4xx, connection refused, timeout, TLS or protocol trouble, a full disk: retry later.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// 5xx: do not retry.
    #[error("permanent failure: {0}")]
    Permanent(String),
}

impl MailError {
    /// Whether retrying the same message can never succeed.
    pub fn is_permanent(&self) -> bool {
        matches!(self, MailError::Invalid(_) | MailError::Permanent(_))
    }
}

/// Builds the message bytes (CRLF line endings; see the module docs for the shape).
pub fn build(msg: &Outgoing) -> Result<Vec<u8>, MailError> {
    Ok(Built::of(msg)?.bytes)
}

impl Built {
    /// Builds the message: its envelope (derived from From and To) and its bytes.
    pub fn of(msg: &Outgoing) -> Result<Built, MailError> {
        Built::with_message(compose(msg, None)?)
    }

    /// [`Built::of`] with the given MIME boundary ([`new_boundary`]) instead of a random one:
    /// the same parts and boundary make the same bytes, however often they are built.
    pub fn with_boundary(msg: &Outgoing, boundary: &str) -> Result<Built, MailError> {
        Built::with_message(compose(msg, Some(boundary))?)
    }

    fn with_message(message: Message) -> Result<Built, MailError> {
        let envelope = message.envelope();
        Ok(Built {
            envelope_from: envelope.from().map(ToString::to_string),
            envelope_to: envelope.to().iter().map(ToString::to_string).collect(),
            bytes: message.formatted(),
        })
    }
}

/// A MIME boundary as lettre makes one: 40 random letters and digits, which no body holds by
/// chance.
pub fn new_boundary() -> String {
    use rand::Rng as _;
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(40)
        .map(char::from)
        .collect()
}

/// A connection-pooled sender, built once and reused (cheap to clone: clones share the pool).
#[derive(Clone)]
pub struct Mailer {
    inner: Inner,
    /// Connections the SMTP pool keeps: how many deliveries may be in flight at once.
    connections: u32,
}

#[derive(Clone)]
enum Inner {
    Smtp(Arc<Smtp>),
    Maildir(Arc<Path>),
}

/// One relay: its settings and the current connection pool.
///
/// Why the pool can be replaced: lettre's async client bounds only the TCP connect with its
/// timeout, so [`Mailer::send`] bounds the whole delivery itself. A delivery cut short (by that
/// deadline, or by the caller dropping the future) leaves its connection mid-conversation, and
/// lettre would park it back in the pool as if healthy: the next message's commands could land
/// inside the unfinished DATA of the previous one. So a cut-short delivery marks the pool
/// `stale`, and the next send starts a fresh pool; the old one closes its connections when the
/// last user lets go of it.
struct Smtp {
    settings: SmtpSettings,
    /// `host:port`, for messages.
    relay: String,
    pool: Mutex<AsyncSmtpTransport<Tokio1Executor>>,
    stale: AtomicBool,
    /// The pool's size.
    connections: u32,
}

/// By hand: lettre's transport would print its credentials.
impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Inner::Smtp(smtp) => f.debug_struct("Mailer").field("smtp", &smtp.relay).finish(),
            Inner::Maildir(dir) => f.debug_struct("Mailer").field("maildir", dir).finish(),
        }
    }
}

impl Mailer {
    /// Sets the transport up; connects to nothing and touches no file yet. Errors are
    /// [`MailError::Invalid`] (an unusable setting or certificate).
    ///
    /// For SMTP, call it inside a tokio runtime: lettre's pool starts its idle-connection reaper
    /// there (it ends when the last clone of the `Mailer` is dropped). Outside one this is an
    /// error, not a panic.
    pub fn new(transport: &Transport) -> Result<Mailer, MailError> {
        Mailer::with_connections(transport, DEFAULT_CONNECTIONS)
    }

    /// [`Mailer::new`] with a pool of `connections` to the relay (at least one).
    pub fn with_connections(transport: &Transport, connections: u32) -> Result<Mailer, MailError> {
        let connections = connections.max(1);
        let inner = match transport {
            Transport::Smtp(settings) => {
                let pool = smtp_pool(settings, connections)?;
                Inner::Smtp(Arc::new(Smtp {
                    relay: format!("{}:{}", settings.host, settings.port),
                    settings: settings.clone(),
                    pool: Mutex::new(pool),
                    stale: AtomicBool::new(false),
                    connections,
                }))
            }
            Transport::Maildir(dir) => Inner::Maildir(Arc::from(dir.as_path())),
        };
        Ok(Mailer { inner, connections })
    }

    /// How many deliveries may be in flight at once: one per pooled connection.
    pub fn connections(&self) -> usize {
        self.connections as usize
    }

    /// Delivers one message; Ok(the server's reply, e.g. `"250 2.0.0 queued as …"`, or for a
    /// Maildir `"delivered to <path>"`).
    ///
    /// Over SMTP, `timeout` bounds the whole delivery: connecting, TLS, AUTH, the message and the
    /// server's final reply. Dropping the future mid-delivery is safe: the connection it used is
    /// never reused. (As with any SMTP client, a delivery cut short after the relay took the
    /// message may arrive and then be resent; the stable Message-ID lets mail clients fold the
    /// copy.)
    pub async fn send(&self, msg: &Outgoing) -> Result<String, MailError> {
        self.send_built(&Built::of(msg)?).await
    }

    /// Delivers a message built earlier ([`Built::of`]), as it is: same envelope, same bytes. Its
    /// envelope is checked again (it may have been read back from storage); a bad one is
    /// [`MailError::Invalid`].
    pub async fn send_built(&self, msg: &Built) -> Result<String, MailError> {
        match &self.inner {
            Inner::Smtp(smtp) => smtp.send(&envelope(msg)?, &msg.bytes).await,
            Inner::Maildir(dir) => {
                let dir = Arc::clone(dir);
                // The file holds a copy: the message may be sent again if this fails.
                let bytes = msg.bytes.clone();
                let path = tokio::task::spawn_blocking(move || deliver_to_maildir(&dir, &bytes))
                    .await
                    .map_err(|e| MailError::Transient(format!("maildir writer stopped: {e}")))??;
                Ok(format!("delivered to {}", path.display()))
            }
        }
    }
}

/// The envelope of a built message, checked as lettre checks one it derives itself.
fn envelope(msg: &Built) -> Result<Envelope, MailError> {
    let address = |a: &str| {
        a.parse::<Address>()
            .map_err(|e| MailError::Invalid(format!("envelope address {a:?}: {e}")))
    };
    let from = msg.envelope_from.as_deref().map(address).transpose()?;
    let to = msg
        .envelope_to
        .iter()
        .map(|a| address(a))
        .collect::<Result<Vec<_>, _>>()?;
    Envelope::new(from, to).map_err(|e| MailError::Invalid(format!("envelope: {e}")))
}

impl Smtp {
    async fn send(&self, envelope: &Envelope, bytes: &[u8]) -> Result<String, MailError> {
        let transport = self.current_pool()?;
        let delivery = transport.send_raw(envelope, bytes);
        tokio::pin!(delivery);
        // Declared after `delivery`, so dropped before it: the pool is marked stale before the
        // cut-short connection is handed back to it.
        let mut guard = StaleUnlessFinished(Some(&self.stale));
        let outcome = tokio::time::timeout(self.settings.timeout, &mut delivery).await;
        let Ok(result) = outcome else {
            return Err(MailError::Transient(format!(
                "{}: no answer within {:?}",
                self.relay, self.settings.timeout
            )));
        };
        // Finished, well or not: lettre itself drops a connection that failed mid-way.
        guard.0 = None;
        let response = result.map_err(|e| classify(&self.relay, &e))?;
        let text: Vec<&str> = response.message().collect();
        Ok(format!("{} {}", response.code(), text.join(" ")))
    }

    /// The pool to use now: a fresh one if the last was left stale.
    fn current_pool(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
        // A poisoned lock only means another send panicked while swapping; the value is whole.
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        if self.stale.swap(false, Ordering::AcqRel) {
            // The settings passed the same checks in `Mailer::new`; should a rebuild still fail,
            // it is the relay's setup, not this message: retry later.
            *pool = smtp_pool(&self.settings, self.connections).map_err(|e| {
                self.stale.store(true, Ordering::Release);
                MailError::Transient(e.to_string())
            })?;
        }
        Ok(pool.clone())
    }
}

/// Marks the pool stale when dropped while still armed.
struct StaleUnlessFinished<'a>(Option<&'a AtomicBool>);

impl Drop for StaleUnlessFinished<'_> {
    fn drop(&mut self) {
        if let Some(stale) = self.0 {
            stale.store(true, Ordering::Release);
        }
    }
}

fn smtp_pool(
    s: &SmtpSettings,
    connections: u32,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
    let relay = format!("{}:{}", s.host, s.port);
    if s.host.trim().is_empty() {
        return Err(MailError::Invalid("smtp host is empty".into()));
    }
    if s.timeout.is_zero() {
        return Err(MailError::Invalid(format!(
            "smtp timeout for {relay} is zero"
        )));
    }
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(MailError::Invalid(format!(
            "smtp mailer for {relay} must be created inside a tokio runtime"
        )));
    }
    let tls = match s.security {
        Security::None => ClientTls::None,
        Security::StartTls => ClientTls::Required(tls_parameters(s)?),
        Security::Tls => ClientTls::Wrapper(tls_parameters(s)?),
    };
    // builder_dangerous only means "no TLS preset": `tls` above says what is required. lettre's
    // timeout bounds the TCP connect; `Smtp::send` bounds the rest.
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(s.host.as_str())
        .port(s.port)
        .timeout(Some(s.timeout))
        .tls(tls)
        .pool_config(PoolConfig::new().max_size(connections));
    match (&s.username, &s.password) {
        (Some(user), password) => {
            let password = password.clone().unwrap_or_default();
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        (None, Some(_)) => {
            return Err(MailError::Invalid(format!(
                "smtp password for {relay} given without a username"
            )))
        }
        (None, None) => {}
    }
    Ok(builder.build())
}

/// The certificate is checked for `host` against the system's roots plus `extra_root_der`.
fn tls_parameters(s: &SmtpSettings) -> Result<TlsParameters, MailError> {
    let mut builder = TlsParameters::builder(s.host.clone());
    if let Some(der) = &s.extra_root_der {
        let cert = Certificate::from_der(der.clone()).map_err(|e| {
            MailError::Invalid(format!("extra root certificate for {}: {e}", s.host))
        })?;
        builder = builder.add_root_certificate(cert);
    }
    builder
        .build_rustls()
        .map_err(|e| MailError::Invalid(format!("tls settings for {}: {e}", s.host)))
}

/// lettre's error → ours. Only a 5xx reply is permanent; a refused connection, a timeout, a
/// failed handshake, a garbled reply or a vanished pooled connection may all heal by themselves.
fn classify(relay: &str, e: &lettre::transport::smtp::Error) -> MailError {
    let text = match (e.status(), std::error::Error::source(e)) {
        (Some(code), Some(reply)) => format!("{relay} answered {code} {reply}"),
        (Some(code), None) => format!("{relay} answered {code}"),
        _ if e.is_timeout() => format!("{relay}: timed out ({e})"),
        _ => format!("{relay}: {e}"),
    };
    if e.is_permanent() {
        MailError::Permanent(text)
    } else {
        MailError::Transient(text)
    }
}

// ---------------------------------------------------------------------------------------------
// Building

fn compose(msg: &Outgoing, boundary: Option<&str>) -> Result<Message, MailError> {
    let mut builder = Message::builder()
        .from(mailbox("from", &msg.from)?)
        .to(mailbox("to", &msg.to)?)
        .subject(one_line(&msg.subject))
        .date(system_time(msg.date)?)
        .message_id(Some(format!("<{}>", message_id(&msg.message_id)?)));
    if let Some(reply_to) = &msg.reply_to {
        builder = builder.reply_to(mailbox("reply-to", reply_to)?);
    }
    if let Some(value) = list_unsubscribe(msg)? {
        builder = builder.raw_header(header("List-Unsubscribe", value));
    }
    if msg.unsubscribe_url.is_some() {
        // RFC 8058 §3.1: the receiver POSTs exactly this body to the https URI.
        builder = builder.raw_header(header(
            "List-Unsubscribe-Post",
            "List-Unsubscribe=One-Click".into(),
        ));
    }
    builder
        .raw_header(header("Auto-Submitted", "auto-generated".into()))
        .raw_header(header("Precedence", "bulk".into()))
        .multipart({
            let alternative = MultiPart::alternative();
            match boundary {
                Some(b) => alternative.boundary(b),
                None => alternative,
            }
            .singlepart(SinglePart::plain(body(&msg.text)))
            .singlepart(SinglePart::html(body(&msg.html)))
        })
        .map_err(|e| MailError::Invalid(e.to_string()))
}

/// The part's body as lettre's `Body::new` makes it from `text`, byte for byte, in linear time:
/// the same transfer encoding (lettre's chooser, on the text as given, before line endings
/// change), the same CRLF line endings, the same encoders (the `quoted_printable` crate and
/// email-encoding's base64, which lettre calls). lettre converts by inserting each `\r` into the
/// string, moving the rest of it every time, and its `Body::new_with_encoding` runs the chooser
/// and the line-ending scan again; here the text is copied once and encoded once.
fn body(text: &str) -> Body {
    let crlf = crlf_line_endings(text);
    match Encoding::choose(text, false) {
        Encoding::SevenBit => {
            Body::dangerous_pre_encoded(crlf.into_bytes(), ContentTransferEncoding::SevenBit)
        }
        Encoding::EightBit => {
            Body::dangerous_pre_encoded(crlf.into_bytes(), ContentTransferEncoding::EightBit)
        }
        Encoding::QuotedPrintable => Body::dangerous_pre_encoded(
            QUOTED_LINES.with_borrow_mut(|lines| lines.encode(&crlf)),
            ContentTransferEncoding::QuotedPrintable,
        ),
        Encoding::Base64 => {
            let mut out =
                String::with_capacity(email_encoding::body::base64::encoded_len(crlf.len()));
            // Writing into a String cannot fail.
            let _ = email_encoding::body::base64::encode(crlf.as_bytes(), &mut out);
            Body::dangerous_pre_encoded(out.into_bytes(), ContentTransferEncoding::Base64)
        }
    }
}

/// Bytes of lines (and their encodings) a thread remembers at most before it forgets them all.
const QUOTED_LINES_MAX_BYTES: usize = 16 << 20;

thread_local! {
    static QUOTED_LINES: std::cell::RefCell<QuotedLines> = std::cell::RefCell::default();
}

/// Quoted-printable as the `quoted_printable` crate encodes text (lettre's encoder), with each
/// line's encoding remembered: the digests of one window differ in a few lines only (the
/// subscriber's name, address and links), and the crate's encoder is slow. In text mode the
/// crate encodes each line ending in CRLF on its own (soft breaks and trailing spaces are
/// decided within the line; a CRLF resets the line), so the encoding of a body is that of its
/// lines one after the other (`bodies_are_lettres_byte_for_byte`).
#[derive(Default)]
struct QuotedLines {
    encoded: std::collections::HashMap<Box<[u8]>, Box<[u8]>, foldhash::fast::FixedState>,
    bytes: usize,
}

impl QuotedLines {
    fn encode(&mut self, text: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len() + text.len() / 2);
        let mut rest = text;
        let mut searched = 0;
        while let Some(at) = rest
            .get(searched..)
            .and_then(|r| r.find('\n'))
            .map(|i| searched + i)
        {
            // A line ends at CRLF only: a lone LF is encoded inside its line.
            let crlf = at > 0 && rest.as_bytes().get(at - 1) == Some(&b'\r');
            let split = crlf.then(|| rest.split_at_checked(at + 1)).flatten();
            let Some((line, after)) = split else {
                searched = at + 1;
                continue;
            };
            match self.encoded.get(line.as_bytes()) {
                Some(encoded) => out.extend_from_slice(encoded),
                None => {
                    let encoded = quoted_printable::encode(line);
                    out.extend_from_slice(&encoded);
                    if self.bytes > QUOTED_LINES_MAX_BYTES {
                        self.encoded.clear();
                        self.bytes = 0;
                    }
                    self.bytes += line.len() + encoded.len();
                    self.encoded.insert(line.as_bytes().into(), encoded.into());
                }
            }
            rest = after;
            searched = 0;
        }
        out.extend_from_slice(&quoted_printable::encode(rest));
        out
    }
}

/// Every `\n` not preceded by `\r` preceded by one, as lettre's `Body::new` does.
fn crlf_line_endings(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 32);
    let mut lines = text.split('\n');
    let mut last = lines.next().unwrap_or_default();
    out.push_str(last);
    for line in lines {
        if !last.ends_with('\r') {
            out.push('\r');
        }
        out.push('\n');
        out.push_str(line);
        last = line;
    }
    out
}

/// A header lettre encodes and folds itself (values here are validated ASCII).
fn header(name: &'static str, value: String) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
}

/// `"Name <a@b>"`, `"\"Name, quoted\" <a@b>"` or `"a@b"` → a mailbox. The display name is taken
/// as written (flattened to one line, outer quotes removed) and lettre quotes or encodes it as
/// needed; the address must be valid as is.
fn mailbox(field: &str, raw: &str) -> Result<Mailbox, MailError> {
    let flat = one_line(raw);
    let bracketed = flat
        .rfind('<')
        .filter(|_| flat.ends_with('>'))
        .and_then(|open| {
            // `<` and `>` are one byte each: open + 1 and len - 1 are char boundaries.
            Some((flat.get(..open)?, flat.get(open + 1..flat.len() - 1)?))
        });
    let (name, address) = bracketed.unwrap_or(("", flat.as_str()));
    let address: Address = address
        .trim()
        .parse()
        .map_err(|e| MailError::Invalid(format!("{field} address {raw:?}: {e}")))?;
    let name = unquote(name.trim());
    Ok(Mailbox::new(
        (!name.is_empty()).then(|| name.to_string()),
        address,
    ))
}

/// `"Nguyễn, Hoa"` → `Nguyễn, Hoa` (with `\"` and `\\` unescaped); anything else as is.
fn unquote(name: &str) -> String {
    match name
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                out.push(if c == '\\' {
                    chars.next().unwrap_or(c)
                } else {
                    c
                });
            }
            out.trim().to_string()
        }
        None => name.to_string(),
    }
}

/// One header line's worth of text: each run of control characters (CR, LF, tab, NUL, C1) and
/// Unicode line or paragraph separators becomes one space; the ends are trimmed.
fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_break = false;
    for c in s.chars() {
        if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
            if !in_break {
                out.push(' ');
            }
            in_break = true;
        } else {
            out.push(c);
            in_break = false;
        }
    }
    out.trim().to_string()
}

/// `local@domain` of printable ASCII, without angle brackets (one pair is tolerated and removed).
fn message_id(raw: &str) -> Result<&str, MailError> {
    let id = raw
        .strip_prefix('<')
        .and_then(|r| r.strip_suffix('>'))
        .unwrap_or(raw);
    let printable = id
        .bytes()
        .all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'"' | b'\\' | b','));
    match id.split_once('@') {
        Some((left, right))
            if printable && !left.is_empty() && !right.is_empty() && !right.contains('@') =>
        {
            Ok(id)
        }
        _ => Err(MailError::Invalid(format!(
            "message-id {raw:?} is not local@domain in printable ascii"
        ))),
    }
}

/// lettre formats dates through httpdate, which panics before 1970 and after 9999.
fn system_time(date: DateTime<Utc>) -> Result<SystemTime, MailError> {
    if date.timestamp() < 0 || date.year() > 9999 {
        return Err(MailError::Invalid(format!("date {date} is out of range")));
    }
    Ok(SystemTime::from(date))
}

/// RFC 2369: `<https://…>, <mailto:…>` (either may be absent; None when both are).
fn list_unsubscribe(msg: &Outgoing) -> Result<Option<String>, MailError> {
    let mut uris = Vec::new();
    if let Some(url) = &msg.unsubscribe_url {
        uris.push(header_uri("unsubscribe url", url, &["https", "http"])?);
    }
    if let Some(mailto) = &msg.unsubscribe_mailto {
        let has_scheme = mailto
            .get(..7)
            .is_some_and(|s| s.eq_ignore_ascii_case("mailto:"));
        let mailto = if has_scheme {
            mailto.clone()
        } else if mailto.trim().parse::<Address>().is_ok() {
            format!("mailto:{}", mailto.trim())
        } else {
            return Err(MailError::Invalid(format!(
                "unsubscribe mailto {mailto:?} is neither a mailto: uri nor an address"
            )));
        };
        uris.push(header_uri("unsubscribe mailto", &mailto, &["mailto"])?);
    }
    Ok((!uris.is_empty()).then(|| {
        uris.iter()
            .map(|u| format!("<{u}>"))
            .collect::<Vec<_>>()
            .join(", ")
    }))
}

/// A URI fit to sit between angle brackets in a header: parsed (non-ASCII percent-encoded), of
/// one of `schemes`, nothing but printable ASCII other than `<` and `>`. Control characters are
/// refused before parsing, because the URL parser would silently drop CR and LF.
fn header_uri(what: &str, raw: &str, schemes: &[&str]) -> Result<String, MailError> {
    let invalid = |why: &str| MailError::Invalid(format!("{what} {raw:?}: {why}"));
    if raw.chars().any(char::is_control) {
        return Err(invalid("contains a control character"));
    }
    let url = url::Url::parse(raw.trim()).map_err(|e| invalid(&e.to_string()))?;
    if !schemes.contains(&url.scheme()) {
        return Err(invalid(&format!("scheme must be {}", schemes.join(" or "))));
    }
    let s = url.as_str();
    if !s
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>')
    {
        return Err(invalid("cannot be written in a header"));
    }
    Ok(s.to_string())
}

// ---------------------------------------------------------------------------------------------
// Maildir

/// Delivers `message` as in <https://cr.yp.to/proto/maildir.html>: written and synced under
/// `tmp/`, then renamed into `new/`, so a reader never sees half a message. Returns the path in
/// `new/`. Any I/O failure is transient (a full disk, a permission to fix).
fn deliver_to_maildir(root: &Path, message: &[u8]) -> Result<PathBuf, MailError> {
    let io = |what: &str, path: &Path, e: std::io::Error| {
        MailError::Transient(format!("maildir: cannot {what} {}: {e}", path.display()))
    };
    for sub in ["tmp", "new", "cur"] {
        let dir = root.join(sub);
        fs::create_dir_all(&dir).map_err(|e| io("create", &dir, e))?;
    }
    let name = unique_name();
    let tmp = root.join("tmp").join(&name);
    let new = root.join("new").join(&name);
    let written = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .and_then(|mut file| {
            file.write_all(message)?;
            file.sync_all()
        })
        .and_then(|()| fs::rename(&tmp, &new));
    if let Err(e) = written {
        // Best effort: a stray file in tmp/ is harmless (readers ignore tmp/) but untidy.
        let _ = fs::remove_file(&tmp);
        return Err(io("write", &new, e));
    }
    Ok(new)
}

/// `<seconds>.M<micros>P<pid>Q<counter>R<random>.<host>`: unique per process by the counter,
/// across processes by the pid, across a pid reused within the same microsecond by the random
/// part, across machines sharing the directory by the host name.
fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "{}.M{}P{}Q{}R{:016x}.{}",
        now.as_secs(),
        now.subsec_micros(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        rand::random::<u64>(),
        maildir_host(),
    )
}

/// The host name with `/` and `:` written as `\057` and `\072`, as the Maildir spec asks
/// (lettre already knows the host name, for EHLO).
fn maildir_host() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| match ClientId::default() {
        ClientId::Domain(name) if !name.is_empty() => {
            name.replace('/', "\\057").replace(':', "\\072")
        }
        _ => "localhost".to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn outgoing() -> Outgoing {
        Outgoing {
            from: "bantin <bantin@example.vn>".into(),
            reply_to: Some("Ban biên tập <bbt@example.vn>".into()),
            to: "Nguyễn Thị Hoa <hoa@example.vn>".into(),
            subject: "Bản tin Dân vận – 28/11/2026".into(),
            text: "Dòng một\nDòng hai\n".into(),
            html: "<p>Dòng một</p>\n".into(),
            message_id: "digest.42.1764288000@bantin.example.vn".into(),
            date: Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 0).unwrap(),
            unsubscribe_url: Some("https://tin.example.vn/huy/abc".into()),
            unsubscribe_mailto: Some("huy@bantin.example.vn".into()),
        }
    }

    fn headers_of(bytes: &[u8]) -> String {
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        text.split("\r\n\r\n").next().unwrap().to_string()
    }

    #[test]
    fn bodies_are_lettres_byte_for_byte() {
        let long_ascii = "a".repeat(75);
        let vietnamese = "Tăng cường công tác dân vận ở cơ sở, đổi mới phương thức.\n".repeat(40);
        let html = "<p style=\"margin:0\">Dân vận</p>\n".repeat(300);
        let cases = [
            String::new(),
            "\n".into(),
            "\n\n\r\n\r\r\n".into(),
            "ascii, short lines\nand more\n".into(),
            format!("{long_ascii}\n{long_ascii}"),
            format!("{long_ascii}a\nx"),
            "lone\rcarriage\r".into(),
            "already\r\ncrlf\r\n".into(),
            "Bản tin\n".into(),
            "đ".repeat(200),
            vietnamese,
            html,
            "tab\there \u{0}nul\n".into(),
            // Quoted-printable line by line: trailing blanks, `=`, lines about the limit, a
            // soft break at a blank, lone CR and LF, lines seen before (remembered).
            "trailing space \nand tab\t\n\t\n \n= a=b =\nđ \n".repeat(3),
            format!(
                "{}\n{}\n{}đ\n",
                "x".repeat(75),
                "y".repeat(76),
                "z".repeat(77)
            ),
            format!(
                "{} đ\r\n{}\r{} \n",
                "a ".repeat(40),
                "b".repeat(90),
                "c\nd".repeat(30)
            ),
            "Chào Hoa, có 3 bài mới.\nDân vận\n".repeat(20) + "Chào An, có 3 bài mới.\nDân vận\n",
            "đ\r\n\r\n\n\r".repeat(10),
        ];
        for text in cases {
            let ours = body(&text);
            let lettres = Body::new(text.clone());
            assert_eq!(ours.encoding(), lettres.encoding(), "{text:?}");
            assert_eq!(ours.into_vec(), lettres.into_vec(), "{text:?}");
        }
    }

    #[test]
    fn one_line_flattens_every_kind_of_break() {
        let check =
            |input: &str, expected: &str| assert_eq!(one_line(input), expected, "{input:?}");
        check("Bản tin", "Bản tin");
        check("a\r\nBcc: x@y", "a Bcc: x@y");
        check("a\n\n\tb", "a b");
        check("a\u{0}b\u{85}c", "a b c");
        check("a\u{2028}b", "a b");
        check("\r\n  a  \r\n", "a");
        check("", "");
    }

    #[test]
    fn mailboxes_parse_names_and_bare_addresses() {
        let check = |input: &str, name: Option<&str>, email: &str| {
            let m = mailbox("to", input).unwrap();
            assert_eq!(m.name.as_deref(), name, "{input:?}");
            assert_eq!(m.email.to_string(), email, "{input:?}");
        };
        check("hoa@example.vn", None, "hoa@example.vn");
        check("<hoa@example.vn>", None, "hoa@example.vn");
        check(
            "Nguyễn Thị Hoa <hoa@example.vn>",
            Some("Nguyễn Thị Hoa"),
            "hoa@example.vn",
        );
        check(
            "\"Nguyễn, Hoa \\\"Út\\\"\" <hoa@example.vn>",
            Some("Nguyễn, Hoa \"Út\""),
            "hoa@example.vn",
        );
        check(
            "Hoa\r\nBcc: evil@example.com <hoa@example.vn>",
            Some("Hoa Bcc: evil@example.com"),
            "hoa@example.vn",
        );
        check("  hoa@example.vn \r\n", None, "hoa@example.vn");
    }

    #[test]
    fn bad_addresses_are_invalid() {
        for input in [
            "",
            "hoa",
            "Hoa <>",
            "hoa@example.vn\r\nBcc: evil@example.com",
            "a@b, c@d",
            "Hoa <hoa@example.vn",
        ] {
            let e = mailbox("to", input).unwrap_err();
            assert!(matches!(e, MailError::Invalid(_)), "{input:?}: {e:?}");
            assert!(e.is_permanent());
        }
    }

    #[test]
    fn message_ids_are_checked() {
        let ok = |input: &str, expected: &str| assert_eq!(message_id(input).unwrap(), expected);
        ok(
            "digest.42.1@bantin.example.vn",
            "digest.42.1@bantin.example.vn",
        );
        ok(
            "<digest.42.1@bantin.example.vn>",
            "digest.42.1@bantin.example.vn",
        );
        for bad in [
            "",
            "no-at-sign",
            "@x",
            "x@",
            "a@b@c",
            "a b@c",
            "a@b\r\nBcc: x",
            "a>@b",
            "tiếng@việt",
        ] {
            assert!(message_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn list_unsubscribe_writes_both_uris_or_one_or_none() {
        let check = |url: Option<&str>, mailto: Option<&str>, expected: Option<&str>| {
            let msg = Outgoing {
                unsubscribe_url: url.map(str::to_string),
                unsubscribe_mailto: mailto.map(str::to_string),
                ..outgoing()
            };
            assert_eq!(list_unsubscribe(&msg).unwrap().as_deref(), expected);
        };
        check(
            Some("https://tin.example.vn/huy/abc"),
            Some("huy@bantin.example.vn"),
            Some("<https://tin.example.vn/huy/abc>, <mailto:huy@bantin.example.vn>"),
        );
        check(
            None,
            Some("MAILTO:huy@bantin.example.vn?subject=hủy"),
            Some("<mailto:huy@bantin.example.vn?subject=h%E1%BB%A7y>"),
        );
        check(
            Some("https://tin.example.vn/hủy?t=a<b>"),
            None,
            Some("<https://tin.example.vn/h%E1%BB%A7y?t=a%3Cb%3E>"),
        );
        check(
            Some("http://127.0.0.1:8080/u/1"),
            None,
            Some("<http://127.0.0.1:8080/u/1>"),
        );
        check(None, None, None);
    }

    #[test]
    fn bad_unsubscribe_uris_are_invalid() {
        for (url, mailto) in [
            (Some("https://x.vn/u\r\nBcc: evil@example.com"), None),
            (Some("javascript:alert(1)"), None),
            (Some("ftp://x.vn/u"), None),
            (Some("not a url"), None),
            (None, Some("huy@x.vn\r\nBcc: evil@example.com")),
            (None, Some("https://x.vn/u")),
            (None, Some("mailto:a>b@x.vn")),
        ] {
            let msg = Outgoing {
                unsubscribe_url: url.map(str::to_string),
                unsubscribe_mailto: mailto.map(str::to_string),
                ..outgoing()
            };
            let e = build(&msg).unwrap_err();
            assert!(
                matches!(e, MailError::Invalid(_)),
                "{url:?} {mailto:?}: {e:?}"
            );
        }
    }

    #[test]
    fn build_writes_every_header_in_ascii_with_crlf() {
        let bytes = build(&outgoing()).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(!text.replace("\r\n", "").contains('\n'), "bare LF");
        assert!(!text.replace("\r\n", "").contains('\r'), "bare CR");
        let headers = headers_of(&bytes);
        assert!(headers.is_ascii(), "{headers}");
        for expected in [
            "Message-ID: <digest.42.1764288000@bantin.example.vn>",
            "Date: Sat, 28 Nov 2026 00:00:00 +0000",
            "List-Unsubscribe: <https://tin.example.vn/huy/abc>,",
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
            "Auto-Submitted: auto-generated",
            "Precedence: bulk",
            "MIME-Version: 1.0",
            "Content-Type: multipart/alternative",
            "From: bantin <bantin@example.vn>",
        ] {
            assert!(
                headers.contains(expected),
                "{expected:?} missing from\n{headers}"
            );
        }
        assert!(headers.contains("Reply-To: "), "{headers}");
        assert!(headers.contains("Subject: =?utf-8?"), "{headers}");
        assert!(!text.contains("Content-Disposition"), "{text}");
    }

    #[test]
    fn build_without_unsubscribe_or_reply_to_leaves_those_headers_out() {
        let msg = Outgoing {
            reply_to: None,
            unsubscribe_url: None,
            unsubscribe_mailto: None,
            ..outgoing()
        };
        let headers = headers_of(&build(&msg).unwrap());
        for absent in ["List-Unsubscribe", "Reply-To"] {
            assert!(!headers.contains(absent), "{absent} in\n{headers}");
        }
    }

    #[test]
    fn a_mailto_alone_gets_no_one_click_header() {
        let msg = Outgoing {
            unsubscribe_url: None,
            ..outgoing()
        };
        let headers = headers_of(&build(&msg).unwrap());
        assert!(headers.contains("List-Unsubscribe: <mailto:huy@bantin.example.vn>"));
        assert!(!headers.contains("List-Unsubscribe-Post"), "{headers}");
    }

    #[test]
    fn dates_lettre_cannot_format_are_invalid() {
        for date in [
            Utc.with_ymd_and_hms(1969, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(),
        ] {
            let msg = Outgoing { date, ..outgoing() };
            assert!(matches!(build(&msg), Err(MailError::Invalid(_))), "{date}");
        }
    }

    #[test]
    fn unique_names_differ_and_hold_no_separator() {
        let a = unique_name();
        let b = unique_name();
        assert_ne!(a, b);
        for n in [&a, &b] {
            assert!(!n.contains('/') && !n.contains(':'), "{n}");
            assert!(n.split('.').next().unwrap().parse::<u64>().is_ok(), "{n}");
        }
    }

    #[tokio::test]
    async fn debug_never_shows_the_password() {
        let settings = SmtpSettings {
            host: "smtp.example.vn".into(),
            port: 587,
            security: Security::StartTls,
            username: Some("bantin".into()),
            password: Some("mật-khẩu-bí-mật".into()),
            timeout: Duration::from_secs(30),
            extra_root_der: Some(vec![1, 2, 3]),
        };
        let debug = format!("{settings:?} {settings:#?}");
        assert!(!debug.contains("mật-khẩu-bí-mật"), "{debug}");
        assert!(
            debug.contains("<redacted>") && debug.contains("bantin"),
            "{debug}"
        );
        let mailer = Mailer::new(&Transport::Smtp(settings.clone()));
        // The DER above is not a certificate: refused, and the error does not quote the password.
        let e = mailer.unwrap_err();
        assert!(!format!("{e} {e:?}").contains("mật-khẩu"), "{e:?}");
        let settings = SmtpSettings {
            extra_root_der: None,
            ..settings
        };
        let mailer = Mailer::new(&Transport::Smtp(settings)).unwrap();
        let debug = format!("{mailer:?} {mailer:#?}");
        assert!(!debug.contains("mật-khẩu"), "{debug}");
    }

    #[tokio::test]
    async fn settings_that_cannot_work_are_refused() {
        let base = SmtpSettings {
            host: "smtp.example.vn".into(),
            port: 25,
            security: Security::None,
            username: None,
            password: None,
            timeout: Duration::from_secs(5),
            extra_root_der: None,
        };
        for bad in [
            SmtpSettings {
                host: " ".into(),
                ..base.clone()
            },
            SmtpSettings {
                timeout: Duration::ZERO,
                ..base.clone()
            },
            SmtpSettings {
                password: Some("x".into()),
                ..base.clone()
            },
        ] {
            assert!(
                matches!(
                    Mailer::new(&Transport::Smtp(bad.clone())),
                    Err(MailError::Invalid(_))
                ),
                "{bad:?}"
            );
        }
        assert!(Mailer::new(&Transport::Smtp(base)).is_ok());
    }

    #[test]
    fn an_smtp_mailer_outside_a_runtime_is_an_error_not_a_panic() {
        let settings = SmtpSettings {
            host: "smtp.example.vn".into(),
            port: 25,
            security: Security::None,
            username: None,
            password: None,
            timeout: Duration::from_secs(5),
            extra_root_der: None,
        };
        let e = Mailer::new(&Transport::Smtp(settings)).unwrap_err();
        assert!(e.to_string().contains("tokio runtime"), "{e}");
        assert!(Mailer::new(&Transport::Maildir("/nonexistent".into())).is_ok());
    }
}
