#!/bin/sh
# tools/deps.sh - installs the Debian packages borough builds and tests with,
# only those missing. Quiet and quick when everything is present. Run by
# `make deps` (and so by `make run` and `make test`).
set -eu

# Build: the C libraries of DESIGN.md. Tests: python3 (the end-to-end
# client), sqlite3 (inspecting databases), curl and openssl (TLS peers).
pkgs="build-essential pkg-config liblua5.4-dev libsqlite3-dev libuv1-dev
libhttp-parser-dev libmbedtls-dev libargon2-dev python3 sqlite3 curl openssl"
[ $# -gt 0 ] && pkgs="$pkgs $*"

missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
    missing="$missing $p"
done
[ -z "$missing" ] && exit 0

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
