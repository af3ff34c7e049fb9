//! `GET /api/0/organizations/{org}/stats_v2/` in Sentry's shape: `sum(quantity)` of dropped
//! data grouped by any of `outcome`, `category`, `reason`, `project`, over a `statsPeriod`
//! (or `start`/`end`) in `interval` buckets. Times from the request are checked: a sum that
//! would overflow, or a time chrono cannot show, is a 400.

use std::collections::BTreeMap;

use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::http::auth::OrgAuth;
use crate::http::extract::Path;
use crate::http::serialize::iso;
use crate::state::AppState;

/// An organization's outcome stats.
pub fn routes() -> Router<AppState> {
    Router::new().route("/api/0/organizations/{org}/stats_v2/", get(stats_v2))
}

/// At most this many buckets are returned; a longer range is cut short.
const MAX_BUCKETS: i64 = 10_000;

/// `90d`, `24h`, `30m`, `10s`, `2w` in milliseconds.
fn duration_ms(text: &str) -> Option<i64> {
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = number.parse().ok()?;
    let unit_ms = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return None,
    };
    n.checked_mul(unit_ms).filter(|&ms| ms > 0)
}

fn bad(what: &str) -> ApiError {
    ApiError::BadRequest(format!("invalid {what}"))
}

async fn stats_v2(
    State(state): State<AppState>,
    auth: OrgAuth,
    Path(org): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let org = auth.org(&org)?;
    let mut group_by = Vec::new();
    let (mut period, mut interval, mut start, mut end) = (None, None, None, None);
    let mut filters: Vec<(String, String)> = Vec::new();
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "groupBy" => match value.as_ref() {
                "outcome" | "category" | "reason" | "project" => group_by.push(value.into_owned()),
                other => return Err(ApiError::BadRequest(format!("cannot group by {other:?}"))),
            },
            "field" if value != "sum(quantity)" && value != "sum(times_seen)" => return Err(bad("field")),
            "statsPeriod" => period = Some(duration_ms(&value).ok_or_else(|| bad("statsPeriod"))?),
            "interval" => interval = Some(duration_ms(&value).ok_or_else(|| bad("interval"))?),
            "start" => start = Some(DateTime::parse_from_rfc3339(&value).map_err(|_| bad("start"))?.timestamp_millis()),
            "end" => end = Some(DateTime::parse_from_rfc3339(&value).map_err(|_| bad("end"))?.timestamp_millis()),
            "project" | "category" | "outcome" | "reason" => filters.push((key.into_owned(), value.into_owned())),
            _ => {}
        }
    }
    let interval: i64 = interval.unwrap_or(3_600_000);
    let now = Utc::now().timestamp_millis();
    let end = end.unwrap_or(now);
    let start = match start {
        Some(start) => start,
        None => end.checked_sub(period.unwrap_or(86_400_000)).ok_or_else(|| bad("statsPeriod"))?,
    };
    // Buckets start on interval boundaries, as Sentry's do.
    let first = start.checked_sub(start.rem_euclid(interval)).ok_or_else(|| bad("start"))?;
    if DateTime::from_timestamp_millis(first).is_none() {
        return Err(ApiError::BadRequest("the time range starts before any time that can be shown".into()));
    }
    let span = end.checked_sub(first).ok_or_else(|| bad("start"))?;
    let buckets = usize::try_from((span / interval).saturating_add(1).clamp(1, MAX_BUCKETS)).unwrap_or(1);
    let rows = state.store.outcome_totals(org.id, first, end, interval).await?;
    let mut groups: BTreeMap<Vec<(String, String)>, Vec<u64>> = BTreeMap::new();
    for row in rows {
        let fields = [
            ("project", row.project_id.to_string()),
            ("outcome", row.outcome),
            ("category", row.category),
            ("reason", row.reason),
        ];
        if filters.iter().any(|(k, v)| fields.iter().any(|(name, value)| name == k && value != v)) {
            continue;
        }
        let key: Vec<(String, String)> = fields
            .iter()
            .filter(|(name, _)| group_by.iter().any(|g| g == name))
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect();
        let series = groups.entry(key).or_insert_with(|| vec![0; buckets]);
        let at = usize::try_from(row.bucket_ms.saturating_sub(first) / interval).unwrap_or(usize::MAX);
        if let Some(slot) = series.get_mut(at) {
            *slot = slot.saturating_add(row.quantity);
        }
    }
    // Every bucket starts at or before `end` (`buckets` ≤ span / interval + 1): no overflow.
    let intervals: Vec<String> =
        (0..buckets as i64).map(|i| iso(first.saturating_add(i.saturating_mul(interval)))).collect();
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|(by, series)| {
            let by: serde_json::Map<String, Value> = by.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
            let total = series.iter().fold(0u64, |sum, &n| sum.saturating_add(n));
            json!({ "by": by, "totals": { "sum(quantity)": total }, "series": { "sum(quantity)": series } })
        })
        .collect();
    Ok(Json(json!({ "start": iso(first), "end": iso(end), "intervals": intervals, "groups": groups })))
}

#[cfg(test)]
mod tests {
    use super::duration_ms;

    #[test]
    fn durations() {
        assert_eq!(duration_ms("1h"), Some(3_600_000));
        assert_eq!(duration_ms("14d"), Some(14 * 86_400_000));
        assert_eq!(duration_ms("0h"), None);
        assert_eq!(duration_ms("h"), None);
        assert_eq!(duration_ms("3y"), None);
        assert_eq!(duration_ms("99999999999999d"), None);
        assert_eq!(duration_ms("99999999999999999999d"), None);
    }
}
