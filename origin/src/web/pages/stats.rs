//! `GET /organizations/{org}/stats/?statsPeriod=24h|7d|14d|30d|90d&project=ID&category=error`:
//! what happened to the data SDKs sent (accepted, filtered, rate-limited, invalid, and the
//! SDKs' own client discards) for one data category over time, as stacked bars drawn from the
//! stored outcomes, and a table of every category's totals over the period.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use super::{member, now_ms, query};
use crate::model::OutcomeTotal;
use crate::state::AppState;
use crate::web::view::svg::{stacked_bars, BarChart, Series, CHART_H, CHART_W};
use crate::web::view::text::{clip, count};
use crate::web::{render, Chrome, PageError, Viewer};

pub fn routes() -> Router<AppState> {
    Router::new().route("/organizations/{org}/stats/", get(stats))
}

/// The outcomes shown, in stacking order, with their labels (Relay's names, as `stats_v2`).
pub const OUTCOMES: [(&str, &str); 5] = [
    ("accepted", "Accepted"),
    ("filtered", "Filtered"),
    ("rate_limited", "Rate limited"),
    ("invalid", "Invalid"),
    ("client_discard", "Client discard"),
];

/// The periods offered: `(statsPeriod, label, period ms, interval ms)`.
pub const PERIODS: [(&str, &str, i64, i64); 5] = [
    ("24h", "24 hours", 86_400_000, 3_600_000),
    ("7d", "7 days", 7 * 86_400_000, 6 * 3_600_000),
    ("14d", "14 days", 14 * 86_400_000, 86_400_000),
    ("30d", "30 days", 30 * 86_400_000, 86_400_000),
    ("90d", "90 days", 90 * 86_400_000, 86_400_000),
];

/// Categories always offered, whatever the data.
const COMMON: [&str; 6] = ["error", "transaction", "attachment", "session", "replay", "feedback"];

#[derive(Deserialize, Default)]
struct Params {
    #[serde(rename = "statsPeriod")]
    stats_period: Option<String>,
    project: Option<String>,
    category: Option<String>,
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

pub struct TotalsRow {
    pub category: String,
    /// One per [`OUTCOMES`] entry.
    pub cells: Vec<String>,
}

#[derive(Template)]
#[template(path = "stats.html")]
pub struct StatsPage {
    pub chrome: Chrome,
    pub org: String,
    pub periods: Vec<Choice>,
    pub projects: Vec<Choice>,
    pub categories: Vec<Choice>,
    pub category: String,
    pub period_label: String,
    pub chart: BarChart,
    pub chart_w: f64,
    pub chart_h: f64,
    pub outcome_labels: Vec<&'static str>,
    pub totals: Vec<TotalsRow>,
}

/// The chart's series for `category` and the totals table, from stored rows (filtered to
/// `project` if given) over `buckets` intervals starting at `first`.
pub fn chart_data(
    rows: &[OutcomeTotal],
    project: Option<i64>,
    category: &str,
    first: i64,
    interval: i64,
    buckets: usize,
) -> (Vec<Series>, Vec<TotalsRow>) {
    let mut series: Vec<Series> = OUTCOMES
        .iter()
        .map(|(name, label)| Series { name: label.to_string(), class: format!("s-{name}"), values: vec![0; buckets] })
        .collect();
    let mut totals: BTreeMap<String, [u64; OUTCOMES.len()]> = BTreeMap::new();
    for r in rows.iter().filter(|r| project.is_none_or(|p| p == r.project_id)) {
        let Some(k) = OUTCOMES.iter().position(|(name, _)| *name == r.outcome) else { continue };
        let t = totals.entry(r.category.clone()).or_default();
        t[k] = t[k].saturating_add(r.quantity);
        if r.category == category {
            let at = usize::try_from(r.bucket_ms.saturating_sub(first) / interval.max(1)).unwrap_or(usize::MAX);
            if let Some(slot) = series[k].values.get_mut(at) {
                *slot = slot.saturating_add(r.quantity);
            }
        }
    }
    let totals = totals
        .into_iter()
        .map(|(category, t)| TotalsRow { category: clip(&category, 100), cells: t.iter().map(|&n| count(n)).collect() })
        .collect();
    (series, totals)
}

async fn stats(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(org): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Html<String>, PageError> {
    let (_, organization) = member(&viewer, &org)?;
    let params: Params = query(raw.as_deref())?;
    let chosen = params.stats_period.as_deref().unwrap_or("24h");
    let &(period_key, period_label, period, interval) = PERIODS.iter().find(|p| p.0 == chosen).ok_or_else(|| {
        PageError::BadRequest(format!("statsPeriod is one of 24h, 7d, 14d, 30d, 90d, not {}", clip(chosen, 20)))
    })?;
    let projects = state.store.projects(organization.id).await?;
    let project = match params.project.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => Some(p.parse::<i64>().map_err(|_| PageError::BadRequest("Bad project id.".into()))?),
        None => None,
    };
    let category = params.category.filter(|c| !c.is_empty()).unwrap_or_else(|| "error".into());
    let now = now_ms();
    let end = (now / interval + 1) * interval;
    let first = end - period;
    let buckets = usize::try_from(period / interval).unwrap_or(1);
    let rows = state.store.outcome_totals(organization.id, first, end, interval).await?;
    let (series, totals) = chart_data(&rows, project, &category, first, interval, buckets);
    let starts: Vec<i64> = (0..buckets as i64).map(|i| first + i * interval).collect();
    let chart = stacked_bars(&starts, interval, &series);
    let mut names: Vec<String> = COMMON.iter().map(|c| c.to_string()).collect();
    for t in &totals {
        if !names.contains(&t.category) {
            names.push(t.category.clone());
        }
    }
    if !names.contains(&category) {
        names.push(category.clone());
    }
    let page = StatsPage {
        chrome: viewer.chrome("Stats", Some(&org), "stats"),
        periods: PERIODS
            .iter()
            .map(|p| Choice { value: p.0.into(), label: p.1.into(), selected: p.0 == period_key })
            .collect(),
        projects: projects
            .iter()
            .map(|p| Choice { value: p.id.to_string(), label: p.slug.clone(), selected: Some(p.id) == project })
            .collect(),
        categories: names
            .into_iter()
            .map(|c| Choice { selected: c == category, label: clip(&c, 100), value: c })
            .collect(),
        period_label: period_label.into(),
        category: clip(&category, 100),
        chart,
        chart_w: CHART_W,
        chart_h: CHART_H,
        outcome_labels: OUTCOMES.iter().map(|o| o.1).collect(),
        totals,
        org,
    };
    render(&page)
}

#[cfg(test)]
#[path = "stats_tests.rs"]
mod tests;
