//! JSON shapes of Sentry's web API for issues and events.

use chrono::{DateTime, SecondsFormat};
use serde_json::{json, Map, Value};

use crate::process::group;
use crate::store::{Event, Issue, Organization, Project, ProjectKey};

/// Unix milliseconds as Sentry's ISO 8601 (`2026-11-21T04:37:11.036Z`).
pub fn iso(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms).unwrap_or_default().to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn project_json(project: &Project) -> Value {
    json!({
        "id": project.id.to_string(),
        "name": project.name,
        "slug": project.slug,
        "platform": project.platform,
    })
}

/// A DSN key as Sentry's API shows it; `base` is where SDKs send (scheme and host).
pub fn key(key: &ProjectKey, base: &str) -> Value {
    let (scheme, host) = base.split_once("://").unwrap_or(("http", base));
    let (public, project) = (&key.public_key, key.project_id);
    let endpoint = |path: &str| format!("{scheme}://{host}/api/{project}/{path}/?sentry_key={public}");
    json!({
        "id": key.id.to_string(),
        "name": key.label,
        "label": key.label,
        "public": public,
        "secret": "",
        "projectId": project,
        "isActive": key.is_active,
        "rateLimit": key.rate_limit.map(|(window, count)| json!({ "window": window, "count": count })),
        "dateCreated": iso(key.date_created_ms),
        "dsn": {
            "public": format!("{scheme}://{public}@{host}/{project}"),
            "secret": format!("{scheme}://{public}@{host}/{project}"),
            "csp": endpoint("security"),
            "security": endpoint("security"),
            "minidump": endpoint("minidump"),
            "unreal": "",
            "cdn": "",
        },
    })
}

/// A project's details (`GET`/`PUT /api/0/projects/{org}/{project}/`).
pub fn project_details(project: &Project, org: &Organization) -> Value {
    let mut out = project_json(project);
    let map = out.as_object_mut().expect("built as an object");
    map.insert("dateCreated".into(), Value::String(iso(project.date_created_ms)));
    map.insert("organization".into(), json!({ "id": org.id.to_string(), "slug": org.slug, "name": org.name }));
    map.insert("allowedDomains".into(), json!(project.allowed_domains));
    map.insert("eventRetention".into(), json!(project.event_retention_days));
    let s = &project.scrubbing;
    map.insert("dataScrubber".into(), json!(s.scrub_data));
    map.insert("dataScrubberDefaults".into(), json!(s.scrub_defaults));
    map.insert("scrubIPAddresses".into(), json!(s.scrub_ip_addresses));
    map.insert("sensitiveFields".into(), json!(s.sensitive_fields));
    map.insert("safeFields".into(), json!(s.exclude_fields));
    out
}

pub fn short_id(project: &Project, number: i64) -> String {
    format!("{}-{number}", project.slug.to_uppercase())
}

pub fn issue(issue: &Issue, org: &Organization, project: &Project, base_url: &str) -> Value {
    json!({
        "id": issue.id.to_string(),
        "shortId": short_id(project, issue.short_id_number),
        "title": issue.title,
        "culprit": issue.culprit,
        "permalink": format!("{base_url}/organizations/{}/issues/{}/", org.slug, issue.id),
        "logger": null,
        "level": issue.level,
        "status": issue.status,
        "substatus": issue.substatus,
        "statusDetails": {},
        "isPublic": false,
        "platform": issue.platform,
        "project": project_json(project),
        "type": issue.event_type,
        "metadata": issue.metadata,
        "numComments": 0,
        "assignedTo": null,
        "isBookmarked": false,
        "isSubscribed": false,
        "hasSeen": false,
        "annotations": [],
        "issueType": "error",
        "issueCategory": "error",
        "count": issue.times_seen.to_string(),
        "userCount": issue.user_count,
        "userReportCount": issue.user_report_count,
        "firstSeen": iso(issue.first_seen_ms),
        "lastSeen": iso(issue.last_seen_ms),
    })
}

/// A value as Sentry's API prints it in tags and user fields: strings as they are.
fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Tags as `[{key, value}]`: the event's own (object or pair-list form), then level,
/// environment and release as Sentry adds them.
fn tags(payload: &Map<String, Value>) -> Vec<Value> {
    let mut pairs: Vec<(String, String)> = match payload.get("tags") {
        Some(Value::Object(o)) => o.iter().filter_map(|(k, v)| Some((k.clone(), as_text(v)?))).collect(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|p| {
                let p = p.as_array()?;
                Some((as_text(p.first()?)?, as_text(p.get(1)?)?))
            })
            .collect(),
        _ => Vec::new(),
    };
    for key in ["level", "environment", "release"] {
        if let Some(value) = payload.get(key).and_then(as_text) {
            if !pairs.iter().any(|(k, _)| k == key) {
                pairs.push((key.to_string(), value));
            }
        }
    }
    pairs.into_iter().map(|(key, value)| json!({ "key": key, "value": value })).collect()
}

fn user(payload: &Map<String, Value>) -> Value {
    let Some(user) = payload.get("user").and_then(Value::as_object) else {
        return Value::Null;
    };
    let mut out = Map::new();
    for key in ["id", "email", "username", "ip_address", "name"] {
        out.insert(key.to_string(), user.get(key).and_then(as_text).map_or(Value::Null, Value::String));
    }
    out.insert("data".into(), user.get("data").cloned().unwrap_or(Value::Null));
    Value::Object(out)
}

/// The `entries` of an event detail, as Sentry's UI and API present the interfaces.
fn entries(payload: &Map<String, Value>) -> Vec<Value> {
    let mut out = Vec::new();
    let excs = group::exceptions(payload);
    if !excs.is_empty() {
        out.push(json!({ "type": "exception", "data": { "values": excs, "hasSystemFrames": false } }));
    }
    let message = group::message(payload);
    if !message.is_empty() {
        out.push(json!({ "type": "message", "data": { "formatted": message } }));
    }
    if let Some(crumbs) = payload.get("breadcrumbs") {
        let values = crumbs.get("values").cloned().unwrap_or_else(|| crumbs.clone());
        out.push(json!({ "type": "breadcrumbs", "data": { "values": values } }));
    }
    if let Some(request) = payload.get("request") {
        out.push(json!({ "type": "request", "data": request }));
    }
    out
}

/// An event as lists show it; `detail` adds the interfaces and contexts.
pub fn event(event: &Event, detail: bool) -> Value {
    let empty = Map::new();
    let payload = event.payload.as_object().unwrap_or(&empty);
    let mut out = json!({
        "id": event.event_id,
        "eventID": event.event_id,
        "groupID": event.issue_id.to_string(),
        "projectID": event.project_id.to_string(),
        "title": event.title,
        "message": event.message,
        "culprit": event.culprit,
        "location": event.culprit,
        "platform": event.platform,
        "type": event.event_type,
        "event.type": event.event_type,
        "metadata": event.metadata,
        "dateCreated": iso(event.timestamp_ms),
        "dateReceived": iso(event.received_ms),
        "tags": tags(payload),
        "user": user(payload),
    });
    if detail {
        let map = out.as_object_mut().expect("built as an object");
        map.insert("entries".into(), Value::Array(entries(payload)));
        for key in ["contexts", "sdk", "release", "environment", "dist", "fingerprint"] {
            map.insert(key.into(), payload.get(key).cloned().unwrap_or(Value::Null));
        }
        map.insert("context".into(), payload.get("extra").cloned().unwrap_or_else(|| json!({})));
        map.insert("size".into(), Value::from(event.payload.to_string().len()));
        map.insert("errors".into(), json!([]));
    }
    out
}
