#!/usr/bin/env bash
# Regenerates the vendored design system (dsfr-assets/dist/, embedded in the binaries) from the
# npm package pinned by web/package-lock.json, after checking the tarball against the lock's
# integrity. Only what the pages are served is kept: the stylesheet and scripts, the fonts, the
# favicons, every icon the stylesheet points to, and the `fr-icon-*` classes our templates use
# (utility/icons/icons.min.css trimmed to them, with their SVGs).
#
#   bash scripts/dsfr-vendor.sh           rewrite dsfr-assets/dist/
#   bash scripts/dsfr-vendor.sh --check   fail if dsfr-assets/dist/ differs from the package
#
# Needs npm and network access to its registry; the build does not (the copy is committed).
# Run it after a DSFR upgrade in web/package.json (then `npm install` there to update the lock)
# or after using a new `fr-icon-*` class in a template.
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-write}"
read -r version integrity < <(python3 -c '
import json
p = json.load(open("web/package-lock.json"))["packages"]["node_modules/@gouvfr/dsfr"]
print(p["version"], p["integrity"])')

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "@gouvfr/dsfr@$version" >/dev/null)
tarball="$(ls "$work"/gouvfr-dsfr-*.tgz)"
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [ "$actual" != "$integrity" ]; then
  echo "error: @gouvfr/dsfr@$version does not match web/package-lock.json's integrity" >&2
  echo "  lock:    $integrity" >&2
  echo "  tarball: $actual" >&2
  exit 1
fi
tar -xzf "$tarball" -C "$work"

out="$work/out"
python3 - "$work/package" "$out" "$version" <<'PY'
import pathlib, re, shutil, sys

package, out, version = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
dist = package / "dist"
out.mkdir(parents=True)

def copy(relative):
    target = out / "dist" / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(dist / relative, target)

for name in ["dsfr.min.css", "dsfr.module.min.js", "dsfr.nomodule.min.js"]:
    copy(name)
for folder in ["fonts", "favicon"]:
    for path in sorted((dist / folder).iterdir()):
        copy(f"{folder}/{path.name}")

# Every file the stylesheet points to (fonts and the icons of its components).
css = (dist / "dsfr.min.css").read_text()
for url in sorted(set(re.findall(r"url\(([^)\"':]+)\)", css))):
    copy(url)

# The icon classes our pages use, found in the templates and the code that renders them.
used = set()
for root in ["idp/src", "relying-party-demo/src", "relying-party-demo/templates"]:
    for path in pathlib.Path(root).rglob("*"):
        if path.suffix in {".html", ".rs"}:
            used |= set(re.findall(r"\bfr-icon-([a-z0-9-]+)", path.read_text()))

icons = (dist / "utility/icons/icons.min.css").read_text()
rules = {}
# Each icon is one rule setting the mask image of both pseudo-elements; the copy drops the
# Internet Explorer fallback (background-image) block, a browser the DSFR no longer supports.
for name, url in re.findall(
    r"\.fr-icon-([a-z0-9-]+):after,\.fr-icon-\1:before\{-webkit-mask-image:url\(([^)]+)\);"
    r"mask-image:url\(\2\)\}",
    icons,
):
    rules.setdefault(name, url)
missing = sorted(used - rules.keys())
if missing:
    sys.exit(f"error: no such DSFR icon: {', '.join(missing)}")
header = icons[: icons.index("*/") + 2]
lines = [header, f"/* Trimmed by scripts/dsfr-vendor.sh to the icons EFP Connect uses (DSFR {version}). */"]
for name in sorted(used):
    url = rules[name]
    lines.append(
        f".fr-icon-{name}:after,.fr-icon-{name}:before"
        f"{{-webkit-mask-image:url({url});mask-image:url({url})}}"
    )
    copy(str(pathlib.PurePosixPath("utility/icons") / url).replace("utility/icons/../../", ""))
target = out / "dist/utility/icons/icons.min.css"
target.parent.mkdir(parents=True, exist_ok=True)
target.write_text("\n".join(lines) + "\n")
shutil.copyfile(package / "LICENSE.md", out / "LICENSE.md")
(out / "VERSION").write_text(version + "\n")
PY

vendored=dsfr-assets/vendor
case "$mode" in
  --check)
    if ! diff -r "$out" "$vendored" >/dev/null; then
      diff -rq "$out" "$vendored" >&2 || true
      echo "error: $vendored differs from @gouvfr/dsfr@$version: run scripts/dsfr-vendor.sh" >&2
      exit 1
    fi
    echo "ok: $vendored is @gouvfr/dsfr@$version ($integrity)"
    ;;
  write)
    rm -rf "$vendored"
    cp -r "$out" "$vendored"
    echo "dsfr: $vendored written from @gouvfr/dsfr@$version ($(du -sh "$vendored" | cut -f1))"
    ;;
  *)
    echo "usage: $0 [--check]" >&2
    exit 2
    ;;
esac
