//! Benchmark (scripts/bench; ignored by the test run): quota checks per second through each
//! edge's counters (a Durable Object per counter on Workers; compare-and-swap in the key-value
//! store on Spin), on one counter and on 100. One project with 100 keys and one key-scoped
//! quota: a counter (and so a Durable Object, named by its shard) per key, so events sent with
//! one key all serialize on one counter while events spread over the 100 keys land on 100
//! distinct ones (checked: the 100 shards the core derives from the origin's configs differ).
//! The same keys without the quota give the edge's own ceiling; the same load in front of a stub
//! upstream (100 keys, forwards answered at once) gives the edge and its counters without an
//! origin ingesting, or falling behind, on the same machine. Writes
//! `target/bench-quota-{workerd,spin}.json`.

use std::collections::BTreeSet;

use picket::core::quota::{Quota, Scoping};
use serde_json::{json, Value};

use crate::bench::{blast_keys, group_cpu_secs, setting};
use crate::harness::{request, root, Edge, Kind, Origin};
use crate::upstream::Upstream;

/// How many keys, and so counters, the spread load uses (`BENCH_QUOTA_KEYS`, default 100).
fn counters() -> usize {
    setting("BENCH_QUOTA_KEYS", 100).max(1)
}

#[test]
#[ignore = "a benchmark: run with scripts/bench"]
fn bench_quota_on_workerd() {
    bench_quota(Kind::Workerd);
}

#[test]
#[ignore = "a benchmark: run with scripts/bench"]
fn bench_quota_on_spin() {
    bench_quota(Kind::Spin);
}

/// The bootstrap key and `counters() - 1` new keys of the bootstrap project: their public keys.
fn hundred_keys(origin: &Origin) -> Vec<String> {
    let b = &origin.bootstrap;
    let url = format!("{}/api/0/projects/{}/{}/keys/", origin.url, b.organization, b.project);
    let bearer = format!("Bearer {}", b.token);
    let mut keys = vec![b.public_key.clone()];
    for i in 1..counters() {
        let body = json!({ "name": format!("bench {i}") }).to_string();
        let created = request("POST", &url, &[("authorization", &bearer)], body.as_bytes()).unwrap();
        assert_eq!(created.status, 201, "create key {i}");
        keys.push(created.json()["public"].as_str().unwrap().to_string());
    }
    keys
}

/// The counter shards the core derives for `keys` from the configs the origin serves the edge.
fn shards(origin: &Origin, keys: &[String]) -> BTreeSet<String> {
    let asked = json!({ "publicKeys": keys }).to_string();
    let answer = origin.relay_post("/api/0/relays/projectconfigs/?version=3", asked.as_bytes());
    assert_eq!(answer.status, 200);
    let configs = answer.json()["configs"].clone();
    keys.iter()
        .map(|key| {
            let state = &configs[key.as_str()];
            let quotas: Vec<Quota> = serde_json::from_value(state["config"]["quotas"].clone()).unwrap();
            let numeric = state["publicKeys"].as_array().unwrap().iter().find(|k| k["publicKey"] == key.as_str());
            let scoping = Scoping {
                organization_id: state["organizationId"].as_u64().unwrap(),
                project_id: state["projectId"].as_u64().unwrap(),
                public_key: key.clone(),
                key_id: numeric.and_then(|k| k["numericId"].as_u64()),
            };
            assert_eq!(quotas.len(), 1, "one quota for {key}");
            quotas[0].counter(&scoping, 0).unwrap().0
        })
        .collect()
}

/// Events per second with one key and with all keys, `rounds` times each, alternating; and the
/// CPU milliseconds per event the edge's and the origin's process groups used in each.
fn run(url: &str, auths: &[String], total: usize, threads: usize, offset: &mut usize, groups: &[(&str, u32)]) -> Value {
    let rounds = setting("BENCH_QUOTA_ROUNDS", 2);
    let (mut one, mut many) = (Vec::new(), Vec::new());
    let (mut one_cpu, mut many_cpu) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        for (keys, into, cpu) in [(&auths[..1], &mut one, &mut one_cpu), (auths, &mut many, &mut many_cpu)] {
            let before: Vec<f64> = groups.iter().map(|g| group_cpu_secs(g.1)).collect();
            let (secs, ok) = blast_keys(url, keys, total, threads, *offset);
            let after: Vec<f64> = groups.iter().map(|g| group_cpu_secs(g.1)).collect();
            *offset += total;
            assert_eq!(ok, total, "every event answered 200");
            into.push(ok as f64 / secs);
            let per_event = |i: usize| (after[i] - before[i]) * 1000.0 / total as f64;
            let used: serde_json::Map<String, Value> =
                groups.iter().enumerate().map(|(i, g)| (g.0.to_string(), json!(per_event(i)))).collect();
            cpu.push(Value::Object(used));
        }
    }
    let best = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    json!({
        "one_counter": { "per_second": best(&one), "rounds": one, "cpu_ms_per_event": one_cpu },
        "hundred_counters": { "per_second": best(&many), "rounds": many, "cpu_ms_per_event": many_cpu },
    })
}

/// The same load with the quota, in front of a stub upstream serving `counters()` keys of one
/// project (numeric ids 1..) and answering forwards at once: the edge and its counters alone,
/// with no origin ingesting (or falling behind) on the same machine.
fn stub_run(kind: Kind, quota: &Value, total: usize, threads: usize) -> Value {
    let states: Vec<(String, Value)> = (0..counters())
        .map(|i| {
            let key = format!("{:032x}", 0xbe00_0000_u64 + i as u64);
            let state = json!({
                "projectId": 42, "disabled": false, "slug": "bench", "organizationId": 1,
                "publicKeys": [{ "publicKey": key, "numericId": i + 1, "isEnabled": true }],
                "config": { "allowedDomains": ["*"], "quotas": [quota] },
            });
            (key, state)
        })
        .collect();
    let auths: Vec<String> = states.iter().map(|(k, _)| format!("Sentry sentry_key={k}, sentry_version=7")).collect();
    let upstream = Upstream::start_states(states, std::time::Duration::ZERO);
    let edge = Edge::start_on(kind, &upstream.url, &[]);
    let url = format!("{}/api/42/envelope/", edge.url);
    let mut offset = 0;
    blast_keys(&url, &auths, 2 * auths.len(), 4, offset);
    offset += 2 * auths.len();
    let result = run(&url, &auths, total, threads, &mut offset, &[("edge", edge.pid())]);
    let failed = edge.log.lock().unwrap().lines().filter(|l| l.contains("quota counter")).count();
    assert_eq!(failed, 0, "quota counters failed:\n{}", edge.log.lock().unwrap());
    result
}

fn bench_quota(kind: Kind) {
    let (total, threads) = (setting("BENCH_REQUESTS", 2000), setting("BENCH_CONNECTIONS", 16));
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start(dir.path());
    let keys = hundred_keys(&origin);
    let auths: Vec<String> = keys.iter().map(|k| format!("Sentry sentry_key={k}, sentry_version=7")).collect();
    let b = &origin.bootstrap;
    let mut offset = 0;

    // The edge's ceiling on the same load: no quota, so no counting.
    let edge = Edge::for_origin(kind, &origin, &[]);
    let url = format!("{}/api/{}/envelope/", edge.url, b.project_id);
    blast_keys(&url, &auths, 2 * auths.len(), 4, offset); // every key's config into the cache
    offset += 2 * auths.len();
    let plain = run(&url, &auths, total, threads, &mut offset, &[("edge", edge.pid()), ("origin", origin.pid())]);
    drop(edge);

    let quota =
        json!([{ "id": "bench", "categories": ["error"], "scope": "key", "limit": 1_000_000_000u64, "window": 3600 }]);
    let path = format!("{}/api/0/projects/{}/{}/quotas/", origin.url, b.organization, b.project);
    let bearer = format!("Bearer {}", b.token);
    let put = request("PUT", &path, &[("authorization", &bearer)], quota.to_string().as_bytes()).unwrap();
    assert!((200..300).contains(&put.status), "PUT quotas: {}", put.status);
    let shards = shards(&origin, &keys);
    assert_eq!(shards.len(), keys.len(), "one counter per key: {shards:?}");
    // A fresh edge fetches the configs with the quota; every counter is created and warm.
    let edge = Edge::for_origin(kind, &origin, &[]);
    let url = format!("{}/api/{}/envelope/", edge.url, b.project_id);
    blast_keys(&url, &auths, 2 * auths.len(), 4, offset);
    offset += 2 * auths.len();
    let counted = run(&url, &auths, total, threads, &mut offset, &[("edge", edge.pid()), ("origin", origin.pid())]);
    // A counter that fails is logged and allowed: then these figures would not be checks.
    let failed = edge.log.lock().unwrap().lines().filter(|l| l.contains("quota counter")).count();
    assert_eq!(failed, 0, "quota counters failed:\n{}", edge.log.lock().unwrap());

    // Forwards the origin did not take in time are kept and retried by the edge: work that is
    // not the check's, so it is counted here (lines of the edge's log).
    let log = edge.log.lock().unwrap().clone();
    let forward_trouble = json!({
        "failed_tries": log.lines().filter(|l| l.contains("picket: forward of event")).count(),
        "kept_to_retry": log.lines().filter(|l| l.contains("to retry")).count(),
        "first_failed_try": log.lines().find(|l| l.contains("picket: forward of event")),
    });
    drop(edge);
    let stub = stub_run(kind, &quota[0], total, threads);
    let figure = |v: &Value, which: &str| v[which]["per_second"].as_f64().unwrap();
    let result = json!({
        "edge": format!("{kind:?}"),
        "requests": total,
        "connections": threads,
        "quota": quota[0],
        "shards": { "one_counter": shards.iter().next(), "hundred_counters": shards.len() },
        "quota_checks_per_second": { "one_counter": figure(&counted, "one_counter"),
                                     "hundred_counters": figure(&counted, "hundred_counters") },
        "with_quota": counted,
        "edge_log_with_quota": forward_trouble,
        "without_quota": plain,
        "with_quota_stub_upstream": stub,
        "note": "one check per event (one key-scoped quota on errors); best of the rounds, which alternate \
                 one key / 100 keys on the same edge; without_quota is the same load before the quota was set; \
                 cpu_ms_per_event: CPU the edge's process group (wrangler + workerd, or the Spin host) and the \
                 origin's used during the round, over its events (the origin's forwards may lag the round)",
    });
    println!("quota checks on {kind:?}: {total} events over {threads} connections, best of rounds (events/s)");
    println!("| counters | with quota (checks/s) | without quota | with quota, stub upstream (checks/s) |");
    println!("|---|---|---|---|");
    for which in ["one_counter", "hundred_counters"] {
        let n = if which == "one_counter" { 1 } else { keys.len() };
        let (with, without, alone) = (figure(&counted, which), figure(&plain, which), figure(&stub, which));
        println!("| {n} | {with:.0} | {without:.0} | {alone:.0} |");
    }
    let name = format!("target/bench-quota-{}.json", format!("{kind:?}").to_lowercase());
    std::fs::write(root().join(name), serde_json::to_string_pretty(&result).unwrap()).unwrap();
}
