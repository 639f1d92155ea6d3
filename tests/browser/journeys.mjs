// The account journeys in a real browser (Debian's Chromium driven by playwright-core), with an
// axe-core check on every page shown, error states included: any violation fails the run.
//
// Run by tests/tests/browser.rs, which starts the provider and an SMTP sink and sets:
//   BASE_URL         the provider (anti-robot check off), e.g. http://127.0.0.1:41234
//   ROBOT_BASE_URL   a second provider with the anti-robot check on
//   ROBOT_EMAIL      an account of that second provider (password ROBOT_PASSWORD)
//   AGENT_LOGIN      an agent's login at the upstream provider of that second provider
//                    (tests/upstream-op, « AGENT DU MINISTÈRE »)
//   AUTH_URL         an /authorize URL of a registered client (redirect https://rp.example/callback)
//   MAIL_DIR         the sink's folder: one JSON file per message (tests/smtp_sink.py)
//   SCREENSHOT_DIR   where each step's screenshot goes
//   CHROMIUM         the browser (default /usr/bin/chromium)
// Exits with a non-zero code on the first failure, after printing what went wrong.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import AxeBuilder from '@axe-core/playwright';
import { chromium } from 'playwright-core';

// Shared with access.mjs: reading the sink, submitting, alerts, screenshots.
import { acceptEfpConnectCgu, expectAlert, nextMail, screenshot, submit, tickBox } from './common.mjs';

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};
const BASE_URL = env('BASE_URL');
const ROBOT_BASE_URL = env('ROBOT_BASE_URL');
const ROBOT_EMAIL = env('ROBOT_EMAIL');
const ROBOT_PASSWORD = env('ROBOT_PASSWORD');
const AUTH_URL = env('AUTH_URL');
const AGENT_LOGIN = env('AGENT_LOGIN');
const SCREENSHOT_DIR = env('SCREENSHOT_DIR', 'target/browser-screenshots');
const CHROMIUM = env('CHROMIUM', '/usr/bin/chromium');

mkdirSync(SCREENSHOT_DIR, { recursive: true });

// ---------------------------------------------------------------------------------------------
// Checks run on every page

let shot = 0;
const started = Date.now();
const log = (message) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${message}`);

// Errors the pages print in the console (a script error, a blocked resource, a CSP refusal).
const consoleErrors = [];

/** Takes the screenshot of the page, then runs axe on it: any violation fails with a list. */
async function check(page, name) {
  shot += 1;
  const file = join(SCREENSHOT_DIR, `${String(shot).padStart(2, '0')}-${name}.png`);
  const t0 = Date.now();
  await screenshot(page, file);
  const t1 = Date.now();
  // axe's default rule set: WCAG 2.0, 2.1 and 2.2 levels A and AA (tags wcag2a, wcag2aa,
  // wcag21a, wcag21aa, wcag22aa) and the best practices.
  // Only the violations' details are gathered. Legacy mode runs axe.run() in the page itself
  // instead of runPartial() + finishRun() in an extra blank page: three times faster, and
  // complete here, as the pages have no frames (it would skip cross-origin frames).
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
  const t2 = Date.now();
  log(
    `ok ${name}: ${await page.title()} — axe: 0 violations, ${results.passes.length} rules passed ` +
      `(${t2 - t1} ms; screenshot ${t1 - t0} ms)`,
  );
}


// ---------------------------------------------------------------------------------------------
// Mail, read from the SMTP sink's folder

/** The 6-digit code alone on its line in the text part. */
function codeOf(message) {
  const match = message.text.match(/^\s*(\d{6})\s*$/m);
  assert.ok(match, `no code in the e-mail « ${message.subject} »:\n${message.text}`);
  return match[1];
}

// ---------------------------------------------------------------------------------------------
// TOTP (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps), as an authenticator app computes it

function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of text.replace(/[\s=]/g, '').toUpperCase()) {
    const value = alphabet.indexOf(c);
    assert.ok(value >= 0, `not base32: ${text}`);
    bits += value.toString(2).padStart(5, '0');
  }
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

function totp(secret, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', base32Decode(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const value = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(value).padStart(6, '0');
}

const currentStep = () => Math.floor(Date.now() / 1000 / 30);

// ---------------------------------------------------------------------------------------------
// The journeys

const EMAIL = 'jeanne.durand@organisme-formation.fr';
const PASSWORD = 'Velo-Rouge-Printemps-2024';
const NEW_PASSWORD = 'Ciel-Bleu-Automne-2025';
const LAST_PASSWORD = 'Mer-Calme-Hiver-2026';

async function signup(page) {
  await page.goto(`${BASE_URL}/`);
  await check(page, 'accueil');
  await submit(page, page.getByRole('link', { name: 'Se connecter' }));
  await check(page, 'connexion');
  await submit(page, page.getByRole('link', { name: 'Je crée mon compte EFP CONNECT' }));
  await check(page, 'inscription-1-email');

  // Error state: a shared mailbox.
  await page.getByLabel('Identifiant').fill('contact@organisme-formation.fr');
  await submit(page, page.getByRole('button', { name: 'Suivant' }));
  await expectAlert(page, 'adresse');
  await check(page, 'inscription-1-email-erreur');

  await page.getByLabel('Identifiant').fill(EMAIL);
  await submit(page, page.getByRole('button', { name: 'Suivant' }));
  assert.match(page.url(), /\/inscription\/code$/);
  await check(page, 'inscription-2-code');
  const code = codeOf(await nextMail(EMAIL));

  // Error state: a wrong code (one of the 5 tries).
  await page.getByLabel('Code de validation').fill(code === '000000' ? '111111' : '000000');
  await submit(page, page.getByRole('button', { name: 'Suivant' }));
  await expectAlert(page, 'Le code saisi est incorrect');
  await check(page, 'inscription-2-code-erreur');

  await page.getByLabel('Code de validation').fill(code);
  await submit(page, page.getByRole('button', { name: 'Suivant' }));
  assert.match(page.url(), /\/inscription\/mot-de-passe$/);
  await check(page, 'inscription-3-mot-de-passe');

  // Error state: the confirmation differs.
  await page.getByLabel('Mot de passe *', { exact: false }).first().fill(PASSWORD);
  await page.getByLabel('Confirmation du mot de passe').fill(`${PASSWORD}x`);
  await submit(page, page.getByRole('button', { name: 'Suivant' }));
  await expectAlert(page, 'Les mots de passe ne correspondent pas');
  await check(page, 'inscription-3-mot-de-passe-erreur');

  await page.locator('#password').fill(PASSWORD);
  await page.getByLabel('Confirmation du mot de passe').fill(PASSWORD);
  await submit(page, page.getByRole('button', { name: 'Suivant' }));
  assert.match(page.url(), /\/inscription\/identite$/);
  await check(page, 'inscription-4-identite');

  // Error state: no civilité.
  await page.getByLabel('Nom *', { exact: true }).fill('Durand');
  await page.getByLabel('Prénom *', { exact: true }).fill('Jeanne');
  await submit(page, page.getByRole('button', { name: 'Suivant' }));
  await expectAlert(page, 'Veuillez indiquer votre civilité');
  await check(page, 'inscription-4-identite-erreur');

  await tick(page, 'Madame');
  await submit(page, page.getByRole('button', { name: 'Suivant' }));
  assert.match(page.url(), /\/inscription\/organisation$/);
  await check(page, 'inscription-5-organisation');

  // Error state: the terms of use not accepted.
  await page.getByLabel('Poste occupé').fill('Responsable pédagogique');
  await page.getByLabel('SIREN (9 chiffres)').fill('732 829 320');
  await page.getByLabel("Raison sociale de l'entreprise").fill('Organisme de formation Durand');
  await submit(page, page.getByRole('button', { name: 'Créer mon compte' }));
  await expectAlert(page, '');
  await check(page, 'inscription-5-organisation-erreur');

  await tickBox(page, "J'accepte les conditions générales d'utilisation");
  await submit(page, page.getByRole('button', { name: 'Créer mon compte' }));
  await page.getByRole('heading', { level: 1, name: 'Votre compte EFP Connect est créé' }).waitFor();
  await check(page, 'inscription-terminee');
  const created = await nextMail(EMAIL);
  log(`account created; e-mail « ${created.subject} »`);
}

/** Ticks a DSFR radio button or checkbox as a person does: by clicking its label (the DSFR
 * draws its own box over the visually hidden input). */
async function tick(page, label) {
  await page.locator('label', { hasText: label }).click();
  assert.ok(await page.getByLabel(label).isChecked(), `« ${label} » is ticked`);
}

/** Fills the login form; checks the "Afficher" toggle shows then hides the password. */
async function fillLogin(page, email, password) {
  await page.getByLabel('Identifiant').fill(email);
  const field = page.locator('#password');
  await field.fill(password);
  assert.equal(await field.getAttribute('type'), 'password');
  await page.getByText('Afficher', { exact: true }).click();
  assert.equal(await field.getAttribute('type'), 'text', '« Afficher » shows the password');
  assert.equal(await field.inputValue(), password);
  await page.getByText('Afficher', { exact: true }).click();
  assert.equal(await field.getAttribute('type'), 'password', '« Afficher » hides it again');
}

async function loginAndLogout(page) {
  await page.goto(`${BASE_URL}/connexion`);
  // The page as guide 002 §3.1 shows it: the banner and its two panels.
  await page.getByText('Pour poursuivre, merci de vous connecter ou de créer un compte EFP Connect').waitFor();
  await page.getByRole('heading', { name: 'Je crée mon compte EFP Connect' }).waitFor();
  await page.getByRole('heading', { name: "Je m'identifie avec mon compte EFP Connect" }).waitFor();

  // Error state: a wrong password.
  await fillLogin(page, EMAIL, 'Pas-le-bon-mot-de-passe-1');
  await submit(page, page.getByRole('button', { name: "Je m'identifie avec EFP CONNECT" }));
  await expectAlert(page, '');
  await check(page, 'connexion-erreur');

  await fillLogin(page, EMAIL, PASSWORD);
  await page.getByText('Afficher', { exact: true }).click();
  await check(page, 'connexion-mot-de-passe-affiche');
  await submit(page, page.getByRole('button', { name: "Je m'identifie" }));
  await page.getByText('Vous êtes connecté').waitFor();
  assert.ok((await page.locator('main').innerText()).includes('Jeanne'), 'the home page names the user');
  await check(page, 'connecte');
  await logout(page);
}

async function logout(page) {
  await page.goto(`${BASE_URL}/`);
  await submit(page, page.getByRole('link', { name: 'Me déconnecter' }));
  await check(page, 'deconnexion-confirmation');
  await submit(page, page.getByRole('button', { name: 'Me déconnecter' }));
  await page.getByRole('heading', { level: 1, name: 'Vous êtes déconnecté' }).waitFor();
  await check(page, 'deconnecte');
}

async function resetWithCode(page) {
  await page.goto(`${BASE_URL}/connexion`);
  await submit(page, page.getByRole('link', { name: 'Réinitialiser mon mot de passe' }));
  await check(page, 'reinitialisation-1-email');

  // Error state: not an address.
  await page.getByLabel('Identifiant').fill('jeanne.durand');
  await submit(page, page.getByRole('button', { name: 'Suivant' }));
  await expectAlert(page, '');
  await check(page, 'reinitialisation-1-email-erreur');

  await page.getByLabel('Identifiant').fill(EMAIL);
  await submit(page, page.getByRole('button', { name: 'Suivant' }));
  assert.match(page.url(), /\/mot-de-passe-oublie\/code$/);
  await check(page, 'reinitialisation-2-code');
  const first = codeOf(await nextMail(EMAIL));

  // « Renvoyer le code »: a new code to the same address, the first one no longer valid.
  await submit(page, page.getByRole('button', { name: 'Renvoyer le code' }));
  await page.getByText('Un nouveau code vous a été envoyé').waitFor();
  await check(page, 'reinitialisation-2-code-renvoye');
  const code = codeOf(await nextMail(EMAIL));

  const wrong = first !== code ? first : code === '000000' ? '111111' : '000000';
  await page.getByLabel('Code de validation').fill(wrong);
  await submit(page, page.getByRole('button', { name: 'Suivant' }));
  await expectAlert(page, 'Le code saisi est incorrect');
  await check(page, 'reinitialisation-2-code-erreur');

  await page.getByLabel('Code de validation').fill(code);
  await submit(page, page.getByRole('button', { name: 'Suivant' }));
  assert.match(page.url(), /\/mot-de-passe-oublie\/nouveau$/);
  await check(page, 'reinitialisation-3-mot-de-passe');

  // Error state: too short.
  await page.locator('#password').fill('court');
  await page.getByLabel('Confirmation du mot de passe').fill('court');
  await submit(page, page.getByRole('button', { name: 'Suivant' }));
  await expectAlert(page, '');
  await check(page, 'reinitialisation-3-mot-de-passe-erreur');

  await page.locator('#password').fill(NEW_PASSWORD);
  await page.getByLabel('Confirmation du mot de passe').fill(NEW_PASSWORD);
  await submit(page, page.getByRole('button', { name: 'Suivant' }));
  await page.getByText('Votre mot de passe a été modifié avec succès').waitFor();
  await check(page, 'reinitialisation-terminee');

  // The new password opens the account.
  await submit(page, page.getByRole('link', { name: 'Terminer' }));
  await page.getByLabel('Identifiant').fill(EMAIL);
  await page.locator('#password').fill(NEW_PASSWORD);
  await submit(page, page.getByRole('button', { name: "Je m'identifie" }));
  await page.getByText('Vous êtes connecté').waitFor();
}

/** Enrols TOTP (logged in); returns the secret and the time step of the code used. */
async function enrolTotp(page) {
  await page.goto(`${BASE_URL}/compte/double-authentification`);
  await check(page, 'double-authentification');
  const secret = (await page.locator('#totp-secret').innerText()).trim();

  // Error state: a wrong code.
  const step = currentStep();
  const right = totp(secret, step);
  await page.getByLabel('Code de vérification').fill(right === '000000' ? '111111' : '000000');
  await submit(page, page.getByRole('button', { name: 'Activer' }));
  await expectAlert(page, '');
  await check(page, 'double-authentification-erreur');

  const used = currentStep();
  await page.getByLabel('Code de vérification').fill(totp(secret, used));
  await submit(page, page.getByRole('button', { name: 'Activer' }));
  await page.getByText('La double authentification est activée').waitFor();
  const codes = await page.locator('.idp-recovery-codes li').count();
  assert.equal(codes, 10, '10 recovery codes shown');
  await check(page, 'double-authentification-codes-de-secours');
  await logout(page);
  return { secret, used };
}

/** Logs in through a client's /authorize with the password then the TOTP code. */
async function loginWithTotp(page, { secret, used }) {
  await page.goto(AUTH_URL);
  assert.match(page.url(), /\/connexion/);
  await page.getByText('Pour accéder au service').waitFor();
  await check(page, 'connexion-application');
  await page.getByLabel('Identifiant').fill(EMAIL);
  await page.locator('#password').fill(NEW_PASSWORD);
  await submit(page, page.getByRole('button', { name: "Je m'identifie" }));
  await page.getByRole('heading', { level: 1, name: 'Code de vérification' }).waitFor();
  await check(page, 'connexion-code-totp');

  // A code is accepted once: the enrolment spent step `used`; one step of drift is allowed,
  // so the next step's code is valid already.
  const step = Math.max(currentStep(), used + 1);
  const right = totp(secret, step);
  await page.getByLabel('Code de vérification').fill(right === '000000' ? '111111' : '000000');
  await submit(page, page.getByRole('button', { name: 'Valider' }));
  await expectAlert(page, '');
  await check(page, 'connexion-code-totp-erreur');

  await page.getByLabel('Code de vérification').fill(right);
  // The provider redirects to the client's redirect URI, where nothing listens (the browser
  // shows its own error page): the request itself is what counts.
  const [callback] = await Promise.all([
    page.waitForRequest((request) => request.url().startsWith('https://rp.example/callback')),
    page.getByRole('button', { name: 'Valider' }).click(),
  ]);
  const back = new URL(callback.url());
  assert.ok(back.searchParams.get('code'), `an authorization code: ${callback.url()}`);
  assert.equal(back.searchParams.get('state'), 'etat-123');
  log('TOTP login through /authorize: back at the client with a code');
}

/** Guide 002 §5.2 from a service's login page: « Réinitialiser mon mot de passe », the
 * e-mailed link, the new password, and the journey ends on that service's login (not on the
 * provider's home). */
async function resetWithLink(page) {
  await page.goto(AUTH_URL);
  await page.getByText('Pour accéder au service').waitFor();
  await submit(page, page.getByRole('link', { name: 'Réinitialiser mon mot de passe' }));
  assert.match(page.url(), /\/mot-de-passe-oublie\?authreq=/, 'the service is kept');
  await page.getByLabel('Identifiant').fill(EMAIL);
  await submit(page, page.getByRole('button', { name: 'Suivant' }));
  const message = await nextMail(EMAIL);
  const link = message.text.match(/https?:\/\/\S+\/mot-de-passe-oublie\/lien\?jeton=\S+/);
  assert.ok(link, `no link in the e-mail:\n${message.text}`);
  await page.goto(link[0]);
  assert.match(page.url(), /\/mot-de-passe-oublie\/nouveau$/);
  await check(page, 'reinitialisation-lien-mot-de-passe');
  await page.locator('#password').fill(LAST_PASSWORD);
  await page.getByLabel('Confirmation du mot de passe').fill(LAST_PASSWORD);
  await submit(page, page.getByRole('button', { name: 'Suivant' }));
  await page.getByText('Votre mot de passe a été modifié avec succès').waitFor();
  await check(page, 'reinitialisation-lien-terminee');
  await submit(page, page.getByRole('link', { name: /^Se connecter à / }));
  assert.match(page.url(), /\/connexion\?authreq=/, `back to the service's login: ${page.url()}`);
  await page.getByText('Pour accéder au service').waitFor();
}

/** Ticks « Je ne suis pas un robot » as a person does: on its label (DSFR draws the box there). */
async function tickRobotBox(page) {
  const box = page.getByRole('checkbox', { name: 'Je ne suis pas un robot' });
  await page.locator('label[for=robot_check]').click({ position: { x: 8, y: 12 } });
  assert.ok(await box.isChecked(), '« Je ne suis pas un robot » is ticked');
}

/** The anti-robot widget on: the guide's « Je ne suis pas un robot » box; ticking it makes
 * /static/anti_robot.js solve the proof of work in the page. */
async function loginWithAntiRobot(page) {
  await page.goto(`${ROBOT_BASE_URL}/connexion`);
  const status = page.locator('#anti-robot-status');
  await page.getByLabel('Identifiant').fill(ROBOT_EMAIL);
  await page.locator('#password').fill(ROBOT_PASSWORD);
  // Not ticked: the page says so at the box and sends nothing.
  await page.getByRole('button', { name: "Je m'identifie" }).click();
  await page.getByText('Cochez la case « Je ne suis pas un robot » pour continuer.').waitFor();
  assert.match(page.url(), /\/connexion$/, 'nothing was sent');
  await check(page, 'anti-robot-non-coche');
  await tickRobotBox(page);
  await page.waitForFunction(() => document.getElementById('altcha')?.value !== '', null, {
    timeout: 20_000,
  });
  assert.match(
    await status.innerText(),
    /Je ne suis pas un robot : vérification effectuée/,
    'the widget says it is done, in the guide\'s words',
  );
  assert.ok(!(await page.locator('#robot_answer').isVisible()), 'the question is hidden');
  await check(page, 'anti-robot-connexion');
  await submit(page, page.getByRole('button', { name: "Je m'identifie" }));
  await page.getByText('Vous êtes connecté').waitFor();
  await check(page, 'anti-robot-connecte');

  // The sign-up's first step carries it too.
  await page.goto(`${ROBOT_BASE_URL}/inscription`);
  await page.getByLabel('Identifiant').fill('paul.martin@organisme-formation.fr');
  // Ticked and sent at once: the form waits for the check, then goes.
  await tickRobotBox(page);
  await submit(page, page.getByRole('button', { name: 'Suivant' }));
  await page.waitForURL(/\/inscription\/code$/, { timeout: 20_000 });
  assert.match(page.url(), /\/inscription\/code$/, 'the anti-robot check passed');
  await check(page, 'anti-robot-inscription-code');
}

/** The anti-robot check without its script (blocked, or JavaScript off): the question in
 * French words stays visible with its label, and the answer in digits is accepted. */
async function loginWithAntiRobotQuestion(page) {
  await page.route('**/static/anti_robot.js', (route) =>
    route.fulfill({ contentType: 'text/javascript', body: '' }),
  );
  await page.goto(`${ROBOT_BASE_URL}/connexion`);
  const question = page.getByLabel('Je ne suis pas un robot : Combien font', { exact: false });
  assert.ok(await question.isVisible(), 'the question is shown without the script');
  assert.ok(
    !(await page.locator('#anti-robot-check').isVisible()),
    'the box needs the script: hidden without it',
  );
  await check(page, 'anti-robot-question');
  const label = await page.locator('label[for=robot_answer]').innerText();
  const words = ['zéro', 'un', 'deux', 'trois', 'quatre', 'cinq', 'six', 'sept', 'huit', 'neuf',
    'dix', 'onze', 'douze', 'treize', 'quatorze', 'quinze', 'seize', 'dix-sept', 'dix-huit',
    'dix-neuf', 'vingt'];
  const sum = label.match(/Combien font (\S+) plus (\S+) \?/);
  assert.ok(sum, `a sum in words: ${label}`);
  const [a, b] = [words.indexOf(sum[1]), words.indexOf(sum[2])];
  assert.ok(a >= 0 && b >= 0, `numbers in words: ${sum[0]}`);
  await page.getByLabel('Identifiant').fill(ROBOT_EMAIL);
  await page.locator('#password').fill(ROBOT_PASSWORD);

  // Error state: a wrong answer brings the form back with a new question.
  await question.fill(String(a + b + 1));
  await submit(page, page.getByRole('button', { name: "Je m'identifie" }));
  await expectAlert(page, 'La vérification anti-robot a échoué');
  await check(page, 'anti-robot-question-erreur');

  const again = (await page.locator('label[for=robot_answer]').innerText()).match(
    /Combien font (\S+) plus (\S+) \?/,
  );
  await question.fill(String(words.indexOf(again[1]) + words.indexOf(again[2])));
  await page.locator('#password').fill(ROBOT_PASSWORD);
  await submit(page, page.getByRole('button', { name: "Je m'identifie" }));
  await page.getByText('Vous êtes connecté').waitFor();
}

/** The entry pages on a phone-sized screen (320 CSS pixels wide: WCAG's reflow width). */
/** « AGENT DU MINISTÈRE »: the button of the login page, the upstream's own login form (a
 * third-party OP, not checked by axe), EFP Connect's CGU at the first login, the agents' area;
 * « Me déconnecter » ends the upstream's session too, through its own confirmation. */
async function agentLogin(page) {
  await page.goto(`${ROBOT_BASE_URL}/connexion`);
  await check(page, 'agent-bouton');
  await page.getByRole('link', { name: 'AGENT DU MINISTÈRE' }).click();
  await page.getByLabel('Adresse électronique').fill(AGENT_LOGIN);
  await submit(page, page.getByRole('button', { name: 'Se connecter' }));
  await acceptEfpConnectCgu(page, 'agent-cgu');
  await page.goto(`${ROBOT_BASE_URL}/agent`);
  await page.getByRole('heading', { level: 1, name: 'Espace agent du ministère' }).waitFor();
  await check(page, 'agent-espace');
  await page.goto(`${ROBOT_BASE_URL}/`);
  await submit(page, page.getByRole('link', { name: 'Me déconnecter' }));
  await submit(page, page.getByRole('button', { name: 'Me déconnecter' }));
  // The upstream's page, then back to ours.
  await page.getByRole('heading', { level: 1, name: 'Fédération des agents (test)' }).waitFor();
  await submit(page, page.getByRole('button', { name: 'Me déconnecter' }));
  await page.getByRole('heading', { level: 1, name: 'Vous êtes déconnecté' }).waitFor();
  assert.equal(new URL(page.url()).pathname, '/deconnexion/agent');
}

async function smallScreen(page) {
  await page.setViewportSize({ width: 320, height: 640 });
  for (const [path, name] of [
    ['/connexion', 'mobile-connexion'],
    ['/inscription', 'mobile-inscription'],
    ['/mot-de-passe-oublie', 'mobile-reinitialisation'],
  ]) {
    await page.goto(`${BASE_URL}${path}`);
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth > document.documentElement.clientWidth,
    );
    assert.ok(!overflow, `${path}: no horizontal scrolling at 320 px`);
    await check(page, name);
  }
}

/** The footer's help (N°Vert, portal) and legal pages, reached by their links' labels, and the
 * « Page non trouvée » page of an unknown path. */
async function helpAndLegal(page) {
  await page.goto(`${BASE_URL}/connexion`);
  const footer = page.getByRole('contentinfo');
  assert.match(await footer.innerText(), /N°Vert 0 805 032 430 \(service et appel gratuits\), du lundi au vendredi de 9h à 18h/);
  assert.ok(await footer.getByRole('link', { name: /Portail d'assistance/ }).isVisible());
  for (const [link, heading, name] of [
    ['Mentions légales', 'Mentions légales', 'mentions-legales'],
    ['Données personnelles', 'Données personnelles', 'donnees-personnelles'],
    ['Accessibilité : partiellement conforme', "Déclaration d'accessibilité", 'accessibilite'],
    ['Plan du site', 'Plan du site', 'plan-du-site'],
  ]) {
    await submit(page, page.getByRole('contentinfo').getByRole('link', { name: link, exact: true }));
    assert.ok(await page.getByRole('heading', { level: 1, name: heading }).isVisible(), `${link}: « ${heading} »`);
    await check(page, name);
  }
  const response = await page.goto(`${BASE_URL}/page-qui-n-existe-pas`);
  assert.equal(response.status(), 404);
  assert.ok(await page.getByRole('heading', { level: 1, name: 'Page non trouvée' }).isVisible());
  await check(page, 'page-non-trouvee');
  await submit(page, page.getByRole('main').getByRole('link', { name: "Page d'accueil" }));
  assert.equal(new URL(page.url()).pathname, '/');
}

// ---------------------------------------------------------------------------------------------

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  // playwright-core starts it with a new empty profile (a temporary user-data dir) each time.
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
let failed = false;
try {
  // Each journey in its own context: its own cookies, as a new browser would have.
  const journey = async (name, run) => {
    const context = await browser.newContext({ locale: 'fr-FR', viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      // The error states the journeys ask for come with a 4xx status, which Chromium reports
      // for the page itself: only that report is expected.
      const ownStatus =
        m.location().url === page.url() && /^Failed to load resource: .* status of 4\d\d/.test(m.text());
      if (!ownStatus) consoleErrors.push(`${name}: ${m.text()} (${m.location().url || page.url()})`);
    });
    page.on('pageerror', (e) => consoleErrors.push(`${name}: ${e.message} (${page.url()})`));
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
  await journey('inscription', signup);
  await journey('connexion', loginAndLogout);
  await journey('reinitialisation-code', resetWithCode);
  let totpState;
  await journey('double-authentification', async (page) => {
    await page.goto(`${BASE_URL}/connexion`);
    await page.getByLabel('Identifiant').fill(EMAIL);
    await page.locator('#password').fill(NEW_PASSWORD);
    await submit(page, page.getByRole('button', { name: "Je m'identifie" }));
    totpState = await enrolTotp(page);
  });
  await journey('connexion-totp', (page) => loginWithTotp(page, totpState));
  await journey('reinitialisation-lien', resetWithLink);
  await journey('anti-robot', loginWithAntiRobot);
  await journey('anti-robot-sans-script', loginWithAntiRobotQuestion);
  await journey('agent-du-ministere', agentLogin);
  await journey('petit-ecran', smallScreen);
  await journey('aide-et-mentions', helpAndLegal);
  assert.deepEqual(consoleErrors, [], 'no error in the browser console');
  log(`all journeys passed: ${shot} pages checked by axe, screenshots in ${SCREENSHOT_DIR}`);
} catch (e) {
  failed = true;
  console.error(`FAILED: ${e.stack ?? e}`);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
