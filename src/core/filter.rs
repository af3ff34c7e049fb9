//! Inbound filters from a project's `filterSettings` (Relay's names and stat keys): localhost,
//! browser extensions, legacy browsers, web crawlers, error messages and releases (globs),
//! client IPs (addresses and CIDR ranges), ignored transactions. A filtered event is dropped
//! with a `filtered` outcome; the SDK's answer does not change.

use std::net::IpAddr;

use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use glob::Glob;

mod glob;

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

/// The patterns that compile (as Relay's filters, one that does not is ignored).
fn globs(patterns: &[String]) -> Vec<Glob> {
    patterns.iter().filter_map(|p| Glob::new(p)).collect()
}

/// Whether any pattern matches `text`; as in Relay's filters, an empty text matches none.
fn any_glob(globs: &[Glob], text: &str) -> bool {
    !text.is_empty() && globs.iter().any(|g| g.is_match(text))
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

/// A user agent as woothee reads it, parsed at most once per event.
type Parsed<'a> = Option<woothee::parser::WootheeResult<'a>>;

fn is_crawler<'a>(ua: &str, parsed: impl FnOnce() -> &'a Parsed<'a>) -> bool {
    let lower = ua.to_ascii_lowercase();
    CRAWLERS.iter().any(|c| lower.contains(c)) || parsed().as_ref().is_some_and(|r| r.category == "crawler")
}

fn major(version: &str) -> Option<u32> {
    version.split('.').next()?.parse().ok()
}

fn is_legacy(parsed: &Parsed, options: &[String]) -> bool {
    let Some(r) = parsed else { return false };
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

/// A project's `filterSettings` compiled once, when its state enters the edge's cache (and
/// cached with it): globs compiled, IP entries parsed. Compiling costs more than matching;
/// judging a request only matches.
#[derive(Clone, Debug, Default)]
pub struct CompiledFilters {
    /// Whether any filter is set at all (default settings filter nothing, and parse nothing).
    active: bool,
    localhost: bool,
    browser_extensions: bool,
    web_crawlers: bool,
    /// The legacy-browser options, when that filter is on.
    legacy_browsers: Option<Vec<String>>,
    error_messages: Vec<Glob>,
    /// Whether any error-message pattern was set (the messages are gathered only then).
    has_error_patterns: bool,
    releases: Vec<Glob>,
    blocked_nets: Vec<ipnet::IpNet>,
    blocked_addrs: Vec<IpAddr>,
    /// The ignored-transaction globs, when that filter is on.
    ignore_transactions: Option<Vec<Glob>>,
}

#[cfg(test)]
thread_local! {
    /// How many times this thread compiled filter settings (tests prove it happens once per config).
    pub(crate) static COMPILED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

impl CompiledFilters {
    /// Compiles `settings`; patterns that do not compile and entries that are no address or
    /// range are ignored, as they were when matched one by one.
    pub fn new(settings: &FilterSettings) -> CompiledFilters {
        #[cfg(test)]
        COMPILED.with(|n| n.set(n.get() + 1));
        let (mut blocked_nets, mut blocked_addrs) = (Vec::new(), Vec::new());
        for entry in &settings.client_ips.blacklisted_ips {
            let entry = entry.trim();
            if let Ok(net) = entry.parse::<ipnet::IpNet>() {
                blocked_nets.push(net);
            } else if let Ok(addr) = entry.parse::<IpAddr>() {
                blocked_addrs.push(addr);
            }
        }
        let ignore = &settings.ignore_transactions;
        CompiledFilters {
            active: *settings != FilterSettings::default(),
            localhost: settings.localhost.is_enabled,
            browser_extensions: settings.browser_extensions.is_enabled,
            web_crawlers: settings.web_crawlers.is_enabled,
            legacy_browsers: settings.legacy_browsers.is_enabled.then(|| settings.legacy_browsers.options.clone()),
            error_messages: globs(&settings.error_messages.patterns),
            has_error_patterns: !settings.error_messages.patterns.is_empty(),
            releases: globs(&settings.releases.releases),
            blocked_nets,
            blocked_addrs,
            ignore_transactions: ignore.is_enabled.then(|| globs(&ignore.patterns)),
        }
    }

    fn ip_blocked(&self, client_ip: Option<&str>) -> bool {
        let Some(ip) = client_ip.and_then(|i| i.parse::<IpAddr>().ok()) else { return false };
        self.blocked_nets.iter().any(|net| net.contains(&ip)) || self.blocked_addrs.contains(&ip)
    }

    /// The filter that drops this event payload (of item type `item_type`), if any.
    pub fn check(&self, value: &Value, item_type: &str, client_ip: Option<&str>) -> Option<FilterReason> {
        if self.ip_blocked(client_ip) {
            return Some(FilterReason::IpAddress);
        }
        if let Some(release) = text(value, &["release"]) {
            if any_glob(&self.releases, release) {
                return Some(FilterReason::ReleaseVersion);
            }
        }
        if self.has_error_patterns && messages(value).iter().any(|m| any_glob(&self.error_messages, m)) {
            return Some(FilterReason::ErrorMessage);
        }
        if self.localhost && is_localhost(value) {
            return Some(FilterReason::Localhost);
        }
        if self.browser_extensions && from_browser_extension(value) {
            return Some(FilterReason::BrowserExtensions);
        }
        if let Some(ua) = user_agent(value) {
            let parsed = std::cell::OnceCell::new();
            let parse = || parsed.get_or_init(|| woothee::parser::Parser::new().parse(&ua));
            if self.web_crawlers && is_crawler(&ua, parse) {
                return Some(FilterReason::WebCrawlers);
            }
            if let Some(options) = &self.legacy_browsers {
                if is_legacy(parse(), options) {
                    return Some(FilterReason::LegacyBrowsers);
                }
            }
        }
        if let (Some(ignored), "transaction") = (&self.ignore_transactions, item_type) {
            if let Some(name) = text(value, &["transaction"]) {
                if any_glob(ignored, name) {
                    return Some(FilterReason::FilteredTransaction);
                }
            }
        }
        None
    }

    /// Drops filtered events (and their dependants) from `envelope`; returns what was dropped.
    pub fn apply(
        &self,
        envelope: &mut super::envelope::Envelope,
        client_ip: Option<&str>,
    ) -> Vec<super::outcome::Outcome> {
        use super::outcome::{Outcome, OutcomeKind};
        if !self.active {
            return Vec::new();
        }
        let reason = envelope.items.iter().find_map(|item| {
            if !matches!(item.ty(), "event" | "transaction") {
                return None;
            }
            self.check(&event_view(&item.payload)?, item.ty(), client_ip)
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
}

/// The top-level fields of an event the filters read; the rest is skipped while parsing.
const READ: [&str; 7] = ["release", "logentry", "message", "exception", "user", "request", "transaction"];

/// An event payload as the filters see it: the object with only the fields they read (each
/// whole), the rest skipped unbuilt. `None` when it is no JSON object. The payload was checked
/// to be valid JSON at `prepare`, so skipping validates nothing less that matters.
fn event_view(payload: &[u8]) -> Option<Value> {
    struct View;
    impl<'de> Visitor<'de> for View {
        type Value = Map<String, Value>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a map")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut read = Map::new();
            while let Some(key) = map.next_key::<String>()? {
                if READ.contains(&key.as_str()) {
                    // As a map does, the last of a repeated key wins.
                    let value = map.next_value::<Value>()?;
                    read.insert(key, value);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(read)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(payload);
    let read = serde::Deserializer::deserialize_map(&mut de, View).ok()?;
    de.end().ok()?;
    Some(Value::Object(read))
}

/// The filter that drops this event payload (of item type `item_type`), if any, compiling
/// `settings` for this one call ([`CompiledFilters::check`] for settings used more than once).
pub fn check(
    value: &Value,
    item_type: &str,
    client_ip: Option<&str>,
    settings: &FilterSettings,
) -> Option<FilterReason> {
    CompiledFilters::new(settings).check(value, item_type, client_ip)
}

/// Drops filtered events (and their dependants) from `envelope`; returns what was dropped.
/// Compiles `settings` for this one call; a cached project uses [`CompiledFilters::apply`].
pub fn apply(
    envelope: &mut super::envelope::Envelope,
    settings: &FilterSettings,
    client_ip: Option<&str>,
) -> Vec<super::outcome::Outcome> {
    if *settings == FilterSettings::default() {
        return Vec::new();
    }
    CompiledFilters::new(settings).apply(envelope, client_ip)
}

#[cfg(test)]
mod tests;
