//! Text helpers for views: any JSON value as display text, long strings cut to a bound, and
//! times as ISO 8601 (for `<time datetime>`) and relative ("5 minutes ago").

use chrono::{DateTime, SecondsFormat};
use serde_json::Value;

/// The longest string a view shows of one value (characters); the rest becomes `…`.
pub const CLIP: usize = 2_000;

/// `text` cut to at most `max` characters, with `…` where it was cut.
pub fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((at, _)) => {
            let mut cut = text[..at].to_string();
            cut.push('…');
            cut
        }
    }
}

/// A JSON value as display text: strings as they are, `null` as empty, others as compact JSON;
/// cut to [`CLIP`].
pub fn show(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => clip(s, CLIP),
        other => clip(&other.to_string(), CLIP),
    }
}

/// A string field of an object, if it is a non-empty string (cut to [`CLIP`]).
pub fn field(value: &Value, key: &str) -> Option<String> {
    match value.get(key)? {
        Value::String(s) if !s.is_empty() => Some(clip(s, CLIP)),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Unix milliseconds as ISO 8601 UTC (`2026-11-21T04:37:11Z`), empty if out of range.
pub fn iso(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms).map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)).unwrap_or_default()
}

/// Unix milliseconds as a readable UTC time (`2026-11-21 04:37:11 UTC`).
pub fn absolute(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms).map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string()).unwrap_or_default()
}

/// How long before `now_ms` the time `ms` was, in words (`just now`, `5 minutes ago`,
/// `3 days ago`; `in the future` for times after now).
pub fn ago(now_ms: i64, ms: i64) -> String {
    let secs = now_ms.saturating_sub(ms) / 1000;
    if secs < -60 {
        return "in the future".into();
    }
    let (n, unit) = match secs {
        ..=44 => return "just now".into(),
        45..=3_599 => ((secs + 30) / 60, "minute"),
        3_600..=86_399 => ((secs + 1_800) / 3_600, "hour"),
        86_400..=2_591_999 => ((secs + 43_200) / 86_400, "day"),
        2_592_000..=31_535_999 => (secs / 2_592_000, "month"),
        _ => (secs / 31_536_000, "year"),
    };
    let n = n.max(1);
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

/// A time shown relative to now with its absolute form for a `title` and `datetime`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct When {
    pub iso: String,
    pub absolute: String,
    pub ago: String,
}

impl When {
    pub fn new(now_ms: i64, ms: i64) -> When {
        When { iso: iso(ms), absolute: absolute(ms), ago: ago(now_ms, ms) }
    }
}

/// A SDK timestamp (Unix seconds as a number, or RFC 3339 text) as Unix milliseconds.
pub fn timestamp_ms(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_f64().filter(|f| f.is_finite() && f.abs() < 1e14).map(|f| (f * 1000.0) as i64),
        Value::String(s) => DateTime::parse_from_rfc3339(s).ok().map(|t| t.timestamp_millis()),
        _ => None,
    }
}

/// Thousands separated by a thin space-free comma (`12,345`).
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes in binary units (`512 B`, `1.5 KiB`, `20.0 MiB`).
pub fn bytes(n: i64) -> String {
    let n = n.max(0) as f64;
    if n < 1024.0 {
        return format!("{n} B");
    }
    let mut v = n / 1024.0;
    for unit in ["KiB", "MiB", "GiB"] {
        if v < 1024.0 {
            return format!("{v:.1} {unit}");
        }
        v /= 1024.0;
    }
    format!("{v:.1} TiB")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn clips_on_characters() {
        assert_eq!(clip("héllo", 10), "héllo");
        assert_eq!(clip("héllo", 2), "hé…");
        assert_eq!(clip("", 0), "");
        assert_eq!(show(&json!("x".repeat(5000))).chars().count(), CLIP + 1);
        assert_eq!(show(&json!({"a": [1, null]})), r#"{"a":[1,null]}"#);
        assert_eq!(show(&Value::Null), "");
    }

    #[test]
    fn relative_times() {
        let now = 1_000_000_000_000;
        assert_eq!(ago(now, now), "just now");
        assert_eq!(ago(now, now - 60_000), "1 minute ago");
        assert_eq!(ago(now, now - 5 * 60_000), "5 minutes ago");
        assert_eq!(ago(now, now - 3 * 3_600_000), "3 hours ago");
        assert_eq!(ago(now, now - 2 * 86_400_000), "2 days ago");
        assert_eq!(ago(now, now + 3_600_000), "in the future");
        assert_eq!(ago(i64::MAX, i64::MIN), "292471208 years ago");
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso(i64::MAX), "");
    }

    #[test]
    fn timestamps_and_numbers() {
        assert_eq!(timestamp_ms(&json!(1.5)), Some(1500));
        assert_eq!(timestamp_ms(&json!("1970-01-01T00:00:02Z")), Some(2000));
        assert_eq!(timestamp_ms(&json!(1e300)), None);
        assert_eq!(timestamp_ms(&json!([])), None);
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(12), "12");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(-4), "0 B");
    }
}
