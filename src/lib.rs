//! Picket: a Sentry-compatible ingestion edge. [`core`] is the sans-IO relay logic shared by
//! every shell (Cloudflare Workers here, Spin and the native origin elsewhere).

pub mod core;

#[cfg(all(feature = "cloudflare", target_arch = "wasm32"))]
mod cloudflare;
