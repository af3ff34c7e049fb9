//! Golden grouping tests on the fixtures in `tests/data/grouping` and the SDK captures.

use picket::core::envelope::Envelope;
use serde_json::{Map, Value};

use super::group::{components, group_hash, summarize};

fn data(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../tests/data/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn cases() -> Value {
    serde_json::from_slice(&data("grouping/cases.json")).unwrap()
}

fn event(cases: &Value, name: &str) -> Map<String, Value> {
    cases["events"][name].as_object().unwrap_or_else(|| panic!("no event {name}")).clone()
}

#[test]
fn titles_culprits_and_components_match_the_golden_file() {
    let cases = cases();
    for (name, want) in cases["expect"].as_object().unwrap() {
        let ev = event(&cases, name);
        let summary = summarize(&ev);
        assert_eq!(summary.title, want["title"].as_str().unwrap(), "{name}: title");
        assert_eq!(summary.culprit, want["culprit"].as_str().unwrap(), "{name}: culprit");
        if let Some(parts) = want.get("components") {
            let parts: Vec<String> = serde_json::from_value(parts.clone()).unwrap();
            assert_eq!(components(&ev), parts, "{name}: components");
        }
    }
}

#[test]
fn events_share_an_issue_exactly_when_the_golden_file_says() {
    let cases = cases();
    for (list, same) in [("same_issue", true), ("different_issues", false)] {
        for pair in cases[list].as_array().unwrap() {
            let (a, b) = (pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
            let equal = group_hash(&event(&cases, a)) == group_hash(&event(&cases, b));
            assert_eq!(equal, same, "{a} and {b} should {}share an issue", if same { "" } else { "not " });
        }
    }
}

#[test]
fn captures_read_as_sentry_shows_them() {
    let cases = cases();
    for (name, want) in cases["captures"].as_object().unwrap() {
        let envelope = Envelope::parse(&data(&format!("vectors/{name}.envelope"))).unwrap();
        let item = envelope.items.iter().find(|i| i.ty() == "event").unwrap();
        let ev: Map<String, Value> = serde_json::from_slice(&item.payload).unwrap();
        let summary = summarize(&ev);
        for (field, got) in [("title", &summary.title), ("culprit", &summary.culprit)] {
            if let Some(w) = want.get(field) {
                assert_eq!(got, w.as_str().unwrap(), "{name}: {field}");
            }
        }
    }
}

#[test]
fn normalization_matches_the_golden_file() {
    use super::normalize::{normalize, timestamp_ms, Context};
    let doc: Value = serde_json::from_slice(&data("normalization/cases.json")).unwrap();
    let default_received = doc["received_ms"].as_i64().unwrap();
    for case in doc["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let mut ev: Map<String, Value> = match case["capture"].as_str() {
            Some(capture) => {
                let envelope = Envelope::parse(&data(&format!("vectors/{capture}.envelope"))).unwrap();
                serde_json::from_slice(&envelope.items.iter().find(|i| i.ty() == "event").unwrap().payload).unwrap()
            }
            None => case["event"].as_object().unwrap().clone(),
        };
        let ctx = Context {
            received_ms: case["received_ms"].as_i64().unwrap_or(default_received),
            sent_at_ms: timestamp_ms(case.get("sent_at")),
            client_ip: case["client_ip"].as_str(),
            retention_days: 90,
        };
        normalize(&mut ev, &ctx);
        let ev = Value::Object(ev);
        for (pointer, want) in case["expect"].as_object().into_iter().flatten() {
            let got = ev.pointer(pointer).unwrap_or(&Value::Null);
            let same = match (got.as_f64(), want.as_f64()) {
                (Some(a), Some(b)) => (a - b).abs() < 0.0005,
                _ => got == want,
            };
            assert!(same, "{name}: {pointer} is {got}, want {want}");
        }
        for (pointer, len) in case["expect_len"].as_object().into_iter().flatten() {
            let got = ev.pointer(pointer).and_then(Value::as_str).map(|s| s.chars().count());
            assert_eq!(got, len.as_u64().map(|n| n as usize), "{name}: length of {pointer}");
        }
    }
}
