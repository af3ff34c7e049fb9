// Times the core compiled to wasm (src/lib.rs) in this node's V8, per request, against the
// floor measured in the same run: `node run.mjs CORE.wasm [ENVELOPE.gz]` (scripts/bench).
// Prints a markdown table and writes JSON to $BENCH_OUT (default target/bench-core-wasm.json).
import { readFileSync, writeFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";

const [wasmPath, vectorPath = "tests/data/vectors/envelope-5kb.envelope.gz"] = process.argv.slice(2);
const { instance } = await WebAssembly.instantiate(readFileSync(wasmPath), {});
const x = instance.exports;

const minimal = Buffer.from(
  '{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}\n{"type":"event"}\n{"message":"Something went wrong","level":"error","release":"web@1.2.3"}\n',
);
const inputs = [
  { name: "5 KB gzipped capture", bytes: readFileSync(vectorPath), gzip: true },
  { name: "minimal event", bytes: minimal, gzip: false },
];
const ops = { floor: 0, core: 1, sign: 2, edge: 3, settings: 4, compile: 5 };

/** Median microseconds per call of `op` over 7 rounds of `n` calls, after a warm-up. */
function time(op, n) {
  if (x.bench_run(op, 200) !== 200) throw new Error(`op ${op} failed`);
  const rounds = [];
  for (let r = 0; r < 7; r++) {
    const start = process.hrtime.bigint();
    const done = x.bench_run(op, n);
    const ns = Number(process.hrtime.bigint() - start);
    if (done !== n) throw new Error(`op ${op}: ${done} of ${n}`);
    rounds.push(ns / n / 1000);
  }
  rounds.sort((a, b) => a - b);
  return rounds[3];
}

const n = Number(process.env.BENCH_CORE_RUNS || 2000);
const rows = [];
for (const input of inputs) {
  const ptr = x.bench_alloc(input.bytes.length);
  new Uint8Array(x.memory.buffer, ptr, input.bytes.length).set(input.bytes);
  for (const [filters, quota] of [[0, 0], [1, 1], [1, 0], [0, 1], [2, 1]]) {
    if (x.bench_setup(input.gzip ? 1 : 0, filters, quota) !== 0) throw new Error(`${input.name}: not accepted`);
    const row = { input: input.name, filters: ["off", "on", "on but user agents"][filters], quota: !!quota };
    for (const [name, op] of Object.entries(ops)) row[name] = time(op, name === "sign" || name === "edge" ? n / 4 : n);
    row.core_over_floor = row.core / row.floor;
    rows.push(row);
  }
}
const bytes = inputs[0].gzip ? gunzipSync(inputs[0].bytes).length : inputs[0].bytes.length;
console.log(`node ${process.version}, ${n} runs per round, median of 7 rounds; µs per request (5 KB capture: ${bytes} B decoded)\n`);
console.log("| input | filters | quota | floor | core | core/floor | sign | core+sign | settings parse | filter compile |");
console.log("|---|---|---|---|---|---|---|---|---|---|");
const f = (v) => v.toFixed(1);
for (const r of rows) {
  console.log(
    `| ${r.input} | ${r.filters} | ${r.quota ? "on" : "off"} | ${f(r.floor)} | ${f(r.core)} | ${r.core_over_floor.toFixed(2)}× | ${f(r.sign)} | ${f(r.edge)} | ${f(r.settings)} | ${f(r.compile)} |`,
  );
}
const out = process.env.BENCH_OUT || "target/bench-core-wasm.json";
writeFileSync(out, JSON.stringify({ node: process.version, runs: n, rows }, null, 2));
