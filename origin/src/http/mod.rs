//! HTTP handlers: ingest through the core, the relay config API, and the Sentry web API.

pub mod api;
pub mod auth;
pub mod extract;
pub mod fallback;
pub mod filters;
pub mod ingest;
pub mod items;
pub mod links;
pub mod metrics;
pub mod quotas;
pub mod relay;
mod serialize;
pub mod signed;
pub mod stats;
