#!/bin/sh
# tools/fuzz.sh SECONDS NAME... - runs each libFuzzer harness build-fuzz/NAME
# (made by `make fuzz`) for SECONDS, one after another, one process each
# (the machine is shared). New inputs go to build-fuzz/corpus/NAME/ (the
# kept seeds in tests/fuzz/corpus/NAME/ are read, never written), crash
# reproducers to build-fuzz/crashes/NAME/ (copy those worth keeping to
# tests/fuzz/crashes/NAME/, named for what they show), the output to build-fuzz/NAME.log.
# Ends with a table: executions, coverage (cov: edges, ft: features) and
# crashes per harness; exits 1 if any harness found something.
#
# tools/fuzz.sh merge NAME... - replaces the minimised corpus kept in
# tests/fuzz/corpus/NAME/ (the files named by their SHA-1; the seeds, with
# names that say what they are, stay) with libFuzzer's -merge=1 of the seeds,
# that corpus and build-fuzz/corpus/NAME/: the fewest inputs that reach
# everything they reach (make fuzz-merge).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [ "$1" = merge ]; then
  shift
  for name in "$@"; do
    out="build-fuzz/merge/$name"
    rm -rf "$out"
    mkdir -p "$out" "build-fuzz/corpus/$name"
    ASAN_OPTIONS=detect_leaks=1 "build-fuzz/$name" -merge=1 -rss_limit_mb=2048 -timeout=10 "$out" \
      "tests/fuzz/corpus/$name" "build-fuzz/corpus/$name" >"build-fuzz/$name-merge.log" 2>&1 ||
      { echo "fuzz: merging $name failed; see build-fuzz/$name-merge.log"; exit 1; }
    find "tests/fuzz/corpus/$name" -type f -regextype posix-extended -regex '.*/[0-9a-f]{40}' -delete
    seeds=$(cd "tests/fuzz/corpus/$name" && cat -- * 2>/dev/null | wc -c)
    for f in "$out"/*; do
      sum=$(basename "$f")
      # An input that is one of the seeds already is not kept twice.
      if ! (cd "tests/fuzz/corpus/$name" && sha1sum -- * 2>/dev/null) | grep -q "^$sum "; then
        cp "$f" "tests/fuzz/corpus/$name/$sum"
      fi
    done
    echo "fuzz: $name: $(ls "tests/fuzz/corpus/$name" | wc -l) files, $(cat "tests/fuzz/corpus/$name"/* | wc -c) bytes (seeds $seeds bytes)"
  done
  exit 0
fi
seconds=$1
shift
found=0
summary=""
for name in "$@"; do
  mkdir -p "build-fuzz/corpus/$name" "build-fuzz/crashes/$name"
  dict=""
  [ -f "tests/fuzz/$name.dict" ] && dict="-dict=tests/fuzz/$name.dict"
  echo "fuzz: $name for ${seconds}s (build-fuzz/$name.log)"
  touch "build-fuzz/.start-$name"
  # rss_limit: the harnesses hold a few Lua states and buffers, far less.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "build-fuzz/$name" -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=2048 \
    -timeout=10 -artifact_prefix="build-fuzz/crashes/$name/" $dict \
    "build-fuzz/corpus/$name" "tests/fuzz/corpus/$name" >"build-fuzz/$name.log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "build-fuzz/$name.log" | tail -1)
  last=$(grep -E '^#[0-9]+' "build-fuzz/$name.log" | grep -E 'cov: ' | tail -1)
  cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
  ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
  # crash-, leak-, timeout- and oom- files are findings; a slow- file only
  # says one input once took over 10 s (a busy machine can do that).
  crashes=$(find "build-fuzz/crashes/$name" -type f -newer "build-fuzz/.start-$name" ! -name 'slow-unit-*' | wc -l)
  slow=$(find "build-fuzz/crashes/$name" -type f -newer "build-fuzz/.start-$name" -name 'slow-unit-*' | wc -l)
  [ "$slow" -eq 0 ] || echo "fuzz: $name: $slow input(s) once ran over 10 s (build-fuzz/crashes/$name/slow-unit-*): rerun each to see"

  if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    found=1
    echo "fuzz: $name FOUND SOMETHING (exit $rc); see build-fuzz/$name.log and build-fuzz/crashes/$name/"
  fi
  summary="$summary$(printf '%-12s %12s execs  cov: %-6s ft: %-7s crashes: %s' "$name" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$crashes")
"
done
printf '%s' "$summary"
exit $found
