#!/usr/bin/env bash
# Runs the whole test suite against one storage backend, chosen by IDP_TEST_BACKEND:
#   sqlite (default)  SQLite + in-process store, nothing to install;
#   postgres          PostgreSQL (IDP_TEST_DATABASE_URL) + Redis (IDP_TEST_REDIS_URL).
# Extra arguments go to `cargo test`, e.g. `bash scripts/test.sh -- login` to filter by name.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/openssl.sh  # OpenSSL headers for webauthn-rs (passkeys)

backend="${IDP_TEST_BACKEND:-sqlite}"
# Tests that need PostgreSQL + Redis (two nodes on shared storage, TLS to Redis) are marked
# ignored: the embedded run reports them as skipped, never as passed, and the PostgreSQL run
# includes them. One build serves both runs (a cargo feature used to compile the suite twice).
test_args=()
case "$backend" in
  sqlite)
    # The harness picks the backend from these variables: unset them so a value left in
    # the shell cannot silently turn an embedded run into a PostgreSQL one.
    unset IDP_TEST_DATABASE_URL IDP_TEST_REDIS_URL
    echo "test backend: sqlite + in-process store"
    ;;
  postgres)
    export IDP_TEST_DATABASE_URL="${IDP_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
    export IDP_TEST_REDIS_URL="${IDP_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
    echo "test backend: postgres ($IDP_TEST_DATABASE_URL) + redis ($IDP_TEST_REDIS_URL)"
    test_args=(--include-ignored)

    # Check both servers first: one clear message beats hundreds of failing tests.
    if ! psql "$IDP_TEST_DATABASE_URL" -Atqc 'select 1' >/dev/null; then
      echo "error: PostgreSQL is not reachable at $IDP_TEST_DATABASE_URL" >&2
      exit 1
    fi
    if [ "$(redis-cli -u "$IDP_TEST_REDIS_URL" ping 2>&1)" != PONG ]; then
      echo "error: Redis is not reachable at $IDP_TEST_REDIS_URL" >&2
      exit 1
    fi

    # The harness creates one database per test (idp_test_<uuid>) and drops it when the
    # test ends; an interrupted run leaves some behind. Drop those nobody is connected
    # to, so a run in progress elsewhere on the same server keeps its databases.
    psql "$IDP_TEST_DATABASE_URL" -q -v ON_ERROR_STOP=1 <<'SQL'
select format('drop database if exists %I', d.datname)
from pg_database d
where d.datname like 'idp\_test\_%'
  and not exists (select 1 from pg_stat_activity a where a.datname = d.datname)
\gexec
SQL
    ;;
  *)
    echo "error: IDP_TEST_BACKEND must be 'sqlite' or 'postgres', not '$backend'" >&2
    exit 1
    ;;
esac

# The mail tests deliver to a real SMTP server, tests/smtp_sink.py (aiosmtpd): install it once.
if ! python3 -c 'import importlib.metadata as m, sys; sys.exit(m.version("aiosmtpd") != "1.4.6")' 2>/dev/null; then
  python3 -m pip install --quiet aiosmtpd==1.4.6
fi

# The TLS tests of the dependencies (tests/tests/suite/tls_dependencies.rs) make their private CA
# with the openssl command; the PostgreSQL run also starts its own redis-server processes and
# sentinels (redis-server, redis-cli) and a PostgreSQL of its own (/usr/lib/postgresql/*/bin).
if ! command -v openssl >/dev/null; then
  echo "TLS tests: apt-get install openssl"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openssl ||
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openssl; }
fi

if [ "$backend" = postgres ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  # The server binaries only: no cluster of the package's own on this machine.
  echo "TLS tests: apt-get install postgresql (binaries, no cluster)"
  mkdir -p /etc/postgresql-common/createcluster.d
  echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.d/idp-tests.conf
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql ||
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql; }
fi

# The browser journeys (tests/tests/browser.rs) drive Debian's Chromium with playwright-core
# (`npx playwright install` cannot download a browser here): install both once.
if [ ! -x /usr/bin/chromium ]; then
  echo "browser tests: apt-get install chromium"
  # Package lists that are too old to know it are refreshed once.
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium ||
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; }
fi
# The demo CERES's PDF letter is read back by poppler's pdftotext, a reader we did not write.
if ! command -v pdftotext >/dev/null; then
  echo "letter tests: apt-get install poppler-utils"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends poppler-utils ||
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends poppler-utils; }
fi
# The reverse-proxy tests (tests/tests/suite/proxy.rs) put Debian's nginx in front of the
# provider; the package's own service is never started (the tests run their own, on free ports).
if [ ! -x /usr/sbin/nginx ]; then
  echo "proxy tests: apt-get install nginx-light"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx-light ||
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx-light; }
fi
# npm writes node_modules/.package-lock.json at each install: its age is the install's
# (the same stamp for every npm folder below).
stamp=tests/browser/node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ tests/browser/package-lock.json -nt "$stamp" ]; then
  echo "browser tests: npm ci in tests/browser/"
  (cd tests/browser && npm ci --no-audit --no-fund)
  touch "$stamp"
fi

# The interoperability tests (tests/tests/interop.rs) run third-party relying-party libraries:
# npm openid-client in tests/interop/ (same stamp as above), PyPI authlib with requests.
stamp=tests/interop/node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ tests/interop/package-lock.json -nt "$stamp" ]; then
  echo "interop tests: npm ci in tests/interop/"
  (cd tests/interop && npm ci --no-audit --no-fund)
  touch "$stamp"
fi
# The agents' login tests (tests/tests/suite/upstream.rs) log in at a third-party OpenID
# provider: npm oidc-provider in tests/upstream-op/ (same stamp as above).
stamp=tests/upstream-op/node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ tests/upstream-op/package-lock.json -nt "$stamp" ]; then
  echo "agents' login tests: npm ci in tests/upstream-op/"
  (cd tests/upstream-op && npm ci --no-audit --no-fund)
  touch "$stamp"
fi
pins="authlib==1.9.9 joserfc==1.8.0 requests==2.34.2"
if ! python3 -c 'import importlib.metadata as m, sys
sys.exit(any(m.version(n) != v for n, v in (p.split("==") for p in sys.argv[1:])))' $pins 2>/dev/null; then
  python3 -m pip install --quiet $pins
fi

# The `idp` binary itself, which a test runs as a process from an empty directory
# (pages.rs, the_binary_serves_styled_pages_from_an_empty_directory) and
# scripts/package-check.sh packages: `cargo test` builds only the library the tests link.
cargo build --locked --quiet -p idp --bin idp

# Library, binary and integration tests (no doc-tests: the crates have no examples to run).
# A plain total closes the run, so a reader (or CI) sees at once how many tests ran.
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
set +e
# The caller's arguments: cargo's before a `--`, the test binaries' after it (filters).
cargo_args=()
while [ "$#" -gt 0 ] && [ "$1" != -- ]; do cargo_args+=("$1"); shift; done
[ "$#" -gt 0 ] && shift
cargo test --workspace --locked --no-fail-fast --lib --bins --tests "${cargo_args[@]}" \
  -- "${test_args[@]}" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
passed=$(grep -Eo '^test result: .* ([0-9]+) passed' "$log" | grep -Eo '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed;' "$log" | awk '{s+=$1} END {print s+0}')
skipped=$(grep -E '^test result: ' "$log" | grep -Eo '[0-9]+ ignored' | awk '{s+=$1} END {print s+0}')
echo
echo "$backend: $passed passed, $failed failed, $skipped skipped"
exit "$status"
