//! Picket: a Sentry-compatible ingestion edge. [`core`] is the sans-IO relay logic shared by
//! every shell (Cloudflare Workers and Spin through [`edge`], and the native origin).

pub mod core;
pub mod edge;

#[cfg(all(feature = "cloudflare", target_arch = "wasm32"))]
mod cloudflare;

#[cfg(all(feature = "spin", target_os = "wasi"))]
mod spin;
