# Sourced by scripts/cluster-faults.sh and scripts/cluster-probe.sh: the set-up both drivers
# share. `cluster_setup WORD NAME` makes a database idp_WORD_<random> on the local PostgreSQL and a
# work folder, builds `idp` (debug), checks redis-server and the Python modules, and arranges for
# everything to be cleaned up on exit: processes by their pid files only, the database dropped,
# the work folder removed (kept on failure or with KEEP_WORK=1). Sets root, bin, db, work.
# Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust; override with PGHOST/PGPORT/PGUSER).

cluster_setup() {
    cluster_name="$2"
    started=$(date +%s)
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    cd "$root"
    export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
    bin="$root/target/debug/idp"
    db="idp_$1_$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
    work="$(mktemp -d "${TMPDIR:-/tmp}/idp-$1.XXXXXX")"
    trap cleanup EXIT

    echo "== build (cargo build -p idp)"
    local t
    t=$(date +%s)
    bash scripts/openssl.sh
    cargo build -p idp --quiet
    echo "   built in $(($(date +%s) - t)) s"

    command -v redis-server >/dev/null || { echo "redis-server not found" >&2; exit 2; }
    python3 -c 'import requests, cryptography' || { echo "python3 needs requests and cryptography" >&2; exit 2; }

    echo "== database $db"
    psql -d postgres -qAt -c "CREATE DATABASE $db" >/dev/null
}

cleanup() {
    local status=$?
    # Processes the driver started (it also stops them itself): by their pid files only.
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
    echo "$cluster_name: $(($(date +%s) - started)) s in all"
}
