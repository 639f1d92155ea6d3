#!/usr/bin/env bash
# Limits and timing across two idp nodes on one PostgreSQL database and one Redis
# (docs/cluster.md, « Limits and timing across nodes »).
#
#   bash scripts/cluster-probe.sh
#
# Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust; override with PGHOST/PGPORT/PGUSER),
# /usr/bin/redis-server, python3 with requests and cryptography. Uses its OWN Redis process (on a
# free port, no persistence; the probe empties it between phases) and its OWN database
# idp_probe_<random>, dropped at the end; the machine's Redis and other databases are never
# touched. PROBE_ACCOUNTS (default 36) sets the samples of each kind per timed operation.
# Exit status: 0 when every assertion held, 1 otherwise (2: the set-up failed).
set -euo pipefail

started=$(date +%s)
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
bin="$root/target/debug/idp"
db="idp_probe_$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
work="$(mktemp -d "${TMPDIR:-/tmp}/idp-probe.XXXXXX")"

cleanup() {
    local status=$?
    # Processes the probe started (it also stops them itself): by their pid files only.
    for f in "$work"/*.pid; do
        [ -e "$f" ] || continue
        pid=$(cat "$f")
        # Only if that pid is still one of ours (an idp of this build, or our redis-server).
        cmd=$({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null || true)
        port=$(cat "$work/redis.port" 2>/dev/null || echo none)
        case "$cmd" in
            "$bin serve"* | *redis-server*":$port"*) kill -9 "$pid" 2>/dev/null || true ;;
        esac
    done
    psql -d postgres -qAt -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 ||
        echo "warning: could not drop database $db" >&2
    if [ "$status" -ne 0 ] && [ -z "${KEEP_WORK:-}" ]; then
        echo "logs kept in $work" >&2
    elif [ -z "${KEEP_WORK:-}" ]; then
        rm -rf "$work"
    else
        echo "work folder: $work"
    fi
    echo "cluster-probe: $(($(date +%s) - started)) s in all"
}
trap cleanup EXIT

echo "== build (cargo build -p idp)"
t=$(date +%s)
cargo build -p idp --quiet
echo "   built in $(($(date +%s) - t)) s"

command -v redis-server >/dev/null || { echo "redis-server not found" >&2; exit 2; }
python3 -c 'import requests, cryptography' || { echo "python3 needs requests and cryptography" >&2; exit 2; }

echo "== database $db"
psql -d postgres -qAt -c "CREATE DATABASE $db" >/dev/null

echo "== limits and timing across nodes"
set +e
python3 -u "$root/tests/cluster/probe.py" \
    --idp "$bin" \
    --database-url "postgres://$PGUSER@$PGHOST:$PGPORT/$db" \
    --psql-db "$db" \
    --workdir "$work" \
    --accounts "${PROBE_ACCOUNTS:-36}" \
    "$@"
status=$?
set -e
exit "$status"
