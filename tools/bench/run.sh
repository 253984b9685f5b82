#!/usr/bin/env bash
# run.sh - `make bench`: borough beside nginx+Lua and Node.js on the four
# workloads of ../shared/bench/SPEC.md, one core each, ROUNDS rounds
# (default 3), and the resulting table written into docs/performance.md
# between the "bench:core" markers, with best-of-rounds ratios and versions.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
shared=${BENCH_HARNESS:-$root/../shared/bench}
export BENCH_WORK=${BENCH_WORK:-/tmp/borough-bench} ROUNDS=${ROUNDS:-3}
[[ -x $shared/compare.sh ]] || { echo "bench: the harness is not at $shared (set BENCH_HARNESS)" >&2; exit 1; }

# The anchors (nginx with its Lua module, Node.js with better-sqlite3, wrk) once per machine.
if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null ||
   [[ ! -d $BENCH_WORK/node/node_modules/better-sqlite3 ]]; then
  "$shared/anchors/install.sh"
fi

export RESULTS=$BENCH_WORK/results/$(date -u +%Y%m%dT%H%M%SZ)
"$shared/compare.sh" "borough=$root/tools/bench/start.sh" | tee "$BENCH_WORK/last-table.md"

# Best run of each cell, and borough's ratio to each anchor.
ratios=$(awk -F'\t' '
  { if ($3 + 0 > best[$1, $2]) best[$1, $2] = $3 + 0 }
  END {
    split("hello resident page referral", ws, " ")
    label["hello"] = "GET /hello"; label["resident"] = "GET /residents/:id"
    label["page"] = "GET /residents?page=N"; label["referral"] = "POST /referrals"
    print "| workload | borough / nginx-lua | borough / node |"
    print "|---|---|---|"
    for (j = 1; j <= 4; j++) {
      w = ws[j]; b = best["borough", w]; l = best["nginx-lua", w]; n = best["node", w]
      printf "| %s | %s | %s |\n", label[w], l ? sprintf("%.2f", b / l) : "-", n ? sprintf("%.2f", b / n) : "-"
    }
  }' "$RESULTS/results.tsv")

doc=$root/docs/performance.md
# Replaces the lines between <!-- bench:NAME begin ... --> and <!-- bench:NAME end -->
# in docs/performance.md with FILE (which holds both markers), or appends FILE.
put_section() {
  local name=$1 file=$2
  if grep -q "<!-- bench:$name begin" "$doc"; then
    awk -v f="$file" -v b="<!-- bench:$name begin" -v e="<!-- bench:$name end" '
      index($0, b) == 1 { while ((getline l < f) > 0) print l; skip = 1; next }
      index($0, e) == 1 { skip = 0; next }
      !skip' "$doc" >"$doc.tmp" && mv "$doc.tmp" "$doc"
  else
    { echo; cat "$file"; } >>"$doc"
  fi
}
section=$(mktemp)
{
  echo "<!-- bench:core begin (written by make bench; do not edit by hand) -->"
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') by \`make bench\` (\`ROUNDS=$ROUNDS\`); raw wrk output in \`$RESULTS\`."
  echo
  sed -n '1,$p' "$BENCH_WORK/last-table.md"
  echo
  echo "Ratios of the best runs (requests/s):"
  echo
  echo "$ratios"
  echo
  echo "Versions:"
  echo
  echo "- $("$root/borough" version)"
  "$shared/versions.sh" 2>/dev/null || true
  echo "<!-- bench:core end -->"
} >"$section"
put_section core "$section"

# Sign-in latency and the cost of a session lookup (tools/bench/signin.py, a few seconds).
{
  echo "<!-- bench:signin begin (written by make bench; do not edit by hand) -->"
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') by \`tools/bench/signin.py\` (one worker; sequential requests on one keep-alive connection):"
  echo
  "$root/tools/bench/signin.py"
  echo "<!-- bench:signin end -->"
} >"$section"
put_section signin "$section"

# What single sign-on costs the server, and the cached key set (tools/bench/sso.py, about 15 s).
{
  echo "<!-- bench:sso begin (written by make bench; do not edit by hand) -->"
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') by \`tools/bench/sso.py\` (one worker; sequential sign-ins over HTTP against the test provider on loopback):"
  echo
  "$root/tools/bench/sso.py"
  echo "<!-- bench:sso end -->"
} >"$section"
put_section sso "$section"
rm -f "$section"
echo "bench: table and ratios written to docs/performance.md"
