// lounge.mjs URL USER PASSWORD CHANNEL SHOT: logs into The Lounge at URL in the system's
// headless Chromium and follows the test (test_thelounge.py) step by step: it prints
// "STEP name" when it reached a step and waits for a line on stdin before the next, so the
// Python side can act (send from its TCP client) in between. Prints what it saw as JSON.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

const [url, user, password, channel, say, expect, shot] = process.argv.slice(2);
const stdin = createInterface({ input: process.stdin });
const lines = stdin[Symbol.asyncIterator]();
const step = async (name) => { process.stdout.write("STEP " + name + "\n"); await lines.next(); };

// A command typed in the input: Escape closes the command completion menu, which would
// otherwise take the Enter.
const command = async (page, text) => {
  await page.fill("#input", text);
  await page.press("#input", "Escape");
  await page.press("#input", "Enter");
};

const profile = mkdtempSync(join(tmpdir(), "parley-lounge-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1100, height: 700 },
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const out = { errors: [] };
try {
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(20000);
  await page.goto(url);
  await page.fill("#signin-username", user);
  await page.fill("#signin-password", password);
  await page.click("#sign-in button[type=submit]");
  // the network was configured for the user: The Lounge connects and joins by itself
  const chan = page.locator(`.channel-list-item[data-name="${channel}"]`);
  await chan.waitFor();
  await chan.click();
  const messages = page.locator("#chat");
  await page.fill("#input", say);
  await page.press("#input", "Enter");
  await messages.getByText(say).waitFor();
  await step("sent");
  await messages.getByText(expect).waitFor();
  out.received = true;
  // reconnect: what the channel said meanwhile comes back as history
  await command(page, "/disconnect");
  await step("disconnected");
  await command(page, "/connect");
  await page.waitForTimeout(1500);
  if (shot) await page.screenshot({ path: shot.replace(".png", "-reconnect.png") });
  await step("reconnected");
  const after = process.env.LOUNGE_HISTORY_TEXT;
  await page.locator(`.channel-list-item[data-name="${channel}"]`).click();
  await messages.getByText(after).first().waitFor();
  out.history = true;
  out.text = await messages.innerText();
  if (shot) await page.screenshot({ path: shot });
} catch (e) {
  out.errors.push(String(e).split("\n")[0]);
  try {
    const page = context.pages()[0];
    out.text = await page.locator("body").innerText();
    if (shot) await page.screenshot({ path: shot });
  } catch (e2) { /* nothing more to report */ }
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.stdout.write("RESULT " + JSON.stringify(out) + "\n");
process.exit(0);
