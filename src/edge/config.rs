//! The edge's settings, read and parsed once per isolate (Workers) or component instance
//! (Spin) into one immutable [`EdgeConfig`] shared by every request, as quinn-proto shares an
//! `Arc<EndpointConfig>`: the origin list, the size limits, the signing key with its public key
//! derived, the cache policy, the tunnel and the trusted proxies. A shell keeps it in a
//! [`ConfigCell`] keyed by the raw values it was built from, so a changed value is never served
//! from the old config; a setting that does not parse is never cached.

use std::cell::RefCell;
use std::sync::Arc;

use super::Upstream;
use crate::core::config::CachePolicy;
use crate::core::limits::{self, Limits};
use crate::core::origins;
use crate::core::sign::Identity;
use crate::core::tunnel::Tunnel;

/// Every setting the edge reads, by its upper-case name (wrangler vars and secrets; Spin
/// variables take the lower-case form), in the order [`EdgeConfig::from_values`] takes them.
pub fn settings() -> impl Iterator<Item = &'static str> {
    [origins::SETTING, "UPSTREAM_TIMEOUT_SECS", "TRUSTED_PROXIES"]
        .into_iter()
        .chain(Identity::SETTINGS)
        .chain(Limits::SETTINGS)
        .chain(CachePolicy::SETTINGS)
        .chain(Tunnel::SETTINGS)
}

/// How long the origin may take to answer before it counts as unavailable (the envelope is
/// then kept and retried): `UPSTREAM_TIMEOUT_SECS`.
pub const DEFAULT_UPSTREAM_TIMEOUT_SECS: u64 = 10;

/// Everything the edge's settings say, parsed: built once, then only read.
#[derive(Debug)]
pub struct EdgeConfig {
    pub limits: Limits,
    pub(super) upstream: Upstream,
    pub policy: CachePolicy,
    pub tunnel: Tunnel,
    /// How many proxies in front of the edge append to `X-Forwarded-For` and are believed:
    /// `TRUSTED_PROXIES`, 0 unless a deployment says otherwise (the platform's own address of
    /// the client is then all the edge believes).
    pub trusted_proxies: usize,
}

#[cfg(test)]
thread_local! {
    /// How many configs this thread built (tests prove it happens once per settings).
    pub(crate) static BUILT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

impl EdgeConfig {
    /// Reads and parses every setting through `get`; the error names the first bad one.
    pub fn from_settings(get: impl Fn(&str) -> Option<String>) -> Result<EdgeConfig, String> {
        #[cfg(test)]
        BUILT.with(|n| n.set(n.get() + 1));
        let limits = Limits::from_settings(&get)?;
        let upstream = Upstream::from_settings(&get)?;
        let policy = CachePolicy::from_settings(&get)?;
        let tunnel = Tunnel::from_settings(&get)?;
        let hops = limits::setting(&get, "TRUSTED_PROXIES", "a whole number of proxies, 0 to 16", |n: usize| n <= 16)?;
        Ok(EdgeConfig { limits, upstream, policy, tunnel, trusted_proxies: hops.unwrap_or(0) })
    }

    /// [`EdgeConfig::from_settings`] over raw values in [`settings`] order (`None`: unset).
    pub fn from_values(values: &[Option<String>]) -> Result<EdgeConfig, String> {
        let names: Vec<&str> = settings().collect();
        EdgeConfig::from_settings(|name| {
            names.iter().position(|n| *n == name).and_then(|i| values.get(i).cloned().flatten())
        })
    }
}

impl Upstream {
    fn from_settings(get: &impl Fn(&str) -> Option<String>) -> Result<Upstream, String> {
        let origins = origins::Origins::from_settings(get)?;
        let identity = Identity::from_settings(get)?;
        let secs = limits::setting(get, "UPSTREAM_TIMEOUT_SECS", "whole seconds above 0", |s: u64| s > 0)?;
        let timeout_ms = secs.unwrap_or(DEFAULT_UPSTREAM_TIMEOUT_SECS) * 1000;
        Ok(Upstream { origins, identity, timeout_ms })
    }
}

/// A shell's one config: built from the raw setting values the first time, then shared while
/// they read the same. Rebuilt when any value differs, so it can never serve settings other
/// than the ones it is given; a failure is not kept, so every request with a bad setting is
/// answered with the same 500 naming it.
#[derive(Default)]
pub struct ConfigCell(RefCell<Option<Built>>);

/// A config and the raw values it was built from.
type Built = (Vec<Option<String>>, Arc<EdgeConfig>);

impl ConfigCell {
    /// The config for `values` (in [`settings`] order).
    pub fn get(&self, values: Vec<Option<String>>) -> Result<Arc<EdgeConfig>, String> {
        if let Some((raw, config)) = &*self.0.borrow() {
            if *raw == values {
                return Ok(config.clone());
            }
        }
        let config = Arc::new(EdgeConfig::from_values(&values)?);
        *self.0.borrow_mut() = Some((values, config.clone()));
        Ok(config)
    }

    /// The config last built, whatever it was built from (for a shell that knows its settings
    /// cannot have changed since: the same Workers `env` object).
    pub fn last(&self) -> Option<Arc<EdgeConfig>> {
        self.0.borrow().as_ref().map(|(_, config)| config.clone())
    }
}
