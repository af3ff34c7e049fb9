//! Multipart uploads: the minidump endpoint (`upload_file_minidump` plus form fields and other
//! files) and the attachments endpoint become envelopes of `attachment` items. Parsing is
//! `multer` over the already-read body, polled once: a complete body never waits.

use futures_util::FutureExt;
use serde_json::{Map, Value};

use super::envelope::{Envelope, Item};
use super::id::EventId;
use super::outcome::Reject;

/// The form field a minidump arrives in.
pub const MINIDUMP_FIELD: &str = "upload_file_minidump";

/// At most this many parts per upload, so a body of tiny parts cannot make unbounded items.
pub const MAX_PARTS: usize = 100;

/// One form part.
#[derive(Debug)]
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

fn bad(e: impl std::fmt::Display) -> Reject {
    Reject::InvalidMultipart(e.to_string())
}

/// Splits a `multipart/form-data` body into its parts.
pub fn parse(body: &[u8], content_type: Option<&str>) -> Result<Vec<Part>, Reject> {
    let boundary = multer::parse_boundary(content_type.unwrap_or("")).map_err(bad)?;
    let data = bytes::Bytes::copy_from_slice(body);
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(data) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut parts = Vec::new();
    loop {
        let next = multipart.next_field().now_or_never().ok_or_else(|| bad("incomplete body"))?;
        let Some(field) = next.map_err(bad)? else { break };
        if parts.len() == MAX_PARTS {
            return Err(bad(format!("more than {MAX_PARTS} parts")));
        }
        let name = field.name().unwrap_or("").to_string();
        let filename = field.file_name().map(str::to_string);
        let content_type = field.content_type().map(|m| m.to_string());
        let data = field.bytes().now_or_never().ok_or_else(|| bad("incomplete part"))?.map_err(bad)?.to_vec();
        parts.push(Part { name, filename, content_type, data });
    }
    Ok(parts)
}

fn attachment(part: Part, attachment_type: &str) -> Item {
    let mut item = Item::new("attachment", part.data);
    item.headers.insert("attachment_type".into(), Value::String(attachment_type.into()));
    let filename = part.filename.unwrap_or(part.name);
    item.headers.insert("filename".into(), Value::String(filename));
    if let Some(ct) = part.content_type {
        item.headers.insert("content_type".into(), Value::String(ct));
    }
    item
}

/// A minidump starts with `MDMP` (or `PMDM` when written big-endian).
pub fn is_minidump(data: &[u8]) -> bool {
    data.starts_with(b"MDMP") || data.starts_with(b"PMDM")
}

/// The minidump endpoint: the dump becomes an `event.minidump` attachment, other files plain
/// attachments, a `sentry` field the event, and other text fields a `form_data` item.
pub fn minidump_envelope(body: &[u8], content_type: Option<&str>, fresh: EventId) -> Result<Envelope, Reject> {
    let mut event_id = None;
    let mut items = Vec::new();
    let mut fields = Map::new();
    let mut found = false;
    for part in parse(body, content_type)? {
        if part.name == MINIDUMP_FIELD {
            if !is_minidump(&part.data) {
                return Err(Reject::InvalidMinidump);
            }
            found = true;
            items.push(attachment(part, "event.minidump"));
        } else if part.filename.is_some() {
            items.push(attachment(part, "event.attachment"));
        } else if part.name == "sentry" {
            let event: Value = serde_json::from_slice(&part.data).map_err(|e| Reject::InvalidJson(e.to_string()))?;
            event_id = event.get("event_id").and_then(Value::as_str).and_then(EventId::parse);
            items.push(Item::new("event", part.data));
        } else {
            let text = String::from_utf8_lossy(&part.data).into_owned();
            if part.name == "sentry[event_id]" {
                event_id = Some(EventId::parse(&text).ok_or(Reject::InvalidEventId)?);
            }
            fields.insert(part.name, Value::String(text));
        }
    }
    if !found {
        return Err(Reject::MissingMinidump);
    }
    if !fields.is_empty() {
        let mut item = Item::new("form_data", serde_json::to_vec(&fields).expect("a map serializes"));
        item.headers.insert("content_type".into(), Value::String("application/json".into()));
        items.push(item);
    }
    let mut envelope = Envelope::new(Some(event_id.unwrap_or(fresh)));
    envelope.items = items;
    Ok(envelope)
}

/// The attachments endpoint: every file part becomes an attachment of event `event_id`.
pub fn attachments_envelope(body: &[u8], content_type: Option<&str>, event_id: EventId) -> Result<Envelope, Reject> {
    let mut envelope = Envelope::new(Some(event_id));
    for part in parse(body, content_type)? {
        if part.filename.is_some() {
            envelope.items.push(attachment(part, "event.attachment"));
        }
    }
    Ok(envelope)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn form(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
        let mut body = Vec::new();
        for (name, filename, data) in parts {
            body.extend(b"--XyZ\r\n");
            match filename {
                Some(f) => body.extend(
                    format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n").bytes(),
                ),
                None => body.extend(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").bytes()),
            }
            body.extend(*data);
            body.extend(b"\r\n");
        }
        body.extend(b"--XyZ--\r\n");
        ("multipart/form-data; boundary=XyZ".into(), body)
    }

    #[test]
    fn a_minidump_upload_becomes_attachments_and_fields() {
        let (ct, body) = form(&[
            ("upload_file_minidump", Some("crash.dmp"), b"MDMP\x93\xa7rest"),
            ("log", Some("app.log"), b"line"),
            ("sentry[release]", None, b"1.2"),
        ]);
        let env = minidump_envelope(&body, Some(&ct), EventId::from_bytes([3; 16])).unwrap();
        assert_eq!(env.event_id(), Some(EventId::from_bytes([3; 16])));
        let types: Vec<_> = env.items.iter().map(|i| (i.ty(), i.headers.get("attachment_type").cloned())).collect();
        assert_eq!(types[0], ("attachment", Some(Value::from("event.minidump"))));
        assert_eq!(types[1], ("attachment", Some(Value::from("event.attachment"))));
        assert_eq!(types[2].0, "form_data");
        assert_eq!(env.items[0].payload, b"MDMP\x93\xa7rest");
    }

    #[test]
    fn minidump_errors() {
        let (ct, body) = form(&[("upload_file_minidump", Some("x"), b"nope")]);
        assert_eq!(
            minidump_envelope(&body, Some(&ct), EventId::from_bytes([0; 16])).unwrap_err(),
            Reject::InvalidMinidump
        );
        let (ct, body) = form(&[("other", Some("x"), b"MDMP")]);
        assert_eq!(
            minidump_envelope(&body, Some(&ct), EventId::from_bytes([0; 16])).unwrap_err(),
            Reject::MissingMinidump
        );
        assert_eq!(
            minidump_envelope(b"junk", Some("text/plain"), EventId::from_bytes([0; 16])).unwrap_err().status(),
            400
        );
        assert_eq!(minidump_envelope(b"junk", Some(&ct), EventId::from_bytes([0; 16])).unwrap_err().status(), 400);
    }

    #[test]
    fn attachments_keep_the_path_event_id() {
        let id = EventId::from_bytes([5; 16]);
        let (ct, body) = form(&[("file", Some("a.txt"), b"hello")]);
        let env = attachments_envelope(&body, Some(&ct), id).unwrap();
        assert_eq!((env.event_id(), env.items.len()), (Some(id), 1));
        assert_eq!(env.items[0].headers["filename"], "a.txt");
    }
}
