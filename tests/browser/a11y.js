// tests/browser/a11y.js - drives Debian's chromium through pages of a
// running borough and checks each with axe-core (run by tests/e2e/test_a11y.py).
//
//   node a11y.js SCENARIO.json OUT_DIR
//
// SCENARIO.json: { "base": "http://127.0.0.1:PORT", "tags": [...], "steps": [
//   ["goto", "/tutorial/feedback"], ["fill", "#comments", "text"], ["check", "#rating"],
//   ["click", "button.govuk-button"], ["viewport", 375, 667], ["upload", "#list", "/tmp/list.csv"],
//   ["audit", "name"], ["look", "name"], ["wait_url", "regexp"],
//   ["hold", "regexp"], ["release"], ["remember", "#secret"], ["totp", "#code", 1],
//   ["mark"], ["expect_mark"], ["wait_stream"], ["request", "POST", "/path", "a=1"],
//   ["wait_text", "#count", "text"], ["browser", "other"] ],
//   "args": ["--extra-chromium-flag", ...] }
// A "goto" to a full URL (https://...) leaves the site (an identity
// provider's sign-in page). Every "audit" writes OUT_DIR/<name>.png (the
// whole page) and records axe's violations for the tags; "look" records the
// page without axe (another site's page). "wait_url" waits until the page's
// URL matches (a page that moves on by itself); "hold" answers navigations
// to matching URLs with 204 No Content, so a page that moves on by itself
// stays to be audited, until "release". "remember" keeps the text of an
// element (a TOTP secret in base32, as a set-up page shows it) and "totp"
// fills an input with the RFC 6238 code of the remembered secret, now or
// so many 30-second steps away. "mark" marks the page's window and
// "expect_mark" fails unless the mark is still there (the page was not
// loaded again); "wait_stream" waits until the server has an event stream
// open (/metrics); "request" sends a request from another client than the
// page (no cookies; a form body); "wait_text" waits until the element
// shows the text (live updates). "browser" goes on in another browser
// (a context of its own, with its own cookies), made on first use; the
// first is "main". Prints one JSON object:
// { pages: [{ name, url, title, text, violations: [{ id, impact, help,
// nodes: [html...] }] }] }, text being what <main> (else <body>) shows.

const fs = require("fs");
const path = require("path");
const { chromium } = require("playwright-core");
const axe = require("axe-core");
const crypto = require("crypto");

// RFC 6238: HMAC-SHA-1 over the 30-second step, 6 digits.
function totp(base32, offset) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of base32.replace(/\s/g, "").toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30000) + (offset || 0)));
  const mac = crypto.createHmac("sha1", key).update(counter).digest();
  const o = mac[mac.length - 1] & 15;
  return String((mac.readUInt32BE(o) & 0x7fffffff) % 1000000).padStart(6, "0");
}

async function main() {
  const [scenarioFile, outDir] = process.argv.slice(2);
  const scenario = JSON.parse(fs.readFileSync(scenarioFile, "utf8"));
  fs.mkdirSync(outDir, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", ...(scenario.args || [])],
  });
  const result = { pages: [] };
  try {
    // The pages' Content-Security-Policy allows only their own scripts:
    // axe is put in through the DevTools protocol, which the CSP does not judge.
    const contexts = {};
    async function open() {
      const context = await browser.newContext({ viewport: { width: 1024, height: 768 } });
      return context.newPage();
    }
    let page = contexts.main = await open();
    let remembered = "";
    for (const step of scenario.steps) {
      const [op, a, b] = step;
      if (op === "browser") {
        page = contexts[a] || (contexts[a] = await open());      // another browser: its own cookies
      } else if (op === "goto") {
        await page.goto(/^https?:/.test(a) ? a : scenario.base + a, { waitUntil: "load" });
      } else if (op === "mark") {
        await page.evaluate(() => { window.boroughMark = true; });
      } else if (op === "expect_mark") {
        if (!(await page.evaluate(() => window.boroughMark === true))) throw new Error("the page was loaded again");
      } else if (op === "wait_stream") {
        for (let i = 0; ; i++) {
          const text = await (await fetch(scenario.base + "/metrics")).text();
          if (/^borough_event_streams\{[^}]*\} [1-9]/m.test(text)) break;
          if (i > 200) throw new Error("no event stream opened");
          await new Promise((r) => setTimeout(r, 50));
        }
      } else if (op === "request") {
        const res = await fetch(scenario.base + b, { method: a, body: step[3], redirect: "manual",
          headers: { "Content-Type": "application/x-www-form-urlencoded" } });
        if (res.status >= 400) throw new Error(a + " " + b + ": " + res.status);
      } else if (op === "wait_text") {
        await page.waitForFunction(([sel, text]) => {
          const el = document.querySelector(sel);
          return el && el.textContent.includes(text);
        }, [a, b], { timeout: 15000 });
      } else if (op === "remember") {
        remembered = await page.innerText(a);
      } else if (op === "totp") {
        await page.fill(a, totp(remembered, b));
      } else if (op === "hold") {
        await page.route(new RegExp(a), (route) => route.fulfill({ status: 204, body: "" }));
      } else if (op === "release") {
        await page.unrouteAll();
      } else if (op === "wait_url") {
        await page.waitForURL(new RegExp(a), { waitUntil: "load" });
      } else if (op === "fill") {
        await page.fill(a, b);
      } else if (op === "viewport") {
        await page.setViewportSize({ width: a, height: b });    // e.g. [375, 667]: a phone
      } else if (op === "upload") {
        await page.setInputFiles(a, b);                         // a file input, a file's path
      } else if (op === "check") {
        await page.check(a);
      } else if (op === "select") {
        await page.selectOption(a, b);
      } else if (op === "click") {
        await page.click(a);
        await page.waitForLoadState("load");
      } else if (op === "audit" || op === "look") {
        let found = [];
        if (op === "audit") {
          await page.evaluate(axe.source);
          found = await page.evaluate(async (tags) => {
            const r = await window.axe.run(document, { runOnly: { type: "tag", values: tags } });
            return r.violations.map((v) => ({
              id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.html),
            }));
          }, scenario.tags);
        }
        await page.screenshot({ path: path.join(outDir, a + ".png"), fullPage: true });
        const text = await page.evaluate(() => (document.querySelector("main") || document.body).innerText);
        result.pages.push({ name: a, url: page.url(), title: await page.title(), text, violations: found });
      } else {
        throw new Error("unknown step " + op);
      }
    }
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(result));
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack || e) + "\n");
  process.exit(1);
});
