//! An event's payload as the issue page shows it: the exception chain (as sent, newest last)
//! with each stack trace's frames newest call first, in-app frames before the rest; source
//! context with line numbers; local variables; breadcrumbs; tags; contexts; user; request;
//! the message. Every field is optional and any JSON type is accepted: what is missing is left
//! out, what is not a string is shown as compact JSON, and long text is cut.

use serde_json::{Map, Value};

use super::text::{clip, field, show, timestamp_ms, CLIP};
use crate::process::group;

/// At most this many frames per stack trace, breadcrumbs, and rows per table are shown.
const MAX_FRAMES: usize = 250;
const MAX_CRUMBS: usize = 200;
const MAX_ROWS: usize = 200;

/// One line of source context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceLine {
    /// The line number, when the frame has `lineno`.
    pub number: String,
    pub code: String,
    /// The line the frame points at.
    pub current: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameView {
    pub function: String,
    /// Module, else file name, else absolute path.
    pub location: String,
    /// `line:col`, `line`, or empty.
    pub line_col: String,
    pub in_app: bool,
    /// Shown opened: in-app frames with something to show, or the crashing frame when no
    /// frame is marked in-app.
    pub open: bool,
    pub context: Vec<SourceLine>,
    pub vars: Vec<(String, String)>,
}

impl FrameView {
    /// Whether the frame has anything to show when opened.
    pub fn has_detail(&self) -> bool {
        !self.context.is_empty() || !self.vars.is_empty()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExceptionView {
    pub ty: String,
    pub value: String,
    pub module: String,
    /// The mechanism's type, if any.
    pub mechanism: String,
    /// `handled`, `unhandled`, or empty when the SDK did not say.
    pub handled: String,
    /// In-app frames, newest call first (every frame if none is marked in-app).
    pub app_frames: Vec<FrameView>,
    /// The other frames, newest call first.
    pub other_frames: Vec<FrameView>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Crumb {
    pub time: String,
    pub category: String,
    pub level: String,
    pub message: String,
    pub data: String,
}

/// A titled key/value table (a context, the user, the request's parts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub name: String,
    pub rows: Vec<(String, String)>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestView {
    pub method: String,
    pub url: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub cookies: Vec<(String, String)>,
    pub data: String,
}

impl RequestView {
    pub fn is_empty(&self) -> bool {
        *self == RequestView::default()
    }
}

/// Everything the issue page shows of one event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventView {
    pub message: String,
    pub exceptions: Vec<ExceptionView>,
    pub crumbs: Vec<Crumb>,
    pub tags: Vec<(String, String)>,
    pub contexts: Vec<Table>,
    pub user: Vec<(String, String)>,
    pub request: RequestView,
    pub extra: Vec<(String, String)>,
}

/// Key/value pairs from an object (or a list of `[key, value]` pairs), values as text.
pub fn pairs(value: Option<&Value>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = match value {
        Some(Value::Object(o)) => o.iter().map(|(k, v)| (clip(k, 200), show(v))).collect(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|p| {
                let p = p.as_array()?;
                Some((clip(&show(p.first()?), 200), show(p.get(1).unwrap_or(&Value::Null))))
            })
            .collect(),
        Some(Value::String(s)) if !s.is_empty() => form_urlencoded::parse(s.trim_start_matches('?').as_bytes())
            .map(|(k, v)| (clip(&k, 200), clip(&v, CLIP)))
            .collect(),
        _ => Vec::new(),
    };
    out.truncate(MAX_ROWS);
    out
}

fn lines(value: Option<&Value>) -> Vec<String> {
    value.and_then(Value::as_array).map(|a| a.iter().take(50).map(show).collect()).unwrap_or_default()
}

fn int(value: Option<&Value>) -> Option<i64> {
    value.and_then(Value::as_i64)
}

/// The source context around a frame's line, numbered from `lineno` when known.
pub fn source_context(frame: &Value) -> Vec<SourceLine> {
    let Some(current) = frame.get("context_line") else { return Vec::new() };
    let pre = lines(frame.get("pre_context"));
    let post = lines(frame.get("post_context"));
    let lineno = int(frame.get("lineno"));
    let number = |offset: i64| lineno.and_then(|l| l.checked_add(offset)).map(|n| n.to_string()).unwrap_or_default();
    let mut out = Vec::with_capacity(pre.len() + post.len() + 1);
    let before = pre.len() as i64;
    for (i, code) in pre.into_iter().enumerate() {
        out.push(SourceLine { number: number(i as i64 - before), code, current: false });
    }
    out.push(SourceLine { number: number(0), code: show(current), current: true });
    for (i, code) in post.into_iter().enumerate() {
        out.push(SourceLine { number: number(i as i64 + 1), code, current: false });
    }
    out
}

pub fn frame(f: &Value) -> FrameView {
    let location = ["module", "filename", "abs_path"].iter().find_map(|k| field(f, k)).unwrap_or_default();
    let line_col = match (int(f.get("lineno")), int(f.get("colno"))) {
        (Some(l), Some(c)) => format!("{l}:{c}"),
        (Some(l), None) => l.to_string(),
        _ => String::new(),
    };
    FrameView {
        function: field(f, "function").or_else(|| field(f, "symbol")).unwrap_or_else(|| "?".into()),
        location,
        line_col,
        in_app: f.get("in_app").and_then(Value::as_bool).unwrap_or(false),
        open: false,
        context: source_context(f),
        vars: pairs(f.get("vars")),
    }
}

/// A stack trace's frames newest call first, split into in-app frames and the rest; when no
/// frame is marked in-app, every frame counts as the app's.
pub fn frames(stacktrace: Option<&Value>) -> (Vec<FrameView>, Vec<FrameView>) {
    let list = stacktrace.and_then(|s| s.get("frames")).and_then(Value::as_array);
    let mut all: Vec<FrameView> =
        list.map(|l| l.iter().rev().take(MAX_FRAMES).map(frame).collect()).unwrap_or_default();
    if !all.iter().any(|f| f.in_app) {
        if let Some(first) = all.first_mut() {
            first.open = first.has_detail();
        }
        return (all, Vec::new());
    }
    for f in all.iter_mut() {
        f.open = f.in_app && f.has_detail();
    }
    let others = all.iter().filter(|f| !f.in_app).cloned().collect();
    all.retain(|f| f.in_app);
    (all, others)
}

pub fn exception(e: &Map<String, Value>) -> ExceptionView {
    let e = Value::Object(e.clone());
    let mechanism = e.get("mechanism");
    let handled = match mechanism.and_then(|m| m.get("handled")).and_then(Value::as_bool) {
        Some(true) => "handled",
        Some(false) => "unhandled",
        None => "",
    };
    let (app_frames, other_frames) = frames(e.get("stacktrace").or_else(|| e.get("raw_stacktrace")));
    ExceptionView {
        ty: field(&e, "type").unwrap_or_else(|| "Error".into()),
        value: field(&e, "value").unwrap_or_default(),
        module: field(&e, "module").unwrap_or_default(),
        mechanism: mechanism.and_then(|m| field(m, "type")).unwrap_or_default(),
        handled: handled.into(),
        app_frames,
        other_frames,
    }
}

fn crumb(c: &Value) -> Option<Crumb> {
    c.as_object()?;
    let time = c.get("timestamp").and_then(timestamp_ms).map(|ms| {
        chrono::DateTime::from_timestamp_millis(ms).map(|t| t.format("%H:%M:%S%.3f").to_string()).unwrap_or_default()
    });
    let data = match c.get("data") {
        None | Some(Value::Null) => String::new(),
        Some(Value::Object(o)) if o.is_empty() => String::new(),
        Some(d) => show(d),
    };
    Some(Crumb {
        time: time.unwrap_or_default(),
        category: field(c, "category").or_else(|| field(c, "type")).unwrap_or_default(),
        level: field(c, "level").unwrap_or_else(|| "info".into()),
        message: field(c, "message").unwrap_or_default(),
        data,
    })
}

/// Contexts with the common ones first (browser, OS, device, runtime), then the rest by name.
fn contexts(value: Option<&Value>) -> Vec<Table> {
    let Some(Value::Object(map)) = value else { return Vec::new() };
    const FIRST: [&str; 4] = ["browser", "os", "device", "runtime"];
    let mut names: Vec<&String> = map.keys().collect();
    names.sort_by_key(|n| (FIRST.iter().position(|f| f == n).unwrap_or(FIRST.len()), n.to_string()));
    names
        .into_iter()
        .take(MAX_ROWS)
        .map(|name| {
            let rows = match &map[name] {
                v @ Value::Object(_) => pairs(Some(v)).into_iter().filter(|(k, _)| k != "type").collect(),
                other => vec![("value".to_string(), show(other))],
            };
            let title = match name.as_str() {
                "os" => "OS".to_string(),
                n => {
                    let mut c = n.chars();
                    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
                }
            };
            Table { name: clip(&title, 200), rows }
        })
        .collect()
}

/// The event's tags (object or pair-list form), then level, environment and release if absent.
fn tags(payload: &Value) -> Vec<(String, String)> {
    let mut tags = pairs(payload.get("tags"));
    for key in ["level", "environment", "release"] {
        if let Some(v) = field(payload, key) {
            if !tags.iter().any(|(k, _)| k == key) {
                tags.push((key.into(), v));
            }
        }
    }
    tags
}

fn request(r: Option<&Value>) -> RequestView {
    let Some(r) = r.filter(|r| r.is_object()) else { return RequestView::default() };
    let data = match r.get("data") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => clip(s, CLIP * 4),
        Some(other) => clip(&serde_json::to_string_pretty(other).unwrap_or_default(), CLIP * 4),
    };
    RequestView {
        method: field(r, "method").unwrap_or_default(),
        url: field(r, "url").unwrap_or_default(),
        query: pairs(r.get("query_string")),
        headers: pairs(r.get("headers")),
        cookies: pairs(r.get("cookies")),
        data,
    }
}

/// What the issue page shows of `payload` (an event as stored).
pub fn event_view(payload: &Value) -> EventView {
    let empty = Map::new();
    let map = payload.as_object().unwrap_or(&empty);
    let crumbs = payload.get("breadcrumbs").map(|b| b.get("values").unwrap_or(b)).and_then(Value::as_array);
    let crumbs = crumbs.map(|list| {
        // The newest breadcrumbs matter most: keep the last ones.
        let skip = list.len().saturating_sub(MAX_CRUMBS);
        list.iter().skip(skip).filter_map(crumb).collect()
    });
    EventView {
        message: clip(&group::message(map), CLIP * 4),
        exceptions: group::exceptions(map).into_iter().take(50).map(exception).collect(),
        crumbs: crumbs.unwrap_or_default(),
        tags: tags(payload),
        contexts: contexts(payload.get("contexts")),
        user: pairs(payload.get("user")),
        request: request(payload.get("request")),
        extra: pairs(payload.get("extra")),
    }
}

/// The stored event as indented JSON, cut to `max` characters for the page.
pub fn raw_json(payload: &Value, max: usize) -> String {
    clip(&serde_json::to_string_pretty(payload).unwrap_or_default(), max)
}

#[cfg(test)]
#[path = "event_tests.rs"]
mod tests;
