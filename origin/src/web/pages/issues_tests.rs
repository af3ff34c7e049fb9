//! The issue list's parsing, sparkline buckets and rendering.

use serde_json::json;

use super::*;
use crate::web::pages::test_chrome;

#[test]
fn searches() {
    let s = parse_search(None);
    assert_eq!(s.status, Some(IssueStatus::Unresolved));
    let s = parse_search(Some("is:resolved Key error"));
    assert_eq!(s.status, Some(IssueStatus::Resolved));
    assert_eq!(s.words, ["Key", "error"]);
    assert_eq!(parse_search(Some("")).status, None);
    assert_eq!(parse_search(Some("is:bogus")).unknown.as_deref(), Some("is:bogus"));
    assert_eq!(parse_cursor(None).unwrap(), 0);
    assert_eq!(parse_cursor(Some("25")).unwrap(), 25);
    assert_eq!(parse_cursor(Some("0:50:0")).unwrap(), 50);
    assert!(parse_cursor(Some("x")).is_err());
    assert!(parse_cursor(Some("99999999999999999999")).is_err());
}

#[test]
fn hourly_buckets_fill_24_slots() {
    let from = 1_000 * HOUR_MS;
    let h =
        hourly(&[(7, from, 3), (7, from + 23 * HOUR_MS, 1), (7, from + 30 * HOUR_MS, 9), (8, from - HOUR_MS, 2)], from);
    assert_eq!(h[&7].len(), 24);
    assert_eq!((h[&7][0], h[&7][23], h[&7].iter().sum::<u64>()), (3, 1, 4));
    assert_eq!(h[&8].iter().sum::<u64>(), 0, "a bucket before the window is not counted");
}

fn issue(title: &str) -> Issue {
    Issue {
        id: 17,
        project_id: 1,
        short_id_number: 4,
        title: title.into(),
        culprit: "app.views in <index>".into(),
        level: "error".into(),
        status: "unresolved".into(),
        substatus: "new".into(),
        event_type: "error".into(),
        platform: None,
        metadata: json!({}),
        times_seen: 1234,
        user_count: 2,
        user_report_count: 0,
        first_seen_ms: 0,
        last_seen_ms: 1_000,
    }
}

#[test]
fn renders_rows_escaped_with_sparklines_and_bulk_form() {
    let mut counts = vec![0; 24];
    counts[23] = 5;
    let r = row(&issue("<script>alert(1)</script>"), None, Some(&counts), 60_000);
    let page = IssuesPage {
        chrome: test_chrome("issues"),
        org: "acme".into(),
        query: "is:unresolved \"<x>".into(),
        project: None,
        projects: vec![],
        tabs: vec![Tab {
            label: "Unresolved",
            href: "/organizations/acme/issues/?query=is%3Aunresolved".into(),
            current: true,
        }],
        rows: vec![r],
        prev: None,
        next: Some("/organizations/acme/issues/?query=&cursor=25".into()),
        here: "/organizations/acme/issues/?query=".into(),
        notice: None,
        spark_w: SPARK_W,
        spark_h: SPARK_H,
    };
    let html = page.render().unwrap();
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62;") || html.contains("&lt;script&gt;"), "{html}");
    assert!(html.contains("value=\"is:unresolved &#34;&#60;x&#62;\"") || html.contains("&quot;&lt;x&gt;"), "{html}");
    assert!(html.contains("<polyline points=\"0,26"), "{html}");
    assert!(html.contains("name=\"csrf\" value=\"csrf-token-123\""));
    assert!(html.contains("action=\"/organizations/acme/issues/bulk/\""));
    assert!(html.contains("name=\"id\" value=\"17\""));
    assert!(html.contains("1,234"));
    assert!(html.contains("<time datetime=\"1970-01-01T00:00:01Z\""));
    assert!(html.contains("rel=\"next\""));
    assert!(!html.contains("rel=\"prev\""));
}
