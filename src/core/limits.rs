//! Size limits (Relay's defaults where Workers allow them). The decoded body cap bounds
//! memory per request: compressed body + decoded body + one item copy stay far below an
//! isolate's 128 MB.

use super::outcome::{Oversized, Reject};

/// Byte limits applied by the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The decoded request body (the whole envelope), checked while decompressing.
    pub max_envelope_size: usize,
    /// One event-like item (`event`, `transaction`, `security`, ...): Relay's 1 MiB.
    pub max_event_size: usize,
    /// One `attachment` item.
    pub max_attachment_size: usize,
}

pub const MIB: usize = 1024 * 1024;

/// Items held to the event limit: JSON documents that become one event or report.
const EVENT_SIZED: &[&str] =
    &["event", "transaction", "security", "raw_security", "nel", "user_report", "feedback", "form_data", "check_in"];

/// Items held to the attachment limit: binary crash reports and files.
const ATTACHMENT_SIZED: &[&str] = &["attachment", "unreal_report", "replay_recording", "replay_video"];

impl Default for Limits {
    fn default() -> Self {
        Limits { max_envelope_size: 20 * MIB, max_event_size: MIB, max_attachment_size: 20 * MIB }
    }
}

/// Reads the whole-number setting `name` through `get`: `None` when unset, an error naming
/// `what` is expected when malformed or refused by `valid`.
pub(crate) fn setting<T: std::str::FromStr + Copy>(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    what: &str,
    valid: impl Fn(T) -> bool,
) -> Result<Option<T>, String> {
    get(name)
        .map(|raw| {
            raw.trim()
                .parse::<T>()
                .ok()
                .filter(|v| valid(*v))
                .ok_or_else(|| format!("{name} must be {what}, not {raw:?}"))
        })
        .transpose()
}

impl Limits {
    /// The settings [`Limits::from_settings`] reads.
    pub const SETTINGS: [&'static str; 3] = ["MAX_ENVELOPE_SIZE", "MAX_EVENT_SIZE", "MAX_ATTACHMENT_SIZE"];

    /// Reads `MAX_ENVELOPE_SIZE`, `MAX_EVENT_SIZE` and `MAX_ATTACHMENT_SIZE` (bytes) through
    /// `get`; unset ones keep their defaults, malformed or zero ones are an error.
    pub fn from_settings(get: impl Fn(&str) -> Option<String>) -> Result<Limits, String> {
        let mut limits = Limits::default();
        let slots = [&mut limits.max_envelope_size, &mut limits.max_event_size, &mut limits.max_attachment_size];
        for (name, slot) in Self::SETTINGS.into_iter().zip(slots) {
            if let Some(bytes) = setting(&get, name, "a positive number of bytes", |n| n > 0)? {
                *slot = bytes;
            }
        }
        Ok(limits)
    }

    /// Refuses a body by its declared `Content-Length` before anyone reads it: a compressed
    /// body larger than the decoded limit cannot be valid.
    pub fn admit(&self, content_length: Option<&str>) -> Result<(), Reject> {
        content_length.and_then(|v| v.trim().parse::<u64>().ok()).map_or(Ok(()), |n| self.admit_read(n))
    }

    /// Refuses a body without a declared length once `read` bytes of it exceed the same cap,
    /// so a shell reading a chunked body stops early instead of buffering it all.
    pub fn admit_read(&self, read: u64) -> Result<(), Reject> {
        if read > self.max_envelope_size as u64 {
            return Err(Reject::TooLarge { what: Oversized::Body, limit: self.max_envelope_size });
        }
        Ok(())
    }

    /// The cap for one item of type `ty`; `None` means only the envelope cap applies.
    pub fn item_cap(&self, ty: &str) -> Option<usize> {
        if EVENT_SIZED.contains(&ty) {
            Some(self.max_event_size)
        } else if ATTACHMENT_SIZED.contains(&ty) {
            Some(self.max_attachment_size)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_override_defaults_and_bad_ones_are_refused() {
        let l = Limits::from_settings(|n| (n == "MAX_EVENT_SIZE").then(|| "1000".to_string())).unwrap();
        assert_eq!((l.max_event_size, l.max_envelope_size), (1000, 20 * MIB));
        assert!(Limits::from_settings(|_| Some("lots".to_string())).is_err());
        assert!(Limits::from_settings(|_| Some("0".to_string())).is_err());
    }

    #[test]
    fn content_length_over_the_envelope_limit_is_refused_unread() {
        let l = Limits::default();
        assert!(l.admit(Some("20971520")).is_ok());
        assert_eq!(l.admit(Some("20971521")).unwrap_err().status(), 413);
        assert!(l.admit(None).is_ok());
    }

    #[test]
    fn a_body_without_a_length_is_cut_off_at_the_same_limit() {
        let l = Limits { max_envelope_size: 100, ..Limits::default() };
        assert!(l.admit_read(100).is_ok());
        let refused = l.admit_read(101).unwrap_err();
        assert_eq!((refused.status(), refused.code()), (413, "too_large"));
    }
}
