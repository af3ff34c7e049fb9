//! The core on what real SDKs sent (`tests/data/vectors`, captured from Python sentry-sdk
//! 2.75 and sentry-cli 3.8): every capture is accepted, answered with its event id, and
//! forwarded with the same items.

use std::io::Write;

use picket::core::config::{ProjectConfig, ProjectState, PublicKeyConfig};
use picket::core::envelope::Envelope;
use picket::core::limits::Limits;
use picket::core::quota::CachedLimits;
use picket::core::{judge, prepare, EventId, Headers, Request, Step};
use serde_json::Value;

use crate::harness::{data, SENTRY_CLI_KEY};

pub fn state(project_id: u64, key: &str) -> ProjectState {
    ProjectState {
        project_id,
        disabled: false,
        public_keys: vec![PublicKeyConfig { public_key: key.into(), numeric_id: Some(1), is_enabled: true }],
        slug: Some("web".into()),
        organization_id: Some(1),
        config: ProjectConfig::default(),
    }
}

pub struct Capture {
    pub name: String,
    pub method: String,
    pub path: String,
    pub headers: Headers,
    /// The body as it went over the wire (re-encoded per its Content-Encoding).
    pub wire: Vec<u8>,
    /// The decoded body.
    pub envelope: Vec<u8>,
}

fn encode(encoding: Option<&str>, body: &[u8]) -> Vec<u8> {
    match encoding {
        None => body.to_vec(),
        Some("gzip") => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(body).unwrap();
            e.finish().unwrap()
        }
        Some("br") => {
            let mut out = Vec::new();
            brotli::BrotliCompress(&mut &body[..], &mut out, &Default::default()).unwrap();
            out
        }
        Some(other) => panic!("no encoder for {other}"),
    }
}

/// Every `*.request.json` capture with its envelope.
pub fn captures() -> Vec<Capture> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(data("vectors")).unwrap() {
        let path = entry.unwrap().path();
        let Some(name) = path.file_name().unwrap().to_str().unwrap().strip_suffix(".request.json") else {
            continue;
        };
        let meta: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let (method, path_) = meta["request"].as_str().unwrap().split_once(' ').unwrap();
        let headers: Headers = meta["headers"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        let envelope = std::fs::read(data(&format!("vectors/{name}.envelope"))).unwrap();
        assert_eq!(envelope.len() as u64, meta["decoded_bytes"].as_u64().unwrap(), "{name}");
        let wire = encode(headers.get("content-encoding"), &envelope);
        out.push(Capture { name: name.into(), method: method.into(), path: path_.into(), headers, wire, envelope });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(out.len(), 10, "expected all 10 request captures");
    out
}

#[test]
fn every_capture_is_accepted_answered_with_its_id_and_forwarded_whole() {
    for c in captures() {
        let req = Request {
            method: &c.method,
            path: &c.path,
            query: "",
            headers: &c.headers,
            body: &c.wire,
            client_ip: Some("203.0.113.9"),
        };
        let Step::NeedState(prepared) = prepare(&req, &Limits::default(), EventId::from_bytes([9; 16])).unwrap() else {
            panic!("{}: an ingest request needs project state", c.name);
        };
        assert_eq!(prepared.public_key(), SENTRY_CLI_KEY, "{}", c.name);
        let accepted = judge(prepared, Some(&state(42, SENTRY_CLI_KEY)), &CachedLimits::default(), 0)
            .unwrap_or_else(|r| panic!("{}: {}", c.name, r.reject))
            .finish(&[]);
        let forward = accepted.forward.unwrap();
        let original = Envelope::parse(&c.envelope).unwrap();
        let answer: Value = serde_json::from_slice(&accepted.response.body).unwrap();
        assert_eq!(accepted.response.status, 200, "{}", c.name);
        match original.event_id() {
            Some(id) => assert_eq!(answer["id"], id.simple(), "{}", c.name),
            None => assert_eq!(answer, serde_json::json!({}), "{}", c.name),
        }
        let forwarded = Envelope::parse(&forward.body).unwrap();
        assert_eq!(forward.path(), "/api/42/envelope/");
        assert_eq!(forwarded.items.len(), original.items.len(), "{}", c.name);
        for (f, o) in forwarded.items.iter().zip(&original.items) {
            assert_eq!((f.ty(), &f.payload), (o.ty(), &o.payload), "{}", c.name);
        }
        let xff = forward.headers.iter().find(|(n, _)| n == "x-forwarded-for").map(|(_, v)| v.as_str());
        assert_eq!(xff, Some("203.0.113.9"));
    }
}

#[test]
fn sentry_cli_sends_no_content_type_and_a_hyphenated_id_which_is_forwarded_plain() {
    let clis: Vec<Capture> = captures().into_iter().filter(|c| c.name.starts_with("sentry-cli")).collect();
    assert!(clis.len() >= 3);
    for c in clis {
        assert_eq!(c.headers.get("content-type"), None, "{}", c.name);
        let header: Value = serde_json::from_slice(c.envelope.split(|&b| b == b'\n').next().unwrap()).unwrap();
        let raw_id = header["event_id"].as_str().unwrap();
        assert_eq!(raw_id.len(), 36, "{}: {raw_id}", c.name);
        let req =
            Request { method: "POST", path: &c.path, query: "", headers: &c.headers, body: &c.wire, client_ip: None };
        let Ok(Step::NeedState(p)) = prepare(&req, &Limits::default(), EventId::from_bytes([0; 16])) else { panic!() };
        let accepted = judge(p, Some(&state(42, SENTRY_CLI_KEY)), &CachedLimits::default(), 0).unwrap().finish(&[]);
        let forwarded = Envelope::parse(&accepted.forward.unwrap().body).unwrap();
        assert_eq!(forwarded.headers["event_id"], raw_id.replace('-', ""));
    }
}

#[test]
fn python_captures_arrive_compressed_and_decode() {
    let mut seen = Vec::new();
    for c in captures().into_iter().filter(|c| c.name.starts_with("python")) {
        if let Some(enc) = c.headers.get("content-encoding") {
            assert!(c.wire.len() < c.envelope.len(), "{}: compression should shrink it", c.name);
            seen.push(enc.to_string());
        }
    }
    assert!(seen.contains(&"gzip".to_string()) && seen.contains(&"br".to_string()), "{seen:?}");
}

#[test]
fn the_benchmark_envelope_parses() {
    let gz = std::fs::read(data("vectors/envelope-5kb.envelope.gz")).unwrap();
    let body = picket::core::decode::decode_body(Some("gzip"), &gz, 1 << 20).unwrap();
    let env = Envelope::parse(&body).unwrap();
    assert_eq!(env.items.len(), 1);
    assert_eq!(env.items[0].ty(), "event");
}
