//! The Spin component as it ships: what it asks of a runtime, and that `spin.toml` declares
//! every setting the edge reads (an undeclared Spin variable would read as unset, silently).

use std::collections::BTreeSet;
use std::process::Command;

use crate::harness::{root, spin_host_binary};

/// Spin's own interfaces, wasi:http 0.3 (spin-sdk 7), and the WASI 0.2 parts Rust's std uses.
const EXPECTED_IMPORTS: &[&str] = &[
    "spin:key-value/key-value@3.0.0",
    "spin:variables/variables@3.0.0",
    "wasi:keyvalue/store@0.2.0-draft2",
    "wasi:keyvalue/atomics@0.2.0-draft2",
    "wasi:http/types@0.3.0",
    "wasi:http/client@0.3.0",
    "wasi:random/random@0.3.0",
    "wasi:clocks/monotonic-clock@0.3.0",
    "wasi:clocks/types@0.3.0",
    "wasi:random/insecure-seed@0.2.6",
    "wasi:clocks/monotonic-clock@0.2.6",
    "wasi:clocks/wall-clock@0.2.6",
    "wasi:io/poll@0.2.6",
    "wasi:io/error@0.2.6",
    "wasi:io/streams@0.2.6",
    "wasi:cli/environment@0.2.6",
    "wasi:cli/exit@0.2.6",
    "wasi:cli/stdin@0.2.6",
    "wasi:cli/stdout@0.2.6",
    "wasi:cli/stderr@0.2.6",
    "wasi:cli/terminal-input@0.2.6",
    "wasi:cli/terminal-output@0.2.6",
    "wasi:cli/terminal-stdin@0.2.6",
    "wasi:cli/terminal-stdout@0.2.6",
    "wasi:cli/terminal-stderr@0.2.6",
];

#[test]
fn the_shipped_component_imports_only_what_spin_provides() {
    let out = Command::new(spin_host_binary())
        .current_dir(root())
        .args(["--manifest", "spin.toml", "--var", "origin_url=http://127.0.0.1:9", "--list-imports"])
        .args(["--var", "relay_id=x", "--var", "relay_secret_key=y"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let imports: BTreeSet<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
    let expected: BTreeSet<String> = EXPECTED_IMPORTS.iter().map(|s| s.to_string()).collect();
    assert_eq!(imports, expected);
}

#[test]
fn spin_toml_declares_every_setting_the_edge_reads() {
    let manifest = std::fs::read_to_string(root().join("spin.toml")).unwrap();
    for name in picket::edge::settings() {
        let var = name.to_lowercase();
        assert!(manifest.contains(&format!("\n{var} = {{")), "[variables] lacks {var}");
        assert!(
            manifest.contains(&format!("\n{var} = \"{{{{ {var} }}}}\"")),
            "[component.picket.variables] lacks {var}"
        );
    }
    // The host refuses what the manifest does not declare, as Spin does.
    let out = Command::new(spin_host_binary())
        .current_dir(root())
        .args(["--manifest", "spin.toml", "--var", "origin_url=http://127.0.0.1:9", "--var", "nope=1"])
        .args(["--var", "relay_id=x", "--var", "relay_secret_key=y"])
        .args(["--list-imports"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"nope\" is not declared"));
}
