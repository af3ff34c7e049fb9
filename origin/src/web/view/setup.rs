//! Project settings as the settings page shows them: DSNs built the way the API builds them
//! (`scheme://public_key@host/project_id`, the host being where SDKs send, i.e. the edge),
//! copy-paste SDK set-up snippets with the real DSN, and quotas and filters as plain rows.

use crate::model::{FilterSettings, ProjectKey, Quota};

/// A key's DSN: `base` is where SDKs send (`http://edge:8787`).
pub fn dsn(base: &str, key: &ProjectKey) -> String {
    let (scheme, host) = base.trim_end_matches('/').split_once("://").unwrap_or(("http", base));
    format!("{scheme}://{}@{host}/{}", key.public_key, key.project_id)
}

/// A titled block of code to copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snippet {
    pub title: &'static str,
    pub install: &'static str,
    pub code: String,
}

/// Set-up for Python, JavaScript (browser and Node) and Rust, with `dsn` filled in.
pub fn snippets(dsn: &str) -> Vec<Snippet> {
    let quoted = serde_json::to_string(dsn).unwrap_or_default();
    vec![
        Snippet {
            title: "Python",
            install: "pip install sentry-sdk",
            code: format!("import sentry_sdk\n\nsentry_sdk.init(\n    dsn={quoted},\n    send_default_pii=False,\n)\n"),
        },
        Snippet {
            title: "JavaScript (browser)",
            install: "npm install @sentry/browser",
            code: format!("import * as Sentry from \"@sentry/browser\";\n\nSentry.init({{\n  dsn: {quoted},\n}});\n"),
        },
        Snippet {
            title: "JavaScript (Node.js)",
            install: "npm install @sentry/node",
            code: format!("const Sentry = require(\"@sentry/node\");\n\nSentry.init({{\n  dsn: {quoted},\n}});\n"),
        },
        Snippet {
            title: "Rust",
            install: "cargo add sentry",
            code: format!(
                "let _guard = sentry::init(({quoted}, sentry::ClientOptions {{\n    \
                 release: sentry::release_name!(),\n    ..Default::default()\n}}));\n"
            ),
        },
    ]
}

/// A quota as a table row: id, categories, scope, limit, window, reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuotaRow {
    pub id: String,
    pub categories: String,
    pub scope: String,
    pub limit: String,
    pub window: String,
    pub reason: String,
}

pub fn quota_rows(quotas: &[Quota]) -> Vec<QuotaRow> {
    quotas
        .iter()
        .map(|q| {
            let v = serde_json::to_value(q).unwrap_or_default();
            let text = |k: &str| super::text::field(&v, k).unwrap_or_default();
            let categories = match v.get("categories").and_then(|c| c.as_array()) {
                Some(list) if !list.is_empty() => list.iter().map(super::text::show).collect::<Vec<_>>().join(", "),
                _ => "all".into(),
            };
            let scope = match text("scopeId") {
                id if id.is_empty() => text("scope"),
                id => format!("{} {id}", text("scope")),
            };
            QuotaRow {
                id: text("id"),
                categories,
                scope,
                limit: match v.get("limit") {
                    Some(serde_json::Value::Number(n)) => n.to_string(),
                    _ => "unlimited".into(),
                },
                window: text("window").parse::<u64>().map(|w| format!("{w} s")).unwrap_or_default(),
                reason: text("reasonCode"),
            }
        })
        .collect()
}

/// The inbound filters as toggles and pattern lists for the settings form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FiltersView {
    pub localhost: bool,
    pub browser_extensions: bool,
    pub web_crawlers: bool,
    pub legacy_browsers: bool,
    /// `(subfilter, on)` for each legacy browser option.
    pub legacy_options: Vec<(&'static str, bool)>,
    pub error_messages: String,
    pub releases: String,
    pub blacklisted_ips: String,
    pub ignored_transactions: String,
}

pub use crate::http::filters::LEGACY_BROWSERS;

pub fn filters_view(s: &FilterSettings) -> FiltersView {
    let legacy = &s.legacy_browsers;
    FiltersView {
        localhost: s.localhost.is_enabled,
        browser_extensions: s.browser_extensions.is_enabled,
        web_crawlers: s.web_crawlers.is_enabled,
        legacy_browsers: legacy.is_enabled,
        legacy_options: LEGACY_BROWSERS
            .iter()
            .map(|&o| (o, legacy.is_enabled && legacy.options.iter().any(|x| x == o)))
            .collect(),
        error_messages: s.error_messages.patterns.join("\n"),
        releases: s.releases.releases.join("\n"),
        blacklisted_ips: s.client_ips.blacklisted_ips.join("\n"),
        ignored_transactions: s.ignore_transactions.patterns.join("\n"),
    }
}

/// Lines of a textarea as a list: trimmed, empty lines dropped.
pub fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ProjectKey {
        ProjectKey {
            id: 1,
            project_id: 42,
            public_key: "abc".into(),
            label: "Default".into(),
            is_active: true,
            rate_limit: None,
            date_created_ms: 0,
        }
    }

    #[test]
    fn dsn_points_at_the_edge() {
        assert_eq!(dsn("https://edge.example/", &key()), "https://abc@edge.example/42");
        assert_eq!(dsn("127.0.0.1:8787", &key()), "http://abc@127.0.0.1:8787/42");
    }

    #[test]
    fn snippets_carry_the_dsn() {
        let all = snippets("http://abc@h/42");
        assert_eq!(all.len(), 4);
        assert!(all[0].code.contains("sentry_sdk.init(\n    dsn=\"http://abc@h/42\""));
        assert!(all[1].code.contains("Sentry.init({\n  dsn: \"http://abc@h/42\""));
        assert!(all[2].code.contains("require(\"@sentry/node\")"));
        assert!(all[3].code.contains("sentry::init((\"http://abc@h/42\", sentry::ClientOptions {"));
    }

    #[test]
    fn lines_and_filters() {
        assert_eq!(lines(" a \n\n b\r\n"), ["a", "b"]);
        let mut s = FilterSettings::default();
        s.legacy_browsers.is_enabled = true;
        s.legacy_browsers.options = vec!["ie9".into()];
        let v = filters_view(&s);
        assert!(v.legacy_options.contains(&("ie9", true)));
        assert!(v.legacy_options.contains(&("ie10", false)));
    }
}
