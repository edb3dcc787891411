//! `bantin::mail` against the loopback SMTP server of `crate::common::smtp` and a temp Maildir: what a
//! reader's mail client decodes, how each relay failure is classified, and that neither a subject
//! nor a display name can add a header or a recipient.

use std::path::Path;
use std::time::Duration;

use crate::common::smtp::{Mode, Received, SmtpOptions, SmtpServer, Tls};
use bantin::mail::{self, MailError, Mailer, Outgoing, Security, SmtpSettings, Transport};
use chrono::{TimeZone, Utc};
use mail_parser::MimeHeaders as _;

/// Long enough for a loaded CI machine, short enough to fail fast.
const WITHIN: Duration = Duration::from_secs(15);

const SUBJECT: &str = "Bản tin Dân vận, Xây dựng Đảng – 28/11/2026";
const TEXT: &str = "Bản tin của Nguyễn Thị Hoa, ngày 28/11/2026\n\
\n\
DÂN VẬN\n\
\n\
1. Hội nghị toàn quốc tổng kết công tác dân vận năm 2026\n\
   Nhân Dân, Quân đội nhân dân · 28/11 09:15\n\
   https://nhandan.vn/hoi-nghi-dan-van-post912345.html\n\
\n\
XÂY DỰNG ĐẢNG\n\
\n\
2. Đổi mới phương thức lãnh đạo của Đảng ủy cơ sở\n\
   https://xaydungchinhsach.chinhphu.vn/doi-moi.htm\n\
\n\
Hủy đăng ký: https://tin.example.vn/huy/abc\n";
const HTML: &str = "<!doctype html>\n<html lang=\"vi\"><body>\n\
<h1>Bản tin Dân vận, Xây dựng Đảng</h1>\n\
<h2>Dân vận</h2>\n\
<p><a href=\"https://nhandan.vn/hoi-nghi-dan-van-post912345.html\">Hội nghị toàn quốc tổng kết công tác dân vận năm 2026</a><br>Nhân Dân, Quân đội nhân dân &middot; 28/11 09:15</p>\n\
<h2>Xây dựng Đảng</h2>\n\
<p><a href=\"https://xaydungchinhsach.chinhphu.vn/doi-moi.htm\">Đổi mới phương thức lãnh đạo của Đảng ủy cơ sở</a></p>\n\
<p><a href=\"https://tin.example.vn/huy/abc\">Hủy đăng ký</a></p>\n\
</body></html>\n";
const MESSAGE_ID: &str = "digest.42.1764288000@bantin.example.vn";
const INJECTION: &str = "\r\nBcc: evil@example.com";

fn digest() -> Outgoing {
    Outgoing {
        from: "Bản tin <bantin@example.vn>".into(),
        reply_to: Some("Ban biên tập <bbt@example.vn>".into()),
        to: "Nguyễn Thị Hoa <hoa@example.vn>".into(),
        subject: SUBJECT.into(),
        text: TEXT.into(),
        html: HTML.into(),
        message_id: MESSAGE_ID.into(),
        date: Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 0).unwrap(),
        unsubscribe_url: Some("https://tin.example.vn/huy/abc".into()),
        unsubscribe_mailto: Some("mailto:huy@bantin.example.vn?subject=unsubscribe".into()),
    }
}

fn settings(server: &SmtpServer, security: Security) -> SmtpSettings {
    SmtpSettings {
        host: "127.0.0.1".into(),
        port: server.port(),
        security,
        username: None,
        password: None,
        timeout: WITHIN,
        extra_root_der: (security != Security::None).then(|| server.cert_der().to_vec()),
    }
}

fn with_auth(s: SmtpSettings, user: &str, password: &str) -> SmtpSettings {
    SmtpSettings {
        username: Some(user.into()),
        password: Some(password.into()),
        ..s
    }
}

fn mailer(s: SmtpSettings) -> Mailer {
    Mailer::new(&Transport::Smtp(s)).unwrap()
}

fn lf(s: &str) -> String {
    s.replace("\r\n", "\n")
}

/// Header names as they appear at the start of lines of the raw header block (no parser's
/// opinion involved).
fn raw_header_names(data: &[u8]) -> Vec<String> {
    let raw = String::from_utf8_lossy(data);
    let head = raw.split("\r\n\r\n").next().unwrap();
    head.split("\r\n")
        .filter(|l| !l.starts_with([' ', '\t']))
        .filter_map(|l| l.split_once(':').map(|(n, _)| n.to_ascii_lowercase()))
        .collect()
}

/// The first header field called `name`, as written, unfolded.
fn raw_header(data: &[u8], name: &str) -> Option<String> {
    let raw = String::from_utf8_lossy(data);
    let head = raw.split("\r\n\r\n").next().unwrap().replace("\r\n ", " ");
    head.split("\r\n").find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
}

// ---------------------------------------------------------------------------------------------
// Delivery

#[tokio::test]
async fn a_vietnamese_digest_decodes_back_exactly() {
    let server = SmtpServer::start(SmtpOptions::plain()).await;
    let reply = mailer(settings(&server, Security::None))
        .send(&digest())
        .await
        .unwrap();
    assert!(reply.starts_with("250 "), "{reply}");

    let got = server.wait_for(1, WITHIN).await;
    let r = &got[0];
    assert_eq!(r.from, "bantin@example.vn");
    assert_eq!(r.to, ["hoa@example.vn"]);
    let m = r.parse();
    assert_eq!(m.subject.as_deref(), Some(SUBJECT));
    assert_eq!(lf(m.text.as_deref().unwrap()), TEXT);
    assert_eq!(lf(m.html.as_deref().unwrap()), HTML);
    assert_eq!(m.header("From"), Some("Bản tin <bantin@example.vn>"));
    assert_eq!(m.header("To"), Some("Nguyễn Thị Hoa <hoa@example.vn>"));
    assert_eq!(m.header("Reply-To"), Some("Ban biên tập <bbt@example.vn>"));
    assert_eq!(m.message.message_id(), Some(MESSAGE_ID));
    assert_eq!(
        m.message.date().map(|d| d.to_timestamp()),
        Some(digest().date.timestamp())
    );
    assert_eq!(m.header("Auto-Submitted"), Some("auto-generated"));

    // multipart/alternative with exactly a text and an HTML part, neither an attachment.
    let ct = m.message.content_type().unwrap();
    assert_eq!(
        (ct.ctype(), ct.subtype()),
        ("multipart", Some("alternative"))
    );
    assert_eq!(m.message.attachment_count(), 0);
    assert_eq!(m.message.text_body_count(), 1);
    assert_eq!(m.message.html_body_count(), 1);
    assert_eq!(m.message.parts.len(), 3, "the container and two parts");

    // mail-parser reads List-Unsubscribe as an address list and drops the brackets: look at the
    // header as written.
    let unsubscribe = raw_header(&r.data, "List-Unsubscribe").unwrap();
    assert!(
        unsubscribe.contains("<https://tin.example.vn/huy/abc>"),
        "{unsubscribe}"
    );
    assert!(
        unsubscribe.contains("<mailto:huy@bantin.example.vn?subject=unsubscribe>"),
        "{unsubscribe}"
    );
    assert_eq!(
        unsubscribe,
        "<https://tin.example.vn/huy/abc>, <mailto:huy@bantin.example.vn?subject=unsubscribe>"
    );
    assert_eq!(
        m.header("List-Unsubscribe-Post"),
        Some("List-Unsubscribe=One-Click")
    );

    // Headers travel as ASCII (RFC 2047 words), bodies as 7bit, quoted-printable or base64.
    let raw = String::from_utf8(r.data.clone()).unwrap();
    let head = raw.split("\r\n\r\n").next().unwrap();
    assert!(head.is_ascii(), "{head}");
    assert!(raw.is_ascii(), "a body went out as 8bit");
    assert!(!r.tls);
    assert_eq!(r.auth_user, None);
}

#[tokio::test]
async fn starttls_with_auth_delivers_under_tls_as_the_user() {
    let server = SmtpServer::start(
        SmtpOptions::plain()
            .with_tls(Tls::StartTls)
            .with_auth("bantin", "mật-khẩu"),
    )
    .await;
    let s = with_auth(settings(&server, Security::StartTls), "bantin", "mật-khẩu");
    mailer(s).send(&digest()).await.unwrap();

    let got = server.wait_for(1, WITHIN).await;
    assert!(got[0].tls);
    assert_eq!(got[0].auth_user.as_deref(), Some("bantin"));
    assert_eq!(got[0].parse().subject.as_deref(), Some(SUBJECT));
}

#[tokio::test]
async fn implicit_tls_delivers() {
    let server = SmtpServer::start(
        SmtpOptions::plain()
            .with_tls(Tls::Implicit)
            .with_auth("bantin", "bí mật"),
    )
    .await;
    let s = with_auth(settings(&server, Security::Tls), "bantin", "bí mật");
    mailer(s).send(&digest()).await.unwrap();

    let got = server.wait_for(1, WITHIN).await;
    assert!(got[0].tls);
    assert_eq!(got[0].auth_user.as_deref(), Some("bantin"));
    assert_eq!(lf(&got[0].parse().text.unwrap()), TEXT);
}

#[tokio::test]
async fn starttls_refuses_a_certificate_it_was_not_told_to_trust() {
    let server = SmtpServer::start(SmtpOptions::plain().with_tls(Tls::StartTls)).await;
    let s = SmtpSettings {
        extra_root_der: None,
        ..settings(&server, Security::StartTls)
    };
    let e = mailer(s).send(&digest()).await.unwrap_err();
    assert!(matches!(e, MailError::Transient(_)), "{e:?}");
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn one_mailer_sends_many_messages_over_its_pool() {
    let server = SmtpServer::start(SmtpOptions::plain()).await;
    let m = mailer(settings(&server, Security::None));
    for i in 0..3 {
        let msg = Outgoing {
            message_id: format!("digest.{i}@bantin.example.vn"),
            ..digest()
        };
        m.clone().send(&msg).await.unwrap();
        // lettre parks the connection from a task it spawns when the send returns.
        tokio::task::yield_now().await;
    }
    let ids: Vec<String> = server
        .wait_for(3, WITHIN)
        .await
        .iter()
        .map(|r| r.parse().message.message_id().unwrap().to_string())
        .collect();
    assert_eq!(
        ids,
        [
            "digest.0@bantin.example.vn",
            "digest.1@bantin.example.vn",
            "digest.2@bantin.example.vn"
        ]
    );
    assert!(server.connections() <= 2, "{}", server.connections());
}

// ---------------------------------------------------------------------------------------------
// Failures

#[tokio::test]
async fn temp_fail_is_transient_and_a_retry_succeeds() {
    let server = SmtpServer::start(SmtpOptions::plain().with_mode(Mode::TempFail)).await;
    let m = mailer(settings(&server, Security::None));
    let e = m.send(&digest()).await.unwrap_err();
    assert!(matches!(e, MailError::Transient(_)), "{e:?}");
    assert!(!e.is_permanent());
    assert!(e.to_string().contains("451"), "{e}");

    server.set_mode(Mode::Accept);
    m.send(&digest()).await.unwrap();
    assert_eq!(server.wait_for(1, WITHIN).await.len(), 1);
}

#[tokio::test]
async fn perm_fail_is_permanent() {
    let server = SmtpServer::start(SmtpOptions::plain().with_mode(Mode::PermFail)).await;
    let e = mailer(settings(&server, Security::None))
        .send(&digest())
        .await
        .unwrap_err();
    assert!(matches!(e, MailError::Permanent(_)), "{e:?}");
    assert!(e.is_permanent());
    assert!(e.to_string().contains("550"), "{e}");
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn a_stopped_server_is_transient_and_a_restart_heals_the_pool() {
    let server = SmtpServer::start(SmtpOptions::plain()).await;
    let m = mailer(settings(&server, Security::None));
    m.send(&digest()).await.unwrap();
    tokio::task::yield_now().await;

    server.stop().await;
    let e = m.send(&digest()).await.unwrap_err();
    assert!(matches!(e, MailError::Transient(_)), "{e:?}");

    server.restart().await;
    m.send(&digest()).await.unwrap();
    assert_eq!(server.wait_for(2, WITHIN).await.len(), 2);
}

#[tokio::test]
async fn a_relay_that_hangs_up_is_transient() {
    let server = SmtpServer::start(SmtpOptions::plain().with_mode(Mode::Down)).await;
    let e = mailer(settings(&server, Security::None))
        .send(&digest())
        .await
        .unwrap_err();
    assert!(matches!(e, MailError::Transient(_)), "{e:?}");
}

#[tokio::test]
async fn a_relay_that_never_greets_times_out_as_transient() {
    // Accepts and then says nothing: only the timeout can end the wait.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let s = SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        security: Security::None,
        username: None,
        password: None,
        timeout: Duration::from_millis(300),
        extra_root_der: None,
    };
    let started = std::time::Instant::now();
    let e = mailer(s).send(&digest()).await.unwrap_err();
    assert!(matches!(e, MailError::Transient(_)), "{e:?}");
    assert!(started.elapsed() < WITHIN, "{:?}", started.elapsed());
    silent.abort();
}

#[tokio::test]
async fn a_wrong_password_is_permanent_and_not_quoted() {
    let server = SmtpServer::start(
        SmtpOptions::plain()
            .with_tls(Tls::StartTls)
            .with_auth("bantin", "đúng"),
    )
    .await;
    let s = with_auth(
        settings(&server, Security::StartTls),
        "bantin",
        "sai-mật-khẩu",
    );
    let e = mailer(s).send(&digest()).await.unwrap_err();
    assert!(matches!(e, MailError::Permanent(_)), "{e:?}");
    assert!(e.to_string().contains("535"), "{e}");
    assert!(!format!("{e} {e:?}").contains("sai-mật-khẩu"), "{e:?}");
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn an_invalid_address_is_refused_before_connecting() {
    let server = SmtpServer::start(SmtpOptions::plain()).await;
    let msg = Outgoing {
        to: "Hoa <không phải địa chỉ>".into(),
        ..digest()
    };
    let e = mailer(settings(&server, Security::None))
        .send(&msg)
        .await
        .unwrap_err();
    assert!(matches!(e, MailError::Invalid(_)), "{e:?}");
    assert!(e.is_permanent());
    assert_eq!(server.connections(), 0);
}

// ---------------------------------------------------------------------------------------------
// Header injection

#[tokio::test]
async fn crlf_in_subject_and_names_adds_no_header_and_no_recipient() {
    let server = SmtpServer::start(SmtpOptions::plain()).await;
    let msg = Outgoing {
        subject: format!("Bản tin{INJECTION}"),
        to: format!("Nguyễn Thị Hoa{INJECTION} <hoa@example.vn>"),
        from: format!("bantin{INJECTION} <bantin@example.vn>"),
        reply_to: Some(format!("Ban biên tập{INJECTION} <bbt@example.vn>")),
        ..digest()
    };
    mailer(settings(&server, Security::None))
        .send(&msg)
        .await
        .unwrap();

    let got: Vec<Received> = server.wait_for(1, WITHIN).await;
    let r = &got[0];
    assert_eq!(r.to, ["hoa@example.vn"]);
    let m = r.parse();
    assert_eq!(m.header("Bcc"), None);
    assert!(m.header_all("Bcc").is_empty());
    assert!(
        !raw_header_names(&r.data).contains(&"bcc".to_string()),
        "{:?}",
        raw_header_names(&r.data)
    );
    assert_eq!(m.to, ["hoa@example.vn"]);
    // The text is still there, on one line.
    assert_eq!(m.subject.as_deref(), Some("Bản tin Bcc: evil@example.com"));
    assert_eq!(
        m.header("To"),
        Some("Nguyễn Thị Hoa Bcc: evil@example.com <hoa@example.vn>")
    );
    for name in ["from", "to", "subject", "reply-to"] {
        let count = raw_header_names(&r.data)
            .iter()
            .filter(|n| *n == name)
            .count();
        assert_eq!(count, 1, "{name}");
    }
}

#[tokio::test]
async fn crlf_in_an_unsubscribe_url_or_message_id_is_refused() {
    for msg in [
        Outgoing {
            unsubscribe_url: Some(format!("https://tin.example.vn/huy{INJECTION}")),
            ..digest()
        },
        Outgoing {
            unsubscribe_mailto: Some(format!("huy@bantin.example.vn{INJECTION}")),
            ..digest()
        },
        Outgoing {
            message_id: format!("a@b{INJECTION}"),
            ..digest()
        },
        Outgoing {
            to: format!("hoa@example.vn{INJECTION}"),
            ..digest()
        },
    ] {
        let e = mail::build(&msg).unwrap_err();
        assert!(matches!(e, MailError::Invalid(_)), "{msg:?}: {e:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Maildir

fn files_in(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn maildir_gets_one_file_in_new_per_message() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data/outbox");
    let m = Mailer::new(&Transport::Maildir(root.clone())).unwrap();
    let subjects = ["Bản tin thứ nhất", "Bản tin thứ hai"];
    let mut delivered = Vec::new();
    for (i, subject) in subjects.iter().enumerate() {
        let msg = Outgoing {
            subject: subject.to_string(),
            message_id: format!("digest.{i}@bantin.example.vn"),
            ..digest()
        };
        let reply = m.send(&msg).await.unwrap();
        let path = reply.strip_prefix("delivered to ").unwrap().to_string();
        delivered.push(std::path::PathBuf::from(path));
    }

    assert!(files_in(&root.join("tmp")).is_empty());
    assert!(files_in(&root.join("cur")).is_empty());
    let new = files_in(&root.join("new"));
    assert_eq!(new.len(), 2);
    delivered.sort();
    assert_eq!(new, delivered);

    let mut got: Vec<(String, String)> = new
        .iter()
        .map(|p| {
            let bytes = std::fs::read(p).unwrap();
            let msg = mail_parser::MessageParser::default().parse(&bytes).unwrap();
            (
                msg.subject().unwrap().to_string(),
                lf(&msg.body_text(0).unwrap()),
            )
        })
        .collect();
    got.sort();
    let mut want: Vec<(String, String)> = subjects
        .iter()
        .map(|s| (s.to_string(), TEXT.to_string()))
        .collect();
    want.sort();
    assert_eq!(got, want);
}

#[tokio::test]
async fn maildir_file_is_exactly_what_build_makes_apart_from_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    let m = Mailer::new(&Transport::Maildir(dir.path().to_path_buf())).unwrap();
    let reply = m.send(&digest()).await.unwrap();
    let file = std::fs::read(reply.strip_prefix("delivered to ").unwrap()).unwrap();
    let built = mail::build(&digest()).unwrap();
    assert_eq!(raw_header_names(&file), raw_header_names(&built));
    let parsed = mail_parser::MessageParser::default().parse(&file).unwrap();
    assert_eq!(parsed.message_id(), Some(MESSAGE_ID));
    assert_eq!(lf(&parsed.body_html(0).unwrap()), HTML);
}

#[tokio::test]
async fn an_unwritable_maildir_is_transient() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, b"x").unwrap();
    let m = Mailer::new(&Transport::Maildir(blocker)).unwrap();
    let e = m.send(&digest()).await.unwrap_err();
    assert!(matches!(e, MailError::Transient(_)), "{e:?}");
}

// ---------------------------------------------------------------------------------------------
// Secrets

#[test]
fn debug_of_smtp_settings_hides_the_password() {
    let s = SmtpSettings {
        host: "smtp.example.vn".into(),
        port: 587,
        security: Security::StartTls,
        username: Some("bantin".into()),
        password: Some("mật-khẩu-rất-bí-mật".into()),
        timeout: Duration::from_secs(30),
        extra_root_der: None,
    };
    for shown in [
        format!("{s:?}"),
        format!("{s:#?}"),
        format!("{:?}", Transport::Smtp(s.clone())),
    ] {
        assert!(!shown.contains("mật-khẩu-rất-bí-mật"), "{shown}");
        assert!(shown.contains("smtp.example.vn"), "{shown}");
    }
}

// ---------------------------------------------------------------------------------------------
// A delivery cut short

/// A relay that speaks just enough SMTP, but never answers the end of the data on its first
/// connection; later connections are answered `250 queued <n>` and their data kept.
async fn relay_that_stalls_once() -> (u16, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        for n in 0.. {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut io = BufReader::new(socket);
                io.write_all(b"220 fake\r\n").await.unwrap();
                let mut line = String::new();
                while io.read_line(&mut line).await.unwrap_or(0) > 0 {
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let answer = match verb.as_str() {
                        "EHLO" | "HELO" => "250 fake".to_string(),
                        "QUIT" => "221 bye".to_string(),
                        "DATA" => {
                            io.write_all(b"354 go\r\n").await.unwrap();
                            let mut data = String::new();
                            loop {
                                let mut l = String::new();
                                if io.read_line(&mut l).await.unwrap_or(0) == 0 || l == ".\r\n" {
                                    break;
                                }
                                data.push_str(&l);
                            }
                            if n == 0 {
                                std::future::pending::<()>().await;
                            }
                            tx.send(data).unwrap();
                            format!("250 queued {n}")
                        }
                        _ => "250 ok".to_string(),
                    };
                    io.write_all(format!("{answer}\r\n").as_bytes())
                        .await
                        .unwrap();
                    line.clear();
                }
            });
        }
    });
    (port, rx)
}

#[tokio::test]
async fn a_delivery_that_times_out_leaves_no_half_conversation_in_the_pool() {
    let (port, mut received) = relay_that_stalls_once().await;
    let m = mailer(SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        security: Security::None,
        username: None,
        password: None,
        timeout: Duration::from_millis(500),
        extra_root_der: None,
    });
    let e = m.send(&digest()).await.unwrap_err();
    assert!(matches!(e, MailError::Transient(_)), "{e:?}");
    tokio::task::yield_now().await;

    // The stalled connection is not reused: the second message goes out whole on a new one.
    let second = Outgoing {
        subject: "lần hai".into(),
        ..digest()
    };
    let reply = m.send(&second).await.unwrap();
    assert_eq!(reply, "250 queued 1");
    let data = received.recv().await.unwrap();
    assert!(data.contains("Subject: =?utf-8?"), "{data}");
    assert_eq!(data.matches("Message-ID:").count(), 1, "{data}");
}
