//! Fresh identifiers from the operating system's CSPRNG: event ids, DSN keys, API tokens.

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
