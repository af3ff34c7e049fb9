//! Relay's data categories (names and numeric values as relay-base-schema defines them) and the
//! quantities each envelope item counts in them (Relay's `Item::quantities`): what quotas limit
//! and what outcomes are recorded in, so accepted plus dropped adds up to what SDKs sent.

use serde::{Deserialize, Serialize};

use super::envelope::Item;

/// What a piece of data is counted as: Relay's `DataCategory`, with Relay's numeric values.
/// Serialized (in learned limits) by variant name; `Feedback` is read as [`UserReportV2`] for
/// limits stored before Relay's name was used.
///
/// [`UserReportV2`]: DataCategory::UserReportV2
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[repr(i8)]
pub enum DataCategory {
    /// Reserved and unused.
    Default = 0,
    Error = 1,
    Transaction = 2,
    Security = 3,
    /// Counted in bytes.
    Attachment = 4,
    Session = 5,
    Profile = 6,
    Replay = 7,
    TransactionProcessed = 8,
    TransactionIndexed = 9,
    Monitor = 10,
    ProfileIndexed = 11,
    Span = 12,
    MonitorSeat = 13,
    /// User feedback; Relay names it `feedback` (and also reads `user_report_v2`).
    #[serde(alias = "Feedback")]
    UserReportV2 = 14,
    MetricBucket = 15,
    SpanIndexed = 16,
    /// Counted in milliseconds.
    ProfileDuration = 17,
    ProfileChunk = 18,
    MetricSecond = 19,
    /// Relay's `DoNotUseReplayVideo`, named `replay_video`.
    ReplayVideo = 20,
    Uptime = 21,
    /// Attachments counted one per item (as opposed to [`DataCategory::Attachment`]'s bytes).
    AttachmentItem = 22,
    LogItem = 23,
    /// Counted in bytes.
    LogByte = 24,
    /// Counted in milliseconds.
    ProfileDurationUi = 25,
    ProfileChunkUi = 26,
    SeerAutofix = 27,
    SeerScanner = 28,
    PreventUser = 29,
    PreventReview = 30,
    SizeAnalysis = 31,
    InstallableBuild = 32,
    TraceMetric = 33,
    SeerUser = 34,
    ProfileBackend = 35,
    ProfileUi = 36,
    /// Any category this build does not know; has no numeric value.
    #[serde(other)]
    Unknown = -1,
}

impl DataCategory {
    /// Every known category, in order of its numeric value (`ALL[v].value() == Some(v)`).
    pub const ALL: [DataCategory; 37] = [
        DataCategory::Default,
        DataCategory::Error,
        DataCategory::Transaction,
        DataCategory::Security,
        DataCategory::Attachment,
        DataCategory::Session,
        DataCategory::Profile,
        DataCategory::Replay,
        DataCategory::TransactionProcessed,
        DataCategory::TransactionIndexed,
        DataCategory::Monitor,
        DataCategory::ProfileIndexed,
        DataCategory::Span,
        DataCategory::MonitorSeat,
        DataCategory::UserReportV2,
        DataCategory::MetricBucket,
        DataCategory::SpanIndexed,
        DataCategory::ProfileDuration,
        DataCategory::ProfileChunk,
        DataCategory::MetricSecond,
        DataCategory::ReplayVideo,
        DataCategory::Uptime,
        DataCategory::AttachmentItem,
        DataCategory::LogItem,
        DataCategory::LogByte,
        DataCategory::ProfileDurationUi,
        DataCategory::ProfileChunkUi,
        DataCategory::SeerAutofix,
        DataCategory::SeerScanner,
        DataCategory::PreventUser,
        DataCategory::PreventReview,
        DataCategory::SizeAnalysis,
        DataCategory::InstallableBuild,
        DataCategory::TraceMetric,
        DataCategory::SeerUser,
        DataCategory::ProfileBackend,
        DataCategory::ProfileUi,
    ];

    /// Relay's canonical name (rate limit headers, quotas, client reports).
    pub fn name(self) -> &'static str {
        match self {
            DataCategory::Default => "default",
            DataCategory::Error => "error",
            DataCategory::Transaction => "transaction",
            DataCategory::Security => "security",
            DataCategory::Attachment => "attachment",
            DataCategory::Session => "session",
            DataCategory::Profile => "profile",
            DataCategory::Replay => "replay",
            DataCategory::TransactionProcessed => "transaction_processed",
            DataCategory::TransactionIndexed => "transaction_indexed",
            DataCategory::Monitor => "monitor",
            DataCategory::ProfileIndexed => "profile_indexed",
            DataCategory::Span => "span",
            DataCategory::MonitorSeat => "monitor_seat",
            DataCategory::UserReportV2 => "feedback",
            DataCategory::MetricBucket => "metric_bucket",
            DataCategory::SpanIndexed => "span_indexed",
            DataCategory::ProfileDuration => "profile_duration",
            DataCategory::ProfileChunk => "profile_chunk",
            DataCategory::MetricSecond => "metric_second",
            DataCategory::ReplayVideo => "replay_video",
            DataCategory::Uptime => "uptime",
            DataCategory::AttachmentItem => "attachment_item",
            DataCategory::LogItem => "log_item",
            DataCategory::LogByte => "log_byte",
            DataCategory::ProfileDurationUi => "profile_duration_ui",
            DataCategory::ProfileChunkUi => "profile_chunk_ui",
            DataCategory::SeerAutofix => "seer_autofix",
            DataCategory::SeerScanner => "seer_scanner",
            DataCategory::PreventUser => "prevent_user",
            DataCategory::PreventReview => "prevent_review",
            DataCategory::SizeAnalysis => "size_analysis",
            DataCategory::InstallableBuild => "installable_build",
            DataCategory::TraceMetric => "trace_metric",
            DataCategory::SeerUser => "seer_user",
            DataCategory::ProfileBackend => "profile_backend",
            DataCategory::ProfileUi => "profile_ui",
            DataCategory::Unknown => "unknown",
        }
    }

    /// The category Relay's name `name` stands for; `user_report_v2` is read as `feedback`,
    /// as Relay does.
    pub fn from_name(name: &str) -> Self {
        if name == "user_report_v2" {
            return DataCategory::UserReportV2;
        }
        Self::ALL.into_iter().find(|c| c.name() == name).unwrap_or(DataCategory::Unknown)
    }

    /// The category with Relay's numeric value `value`.
    pub fn from_value(value: u8) -> Self {
        Self::ALL.get(usize::from(value)).copied().unwrap_or(DataCategory::Unknown)
    }

    /// Relay's numeric value, as outcomes carry it; `None` for [`DataCategory::Unknown`].
    pub fn value(self) -> Option<u8> {
        u8::try_from(self as i8).ok()
    }
}

/// Platforms whose profile chunks count as UI profiling (Relay's `ProfileType::from_platform`).
const UI_PLATFORMS: &[&str] = &["cocoa", "android", "javascript"];

/// Item types that may hold several items and say how many in an `item_count` header (Relay's
/// `can_support_container`); for other types the header is ignored.
const CONTAINERS: &[&str] = &[
    "session",
    "sessions",
    "statsd",
    "metric_buckets",
    "client_report",
    "profile",
    "check_in",
    "log",
    "trace_metric",
    "span",
    "profile_chunk",
    "profile_chunk_ui",
];

/// How many items `item` holds: its `item_count` header for types that can hold several.
pub fn item_count(item: &Item) -> Option<u64> {
    if !CONTAINERS.contains(&item.ty()) {
        return None;
    }
    item.headers.get("item_count").and_then(serde_json::Value::as_u64)
}

/// The categories `item` counts in and how much in each, as Relay's `Item::quantities` has it:
/// attachments and logs in bytes and in items, profile chunks by their `platform` header (none
/// without one, as in Relay), others once per contained item. Empty for items no quota limits
/// (client reports, form data, NEL reports, metrics, unknown types). Unlike current Relay, no
/// `*_indexed` or `profile_backend`/`profile_ui` category is counted, nor a transaction's spans:
/// the upstream that indexes and extracts does that accounting.
pub fn item_quantities(item: &Item) -> Vec<(DataCategory, u64)> {
    let count = item_count(item).unwrap_or(1);
    let bytes = item.payload.len().max(1) as u64;
    let one = |category| vec![(category, count)];
    match item.ty() {
        "event" | "unreal_report" => one(DataCategory::Error),
        "transaction" => one(DataCategory::Transaction),
        "security" | "raw_security" => one(DataCategory::Security),
        "attachment" => vec![(DataCategory::Attachment, bytes), (DataCategory::AttachmentItem, count)],
        "session" | "sessions" => one(DataCategory::Session),
        "log" => vec![(DataCategory::LogByte, bytes), (DataCategory::LogItem, count)],
        "trace_metric" => one(DataCategory::TraceMetric),
        "user_report" | "feedback" => one(DataCategory::UserReportV2),
        "profile" => one(DataCategory::Profile),
        "profile_chunk" | "profile_chunk_ui" => {
            match item.headers.get("platform").and_then(serde_json::Value::as_str) {
                Some(p) if UI_PLATFORMS.contains(&p) => one(DataCategory::ProfileChunkUi),
                Some(_) => one(DataCategory::ProfileChunk),
                None => Vec::new(),
            }
        }
        "replay_event" | "replay_recording" | "replay_video" => one(DataCategory::Replay),
        "check_in" => one(DataCategory::Monitor),
        "span" | "otel_span" | "otel_traces_data" => one(DataCategory::Span),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(header: &str, payload: &[u8]) -> Item {
        let headers = serde_json::from_str(header).unwrap();
        Item { headers, payload: payload.to_vec() }
    }

    #[test]
    fn every_category_round_trips_through_name_and_value() {
        for (value, category) in DataCategory::ALL.into_iter().enumerate() {
            assert_eq!(category.value(), Some(value as u8), "{category:?}");
            assert_eq!(DataCategory::from_value(value as u8), category);
            assert_eq!(DataCategory::from_name(category.name()), category, "{}", category.name());
        }
        assert_eq!(DataCategory::from_value(37), DataCategory::Unknown);
        assert_eq!(DataCategory::Unknown.value(), None);
        assert_eq!(DataCategory::from_name("nonsense"), DataCategory::Unknown);
        // Relay's spellings: feedback is canonical, user_report_v2 an alias.
        assert_eq!(DataCategory::UserReportV2.name(), "feedback");
        assert_eq!(DataCategory::from_name("user_report_v2"), DataCategory::UserReportV2);
        let names = ["log_item", "log_byte", "trace_metric", "profile_chunk_ui", "attachment_item"];
        let values: Vec<Option<u8>> = names.iter().map(|n| DataCategory::from_name(n).value()).collect();
        assert_eq!(values, [Some(23), Some(24), Some(33), Some(26), Some(22)]);
    }

    #[test]
    fn learned_limits_stored_with_the_old_names_still_read() {
        let read: Vec<DataCategory> = serde_json::from_str(r#"["Feedback","UserReportV2","LogByte","Later"]"#).unwrap();
        assert_eq!(
            read,
            [DataCategory::UserReportV2, DataCategory::UserReportV2, DataCategory::LogByte, DataCategory::Unknown]
        );
    }

    #[test]
    fn items_count_where_relay_counts_them() {
        use DataCategory as C;
        let q = |header: &str, payload: &[u8]| item_quantities(&item(header, payload));
        assert_eq!(q(r#"{"type":"attachment"}"#, b"abcd"), [(C::Attachment, 4), (C::AttachmentItem, 1)]);
        assert_eq!(q(r#"{"type":"attachment"}"#, b""), [(C::Attachment, 1), (C::AttachmentItem, 1)]);
        assert_eq!(q(r#"{"type":"log","item_count":3}"#, b"{}{}{}"), [(C::LogByte, 6), (C::LogItem, 3)]);
        assert_eq!(q(r#"{"type":"log"}"#, b"{}"), [(C::LogByte, 2), (C::LogItem, 1)]);
        assert_eq!(q(r#"{"type":"trace_metric","item_count":5}"#, b"{}"), [(C::TraceMetric, 5)]);
        assert_eq!(q(r#"{"type":"span","item_count":2}"#, b"{}"), [(C::Span, 2)]);
        assert_eq!(q(r#"{"type":"otel_span"}"#, b"{}"), [(C::Span, 1)]);
        assert_eq!(q(r#"{"type":"profile_chunk","platform":"python"}"#, b"{}"), [(C::ProfileChunk, 1)]);
        assert_eq!(q(r#"{"type":"profile_chunk","platform":"cocoa"}"#, b"{}"), [(C::ProfileChunkUi, 1)]);
        assert_eq!(q(r#"{"type":"profile_chunk"}"#, b"{}"), []);
        assert_eq!(q(r#"{"type":"feedback"}"#, b"{}"), [(C::UserReportV2, 1)]);
        assert_eq!(q(r#"{"type":"user_report"}"#, b"{}"), [(C::UserReportV2, 1)]);
        assert_eq!(q(r#"{"type":"check_in"}"#, b"{}"), [(C::Monitor, 1)]);
        assert_eq!(q(r#"{"type":"replay_video"}"#, b"x"), [(C::Replay, 1)]);
        assert_eq!(q(r#"{"type":"sessions"}"#, b"{}"), [(C::Session, 1)]);
        assert_eq!(q(r#"{"type":"unreal_report"}"#, b"x"), [(C::Error, 1)]);
        // Events never hold several, whatever their header says.
        assert_eq!(q(r#"{"type":"event","item_count":9}"#, b"{}"), [(C::Error, 1)]);
        for ty in ["client_report", "form_data", "nel", "statsd", "whatever"] {
            assert_eq!(q(&format!(r#"{{"type":"{ty}"}}"#), b"{}"), [], "{ty}");
        }
    }
}
