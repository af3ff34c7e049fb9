//! The tests' own PostgreSQL (`tests/support/postgres.rs`): one cluster per test process,
//! shared by concurrent tests, run as an unprivileged user with fsync on, giving each test a
//! fresh database, and gone — server and temp dir — once the test process is, even SIGKILLed.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::harness::wait_for;
use crate::postgres;

/// Set for the child test process of `postgres_cluster_stops_when_its_test_process_is_killed`.
const CHILD: &str = "PICKET_TEST_POSTGRES_CHILD";

#[test]
fn postgres_cluster_starts_and_gives_fresh_databases() {
    let server = postgres::server();
    let a = server.fresh_database("cluster");
    let b = server.fresh_database("cluster");
    assert_ne!(a, b);
    for url in [&a, &b] {
        if server.data_dir().is_some() {
            assert!(url.starts_with("postgres://postgres@127.0.0.1:"), "{url}");
        }
        assert_eq!(server.psql(url, "select 1"), "1");
        let name = database_name(url);
        assert_eq!(server.psql(url, "select current_database()"), name);
        let tables = "select count(*) from pg_tables where schemaname not in ('pg_catalog', 'information_schema')";
        assert_eq!(server.psql(url, tables), "0", "{name} is not empty");
    }
    // What one database holds, the other does not.
    server.psql(&a, "create table t (x int); insert into t values (7)");
    assert_eq!(server.psql(&a, "select x from t"), "7");
    assert_eq!(server.psql(&b, "select to_regclass('t') is null"), "t");

    // The bin dir serves the pg_dump tests.
    let dump = Command::new(server.bin_dir().join("pg_dump")).args(["--schema-only", "-d", &a]).output().unwrap();
    assert!(dump.status.success(), "pg_dump: {}", String::from_utf8_lossy(&dump.stderr));
    assert!(String::from_utf8_lossy(&dump.stdout).contains("CREATE TABLE public.t"));

    let Some(data) = server.data_dir() else { return };
    // The private cluster: an unprivileged OS user, fsync on, room for parallel tests.
    let pid = postmaster_pid(&data);
    let uid = status_field(pid, "Uid:").expect("the postmaster runs");
    let real_uid: u32 = uid.split_whitespace().next().unwrap().parse().unwrap();
    assert_ne!(real_uid, 0, "the postmaster runs as root");
    assert_eq!(std::fs::metadata(data.join("postmaster.pid")).unwrap().uid(), real_uid);
    let admin = server.admin_url();
    assert_eq!(server.psql(&admin, "show fsync"), "on");
    assert_eq!(server.psql(&admin, "show max_connections"), "300");
    assert_eq!(server.psql(&admin, "show listen_addresses"), "127.0.0.1");
}

#[test]
fn postgres_cluster_is_shared_by_concurrent_tests() {
    let threads: Vec<_> = (0..12)
        .map(|_| {
            std::thread::spawn(|| {
                let server = postgres::server();
                let url = server.fresh_database("concurrent");
                assert_eq!(server.psql(&url, "select current_database()"), database_name(&url));
                (server.admin_url(), url)
            })
        })
        .collect();
    let answers: Vec<(String, String)> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let admin = postgres::server().admin_url();
    assert!(answers.iter().all(|(a, _)| *a == admin), "one server for the process: {answers:?}");
    let mut urls: Vec<&String> = answers.iter().map(|(_, url)| url).collect();
    urls.sort();
    urls.dedup();
    assert_eq!(urls.len(), 12, "{urls:?}");
}

#[test]
fn postgres_cluster_stops_when_its_test_process_is_killed() {
    if std::env::var_os(postgres::ENV).is_some() {
        eprintln!("skipped: {} names a server; no private cluster to stop", postgres::ENV);
        return;
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "postgres_cluster::postgres_cluster_child_process", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // After libtest's `test name ... ` on the same line.
            if let Some((_, rest)) = line.split_once("child cluster: ") {
                let _ = tx.send(rest.to_string());
            }
        }
    });
    let line = rx.recv_timeout(Duration::from_secs(120)).unwrap_or_else(|_| {
        let _ = child.kill();
        panic!("the child test process did not start its cluster")
    });
    let (pid, dir) = line.split_once(' ').unwrap();
    let (pid, dir): (u32, PathBuf) = (pid.parse().unwrap(), PathBuf::from(dir));
    let workers: Vec<u32> = children_of(pid);
    assert!(alive(pid) && dir.is_dir() && !workers.is_empty(), "pid {pid}, workers {workers:?}, {}", dir.display());

    child.kill().unwrap(); // SIGKILL: no destructor, no atexit, only the kernel's parent-death signal
    child.wait().unwrap();
    wait_for("the postmaster to stop", Duration::from_secs(30), || (!alive(pid)).then_some(()));
    for worker in workers {
        wait_for("its processes to stop", Duration::from_secs(30), || (!alive(worker)).then_some(()));
    }
    wait_for("its temp dir to be removed", Duration::from_secs(30), || (!dir.exists()).then_some(()));
}

/// The child process of the test above: starts its cluster, says where, and waits to be killed.
#[test]
fn postgres_cluster_child_process() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let data = postgres::server().data_dir().expect("a private cluster");
    let pid = postmaster_pid(&data);
    let mut out = std::io::stdout();
    writeln!(out, "child cluster: {pid} {}", data.parent().unwrap().display()).unwrap();
    out.flush().unwrap();
    loop {
        std::thread::park();
    }
}

fn postmaster_pid(data: &Path) -> u32 {
    let text = std::fs::read_to_string(data.join("postmaster.pid")).unwrap();
    text.lines().next().unwrap().trim().parse().unwrap()
}

/// A field of `/proc/PID/status` (`Uid:`, `PPid:`, `State:`), if the process exists.
fn status_field(pid: u32, field: &str) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| line.strip_prefix(field)).map(|v| v.trim().to_string())
}

/// Running: it exists and is not a zombie waiting for a parent to reap it.
fn alive(pid: u32) -> bool {
    status_field(pid, "State:").is_some_and(|state| !state.starts_with('Z'))
}

fn children_of(parent: u32) -> Vec<u32> {
    let parent = parent.to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| status_field(*pid, "PPid:").as_deref() == Some(parent.as_str()))
        .collect()
}

/// The database a URL names (`postgres://user@host:port/NAME?query`).
fn database_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap().split('?').next().unwrap()
}
