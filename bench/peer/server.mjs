// Peer OpenID provider for the EFP Connect load benchmark.
//
// npm `oidc-provider` (pinned in package.json) configured to be as comparable
// as reasonably possible to a production-like setup of ours: same flows, same
// signing algorithms, JWT access tokens for client_credentials, refresh tokens
// rotated on every use, PKCE S256, no request logging. bench/peer.py starts it
// and prepares sessions/tokens; bench/run.py drives the load.
//
// Environment:
//   PEER_PORT   port to listen on (127.0.0.1 only); the issuer is http://127.0.0.1:$PEER_PORT
//   PEER_DEBUG  set to 1 to keep console output after start-up (errors, notices)
//
// Prints the single line `ready` on stdout once listening.

import * as crypto from 'node:crypto';
import * as http from 'node:http';

import Provider, { errors } from 'oidc-provider';

const port = Number.parseInt(process.env.PEER_PORT ?? '', 10);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('PEER_PORT must be set to a TCP port number');
  process.exit(2);
}
const host = '127.0.0.1';
const issuer = `http://${host}:${port}`;

// Resource indicator that client_credentials tokens are issued for when the
// request carries no `resource` parameter (see defaultResource below).
const BENCH_API = 'urn:bench:api';

// Signing keys are generated at every start: the peer keeps no state between
// runs (like its in-memory adapter), and key generation is not part of what is
// measured. One key per algorithm the benchmark compares.
function signingKey(alg) {
  const { privateKey } = alg === 'RS256'
    ? crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
    : crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    ...privateKey.export({ format: 'jwk' }),
    kid: `bench-${alg.toLowerCase()}`,
    alg,
    use: 'sig',
  };
}

// Two confidential clients, identical except for the signing algorithm of
// their ID tokens (and of their JWT access tokens, see getResourceServerInfo).
const REDIRECT_URI = 'http://127.0.0.1:9/callback';
function benchClient(alg) {
  return {
    client_id: `bench-${alg.toLowerCase()}`,
    client_secret: `bench-secret-${alg.toLowerCase()}-0123456789abcdef`,
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    response_types: ['code'],
    redirect_uris: [REDIRECT_URI],
    id_token_signed_response_alg: alg,
    scope: 'openid email profile',
  };
}

// Any account id exists; its claims are synthesised from the id. Accounts are
// looked up on every /auth with a session, token and userinfo request, so this
// is deliberately free of I/O (ours reads a database; that asymmetry is noted
// in the benchmark report, not hidden here).
async function findAccount(ctx, id) {
  return {
    accountId: id,
    async claims() {
      return {
        sub: id,
        email: `${id}@bench.example`,
        email_verified: true,
        given_name: 'Bench',
        family_name: id,
      };
    },
  };
}

const configuration = {
  clients: [benchClient('RS256'), benchClient('ES256')],
  jwks: { keys: [signingKey('RS256'), signingKey('ES256')] },

  // Random cookie signing keys: without them oidc-provider uses well-known
  // development keys (and warns). A fresh key per start is fine since sessions
  // are in memory anyway.
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },

  // The default adapter is the in-memory one (no `adapter` option). Beware: it
  // is an LRU bounded at ~1000-2000 entries, so artefacts that are never read
  // again (codes, old tokens) get evicted under load; frequently read ones
  // (the bench session, its grant) stay.

  findAccount,

  // Scope -> claims mapping; the default maps only `openid` -> sub, which would
  // make userinfo return only `sub` for email/profile scopes.
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['given_name', 'family_name'],
  },

  // Our own interaction endpoints are mounted in front of the provider (see
  // the HTTP handler below); this is also oidc-provider's default URL.
  interactions: {
    url(ctx, interaction) {
      return `/interaction/${interaction.uid}`;
    },
  },

  features: {
    // The built-in development login/consent pages are replaced by the minimal
    // interaction below (they are not meant for anything but quick starts).
    devInteractions: { enabled: false },
    introspection: {
      enabled: true,
      // Same rule as the library's default (confidential clients may
      // introspect), stated explicitly to avoid its "SHOULD change" notice.
      async allowedPolicy(ctx, client, token) {
        return client.clientAuthMethod !== 'none' || token.clientId === client.clientId;
      },
    },
    revocation: { enabled: true },
    userinfo: { enabled: true },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // client_credentials requests without `resource` get our API as their
      // audience, so they come out as JWT access tokens (ours issues JWTs for
      // client_credentials). Authorization requests get no default resource:
      // their access token must stay the opaque one that userinfo accepts.
      async defaultResource(ctx, client, oneOf) {
        if (oneOf) return oneOf;
        if (ctx.oidc.route === 'token' && ctx.oidc.params.grant_type === 'client_credentials') {
          return BENCH_API;
        }
        return undefined;
      },
      // With `openid` in scope and no `resource` at the token endpoint the
      // access token is meant for userinfo (opaque), never for a granted
      // resource. (This is also the library default; stated for clarity.)
      async useGrantedResource(ctx, model) {
        return !model.scopes?.has('openid');
      },
      async getResourceServerInfo(ctx, resourceIndicator, client) {
        if (resourceIndicator !== BENCH_API) {
          throw new errors.InvalidTarget();
        }
        return {
          scope: 'api:read',
          audience: BENCH_API,
          // Default 600 s for client_credentials, stated explicitly.
          accessTokenTTL: 600,
          accessTokenFormat: 'jwt',
          // Signed with the requesting client's algorithm, so the RS256 and
          // ES256 runs each measure a single algorithm end to end.
          jwt: { sign: { alg: client.idTokenSignedResponseAlg } },
        };
      },
    },
  },

  // Code flows return a refresh token whenever the client may use the
  // refresh_token grant (ours does not require offline_access).
  async issueRefreshToken(ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
  // Rotate on every use, like ours (default rotates only past 70 % of TTL).
  rotateRefreshToken: true,

  // PKCE: the default policy (required for public clients only) is kept; the
  // benchmark clients always send S256, which is then verified.
};

const provider = new Provider(issuer, configuration);
// Plain HTTP on loopback, no reverse proxy: X-Forwarded-* must not be trusted.
provider.proxy = false;

// --- Minimal interaction: one form post logs in AND grants consent ---------

function html(res, status, body) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(body);
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 16 * 1024) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function showInteraction(req, res, uid) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return html(res, 400, 'interaction mismatch');
  const action = `/interaction/${encodeURIComponent(uid)}/login`;
  return html(res, 200, `<!doctype html><title>Sign in</title>
<form method="post" action="${escapeHtml(action)}">
<input name="account" value="bench" autofocus>
<button type="submit">Sign in and allow ${escapeHtml(details.params.client_id)}</button>
</form>`);
}

async function finishInteraction(req, res, uid) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return html(res, 400, 'interaction mismatch');
  const form = await readForm(req);
  const accountId = form.get('account');
  if (!accountId) return html(res, 400, 'account is required');

  const { params } = details;
  // Consent in the same step: a Grant with everything that was requested.
  // The login prompt comes first, so prompt.details do not list the missing
  // consent yet; the requested scope/claims come from the request parameters.
  // Reusing the grant of an existing session keeps one grant per session.
  const grant = (details.grantId && await provider.Grant.find(details.grantId))
    || new provider.Grant({ accountId, clientId: params.client_id });
  if (params.scope) grant.addOIDCScope(params.scope);
  if (params.claims) {
    const claims = JSON.parse(params.claims);
    grant.addOIDCClaims([
      ...Object.keys(claims.userinfo ?? {}),
      ...Object.keys(claims.id_token ?? {}),
    ]);
  }
  const grantId = await grant.save();

  return provider.interactionFinished(req, res, {
    login: { accountId },
    consent: { grantId },
  }, { mergeWithLastSubmission: false });
}

const providerCallback = provider.callback();
const INTERACTION = /^\/interaction\/([A-Za-z0-9_-]+)(\/login)?$/;

const server = http.createServer(async (req, res) => {
  const { pathname } = new URL(req.url, issuer);
  const m = INTERACTION.exec(pathname);
  if (!m) return providerCallback(req, res);
  try {
    if (req.method === 'GET' && !m[2]) return await showInteraction(req, res, m[1]);
    if (req.method === 'POST' && m[2]) return await finishInteraction(req, res, m[1]);
    return html(res, 405, 'method not allowed');
  } catch (err) {
    // SessionNotFound etc.: expired/unknown interaction or missing cookies.
    if (process.env.PEER_DEBUG === '1') console.error(err);
    if (!res.headersSent) return html(res, err.statusCode ?? 500, escapeHtml(err.message));
    return res.end();
  }
});

// Keep-alive on: load generators reuse connections, as they do against ours.
server.keepAliveTimeout = 65_000;

server.listen(port, host, () => {
  // Start-up notices (e.g. Node.js 20 "unsupported runtime", in-memory adapter)
  // went to the log already; from here on the console is silenced so that
  // per-request output (errors, one-time notices) cannot dominate the
  // benchmark. PEER_DEBUG=1 keeps it.
  if (process.env.PEER_DEBUG !== '1') {
    for (const name of ['log', 'info', 'warn', 'error', 'debug', 'trace']) {
      console[name] = () => {};
    }
  }
  process.stdout.write('ready\n');
});

// Stop cleanly when the benchmark runner terminates us.
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}
