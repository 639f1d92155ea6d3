// A third-party OpenID provider for the tests of « AGENT DU MINISTÈRE »: npm oidc-provider
// (OpenID-certified), not our code. Started by tests/tests/suite/upstream.rs, one process per
// test, on a free port; prints `listening <issuer>` once ready. scripts/demo.sh runs it too, as
// « Annuaire des agents (démo) » (UPSTREAM_DEMO_LOGIN below).
//
// Environment: UPSTREAM_PORT (default: any free port), UPSTREAM_CLIENT_ID, UPSTREAM_CLIENT_SECRET, UPSTREAM_REDIRECT_URI (the provider's
// callback), UPSTREAM_POST_LOGOUT_REDIRECT_URI (where the provider's logout comes back).
// UPSTREAM_TAMPER=iss|nonce|exp re-signs the ID token of the token endpoint with the
// provider's own key after changing that claim: a well-signed token that must still be refused;
// UPSTREAM_TAMPER=no-logout turns RP-initiated logout off (no `end_session_endpoint`).
//
// The login page (GET /interaction/:uid) is a plain form with one field `login` (an e-mail):
// the account's `sub` is `agent-<login>`; the login `refuse@…` makes the provider answer
// `access_denied` (the federation says no); a login starting with `carte.` authenticates with
// a smart card (`amr` ["hwk","pin","mfa"]).
// Demo mode (UPSTREAM_DEMO_LOGIN and UPSTREAM_DEMO_PASSWORD set): the page also asks a password
// and only that one account logs in (`prénom.nom@…`, named after its address).
import http from "node:http";
import Provider from "oidc-provider";
import * as jose from "jose";

const env = process.env;
const tamper = env.UPSTREAM_TAMPER || "";
const demo = env.UPSTREAM_DEMO_LOGIN ? { login: env.UPSTREAM_DEMO_LOGIN, password: env.UPSTREAM_DEMO_PASSWORD } : null;
const title = demo ? "Annuaire des agents (démo)" : "Fédération des agents (test)";
const capitalized = (word) => (word ? word[0].toUpperCase() + word.slice(1) : word);
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
      post_logout_redirect_uris: env.UPSTREAM_POST_LOGOUT_REDIRECT_URI ? [env.UPSTREAM_POST_LOGOUT_REDIRECT_URI] : [],
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
  features: {
    devInteractions: { enabled: false },
    claimsParameter: { enabled: true },
    // RP-initiated logout, confirmed by the person on a page of the upstream (its own form).
    rpInitiatedLogout: {
      enabled: tamper !== "no-logout",
      async logoutSource(ctx, form) {
        ctx.body = `<!doctype html><html lang="fr"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>${title}</title></head>
<body><h1>${title}</h1><p>Vous déconnecter de l'annuaire ?</p>${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes">Me déconnecter</button></body></html>`;
      },
    },
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: ["upstream-test-cookie-key"] },
  async findAccount(_ctx, id) {
    const email = id.replace(/^agent-/, "");
    const [first] = email.split("@");
    const names = demo ? first.split(".").map(capitalized) : [first.split(".")[0] || "Agent", "Upstream"];
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email,
          email_verified: true,
          given_name: names[0],
          family_name: names[1] || "Agent",
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

const page = (uid, error) => `<!doctype html><html lang="fr"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>${title}</title></head>
<body><h1>${title}</h1>${error ? `<p role="alert">${error}</p>` : ""}
<form method="post" action="/interaction/${uid}/login">
<label for="login">Adresse électronique</label><input id="login" name="login" autocomplete="username">
${demo ? `<label for="password">Mot de passe</label><input id="password" name="password" type="password" autocomplete="current-password">` : ""}
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
    const form = new URLSearchParams(body);
    const login = form.get("login") || "";
    if (demo && (login !== demo.login || form.get("password") !== demo.password)) {
      res.statusCode = 401;
      res.setHeader("content-type", "text/html; charset=utf-8");
      return res.end(page(details.uid, "Adresse électronique ou mot de passe incorrect."));
    }
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
