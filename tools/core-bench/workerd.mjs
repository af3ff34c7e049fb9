// Times the core compiled to wasm (the same module and exports run.mjs drives) inside workerd,
// beside this node's V8: `node tools/core-bench/workerd.mjs CORE.wasm [ENVELOPE.gz]` (scripts/bench).
// It starts node_modules/.bin/workerd on a free 127.0.0.1 port with a worker embedding the wasm,
// polls its health route (bounded), drives it, stops it, prints a markdown table and writes JSON
// to $BENCH_OUT (default target/bench-core-workerd.json). workerd may clamp or freeze its clocks
// while a request computes (Spectre mitigation), so each figure is wall clock measured here around
// one HTTP call that runs `bench_run(op, calls)` in the isolate, minus a call with 0 calls, over
// calls: the median of 7 rounds, calls being $BENCH_CORE_RUNS (default 2000) or more, so that one
// round computes for at least $BENCH_CORE_TARGET_MS (default 200) by node's figure. The isolate's
// own Date.now() around the loop is reported beside it as a cross-check (ms resolution). Node
// runs the same calls in-process, timed with hrtime around bench_run as run.mjs does.
import { spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const [wasmPath, vectorPath = join(root, "tests/data/vectors/envelope-5kb.envelope.gz")] = process.argv.slice(2);
if (!wasmPath) throw new Error("usage: node tools/core-bench/workerd.mjs CORE.wasm [ENVELOPE.gz]");
const n = Number(process.env.BENCH_CORE_RUNS || 2000);
const ROUNDS = 7;
const targetMs = Number(process.env.BENCH_CORE_TARGET_MS || 200);

const minimal = Buffer.from(
  '{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}\n{"type":"event"}\n{"message":"Something went wrong","level":"error","release":"web@1.2.3"}\n',
);
const inputs = [
  { name: "5 KB gzipped capture", bytes: readFileSync(vectorPath), gzip: true },
  { name: "minimal event", bytes: minimal, gzip: false },
];
const settings = [
  { filters: 0, quota: 0, label: ["off", false] },
  { filters: 1, quota: 0, label: ["on", false] },
  { filters: 1, quota: 1, label: ["on", true] },
];
// bench_run's ops (src/lib.rs): the floor, the core's decision, decision + the forward's signature.
const ops = { floor: 0, core: 1, edge: 3 };

const worker = `// The bench worker: instantiates the core wasm once per isolate and runs its exports.
import core from "./core.wasm";
const x = new WebAssembly.Instance(core, {}).exports;
export default {
  async fetch(request) {
    const url = new URL(request.url);
    const q = (k) => Number(url.searchParams.get(k));
    if (url.pathname === "/health") return new Response("ok");
    if (url.pathname === "/setup") {
      const bytes = new Uint8Array(await request.arrayBuffer());
      const ptr = x.bench_alloc(bytes.length);
      new Uint8Array(x.memory.buffer, ptr, bytes.length).set(bytes);
      return new Response(String(x.bench_setup(q("gzip"), q("filters"), q("quota"))));
    }
    if (url.pathname === "/run") {
      const t0 = Date.now();
      const done = x.bench_run(q("op"), q("n"));
      return Response.json({ done, clock_ms: Date.now() - t0 });
    }
    return new Response("not found", { status: 404 });
  },
};
`;

function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
    server.on("error", fail);
  });
}

const port = await freePort();
const dir = mkdtempSync(join(tmpdir(), "core-bench-workerd-"));
copyFileSync(wasmPath, join(dir, "core.wasm"));
writeFileSync(join(dir, "worker.mjs"), worker);
writeFileSync(
  join(dir, "config.capnp"),
  `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "bench", worker = .bench) ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "bench") ],
);
const bench :Workerd.Worker = (
  modules = [
    (name = "worker.mjs", esModule = embed "worker.mjs"),
    (name = "core.wasm", wasm = embed "core.wasm"),
  ],
  compatibilityDate = "2025-09-01",
);
`,
);

const workerdBin = join(root, "node_modules/.bin/workerd");
const version = await new Promise((ok) => {
  const p = spawn(workerdBin, ["--version"]);
  let out = "";
  p.stdout.on("data", (d) => (out += d));
  p.on("close", () => ok(out.trim()));
});
const child = spawn(workerdBin, ["serve", join(dir, "config.capnp")], { stdio: ["ignore", "pipe", "pipe"] });
let log = "";
child.stdout.on("data", (d) => (log += d));
child.stderr.on("data", (d) => (log += d));
let exited = null;
child.on("exit", (code, signal) => (exited = code ?? signal));

const base = `http://127.0.0.1:${port}`;
async function stop() {
  if (exited === null) {
    child.kill("SIGTERM");
    for (let i = 0; i < 100 && exited === null; i++) await new Promise((r) => setTimeout(r, 50));
    if (exited === null) child.kill("SIGKILL");
  }
  rmSync(dir, { recursive: true, force: true });
}

/** Polls /health every 50 ms for up to 30 s. */
async function ready() {
  const start = Date.now();
  while (Date.now() - start < 30_000) {
    if (exited !== null) throw new Error(`workerd exited (${exited}):\n${log}`);
    try {
      if ((await fetch(`${base}/health`)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`workerd not ready within 30 s:\n${log}`);
}

/** Wall-clock microseconds of one /run call, and what it answered. */
async function call(op, calls) {
  const start = process.hrtime.bigint();
  const res = await fetch(`${base}/run?op=${op}&n=${calls}`, { method: "POST" });
  const answer = await res.json();
  const us = Number(process.hrtime.bigint() - start) / 1000;
  if (answer.done !== calls) throw new Error(`op ${op}: ${answer.done} of ${calls}`);
  return { us, clock_ms: answer.clock_ms };
}

const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];

/** Median µs per call of `op` in workerd over ROUNDS rounds after a warm-up: by wall clock here,
 * (t(calls) - t(0)) / calls, and by the isolate's clock, the same difference of its Date.now(). */
async function timeWorkerd(op, calls) {
  await call(op, 200);
  const [wall, clock] = [[], []];
  let advanced = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const full = await call(op, calls);
    const empty = await call(op, 0);
    advanced = Math.max(advanced, full.clock_ms);
    wall.push((full.us - empty.us) / calls);
    clock.push(((full.clock_ms - empty.clock_ms) * 1000) / calls);
  }
  return { us: median(wall), clock_us: median(clock), clock_ms: advanced };
}

/** Median µs per call of `op` in this node, timed around bench_run as run.mjs does. */
function timeNode(x, op, calls) {
  if (x.bench_run(op, 200) !== 200) throw new Error(`op ${op} failed`);
  const rounds = [];
  for (let r = 0; r < ROUNDS; r++) {
    const start = process.hrtime.bigint();
    const done = x.bench_run(op, calls);
    rounds.push(Number(process.hrtime.bigint() - start) / calls / 1000);
    if (done !== calls) throw new Error(`op ${op}: ${done} of ${calls}`);
  }
  rounds.sort((a, b) => a - b);
  return rounds[ROUNDS >> 1];
}

const rows = [];
let frozen = 0;
try {
  await ready();
  const { instance } = await WebAssembly.instantiate(readFileSync(wasmPath), {});
  const x = instance.exports;
  for (const input of inputs) {
    const ptr = x.bench_alloc(input.bytes.length);
    new Uint8Array(x.memory.buffer, ptr, input.bytes.length).set(input.bytes);
    for (const s of settings) {
      const query = `gzip=${input.gzip ? 1 : 0}&filters=${s.filters}&quota=${s.quota}`;
      const set = await (await fetch(`${base}/setup?${query}`, { method: "POST", body: input.bytes })).text();
      if (set !== "0" || x.bench_setup(input.gzip ? 1 : 0, s.filters, s.quota) !== 0) {
        throw new Error(`${input.name}: not accepted (workerd ${set})`);
      }
      const row = { input: input.name, filters: s.label[0], quota: s.label[1], workerd: {}, workerd_clock: {}, node: {}, calls: {} };
      for (const [name, op] of Object.entries(ops)) {
        const base = name === "edge" ? n / 4 : n;
        const estimate = timeNode(x, op, base);
        const calls = Math.min(1e6, Math.max(base, Math.ceil((targetMs * 1000) / estimate)));
        row.node[name] = timeNode(x, op, calls);
        const w = await timeWorkerd(op, calls);
        frozen = Math.max(frozen, w.clock_ms);
        row.workerd[name] = w.us;
        row.workerd_clock[name] = w.clock_us;
        row.calls[name] = calls;
      }
      for (const engine of [row.workerd, row.workerd_clock, row.node]) engine.core_over_floor = engine.core / engine.floor;
      row.workerd_over_node = row.workerd.core / row.node.core;
      rows.push(row);
    }
  }
} finally {
  await stop();
}

const f = (v) => v.toFixed(1);
console.log(
  `${version} vs node ${process.version}; µs per call, median of ${ROUNDS} rounds of at least ${n} calls (core+sign: ${n / 4}) and ${targetMs} ms;` +
    ` workerd by wall clock around each call minus an empty call, [its own Date.now() the same way] (which advanced up to ${frozen} ms in one call)\n`,
);
console.log("| input | filters | quota | floor workerd | core workerd | core/floor workerd | core+sign workerd | floor node | core node | core/floor node | core workerd/node |");
console.log("|---|---|---|---|---|---|---|---|---|---|---|");
for (const r of rows) {
  const [w, c, v] = [r.workerd, r.workerd_clock, r.node];
  console.log(
    `| ${r.input} | ${r.filters} | ${r.quota ? "on" : "off"} | ${f(w.floor)} [${f(c.floor)}] | ${f(w.core)} [${f(c.core)}] | ${w.core_over_floor.toFixed(2)}× [${c.core_over_floor.toFixed(2)}×] | ${f(w.edge)} [${f(c.edge)}] | ${f(v.floor)} | ${f(v.core)} | ${v.core_over_floor.toFixed(2)}× | ${r.workerd_over_node.toFixed(2)}× |`,
  );
}
const out = process.env.BENCH_OUT || join(root, "target/bench-core-workerd.json");
writeFileSync(
  out,
  JSON.stringify(
    {
      workerd: version,
      node: process.version,
      runs: n,
      target_ms: targetMs,
      rounds: ROUNDS,
      method:
        "workerd: wall clock in node around an HTTP call running bench_run(op, calls) in the isolate, minus a call with 0 calls, over calls (workerd_clock: the isolate's own Date.now() the same way); calls per row and op in `calls`; node: hrtime around bench_run(op, calls) in-process, over calls; median of the rounds",
      workerd_clock_advanced_ms_max: frozen,
      rows,
    },
    null,
    2,
  ),
);
