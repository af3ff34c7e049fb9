//! Inbound filters from a project's `filterSettings` (Relay's names and stat keys): localhost,
//! browser extensions, legacy browsers, web crawlers, error messages and releases (globs),
//! client IPs (addresses and CIDR ranges), ignored transactions. A filtered event is dropped
//! with a `filtered` outcome; the SDK's answer does not change.

use std::net::IpAddr;

use globset::{Glob, GlobMatcher};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Toggle {
    pub is_enabled: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LegacyBrowsers {
    pub is_enabled: bool,
    /// `ie_pre_9`, `ie9`, `ie10`, `ie11`, `opera_pre_15`, `opera_mini_pre_8`, `android_pre_4`,
    /// `safari_pre_6`, `edge_pre_79`, or `default` (all but `ie11` and `edge_pre_79`).
    pub options: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Patterns {
    pub patterns: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Releases {
    pub releases: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClientIps {
    pub blacklisted_ips: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IgnoreTransactions {
    pub is_enabled: bool,
    pub patterns: Vec<String>,
}

/// A project's `filterSettings`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FilterSettings {
    pub localhost: Toggle,
    pub browser_extensions: Toggle,
    pub legacy_browsers: LegacyBrowsers,
    pub web_crawlers: Toggle,
    pub error_messages: Patterns,
    pub releases: Releases,
    pub client_ips: ClientIps,
    pub ignore_transactions: IgnoreTransactions,
}

/// Why an event was filtered (Relay's stat keys, which become the outcome's reason).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterReason {
    Localhost,
    BrowserExtensions,
    LegacyBrowsers,
    WebCrawlers,
    ErrorMessage,
    ReleaseVersion,
    IpAddress,
    FilteredTransaction,
}

impl FilterReason {
    pub fn name(self) -> &'static str {
        match self {
            FilterReason::Localhost => "localhost",
            FilterReason::BrowserExtensions => "browser-extensions",
            FilterReason::LegacyBrowsers => "legacy-browsers",
            FilterReason::WebCrawlers => "web-crawlers",
            FilterReason::ErrorMessage => "error-message",
            FilterReason::ReleaseVersion => "release-version",
            FilterReason::IpAddress => "ip-address",
            FilterReason::FilteredTransaction => "filtered-transaction",
        }
    }
}

fn glob(pattern: &str) -> Option<GlobMatcher> {
    globset::GlobBuilder::new(pattern)
        .case_insensitive(true)
        .literal_separator(false)
        .build()
        .ok()
        .map(|g: Glob| g.compile_matcher())
}

fn any_glob(patterns: &[String], text: &str) -> bool {
    patterns.iter().filter_map(|p| glob(p)).any(|g| g.is_match(text))
}

fn text<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(*k))?.as_str()
}

/// The event's messages as error-message filters see them: the message and `Type: value`.
fn messages(ev: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for path in [&["logentry", "formatted"][..], &["logentry", "message"], &["message"]] {
        if let Some(m) = text(ev, path) {
            out.push(m.to_string());
        }
    }
    let values = ev.get("exception").and_then(|e| e.get("values").or(Some(e))).and_then(Value::as_array);
    for exc in values.into_iter().flatten() {
        let (ty, value) = (text(exc, &["type"]).unwrap_or(""), text(exc, &["value"]).unwrap_or(""));
        out.push(match (ty.is_empty(), value.is_empty()) {
            (false, false) => format!("{ty}: {value}"),
            (false, true) => ty.to_string(),
            _ => value.to_string(),
        });
    }
    out
}

fn user_agent(ev: &Value) -> Option<String> {
    match ev.get("request")?.get("headers")? {
        Value::Object(o) => o
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("user-agent"))
            .and_then(|(_, v)| v.as_str())
            .map(str::to_string),
        Value::Array(a) => a.iter().find_map(|p| {
            let name = p.get(0)?.as_str()?;
            name.eq_ignore_ascii_case("user-agent").then(|| p.get(1)?.as_str().map(str::to_string)).flatten()
        }),
        _ => None,
    }
}

/// What the event says about where it ran (as Relay's filter reads it; the connection's own
/// address is not the event's, so local traffic to a local edge is not "localhost").
fn is_localhost(ev: &Value) -> bool {
    let local_ip = |ip: &str| ip.parse::<IpAddr>().is_ok_and(|a| a.is_loopback());
    if text(ev, &["user", "ip_address"]).is_some_and(local_ip) {
        return true;
    }
    let Some(url) = text(ev, &["request", "url"]) else { return false };
    if url.starts_with("file:") {
        return true;
    }
    let host = url.split("://").nth(1).unwrap_or(url).split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = if host.starts_with('[') {
        host.trim_start_matches('[').split(']').next().unwrap_or("")
    } else {
        host.split(':').next().unwrap_or("")
    };
    host == "localhost" || host.ends_with(".localhost") || local_ip(host)
}

/// Error values browser extensions and injected scripts are known for (Relay's list, in part).
const EXTENSION_VALUES: &[&str] = &[
    "top.GLOBALS",
    "originalCreateNotification",
    "canvas.contentDocument",
    "MyApp_RemoveAllHighlights",
    "http://tt.epicplay.com",
    "Can't find variable: ZiteReader",
    "jigsaw is not defined",
    "ComboSearch is not defined",
    "http://loading.retry.widdit.com/",
    "atomicFindClose",
    "fb_xd_fragment",
    "bmi_SafeAddOnload",
    "EBCallBackMessageReceived",
    "conduitPage",
    "Non-Error promise rejection captured with value: Object Not Found Matching Id",
];

const EXTENSION_SCHEMES: &[&str] = &[
    "chrome-extension://",
    "moz-extension://",
    "safari-extension://",
    "safari-web-extension://",
    "webkit-masked-url://",
    "chrome://",
    "resource://",
];

fn from_browser_extension(ev: &Value) -> bool {
    let values = ev.get("exception").and_then(|e| e.get("values").or(Some(e))).and_then(Value::as_array);
    values.into_iter().flatten().any(|exc| {
        let value = text(exc, &["value"]).unwrap_or("");
        let frames = exc.get("stacktrace").and_then(|s| s.get("frames")).and_then(Value::as_array);
        EXTENSION_VALUES.iter().any(|v| value.contains(v))
            || frames.into_iter().flatten().any(|f| {
                let path = text(f, &["abs_path"]).or_else(|| text(f, &["filename"])).unwrap_or("");
                EXTENSION_SCHEMES.iter().any(|s| path.starts_with(s))
            })
    })
}

/// Bot and crawler names in user agents (after Relay's list).
const CRAWLERS: &[&str] = &[
    "mediapartners-google",
    "adsbot-google",
    "googlebot",
    "feedfetcher-google",
    "bingbot",
    "bingpreview",
    "baiduspider",
    "slurp",
    "sogou",
    "facebook",
    "ia_archiver",
    "bots ",
    "bot/",
    "bot;",
    "spider/",
    "spider;",
    "slack",
    "calypso appdata",
    "pingdom",
    "lyticsbot",
    "aws security scanner",
    "hubspot crawler",
    "bytespider",
    "better uptime",
    "cloudflare-healthchecks",
    "gtmetrix",
    "brightedgeoncrawl",
    "elb-healthchecker",
    "naver.me/spd",
    "claudebot",
    "ccbot",
    "oai-searchbot",
    "gptbot",
    "petalbot",
    "yandexbot",
    "duckduckbot",
    "applebot",
    "semrushbot",
    "ahrefsbot",
];

fn is_crawler(ua: &str) -> bool {
    let lower = ua.to_ascii_lowercase();
    CRAWLERS.iter().any(|c| lower.contains(c))
        || woothee::parser::Parser::new().parse(ua).is_some_and(|r| r.category == "crawler")
}

fn major(version: &str) -> Option<u32> {
    version.split('.').next()?.parse().ok()
}

fn is_legacy(ua: &str, options: &[String]) -> bool {
    let Some(r) = woothee::parser::Parser::new().parse(ua) else { return false };
    let (name, version, os, os_version) = (r.name, major(r.version), r.os, major(&r.os_version));
    let default = options.is_empty() || options.iter().any(|o| o == "default");
    let on = |o: &str| options.iter().any(|x| x == o) || (default && !matches!(o, "ie11" | "edge_pre_79"));
    let below = |v: Option<u32>, n: u32| v.is_some_and(|v| v < n);
    (name == "Internet Explorer"
        && ((on("ie_pre_9") && below(version, 9))
            || (on("ie9") && version == Some(9))
            || (on("ie10") && version == Some(10))
            || (on("ie11") && version == Some(11))))
        || (name == "Opera" && on("opera_pre_15") && below(version, 15))
        || (name == "Safari" && on("safari_pre_6") && below(version, 6))
        || (name == "Edge" && on("edge_pre_79") && below(version, 79))
        || (os == "Android" && on("android_pre_4") && below(os_version, 4))
}

fn ip_blocked(client_ip: Option<&str>, blocked: &[String]) -> bool {
    let Some(ip) = client_ip.and_then(|i| i.parse::<IpAddr>().ok()) else { return false };
    blocked.iter().any(|entry| {
        let entry = entry.trim();
        entry.parse::<ipnet::IpNet>().is_ok_and(|net| net.contains(&ip))
            || entry.parse::<IpAddr>().is_ok_and(|a| a == ip)
    })
}

/// The filter that drops this event payload (of item type `item_type`), if any.
pub fn check(
    value: &Value,
    item_type: &str,
    client_ip: Option<&str>,
    settings: &FilterSettings,
) -> Option<FilterReason> {
    if ip_blocked(client_ip, &settings.client_ips.blacklisted_ips) {
        return Some(FilterReason::IpAddress);
    }
    if let Some(release) = text(value, &["release"]) {
        if any_glob(&settings.releases.releases, release) {
            return Some(FilterReason::ReleaseVersion);
        }
    }
    if !settings.error_messages.patterns.is_empty()
        && messages(value).iter().any(|m| any_glob(&settings.error_messages.patterns, m))
    {
        return Some(FilterReason::ErrorMessage);
    }
    if settings.localhost.is_enabled && is_localhost(value) {
        return Some(FilterReason::Localhost);
    }
    if settings.browser_extensions.is_enabled && from_browser_extension(value) {
        return Some(FilterReason::BrowserExtensions);
    }
    if let Some(ua) = user_agent(value) {
        if settings.web_crawlers.is_enabled && is_crawler(&ua) {
            return Some(FilterReason::WebCrawlers);
        }
        if settings.legacy_browsers.is_enabled && is_legacy(&ua, &settings.legacy_browsers.options) {
            return Some(FilterReason::LegacyBrowsers);
        }
    }
    let ignore = &settings.ignore_transactions;
    if item_type == "transaction" && ignore.is_enabled {
        if let Some(name) = text(value, &["transaction"]) {
            if any_glob(&ignore.patterns, name) {
                return Some(FilterReason::FilteredTransaction);
            }
        }
    }
    None
}

/// Drops filtered events (and their dependants) from `envelope`; returns what was dropped.
pub fn apply(
    envelope: &mut super::envelope::Envelope,
    settings: &FilterSettings,
    client_ip: Option<&str>,
) -> Vec<super::outcome::Outcome> {
    use super::outcome::{Outcome, OutcomeKind};
    if *settings == FilterSettings::default() {
        return Vec::new();
    }
    let reason = envelope.items.iter().find_map(|item| {
        if !matches!(item.ty(), "event" | "transaction") {
            return None;
        }
        let ev = serde_json::from_slice::<Value>(&item.payload).ok().filter(Value::is_object)?;
        check(&ev, item.ty(), client_ip, settings)
    });
    let Some(reason) = reason else { return Vec::new() };
    let mut outcomes = Vec::new();
    envelope.items.retain(|item| {
        let belongs = matches!(item.ty(), "event" | "transaction") || item.is_event_dependant();
        let quantities = if belongs { super::quota::item_quantities(item) } else { Vec::new() };
        if quantities.is_empty() {
            return true;
        }
        outcomes.extend(Outcome::of(quantities, OutcomeKind::Filtered, reason.name()));
        false
    });
    outcomes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const IE8: &str = "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)";
    const IE11: &str = "Mozilla/5.0 (Windows NT 10.0; Trident/7.0; rv:11.0) like Gecko";
    const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
    const GOOGLEBOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

    fn with_ua(ua: &str) -> Value {
        json!({"request": {"url": "https://shop.example/", "headers": [["User-Agent", ua]]}})
    }

    fn settings(v: Value) -> FilterSettings {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn nothing_is_filtered_without_settings() {
        let s = FilterSettings::default();
        assert_eq!(check(&with_ua(GOOGLEBOT), "event", Some("127.0.0.1"), &s), None);
    }

    #[test]
    fn localhost() {
        let s = settings(json!({"localhost": {"isEnabled": true}}));
        assert_eq!(
            check(&json!({"request": {"url": "http://localhost:3000/x"}}), "event", None, &s),
            Some(FilterReason::Localhost)
        );
        assert_eq!(check(&json!({"user": {"ip_address": "::1"}}), "event", None, &s), Some(FilterReason::Localhost));
        assert_eq!(
            check(&json!({"request": {"url": "file:///index.html"}}), "event", None, &s),
            Some(FilterReason::Localhost)
        );
        assert_eq!(
            check(&json!({}), "event", Some("127.0.0.1"), &s),
            None,
            "regression: the connection is not the event"
        );
        assert_eq!(
            check(&json!({"request": {"url": "https://shop.example/"}}), "event", Some("203.0.113.1"), &s),
            None
        );
    }

    #[test]
    fn browsers_and_crawlers() {
        let s = settings(json!({"legacyBrowsers": {"isEnabled": true}, "webCrawlers": {"isEnabled": true}}));
        assert_eq!(check(&with_ua(IE8), "event", None, &s), Some(FilterReason::LegacyBrowsers));
        assert_eq!(check(&with_ua(IE11), "event", None, &s), None, "ie11 is not in the default set");
        let ie11 = settings(json!({"legacyBrowsers": {"isEnabled": true, "options": ["ie11"]}}));
        assert_eq!(check(&with_ua(IE11), "event", None, &ie11), Some(FilterReason::LegacyBrowsers));
        assert_eq!(check(&with_ua(GOOGLEBOT), "event", None, &s), Some(FilterReason::WebCrawlers));
        assert_eq!(check(&with_ua(CHROME), "event", None, &s), None);
    }

    #[test]
    fn extensions_messages_releases_ips_transactions() {
        let s = settings(json!({
            "browserExtensions": {"isEnabled": true},
            "errorMessages": {"patterns": ["*ConnectionError*", "TypeError: can't access dead object"]},
            "releases": {"releases": ["1.0-beta*"]},
            "clientIps": {"blacklistedIps": ["10.0.0.0/8", "203.0.113.9"]},
            "ignoreTransactions": {"isEnabled": true, "patterns": ["*health*"]}
        }));
        let ext = json!({"exception": {"values": [{"type": "Error", "value": "x", "stacktrace": {"frames": [{"abs_path": "chrome-extension://abc/x.js"}]}}]}});
        assert_eq!(check(&ext, "event", None, &s), Some(FilterReason::BrowserExtensions));
        let msg = json!({"exception": {"values": [{"type": "requests.ConnectionError", "value": "timed out"}]}});
        assert_eq!(check(&msg, "event", None, &s), Some(FilterReason::ErrorMessage));
        let exact = json!({"exception": {"values": [{"type": "TypeError", "value": "can't access dead object"}]}});
        assert_eq!(check(&exact, "event", None, &s), Some(FilterReason::ErrorMessage));
        assert_eq!(check(&json!({"release": "1.0-beta3"}), "event", None, &s), Some(FilterReason::ReleaseVersion));
        assert_eq!(check(&json!({"release": "1.0"}), "event", None, &s), None);
        assert_eq!(check(&json!({}), "event", Some("10.1.2.3"), &s), Some(FilterReason::IpAddress));
        assert_eq!(check(&json!({}), "event", Some("203.0.113.9"), &s), Some(FilterReason::IpAddress));
        assert_eq!(
            check(&json!({"transaction": "/healthz"}), "transaction", None, &s),
            Some(FilterReason::FilteredTransaction)
        );
        assert_eq!(check(&json!({"transaction": "/healthz"}), "event", None, &s), None);
    }
}
