// Writes BENCHMARKS.md from one run of scripts/bench: the issue's targets beside what this run
// measured (read from the parts' JSON in target/bench-*.json), then each part's own tables as it
// printed them (target/bench-out/*.md, in name order). `node tools/bench-report.mjs [OUT]`.
// A figure a part did not produce is written as "not measured in this run", never guessed.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const out = process.argv[2] || join(root, "BENCHMARKS.md");
const json = (name) => {
  const path = join(root, "target", name);
  return existsSync(path) ? JSON.parse(readFileSync(path, "utf8")) : undefined;
};
const NONE = "not measured in this run";
const num = (v, digits = 0) =>
  typeof v === "number" && Number.isFinite(v)
    ? v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : NONE;
/** Several figures joined, or one "not measured" when the part did not run. */
const both = (values, sep, fmt, unit = "") =>
  values.every((v) => v === undefined) ? NONE : values.map(fmt).join(sep) + unit;
const met = (ok) => (ok === undefined ? "—" : ok ? "met" : "not met");

/** One row per target: [figure, target, this run, met?]. */
function targets() {
  const rows = [];
  const origin = json("bench-origin.json");
  for (const key of ["sqlite", "postgres"]) {
    const run = origin?.[key];
    const accepted = run?.accepted_per_second;
    const visible = run?.end_to_end_per_second ?? run?.visible_per_second;
    const label = key === "sqlite" ? "SQLite" : "PostgreSQL";
    rows.push([
      `origin on ${label}, 5 KB gzipped events${origin ? `, ${origin.connections} connections` : ""}: accepted/s, processed-and-visible/s`,
      key === "sqlite" ? "≥ 10,000/s each" : "reported beside SQLite",
      both([accepted, visible], " / ", (v) => num(v)),
      key === "sqlite" && run ? met(accepted >= 10000 && visible >= 10000) : "—",
    ]);
    if (key === "sqlite") {
      const peak = run?.peak_rss_mib;
      const idle = run?.idle_rss_mib;
      rows.push([
        "origin peak RSS under that load / idle",
        "≤ 150 MiB / ≤ 30 MiB",
        both([peak, idle], " / ", (v) => num(v, 1), " MiB"),
        run ? met(peak <= 150 && idle <= 30) : "—",
      ]);
    }
  }
  for (const peer of origin?.peers ?? []) {
    const run = origin?.[peer];
    rows.push([
      `peer: ${run?.title ?? peer}, the same load: accepted/s, processed/s`,
      "reported beside Picket",
      both([run?.accepted_per_second, run?.end_to_end_per_second], " / ", (v) => num(v)),
      "—",
    ]);
  }
  const node = json("bench-core-wasm.json");
  const workerd = json("bench-core-workerd.json");
  for (const input of ["5 KB gzipped capture", "minimal event"]) {
    for (const [engine, data, pick] of [
      ["node", node, (r) => r],
      ["workerd", workerd, (r) => r.workerd],
    ]) {
      const r = data?.rows?.find((row) => row.input === input && row.filters === "on" && row.quota);
      const ratio = r && pick(r).core / pick(r).floor;
      rows.push([
        `edge core CPU per event in ${engine}, ${input}, filters and a quota on (µs, core/floor)`,
        "≤ 2× the floor",
        r ? `${num(pick(r).core, 1)} µs, ${num(ratio, 2)}×` : NONE,
        r ? met(ratio <= 2) : "—",
      ]);
    }
  }
  const edge = node?.rows?.find((r) => r.input === "5 KB gzipped capture" && r.filters === "on" && r.quota);
  rows.push([
    "whole edge per accepted 5 KB event, signature included, node's wasm (filters and a quota on)",
    "≤ 150 µs",
    edge ? `${num(edge.edge, 1)} µs` : NONE,
    edge ? met(edge.edge <= 150) : "—",
  ]);
  const latency = json("bench-edge-latency-workerd.json");
  for (const mode of ["sequential", "concurrent"]) {
    const fast = latency?.fast?.[mode];
    const slow = latency?.slow?.[mode];
    const ratio = latency?.slow_over_fast?.[mode];
    rows.push([
      `edge answer latency through workerd, ${mode}: p50/p99 with the origin answering in ${latency?.fast?.origin_delay_ms ?? 1} ms → ${latency?.slow?.origin_delay_ms ?? 2000} ms`,
      "unchanged by the slow origin",
      fast && slow
        ? `${num(fast.p50_ms, 2)}/${num(fast.p99_ms, 2)} → ${num(slow.p50_ms, 2)}/${num(slow.p99_ms, 2)} ms (${num(ratio?.p50, 2)}×/${num(ratio?.p99, 2)}×)`
        : NONE,
      ratio ? met(ratio.p50 <= 1.25 && ratio.p99 <= 1.5) : "—",
    ]);
  }
  const size = json("bench-size.json");
  for (const b of size?.bundles ?? []) {
    rows.push([
      `${b.name} (raw / gzip -9)`,
      "toward ≤ 300 KB gzip",
      `${num(b.raw)} B / ${num(b.gzip)} B`,
      met(b.gzip <= 300 * 1024),
    ]);
  }
  for (const kind of ["workerd", "spin"]) {
    const data = json(`bench-quota-${kind}.json`);
    const q = data?.quota_checks_per_second;
    const alone = data?.with_quota_stub_upstream;
    rows.push([
      `quota checks through ${kind === "workerd" ? "the Durable Object path (workerd)" : "the Spin key-value path"}: checks/s on 1 counter / on 100`,
      "reported",
      q
        ? `${num(q.one_counter)} / ${num(q.hundred_counters)} in front of the origin` +
          (alone ? `; ${num(alone.one_counter?.per_second)} / ${num(alone.hundred_counters?.per_second)} in front of a stub` : "")
        : NONE,
      "—",
    ]);
  }
  return rows;
}

function machine() {
  const model = cpus()[0]?.model ?? "unknown CPU";
  const commit = (() => {
    try {
      return execFileSync("git", ["-C", root, "rev-parse", "--short", "HEAD"]).toString().trim();
    } catch {
      return "unknown";
    }
  })();
  const gib = (totalmem() / 2 ** 30).toFixed(1);
  return `${cpus().length} cores (${model}), ${gib} GiB; commit \`${commit}\`; ${new Date().toISOString().slice(0, 16)} UTC`;
}

const parts = existsSync(join(root, "target/bench-out"))
  ? readdirSync(join(root, "target/bench-out"))
      .filter((f) => f.endsWith(".md"))
      .sort()
      .map((f) => readFileSync(join(root, "target/bench-out", f), "utf8").trim())
  : [];
const lines = [
  "# Benchmarks",
  "",
  `Written by \`scripts/bench\` from one run on ${machine()}. Every figure below comes from that run;`,
  "ratios compare figures measured in the same run. Benchmarks are not tests: nothing here is asserted",
  "as a timing. Each part's method is in its section; how to run them is in the README.",
  "",
  "## Targets",
  "",
  "| figure | target | this run | |",
  "|---|---|---|---|",
  ...targets().map((r) => `| ${r.join(" | ")} |`),
  "",
  ...parts.flatMap((p) => [p, ""]),
];
writeFileSync(out, lines.join("\n"));
console.log(`bench: wrote ${out}`);
