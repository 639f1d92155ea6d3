// Guide 002 §6.4 « Modifier le rôle d'un de mes collaborateurs » in a real browser, with an
// axe-core check on every page shown: the users list (« N utilisateurs ont accès à la
// démarche », « Habilité à accéder à CERES »), then a collaborator's page (« Société », the
// Responsable des accès right explained, « Ajouter une habilitation »).
//
// Run by tests/tests/suite/browser.rs (`browser_guide_users_and_invitations`), which sets up a
// Responsable des accès (charte accepted) and a habilitated colleague, and sets:
//   BASE_URL, MAIL_DIR, SCREENSHOT_DIR, CHROMIUM   as for journeys.mjs
//   SIRET_NAME   the establishment's name in the register
//   MANAGER_EMAIL, PASSWORD   the Responsable des accès
//   COLLEAGUE_NAME   « Prénom Nom » of the habilitated colleague

import { check, env, login, runJourneys, submit } from './common.mjs';

const BASE_URL = env('BASE_URL');
const SIRET_NAME = env('SIRET_NAME');
const MANAGER = env('MANAGER_EMAIL');
const PASSWORD = env('PASSWORD');
const COLLEAGUE = env('COLLEAGUE_NAME');

/** §6.4 steps 1–5: the « Utilisateurs » tab, then a collaborator's page. */
async function users(page) {
  await page.goto(`${BASE_URL}/connexion`);
  await login(page, MANAGER, PASSWORD);
  await page.goto(`${BASE_URL}/acces/ceres/gestion`);
  await page.getByRole('heading', { level: 1, name: 'Gérer les accès de mon entreprise' }).waitFor();
  await page.getByText('2 utilisateurs ont accès à la démarche').waitFor();
  await page.getByText('Habilité à accéder à CERES', { exact: false }).first().waitFor();
  await check(page, 'utilisateurs');

  await submit(page, page.getByRole('link', { name: COLLEAGUE }));
  await page.getByRole('heading', { level: 1, name: COLLEAGUE }).waitFor();
  await page.getByText(`Société : ${SIRET_NAME}`, { exact: false }).waitFor();
  await page
    .getByText('Le droit de responsable des accès permet de gérer les collaborateurs et les accès sur le service numérique.')
    .waitFor();
  await page.getByRole('heading', { name: 'Gérer les accès', exact: true }).waitFor();
  await page.getByRole('link', { name: 'Ajouter une habilitation' }).click();
  await page.getByRole('heading', { name: 'Ajouter une habilitation' }).waitFor();
  await check(page, 'utilisateur');
}

await runJourneys(async (journey) => {
  await journey('utilisateurs', users);
});
