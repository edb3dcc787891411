//! Admin alerts: an admin hears when a source turns failing, gone or stale, when a list or
//! sitemap source yields far fewer items than usual, when a digest fails for good, and again
//! when each recovers, without watching logs.
//!
//! A round ([`round`], run by the daemon with each digest round) works out every configured
//! source's condition from its stored state ([`source_condition`], pure), stores it, and says
//! what changed: one mail per round to each `[alerts] email` address through the digests'
//! outbox (so a dead SMTP server delays alerts, never loses them), and a JSON POST per alert
//! to `[alerts] webhook` through the webhook outbox. Digests' conditions are
//! written where they are delivered or fail ([`Store::mark_sent`], [`Store::mark_failed`]).
//!
//! Invariants: a subject (a source, a subscriber's digests) is said at most once a day
//! ([`crate::store::ALERT_EVERY`]); what is said is the condition that holds when it is said, so
//! a source that fails and recovers within the day is not reported twice, and one that fails
//! again before its recovery was told is not reported again. Alerts are recorded (and listed by
//! `bantin alerts`) with or without anyone to send them to.

use chrono::{DateTime, Utc};

use crate::config::{Alerts, Config, Source, SourceKind};
use crate::mail::{self, MailError, Outgoing};
use crate::postman;
use crate::store::{
    AlertMail, AlertPost, AlertRecord, AlertState, Condition, NewAlert, SourceHealth, SourceState,
    Store, StoreError,
};

/// Fewer usual items than this and a drop is not told apart from a quiet day.
const MIN_USUAL_ITEMS: f64 = 4.0;
/// An email subject names the alerts it carries up to about this many characters.
const SUBJECT_CHARS: usize = 110;

/// What a subject's condition is called in `alert_state`, the alerts and the webhook.
pub const OK: &str = "ok";
pub const FAILING: &str = "failing";
pub const GONE: &str = "gone";
pub const STALE: &str = "stale";
pub const FEWER: &str = "fewer";
pub const DIGEST_FAILED: &str = "digest-failed";

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("alert mail to {to} cannot be built: {error}")]
    Mail { to: String, error: MailError },
}

/// The subject naming a source.
pub fn source_subject(id: &str) -> String {
    format!("source:{id}")
}

/// A configured source's condition, from its stored state: gone; failing after `[alerts]
/// failures` failed polls in a row; stale after `[poll] stale_days` with nothing new; a list or
/// sitemap source whose last read yielded fewer than `[alerts] fewer_than` of its usual items
/// (its selectors or its sitemap broke); else ok. A source not polled yet is ok.
pub fn source_condition(
    state: &SourceState,
    source: &Source,
    alerts: &Alerts,
    stale_days: u32,
    now: DateTime<Utc>,
) -> Condition {
    let error = || state.last_error.clone().unwrap_or_default();
    let (condition, detail) = match state.health {
        SourceHealth::Gone => (GONE, Some(error())),
        SourceHealth::Failing if state.failures >= alerts.failures => (
            FAILING,
            Some(match state.failures {
                1 => format!("its last poll failed: {}", error()),
                n => format!("{n} polls in a row failed; the last: {}", error()),
            }),
        ),
        _ => match state.stale_days(now, stale_days) {
            Some(days) => (STALE, Some(format!("nothing new for {days} days"))),
            None => match fewer(state, source, alerts) {
                Some(detail) => (FEWER, Some(detail)),
                None => (OK, None),
            },
        },
    };
    Condition {
        subject: source_subject(&source.id),
        condition: condition.to_owned(),
        detail,
    }
}

/// "3 items where it usually yields 20", when a list or sitemap source's last read yielded
/// far fewer items than usual.
fn fewer(state: &SourceState, source: &Source, alerts: &Alerts) -> Option<String> {
    if matches!(source.kind, SourceKind::Feed { .. }) || state.health != SourceHealth::Ok {
        return None;
    }
    let (items, usual) = (state.items?, state.usual_items?);
    (usual >= MIN_USUAL_ITEMS && f64::from(items) < usual * alerts.fewer_than).then(|| {
        format!(
            "{items} items where it usually yields {}",
            usual.round() as u64
        )
    })
}

/// What an alert says of `state`'s change, in one line.
pub fn message(state: &AlertState, config: &Config) -> String {
    let who = describe(&state.subject, config);
    let detail = state.detail.as_deref().unwrap_or("");
    match state.condition.as_str() {
        OK => format!("{who} recovered (it was {})", plain(&state.reported)),
        FAILING => format!("{who} is failing: {detail}"),
        GONE => format!("{who} is gone (not polled again until its entry changes): {detail}"),
        STALE => format!("{who} is stale: {detail}"),
        FEWER => format!("{who} yields far fewer items than usual: {detail}"),
        DIGEST_FAILED => format!("{who} failed for good: {detail}"),
        other => format!("{who} is {other}: {detail}"),
    }
}

/// A condition in words.
fn plain(condition: &str) -> &str {
    match condition {
        FEWER => "yielding far fewer items",
        DIGEST_FAILED => "failing",
        other => other,
    }
}

/// "source nhan-dan (Nhân Dân)", "the digests to hoa@example.vn".
fn describe(subject: &str, config: &Config) -> String {
    match subject.split_once(':') {
        Some(("source", id)) => match config.source(id) {
            Some(s) if s.name != s.id => format!("source {id} ({})", s.name),
            _ => format!("source {id}"),
        },
        Some(("digest", email)) => format!("the digests to {email}"),
        _ => subject.to_owned(),
    }
}

/// The mail carrying `alerts` to `to`, as the outbox keeps it.
pub fn mail(
    alerts: &[NewAlert],
    to: &str,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<AlertMail, MailError> {
    let mut subject = match alerts {
        [one] => format!("bantin: {}", one.message),
        _ => {
            format!("bantin: {} alerts: ", alerts.len())
                + &alerts.iter().map(short).collect::<Vec<_>>().join("; ")
        }
    };
    if subject.chars().count() > SUBJECT_CHARS {
        subject = subject.chars().take(SUBJECT_CHARS - 1).collect::<String>() + "…";
    }
    let mut text = String::new();
    for a in alerts {
        text.push_str("- ");
        text.push_str(&a.message);
        text.push('\n');
    }
    let footer = format!(
        "\nAt {} (UTC), from bantin at {}.\n`bantin sources` shows every source's state, `bantin alerts` every alert.\nAn alert is sent at most once a day for each source or subscriber; a change within the day is told the day after, if it still holds.\n",
        now.format("%Y-%m-%d %H:%M"),
        config.http.public_url
    );
    let html = html(alerts, &footer);
    text.push_str(&footer);
    let out = Outgoing {
        from: config.mail.from.clone(),
        reply_to: config.mail.reply_to.clone(),
        to: to.to_owned(),
        subject: subject.clone(),
        text,
        html,
        message_id: postman::message_id_of("alert", to, now, &config.mail.from),
        date: now,
        unsubscribe_url: None,
        unsubscribe_mailto: None,
    };
    let built = mail::Built::of(&out)?;
    Ok(AlertMail {
        email: to.to_owned(),
        message_id: out.message_id,
        subject,
        message: postman::stored_built(&built),
    })
}

/// The HTML part: the alerts as a list, then `footer`.
fn html(alerts: &[NewAlert], footer: &str) -> String {
    format!(
        "<ul>\n{}</ul>\n<p>{}</p>\n",
        alerts
            .iter()
            .map(|a| format!("<li>{}</li>\n", html_escape::encode_text(&a.message)))
            .collect::<String>(),
        html_escape::encode_text(footer.trim()).replace('\n', "<br>\n")
    )
}

/// "nhan-dan failing", "hoa@example.vn recovered": an alert in a few words.
fn short(a: &NewAlert) -> String {
    let id = a.subject.split_once(':').map_or(&*a.subject, |(_, id)| id);
    match a.condition.as_str() {
        OK => format!("{id} recovered"),
        c => format!("{id} {}", plain(c)),
    }
}

/// What `[alerts] webhook` gets for the change of `state`: a JSON object.
fn post_body(state: &AlertState, message: &str, now: DateTime<Utc>) -> Vec<u8> {
    let (kind, id) = state
        .subject
        .split_once(':')
        .unwrap_or((&state.subject, ""));
    let body = serde_json::json!({
        "at": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "subject": state.subject,
        "source": (kind == "source").then_some(id),
        "subscriber": (kind == "digest").then_some(id),
        "condition": state.condition,
        "was": state.reported,
        "since": state.since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "detail": state.detail,
        "message": message,
    });
    body.to_string().into_bytes()
}

/// Every configured source's condition at `now`, from what is stored of it.
pub fn source_conditions(
    config: &Config,
    store: &Store,
    now: DateTime<Utc>,
) -> Result<Vec<Condition>, StoreError> {
    let ids: Vec<String> = config.sources.iter().map(|s| s.id.clone()).collect();
    Ok(store
        .source_states(&ids)?
        .iter()
        .filter_map(|state| {
            let source = config.source(&state.id)?;
            Some(source_condition(
                state,
                source,
                &config.alerts,
                config.poll.stale_days,
                now,
            ))
        })
        .collect())
}

/// One round: the sources' conditions worked out and stored, then every change due said:
/// recorded, logged and queued for the configured recipients. Returns the alerts said.
pub fn round(
    config: &Config,
    store: &Store,
    now: DateTime<Utc>,
) -> Result<Vec<AlertRecord>, AlertError> {
    store.set_source_conditions(&source_conditions(config, store, now)?, now)?;
    let due = store.due_alerts(now)?;
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let alerts: Vec<NewAlert> = due
        .iter()
        .map(|d| {
            let message = message(d, config);
            NewAlert {
                subject: d.subject.clone(),
                condition: d.condition.clone(),
                was: d.reported.clone(),
                post: config.alerts.webhook.as_ref().map(|url| AlertPost {
                    endpoint: url.to_string(),
                    body: post_body(d, &message, now),
                }),
                message,
            }
        })
        .collect();
    let mut mails = Vec::new();
    for to in &config.alerts.email {
        mails.push(
            mail(&alerts, to, config, now).map_err(|error| AlertError::Mail {
                to: to.clone(),
                error,
            })?,
        );
    }
    let said = store.record_alerts(&alerts, &mails, now)?;
    for a in &said {
        if a.condition == OK {
            tracing::info!(subject = %a.subject, "alert: {}", a.message);
        } else {
            tracing::warn!(subject = %a.subject, "alert: {}", a.message);
        }
    }
    Ok(said)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::config;

    fn config() -> Config {
        config::parse(
            Path::new("b.toml"),
            "[mail]\nfrom = \"Bản tin <tin@bantin.example.vn>\"\n[alerts]\nemail = [\"admin@example.vn\"]\n\n[[sources]]\nid = \"nhan-dan\"\nname = \"Nhân Dân\"\nurl = \"https://nhandan.vn/rss\"\n\n[[sources]]\nid = \"portal\"\nurl = \"https://tinh.gov.vn/tin\"\nkind = \"html\"\n[sources.list]\nitem = \"div.news\"\nlink = \"a\"\n",
        )
        .unwrap()
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, 8, 0, 0).unwrap()
    }

    fn state(id: &str, health: SourceHealth, failures: u32) -> SourceState {
        SourceState {
            id: id.into(),
            current_url: String::new(),
            etag: None,
            last_modified: None,
            health,
            last_attempt: Some(now()),
            last_success: Some(now()),
            last_error: (health != SourceHealth::Ok).then(|| "HTTP 503".to_string()),
            failures,
            next_poll: None,
            articles: 10,
            last_new: Some(now() - Duration::hours(1)),
            first_attempt: Some(now() - Duration::days(30)),
            last_note: None,
            items: Some(20),
            usual_items: Some(20.0),
        }
    }

    fn condition_of(s: &SourceState, id: &str) -> (String, Option<String>) {
        let c = config();
        let source = c.source(id).unwrap();
        let got = source_condition(s, source, &c.alerts, c.poll.stale_days, now());
        (got.condition, got.detail)
    }

    #[test]
    fn one_failure_is_not_news_three_are() {
        let failing = |n| condition_of(&state("nhan-dan", SourceHealth::Failing, n), "nhan-dan");
        assert_eq!(failing(2).0, OK);
        assert_eq!(
            failing(3),
            (
                FAILING.to_string(),
                Some("3 polls in a row failed; the last: HTTP 503".into())
            )
        );
        let gone = condition_of(&state("nhan-dan", SourceHealth::Gone, 1), "nhan-dan");
        assert_eq!(gone.0, GONE);
    }

    #[test]
    fn quiet_sources_turn_stale_after_the_configured_days() {
        let mut s = state("nhan-dan", SourceHealth::Ok, 0);
        s.last_new = Some(now() - Duration::days(2));
        assert_eq!(condition_of(&s, "nhan-dan").0, OK);
        s.last_new = Some(now() - Duration::days(30));
        assert_eq!(
            condition_of(&s, "nhan-dan"),
            (STALE.to_string(), Some("nothing new for 30 days".into()))
        );
    }

    #[test]
    fn a_list_page_yielding_far_fewer_items_is_reported_a_feed_is_not() {
        let mut s = state("portal", SourceHealth::Ok, 0);
        s.items = Some(4);
        assert_eq!(
            condition_of(&s, "portal"),
            (
                FEWER.to_string(),
                Some("4 items where it usually yields 20".into())
            )
        );
        s.items = Some(5);
        assert_eq!(condition_of(&s, "portal").0, OK, "a quarter is the line");
        s.items = Some(1);
        s.usual_items = Some(3.0);
        assert_eq!(condition_of(&s, "portal").0, OK, "too few usually to tell");
        let mut feed = state("nhan-dan", SourceHealth::Ok, 0);
        feed.items = Some(1);
        assert_eq!(condition_of(&feed, "nhan-dan").0, OK);
    }

    #[test]
    fn messages_name_the_source_and_what_changed() {
        let c = config();
        let st = |condition: &str, reported: &str, detail: Option<&str>| AlertState {
            subject: "source:nhan-dan".into(),
            condition: condition.into(),
            detail: detail.map(Into::into),
            since: now(),
            reported: reported.into(),
            reported_at: None,
        };
        assert_eq!(
            message(
                &st(
                    FAILING,
                    OK,
                    Some("3 polls in a row failed; the last: HTTP 503")
                ),
                &c
            ),
            "source nhan-dan (Nhân Dân) is failing: 3 polls in a row failed; the last: HTTP 503"
        );
        assert_eq!(
            message(&st(OK, FEWER, None), &c),
            "source nhan-dan (Nhân Dân) recovered (it was yielding far fewer items)"
        );
        let digest = AlertState {
            subject: "digest:hoa@example.vn".into(),
            ..st(DIGEST_FAILED, OK, Some("550 no such user"))
        };
        assert_eq!(
            message(&digest, &c),
            "the digests to hoa@example.vn failed for good: 550 no such user"
        );
    }

    #[test]
    fn one_mail_carries_every_alert_of_a_round() {
        let c = config();
        let alert = |subject: &str, condition: &str, message: &str| NewAlert {
            subject: subject.into(),
            condition: condition.into(),
            was: OK.into(),
            message: message.into(),
            post: None,
        };
        let alerts = [
            alert(
                "source:nhan-dan",
                FAILING,
                "source nhan-dan is failing: <HTTP 503>",
            ),
            alert(
                "source:portal",
                FEWER,
                "source portal yields far fewer items than usual",
            ),
        ];
        let m = mail(&alerts, "admin@example.vn", &c, now()).unwrap();
        assert_eq!(
            m.subject,
            "bantin: 2 alerts: nhan-dan failing; portal yielding far fewer items"
        );
        assert!(m.message_id.starts_with("alert."), "{}", m.message_id);
        assert!(
            m.message_id.ends_with("@bantin.example.vn"),
            "{}",
            m.message_id
        );
        assert!(
            m.message.starts_with(b"bantin-message/2\n"),
            "stored as built"
        );
        assert!(html(&alerts, "").contains("<li>source nhan-dan is failing: &lt;HTTP 503&gt;</li>"));
        let one = mail(&alerts[..1], "admin@example.vn", &c, now()).unwrap();
        assert_eq!(
            one.subject,
            "bantin: source nhan-dan is failing: <HTTP 503>"
        );
    }
}
