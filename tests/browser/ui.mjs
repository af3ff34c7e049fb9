// The origin's web UI in Debian's Chromium, as a person on call uses it. Run by
// tests/integration/ui.rs with the origin's URL and what it set up; prints one JSON result.
//
//   node tests/browser/ui.mjs tour NAME ORIGIN ORG EMAIL PASSWORD ISSUE_TITLE FOREIGN_ISSUE_PATH
//     sign in (a wrong password first), find the issue a real SDK event made, open it (stack
//     trace, source context, breadcrumbs), resolve it and see it leave the unresolved list,
//     open stats and project settings, a form without its CSRF token refused, another
//     organization's issue 404; every page at 1280 px and 375 px without horizontal scroll
//     and without console errors; screenshots of each.
//   node tests/browser/ui.mjs sees NAME ORIGIN ORG EMAIL PASSWORD TITLE...
//     sign in and find each title in the issues list, and on its page the browser and OS.
import { check, consoleErrors, fail, finish, launch, newPage, pageErrors, screenshot } from "./lib.mjs";

const [mode, name, origin, org, email, password, ...rest] = process.argv.slice(2);
if (!["tour", "sees"].includes(mode) || !password) {
  console.error("usage: ui.mjs tour|sees NAME ORIGIN ORG EMAIL PASSWORD ...");
  process.exit(2);
}

await launch(name);

/** Signs in through the form on `/auth/login/`, coming from `path`; the page lands on `path`. */
async function signIn(page, path) {
  const response = await page.goto(origin + path);
  check(new URL(page.url()).pathname === "/auth/login/", `${path} without a session goes to sign-in`, page.url());
  check(response.ok(), "the sign-in page answers 200", response.status());
  await page.fill("input[name=email]", email);
  await page.fill("input[name=password]", password);
  await Promise.all([page.waitForNavigation(), page.click("form[action='/auth/login/'] button[type=submit]")]);
  const at = new URL(page.url());
  check(at.pathname + at.search === path, `signed in and back at ${path}`, page.url());
}

/** Visits `path`; checks it answers 200, fits the viewport's width and logged no errors. */
async function visit(page, path, shot) {
  const response = await page.goto(origin + path);
  check(response.status() === 200, `${path} answers 200`, response.status());
  await fits(page, shot);
  return response;
}

async function fits(page, shot) {
  const { scroll, width } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    width: window.innerWidth,
  }));
  check(scroll <= width, `${shot}: no horizontal page scroll at ${width} px`, { scroll, width });
  await screenshot(page, shot);
}

/** Answers the test provoked on purpose ({ path, status }), which the browser logs as errors. */
const provoked = [];

function noErrors(page, what) {
  const unexpected = consoleErrors(page).filter(
    (e) => !provoked.some((p) => (e.location?.url || "").endsWith(p.path) && e.text.includes(`status of ${p.status}`)),
  );
  check(unexpected.length === 0, `${what}: no console errors`, unexpected);
  check(pageErrors(page).length === 0, `${what}: no page errors`, pageErrors(page));
}

const issuesPath = `/organizations/${org}/issues/`;

/** The issues list's link to the issue titled `title`, if the list shows it. */
async function issueLink(page, title) {
  const links = page.locator(`table a[href^='${issuesPath}']`, { hasText: title });
  return (await links.count()) > 0 ? links.first().getAttribute("href") : null;
}

async function tour() {
  const [title, foreignIssue] = rest;
  const page = await newPage("wide", { viewport: { width: 1280, height: 900 } });

  // A wrong password is refused with the form and a message.
  await page.goto(origin + issuesPath);
  await page.fill("input[name=email]", email);
  await page.fill("input[name=password]", password + "-wrong");
  const [refused] = await Promise.all([
    page.waitForNavigation(),
    page.click("form[action='/auth/login/'] button[type=submit]"),
  ]);
  check(refused.status() === 401, "a wrong password answers 401", refused.status());
  check((await page.content()).includes("Invalid email or password"), "a wrong password says so");
  await screenshot(page, "login-refused");
  // The wrong password made the browser log the 401 the form answered; start clean.
  await page.context().close();

  const wide = await newPage("wide-signed-in", { viewport: { width: 1280, height: 900 } });
  await signIn(wide, issuesPath);
  await fits(wide, "issues");
  const href = await issueLink(wide, title);
  check(href, `the issues list shows ${JSON.stringify(title)}`);
  if (!href) return;
  check((await wide.locator("svg").count()) > 0, "the list draws sparklines");

  // The issue: its stack trace with source context, and its breadcrumbs.
  await Promise.all([wide.waitForNavigation(), wide.click(`a[href='${href}']`)]);
  await fits(wide, "issue");
  const text = await wide.locator("main").innerText();
  check(text.includes("ZeroDivisionError"), "the issue page names the exception");
  check((await wide.locator("details.frame[open] pre.source .current").count()) > 0, "a frame is open with its source line");
  check(text.includes("return total / 0"), "the source context line shows");
  check(text.includes("Breadcrumbs") && text.includes("GET /cart"), "the breadcrumbs show");
  check(text.includes("ada@example.com"), "the user shows");

  // A form whose CSRF token was taken out is refused and changes nothing.
  await wide.evaluate(() => document.querySelector("form.actions input[name=csrf]").remove());
  provoked.push({ path: href, status: 403 });
  const [forged] = await Promise.all([wide.waitForNavigation(), wide.click("form.actions button[value=resolved]")]);
  check(forged.status() === 403, "a form without its CSRF token answers 403", forged.status());
  await screenshot(wide, "csrf-refused");
  await visit(wide, href, "issue-again");
  check((await wide.locator("form.actions button[value=resolved]").count()) === 1, "the issue is still unresolved");

  // Resolve it: it leaves the unresolved list and shows under is:resolved.
  await Promise.all([wide.waitForNavigation(), wide.click("form.actions button[value=resolved]")]);
  check((await wide.locator("form.actions button[value=unresolved]").count()) === 1, "the issue is resolved");
  await visit(wide, issuesPath, "issues-after-resolve");
  check(!(await issueLink(wide, title)), "a resolved issue leaves the unresolved list");
  await visit(wide, `${issuesPath}?query=${encodeURIComponent("is:resolved")}`, "issues-resolved");
  check(await issueLink(wide, title), "it shows under is:resolved");

  await visit(wide, `/organizations/${org}/stats/`, "stats");
  check((await wide.locator("main svg").count()) > 0, "stats draws a chart");
  await visit(wide, `/settings/${org}/projects/`, "projects");
  const project = await wide.locator(`main a[href^='/settings/${org}/projects/']`).first().getAttribute("href");
  await visit(wide, project, "project-settings");
  const settings = await wide.locator("main").innerText();
  check(/https?:\/\/[0-9a-f]{32}@/.test(settings), "project settings show the DSN");
  check(settings.includes("sentry_sdk.init"), "and a Python snippet");

  // Another organization's issue is not found, and says nothing about it.
  provoked.push({ path: foreignIssue, status: 404 });
  const foreign = await wide.goto(origin + foreignIssue);
  check(foreign.status() === 404, "another organization's issue answers 404", foreign.status());
  noErrors(wide, "wide pages");

  // The same pages on a 375 px phone.
  const phone = await newPage("phone", { viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true });
  await signIn(phone, issuesPath);
  await fits(phone, "phone-issues");
  await visit(phone, href, "phone-issue");
  await visit(phone, `${issuesPath}?query=${encodeURIComponent("is:resolved")}`, "phone-issues-resolved");
  await visit(phone, `/organizations/${org}/stats/`, "phone-stats");
  await visit(phone, project, "phone-project-settings");
  await visit(phone, "/settings/account/api/auth-tokens/", "phone-tokens");
  noErrors(phone, "phone pages");
}

async function sees() {
  const page = await newPage("sees", { viewport: { width: 1280, height: 900 } });
  await signIn(page, `${issuesPath}?query=`);
  for (const title of rest) {
    await visit(page, `${issuesPath}?query=`, `list`);
    const href = await issueLink(page, title);
    check(href, `the issues list shows ${JSON.stringify(title)}`);
    if (!href) continue;
    await visit(page, href, `issue-${title.slice(0, 24)}`);
    const text = await page.locator("main").innerText();
    check(text.includes("Chrome"), `${title}: the browser shows`);
    check(text.includes("Linux"), `${title}: the OS shows`);
  }
  noErrors(page, "pages");
}

try {
  await (mode === "tour" ? tour() : sees());
  await finish();
} catch (e) {
  await fail(e);
}
