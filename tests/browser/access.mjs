// The access journeys of guide 002 in a real browser (Debian's Chromium driven by
// playwright-core), with an axe-core check on every page shown, error states included:
//   4. first access with an activation code (§3.2 steps 13–24), from a client's /authorize
//      back to its redirect URI;
//   5. an access request, handled by the Responsable des accès from the e-mail's link (§4);
//   6. « Gérer les accès de mon entreprise »: a user's habilitations, an invitation of a new
//      person who chooses a password from the e-mail's link (§6);
//   the ministry agents' area: « Éditer le courrier d'activation ».
//
// Run by tests/tests/browser.rs (`browser_access_journeys_pass_axe_on_every_page`), which sets up
// the service, the establishment, the code and the accounts, and sets:
//   BASE_URL, MAIL_DIR, SCREENSHOT_DIR, CHROMIUM   as for journeys.mjs
//   AUTH_URL        /authorize of a client linked to CERES with --requires-habilitation
//   REDIRECT_URI    that client's redirect URI
//   SIRET, SIRET_NAME, CODE   the establishment in the register, its name, its activation code
//   MANAGER_EMAIL, REQUESTER_EMAIL, AGENT_EMAIL, PASSWORD   accounts (one password)
//   INVITEE_EMAIL   an address without an account, invited in journey 6

import assert from 'node:assert/strict';

import {
  acceptEfpConnectCgu, check, env, expectAlert, linkIn, log, login, nextMail, runJourneys, submit, tick,
} from './common.mjs';

const BASE_URL = env('BASE_URL');
const AUTH_URL = env('AUTH_URL');
const REDIRECT_URI = env('REDIRECT_URI');
const SIRET = env('SIRET');
const SIRET_NAME = env('SIRET_NAME');
const CODE = env('CODE');
const MANAGER = env('MANAGER_EMAIL');
const REQUESTER = env('REQUESTER_EMAIL');
const AGENT = env('AGENT_EMAIL');
const PASSWORD = env('PASSWORD');
const INVITEE = env('INVITEE_EMAIL');
const INVITEE_PASSWORD = 'Ciel-Bleu-Automne-2025';

/** The next e-mail to `to` whose subject contains `subject`. */
async function mailAbout(to, subject) {
  for (;;) {
    const message = await nextMail(to);
    if (message.subject.includes(subject)) return message;
    log(`(skipped e-mail to ${to}: « ${message.subject} »)`);
  }
}

/** Journey 4: the first access with an activation code, from the client's /authorize. */
async function firstAccess(page) {
  await page.goto(AUTH_URL);
  assert.match(page.url(), /\/connexion/);
  await login(page, MANAGER, PASSWORD);
  await page
    .getByRole('heading', { level: 1, name: "Vous n'avez pas accès au service numérique CERES." })
    .waitFor();
  await check(page, 'premier-acces-sans-acces');

  // Error state: a well-formed code that is not this establishment's.
  await page.getByLabel("SIRET de l'établissement").fill(SIRET);
  await page.getByLabel("Code d'activation").fill(CODE === 'ABCDEFGHJKLM' ? 'MLKJHGFEDCBA' : 'ABCDEFGHJKLM');
  await submit(page, page.getByRole('button', { name: "Demander l'accès" }));
  await expectAlert(page, '');
  await check(page, 'premier-acces-code-erreur');

  await page.getByLabel("SIRET de l'établissement").fill(SIRET);
  await page.getByLabel("Code d'activation").fill(CODE);
  await submit(page, page.getByRole('button', { name: "Demander l'accès" }));
  assert.match(page.url(), /\/acces\/ceres\/charte/);
  await check(page, 'premier-acces-charte');

  // Error state: « Continuer » without accepting.
  await submit(page, page.getByRole('button', { name: 'Continuer' }));
  await expectAlert(page, '');
  await check(page, 'premier-acces-charte-erreur');

  await tick(page, "J'accepte de devenir responsable des accès.");
  await submit(page, page.getByRole('button', { name: 'Continuer' }));
  await page.getByRole('heading', { level: 1, name: 'Gestion de mes accès' }).waitFor();
  await check(page, 'premier-acces-gestion-de-mes-acces');

  await page.getByLabel('Mon rôle').selectOption('centre_agree');
  await page.getByLabel('Date de fin (MM/AAAA)').fill('06/2099');
  await submit(page, page.getByRole('button', { name: "Ajouter l'habilitation" }));
  await page.getByRole('heading', { name: 'Liste de vos habilitations' }).waitFor();
  assert.ok((await page.locator('main').innerText()).includes('06/2099'), 'the end date is listed');
  await check(page, 'premier-acces-habilitation-ajoutee');

  // The provider resumes the authorization request and redirects to the client, where nothing
  // listens: the request itself is what counts.
  const [callback] = await Promise.all([
    page.waitForRequest((request) => request.url().startsWith(REDIRECT_URI)),
    page.getByRole('button', { name: 'Terminer' }).click(),
  ]);
  const back = new URL(callback.url());
  assert.ok(back.searchParams.get('code'), `an authorization code: ${callback.url()}`);
  log('first access: back at the client with a code');
}

/** Journey 5: a colleague asks for access; the manager accepts from the e-mail's link. */
async function accessRequest(page) {
  await page.goto(`${BASE_URL}/connexion`);
  await login(page, REQUESTER, PASSWORD);
  await page.goto(`${BASE_URL}/acces/ceres/demande`);
  await check(page, 'demande-formulaire');

  await page.getByLabel('Raison sociale ou SIRET').fill(SIRET_NAME.split(' ').slice(0, 2).join(' '));
  await submit(page, page.getByRole('button', { name: 'Rechercher' }));
  await check(page, 'demande-resultats');
  await tick(page, SIRET_NAME);
  await page.getByLabel('Vous pouvez ajouter une description').fill('Je suis formateur au centre depuis septembre.');
  await submit(page, page.getByRole('button', { name: "Demander l'accès" }));
  await page.getByText('Un e-mail a été envoyé à votre Responsable des accès, le').waitFor();
  assert.ok(await page.getByRole('button', { name: 'Relancer ma demande' }).isDisabled(), 'no resend yet');
  await check(page, 'demande-envoyee');

  // The manager, in their own browser, follows the e-mail's link (the login comes first).
  const message = await mailAbout(MANAGER, "Nouvelle demande d'accès");
  const link = linkIn(message, '/acces/ceres/demandes/');
  const manager = await page.context().browser().newContext({ locale: 'fr-FR', viewport: { width: 1280, height: 900 } });
  try {
    const other = await manager.newPage();
    other.setDefaultTimeout(15_000);
    await other.goto(link);
    assert.match(other.url(), /\/connexion/);
    await login(other, MANAGER, PASSWORD);
    assert.ok(other.url().startsWith(link), `back at the request: ${other.url()}`);
    await check(other, 'demande-traitement');
    await other.getByLabel('Rôle').selectOption('centre_agree');
    await submit(other, other.getByRole('button', { name: "Ajouter l'habilitation" }));
    await other.getByRole('table', { name: 'Liste des habilitations' }).waitFor();
    await submit(other, other.getByRole('button', { name: 'Terminer' }));
    await other.getByText('La demande de Paul Formateur a été acceptée').waitFor();
    await check(other, 'demande-acceptee');
  } finally {
    await manager.close();
  }
  const accepted = await mailAbout(REQUESTER, 'accept');
  log(`request accepted; e-mail « ${accepted.subject} »`);
}

/** Journey 6: « Gérer les accès de mon entreprise », then « Inviter un utilisateur ». */
async function manage(page) {
  await page.goto(`${BASE_URL}/connexion`);
  await login(page, MANAGER, PASSWORD);
  await page.goto(`${BASE_URL}/acces/ceres/gestion`);
  await page.getByRole('heading', { level: 1, name: 'Gérer les accès de mon entreprise' }).waitFor();
  await check(page, 'gestion-utilisateurs');
  // The setup left Claire Stagiaire's request pending: the red badge counts it.
  const tabs = page.getByRole('navigation', { name: 'Gestion des accès' });
  const requestsTab = tabs.getByRole('link', { name: /^Demandes d'accès/ });
  assert.equal((await requestsTab.locator('.idp-badge').innerText()).trim(), '1', 'one pending request');
  await submit(page, requestsTab);
  await page.getByText('Stagiaire').first().waitFor();
  await check(page, 'gestion-demandes');
  await submit(page, tabs.getByRole('link', { name: 'Invitations' }));
  await check(page, 'gestion-invitations');
  await submit(page, tabs.getByRole('link', { name: 'Utilisateurs' }));

  // A user's page: add a habilitation, then remove it.
  await submit(page, page.getByRole('link', { name: 'Paul Formateur' }));
  await page.getByRole('heading', { level: 1, name: 'Paul Formateur' }).waitFor();
  await check(page, 'gestion-utilisateur');
  await page.getByLabel('Rôle').selectOption('gestionnaire_centres');
  await submit(page, page.getByRole('button', { name: "Ajouter l'habilitation" }));
  const cell = page.getByRole('cell', { name: 'Gestionnaire CENTRES', exact: true });
  await cell.waitFor();
  await check(page, 'gestion-utilisateur-habilitation-ajoutee');
  // « Modifier la date de fin »: its own form, a success message, the date in MM/AAAA.
  await submit(page, page.getByRole('link', { name: /^Modifier la date de fin de l'habilitation Gestionnaire CENTRES/ }));
  await page.getByLabel('Nouvelle date de fin (MM/AAAA)').fill('03/2099');
  await check(page, 'gestion-utilisateur-date-de-fin');
  await submit(page, page.getByRole('button', { name: 'Enregistrer la date de fin' }));
  await page.getByText("La date de fin de l'habilitation a été modifiée.").waitFor();
  await page.getByText('Fin : 03/2099').waitFor();
  await submit(page, page.getByRole('link', { name: /^Retirer l'habilitation Gestionnaire CENTRES/ }));
  await page.getByText(/^Êtes-vous sûr de vouloir retirer l'habilitation « Gestionnaire CENTRES »/).waitFor();
  await check(page, 'gestion-utilisateur-retrait-confirmation');
  await submit(page, page.getByRole('button', { name: 'Confirmer le retrait' }));
  await page.getByText("L'habilitation a été retirée.").waitFor();
  assert.equal(await cell.count(), 0, 'the habilitation is removed');
  await check(page, 'gestion-utilisateur-habilitation-retiree');

  // « Inviter un utilisateur » in 5 steps.
  await submit(page, page.getByRole('link', { name: 'Retour à la liste des utilisateurs' }));
  await submit(page, page.getByRole('link', { name: 'Inviter un utilisateur' }));
  await check(page, 'invitation-1-email');
  await page.getByLabel("Adresse e-mail de l'utilisateur").fill('pas-une-adresse');
  await submit(page, page.getByRole('button', { name: 'Suivant' }));
  await expectAlert(page, '');
  await check(page, 'invitation-1-email-erreur');
  await page.getByLabel("Adresse e-mail de l'utilisateur").fill(INVITEE);
  await submit(page, page.getByRole('button', { name: 'Suivant' }));
  await check(page, 'invitation-2-type');
  await submit(page, page.getByRole('button', { name: 'Suivant' }));
  await check(page, 'invitation-3-identite');
  await tick(page, 'Monsieur');
  await page.getByLabel('Nom *', { exact: true }).fill('Invité');
  await page.getByLabel('Prénom *', { exact: true }).fill('Louis');
  await submit(page, page.getByRole('button', { name: 'Suivant' }));
  await check(page, 'invitation-4-organisation');
  await page.getByLabel('Poste occupé').fill('Formateur');
  await page.getByLabel("Raison sociale ou SIREN de l'entreprise").fill(SIRET);
  await submit(page, page.getByRole('button', { name: 'Rechercher' }));
  await tick(page, SIRET_NAME);
  await check(page, 'invitation-4-organisation-resultats');
  await submit(page, page.getByRole('button', { name: 'Suivant' }));
  await check(page, 'invitation-5-habilitations');
  await page.getByLabel('Rôle').selectOption('centre_agree');
  await submit(page, page.getByRole('button', { name: "Ajouter l'habilitation" }));
  await page.getByText('Liste des habilitations de').waitFor();
  await check(page, 'invitation-5-habilitation-ajoutee');
  await submit(page, page.getByRole('button', { name: 'Terminer' }));
  assert.match(page.url(), /\/acces\/ceres\/gestion\/invitations/);
  await page.getByText('Louis').first().waitFor();
  await check(page, 'invitation-envoyee');

  // The invited person chooses a password from the e-mail's link (reset step 3), then logs in.
  const message = await mailAbout(INVITEE, 'habilitation');
  const link = linkIn(message, '/mot-de-passe-oublie/lien\\?jeton=');
  const invitee = await page.context().browser().newContext({ locale: 'fr-FR', viewport: { width: 1280, height: 900 } });
  try {
    const other = await invitee.newPage();
    other.setDefaultTimeout(15_000);
    await other.goto(link);
    assert.match(other.url(), /\/mot-de-passe-oublie\/nouveau$/);
    // A first password, not a reset: the page says so.
    await other.getByRole('heading', { level: 1, name: 'Création de votre mot de passe' }).waitFor();
    await check(other, 'invitation-mot-de-passe');
    await other.locator('#password').fill(INVITEE_PASSWORD);
    await other.getByLabel('Confirmation du mot de passe').fill(INVITEE_PASSWORD);
    await submit(other, other.getByRole('button', { name: 'Suivant' }));
    await other.getByText('Votre mot de passe a été créé.').waitFor();
    await submit(other, other.getByRole('link', { name: 'Terminer' }));
    await login(other, INVITEE, INVITEE_PASSWORD);
    // Invited, never signed up: EFP Connect's CGU are asked at the first login.
    await acceptEfpConnectCgu(other, 'invitation-cgu-efp-connect');
    await other.getByText('Vous êtes connecté').waitFor();
    // The provider's home lists the person's services, CERES with the habilitation given.
    await other.getByRole('heading', { level: 2, name: 'Mes services' }).waitFor();
    await other.getByRole('heading', { level: 3, name: /CERES/ }).waitFor();
    await other.getByText(/^Centre agréé/).first().waitFor();
    await check(other, 'invitation-connecte');
    // The e-mail's « Note : Vous pouvez consulter vos habilitations sur … » leads to them.
    assert.ok(message.text.includes('Un administrateur vous a donné accès au service numérique CERES en tant que Centre agréé'), message.text);
    await other.goto(linkIn(message, '/compte/habilitations').replace(/\.$/, ''));
    await other.getByRole('heading', { level: 1, name: 'Mes habilitations' }).waitFor();
    await other.getByRole('cell', { name: 'Centre agréé', exact: true }).waitFor();
    await check(other, 'invitation-mes-habilitations');
  } finally {
    await invitee.close();
  }
}

/** The ministry agents' area: look up the establishment, issue a new activation letter. */
async function agent(page) {
  await page.goto(`${BASE_URL}/connexion`);
  await login(page, AGENT, PASSWORD);
  await page.goto(`${BASE_URL}/agent`);
  await check(page, 'agent-accueil');
  await page.getByLabel("SIRET de l'établissement").fill(SIRET);
  await submit(page, page.getByRole('button', { name: 'Rechercher' }));
  await page.getByRole('heading', { level: 2, name: /^Établissement SIRET/ }).waitFor();
  await check(page, 'agent-etablissement');
  await submit(page, page.getByRole('button', { name: "Éditer le courrier d'activation" }));
  await page.getByRole('heading', { level: 1, name: "Code d'activation émis" }).waitFor();
  assert.match((await page.locator('#code-activation').innerText()).trim(), /^[A-Z2-9]{12}$/);
  await check(page, 'agent-code');
}

await runJourneys(async (journey) => {
  await journey('premier-acces', firstAccess);
  await journey('demande-acces', accessRequest);
  await journey('gestion-des-acces', manage);
  await journey('espace-agent', agent);
});
