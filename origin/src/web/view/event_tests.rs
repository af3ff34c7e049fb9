//! The event view over real SDK events and odd JSON.

use serde_json::json;

use super::*;

const PYTHON_EVENT: &str = include_str!("../../../../tests/data/vectors/event-5kb.json");

#[test]
fn python_event_shows_frames_context_vars_and_crumbs() {
    let payload: Value = serde_json::from_str(PYTHON_EVENT).unwrap();
    let view = event_view(&payload);
    assert_eq!(view.exceptions.len(), 1);
    let e = &view.exceptions[0];
    assert_eq!((e.ty.as_str(), e.value.as_str()), ("KeyError", "'missing'"));
    assert_eq!((e.mechanism.as_str(), e.handled.as_str()), ("generic", "handled"));
    // Newest call first: `boom` raised, called from `<module>`.
    assert_eq!(e.app_frames[0].function, "boom");
    assert_eq!(e.app_frames[1].function, "<module>");
    let module = &e.app_frames[1];
    assert_eq!(module.line_col, "9");
    let current: Vec<&SourceLine> = module.context.iter().filter(|l| l.current).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0].number, "9");
    assert_eq!(current[0].code, "    boom()");
    assert_eq!(module.context[0].number, "4");
    assert!(module.vars.iter().any(|(k, v)| k == "__name__" && v == "'__main__'"));
    assert!(!view.crumbs.is_empty());
    assert!(!view.tags.is_empty());
}

#[test]
fn in_app_frames_come_first_newest_first() {
    let st = json!({ "frames": [
        { "function": "main", "in_app": true },
        { "function": "lib_call", "in_app": false },
        { "function": "handler", "in_app": true },
        { "function": "raise", "in_app": false },
    ]});
    let (app, other) = frames(Some(&st));
    assert_eq!(app.iter().map(|f| f.function.as_str()).collect::<Vec<_>>(), ["handler", "main"]);
    assert_eq!(other.iter().map(|f| f.function.as_str()).collect::<Vec<_>>(), ["raise", "lib_call"]);
    // Nothing marked in-app: every frame is shown as the app's.
    let (app, other) = frames(Some(&json!({ "frames": [{ "function": "a" }, { "function": "b" }] })));
    assert_eq!(app.len(), 2);
    assert!(other.is_empty());
}

#[test]
fn the_crashing_frame_opens_when_no_frame_is_marked_in_app() {
    // What Python's sentry-sdk sends for a script: no `in_app` at all.
    let st = json!({ "frames": [
        { "function": "<module>", "lineno": 13, "context_line": "charge(10)" },
        { "function": "charge", "lineno": 10, "context_line": "return total / 0", "vars": { "total": "20" } },
    ]});
    let (app, _) = frames(Some(&st));
    assert_eq!(
        app.iter().map(|f| (f.function.as_str(), f.open)).collect::<Vec<_>>(),
        [("charge", true), ("<module>", false)]
    );
    // In-app frames with something to show open; bare ones and library frames stay closed.
    let st = json!({ "frames": [
        { "function": "lib", "in_app": false, "context_line": "x" },
        { "function": "bare", "in_app": true },
        { "function": "app", "in_app": true, "context_line": "y" },
    ]});
    let (app, other) = frames(Some(&st));
    assert_eq!(app.iter().map(|f| (f.function.as_str(), f.open)).collect::<Vec<_>>(), [("app", true), ("bare", false)]);
    assert!(!other[0].open);
}

#[test]
fn exception_chain_keeps_the_sent_order() {
    let payload = json!({ "exception": { "values": [
        { "type": "ValueError", "value": "cause", "mechanism": { "type": "chained", "handled": false } },
        { "type": "RuntimeError", "value": "newest" },
    ]}});
    let view = event_view(&payload);
    assert_eq!(view.exceptions.iter().map(|e| e.ty.as_str()).collect::<Vec<_>>(), ["ValueError", "RuntimeError"]);
    assert_eq!(view.exceptions[0].handled, "unhandled");
    assert_eq!(view.exceptions[1].handled, "");
}

#[test]
fn source_context_without_lineno_has_no_numbers() {
    let f = json!({ "pre_context": ["a"], "context_line": "b", "post_context": ["c", 5] });
    let lines = source_context(&f);
    assert_eq!(lines.iter().map(|l| l.code.as_str()).collect::<Vec<_>>(), ["a", "b", "c", "5"]);
    assert!(lines.iter().all(|l| l.number.is_empty()));
    assert!(source_context(&json!({ "lineno": 3 })).is_empty());
    let at_max = source_context(&json!({ "lineno": i64::MAX, "context_line": "x", "post_context": ["y"] }));
    assert_eq!(at_max[1].number, "", "no overflow past the largest line number");
}

#[test]
fn odd_json_does_not_panic() {
    for payload in [
        json!(null),
        json!([1, 2]),
        json!({ "exception": "nope", "breadcrumbs": 5, "contexts": [], "request": "x", "user": 3, "tags": "t" }),
        json!({ "exception": { "values": [null, 1, { "stacktrace": { "frames": [null, 1, "x", {}] } }] } }),
        json!({ "exception": [{ "type": 5, "value": { "a": 1 }, "stacktrace": { "frames": "no" } }] }),
        json!({ "breadcrumbs": { "values": [null, { "timestamp": "nope", "data": [1] }, { "timestamp": 1e300 }] } }),
        json!({ "contexts": { "os": "Linux", "device": { "memory": 1, "type": "device" } } }),
        json!({ "request": { "headers": [["a"], ["b", "c"], "x", [1, 2]], "query_string": [["q", 1]], "data": { "k": [1] } } }),
        json!({ "message": { "formatted": "hi" }, "tags": [["k", null], ["only"]] }),
    ] {
        let view = event_view(&payload);
        let _ = raw_json(&payload, 100);
        let _ = view;
    }
    let view = event_view(&json!({ "contexts": { "os": "Linux", "device": { "memory": 1, "type": "device" } } }));
    assert_eq!(view.contexts[0].name, "OS");
    assert_eq!(view.contexts[1].rows, [("memory".to_string(), "1".to_string())]);
}

#[test]
fn huge_values_are_cut() {
    let big = "x".repeat(100_000);
    let payload = json!({ "exception": { "values": [{ "type": "E", "value": big, "stacktrace": { "frames": [
        { "function": "f", "vars": { "v": big }, "context_line": big }
    ]}}]}});
    let view = event_view(&payload);
    let e = &view.exceptions[0];
    assert!(e.value.chars().count() <= CLIP + 1);
    assert!(e.app_frames[0].vars[0].1.chars().count() <= CLIP + 1);
    assert!(raw_json(&payload, 1_000).chars().count() <= 1_001);
}

#[test]
fn request_parts() {
    let payload = json!({ "request": {
        "method": "POST", "url": "https://example.com/a", "query_string": "a=1&b=%3Cx%3E",
        "headers": { "User-Agent": "UA" }, "data": { "k": "v" },
    }});
    let r = event_view(&payload).request;
    assert_eq!(r.method, "POST");
    assert_eq!(r.query, [("a".into(), "1".into()), ("b".into(), "<x>".into())]);
    assert_eq!(r.headers, [("User-Agent".to_string(), "UA".to_string())]);
    assert!(r.data.contains("\"k\": \"v\""));
}
