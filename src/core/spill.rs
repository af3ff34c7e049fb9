//! Forwards kept for later when the origin cannot take them: how one is stored (a JSON line
//! with its metadata, a newline, then the envelope's bytes), its key, and when it is tried
//! again. Delivery is at least once; the origin stores an event id once.

use serde::{Deserialize, Serialize};

use super::ingest::Forward;
use super::EventId;

/// Retries wait at most this long.
pub const MAX_RETRY_DELAY_SECS: u64 = 60;

#[derive(Serialize, Deserialize)]
struct Meta {
    project_id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_ip: Option<String>,
    headers: Vec<(String, String)>,
    /// When the first delivery failed (Unix ms): retries back off from it.
    failed_ms: u64,
}

/// A kept forward: the envelope and when its first delivery failed.
#[derive(Clone, Debug, PartialEq)]
pub struct Spilled {
    pub forward: Forward,
    pub failed_ms: u64,
}

impl Spilled {
    /// Where it is kept: ordered by time, unique by event id (or `random` without one).
    pub fn key(&self, random: u64) -> String {
        let id = self.forward.event_id.map_or_else(|| format!("{random:016x}"), |id| id.simple());
        format!("fwd/{:013}-{id}", self.failed_ms)
    }

    pub fn encode(&self) -> Vec<u8> {
        let f = &self.forward;
        let meta = Meta {
            project_id: f.project_id,
            event_id: f.event_id.map(|id| id.simple()),
            client_ip: f.client_ip.clone(),
            headers: f.headers.clone(),
            failed_ms: self.failed_ms,
        };
        let mut out = serde_json::to_vec(&meta).expect("metadata serializes");
        out.push(b'\n');
        out.extend_from_slice(&f.body);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Spilled, String> {
        let split = bytes.iter().position(|b| *b == b'\n').ok_or("no metadata line")?;
        let meta: Meta = serde_json::from_slice(&bytes[..split]).map_err(|e| format!("bad metadata: {e}"))?;
        let event_id = match meta.event_id.as_deref() {
            Some(text) => Some(EventId::parse(text).ok_or("bad event id")?),
            None => None,
        };
        let forward = Forward {
            project_id: meta.project_id,
            event_id,
            client_ip: meta.client_ip,
            headers: meta.headers,
            body: bytes[split + 1..].to_vec(),
        };
        Ok(Spilled { forward, failed_ms: meta.failed_ms })
    }

    /// How long to wait before the next try at `now_ms`: a quarter of the time it has been
    /// failing, between 1 s and [`MAX_RETRY_DELAY_SECS`] — quick after a blip, patient in an
    /// outage, without counting attempts.
    pub fn retry_delay_secs(&self, now_ms: u64) -> u64 {
        (now_ms.saturating_sub(self.failed_ms) / 4000).clamp(1, MAX_RETRY_DELAY_SECS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spilled(event_id: Option<EventId>) -> Spilled {
        let forward = Forward {
            project_id: 42,
            event_id,
            client_ip: Some("192.0.2.1".into()),
            headers: vec![("content-type".into(), "application/x-sentry-envelope".into())],
            body: b"{}\n{\"type\":\"event\"}\n{\"message\":\"line\\nbreak\"}\n".to_vec(),
        };
        Spilled { forward, failed_ms: 1_795_244_400_000 }
    }

    #[test]
    fn a_spilled_forward_round_trips_byte_for_byte() {
        let s = spilled(Some(EventId::from_bytes([0xab; 16])));
        assert_eq!(Spilled::decode(&s.encode()), Ok(s.clone()));
        assert_eq!(s.key(7), "fwd/1795244400000-abababababababababababababababab");
        assert_eq!(spilled(None).key(7), "fwd/1795244400000-0000000000000007");
        assert!(Spilled::decode(b"no newline").is_err());
    }

    #[test]
    fn retries_back_off_with_the_age_of_the_failure() {
        let s = spilled(None);
        let at = |secs: u64| s.retry_delay_secs(s.failed_ms + secs * 1000);
        assert_eq!((at(0), at(8), at(40), at(3600)), (1, 2, 10, MAX_RETRY_DELAY_SECS));
    }
}
