//! Processing: an accepted envelope becomes the events to store (normalized, summarized,
//! grouped), the attachments and user reports that come with them, plus the drops processing
//! made, each with its reason. Other items stay in the stored envelope.

#[cfg(test)]
mod golden;
pub mod group;
mod items;
pub mod normalize;
pub mod scrub;
mod security;

use picket::core::envelope::Envelope;
use serde_json::{Map, Value};

use picket::core::category::DataCategory;
use picket::core::outcome::{DiscardReason, Outcome, OutcomeKind};

use crate::model::{AcceptedEnvelope, NewEvent, Processed};
use normalize::Context;

/// Processes an accepted envelope into events, what comes with them, and one outcome for every
/// other item; `retention_days` bounds how old an event's own timestamp may be.
pub fn process(accepted: &AcceptedEnvelope, retention_days: i64, scrubbing: &scrub::ScrubSettings) -> Processed {
    let mut out = Processed::default();
    let Ok(envelope) = Envelope::parse(&accepted.body) else {
        let kind = OutcomeKind::Invalid;
        let reason = DiscardReason::InvalidEnvelope.as_str().to_string();
        out.outcomes.push(Outcome { kind, category: DataCategory::Default, quantity: 1, reason });
        return out;
    };
    let ctx = Context {
        received_ms: accepted.received_ms,
        sent_at_ms: normalize::timestamp_ms(envelope.headers.get("sent_at")),
        client_ip: accepted.client_ip.as_deref(),
        retention_days,
    };
    let event_id = envelope.event_id().map(|id| id.simple());
    let mut has_event = false;
    for item in &envelope.items {
        let payload = match item.ty() {
            "event" => {
                has_event = true;
                match serde_json::from_slice::<Value>(&item.payload) {
                    Ok(Value::Object(ev)) => Ok(ev),
                    _ => Err(DiscardReason::InvalidJson.as_str()),
                }
            }
            "raw_security" => security::event_from_report(&item.payload, &item.headers).ok_or("security_report"),
            "client_report" => {
                out.outcomes.extend(client_report(&item.payload));
                continue;
            }
            "attachment" | "user_report" | "feedback" => {
                if let Err(reason) = items::read(item, event_id.as_deref(), &mut out) {
                    out.outcomes.extend(Outcome::for_item(item, OutcomeKind::Invalid, reason));
                }
                continue;
            }
            // Kept in the stored envelope for the project's retention.
            _ => {
                out.outcomes.extend(Outcome::for_item(item, OutcomeKind::Accepted, ""));
                continue;
            }
        };
        match payload.and_then(|p| event(event_id.as_deref(), p, &ctx, scrubbing)) {
            Ok(mut ev) => {
                ev.accepted = Outcome::for_item(item, OutcomeKind::Accepted, "");
                out.events.push(ev);
            }
            Err(reason) => out.outcomes.extend(Outcome::for_item(item, OutcomeKind::Invalid, reason)),
        }
    }
    // A minidump without an event item is a native crash (its file counts as an attachment).
    let minidump = envelope
        .items
        .iter()
        .any(|i| i.headers.get("attachment_type").and_then(Value::as_str) == Some("event.minidump"));
    if minidump && !has_event {
        match event(event_id.as_deref(), security::native_crash(), &ctx, scrubbing) {
            Ok(ev) => out.events.push(ev),
            Err(reason) => {
                let reason = reason.to_string();
                out.outcomes.push(Outcome {
                    kind: OutcomeKind::Invalid,
                    category: DataCategory::Error,
                    quantity: 1,
                    reason,
                })
            }
        }
    }
    out
}

/// What an SDK reports having dropped itself (`discarded_events`), as `client_discard` outcomes.
fn client_report(payload: &[u8]) -> Vec<Outcome> {
    let Ok(report) = serde_json::from_slice::<Value>(payload) else { return Vec::new() };
    let discarded = report.get("discarded_events").and_then(Value::as_array);
    discarded
        .into_iter()
        .flatten()
        .filter_map(|d| {
            Some(Outcome {
                kind: OutcomeKind::ClientDiscard,
                category: DataCategory::from_name(d.get("category")?.as_str()?),
                // The SDK's own reason, as it sent it.
                reason: d.get("reason")?.as_str()?.to_string(),
                quantity: d.get("quantity").and_then(Value::as_u64).unwrap_or(1),
            })
        })
        .collect()
}

/// Normalizes one event payload into a [`NewEvent`].
fn event(
    envelope_event_id: Option<&str>,
    mut ev: Map<String, Value>,
    ctx: &Context,
    scrubbing: &scrub::ScrubSettings,
) -> Result<NewEvent, &'static str> {
    let event_id = envelope_event_id
        .map(str::to_string)
        .or_else(|| {
            ev.get("event_id").and_then(Value::as_str).and_then(picket::core::EventId::parse).map(|i| i.simple())
        })
        .ok_or("event_id")?;
    ev.insert("event_id".into(), Value::String(event_id.clone()));
    let timestamp_ms = normalize::normalize(&mut ev, ctx);
    // Scrubbed before anything reads it: titles, grouping and storage see no secrets.
    scrub::scrub(&mut ev, scrubbing);
    let level = ev["level"].as_str().unwrap_or("error").to_string();
    let platform = ev["platform"].as_str().map(str::to_string);
    let summary = group::summarize(&ev);
    Ok(NewEvent {
        event_id,
        timestamp_ms,
        level,
        platform,
        message: group::message(&ev),
        group_hash: group::group_hash(&ev),
        user_ident: user_ident(&ev),
        title: summary.title,
        culprit: summary.culprit,
        event_type: summary.event_type,
        metadata: summary.metadata,
        payload: Value::Object(ev),
        accepted: Vec::new(),
    })
}

/// Processes one event payload as the worker would and shows the result: the stored event,
/// its title, culprit, grouping components and timestamp (for `picket-origin process-event`).
pub fn inspect(payload: Value, ctx: &Context, scrubbing: &scrub::ScrubSettings) -> Result<Value, &'static str> {
    let Value::Object(ev) = payload else { return Err("the event is not a JSON object") };
    let event_id = ev.get("event_id").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| "0".repeat(32));
    let new = event(Some(&event_id), ev, ctx, scrubbing)?;
    let Value::Object(stored) = &new.payload else { unreachable!("events are objects") };
    Ok(serde_json::json!({
        "event": new.payload,
        "title": new.title,
        "culprit": new.culprit,
        "components": group::components(stored),
        "group_hash": new.group_hash,
        "timestamp_ms": new.timestamp_ms,
    }))
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
        let acc = process(&accepted(&body, 1_795_235_832_000, None), 90, &Default::default());
        assert_eq!(acc.events.len(), 1);
        assert_eq!(acc.events[0].event_id, "fc6d8c0c43fc4630ad850ee518f1b9d0");
        let ev = &acc.events[0];
        assert_eq!(ev.level, "error", "Relay does not accept `warn`");
        assert_eq!(ev.timestamp_ms, 1_795_235_831_500);
        assert_eq!(ev.user_ident.as_deref(), Some("id:7"));
        assert_eq!(ev.payload["event_id"], "fc6d8c0c43fc4630ad850ee518f1b9d0");
        let outcomes: Vec<_> =
            acc.outcomes.iter().map(|o| (o.kind, o.category, o.quantity, o.reason.as_str())).collect();
        assert_eq!(outcomes, [(OutcomeKind::Invalid, DataCategory::Error, 1, "invalid_json")]);
        assert_eq!(acc.attachments.len(), 1, "the attachment joins the envelope's event");
        assert_eq!(acc.attachments[0].accepted.len(), 2, "bytes and one item");
        assert_eq!(acc.events[0].accepted.len(), 1, "the good event counts once, as an error");
    }

    #[test]
    fn auto_ips_take_the_client_address() {
        let body = b"{\"event_id\":\"fc6d8c0c43fc4630ad850ee518f1b9d0\"}\n{\"type\":\"event\"}\n{\"user\":{\"ip_address\":\"{{auto}}\"},\"request\":{\"env\":{\"REMOTE_ADDR\":\"{{auto}}\"}}}\n".to_vec();
        let ev = &process(&accepted(&body, 1, Some("203.0.113.7")), 90, &Default::default()).events[0];
        assert_eq!(ev.payload["user"]["ip_address"], "203.0.113.7");
        assert_eq!(ev.payload["request"]["env"]["REMOTE_ADDR"], "203.0.113.7");
        assert_eq!(ev.user_ident.as_deref(), Some("ip_address:203.0.113.7"));
    }

    #[test]
    fn client_reports_become_client_discard_outcomes() {
        let body = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/data/vectors/python-sdk-2.75.0_429-then-client-report.envelope"
        ))
        .unwrap();
        let outcomes = process(&accepted(&body, 1, None), 90, &Default::default()).outcomes;
        let error = outcomes.iter().find(|d| d.category == DataCategory::Error).unwrap();
        assert_eq!(
            (error.kind, error.reason.as_str(), error.quantity),
            (OutcomeKind::ClientDiscard, "ratelimit_backoff", 1)
        );
        assert_eq!(outcomes.len(), 3);
    }

    #[test]
    fn missing_timestamps_take_the_receive_time() {
        let body = b"{\"event_id\":\"fc6d8c0c43fc4630ad850ee518f1b9d0\"}\n{\"type\":\"event\"}\n{}\n".to_vec();
        assert_eq!(process(&accepted(&body, 1234, None), 90, &Default::default()).events[0].timestamp_ms, 1234);
    }
}
