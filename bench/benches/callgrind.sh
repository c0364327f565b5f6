#!/usr/bin/env bash
# Instructions per operation for framealloc and its peers, counted by
# valgrind's callgrind on the `callgrind_probe` bench binary.
#
# Usage: bench/benches/callgrind.sh [N]      (works from any directory)
#
# Each case runs N operations (4 N pushes for the vector cases) and then 0;
#   Ir/op       = (Ir(N) - Ir(0)) / N
#   branches/op = (branches(N) - branches(0)) / N   (conditional + indirect)
# so start-up and arena creation cancel out; the per-round reset, and
# whatever a round's first allocations cost, are included. A third table
# counts calls to the system allocator per round in the steady state, from
# valgrind's DHAT: (blocks(2N) - blocks(N)) / (rounds(2N) - rounds(N)).
#
# The binary is built with the bench profile (optimised, with debug info).
# CARGO_TARGET_DIR is honoured. Default N: 1,000,000.
set -euo pipefail

if ! command -v valgrind >/dev/null 2>&1; then
    echo "callgrind.sh: valgrind not found on PATH; install it (e.g. apt-get install valgrind) to count instructions" >&2
    exit 1
fi

n="${1:-1000000}"
if ! [[ "$n" =~ ^[1-9][0-9]*$ ]]; then
    echo "callgrind.sh: N must be a positive integer, got '$n'" >&2
    exit 2
fi

bench_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
manifest="$bench_dir/../Cargo.toml"

echo "building callgrind_probe (bench profile)..." >&2
# FRAMEALLOC_FEATURES=tracing,tracy measures a build with those features on.
probe="$(cargo bench --manifest-path "$manifest" --bench callgrind_probe --no-run \
    ${FRAMEALLOC_FEATURES:+--features "$FRAMEALLOC_FEATURES"} \
    --message-format=json-render-diagnostics |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)"
if [[ -z "$probe" || ! -x "$probe" ]]; then
    echo "callgrind.sh: could not find the callgrind_probe executable" >&2
    exit 1
fi
echo "probe: $probe" >&2

libraries=(framealloc bumpalo bumpscope blink)
headers=("framealloc" "bumpalo" "bump-scope" "blink-alloc")
cases=(u64 64b layout allocate drop frame frame64 vec api2vec)
declare -A what=(
    [u64]="alloc u64"
    [64b]="alloc 64-byte struct"
    [layout]="runtime Layout (24 B, align 8)"
    [allocate]="Allocator::allocate (24 B, align 8)"
    [drop]="value with Drop, owning box"
    [frame]="empty frame begin+end"
    [frame64]="frames of 64 u64 allocs"
    [vec]="arena Vec push u32, 1M per round"
    [api2vec]="allocator-api2 0.2 Vec push, 1M per round"
)
# Operations per round, to turn system-allocator calls into calls per round.
declare -A per_round=(
    [u64]=16384 [64b]=16384 [layout]=16384 [allocate]=16384 [drop]=16384
    [frame]=1 [frame64]=64 [vec]=1000000 [api2vec]=1000000
)
# Only framealloc and bumpalo implement allocator-api2 0.2.
supported() { [[ "$2" != api2vec || "$1" == framealloc || "$1" == bumpalo ]]; }
rounds_in() { echo $((($1 + per_round[$2] - 1) / per_round[$2])); }
ops_for() { if [[ "$1" == vec || "$1" == api2vec ]]; then echo $((4 * n)); else echo "$n"; fi; }

# Prints "Ir branches" for one probe run.
callgrind_counts() {
    local out
    out="$(valgrind --tool=callgrind --branch-sim=yes --callgrind-out-file=/dev/null \
        "$probe" "$1" "$2" 2>&1 >/dev/null)" || {
        echo "callgrind.sh: probe failed for $1 $2:" >&2
        echo "$out" >&2
        exit 1
    }
    awk '/Collected :/ { print $4, $5 + $7 }' <<<"$out"
}

# Prints the number of heap blocks allocated in one probe run.
dhat_blocks() {
    local out
    out="$(valgrind --tool=dhat --dhat-out-file=/dev/null "$probe" "$1" "$2" 2>&1 >/dev/null)" || {
        echo "callgrind.sh: probe failed under DHAT for $1 $2:" >&2
        echo "$out" >&2
        exit 1
    }
    awk '/Total:/ { gsub(",", "", $6); print $6 }' <<<"$out"
}

declare -A ir br sys
for case in "${cases[@]}"; do
    ops="$(ops_for "$case")"
    for lib in "${libraries[@]}"; do
        supported "$lib" "$case" || continue
        echo "  ${lib}_$case ($ops ops)" >&2
        counts_n="$(callgrind_counts "${lib}_$case" "$ops")"
        counts_0="$(callgrind_counts "${lib}_$case" 0)"
        read -r ir_n br_n <<<"$counts_n"
        read -r ir_0 br_0 <<<"$counts_0"
        ir[$lib.$case]="$(awk -v a="$ir_n" -v b="$ir_0" -v n="$ops" 'BEGIN { printf "%.2f", (a - b) / n }')"
        br[$lib.$case]="$(awk -v a="$br_n" -v b="$br_0" -v n="$ops" 'BEGIN { printf "%.2f", (a - b) / n }')"
        blocks_n="$(dhat_blocks "${lib}_$case" "$ops")"
        blocks_2n="$(dhat_blocks "${lib}_$case" $((2 * ops)))"
        rounds="$(rounds_in $((2 * ops)) "$case") - $(rounds_in "$ops" "$case")"
        sys[$lib.$case]="$(awk -v a="$blocks_2n" -v b="$blocks_n" -v r="$((rounds))" \
            'BEGIN { printf "%.2f", (a - b) / r }')"
    done
done

table() {
    local title="$1"
    local -n values="$2"
    echo
    echo "$title"
    echo
    printf '| case |'
    printf ' %s |' "${headers[@]}"
    printf '\n|---|'
    printf -- '---:|%.0s' "${headers[@]}"
    printf '\n'
    for case in "${cases[@]}"; do
        printf '| %s |' "${what[$case]}"
        for lib in "${libraries[@]}"; do
            printf ' %s |' "${values[$lib.$case]:-n/a}"
        done
        printf '\n'
    done
}

echo "callgrind, N = $n ops per case (4N for the Vec cases); valgrind $(valgrind --version | sed 's/valgrind-//')"
echo "One operation is one allocation or push; in the empty-frame case it is one frame (begin + end)."
table "Instructions per operation (Ir/op)" ir
table "Branches per operation (conditional + indirect)" br
table "System-allocator calls per round (frame), steady state (DHAT blocks)" sys
