//! Picket's one integration test binary: the core on real SDK captures, and the whole system
//! (origin on SQLite + edge in workerd + real Sentry clients) end to end.

mod bench;
mod bench_latency;
mod bench_quota;
mod browser;
mod clients;
mod configs;
mod conformance;
mod conformance_run;
mod core_decisions;
mod dev_script;
mod e2e;
mod everything;
mod faults;
mod filters;
mod forwarding;
mod harness;
mod hostile;
mod multi_origin;
mod oracle;
#[path = "../support/postgres.rs"]
mod postgres;
mod postgres_cluster;
mod quotas;
mod regression;
mod scale_out;
mod signing;
mod spin_component;
mod tenancy;
mod tunnel;
mod ui;
mod upstream;
mod vectors;
mod workflow;
