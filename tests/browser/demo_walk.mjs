// The newcomer's walk of the demo, in a real browser (Debian's Chromium driven by
// playwright-core), with a screenshot and an axe-core check on every page shown, the demo
// CERES's pages included:
//   1. on the demo CERES, « Se connecter avec EFP Connect » → « Je crée mon compte EFP CONNECT » → the 5-step
//      sign-up, the code read in the provider's outbox (/outbox), as the README tells newcomers;
//   2. back on CERES: login → « Vous n'avez pas accès » → SIRET + activation code → the
//      provider's charte and « Gestion de mes accès » (« Centre agréé ») → CERES's CGU → the
//      dashboard, as Responsable des accès; guide 002 §6.1: the red pastille beside her name
//      (a colleague's request waits), « le panneau des fonctionnalités » it opens and its
//      « Gérer les demandes d'accès » to the provider's requests;
//   3. « Gérer les accès de mon entreprise » at the provider: the 5-step invitation of a
//      colleague with « Centre agréé », then « Me déconnecter » on CERES (RP-initiated logout);
//   4. the colleague, in their own browser: the invitation e-mail in the outbox, a first
//      password from its link, login into CERES, EFP Connect's CGU (asked at an invited
//      person's first login), CERES's CGU, the dashboard with « Centre agréé »; then
//      « Me déconnecter » on the provider's account page, and CERES, reloaded, shows them
//      logged out (back-channel logout).
//
// Run by tests/tests/browser.rs (`browser_demo_walk_from_sign_up_to_an_invited_colleague`),
// which starts the provider (mail to its outbox) and the demo CERES, and sets:
//   BASE_URL         the provider, e.g. http://127.0.0.1:41234
//   RP_URL           the demo CERES, on another host name, e.g. http://localhost:41235
//   SIRET, SIRET_NAME, CODE   the establishment in the register, its name, its activation code
//   REQUESTER_NAME   « Prénom Nom » of someone whose access request to SIRET is pending
//   NEWCOMER_EMAIL, COLLEAGUE_EMAIL   two addresses without an account
//   SCREENSHOT_DIR, CHROMIUM   as for the other scripts

import assert from 'node:assert/strict';

import {
  acceptEfpConnectCgu, check, env, expectAlert, log, login, runJourneys, submit, tick, tickBox,
} from './common.mjs';

const BASE_URL = env('BASE_URL');
const RP_URL = env('RP_URL');
const SIRET = env('SIRET');
const SIRET_NAME = env('SIRET_NAME');
const CODE = env('CODE');
const REQUESTER_NAME = env('REQUESTER_NAME');
const NEWCOMER = env('NEWCOMER_EMAIL');
const COLLEAGUE = env('COLLEAGUE_EMAIL');
const PASSWORD = 'Velo-Rouge-Printemps-2024';
const COLLEAGUE_PASSWORD = 'Ciel-Bleu-Automne-2025';

/** Opens the provider's outbox in a new tab, as the README tells newcomers, waits (at most
 * 30 s) for a message to `to` whose subject contains `subject`, opens it and returns its text
 * part; the list and the message are screenshotted and checked by axe as `name`-*. */
async function readMail(context, to, subject, name) {
  const tab = await context.newPage();
  tab.setDefaultTimeout(30_000);
  try {
    const deadline = Date.now() + 30_000;
    let row;
    for (;;) {
      await tab.goto(`${BASE_URL}/outbox`);
      await tab.getByRole('heading', { level: 1, name: "Boîte d'envoi locale" }).waitFor();
      // Newest first: the first match is the latest message.
      row = tab.locator('tbody tr').filter({ hasText: to }).filter({ hasText: subject }).first();
      if ((await row.count()) > 0) break;
      if (Date.now() > deadline) throw new Error(`no e-mail « ${subject} » to ${to} in ${BASE_URL}/outbox`);
      await tab.waitForTimeout(200);
    }
    await check(tab, `${name}-boite-envoi`);
    await submit(tab, row.getByRole('link'));
    await tab.getByRole('heading', { level: 1, name: subject }).waitFor();
    await check(tab, `${name}-message`);
    return await tab.locator('pre').innerText();
  } finally {
    await tab.close();
  }
}

/** The first link of a text part whose path matches `path`. */
function linkIn(text, path) {
  const match = text.match(new RegExp(`https?://\\S+${path}\\S*`));
  assert.ok(match, `no link ${path} in the e-mail:\n${text}`);
  return match[0];
}

/** On the demo CERES's home page, « Se connecter avec EFP Connect » to the provider's login. */
async function toLoginFromCeres(page, name) {
  await page.goto(`${RP_URL}/`);
  await page.getByRole('heading', { level: 1, name: 'Bienvenue sur CERES' }).waitFor();
  if (name) await check(page, name);
  await submit(page, page.getByRole('link', { name: 'Se connecter avec EFP Connect' }));
  assert.ok(page.url().startsWith(`${BASE_URL}/connexion`), `the provider's login page: ${page.url()}`);
}

/** CERES's CGU, asked at a person's first visit: « Enregistrer » refused without the box,
 * then accepted with it; then the dashboard. */
async function acceptCeresCgu(page, prefix, withError) {
  assert.ok(page.url().startsWith(RP_URL), `back on CERES: ${page.url()}`);
  await page
    .getByRole('heading', { level: 1, name: "Conditions générales d'utilisation" })
    .first()
    .waitFor();
  await check(page, `${prefix}-cgu`);
  if (withError) {
    // « Enregistrer » without the box: the page's own French message, tied to the box.
    await submit(page, page.getByRole('button', { name: 'Enregistrer' }));
    await page.getByText('Vous devez accepter les CGU pour accéder à CERES.').waitFor();
    await check(page, `${prefix}-cgu-erreur`);
  }
  await tick(page, "J'ai lu et j'accepte les CGU");
  await submit(page, page.getByRole('button', { name: 'Enregistrer' }));
  await page.getByRole('heading', { level: 1, name: 'Votre tableau de bord' }).waitFor();
  // Guide 002 §3.2 (24): « Félicitations ! Votre compte CERES est maintenant fonctionnel… »
  await page.getByRole('heading', { name: 'Félicitations !' }).waitFor();
  assert.match(await page.locator('main').innerText(), /Votre compte CERES est maintenant fonctionnel/);
}

/** Clicks « Prénom Nom » in CERES's header (its name starts with `name`) and waits for « le
 * panneau des fonctionnalités » to be open; returns the panel. */
async function openPanel(page, name) {
  await page.getByRole('button', { name: new RegExp(`^${name}`) }).click();
  const panel = page.getByRole('dialog', { name });
  await panel.waitFor();
  // The DSFR modal fades in: judge it (and screenshot it) once it is there.
  await panel.evaluate((el) => Promise.all(el.getAnimations({ subtree: true }).map((a) => a.finished)));
  return panel;
}

/** The dashboard's habilitations table holds one « Centre agréé » line for the centre. */
async function expectCentreAgree(page) {
  const row = page.getByRole('row').filter({ hasText: SIRET_NAME });
  assert.equal(await row.count(), 1, `one habilitation line for ${SIRET_NAME}`);
  const cells = await row.getByRole('cell').allInnerTexts();
  assert.deepEqual(cells.slice(0, 3), [SIRET_NAME, SIRET, 'Centre agréé'], `the line: ${cells.join(' | ')}`);
}

/** Steps 1–3: the newcomer signs up, becomes Responsable des accès, invites a colleague. */
async function newcomer(page) {
  // 1. Sign-up, started from CERES.
  await toLoginFromCeres(page, 'ceres-accueil');
  await check(page, 'connexion');
  await submit(page, page.getByRole('link', { name: 'Je crée mon compte EFP CONNECT' }));
  await check(page, 'inscription-1-email');
  await page.getByLabel('Identifiant').fill(NEWCOMER);
  await submit(page, page.getByRole('button', { name: 'Suivant' }));
  assert.match(page.url(), /\/inscription\/code$/);
  await check(page, 'inscription-2-code');
  const text = await readMail(page.context(), NEWCOMER, 'Validation de votre compte EFP CONNECT', 'inscription-code');
  const code = text.match(/^\s*(\d{6})\s*$/m);
  assert.ok(code, `a 6-digit code in the e-mail:\n${text}`);
  await page.getByLabel('Code de validation').fill(code[1]);
  await submit(page, page.getByRole('button', { name: 'Suivant' }));
  assert.match(page.url(), /\/inscription\/mot-de-passe$/);
  await check(page, 'inscription-3-mot-de-passe');
  await page.locator('#password').fill(PASSWORD);
  await page.getByLabel('Confirmation du mot de passe').fill(PASSWORD);
  await submit(page, page.getByRole('button', { name: 'Suivant' }));
  assert.match(page.url(), /\/inscription\/identite$/);
  await check(page, 'inscription-4-identite');
  await tick(page, 'Madame');
  await page.getByLabel('Nom *', { exact: true }).fill('Nouvelle');
  await page.getByLabel('Prénom *', { exact: true }).fill('Léa');
  await submit(page, page.getByRole('button', { name: 'Suivant' }));
  assert.match(page.url(), /\/inscription\/organisation$/);
  await check(page, 'inscription-5-organisation');
  // As the guide asks: the poste, then the company searched in the register by the start of
  // its name (the search keeps the poste), then the establishment.
  await page.getByLabel('Poste occupé').fill('Directrice du centre');
  await page.getByLabel('Raison sociale ou SIREN (9 chiffres)').fill('centre de formation du lac');
  await submit(page, page.getByRole('button', { name: 'Rechercher' }));
  await tick(page, SIRET_NAME);
  assert.equal(await page.getByLabel('Poste occupé').inputValue(), 'Directrice du centre');
  await tickBox(page, "J'accepte les conditions générales d'utilisation");
  await check(page, 'inscription-5-organisation-resultats');
  await submit(page, page.getByRole('button', { name: 'Créer mon compte' }));
  await page.getByRole('heading', { level: 1, name: 'Votre compte EFP Connect est créé' }).waitFor();
  await check(page, 'inscription-terminee');

  // 2. Back on CERES: login, no access yet, the activation code.
  await toLoginFromCeres(page);
  await login(page, NEWCOMER, PASSWORD);
  await page.getByRole('heading', { level: 1, name: "Vous n'avez pas accès au service numérique CERES" }).waitFor();
  assert.ok(page.url().startsWith(RP_URL), `back on CERES: ${page.url()}`);
  await check(page, 'ceres-sans-acces');
  // Error state: a well-formed code that is not this establishment's.
  await page.getByLabel("SIRET de l'établissement").fill(SIRET);
  await page.getByLabel("Code d'activation").fill(CODE === 'ABCDEFGHJKLM' ? 'MLKJHGFEDCBA' : 'ABCDEFGHJKLM');
  await submit(page, page.getByRole('button', { name: "Valider le code d'activation" }));
  const codeField = page.getByLabel("Code d'activation");
  assert.equal(await codeField.getAttribute('aria-invalid'), 'true', 'the code is marked invalid');
  const describedBy = ((await codeField.getAttribute('aria-describedby')) ?? '').split(/\s+/)[0];
  assert.ok(describedBy, 'the code field points to its error message');
  assert.match(await page.locator(`#${describedBy}`).innerText(), /code d'activation/i);
  await check(page, 'ceres-sans-acces-code-erreur');
  await page.getByLabel("SIRET de l'établissement").fill(SIRET);
  await page.getByLabel("Code d'activation").fill(CODE);
  await submit(page, page.getByRole('button', { name: "Valider le code d'activation" }));
  assert.ok(page.url().startsWith(`${BASE_URL}/acces/ceres/charte`), `the provider's charte: ${page.url()}`);
  await check(page, 'charte');
  // The guide's charte: its Préambule, then Articles 1 to 8.
  await page.getByRole('heading', { level: 2, name: 'Préambule' }).waitFor();
  await page.getByRole('heading', { level: 2, name: 'ARTICLE 8 – Droit applicable' }).waitFor();
  await tick(page, "J'accepte de devenir responsable des accès.");
  await submit(page, page.getByRole('button', { name: 'Continuer' }));
  await page.getByRole('heading', { level: 1, name: 'Gestion de mes accès' }).waitFor();
  await check(page, 'gestion-de-mes-acces');
  await page.getByLabel('Mon rôle').selectOption('centre_agree');
  await submit(page, page.getByRole('button', { name: "Ajouter l'habilitation" }));
  await page.getByRole('heading', { name: 'Liste de vos habilitations' }).waitFor();
  await check(page, 'gestion-de-mes-acces-habilitation-ajoutee');
  // As in the guide: « Ajouter une autre habilitation » opens the form again, « Annuler »
  // drops it and comes back to the list.
  await submit(page, page.getByRole('link', { name: 'Ajouter une autre habilitation' }));
  await page.getByLabel('Mon rôle').waitFor();
  await page.getByLabel('Date de fin (MM/AAAA)').fill('12/2099');
  await submit(page, page.getByRole('button', { name: 'Annuler' }));
  await page.getByRole('link', { name: 'Ajouter une autre habilitation' }).waitFor();
  assert.equal(await page.getByLabel('Mon rôle').count(), 0, '« Annuler » closes the form');
  // « Terminer »: back to the service's home page, CERES, which asks for its CGU first.
  await submit(page, page.getByRole('button', { name: 'Terminer' }));
  await acceptCeresCgu(page, 'ceres', true);
  await expectCentreAgree(page);
  const manage = page.getByRole('link', { name: 'Gérer les accès de mon entreprise' });
  assert.equal(await manage.count(), 1, 'a Responsable des accès manages the accesses');
  await check(page, 'ceres-tableau-de-bord');
  log('the newcomer is Responsable des accès and « Centre agréé » in CERES');

  // Guide 002 §6.1: the red pastille beside « Prénom Nom » (a request waits for her), the name
  // opens « le panneau des fonctionnalités », whose « Gérer les demandes d'accès » has the
  // pastille too and leads to the provider's « Demandes d'accès ».
  const pending = "Léa Nouvelle (1 demande d'accès en attente)";
  const nameButton = page.getByRole('banner').getByRole('button', { name: pending });
  assert.ok(await nameButton.getByText('1', { exact: true }).isVisible(), 'the pastille « 1 » beside the name');
  const panel = await openPanel(page, 'Léa Nouvelle');
  await panel.getByRole('link', { name: 'Gérer mon compte' }).waitFor();
  const requests = panel.getByRole('link', {
    name: "Gérer les demandes d'accès (1 demande d'accès en attente)",
  });
  assert.ok(await requests.getByText('1', { exact: true }).isVisible(), 'the pastille « 1 » in the panel');
  await check(page, 'ceres-panneau-des-fonctionnalites');
  await submit(page, requests);
  assert.ok(page.url().startsWith(`${BASE_URL}/acces/ceres/gestion/demandes`), `the provider's requests: ${page.url()}`);
  await page
    .getByRole('navigation', { name: 'Gestion des accès' })
    .getByRole('link', { name: "Demandes d'accès (1 en attente)" })
    .waitFor();
  await page.getByText(REQUESTER_NAME).first().waitFor();
  await page.goto(`${RP_URL}/`);
  await page.getByRole('heading', { level: 1, name: 'Votre tableau de bord' }).waitFor();
  log('the pastille and « Gérer les demandes d\'accès » led to the waiting request');

  // 3. « Gérer les accès de mon entreprise » at the provider: invite a colleague.
  await submit(page, manage);
  assert.ok(page.url().startsWith(`${BASE_URL}/acces/ceres/gestion`), `the provider's page: ${page.url()}`);
  await page.getByRole('heading', { level: 1, name: 'Gérer les accès de mon entreprise' }).waitFor();
  await check(page, 'gestion-utilisateurs');
  await submit(page, page.getByRole('link', { name: 'Inviter un utilisateur' }));
  assert.match(page.url(), /\/acces\/ceres\/gestion\/inviter/);
  await check(page, 'invitation-1-email');
  await page.getByLabel("Adresse e-mail de l'utilisateur").fill(COLLEAGUE);
  await submit(page, page.getByRole('button', { name: 'Suivant' }));
  await check(page, 'invitation-2-type');
  await submit(page, page.getByRole('button', { name: 'Suivant' }));
  await check(page, 'invitation-3-identite');
  await tick(page, 'Monsieur');
  await page.getByLabel('Nom *', { exact: true }).fill('Collègue');
  await page.getByLabel('Prénom *', { exact: true }).fill('Marc');
  await submit(page, page.getByRole('button', { name: 'Suivant' }));
  await check(page, 'invitation-4-organisation');
  await page.getByLabel('Poste occupé').fill('Formateur');
  await page.getByLabel("Raison sociale ou SIREN de l'entreprise").fill(SIRET);
  await submit(page, page.getByRole('button', { name: 'Rechercher' }));
  await tick(page, SIRET_NAME);
  await submit(page, page.getByRole('button', { name: 'Suivant' }));
  await check(page, 'invitation-5-habilitations');
  await page.getByLabel('Rôle').selectOption('centre_agree');
  await submit(page, page.getByRole('button', { name: "Ajouter l'habilitation" }));
  await page.getByText('Liste des habilitations de').waitFor();
  await check(page, 'invitation-5-habilitation-ajoutee');
  await submit(page, page.getByRole('button', { name: 'Terminer' }));
  assert.match(page.url(), /\/acces\/ceres\/gestion\/invitations/);
  await page.getByText('Marc').first().waitFor();
  await check(page, 'invitation-envoyee');

  // Back to CERES and « Me déconnecter »: CERES's session and the provider's end.
  await page.goto(`${RP_URL}/`);
  await page.getByRole('heading', { level: 1, name: 'Votre tableau de bord' }).waitFor();
  // RP-initiated logout: CERES sends the browser to the provider's end-session endpoint with
  // its ID token as the hint, so the provider ends its session without asking.
  // « Me déconnecter » is in the panel.
  const logout = (await openPanel(page, 'Léa Nouvelle')).getByRole('button', { name: 'Me déconnecter' });
  const [endSession] = await Promise.all([
    page.waitForRequest((r) => r.url().startsWith(`${BASE_URL}/logout`)),
    submit(page, logout),
  ]);
  const hop = new URL(endSession.url());
  assert.ok(hop.searchParams.get('id_token_hint'), 'CERES sends id_token_hint');
  assert.equal(hop.searchParams.get('post_logout_redirect_uri'), `${RP_URL}/`);
  // Through the provider's end-session endpoint, back to CERES's post-logout URI (`/?state=…`).
  await page.waitForURL((url) => url.href.startsWith(`${RP_URL}/`));
  await page.getByRole('heading', { level: 1, name: 'Bienvenue sur CERES' }).waitFor();
  await check(page, 'ceres-deconnecte');
  // The provider's session ended too: logging in again asks for the password.
  await submit(page, page.getByRole('link', { name: 'Se connecter avec EFP Connect' }));
  assert.ok(page.url().startsWith(`${BASE_URL}/connexion`), `the provider asks again: ${page.url()}`);
  log('logged out of CERES and of the provider');
}

/** Step 4: the colleague sets a first password from the e-mail and logs into CERES. */
async function colleague(page) {
  const text = await readMail(
    page.context(),
    COLLEAGUE,
    "Vous avez obtenu une nouvelle habilitation d'accès au service numérique CERES",
    'collegue-invitation',
  );
  await page.goto(linkIn(text, '/mot-de-passe-oublie/lien\\?jeton='));
  assert.match(page.url(), /\/mot-de-passe-oublie\/nouveau$/);
  await check(page, 'collegue-mot-de-passe');
  await page.locator('#password').fill(COLLEAGUE_PASSWORD);
  await page.getByLabel('Confirmation du mot de passe').fill(COLLEAGUE_PASSWORD);
  await submit(page, page.getByRole('button', { name: 'Suivant' }));
  await page.getByText('Votre mot de passe a été créé.').waitFor();
  await check(page, 'collegue-mot-de-passe-cree');

  // Guide 002: the journey ends on the service the invitation is for, not the provider's home.
  await submit(page, page.getByRole('link', { name: 'Continuer vers CERES' }));
  await page.getByRole('heading', { level: 1, name: 'Bienvenue sur CERES' }).waitFor();
  await toLoginFromCeres(page);
  await login(page, COLLEAGUE, COLLEAGUE_PASSWORD);
  // Invited, never signed up: EFP Connect's own CGU first, then CERES's.
  await acceptEfpConnectCgu(page, 'collegue-cgu-efp-connect');
  await acceptCeresCgu(page, 'collegue-ceres', false);
  await expectCentreAgree(page);
  assert.equal(
    await page.getByRole('link', { name: 'Gérer les accès de mon entreprise' }).count(),
    0,
    'the colleague is not Responsable des accès',
  );
  // No pastille, and no « Gérer les demandes d'accès » in the panel.
  const panel = await openPanel(page, 'Marc Collègue');
  assert.equal(await page.getByRole('banner').getByRole('button', { name: 'Marc Collègue', exact: true }).count(), 1);
  assert.equal(await panel.getByRole('link', { name: /Gérer les demandes d'accès/ }).count(), 0);
  await panel.getByRole('link', { name: 'Gérer mon compte' }).waitFor();
  await check(page, 'collegue-ceres-tableau-de-bord');
  log('the colleague is « Centre agréé » in CERES');

  // « Me déconnecter » on the provider's account page, not on CERES: the provider tells CERES
  // server to server (back-channel logout), so CERES shows the colleague logged out when
  // reloaded.
  await page.goto(`${BASE_URL}/compte`);
  await submit(page, page.getByRole('link', { name: 'Me déconnecter' }));
  await submit(page, page.getByRole('button', { name: 'Me déconnecter' }));
  await page.getByRole('heading', { level: 1, name: 'Vous êtes déconnecté' }).waitFor();
  await page.goto(`${RP_URL}/`);
  const welcome = page.getByRole('heading', { level: 1, name: 'Bienvenue sur CERES' });
  // The logout token is posted by the provider's worker, woken by the logout: at most a moment.
  for (let tries = 0; !(await welcome.isVisible()); tries += 1) {
    assert.ok(tries < 20, `CERES still shows the colleague logged in: ${page.url()}`);
    await page.waitForTimeout(250);
    await page.reload();
  }
  assert.equal(
    await page.getByRole('link', { name: 'Se connecter avec EFP Connect' }).count(),
    1,
    'CERES offers to log in again',
  );
  log('logged out of the provider: CERES learnt it by back-channel logout');
}

await runJourneys(
  async (journey) => {
    await journey('nouvel-arrivant', newcomer);
    await journey('collegue', colleague);
  }
);
