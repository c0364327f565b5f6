#!/usr/bin/env bash
# Instructions per operation of the slow paths behind the switched locks,
# std's against parking_lot's (issue 14, item 6), counted by valgrind's
# callgrind on the `slow_locks` bench binary built twice (without and with
# the `parking_lot` feature). Instruction counts do not move with the
# machine's load, which the criterion timings of the same bench do.
#
# Usage: bench/benches/slow_locks_callgrind.sh   (works from any directory)
#
#   Ir/op = (Ir(n) - Ir(0)) / n, whole program, every thread counted;
#   n per case below. Single-threaded cases only: callgrind runs one thread
#   at a time, so it cannot show contention.
#
# The binaries are built with the bench profile (optimised, with debug
# info). CARGO_TARGET_DIR is honoured.
set -euo pipefail

if ! command -v valgrind >/dev/null 2>&1; then
    echo "slow_locks_callgrind.sh: valgrind not found on PATH (apt-get install valgrind)" >&2
    exit 1
fi

bench_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
manifest="$bench_dir/../Cargo.toml"

build() {
    cargo bench --manifest-path "$manifest" --bench slow_locks --no-run "$@" \
        --message-format=json-render-diagnostics |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1
}

echo "building slow_locks (std locks, then parking_lot locks)..." >&2
declare -A binary
binary[std]="$(build)"
binary[parking_lot]="$(build --features parking_lot)"
for locks in std parking_lot; do
    if [[ -z "${binary[$locks]}" || ! -x "${binary[$locks]}" ]]; then
        echo "slow_locks_callgrind.sh: could not find the $locks slow_locks executable" >&2
        exit 1
    fi
done

cases=(trim group_create_free streaming_reserve_release pool_page_cycle spawn_only
    spawn_and_begin_frame)
declare -A count=(
    [raw_std]=100000 [raw_parking_lot]=100000 [trim]=10000 [group_create_free]=10000
    [streaming_reserve_release]=10000 [pool_page_cycle]=100 [spawn_only]=100
    [spawn_and_begin_frame]=100
)

# Total instructions of one run of `case` repeated `n` times.
instructions() {
    local exe="$1" case="$2" n="$3"
    SLOW_LOCKS_COUNT="$case:$n" valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        "$exe" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

# Instructions per repetition of `case` in the binary of `locks`.
per_op() {
    local locks="$1" case="$2" n="${count[$2]}"
    local zero many
    zero="$(instructions "${binary[$locks]}" "$case" 0)"
    many="$(instructions "${binary[$locks]}" "$case" "$n")"
    python3 -c "print(f'{($many - $zero) / $n:.1f}')"
}

ratio() {
    python3 -c "print(f'{$2 / $1:.3f}')"
}

printf '%-28s %14s %14s %8s\n' "raw Mutex<u64> lock+unlock" "std" "parking_lot" "ratio"
raw_std="$(per_op std raw_std)"
raw_pl="$(per_op std raw_parking_lot)"
printf '%-28s %14s %14s %8s\n' "" "$raw_std" "$raw_pl" "$(ratio "$raw_std" "$raw_pl")"
echo
printf '%-28s %14s %14s %8s\n' "library built with locks:" "std" "parking_lot" "ratio"
for case in "${cases[@]}"; do
    with_std="$(per_op std "$case")"
    with_pl="$(per_op parking_lot "$case")"
    printf '%-28s %14s %14s %8s\n' "$case" "$with_std" "$with_pl" "$(ratio "$with_std" "$with_pl")"
done
