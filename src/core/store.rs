//! The legacy `/store/` endpoint: one event as JSON, base64, or base64 of zlib (as old
//! JavaScript and Node SDKs send), or as `?sentry_data=` on a GET; it becomes a one-item
//! envelope.

use std::io::Read;

use base64::Engine;
use serde_json::Value;

use super::envelope::{Envelope, Item};
use super::id::EventId;
use super::outcome::{Oversized, Reject};

/// A transparent 1×1 GIF, the answer to `GET /store/` (image-beacon clients).
pub const PIXEL_GIF: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
    0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02,
    0x02, 0x44, 0x01, 0x00, 0x3b,
];

fn starts_with_brace(data: &[u8]) -> bool {
    data.trim_ascii_start().first() == Some(&b'{')
}

/// Undoes the store body encodings: JSON passes; otherwise base64, then zlib unless that
/// already reads as JSON. The inflated size is capped at `cap`.
pub fn decode_store_body(body: &[u8], cap: usize) -> Result<Vec<u8>, Reject> {
    if body.trim_ascii().is_empty() {
        return Err(Reject::EmptyBody);
    }
    if starts_with_brace(body) {
        return Ok(body.to_vec());
    }
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let decoded = engine.decode(body.trim_ascii()).map_err(|e| Reject::BadEncoding(format!("base64: {e}")))?;
    if starts_with_brace(&decoded) {
        return Ok(decoded);
    }
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(decoded.as_slice())
        .take(cap as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| Reject::BadEncoding(format!("zlib: {e}")))?;
    if out.len() > cap {
        return Err(Reject::TooLarge { what: Oversized::Body, limit: cap });
    }
    Ok(out)
}

/// Wraps a `/store/` JSON event in an envelope; the event id is the payload's, else `fresh`.
pub fn envelope_from_store(body: &[u8], fresh: EventId) -> Result<Envelope, Reject> {
    let value: Value = serde_json::from_slice(body).map_err(|e| Reject::InvalidJson(e.to_string()))?;
    let Value::Object(event) = value else {
        return Err(Reject::InvalidJson("the event is not a JSON object".into()));
    };
    let id = match event.get("event_id") {
        None | Some(Value::Null) => fresh,
        Some(v) => v.as_str().and_then(EventId::parse).ok_or(Reject::InvalidEventId)?,
    };
    let ty = match event.get("type").and_then(Value::as_str) {
        Some("transaction") => "transaction",
        _ => "event",
    };
    let mut envelope = Envelope::new(Some(id));
    let mut item = Item::new(ty, body.to_vec());
    item.headers.insert("content_type".into(), Value::String("application/json".into()));
    envelope.items.push(item);
    Ok(envelope)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

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
        assert_eq!(envelope_from_store(br#"{"event_id":"zzz"}"#, fresh).unwrap_err(), Reject::InvalidEventId);
    }

    #[test]
    fn refuses_non_objects() {
        assert_eq!(envelope_from_store(b"[1]", EventId::from_bytes([0; 16])).unwrap_err().status(), 400);
        assert_eq!(envelope_from_store(b"{", EventId::from_bytes([0; 16])).unwrap_err().status(), 400);
    }

    #[test]
    fn decodes_base64_and_base64_zlib() {
        let json = br#"{"message":"old sdk"}"#;
        let b64 = base64::engine::general_purpose::STANDARD.encode(json);
        assert_eq!(decode_store_body(b64.as_bytes(), 1000).unwrap(), json);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(json).unwrap();
        let b64z = base64::engine::general_purpose::STANDARD.encode(z.finish().unwrap());
        assert_eq!(decode_store_body(b64z.as_bytes(), 1000).unwrap(), json);
        assert_eq!(decode_store_body(b64z.as_bytes(), 5).unwrap_err().status(), 413);
        assert_eq!(decode_store_body(b"%%%", 1000).unwrap_err().status(), 400);
        assert_eq!(decode_store_body(b"  ", 1000).unwrap_err(), Reject::EmptyBody);
    }
}
