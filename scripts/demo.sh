#!/usr/bin/env bash
# Starts everything on embedded defaults: the provider (SQLite in data/, in-process store, keys
# in keys/) on http://localhost:8080, the demo CERES on http://localhost:8081 and the agents'
# upstream OpenID provider « Annuaire des agents (démo) » (npm oidc-provider, tests/upstream-op)
# on http://127.0.0.1:8082, with a demo client and demo accounts. Nothing to install but Rust
# and npm. Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."

export IDP_LOG_FORMAT="${IDP_LOG_FORMAT:-pretty}"
export IDP_DATABASE_URL="${IDP_DATABASE_URL:-sqlite://data/idp.db?mode=rwc}"
# The e-mails stay in data/outbox and are read at /outbox: a viewer that shows everyone's codes,
# so it exists only when asked for, and only on a localhost issuer (docs/configuration.md).
export IDP_MAIL__OUTBOX_VIEWER=true
DEMO_EMAIL="demo@centre-formation.fr"
DEMO_PASSWORD="Demo-EFP-Connect-2024"
AGENT_EMAIL="agent@dreets.travail.gouv.fr"
# « AGENT DU MINISTÈRE »: the one account of the demo upstream. 127.0.0.1, not localhost:
# cookies ignore ports, so the upstream's would share the provider's jar on localhost.
UPSTREAM_ISSUER="http://127.0.0.1:8082"
UPSTREAM_LOGIN="dominique.martin@travail.gouv.fr"
UPSTREAM_PASSWORD="Demo-Annuaire-2024"
UPSTREAM_CLIENT_ID="efp-connect-demo"
UPSTREAM_CLIENT_SECRET="secret-de-l-annuaire-de-demo"
# AFPA Paris 15 in the sample register: the centre the demo's activation code is for.
DEMO_SIRET="82416506200194"

stamp=tests/upstream-op/node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ tests/upstream-op/package-lock.json -nt "$stamp" ]; then
  (cd tests/upstream-op && npm ci --no-audit --no-fund --silent)
  touch "$stamp"
fi
bash scripts/openssl.sh
cargo build --quiet -p idp -p relying-party-demo
# Where cargo put the binaries (CARGO_TARGET_DIR when set).
target_dir="${CARGO_TARGET_DIR:-target}"
idp="$target_dir/debug/idp"
mkdir -p data

$idp migrate
# The demo client's secret is printed once at creation: keep it in data/ for the demo CERES.
secret_file=data/ceres-demo.secret
if ! $idp clients show ceres-demo >/dev/null 2>&1; then
  $idp clients create ceres-demo --name "CERES (démo)" \
    --redirect-uri http://localhost:8081/callback \
    --post-logout-redirect-uri http://localhost:8081/ \
    --grant-type authorization_code --grant-type refresh_token --grant-type client_credentials \
    --scope openid --scope email --scope profile --scope organization --scope habilitations \
    --scope offline_access --scope codes:issue \
    --skip-consent true | sed -n 's/^secret (affiché une seule fois) : //p' > "$secret_file"
elif [ ! -s "$secret_file" ]; then
  $idp clients rotate-secret ceres-demo | sed -n 's/^nouveau secret (affiché une seule fois) : //p' > "$secret_file"
fi
chmod 600 "$secret_file"
# A client kept from an older demo gets the grants and scopes of this one: people log in
# (code + refresh), and the agents' area asks for activation codes with its own token
# (client_credentials + codes:issue). It is told, server to server, when a provider session it
# logged into ends (back-channel logout, `sid` required: it ends only that session's logins).
$idp clients update ceres-demo \
  --grant-type authorization_code --grant-type refresh_token --grant-type client_credentials \
  --scope openid --scope email --scope profile --scope organization --scope habilitations \
  --scope offline_access --scope codes:issue \
  --backchannel-logout-uri http://localhost:8081/backchannel-logout \
  --backchannel-logout-session-required true >/dev/null
# The sample SIRENE register (docs/organizations.md): the sign-up searches it. Re-runnable.
$idp sirene import data/sirene/StockEtablissement_sample.csv \
  --unites-legales data/sirene/StockUniteLegale_sample.csv --progress-every 0
IDP_NEW_USER_PASSWORD="$DEMO_PASSWORD" $idp users create --email "$DEMO_EMAIL" \
  --given-name Camille --family-name Durand >/dev/null 2>&1 || true
IDP_NEW_USER_PASSWORD="$DEMO_PASSWORD" $idp users create --email "$AGENT_EMAIL" --agent \
  --given-name Dominique --family-name Agent >/dev/null 2>&1 || true
# The demo CERES belongs to the CERES service (seeded by the migrations): it sees CERES
# habilitations. It shows its own « Vous n'avez pas accès » page (as CERES does), so the
# provider lets people without a habilitation through; the provider's pages send people back
# to its home page when they are done (docs/access.md).
$idp services link-client ceres ceres-demo >/dev/null
$idp services create ceres --label CERES --home-url http://localhost:8081/ >/dev/null
# A fresh activation code for the demo centre at each start (the previous one is revoked).
DEMO_CODE="$($idp codes issue --service ceres --siret "$DEMO_SIRET" | sed -n 's/^code d.activation : //p')"

UPSTREAM_PORT=8082 UPSTREAM_CLIENT_ID="$UPSTREAM_CLIENT_ID" \
  UPSTREAM_CLIENT_SECRET="$UPSTREAM_CLIENT_SECRET" \
  UPSTREAM_REDIRECT_URI=http://localhost:8080/connexion/agent/retour \
  UPSTREAM_POST_LOGOUT_REDIRECT_URI=http://localhost:8080/deconnexion/agent \
  UPSTREAM_DEMO_LOGIN="$UPSTREAM_LOGIN" UPSTREAM_DEMO_PASSWORD="$UPSTREAM_PASSWORD" \
  node tests/upstream-op/op.mjs >/dev/null &
upstream_pid=$!
IDP_AGENTS__UPSTREAMS="[{id=\"annuaire\",label=\"Annuaire des agents (démo)\",issuer=\"$UPSTREAM_ISSUER\",client_id=\"$UPSTREAM_CLIENT_ID\",client_secret=\"$UPSTREAM_CLIENT_SECRET\",allowed_domains=[\"travail.gouv.fr\"]}]" \
  $idp serve &
idp_pid=$!
trap 'kill $idp_pid $upstream_pid 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 50); do
  curl -fs http://localhost:8080/readyz >/dev/null 2>&1 &&
    curl -fs "$UPSTREAM_ISSUER/.well-known/openid-configuration" >/dev/null 2>&1 && break
  sleep 0.2
done

cat <<MSG

  EFP Connect   http://localhost:8080
  CERES (démo)  http://localhost:8081   ← start here: « Se connecter avec EFP Connect »
  Demo account  $DEMO_EMAIL / $DEMO_PASSWORD
  Agent         « AGENT DU MINISTÈRE » on the login page, then at the Annuaire des agents
                (démo) $UPSTREAM_ISSUER: $UPSTREAM_LOGIN / $UPSTREAM_PASSWORD
  Break-glass   $AGENT_EMAIL / $DEMO_PASSWORD   (local agent account: http://localhost:8080/agent)
  Activation    SIRET $DEMO_SIRET, code $DEMO_CODE
  E-mails       http://localhost:8080/outbox

MSG
RP_CLIENT_SECRET="$(cat "$secret_file")" "$target_dir/debug/relying-party-demo"
