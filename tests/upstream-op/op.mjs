// A third-party OpenID provider for the tests of « AGENT DU MINISTÈRE »: npm oidc-provider
// (OpenID-certified), not our code. Started by tests/tests/suite/upstream.rs, one process per
// test, on a free port; prints `listening <issuer>` once ready.
//
// Environment: UPSTREAM_PORT (default: any free port), UPSTREAM_CLIENT_ID, UPSTREAM_CLIENT_SECRET, UPSTREAM_REDIRECT_URI (the provider's
// callback). UPSTREAM_TAMPER=iss|nonce|exp re-signs the ID token of the token endpoint with the
// provider's own key after changing that claim: a well-signed token that must still be refused.
//
// The login page (GET /interaction/:uid) is a plain form with one field `login` (an e-mail):
// the account's `sub` is `agent-<login>`; the login `refuse@…` makes the provider answer
// `access_denied` (the federation says no); a login starting with `carte.` authenticates with
// a smart card (`amr` ["hwk","pin","mfa"]).
import http from "node:http";
import Provider from "oidc-provider";
import * as jose from "jose";

const env = process.env;
const tamper = env.UPSTREAM_TAMPER || "";
const { privateKey } = await jose.generateKeyPair("RS256", { extractable: true });
const jwk = { ...(await jose.exportJWK(privateKey)), kid: "upstream-test", alg: "RS256", use: "sig" };

const server = http.createServer();
await new Promise((resolve) => server.listen(Number(env.UPSTREAM_PORT || 0), "127.0.0.1", resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: env.UPSTREAM_CLIENT_ID,
      client_secret: env.UPSTREAM_CLIENT_SECRET,
      redirect_uris: [env.UPSTREAM_REDIRECT_URI],
      grant_types: ["authorization_code"],
      response_types: ["code"],
    },
  ],
  jwks: { keys: [jwk] },
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["given_name", "family_name"],
    acr: null,
    amr: null,
  },
  features: { devInteractions: { enabled: false }, claimsParameter: { enabled: true } },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: ["upstream-test-cookie-key"] },
  async findAccount(_ctx, id) {
    const email = id.replace(/^agent-/, "");
    const [first] = email.split("@");
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email,
          email_verified: true,
          given_name: first.split(".")[0] || "Agent",
          family_name: "Upstream",
        };
      },
    };
  },
});

// The ID token re-signed with a changed claim (UPSTREAM_TAMPER).
provider.use(async (ctx, next) => {
  await next();
  if (!tamper || ctx.path !== "/token" || !ctx.body || !ctx.body.id_token) return;
  const claims = jose.decodeJwt(ctx.body.id_token);
  const now = Math.floor(Date.now() / 1000);
  if (tamper === "iss") claims.iss = "https://faux-fournisseur.example";
  if (tamper === "nonce") claims.nonce = "un-autre-nonce";
  if (tamper === "exp") Object.assign(claims, { iat: now - 7200, exp: now - 3600 });
  ctx.body.id_token = await new jose.SignJWT(claims)
    .setProtectedHeader({ alg: "RS256", kid: jwk.kid, typ: "JWT" })
    .sign(privateKey);
});

const page = (uid) => `<!doctype html><html lang="fr"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Fédération des agents</title></head>
<body><h1>Fédération des agents (test)</h1>
<form method="post" action="/interaction/${uid}/login">
<label for="login">Adresse électronique</label><input id="login" name="login" autocomplete="username">
<button type="submit">Se connecter</button></form></body></html>`;

const callback = provider.callback();
server.on("request", async (req, res) => {
  const m = req.url.match(/^\/interaction\/([^/?]+)(\/login)?/);
  if (!m) return callback(req, res);
  try {
    const details = await provider.interactionDetails(req, res);
    if (!m[2]) {
      res.setHeader("content-type", "text/html; charset=utf-8");
      return res.end(page(details.uid));
    }
    let body = "";
    for await (const chunk of req) body += chunk;
    const login = new URLSearchParams(body).get("login") || "";
    if (login.startsWith("refuse@")) {
      return provider.interactionFinished(req, res, {
        error: "access_denied",
        error_description: "compte désactivé",
      });
    }
    const accountId = `agent-${login}`;
    const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
    grant.addOIDCScope(details.params.scope);
    const grantId = await grant.save();
    const card = login.startsWith("carte.");
    await provider.interactionFinished(req, res, {
      login: { accountId, amr: card ? ["hwk", "pin", "mfa"] : ["pwd"], acr: card ? "eidas2" : "eidas1" },
      consent: { grantId },
    });
  } catch (e) {
    res.statusCode = 400;
    res.end(String(e));
  }
});
console.log(`listening ${issuer}`);
