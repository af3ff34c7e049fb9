//! Titles, culprits and grouping as Sentry shows them: an explicit `fingerprint` (with
//! `{{ default }}`), else the exception chain — each exception's type and in-app frames
//! (module or file, and function; never line numbers), or its type and masked value when it
//! has no in-app frames — else the message template with numbers, hex, UUIDs and IPs masked.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// How an event reads in issue lists.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub title: String,
    pub culprit: String,
    pub metadata: Value,
    /// `error` (has an exception) or `default`.
    pub event_type: String,
}

const TITLE_MAX: usize = 200;

/// The exceptions, oldest first (`exception.values`, or a bare list as older SDKs sent).
pub fn exceptions(event: &Map<String, Value>) -> Vec<&Map<String, Value>> {
    let list = match event.get("exception") {
        Some(Value::Object(o)) => o.get("values").and_then(Value::as_array),
        Some(Value::Array(a)) => Some(a),
        _ => None,
    };
    list.map(|l| l.iter().filter_map(Value::as_object).collect()).unwrap_or_default()
}

/// The event's message: `logentry.formatted`, `logentry.message`, or `message`.
pub fn message(event: &Map<String, Value>) -> String {
    let logentry = event.get("logentry").or_else(|| event.get("sentry.interfaces.Message"));
    let from_logentry = logentry.and_then(|l| l.get("formatted").or_else(|| l.get("message"))).and_then(Value::as_str);
    let from_message = match event.get("message") {
        Some(Value::String(s)) => Some(s.as_str()),
        Some(Value::Object(o)) => o.get("formatted").or_else(|| o.get("message")).and_then(Value::as_str),
        _ => None,
    };
    from_logentry.or(from_message).unwrap_or("").to_string()
}

fn str_field<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn first_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    if line.chars().count() <= max {
        line.to_string()
    } else {
        let mut cut: String = line.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// Title, culprit, metadata and type for an event.
pub fn summarize(event: &Map<String, Value>) -> Summary {
    let excs = exceptions(event);
    let culprit = str_field(event, "transaction")
        .or_else(|| str_field(event, "culprit"))
        .map(str::to_string)
        .or_else(|| excs.last().and_then(|e| frame_culprit(e)))
        .unwrap_or_default();
    if let Some(exc) = excs.last() {
        let ty = str_field(exc, "type").unwrap_or("Error");
        let value = str_field(exc, "value").unwrap_or("");
        let title = if value.is_empty() { ty.to_string() } else { format!("{ty}: {}", first_line(value, TITLE_MAX)) };
        return Summary {
            title: first_line(&title, TITLE_MAX),
            culprit,
            metadata: json!({ "type": ty, "value": value }),
            event_type: "error".into(),
        };
    }
    let msg = message(event);
    let title = if msg.trim().is_empty() { "<unlabeled event>".to_string() } else { first_line(&msg, TITLE_MAX) };
    Summary { metadata: json!({ "title": title }), title, culprit, event_type: "default".into() }
}

/// `module in function` of the frame that raised: the last in-app frame, else the last frame.
fn frame_culprit(exc: &Map<String, Value>) -> Option<String> {
    let frames = exc.get("stacktrace")?.get("frames")?.as_array()?;
    let frame = frames
        .iter()
        .rev()
        .find(|f| f.get("in_app").and_then(Value::as_bool) == Some(true))
        .or_else(|| frames.last())?
        .as_object()?;
    let location = str_field(frame, "module").or_else(|| str_field(frame, "filename"))?;
    Some(match str_field(frame, "function") {
        Some(function) => format!("{location} in {function}"),
        None => location.to_string(),
    })
}

/// `module` (or `filename`) and `function` of each in-app frame, oldest first.
fn in_app_frames(exc: &Map<String, Value>) -> Vec<String> {
    let frames = exc.get("stacktrace").and_then(|s| s.get("frames")).and_then(Value::as_array);
    frames
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .filter(|f| f.get("in_app").and_then(Value::as_bool) == Some(true))
        .map(|f| {
            let place = str_field(f, "module").or_else(|| str_field(f, "filename")).unwrap_or("?");
            format!("{place}:{}", str_field(f, "function").unwrap_or("?"))
        })
        .collect()
}

static UUID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b").expect("valid")
});
static IP: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b\d{1,3}(?:\.\d{1,3}){3}\b").expect("valid"));
static HEX: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(?:0[xX][0-9a-fA-F]+|[0-9a-fA-F]{8,})\b").expect("valid"));
// Any run of digits, also inside words (`30s`, `v2`): both sides of a comparison mask alike.
static INT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\d+(?:\.\d+)?").expect("valid"));

/// A message with its variable parts masked, so `user 17 not found` and `user 42 not found`
/// group together.
pub fn mask(text: &str) -> String {
    let text = UUID.replace_all(text, "<uuid>");
    let text = IP.replace_all(&text, "<ip>");
    let text = HEX.replace_all(&text, |c: &regex::Captures| {
        let m = &c[0];
        let is_hex = m.starts_with("0x") || m.starts_with("0X") || m.bytes().any(|b| b.is_ascii_digit());
        if is_hex {
            "<hex>".to_string()
        } else {
            m.to_string()
        }
    });
    INT.replace_all(&text, "<int>").into_owned()
}

/// The message's template when it has one (`logentry.message` with params), else its text.
fn message_template(event: &Map<String, Value>) -> String {
    let logentry = event.get("logentry").and_then(Value::as_object);
    logentry.and_then(|l| str_field(l, "message")).map(str::to_string).unwrap_or_else(|| message(event))
}

/// What groups without a fingerprint: the exception chain, else the message.
fn default_components(event: &Map<String, Value>) -> Vec<String> {
    let excs = exceptions(event);
    if !excs.is_empty() {
        let mut parts = vec!["exception".to_string()];
        for exc in excs {
            parts.push(str_field(exc, "type").unwrap_or("").to_string());
            let frames = in_app_frames(exc);
            if frames.is_empty() {
                parts.push(mask(str_field(exc, "value").unwrap_or("")));
            } else {
                parts.extend(frames);
            }
        }
        return parts;
    }
    vec!["message".to_string(), mask(&message_template(event))]
}

/// The components that decide the issue, with `{{ default }}` expanded in a fingerprint.
pub fn components(event: &Map<String, Value>) -> Vec<String> {
    let fingerprint: Option<Vec<String>> = event.get("fingerprint").and_then(Value::as_array).map(|values| {
        values
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect()
    });
    match fingerprint.filter(|f| !f.is_empty()) {
        None => default_components(event),
        Some(values) => {
            let mut parts = vec!["fingerprint".to_string()];
            for value in values {
                let compact: String = value.chars().filter(|c| !c.is_whitespace()).collect();
                if compact == "{{default}}" {
                    parts.extend(default_components(event));
                } else {
                    parts.push(value);
                }
            }
            parts
        }
    }
}

/// The issue key: SHA-256 hex of the components.
pub fn group_hash(event: &Map<String, Value>) -> String {
    let mut hasher = Sha256::new();
    for part in components(event) {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn exception_title_and_culprit() {
        let e = obj(json!({"exception":{"values":[{"type":"KeyError","value":"'missing'\nmore",
            "stacktrace":{"frames":[{"module":"lib","function":"a","in_app":false},{"module":"app.views","function":"handler","in_app":true},{"module":"lib2","function":"z"}]}}]}}));
        let s = summarize(&e);
        assert_eq!(s.title, "KeyError: 'missing'");
        assert_eq!(s.culprit, "app.views in handler");
        assert_eq!(s.event_type, "error");
        assert_eq!(s.metadata["type"], "KeyError");
    }

    #[test]
    fn message_title() {
        let e = obj(json!({"logentry":{"message":"hello %s","formatted":"hello world"}}));
        assert_eq!(summarize(&e).title, "hello world");
        assert_eq!(summarize(&obj(json!({"message":"plain"}))).title, "plain");
        assert_eq!(summarize(&obj(json!({}))).title, "<unlabeled event>");
    }

    #[test]
    fn grouping_by_exception_message_and_fingerprint() {
        let a = obj(json!({"exception":{"values":[{"type":"E","value":"v"}]},"message":"x"}));
        let b = obj(json!({"exception":{"values":[{"type":"E","value":"v"}]},"message":"y"}));
        let c = obj(json!({"exception":{"values":[{"type":"F","value":"v"}]}}));
        assert_eq!(group_hash(&a), group_hash(&b));
        assert_ne!(group_hash(&a), group_hash(&c));
        let fa = obj(json!({"fingerprint":["db"],"message":"one"}));
        let fb = obj(json!({"fingerprint":["db"],"message":"two"}));
        assert_eq!(group_hash(&fa), group_hash(&fb));
        let da = obj(json!({"fingerprint":["{{ default }}","x"],"message":"one"}));
        let db = obj(json!({"fingerprint":["{{default}}","x"],"message":"two"}));
        assert_ne!(group_hash(&da), group_hash(&db));
        assert_eq!(components(&da), vec!["fingerprint", "message", "one", "x"]);
    }

    #[test]
    fn masks_variable_parts() {
        assert_eq!(mask("user 17 not found"), "user <int> not found");
        assert_eq!(
            mask("id 9ec79c33-ec99-42ab-8353-589fcb2e04dc at 0x7fff1234 from 10.0.0.12"),
            "id <uuid> at <hex> from <ip>"
        );
        assert_eq!(mask("hash deadbeef12 vs decade"), "hash <hex> vs decade");
    }
}
