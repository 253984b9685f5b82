#!/usr/bin/env bash
# tls.sh - `make bench-tls` (and the second half of `make bench`): the four
# workloads of ../shared/bench/SPEC.md over HTTPS with keep-alive, borough
# (--tls-cert/--tls-key, one worker) beside the harness's nginx-lua anchor
# with TLS (tools/bench/nginx-tls.conf), plus a fifth row of new connections
# (one request per connection, so one TLS handshake each, which wrk
# resumes) and a sixth of full handshakes (openssl s_time -new). Each server is
# pinned to CPU 0 and wrk (built with OpenSSL) to CPU 1, as the harness does;
# each cell is the best of ROUNDS rounds. The table is written into
# docs/performance.md between the "bench:tls" markers.
# The harness folder is only read: this script runs its seed.sh and check.sh
# (over HTTPS, curl trusting the throwaway certificate through a .curlrc).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
shared=${BENCH_HARNESS:-$root/../shared/bench}
export LC_ALL=C BENCH_WORK=${BENCH_WORK:-/tmp/borough-bench}
ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-10s} WARMUP=${WARMUP:-3s} CONNS=${CONNS:-64} FULL_CLIENTS=${FULL_CLIENTS:-4}
KEY_TYPE=${KEY_TYPE:-ec}   # ec (ECDSA P-256) or rsa (RSA 2048): the server certificate's key
RESULTS=${RESULTS:-$BENCH_WORK/results/$(date -u +%Y%m%dT%H%M%SZ)}/tls
export BENCH_DB=${BENCH_DB:-/tmp/bench.db}
[[ -x $shared/check.sh ]] || { echo "bench-tls: the harness is not at $shared (set BENCH_HARNESS)" >&2; exit 1; }
if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null; then "$shared/anchors/install.sh"; fi
mkdir -p "$RESULTS"
: >"$RESULTS/results.tsv"; : >"$RESULTS/probe.tsv"

tmp=$(mktemp -d /tmp/borough-bench-tls.XXXXXX)
pid=
cleanup() { stop; rm -rf "$tmp"; }
trap cleanup EXIT

# A throwaway self-signed certificate for 127.0.0.1; curl trusts it (and
# only it) through $CURL_HOME/.curlrc, so check.sh runs unchanged over HTTPS.
case $KEY_TYPE in
  ec) newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-256) ;;
  rsa) newkey=(-newkey rsa:2048) ;;
  *) echo "bench-tls: KEY_TYPE is ec or rsa" >&2; exit 2 ;;
esac
openssl req -x509 "${newkey[@]}" -nodes -days 1 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
printf 'cacert = "%s"\n' "$tmp/cert.pem" >"$tmp/.curlrc"
export CURL_HOME=$tmp

pin() { if taskset -c "$1" true 2>/dev/null; then echo "taskset -c $1"; fi; }
server_cpu=$(pin 0) client_cpu=$(pin 1)
ticks() { sed 's/.*) //' "/proc/$1/stat" | awk -v a="$2" -v b="$3" '{ print $a + $b }'; }
server_ticks() { local t=0 p; for p in $pid $(pgrep -P "$pid"); do t=$((t + $(ticks "$p" 12 13))); done; echo "$t"; }
probe() {  # the harness's CPU 0 speed probe (see its run.sh)
  local s=$EPOCHREALTIME
  $server_cpu sqlite3 :memory: 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000) SELECT count(*) FROM c' >/dev/null
  awk -v a="$s" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'
}
running() { local s; [[ -n $pid ]] && s=$(ps -o stat= -p "$pid" 2>/dev/null) && [[ $s != Z* ]]; }
stop() {
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do running || break; sleep 0.1; done
  if running; then kill -KILL "$pid"; fi
  wait "$pid" 2>/dev/null || true
  pid=
}

# The start commands (run by bash on CPU 0; they exec the server so that its
# PID is ours to stop): borough through tools/bench/start.sh, which passes on
# extra arguments; nginx with the anchor's app.lua and tools/bench/nginx-tls.conf.
borough_cmd="exec $root/tools/bench/start.sh --tls-cert $tmp/cert.pem --tls-key $tmp/key.pem"
nginx_cmd() {
  local run=$tmp/nginx.$1
  mkdir -p "$run"
  sed -e "s|@PORT@|$1|g; s|@LUA@|$shared/anchors/nginx-lua|g; s|@CERT@|$tmp/cert.pem|g" \
      -e "s|@KEY@|$tmp/key.pem|g; s|@USER@|$(id -un)|g" "$root/tools/bench/nginx-tls.conf" >"$run/nginx.conf"
  echo "exec nginx -p $run -e stderr -c $run/nginx.conf"
}

declare -A path=([hello]=/hello [resident]=/residents/1 [page]=/residents?page=1 [referral]=/referrals [handshake]=/hello)
# run_target NAME PORT START_CMD: one round of every workload.
run_target() {
  local name=$1 cmd=$3 out w script conn
  export PORT=$2
  local base=https://127.0.0.1:$PORT
  out=$RESULTS/$name.r$round
  curl -s -o /dev/null "$base/" && { echo "bench-tls: something already listens on $base" >&2; return 1; }
  "$shared/tools/seed.sh" "$BENCH_DB" >/dev/null
  local probe_before; probe_before=$(probe)
  $server_cpu bash -c "$cmd" >"$out.server.log" 2>&1 &
  pid=$!
  for i in $(seq 100); do
    curl -s -o /dev/null "$base/hello" && break
    running || { echo "bench-tls: $name exited, see $out.server.log" >&2; return 1; }
    ((i < 100)) || { echo "bench-tls: $name did not answer on $base within 10 s" >&2; return 1; }
    sleep 0.1
  done
  "$shared/check.sh" "$base" "$BENCH_DB" >&2
  for w in hello resident page referral handshake; do
    script=(); [[ -f $shared/wrk/$w.lua ]] && script=(-s "$shared/wrk/$w.lua")
    # handshake: "Connection: close" makes the server close after each
    # answer and wrk open a new connection (a TLS handshake) for the next.
    conn=(); [[ $w == handshake ]] && conn=(-H "Connection: close")
    $client_cpu wrk -t1 -c"$CONNS" -d"$WARMUP" "${conn[@]}" "${script[@]}" "$base${path[$w]}" >/dev/null
    local s0 c0 t0 s1 c1 t1
    s0=$(server_ticks) c0=$(ticks $$ 14 15) t0=$EPOCHREALTIME
    $client_cpu wrk -t1 -c"$CONNS" -d"$DURATION" --latency "${conn[@]}" "${script[@]}" "$base${path[$w]}" >"$out.$w.txt"
    t1=$EPOCHREALTIME c1=$(ticks $$ 14 15) s1=$(server_ticks)
    awk -v name="$name" -v w="$w" -v hz="$(getconf CLK_TCK)" -v s=$((s1 - s0)) -v c=$((c1 - c0)) -v secs="$t0 $t1" '
      function ms(v) { return v ~ /us$/ ? v / 1000 : v ~ /ms$/ ? v + 0 : v * 1000 }
      /^Requests\/sec:/ { rps = $2 }
      /^ +99%/ { p99 = ms($2) }
      /Non-2xx or 3xx responses:/ { bad += $NF }
      /Socket errors:/ { gsub(",", ""); bad += $4 + $6 + $8 + $10 }
      END { split(secs, t, " "); secs = t[2] - t[1]
            printf "%s\t%s\t%.0f\t%.2f\t%d\t%.0f\t%.0f\n", name, w, rps, p99, bad, 100 * s / hz / secs, 100 * c / hz / secs }
    ' "$out.$w.txt" | tee -a "$RESULTS/results.tsv" >&2
  done
  # full: complete handshakes (nothing to resume: s_time -new starts every
  # connection afresh), FULL_CLIENTS `openssl s_time` at once on CPU 1, a
  # handshake and no request per connection.
  local secs=${DURATION%s} pids=() k
  [[ $secs =~ ^[0-9]+$ ]] || secs=10
  s0=$(server_ticks) c0=$(ticks $$ 14 15) t0=$EPOCHREALTIME
  for k in $(seq "$FULL_CLIENTS"); do
    $client_cpu openssl s_time -connect "127.0.0.1:$PORT" -new -time "$secs" >"$out.full.$k.txt" 2>&1 &
    pids+=($!)
  done
  wait "${pids[@]}" || true
  t1=$EPOCHREALTIME c1=$(ticks $$ 14 15) s1=$(server_ticks)
  cat "$out".full.*.txt | awk -v name="$name" -v hz="$(getconf CLK_TCK)" -v s=$((s1 - s0)) -v c=$((c1 - c0)) -v secs="$t0 $t1" '
    / connections in .* real seconds/ { n += $1 }
    END { split(secs, t, " "); secs = t[2] - t[1]
          printf "%s\tfull\t%.0f\t0\t0\t%.0f\t%.0f\n", name, n / secs, 100 * s / hz / secs, 100 * c / hz / secs }
  ' | tee -a "$RESULTS/results.tsv" >&2
  stop
  printf '%s\t%s\t%s\n' "$name" "$probe_before" "$(probe)" >>"$RESULTS/probe.tsv"
}

for round in $(seq "$ROUNDS"); do
  run_target nginx-lua-tls 18443 "$(nginx_cmd 18443)" || echo "bench-tls: nginx-lua-tls failed, see $RESULTS" >&2
  run_target borough-tls 18444 "$borough_cmd" || echo "bench-tls: borough failed, see $RESULTS" >&2
done

# The table: each cell's best run (and the range), with borough's ratio.
table=$(awk -F'\t' -v full="$FULL_CLIENTS" '
  { k = ++runs[$2, $1]; rps[$2, $1, k] = $3 + 0; row[$2, $1, k] = $0 }
  function best(key, i, b) { b = 1; for (i = 2; i <= runs[key]; i++) if (rps[key, i] > rps[key, b]) b = i; return b }
  function cell(key, m, i, b, lo, hi, t) {
    if (!(key in runs)) return "-"
    m = runs[key]; b = best(key); lo = hi = rps[key, 1]
    for (i = 2; i <= m; i++) { if (rps[key, i] < lo) lo = rps[key, i]; if (rps[key, i] > hi) hi = rps[key, i] }
    split(row[key, b], t, "\t")
    if (t[2] == "full")
      return sprintf("%d handshakes/s%s, cpu %d%%%s", t[3], m > 1 ? " (" lo "-" hi ")" : "", t[6], t[7] >= 95 ? " *" : "")
    return sprintf("%d req/s%s, p99 %.2f ms, cpu %d%%%s%s", t[3], m > 1 ? " (" lo "-" hi ")" : "", t[4], t[6],
                   t[7] >= 95 ? " *" : "", t[5] > 0 ? " (" t[5] " errors)" : "")
  }
  END {
    label["hello"] = "GET /hello"; label["resident"] = "GET /residents/:id"
    label["page"] = "GET /residents?page=N"; label["referral"] = "POST /referrals"
    label["handshake"] = "GET /hello, new connection each (resumed handshakes)"
    label["full"] = "full handshakes, no request (" full " openssl s_time -new)"
    split("hello resident page referral handshake full", ws, " ")
    print "| workload | nginx-lua-tls | borough-tls | borough / nginx |"
    print "|---|---|---|---|"
    for (j = 1; j <= 6; j++) {
      w = ws[j]; n = w SUBSEP "nginx-lua-tls"; b = w SUBSEP "borough-tls"
      ratio = (n in runs) && (b in runs) && rps[n, best(n)] > 0 ? sprintf("%.2f", rps[b, best(b)] / rps[n, best(n)]) : "-"
      printf "| %s | %s | %s | %s |\n", label[w], cell(n), cell(b), ratio
    }
  }' "$RESULTS/results.tsv")

doc=$root/docs/performance.md
section=$(mktemp)
{
  echo "<!-- bench:tls begin (written by make bench; do not edit by hand) -->"
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') by \`make bench\` (\`tools/bench/tls.sh\`, \`ROUNDS=$ROUNDS\`); raw wrk output in \`$RESULTS\`."
  echo
  echo "HTTPS, TLS 1.2 (ECDHE, AES-GCM), $( [[ $KEY_TYPE == ec ]] && echo 'ECDSA P-256' || echo 'RSA 2048') certificate; wrk -t1 -c$CONNS -d$DURATION after a $WARMUP warm-up; server on CPU 0, wrk on CPU 1; $ROUNDS round(s)."
  echo "Cell: requests/s (best run, then the range), p99 latency and server CPU use in that run. * = wrk's own core was saturated."
  echo
  echo "$table"
  echo
  echo "CPU 0 speed probe, seconds before/after each target run (~0.3 on a quiet host):" \
    "$(awk -F'\t' '{ printf "%s%s %s/%s", (NR > 1 ? ", " : ""), $1, $2, $3 }' "$RESULTS/probe.tsv")"
  echo
  echo "Versions: $("$root/borough" version) with mbedTLS 2.28; nginx $(nginx -v 2>&1 | sed 's|.*/||') with $(openssl version | cut -d' ' -f1-2); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)."
  echo "<!-- bench:tls end -->"
} >"$section"
if grep -q '<!-- bench:tls begin' "$doc"; then
  awk -v f="$section" '
    /<!-- bench:tls begin/ { while ((getline l < f) > 0) print l; skip = 1; next }
    /<!-- bench:tls end/ { skip = 0; next }
    !skip' "$doc" >"$doc.tmp" && mv "$doc.tmp" "$doc"
else
  cat "$section" >>"$doc"
fi
rm -f "$section"
echo "bench-tls: table written to docs/performance.md"
