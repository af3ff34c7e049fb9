//! Every kind of data a real SDK sends, through the edge on both platforms, is accounted for:
//! the Python sentry-sdk and `@sentry/node` each send an error with an attachment, a traced
//! operation, a session, a cron check-in, logs and feedback; afterwards `stats_v2` counts
//! exactly what they sent as accepted, per category, and the attachments and feedback APIs give
//! back what they sent.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use picket::core::category::item_quantities;
use picket::core::envelope::Envelope;
use serde_json::Value;

use crate::harness::{root, wait_for, Edge, Kind, Origin};

/// Per category, what the SDK's envelopes (as its transport wrote them) count in.
fn sent_per_category(dir: &std::path::Path) -> BTreeMap<String, u64> {
    let mut sent = BTreeMap::new();
    for file in std::fs::read_dir(dir).unwrap() {
        let envelope = Envelope::parse(&std::fs::read(file.unwrap().path()).unwrap()).unwrap();
        for item in &envelope.items {
            for (category, quantity) in item_quantities(item) {
                *sent.entry(category.name().to_string()).or_default() += quantity;
            }
        }
    }
    sent
}

/// Per category, the accepted quantity `stats_v2` reports.
fn accepted_per_category(origin: &Origin) -> BTreeMap<String, u64> {
    let path = format!(
        "/api/0/organizations/{}/stats_v2/?field=sum(quantity)&groupBy=outcome&groupBy=category&statsPeriod=1h",
        origin.bootstrap.organization
    );
    let stats = origin.api(&path).json();
    let mut accepted = BTreeMap::new();
    for g in stats["groups"].as_array().into_iter().flatten() {
        if g["by"]["outcome"] == "accepted" {
            let category = g["by"]["category"].as_str().unwrap().to_string();
            *accepted.entry(category).or_default() += g["totals"]["sum(quantity)"].as_u64().unwrap();
        }
    }
    accepted
}

/// A real SDK, driven by its script in tests/clients.
struct Sdk {
    /// The interpreter, relative to the repository.
    program: &'static str,
    script: &'static str,
    /// What the traced operation is sent as: Python sends a transaction, @sentry/node 11 spans.
    traced: &'static str,
    /// The error's title at the origin.
    title: &'static str,
    /// The feedback's message and email.
    feedback: (&'static str, &'static str),
}

const PYTHON: Sdk = Sdk {
    program: ".tools/venv/bin/python",
    script: "tests/clients/python_everything.py",
    traced: "transaction",
    title: "ZeroDivisionError: division by zero",
    feedback: ("it divided by zero", "py@example.com"),
};

const NODE: Sdk = Sdk {
    program: "node_modules/.bin/node",
    script: "tests/clients/node_everything.mjs",
    traced: "span",
    title: "TypeError: node could not divide",
    feedback: ("node could not divide", "node@example.com"),
};

crate::on_both_edges!(python_sdk_sends_everything_and_every_item_is_accounted);

fn python_sdk_sends_everything_and_every_item_is_accounted(kind: Kind) {
    everything_is_accounted(kind, &PYTHON);
}

crate::on_both_edges!(node_sdk_sends_everything_and_every_item_is_accounted);

fn node_sdk_sends_everything_and_every_item_is_accounted(kind: Kind) {
    everything_is_accounted(kind, &NODE);
}

fn everything_is_accounted(kind: Kind, sdk: &Sdk) {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start(dir.path());
    let edge = Edge::for_origin(kind, &origin, &[]);
    let sent_dir = tempfile::tempdir().unwrap();
    let program = root().join(sdk.program);
    assert!(program.exists(), "{} is missing: run scripts/setup (scripts/test does)", program.display());
    let out = Command::new(program)
        .arg(root().join(sdk.script))
        .arg(origin.dsn_at(&edge.url))
        .arg(sent_dir.path())
        .current_dir(root())
        .output()
        .unwrap();
    assert!(out.status.success(), "{} failed: {}", sdk.script, String::from_utf8_lossy(&out.stderr));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();

    let sent = sent_per_category(sent_dir.path());
    for category in
        ["error", sdk.traced, "attachment", "attachment_item", "session", "monitor", "log_item", "log_byte", "feedback"]
    {
        assert!(sent.get(category).is_some_and(|n| *n > 0), "the SDK sent no {category}: {sent:?}");
    }
    let accepted = wait_for("every category accepted as sent", Duration::from_secs(60), || {
        let accepted = accepted_per_category(&origin);
        (accepted == sent).then_some(accepted)
    });
    assert_eq!(accepted["log_item"], 2, "two log lines");

    // The error, its attachment byte for byte, and the feedback linked to its issue.
    let error = printed["error"].as_str().unwrap();
    let event = origin.project_api(&format!("events/{error}/"));
    assert_eq!((event.status, event.json()["title"].as_str()), (200, Some(sdk.title)));
    let list = origin.project_api(&format!("events/{error}/attachments/")).json();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["name"], printed["attachment"]["name"]);
    let id = list[0]["id"].as_str().unwrap();
    let bytes = origin.project_api(&format!("events/{error}/attachments/{id}/?download=1")).body;
    let want: Vec<u8> = (0..printed["attachment"]["hex"].as_str().unwrap().len() / 2)
        .map(|i| u8::from_str_radix(&printed["attachment"]["hex"].as_str().unwrap()[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    assert_eq!(bytes, want);
    let feedback = origin.project_api("user-feedback/").json();
    assert_eq!(feedback.as_array().unwrap().len(), 1, "{feedback}");
    assert_eq!(
        (feedback[0]["eventID"].as_str(), feedback[0]["comments"].as_str()),
        (Some(error), Some(sdk.feedback.0))
    );
    assert_eq!(feedback[0]["email"], sdk.feedback.1);
    let issues = origin.project_api("issues/").json();
    let issue = issues.as_array().unwrap().iter().find(|i| i["title"] == sdk.title).unwrap();
    assert_eq!(issue["userReportCount"], 1);
}
