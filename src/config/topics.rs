//! The topics file (`topics.toml`): `[[topics]]`, read and compiled into one [`Matcher`].
//!
//! Keys of a topic: `id` (a slug, unique), `name`, the phrase lists `any`, `all`, `none`,
//! `ignore` and `regex`, `fields` (`"title"`, `"summary"`, `"content"`) and `sources` (source
//! ids or `"tag:NAME"`, checked against the main file's sources). The matcher's own compile
//! errors (an empty phrase, a bad regex) are pointed back at the phrase that caused them.

use std::ops::Range;
use std::path::Path;

use toml::Spanned;

use super::reader::{is_slug, parse_toml, suggest, Problem, Reporter, Section};
use super::Source;
use crate::topics::{Field, Matcher, Role, SourceFilter, TopicSpec};

const TOPIC_KEYS: &[&str] = &[
    "id", "name", "any", "all", "none", "ignore", "regex", "fields", "sources",
];

/// Reads `[[topics]]` and compiles them; None when anything is wrong (reported in `problems`).
pub(super) fn parse_topics(
    path: &Path,
    text: &str,
    sources: &[Source],
    problems: &mut Vec<Problem>,
) -> Option<Matcher> {
    let mut r = Reporter::new(path, text);
    let table = parse_toml(&mut r, text);
    let root = Section::new(table.get_ref(), table.span(), "");
    let mut specs = Vec::new();
    // Where each phrase of each topic is, to point compile errors at it.
    let mut spans: Vec<Vec<(Role, Vec<Range<usize>>)>> = Vec::new();
    let mut seen: Vec<(String, usize)> = Vec::new();
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
    matcher.filter(|_| ok)
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
    fn an_explicit_topics_file_must_exist() {
        let got = load_pair(&format!("topics_file = \"elsewhere.toml\"\n{MAIN}"), "").unwrap_err();
        assert!(
            got[0].starts_with("elsewhere.toml:1:1: cannot read config file"),
            "{got:?}"
        );
    }
}
