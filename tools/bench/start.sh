#!/usr/bin/env bash
# Starts borough as a target of ../shared/bench (see SPEC.md there): one
# worker, the bench app at /, its database the harness's $BENCH_DB.
# Extra arguments (e.g. --tls-cert/--tls-key from tls.sh) go to borough serve.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
data=${BENCH_WORK:-/tmp/borough-bench}/borough-data
rm -rf "$data"
mkdir -p "$data/bench"
# The app's database is data/<app>/app.db: point it at the harness's file.
ln -s "${BENCH_DB:-/tmp/bench.db}" "$data/bench/app.db"
exec "${BOROUGH:-$root/borough}" serve "$root/tools/bench/apps" --listen "127.0.0.1:${PORT:-8080}" \
  --data "$data" --workers 1 --no-access-log "$@"
