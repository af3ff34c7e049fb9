//! Fresh identifiers from the operating system's CSPRNG: event ids, DSN keys, API tokens, and
//! edge identities (a Relay id and an ed25519 key).

use picket::core::EventId;

/// `n` random bytes as lowercase hex.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn fresh_event_id() -> EventId {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    EventId::from_bytes(bytes)
}

/// A new DSN public key: 32 hex digits.
pub fn public_key() -> String {
    random_hex(16)
}

/// A new API token in Sentry's user-token shape (`sntryu_` + 64 hex digits), which
/// `sentry-cli` recognizes.
pub fn api_token() -> String {
    format!("sntryu_{}", random_hex(32))
}

/// A new edge identity: a Relay id (a random UUID) and its secret key.
pub fn edge_identity() -> (String, picket::core::sign::SecretKey) {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).expect("the OS random source is available");
    id[6] = (id[6] & 0x0f) | 0x40; // version 4
    id[8] = (id[8] & 0x3f) | 0x80; // RFC 4122 variant
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).expect("the OS random source is available");
    (EventId::from_bytes(id).hyphenated(), picket::core::sign::SecretKey::from_seed(seed))
}

/// How an API token is stored and looked up: its SHA-256 digest as lowercase hex.
pub fn token_digest(token: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}
