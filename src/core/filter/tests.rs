//! The inbound filters on events as SDKs send them, and the vendored user-agent parser against
//! the crates.io one.

use super::*;
use serde_json::json;

const IE8: &str = "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)";
const IE11: &str = "Mozilla/5.0 (Windows NT 10.0; Trident/7.0; rv:11.0) like Gecko";
const CHROME: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
const GOOGLEBOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

fn with_ua(ua: &str) -> Value {
    json!({"request": {"url": "https://shop.example/", "headers": [["User-Agent", ua]]}})
}

fn settings(v: Value) -> FilterSettings {
    serde_json::from_value(v).unwrap()
}

#[test]
fn the_filters_see_an_event_as_parsed_whole() {
    let event = br#"{"breadcrumbs":{"values":[{"m":1}]},"release":"a","release":"1.0-beta2","request":{"url":"http://localhost/"},"extra":{"x":[1,2]},"exception":{"values":[{"type":"E","value":"v"}]}}"#;
    let whole: Value = serde_json::from_slice(event).unwrap();
    let view = event_view(event).unwrap();
    for key in READ {
        assert_eq!(view.get(key), whole.get(key), "{key}");
    }
    assert_eq!(view.get("release"), Some(&json!("1.0-beta2")), "the last of a repeated key");
    assert!(view.get("breadcrumbs").is_none() && view.get("extra").is_none());
    assert_eq!(event_view(b"[1]"), None);
    assert_eq!(event_view(b"{} x"), None);
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
    assert_eq!(check(&json!({}), "event", Some("127.0.0.1"), &s), None, "regression: the connection is not the event");
    assert_eq!(check(&json!({"request": {"url": "https://shop.example/"}}), "event", Some("203.0.113.1"), &s), None);
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

#[test]
fn the_vendored_user_agent_parser_reads_as_the_crates_io_one() {
    let agents = [
        IE8,
        IE11,
        CHROME,
        GOOGLEBOT,
        "Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; Trident/5.0)",
        "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.2; Trident/6.0)",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/70.0 Safari/537.36 Edge/18.17763",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
        "Mozilla/5.0 (Windows; U; Windows NT 5.1; en-US) AppleWebKit/533.20.25 (KHTML, like Gecko) Version/5.0.4 Safari/533.20.27",
        "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 3.2; Xoom Build/HTJ85B) AppleWebKit/534.13 (KHTML, like Gecko) Version/4.0 Safari/534.13",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36",
        "Opera/9.80 (Windows NT 6.1; U; en) Presto/2.10.289 Version/12.02",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 OPR/106.0",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
        "Mozilla/5.0 (X11; FreeBSD amd64; rv:109.0) Gecko/20100101 Firefox/115.0",
        "DoCoMo/2.0 P903i(c100;TB;W24H12)",
        "KDDI-SA31 UP.Browser/6.2.0.7.3.129 (GUI) MMP/2.0",
        "Mozilla/5.0 (PlayStation 4 11.00) AppleWebKit/605.1.15 (KHTML, like Gecko)",
        "Some RSS reader/1.0",
        "my-crawler/1.0 (+https://example.com)",
        "curl/8.5.0",
        "python-requests/2.31.0",
        "Wget/1.21",
        "",
        "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
        "Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/52.0 Mobile Safari/537.36 Edge/15.14977",
    ];
    for ua in agents {
        let ours = woothee::parser::Parser::new().parse(ua);
        let theirs = woothee_upstream::parser::Parser::new().parse(ua);
        let ours = ours.map(|r| {
            let f = [r.name, r.category, r.os, &r.os_version, r.browser_type, r.version, r.vendor];
            f.map(str::to_string)
        });
        let theirs = theirs.map(|r| {
            let f = [r.name, r.category, r.os, &r.os_version, r.browser_type, r.version, r.vendor];
            f.map(str::to_string)
        });
        assert_eq!(ours, theirs, "{ua}");
    }
}
