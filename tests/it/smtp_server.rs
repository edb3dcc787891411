//! Self-tests of the SMTP test server in `crate::common::smtp`, driven by lettre's async SMTP client as
//! the daemon's mail module will drive it: one pooled `AsyncSmtpTransport` on tokio with rustls,
//! trusting only the server's self-signed certificate. Each failure mode is checked from the
//! client's side (which lettre error it becomes) and the server's (what was recorded), and a raw
//! TCP conversation pins the protocol details a client library never exercises.

use std::time::Duration;

use crate::common::smtp::{Mode, Received, SmtpOptions, SmtpServer, Tls};
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{
    Certificate, CertificateStore, Tls as ClientTls, TlsParameters,
};
use lettre::transport::smtp::Error as SmtpError;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Long enough for a loaded CI machine, short enough to fail fast.
const WITHIN: Duration = Duration::from_secs(15);

const SUBJECT: &str = "Bản tin Dân vận – 28/11/2026";
const TEXT: &str = "Bản tin Dân vận ngày 28/11/2026\r\n\r\n1. Hội nghị công tác dân vận toàn quốc\r\nhttps://bao.example.vn/hoi-nghi.html\r\n";
const HTML: &str = "<html><body><h1>Bản tin Dân vận</h1><p><a href=\"https://bao.example.vn/hoi-nghi.html\">Hội nghị công tác dân vận toàn quốc</a></p></body></html>\r\n";

type Transport = AsyncSmtpTransport<Tokio1Executor>;

// ---------------------------------------------------------------------------------------------
// Clients and messages

/// A plain-text client, no AUTH, pooled (lettre's default pool).
fn plain_client(server: &SmtpServer) -> Transport {
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(server.port())
        .timeout(Some(WITHIN))
        .build()
}

/// A client that trusts only the server's certificate, verified for `domain`, with `tls` built
/// around those parameters and the given credentials and mechanism.
fn tls_client(
    server: &SmtpServer,
    domain: &str,
    tls: fn(TlsParameters) -> ClientTls,
    credentials: Option<(&str, &str)>,
    mechanism: Mechanism,
) -> Transport {
    let params = TlsParameters::builder(domain.to_string())
        .certificate_store(CertificateStore::None)
        .add_root_certificate(Certificate::from_der(server.cert_der().to_vec()).unwrap())
        .build_rustls()
        .unwrap();
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(server.port())
        .timeout(Some(WITHIN))
        .tls(tls(params))
        .authentication(vec![mechanism]);
    if let Some((u, p)) = credentials {
        b = b.credentials(Credentials::new(u.to_string(), p.to_string()));
    }
    b.build()
}

fn mailbox(s: &str) -> Mailbox {
    s.parse().unwrap()
}

/// The digest shape: multipart/alternative, UTF-8 subject, display names and bodies.
fn digest(to: &str) -> Message {
    Message::builder()
        .from(mailbox("Bản tin Dân vận <bantin@example.vn>"))
        .to(mailbox(&format!("Người đọc <{to}>")))
        .subject(SUBJECT)
        .multipart(MultiPart::alternative_plain_html(
            TEXT.to_string(),
            HTML.to_string(),
        ))
        .unwrap()
}

/// A one-part text/plain message.
fn note(subject: &str, body: &str) -> Message {
    Message::builder()
        .from(mailbox("bantin@example.vn"))
        .to(mailbox("doc@example.vn"))
        .subject(subject)
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(body.to_string()),
        )
        .unwrap()
}

/// The SMTP reply code of a failed send, when the server gave one.
fn code(e: &SmtpError) -> Option<u16> {
    e.status().map(u16::from)
}

// ---------------------------------------------------------------------------------------------
// Delivery

#[tokio::test]
async fn plain_delivery_decodes_back_to_the_vietnamese_digest_exactly() {
    let server = SmtpServer::start(SmtpOptions::plain()).await;
    plain_client(&server)
        .send(digest("doc@example.vn"))
        .await
        .unwrap();

    let got = server.wait_for(1, WITHIN).await;
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!(r.from, "bantin@example.vn");
    assert_eq!(r.to, vec!["doc@example.vn".to_string()]);
    assert!(!r.tls);
    assert_eq!(r.auth_user, None);

    let m = r.parse();
    assert_eq!(m.subject.as_deref(), Some(SUBJECT));
    assert_eq!(m.from, vec!["bantin@example.vn".to_string()]);
    assert_eq!(m.to, vec!["doc@example.vn".to_string()]);
    assert_eq!(
        m.header("from"),
        Some("Bản tin Dân vận <bantin@example.vn>")
    );
    assert_eq!(m.header("To"), Some("Người đọc <doc@example.vn>"));
    assert!(m
        .header("Content-Type")
        .unwrap()
        .starts_with("multipart/alternative"));
    assert_eq!(m.text.as_deref(), Some(TEXT));
    assert_eq!(m.html.as_deref(), Some(HTML));
    // The subject travelled as RFC 2047 words, not raw UTF-8 in the header.
    let raw = String::from_utf8_lossy(&r.data);
    let subject_line = raw.lines().find(|l| l.starts_with("Subject:")).unwrap();
    assert!(subject_line.is_ascii(), "{subject_line}");
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn starttls_with_auth_plain_delivers_under_tls_as_the_user() {
    let server = SmtpServer::start(
        SmtpOptions::plain()
            .with_tls(Tls::StartTls)
            .with_auth("bantin", "mật-khẩu"),
    )
    .await;
    let client = tls_client(
        &server,
        "localhost",
        ClientTls::Required,
        Some(("bantin", "mật-khẩu")),
        Mechanism::Plain,
    );
    client.send(digest("doc@example.vn")).await.unwrap();

    let got = server.wait_for(1, WITHIN).await;
    assert!(got[0].tls);
    assert_eq!(got[0].auth_user.as_deref(), Some("bantin"));
    assert_eq!(got[0].parse().subject.as_deref(), Some(SUBJECT));
}

#[tokio::test]
async fn implicit_tls_with_auth_login_delivers_and_the_certificate_covers_the_ip() {
    let server = SmtpServer::start(
        SmtpOptions::plain()
            .with_tls(Tls::Implicit)
            .with_auth("bantin", "bí mật"),
    )
    .await;
    let client = tls_client(
        &server,
        "127.0.0.1",
        ClientTls::Wrapper,
        Some(("bantin", "bí mật")),
        Mechanism::Login,
    );
    client.send(note("LOGIN", "xin chào\r\n")).await.unwrap();

    let got = server.wait_for(1, WITHIN).await;
    assert!(got[0].tls);
    assert_eq!(got[0].auth_user.as_deref(), Some("bantin"));
    assert_eq!(got[0].parse().text.as_deref(), Some("xin chào\r\n"));
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_certificate_cannot_connect() {
    let server = SmtpServer::start(SmtpOptions::plain().with_tls(Tls::StartTls)).await;
    let params = TlsParameters::builder("localhost".to_string())
        .certificate_store(CertificateStore::None)
        .build_rustls()
        .unwrap();
    let client = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(server.port())
        .timeout(Some(WITHIN))
        .tls(ClientTls::Required(params))
        .build();
    let e = client.send(note("x", "x\r\n")).await.unwrap_err();
    // lettre files a failed handshake under its connection errors, not `is_tls()`.
    assert!(format!("{e:?}").contains("UnknownIssuer"), "{e:?}");
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn dot_stuffed_lines_come_back_as_written() {
    let server = SmtpServer::start(SmtpOptions::plain()).await;
    // ASCII with short lines, so lettre sends it as 7bit and the dots go on the wire as written
    // (a UTF-8 body would travel base64-encoded and never start a line with a dot).
    let body = ".\r\n.a line that starts with a dot\r\n..two dots\r\nplain\r\n.\r\n";
    plain_client(&server)
        .send(note("dấu chấm", body))
        .await
        .unwrap();

    let got = server.wait_for(1, WITHIN).await;
    let raw = String::from_utf8(got[0].data.clone()).unwrap();
    assert!(raw.contains("Content-Transfer-Encoding: 7bit"), "{raw:?}");
    assert!(raw.contains(&format!("\r\n\r\n{body}")), "{raw:?}");
    // lettre ends a single-part body with a CRLF of its own and then sends CRLF.CRLF, so the
    // decoded text has two more line breaks than the body given.
    let text = got[0].parse().text.unwrap();
    assert_eq!(text.trim_end_matches("\r\n"), body.trim_end_matches("\r\n"));
}

#[tokio::test]
async fn two_messages_on_one_pooled_connection_are_both_recorded() {
    let server = SmtpServer::start(SmtpOptions::plain()).await;
    let client = plain_client(&server);
    client.send(note("một", "1\r\n")).await.unwrap();
    // lettre parks a used connection back in its pool from a task it spawns when the send
    // returns; on this single-threaded runtime, yielding once lets that task run first.
    tokio::task::yield_now().await;
    client.send(note("hai", "2\r\n")).await.unwrap();

    let got = server.wait_for(2, WITHIN).await;
    let subjects: Vec<_> = got.iter().map(|r| r.parse().subject.unwrap()).collect();
    assert_eq!(subjects, ["một", "hai"]);
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn every_recipient_is_recorded_in_order() {
    let server = SmtpServer::start(SmtpOptions::plain()).await;
    let m = Message::builder()
        .from(mailbox("bantin@example.vn"))
        .to(mailbox("a@example.vn"))
        .to(mailbox("b@example.vn"))
        .bcc(mailbox("c@example.vn"))
        .subject("ba người")
        .body("x\r\n".to_string())
        .unwrap();
    plain_client(&server).send(m).await.unwrap();

    let got = server.wait_for(1, WITHIN).await;
    assert_eq!(got[0].to, ["a@example.vn", "b@example.vn", "c@example.vn"]);
    assert_eq!(got[0].parse().header("Bcc"), None);
}

// ---------------------------------------------------------------------------------------------
// Refusals and failure modes

#[tokio::test]
async fn a_wrong_password_is_refused_with_535() {
    let server = SmtpServer::start(
        SmtpOptions::plain()
            .with_tls(Tls::StartTls)
            .with_auth("bantin", "đúng"),
    )
    .await;
    let client = tls_client(
        &server,
        "localhost",
        ClientTls::Required,
        Some(("bantin", "sai")),
        Mechanism::Plain,
    );
    let e = client.send(note("x", "x\r\n")).await.unwrap_err();
    assert_eq!(code(&e), Some(535), "{e:?}");
    assert!(e.is_permanent());
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn mail_without_auth_is_refused_with_530_when_auth_is_required() {
    let server = SmtpServer::start(
        SmtpOptions::plain()
            .with_tls(Tls::StartTls)
            .with_auth("u", "p"),
    )
    .await;
    let client = tls_client(
        &server,
        "localhost",
        ClientTls::Required,
        None,
        Mechanism::Plain,
    );
    let e = client.send(note("x", "x\r\n")).await.unwrap_err();
    assert_eq!(code(&e), Some(530), "{e:?}");
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn temp_fail_is_a_transient_error_and_records_nothing_until_accept() {
    let server = SmtpServer::start(SmtpOptions::plain().with_mode(Mode::TempFail)).await;
    let client = plain_client(&server);
    let e = client.send(note("x", "x\r\n")).await.unwrap_err();
    assert_eq!(code(&e), Some(451), "{e:?}");
    assert!(e.is_transient());
    assert!(server.messages().is_empty());

    server.set_mode(Mode::Accept);
    client.send(note("lần hai", "x\r\n")).await.unwrap();
    let got = server.wait_for(1, WITHIN).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].parse().subject.as_deref(), Some("lần hai"));
}

#[tokio::test]
async fn perm_fail_is_a_permanent_error_at_rcpt() {
    let server = SmtpServer::start(SmtpOptions::plain()).await;
    server.set_mode(Mode::PermFail);
    let e = plain_client(&server)
        .send(note("x", "x\r\n"))
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(550), "{e:?}");
    assert!(e.is_permanent());
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn down_closes_connections_without_a_greeting_and_breaks_pooled_ones() {
    let server = SmtpServer::start(SmtpOptions::plain()).await;
    let client = plain_client(&server);
    client.send(note("trước", "x\r\n")).await.unwrap();

    server.set_mode(Mode::Down);
    let e = client.send(note("trong", "x\r\n")).await.unwrap_err();
    assert!(!e.is_transient() && !e.is_permanent(), "{e:?}");
    assert!(
        server.connections() >= 2,
        "the pooled connection failed and a new one was tried"
    );

    server.set_mode(Mode::Accept);
    client.send(note("sau", "x\r\n")).await.unwrap();
    let subjects: Vec<_> = server
        .wait_for(2, WITHIN)
        .await
        .iter()
        .map(|r| r.parse().subject.unwrap())
        .collect();
    assert_eq!(subjects, ["trước", "sau"]);
}

#[tokio::test]
async fn stop_refuses_connections_and_restart_serves_again_on_the_same_port() {
    let server = SmtpServer::start(SmtpOptions::plain()).await;
    let port = server.port();
    let client = plain_client(&server);
    client.send(note("trước", "x\r\n")).await.unwrap();

    server.stop().await;
    let refused = tokio::net::TcpStream::connect(server.addr()).await;
    assert_eq!(
        refused.unwrap_err().kind(),
        std::io::ErrorKind::ConnectionRefused
    );
    let e = client.send(note("trong", "x\r\n")).await.unwrap_err();
    assert!(!e.is_transient() && !e.is_permanent(), "{e:?}");

    server.restart().await;
    assert_eq!(server.port(), port);
    client.send(note("sau", "x\r\n")).await.unwrap();
    let subjects: Vec<_> = server
        .wait_for(2, WITHIN)
        .await
        .iter()
        .map(|r| r.parse().subject.unwrap())
        .collect();
    assert_eq!(subjects, ["trước", "sau"]);
}

#[tokio::test]
async fn start_on_a_chosen_address_listens_there() {
    let first = SmtpServer::start(SmtpOptions::plain()).await;
    let addr = first.addr();
    first.stop().await;
    let second = SmtpServer::start_on(SmtpOptions::plain(), addr).await;
    assert_eq!(second.addr(), addr);
    plain_client(&second)
        .send(note("x", "x\r\n"))
        .await
        .unwrap();
    assert_eq!(second.wait_for(1, WITHIN).await.len(), 1);
    assert!(first.messages().is_empty());
}

// ---------------------------------------------------------------------------------------------
// The protocol as a raw TCP client sees it

/// Sends each command line in turn (`None` sends nothing and reads the greeting) and checks the
/// reply code of the last line of each reply; returns the full replies.
async fn converse(server: &SmtpServer, steps: &[(Option<&str>, u16)]) -> Vec<String> {
    let tcp = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let mut io = BufReader::new(tcp);
    let mut replies = Vec::new();
    for (send, want) in steps {
        if let Some(line) = send {
            io.write_all(format!("{line}\r\n").as_bytes())
                .await
                .unwrap();
        }
        let mut reply = String::new();
        loop {
            let mut l = String::new();
            assert_ne!(
                io.read_line(&mut l).await.unwrap(),
                0,
                "closed after {send:?}"
            );
            reply.push_str(&l);
            if l.as_bytes().get(3) == Some(&b' ') {
                break;
            }
        }
        let got: u16 = reply
            .lines()
            .last()
            .unwrap()
            .get(..3)
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(got, *want, "after {send:?}: {reply}");
        replies.push(reply);
    }
    replies
}

#[tokio::test]
async fn commands_out_of_order_unknown_or_unimplemented_are_refused() {
    let server = SmtpServer::start(SmtpOptions::plain()).await;
    converse(
        &server,
        &[
            (None, 220),
            (Some("MAIL FROM:<a@example.vn>"), 503),
            (Some("HELO"), 501),
            (Some("HELO client.example.vn"), 250),
            (Some("RCPT TO:<b@example.vn>"), 503),
            (Some("DATA"), 503),
            (Some("MAIL FROM:a@example.vn"), 501),
            (Some("MAIL FROM:<a@example.vn>"), 250),
            (Some("MAIL FROM:<a@example.vn>"), 503),
            (Some("DATA"), 554),
            (Some("RSET"), 250),
            (Some("RCPT TO:<b@example.vn>"), 503),
            (Some("STARTTLS"), 502),
            (Some("AUTH PLAIN"), 502),
            (Some("VRFY b@example.vn"), 502),
            (Some("XYZZY"), 500),
            (Some("NOOP"), 250),
            (Some("QUIT"), 221),
        ],
    )
    .await;
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn ehlo_advertises_starttls_before_tls_and_no_auth_in_the_clear() {
    let server = SmtpServer::start(
        SmtpOptions::plain()
            .with_tls(Tls::StartTls)
            .with_auth("u", "p"),
    )
    .await;
    let replies = converse(
        &server,
        &[
            (None, 220),
            (Some("EHLO client.example.vn"), 250),
            (Some("AUTH PLAIN AHUAcA=="), 538),
            (Some("MAIL FROM:<a@example.vn>"), 530),
        ],
    )
    .await;
    let ehlo = &replies[1];
    for ext in ["8BITMIME", "SMTPUTF8", "PIPELINING", "STARTTLS"] {
        assert!(ehlo.contains(ext), "{ext} missing from {ehlo}");
    }
    assert!(!ehlo.contains("AUTH"), "{ehlo}");

    let plain = SmtpServer::start(SmtpOptions::plain().with_auth("u", "p")).await;
    let replies = converse(
        &plain,
        &[
            (None, 220),
            (Some("EHLO client.example.vn"), 250),
            (Some("AUTH LOGIN"), 334),
            (Some("dQ=="), 334),
            (Some("eA=="), 535),
            (Some("AUTH PLAIN"), 334),
            (Some("*"), 501),
            (Some("AUTH CRAM-MD5"), 504),
            (Some("AUTH PLAIN AHUAcA=="), 235),
            (Some("AUTH PLAIN AHUAcA=="), 503),
        ],
    )
    .await;
    assert!(replies[1].contains("AUTH PLAIN LOGIN"), "{}", replies[1]);
    assert!(!replies[1].contains("STARTTLS"), "{}", replies[1]);
}

#[tokio::test]
async fn data_is_unstuffed_and_kept_byte_for_byte() {
    let server = SmtpServer::start(SmtpOptions::plain()).await;
    converse(
        &server,
        &[
            (None, 220),
            (Some("EHLO c"), 250),
            (Some("MAIL FROM:<> BODY=8BITMIME"), 250),
            (Some("RCPT TO:<Đọc@example.vn>"), 250),
            (Some("DATA"), 354),
            (Some("Subject: x\r\n\r\n..a\r\n...\r\nb.\r\n."), 250),
            (Some("QUIT"), 221),
        ],
    )
    .await;
    let got: Vec<Received> = server.wait_for(1, WITHIN).await;
    assert_eq!(got[0].from, "");
    assert_eq!(got[0].to, ["Đọc@example.vn"]);
    assert_eq!(got[0].data, b"Subject: x\r\n\r\n.a\r\n..\r\nb.\r\n");
}

#[tokio::test]
async fn down_greets_no_one_but_counts_the_connection() {
    let server = SmtpServer::start(SmtpOptions::plain().with_mode(Mode::Down)).await;
    let mut tcp = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let mut buf = Vec::new();
    let n = tokio::time::timeout(
        WITHIN,
        tokio::io::AsyncReadExt::read_to_end(&mut tcp, &mut buf),
    )
    .await
    .unwrap()
    .unwrap_or(0);
    assert_eq!(n, 0, "{buf:?}");
    crate::common::wait_until("the connection is counted", WITHIN, || async {
        server.connections() == 1
    })
    .await;
}
