//! Streaming checks of JSON payloads: "is this one JSON object" answered in one pass that
//! builds nothing, by exactly the rules serde_json applies when it builds a map (the same
//! parser: nesting past 128 levels, invalid UTF-8, out-of-range numbers and trailing bytes are
//! refused, with the same error text), picking up only the one field the core needs.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// Checks that `payload` is one JSON object (as `serde_json::from_slice::<Map<String, Value>>`
/// would) and returns its top-level `event_id` when that is a string (the last one, as a map
/// keeps the last of repeated keys).
pub fn object_event_id(payload: &[u8]) -> Result<Option<String>, serde_json::Error> {
    serde_json::from_slice::<TopLevel>(payload).map(|top| top.0)
}

/// A top-level object and its `event_id` string.
struct TopLevel(Option<String>);

impl<'de> Deserialize<'de> for TopLevel {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(TopLevelVisitor)
    }
}

struct TopLevelVisitor;

impl<'de> Visitor<'de> for TopLevelVisitor {
    type Value = TopLevel;

    /// The words serde_json's `Map` uses, so a refusal reads as before.
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopLevel, A::Error> {
        let mut event_id = None;
        while let Some(key) = map.next_key::<Key>()? {
            if key.0 {
                event_id = map.next_value::<MaybeString>()?.0;
            } else {
                map.next_value::<Checked>()?;
            }
        }
        Ok(TopLevel(event_id))
    }
}

/// A key, and whether it is `event_id`.
struct Key(bool);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
                Ok(Key(key == "event_id"))
            }
        }
        deserializer.deserialize_any(KeyVisitor)
    }
}

/// A value kept only when it is a string.
struct MaybeString(Option<String>);

impl<'de> Deserialize<'de> for MaybeString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CheckedVisitor { keep_string: true }).map(|v| MaybeString(v.0))
    }
}

/// Any JSON value, checked as serde_json checks one while it builds a `Value`, and dropped.
struct Checked(Option<String>);

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CheckedVisitor { keep_string: false })
    }
}

struct CheckedVisitor {
    keep_string: bool,
}

impl<'de> Visitor<'de> for CheckedVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked(None))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked(None))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked(None))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked(None))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Checked, E> {
        Ok(Checked(self.keep_string.then(|| text.to_string())))
    }

    fn visit_unit<E>(self) -> Result<Checked, E> {
        Ok(Checked(None))
    }

    fn visit_none<E>(self) -> Result<Checked, E> {
        Ok(Checked(None))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        while map.next_key::<Checked>()?.is_some() {
            map.next_value::<Checked>()?;
        }
        Ok(Checked(None))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value};

    use super::*;

    /// What the map-building check said: the event id, or the error's text.
    fn by_map(payload: &[u8]) -> Result<Option<String>, String> {
        let map = serde_json::from_slice::<Map<String, Value>>(payload).map_err(|e| e.to_string())?;
        Ok(map.get("event_id").and_then(Value::as_str).map(str::to_string))
    }

    #[test]
    fn the_streaming_check_agrees_with_building_the_map() {
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(130), "]".repeat(130));
        let inputs: Vec<&[u8]> = vec![
            b"{}",
            b" {\"event_id\":\"abc\",\"x\":[1,2.5,-3,{\"y\":null}],\"t\":true} ",
            b"{\"event_id\":1}",
            b"{\"event_id\":\"first\",\"event_id\":\"last\"}",
            b"{\"event_id\":\"first\",\"event_id\":null}",
            b"{\"event\\u005fid\":\"escaped key\"}",
            b"{\"event_id\":\"caf\\u00e9\"}",
            b"{\"n\":18446744073709551616,\"m\":-9223372036854775809}",
            b"{\"n\":1e999999}",
            b"{\"message\":\"\xc3\x28\xff\"}",
            b"{\"a\":\"\\ud800\"}",
            b"{\"a\":NaN}",
            b"{\"a\":1}x",
            b"{\"a\":1}{}",
            b"{\"a\":}",
            b"{1:2}",
            b"[]",
            b"null",
            b"\"text\"",
            b"",
            b"{\"a\":[1,]}",
            deep.as_bytes(),
        ];
        for input in inputs {
            let streamed = object_event_id(input).map_err(|e| e.to_string());
            assert_eq!(streamed, by_map(input), "{}", String::from_utf8_lossy(input));
        }
    }
}
