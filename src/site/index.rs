//! The index page: every topic with its feeds and newest stories, the newest stories of all
//! sources, and each source's health. A minijinja template (`index.html`, built in); its feed
//! links come from [`Format::ALL`] and [`paths`], so a new format or path shows here by itself.

use chrono::Utc;
use minijinja::Value;

use super::feeds::newest_stories;
use super::paths::{self, Links};
use super::Scope;
use crate::config::Config;
use crate::publish::Format;
use crate::store::{ArticleQuery, SourceHealth, Store, StoreError, StoredArticle};
use crate::stories::Story;

const TEMPLATE: &str = include_str!("index.html");
/// Stories listed under each topic, and in "Mới nhất".
const TOPIC_STORIES: usize = 5;
const LATEST_STORIES: usize = 10;

/// Why the page could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("index template: {0}")]
    Template(#[from] minijinja::Error),
}

/// The page, for the running server ([`Links::Live`]) or for exported files.
pub fn render(config: &Config, store: &Store, links: Links) -> Result<String, IndexError> {
    let name_of = |id: &str| {
        config
            .source(id)
            .map(|s| s.name.clone())
            .unwrap_or_else(|| id.to_owned())
    };
    let display = |s: &Story<'_, StoredArticle>| IndexArticle {
        title: s.lead.title.clone(),
        url: s.lead.url.clone(),
        when: s
            .lead
            .published
            .with_timezone(&chrono_tz::Asia::Ho_Chi_Minh)
            .format("%H:%M %d/%m/%Y")
            .to_string(),
        sources: s
            .sources
            .iter()
            .map(|id| name_of(id))
            .collect::<Vec<_>>()
            .join(", "),
    };
    let mut topics = Vec::new();
    for (id, name) in config.topics.topics() {
        let q = ArticleQuery {
            topic: Some(id.to_string()),
            ..Default::default()
        };
        let articles = newest_stories(store, q, TOPIC_STORIES, &display)?;
        topics.push(minijinja::context! {
            id, name,
            feeds => feed_links(&Scope::Topic(id.to_string()), links),
            articles,
        });
    }
    let latest = newest_stories(store, ArticleQuery::default(), LATEST_STORIES, &display)?;
    let ids: Vec<String> = config.sources.iter().map(|s| s.id.clone()).collect();
    let states = store.source_states(&ids)?;
    let now = Utc::now();
    let sources: Vec<_> = config
        .sources
        .iter()
        .map(|s| {
            let st = states.iter().find(|x| x.id == s.id);
            let health = st.map(|x| x.health).unwrap_or(SourceHealth::Pending);
            minijinja::context! {
                id => s.id, name => s.name, url => s.url.to_string(),
                state => health.as_str(),
                state_vi => match health {
                    SourceHealth::Pending => "chưa lấy",
                    SourceHealth::Ok => "tốt",
                    SourceHealth::Failing => "đang lỗi",
                    SourceHealth::Gone => "đã ngừng",
                    SourceHealth::Empty => "trống",
                },
                last_success => st.and_then(|x| x.last_success).map(|t| t.with_timezone(&chrono_tz::Asia::Ho_Chi_Minh).format("%H:%M %d/%m").to_string()),
                last_error => st.and_then(|x| x.last_error.clone()),
                articles => st.map(|x| x.articles).unwrap_or(0),
                stale_days => st.and_then(|x| x.stale_days(now, config.poll.stale_days)),
                feeds => paths::feed(&Scope::Source(s.id.clone()), Format::DEFAULT, links),
            }
        })
        .collect();
    let mut env = minijinja::Environment::new();
    // Autoescaping follows the template name: ".html" escapes every value.
    env.add_template("index.html", TEMPLATE)?;
    let page = env
        .get_template("index.html")?
        .render(minijinja::context! {
            base => config.http.public_url.to_string(),
            merged => feed_links(&Scope::All, links),
            opml => paths::SOURCES_OPML,
            topics, latest, sources,
        })?;
    Ok(page)
}

/// One link per format to the feed of `scope`.
fn feed_links(scope: &Scope, links: Links) -> Vec<Value> {
    Format::ALL
        .into_iter()
        .map(|format| {
            minijinja::context! {
                // A constant of ours with no markup, written as is (autoescaping would turn its
                // `/` into `&#x2f;`).
                type => Value::from_safe_string(format.media_type().to_owned()),
                label => format.label(),
                href => paths::feed(scope, format, links),
            }
        })
        .collect()
}

#[derive(serde::Serialize)]
struct IndexArticle {
    title: String,
    url: Option<String>,
    when: String,
    sources: String,
}
