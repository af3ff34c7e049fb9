//! Event ids: 16 bytes, parsed from 32 hex digits or a hyphenated UUID, printed as 32 lowercase hex.

use std::fmt;

/// A Sentry event id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId([u8; 16]);

impl EventId {
    /// Wraps 16 bytes, e.g. fresh randomness from the shell.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        EventId(bytes)
    }

    /// Parses `0123…` (32 hex digits) or `01234567-89ab-…` (hyphenated UUID), any case.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        let hex: Vec<u8> = match bytes.len() {
            32 => bytes.to_vec(),
            36 => {
                if [8, 13, 18, 23].iter().any(|&i| bytes[i] != b'-') {
                    return None;
                }
                bytes.iter().copied().filter(|&b| b != b'-').collect()
            }
            _ => return None,
        };
        if hex.len() != 32 {
            return None;
        }
        let mut out = [0u8; 16];
        for (i, pair) in hex.chunks(2).enumerate() {
            out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
        }
        Some(EventId(out))
    }

    /// The 16 bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The 32-hex-digit lowercase form Sentry uses on the wire.
    pub fn simple(&self) -> String {
        self.to_string()
    }

    /// The hyphenated UUID form (`8-4-4-4-12`), as minidump clients expect it.
    pub fn hyphenated(&self) -> String {
        let s = self.simple();
        format!("{}-{}-{}-{}-{}", &s[0..8], &s[8..12], &s[12..16], &s[16..20], &s[20..32])
    }
}

fn nibble(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::EventId;

    #[test]
    fn parses_plain_and_hyphenated_forms_alike() {
        let plain = EventId::parse("38a1c193afcc41e0aaec0cdd35b8f442").unwrap();
        let hyph = EventId::parse("38A1C193-AFCC-41E0-AAEC-0CDD35B8F442").unwrap();
        assert_eq!(plain, hyph);
        assert_eq!(plain.simple(), "38a1c193afcc41e0aaec0cdd35b8f442");
        assert_eq!(plain.hyphenated(), "38a1c193-afcc-41e0-aaec-0cdd35b8f442");
    }

    #[test]
    fn rejects_malformed_ids() {
        for bad in [
            "",
            "xyz",
            "38a1c193afcc41e0aaec0cdd35b8f44",
            "38a1c193-afcc-41e0-aaec0cdd35b8f4420",
            "g8a1c193afcc41e0aaec0cdd35b8f442",
        ] {
            assert!(EventId::parse(bad).is_none(), "{bad}");
        }
    }
}
