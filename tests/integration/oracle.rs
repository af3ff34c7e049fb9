//! Picket agrees with Relay: the same fixture events go through Picket's processing
//! (`picket-origin process-event`) and through Relay's own normalizer and data scrubber (the
//! `sentry-relay` package), and the listed fields must be equal.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::harness::{data, origin_binary, root};

fn cases() -> Value {
    serde_json::from_slice(&std::fs::read(data("oracle/cases.json")).unwrap()).unwrap()
}

/// Runs `cmd` with `input` as JSON on stdin; its stdout parsed as JSON.
pub fn run(mut cmd: Command, input: &Value) -> Value {
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn relay(cases: &Value) -> Value {
    let python = root().join(".tools/venv/bin/python");
    assert!(python.exists(), "the Python clients are missing: run scripts/setup (scripts/test does)");
    let mut cmd = Command::new(python);
    cmd.arg(root().join("tests/clients/relay_oracle.py"));
    let input = json!({
        "received_at": cases["received_at"],
        "normalize": cases["normalize"].as_array().unwrap().iter()
            .map(|c| json!({ "event": c["event"], "client_ip": cases["client_ip"] })).collect::<Vec<_>>(),
        "scrub": cases["scrub"].as_array().unwrap().iter()
            .map(|c| json!({ "settings": c["settings"], "event": c["event"] })).collect::<Vec<_>>(),
    });
    run(cmd, &input)
}

fn picket(event: &Value, cases: &Value, scrubbing: &Value) -> Value {
    let mut cmd = Command::new(origin_binary());
    let dir = tempfile::tempdir().unwrap();
    cmd.arg("--data-dir").arg(dir.path()).args([
        "process-event",
        "--received-ms",
        &cases["received_ms"].to_string(),
        "--client-ip",
        cases["client_ip"].as_str().unwrap(),
        "--scrubbing",
        &scrubbing.to_string(),
    ]);
    run(cmd, event)["event"].clone()
}

/// A field as both sides leave it: absent and null are the same thing.
fn field<'a>(event: &'a Value, pointer: &str) -> &'a Value {
    event.pointer(pointer).unwrap_or(&Value::Null)
}

/// Timestamps agree to the millisecond (Relay keeps microseconds).
fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() < 0.001,
        _ => a == b,
    }
}

#[test]
fn normalization_and_scrubbing_agree_with_relay() {
    let cases = cases();
    let relay = relay(&cases);
    let mut differences = Vec::new();
    let off = json!({ "scrubData": false });
    for (section, settings_of) in [("normalize", None), ("scrub", Some("settings"))] {
        for (case, theirs) in cases[section].as_array().unwrap().iter().zip(relay[section].as_array().unwrap()) {
            let settings = settings_of.map(|k| case[k].clone()).unwrap_or_else(|| off.clone());
            let ours = picket(&case["event"], &cases, &settings);
            for pointer in case["compare"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()) {
                let (a, b) = (field(&ours, pointer), field(theirs, pointer));
                if !same(a, b) {
                    differences.push(format!(
                        "{section}/{}: {pointer}: picket {a} vs relay {b}",
                        case["name"].as_str().unwrap()
                    ));
                }
            }
        }
    }
    let compared: usize = ["normalize", "scrub"].iter().map(|s| cases[*s].as_array().unwrap().len()).sum();
    assert!(compared >= 20, "only {compared} oracle cases");
    assert!(differences.is_empty(), "Picket and Relay differ:\n{}", differences.join("\n"));
}
