#!/usr/bin/env bash
# Checks the packages (packaging/, docs/operations.md « Packages »), without network access
# beyond crates.io for cargo-deb itself:
#   1. builds the Debian package with cargo-deb from the debug `idp` the tests use (no release
#      build: the package is the one `cargo deb -p idp` makes, with a debug binary);
#   2. installs it with dpkg, as root;
#   3. verifies the installed unit with `systemd-analyze verify`;
#   4. starts the service from the package: with systemctl when systemd is PID 1, else its
#      ExecStart as its User, in its WorkingDirectory, with its Environment and EnvironmentFile
#      (read from the installed unit), and checks /readyz and a styled page;
#   5. removes the package (dpkg --purge) and what this run created;
#   6. parses compose.yaml, and builds the image only where a container builder answers.
# Must run as root (dpkg). Meant for CI and for a throwaway machine or container.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

cargo_deb_version=3.8.0
package=efp-connect
unit=/usr/lib/systemd/system/idp.service

say() { printf 'package-check: %s\n' "$*"; }
fail() { printf 'package-check: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "must run as root (dpkg -i)"

if [ "$(cargo deb --version 2>/dev/null | awk '{print $2}')" != "$cargo_deb_version" ]; then
  say "cargo install cargo-deb $cargo_deb_version"
  cargo install --quiet --locked cargo-deb --version "$cargo_deb_version"
fi
command -v systemd-analyze >/dev/null || {
  say "apt-get install systemd (systemd-analyze)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends systemd ||
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends systemd; }
}

# 1. The .deb, from the debug binary (built by scripts/test.sh; a no-op when up to date).
bash scripts/openssl.sh
cargo build --locked --quiet -p idp --bin idp
work="$(mktemp -d)"
pid=""
created_state=""
cleanup() {
  status=$?
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  if dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q installed; then
    dpkg --purge "$package" >/dev/null || true
  fi
  if [ -n "$created_state" ]; then rm -rf /var/lib/efp-connect /etc/efp-connect; fi
  [ "$status" = 0 ] || { echo "--- idp log:" >&2; cat "$work/idp.log" >&2 2>/dev/null || true; }
  rm -rf "$work"
}
trap cleanup EXIT
# cargo-deb warns that a dev profile will be refused "in the future": its version is pinned above.
cargo deb -p idp --profile dev --no-build --fast --no-dbgsym -o "$work/" --quiet
deb="$(ls "$work"/*.deb)"
say "built $(basename "$deb") ($(du -h "$deb" | cut -f1))"
dpkg-deb --contents "$deb" | awk '{print $6}' | sort > "$work/contents"
for file in ./usr/bin/idp ./etc/efp-connect/idp.toml ./usr/lib/systemd/system/idp.service; do
  grep -qx "$file" "$work/contents" || fail "$file is not in the package"
done

# 2. Installed with dpkg.
[ -e /var/lib/efp-connect ] || [ -e /etc/efp-connect ] || created_state=yes
if dpkg-query -W "$package" >/dev/null 2>&1; then fail "$package is already installed here"; fi
dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg -i"; }
getent passwd efp-connect >/dev/null || fail "the package did not create the efp-connect user"
[ "$(stat -c '%U:%G %a' /etc/efp-connect/idp.toml)" = "root:efp-connect 640" ] ||
  fail "/etc/efp-connect/idp.toml: $(stat -c '%U:%G %a' /etc/efp-connect/idp.toml)"
say "installed with dpkg"

# 3. The unit, as installed.
systemd-analyze verify "$unit" 2>"$work/verify.log" || { cat "$work/verify.log" >&2; fail "systemd-analyze verify"; }
if [ -s "$work/verify.log" ]; then cat "$work/verify.log" >&2; fail "systemd-analyze verify warned"; fi
say "systemd-analyze verify $unit: ok"

# 4. The service, started from the package on a free port (set as an administrator would, in
# the unit's EnvironmentFile).
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
env_file="$(sed -n 's/^EnvironmentFile=-\{0,1\}//p' "$unit")"
printf 'IDP_LISTEN=127.0.0.1:%s\nIDP_ISSUER=http://localhost:%s\n' "$port" "$port" >"$env_file"
if [ -d /run/systemd/system ]; then
  say "systemd is PID 1: systemctl start idp"
  systemctl daemon-reload
  systemctl start idp
  stop() { systemctl stop idp; }
else
  say "no systemd PID 1 here: running the unit's ExecStart as its User, with its environment"
  exec_start="$(sed -n 's/^ExecStart=//p' "$unit")"
  user="$(sed -n 's/^User=//p' "$unit")"
  group="$(sed -n 's/^Group=//p' "$unit")"
  workdir="$(sed -n 's/^WorkingDirectory=//p' "$unit")"
  umask_value="$(sed -n 's/^UMask=//p' "$unit")"
  mapfile -t environment < <(sed -n 's/^Environment=//p' "$unit"; grep -v '^#' "$env_file")
  # shellcheck disable=SC2086  # ExecStart is split into words, as systemd does.
  (cd "$workdir" && umask "$umask_value" &&
    exec env -i PATH=/usr/bin:/bin "${environment[@]}" \
      setpriv --reuid="$user" --regid="$group" --init-groups --no-new-privs $exec_start) \
    >"$work/idp.log" 2>&1 &
  pid=$!
  stop() { kill "$pid"; wait "$pid" || true; pid=""; }
fi
for _ in $(seq 1 100); do
  if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ]; then
    break
  fi
  sleep 0.2
done
code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")"
[ "$code" = 200 ] || fail "/readyz answered $code"
say "/readyz: 200"
stylesheet="$(curl -sf "http://127.0.0.1:$port/connexion" | grep -o 'href="/static/dsfr/[^"]*/dsfr.min.css"' | cut -d'"' -f2)"
[ -n "$stylesheet" ] || fail "the login page links no stylesheet"
headers="$(curl -sf -D - -o /dev/null "http://127.0.0.1:$port$stylesheet")"
grep -qi '^content-type: text/css' <<<"$headers" || fail "$stylesheet: $headers"
grep -qi '^cache-control: public, max-age=31536000, immutable' <<<"$headers" || fail "$stylesheet: $headers"
say "the login page and its stylesheet ($stylesheet) are served"
# It runs as the service's user and wrote only to its state folder.
owner="$(stat -c %U /var/lib/efp-connect/idp.db)"
[ "$owner" = efp-connect ] || fail "idp.db belongs to $owner"
stop

# 5. Removal.
dpkg --purge "$package" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg --purge"; }
[ ! -e /usr/bin/idp ] || fail "/usr/bin/idp left after purge"
say "purged"

# 6. The compose file parses; the image only where a builder answers (it needs the network).
python3 - "$root/packaging/compose.yaml" <<'PY'
import sys
try:
    import yaml
except ImportError:
    print("package-check: compose.yaml not parsed (no PyYAML)")
    sys.exit(0)
services = yaml.safe_load(open(sys.argv[1]))["services"]
expected = {"postgres", "redis", "idp-1", "idp-2", "proxy", "smtp-sink", "ceres-demo"}
missing = expected - services.keys()
if missing:
    sys.exit(f"package-check: error: compose.yaml lacks {sorted(missing)}")
print("package-check: compose.yaml parses and holds " + ", ".join(sorted(expected)))
PY
if docker info >/dev/null 2>&1; then
  say "docker build --target idp (needs the base images and crates.io)"
  docker build -f packaging/Containerfile --target idp -t efp-connect/idp:check .
else
  say "image not built: no container builder answers here (docker info failed)"
fi
say "ok"
