//! The ingest conformance table: `tests/data/conformance.json` plus every SDK capture in
//! `tests/data/vectors`, each a request and what must come out of it. One checker judges what
//! the core, the edge in workerd and the origin produce (see `conformance_run.rs`).

use std::io::Write;

use base64::Engine;
use picket::core::envelope::Envelope;
use serde_json::Value;

use crate::harness::{data, SENTRY_CLI_KEY};
use crate::vectors::captures;

pub const UNKNOWN_KEY: &str = "ffffffffffffffffffffffffffffffff";

/// What a target substitutes for the placeholders.
pub struct Vars {
    pub key: String,
    pub project: u64,
    /// The client's address as the target's platform reports it.
    pub peer: &'static str,
}

/// A request ready to send, with its expectation.
pub struct Case {
    pub name: String,
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub expect: Value,
}

/// What a target observed for one case.
pub struct Observed {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub forwarded: Option<Envelope>,
    /// Headers of the forward request (`None` where the target stores instead of forwarding).
    pub forward_headers: Option<Vec<(String, String)>>,
}

fn table() -> Value {
    serde_json::from_slice(&std::fs::read(data("conformance.json")).unwrap()).unwrap()
}

pub fn allowed_domains() -> Value {
    table()["project_allowed_domains"].clone()
}

fn case_id(index: usize) -> String {
    format!("{:032x}", (0x00c0_ffee_u128 << 96) + index as u128)
}

fn hyphenated(id: &str) -> String {
    format!("{}-{}-{}-{}-{}", &id[0..8], &id[8..12], &id[12..16], &id[16..20], &id[20..32])
}

fn substitute(text: &str, vars: &Vars, id: &str) -> String {
    text.replace("{key}", &vars.key)
        .replace("{unknown_key}", UNKNOWN_KEY)
        .replace("{other_project}", &(vars.project + 1000).to_string())
        .replace("{project}", &vars.project.to_string())
        .replace("{id_hyphenated}", &hyphenated(id))
        .replace("{id}", id)
        .replace("{dsn}", &format!("http://{}@edge.example/{}", vars.key, vars.project))
        .replace("{peer}", vars.peer)
}

fn substitute_value(value: &Value, vars: &Vars, id: &str) -> Value {
    match value {
        Value::String(s) => Value::String(substitute(s, vars, id)),
        Value::Array(a) => Value::Array(a.iter().map(|v| substitute_value(v, vars, id)).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), substitute_value(v, vars, id))).collect()),
        other => other.clone(),
    }
}

/// A body of an exact size: an envelope with one item, a `/store/` event, or zeros.
fn generate(spec: &Value, id: &str) -> Vec<u8> {
    let padded_event = |size: usize, prefix: &str| {
        let mut s = prefix.to_string();
        s.push_str(&"x".repeat(size - prefix.len() - 2));
        s.push_str("\"}");
        s.into_bytes()
    };
    if let Some(n) = spec["zeros"].as_u64() {
        return vec![0; n as usize];
    }
    if let Some(m) = spec.get("gzip_members") {
        // Concatenated gzip members decode to their concatenation: a 10 GiB bomb in ~10 MB.
        let member = gzip(&vec![0; m["zeros_each"].as_u64().unwrap() as usize]);
        return member.repeat(m["count"].as_u64().unwrap() as usize);
    }
    if let Some(n) = spec["store_event_size"].as_u64() {
        return padded_event(n as usize, &format!("{{\"event_id\":\"{id}\",\"message\":\""));
    }
    let (ty, size) = (spec["item_type"].as_str().unwrap(), spec["payload_size"].as_u64().unwrap() as usize);
    let payload = if ty == "attachment" { vec![b'a'; size] } else { padded_event(size, "{\"message\":\"") };
    let mut body = format!("{{\"event_id\":\"{id}\"}}\n{{\"type\":\"{ty}\",\"length\":{size}}}\n").into_bytes();
    body.extend(payload);
    body.push(b'\n');
    body
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Applies an encoding the way a client would: the body changes and so may the headers.
fn encode(encoding: &str, body: Vec<u8>, headers: &mut Vec<(String, String)>) -> Vec<u8> {
    let mut header = |v: &str| headers.push(("content-encoding".into(), v.into()));
    let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d).into_bytes();
    match encoding {
        "gzip" | "x-gzip" => {
            header(encoding);
            gzip(&body)
        }
        "gzip-twice" => {
            header("gzip, gzip");
            gzip(&gzip(&body))
        }
        "broken-gzip" => {
            header("gzip");
            let mut g = gzip(&body);
            g[12..20].fill(0xff);
            g
        }
        "deflate" => {
            header("deflate");
            zlib(&body)
        }
        "deflate-raw" => {
            header("deflate");
            let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(&body).unwrap();
            e.finish().unwrap()
        }
        "br" => {
            header("br");
            let mut out = Vec::new();
            brotli::BrotliCompress(&mut &body[..], &mut out, &Default::default()).unwrap();
            out
        }
        "broken-br" => {
            header("br");
            b"\x1b\xff\xff\xff\xff not brotli at all".to_vec()
        }
        "zstd" => {
            header("zstd");
            ruzstd::encoding::compress_to_vec(&body[..], ruzstd::encoding::CompressionLevel::Fastest)
        }
        "identity" => {
            header("identity");
            body
        }
        "store-base64" => b64(&body),
        "store-base64-zlib" => b64(&zlib(&body)),
        other => panic!("unknown encoding {other}"),
    }
}

/// Every case (the table, then the captures) with `vars` substituted.
pub fn cases(vars: &Vars) -> Vec<Case> {
    let mut out = Vec::new();
    for (i, raw) in table()["cases"].as_array().unwrap().iter().enumerate() {
        let id = case_id(i);
        let sub = |v: &Value| substitute(v.as_str().unwrap_or(""), vars, &id);
        let mut headers: Vec<(String, String)> =
            raw["headers"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), sub(v))).collect();
        let body = match (&raw["body"], &raw["body_gen"]) {
            (Value::String(b), _) => substitute(b, vars, &id).into_bytes(),
            (_, spec) if spec.is_object() => generate(spec, &id),
            _ => Vec::new(),
        };
        let body = match raw["encoding"].as_str() {
            Some(enc) => encode(enc, body, &mut headers),
            None => body,
        };
        out.push(Case {
            name: raw["name"].as_str().unwrap().to_string(),
            method: raw["method"].as_str().unwrap().to_string(),
            path: sub(&raw["path"]),
            query: sub(&raw["query"]),
            headers,
            body,
            expect: substitute_value(&raw["expect"], vars, &id),
        });
    }
    for c in captures() {
        let env = Envelope::parse(&c.envelope).unwrap();
        let id = env.event_id().map(|i| Value::String(i.simple()));
        let items: Vec<Value> = env.items.iter().map(|i| Value::String(i.ty().to_string())).collect();
        let mut expect = serde_json::json!({ "status": 200, "forward": { "event_id": id, "items": items } });
        match &id {
            Some(id) => expect["id"] = id.clone(),
            None => expect["body_json"] = serde_json::json!({}),
        }
        let headers = c
            .headers
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("host") && !n.eq_ignore_ascii_case("content-length"))
            .map(|(n, v)| (n.to_string(), v.replace(SENTRY_CLI_KEY, &vars.key)))
            .collect();
        out.push(Case {
            name: format!("capture-{}", c.name),
            method: c.method,
            path: c.path.replace("/api/42/", &format!("/api/{}/", vars.project)),
            query: String::new(),
            headers,
            body: c.wire,
            expect,
        });
    }
    out
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

fn is_hex32(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// Checks one observation against its case; the error names every difference.
pub fn check(case: &Case, seen: &Observed) -> Result<(), String> {
    let e = &case.expect;
    let mut errors = Vec::new();
    let mut fail = |msg: String| errors.push(msg);
    let json: Option<Value> = serde_json::from_slice(&seen.body).ok();
    if e["status"].as_u64() != Some(seen.status as u64) {
        fail(format!("status {} (want {}), body {}", seen.status, e["status"], String::from_utf8_lossy(&seen.body)));
    }
    if let Some(detail) = e["detail"].as_str() {
        let j = json.clone().unwrap_or(Value::Null);
        if j["detail"].as_str() != Some(detail) || !j["causes"].is_array() {
            fail(format!("error body {j} (want detail {detail:?} and causes)"));
        }
        if header(&seen.headers, "content-type") != Some("application/json") {
            fail("an error body must be application/json".into());
        }
    }
    if let Some(want) = e.get("body_json") {
        if json.as_ref() != Some(want) {
            fail(format!("body {:?} (want {want})", json));
        }
    }
    let response_id = json.as_ref().and_then(|j| j["id"].as_str()).map(str::to_string);
    match e["id"].as_str() {
        Some("generated") if !response_id.as_deref().is_some_and(is_hex32) => {
            fail(format!("id {response_id:?} is no fresh id"))
        }
        Some("generated") | None => {}
        Some(want) if response_id.as_deref() != Some(want) => fail(format!("id {response_id:?} (want {want})")),
        Some(_) => {}
    }
    let text = String::from_utf8_lossy(&seen.body).to_string();
    let hyphenated_id = (e["body"] == "hyphenated_id").then(|| text.clone());
    match e["body"].as_str() {
        Some("gif") if seen.body != picket::core::store::PIXEL_GIF => fail("body is not the 1x1 GIF".into()),
        Some("empty") if !seen.body.is_empty() => fail(format!("body {text:?} (want empty)")),
        Some("hyphenated_id") if text.len() != 36 || text.matches('-').count() != 4 => {
            fail(format!("body {text:?} is no hyphenated id"))
        }
        _ => {}
    }
    if let Some(want) = e["hyphenated"].as_str() {
        if text != want {
            fail(format!("body {text:?} (want {want})"));
        }
    }
    for (name, want) in e["headers"].as_object().into_iter().flatten() {
        if header(&seen.headers, name) != want.as_str() {
            fail(format!("header {name}: {:?} (want {want})", header(&seen.headers, name)));
        }
    }
    for (name, parts) in e["header_contains"].as_object().into_iter().flatten() {
        let value = header(&seen.headers, name).unwrap_or("");
        for part in parts.as_array().unwrap() {
            if !value.contains(part.as_str().unwrap()) {
                fail(format!("header {name}: {value:?} lacks {part}"));
            }
        }
    }
    match (&e["forward"], &seen.forwarded) {
        (Value::Null, None) => {}
        (Value::Null, Some(env)) => fail(format!("forwarded {} items, want nothing", env.items.len())),
        (_, None) => fail("nothing forwarded".into()),
        (want, Some(env)) => {
            let got_id = env.event_id().map(|i| i.simple());
            let generated = hyphenated_id.map(|h| h.replace('-', "")).or(response_id.clone());
            let id_ok = match &want["event_id"] {
                Value::Null => got_id.is_none(),
                Value::String(s) if s == "generated" => {
                    got_id.as_deref().is_some_and(is_hex32) && (generated.is_none() || got_id == generated)
                }
                Value::String(s) => got_id.as_deref() == Some(s.as_str()),
                _ => true,
            };
            if !id_ok {
                fail(format!("forwarded event_id {got_id:?} (want {}, answered {generated:?})", want["event_id"]));
            }
            let types: Vec<&str> = env.items.iter().map(|i| i.ty()).collect();
            let want_types: Vec<&str> = want["items"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
            if types != want_types {
                fail(format!("forwarded items {types:?} (want {want_types:?})"));
            }
            for (k, v) in want["header"].as_object().into_iter().flatten() {
                if env.headers.get(k) != Some(v) {
                    fail(format!("forwarded header {k}: {:?} (want {v})", env.headers.get(k)));
                }
            }
            for (idx, subset) in want["item_headers"].as_object().into_iter().flatten() {
                let item = &env.items[idx.parse::<usize>().unwrap()];
                for (k, v) in subset.as_object().unwrap() {
                    if item.headers.get(k) != Some(v) {
                        fail(format!("item {idx} header {k}: {:?} (want {v})", item.headers.get(k)));
                    }
                }
            }
            for (idx, payload) in want["payloads"].as_object().into_iter().flatten() {
                let got = &env.items[idx.parse::<usize>().unwrap()].payload;
                if got != payload.as_str().unwrap().as_bytes() {
                    fail(format!("item {idx} payload {:?} (want {payload})", String::from_utf8_lossy(got)));
                }
            }
        }
    }
    if let (Some(want), Some(got)) = (e["forward_headers"].as_object(), &seen.forward_headers) {
        for (name, v) in want {
            if header(got, name) != v.as_str() {
                fail(format!("forward header {name}: {:?} (want {v})", header(got, name)));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!("{}: {}", case.name, errors.join("; ")))
    }
}
