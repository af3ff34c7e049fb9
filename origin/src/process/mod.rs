//! Processing: an accepted envelope becomes the events to store (normalized, summarized,
//! grouped) plus the drops processing made, each with its reason. Nothing is skipped silently;
//! items that are not error events stay in the stored envelope.

#[cfg(test)]
mod golden;
pub mod group;
mod security;

use chrono::{DateTime, Utc};
use picket::core::envelope::Envelope;
use serde_json::{Map, Value};

use crate::store::{AcceptedEnvelope, Drop, NewEvent, Processed};

const LEVELS: &[&str] = &["fatal", "error", "warning", "info", "debug"];

/// Processes an accepted envelope into events and drops.
pub fn process(accepted: &AcceptedEnvelope) -> Processed {
    let (received_ms, client_ip) = (accepted.received_ms, accepted.client_ip.as_deref());
    let mut events = Vec::new();
    let mut drops = Vec::new();
    let envelope = Envelope::parse(&accepted.body);
    let event_id = envelope.as_ref().ok().and_then(Envelope::event_id).map(|id| id.simple());
    match &envelope {
        Ok(envelope) => {
            for payload in event_payloads(envelope) {
                match payload.and_then(|p| event(event_id.as_deref(), p, received_ms, client_ip)) {
                    Ok(ev) => events.push(ev),
                    Err(reason) => drops.push(Drop { category: "error".into(), reason: reason.into() }),
                }
            }
        }
        Err(_) => drops.push(Drop { category: "default".into(), reason: "invalid_envelope".into() }),
    }
    Processed { events, drops }
}

/// The event payloads an envelope carries: `event` items as they are, security reports turned
/// into `security` events, and a minidump without an event item made into a native crash.
fn event_payloads(envelope: &Envelope) -> Vec<Result<Map<String, Value>, &'static str>> {
    let mut out = Vec::new();
    for item in &envelope.items {
        match item.ty() {
            "event" => out.push(match serde_json::from_slice::<Value>(&item.payload) {
                Ok(Value::Object(ev)) => Ok(ev),
                _ => Err("invalid_json"),
            }),
            "raw_security" => {
                out.push(security::event_from_report(&item.payload, &item.headers).ok_or("security_report"))
            }
            _ => {}
        }
    }
    let has_event = envelope.items.iter().any(|i| i.ty() == "event");
    let minidump = envelope
        .items
        .iter()
        .any(|i| i.headers.get("attachment_type").and_then(Value::as_str) == Some("event.minidump"));
    if minidump && !has_event {
        out.push(Ok(security::native_crash()));
    }
    out
}

/// Normalizes one event payload into a [`NewEvent`].
fn event(
    envelope_event_id: Option<&str>,
    mut ev: Map<String, Value>,
    received_ms: i64,
    client_ip: Option<&str>,
) -> Result<NewEvent, &'static str> {
    let event_id = envelope_event_id
        .map(str::to_string)
        .or_else(|| {
            ev.get("event_id").and_then(Value::as_str).and_then(picket::core::EventId::parse).map(|i| i.simple())
        })
        .ok_or("event_id")?;
    let timestamp_ms = timestamp_ms(ev.get("timestamp")).unwrap_or(received_ms);
    let level = ev
        .get("level")
        .and_then(Value::as_str)
        .map(|l| if l == "warn" { "warning" } else { l })
        .filter(|l| LEVELS.contains(l))
        .unwrap_or("error")
        .to_string();
    let platform = ev.get("platform").and_then(Value::as_str).unwrap_or("other").to_string();
    ev.insert("event_id".into(), Value::String(event_id.clone()));
    ev.insert("timestamp".into(), Value::from(timestamp_ms as f64 / 1000.0));
    ev.insert("received".into(), Value::from(received_ms as f64 / 1000.0));
    ev.insert("level".into(), Value::String(level.clone()));
    ev.insert("platform".into(), Value::String(platform.clone()));
    if let Some(ip) = client_ip {
        resolve_auto_ip(&mut ev, ip);
    }
    let summary = group::summarize(&ev);
    Ok(NewEvent {
        event_id,
        timestamp_ms,
        level,
        platform: Some(platform),
        message: group::message(&ev),
        group_hash: group::group_hash(&ev),
        user_ident: user_ident(&ev),
        title: summary.title,
        culprit: summary.culprit,
        event_type: summary.event_type,
        metadata: summary.metadata,
        payload: Value::Object(ev),
    })
}

/// Replaces `{{auto}}` in `user.ip_address` and `request.env.REMOTE_ADDR` with the client's
/// address, as Relay does.
fn resolve_auto_ip(ev: &mut Map<String, Value>, ip: &str) {
    let auto = |v: Option<&Value>| v.and_then(Value::as_str) == Some("{{auto}}");
    if let Some(user) = ev.get_mut("user").and_then(Value::as_object_mut) {
        if auto(user.get("ip_address")) {
            user.insert("ip_address".into(), Value::String(ip.to_string()));
        }
    }
    let env = ev.get_mut("request").and_then(|r| r.get_mut("env")).and_then(Value::as_object_mut);
    if let Some(env) = env {
        if auto(env.get("REMOTE_ADDR")) {
            env.insert("REMOTE_ADDR".into(), Value::String(ip.to_string()));
        }
    }
}

/// A Sentry timestamp: seconds since the epoch (number) or RFC 3339 text.
fn timestamp_ms(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(n) => n.as_f64().filter(|f| f.is_finite() && *f >= 0.0).map(|f| (f * 1000.0) as i64),
        Value::String(s) => {
            let parsed = DateTime::parse_from_rfc3339(s)
                .map(|d| d.with_timezone(&Utc))
                .or_else(|_| s.parse::<chrono::NaiveDateTime>().map(|n| n.and_utc()));
            parsed.ok().map(|d| d.timestamp_millis())
        }
        _ => None,
    }
}

/// Who the user is, for `userCount`: id, else email, else username, else IP address.
fn user_ident(ev: &Map<String, Value>) -> Option<String> {
    let user = ev.get("user")?.as_object()?;
    ["id", "email", "username", "ip_address"].iter().find_map(|k| match user.get(*k)? {
        Value::String(s) if !s.is_empty() && s != "{{auto}}" => Some(format!("{k}:{s}")),
        Value::Number(n) => Some(format!("{k}:{n}")),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepted(body: &[u8], received_ms: i64, client_ip: Option<&str>) -> AcceptedEnvelope {
        AcceptedEnvelope {
            project_id: 1,
            event_id: None,
            received_ms,
            client_ip: client_ip.map(str::to_string),
            body: body.to_vec(),
        }
    }

    #[test]
    fn processes_events_and_records_bad_ones() {
        let body = b"{\"event_id\":\"fc6d8c0c43fc4630ad850ee518f1b9d0\"}\n{\"type\":\"event\"}\n{\"message\":\"m\",\"timestamp\":\"2026-11-21T04:37:11.5Z\",\"level\":\"warn\",\"user\":{\"id\":7}}\n{\"type\":\"event\"}\nnot json\n{\"type\":\"attachment\"}\nraw\n".to_vec();
        let acc = process(&accepted(&body, 5, None));
        assert_eq!(acc.events.len(), 1);
        assert_eq!(acc.events[0].event_id, "fc6d8c0c43fc4630ad850ee518f1b9d0");
        let ev = &acc.events[0];
        assert_eq!(ev.level, "warning");
        assert_eq!(ev.timestamp_ms, 1_795_235_831_500);
        assert_eq!(ev.user_ident.as_deref(), Some("id:7"));
        assert_eq!(ev.payload["event_id"], "fc6d8c0c43fc4630ad850ee518f1b9d0");
        assert_eq!(acc.drops, vec![Drop { category: "error".into(), reason: "invalid_json".into() }]);
    }

    #[test]
    fn auto_ips_take_the_client_address() {
        let body = b"{\"event_id\":\"fc6d8c0c43fc4630ad850ee518f1b9d0\"}\n{\"type\":\"event\"}\n{\"user\":{\"ip_address\":\"{{auto}}\"},\"request\":{\"env\":{\"REMOTE_ADDR\":\"{{auto}}\"}}}\n".to_vec();
        let ev = &process(&accepted(&body, 1, Some("203.0.113.7"))).events[0];
        assert_eq!(ev.payload["user"]["ip_address"], "203.0.113.7");
        assert_eq!(ev.payload["request"]["env"]["REMOTE_ADDR"], "203.0.113.7");
        assert_eq!(ev.user_ident.as_deref(), Some("ip_address:203.0.113.7"));
    }

    #[test]
    fn missing_timestamps_take_the_receive_time() {
        let body = b"{\"event_id\":\"fc6d8c0c43fc4630ad850ee518f1b9d0\"}\n{\"type\":\"event\"}\n{}\n".to_vec();
        assert_eq!(process(&accepted(&body, 1234, None)).events[0].timestamp_ms, 1234);
    }
}
