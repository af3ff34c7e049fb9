// @sentry/browser (npm, pinned) in Debian's Chromium, on a page served from its own port (so
// every request to the edge is cross-origin and CORS decides): the page initialises the SDK,
// then throws an uncaught error and leaves a promise rejection unhandled.
//
// usage: node sdk.mjs TEST_NAME DSN TARGET [TUNNEL]
//   TARGET  the URL prefix the SDK posts to (the edge's envelope endpoint, or the tunnel)
//   TUNNEL  when given, Sentry.init's `tunnel` option
// Two pages: "simple" uses the SDK's default transport (a CORS "simple" request: no preflight),
// "preflight" adds a Content-Type header through the SDK's transportOptions, which makes
// Chromium send a CORS preflight first. Prints (lib.mjs's JSON) per page the event ids the SDK
// sent, the edge's answers and the preflights seen; fails on any console error.
//
// @sentry/browser 11 ships no CDN bundle on npm, only ES modules, so the pinned esbuild (from
// the lock, as wrangler's) bundles them into one script for the page, in memory.
import { build } from "esbuild";

import { check, consoleErrors, fail, finish, launch, newPage, pageErrors, screenshot, serve } from "./lib.mjs";

const [name, dsn, target, tunnel] = process.argv.slice(2);
if (!target) {
  console.error("usage: node sdk.mjs TEST_NAME DSN TARGET [TUNNEL]");
  process.exit(2);
}

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>Picket browser SDK page</title>
<link rel="icon" href="data:,">
<script src="/sentry-browser.js"></script>
<script>
  const params = new URLSearchParams(location.search);
  const marker = params.get("marker");
  window.__picket = { sent: [] };
  Sentry.init({
    dsn: params.get("dsn"),
    tunnel: params.get("tunnel") || undefined,
    release: "browser@1.0.0",
    environment: "test",
    transportOptions: params.get("preflight")
      ? { headers: { "Content-Type": "application/x-sentry-envelope" } }
      : undefined,
    beforeSend(event) {
      window.__picket.sent.push(event.event_id);
      return event;
    },
  });
  setTimeout(() => { throw new TypeError("picket browser uncaught " + marker); }, 0);
  // A rejection in a later task: one made while this script still runs is not reported to the
  // SDK's unhandledrejection handler in Chromium.
  setTimeout(() => { Promise.reject(new RangeError("picket browser rejection " + marker)); }, 10);
</script></head>
<body><h1>Picket browser SDK page</h1><p id="marker"></p>
<script>document.getElementById("marker").textContent = marker;</script></body></html>`;

async function bundle() {
  const out = await build({
    stdin: { contents: 'export * from "@sentry/browser";', resolveDir: process.cwd(), loader: "js" },
    bundle: true,
    format: "iife",
    globalName: "Sentry",
    platform: "browser",
    target: "es2020",
    write: false,
    logLevel: "silent",
  });
  return out.outputFiles[0].text;
}

/** Loads the page once with `variant` and waits until the edge answered both events. */
async function run(base, variant) {
  const page = await newPage(variant);
  const marker = `${name}-${variant}`;
  const answers = [];
  const preflights = [];
  // Preflights are not requests Playwright reports; Chromium's DevTools protocol does.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  cdp.on("Network.requestWillBeSent", (e) => {
    if (e.request.method === "OPTIONS" && e.request.url.startsWith(target)) preflights.push(e.request.url);
  });
  page.on("response", async (response) => {
    const request = response.request();
    if (request.method() !== "POST" || !response.url().startsWith(target)) return;
    const body = request.postData() || "";
    const items = [...body.matchAll(/"type":"([a-z_]+)"/g)].map((m) => m[1]);
    answers.push({
      url: response.url(),
      status: response.status(),
      items,
      allowOrigin: (await response.allHeaders())["access-control-allow-origin"] ?? null,
    });
  });
  const query = new URLSearchParams({ dsn, marker, ...(tunnel ? { tunnel } : {}), ...(variant === "preflight" ? { preflight: "1" } : {}) });
  await page.goto(`${base}/?${query}`);
  const deadline = Date.now() + 30_000;
  while (answers.filter((a) => a.items.includes("event")).length < 2 && Date.now() < deadline) {
    await page.waitForTimeout(50);
  }
  const sent = await page.evaluate(() => window.__picket.sent);
  await screenshot(page, variant);
  const events = answers.filter((a) => a.items.includes("event"));
  check(sent.length === 2, `${variant}: the SDK sent an event for the error and for the rejection`, sent);
  check(events.length === 2 && events.every((a) => a.status === 200), `${variant}: the edge answered both with 200`, answers);
  check(answers.every((a) => a.allowOrigin === "*"), `${variant}: every answer allows any origin`, answers);
  check(consoleErrors(page).length === 0, `${variant}: no console errors (a CORS refusal is one)`, consoleErrors(page));
  const thrown = pageErrors(page);
  check(
    thrown.length === 2 && thrown.every((e) => e.includes(marker)),
    `${variant}: the page threw exactly its error and its rejection`,
    thrown,
  );
  if (variant === "preflight") check(preflights.length > 0, "preflight: Chromium sent a CORS preflight", preflights);
  else check(preflights.length === 0, "simple: no preflight was needed", preflights);
  return { variant, marker, sent: sent.map((id) => id.replaceAll("-", "")), answers, preflights };
}

try {
  await launch(name);
  const base = await serve({
    "/": { type: "text/html; charset=utf-8", body: PAGE },
    "/sentry-browser.js": { type: "text/javascript; charset=utf-8", body: await bundle() },
  });
  check(!base.startsWith(new URL(target).origin), "the page is on another origin than the edge", { base, target });
  const runs = [];
  for (const variant of ["simple", "preflight"]) runs.push(await run(base, variant));
  await finish({ page: base, runs });
} catch (e) {
  await fail(e);
}
