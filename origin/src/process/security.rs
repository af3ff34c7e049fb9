//! Events the origin makes from items that are not events yet: browser security reports
//! (CSP, Expect-CT, HPKP, Expect-Staple; classic and Reporting-API shapes) and minidumps
//! that came without an event payload.

use serde_json::{json, Map, Value};

/// `script-src-elem` → `script`, as Sentry names the blocked kind.
fn directive_kind(directive: &str) -> String {
    let base = directive.split_whitespace().next().unwrap_or(directive);
    let base = base.strip_suffix("-elem").or_else(|| base.strip_suffix("-attr")).unwrap_or(base);
    match base.strip_suffix("-src").unwrap_or(base) {
        "img" => "image".to_string(),
        "default" => "resource".to_string(),
        other => other.to_string(),
    }
}

/// `https://evil.example/x.js` → `evil.example`; `inline`, `eval` and the like stay as they are.
fn blocked_label(blocked: &str) -> String {
    if blocked.contains("://") {
        let host = blocked.split("://").nth(1).unwrap_or("").split(['/', '?', '#']).next().unwrap_or("");
        host.to_string()
    } else if blocked.is_empty() {
        "self".to_string()
    } else {
        blocked.to_string()
    }
}

fn text<'a>(map: &'a Map<String, Value>, keys: &[&str]) -> &'a str {
    keys.iter().find_map(|k| map.get(*k).and_then(Value::as_str)).unwrap_or("")
}

/// One report object out of a body: the classic wrapper, a Reporting API entry, or bare HPKP.
fn classify(body: &Value) -> Option<(&'static str, &Map<String, Value>)> {
    let obj = match body {
        Value::Array(list) => list.first()?.as_object()?,
        Value::Object(o) => o,
        _ => return None,
    };
    if let Some(r) = obj.get("csp-report").and_then(Value::as_object) {
        return Some(("csp", r));
    }
    if let Some(r) = obj.get("expect-ct-report").and_then(Value::as_object) {
        return Some(("expectct", r));
    }
    if let Some(r) = obj.get("expect-staple-report").and_then(Value::as_object) {
        return Some(("expectstaple", r));
    }
    if obj.get("type").and_then(Value::as_str) == Some("csp-violation") {
        return Some(("csp", obj.get("body")?.as_object()?));
    }
    if obj.contains_key("known-pins") {
        return Some(("hpkp", obj));
    }
    None
}

/// Turns a `raw_security` item into a `security` event payload; `None` if it is no report.
pub fn event_from_report(payload: &[u8], item_headers: &Map<String, Value>) -> Option<Map<String, Value>> {
    let body: Value = serde_json::from_slice(payload).ok()?;
    let (kind, report) = classify(&body)?;
    let hostname = text(report, &["hostname"]);
    let (title, culprit, url) = match kind {
        "csp" => {
            let directive = text(report, &["effective-directive", "effectiveDirective", "violated-directive"]);
            let blocked = blocked_label(text(report, &["blocked-uri", "blockedURL"]));
            let title = format!("Blocked '{}' from '{blocked}'", directive_kind(directive));
            (title, directive.to_string(), text(report, &["document-uri", "documentURL"]).to_string())
        }
        "expectct" => (format!("Expect-CT failed for '{hostname}'"), hostname.to_string(), String::new()),
        "expectstaple" => (format!("Expect-Staple failed for '{hostname}'"), hostname.to_string(), String::new()),
        _ => (format!("Public key pinning validation failed for '{hostname}'"), hostname.to_string(), String::new()),
    };
    let mut event = Map::new();
    event.insert("logentry".into(), json!({ "formatted": title }));
    event.insert("culprit".into(), Value::String(culprit));
    event.insert("level".into(), Value::String("error".into()));
    event.insert(kind.into(), Value::Object(report.clone()));
    event.insert("tags".into(), json!([["security.report", kind]]));
    if !url.is_empty() {
        event.insert("request".into(), json!({ "url": url }));
    }
    for (header, field) in [("sentry_release", "release"), ("sentry_environment", "environment")] {
        if let Some(value) = item_headers.get(header).and_then(Value::as_str) {
            event.insert(field.into(), Value::String(value.into()));
        }
    }
    Some(event)
}

/// The event for a minidump upload without an event payload: a fatal native crash, grouped
/// together until symbolication tells crashes apart.
pub fn native_crash() -> Map<String, Value> {
    let event = json!({
        "platform": "native",
        "level": "fatal",
        "exception": { "values": [{
            "type": "Minidump",
            "value": "native crash report",
            "mechanism": { "type": "minidump", "handled": false, "synthetic": true }
        }]}
    });
    event.as_object().cloned().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers() -> Map<String, Value> {
        json!({"type":"raw_security","sentry_release":"web@1"}).as_object().cloned().unwrap()
    }

    #[test]
    fn csp_reports_in_both_shapes() {
        let classic = br#"{"csp-report":{"document-uri":"https://shop.example/cart","effective-directive":"script-src-elem","blocked-uri":"https://evil.example/x.js"}}"#;
        let e = event_from_report(classic, &headers()).unwrap();
        assert_eq!(e["logentry"]["formatted"], "Blocked 'script' from 'evil.example'");
        assert_eq!(e["release"], "web@1");
        let api = br#"[{"type":"csp-violation","body":{"documentURL":"https://shop.example/","effectiveDirective":"img-src","blockedURL":"inline"}}]"#;
        assert_eq!(
            event_from_report(api, &headers()).unwrap()["logentry"]["formatted"],
            "Blocked 'image' from 'inline'"
        );
    }

    #[test]
    fn expect_ct_and_hpkp() {
        let ct = br#"{"expect-ct-report":{"hostname":"shop.example","port":443}}"#;
        assert_eq!(
            event_from_report(ct, &headers()).unwrap()["logentry"]["formatted"],
            "Expect-CT failed for 'shop.example'"
        );
        let hpkp = br#"{"hostname":"shop.example","known-pins":["pin-sha256=\"x\""]}"#;
        let e = event_from_report(hpkp, &headers()).unwrap();
        assert_eq!(e["logentry"]["formatted"], "Public key pinning validation failed for 'shop.example'");
        assert!(event_from_report(br#"{"something":"else"}"#, &headers()).is_none());
    }
}
