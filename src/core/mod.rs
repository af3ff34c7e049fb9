//! The sans-IO relay core: bytes, time and state in; decisions out. No clock, no randomness,
//! no network, no platform crate: every shell (Workers, Spin, the origin) drives the same code.

pub mod auth;
pub mod category;
pub mod config;
pub mod cors;
pub mod decode;
pub mod envelope;
pub mod filter;
pub mod http;
pub mod id;
pub mod ingest;
pub mod json;
pub mod limit;
pub mod limits;
pub mod multipart;
pub mod origins;
pub mod outcome;
pub mod quota;
pub mod route;
pub mod security;
pub mod sign;
pub mod spill;
pub mod store;
pub mod tunnel;

pub use http::{Headers, Request, Response};
pub use id::EventId;
pub use ingest::{judge, judge_project, prepare, Finished, Forward, Judged, Prepared, Refused, Step};
pub use outcome::Reject;
