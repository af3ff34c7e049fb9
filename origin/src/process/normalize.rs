//! Event normalization after Relay's rules: timestamps (missing, too far in the future or past
//! retention → received; clock drift from `sent_at` corrected at 55 minutes or more), level and
//! platform, release and environment checks, Sentry's length limits, `{{auto}}` IPs, and the
//! browser/OS/device contexts read from the request's User-Agent.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

/// What normalization needs besides the event.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    pub received_ms: i64,
    /// The envelope's `sent_at`, for clock-drift correction.
    pub sent_at_ms: Option<i64>,
    pub client_ip: Option<&'a str>,
    pub retention_days: i64,
}

const MAX_FUTURE_MS: i64 = 60_000;
const DRIFT_TOLERANCE_MS: i64 = 55 * 60_000;
const PLATFORMS: &[&str] = &[
    "as3",
    "c",
    "cfml",
    "cocoa",
    "csharp",
    "elixir",
    "haskell",
    "go",
    "groovy",
    "java",
    "javascript",
    "native",
    "node",
    "objc",
    "other",
    "perl",
    "php",
    "python",
    "ruby",
];
/// Sentry's length limits (characters) for the fields it trims.
const LIMITS: &[(&[&str], usize)] = &[
    (&["logentry", "formatted"], 8192),
    (&["logentry", "message"], 8192),
    (&["transaction"], 200),
    (&["culprit"], 200),
    (&["server_name"], 200),
    (&["dist"], 64),
];
const MAX_BREADCRUMBS: usize = 100;

/// A Sentry timestamp: seconds since the epoch (number) or RFC 3339 text.
pub fn timestamp_ms(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(n) => n.as_f64().filter(|f| f.is_finite() && *f >= 0.0).map(|f| (f * 1000.0).round() as i64),
        Value::String(s) => {
            let parsed = DateTime::parse_from_rfc3339(s)
                .map(|d| d.with_timezone(&Utc))
                .or_else(|_| s.parse::<chrono::NaiveDateTime>().map(|n| n.and_utc()));
            parsed.ok().map(|d| d.timestamp_millis())
        }
        _ => None,
    }
}

/// Relay's level names with its two aliases (`critical`, `log`); case matters, and anything
/// else (`warn`, `WARNING`, `trace`) is invalid and becomes `error`, as in Relay.
fn level(value: Option<&Value>) -> &'static str {
    match value.and_then(Value::as_str) {
        Some("fatal" | "critical") => "fatal",
        Some("warning") => "warning",
        Some("info" | "log") => "info",
        Some("debug") => "debug",
        _ => "error",
    }
}

fn truncate(text: &str, max: usize) -> Option<String> {
    (text.chars().count() > max).then(|| {
        let mut cut: String = text.chars().take(max - 1).collect();
        cut.push('…');
        cut
    })
}

/// A release is dropped when it is empty, `.`/`..`, `latest`, has whitespace or `/`-only
/// content, or is over 200 characters; an environment when over 64 characters or it holds `/`
/// or whitespace (Sentry's rules).
fn valid_release(r: &str) -> bool {
    let r = r.trim();
    !r.is_empty()
        && r.len() <= 200
        && !matches!(r, "." | ".." | "latest")
        && !r.contains(['\n', '\t', '\r'])
        && r.chars().any(|c| c != '/' && c != '\\')
}

fn valid_environment(e: &str) -> bool {
    !e.is_empty() && e.len() <= 64 && !e.contains(['/', '\n', '\t', '\r']) && e != "none"
}

/// Normalizes `ev` in place and returns its timestamp in milliseconds.
pub fn normalize(ev: &mut Map<String, Value>, ctx: &Context) -> i64 {
    let oldest_ms = ctx.received_ms - ctx.retention_days * 86_400_000;
    let mut ts = timestamp_ms(ev.get("timestamp"));
    if let (Some(t), Some(sent)) = (ts, ctx.sent_at_ms) {
        let drift = ctx.received_ms - sent;
        if drift.abs() >= DRIFT_TOLERANCE_MS {
            ts = Some(t + drift);
        }
    }
    let ts = ts.filter(|t| *t <= ctx.received_ms + MAX_FUTURE_MS && *t >= oldest_ms).unwrap_or(ctx.received_ms);
    ev.insert("timestamp".into(), Value::from(ts as f64 / 1000.0));
    ev.insert("received".into(), Value::from(ctx.received_ms as f64 / 1000.0));
    let lvl = level(ev.get("level"));
    ev.insert("level".into(), Value::String(lvl.into()));
    let platform = ev.get("platform").and_then(Value::as_str).filter(|p| PLATFORMS.contains(p)).unwrap_or("other");
    ev.insert("platform".into(), Value::String(platform.into()));
    if ev.get("release").is_some_and(|r| !r.as_str().is_some_and(valid_release)) {
        ev.remove("release");
    }
    if ev.get("environment").is_some_and(|e| !e.as_str().is_some_and(valid_environment)) {
        ev.remove("environment");
    }
    trim(ev);
    // The legacy `message` string is `logentry.formatted`, as Relay reads it.
    if let Some(Value::String(text)) = ev.get("message").cloned() {
        if !ev.contains_key("logentry") {
            ev.insert("logentry".into(), json!({ "formatted": text }));
        }
        ev.remove("message");
    }
    format_logentry(ev);
    if let Some(ip) = ctx.client_ip {
        resolve_auto_ip(ev, ip);
    }
    add_user_agent_contexts(ev);
    ts
}

fn trim(ev: &mut Map<String, Value>) {
    for (path, max) in LIMITS {
        let (last, parents) = path.split_last().expect("paths are not empty");
        let mut node = Some(&mut *ev);
        for p in parents {
            node = node.and_then(|n| n.get_mut(*p)).and_then(Value::as_object_mut);
        }
        if let Some(field) = node.and_then(|n| n.get_mut(*last)) {
            if let Some(cut) = field.as_str().and_then(|s| truncate(s, *max)) {
                *field = Value::String(cut);
            }
        }
    }
    let values = match ev.get_mut("exception") {
        Some(Value::Object(o)) => o.get_mut("values").and_then(Value::as_array_mut),
        Some(Value::Array(a)) => Some(a),
        _ => None,
    };
    for exc in values.into_iter().flatten() {
        if let Some(value) = exc.get_mut("value") {
            if let Some(cut) = value.as_str().and_then(|s| truncate(s, 8192)) {
                *value = Value::String(cut);
            }
        }
    }
    let crumbs = match ev.get_mut("breadcrumbs") {
        Some(Value::Object(o)) => o.get_mut("values").and_then(Value::as_array_mut),
        Some(Value::Array(a)) => Some(a),
        _ => None,
    };
    if let Some(list) = crumbs {
        if list.len() > MAX_BREADCRUMBS {
            list.drain(..list.len() - MAX_BREADCRUMBS);
        }
    }
    if let Some(Value::Object(tags)) = ev.get_mut("tags") {
        tags.retain(|k, _| k.chars().count() <= 200);
        for v in tags.values_mut() {
            if let Some(cut) = v.as_str().and_then(|s| truncate(s, 200)) {
                *v = Value::String(cut);
            }
        }
    }
}

/// Fills `logentry.formatted` as Relay does: the message with its `%s` params substituted, or
/// a message without params moved there.
fn format_logentry(ev: &mut Map<String, Value>) {
    let Some(logentry) = ev.get_mut("logentry").and_then(Value::as_object_mut) else { return };
    if logentry.contains_key("formatted") {
        return;
    }
    let Some(message) = logentry.get("message").and_then(Value::as_str).map(str::to_string) else { return };
    let params: Vec<String> = logentry
        .get("params")
        .and_then(Value::as_array)
        .map(|p| p.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)).collect())
        .unwrap_or_default();
    if params.is_empty() {
        logentry.remove("message");
        logentry.insert("formatted".into(), Value::String(message));
        return;
    }
    let mut formatted = String::new();
    let mut rest = message.as_str();
    let mut next = params.iter();
    while let Some(at) = rest.find("%s") {
        formatted.push_str(&rest[..at]);
        match next.next() {
            Some(p) => formatted.push_str(p),
            None => formatted.push_str("%s"),
        }
        rest = &rest[at + 2..];
    }
    formatted.push_str(rest);
    logentry.insert("formatted".into(), Value::String(formatted));
}

/// Replaces `{{auto}}` in `user.ip_address` and `request.env.REMOTE_ADDR` with the client's
/// address, as Relay does.
fn resolve_auto_ip(ev: &mut Map<String, Value>, ip: &str) {
    let auto = |v: Option<&Value>| v.and_then(Value::as_str) == Some("{{auto}}");
    if let Some(user) = ev.get_mut("user").and_then(Value::as_object_mut) {
        if auto(user.get("ip_address")) {
            user.insert("ip_address".into(), Value::String(ip.to_string()));
        }
    }
    let env = ev.get_mut("request").and_then(|r| r.get_mut("env")).and_then(Value::as_object_mut);
    if let Some(env) = env {
        if auto(env.get("REMOTE_ADDR")) {
            env.insert("REMOTE_ADDR".into(), Value::String(ip.to_string()));
        }
    }
}

/// The request's `User-Agent` (headers as an object or as pairs).
fn user_agent(ev: &Map<String, Value>) -> Option<String> {
    let headers = ev.get("request")?.get("headers")?;
    let pairs: Vec<(String, String)> = match headers {
        Value::Object(o) => o.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect(),
        Value::Array(a) => {
            a.iter().filter_map(|p| Some((p.get(0)?.as_str()?.to_string(), p.get(1)?.as_str()?.to_string()))).collect()
        }
        _ => return None,
    };
    pairs.into_iter().find(|(k, _)| k.eq_ignore_ascii_case("user-agent")).map(|(_, v)| v)
}

/// Fills `contexts.browser`, `contexts.os` and `contexts.device` from the User-Agent, keeping
/// any the SDK sent.
fn add_user_agent_contexts(ev: &mut Map<String, Value>) {
    let Some(ua) = user_agent(ev) else { return };
    let Some(parsed) = woothee::parser::Parser::new().parse(&ua) else { return };
    let known = |s: &str| !s.is_empty() && s != "UNKNOWN";
    let contexts = ev.entry("contexts").or_insert_with(|| json!({}));
    let Some(contexts) = contexts.as_object_mut() else { return };
    if known(parsed.name) && !contexts.contains_key("browser") {
        let mut browser = json!({ "type": "browser", "name": parsed.name });
        if known(parsed.version) {
            browser["version"] = json!(parsed.version);
        }
        contexts.insert("browser".into(), browser);
    }
    if known(parsed.os) && !contexts.contains_key("os") {
        // woothee says UNKNOWN where the User-Agent names no version (Linux): leave it out.
        let mut os = json!({ "type": "os", "name": parsed.os });
        if known(&parsed.os_version) {
            os["version"] = json!(parsed.os_version.to_string());
        }
        contexts.insert("os".into(), os);
    }
    if known(parsed.category) && !contexts.contains_key("device") {
        contexts.insert("device".into(), json!({ "type": "device", "family": parsed.category }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_235_831_000;

    fn ctx() -> Context<'static> {
        Context { received_ms: NOW, sent_at_ms: None, client_ip: Some("203.0.113.7"), retention_days: 90 }
    }

    fn run(v: Value, ctx: &Context) -> (Map<String, Value>, i64) {
        let mut ev = v.as_object().unwrap().clone();
        let ts = normalize(&mut ev, ctx);
        (ev, ts)
    }

    #[test]
    fn timestamps() {
        assert_eq!(run(json!({}), &ctx()).1, NOW);
        assert_eq!(run(json!({"timestamp": (NOW - 5_000) as f64 / 1000.0}), &ctx()).1, NOW - 5_000);
        assert_eq!(run(json!({"timestamp": (NOW + 61_000) as f64 / 1000.0}), &ctx()).1, NOW, "future");
        assert_eq!(run(json!({"timestamp": (NOW - 91 * 86_400_000) as f64 / 1000.0}), &ctx()).1, NOW, "past retention");
        assert_eq!(run(json!({"timestamp": "garbage"}), &ctx()).1, NOW);
        // The device clock is two hours behind: event and sent_at shift together.
        let drifted = Context { sent_at_ms: Some(NOW - 7_200_000), ..ctx() };
        assert_eq!(run(json!({"timestamp": (NOW - 7_210_000) as f64 / 1000.0}), &drifted).1, NOW - 10_000);
        let small = Context { sent_at_ms: Some(NOW - 60_000), ..ctx() };
        assert_eq!(run(json!({"timestamp": (NOW - 70_000) as f64 / 1000.0}), &small).1, NOW - 70_000, "under 55 min");
    }

    #[test]
    fn levels_platforms_releases_environments() {
        let (ev, _) =
            run(json!({"level": "warn", "platform": "klingon", "release": "latest", "environment": "a/b"}), &ctx());
        assert_eq!((ev["level"].as_str(), ev["platform"].as_str()), (Some("error"), Some("other")));
        assert!(ev.get("release").is_none() && ev.get("environment").is_none());
        let (ev, _) = run(
            json!({"level": "critical", "platform": "python", "release": "web@1.2", "environment": "prod"}),
            &ctx(),
        );
        assert_eq!(
            (ev["level"].as_str(), ev["release"].as_str(), ev["environment"].as_str()),
            (Some("fatal"), Some("web@1.2"), Some("prod"))
        );
    }

    #[test]
    fn long_fields_are_trimmed() {
        let long = "x".repeat(9000);
        let (ev, _) = run(
            json!({"logentry": {"formatted": long}, "transaction": "t".repeat(300), "tags": {"k": "v".repeat(300)},
            "breadcrumbs": {"values": (0..150).map(|i| json!({"message": i})).collect::<Vec<_>>()}}),
            &ctx(),
        );
        assert_eq!(ev["logentry"]["formatted"].as_str().unwrap().chars().count(), 8192);
        assert_eq!(ev["transaction"].as_str().unwrap().chars().count(), 200);
        assert_eq!(ev["tags"]["k"].as_str().unwrap().chars().count(), 200);
        let crumbs = ev["breadcrumbs"]["values"].as_array().unwrap();
        assert_eq!((crumbs.len(), crumbs[0]["message"].as_i64()), (100, Some(50)), "the newest 100 stay");
    }

    #[test]
    fn user_agent_becomes_contexts() {
        let ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
        let (ev, _) = run(json!({"request": {"headers": [["User-Agent", ua]]}}), &ctx());
        assert_eq!(ev["contexts"]["browser"]["name"], "Chrome");
        assert_eq!(ev["contexts"]["browser"]["version"], "120.0.0.0");
        assert_eq!(ev["contexts"]["os"]["name"], "Windows 10");
        let (ev, _) =
            run(json!({"request": {"headers": {"user-agent": ua}}, "contexts": {"browser": {"name": "Mine"}}}), &ctx());
        assert_eq!(ev["contexts"]["browser"]["name"], "Mine", "the SDK's own context wins");
        // Headless Chromium on Linux names no OS version: none is made up.
        let ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36";
        let (ev, _) = run(json!({"request": {"headers": {"user-agent": ua}}}), &ctx());
        assert_eq!(ev["contexts"]["os"], json!({"type": "os", "name": "Linux"}));
        assert_eq!(ev["contexts"]["browser"]["version"], "156.0.0.0");
    }
}
