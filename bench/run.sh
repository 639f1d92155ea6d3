#!/usr/bin/env bash
# Endpoints under load, ours against a peer (docs/performance.md, « Endpoints under load »).
#
#   bash bench/run.sh            # measure and rewrite the table in docs/performance.md
#   bash bench/run.sh --no-write # measure and print only
#   BENCH_ARGS="--duration 5" bash bench/run.sh   # extra arguments for bench/run.py
#
# Builds `idp` in release mode and the criterion benchmarks (run.py times argon2id on every
# core with them just before each target's logins: the capacity those are compared with),
# installs wrk (Debian) and the peer (npm oidc-provider, bench/peer/) when missing, then runs
# bench/run.py: our provider embedded, our provider on PostgreSQL 127.0.0.1:5432 (a database of its own, dropped at the end) + Redis
# 127.0.0.1:6379 (a key prefix of its own), and the peer, one after the other on loopback.
# Per core: every server runs under `taskset -c 0` and wrk under `taskset -c 1` (bench/run.py
# --server-cpus, --load-cpus, --no-pin), three runs (--runs) whose medians and spreads make the
# table; every run's raw figures are kept in target/bench/. Run it on an otherwise idle machine.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
started=$(date +%s)

write=(--write docs/performance.md)
[ "${1:-}" = "--no-write" ] && write=()

if ! command -v wrk >/dev/null; then
  echo "== apt-get install wrk"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wrk ||
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wrk; }
fi
command -v node >/dev/null || { echo "node is needed for the peer (npm oidc-provider)" >&2; exit 2; }
python3 -c 'import requests' || { echo "python3 needs requests" >&2; exit 2; }
pg_isready -h 127.0.0.1 -p 5432 >/dev/null || { echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 2; }
[ "$(redis-cli -h 127.0.0.1 -p 6379 ping)" = PONG ] || { echo "Redis is not reachable on 127.0.0.1:6379" >&2; exit 2; }

bash scripts/openssl.sh
echo "== cargo build --release -p idp"
cargo build --release --locked -p idp --quiet

echo "== cargo bench --no-run (run.py times argon2id with it before each target's logins)"
cargo bench --locked -p idp --bench hot_paths --no-run --quiet

echo "== peer: npm ci in bench/peer"
python3 -c "import sys; sys.path.insert(0, 'bench'); import peer; peer.ensure_installed()"

echo "== load"
mkdir -p "${CARGO_TARGET_DIR:-target}/bench"
# shellcheck disable=SC2086
python3 -u bench/run.py --idp "${CARGO_TARGET_DIR:-target}/release/idp" "${write[@]}" \
  --json "${CARGO_TARGET_DIR:-target}/bench/results-$(date +%Y%m%d-%H%M).json" ${BENCH_ARGS:-}
echo "bench: $(($(date +%s) - started)) s in all"
