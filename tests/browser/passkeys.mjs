// Passkeys in Chromium with its virtual authenticator (DevTools protocol `WebAuthn`): a person
// adds a passkey on « Mon compte » after a password login, confirms a service's request for
// two factors with it (step-up, acr eidas2), logs in without a password, uses it as the second
// factor after the password; a copy of the key whose counter went back is refused; the key is
// removed after a login with the password and one of the recovery codes given with the first
// key. axe-core on every new page. Started by tests/tests/suite/browser.rs.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';

import { check, env, log, login, runJourneys, submit } from './common.mjs';

const BASE_URL = env('BASE_URL');
const STEP_UP_URL = env('STEP_UP_URL');
const EMAIL = env('EMAIL');
const PASSWORD = env('PASSWORD');
// Where the step-up's callback URL is written: the test redeems its code and reads the ID token.
const CALLBACK_FILE = env('CALLBACK_FILE');
const NAME = 'Ordinateur du bureau';

/** A virtual platform authenticator that keeps discoverable credentials and verifies its user. */
async function authenticator(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
    },
  });
  return { cdp, authenticatorId };
}

/** Runs the ceremony page: checked by axe as `name`, its button clicked, the next page loaded. */
async function ceremony(page, name, button) {
  await page.locator('#passkey-form').waitFor();
  await check(page, name);
  await submit(page, page.getByRole('button', { name: button }));
}

async function logout(page) {
  await page.goto(`${BASE_URL}/`);
  await submit(page, page.getByRole('link', { name: 'Me déconnecter' }));
  await submit(page, page.getByRole('button', { name: 'Me déconnecter' }));
  await page.getByRole('heading', { level: 1, name: 'Vous êtes déconnecté' }).waitFor();
}

/** « Se connecter avec une clé d'accès » from the login page; returns the page reached. */
async function passwordless(page, name) {
  await page.goto(`${BASE_URL}/connexion`);
  await submit(page, page.getByRole('button', { name: "Se connecter avec une clé d'accès" }));
  await ceremony(page, name, "Utiliser ma clé d'accès");
}

await runJourneys(async (journey) => {
  await journey('cles-d-acces', async (page) => {
    const { cdp, authenticatorId } = await authenticator(page);

    // A password login (one factor), then « Ajouter une clé d'accès » on « Mon compte ».
    await page.goto(`${BASE_URL}/connexion?retour=/compte`);
    await check(page, 'connexion-avec-cle-d-acces');
    await login(page, EMAIL, PASSWORD);
    await page.getByRole('heading', { level: 1, name: 'Gérer mon compte' }).waitFor();
    await page.getByText("Vous n'avez pas encore de clé d'accès.").waitFor();
    await submit(page, page.getByRole('link', { name: "Ajouter une clé d'accès" }));
    await check(page, 'cle-d-acces-nom');
    await page.getByLabel("Nom de la clé d'accès").fill(NAME);
    await submit(page, page.getByRole('button', { name: 'Continuer' }));
    await ceremony(page, 'cle-d-acces-creation', "Créer la clé d'accès");
    // The first second factor of this account: recovery codes come with it, shown once.
    await page.getByRole('heading', { level: 1, name: "Clé d'accès ajoutée" }).waitFor();
    await check(page, 'cle-d-acces-codes-de-secours');
    const codes = await page.locator('#recovery-codes code').allInnerTexts();
    assert.equal(codes.length, 10);
    await submit(page, page.getByRole('link', { name: 'Continuer' }));
    await page.getByText("Votre clé d'accès a été ajoutée.").waitFor();
    const row = page.locator('#passkeys tbody tr');
    assert.equal(await row.count(), 1);
    assert.match(await row.innerText(), new RegExp(`${NAME}\\s+\\d{2}/\\d{2}/\\d{4}\\s+Jamais`));
    await check(page, 'compte-cles-d-acces');
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    assert.equal(credentials.length, 1);
    assert.ok(credentials[0].isResidentCredential, 'a discoverable credential');
    log('passkey registered');

    // Step-up: this session has one factor, the service asks for two (acr eidas2): the passkey
    // confirms it without the password, and the service gets its code.
    await page.goto(STEP_UP_URL);
    await page.getByRole('heading', { level: 1, name: 'Code de vérification' }).waitFor();
    assert.equal(await page.getByLabel('Code de vérification').count(), 1, 'the recovery codes');
    await check(page, 'code-cle-d-acces');
    await submit(page, page.getByRole('button', { name: "Utiliser une clé d'accès" }));
    await page.locator('#passkey-form').waitFor();
    await check(page, 'code-cle-d-acces-ceremonie');
    // Nothing listens at the client's redirect URI: the request is what counts, and Chromium's
    // error page (committed before the next navigation starts) ends that navigation.
    const [callback] = await Promise.all([
      page.waitForRequest((r) => r.url().startsWith('https://rp.example/callback')),
      page.waitForEvent('framenavigated', (f) => f.url().startsWith('chrome-error:')),
      page.getByRole('button', { name: "Utiliser ma clé d'accès" }).click(),
    ]);
    const back = new URL(callback.url());
    assert.ok(back.searchParams.get('code'), `an authorization code: ${callback.url()}`);
    writeFileSync(CALLBACK_FILE, callback.url());
    log('step-up with the passkey: back at the client with a code');

    // Passwordless: no e-mail, no password.
    await logout(page);
    await passwordless(page, 'connexion-cle-d-acces');
    await page.getByText('Vous êtes connecté').waitFor();
    await page.goto(`${BASE_URL}/compte`);
    assert.doesNotMatch(await row.innerText(), /Jamais/, 'the last use is shown');
    log('passwordless login');

    // The password, then the passkey as the second factor.
    await logout(page);
    await page.goto(`${BASE_URL}/connexion?retour=/compte`);
    await login(page, EMAIL, PASSWORD);
    await submit(page, page.getByRole('button', { name: "Utiliser une clé d'accès" }));
    await ceremony(page, 'code-cle-d-acces-connexion', "Utiliser ma clé d'accès");
    await page.getByRole('heading', { level: 1, name: 'Gérer mon compte' }).waitFor();
    log('password then passkey');

    // A copy of the key whose signature counter went back is refused.
    const [original] = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
    assert.ok(original.signCount > 0, `the authenticator counts its signatures (${original.signCount})`);
    await cdp.send('WebAuthn.removeCredential', {
      authenticatorId,
      credentialId: original.credentialId,
    });
    await cdp.send('WebAuthn.addCredential', {
      authenticatorId,
      credential: { ...original, signCount: 0 },
    });
    await logout(page);
    await passwordless(page, 'connexion-cle-d-acces-copiee');
    await page.getByText('elle a peut-être été copiée').waitFor();
    await check(page, 'cle-d-acces-refusee');
    log('a cloned passkey (counter went back) is refused');

    // The way back without the key: the password, then a recovery code; then « Supprimer ».
    await page.goto(`${BASE_URL}/connexion?retour=/compte`);
    await login(page, EMAIL, PASSWORD);
    await page.getByLabel('Code de vérification').fill(codes[0]);
    await submit(page, page.getByRole('button', { name: 'Valider' }));
    await page.getByRole('heading', { level: 1, name: 'Gérer mon compte' }).waitFor();
    log('password and a recovery code without the key');
    await submit(page, page.getByRole('link', { name: 'Supprimer', exact: true }));
    await check(page, 'cle-d-acces-suppression');
    await submit(page, page.getByRole('button', { name: "Supprimer cette clé d'accès" }));
    await page.getByText("La clé d'accès a été supprimée.").waitFor();
    assert.equal(await page.locator('#passkeys').count(), 0);
    log('passkey removed');
  });
});
