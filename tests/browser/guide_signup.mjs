// Sign-up and EFP Connect's CGU as guide 002 §3.2 shows them, in a real browser (Debian's
// Chromium driven by playwright-core), with an axe-core check on every page shown:
//   - from a service's /authorize, « Je crée mon compte EFP CONNECT »; the e-mail's button
//     (« cliquer sur le bouton ci-dessous ») opened in a SECOND browser context shows step 2
//     with the code filled in; a password holding the prénom is refused once the names are
//     known; the organisation asked as the guide does (« Poste occupé », « Raison sociale ou
//     SIREN (9 chiffres) de l'entreprise », the establishment); the CGU's link opens the CGU
//     page in a new window; « Se connecter » and the login go back to the service;
//   - a new version of the CGU is published: the next login asks for it before the service.
//
// Run by tests/tests/browser.rs (`browser_guide_sign_up_and_cgu`), which sets:
//   BASE_URL, MAIL_DIR, SCREENSHOT_DIR, CHROMIUM   as for journeys.mjs
//   AUTH_URL        /authorize of a client (no habilitation required)
//   REDIRECT_URI    that client's redirect URI
//   SIREN, SIRET_NAME   a company in the register and its one establishment's name
//   SIGNAL_DIR      where this script asks (file `publier`) for a new version of the CGU, and
//                   the test answers (file `publiee`) once it is published

import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import {
  check, env, linkIn, log, login, nextMail, runJourneys, submit, tick, tickBox,
} from './common.mjs';

const AUTH_URL = env('AUTH_URL');
const REDIRECT_URI = env('REDIRECT_URI');
const SIREN = env('SIREN');
const SIRET_NAME = env('SIRET_NAME');
const SIGNAL_DIR = env('SIGNAL_DIR');
// Not « jean.dupont@… »: the e-mail rule would refuse the password first.
const EMAIL = 'responsable.pedagogique@organisme-guide.fr';
const PASSWORD = 'Tulipe-Orage-Automne-42';
const CGU = "J'accepte les conditions générales d'utilisation";

/** Logs in at the page's login form and waits for the client's redirect URI with a code. */
async function loginBackToService(page, email, password) {
  const [callback] = await Promise.all([
    page.waitForRequest((request) => request.url().startsWith(REDIRECT_URI)),
    login(page, email, password).catch(() => {}),
  ]);
  assert.ok(new URL(callback.url()).searchParams.get('code'), `a code: ${callback.url()}`);
}

/** Steps 1–5 of §3.2, started from the service, the code's link opened in another context. */
async function signUp(page) {
  await page.goto(AUTH_URL);
  assert.match(page.url(), /\/connexion/);
  await submit(page, page.getByRole('link', { name: 'Je crée mon compte EFP CONNECT' }));
  await page.getByText('Étape 1 sur 5').waitFor();
  await check(page, 'etape-1-email');
  await page.getByLabel('Identifiant').fill(EMAIL);
  await submit(page, page.getByRole('button', { name: 'Suivant' }));
  assert.match(page.url(), /\/inscription\/code$/);

  // The e-mail's button, opened in another browser context: step 2 with the code filled in.
  const mail = await nextMail(EMAIL);
  assert.equal(mail.subject, 'Validation de votre compte EFP CONNECT');
  assert.ok(mail.html.includes('Vous pouvez également cliquer sur le bouton ci-dessous'));
  const code = mail.text.split('\n').map((l) => l.trim()).find((l) => /^\d{6}$/.test(l));
  const link = linkIn(mail, '/inscription/lien\\?jeton=');
  const other = await page.context().browser().newContext({ locale: 'fr-FR', viewport: { width: 1280, height: 900 } });
  try {
    const second = await other.newPage();
    second.setDefaultTimeout(30_000);
    await second.goto(link);
    await second.getByText('Étape 2 sur 5').waitFor();
    assert.equal(await second.getByLabel('Code de validation reçu par e-mail').inputValue(), code);
    await check(second, 'etape-2-code-par-le-lien');
    await submit(second, second.getByRole('button', { name: 'Suivant' }));
    assert.match(second.url(), /\/inscription\/mot-de-passe$/);

    // Step 3, then 4: the prénom in the password is found once the names are known.
    await second.locator('#password').fill(`Jean-${PASSWORD}`);
    await second.getByLabel('Confirmation du mot de passe').fill(`Jean-${PASSWORD}`);
    await submit(second, second.getByRole('button', { name: 'Suivant' }));
    await tick(second, 'Monsieur');
    await second.getByLabel('Nom *', { exact: true }).fill('Dupont');
    await second.getByLabel('Prénom *', { exact: true }).fill('Jean');
    await submit(second, second.getByRole('button', { name: 'Suivant' }));
    assert.match(second.url(), /\/inscription\/mot-de-passe$/);
    await second.getByText('Le mot de passe ne doit contenir ni votre nom ni votre prénom.').waitFor();
    await check(second, 'etape-3-mot-de-passe-avec-le-prenom');
    await second.locator('#password').fill(PASSWORD);
    await second.getByLabel('Confirmation du mot de passe').fill(PASSWORD);
    await submit(second, second.getByRole('button', { name: 'Suivant' }));

    // Step 5 as the guide asks it: the poste, the company, then the establishment.
    assert.match(second.url(), /\/inscription\/organisation$/);
    await second.getByText('Identité : M. JEAN DUPONT').waitFor();
    await second.getByLabel('Poste occupé').fill('DRH');
    await second.getByLabel('Raison sociale ou SIREN (9 chiffres) de l\'entreprise').fill(SIREN);
    await submit(second, second.getByRole('button', { name: 'Rechercher' }));
    await second.getByText('1 résultats affichés sur 1').waitFor();
    assert.equal(await second.getByLabel('Poste occupé').inputValue(), 'DRH');
    await tick(second, SIRET_NAME);
    await check(second, 'etape-5-organisation');

    // The CGU's link opens their page in a new window.
    const cguLink = second.getByRole('link', { name: /conditions générales d'utilisation/ });
    assert.equal(await cguLink.getAttribute('target'), '_blank');
    assert.match(await cguLink.getAttribute('title'), /nouvelle fenêtre/);
    const [cguPage] = await Promise.all([second.context().waitForEvent('page'), cguLink.click()]);
    await cguPage.waitForLoadState();
    await cguPage
      .getByRole('heading', { level: 1, name: "Conditions générales d'utilisation d'EFP Connect" })
      .waitFor();
    await cguPage.getByText(/^Version 1 du \d\d\/\d\d\/\d{4}$/).waitFor();
    await check(cguPage, 'cgu-efp-connect');
    await cguPage.close();

    await tickBox(second, CGU);
    await submit(second, second.getByRole('button', { name: 'Créer mon compte' }));
    await second.getByRole('heading', { level: 1, name: 'Votre compte EFP Connect est créé' }).waitFor();
    await check(second, 'compte-cree');
    // « Se connecter » resumes the service's request, even in this other browser.
    await submit(second, second.getByRole('link', { name: 'Se connecter' }));
    assert.match(second.url(), /\/connexion\?authreq=/);
    await loginBackToService(second, EMAIL, PASSWORD);
    log('signed up from the service, back at the service with a code');
  } finally {
    await other.close();
  }
}

/** A new version of the CGU: asked at the next login, before the service. */
async function newVersion(page) {
  writeFileSync(join(SIGNAL_DIR, 'publier'), '');
  const deadline = Date.now() + 15_000;
  while (!existsSync(join(SIGNAL_DIR, 'publiee'))) {
    assert.ok(Date.now() < deadline, 'the test publishes version 2');
    await page.waitForTimeout(100);
  }
  await page.goto(AUTH_URL);
  await login(page, EMAIL, PASSWORD);
  await page.getByText("Les conditions générales d'utilisation d'EFP Connect ont évolué.").waitFor();
  await page.getByText(/^Version 2 du /).waitFor();
  await check(page, 'cgu-nouvelle-version');
  await tick(page, CGU);
  const [callback] = await Promise.all([
    page.waitForRequest((request) => request.url().startsWith(REDIRECT_URI)),
    page.getByRole('button', { name: 'Continuer' }).click(),
  ]);
  assert.ok(new URL(callback.url()).searchParams.get('code'), `a code: ${callback.url()}`);
  log('version 2 accepted at login, back at the service');
}

await runJourneys(async (journey) => {
  await journey('inscription', signUp);
  await journey('nouvelles-cgu', newVersion);
});
