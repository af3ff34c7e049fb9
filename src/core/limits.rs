//! Size limits (Relay's defaults where Workers allow them). The decoded body cap bounds
//! memory per request: compressed body + decoded body + one item copy stay far below an
//! isolate's 128 MB.

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

impl Limits {
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
