//! A real SMTP server on 127.0.0.1:0 for the mail tests: what the daemon's digests are delivered
//! to, over TCP, as to any relay.
//!
//! It speaks enough of RFC 5321 for lettre's client, with STARTTLS (RFC 3207) or implicit TLS
//! (RFC 8314) on a self-signed certificate made at start, AUTH PLAIN and LOGIN (RFC 4954),
//! 8BITMIME, SMTPUTF8 and PIPELINING. Failure modes switch on a running server ([`Mode`],
//! [`SmtpServer::stop`], [`SmtpServer::restart`]), so a test can take the relay down and bring it
//! back between two sends. [`parse`] decodes a received message with mail-parser, so assertions
//! are on what a reader's mail client shows, not on the transfer encoding lettre chose.
//!
//! Invariants:
//! - a message is recorded exactly when the server answers 250 to its final dot: a 451 (TempFail)
//!   or 550 (PermFail) records nothing;
//! - [`Received::data`] is the message as received: dot-unstuffed, up to and including the CRLF
//!   before the terminating `.` line, with nothing added (no Received: or Return-Path: header);
//! - `connections()` counts every accepted TCP connection, those that `Mode::Down` drops included;
//! - when `stop()` returns, the port refuses connections and every open session is closed, so a
//!   client's pooled connection fails as it would against a relay that went away.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use mail_parser::{HeaderValue, MessageParser, MimeHeaders, PartType};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// The name the server gives itself, and the certificate's DNS name.
pub const HOSTNAME: &str = "localhost";

/// How the server offers TLS.
// `StartTls` is the name of the RFC 3207 command, whatever the lint says of the `Tls` in it.
#[allow(clippy::enum_variant_names)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Tls {
    /// Plain text only; STARTTLS is not offered.
    #[default]
    None,
    /// Plain text, with STARTTLS offered in the EHLO reply (submission on port 587).
    StartTls,
    /// TLS from the first byte, before the greeting (submissions on port 465).
    Implicit,
}

/// How the server treats the sessions that reach it; switchable at any time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Delivers every message.
    #[default]
    Accept,
    /// Answers 451 (try again later) to the final dot of every message, and records nothing.
    TempFail,
    /// Answers 550 (mailbox unavailable) to every RCPT TO.
    PermFail,
    /// Closes new connections right after accepting them, without a greeting, and open sessions
    /// at their next command, without a reply: the port listens but the relay is broken.
    Down,
}

/// What a server is started with.
#[derive(Clone, Debug, Default)]
pub struct SmtpOptions {
    pub tls: Tls,
    /// Username and password that AUTH must give; `None` serves without authentication. When
    /// set, MAIL before a successful AUTH gets 530, and with [`Tls::StartTls`] AUTH is offered
    /// (and allowed) only after STARTTLS.
    pub auth: Option<(String, String)>,
    /// The mode the server starts in.
    pub mode: Mode,
}

impl SmtpOptions {
    /// Plain text, no authentication, accepting everything.
    pub fn plain() -> SmtpOptions {
        SmtpOptions::default()
    }

    pub fn with_tls(mut self, tls: Tls) -> SmtpOptions {
        self.tls = tls;
        self
    }

    pub fn with_auth(mut self, username: &str, password: &str) -> SmtpOptions {
        self.auth = Some((username.to_string(), password.to_string()));
        self
    }

    pub fn with_mode(mut self, mode: Mode) -> SmtpOptions {
        self.mode = mode;
        self
    }
}

/// A message the server accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// The MAIL FROM reverse-path, without angle brackets; empty for the null path `<>`.
    pub from: String,
    /// The RCPT TO forward-paths, in order, without angle brackets.
    pub to: Vec<String>,
    /// The raw message (see the module's invariants).
    pub data: Vec<u8>,
    /// Whether the session was under TLS (STARTTLS or implicit) when the message was sent.
    pub tls: bool,
    /// The username the session authenticated as.
    pub auth_user: Option<String>,
}

impl Received {
    /// The message decoded; see [`parse`].
    pub fn parse(&self) -> Parsed {
        parse(self)
    }
}

/// The server. Clones share it; dropping them does not stop it: tests end with their runtime.
#[derive(Clone)]
pub struct SmtpServer {
    inner: Arc<Inner>,
}

struct Inner {
    addr: SocketAddr,
    tls: Tls,
    auth: Option<(String, String)>,
    acceptor: TlsAcceptor,
    cert_der: Vec<u8>,
    shared: Mutex<Shared>,
}

struct Shared {
    mode: Mode,
    messages: Vec<Received>,
    connections: usize,
    listening: Option<Listening>,
}

/// The accept loop of one listening period, between a start or restart and a stop.
struct Listening {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl SmtpServer {
    /// Starts a server on 127.0.0.1 on a free port.
    pub async fn start(opts: SmtpOptions) -> SmtpServer {
        SmtpServer::start_on(opts, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts a server on `addr` (port 0 for a free one).
    pub async fn start_on(opts: SmtpOptions, addr: SocketAddr) -> SmtpServer {
        let (acceptor, cert_der) = self_signed_acceptor();
        let listener = TcpListener::bind(addr)
            .await
            .unwrap_or_else(|e| panic!("cannot listen on {addr}: {e}"));
        let addr = listener.local_addr().unwrap();
        let inner = Arc::new(Inner {
            addr,
            tls: opts.tls,
            auth: opts.auth,
            acceptor,
            cert_der,
            shared: Mutex::new(Shared {
                mode: opts.mode,
                messages: Vec::new(),
                connections: 0,
                listening: None,
            }),
        });
        listen(&inner, listener);
        SmtpServer { inner }
    }

    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    pub fn port(&self) -> u16 {
        self.inner.addr.port()
    }

    /// The server certificate, DER, for a client to add as its only trusted root. It is valid for
    /// `localhost` and `127.0.0.1`.
    pub fn cert_der(&self) -> &[u8] {
        &self.inner.cert_der
    }

    pub fn set_mode(&self, mode: Mode) {
        self.inner.shared.lock().unwrap().mode = mode;
    }

    /// Every accepted message, oldest first.
    pub fn messages(&self) -> Vec<Received> {
        self.inner.shared.lock().unwrap().messages.clone()
    }

    /// TCP connections accepted so far, over all listening periods.
    pub fn connections(&self) -> usize {
        self.inner.shared.lock().unwrap().connections
    }

    /// Polls until at least `n` messages were accepted and returns them all; panics when
    /// `within` has passed.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {within:?} waiting for {n} messages; got {}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops listening and closes every open session; returns once the port refuses
    /// connections. Recorded messages, counts and the mode are kept.
    pub async fn stop(&self) {
        let listening = self.inner.shared.lock().unwrap().listening.take();
        if let Some(l) = listening {
            l.stop.cancel();
            let _ = l.task.await;
        }
    }

    /// Stops if listening, then listens again on the same address.
    ///
    /// Re-binding is reliable on Linux: tokio sets SO_REUSEADDR, so the closed sessions' sockets
    /// in TIME_WAIT do not block the port. What can still take it, rarely, is another test's
    /// outgoing connection given the freed port as its ephemeral source port; binding is retried
    /// for five seconds for that, then this panics. Where a test must not depend on it, it can
    /// pick the port and use [`SmtpServer::start_on`].
    pub async fn restart(&self) {
        self.stop().await;
        let deadline = Instant::now() + Duration::from_secs(5);
        let listener = loop {
            match TcpListener::bind(self.inner.addr).await {
                Ok(l) => break l,
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("cannot listen again on {}: {e}", self.inner.addr),
            }
        };
        listen(&self.inner, listener);
    }
}

/// A TLS acceptor on a fresh self-signed certificate for `localhost` and `127.0.0.1`, and the
/// certificate as DER. The ring provider is named here rather than installed as the
/// process default, so the server does not depend on what the code under test installs.
fn self_signed_acceptor() -> (TlsAcceptor, Vec<u8>) {
    let certified =
        rcgen::generate_simple_self_signed(vec![HOSTNAME.to_string(), "127.0.0.1".to_string()])
            .unwrap();
    let cert_der = certified.cert.der().to_vec();
    let key = rustls::pki_types::PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![rustls::pki_types::CertificateDer::from(cert_der.clone())],
            key.into(),
        )
        .unwrap();
    (TlsAcceptor::from(Arc::new(config)), cert_der)
}

fn listen(inner: &Arc<Inner>, listener: TcpListener) {
    let stop = CancellationToken::new();
    let task = tokio::spawn(accept_loop(listener, inner.clone(), stop.clone()));
    inner.shared.lock().unwrap().listening = Some(Listening { stop, task });
}

/// Accepts until `stop`, then drops the listener and ends every session it started.
async fn accept_loop(listener: TcpListener, inner: Arc<Inner>, stop: CancellationToken) {
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => {
                let Ok((tcp, _)) = accepted else { continue };
                let mode = {
                    let mut shared = inner.shared.lock().unwrap();
                    shared.connections += 1;
                    shared.mode
                };
                if mode != Mode::Down {
                    sessions.spawn(serve(tcp, inner.clone()));
                }
            }
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
    drop(listener);
    sessions.shutdown().await;
}

/// Where a conversation starts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Plain text, greeting first; may upgrade with STARTTLS.
    Plain,
    /// Under implicit TLS, greeting first.
    Implicit,
    /// Under TLS just negotiated by STARTTLS: no greeting, the client speaks first (EHLO).
    AfterStartTls,
}

/// One client's session. I/O errors and bad TLS handshakes end it: the client went away.
async fn serve(tcp: TcpStream, inner: Arc<Inner>) {
    let _ = session(tcp, &inner).await;
}

async fn session(tcp: TcpStream, inner: &Inner) -> std::io::Result<()> {
    if inner.tls == Tls::Implicit {
        let tls = inner.acceptor.accept(tcp).await?;
        converse(tls, inner, Phase::Implicit).await?;
    } else if let Some(tcp) = converse(tcp, inner, Phase::Plain).await? {
        let tls = inner.acceptor.accept(tcp).await?;
        converse(tls, inner, Phase::AfterStartTls).await?;
    }
    Ok(())
}

/// A transaction in progress: MAIL given, RCPTs so far.
struct Envelope {
    from: String,
    to: Vec<String>,
}

/// Runs the command loop until QUIT, the client closing, or STARTTLS; returns the stream for the
/// TLS handshake in the last case. Per RFC 3207 §4.2, anything the client sent after STARTTLS is
/// discarded with the read buffer, and everything learnt before it (EHLO, AUTH) is forgotten.
async fn converse<S>(stream: S, inner: &Inner, phase: Phase) -> std::io::Result<Option<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut io = BufReader::new(stream);
    let secured = phase != Phase::Plain;
    let mut greeted = false;
    let mut user: Option<String> = None;
    let mut envelope: Option<Envelope> = None;
    if phase != Phase::AfterStartTls {
        reply(&mut io, &format!("220 {HOSTNAME} ESMTP bantin test server")).await?;
    }
    while let Some(line) = read_line(&mut io).await? {
        if inner.shared.lock().unwrap().mode == Mode::Down {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&line);
        let (verb, arg) = match text.split_once(' ') {
            Some((v, a)) => (v.to_ascii_uppercase(), a.trim()),
            None => (text.to_ascii_uppercase(), ""),
        };
        match verb.as_str() {
            "EHLO" | "HELO" if arg.is_empty() => {
                reply(&mut io, "501 5.5.4 domain name required").await?;
            }
            "EHLO" => {
                greeted = true;
                envelope = None;
                let mut lines = vec![
                    format!("{HOSTNAME} greets {arg}"),
                    "8BITMIME".to_string(),
                    "SMTPUTF8".to_string(),
                    "PIPELINING".to_string(),
                ];
                if inner.tls == Tls::StartTls && !secured {
                    lines.push("STARTTLS".to_string());
                }
                if inner.auth.is_some() && auth_allowed(inner, secured) {
                    lines.push("AUTH PLAIN LOGIN".to_string());
                }
                let last = lines.len() - 1;
                let text: String = lines
                    .iter()
                    .enumerate()
                    .map(|(i, l)| format!("250{}{l}\r\n", if i == last { ' ' } else { '-' }))
                    .collect();
                io.write_all(text.as_bytes()).await?;
                io.flush().await?;
            }
            "HELO" => {
                greeted = true;
                envelope = None;
                reply(&mut io, &format!("250 {HOSTNAME}")).await?;
            }
            "STARTTLS" => {
                if inner.tls != Tls::StartTls {
                    reply(&mut io, "502 5.5.1 STARTTLS not offered").await?;
                } else if secured {
                    reply(&mut io, "503 5.5.1 already under TLS").await?;
                } else if !arg.is_empty() {
                    reply(&mut io, "501 5.5.4 STARTTLS takes no parameters").await?;
                } else {
                    reply(&mut io, "220 2.0.0 ready to start TLS").await?;
                    return Ok(Some(io.into_inner()));
                }
            }
            "AUTH" => {
                let Some((want_user, want_pass)) = &inner.auth else {
                    reply(&mut io, "502 5.5.1 AUTH not offered").await?;
                    continue;
                };
                if !greeted {
                    reply(&mut io, "503 5.5.1 send EHLO first").await?;
                } else if user.is_some() {
                    reply(&mut io, "503 5.5.1 already authenticated").await?;
                } else if envelope.is_some() {
                    reply(&mut io, "503 5.5.1 AUTH not allowed during a transaction").await?;
                } else if !auth_allowed(inner, secured) {
                    reply(&mut io, "538 5.7.11 encryption required for AUTH").await?;
                } else {
                    match authenticate(&mut io, arg).await? {
                        Auth::Given(u, p) if u == *want_user && p == *want_pass => {
                            user = Some(u);
                            reply(&mut io, "235 2.7.0 authentication successful").await?;
                        }
                        Auth::Given(..) => {
                            reply(&mut io, "535 5.7.8 authentication credentials invalid").await?;
                        }
                        Auth::Unsupported => {
                            reply(&mut io, "504 5.5.4 unrecognized authentication type").await?;
                        }
                        Auth::Cancelled => {
                            reply(&mut io, "501 5.0.0 authentication cancelled").await?;
                        }
                        Auth::Malformed => {
                            reply(&mut io, "501 5.5.2 cannot decode the response").await?;
                        }
                        Auth::Closed => return Ok(None),
                    }
                }
            }
            "MAIL" => {
                if !greeted {
                    reply(&mut io, "503 5.5.1 send EHLO first").await?;
                } else if inner.auth.is_some() && user.is_none() {
                    reply(&mut io, "530 5.7.0 authentication required").await?;
                } else if envelope.is_some() {
                    reply(&mut io, "503 5.5.1 nested MAIL command").await?;
                } else if let Some(from) = path(arg, "FROM:") {
                    envelope = Some(Envelope {
                        from,
                        to: Vec::new(),
                    });
                    reply(&mut io, "250 2.1.0 OK").await?;
                } else {
                    reply(&mut io, "501 5.5.4 syntax: MAIL FROM:<address>").await?;
                }
            }
            "RCPT" => {
                let Some(env) = envelope.as_mut() else {
                    reply(&mut io, "503 5.5.1 need MAIL before RCPT").await?;
                    continue;
                };
                match path(arg, "TO:") {
                    None => reply(&mut io, "501 5.5.4 syntax: RCPT TO:<address>").await?,
                    Some(_) if inner.shared.lock().unwrap().mode == Mode::PermFail => {
                        reply(&mut io, "550 5.1.1 mailbox unavailable").await?;
                    }
                    Some(to) => {
                        env.to.push(to);
                        reply(&mut io, "250 2.1.5 OK").await?;
                    }
                }
            }
            "DATA" => {
                let Some(env) = envelope.take_if(|e| !e.to.is_empty()) else {
                    let why = if envelope.is_some() {
                        "554 5.5.1 no valid recipients"
                    } else {
                        "503 5.5.1 need MAIL and RCPT before DATA"
                    };
                    reply(&mut io, why).await?;
                    continue;
                };
                reply(&mut io, "354 end data with <CR><LF>.<CR><LF>").await?;
                let Some(data) = read_data(&mut io).await? else {
                    return Ok(None);
                };
                let answer = {
                    let mut shared = inner.shared.lock().unwrap();
                    match shared.mode {
                        Mode::Down => return Ok(None),
                        Mode::TempFail => "451 4.3.0 try again later",
                        Mode::Accept | Mode::PermFail => {
                            shared.messages.push(Received {
                                from: env.from,
                                to: env.to,
                                data,
                                tls: secured,
                                auth_user: user.clone(),
                            });
                            "250 2.0.0 OK queued"
                        }
                    }
                };
                reply(&mut io, answer).await?;
            }
            "RSET" => {
                envelope = None;
                reply(&mut io, "250 2.0.0 OK").await?;
            }
            "NOOP" => reply(&mut io, "250 2.0.0 OK").await?,
            "QUIT" => {
                reply(&mut io, &format!("221 2.0.0 {HOSTNAME} closing connection")).await?;
                return Ok(None);
            }
            "VRFY" | "EXPN" | "HELP" | "ETRN" | "TURN" | "BDAT" => {
                reply(&mut io, "502 5.5.1 command not implemented").await?;
            }
            _ => reply(&mut io, "500 5.5.2 command not recognized").await?,
        }
    }
    Ok(None)
}

/// AUTH is allowed in the clear only on a server that offers no TLS at all.
fn auth_allowed(inner: &Inner, secured: bool) -> bool {
    secured || inner.tls == Tls::None
}

/// The outcome of an AUTH exchange.
enum Auth {
    Given(String, String),
    Unsupported,
    Cancelled,
    Malformed,
    Closed,
}

/// Runs the SASL exchange of `AUTH <arg>` (RFC 4954): PLAIN with or without an initial response,
/// LOGIN with its two base64 prompts (the prompt texts lettre recognizes).
async fn authenticate<S>(io: &mut BufReader<S>, arg: &str) -> std::io::Result<Auth>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mechanism, initial) = match arg.split_once(' ') {
        Some((m, i)) => (m.to_ascii_uppercase(), Some(i.trim().to_string())),
        None => (arg.to_ascii_uppercase(), None),
    };
    match mechanism.as_str() {
        "PLAIN" => {
            let response = match initial {
                Some(i) => i,
                None => match challenge(io, "").await? {
                    Some(r) => r,
                    None => return Ok(Auth::Closed),
                },
            };
            if response == "*" {
                return Ok(Auth::Cancelled);
            }
            // authzid NUL authcid NUL passwd
            let Some(decoded) = decode(&response) else {
                return Ok(Auth::Malformed);
            };
            let mut parts = decoded.split('\0');
            match (parts.next(), parts.next(), parts.next(), parts.next()) {
                (Some(_), Some(u), Some(p), None) => Ok(Auth::Given(u.to_string(), p.to_string())),
                _ => Ok(Auth::Malformed),
            }
        }
        "LOGIN" => {
            let username = match initial {
                Some(i) => i,
                None => match challenge(io, "VXNlcm5hbWU6").await? {
                    Some(r) => r,
                    None => return Ok(Auth::Closed),
                },
            };
            if username == "*" {
                return Ok(Auth::Cancelled);
            }
            let password = match challenge(io, "UGFzc3dvcmQ6").await? {
                Some(r) => r,
                None => return Ok(Auth::Closed),
            };
            if password == "*" {
                return Ok(Auth::Cancelled);
            }
            match (decode(&username), decode(&password)) {
                (Some(u), Some(p)) => Ok(Auth::Given(u, p)),
                _ => Ok(Auth::Malformed),
            }
        }
        _ => Ok(Auth::Unsupported),
    }
}

/// Sends `334 <prompt>` and reads the client's response line.
async fn challenge<S>(io: &mut BufReader<S>, prompt: &str) -> std::io::Result<Option<String>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    reply(io, &format!("334 {prompt}")).await?;
    Ok(read_line(io)
        .await?
        .map(|l| String::from_utf8_lossy(&l).trim().to_string()))
}

fn decode(b64: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    String::from_utf8(bytes).ok()
}

/// The address in `FROM:<a@b> PARAMS` or `TO:<a@b>` (keyword case-insensitive, parameters such as
/// BODY=8BITMIME and SMTPUTF8 ignored).
fn path(arg: &str, keyword: &str) -> Option<String> {
    let head = arg.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = arg.get(keyword.len()..)?.trim_start().strip_prefix('<')?;
    let end = rest.find('>')?;
    Some(rest.get(..end)?.to_string())
}

/// One line without its line ending; `None` when the client has closed.
async fn read_line<S>(io: &mut BufReader<S>) -> std::io::Result<Option<Vec<u8>>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut line = Vec::new();
    if io.read_until(b'\n', &mut line).await? == 0 {
        return Ok(None);
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    Ok(Some(line))
}

/// The message after 354, up to the line holding a single dot: lines kept with their endings as
/// received, a leading dot removed from each line (RFC 5321 §4.5.2); `None` when the client
/// closes first.
async fn read_data<S>(io: &mut BufReader<S>) -> std::io::Result<Option<Vec<u8>>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut data = Vec::new();
    loop {
        let mut line = Vec::new();
        if io.read_until(b'\n', &mut line).await? == 0 {
            return Ok(None);
        }
        if line == b".\r\n" {
            return Ok(Some(data));
        }
        let unstuffed = line.strip_prefix(b".").unwrap_or(&line);
        data.extend_from_slice(unstuffed);
    }
}

async fn reply<S>(io: &mut BufReader<S>, line: &str) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    io.write_all(format!("{line}\r\n").as_bytes()).await?;
    io.flush().await
}

/// A received message decoded as a reader's mail client shows it.
#[derive(Debug)]
pub struct Parsed {
    /// The Subject, RFC 2047 words decoded.
    pub subject: Option<String>,
    /// The addresses in From, in order.
    pub from: Vec<String>,
    /// The addresses in To, in order.
    pub to: Vec<String>,
    /// Every top-level header field in order: its name as written, and its value unfolded, with
    /// RFC 2047 words decoded in unstructured fields and display names (`Name <a@b>`).
    pub headers: Vec<(String, String)>,
    /// The first text/plain body part, transfer-decoded and charset-decoded; `None` when there is
    /// none (never HTML converted to text).
    pub text: Option<String>,
    /// The first text/html body part, decoded likewise; `None` when there is none.
    pub html: Option<String>,
    /// The whole parse, for anything else.
    pub message: mail_parser::Message<'static>,
}

impl Parsed {
    /// The value of the first header field called `name` (any case), as in [`Parsed::headers`].
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The values of every header field called `name` (any case), in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Decodes `received.data` with mail-parser; panics when it is not a message at all.
pub fn parse(received: &Received) -> Parsed {
    let message = MessageParser::default()
        .parse(&received.data)
        .unwrap_or_else(|| panic!("not a message: {}", String::from_utf8_lossy(&received.data)))
        .into_owned();
    let raw = message.raw_message();
    let headers = message
        .headers()
        .iter()
        .map(|h| {
            let value = match &h.value {
                HeaderValue::Text(t) => t.to_string(),
                HeaderValue::TextList(l) => l.join(", "),
                HeaderValue::Address(a) if a.as_list().is_some() => addresses(a).join(", "),
                _ => unfold(&raw[h.offset_start as usize..h.offset_end as usize]),
            };
            (h.name().to_string(), value)
        })
        .collect();
    let bare = |a: Option<&mail_parser::Address>| -> Vec<String> {
        a.map(|a| {
            a.iter()
                .filter_map(|x| x.address().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
    };
    let text = message
        .text_bodies()
        .find(|p| is_plain(p))
        .and_then(|p| match &p.body {
            PartType::Text(t) => Some(t.to_string()),
            _ => None,
        });
    let html = message.html_bodies().find_map(|p| match &p.body {
        PartType::Html(h) => Some(h.to_string()),
        _ => None,
    });
    Parsed {
        subject: message.subject().map(str::to_string),
        from: bare(message.from()),
        to: bare(message.to()),
        headers,
        text,
        html,
        message,
    }
}

/// text/plain, or a part without Content-Type (which defaults to it, RFC 2045 §5.2).
fn is_plain(part: &mail_parser::MessagePart) -> bool {
    match part.content_type() {
        None => matches!(part.body, PartType::Text(_)),
        Some(ct) => {
            ct.ctype().eq_ignore_ascii_case("text")
                && ct.subtype().is_none_or(|s| s.eq_ignore_ascii_case("plain"))
        }
    }
}

fn addresses(a: &mail_parser::Address) -> Vec<String> {
    a.iter()
        .map(|x| match (x.name(), x.address()) {
            (Some(n), Some(addr)) => format!("{n} <{addr}>"),
            (None, Some(addr)) => addr.to_string(),
            (Some(n), None) => n.to_string(),
            (None, None) => String::new(),
        })
        .collect()
}

/// A raw header value with its folding (CRLF before white space) undone, trimmed.
fn unfold(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw)
        .replace("\r\n", "")
        .replace('\n', "")
        .trim()
        .to_string()
}
