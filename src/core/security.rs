//! The security endpoint: a browser's CSP, Expect-CT or HPKP report becomes a `raw_security`
//! item (the origin turns it into a `security` event), with `sentry_release` and
//! `sentry_environment` from the query string.

use serde_json::Value;

use super::envelope::{Envelope, Item};
use super::id::EventId;
use super::outcome::Reject;

/// Whether `content_type` is one browsers use for security reports (as Relay accepts them).
pub fn is_security_mime(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return false };
    let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    matches!(
        mime.as_str(),
        "application/json"
            | "application/csp-report"
            | "application/expect-ct-report"
            | "application/expect-ct-report+json"
            | "application/expect-staple-report"
            | "application/reports+json"
    )
}

/// Builds the envelope for one security report body.
pub fn envelope_from_report(
    body: &[u8],
    content_type: Option<&str>,
    query: &[(String, String)],
    fresh: EventId,
) -> Result<Envelope, Reject> {
    if !is_security_mime(content_type) {
        return Err(Reject::UnsupportedMediaType(content_type.unwrap_or("none").to_string()));
    }
    if body.trim_ascii().is_empty() {
        return Err(Reject::EmptyBody);
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(_) | Value::Array(_)) => {}
        Ok(_) => return Err(Reject::InvalidJson("a security report is a JSON object".into())),
        Err(e) => return Err(Reject::InvalidJson(e.to_string())),
    }
    let mut item = Item::new("raw_security", body.to_vec());
    item.headers.insert("content_type".into(), Value::String("application/json".into()));
    for (key, value) in query {
        if key == "sentry_release" || key == "sentry_environment" {
            item.headers.insert(key.clone(), Value::String(value.clone()));
        }
    }
    let mut envelope = Envelope::new(Some(fresh));
    envelope.items.push(item);
    Ok(envelope)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_become_raw_security_items() {
        let q = vec![("sentry_release".to_string(), "1.0".to_string()), ("x".to_string(), "y".to_string())];
        let body = br#"{"csp-report":{"document-uri":"https://example.com","violated-directive":"script-src"}}"#;
        let env = envelope_from_report(body, Some("application/csp-report"), &q, EventId::from_bytes([1; 16])).unwrap();
        assert_eq!(env.items[0].ty(), "raw_security");
        assert_eq!(env.items[0].headers["sentry_release"], "1.0");
        assert!(env.items[0].headers.get("x").is_none());
    }

    #[test]
    fn refuses_other_media_and_empty_bodies() {
        let id = EventId::from_bytes([1; 16]);
        assert_eq!(envelope_from_report(b"{}", Some("text/plain"), &[], id).unwrap_err().status(), 415);
        assert_eq!(envelope_from_report(b"", Some("application/json"), &[], id).unwrap_err(), Reject::EmptyBody);
        assert_eq!(envelope_from_report(b"1", Some("application/json"), &[], id).unwrap_err().status(), 400);
    }
}
