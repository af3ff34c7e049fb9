//! Picket origin: accepts envelopes (judged by the same core as the edge), stores each event
//! once, groups events into issues and serves a Sentry-shaped web API.

pub mod app;
pub mod bootstrap;
pub mod commit;
pub mod error;
pub mod http;
pub mod ids;
pub mod manage;
pub mod metrics;
pub mod model;
pub mod people;
pub mod process;
pub mod replay;
pub mod state;
pub mod store;
pub mod web;
pub mod worker;

pub use app::app;
pub use state::AppState;
