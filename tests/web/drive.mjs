// drive.mjs URL OUT.png: opens URL in the system's headless Chromium (Playwright, no
// browser download), waits until the page (page.html) has received what it waits for and
// its WebSocket closed, saves a screenshot and prints what the page saw as JSON.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [url, shot] = process.argv.slice(2);
const profile = mkdtempSync(join(tmpdir(), "parley-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  ignoreHTTPSErrors: true, // wss to the test server's self-signed certificate
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         // the test server's certificate is self-signed (wss); loopback only
         "--ignore-certificate-errors"],
});
let result;
try {
  const page = context.pages()[0] || await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url);
  try {
    await page.waitForFunction(() => window.wsClosed === true, null, { timeout: 20000 });
  } catch (e) {
    errors.push("timeout: " + e.message.split("\n")[0]);
  }
  if (shot) await page.screenshot({ path: shot, fullPage: true });
  result = await page.evaluate(() => ({
    state: window.state, protocol: window.protocol, closeCode: window.closeCode,
    received: window.received, nonText: window.nonText,
    userAgent: navigator.userAgent,
  }));
  result.errors = errors;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(result) + "\n");
