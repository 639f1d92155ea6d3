#!/usr/bin/env bash
# Two idp nodes on one PostgreSQL database and one Redis, under load and faults (docs/cluster.md).
#
#   bash scripts/cluster-faults.sh
#
# Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust; override with PGHOST/PGPORT/PGUSER),
# /usr/bin/redis-server, python3 with requests and cryptography. Uses its OWN Redis process (on a
# free port, no persistence: a restart wipes it) and its OWN database idp_cluster_<random>,
# dropped at the end; the machine's Redis and other databases are never touched.
# Exit status: 0 when every assertion held, 1 otherwise (2: the set-up failed).
set -euo pipefail
# shellcheck source=scripts/cluster-common.sh
source "$(dirname "$0")/cluster-common.sh"
cluster_setup cluster cluster-faults

echo "== cluster under faults"
set +e
python3 -u "$root/tests/cluster/faults.py" \
    --idp "$bin" \
    --database-url "postgres://$PGUSER@$PGHOST:$PGPORT/$db" \
    --psql-db "$db" \
    --workdir "$work" \
    --users "${CLUSTER_USERS:-8}" \
    --steady "${CLUSTER_STEADY_SECONDS:-10}"
status=$?
set -e
[ -f "$work/summary.json" ] && cp "$work/summary.json" "$root/target/cluster-faults-summary.json"
exit "$status"
