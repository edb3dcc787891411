//! One story, one entry: the syndicated copies of an article (articles sharing a `story` id,
//! see the README's "Every article once") merged into one, for feeds, the index page and
//! digests alike. Pure.
//!
//! The rule, in one place: the first article of a story in input order leads it (callers pass
//! feeds newest first, so a feed's entry is the newest copy; a digest keeps the order its
//! window was read in); the story carries the sources and the topics of all its copies, each
//! once, in first-seen order; stories keep the order of their first article.

use std::collections::HashMap;

/// An article that may be one copy of a story.
pub trait Syndicated {
    /// Articles of one story share this id.
    fn story(&self) -> i64;
    /// The sources that carried it, in the order they first saw it.
    fn sources(&self) -> &[String];
    /// The topics it matches.
    fn topics(&self) -> &[String];
}

impl Syndicated for crate::store::StoredArticle {
    fn story(&self) -> i64 {
        self.story
    }
    fn sources(&self) -> &[String] {
        &self.sources
    }
    fn topics(&self) -> &[String] {
        &self.topics
    }
}

/// A story: its articles merged.
#[derive(Debug)]
pub struct Story<'a, A> {
    /// The first of its articles in input order.
    pub lead: &'a A,
    /// All its articles, in input order (the lead first).
    pub articles: Vec<&'a A>,
    /// The sources of all its articles, each once, in first-seen order.
    pub sources: Vec<&'a str>,
    /// The topics of all its articles, each once, in first-seen order.
    pub topics: Vec<&'a str>,
}

/// An article as a story of its own (a webhook posts each article as it comes).
pub fn alone<A: Syndicated>(a: &A) -> Story<'_, A> {
    let mut story = Story {
        lead: a,
        articles: vec![a],
        sources: Vec::new(),
        topics: Vec::new(),
    };
    union(&mut story.sources, a.sources());
    union(&mut story.topics, a.topics());
    story
}

/// `articles` merged into stories, in the order of each story's first article. The same
/// article passed twice (a digest reads one per topic) merges like a copy.
pub fn merge<A: Syndicated>(articles: &[A]) -> Vec<Story<'_, A>> {
    let mut stories: Vec<Story<'_, A>> = Vec::new();
    let mut index: HashMap<i64, usize> = HashMap::new();
    for a in articles {
        let i = *index.entry(a.story()).or_insert_with(|| {
            stories.push(Story {
                lead: a,
                articles: Vec::new(),
                sources: Vec::new(),
                topics: Vec::new(),
            });
            stories.len() - 1
        });
        let story = &mut stories[i];
        story.articles.push(a);
        union(&mut story.sources, a.sources());
        union(&mut story.topics, a.topics());
    }
    stories
}

/// Appends each of `new` that `into` does not hold yet.
fn union<'a>(into: &mut Vec<&'a str>, new: &'a [String]) {
    for s in new {
        if !into.contains(&s.as_str()) {
            into.push(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Copy {
        id: u32,
        story: i64,
        sources: Vec<String>,
        topics: Vec<String>,
    }

    impl Syndicated for Copy {
        fn story(&self) -> i64 {
            self.story
        }
        fn sources(&self) -> &[String] {
            &self.sources
        }
        fn topics(&self) -> &[String] {
            &self.topics
        }
    }

    fn strings(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    /// A copy: (id, story, sources, topics), lists space-separated.
    type Input = (u32, i64, &'static str, &'static str);
    /// A story: (lead id, ids of its articles, sources, topics), lists space-separated.
    type Merged = (u32, &'static [u32], &'static str, &'static str);

    #[track_caller]
    fn check(what: &str, input: &[Input], expected: &[Merged]) {
        let articles: Vec<Copy> = input
            .iter()
            .map(|&(id, story, sources, topics)| Copy {
                id,
                story,
                sources: strings(sources),
                topics: strings(topics),
            })
            .collect();
        let got: Vec<String> = merge(&articles)
            .iter()
            .map(|s| {
                let ids: Vec<u32> = s.articles.iter().map(|a| a.id).collect();
                format!(
                    "{} {ids:?} [{}] [{}]",
                    s.lead.id,
                    s.sources.join(" "),
                    s.topics.join(" ")
                )
            })
            .collect();
        let want: Vec<String> = expected
            .iter()
            .map(|(lead, ids, sources, topics)| format!("{lead} {ids:?} [{sources}] [{topics}]"))
            .collect();
        assert_eq!(got, want, "{what}");
    }

    #[test]
    fn copies_merge_into_their_first_article() {
        check("nothing", &[], &[]);
        check(
            "distinct stories keep their order",
            &[(1, 10, "nd", "dv"), (2, 20, "vov", "")],
            &[(1, &[1], "nd", "dv"), (2, &[2], "vov", "")],
        );
        check(
            "a copy joins the first article of its story, sources and topics united",
            &[
                (1, 10, "nd", "dv"),
                (2, 20, "vov", "xdd"),
                (3, 10, "qdnd nd", "xdd dv"),
            ],
            &[(1, &[1, 3], "nd qdnd", "dv xdd"), (2, &[2], "vov", "xdd")],
        );
        check(
            "the same article twice (once per topic) is one entry",
            &[(7, 70, "nd", "dv"), (7, 70, "nd", "xdd")],
            &[(7, &[7, 7], "nd", "dv xdd")],
        );
        check(
            "a later article never leads",
            &[(5, 1, "", ""), (4, 1, "a", "t"), (3, 1, "b", "t")],
            &[(5, &[5, 4, 3], "a b", "t")],
        );
    }
}
