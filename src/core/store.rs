//! The legacy `/store/` endpoint: one JSON event body becomes a one-item envelope.

use serde_json::Value;

use super::envelope::{Envelope, Item};
use super::id::EventId;
use super::outcome::Reject;

/// Wraps a `/store/` JSON body in an envelope; the event id is the payload's, else `fresh`.
pub fn envelope_from_store(body: &[u8], fresh: EventId) -> Result<Envelope, Reject> {
    let value: Value = serde_json::from_slice(body).map_err(|e| Reject::InvalidJson(e.to_string()))?;
    let Value::Object(event) = value else {
        return Err(Reject::InvalidJson("the event is not a JSON object".into()));
    };
    let id = event.get("event_id").and_then(Value::as_str).and_then(EventId::parse).unwrap_or(fresh);
    let ty = match event.get("type").and_then(Value::as_str) {
        Some("transaction") => "transaction",
        _ => "event",
    };
    let mut envelope = Envelope::new(Some(id));
    envelope.items.push(Item::new(ty, body.to_vec()));
    Ok(envelope)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_payload_event_id_or_takes_the_fresh_one() {
        let fresh = EventId::from_bytes([7; 16]);
        let env =
            envelope_from_store(br#"{"event_id":"fc6d8c0c43fc4630ad850ee518f1b9d0","message":"x"}"#, fresh).unwrap();
        assert_eq!(env.event_id().unwrap().simple(), "fc6d8c0c43fc4630ad850ee518f1b9d0");
        assert_eq!(env.items[0].ty(), "event");
        let env = envelope_from_store(br#"{"type":"transaction"}"#, fresh).unwrap();
        assert_eq!(env.event_id(), Some(fresh));
        assert_eq!(env.items[0].ty(), "transaction");
    }

    #[test]
    fn refuses_non_objects() {
        assert_eq!(envelope_from_store(b"[1]", EventId::from_bytes([0; 16])).unwrap_err().status(), 400);
        assert_eq!(envelope_from_store(b"{", EventId::from_bytes([0; 16])).unwrap_err().status(), 400);
    }
}
