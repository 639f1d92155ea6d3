// Helpers shared by the browser scripts (access.mjs; journeys.mjs keeps its own copies): the
// axe check with a screenshot on every page, form submission, the SMTP sink's mail, DSFR
// radio buttons and checkboxes, error alerts, and one browser context per journey.

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import AxeBuilder from '@axe-core/playwright';
import { chromium } from 'playwright-core';

export const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};

const SCREENSHOT_DIR = env('SCREENSHOT_DIR', 'target/browser-screenshots');
// The SMTP sink's folder: read only by nextMail (demo_walk.mjs reads the provider's /outbox).
const MAIL_DIR = process.env.MAIL_DIR;
const CHROMIUM = env('CHROMIUM', '/usr/bin/chromium');
mkdirSync(SCREENSHOT_DIR, { recursive: true });

let shot = 0;
const started = Date.now();
export const log = (message) =>
  console.log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${message}`);

/** A full-page screenshot (an artefact, not a check). Chromium sometimes answers « Unable to
 * capture screenshot » while the page is still settling on a loaded machine: wait for the load
 * and try again, and after three failures say so and go on — the axe check is what matters. */
export async function screenshot(page, file) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await page.waitForLoadState('load');
      await page.screenshot({ path: file, fullPage: true });
      return;
    } catch (error) {
      if (attempt >= 3) {
        console.log(`screenshot ${file} not taken: ${error.message.split('\n')[0]}`);
        return;
      }
      await page.waitForTimeout(300 * attempt);
    }
  }
}

/** Takes the screenshot of the page, then runs axe on it (WCAG 2.0–2.2 A and AA and the best
 * practices: axe's default rule set): any violation fails with a list. */
export async function check(page, name) {
  shot += 1;
  const file = join(SCREENSHOT_DIR, `${String(shot).padStart(2, '0')}-${name}.png`);
  await screenshot(page, file);
  const results = await new AxeBuilder({ page })
    .options({ resultTypes: ['violations'] })
    .setLegacyMode()
    .analyze();
  if (results.violations.length > 0) {
    const lines = results.violations.flatMap((v) => [
      `  ${v.id} (${v.impact}): ${v.help} — ${v.helpUrl}`,
      ...v.nodes.map((n) => `    ${n.target.join(' ')}: ${n.failureSummary.replaceAll('\n', ' ')}`),
    ]);
    throw new Error(
      `axe: ${results.violations.length} violation(s) on ${name} (${page.url()}):\n${lines.join('\n')}`,
    );
  }
  log(`ok ${name}: ${await page.title()} — axe: 0 violations`);
}

/** Clicks `locator` and waits for the page it leads to. */
export async function submit(page, locator) {
  await Promise.all([page.waitForNavigation(), locator.click()]);
}

const seenMail = new Set();

/** Waits (at most 10 s) for a new message to `to`; returns it ({subject, text, html, …}). */
export async function nextMail(to) {
  if (!MAIL_DIR) throw new Error('MAIL_DIR is not set');
  const deadline = Date.now() + 10_000;
  for (;;) {
    for (const file of readdirSync(MAIL_DIR).filter((f) => f.endsWith('.json')).sort()) {
      if (seenMail.has(file)) continue;
      const message = JSON.parse(readFileSync(join(MAIL_DIR, file), 'utf8'));
      if (!message.rcpt_tos.includes(to)) continue;
      seenMail.add(file);
      return message;
    }
    if (Date.now() > deadline) throw new Error(`no new e-mail for ${to} in the sink`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The first link of the message's text part whose path matches `path`. */
export function linkIn(message, path) {
  const match = message.text.match(new RegExp(`https?://\\S+${path}\\S*`));
  assert.ok(match, `no link ${path} in the e-mail « ${message.subject} »:\n${message.text}`);
  return match[0];
}

/** Ticks a DSFR radio button or checkbox by clicking its label, as a person does. */
export async function tick(page, label) {
  await page.locator('label', { hasText: label }).first().click();
  assert.ok(await page.getByLabel(label).first().isChecked(), `« ${label} » is ticked`);
}

/** Ticks a DSFR checkbox whose label holds a link (« J'accepte les conditions générales
 * d'utilisation »): clicks the box the DSFR draws at the label's start, not the link. */
export async function tickBox(page, label) {
  await page.locator('label', { hasText: label }).first().click({ position: { x: 8, y: 12 } });
  assert.ok(await page.getByLabel(label).first().isChecked(), `« ${label} » is ticked`);
}

/** After the login of someone who has not accepted EFP Connect's current CGU (an invited
 * person's first login, or a new version): the interstitial, checked as `name`, accepted. */
export async function acceptEfpConnectCgu(page, name) {
  await page
    .getByRole('heading', { level: 1, name: "Conditions générales d'utilisation d'EFP Connect" })
    .waitFor();
  await check(page, name);
  await tick(page, "J'accepte les conditions générales d'utilisation");
  await submit(page, page.getByRole('button', { name: 'Continuer' }));
}

/** The page shows an error alert containing `text`; each field marked invalid points to it. */
export async function expectAlert(page, text) {
  const alert = page.getByRole('alert');
  await alert.waitFor();
  if (text) assert.ok((await alert.innerText()).includes(text), `alert: ${await alert.innerText()}`);
  const alertId = await alert.getAttribute('id');
  for (const field of await page.locator('[aria-invalid="true"]').all()) {
    const describedBy = ((await field.getAttribute('aria-describedby')) ?? '').split(/\s+/);
    assert.ok(
      alertId && describedBy.includes(alertId),
      `${await field.evaluate((e) => e.outerHTML.slice(0, 120))} is described by the alert #${alertId}`,
    );
  }
}

/** Fills and sends the login form. */
export async function login(page, email, password) {
  await page.getByLabel('Identifiant').fill(email);
  await page.locator('#password').fill(password);
  await submit(page, page.getByRole('button', { name: "Je m'identifie" }));
}

/** Runs `journeys` (a function given `journey(name, run)`) in one browser, each journey in its
 * own context (its own cookies); exits the process with 1 on the first failure.
 * `knownErrors`: browser errors of a reported defect, each `{ message, urlPrefix, defect }`:
 * an error with exactly that message on a page under that prefix is logged as the known
 * defect instead of failing the run; any other error still fails it. */
export async function runJourneys(journeys, { knownErrors = [] } = {}) {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const consoleErrors = [];
  const known = new Map();
  const record = (name, message, url) => {
    const defect = knownErrors.find((k) => k.message === message && url.startsWith(k.urlPrefix));
    if (!defect) {
      consoleErrors.push(`${name}: ${message} (${url})`);
      return;
    }
    if (!known.has(defect)) log(`KNOWN DEFECT, not failing the run: ${defect.defect} — « ${message} » (${url})`);
    known.set(defect, (known.get(defect) ?? 0) + 1);
  };
  let failed = false;
  try {
    const journey = async (name, run) => {
      const context = await browser.newContext({
        locale: 'fr-FR',
        viewport: { width: 1280, height: 900 },
      });
      const page = await context.newPage();
      // Generous: CI runs this beside the whole suite on two cores.
      page.setDefaultTimeout(30_000);
      page.on('console', (m) => {
        if (m.type() !== 'error') return;
        // The error states come with a 4xx status, which Chromium reports for the page itself.
        const ownStatus =
          m.location().url === page.url() &&
          /^Failed to load resource: .* status of 4\d\d/.test(m.text());
        if (!ownStatus) record(name, m.text(), m.location().url || page.url());
      });
      page.on('pageerror', (e) => record(name, e.message, page.url()));
      log(`journey: ${name}`);
      try {
        await run(page);
      } catch (e) {
        await page.screenshot({ path: join(SCREENSHOT_DIR, `echec-${name}.png`), fullPage: true });
        throw e;
      } finally {
        await context.close();
      }
    };
    await journeys(journey);
    assert.deepEqual(consoleErrors, [], 'no error in the browser console');
    for (const [defect, count] of known) log(`KNOWN DEFECT seen on ${count} page(s): ${defect.defect}`);
    log(`all journeys passed: ${shot} pages checked by axe, screenshots in ${SCREENSHOT_DIR}`);
  } catch (e) {
    failed = true;
    console.error(`FAILED: ${e.stack ?? e}`);
  } finally {
    await browser.close();
  }
  process.exit(failed ? 1 : 0);
}
