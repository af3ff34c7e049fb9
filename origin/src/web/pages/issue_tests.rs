//! The issue page rendered from a real SDK event and from hostile event data.

use serde_json::{json, Value};

use super::*;
use crate::web::pages::test_chrome;

const PYTHON_EVENT: &str = include_str!("../../../../tests/data/vectors/event-5kb.json");

fn issue() -> (Issue, Project) {
    let issue = Issue {
        id: 5,
        project_id: 1,
        short_id_number: 3,
        title: "KeyError: 'missing'".into(),
        culprit: "__main__ in boom".into(),
        level: "error".into(),
        status: "resolved".into(),
        substatus: "ongoing".into(),
        event_type: "error".into(),
        platform: Some("python".into()),
        metadata: json!({}),
        times_seen: 2,
        user_count: 1,
        user_report_count: 1,
        first_seen_ms: 0,
        last_seen_ms: 0,
    };
    let project = Project {
        id: 1,
        organization_id: 1,
        slug: "web".into(),
        name: "web".into(),
        platform: None,
        allowed_domains: vec![],
        event_retention_days: 90,
        scrubbing: Default::default(),
        date_created_ms: 0,
    };
    (issue, project)
}

fn event(payload: Value) -> Event {
    Event {
        event_id: "0123456789abcdef0123456789abcdef".into(),
        project_id: 1,
        issue_id: 5,
        timestamp_ms: 0,
        received_ms: 0,
        title: String::new(),
        culprit: String::new(),
        message: String::new(),
        platform: Some("python".into()),
        event_type: "error".into(),
        metadata: json!({}),
        payload,
    }
}

fn render_page(payload: Value, attachments: &[Attachment], reports: &[UserReport]) -> String {
    let (issue, project) = issue();
    let near = (Some("00000000000000000000000000000001".to_string()), None);
    let part = event_part("acme", 5, &event(payload), attachments, reports, near, 0);
    let page = IssuePage {
        chrome: test_chrome("issues"),
        org: "acme".into(),
        issue: header(&issue, &project, 0),
        event: Some(part),
        here: "/organizations/acme/issues/5/".into(),
    };
    page.render().unwrap()
}

#[test]
fn python_event_page() {
    let payload: Value = serde_json::from_str(PYTHON_EVENT).unwrap();
    let attachment = Attachment {
        id: 9,
        event_id: "0123456789abcdef0123456789abcdef".into(),
        name: "log.txt".into(),
        content_type: "text/plain".into(),
        attachment_type: "event.attachment".into(),
        size: 2048,
        sha1: String::new(),
        received_ms: 0,
    };
    let html = render_page(payload, &[attachment], &[]);
    // In-app frames open, newest call (`boom`) first, the current source line marked.
    let boom = html.find("<span class=\"fn\">boom</span>").expect("boom frame");
    let module = html.find("<span class=\"fn\">&#60;module&#62;</span>").expect("<module> frame");
    assert!(boom < module);
    assert!(html.contains("<details class=\"frame in-app\" open>"));
    assert!(html.contains("<span class=\"line current\"><span class=\"ln\">9</span>    boom()</span>"), "{html}");
    assert!(html.contains("Local variables"));
    assert!(html.contains("Breadcrumbs"));
    assert!(html.contains("handled"));
    assert!(
        html.contains("href=\"/organizations/acme/issues/5/events/0123456789abcdef0123456789abcdef/attachments/9/\"")
    );
    assert!(html.contains("2.0 KiB"));
    assert!(
        html.contains("href=\"/organizations/acme/issues/5/events/00000000000000000000000000000001/\" rel=\"prev\"")
    );
    assert!(html.contains("Unresolve"), "a resolved issue offers unresolve");
    assert!(!html.contains("value=\"resolved\""), "and not resolve again");
    assert!(html.contains("The stored event as JSON"));
}

#[test]
fn event_data_is_escaped_everywhere() {
    let x = "<script>alert(1)</script>";
    let payload = json!({
        "message": x,
        "exception": { "values": [{ "type": x, "value": x, "mechanism": { "type": x, "handled": false },
            "stacktrace": { "frames": [{ "function": x, "filename": x, "lineno": 1, "in_app": true,
                "context_line": x, "pre_context": [x], "vars": { x: x } }] } }] },
        "breadcrumbs": { "values": [{ "category": x, "message": x, "level": x, "data": { x: x } }] },
        "tags": { x: x },
        "contexts": { x: { x: x } },
        "user": { "email": x },
        "request": { "method": x, "url": x, "headers": [[x, x]], "query_string": x, "data": x },
        "extra": { x: x },
    });
    let report = UserReport {
        id: 1,
        event_id: "0123456789abcdef0123456789abcdef".into(),
        name: x.into(),
        email: x.into(),
        comments: x.into(),
        received_ms: 0,
        issue: None,
    };
    let html = render_page(payload, &[], &[report]);
    assert!(!html.contains("<script"), "unescaped event data in {html}");
    assert!(html.contains("unhandled"));
    assert!(html.matches("&#60;script&#62;").count() > 20);
}

#[test]
fn message_only_event_and_missing_event() {
    let html = render_page(json!({ "message": "Hello from the CLI" }), &[], &[]);
    assert!(html.contains("<pre class=\"message\">Hello from the CLI</pre>"));
    assert!(!html.contains("class=\"exceptions\""));
    let (issue, project) = issue();
    let page = IssuePage {
        chrome: test_chrome("issues"),
        org: "acme".into(),
        issue: header(&issue, &project, 0),
        event: None,
        here: "/x".into(),
    };
    assert!(page.render().unwrap().contains("No events of this issue are stored"));
}

#[test]
fn downloads_have_safe_names() {
    assert_eq!(disposition("log.txt"), "attachment; filename=\"log.txt\"");
    assert_eq!(disposition("a\"b\r\n.txt"), "attachment; filename=\"a_b__.txt\"");
    assert_eq!(disposition("日本.txt"), "attachment; filename=\"__.txt\"");
    assert_eq!(disposition(""), "attachment; filename=\"attachment\"");
}
