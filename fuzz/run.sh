#!/bin/sh
# fuzz/run.sh — builds the libFuzzer harnesses (clang, ASan + UBSan) for the
# parsers: the safetensors loader, the IDX reader, einsum's subscripts and
# index keys (slices, integers, masks, index tensors), and runs each for SECONDS.
#
#   fuzz/run.sh [SECONDS] [TARGET...]      SECONDS defaults to 60; TARGETS:
#                                          safetensors idx einsum slice (default all)
#
# Independent of the Makefile and not part of `make test`.  Needs clang
# (apt-get install clang) and the library's dev packages (make deps).
# Seeds are read from fuzz/corpus/TARGET (never written); new inputs go to
# build/fuzz/corpus-TARGET, crash reproducers to build/fuzz/TARGET-crash-*.
# Re-run a reproducer with: build/fuzz/fuzz_TARGET build/fuzz/TARGET-crash-...
# -malloc_limit_mb makes any single allocation beyond 256 MB (a lying header
# driving a huge malloc) count as a crash.
set -eu
cd "$(dirname "$0")/.."
secs=${1:-60}
[ $# -gt 0 ] && shift
targets=${*:-safetensors idx einsum slice}
CLANG=${CLANG:-clang}
BLAS_INC=${BLAS_INC:-/usr/include/x86_64-linux-gnu}
out=build/fuzz
mkdir -p "$out"

command -v "$CLANG" >/dev/null 2>&1 || { echo "fuzz/run.sh: $CLANG not found (apt-get install clang)" >&2; exit 2; }

SAN="-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined"
echo "== building the library (src/*.c) with coverage and sanitizers"
rm -rf "$out/obj" && mkdir -p "$out/obj"
for f in src/*.c; do
  # shellcheck disable=SC2086
  "$CLANG" $SAN -fsanitize=fuzzer-no-link -Isrc -I"$BLAS_INC" -c -o "$out/obj/$(basename "$f" .c).o" "$f"
done

status=0
for t in $targets; do
  [ -f "fuzz/fuzz_$t.c" ] || { echo "fuzz/run.sh: unknown target $t" >&2; exit 2; }
  echo "== building fuzz_$t"
  # shellcheck disable=SC2086
  "$CLANG" $SAN -fsanitize=fuzzer -Isrc -o "$out/fuzz_$t" "fuzz/fuzz_$t.c" "$out"/obj/*.o \
    -lopenblas -lz -ljansson -lm
  mkdir -p "$out/corpus-$t"
  dict=""
  [ -f "fuzz/$t.dict" ] && dict="-dict=fuzz/$t.dict"
  echo "== running fuzz_$t for ${secs}s"
  # shellcheck disable=SC2086
  "$out/fuzz_$t" -max_total_time="$secs" -malloc_limit_mb=256 -rss_limit_mb=2048 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$out/$t-" $dict \
    "$out/corpus-$t" "fuzz/corpus/$t" || status=1
done
exit $status
