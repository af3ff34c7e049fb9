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

impl Default for Limits {
    fn default() -> Self {
        Limits { max_envelope_size: 20 * MIB, max_event_size: MIB, max_attachment_size: 20 * MIB }
    }
}

impl Limits {
    /// The cap for one item of type `ty`; `None` means only the envelope cap applies.
    pub fn item_cap(&self, ty: &str) -> Option<usize> {
        if super::envelope::EVENT_ITEM_TYPES.contains(&ty) {
            Some(self.max_event_size)
        } else if ty == "attachment" {
            Some(self.max_attachment_size)
        } else {
            None
        }
    }
}
