#!/usr/bin/env bash
# Limits and timing across two idp nodes on one PostgreSQL database and one Redis
# (docs/cluster.md, « Limits and timing across nodes »).
#
#   bash scripts/cluster-probe.sh [probe.py options]
#
# Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust; override with PGHOST/PGPORT/PGUSER),
# /usr/bin/redis-server, python3 with requests and cryptography. Uses its OWN Redis process (on a
# free port, no persistence; the probe empties it between phases) and its OWN database
# idp_probe_<random>, dropped at the end; the machine's Redis and other databases are never
# touched. PROBE_ACCOUNTS (default 36) sets the samples of each kind per timed operation.
# Exit status: 0 when every assertion held, 1 otherwise (2: the set-up failed).
set -euo pipefail
# shellcheck source=scripts/cluster-common.sh
source "$(dirname "$0")/cluster-common.sh"
cluster_setup probe cluster-probe

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
