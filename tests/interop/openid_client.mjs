// Interoperability: panva's certified relying-party library, openid-client (v6), against the
// provider. Run by tests/tests/interop.rs, once per client profile; every step checks a real
// result, so any disagreement between the library and the provider fails the run (exit 1).
//
// Environment:
//   ISSUER                      the provider's issuer (plain HTTP on 127.0.0.1 in the tests)
//   CLIENT_ID                   the registered client
//   CLIENT_AUTH                 client_secret_basic | private_key_jwt
//   CLIENT_SECRET               for client_secret_basic
//   CLIENT_KEY_PKCS8, CLIENT_KEY_KID
//                               for private_key_jwt: the client's P-256 private key (PKCS#8 DER,
//                               base64) and the kid of its public JWK registered with the client
//   ID_TOKEN_ALG                RS256 | ES256: the client's registered id_token_signed_response_alg
//   CALLBACK_PORT               the port of http://127.0.0.1:<port>/cb and /logged-out, both
//                               registered for the client: this script listens there
//   USER_EMAIL, USER_PASSWORD   the account that logs in
//   CHROMIUM                    Debian's Chromium (default /usr/bin/chromium)

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';

import * as client from 'openid-client';
import { chromium } from 'playwright-core';

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === '') throw new Error(`${name} is not set`);
  return value;
};

const ISSUER = env('ISSUER');
const CLIENT_ID = env('CLIENT_ID');
const CLIENT_AUTH = env('CLIENT_AUTH');
const ID_TOKEN_ALG = env('ID_TOKEN_ALG');
const PORT = Number(env('CALLBACK_PORT'));
const USER_EMAIL = env('USER_EMAIL');
const USER_PASSWORD = env('USER_PASSWORD');
const CHROMIUM = env('CHROMIUM', '/usr/bin/chromium');
const REDIRECT_URI = `http://127.0.0.1:${PORT}/cb`;
const POST_LOGOUT_URI = `http://127.0.0.1:${PORT}/logged-out`;

const started = Date.now();
const log = (message) =>
  console.log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${message}`);

/** The client authentication method, as openid-client implements it. */
async function clientAuth() {
  switch (CLIENT_AUTH) {
    case 'client_secret_basic':
      return client.ClientSecretBasic(env('CLIENT_SECRET'));
    case 'private_key_jwt': {
      const der = Buffer.from(env('CLIENT_KEY_PKCS8'), 'base64');
      const key = await crypto.subtle.importKey(
        'pkcs8',
        der,
        { name: 'ECDSA', namedCurve: 'P-256' },
        false,
        ['sign'],
      );
      return client.PrivateKeyJwt({ key, kid: env('CLIENT_KEY_KID') });
    }
    default:
      throw new Error(`unknown CLIENT_AUTH ${CLIENT_AUTH}`);
  }
}

/** The relying party's side of the redirects: records every URL the browser is sent to. */
function listen() {
  const hits = [];
  const server = createServer((req, res) => {
    hits.push(new URL(req.url, `http://127.0.0.1:${PORT}`));
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><html lang="fr"><title>RP</title><p>ok</p></html>');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(PORT, '127.0.0.1', () => resolve({ server, hits }));
  });
}

/** The current RFC 6238 code (SHA-1, 6 digits, 30 s) of a base32 secret, as an app shows it. */
function totp(base32) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const bits = [...base32.replace(/[\s=]/g, '').toUpperCase()]
    .map((c) => alphabet.indexOf(c).toString(2).padStart(5, '0'))
    .join('');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30_000)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const at = mac[mac.length - 1] & 0xf;
  return String((mac.readUInt32BE(at) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

async function main() {
  const { server, hits } = await listen();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  try {
    await run(browser, hits);
  } finally {
    await browser.close();
    server.close();
  }
}

async function run(browser, hits) {
  // 1. Discovery. allowInsecureRequests: the test provider is plain HTTP (test only).
  // enableNonRepudiationChecks: the library also verifies ID token signatures against the
  // provider's JWKS (by default it trusts the direct TLS channel to the token endpoint).
  const config = await client.discovery(
    new URL(ISSUER),
    CLIENT_ID,
    { id_token_signed_response_alg: ID_TOKEN_ALG },
    await clientAuth(),
    { execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks] },
  );
  const metadata = config.serverMetadata();
  assert.equal(metadata.issuer, ISSUER, 'discovered issuer');
  assert.ok(metadata.supportsPKCE(), 'the provider advertises PKCE S256');
  assert.ok(metadata.id_token_signing_alg_values_supported.includes(ID_TOKEN_ALG));
  assert.ok(metadata.acr_values_supported.includes('eidas2'), 'the two-factor acr is advertised');
  log(`discovery: ${metadata.issuer}, auth ${CLIENT_AUTH}, ID token ${ID_TOKEN_ALG}`);

  // 2. Authorization code + PKCE, with a real login in Chromium.
  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authorizationUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid email profile offline_access',
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  const context = await browser.newContext({ locale: 'fr-FR' });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  await page.goto(authorizationUrl.href);
  assert.match(new URL(page.url()).pathname, /^\/connexion/, `login page, got ${page.url()}`);
  await page.getByLabel('Identifiant (e-mail professionnel)').fill(USER_EMAIL);
  await page.getByLabel('Mot de passe', { exact: true }).fill(USER_PASSWORD);
  await Promise.all([
    page.waitForURL((url) => url.href.startsWith(REDIRECT_URI)),
    page.getByRole('button', { name: "Je m'identifie avec EFP CONNECT" }).click(),
  ]);
  // The browser also asks for /favicon.ico: the callback is the hit on /cb.
  const callback = hits.findLast((url) => url.pathname === '/cb');
  assert.ok(callback, 'the callback reached the relying party');
  assert.ok(callback.searchParams.get('code'), `a code in ${callback}`);
  log('browser login: back at the callback with a code');

  // 3. Token exchange: the library checks state, iss (RFC 9207), PKCE, and the ID token's
  // signature (JWKS), iss, aud, azp, exp, iat, nonce and alg.
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  assert.equal(claims.iss, ISSUER);
  assert.ok([claims.aud].flat().includes(CLIENT_ID), `aud ${claims.aud}`);
  assert.equal(claims.nonce, nonce);
  assert.equal(tokens.token_type.toLowerCase(), 'bearer');
  assert.ok(tokens.access_token && tokens.refresh_token, 'access and refresh tokens');
  const header = JSON.parse(Buffer.from(tokens.id_token.split('.')[0], 'base64url'));
  assert.equal(header.alg, ID_TOKEN_ALG, 'ID token alg');
  assert.ok(client.getJwksCache(config), 'the library fetched the JWKS to verify the signature');
  log(`tokens: ID token ${header.alg} kid ${header.kid}, sub ${claims.sub}`);

  // 4. UserInfo: the library checks that its sub is the ID token's.
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.equal(userinfo.sub, claims.sub);
  assert.equal(userinfo.email, USER_EMAIL);
  log(`userinfo: ${userinfo.email}`);

  // 5. Introspection of the access token.
  let introspection = await client.tokenIntrospection(config, tokens.access_token);
  assert.equal(introspection.active, true, `access token active: ${JSON.stringify(introspection)}`);
  assert.equal(introspection.sub, claims.sub);
  assert.equal(introspection.client_id, CLIENT_ID);

  // 6. Refresh: new tokens (rotation), a new ID token for the same person if any.
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  assert.ok(refreshed.access_token, 'a refreshed access token');
  assert.notEqual(refreshed.access_token, tokens.access_token, 'a new access token');
  assert.ok(refreshed.refresh_token, 'a rotated refresh token');
  assert.notEqual(refreshed.refresh_token, tokens.refresh_token, 'a new refresh token');
  if (refreshed.id_token) {
    // OpenID Connect Core §12.2: same iss, sub, aud; auth_time still the original login's.
    const renewed = refreshed.claims();
    assert.equal(renewed.iss, claims.iss);
    assert.equal(renewed.sub, claims.sub);
    assert.deepEqual([renewed.aud].flat(), [claims.aud].flat());
    assert.equal(renewed.auth_time, claims.auth_time, 'auth_time of the original login');
  }
  const again = await client.fetchUserInfo(config, refreshed.access_token, claims.sub);
  assert.equal(again.sub, claims.sub);
  introspection = await client.tokenIntrospection(config, refreshed.refresh_token, {
    token_type_hint: 'refresh_token',
  });
  assert.equal(introspection.active, true, `refresh active: ${JSON.stringify(introspection)}`);
  log(`refresh: new tokens${refreshed.id_token ? ' and ID token' : ''}, userinfo still answers`);

  // 7. Revocation of the access token: introspection says inactive afterwards.
  await client.tokenRevocation(config, refreshed.access_token, { token_type_hint: 'access_token' });
  introspection = await client.tokenIntrospection(config, refreshed.access_token);
  assert.equal(introspection.active, false, 'revoked access token inactive');
  await assert.rejects(
    client.fetchUserInfo(config, refreshed.access_token, claims.sub),
    'userinfo refuses the revoked access token',
  );
  // Revocation of the refresh token: the grant ends, refreshing fails.
  await client.tokenRevocation(config, refreshed.refresh_token, {
    token_type_hint: 'refresh_token',
  });
  introspection = await client.tokenIntrospection(config, refreshed.refresh_token, {
    token_type_hint: 'refresh_token',
  });
  assert.equal(introspection.active, false, 'revoked refresh token inactive');
  await assert.rejects(
    client.refreshTokenGrant(config, refreshed.refresh_token),
    (e) => e.error === 'invalid_grant',
    'the revoked refresh token is refused with invalid_grant',
  );
  // The provider revokes the whole grant with its refresh token: the first access token too.
  introspection = await client.tokenIntrospection(config, tokens.access_token);
  assert.equal(introspection.active, false, 'the grant\'s first access token is inactive');
  log('revocation: access and refresh tokens inactive, refused');

  // 8. A second factor demanded as an essential acr: the password session is not enough, and
  // this account has none, so the provider leads through the enrolment (no new password),
  // then the authorization goes on and the ID token states two factors, honestly.
  const mfaState = client.randomState();
  const mfaUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state: mfaState,
    nonce,
    claims: JSON.stringify({ id_token: { acr: { essential: true, values: ['eidas2'] } } }),
  });
  await page.goto(mfaUrl.href);
  assert.equal(new URL(page.url()).pathname, '/compte/double-authentification', page.url());
  const secret = await page.locator('#totp-secret').textContent();
  await page.getByLabel('Code de vérification').fill(totp(secret));
  await page.getByRole('button', { name: 'Activer' }).click();
  await Promise.all([
    page.waitForURL((url) => url.href.startsWith(REDIRECT_URI)),
    page.getByRole('link', { name: 'Continuer' }).click(),
  ]);
  const mfaTokens = await client.authorizationCodeGrant(config, new URL(page.url()), {
    pkceCodeVerifier: codeVerifier,
    expectedState: mfaState,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const mfaClaims = mfaTokens.claims();
  assert.equal(mfaClaims.sub, claims.sub);
  assert.equal(claims.acr, 'eidas1', 'the first login was one factor');
  assert.equal(mfaClaims.acr, 'eidas2', 'the essential acr was met');
  assert.deepEqual(mfaClaims.amr, ['pwd', 'otp', 'mfa'], 'amr says how (RFC 8176)');
  log('essential acr eidas2: enrolment, then an ID token with acr eidas2 and amr pwd/otp/mfa');

  // 9. RP-initiated logout with the URL the library builds.
  const logoutState = client.randomState();
  const endSession = client.buildEndSessionUrl(config, {
    id_token_hint: mfaTokens.id_token,
    post_logout_redirect_uri: POST_LOGOUT_URI,
    state: logoutState,
  });
  await page.goto(endSession.href);
  const back = new URL(page.url());
  assert.equal(`${back.origin}${back.pathname}`, POST_LOGOUT_URI, `post-logout redirect: ${back}`);
  assert.equal(back.searchParams.get('state'), logoutState, 'state returned on logout');
  // The session is over: the same authorization request shows the login form again.
  await page.goto(authorizationUrl.href);
  assert.match(new URL(page.url()).pathname, /^\/connexion/, `login again, got ${page.url()}`);
  // Without a session, prompt=none answers login_required to the callback (with state and iss,
  // RFC 9207), which the library reads as an authorization error response.
  const silentState = client.randomState();
  const silent = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state: silentState,
    nonce,
    prompt: 'none',
  });
  await page.goto(silent.href);
  await assert.rejects(
    client.authorizationCodeGrant(config, new URL(page.url()), {
      pkceCodeVerifier: codeVerifier,
      expectedState: silentState,
      expectedNonce: nonce,
    }),
    (e) => e instanceof client.AuthorizationResponseError && e.error === 'login_required',
    `prompt=none without a session: login_required (${page.url()})`,
  );
  log('end session: redirected with state, then login again, prompt=none gives login_required');
  await context.close();
}

main().then(
  () => {
    log(`openid-client ${CLIENT_AUTH}/${ID_TOKEN_ALG}: all checks passed`);
    process.exit(0);
  },
  (e) => {
    console.error(`FAILED: ${e.stack ?? e}`);
    if (e.cause) console.error('cause:', e.cause);
    process.exit(1);
  },
);
