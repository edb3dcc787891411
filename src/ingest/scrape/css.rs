//! The CSS selectors of a source's rules ([`Css`]): compiled once, when the config is read
//! (`config` calls [`Css::parse`], so a bad selector is a config problem at its position), and
//! matched only here: the `scraper` selector inside never leaves the scrape module.

use scraper::Selector;

/// A CSS selector together with the text it came from (for display and errors).
#[derive(Debug, Clone)]
pub struct Css {
    text: String,
    selector: Selector,
}

/// Why a selector's text is not a [`Css`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CssError {
    #[error("empty CSS selector")]
    Empty,
    #[error("invalid CSS selector {text:?}: {reason}")]
    Invalid { text: String, reason: String },
}

impl Css {
    pub fn parse(text: &str) -> Result<Css, CssError> {
        if text.trim().is_empty() {
            return Err(CssError::Empty);
        }
        Selector::parse(text)
            .map(|selector| Css {
                text: text.to_string(),
                selector,
            })
            .map_err(|e| {
                // scraper words some errors as its own bug ("please report this"), over several
                // lines: keep the first line of anything else.
                let reason = e.to_string();
                let reason = match reason.lines().next() {
                    Some(line) if !reason.contains("report this") => line.to_string(),
                    _ => "not valid CSS selector syntax".to_string(),
                };
                CssError::Invalid {
                    text: text.to_string(),
                    reason,
                }
            })
    }

    /// The selector as written in the config.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The compiled selector, for matching inside the scrape module.
    pub(super) fn selector(&self) -> &Selector {
        &self.selector
    }
}
