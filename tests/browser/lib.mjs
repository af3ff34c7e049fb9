// A small library for browser tests: Debian's Chromium driven by playwright-core (both pinned,
// nothing downloaded at test time), with the console errors and page errors of every page
// collected, screenshots kept under target/browser-artifacts/<test>/, and the result written
// as one JSON object on stdout for the Rust test that ran the script.
//
//   import { launch, newPage, screenshot, consoleErrors, check, finish } from "./lib.mjs";
//   await launch("my-test");                    // the test's name names its artifact folder
//   const page = await newPage("home");         // a fresh context (cookies, storage) per page
//   await page.goto(url);
//   await screenshot(page, "home");             // target/browser-artifacts/my-test/home.png
//   check(consoleErrors(page).length === 0, "no console errors", consoleErrors(page));
//   await finish({ extra: "fields" });          // closes the browser, prints JSON, sets the exit code
//
// Chromium is /usr/bin/chromium unless PICKET_CHROMIUM names another binary; PICKET_ARTIFACTS
// overrides the artifact root. A script that throws still prints its JSON (`ok: false`).
import { mkdirSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const state = {
  name: null,
  browser: null,
  artifacts: null,
  /** page → { name, context, console: [...], errors: [...] } */
  pages: new Map(),
  checks: [],
  screenshots: [],
  servers: [],
  started: Date.now(),
};

/** The Chromium binary: PICKET_CHROMIUM, else Debian's. */
export function chromiumPath() {
  return process.env.PICKET_CHROMIUM || "/usr/bin/chromium";
}

/** Where this test's screenshots go (created on first use). */
export function artifactDir() {
  if (!state.artifacts) {
    const root = process.env.PICKET_ARTIFACTS || join(ROOT, "target/browser-artifacts");
    state.artifacts = join(root, state.name || "unnamed");
    mkdirSync(state.artifacts, { recursive: true });
  }
  return state.artifacts;
}

/**
 * Starts Chromium for the test `name` (letters, digits, `-`, `_`, `.`): headless, no sandbox,
 * no background networking, a fresh profile (removed when finish() closes it). Also makes
 * uncaught failures of the script print the JSON result.
 */
export async function launch(name, options = {}) {
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new Error(`bad test name ${JSON.stringify(name)}`);
  state.name = name;
  process.on("uncaughtException", (e) => fail(e));
  process.on("unhandledRejection", (e) => fail(e));
  // playwright-core gives the browser a fresh user-data dir of its own (a temp dir it deletes
  // on close), and every page gets a fresh context on top.
  state.browser = await chromium.launch({
    executablePath: chromiumPath(),
    args: CHROMIUM_ARGS,
    timeout: options.timeout ?? 60_000,
    ...options.launch,
  });
  return state.browser;
}

/**
 * A new page in a fresh browser context (its own cookies and storage), named for screenshots
 * and for the result. Its console errors and page errors (uncaught exceptions) are collected.
 */
export async function newPage(name, contextOptions = {}) {
  if (!state.browser) throw new Error("call launch() first");
  const context = await state.browser.newContext(contextOptions);
  const page = await context.newPage();
  const entry = { name, context, console: [], errors: [] };
  state.pages.set(page, entry);
  page.on("console", (message) => {
    if (process.env.PICKET_BROWSER_DEBUG) process.stderr.write(`[${name}] console.${message.type()}: ${message.text()}\n`);
    if (message.type() === "error") {
      entry.console.push({ text: message.text(), location: message.location() });
    }
  });
  page.on("pageerror", (error) => entry.errors.push(String(error && error.stack ? error.stack : error)));
  return page;
}

/** The console messages of type error a page logged so far: `[{ text, location }]`. */
export function consoleErrors(page) {
  return [...(state.pages.get(page)?.console ?? [])];
}

/** The uncaught exceptions a page threw so far (stack texts). */
export function pageErrors(page) {
  return [...(state.pages.get(page)?.errors ?? [])];
}

/** Saves a full-page PNG as target/browser-artifacts/<test>/<name>.png; returns its path. */
export async function screenshot(page, name) {
  const path = join(artifactDir(), `${name.replace(/[^A-Za-z0-9_.-]/g, "_")}.png`);
  await page.screenshot({ path, fullPage: true });
  state.screenshots.push(path);
  return path;
}

/** Records a named check; a failed one makes the result `ok: false` (the script goes on). */
export function check(ok, what, detail) {
  state.checks.push({ ok: Boolean(ok), what, ...(detail === undefined ? {} : { detail }) });
  return Boolean(ok);
}

/**
 * Serves `routes` (path → { type, body } or a function (req, res)) on 127.0.0.1 at a free
 * port; resolves to its base URL. Closed by finish().
 */
export async function serve(routes) {
  const server = createServer((req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    const route = routes[path];
    if (typeof route === "function") return route(req, res);
    if (!route) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
    }
    res.writeHead(200, { "content-type": route.type, "cache-control": "no-store" }).end(route.body);
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  state.servers.push(server);
  return `http://127.0.0.1:${server.address().port}`;
}

/** Every page's collected errors, by page name. */
function pageReports() {
  return [...state.pages.values()].map((p) => ({ name: p.name, consoleErrors: p.console, pageErrors: p.errors }));
}

async function close() {
  for (const server of state.servers.splice(0)) {
    server.closeAllConnections?.();
    await new Promise((ok) => server.close(ok));
  }
  if (state.browser) {
    await state.browser.close().catch(() => {});
    state.browser = null;
  }
}

let finished = false;

/**
 * Closes everything and prints the result as one JSON line on stdout: `{ test, ok, checks,
 * pages, screenshots, seconds, ...extra }`; the exit code is 0 only when every check passed.
 */
export async function finish(extra = {}) {
  if (finished) return;
  finished = true;
  await close();
  const ok = state.checks.every((c) => c.ok) && !extra.error;
  const result = {
    test: state.name,
    ok,
    checks: state.checks,
    pages: pageReports(),
    screenshots: state.screenshots,
    seconds: (Date.now() - state.started) / 1000,
    ...extra,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exitCode = ok ? 0 : 1;
}

/** Ends the test with an error (still printing the JSON result). */
export async function fail(error) {
  await finish({ error: String(error && error.stack ? error.stack : error) });
  process.exit(1);
}
