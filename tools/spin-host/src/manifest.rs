//! Reads what Picket's `spin.toml` asks of a host, as Spin would: the component's source, its
//! variables (application variables with defaults, `required`, and `{{ name }}` templates),
//! `allowed_outbound_hosts` (templated too) and `key_value_stores`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

#[derive(Deserialize)]
struct Raw {
    spin_manifest_version: u32,
    #[serde(default)]
    variables: HashMap<String, AppVariable>,
    trigger: Triggers,
    component: HashMap<String, Component>,
}

#[derive(Deserialize)]
struct Triggers {
    http: Vec<HttpTrigger>,
}

#[derive(Deserialize)]
struct HttpTrigger {
    route: String,
    component: String,
}

#[derive(Deserialize)]
struct AppVariable {
    default: Option<String>,
    #[serde(default)]
    required: bool,
    /// Spin keeps secret values out of logs; this host never logs values at all.
    #[serde(default, rename = "secret")]
    _secret: bool,
}

#[derive(Deserialize)]
struct Component {
    source: String,
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    key_value_stores: Vec<String>,
    #[serde(default)]
    variables: HashMap<String, String>,
}

/// One `allowed_outbound_hosts` entry: `scheme://host:port`.
#[derive(Clone, Debug, PartialEq)]
pub struct AllowedHost {
    pub scheme: String,
    pub host: String,
    pub port: u16,
}

/// The one component Picket's manifest routes every path to, resolved.
pub struct App {
    pub source: PathBuf,
    pub variables: HashMap<String, String>,
    pub allowed_hosts: Vec<AllowedHost>,
    pub key_value_stores: Vec<String>,
}

/// Replaces every `{{ name }}` in `template` with the application variable's value.
fn render(template: &str, values: &HashMap<String, Option<String>>) -> Result<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let end = rest[start..].find("}}").context("unclosed {{ in a template")? + start;
        let name = rest[start + 2..end].trim();
        let value = values.get(name).with_context(|| format!("template names unknown variable {name:?}"))?;
        let value = value.as_ref().with_context(|| format!("variable {name:?} is required but not set"))?;
        out.push_str(&rest[..start]);
        out.push_str(value);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn parse_host(entry: &str) -> Result<AllowedHost> {
    let (scheme, rest) = entry.split_once("://").with_context(|| format!("{entry:?} lacks a scheme"))?;
    let authority = rest.trim_end_matches('/');
    if authority.contains('/') {
        bail!("allowed_outbound_hosts entry {entry:?} has a path; Spin takes scheme://host:port");
    }
    let default_port = if scheme == "https" { 443 } else { 80 };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, port.parse().with_context(|| format!("bad port in {entry:?}"))?),
        None => (authority, default_port),
    };
    Ok(AllowedHost { scheme: scheme.to_string(), host: host.to_string(), port })
}

/// Loads `path`; `given` are the application variables set from outside (`--var`,
/// `SPIN_VARIABLE_*`).
pub fn load(path: &Path, given: &HashMap<String, String>) -> Result<App> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let raw: Raw = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    if raw.spin_manifest_version != 2 {
        bail!("spin_manifest_version {} is not supported (2 is)", raw.spin_manifest_version);
    }
    for name in given.keys() {
        if !raw.variables.contains_key(name) {
            bail!("variable {name:?} is not declared in {}", path.display());
        }
    }
    let values: HashMap<String, Option<String>> = raw
        .variables
        .iter()
        .map(|(name, v)| (name.clone(), given.get(name).cloned().or_else(|| v.default.clone())))
        .collect();
    for (name, v) in &raw.variables {
        if v.required && values[name].is_none() {
            bail!("required variable {name:?} is not set (--var {name}=... or SPIN_VARIABLE_{})", name.to_uppercase());
        }
    }
    let [trigger] = raw.trigger.http.as_slice() else { bail!("expected exactly one HTTP trigger") };
    if trigger.route != "/..." {
        bail!("this host serves one component on route \"/...\", not {:?}", trigger.route);
    }
    let component =
        raw.component.get(&trigger.component).with_context(|| format!("no component {:?}", trigger.component))?;
    let variables = component
        .variables
        .iter()
        .map(|(name, template)| Ok((name.clone(), render(template, &values)?)))
        .collect::<Result<_>>()?;
    let allowed_hosts = component
        .allowed_outbound_hosts
        .iter()
        .map(|entry| parse_host(&render(entry, &values)?))
        .collect::<Result<_>>()?;
    let base = path.parent().unwrap_or(Path::new("."));
    Ok(App {
        source: base.join(&component.source),
        variables,
        allowed_hosts,
        key_value_stores: component.key_value_stores.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_and_hosts_resolve() {
        let values = HashMap::from([("origin_url".to_string(), Some("http://127.0.0.1:8000".to_string()))]);
        assert_eq!(render("{{ origin_url }}", &values).unwrap(), "http://127.0.0.1:8000");
        assert!(render("{{ nope }}", &values).is_err());
        let host = parse_host("http://127.0.0.1:8000").unwrap();
        assert_eq!(host, AllowedHost { scheme: "http".into(), host: "127.0.0.1".into(), port: 8000 });
        assert_eq!(parse_host("https://example.com").unwrap().port, 443);
        assert!(parse_host("http://example.com/ingest").is_err());
    }
}
