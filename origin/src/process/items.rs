//! The items that come with an event, read from an accepted envelope: attachments (minidumps
//! included) and what users said (`user_report` items, and `feedback` items' messages).

use picket::core::envelope::Item;
use picket::core::outcome::{Outcome, OutcomeKind};
use serde_json::Value;

use crate::model::{NewAttachment, NewUserReport, Processed};

/// Reads one `attachment`, `user_report` or `feedback` item of an envelope with event id
/// `event_id` into `out`, with its `accepted` outcomes; the reason it cannot be read otherwise.
pub fn read(item: &Item, event_id: Option<&str>, out: &mut Processed) -> Result<(), &'static str> {
    let accepted = Outcome::for_item(item, OutcomeKind::Accepted, "");
    match item.ty() {
        "attachment" => {
            let event_id = event_id.ok_or("no_event_id")?;
            out.attachments.push(NewAttachment { accepted, ..attachment(item, event_id) });
        }
        "user_report" => {
            let report = user_report(&item.payload).ok_or("invalid_user_report")?;
            out.reports.push(NewUserReport { accepted, ..report });
        }
        "feedback" => {
            let report = feedback(&item.payload, event_id).ok_or("invalid_feedback")?;
            out.reports.push(NewUserReport { accepted, ..report });
        }
        _ => return Err("not_an_event_item"),
    }
    Ok(())
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
        accepted: Vec::new(),
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
        accepted: Vec::new(),
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
        accepted: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use picket::core::category::DataCategory;

    use super::*;
    use crate::model::AcceptedEnvelope;

    fn processed(text: &str) -> Processed {
        let accepted = AcceptedEnvelope {
            project_id: 1,
            event_id: None,
            received_ms: 1,
            client_ip: None,
            body: text.as_bytes().to_vec(),
        };
        crate::process::process(&accepted, 90, &Default::default())
    }

    #[test]
    fn attachments_take_their_envelopes_event_id_and_headers() {
        let p = processed(
            "{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n\
             {\"type\":\"attachment\",\"length\":5,\"filename\":\"log.txt\",\"content_type\":\"text/plain\"}\nhello\n\
             {\"type\":\"attachment\",\"length\":2,\"filename\":\"crash.dmp\",\"attachment_type\":\"event.minidump\"}\nMD\n",
        );
        assert!(p.reports.is_empty() && p.outcomes.is_empty());
        let a = &p.attachments;
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].event_id, "9ec79c33ec9942ab8353589fcb2e04dc");
        assert_eq!((a[0].name.as_str(), a[0].content_type.as_str()), ("log.txt", "text/plain"));
        assert_eq!(a[0].body, b"hello");
        let counted: Vec<_> = a[0].accepted.iter().map(|o| (o.kind, o.category, o.quantity)).collect();
        assert_eq!(
            counted,
            [
                (OutcomeKind::Accepted, DataCategory::Attachment, 5),
                (OutcomeKind::Accepted, DataCategory::AttachmentItem, 1)
            ]
        );
        assert_eq!(a[1].attachment_type, "event.minidump");
        assert_eq!(a[1].content_type, "application/octet-stream");
        assert_eq!(p.events.len(), 1, "a minidump without an event is a native crash");
    }

    #[test]
    fn user_reports_and_feedback_name_their_event() {
        let p = processed(
            "{\"event_id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}\n\
             {\"type\":\"user_report\"}\n{\"event_id\":\"bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb\",\"name\":\"Ann\",\"email\":\"ann@example.com\",\"comments\":\"it broke\"}\n\
             {\"type\":\"feedback\"}\n{\"contexts\":{\"feedback\":{\"message\":\"again\",\"contact_email\":\"bo@example.com\",\"name\":\"Bo\",\"associated_event_id\":\"cccccccccccccccccccccccccccccccc\"}}}\n\
             {\"type\":\"feedback\"}\n{\"contexts\":{\"feedback\":{\"message\":\"just saying\"}}}\n\
             {\"type\":\"user_report\"}\n{\"name\":\"no event\"}\n",
        );
        let ids: Vec<&str> = p.reports.iter().map(|r| r.event_id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                "cccccccccccccccccccccccccccccccc",
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            ]
        );
        assert_eq!((p.reports[1].email.as_str(), p.reports[1].comments.as_str()), ("bo@example.com", "again"));
        let dropped: Vec<_> = p.outcomes.iter().map(|o| (o.kind, o.category, o.reason.as_str())).collect();
        assert_eq!(dropped, [(OutcomeKind::Invalid, DataCategory::UserReportV2, "invalid_user_report")]);
    }
}
