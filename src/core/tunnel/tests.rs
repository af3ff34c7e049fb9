//! The tunnel's settings, route, DSN admission, and a tunnelled envelope judged as the
//! envelope endpoint would judge it.

use std::collections::HashMap;
use std::io::Write;

use super::*;
use crate::core::config::{ProjectConfig, ProjectState, PublicKeyConfig};
use crate::core::cors;
use crate::core::http::Headers;
use crate::core::ingest::judge;
use crate::core::quota::CachedLimits;

const KEY: &str = "0123456789abcdef0123456789abcdef";
const OTHER_KEY: &str = "ffffffffffffffffffffffffffffffff";
const EDGE: &str = "edge.example:8787";

fn settings(pairs: &[(&str, &str)]) -> Result<Tunnel, String> {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Tunnel::from_settings(|name| map.get(name).cloned())
}

fn state(project_id: u64, allowed_domains: &[&str]) -> ProjectState {
    ProjectState {
        project_id,
        disabled: false,
        public_keys: vec![PublicKeyConfig { public_key: KEY.into(), numeric_id: Some(1), is_enabled: true }],
        slug: Some("web".into()),
        organization_id: Some(1),
        config: ProjectConfig {
            allowed_domains: allowed_domains.iter().map(|d| d.to_string()).collect(),
            ..ProjectConfig::default()
        },
    }
}

fn envelope(dsn: Option<&str>) -> Vec<u8> {
    let header = match dsn {
        Some(dsn) => format!("{{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\",\"dsn\":\"{dsn}\"}}"),
        None => "{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}".to_string(),
    };
    format!("{header}\n{{\"type\":\"event\"}}\n{{\"message\":\"from a browser\"}}\n").into_bytes()
}

/// Prepares `body` POSTed to `path` at the edge `EDGE` from the page `https://shop.example`.
fn post(tunnel: &Tunnel, path: &str, extra: &[(&str, &str)], body: &[u8]) -> Result<Step, Reject> {
    let mut headers: Headers = [("Host", EDGE), ("Origin", "https://shop.example")].into_iter().collect();
    for (name, value) in extra {
        headers.push(*name, *value);
    }
    let req = Request { method: "POST", path, query: "", headers: &headers, body, client_ip: Some("192.0.2.1") };
    prepare(&req, &Limits::default(), tunnel, EventId::from_bytes([7; 16]))
}

fn prepared(step: Result<Step, Reject>) -> ingest::Prepared {
    match step {
        Ok(Step::NeedState(prepared)) => prepared,
        other => panic!("not an ingest request: {other:?}"),
    }
}

#[test]
fn settings_default_to_tunnel_with_no_other_dsn_hosts() {
    let tunnel = settings(&[]).unwrap();
    assert_eq!(tunnel, Tunnel::default());
    assert_eq!(tunnel.path(), DEFAULT_PATH);
    assert_eq!(settings(&[("TUNNEL_PATH", " "), ("TUNNEL_DSN_HOSTS", "")]).unwrap(), Tunnel::default());
    let tunnel =
        settings(&[("TUNNEL_PATH", "/monitoring/sentry/"), ("TUNNEL_DSN_HOSTS", "A.example, *.b.example:443")])
            .unwrap();
    assert_eq!(tunnel.path(), "/monitoring/sentry");
    assert_eq!(tunnel.dsn_hosts, ["a.example", "*.b.example:443"]);
}

#[test]
fn bad_settings_are_refused_naming_the_setting() {
    for path in ["tunnel", "/", "/api/1/envelope/", "/api", "/t?x=1", "/a b"] {
        let e = settings(&[("TUNNEL_PATH", path)]).unwrap_err();
        assert!(e.starts_with("TUNNEL_PATH must be"), "{path}: {e}");
    }
    for hosts in ["a.example,,b.example", "a.example,", "https://a.example", "key@a.example", "a example"] {
        let e = settings(&[("TUNNEL_DSN_HOSTS", hosts)]).unwrap_err();
        assert!(e.starts_with("TUNNEL_DSN_HOSTS entry"), "{hosts}: {e}");
    }
}

#[test]
fn the_route_matches_the_path_with_any_slashes_and_only_post_and_options() {
    let tunnel = settings(&[("TUNNEL_PATH", "/monitoring")]).unwrap();
    for path in ["/monitoring", "/monitoring/", "//monitoring//"] {
        let route = tunnel.route("POST", path).unwrap().unwrap();
        assert_eq!(route, Route { endpoint: Endpoint::Envelope, project_id: None, action: Action::Call }, "{path}");
    }
    assert_eq!(tunnel.route("options", "/monitoring").unwrap().unwrap().action, Action::Preflight);
    assert_eq!(tunnel.route("GET", "/monitoring"), Some(Err(Reject::MethodNotAllowed)));
    for other in ["/monitoringx", "/monitoring/x", "/tunnel", "/", "/api/1/envelope/"] {
        assert_eq!(tunnel.route("POST", other), None, "{other}");
    }
}

#[test]
fn a_dsn_is_admitted_for_this_edges_host_or_a_listed_one() {
    let tunnel = settings(&[("TUNNEL_DSN_HOSTS", "o1.ingest.example,*.sentry.example,ports.example:9000")]).unwrap();
    let admit = |dsn: &str, host: Option<&str>| tunnel.admit(Some(dsn), host);
    // Its own host; ports count when both sides name one.
    assert_eq!(admit(&format!("http://{KEY}@edge.example:8787/42"), Some(EDGE)), Ok(42));
    assert_eq!(admit(&format!("https://{KEY}@EDGE.example/42"), Some(EDGE)), Ok(42));
    assert_eq!(admit(&format!("https://{KEY}@edge.example/42"), Some("edge.example")), Ok(42));
    assert_eq!(admit(&format!("http://{KEY}@[::1]:8787/5"), Some("[::1]:8787")), Ok(5));
    // Listed hosts and patterns; a port in the pattern must match.
    assert_eq!(admit(&format!("https://{KEY}:secret@o1.ingest.example/prefix/7"), Some(EDGE)), Ok(7));
    assert_eq!(admit(&format!("https://{KEY}@a.b.sentry.example/7"), None), Ok(7));
    assert_eq!(admit(&format!("http://{KEY}@ports.example:9000/7"), None), Ok(7));
    for (dsn, host) in [
        (format!("https://{KEY}@evil.example/42"), "evil.example"),
        (format!("http://{KEY}@ports.example:9001/7"), "ports.example:9001"),
        (format!("http://{KEY}@edge.example:6379/42"), "edge.example:6379"),
        (format!("https://{KEY}@edge.example.evil.example/42"), "edge.example.evil.example"),
        (format!("https://{KEY}@notsentry.example/42"), "notsentry.example"),
    ] {
        let reject = admit(&dsn, Some(EDGE)).unwrap_err();
        assert_eq!(reject, Reject::TunnelHostNotAllowed(host.to_string()));
        assert_eq!(reject.status(), 403);
    }
    // Without a Host header only the list counts.
    assert!(admit(&format!("http://{KEY}@edge.example:8787/42"), None).is_err());
}

#[test]
fn a_missing_or_invalid_dsn_is_400_with_a_detail() {
    let tunnel = Tunnel::default();
    for (body, detail) in [
        (envelope(None), "tunnel: the envelope header has no dsn"),
        (envelope(Some("not a dsn")), "tunnel: the envelope header's dsn is not a DSN"),
        (envelope(Some(&format!("http://{KEY}@{EDGE}/"))), "tunnel: the envelope header's dsn is not a DSN"),
    ] {
        let reject = post(&tunnel, "/tunnel", &[], &body).unwrap_err();
        let response = reject.response();
        assert_eq!(response.status, 400);
        let json: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(json["detail"], detail);
        assert_eq!(response.header("access-control-allow-origin"), Some("*"), "browsers can read the refusal");
    }
    let reject = post(&tunnel, "/tunnel", &[], &envelope(Some(&format!("https://{KEY}@evil.example/42")))).unwrap_err();
    let json: serde_json::Value = serde_json::from_slice(&reject.response().body).unwrap();
    assert_eq!(
        json["detail"],
        "tunnel: the envelope's dsn names evil.example, which is not a DSN host this tunnel accepts"
    );
}

#[test]
fn preflight_is_the_envelope_endpoints() {
    let tunnel = Tunnel::default();
    let headers: Headers = [("Origin", "https://shop.example")].into_iter().collect();
    let req = Request { method: "OPTIONS", path: "/tunnel/", query: "", headers: &headers, body: b"", client_ip: None };
    let Ok(Step::Respond(response)) = prepare(&req, &Limits::default(), &tunnel, EventId::from_bytes([1; 16])) else {
        panic!("a preflight is answered at once");
    };
    assert_eq!(response, cors::preflight());
    let req = Request { path: "/api/42/envelope/", ..req };
    let Ok(Step::Respond(envelope_preflight)) =
        prepare(&req, &Limits::default(), &tunnel, EventId::from_bytes([1; 16]))
    else {
        panic!("a preflight is answered at once");
    };
    assert_eq!(response, envelope_preflight);
}

#[test]
fn a_tunnelled_envelope_is_judged_as_the_envelope_endpoint_judges_it() {
    let tunnel = Tunnel::default();
    let dsn = format!("http://{KEY}@{EDGE}/42");
    let through_tunnel = prepared(post(&tunnel, "/tunnel", &[], &envelope(Some(&dsn))));
    assert_eq!(through_tunnel.route.project_id, Some(42));
    assert_eq!(through_tunnel.route.endpoint, Endpoint::Envelope);
    assert_eq!(through_tunnel.public_key(), KEY);
    let direct = prepared(post(&tunnel, "/api/42/envelope/", &[], &envelope(Some(&dsn))));
    let finish = |p| judge(p, Some(&state(42, &["*"])), &CachedLimits::default(), 1_795_244_400).unwrap().finish(&[]);
    let (tunnelled, direct) = (finish(through_tunnel), finish(direct));
    assert_eq!(tunnelled.response, direct.response, "the same answer, CORS headers included");
    assert_eq!(tunnelled.response.header("access-control-expose-headers"), Some(cors::EXPOSE_HEADERS));
    assert_eq!(tunnelled.forward, direct.forward, "the same forward, to /api/42/envelope/ at the origin");
    assert_eq!(tunnelled.forward.unwrap().path(), "/api/42/envelope/");
    assert_eq!(tunnelled.outcomes, direct.outcomes);
}

#[test]
fn the_dsns_project_and_the_projects_rules_still_decide() {
    let tunnel = Tunnel::default();
    let dsn = format!("http://{KEY}@{EDGE}/42");
    let judge_with = |state: &ProjectState| {
        let p = prepared(post(&tunnel, "/tunnel", &[], &envelope(Some(&dsn))));
        judge(p, Some(state), &CachedLimits::default(), 1_795_244_400).map(|_| ()).map_err(Reject::from)
    };
    // The key belongs to another project than the DSN's path names.
    assert_eq!(judge_with(&state(43, &["*"])), Err(Reject::ProjectIdMismatch));
    // The page is not among the project's allowed domains; the refusal counts every item.
    let p = prepared(post(&tunnel, "/tunnel", &[], &envelope(Some(&dsn))));
    let refused = judge(p, Some(&state(42, &["other.example"])), &CachedLimits::default(), 1).unwrap_err();
    assert_eq!((refused.reject.clone(), refused.outcomes.len()), (Reject::OriginNotAllowed, 1));
    // No project has the key: refused, no project to count against.
    let p = prepared(post(&tunnel, "/tunnel", &[], &envelope(Some(&dsn))));
    let refused = judge(p, None, &CachedLimits::default(), 1).unwrap_err();
    assert_eq!((refused.reject, refused.outcomes.len()), (Reject::UnknownKey, 0));
    // A key in the request that is not the DSN's.
    let auth = format!("Sentry sentry_key={OTHER_KEY}, sentry_version=7");
    let body = envelope(Some(&dsn));
    assert_eq!(post(&tunnel, "/tunnel", &[("x-sentry-auth", &auth)], &body).unwrap_err(), Reject::DsnMismatch);
}

#[test]
fn a_compressed_tunnelled_envelope_is_decoded_once_and_admitted() {
    let tunnel = settings(&[("TUNNEL_DSN_HOSTS", "o1.ingest.example")]).unwrap();
    let body = envelope(Some(&format!("https://{KEY}@o1.ingest.example/42")));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&body).unwrap();
    let p = prepared(post(&tunnel, "/tunnel", &[("content-encoding", "gzip")], &gz.finish().unwrap()));
    assert_eq!((p.route.project_id, p.public_key()), (Some(42), KEY));
}

#[test]
fn other_paths_are_prepared_as_without_a_tunnel() {
    let tunnel = Tunnel::default();
    let dsn = format!("https://{KEY}@evil.example/42");
    // The envelope endpoint takes a DSN of any host, as Relay does.
    let p = prepared(post(&tunnel, "/api/42/envelope/", &[], &envelope(Some(&dsn))));
    assert_eq!(p.route.project_id, Some(42));
    assert_eq!(post(&tunnel, "/tunnelx", &[], &envelope(Some(&dsn))).unwrap_err(), Reject::NotFound);
}
