//! Size limits per item type (Relay's, with Relay's defaults where Workers allow them). The
//! decoded body cap bounds memory per request: compressed body + decoded body + one item copy
//! stay far below an isolate's 128 MB.

use super::category::item_count;
use super::envelope::Item;
use super::outcome::{Oversized, Reject};

/// Byte limits applied by the core; per item type as Relay's `check_envelope_size_limits`
/// applies its `limits` (relay-config), with Relay's defaults unless noted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The decoded request body (the whole envelope), checked while decompressing (Relay: 200 MiB).
    pub max_envelope_size: usize,
    /// One event-like item (`event`, `transaction`, `security`, `feedback`, ...): Relay's 1 MiB.
    pub max_event_size: usize,
    /// One `attachment` item (Relay: 200 MiB).
    pub max_attachment_size: usize,
    /// One `check_in` item: Relay's 100 KiB.
    pub max_check_in_size: usize,
    /// One log, on average over a `log` item's `item_count`: Relay's 2 MiB.
    pub max_log_size: usize,
    /// One span, on average over a `span` item's `item_count`: Relay's 10 MiB.
    pub max_span_size: usize,
    /// One trace metric, on average over a `trace_metric` item's `item_count`: Relay's 1 MiB.
    pub max_trace_metric_size: usize,
    /// A whole `log`, `span` or `trace_metric` item (a container of many): Relay's 12 MiB.
    pub max_container_size: usize,
    /// One `profile` or `profile_chunk` item: Relay's 50 MiB.
    pub max_profile_size: usize,
    /// One `replay_recording` or `replay_video` item: Relay's `max_replay_compressed_size`, 10 MiB.
    pub max_replay_size: usize,
    /// One `session` or `sessions` item: Relay's `max_sessions_size`, 10 MiB.
    pub max_sessions_size: usize,
    /// One `client_report` item: Relay's `max_client_reports_size`, 100 KiB.
    pub max_client_reports_size: usize,
}

pub const KIB: usize = 1024;
pub const MIB: usize = 1024 * KIB;

/// The limit an item type is held to, with Relay's grouping of item types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cap {
    Event,
    Attachment,
    CheckIn,
    Profile,
    Replay,
    Sessions,
    ClientReports,
    /// Containers: each contained item by its own limit, the whole by the container limit.
    Log,
    Span,
    TraceMetric,
}

fn cap_of(ty: &str) -> Option<Cap> {
    Some(match ty {
        // JSON documents that become one event or report (NEL too, though Relay leaves it out).
        "event" | "transaction" | "security" | "raw_security" | "nel" | "replay_event" | "feedback" | "form_data" => {
            Cap::Event
        }
        // Binary crash reports and files; Relay holds the old user report here too.
        "attachment" | "unreal_report" | "user_report" => Cap::Attachment,
        "check_in" => Cap::CheckIn,
        "profile" | "profile_chunk" | "profile_chunk_ui" => Cap::Profile,
        "replay_recording" | "replay_video" => Cap::Replay,
        "session" | "sessions" => Cap::Sessions,
        "client_report" => Cap::ClientReports,
        "log" => Cap::Log,
        "span" | "otel_span" => Cap::Span,
        "trace_metric" => Cap::TraceMetric,
        _ => return None,
    })
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // Below Relay's 200 MiB: a Worker isolate has 128 MB.
            max_envelope_size: 20 * MIB,
            max_event_size: MIB,
            // Below Relay's 200 MiB, as the envelope.
            max_attachment_size: 20 * MIB,
            max_check_in_size: 100 * KIB,
            max_log_size: 2 * MIB,
            max_span_size: 10 * MIB,
            max_trace_metric_size: MIB,
            max_container_size: 12 * MIB,
            max_profile_size: 50 * MIB,
            max_replay_size: 10 * MIB,
            max_sessions_size: 10 * MIB,
            max_client_reports_size: 100 * KIB,
        }
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
    /// The settings [`Limits::from_settings`] reads, in the order of the fields.
    pub const SETTINGS: [&'static str; 12] = [
        "MAX_ENVELOPE_SIZE",
        "MAX_EVENT_SIZE",
        "MAX_ATTACHMENT_SIZE",
        "MAX_CHECK_IN_SIZE",
        "MAX_LOG_SIZE",
        "MAX_SPAN_SIZE",
        "MAX_TRACE_METRIC_SIZE",
        "MAX_CONTAINER_SIZE",
        "MAX_PROFILE_SIZE",
        "MAX_REPLAY_SIZE",
        "MAX_SESSIONS_SIZE",
        "MAX_CLIENT_REPORTS_SIZE",
    ];

    /// Reads [`Limits::SETTINGS`] (bytes each) through `get`; unset ones keep their defaults,
    /// malformed or zero ones are an error.
    pub fn from_settings(get: impl Fn(&str) -> Option<String>) -> Result<Limits, String> {
        let mut limits = Limits::default();
        let slots = [
            &mut limits.max_envelope_size,
            &mut limits.max_event_size,
            &mut limits.max_attachment_size,
            &mut limits.max_check_in_size,
            &mut limits.max_log_size,
            &mut limits.max_span_size,
            &mut limits.max_trace_metric_size,
            &mut limits.max_container_size,
            &mut limits.max_profile_size,
            &mut limits.max_replay_size,
            &mut limits.max_sessions_size,
            &mut limits.max_client_reports_size,
        ];
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

    /// The cap for one item of type `ty` (for containers, one contained item); `None` means
    /// only the envelope cap applies.
    pub fn item_cap(&self, ty: &str) -> Option<usize> {
        Some(match cap_of(ty)? {
            Cap::Event => self.max_event_size,
            Cap::Attachment => self.max_attachment_size,
            Cap::CheckIn => self.max_check_in_size,
            Cap::Profile => self.max_profile_size,
            Cap::Replay => self.max_replay_size,
            Cap::Sessions => self.max_sessions_size,
            Cap::ClientReports => self.max_client_reports_size,
            Cap::Log => self.max_log_size,
            Cap::Span => self.max_span_size,
            Cap::TraceMetric => self.max_trace_metric_size,
        })
    }

    /// Refuses `item` when it is over its type's limit, as Relay does: a container (`log`,
    /// `span`, `trace_metric`) by the average size of the `item_count` items it holds and by the
    /// container limit as a whole; the 413 names the item type.
    pub fn check_item(&self, item: &Item) -> Result<(), Reject> {
        let ty = item.ty();
        let Some(cap) = self.item_cap(ty) else { return Ok(()) };
        let len = item.payload.len();
        let too_large = |limit| Err(Reject::TooLarge { what: Oversized::Item(ty.to_string()), limit });
        let container = matches!(cap_of(ty), Some(Cap::Log | Cap::Span | Cap::TraceMetric));
        let count = item_count(item).filter(|_| container).unwrap_or(1).max(1);
        if (len as u64) / count > cap as u64 {
            return too_large(cap);
        }
        if container && len > self.max_container_size {
            return too_large(self.max_container_size);
        }
        Ok(())
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

    fn item(header: &str, len: usize) -> Item {
        Item { headers: serde_json::from_str(header).unwrap(), payload: vec![b'x'; len] }
    }

    #[test]
    fn every_limit_has_a_setting() {
        let l =
            Limits::from_settings(|n| Some((Limits::SETTINGS.iter().position(|s| *s == n).unwrap() + 1).to_string()))
                .unwrap();
        let read = [
            l.max_envelope_size,
            l.max_event_size,
            l.max_attachment_size,
            l.max_check_in_size,
            l.max_log_size,
            l.max_span_size,
            l.max_trace_metric_size,
            l.max_container_size,
            l.max_profile_size,
            l.max_replay_size,
            l.max_sessions_size,
            l.max_client_reports_size,
        ];
        assert_eq!(read, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    }

    #[test]
    fn a_log_over_the_log_limit_is_refused_naming_it() {
        let l = Limits::default();
        assert!(l.check_item(&item(r#"{"type":"log"}"#, 2 * MIB)).is_ok());
        let refused = l.check_item(&item(r#"{"type":"log"}"#, 2 * MIB + 1)).unwrap_err();
        assert_eq!(refused, Reject::TooLarge { what: Oversized::Item("log".into()), limit: 2 * MIB });
        assert_eq!((refused.status(), refused.code()), (413, "too_large"));
        // A container of logs: each log on average, the whole by the container limit.
        assert!(l.check_item(&item(r#"{"type":"log","item_count":3}"#, 5 * MIB)).is_ok());
        let whole = l.check_item(&item(r#"{"type":"log","item_count":100}"#, 12 * MIB + 1)).unwrap_err();
        assert_eq!(whole, Reject::TooLarge { what: Oversized::Item("log".into()), limit: 12 * MIB });
    }

    #[test]
    fn each_item_type_is_held_to_relays_limit() {
        let l = Limits::default();
        let caps = [
            ("event", MIB),
            ("feedback", MIB),
            ("replay_event", MIB),
            ("check_in", 100 * KIB),
            ("span", 10 * MIB),
            ("trace_metric", MIB),
            ("profile_chunk", 50 * MIB),
            ("replay_recording", 10 * MIB),
            ("sessions", 10 * MIB),
            ("client_report", 100 * KIB),
            ("user_report", 20 * MIB),
        ];
        for (ty, cap) in caps {
            assert_eq!(l.item_cap(ty), Some(cap), "{ty}");
            let small = cap.min(l.max_container_size);
            assert!(l.check_item(&item(&format!(r#"{{"type":"{ty}"}}"#), small)).is_ok(), "{ty}");
        }
        assert!(l.check_item(&item(r#"{"type":"check_in"}"#, 100 * KIB + 1)).is_err());
        // An event never holds several, whatever its header says.
        assert!(l.check_item(&item(r#"{"type":"event","item_count":2}"#, MIB + 1)).is_err());
        assert_eq!(l.item_cap("statsd"), None);
    }
}
