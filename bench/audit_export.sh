#!/usr/bin/env bash
# Memory of `idp audit export` against the number of events (docs/performance.md, « Audit
# export »): fills the audit trail of a fresh database with N events (default 100,000 then
# 1,000,000) and exports it as JSON lines and CSV, recording the peak resident memory
# (/usr/bin/time) and the time taken. Constant memory means the same peak for both sizes.
#
#   bash bench/audit_export.sh                       # embedded SQLite
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_audit bash bench/audit_export.sh
#
# With PostgreSQL the database is created (and dropped at the end); it must not exist.
set -euo pipefail
cd "$(dirname "$0")/.."
# BENCH_IDP: an idp binary already built (e.g. target/debug/idp); default a release build.
if [ -z "${BENCH_IDP:-}" ]; then
  cargo build --release --locked --quiet -p idp --bin idp
fi
idp="$(realpath "${BENCH_IDP:-target/release/idp}")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
url="${DATABASE_URL:-sqlite://$work/audit.db?mode=rwc}"
if [[ "$url" == postgres* ]]; then
  admin="${url%/*}/postgres"
  name="${url##*/}"
  psql "$admin" -qc "create database $name"
  trap 'psql "$admin" -qc "drop database if exists $name" >/dev/null; rm -rf "$work"' EXIT
fi
export IDP_DATABASE_URL="$url" IDP_LOG=warn IDP_OPERATOR=bench
(cd "$work" && "$idp" migrate >/dev/null)

fill() { # fill N: the trail holds N events in all
  local n="$1"
  local details='{"ip":"203.0.113.7","user_agent":"Mozilla/5.0 (X11; Linux x86_64)","amr":["pwd"],"acr":"eidas1","client_id":"ceres"}'
  if [[ "$url" == postgres* ]]; then
    psql "$url" -qc "insert into audit_events (id, at, actor, action, target, details)
      select 'bench-' || g, 1700000000 + g, 'user-' || (g % 5000), 'login.succeeded',
             'user-' || (g % 5000), '$details'
      from generate_series((select count(*) from audit_events where id like 'bench-%') + 1, $n) g"
  else
    sqlite3 "${url#sqlite://}" >/dev/null <<SQL
.timeout 5000
with recursive g(i) as (select (select count(*) from audit_events where id like 'bench-%') + 1
                        union all select i + 1 from g where i < $n)
insert into audit_events (id, at, actor, action, target, details)
select 'bench-' || i, 1700000000 + i, 'user-' || (i % 5000), 'login.succeeded',
       'user-' || (i % 5000), '$details' from g;
SQL
  fi
}
sqlite_path() { local p="${url#sqlite://}"; echo "${p%%\?*}"; }
if [[ "$url" != postgres* ]]; then url="sqlite://$(sqlite_path)"; export IDP_DATABASE_URL="$url?mode=rwc"; fi

printf '| events | format | peak memory (MiB) | time (s) | output (MiB) |\n|---|---|---|---|---|\n'
for n in 100000 1000000; do
  fill "$n"
  for format in jsonl csv; do
    out="$work/export.$format"
    /usr/bin/time -f '%M %e' -o "$work/time" \
      "$idp" audit export --since 2000-01-01 --format "$format" --output "$out" 2>/dev/null
    read -r kib seconds <"$work/time"
    size=$(stat -c %s "$out")
    printf '| %s | %s | %.1f | %s | %.0f |\n' "$n" "$format" "$(echo "$kib / 1024" | bc -l)" \
      "$seconds" "$(echo "$size / 1048576" | bc -l)"
    rm -f "$out"
  done
done
