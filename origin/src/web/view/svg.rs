//! Charts drawn on the server as SVG geometry (numbers and labels; the templates write the
//! elements, so every label is escaped): an issue's sparkline of events per hour, and stacked
//! bars per interval with axes and a legend for the stats page. Both scale to any width through
//! their `viewBox`.

use chrono::DateTime;

/// A sparkline's drawing box (`viewBox="0 0 W H"`).
pub const SPARK_W: f64 = 120.0;
pub const SPARK_H: f64 = 28.0;
const SPARK_PAD: f64 = 2.0;

/// A line and the area under it for counts per bucket, oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct Sparkline {
    /// `x,y x,y …` for a `<polyline>`.
    pub points: String,
    /// A closed path under the line for a `<path>`.
    pub area: String,
    pub total: u64,
    pub max: u64,
    /// What it shows, for `aria-label`/`title`.
    pub label: String,
}

fn num(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

/// Draws `counts` (one per hour, oldest first) scaled so the largest touches the top.
pub fn sparkline(counts: &[u64]) -> Sparkline {
    let max = counts.iter().copied().max().unwrap_or(0);
    let total = counts.iter().fold(0u64, |a, &b| a.saturating_add(b));
    let n = counts.len();
    let step = if n > 1 { SPARK_W / (n - 1) as f64 } else { 0.0 };
    let span = SPARK_H - 2.0 * SPARK_PAD;
    let xy: Vec<(f64, f64)> = counts
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let x = if n > 1 { i as f64 * step } else { SPARK_W / 2.0 };
            let y = if max == 0 { SPARK_H - SPARK_PAD } else { SPARK_H - SPARK_PAD - (c as f64 / max as f64) * span };
            (x, y)
        })
        .collect();
    let points = xy.iter().map(|(x, y)| format!("{},{}", num(*x), num(*y))).collect::<Vec<_>>().join(" ");
    let area = match (xy.first(), xy.last()) {
        (Some(first), Some(last)) => {
            let line: String = xy.iter().map(|(x, y)| format!(" L{},{}", num(*x), num(*y))).collect();
            format!("M{},{}{line} L{},{} Z", num(first.0), num(SPARK_H), num(last.0), num(SPARK_H))
        }
        _ => String::new(),
    };
    let label = format!("{total} events in the last {n} hours, at most {max} in one hour");
    Sparkline { points, area, total, max, label }
}

/// The stats chart's drawing box and margins.
pub const CHART_W: f64 = 720.0;
pub const CHART_H: f64 = 260.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 26.0;

/// One series of a stacked chart: a name, a CSS class for its colour, a value per interval.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    pub class: String,
    pub values: Vec<u64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    pub x: String,
    pub y: String,
    pub w: String,
    pub h: String,
    pub class: String,
    /// `series: value at time`, shown on hover through `<title>`.
    pub title: String,
}

/// An axis label at a position (`y` for the value axis, `x` for the time axis).
#[derive(Clone, Debug, PartialEq)]
pub struct Tick {
    pub at: String,
    pub label: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LegendEntry {
    pub name: String,
    pub class: String,
    pub total: String,
}

/// Stacked bars per interval, with value and time axes and a legend.
#[derive(Clone, Debug, PartialEq)]
pub struct BarChart {
    pub bars: Vec<Bar>,
    pub y_ticks: Vec<Tick>,
    pub x_ticks: Vec<Tick>,
    pub legend: Vec<LegendEntry>,
    /// The plot area's left, right, top and baseline, for the axis lines.
    pub left: String,
    pub right: String,
    pub top: String,
    pub base: String,
    pub label: String,
}

/// The smallest 1, 2 or 5 × 10ⁿ at least `v` (1 for 0).
pub fn nice_ceiling(v: u64) -> u64 {
    if v <= 1 {
        return 1;
    }
    let mut step: u64 = 1;
    loop {
        for m in [1u64, 2, 5] {
            let candidate = step.saturating_mul(m);
            if candidate >= v || candidate == u64::MAX {
                return candidate;
            }
        }
        step = step.saturating_mul(10);
    }
}

/// A bucket start as a time-axis label: `HH:MM` for sub-day intervals, `MM-DD` otherwise.
fn time_label(ms: i64, interval_ms: i64) -> String {
    let Some(t) = DateTime::from_timestamp_millis(ms) else { return String::new() };
    if interval_ms < 86_400_000 {
        t.format("%m-%d %H:%M").to_string()
    } else {
        t.format("%m-%d").to_string()
    }
}

/// Draws `series` stacked over buckets starting at `starts` (Unix ms, `interval_ms` apart).
pub fn stacked_bars(starts: &[i64], interval_ms: i64, series: &[Series]) -> BarChart {
    let n = starts.len();
    let stack = |i: usize| series.iter().fold(0u64, |a, s| a.saturating_add(s.values.get(i).copied().unwrap_or(0)));
    let peak = (0..n).map(stack).max().unwrap_or(0);
    let top_value = nice_ceiling(peak);
    let plot_w = CHART_W - LEFT - RIGHT;
    let plot_h = CHART_H - TOP - BOTTOM;
    let base = CHART_H - BOTTOM;
    let slot = if n > 0 { plot_w / n as f64 } else { plot_w };
    let gap = (slot * 0.15).min(4.0);
    let mut bars = Vec::new();
    for (i, start) in starts.iter().enumerate() {
        let mut y = base;
        for s in series {
            let v = s.values.get(i).copied().unwrap_or(0);
            if v == 0 {
                continue;
            }
            let h = v as f64 / top_value as f64 * plot_h;
            y -= h;
            bars.push(Bar {
                x: num(LEFT + i as f64 * slot + gap / 2.0),
                y: num(y),
                w: num((slot - gap).max(0.5)),
                h: num(h.max(0.5)),
                class: s.class.clone(),
                title: format!("{}: {} at {}", s.name, super::text::count(v), time_label(*start, interval_ms)),
            });
        }
    }
    let y_ticks = [0, top_value / 2, top_value]
        .iter()
        .enumerate()
        .filter(|(i, v)| *i == 0 || **v > 0)
        .map(|(_, &v)| Tick { at: num(base - v as f64 / top_value as f64 * plot_h), label: super::text::count(v) })
        .collect::<Vec<_>>();
    let every = n.div_ceil(6).max(1);
    let x_ticks = starts
        .iter()
        .enumerate()
        .filter(|(i, _)| i % every == 0)
        .map(|(i, &ms)| Tick { at: num(LEFT + (i as f64 + 0.5) * slot), label: time_label(ms, interval_ms) })
        .collect();
    let legend = series
        .iter()
        .map(|s| LegendEntry {
            name: s.name.clone(),
            class: s.class.clone(),
            total: super::text::count(s.values.iter().fold(0u64, |a, &b| a.saturating_add(b))),
        })
        .collect();
    let label = format!("{n} intervals, at most {} in one", super::text::count(peak));
    BarChart {
        bars,
        y_ticks,
        x_ticks,
        legend,
        left: num(LEFT),
        right: num(CHART_W - RIGHT),
        top: num(TOP),
        base: num(base),
        label,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_scales_to_the_largest_count() {
        let s = sparkline(&[0, 2, 4]);
        assert_eq!(s.points, "0,26 60,14 120,2");
        assert_eq!(s.area, "M0,28 L0,26 L60,14 L120,2 L120,28 Z");
        assert_eq!((s.total, s.max), (6, 4));
    }

    #[test]
    fn sparkline_of_nothing_is_flat_at_the_bottom() {
        let s = sparkline(&[0; 24]);
        assert!(s.points.split(' ').all(|p| p.ends_with(",26")), "{}", s.points);
        assert_eq!(s.points.split(' ').count(), 24);
        assert_eq!(s.max, 0);
        assert_eq!(sparkline(&[]).points, "");
        assert_eq!(sparkline(&[]).area, "");
        assert_eq!(sparkline(&[5]).points, "60,2");
        let huge = sparkline(&[u64::MAX, u64::MAX]);
        assert_eq!(huge.total, u64::MAX);
    }

    #[test]
    fn nice_ceilings() {
        assert_eq!(nice_ceiling(0), 1);
        assert_eq!(nice_ceiling(3), 5);
        assert_eq!(nice_ceiling(7), 10);
        assert_eq!(nice_ceiling(11), 20);
        assert_eq!(nice_ceiling(200), 200);
        assert_eq!(nice_ceiling(201), 500);
        assert!(nice_ceiling(u64::MAX) >= u64::MAX / 2);
    }

    #[test]
    fn stacked_bars_stack_and_label() {
        let hour = 3_600_000;
        let starts = [0, hour, 2 * hour];
        let series = vec![
            Series { name: "accepted".into(), class: "s-accepted".into(), values: vec![2, 0, 6] },
            Series { name: "filtered".into(), class: "s-filtered".into(), values: vec![2, 0, 4] },
        ];
        let chart = stacked_bars(&starts, hour, &series);
        // Peak 10 → axis top 10; plot height 224 from y 10 to 234.
        assert_eq!(chart.y_ticks.iter().map(|t| t.label.as_str()).collect::<Vec<_>>(), ["0", "5", "10"]);
        assert_eq!(chart.y_ticks[2].at, "10");
        assert_eq!(chart.bars.len(), 4, "zero values draw nothing");
        let last: Vec<&Bar> = chart.bars.iter().filter(|b| b.title.contains("02:00")).collect();
        assert_eq!(last[0].title, "accepted: 6 at 01-01 02:00");
        assert_eq!(last[0].h, "134.4");
        assert_eq!(last[1].y, "10", "the stack reaches the top");
        assert_eq!(chart.legend[1].total, "6");
        assert_eq!(chart.x_ticks.len(), 3);
        let empty = stacked_bars(&[], hour, &series);
        assert!(empty.bars.is_empty());
        assert_eq!(empty.y_ticks.iter().map(|t| t.label.as_str()).collect::<Vec<_>>(), ["0", "1"]);
    }
}
