#!/bin/sh
# tools/deps.sh - installs the Debian packages borough builds and tests with,
# only those missing. Quiet and quick when everything is present. Run by
# `make deps` (and so by `make run` and `make test`).
set -eu

# Build: the C libraries of DESIGN.md; nodejs and npm fetch GOV.UK Frontend
# (vendor/package.json). Tests: python3 (the end-to-end client), sqlite3
# (inspecting databases), curl and openssl (TLS peers), chromium (the
# accessibility test, with tests/browser/package.json), qrencode and
# zbar-tools (test_qr checks core/qr.c's symbols bit for bit against
# qrencode and reads them back with zbarimg). PostgreSQL, the second
# backend: libpq-dev to build against, postgresql-15 for the throwaway
# cluster the tests start themselves (tests/e2e/pglib.py; no system service
# is used; its psql is how the tests look inside it). Arguments add packages:
# `make fuzz` asks for clang, libclang-rt-dev (libFuzzer and the sanitizer
# runtimes) and llvm (llvm-symbolizer).
pkgs="build-essential pkg-config liblua5.4-dev libsqlite3-dev libuv1-dev
libhttp-parser-dev libmbedtls-dev libargon2-dev libpq-dev python3 sqlite3 curl openssl chromium
qrencode zbar-tools postgresql-15"
# A machine may have node and npm from elsewhere (nodesource): keep those.
command -v npm >/dev/null 2>&1 || pkgs="$pkgs nodejs npm"
[ $# -gt 0 ] && pkgs="$pkgs $*"

missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
    missing="$missing $p"
done
root=$(cd "$(dirname "$0")/.." && pwd)

# GOV.UK Frontend, exactly as vendor/package-lock.json pins it, then the
# assets built from it (tools/assets.sh). Both are quiet when up to date.
front_end() {
  vendor="$root/vendor"
  hidden="$vendor/node_modules/.package-lock.json"
  if [ ! -f "$hidden" ] || [ "$vendor/package-lock.json" -nt "$hidden" ]; then
    echo "deps: npm ci (vendor/)"
    (cd "$vendor" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
  "$root/tools/assets.sh"
  # axe-core and playwright-core for tests/e2e/test_a11y.py, as pinned.
  browser="$root/tests/browser"
  if [ ! -f "$browser/node_modules/.package-lock.json" ] ||
     [ "$browser/package-lock.json" -nt "$browser/node_modules/.package-lock.json" ]; then
    echo "deps: npm ci (tests/browser/)"
    (cd "$browser" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
  # oidc-provider for the test OpenID provider (tests/oidc/provider.js), as pinned.
  oidc="$root/tests/oidc"
  if [ ! -f "$oidc/node_modules/.package-lock.json" ] ||
     [ "$oidc/package-lock.json" -nt "$oidc/node_modules/.package-lock.json" ]; then
    echo "deps: npm ci (tests/oidc/)"
    (cd "$oidc" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
}

if [ -z "$missing" ]; then
  front_end
  exit 0
fi

echo "deps: installing$missing"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has no package lists yet; refresh them once per hour at most.
stamp=/var/lib/apt/periodic/update-success-stamp
if [ ! -d /var/lib/apt/lists ] || [ -z "$(ls /var/lib/apt/lists 2>/dev/null | grep -v lock)" ] ||
   [ -z "$(find /var/lib/apt/lists -maxdepth 1 -newermt '-1 hour' -name '*Packages*' 2>/dev/null)" ]; then
  $sudo apt-get update -qq
fi
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
front_end
