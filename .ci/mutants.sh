#!/usr/bin/env bash
# Mutation check of the code that decides when memory dies: the arena's
# bump, chunk and cursor-move decisions and its frame/scope bookkeeping,
# the pool's remote-free word, free paths and ownership tests, and the heap
# lifecycle. Every mutant must be caught by a test, or be explained in
# docs/mutants.md (the survivors of the last run, one by one).
#
# Usage: bash .ci/mutants.sh [extra cargo-mutants options]
# Takes about 20 minutes on 2 cores, so CI does not run it by default.
# Installs cargo-mutants if missing. Results go to ./mutants.out/.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo mutants --version >/dev/null 2>&1; then
    cargo install cargo-mutants --locked
fi
files=(
    framealloc/src/allocators/frame/arena/mod.rs
    framealloc/src/allocators/frame/arena/lifetime.rs
    framealloc/src/allocators/pool/remote.rs
    framealloc/src/allocators/pool/free.rs
    framealloc/src/allocators/pool/thread_heap.rs
    framealloc/src/allocators/pool/lifecycle.rs
)
args=()
for file in "${files[@]}"; do
    args+=(--file "$file")
done
# The integration tests and the library's unit tests exercise every path;
# the UI tests (trybuild) only check compile errors, which these mutants
# cannot change. The loom models are test code (run by CI under
# `--cfg loom`), so they are not mutated. cargo-mutants' baseline would run
# only the library's own tests, so it is skipped (the suite passes in CI).
exec cargo mutants --workspace "${args[@]}" --exclude-re loom_model \
    --test-workspace=true --baseline=skip --jobs 2 --timeout 180 --build-timeout 600 "$@" \
    -- --lib --test all --test adjacent_chunks --test recycled_heap --test listener_reentry \
    --test sink_reentry -- --skip ui
