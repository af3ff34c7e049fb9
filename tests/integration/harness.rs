//! Test harness: starts the real origin binary and the real edge — in workerd (`wrangler dev`)
//! or the shipped Spin component in a wasm runtime (`tools/spin-host`) — on free loopback
//! ports, polls their health endpoints for readiness, and stops them.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const SENTRY_CLI_KEY: &str = "0123456789abcdef0123456789abcdef";

/// An edge identity for upstreams that do not check signatures (the recording upstream).
pub const TEST_RELAY_ID: &str = "00000000-0000-4000-8000-000000000001";
pub const TEST_RELAY_SECRET_KEY: &str = "LvLecKqQy3KLIlzHnmKtfHEppl8EawBxPouM_UG5kOU";

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn data(path: &str) -> PathBuf {
    root().join("tests/data").join(path)
}

/// Polls `probe` every 50 ms until it yields, or panics naming `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An HTTP answer.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// One HTTP request; `Err` only when no answer came at all.
pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<Reply, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        // A redirect is an answer to look at (the web UI's sign-in), not to follow.
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let mut builder = ureq::http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let req = builder.body(body.to_vec()).map_err(|e| e.to_string())?;
    let mut response = agent.run(req).map_err(|e| e.to_string())?;
    let headers =
        response.headers().iter().map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string())).collect();
    let status = response.status().as_u16();
    let body = response.body_mut().with_config().limit(64 << 20).read_to_vec().map_err(|e| e.to_string())?;
    Ok(Reply { status, headers, body })
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A loopback port that refuses every connection, as a host with no origin running would: a
/// TCP socket bound to it but never listening, so the kernel answers each SYN with a reset and
/// no other process can take the port while this is held.
pub struct Refusing {
    fd: libc::c_int,
    pub url: String,
}

impl Refusing {
    pub fn bind() -> Refusing {
        // SAFETY: plain socket calls on a descriptor this struct owns and closes once.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
            assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
            let mut addr: libc::sockaddr_in = std::mem::zeroed();
            addr.sin_family = libc::AF_INET as libc::sa_family_t;
            addr.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
            let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            let bound = libc::bind(fd, (&raw const addr).cast(), len);
            assert_eq!(bound, 0, "bind: {}", std::io::Error::last_os_error());
            let mut len = len;
            let named = libc::getsockname(fd, (&raw mut addr).cast(), &mut len);
            assert_eq!(named, 0, "getsockname: {}", std::io::Error::last_os_error());
            Refusing { fd, url: format!("http://127.0.0.1:{}", u16::from_be(addr.sin_port)) }
        }
    }
}

impl Drop for Refusing {
    fn drop(&mut self) {
        // SAFETY: the descriptor is ours and closed only here.
        unsafe { libc::close(self.fd) };
    }
}

/// Collects a child's output into a shared buffer, so tests can read logs.
fn capture(stream: impl Read + Send + 'static, log: Arc<Mutex<String>>, lines: Option<mpsc::Sender<String>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if let Some(tx) = &lines {
                let _ = tx.send(line.clone());
            }
            let mut log = log.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
}

/// Spawns `command` in its own process group with its output captured, and waits for the
/// line `<name> listening on <url>` it prints once bound.
fn spawn_announced(mut command: Command, name: &str, timeout: Duration) -> (Child, String, Arc<Mutex<String>>) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("start {name}: {e}"));
    let log = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = mpsc::channel();
    capture(child.stdout.take().unwrap(), log.clone(), Some(tx));
    capture(child.stderr.take().unwrap(), log.clone(), None);
    let prefix = format!("{name} listening on ");
    let url = loop {
        let line = rx
            .recv_timeout(timeout)
            .unwrap_or_else(|_| panic!("{name} did not say where it listens:\n{}", log.lock().unwrap()));
        if let Some(url) = line.strip_prefix(&prefix) {
            break url.trim().to_string();
        }
    };
    (child, url, log)
}

/// Signals a whole process group (the child and everything it started).
fn signal_group(child: &Child, signal: &str) {
    let _ = Command::new("kill").args(["-s", signal, "--", &format!("-{}", child.id())]).status();
}

/// Stops a process group: SIGTERM/SIGINT first, SIGKILL after 10 s.
fn stop_group(child: &mut Child, signal: &str) {
    if child.try_wait().ok().flatten().is_some() {
        return;
    }
    signal_group(child, signal);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if child.try_wait().ok().flatten().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    signal_group(child, "KILL");
    let _ = child.wait();
}

/// What the origin created on first start (its `bootstrap.json`).
#[derive(Clone, Debug)]
pub struct Bootstrap {
    pub organization: String,
    pub project: String,
    pub project_id: u64,
    pub public_key: String,
    pub token: String,
    /// The edge identity the origin trusts from first start.
    pub edge_relay_id: String,
    pub edge_secret_key: String,
    /// The web UI's first owner.
    pub owner_email: String,
    pub owner_password: String,
}

/// Tells this process's relay requests apart within one millisecond.
static NONCES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The real `picket-origin` binary on a free port with its own SQLite data dir.
pub struct Origin {
    child: Child,
    pub url: String,
    pub bootstrap: Bootstrap,
    /// Kept so the process's output is never a broken pipe; shown when start-up fails.
    _log: Arc<Mutex<String>>,
    data_dir: PathBuf,
    /// The `PICKET_*` settings it was started with, which management commands get too (the
    /// database, above all).
    envs: Vec<(String, String)>,
}

pub fn origin_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("PICKET_ORIGIN_BIN") {
        return path.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"));
    let bin = target.join("debug/picket-origin");
    assert!(bin.exists(), "{} is missing: run `cargo build -p picket-origin` (scripts/test does)", bin.display());
    bin
}

impl Origin {
    /// Starts the origin on `data_dir` (created on first use) and waits until it is ready.
    pub fn start(data_dir: &Path) -> Origin {
        Self::start_on(data_dir, "127.0.0.1:0")
    }

    /// Starts on a given address (to restart on the port the edge already knows).
    pub fn start_on(data_dir: &Path, bind: &str) -> Origin {
        Self::start_with(data_dir, bind, &[])
    }

    /// Starts with extra environment variables (`PICKET_*` settings).
    pub fn start_with(data_dir: &Path, bind: &str, envs: &[(&str, &str)]) -> Origin {
        let mut command = Command::new(origin_binary());
        command.args(["serve", "--bind", bind, "--data-dir"]).arg(data_dir).envs(envs.iter().copied());
        let (child, url, log) = spawn_announced(command, "picket-origin", Duration::from_secs(30));
        let file: Value =
            serde_json::from_slice(&std::fs::read(data_dir.join("bootstrap.json")).expect("bootstrap.json")).unwrap();
        let bootstrap = Bootstrap {
            organization: file["organization"].as_str().unwrap().into(),
            project: file["project"].as_str().unwrap().into(),
            project_id: file["project_id"].as_u64().unwrap(),
            public_key: file["public_key"].as_str().unwrap().into(),
            token: file["token"].as_str().unwrap().into(),
            edge_relay_id: file["edge_relay_id"].as_str().unwrap().into(),
            edge_secret_key: file["edge_secret_key"].as_str().unwrap().into(),
            owner_email: file["owner_email"].as_str().unwrap().into(),
            owner_password: file["owner_password"].as_str().unwrap().into(),
        };
        let ready = format!("{url}/api/relay/healthcheck/ready/");
        wait_for("the origin's health check", Duration::from_secs(30), || {
            request("GET", &ready, &[], b"").ok().filter(|r| r.status == 200)
        });
        let envs = envs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Origin { child, url, bootstrap, _log: log, data_dir: data_dir.to_path_buf(), envs }
    }

    /// Starts another origin on `first`'s database (named in `envs`), with its own data dir
    /// holding a copy of `first`'s bootstrap.json, as an operator adding a machine would.
    pub fn start_sharing(first: &Origin, data_dir: &Path, envs: &[(&str, &str)]) -> Origin {
        std::fs::create_dir_all(data_dir).unwrap();
        std::fs::copy(first.data_dir.join("bootstrap.json"), data_dir.join("bootstrap.json")).unwrap();
        Self::start_with(data_dir, "127.0.0.1:0", envs)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn addr(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// Stops it with SIGTERM (a graceful drain).
    pub fn stop(&mut self) {
        stop_group(&mut self.child, "TERM");
    }

    /// SIGTERM, then its exit status if it exits by itself within `limit` (else it is killed).
    pub fn terminate_within(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        signal_group(&self.child, "TERM");
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill();
        None
    }

    /// Its process group (the same number as its pid).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills it with SIGKILL, mid-whatever.
    pub fn kill(&mut self) {
        signal_group(&self.child, "KILL");
        let _ = self.child.wait();
    }

    /// A GET on the web API with the bootstrap token.
    pub fn api(&self, path: &str) -> Reply {
        let auth = format!("Bearer {}", self.bootstrap.token);
        request("GET", &format!("{}{path}", self.url), &[("authorization", &auth)], b"").expect("origin answers")
    }

    /// A call on the web API with the bootstrap token and a JSON body.
    pub fn call(&self, method: &str, path: &str, body: &Value) -> Reply {
        let auth = format!("Bearer {}", self.bootstrap.token);
        let body = if body.is_null() { Vec::new() } else { body.to_string().into_bytes() };
        request(method, &format!("{}{path}", self.url), &[("authorization", &auth)], &body).expect("origin answers")
    }

    /// Runs a management command (`picket-origin --data-dir ... ARGS`) and returns its JSON.
    pub fn manage(&self, args: &[&str]) -> Value {
        let mut command = Command::new(origin_binary());
        command.envs(self.envs.iter().map(|(k, v)| (k, v)));
        let out = command.arg("--data-dir").arg(&self.data_dir).args(args).output().unwrap();
        assert!(out.status.success(), "picket-origin {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// POSTs to the relay API as the edge identity the origin trusts from first start, signed
    /// now with a fresh nonce.
    pub fn relay_post(&self, path: &str, body: &[u8]) -> Reply {
        let key: picket::core::sign::SecretKey = self.bootstrap.edge_secret_key.parse().unwrap();
        let identity = picket::core::sign::Identity { relay_id: self.bootstrap.edge_relay_id.clone(), key };
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
        let nonce =
            now ^ u64::from(std::process::id()) << 40 ^ NONCES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let [(id_name, id), (sig_name, sig)] = identity.headers(body, now, nonce);
        let headers = [(id_name.as_str(), id.as_str()), (sig_name.as_str(), sig.as_str())];
        request("POST", &format!("{}{path}", self.url), &headers, body).expect("origin answers")
    }

    /// `/api/0/projects/{org}/{project}/{what}/` of the bootstrap project.
    pub fn project_api(&self, what: &str) -> Reply {
        let b = &self.bootstrap;
        self.api(&format!("/api/0/projects/{}/{}/{what}", b.organization, b.project))
    }

    /// The DSN of the bootstrap key at `host_url`.
    pub fn dsn_at(&self, host_url: &str) -> String {
        let host = host_url.trim_start_matches("http://");
        format!("http://{}@{host}/{}", self.bootstrap.public_key, self.bootstrap.project_id)
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        stop_group(&mut self.child, "KILL");
    }
}

/// Where an edge runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// workerd through `wrangler dev --local`, as `scripts/dev` runs it.
    Workerd,
    /// The component `spin.toml` names, served by `tools/spin-host` (wasmtime), as
    /// `PICKET_EDGE=spin scripts/dev` runs it.
    Spin,
}

/// Runs a test body `fn name(kind: Kind)` once per edge platform, as the tests `name::workerd`
/// and `name::spin`.
#[macro_export]
macro_rules! on_both_edges {
    ($name:ident) => {
        mod $name {
            #[test]
            fn workerd() {
                super::$name($crate::harness::Kind::Workerd)
            }

            #[test]
            fn spin() {
                super::$name($crate::harness::Kind::Spin)
            }
        }
    };
}

/// A running edge.
pub struct Edge {
    child: Child,
    pub url: String,
    pub log: Arc<Mutex<String>>,
    _state: Option<tempfile::TempDir>,
}

pub fn spin_host_binary() -> PathBuf {
    let bin = root().join("tools/spin-host/target/release/picket-spin-host");
    assert!(bin.exists(), "{} is missing: run scripts/build-spin (scripts/test does)", bin.display());
    bin
}

/// The Spin manifest to serve for `origin_url`: `spin.toml` itself for one origin. Spin takes
/// one host per `allowed_outbound_hosts` entry, so for several the manifest is written as an
/// operator would (README, "Several origins"): that entry replaced by one per origin, the
/// component still the one `spin.toml` names.
fn spin_manifest_for(origin_url: &str) -> (PathBuf, Option<tempfile::TempDir>) {
    let origins: Vec<&str> = origin_url.split(',').map(str::trim).collect();
    if origins.len() == 1 {
        return (PathBuf::from("spin.toml"), None);
    }
    let shipped = std::fs::read_to_string(root().join("spin.toml")).unwrap();
    let (entry, source) = ("allowed_outbound_hosts = [\"{{ origin_url }}\"]", "source = \"target/");
    assert!(shipped.contains(entry) && shipped.contains(source), "spin.toml changed shape: update the harness");
    let hosts: Vec<String> = origins.iter().map(|o| format!("{:?}", o.trim_end_matches('/'))).collect();
    let written = shipped
        .replace(entry, &format!("allowed_outbound_hosts = [{}]", hosts.join(", ")))
        .replace(source, &format!("source = \"{}/target/", root().display()));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spin.toml");
    std::fs::write(&path, written).unwrap();
    (path, Some(dir))
}

impl Edge {
    /// Starts on `kind` in front of `origin`, as the edge identity it trusts from first start,
    /// with extra settings by their wrangler names (Spin variables take the lower-case form).
    pub fn for_origin(kind: Kind, origin: &Origin, vars: &[(&str, &str)]) -> Edge {
        let b = &origin.bootstrap;
        let mut all = vec![("RELAY_ID", b.edge_relay_id.as_str()), ("RELAY_SECRET_KEY", b.edge_secret_key.as_str())];
        all.extend_from_slice(vars);
        Self::start_on(kind, &origin.url, &all)
    }

    /// Starts on `kind` in front of `origin_url`; without `RELAY_ID` among `vars` it signs as a
    /// test identity (for upstreams that do not check).
    pub fn start_on(kind: Kind, origin_url: &str, vars: &[(&str, &str)]) -> Edge {
        let mut all = vars.to_vec();
        if !vars.iter().any(|(k, _)| *k == "RELAY_ID") {
            all.extend([("RELAY_ID", TEST_RELAY_ID), ("RELAY_SECRET_KEY", TEST_RELAY_SECRET_KEY)]);
        }
        match kind {
            Kind::Workerd => Self::workerd(origin_url, &all),
            Kind::Spin => Self::spin(origin_url, &all),
        }
    }

    fn spin(origin_url: &str, vars: &[(&str, &str)]) -> Edge {
        let root = root();
        let component = root.join("target/wasm32-wasip2/edge/picket.wasm");
        assert!(component.exists(), "{} is missing: run scripts/build-spin", component.display());
        let (manifest, state) = spin_manifest_for(origin_url);
        let mut command = Command::new(spin_host_binary());
        command
            .current_dir(&root)
            .arg("--manifest")
            .arg(&manifest)
            .args(["--listen", "127.0.0.1:0", "--var"])
            .arg(format!("origin_url={origin_url}"))
            .args(vars.iter().flat_map(|(k, v)| ["--var".to_string(), format!("{}={v}", k.to_lowercase())]))
            .stdin(Stdio::null());
        let (child, url, log) = spawn_announced(command, "picket-spin-host", Duration::from_secs(60));
        let mut edge = Edge { child, url, log, _state: state };
        edge.wait_live();
        edge
    }

    fn workerd(origin_url: &str, vars: &[(&str, &str)]) -> Edge {
        let root = root();
        assert!(root.join("build/index.js").exists(), "build/ is missing: run scripts/build-edge (scripts/test does)");
        let wrangler = root.join("node_modules/.bin/wrangler");
        assert!(wrangler.exists(), "wrangler is missing: run scripts/setup (scripts/test does)");
        let state = tempfile::tempdir().unwrap();
        let port = free_port();
        let path =
            format!("{}:{}", root.join("node_modules/.bin").display(), std::env::var("PATH").unwrap_or_default());
        let mut child = Command::new(wrangler)
            .current_dir(&root)
            .args(["dev", "--local", "--ip", "127.0.0.1", "--port", &port.to_string(), "--inspector-port", "0"])
            .args(["--var", &format!("ORIGIN_URL:{origin_url}"), "--show-interactive-dev-session=false"])
            .args(vars.iter().flat_map(|(k, v)| ["--var".to_string(), format!("{k}:{v}")]))
            .arg("--persist-to")
            .arg(state.path())
            .env("PATH", path)
            .env("WRANGLER_SEND_METRICS", "false")
            .env("WRANGLER_SEND_ERROR_REPORTS", "false")
            .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("start wrangler dev");
        let log = Arc::new(Mutex::new(String::new()));
        capture(child.stdout.take().unwrap(), log.clone(), None);
        capture(child.stderr.take().unwrap(), log.clone(), None);
        let mut edge = Edge { child, url: format!("http://127.0.0.1:{port}"), log, _state: Some(state) };
        edge.wait_live();
        edge
    }

    /// Polls the live health check until it answers 200 (or the process exits).
    fn wait_live(&mut self) {
        let live = format!("{}/api/relay/healthcheck/live/", self.url);
        let start = Instant::now();
        loop {
            if request("GET", &live, &[], b"").is_ok_and(|r| r.status == 200) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the edge exited ({status}):\n{}", self.log.lock().unwrap());
            }
            let log = self.log.lock().unwrap();
            assert!(start.elapsed() < Duration::from_secs(90), "the edge never became ready:\n{log}");
            drop(log);
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Its process group (wrangler and workerd, or the Spin host).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until the edge's log contains `needle`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> String {
        wait_for(&format!("edge log line containing {needle:?}"), timeout, || {
            let log = self.log.lock().unwrap();
            log.lines().find(|l| l.contains(needle)).map(str::to_string)
        })
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        stop_group(&mut self.child, "INT");
    }
}
