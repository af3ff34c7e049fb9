//! Sentry envelopes: parse (items with or without `length`, hyphenated or plain `event_id`,
//! unknown item types and header keys kept as they came) and serialize for forwarding.

use serde_json::{Map, Value};

use super::id::EventId;

/// At most this many items per envelope (SDKs send a handful; Relay has no count limit, only
/// the size one), so a body of tiny items cannot make unbounded work.
pub const MAX_ITEMS: usize = 1000;

/// Item types that belong to an event and so need an event id (Relay's `requires_event`).
pub const REQUIRES_EVENT: &[&str] = &[
    "event",
    "transaction",
    "security",
    "attachment",
    "form_data",
    "raw_security",
    "unreal_report",
    "user_report",
    "feedback",
    "replay_event",
    "profile",
];

/// Item types only Relay itself may create; clients sending them are refused.
pub const INTERNAL: &[&str] = &["integration"];

/// One item: its header object (unknown keys kept) and its payload bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub headers: Map<String, Value>,
    pub payload: Vec<u8>,
}

impl Item {
    pub fn new(ty: &str, payload: Vec<u8>) -> Self {
        let mut headers = Map::new();
        headers.insert("type".into(), Value::String(ty.into()));
        Item { headers, payload }
    }

    /// The item `type` (always present after parsing).
    pub fn ty(&self) -> &str {
        self.headers.get("type").and_then(Value::as_str).unwrap_or("")
    }

    /// Whether this item is an event itself (error, transaction or security report).
    pub fn is_event_payload(&self) -> bool {
        matches!(self.ty(), "event" | "transaction" | "security" | "raw_security")
    }

    /// Whether the payload must be one JSON object (events, transactions, feedback, user reports,
    /// check-ins): checked at ingest, so malformed ones get a 400 rather than a silent drop later.
    pub fn holds_json_object(&self) -> bool {
        matches!(self.ty(), "event" | "transaction" | "feedback" | "user_report" | "check_in")
    }

    /// Whether this item only makes sense with its envelope's event, and is dropped with it.
    pub fn is_event_dependant(&self) -> bool {
        matches!(self.ty(), "attachment" | "user_report" | "feedback" | "form_data")
    }

    /// Whether this item belongs to an event and so needs the envelope's event id.
    pub fn requires_event(&self) -> bool {
        REQUIRES_EVENT.contains(&self.ty())
    }
}

/// A parsed envelope.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    pub headers: Map<String, Value>,
    pub items: Vec<Item>,
}

/// Why an envelope did not parse; the text becomes the 400's `causes`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError(pub String);

impl Envelope {
    pub fn new(event_id: Option<EventId>) -> Self {
        let mut headers = Map::new();
        if let Some(id) = event_id {
            headers.insert("event_id".into(), Value::String(id.simple()));
        }
        Envelope { headers, items: Vec::new() }
    }

    /// Parses the envelope wire format: at most [`MAX_ITEMS`] items.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let (header_line, mut rest) = split_line(bytes);
        let headers = parse_header_object(header_line, "envelope header")?;
        if let Some(v) = headers.get("event_id") {
            let ok = v.is_null() || v.as_str().and_then(EventId::parse).is_some();
            if !ok {
                return Err(ParseError("envelope header: invalid event_id".into()));
            }
        }
        let mut items = Vec::new();
        loop {
            // Blank lines between items (and a trailing newline) carry nothing.
            while let Some(r) = rest.strip_prefix(b"\n").or_else(|| rest.strip_prefix(b"\r\n")) {
                rest = r;
            }
            if rest.is_empty() {
                break;
            }
            if items.len() == MAX_ITEMS {
                return Err(ParseError(format!("more than {MAX_ITEMS} items")));
            }
            let what = format!("item {}", items.len() + 1);
            let (line, after) = split_line(rest);
            let headers = parse_header_object(line, &what)?;
            match headers.get("type").and_then(Value::as_str) {
                None => return Err(ParseError(format!("{what}: missing type"))),
                Some(ty) if INTERNAL.contains(&ty) => {
                    return Err(ParseError(format!("{what}: internal item type {ty} is not accepted from clients")))
                }
                Some(_) => {}
            }
            let (payload, after) = match headers.get("length") {
                None | Some(Value::Null) => split_line(after),
                Some(v) => {
                    let len = v
                        .as_u64()
                        .and_then(|n| usize::try_from(n).ok())
                        .ok_or_else(|| ParseError(format!("{what}: invalid length")))?;
                    if after.len() < len {
                        return Err(ParseError(format!("{what}: payload shorter than its length {len}")));
                    }
                    let (payload, after) = after.split_at(len);
                    match after.first() {
                        None | Some(b'\n') => (payload, after.get(1..).unwrap_or(&[])),
                        Some(b'\r') if after.get(1) == Some(&b'\n') => (payload, &after[2..]),
                        Some(_) => return Err(ParseError(format!("{what}: missing newline after payload"))),
                    }
                }
            };
            items.push(Item { headers, payload: payload.to_vec() });
            rest = after;
        }
        Ok(Envelope { headers, items })
    }

    /// The envelope's event id, if it has a valid one.
    pub fn event_id(&self) -> Option<EventId> {
        self.headers.get("event_id").and_then(Value::as_str).and_then(EventId::parse)
    }

    /// Sets the event id (written in the plain 32-hex form).
    pub fn set_event_id(&mut self, id: EventId) {
        self.headers.insert("event_id".into(), Value::String(id.simple()));
    }

    /// The `dsn` header, if present.
    pub fn dsn(&self) -> Option<&str> {
        self.headers.get("dsn").and_then(Value::as_str)
    }

    /// Serializes with an explicit `length` on every item.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec(&self.headers).expect("a JSON map always serializes");
        out.push(b'\n');
        for item in &self.items {
            let mut headers = item.headers.clone();
            headers.insert("length".into(), Value::from(item.payload.len()));
            out.extend(serde_json::to_vec(&headers).expect("a JSON map always serializes"));
            out.push(b'\n');
            out.extend_from_slice(&item.payload);
            out.push(b'\n');
        }
        out
    }
}

/// Splits at the first `\n` (dropping it); a line may end at EOF.
fn split_line(bytes: &[u8]) -> (&[u8], &[u8]) {
    match bytes.iter().position(|&b| b == b'\n') {
        Some(i) => (&bytes[..i], &bytes[i + 1..]),
        None => (bytes, &[]),
    }
}

fn parse_header_object(line: &[u8], what: &str) -> Result<Map<String, Value>, ParseError> {
    match serde_json::from_slice::<Value>(line) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ParseError(format!("{what}: not a JSON object"))),
        Err(e) => Err(ParseError(format!("{what}: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_with_and_without_length() {
        let raw = b"{\"event_id\":\"9ec79c33-ec99-42ab-8353-589fcb2e04dc\"}\n{\"type\":\"attachment\",\"length\":10,\"x\":1}\nhelloworld\n{\"type\":\"event\"}\n{\"message\":\"hi\"}\n";
        let env = Envelope::parse(raw).unwrap();
        assert_eq!(env.event_id().unwrap().simple(), "9ec79c33ec9942ab8353589fcb2e04dc");
        assert_eq!(env.items.len(), 2);
        assert_eq!(env.items[0].payload, b"helloworld");
        assert_eq!(env.items[0].headers["x"], 1);
        assert_eq!(env.items[1].ty(), "event");
        assert_eq!(env.items[1].payload, b"{\"message\":\"hi\"}");
    }

    #[test]
    fn length_payloads_may_hold_newlines_and_end_at_eof() {
        let raw = b"{}\n{\"type\":\"attachment\",\"length\":4}\na\r\nb\n{\"type\":\"x-custom\",\"length\":2}\nzz";
        let env = Envelope::parse(raw).unwrap();
        assert_eq!(env.items[0].payload, b"a\r\nb");
        assert_eq!(env.items[1].ty(), "x-custom");
        assert_eq!(env.items[1].payload, b"zz");
    }

    #[test]
    fn serialization_round_trips_and_keeps_unknown_headers() {
        let raw = b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\",\"zz_unknown\":true}\n{\"type\":\"new_thing\",\"weird\":[1]}\nabc\n";
        let env = Envelope::parse(raw).unwrap();
        let again = Envelope::parse(&env.to_bytes()).unwrap();
        assert_eq!(again.headers, env.headers);
        assert_eq!(again.items[0].payload, b"abc");
        assert_eq!(again.items[0].headers["weird"], serde_json::json!([1]));
        assert_eq!(again.items[0].headers["length"], 3);
    }

    #[test]
    fn malformed_envelopes_are_refused() {
        for bad in [
            &b"not json\n"[..],
            b"[]\n",
            b"{}\n{\"length\":1}\nx\n",
            b"{}\n{\"type\":\"event\",\"length\":50}\nshort\n",
            b"{}\n{\"type\":\"event\",\"length\":-1}\nx\n",
            b"{}\n{\"type\":\"event\",\"length\":2}\nabc\n",
            b"{\"event_id\":\"nope\"}\n",
            b"{}\n{\"type\":\"integration\"}\n{}\n",
        ] {
            assert!(Envelope::parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
