//! The stats page's series, totals and rendering.

use super::*;
use crate::web::pages::test_chrome;

fn total(project_id: i64, outcome: &str, category: &str, bucket_ms: i64, quantity: u64) -> OutcomeTotal {
    OutcomeTotal {
        project_id,
        outcome: outcome.into(),
        category: category.into(),
        reason: String::new(),
        bucket_ms,
        quantity,
    }
}

#[test]
fn series_per_outcome_for_one_category() {
    let hour = 3_600_000;
    let rows = vec![
        total(1, "accepted", "error", 0, 5),
        total(2, "accepted", "error", 0, 1),
        total(1, "filtered", "error", hour, 2),
        total(1, "rate_limited", "transaction", hour, 7),
        total(1, "accepted", "error", 99 * hour, 1),
        total(1, "abuse", "error", 0, 1),
    ];
    let (series, totals) = chart_data(&rows, None, "error", 0, hour, 3);
    assert_eq!(series[0].values, [6, 0, 0]);
    assert_eq!(series[1].values, [0, 2, 0]);
    assert_eq!(series[2].values, [0, 0, 0], "another category is not drawn");
    assert_eq!(totals.len(), 2);
    assert_eq!(totals[0].category, "error");
    assert_eq!(totals[0].cells, ["7", "2", "0", "0", "0"]);
    assert_eq!(totals[1].cells[2], "7");
    let (series, _) = chart_data(&rows, Some(2), "error", 0, hour, 3);
    assert_eq!(series[0].values, [1, 0, 0]);
}

#[test]
fn renders_chart_and_table() {
    let hour = 3_600_000;
    let rows = vec![total(1, "accepted", "error", 0, 5), total(1, "invalid", "<b>", 0, 1)];
    let (series, totals) = chart_data(&rows, None, "error", 0, hour, 24);
    let starts: Vec<i64> = (0..24).map(|i| i * hour).collect();
    let page = StatsPage {
        chrome: test_chrome("stats"),
        org: "acme".into(),
        periods: vec![Choice { value: "24h".into(), label: "24 hours".into(), selected: true }],
        projects: vec![],
        categories: vec![Choice { value: "error".into(), label: "error".into(), selected: true }],
        category: "error".into(),
        period_label: "24 hours".into(),
        chart: stacked_bars(&starts, hour, &series),
        chart_w: CHART_W,
        chart_h: CHART_H,
        outcome_labels: OUTCOMES.iter().map(|o| o.1).collect(),
        totals,
    };
    let html = page.render().unwrap();
    assert!(html.contains("<svg class=\"bars\" viewBox=\"0 0 720 260\""), "{html}");
    assert!(html.contains("<rect class=\"s-accepted\""));
    assert!(html.contains("<title>Accepted: 5 at 01-01 00:00</title>"));
    assert!(html.contains("Rate limited"));
    assert!(!html.contains("<b>"), "categories are escaped");
}
