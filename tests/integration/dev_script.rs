//! `scripts/dev`, as the README runs it (with the Workers edge, and with `PICKET_EDGE=spin`):
//! it starts both servers, writes `dev.env` with what sentry-cli reads, serves a real SDK
//! through the edge, and stops both servers on Ctrl-C.

use std::collections::HashMap;
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{free_port, request, root, wait_for, Kind};

fn listening(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// `scripts/dev` running in its own process group, as a terminal runs it, with its output in
/// a file and what it wrote to `dev.env`.
struct Dev {
    child: Child,
    log: tempfile::NamedTempFile,
    data: tempfile::TempDir,
    edge_port: u16,
    origin_port: u16,
    env: HashMap<String, String>,
}

impl Dev {
    /// Starts it on free ports and a fresh data dir and waits until it has written `dev.env`.
    fn start(kind: Kind) -> Dev {
        let data = tempfile::tempdir().unwrap();
        let (edge_port, origin_port) = (free_port(), free_port());
        let log = tempfile::NamedTempFile::new().unwrap();
        // One open file for both streams, so they share its offset rather than overwrite each other.
        let out = log.reopen().unwrap();
        let child = Command::new(root().join("scripts/dev"))
            .env("PICKET_EDGE", if kind == Kind::Spin { "spin" } else { "cloudflare" })
            .env("PICKET_EDGE_PORT", edge_port.to_string())
            .env("PICKET_ORIGIN_PORT", origin_port.to_string())
            .env("PICKET_DATA_DIR", data.path())
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .process_group(0)
            .spawn()
            .unwrap();
        let mut dev = Dev { child, log, data, edge_port, origin_port, env: HashMap::new() };
        let env_file = dev.data.path().join("dev.env");
        dev.env = wait_for("dev.env", Duration::from_secs(600), || {
            dev.assert_running();
            let text = std::fs::read_to_string(&env_file).ok()?;
            Some(text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.into(), v.into())).collect())
        });
        dev
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap()
    }

    fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("scripts/dev exited ({status}):\n{}", self.log());
        }
    }

    /// Ctrl-C: the terminal signals the script's process group; both servers must stop.
    fn interrupt(&mut self) {
        Command::new("kill").args(["-s", "INT", "--", &format!("-{}", self.child.id())]).status().unwrap();
        wait_for("scripts/dev to exit", Duration::from_secs(30), || self.child.try_wait().unwrap());
        assert!(!listening(self.edge_port), "the edge still listens");
        assert!(!listening(self.origin_port), "the origin still listens");
    }
}

impl Drop for Dev {
    /// A failed test still stops the servers: Ctrl-C, as a user would.
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = Command::new("kill").args(["-s", "INT", "--", &format!("-{}", self.child.id())]).status();
            let start = Instant::now();
            while self.child.try_wait().ok().flatten().is_none() && start.elapsed() < Duration::from_secs(30) {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

crate::on_both_edges!(scripts_dev_runs_the_system_writes_dev_env_and_stops_on_interrupt);

fn scripts_dev_runs_the_system_writes_dev_env_and_stops_on_interrupt(kind: Kind) {
    let mut dev = Dev::start(kind);
    let (env, edge_port, origin_port) = (dev.env.clone(), dev.edge_port, dev.origin_port);
    let mut keys: Vec<&str> = env.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["SENTRY_AUTH_TOKEN", "SENTRY_DSN", "SENTRY_ORG", "SENTRY_PROJECT", "SENTRY_URL"]);
    assert!(env["SENTRY_DSN"].contains(&format!("@127.0.0.1:{edge_port}/")), "{}", env["SENTRY_DSN"]);
    assert_eq!(env["SENTRY_URL"], format!("http://127.0.0.1:{origin_port}"));
    let printed = dev.log();
    assert!(printed.contains(&env["SENTRY_DSN"]), "the DSN is printed:\n{printed}");
    let which = if kind == Kind::Spin { "the Spin edge" } else { "the Cloudflare edge" };
    assert!(printed.contains(which), "it says which edge runs:\n{printed}");

    // An SDK pointed at the printed DSN reaches the origin through the edge.
    let mut options = sentry::ClientOptions::new();
    options.dsn = Some(env["SENTRY_DSN"].parse().unwrap());
    let client = std::sync::Arc::new(sentry::Client::from_config(sentry::apply_defaults(options)));
    let hub = sentry::Hub::new(Some(client.clone()), Default::default());
    let id = hub.capture_message("hello from scripts/dev", sentry::Level::Warning);
    assert!(client.flush(Some(Duration::from_secs(30))));
    let url = format!(
        "{}/api/0/projects/{}/{}/events/{}/",
        env["SENTRY_URL"],
        env["SENTRY_ORG"],
        env["SENTRY_PROJECT"],
        id.simple()
    );
    let auth = format!("Bearer {}", env["SENTRY_AUTH_TOKEN"]);
    let event = wait_for("the event at the origin", Duration::from_secs(30), || {
        request("GET", &url, &[("authorization", &auth)], b"").ok().filter(|r| r.status == 200)
    });
    assert_eq!(event.json()["title"], "hello from scripts/dev");

    dev.interrupt();
}
