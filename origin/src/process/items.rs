//! The items that come with an event, read from an accepted envelope: attachments (minidumps
//! included) and what users said (`user_report` items, and `feedback` items' messages).

use picket::core::envelope::{Envelope, Item};
use serde_json::Value;

use crate::store::{Drop, NewAttachment, NewUserReport};

/// The attachments and user reports in `envelope`; what cannot be read becomes a drop.
pub fn read(envelope: &Envelope, drops: &mut Vec<Drop>) -> (Vec<NewAttachment>, Vec<NewUserReport>) {
    let event_id = envelope.event_id().map(|id| id.simple());
    let (mut attachments, mut reports) = (Vec::new(), Vec::new());
    for item in &envelope.items {
        match item.ty() {
            "attachment" => match &event_id {
                Some(id) => attachments.push(attachment(item, id)),
                None => drops.push(Drop::invalid("attachment", "no_event_id")),
            },
            "user_report" => match user_report(&item.payload) {
                Some(report) => reports.push(report),
                None => drops.push(Drop::invalid("user_report_v2", "invalid_user_report")),
            },
            "feedback" => match feedback(&item.payload, event_id.as_deref()) {
                Some(report) => reports.push(report),
                None => drops.push(Drop::invalid("user_report_v2", "invalid_feedback")),
            },
            _ => {}
        }
    }
    (attachments, reports)
}

fn header<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.headers.get(name).and_then(Value::as_str).filter(|v| !v.is_empty())
}

fn attachment(item: &Item, event_id: &str) -> NewAttachment {
    NewAttachment {
        event_id: event_id.to_string(),
        name: header(item, "filename").unwrap_or("attachment").to_string(),
        content_type: header(item, "content_type").unwrap_or("application/octet-stream").to_string(),
        attachment_type: header(item, "attachment_type").unwrap_or("event.attachment").to_string(),
        body: item.payload.clone(),
    }
}

fn text(value: Option<&Value>) -> String {
    value.and_then(Value::as_str).unwrap_or("").to_string()
}

/// `{"event_id", "name", "email", "comments"}`, as SDKs send user reports.
fn user_report(payload: &[u8]) -> Option<NewUserReport> {
    let report: Value = serde_json::from_slice(payload).ok()?;
    let event_id = picket::core::EventId::parse(report.get("event_id")?.as_str()?)?.simple();
    Some(NewUserReport {
        event_id,
        name: text(report.get("name")),
        email: text(report.get("email")),
        comments: text(report.get("comments")),
    })
}

/// A `feedback` item: an event whose `contexts.feedback` holds the message, linked to the event
/// it names (`associated_event_id`), else to the feedback's own id.
fn feedback(payload: &[u8], own_id: Option<&str>) -> Option<NewUserReport> {
    let event: Value = serde_json::from_slice(payload).ok()?;
    let context = event.get("contexts")?.get("feedback")?;
    let named = context.get("associated_event_id").and_then(Value::as_str).and_then(picket::core::EventId::parse);
    let event_id = match named {
        Some(id) => id.simple(),
        None => own_id
            .map(str::to_string)
            .or_else(|| event.get("event_id")?.as_str().and_then(picket::core::EventId::parse).map(|i| i.simple()))?,
    };
    Some(NewUserReport {
        event_id,
        name: text(context.get("name")),
        email: text(context.get("contact_email")),
        comments: text(context.get("message")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(text: &str) -> Envelope {
        Envelope::parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn attachments_take_their_envelopes_event_id_and_headers() {
        let e = envelope(
            "{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n\
             {\"type\":\"attachment\",\"length\":5,\"filename\":\"log.txt\",\"content_type\":\"text/plain\"}\nhello\n\
             {\"type\":\"attachment\",\"length\":2,\"filename\":\"crash.dmp\",\"attachment_type\":\"event.minidump\"}\nMD\n",
        );
        let mut drops = Vec::new();
        let (attachments, reports) = read(&e, &mut drops);
        assert!(reports.is_empty() && drops.is_empty());
        assert_eq!(attachments.len(), 2);
        assert_eq!(attachments[0].event_id, "9ec79c33ec9942ab8353589fcb2e04dc");
        assert_eq!((attachments[0].name.as_str(), attachments[0].content_type.as_str()), ("log.txt", "text/plain"));
        assert_eq!(attachments[0].body, b"hello");
        assert_eq!(attachments[1].attachment_type, "event.minidump");
        assert_eq!(attachments[1].content_type, "application/octet-stream");
    }

    #[test]
    fn user_reports_and_feedback_name_their_event() {
        let e = envelope(
            "{\"event_id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}\n\
             {\"type\":\"user_report\"}\n{\"event_id\":\"bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb\",\"name\":\"Ann\",\"email\":\"ann@example.com\",\"comments\":\"it broke\"}\n\
             {\"type\":\"feedback\"}\n{\"contexts\":{\"feedback\":{\"message\":\"again\",\"contact_email\":\"bo@example.com\",\"name\":\"Bo\",\"associated_event_id\":\"cccccccccccccccccccccccccccccccc\"}}}\n\
             {\"type\":\"feedback\"}\n{\"contexts\":{\"feedback\":{\"message\":\"just saying\"}}}\n\
             {\"type\":\"user_report\"}\n{\"name\":\"no event\"}\n",
        );
        let mut drops = Vec::new();
        let (_, reports) = read(&e, &mut drops);
        let ids: Vec<&str> = reports.iter().map(|r| r.event_id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                "cccccccccccccccccccccccccccccccc",
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            ]
        );
        assert_eq!((reports[1].email.as_str(), reports[1].comments.as_str()), ("bo@example.com", "again"));
        assert_eq!(drops, [Drop::invalid("user_report_v2", "invalid_user_report")]);
    }
}
