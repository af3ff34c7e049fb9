//! `scripts/dev`, as the README runs it (with the Workers edge, and with `PICKET_EDGE=spin`):
//! it starts both servers, writes `dev.env` with what sentry-cli reads, serves a real SDK
//! through the edge, restarts the origin when it is killed while the edge keeps and later
//! delivers what the origin could not take, and stops both servers on Ctrl-C.

use std::collections::{HashMap, HashSet};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
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
        let mut command = Command::new(root().join("scripts/dev"));
        command
            .env("PICKET_EDGE", if kind == Kind::Spin { "spin" } else { "cloudflare" })
            .env("PICKET_EDGE_PORT", edge_port.to_string())
            .env("PICKET_ORIGIN_PORT", origin_port.to_string())
            .env("PICKET_DATA_DIR", data.path())
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .process_group(0);
        // A terminal's job starts with Ctrl-C at its default; a test run launched in the
        // background (SIGINT ignored, which a non-interactive bash cannot trap or reset) must not
        // hand that on, or the Ctrl-C below would be ignored.
        // SAFETY: signal(2) is async-signal-safe, so it may run between fork and exec.
        unsafe {
            command.pre_exec(|| {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                libc::signal(libc::SIGQUIT, libc::SIG_DFL);
                Ok(())
            });
        }
        let child = command.spawn().unwrap();
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

/// Signs in at the origin's `/auth/login/` as a browser does (the form's CSRF cookie, then the
/// form); the status of the answer (303 when it worked).
fn sign_in(origin_port: u16, email: &str, password: &str) -> u16 {
    let login = format!("http://127.0.0.1:{origin_port}/auth/login/");
    let form = request("GET", &login, &[], b"").unwrap();
    let cookie = form.header("set-cookie").and_then(|c| c.split(';').next()).unwrap().to_string();
    let csrf = cookie.strip_prefix("picket_login_csrf=").expect("the login form's CSRF cookie");
    let body: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("csrf", csrf)
        .append_pair("email", email)
        .append_pair("password", password)
        .finish();
    let headers = [("cookie", cookie.as_str()), ("content-type", "application/x-www-form-urlencoded")];
    request("POST", &login, &headers, body.as_bytes()).unwrap().status
}

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
    // It prints the web UI and the first owner's sign-in, and they sign in.
    let boot: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dev.data.path().join("bootstrap.json")).unwrap()).unwrap();
    let (email, password) = (boot["owner_email"].as_str().unwrap(), boot["owner_password"].as_str().unwrap());
    let ui = format!("web UI: http://127.0.0.1:{origin_port}/");
    assert!(printed.contains(&ui), "the web UI's URL is printed:\n{printed}");
    assert!(printed.contains(&format!("{email} / {password}")), "the owner's sign-in is printed:\n{printed}");
    assert_eq!(sign_in(origin_port, email, password), 303, "the printed sign-in works");
    assert_eq!(sign_in(origin_port, email, "not-the-password"), 401);

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

const EVENTS: usize = 600;
const KILLS: usize = 3;
/// Events sent in each round with the origin up, then again right after it is killed.
const PER_PHASE: usize = EVENTS / KILLS / 2;
const SENDERS: usize = 4;
/// Messages (so issues) the events spread over: words, since grouping masks numbers.
const MESSAGES: [&str; 12] =
    ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett", "kilo", "lima"];

crate::on_both_edges!(scripts_dev_restarts_a_killed_origin_and_nothing_is_lost);

/// The outage story through `scripts/dev` itself: the origin (its pid from
/// `$PICKET_DATA_DIR/origin.pid`) is SIGKILLed three times while 600 events stream through
/// the edge, 100 of them with the origin up and 100 right after each kill. The edge answers
/// every one 200, `scripts/dev` says it restarted the origin three times, and the origin ends
/// with each event id exactly once.
fn scripts_dev_restarts_a_killed_origin_and_nothing_is_lost(kind: Kind) {
    let mut dev = Dev::start(kind);
    let env = dev.env.clone();
    // SENTRY_DSN is http://KEY@127.0.0.1:PORT/PROJECT_ID.
    let dsn = env["SENTRY_DSN"].trim_start_matches("http://");
    let (key, rest) = dsn.split_once('@').unwrap();
    let (host, project_id) = rest.split_once('/').unwrap();
    let edge = format!("http://{host}");
    let url = Arc::new(format!("{edge}/api/{project_id}/envelope/"));
    let auth = Arc::new(format!("Sentry sentry_key={key}, sentry_version=7"));
    let event_id = |i: usize| format!("{:032x}", 0xde_0000 + i);
    let body = move |i: usize| {
        let word = MESSAGES[i % MESSAGES.len()];
        format!(
            "{{\"event_id\":\"{}\"}}\n{{\"type\":\"event\"}}\n{{\"message\":\"dev restart {word}\"}}\n",
            event_id(i)
        )
    };

    // Senders take the next event once the test allows it, so events arrive in each phase.
    let allowed = Arc::new(AtomicUsize::new(0));
    let answered = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(Mutex::new(Vec::<String>::new()));
    let senders: Vec<_> = (0..SENDERS)
        .map(|_| {
            let (url, auth, allowed, answered, next, refused) =
                (url.clone(), auth.clone(), allowed.clone(), answered.clone(), next.clone(), refused.clone());
            std::thread::spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= EVENTS {
                    return;
                }
                let start = Instant::now();
                while i >= allowed.load(Ordering::Relaxed) {
                    if start.elapsed() > Duration::from_secs(600) {
                        refused.lock().unwrap().push(format!("event {i}: never allowed"));
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                match request("POST", &url, &[("x-sentry-auth", &auth)], body(i).as_bytes()) {
                    Ok(reply) if reply.status == 200 => {}
                    Ok(reply) => refused.lock().unwrap().push(format!(
                        "event {i}: {} {}",
                        reply.status,
                        String::from_utf8_lossy(&reply.body)
                    )),
                    Err(e) => refused.lock().unwrap().push(format!("event {i}: no answer: {e}")),
                }
                answered.fetch_add(1, Ordering::Relaxed);
            })
        })
        .collect();

    let pid_file = dev.data.path().join("origin.pid");
    let ready = format!("{}/api/relay/healthcheck/ready/", env["SENTRY_URL"]);
    let mut killed: Vec<u32> = Vec::new();
    let mut sent = 0;
    for round in 1..=KILLS {
        // The origin is up: the first one, or the one scripts/dev restarted and says is back.
        let pid = wait_for(&format!("an origin up before kill {round}"), Duration::from_secs(120), || {
            dev.assert_running();
            let pid: u32 = std::fs::read_to_string(&pid_file).ok()?.trim().parse().ok()?;
            let back = dev.log().matches("the origin is back").count() == round - 1;
            let up = request("GET", &ready, &[], b"").is_ok_and(|r| r.status == 200);
            (back && up && !killed.contains(&pid)).then_some(pid)
        });
        for phase in ["up", "down"] {
            if phase == "down" {
                let status = Command::new("kill").args(["-s", "KILL", &pid.to_string()]).status().unwrap();
                assert!(status.success(), "kill -KILL {pid}");
                killed.push(pid);
            }
            sent += PER_PHASE;
            allowed.store(sent, Ordering::Relaxed);
            wait_for(&format!("{sent} answered events"), Duration::from_secs(120), || {
                (answered.load(Ordering::Relaxed) >= sent).then_some(())
            });
        }
    }
    assert_eq!(sent, EVENTS);
    for s in senders {
        s.join().unwrap();
    }
    let refused = refused.lock().unwrap();
    assert!(refused.is_empty(), "{} of {EVENTS} not answered 200:\n{}", refused.len(), refused.join("\n"));
    assert_eq!(answered.load(Ordering::Relaxed), EVENTS, "the edge answered every event");

    // Everything the edge kept arrives. A Spin edge retries kept envelopes only after later
    // requests (it has no queue to wake it), so the wait asks it for its health meanwhile.
    let api = format!("{}/api/0/projects/{}/{}", env["SENTRY_URL"], env["SENTRY_ORG"], env["SENTRY_PROJECT"]);
    let bearer = format!("Bearer {}", env["SENTRY_AUTH_TOKEN"]);
    let get = |path: &str| request("GET", &format!("{api}/{path}"), &[("authorization", &bearer)], b"");
    let drain = Instant::now();
    let total = wait_for("all events at the origin", Duration::from_secs(180), || {
        dev.assert_running();
        if kind == Kind::Spin {
            let _ = request("GET", &format!("{edge}/api/relay/healthcheck/live/"), &[], b"");
        }
        let reply = get("issues/?query=").ok().filter(|r| r.status == 200)?;
        let issues = reply.json();
        let total: u64 = issues.as_array()?.iter().map(|i| i["count"].as_str().unwrap().parse::<u64>().unwrap()).sum();
        (total >= EVENTS as u64).then_some(total)
    });
    let drained = drain.elapsed();
    assert_eq!(total, EVENTS as u64, "issue counts add up to the events sent");

    // Each event id exactly once: every page of the events list.
    let mut ids = Vec::new();
    for page in 0..=EVENTS / 100 + 1 {
        let reply = get(&format!("events/?cursor=0:{}:0", page * 100)).unwrap();
        assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
        let events = reply.json();
        let events = events.as_array().unwrap();
        if events.is_empty() {
            break;
        }
        ids.extend(events.iter().map(|e| e["eventID"].as_str().unwrap().to_string()));
    }
    let distinct: HashSet<&str> = ids.iter().map(String::as_str).collect();
    assert_eq!(ids.len(), EVENTS, "events listed");
    let expected: Vec<String> = (0..EVENTS).map(event_id).collect();
    let missing: Vec<&String> = expected.iter().filter(|id| !distinct.contains(id.as_str())).collect();
    assert!(missing.is_empty(), "{} events missing, e.g. {:?}", missing.len(), &missing[..missing.len().min(5)]);
    assert_eq!(distinct.len(), EVENTS, "no event twice");

    // scripts/dev said what it did; the outages really hit forwards.
    let log = dev.log();
    assert_eq!(log.matches("the origin exited (status 137, SIGKILL); restarting it in").count(), KILLS, "{log}");
    assert_eq!(log.matches("the origin is back").count(), KILLS, "{log}");
    let kept = log.matches("picket: kept fwd/").count();
    assert!(kept > 0, "no forward failed, so nothing was tested:\n{log}");
    eprintln!(
        "dev restart ({kind:?}): {EVENTS} events answered 200 through {KILLS} SIGKILLs; {kept} kept and \
         retried; the origin had all {EVENTS} (each once) {:.1} s after the last was answered",
        drained.as_secs_f64()
    );
    dev.interrupt();
}
