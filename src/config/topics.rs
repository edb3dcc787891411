//! The topics file (`topics.toml`): `[[topics]]`, read and compiled into one [`Matcher`].
//!
//! Keys of a topic: `id` (a slug, unique), `name`, the phrase lists `any`, `all`, `none`,
//! `ignore` and `regex`, `fields` (`"title"`, `"summary"`, `"content"`) and `sources` (source
//! ids or `"tag:NAME"`, checked against the main file's sources). The matcher's own compile
//! errors (an empty phrase, a bad regex) are pointed back at the phrase that caused them.
//!
//! A topic's webhook ([`TopicWebhook`]): `webhook` (an http(s) URL each newly matched article
//! is POSTed to), `webhook_secret_file` (the file holding the key its POSTs are signed with;
//! like SMTP passwords, never the secret itself) and `webhook_timeout` (per request).

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;
use url::Url;

use super::reader::{is_slug, parse_toml, suggest, Problem, Reporter, Section};
use super::Source;
use crate::topics::{Field, Matcher, Role, SourceFilter, TopicSpec};

const TOPIC_KEYS: &[&str] = &[
    "id",
    "name",
    "any",
    "all",
    "none",
    "ignore",
    "regex",
    "fields",
    "sources",
    "webhook",
    "webhook_secret_file",
    "webhook_secret",
    "webhook_timeout",
];

/// How long one POST to a webhook may take unless `webhook_timeout` says otherwise.
pub const DEFAULT_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);
const WEBHOOK_TIMEOUTS: std::ops::RangeInclusive<Duration> =
    Duration::from_secs(1)..=Duration::from_secs(120);

/// A topic's webhook, validated: where its newly matched articles are POSTed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicWebhook {
    pub topic: String,
    pub url: Url,
    /// The file holding the HMAC-SHA256 key (read when sending, `$CREDENTIALS_DIRECTORY`
    /// expanded); None: POSTs are not signed.
    pub secret_file: Option<PathBuf>,
    /// The most one POST may take.
    pub timeout: Duration,
}

/// The topics file, read: the compiled topics and their webhooks.
pub(super) struct Topics {
    pub matcher: Matcher,
    pub webhooks: Vec<TopicWebhook>,
}

/// Reads `[[topics]]` and compiles them; None when anything is wrong (reported in `problems`).
pub(super) fn parse_topics(
    path: &Path,
    text: &str,
    sources: &[Source],
    problems: &mut Vec<Problem>,
) -> Option<Topics> {
    let mut r = Reporter::new(path, text);
    let table = parse_toml(&mut r, text);
    let root = Section::new(table.get_ref(), table.span(), "");
    let mut specs = Vec::new();
    // Where each phrase of each topic is, to point compile errors at it.
    let mut spans: Vec<Vec<(Role, Vec<Range<usize>>)>> = Vec::new();
    let mut seen: Vec<(String, usize)> = Vec::new();
    let mut webhooks = Vec::new();
    for t in root.array_of_tables(&mut r, "topics") {
        let mut spec = TopicSpec::default();
        let mut where_: Vec<(Role, Vec<Range<usize>>)> = Vec::new();
        match t.string(&mut r, "id") {
            Some(id) => {
                if !is_slug(id.get_ref()) {
                    r.at(
                        id.span(),
                        format!(
                            "topic id {:?} must be a slug: lower-case letters a-z, digits and '-'",
                            id.get_ref()
                        ),
                    );
                }
                if let Some((_, line)) = seen.iter().find(|(s, _)| s == id.get_ref()) {
                    r.at(
                        id.span(),
                        format!(
                            "duplicate topic id {:?} (first defined on line {line})",
                            id.get_ref()
                        ),
                    );
                }
                seen.push((id.get_ref().clone(), r.line_col(id.span().start).0));
                spec.id = id.into_inner();
            }
            None => r.at(
                t.span.start..t.span.start,
                "topic is missing required key `id`".into(),
            ),
        }
        spec.name = t
            .string(&mut r, "name")
            .map(Spanned::into_inner)
            .unwrap_or_else(|| spec.id.clone());
        for (role, key) in [
            (Role::Any, "any"),
            (Role::All, "all"),
            (Role::None, "none"),
            (Role::Ignore, "ignore"),
            (Role::Regex, "regex"),
        ] {
            let items = t.spanned_strings(&mut r, key).unwrap_or_default();
            where_.push((role, items.iter().map(|s| s.span()).collect()));
            let values = items.into_iter().map(Spanned::into_inner).collect();
            match role {
                Role::Any => spec.any = values,
                Role::All => spec.all = values,
                Role::None => spec.none = values,
                Role::Ignore => spec.ignore = values,
                Role::Regex => spec.regex = values,
            }
        }
        for f in t.spanned_strings(&mut r, "fields").unwrap_or_default() {
            match Field::parse(f.get_ref()) {
                Some(field) => spec.fields.push(field),
                None => r.at(
                    f.span(),
                    format!(
                        "unknown field {:?} (fields are \"title\", \"summary\", \"content\")",
                        f.get_ref()
                    ),
                ),
            }
        }
        for s in t.spanned_strings(&mut r, "sources").unwrap_or_default() {
            let v = s.get_ref();
            match v.strip_prefix("tag:") {
                Some(tag) if sources.iter().any(|src| src.tags.iter().any(|x| x == tag)) => {
                    spec.sources.push(SourceFilter::Tag(tag.to_string()))
                }
                Some(tag) => r.at(s.span(), format!("no source has the tag {tag:?}")),
                None if sources.iter().any(|src| src.id == *v) => {
                    spec.sources.push(SourceFilter::Source(v.clone()))
                }
                None => {
                    let ids: Vec<&str> = sources.iter().map(|s| s.id.as_str()).collect();
                    let hint = suggest(v, &ids)
                        .map(|c| format!(", did you mean {c:?}?"))
                        .unwrap_or_default();
                    r.at(
                        s.span(),
                        format!("unknown source {v:?}{hint} (use a source id, or \"tag:NAME\")"),
                    )
                }
            }
        }
        if let Some(hook) = read_webhook(&mut r, &t, &spec.id) {
            webhooks.push(hook);
        }
        t.finish(&mut r, TOPIC_KEYS);
        spans.push(where_);
        specs.push((spec, t.span.clone()));
    }
    root.finish(&mut r, &["topics"]);
    let topic_spans: Vec<Range<usize>> = specs.iter().map(|(_, s)| s.clone()).collect();
    let matcher = match Matcher::compile(specs.into_iter().map(|(s, _)| s).collect()) {
        Ok(m) => Some(m),
        Err(errors) => {
            for e in errors {
                let span = spans
                    .get(e.topic)
                    .and_then(|m| m.iter().find(|(role, _)| *role == e.role))
                    .and_then(|(_, v)| v.get(e.index))
                    .cloned()
                    .or_else(|| topic_spans.get(e.topic).map(|s| s.start..s.start))
                    .unwrap_or(0..0);
                r.at(span, e.message);
            }
            None
        }
    };
    let ok = !r.has_problems();
    problems.extend(r.into_problems());
    matcher
        .filter(|_| ok)
        .map(|matcher| Topics { matcher, webhooks })
}

/// A topic's `webhook` and the keys that go with it; None without one.
fn read_webhook(r: &mut Reporter, t: &Section, topic: &str) -> Option<TopicWebhook> {
    if let Some(s) = t.string(r, "webhook_secret") {
        r.at(
            s.span(),
            format!(
                "`{}`: secrets are never written in the config; put it in a file named by `webhook_secret_file`",
                t.dotted("webhook_secret")
            ),
        );
    }
    let secret_file = t.string(r, "webhook_secret_file");
    let timeout = t.duration_in(r, "webhook_timeout", WEBHOOK_TIMEOUTS);
    let Some(url) = t.url(r, "webhook") else {
        if !t.has("webhook") {
            for key in ["webhook_secret_file", "webhook_timeout"] {
                if t.has(key) {
                    r.at(
                        t.key_span(key),
                        format!("`{}` without `webhook`", t.dotted(key)),
                    );
                }
            }
        }
        return None;
    };
    if !url.username().is_empty() || url.password().is_some() {
        r.at(
            t.get("webhook").map(|v| v.span()).unwrap_or(0..0),
            format!(
                "`{}`: no credentials in the URL; the receiver checks the signature",
                t.dotted("webhook")
            ),
        );
        return None;
    }
    Some(TopicWebhook {
        topic: topic.to_string(),
        url,
        secret_file: secret_file.map(|f| PathBuf::from(f.into_inner())),
        timeout: timeout.unwrap_or(DEFAULT_WEBHOOK_TIMEOUT),
    })
}

#[cfg(test)]
mod tests {
    use crate::config::tests::load_files;
    use crate::config::Config;

    fn load_pair(main: &str, topics: &str) -> Result<Config, Vec<String>> {
        load_files(&[("bantin.toml", main), ("topics.toml", topics)])
    }

    const MAIN: &str =
        "[[sources]]\nid = \"nhandan\"\nurl = \"https://nhandan.vn/rss\"\ntags = [\"dang\"]\n";

    #[test]
    fn topics_beside_the_main_file_are_loaded() {
        let c = load_pair(MAIN, "[[topics]]\nid = \"dan-van\"\nname = \"Dân vận\"\nany = [\"dân vận\"]\nsources = [\"tag:dang\", \"nhandan\"]\n").unwrap();
        let topics: Vec<(&str, &str)> = c.topics.topics().collect();
        assert_eq!(topics, vec![("dan-van", "Dân vận")]);
        assert_eq!(c.rematch_days, 30);
        assert!(c.topics_path.unwrap().ends_with("topics.toml"));
    }

    #[test]
    fn every_topic_problem_is_reported_with_position() {
        let got = load_pair(
            MAIN,
            "[[topics]]\nid = \"dan-van\"\nany = [\"dân vận\", \"  \"]\nignor = [\"x\"]\nfields = [\"body\"]\nsources = [\"nhandam\", \"tag:none\"]\nregex = [\"(\"]\n[[topics]]\nid = \"dan-van\"\nname = \"Trống\"\n",
        )
        .unwrap_err();
        let expected = [
            "topics.toml:3:19: phrase \"  \" is empty after normalization",
            "topics.toml:4:1: unknown key `topics[0].ignor`, did you mean `ignore`?",
            "topics.toml:5:11: unknown field \"body\"",
            "topics.toml:6:12: unknown source \"nhandam\", did you mean \"nhandan\"?",
            "topics.toml:6:23: no source has the tag \"none\"",
            "topics.toml:7:10: ",
            "topics.toml:9:6: duplicate topic id \"dan-van\" (first defined on line 2)",
        ];
        for e in expected {
            assert!(
                got.iter().any(|g| g.starts_with(e)),
                "missing {e:?} in {got:#?}"
            );
        }
        assert!(
            got.iter().any(|g| g.contains("nothing to match")),
            "{got:#?}"
        );
    }

    #[test]
    fn a_topics_webhook_is_read_with_its_secret_file_and_timeout() {
        let c = load_pair(
            MAIN,
            "[[topics]]\nid = \"dan-van\"\nany = [\"dân vận\"]\nwebhook = \"https://hooks.example.vn/bantin\"\nwebhook_secret_file = \"/etc/bantin/hook.secret\"\nwebhook_timeout = \"5s\"\n[[topics]]\nid = \"kinh-te\"\nany = [\"kinh tế\"]\n",
        )
        .unwrap();
        assert_eq!(
            c.webhooks,
            [crate::config::TopicWebhook {
                topic: "dan-van".into(),
                url: url::Url::parse("https://hooks.example.vn/bantin").unwrap(),
                secret_file: Some("/etc/bantin/hook.secret".into()),
                timeout: std::time::Duration::from_secs(5),
            }]
        );
    }

    #[test]
    fn every_webhook_problem_is_reported_and_no_secret_is_echoed() {
        let got = load_pair(
            MAIN,
            "[[topics]]\nid = \"a\"\nany = [\"x\"]\nwebhook = \"ftp://hooks.example.vn\"\n[[topics]]\nid = \"b\"\nany = [\"x\"]\nwebhook_secret_file = \"/s\"\n[[topics]]\nid = \"c\"\nany = [\"x\"]\nwebhook = \"https://u:p@hooks.example.vn\"\nwebhook_secret = \"hunter2\"\nwebhook_timeout = \"1h\"\n",
        )
        .unwrap_err();
        let expected = [
            "topics.toml:4:11: `topics[0].webhook`: \"ftp://hooks.example.vn\" is not an http(s) URL",
            "topics.toml:8:1: `topics[1].webhook_secret_file` without `webhook`",
            "topics.toml:13:18: `topics[2].webhook_secret`: secrets are never written in the config",
            "topics.toml:14:19: `topics[2].webhook_timeout` must be between 1s and 2m",
            "topics.toml:12:11: `topics[2].webhook`: no credentials in the URL",
        ];
        for e in expected {
            assert!(
                got.iter().any(|g| g.starts_with(e)),
                "missing {e:?} in {got:#?}"
            );
        }
        assert_eq!(got.len(), expected.len(), "{got:#?}");
        assert!(
            !got.iter().any(|g| g.contains("hunter2")),
            "the secret is never echoed: {got:#?}"
        );
    }

    #[test]
    fn an_explicit_topics_file_must_exist() {
        let got = load_pair(&format!("topics_file = \"elsewhere.toml\"\n{MAIN}"), "").unwrap_err();
        assert!(
            got[0].starts_with("elsewhere.toml:1:1: cannot read config file"),
            "{got:?}"
        );
    }
}
