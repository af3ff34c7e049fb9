//! Relay's signed requests between an edge and its upstream: ed25519 over
//! `header ‖ 0x00 ‖ body`, sent as `X-Sentry-Relay-Signature: b64url(sig).b64url(header)` with
//! header `{"t": "<RFC 3339>"}`, beside `X-Sentry-Relay-Id`. Picket's header also carries a
//! random `n`, so two identical requests in the same millisecond still differ and a verifier
//! can refuse any signature it has seen (Relay ignores the extra field). Keys in Relay's text
//! form (base64url without padding: the 32-byte seed, the 32-byte public key). Time and
//! randomness are passed in.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use chrono::{DateTime, SecondsFormat};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

pub const RELAY_ID_HEADER: &str = "x-sentry-relay-id";
pub const SIGNATURE_HEADER: &str = "x-sentry-relay-signature";

/// How far a signature's time may run ahead of the verifier's clock.
pub const MAX_CLOCK_SKEW_SECS: i64 = 60;

/// An edge's secret key.
pub struct SecretKey(SigningKey);

/// The public half, which the upstream trusts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

/// Why a signed request is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureError {
    /// Not `sig.header` in base64url, or the header is not `{"t": ...}`.
    Malformed,
    /// The signature does not match the body and the key.
    Invalid,
    /// Signed longer ago than the verifier accepts (a replay, or a stuck sender).
    Expired,
    /// Signed further in the future than clocks drift.
    FromTheFuture,
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SignatureError::Malformed => "the relay signature is malformed",
            SignatureError::Invalid => "the relay signature does not match",
            SignatureError::Expired => "the relay signature has expired",
            SignatureError::FromTheFuture => "the relay signature is dated in the future",
        })
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    t: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    n: Option<String>,
}

fn decode32(text: &str) -> Result<[u8; 32], String> {
    let bytes = B64.decode(text.trim()).map_err(|e| format!("not base64url: {e}"))?;
    bytes.try_into().map_err(|b: Vec<u8>| format!("{} bytes, not 32", b.len()))
}

impl SecretKey {
    /// The key for a 32-byte seed (from the platform's CSPRNG when generating).
    pub fn from_seed(seed: [u8; 32]) -> SecretKey {
        SecretKey(SigningKey::from_bytes(&seed))
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// The `X-Sentry-Relay-Signature` value for `body` sent at `now_ms` with a random `nonce`.
    pub fn sign(&self, body: &[u8], now_ms: u64, nonce: u64) -> String {
        let at = DateTime::from_timestamp_millis(now_ms as i64).unwrap_or_default();
        let header = Header { t: at.to_rfc3339_opts(SecondsFormat::Millis, true), n: Some(format!("{nonce:016x}")) };
        let header = serde_json::to_vec(&header).expect("a string header serializes");
        let mut message = header.clone();
        message.push(0);
        message.extend_from_slice(body);
        let signature = self.0.sign(&message);
        format!("{}.{}", B64.encode(signature.to_bytes()), B64.encode(&header))
    }
}

impl FromStr for SecretKey {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        decode32(text).map(SecretKey::from_seed).map_err(|e| format!("bad secret key: {e}"))
    }
}

impl fmt::Display for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&B64.encode(self.0.to_bytes()))
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", self.public())
    }
}

impl PublicKey {
    /// Checks `signature` over `body` at `now_ms`: valid, and signed at most `max_age_secs`
    /// ago. Returns when it was signed (Unix ms), which a replay cache may key on.
    pub fn verify(&self, body: &[u8], signature: &str, now_ms: u64, max_age_secs: u64) -> Result<u64, SignatureError> {
        let (sig, header) = signature.trim().split_once('.').ok_or(SignatureError::Malformed)?;
        let sig: [u8; 64] = B64.decode(sig).ok().and_then(|b| b.try_into().ok()).ok_or(SignatureError::Malformed)?;
        let header = B64.decode(header).map_err(|_| SignatureError::Malformed)?;
        let parsed: Header = serde_json::from_slice(&header).map_err(|_| SignatureError::Malformed)?;
        let signed_at = DateTime::parse_from_rfc3339(&parsed.t).map_err(|_| SignatureError::Malformed)?;
        let mut message = header;
        message.push(0);
        message.extend_from_slice(body);
        self.0.verify(&message, &Signature::from_bytes(&sig)).map_err(|_| SignatureError::Invalid)?;
        let (signed_ms, now) = (signed_at.timestamp_millis(), now_ms as i64);
        if signed_ms > now + MAX_CLOCK_SKEW_SECS * 1000 {
            return Err(SignatureError::FromTheFuture);
        }
        if now - signed_ms > max_age_secs as i64 * 1000 {
            return Err(SignatureError::Expired);
        }
        Ok(signed_ms.max(0) as u64)
    }
}

impl FromStr for PublicKey {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let bytes = decode32(text).map_err(|e| format!("bad public key: {e}"))?;
        VerifyingKey::from_bytes(&bytes).map(PublicKey).map_err(|_| "bad public key: not a curve point".to_string())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&B64.encode(self.0.to_bytes()))
    }
}

/// An edge's identity for signing what it sends upstream.
#[derive(Debug)]
pub struct Identity {
    pub relay_id: String,
    pub key: SecretKey,
}

impl Identity {
    /// The settings [`Identity::from_settings`] reads.
    pub const SETTINGS: [&'static str; 2] = ["RELAY_ID", "RELAY_SECRET_KEY"];

    /// Reads `RELAY_ID` and `RELAY_SECRET_KEY`; both are required.
    pub fn from_settings(get: impl Fn(&str) -> Option<String>) -> Result<Identity, String> {
        let [id, key] = Self::SETTINGS.map(|name| get(name).ok_or_else(|| format!("{name} is not set")));
        Ok(Identity { relay_id: id?, key: key?.parse()? })
    }

    /// The two headers that sign `body` at `now_ms` with a random `nonce`.
    pub fn headers(&self, body: &[u8], now_ms: u64, nonce: u64) -> [(String, String); 2] {
        [
            (RELAY_ID_HEADER.to_string(), self.relay_id.clone()),
            (SIGNATURE_HEADER.to_string(), self.key.sign(body, now_ms, nonce)),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_795_244_400_000;

    #[test]
    fn a_signature_verifies_only_for_its_body_key_and_time() {
        let key = SecretKey::from_seed([3; 32]);
        let public = key.public();
        let sig = key.sign(b"body", NOW, 1);
        assert_ne!(sig, key.sign(b"body", NOW, 2), "the nonce tells identical requests apart");
        assert_eq!(public.verify(b"body", &sig, NOW + 1000, 300), Ok(NOW));
        assert_eq!(public.verify(b"bodx", &sig, NOW, 300), Err(SignatureError::Invalid));
        let other = SecretKey::from_seed([4; 32]).public();
        assert_eq!(other.verify(b"body", &sig, NOW, 300), Err(SignatureError::Invalid));
        assert_eq!(public.verify(b"body", &sig, NOW + 301_000, 300), Err(SignatureError::Expired));
        assert_eq!(public.verify(b"body", &sig, NOW - 61_000, 300), Err(SignatureError::FromTheFuture));
        assert_eq!(public.verify(b"body", "garbage", NOW, 300), Err(SignatureError::Malformed));
    }

    #[test]
    fn keys_round_trip_through_relays_text_form() {
        let key: SecretKey = "LvLecKqQy3KLIlzHnmKtfHEppl8EawBxPouM_UG5kOU".parse().unwrap();
        assert_eq!(key.to_string(), "LvLecKqQy3KLIlzHnmKtfHEppl8EawBxPouM_UG5kOU");
        // The public key Relay's own `generate_key_pair` printed with that secret.
        assert_eq!(key.public().to_string(), "bnlSTPRTrrpqAJ9OamxEWdLIbR2E-bgCK3O0u7gfwwY");
        assert!("short".parse::<PublicKey>().is_err());
    }
}
