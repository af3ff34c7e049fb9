//! PII scrubbing as Relay's data scrubbing does it (measured against `sentry_relay`'s own
//! scrubber): values under password-like keys and values that mention them become
//! `[Filtered]` (non-strings are removed), card numbers (Luhn-checked), IBANs, US SSNs, bearer
//! tokens, private keys and passwords in URLs are cut out, cookies are filtered, and with
//! `scrubIpAddresses` IPs go too. `logentry.formatted` gets replacement tokens (`[creditcard]`,
//! `[email]`, …) instead; exception values, file paths and the User-Agent are left alone.
//! Every change leaves a `_meta` remark in Relay's shape.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{json, Map, Value};

pub use crate::model::ScrubSettings;

const FILTERED: &str = "[Filtered]";
/// Key (and value) substrings that mark a secret, as Sentry's defaults list them.
const SENSITIVE: &[&str] = &[
    "password",
    "secret",
    "passwd",
    "api_key",
    "apikey",
    "auth",
    "credentials",
    "mysql_pwd",
    "privatekey",
    "private_key",
    "token",
];

/// Any of [`SENSITIVE`], ASCII case-insensitively (`(?i-u)`: as lowercasing ASCII and searching
/// would), in one pass over the text instead of one search per word.
static SENSITIVE_WORD: LazyLock<Regex> = LazyLock::new(|| {
    let words: Vec<String> = SENSITIVE.iter().map(|w| regex::escape(w)).collect();
    re(&format!("(?i-u){}", words.join("|")))
});

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("a valid pattern")
}

static CARD: LazyLock<Regex> = LazyLock::new(|| re(r"\b\d(?:[ -]?\d){12,18}\b"));
static IBAN: LazyLock<Regex> = LazyLock::new(|| re(r"\b[A-Z]{2}\d{2}[A-Z0-9]{11,30}\b"));
static SSN: LazyLock<Regex> = LazyLock::new(|| re(r"\b\d{3}-\d{2}-\d{4}\b"));
static BEARER: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)\bbearer\s+[A-Za-z0-9_\-.=~+/]+"));
static PEM: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?s)-----BEGIN[A-Z ]*PRIVATE KEY-----\s*(.+?)\s*-----END[A-Z ]*PRIVATE KEY-----"));
static URL_AUTH: LazyLock<Regex> = LazyLock::new(|| re(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]+:([^@/\s]+)@"));
static EMAIL: LazyLock<Regex> = LazyLock::new(|| re(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"));
static IPV4: LazyLock<Regex> = LazyLock::new(|| re(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"));

fn luhn(candidate: &str) -> bool {
    let digits: Vec<u32> = candidate.chars().filter_map(|c| c.to_digit(10)).collect();
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                if d * 2 > 9 {
                    d * 2 - 9
                } else {
                    d * 2
                }
            } else {
                d
            }
        })
        .sum();
    (13..=19).contains(&digits.len()) && sum.is_multiple_of(10)
}

/// One pattern rule: what it finds, which part it cuts, and the token it leaves.
struct Rule {
    id: &'static str,
    regex: &'static LazyLock<Regex>,
    /// The capture group replaced (0: the whole match).
    group: usize,
    token: &'static str,
}

const VALUE_RULES: &[Rule] = &[
    Rule { id: "@pemkey", regex: &PEM, group: 1, token: FILTERED },
    Rule { id: "@urlauth", regex: &URL_AUTH, group: 1, token: FILTERED },
    Rule { id: "@bearer", regex: &BEARER, group: 0, token: FILTERED },
    Rule { id: "@creditcard", regex: &CARD, group: 0, token: FILTERED },
    Rule { id: "@iban", regex: &IBAN, group: 0, token: FILTERED },
    Rule { id: "@usssn", regex: &SSN, group: 0, token: FILTERED },
];

const MESSAGE_RULES: &[Rule] = &[
    Rule { id: "@email", regex: &EMAIL, group: 0, token: "[email]" },
    Rule { id: "@creditcard", regex: &CARD, group: 0, token: "[creditcard]" },
    Rule { id: "@iban", regex: &IBAN, group: 0, token: "[iban]" },
    Rule { id: "@usssn", regex: &SSN, group: 0, token: "[us-ssn]" },
    Rule { id: "@bearer", regex: &BEARER, group: 0, token: "Bearer [token]" },
];

/// Applies `rules` to `text`; returns the new text and Relay-style remarks (`[rule, "s", from, to]`).
fn apply(text: &str, rules: &[Rule], action: &str) -> Option<(String, Vec<Value>)> {
    // Most values match no rule: they are neither copied nor searched for captures.
    let mut out: Option<String> = None;
    let mut remarks = Vec::new();
    for rule in rules {
        let current = out.as_deref().unwrap_or(text);
        if !rule.regex.is_match(current) {
            continue;
        }
        let mut next = String::with_capacity(current.len());
        let mut last = 0;
        for caps in rule.regex.captures_iter(current) {
            let Some(m) = caps.get(rule.group) else { continue };
            if rule.id == "@creditcard" && !luhn(m.as_str()) {
                continue;
            }
            next.push_str(&current[last..m.start()]);
            let from = next.chars().count();
            next.push_str(rule.token);
            remarks.push(json!([format!("{}:{action}", rule.id), "s", from, next.chars().count()]));
            last = m.end();
        }
        if last > 0 {
            next.push_str(&current[last..]);
            out = Some(next);
        }
    }
    (!remarks.is_empty()).then(|| (out.unwrap_or_else(|| text.to_string()), remarks))
}

struct Scrubber<'a> {
    settings: &'a ScrubSettings,
    meta: Map<String, Value>,
}

impl Scrubber<'_> {
    fn key_is_sensitive(&self, key: &str) -> bool {
        let key = key.to_ascii_lowercase();
        if self.settings.exclude_fields.iter().any(|f| f.eq_ignore_ascii_case(&key)) {
            return false;
        }
        let custom =
            self.settings.sensitive_fields.iter().any(|f| !f.is_empty() && key.contains(&f.to_ascii_lowercase()));
        custom || (self.settings.scrub_defaults && SENSITIVE_WORD.is_match(&key))
    }

    fn remark(&mut self, path: &[String], remarks: Vec<Value>, len: Option<usize>) {
        let mut node = &mut self.meta;
        for part in path {
            node =
                node.entry(part.clone()).or_insert_with(|| json!({})).as_object_mut().expect("meta nodes are objects");
        }
        let mut entry = json!({ "rem": remarks });
        if let Some(len) = len {
            entry["len"] = json!(len);
        }
        node.insert(String::new(), entry);
    }

    fn walk(&mut self, value: &mut Value, key: Option<&str>, path: &mut Vec<String>) {
        // `path` as `&str`s, without collecting them for every node.
        let at = |i: usize| path.get(i).map(String::as_str);
        let skip = at(0) == Some("debug_meta")
            || (matches!(key, Some("filename" | "abs_path")) && path.iter().any(|p| p == "frames"))
            || (at(0) == Some("exception") && key == Some("value"))
            || key.is_some_and(|k| k.eq_ignore_ascii_case("user-agent"));
        if skip {
            return;
        }
        if path.len() == 2 && at(0) == Some("logentry") && at(1) == Some("formatted") {
            if let Some((new, rems)) = value.as_str().and_then(|s| apply(s, MESSAGE_RULES, "replace")) {
                let len = value.as_str().map(|s| s.chars().count());
                *value = Value::String(new);
                self.remark(path, rems, len);
            }
            return;
        }
        if key.is_some_and(|k| self.key_is_sensitive(k))
            || (self.settings.scrub_defaults
                && at(0) == Some("request")
                && at(1) == Some("cookies")
                && !matches!(value, Value::Object(_) | Value::Array(_)))
        {
            let rule = if at(1) == Some("cookies") { "@anything:filter" } else { "@password:filter" };
            match value {
                Value::String(s) => {
                    let len = s.chars().count();
                    *value = Value::String(FILTERED.into());
                    self.remark(path, vec![json!([rule, "s", 0, FILTERED.len()])], Some(len));
                }
                Value::Null => {}
                _ if at(1) == Some("cookies") => self.walk_children(value, path),
                _ => {
                    *value = Value::Null;
                    self.remark(path, vec![json!([rule, "x"])], None);
                }
            }
            return;
        }
        match value {
            Value::String(s) if self.settings.scrub_defaults => {
                if SENSITIVE_WORD.is_match(s) {
                    let len = s.chars().count();
                    *value = Value::String(FILTERED.into());
                    self.remark(path, vec![json!(["@password:filter", "s", 0, FILTERED.len()])], Some(len));
                } else if let Some((new, rems)) = apply(s, VALUE_RULES, "filter") {
                    let len = s.chars().count();
                    *value = Value::String(new);
                    self.remark(path, rems, Some(len));
                }
            }
            Value::Object(_) | Value::Array(_) => self.walk_children(value, path),
            _ => {}
        }
    }

    fn walk_children(&mut self, value: &mut Value, path: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    path.push(k.clone());
                    self.walk(v, Some(k), path);
                    path.pop();
                }
            }
            Value::Array(list) => {
                for (i, v) in list.iter_mut().enumerate() {
                    path.push(i.to_string());
                    // A `[name, value]` pair (headers, cookies) scrubs its value under its name.
                    let pair_key =
                        v.as_array().filter(|p| p.len() == 2).and_then(|p| p[0].as_str().map(str::to_string));
                    match (pair_key, v.as_array_mut()) {
                        (Some(name), Some(pair)) => {
                            path.push("1".into());
                            self.walk(&mut pair[1], Some(&name), path);
                            path.pop();
                        }
                        _ => {
                            let key = path.get(path.len().saturating_sub(2)).cloned();
                            self.walk(v, key.as_deref(), path);
                        }
                    }
                    path.pop();
                }
            }
            _ => {}
        }
    }

    /// With `scrubIpAddresses`: address fields are removed and IPs in text replaced.
    fn scrub_ips(&mut self, ev: &mut Map<String, Value>) {
        for path in [["user", "ip_address"], ["request", "env"]] {
            let field = if path[1] == "env" { "REMOTE_ADDR" } else { path[1] };
            let parent = if path[1] == "env" {
                ev.get_mut("request").and_then(|r| r.get_mut("env")).and_then(Value::as_object_mut)
            } else {
                ev.get_mut("user").and_then(Value::as_object_mut)
            };
            if let Some(parent) = parent {
                if let Some(Value::String(ip)) = parent.get(field) {
                    let len = ip.chars().count();
                    parent.insert(field.into(), Value::Null);
                    let at: Vec<String> = if path[1] == "env" {
                        vec!["request".into(), "env".into(), field.into()]
                    } else {
                        vec!["user".into(), field.into()]
                    };
                    self.remark(
                        &at,
                        vec![json!(["@ip:replace", "s", 0, 4]), json!(["@anything:remove", "x"])],
                        Some(len),
                    );
                }
            }
        }
        fn replace_ips(value: &mut Value, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, Vec<Value>, usize)>) {
            match value {
                Value::String(s) => {
                    let mut rems = Vec::new();
                    let mut next = String::new();
                    let mut last = 0;
                    for m in IPV4.find_iter(s) {
                        next.push_str(&s[last..m.start()]);
                        let from = next.chars().count();
                        next.push_str("[ip]");
                        rems.push(json!(["@ip:replace", "s", from, next.chars().count()]));
                        last = m.end();
                    }
                    if !rems.is_empty() {
                        next.push_str(&s[last..]);
                        out.push((path.clone(), rems, s.chars().count()));
                        *s = next;
                    }
                }
                Value::Object(map) => {
                    for (k, v) in map.iter_mut() {
                        path.push(k.clone());
                        replace_ips(v, path, out);
                        path.pop();
                    }
                }
                Value::Array(list) => {
                    for (i, v) in list.iter_mut().enumerate() {
                        path.push(i.to_string());
                        replace_ips(v, path, out);
                        path.pop();
                    }
                }
                _ => {}
            }
        }
        let mut found = Vec::new();
        for (k, v) in ev.iter_mut().filter(|(k, _)| !matches!(k.as_str(), "debug_meta" | "_meta")) {
            replace_ips(v, &mut vec![k.clone()], &mut found);
        }
        for (path, rems, len) in found {
            self.remark(&path, rems, Some(len));
        }
    }
}

/// Scrubs `ev` in place per `settings` and merges the remarks into its `_meta`.
pub fn scrub(ev: &mut Map<String, Value>, settings: &ScrubSettings) {
    if !settings.scrub_data {
        return;
    }
    let mut scrubber = Scrubber { settings, meta: Map::new() };
    for (k, v) in ev.iter_mut().filter(|(k, _)| k.as_str() != "_meta") {
        let mut path = vec![k.clone()];
        scrubber.walk(v, Some(k), &mut path);
    }
    if settings.scrub_ip_addresses {
        scrubber.scrub_ips(ev);
    }
    if !scrubber.meta.is_empty() {
        ev.insert("_meta".into(), Value::Object(scrubber.meta));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_words_match_as_ascii_lowercase_contains() {
        for text in
            ["PassWord1", "x-Api_Key", "my TOKEN", "auth", "nothing", "\u{17f}ecret", "to\u{212a}en", "pass word", ""]
        {
            let expected = SENSITIVE.iter().any(|w| text.to_ascii_lowercase().contains(w));
            assert_eq!(SENSITIVE_WORD.is_match(text), expected, "{text:?}");
        }
    }

    #[test]
    fn luhn_separates_cards_from_numbers() {
        assert!(luhn("4111 1111 1111 1111") && luhn("378282246310005"));
        assert!(!luhn("1234 5678 9012 3456") && !luhn("4111"));
    }

    #[test]
    fn remarks_point_at_the_replacement() {
        let (text, rems) = apply("pay 4111-1111-1111-1111 now", VALUE_RULES, "filter").unwrap();
        assert_eq!(text, "pay [Filtered] now");
        assert_eq!(rems, vec![json!(["@creditcard:filter", "s", 4, 14])]);
        assert!(apply("nothing here", VALUE_RULES, "filter").is_none());
    }

    #[test]
    fn meta_records_each_change() {
        let mut ev = json!({"extra": {"password": "hunter2", "n": {"api_key": 5}}}).as_object().unwrap().clone();
        scrub(&mut ev, &ScrubSettings::default());
        assert_eq!(ev["extra"]["password"], "[Filtered]");
        assert_eq!(ev["extra"]["n"]["api_key"], Value::Null);
        assert_eq!(ev["_meta"]["extra"]["password"][""]["len"], 7);
        assert_eq!(ev["_meta"]["extra"]["n"]["api_key"][""]["rem"][0], json!(["@password:filter", "x"]));
    }
}
