//! Processing: an accepted envelope becomes the events to store (normalized, summarized,
//! grouped) plus the drops processing made, each with its reason. Nothing is skipped silently;
//! items that are not error events stay in the stored envelope.

pub mod group;

use chrono::{DateTime, Utc};
use picket::core::envelope::Envelope;
use serde_json::{Map, Value};

use crate::store::{AcceptedEnvelope, Drop, NewEvent};

const LEVELS: &[&str] = &["fatal", "error", "warning", "info", "debug"];

/// Processes the envelope the core accepted for `project_id`.
pub fn process(project_id: i64, body: Vec<u8>, received_ms: i64) -> AcceptedEnvelope {
    let mut events = Vec::new();
    let mut drops = Vec::new();
    let envelope = Envelope::parse(&body);
    let event_id = envelope.as_ref().ok().and_then(Envelope::event_id).map(|id| id.simple());
    match &envelope {
        Ok(envelope) => {
            for item in envelope.items.iter().filter(|i| i.ty() == "event") {
                match event(event_id.as_deref(), &item.payload, received_ms) {
                    Ok(ev) => events.push(ev),
                    Err(reason) => drops.push(Drop { category: "error".into(), reason: reason.into() }),
                }
            }
        }
        Err(_) => drops.push(Drop { category: "default".into(), reason: "invalid_envelope".into() }),
    }
    AcceptedEnvelope { project_id, event_id, received_ms, body, events, drops }
}

/// Normalizes one error event's payload into a [`NewEvent`].
fn event(envelope_event_id: Option<&str>, payload: &[u8], received_ms: i64) -> Result<NewEvent, &'static str> {
    let Ok(Value::Object(mut ev)) = serde_json::from_slice::<Value>(payload) else {
        return Err("invalid_json");
    };
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

    #[test]
    fn processes_events_and_records_bad_ones() {
        let body = b"{\"event_id\":\"fc6d8c0c43fc4630ad850ee518f1b9d0\"}\n{\"type\":\"event\"}\n{\"message\":\"m\",\"timestamp\":\"2026-11-21T04:37:11.5Z\",\"level\":\"warn\",\"user\":{\"id\":7}}\n{\"type\":\"event\"}\nnot json\n{\"type\":\"attachment\"}\nraw\n".to_vec();
        let acc = process(1, body, 5);
        assert_eq!(acc.event_id.as_deref(), Some("fc6d8c0c43fc4630ad850ee518f1b9d0"));
        assert_eq!(acc.events.len(), 1);
        let ev = &acc.events[0];
        assert_eq!(ev.level, "warning");
        assert_eq!(ev.timestamp_ms, 1_795_235_831_500);
        assert_eq!(ev.user_ident.as_deref(), Some("id:7"));
        assert_eq!(ev.payload["event_id"], "fc6d8c0c43fc4630ad850ee518f1b9d0");
        assert_eq!(acc.drops, vec![Drop { category: "error".into(), reason: "invalid_json".into() }]);
    }

    #[test]
    fn missing_timestamps_take_the_receive_time() {
        let body = b"{\"event_id\":\"fc6d8c0c43fc4630ad850ee518f1b9d0\"}\n{\"type\":\"event\"}\n{}\n".to_vec();
        assert_eq!(process(1, body, 1234).events[0].timestamp_ms, 1234);
    }
}
