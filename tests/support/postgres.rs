//! A real PostgreSQL for the tests, started by the tests themselves: one private cluster per
//! test process (a temp dir, a free loopback port, an unprivileged user, fsync on), or the
//! server named by `PICKET_TEST_POSTGRES`. Included by each test binary that needs it with
//! `#[path = "..."] mod postgres;`; only std and `libc`.
//!
//! The cluster lives exactly as long as the test process, however it ends: `postgres` is
//! spawned from a thread that never ends, with `PR_SET_PDEATHSIG` (SIGQUIT, an immediate
//! shutdown), and a small `sh` reaper holding the read end of a pipe from this process removes
//! the temp dir once that pipe closes, i.e. once the process is gone (even after SIGKILL).

use std::ffi::CString;
use std::fs::{self, File};
use std::io::{self, Write};
use std::net::TcpListener;
use std::os::unix::fs::{chown, DirBuilderExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// An admin URL (`postgres://user@host:port/postgres`) of a running server to use instead of
/// starting one.
pub const ENV: &str = "PICKET_TEST_POSTGRES";

/// Where Debian's packages put each major version's binaries (`/usr/lib/postgresql/15/bin`).
const DEBIAN_DIR: &str = "/usr/lib/postgresql";
const INSTALL: &str = "install PostgreSQL with scripts/setup (on Debian: apt-get install -y \
     --no-install-recommends postgresql-15), or set PICKET_TEST_POSTGRES=postgres://USER@HOST:PORT/postgres \
     to use a running server";
/// The private cluster's superuser (initdb `-U`), whatever OS user runs it.
const SUPERUSER: &str = "postgres";
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Binaries the private cluster needs from its bin dir.
const SERVER_BINARIES: [&str; 5] = ["initdb", "postgres", "pg_isready", "createdb", "psql"];
/// Runs until this process's end of its stdin closes, then waits (at most 10 s) for the
/// postmaster to stop, SIGKILLs it if it did not, and removes the temp dir ($1).
const REAPER: &str = r#"
cat >/dev/null
pid=$(head -n 1 "$1/data/postmaster.pid" 2>/dev/null)
alive() { state=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) && [ "${state%% *}" != Z ]; }
if [ -n "$pid" ]; then
  i=0
  while alive && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  if alive; then kill -KILL "$pid" 2>/dev/null; sleep 1; fi
fi
rm -rf "$1"
"#;

/// A PostgreSQL server for this test process.
pub struct Server {
    admin_url: String,
    bin_dir: PathBuf,
    /// The private cluster's temp dir (`data/`, `sock/`, `postgres.log`); `None` for a server
    /// given by `PICKET_TEST_POSTGRES`.
    dir: Option<PathBuf>,
    /// The write end of the reaper's stdin, open until this process ends.
    _reaper: Option<ChildStdin>,
}

/// The server, started on first use (concurrent first callers wait for one start). Panics with
/// what to install or fix when there is none.
pub fn server() -> &'static Server {
    static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
    match SERVER.get_or_init(start) {
        Ok(server) => server,
        Err(e) => panic!("no PostgreSQL for the tests: {e}"),
    }
}

impl Server {
    /// The superuser's URL of the maintenance database (`postgres`).
    pub fn admin_url(&self) -> String {
        self.admin_url.clone()
    }

    /// The directory with `psql`, `createdb`, `pg_dump` and the rest, matching the server.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// The private cluster's data directory; `None` for a `PICKET_TEST_POSTGRES` server.
    pub fn data_dir(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|dir| dir.join("data"))
    }

    /// Creates a new empty database and returns its URL (`postgres://USER@127.0.0.1:PORT/NAME`,
    /// as sqlx takes it). The name is `prefix` (lowercased, `[a-z0-9_]`) + a counter + the pid.
    pub fn fresh_database(&self, prefix: &str) -> String {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let mut prefix: String = prefix
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
            .take(40)
            .collect();
        if !prefix.starts_with(|c: char| c.is_ascii_lowercase()) {
            prefix.insert_str(0, "db_");
        }
        for _ in 0..100 {
            let name = format!("{prefix}_{}_{}", COUNTER.fetch_add(1, Ordering::Relaxed), std::process::id());
            let out = self.client("createdb").arg(format!("--maintenance-db={}", self.admin_url)).arg(&name).output();
            let out = out.unwrap_or_else(|e| panic!("run {}/createdb: {e}", self.bin_dir.display()));
            if out.status.success() {
                return with_database(&self.admin_url, &name);
            }
            let stderr = String::from_utf8_lossy(&out.stderr);
            // A database left on a PICKET_TEST_POSTGRES server by an earlier process with this pid.
            if !stderr.contains("already exists") {
                panic!("createdb {name} on {}: {}{stderr}", self.admin_url, out.status);
            }
        }
        panic!("createdb: 100 names with prefix {prefix:?} already exist on {}", self.admin_url)
    }

    /// Runs one SQL command with `psql` on `url` and returns its unaligned, tuples-only output
    /// (`"1"` for `select 1`); panics with psql's error if it fails.
    pub fn psql(&self, url: &str, sql: &str) -> String {
        let out =
            self.client("psql").args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql]).output();
        let out = out.unwrap_or_else(|e| panic!("run {}/psql: {e}", self.bin_dir.display()));
        assert!(out.status.success(), "psql {url} -c {sql:?}: {}{}", out.status, String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    }

    /// A client program from the bin dir, with a connect timeout and no stdin.
    fn client(&self, name: &str) -> Command {
        let mut command = Command::new(self.bin_dir.join(name));
        command.env("PGCONNECT_TIMEOUT", "10").stdin(Stdio::null());
        command
    }
}

fn start() -> Result<Server, String> {
    match std::env::var(ENV) {
        Ok(url) if !url.is_empty() => external(url),
        _ => private(),
    }
}

/// Progress on the real stderr, even while the test harness captures `eprintln!`.
fn progress(message: &str) {
    let _ = writeln!(io::stderr(), "postgres: {message}");
}

/// The server `PICKET_TEST_POSTGRES` names, checked with `select 1`.
fn external(admin_url: String) -> Result<Server, String> {
    let bin_dir = debian_bin_dir("psql")
        .or_else(|| path_dir("psql"))
        .ok_or_else(|| format!("{ENV} is set but no psql was found under {DEBIAN_DIR}/*/bin or on PATH; {INSTALL}"))?;
    let server = Server { admin_url, bin_dir, dir: None, _reaper: None };
    let out = server.client("psql").args(["-X", "-q", "-d", &server.admin_url, "-c", "select 1"]).output();
    match out {
        Ok(out) if out.status.success() => {
            progress(&format!("using {ENV}={}", server.admin_url));
            Ok(server)
        }
        Ok(out) => Err(format!("{ENV}={} does not answer: {}", server.admin_url, String::from_utf8_lossy(&out.stderr))),
        Err(e) => Err(format!("run {}/psql: {e}", server.bin_dir.display())),
    }
}

/// A private cluster in a new temp dir, started from a thread that lives as long as the process.
fn private() -> Result<Server, String> {
    let bin_dir = debian_bin_dir("postgres").ok_or_else(|| {
        format!("no PostgreSQL server binaries: {DEBIAN_DIR}/*/bin/postgres does not exist; {INSTALL}")
    })?;
    for name in SERVER_BINARIES {
        let path = bin_dir.join(name);
        if !path.is_file() {
            return Err(format!("{} is missing; {INSTALL}", path.display()));
        }
    }
    let user = run_as()?;
    let dir = make_temp_dir(user.as_ref())?;
    let reaper = spawn_reaper(&dir)?;
    let (tx, rx) = mpsc::channel();
    let (bin, thread_dir) = (bin_dir.clone(), dir.clone());
    std::thread::Builder::new()
        .name("picket-test-postgres".into())
        .spawn(move || supervise(&bin, &thread_dir, user.as_ref(), tx))
        .map_err(|e| format!("spawn the postgres thread: {e}"))?;
    let port = rx.recv().map_err(|_| "the postgres thread ended without starting it".to_string())??;
    let admin_url = format!("postgres://{SUPERUSER}@127.0.0.1:{port}/postgres");
    Ok(Server { admin_url, bin_dir, dir: Some(dir), _reaper: Some(reaper) })
}

/// The postgres thread: initdb, start the server, report its port, then stay alive (the
/// server's parent-death signal fires when this thread ends).
fn supervise(bin: &Path, dir: &Path, user: Option<&User>, tx: mpsc::Sender<Result<u16, String>>) {
    let started = init_and_start(bin, dir, user);
    let ok = started.as_ref().map(|(_, port)| *port).map_err(Clone::clone);
    let _ = tx.send(ok);
    if let Ok((mut child, port)) = started {
        let status = child.wait();
        progress(&format!(
            "the server on port {port} exited while its tests run ({status:?}); its log: {}",
            dir.join("postgres.log").display()
        ));
    }
    loop {
        std::thread::park();
    }
}

fn init_and_start(bin: &Path, dir: &Path, user: Option<&User>) -> Result<(Child, u16), String> {
    let start = Instant::now();
    let data = dir.join("data");
    let who = user.map_or_else(|| "the current user".to_string(), |u| format!("user {}", u.name));
    progress(&format!("initdb {} as {who} ({})", data.display(), bin.display()));
    let log = dir.join("initdb.log");
    let mut initdb = Command::new(bin.join("initdb"));
    initdb
        .arg("-D")
        .arg(&data)
        .args(["--auth=trust", "--username", SUPERUSER, "--encoding=UTF8", "--locale=C"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(open_log(&log)?)
        .stderr(open_log(&log)?);
    drop_privileges(&mut initdb, user, None);
    let status = initdb.status().map_err(|e| format!("run {}/initdb: {e}", bin.display()))?;
    if !status.success() {
        return Err(format!("initdb {}: {status}\n{}", data.display(), tail(&log)));
    }
    let log = dir.join("postgres.log");
    for attempt in 1..=5 {
        // Another process may take the free port before postgres binds it: then try another.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("find a free port: {e}"))?
            .port();
        progress(&format!("starting postgres on 127.0.0.1:{port}"));
        let mut postgres = Command::new(bin.join("postgres"));
        postgres
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-k"])
            .arg(dir.join("sock"))
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=on"])
            .args(["-c", "max_connections=300", "-c", "shared_buffers=64MB"])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(open_log(&log)?)
            .stderr(open_log(&log)?)
            .process_group(0);
        drop_privileges(&mut postgres, user, Some(libc::SIGQUIT));
        let mut child = postgres.spawn().map_err(|e| format!("run {}/postgres: {e}", bin.display()))?;
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().map_err(|e| format!("wait for postgres: {e}"))? {
                let log_tail = tail(&log);
                if log_tail.contains("Address already in use") && attempt < 5 {
                    break;
                }
                return Err(format!("postgres on port {port} exited at start: {status}\n{log_tail}"));
            }
            if is_ready(bin, port) {
                progress(&format!("ready on 127.0.0.1:{port} after {:.1} s", start.elapsed().as_secs_f64()));
                return Ok((child, port));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return Err(format!("postgres on port {port} not ready after {READY_TIMEOUT:?}\n{}", tail(&log)));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Err(format!("postgres found no free port\n{}", tail(&log)))
}

/// `pg_isready`: the server accepts connections.
fn is_ready(bin: &Path, port: u16) -> bool {
    Command::new(bin.join("pg_isready"))
        .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string(), "-U", SUPERUSER, "-d", "postgres", "-t", "2"])
        .stdin(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// The unprivileged OS user the cluster runs as.
struct User {
    name: String,
    uid: libc::uid_t,
    gid: libc::gid_t,
}

/// `None` (this user) unless running as root, which PostgreSQL refuses: then the `postgres`
/// system user (Debian's package creates it), or `nobody`.
fn run_as() -> Result<Option<User>, String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    ["postgres", "nobody"]
        .into_iter()
        .find_map(lookup_user)
        .map(Some)
        .ok_or_else(|| "running as root, and neither a postgres nor a nobody user exists to run PostgreSQL as".into())
}

fn lookup_user(name: &str) -> Option<User> {
    let c_name = CString::new(name).ok()?;
    // SAFETY: getpwnam_r writes only into `pwd` and `buf` (of the length given) and `result`.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut buf = vec![0 as libc::c_char; 16 * 1024];
        let mut result = std::ptr::null_mut();
        let rc = libc::getpwnam_r(c_name.as_ptr(), &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result);
        (rc == 0 && !result.is_null()).then(|| User { name: name.to_string(), uid: pwd.pw_uid, gid: pwd.pw_gid })
    }
}

/// Makes the child run as `user` (if any) and, with `death_signal`, receive that signal when
/// the spawning thread ends.
fn drop_privileges(command: &mut Command, user: Option<&User>, death_signal: Option<libc::c_int>) {
    let ids = user.map(|u| (u.uid, u.gid));
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    let check = |rc: libc::c_int| if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) };
    // SAFETY: the closure calls only async-signal-safe functions and allocates nothing.
    unsafe {
        command.pre_exec(move || {
            if let Some((uid, gid)) = ids {
                check(libc::setgroups(0, std::ptr::null()))?;
                check(libc::setgid(gid))?;
                check(libc::setuid(uid))?;
            }
            if let Some(signal) = death_signal {
                // After setuid: a change of credentials clears the parent-death signal.
                check(libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong, 0, 0, 0))?;
                // The parent may have died before prctl; then no signal would ever come.
                if libc::getppid() != parent {
                    return Err(io::Error::from_raw_os_error(libc::ESRCH));
                }
            }
            Ok(())
        });
    }
}

/// `$TMPDIR/picket-postgres-PID-N` (mode 0700) with `sock/`, owned by `user`.
fn make_temp_dir(user: Option<&User>) -> Result<PathBuf, String> {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let base = std::env::temp_dir();
    let mut builder = fs::DirBuilder::new();
    builder.mode(0o700);
    for n in 0..100 {
        let dir = base.join(format!("picket-postgres-{}-{}", std::process::id(), nanos + n));
        match builder.create(&dir) {
            Ok(()) => {
                let sock = dir.join("sock");
                builder.create(&sock).map_err(|e| format!("create {}: {e}", sock.display()))?;
                if let Some(user) = user {
                    for path in [&dir, &sock] {
                        chown(path, Some(user.uid), Some(user.gid))
                            .map_err(|e| format!("chown {} to {}: {e}", path.display(), user.name))?;
                    }
                }
                return Ok(dir);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("create a temp dir in {}: {e}", base.display())),
        }
    }
    Err(format!("create a temp dir in {}: 100 names taken", base.display()))
}

/// The reaper (see [`REAPER`]), in its own process group so a terminal's Ctrl-C reaches only
/// the test process; its output goes nowhere, so it holds no pipe a caller waits on.
fn spawn_reaper(dir: &Path) -> Result<ChildStdin, String> {
    let mut child = Command::new("/bin/sh")
        .args(["-c", REAPER, "picket-postgres-reaper"])
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("spawn /bin/sh for the temp dir's reaper: {e}"))?;
    Ok(child.stdin.take().expect("piped stdin"))
}

fn open_log(path: &Path) -> Result<File, String> {
    File::options().create(true).append(true).open(path).map_err(|e| format!("open {}: {e}", path.display()))
}

/// The last 40 lines of a log, for error messages.
fn tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    format!("--- {} ---\n{}", path.display(), lines[lines.len().saturating_sub(40)..].join("\n"))
}

/// The bin dir of the highest PostgreSQL version under `/usr/lib/postgresql` that has `binary`.
fn debian_bin_dir(binary: &str) -> Option<PathBuf> {
    let version = |name: &str| name.split('.').map(|part| part.parse::<u32>().ok()).collect::<Option<Vec<u32>>>();
    fs::read_dir(DEBIAN_DIR)
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = version(entry.file_name().to_str()?)?;
            let bin = entry.path().join("bin");
            bin.join(binary).is_file().then_some((version, bin))
        })
        .max()
        .map(|(_, bin)| bin)
}

/// The directory on PATH that has `binary`.
fn path_dir(binary: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).find(|dir| dir.join(binary).is_file())
}

/// `url` with its database (the path) replaced by `name`, keeping any `?query`.
fn with_database(url: &str, name: &str) -> String {
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    let authority_end = url[authority_start..].find(['/', '?']).map_or(url.len(), |i| authority_start + i);
    let query = url[authority_end..].find('?').map_or("", |i| &url[authority_end + i..]);
    format!("{}/{name}{query}", &url[..authority_end])
}
