// Guide 002 §4 and §6.1 in a real browser, axe-core on every page shown: the requester's
// pending request on the no-access page (« Relancer ma demande » not yet allowed), then the
// Responsable des accès in « Demandes d'accès »: the badge, ✓ « Accepter la demande de … »
// with a list of two habilitations (« Liste des habilitations », « Terminer »), then ✗ « Refuser la demande de … » with « Motif du refus (facultatif) », each
// ending on what was done.
//
// Run by tests/tests/suite/browser.rs (`browser_guide_access_requests`), which sets up the
// establishment, the manager (charte accepted), two pending requests, and sets:
//   BASE_URL, MAIL_DIR, SCREENSHOT_DIR, CHROMIUM   as for journeys.mjs
//   SIRET_NAME      the establishment's name
//   MANAGER_EMAIL, REQUESTER_EMAIL, REFUSED_EMAIL, PASSWORD   accounts (one password);
//   the requester is Bob Durand, the refused one Claire Martin

import assert from 'node:assert/strict';

import { check, env, log, login, nextMail, runJourneys, submit } from './common.mjs';

const BASE_URL = env('BASE_URL');
const SIRET_NAME = env('SIRET_NAME');
const MANAGER = env('MANAGER_EMAIL');
const REQUESTER = env('REQUESTER_EMAIL');
const REFUSED = env('REFUSED_EMAIL');
const PASSWORD = env('PASSWORD');
const REASON = "Vous n'êtes pas formateur dans notre centre.";

/** The requester lands on the no-access page, which recalls the pending request. */
async function pending(page) {
  await page.goto(`${BASE_URL}/connexion`);
  await login(page, REQUESTER, PASSWORD);
  await page.goto(`${BASE_URL}/acces/ceres`);
  await page
    .getByRole('heading', { level: 1, name: "Vous n'avez pas accès au service numérique CERES." })
    .waitFor();
  await page.getByText('Un e-mail a été envoyé à votre Responsable des accès, le').waitFor();
  await page.getByText(`Demande d'accès pour ${SIRET_NAME}`).waitFor();
  const relancer = page.getByRole('button', { name: /^Relancer ma demande/ });
  assert.ok(await relancer.isDisabled(), 'not before 30 days');
  await page.getByText('Vous pourrez relancer la demande dans 30 jours.').waitFor();
  await check(page, 'demande-en-attente');
}

/** The manager accepts Bob Durand's request and refuses Claire Martin's, from the list. */
async function decide(page) {
  await page.goto(`${BASE_URL}/connexion`);
  await login(page, MANAGER, PASSWORD);
  await page.goto(`${BASE_URL}/acces/ceres/gestion/demandes`);
  const tabs = page.getByRole('navigation', { name: 'Gestion des accès' });
  const tab = tabs.getByRole('link', { name: "Demandes d'accès (2 en attente)" });
  assert.equal((await tab.locator('.idp-badge').innerText()).trim(), '2', 'two pending requests');
  await check(page, 'demandes-liste');

  await submit(page, page.getByRole('link', { name: 'Accepter la demande de Bob Durand' }));
  await page.getByRole('heading', { level: 1, name: 'Gestion des accès' }).waitFor();
  await check(page, 'demande-accepter');
  // Guide §6.1, 9–13: establishment, role, end date, « Ajouter l'habilitation » (the list
  // grows, nothing is granted yet), a second one, then « Terminer ».
  const establishment = page.getByLabel("Nom de l'établissement");
  const chosen = await establishment.locator('option:checked').innerText();
  assert.ok(chosen.includes(SIRET_NAME), `the request's establishment is chosen: ${chosen}`);
  await page.getByLabel('Rôle').selectOption('centre_agree');
  await page.getByLabel('Date de fin (MM/AAAA)').fill('12/2099');
  await submit(page, page.getByRole('button', { name: "Ajouter l'habilitation" }));
  const list = page.getByRole('table', { name: 'Liste des habilitations' });
  await list.getByRole('cell', { name: 'Fin : 12/2099' }).waitFor();
  await page.getByLabel('Rôle').selectOption('gestionnaire_centres');
  await submit(page, page.getByRole('button', { name: "Ajouter l'habilitation" }));
  await list.getByRole('cell', { name: 'Gestionnaire CENTRES', exact: true }).waitFor();
  await check(page, 'demande-liste-des-habilitations');
  await submit(page, page.getByRole('button', { name: 'Terminer' }));
  await page.getByText('La demande de Bob Durand a été acceptée le').waitFor();
  await page.getByText(/Centre agréé pour .* ; Gestionnaire CENTRES pour/).waitFor();
  assert.equal(await page.getByText('Cette demande a déjà été traitée.').count(), 0);
  await check(page, 'demande-acceptee');

  await submit(page, page.getByRole('link', { name: "Voir les demandes d'accès en attente" }));
  await tabs.getByRole('link', { name: "Demandes d'accès (1 en attente)" }).waitFor();
  await submit(page, page.getByRole('link', { name: 'Refuser la demande de Claire Martin' }));
  await page.getByLabel('Motif du refus (facultatif)').fill(REASON);
  await check(page, 'demande-refuser');
  await submit(page, page.getByRole('button', { name: 'Refuser la demande' }));
  await page.getByText('La demande de Claire Martin a été refusée le').waitFor();
  await check(page, 'demande-refusee');

  const accepted = await nextMail(REQUESTER);
  assert.match(accepted.subject, /acceptée/);
  assert.ok(accepted.text.includes('avec les habilitations suivantes'), accepted.text);
  const refused = await nextMail(REFUSED);
  assert.match(refused.subject, /refusée/);
  assert.ok(refused.text.includes(`Motif : « ${REASON} »`), refused.text);
  log(`e-mails « ${accepted.subject} » and « ${refused.subject} »`);
}

await runJourneys(async (journey) => {
  await journey('demande-en-attente', pending);
  await journey('demandes-du-responsable', decide);
});
