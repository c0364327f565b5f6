#!/usr/bin/env bash
# Instructions per operation for framealloc's pool and heap intents and
# their peers, counted by valgrind's callgrind on the `pool_probe` bench
# binary (the same code as benches/pool.rs, through benches/pool_common).
#
# Usage: bench/benches/pool_callgrind.sh [N]   (works from any directory)
#
#   pair, heap_box:  Ir/op = (Ir(N) - Ir(0)) / N, whole program
#   batch:           Ir/op = (Ir(2B) - Ir(B)) / B, B = 1,000,000: one steady
#                    batch (1M allocations, then their frees) per element
#   remote:          Ir/op = (Ir(N) - Ir(0)) / N, counted inside the worker's
#                    `remote_free_all` alone (--toggle-collect), so only the
#                    frees made by the thread that did not allocate count
# and likewise for branches (conditional + indirect).
#
# Then the hot paths of framealloc's pool pair (u64, 64 B), remote free
# and heap_box, instruction by instruction: every instruction executed at
# least N/2 times, with its executions per op, from callgrind's
# per-instruction counts matched to `objdump -d` of the probe; and a summary
# that flags atomic read-modify-writes (`lock`, `xchg`), thread-local
# accesses (`%fs:`) and calls on that path.
#
# The binary is built with the bench profile (optimised, with debug info).
# CARGO_TARGET_DIR is honoured. Default N: 1,000,000.
set -euo pipefail

for tool in valgrind objdump; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "pool_callgrind.sh: $tool not found on PATH (apt-get install valgrind binutils)" >&2
        exit 1
    fi
done

n="${1:-1000000}"
if ! [[ "$n" =~ ^[1-9][0-9]*$ ]]; then
    echo "pool_callgrind.sh: N must be a positive integer, got '$n'" >&2
    exit 2
fi
batch=1000000

bench_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
manifest="$bench_dir/../Cargo.toml"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "building pool_probe (bench profile)..." >&2
# FRAMEALLOC_FEATURES=tracing,tracy measures a build with those features on.
probe="$(cargo bench --manifest-path "$manifest" --bench pool_probe --no-run \
    ${FRAMEALLOC_FEATURES:+--features "$FRAMEALLOC_FEATURES"} \
    --message-format=json-render-diagnostics |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)"
if [[ -z "$probe" || ! -x "$probe" ]]; then
    echo "pool_callgrind.sh: could not find the pool_probe executable" >&2
    exit 1
fi
echo "probe: $probe" >&2

libraries=(framealloc framealloc-hooked glibc mimalloc jemalloc slab sharded-slab free-list-floor box)
cases=(pair_u64 pair_64b batch_u64 batch_64b remote_64b heap_box)
declare -A what=(
    [pair_u64]="pool pair, u64"
    [pair_64b]="pool pair, 64 B"
    [batch_u64]="batch of 1M, u64 (per element)"
    [batch_64b]="batch of 1M, 64 B (per element)"
    [remote_64b]="free from another thread, 64 B"
    [heap_box]="heap_box 64 B + drop / Box::new + drop"
)
supported() {
    case "$2" in
        remote_64b) [[ "$1" != slab && "$1" != free-list-floor && "$1" != box && "$1" != framealloc-hooked ]] ;;
        heap_box) [[ "$1" == framealloc || "$1" == box ]] ;;
        *) [[ "$1" != box ]] ;;
    esac
}

# Runs the probe under callgrind: callgrind_run <case> <ops> <out-file> [options...]
callgrind_run() {
    local case="$1" ops="$2" out="$3"
    shift 3
    local log
    log="$(valgrind --tool=callgrind --branch-sim=yes --callgrind-out-file="$out" "$@" \
        "$probe" "$case" "$ops" 2>&1 >/dev/null)" || {
        echo "pool_callgrind.sh: probe failed for $case $ops:" >&2
        echo "$log" >&2
        exit 1
    }
}

# Prints "Ir branches" from a callgrind output file (its `summary:` line;
# events Ir Bc Bcm Bi Bim).
counts_of() {
    awk '/^summary:/ { print $2, $3 + $5 }' "$1"
}

declare -A ir br
for case in "${cases[@]}"; do
    for lib in "${libraries[@]}"; do
        supported "$lib" "$case" || continue
        options=()
        case "$case" in
            batch_*) base="$batch" ops=$((2 * batch)) ;;
            remote_*)
                base=0 ops="$n"
                options=(--collect-atstart=no "--toggle-collect=*remote_free_all*")
                ;;
            *) base=0 ops="$n" ;;
        esac
        echo "  ${lib}_$case ($base and $ops ops)" >&2
        callgrind_run "${lib}_$case" "$ops" "$work/n.out" "${options[@]}"
        callgrind_run "${lib}_$case" "$base" "$work/0.out" "${options[@]}"
        read -r ir_n br_n < <(counts_of "$work/n.out")
        read -r ir_0 br_0 < <(counts_of "$work/0.out")
        per() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { printf "%.1f", (a - b) / n }'; }
        ir[$lib.$case]="$(per "$ir_n" "$ir_0" $((ops - base)))"
        br[$lib.$case]="$(per "$br_n" "$br_0" $((ops - base)))"
    done
done

table() {
    local title="$1"
    local -n values="$2"
    echo
    echo "$title"
    echo
    printf '| case |'
    printf ' %s |' "${libraries[@]}"
    printf '\n|---|'
    printf -- '---:|%.0s' "${libraries[@]}"
    printf '\n'
    for case in "${cases[@]}"; do
        printf '| %s |' "${what[$case]}"
        for lib in "${libraries[@]}"; do
            printf ' %s |' "${values[$lib.$case]:-}"
        done
        printf '\n'
    done
}

echo "callgrind, N = $n ops per case (batch: one steady batch of $batch); valgrind $(valgrind --version | sed 's/valgrind-//')"
table "Instructions per operation (Ir/op)" ir
table "Branches per operation (conditional + indirect)" br

objdump -d -C --no-show-raw-insn "$probe" >"$work/probe.asm"

# Lists every instruction executed at least ops/2 times in a per-instruction
# callgrind profile, with executions per op: hot_path <case> <ops> [options...]
hot_path() {
    local case="$1" ops="$2"
    shift 2
    callgrind_run "$case" "$ops" "$work/hot.out" --dump-instr=yes --compress-pos=no \
        --compress-strings=no "$@"
    # Per-instruction self cost: cost lines are "<address> <line> <Ir> ...";
    # the line after a `calls=` line is a call's inclusive cost, skipped.
    # Per-instruction self cost of the probe's own code: cost lines are
    # "<address> <line> <Ir> ..." with addresses relative to the object named
    # by the last `ob=` line; the line after a `calls=` line is a call's
    # inclusive cost, skipped.
    awk -v ops="$ops" -v probe="$probe" '
        /^ob=/ { mine = (substr($0, 4) == probe); next }
        /^calls=/ { skip = 1; next }
        /^0x[0-9a-f]+ / {
            if (!skip && mine) ir[$1] += $3
            skip = 0
            next
        }
        { skip = 0 }
        END {
            for (a in ir) if (ir[a] * 2 >= ops) printf "%s %.2f\n", a, ir[a] / ops
        }' "$work/hot.out" |
        while read -r address per; do
            printf '%x %s\n' $((address)) "$per"
        done >"$work/hot.addr"
    # Calls through the GOT (`call *X(%rip)  # <slot>`) are named after the
    # function their slot is relocated to.
    readelf -rW "$probe" | awk '$3 == "R_X86_64_RELATIVE" { print $1, $4 }' >"$work/relocs"
    awk '
        function strip(hex) { sub(/^0+/, "", hex); return hex }
        pass == 1 { per[$1] = $2; next }
        pass == 2 { slot[strip($1)] = strip($2); next }
        pass == 3 {
            if ($0 ~ /^[0-9a-f]+ <.*>:$/) {
                name = substr($0, index($0, "<") + 1)
                sub(/>:$/, "", name)
                symbol[strip($1)] = name
            }
            next
        }
        /^[0-9a-f]+ <.*>:$/ { fn = substr($0, index($0, "<") + 1); sub(/>:$/, "", fn); next }
        {
            address = $1
            sub(":", "", address)
            if (!(address in per)) next
            line = $0
            sub(/^ *[0-9a-f]+:\t/, "", line)
            if (line ~ /^j/) sub(/ <.*>$/, "", line)
            if (match(line, /# [0-9a-f]+ <_DYNAMIC/)) {
                target = substr(line, RSTART + 2)
                sub(/ .*/, "", target)
                callee = symbol[slot[target]]
                sub(/ *# .*/, "", line)
                line = line "   # GOT -> " (callee == "" ? "?" : callee)
            }
            if (fn != shown) { printf "%s:\n", fn; shown = fn }
            printf "%6s  %6s  %s\n", per[address], address, line
            found++
        }
        END {
            if (found == 0) {
                print "pool_callgrind.sh: no hot instruction of the probe matched objdump" > "/dev/stderr"
                exit 1
            }
        }' pass=1 "$work/hot.addr" pass=2 "$work/relocs" pass=3 "$work/probe.asm" \
        pass=4 "$work/probe.asm" >"$work/hot.asm"
    echo
    echo "Hot path of $case: instructions executed >= 1/2 per op (executions per op, address, instruction), by function"
    echo
    echo '```text'
    cat "$work/hot.asm"
    echo '```'
    awk '
        { total += $1 }
        /lock |xchg/ { rmw += $1 }
        /%fs:/ { tls += $1 }
        / call / { calls += $1 }
        END {
            printf "instructions/op on this path: %.1f; atomic RMW (lock, xchg)/op: %.2f; TLS accesses (%%fs:)/op: %.2f; calls/op: %.2f\n",
                total, rmw, tls, calls
        }' "$work/hot.asm"
}

hot_path framealloc_pair_u64 "$n"
hot_path framealloc_pair_64b "$n"
hot_path framealloc_remote_64b "$n" --collect-atstart=no "--toggle-collect=*remote_free_all*"
hot_path framealloc_heap_box "$n"
