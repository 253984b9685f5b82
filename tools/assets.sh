#!/bin/sh
# tools/assets.sh - builds the front-end assets the server serves at
# /assets/<version>/ from GOV.UK Frontend (vendor/node_modules, installed by
# `make deps`) and borough's own files (vendor/src). Run by tools/deps.sh;
# quiet, and does nothing when the build is up to date.
#
# The GDS Transport font is licensed for GOV.UK only: its @font-face rules are
# dropped and every font stack using it gets a system font stack instead, and
# the font files are not copied. The result goes to vendor/public/<version>/
# where <version> is GOV.UK Frontend's version and a hash of the built files,
# so a new GOV.UK Frontend (or a change to borough's files) changes every URL
# and the files can be cached for a year. vendor/public/VERSION names it.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
src="$root/vendor/node_modules/govuk-frontend/dist/govuk"
out="$root/vendor/public"
[ -f "$src/govuk-frontend.min.css" ] || { echo "assets: GOV.UK Frontend is not installed (run make deps)" >&2; exit 1; }

govuk_version=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$root/vendor/node_modules/govuk-frontend/package.json" | head -1)
stamp="$out/.stamp"
inputs="$src/govuk-frontend.min.css $src/govuk-frontend.min.js $root/vendor/src/borough-init.mjs $root/vendor/src/borough-live.mjs $root/vendor/src/borough.css $0"
if [ -f "$stamp" ] && [ -f "$out/VERSION" ]; then
  newer=$(find $inputs -newer "$stamp" 2>/dev/null | head -1)
  [ -z "$newer" ] && exit 0
fi

fonts='system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif'
tmp="$out/.build"
rm -rf "$tmp"
mkdir -p "$tmp/images"
sed -e 's#@font-face{font-family:GDS Transport;[^}]*}##g' \
    -e "s#GDS Transport,arial,sans-serif#$fonts#g" \
    -e 's#url(/assets/#url(#g' \
    "$src/govuk-frontend.min.css" > "$tmp/govuk-frontend.min.css"
if grep -q 'GDS Transport' "$tmp/govuk-frontend.min.css"; then
  echo "assets: GDS Transport is still named in the stylesheet; update tools/assets.sh" >&2
  exit 1
fi
cp "$src/govuk-frontend.min.js" "$tmp/govuk-frontend.min.js"
cp "$root/vendor/src/borough-init.mjs" "$root/vendor/src/borough-live.mjs" "$root/vendor/src/borough.css" "$tmp/"
cp "$src/assets/images/"* "$tmp/images/"
cp "$src/assets/manifest.json" "$tmp/"

hash=$(cd "$tmp" && find . -type f | LC_ALL=C sort | xargs cat | sha256sum | cut -c1-10)
version="$govuk_version-$hash"
rm -rf "$out/$version"
mv "$tmp" "$out/$version"
# Older builds go: only the current one is served.
for d in "$out"/*/; do
  [ "$(basename "$d")" = "$version" ] || rm -rf "$d"
done
printf '%s\n' "$version" > "$out/VERSION"
touch "$stamp"
