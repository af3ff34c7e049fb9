"""Bugsink as a benchmark peer: start / count / stop / smoke / load. Run by tools/bugsink/peer with the
interpreter of .tools/bugsink-venv (see README.md next to this file).

Only the JSON line of `start` and the integer of `count` go to stdout; everything else goes to stderr.
"""
import gzip
import http.client
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BIN = os.path.dirname(os.path.abspath(sys.executable))  # .tools/bugsink-venv/bin
VECTOR = os.path.join(ROOT, "tests", "data", "vectors", "envelope-5kb.envelope.gz")

# The project every benchmark event goes to. Bugsink's project ids are plain integers and its sentry_key is a UUID,
# so we can give the project exactly the id and key of the DSN in tests/data/vectors (…/42 with key 0123…cdef):
# the vector envelopes, whose header carries that DSN, are then accepted byte for byte, as by Picket.
PROJECT_ID = 42
PUBLIC_KEY = "0123456789abcdef0123456789abcdef"
USER_EMAIL = "bench@example.org"
USER_PASSWORD = "bench-peer-password"

# Web server: one gunicorn process per core, as Bugsink's own Docker image has it (bugsink/gunicorn.docker.conf.py:
# workers = min(cpu_count, 4)), but with 4 threads each (gunicorn's gthread worker) instead of the sync worker: the
# sync worker closes the connection after every response and serves one request per process at a time; gthread
# keeps connections alive and measured about twice the accepted/s here (README.md). PEER_BUGSINK_THREADS=1 gives
# the Docker image's plain sync setup.
GUNICORN_WORKERS = int(os.environ.get("PEER_BUGSINK_WORKERS", str(min(os.cpu_count() or 1, 4))))
GUNICORN_THREADS = int(os.environ.get("PEER_BUGSINK_THREADS", "4"))

START_TIMEOUT = float(os.environ.get("PEER_BUGSINK_START_TIMEOUT", "120"))
STOP_TIMEOUT = 15.0  # snappea's own GRACEFUL_TIMEOUT is 10 s

# A big number for every "max events per period" quota: over quota Bugsink answers 429 on ingest and silently
# drops already-accepted events on digest, which would make it look faster than it is.
NO_LIMIT = 10 ** 12
QUOTA_KEYS = [
    "MAX_EVENTS_PER_PROJECT_PER_5_MINUTES", "MAX_EVENTS_PER_PROJECT_PER_HOUR", "MAX_EVENTS_PER_PROJECT_PER_MONTH",
    "MAX_EVENTS_PER_5_MINUTES", "MAX_EVENTS_PER_HOUR", "MAX_EVENTS_PER_MONTH",
]
# Per-project retention (default 10 000 events, then eviction): raised so that `count` is the number digested.
RETENTION = 2_000_000_000


def log(*args):
    print("peer:", *args, file=sys.stderr, flush=True)


def die(msg, *tails):
    log("error:", msg)
    for path in tails:
        tail(path)
    sys.exit(1)


def tail(path, n=40):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()[-n:]
    except OSError as e:
        log(f"(no {path}: {e.strerror})")
        return
    log(f"--- last {len(lines)} lines of {path} ---")
    for line in lines:
        print("    " + line, file=sys.stderr)


def env_for(d):
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "bugsink_conf"
    env["PYTHONPATH"] = d
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("PORT", None)
    return env


def run_logged(d, argv, logname, what):
    path = os.path.join(d, logname)
    with open(path, "ab") as out:
        out.write(("\n$ " + " ".join(argv) + "\n").encode())
        out.flush()
        r = subprocess.run(argv, cwd=d, env=env_for(d), stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                           timeout=600)
    if r.returncode != 0:
        die(f"{what} failed (exit {r.returncode})", path)


# ---------------------------------------------------------------------------------------------------- configuration

CONF_OVERRIDES = '''

# ---- added by tools/bugsink/peer (benchmark peer; no reverse proxy, plain http on 127.0.0.1) ----
BUGSINK["BASE_URL"] = "http://127.0.0.1:{port}"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
FORCE_SCRIPT_NAME = None
USE_X_REAL_IP = False           # no proxy in front: use the socket's address
SESSION_COOKIE_SECURE = False   # so the UI can be logged into over http for inspection
CSRF_COOKIE_SECURE = False
BUGSINK["PHONEHOME"] = False    # no calls home from a benchmark
# Quotas that would 429 or silently drop benchmark events (defaults: 1 000 per 5 minutes, 5 000 per hour, ...):
for _k in {quota_keys!r}:
    BUGSINK[_k] = {no_limit}
SNAPPEA["PID_FILE"] = "{d}/snappea/snappea.pid"
'''


def write_conf(d, port):
    conf = os.path.join(d, "bugsink_conf.py")
    if os.path.exists(conf):
        os.unlink(conf)  # regenerated each start (the port may differ); the databases are kept
    run_logged(d, [os.path.join(BIN, "bugsink-create-conf"), "--template=singleserver", "--host=127.0.0.1",
                   f"--port={port}", f"--base-dir={d}", f"--output-file={conf}"], "setup.log", "bugsink-create-conf")
    with open(conf, "a") as f:
        f.write(CONF_OVERRIDES.format(port=port, quota_keys=QUOTA_KEYS, no_limit=NO_LIMIT, d=d))
    for sub in ("snappea", "ingestion"):  # Bugsink warns about anything looser than 0700
        os.makedirs(os.path.join(d, sub), exist_ok=True)
        os.chmod(os.path.join(d, sub), 0o700)


PROVISION = f'''
import uuid
import django
django.setup()
from django.contrib.auth import get_user_model
from teams.models import Team, TeamMembership, TeamRole
from projects.models import Project, ProjectMembership, ProjectRole
User = get_user_model()
user = User.objects.filter(username={USER_EMAIL!r}).first()
if user is None:
    user = User.objects.create_superuser(username={USER_EMAIL!r}, email={USER_EMAIL!r}, password={USER_PASSWORD!r})
team, _ = Team.objects.get_or_create(name="bench")
TeamMembership.objects.get_or_create(team=team, user=user, defaults=dict(role=TeamRole.ADMIN, accepted=True))
project = Project.objects.filter(pk={PROJECT_ID}).first()
if project is None:
    project = Project.objects.create(pk={PROJECT_ID}, name="bench", slug="bench", team=team,
                                     sentry_key=uuid.UUID({PUBLIC_KEY!r}))
project.retention_max_event_count = {RETENTION}
project.save()
ProjectMembership.objects.get_or_create(project=project, user=user, defaults=dict(role=ProjectRole.ADMIN, accepted=True))
print("project", project.pk, project.sentry_key.hex, "retention", project.retention_max_event_count)
'''


# ---------------------------------------------------------------------------------------------------- processes

def pids_path(d):
    return os.path.join(d, "peer.pids")


def read_pids(d):
    try:
        with open(pids_path(d)) as f:
            return [int(x) for x in f.read().split()]
    except FileNotFoundError:
        return []


def alive(pid):
    """pid runs (a zombie, exited but not yet reaped, counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def group_members(pgid):
    """Live (non-zombie) processes of process group pgid."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            out.append(int(name))
    return out


def listening_inodes(port):
    """Socket inodes listening on TCP 127.0.0.1:port or *:port (IPv4 and IPv6)."""
    out = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A = LISTEN
                out.add(fields[9])
    return out


def holds_socket(pid, inodes):
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:[") and link[8:-1] in inodes:
            return True
    return False


def http_get(port, path, timeout=2.0):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def cmd_start(d, port):
    d = os.path.abspath(d)
    port = int(port)
    os.makedirs(d, exist_ok=True)
    if any(alive(p) for p in read_pids(d)):
        die(f"servers from {d} are still running (pids {read_pids(d)}); run: tools/bugsink/peer stop {d}")

    if listening_inodes(port):
        die(f"something already listens on port {port}")

    t0 = time.monotonic()
    log(f"configuring Bugsink in {d} (bugsink_conf.py, SQLite db.sqlite3 + snappea.sqlite3)")
    write_conf(d, port)
    manage = os.path.join(BIN, "bugsink-manage")
    log("migrating the main database")
    run_logged(d, [manage, "migrate", "--no-input"], "setup.log", "bugsink-manage migrate")
    log("migrating the snappea (task queue) database")
    run_logged(d, [manage, "migrate", "snappea", "--database=snappea", "--no-input"], "setup.log",
               "bugsink-manage migrate snappea")
    log(f"creating user {USER_EMAIL}, team and project {PROJECT_ID}")
    run_logged(d, [sys.executable, "-c", PROVISION], "setup.log", "provisioning user/team/project")

    kind = f"{GUNICORN_WORKERS} gthread workers x {GUNICORN_THREADS} threads" if GUNICORN_THREADS > 1 \
        else f"{GUNICORN_WORKERS} sync workers"
    log(f"starting gunicorn on 127.0.0.1:{port} ({kind}) and the snappea worker")
    env = env_for(d)
    gunicorn_log = os.path.join(d, "gunicorn.log")
    snappea_log = os.path.join(d, "snappea.log")
    gargv = [os.path.join(BIN, "gunicorn"), f"--bind=127.0.0.1:{port}", f"--workers={GUNICORN_WORKERS}",
             "--no-control-socket", "--timeout=60", f"--pid={os.path.join(d, 'gunicorn.pid')}",
             f"--access-logfile={os.path.join(d, 'access.log')}", "--error-logfile=-"]
    if GUNICORN_THREADS > 1:
        gargv.append(f"--threads={GUNICORN_THREADS}")  # switches gunicorn to its gthread worker
    gargv.append("bugsink.wsgi")
    procs = []
    with open(gunicorn_log, "wb") as gl:  # fresh logs each start
        procs.append(subprocess.Popen(gargv, cwd=d, env=env, stdin=subprocess.DEVNULL, stdout=gl, stderr=gl,
                                      start_new_session=True))
    with open(snappea_log, "wb") as sl:
        procs.append(subprocess.Popen([os.path.join(BIN, "bugsink-runsnappea")], cwd=d, env=env,
                                      stdin=subprocess.DEVNULL, stdout=sl, stderr=sl, start_new_session=True))
    pids = [p.pid for p in procs]
    with open(pids_path(d), "w") as f:
        f.write(" ".join(map(str, pids)) + "\n")

    # Ready = gunicorn answers /health/ready with 200 and snappea has logged that it entered its main loop.
    deadline = time.monotonic() + START_TIMEOUT
    web_ok = snappea_ok = False
    while time.monotonic() < deadline:
        for p, name, logf in ((procs[0], "gunicorn", gunicorn_log), (procs[1], "snappea", snappea_log)):
            if p.poll() is not None:
                abort(d, pids, f"{name} exited with {p.returncode} while starting", logf)
        if not web_ok and holds_socket(procs[0].pid, listening_inodes(port)):  # our gunicorn, not someone else
            try:
                status, _ = http_get(port, "/health/ready", timeout=1.0)
                web_ok = status == 200
            except OSError:
                pass
        if not snappea_ok:
            with open(snappea_log, "rb") as f:
                snappea_ok = b"proceeding to main loop" in f.read()
        if web_ok and snappea_ok:
            break
        time.sleep(0.1)
    else:
        abort(d, pids, f"Bugsink not ready after {START_TIMEOUT:.0f}s (web {web_ok}, snappea {snappea_ok}); "
              "servers stopped", gunicorn_log, snappea_log)

    log(f"Bugsink ready at http://127.0.0.1:{port} in {time.monotonic() - t0:.1f}s "
        f"(UI login {USER_EMAIL} / {USER_PASSWORD}; logs in {d})")
    print(json.dumps({"url": f"http://127.0.0.1:{port}", "project_id": PROJECT_ID, "public_key": PUBLIC_KEY,
                      "pids": pids}), flush=True)


def abort(d, pids, msg, *logs):
    stop_pids(pids)
    try:
        os.unlink(pids_path(d))
    except FileNotFoundError:
        pass
    die(msg, *logs)


def stop_pids(pids):
    # every server was started as the leader of its own session / process group: signal the whole group
    groups = [p for p in pids if group_members(p)]
    for g in groups:
        try:
            os.killpg(g, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline and any(group_members(g) for g in groups):
        time.sleep(0.1)
    left = [g for g in groups if group_members(g)]
    for g in left:
        log(f"process group {g} still there after {STOP_TIMEOUT:.0f}s: SIGKILL")
        try:
            os.killpg(g, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(group_members(g) for g in left):
        time.sleep(0.05)


def cmd_stop(d):
    d = os.path.abspath(d)
    pids = read_pids(d)
    if not pids:
        log(f"nothing to stop in {d}")
        return
    log(f"stopping process groups {pids}")
    stop_pids(pids)
    os.unlink(pids_path(d))
    log("stopped")


# ---------------------------------------------------------------------------------------------------- count

def count(d):
    db = os.path.join(os.path.abspath(d), "db.sqlite3")
    if not os.path.exists(db):
        die(f"no {db}")
    # An Event row is written in the same (IMMEDIATE) transaction as its issue, tags and counters, so each row is
    # a fully digested event, as the UI and API show them.
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute("SELECT COUNT(*) FROM events_event").fetchone()[0]
    finally:
        con.close()


def cmd_count(d):
    print(count(d), flush=True)


# ---------------------------------------------------------------------------------------------------- sending

def vector_envelope():
    with gzip.open(VECTOR, "rb") as f:
        return f.read()


def fresh(envelope, event_id=None):
    """The vector envelope with a new event_id (envelope header and payload; same length, so item lengths hold)."""
    old = json.loads(envelope.split(b"\n", 1)[0])["event_id"].encode()
    new = (event_id or uuid.uuid4().hex).encode()
    return envelope.replace(old, new)


def post(conn, project_id, key, body, gzipped):
    headers = {"Content-Type": "application/x-sentry-envelope",
               "X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7, sentry_client=picket-bench/1"}
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    conn.request("POST", f"/api/{project_id}/envelope/", body=body, headers=headers)
    r = conn.getresponse()
    data = r.read()
    return r, data


def wait_count(d, want, timeout):
    t0 = time.monotonic()
    deadline = t0 + timeout
    n = count(d)
    while n < want and time.monotonic() < deadline:
        time.sleep(0.05)
        n = count(d)
    return n, time.monotonic() - t0


def cmd_smoke(d, port):
    d = os.path.abspath(d)
    if os.path.exists(os.path.join(d, "db.sqlite3")):
        die(f"{d} already holds a Bugsink database; smoke wants a fresh DIR")
    info = start_child(d, port)
    ok = False
    try:
        env = vector_envelope()
        before = count(d)
        conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
        for label, gz in (("gzip", True), ("plain", False)):
            body = fresh(env)
            if gz:
                body = gzip.compress(body)
            r, data = post(conn, info["project_id"], info["public_key"], body, gz)
            log(f"{label}: {len(body)} bytes -> HTTP {r.status} {data[:120]!r} "
                f"X-Sentry-Rate-Limits: {r.getheader('X-Sentry-Rate-Limits')}")
            if r.status != 200:
                die(f"{label} envelope refused", os.path.join(d, "gunicorn.log"))
            if r.will_close:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
        conn.close()
        n, took = wait_count(d, before + 2, 60)
        log(f"count {n} after {took:.2f}s")
        if n != before + 2:
            die(f"expected count {before + 2}, got {n}", os.path.join(d, "snappea.log"))
        ok = True
    finally:
        subprocess.run([sys.executable, os.path.abspath(__file__), "stop", d], timeout=60)
    log("smoke OK: gzip and plain envelopes accepted and digested" if ok else "smoke FAILED")


def start_child(d, port):
    r = subprocess.run([sys.executable, os.path.abspath(__file__), "start", d, str(port)],
                       stdout=subprocess.PIPE, timeout=START_TIMEOUT + 700)
    if r.returncode != 0:
        die("start failed")
    lines = r.stdout.decode().splitlines()
    if len(lines) != 1:
        die(f"start printed {len(lines)} lines on stdout, want 1: {lines!r}")
    info = json.loads(lines[0])
    log(f"start said: {lines[0]}")
    return info


def cmd_load(d, port, n=500, conc=8, gz="1"):
    """Send n fresh events over conc keep-alive connections (reopened when the server closes them)."""
    d = os.path.abspath(d)
    n, conc, gz = int(n), int(conc), gz not in ("0", "plain")
    if os.path.exists(os.path.join(d, "db.sqlite3")):
        die(f"{d} already holds a Bugsink database; load wants a fresh DIR")
    info = start_child(d, port)
    try:
        env = vector_envelope()
        bodies = [fresh(env) for _ in range(n)]
        if gz:
            bodies = [gzip.compress(b) for b in bodies]
        lock = threading.Lock()
        nxt = [0]
        statuses = {}
        lat = []
        reconnects = [0]

        def worker():
            conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=60)
            while True:
                with lock:
                    i = nxt[0]
                    nxt[0] += 1
                if i >= n:
                    break
                t = time.monotonic()
                try:
                    r, _ = post(conn, info["project_id"], info["public_key"], bodies[i], gz)
                    st, close = r.status, r.will_close
                except (OSError, http.client.HTTPException) as e:
                    st, close = type(e).__name__, True
                dt = time.monotonic() - t
                with lock:
                    statuses[st] = statuses.get(st, 0) + 1
                    lat.append(dt)
                    if close:
                        reconnects[0] += 1
                if close:
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=60)
            conn.close()

        log(f"sending {n} events ({'gzip' if gz else 'plain'}, {len(bodies[0])} bytes each) over {conc} connections")
        t0 = time.monotonic()
        threads = [threading.Thread(target=worker) for _ in range(conc)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
        sent_s = time.monotonic() - t0
        lat.sort()
        acc = statuses.get(200, 0)
        log(f"responses {statuses}; {acc / sent_s:.1f} accepted/s ({sent_s:.2f}s); latency p50 "
            f"{lat[len(lat) // 2] * 1000:.1f} ms p99 {lat[int(len(lat) * 0.99)] * 1000:.1f} ms; "
            f"connections closed by server {reconnects[0]}")
        at_end_of_send = count(d)
        got, _ = wait_count(d, acc, 600)
        all_s = time.monotonic() - t0
        log(f"digested {at_end_of_send} when the last response came; {got}/{acc} after {all_s:.2f}s from the first "
            f"request ({got / all_s:.1f} digested/s overall)")
        print(json.dumps({"events": n, "connections": conc, "gzip": gz, "statuses": {str(k): v for k, v in
                          statuses.items()}, "send_s": round(sent_s, 3), "accepted_per_s": round(acc / sent_s, 1),
                          "digested_at_send_end": at_end_of_send, "digested": got, "all_digested_s": round(all_s, 3),
                          "workers": GUNICORN_WORKERS, "threads": GUNICORN_THREADS}), flush=True)
    finally:
        subprocess.run([sys.executable, os.path.abspath(__file__), "stop", d], timeout=60)


def main():
    cmds = {"start": (cmd_start, 2, 2), "count": (cmd_count, 1, 1), "stop": (cmd_stop, 1, 1),
            "smoke": (cmd_smoke, 2, 2), "load": (cmd_load, 2, 5)}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        die("usage: peer {start DIR PORT | count DIR | stop DIR | smoke DIR PORT | load DIR PORT [N] [CONC] [gzip|plain]}")
    fn, lo, hi = cmds[sys.argv[1]]
    args = sys.argv[2:]
    if not lo <= len(args) <= hi:
        die(f"{sys.argv[1]}: wrong number of arguments")
    fn(*args)


if __name__ == "__main__":
    main()
