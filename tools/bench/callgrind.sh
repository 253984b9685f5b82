#!/usr/bin/env bash
# callgrind.sh [WORKLOAD] [N] - user-space instructions per request, counted
# by valgrind's callgrind: unlike req/s on a shared VM, the count is the same
# from run to run, so it shows whether a change made the server cheaper.
# Runs the bench app (tools/bench/apps) on a seeded copy of the SPEC
# database, sends N requests of the workload (hello, resident, page,
# referral) over one keep-alive connection, and subtracts a run with none.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
workload=${1:-hello} n=${2:-2000}
work=$(mktemp -d /tmp/borough-callgrind.XXXXXX)
# KEEP=1 keeps the callgrind output (its path is printed) for callgrind_annotate.
if [[ -n ${KEEP:-} ]]; then echo "callgrind output: $work/cg.$n"; else trap 'rm -rf "$work"' EXIT; fi
/work/shared/bench/tools/seed.sh "$work/seed.db" >/dev/null 2>&1 || "$root/../shared/bench/tools/seed.sh" "$work/seed.db" >/dev/null

send() {  # send PORT N -> N requests of the workload over one connection
  python3 - "$1" "$workload" "$2" <<'PY'
import socket, sys
port, workload, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
s = socket.create_connection(("127.0.0.1", port))
body = b"resident_id=7&kind=food&note=Needs+a+food+parcel+%26+a+call+back"
for i in range(n):
    if workload == "hello":
        req = b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
    elif workload == "resident":
        req = b"GET /residents/%d HTTP/1.1\r\nHost: x\r\n\r\n" % (i % 10000 + 1)
    elif workload == "page":
        req = b"GET /residents?page=%d HTTP/1.1\r\nHost: x\r\n\r\n" % (i % 200 + 1)
    else:
        req = (b"POST /referrals HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
               b"Content-Length: %d\r\n\r\n" % len(body)) + body
    s.sendall(req)
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(65536)
    head, rest = buf.split(b"\r\n\r\n", 1)
    length = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0])
    while len(rest) < length:
        rest += s.recv(65536)
s.close()
PY
}

count() {  # count N -> total instructions of a server run that answers N requests
  local data=$work/data-$1 port
  mkdir -p "$data/bench"
  cp "$work/seed.db" "$data/bench/app.db"
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.$1" "$root/borough" serve "$root/tools/bench/apps" \
    --listen 127.0.0.1:0 --data "$data" --workers 1 --no-access-log >"$work/log.$1" 2>&1 &
  local pid=$!
  for _ in $(seq 300); do
    port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$work/log.$1" | grep -o '[0-9]*$' || true)
    [[ -n $port ]] && break
    sleep 0.1
  done
  # One request first, so everything that happens once (the app loaded by
  # the judge and by the worker, in an order that varies, a first statement
  # prepared) is behind us; then the counters start from zero.
  send "$port" 1
  callgrind_control --zero "$pid" >/dev/null 2>&1
  send "$port" "$1"
  kill -TERM "$pid"
  wait "$pid" || true
  callgrind_annotate "$work/cg.$1" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
}
base=$(count 0)
total=$(count "$n")
echo "$workload: $(( (total - base) / n )) instructions per request (user space, $n requests)"
