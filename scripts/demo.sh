#!/usr/bin/env bash
# Starts everything on embedded defaults: the provider (SQLite in data/, in-process store, keys
# in keys/) on http://localhost:8080 and the demo CERES on http://localhost:8081, with a demo
# client and a demo account. Nothing to install but Rust and npm. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

export IDP_LOG_FORMAT="${IDP_LOG_FORMAT:-pretty}"
export IDP_DATABASE_URL="${IDP_DATABASE_URL:-sqlite://data/idp.db?mode=rwc}"
DEMO_EMAIL="demo@centre-formation.fr"
DEMO_PASSWORD="Demo-EFP-Connect-2024"

bash scripts/assets.sh
cargo build --quiet -p idp -p relying-party-demo
idp=target/debug/idp
mkdir -p data

$idp migrate
# The demo client's secret is printed once at creation: keep it in data/ for the demo CERES.
secret_file=data/ceres-demo.secret
if ! $idp clients show ceres-demo >/dev/null 2>&1; then
  $idp clients create ceres-demo --name "CERES (démo)" \
    --redirect-uri http://localhost:8081/callback \
    --post-logout-redirect-uri http://localhost:8081/ \
    --skip-consent true | sed -n 's/^secret (affiché une seule fois) : //p' > "$secret_file"
elif [ ! -s "$secret_file" ]; then
  $idp clients rotate-secret ceres-demo | sed -n 's/^nouveau secret (affiché une seule fois) : //p' > "$secret_file"
fi
chmod 600 "$secret_file"
IDP_NEW_USER_PASSWORD="$DEMO_PASSWORD" $idp users create --email "$DEMO_EMAIL" \
  --given-name Camille --family-name Durand >/dev/null 2>&1 || true

$idp serve &
idp_pid=$!
trap 'kill $idp_pid 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 50); do
  curl -fs http://localhost:8080/readyz >/dev/null 2>&1 && break
  sleep 0.2
done

cat <<MSG

  EFP Connect   http://localhost:8080
  CERES (démo)  http://localhost:8081   ← start here: « Se connecter avec EFP Connect »
  Demo account  $DEMO_EMAIL / $DEMO_PASSWORD

MSG
RP_CLIENT_SECRET="$(cat "$secret_file")" target/debug/relying-party-demo
