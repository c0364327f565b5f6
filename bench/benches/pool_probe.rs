//! A fixed pool-intent workload for instruction counting under callgrind.
//!
//! ```text
//! pool_probe <library>_<case> <N>
//! ```
//!
//! `<library>` is `framealloc`, `glibc`, `mimalloc`, `jemalloc`, `slab` or
//! `sharded-slab` (and `box` for `heap_box`); `<case>` is one of [`CASES`].
//! Runs `N` operations, each result through `black_box`, with the same code
//! as `benches/pool.rs` (`pool_common`), and prints one line.
//! `benches/pool_callgrind.sh` runs each case twice and divides the
//! difference in instructions by the difference in operations, so start-up
//! cost cancels out.

mod pool_common;

use std::hint::black_box;
use std::process::ExitCode;

use framealloc::SmartAlloc;
use pool_common::{
    BATCH, BLOCK, Block64, Pool, REMOTE_BATCH, RemotePool, RemoteRig, batch, for_each_pool,
    for_each_remote_pool, pair,
};

/// The cases, with what one operation is.
const CASES: [(&str, &str); 6] = [
    ("pair_u64", "an alloc+free pair of a u64"),
    ("pair_64b", "an alloc+free pair of a 64-byte struct"),
    (
        "batch_u64",
        "one u64 of a batch of 1,000,000 allocations then frees (N a multiple of 1,000,000)",
    ),
    (
        "batch_64b",
        "one 64-byte value of a batch of 1,000,000 (N a multiple of 1,000,000)",
    ),
    (
        "remote_64b",
        "a 64-byte value allocated here and freed by a worker thread, rounds of 16,384 \
         (count the worker's `remote_free_all` alone)",
    ),
    (
        "heap_box",
        "`heap_box` of 64 bytes + drop (`framealloc`), `Box::new` + drop (`box`)",
    ),
];

/// `n` pairs of `value` on `P`.
#[inline(never)]
fn run_pairs<T: Copy, P: Pool<T>>(value: T, n: usize) {
    let mut pool = P::create();
    for _ in 0..n {
        pair(&mut pool, value);
    }
}

/// `n / BATCH` batches of `value` on `P`.
#[inline(never)]
fn run_batches<T: Copy, P: Pool<T>>(value: T, n: usize) {
    let mut pool = P::create();
    let mut keys = Vec::with_capacity(BATCH);
    for _ in 0..n / BATCH {
        batch(&mut pool, &mut keys, value, BATCH);
    }
}

/// `n` values allocated here and freed by a worker, in rounds.
#[inline(never)]
fn run_remote<P: RemotePool<Block64>>(n: usize) {
    let mut rig = RemoteRig::<Block64, P>::new(BLOCK);
    let mut left = n;
    while left > 0 {
        let count = left.min(REMOTE_BATCH);
        rig.round(count);
        left -= count;
    }
}

/// `n` heap boxes from framealloc, each dropped at once.
#[inline(never)]
fn run_heap_boxes(n: usize) {
    let alloc = SmartAlloc::with_defaults();
    for _ in 0..n {
        match alloc.heap_box(BLOCK) {
            Ok(boxed) => drop(black_box(boxed)),
            Err(error) => panic!("heap_box failed: {error}"),
        }
    }
}

/// `n` `Box`es from the global allocator (glibc), each dropped at once.
#[inline(never)]
fn run_boxes(n: usize) {
    for _ in 0..n {
        drop(black_box(Box::new(BLOCK)));
    }
}

/// Runs `library`'s `case` `n` times; `false` when there is no such pair.
fn run(library: &str, case: &str, n: usize) -> bool {
    let mut ran = false;
    match case {
        "pair_u64" => for_each_pool!(u64, |P| if library == <P as Pool<u64>>::NAME {
            run_pairs::<u64, P>(5, n);
            ran = true;
        }),
        "pair_64b" => for_each_pool!(Block64, |P| if library == <P as Pool<Block64>>::NAME {
            run_pairs::<Block64, P>(BLOCK, n);
            ran = true;
        }),
        "batch_u64" => for_each_pool!(u64, |P| if library == <P as Pool<u64>>::NAME {
            run_batches::<u64, P>(5, n);
            ran = true;
        }),
        "batch_64b" => for_each_pool!(Block64, |P| if library == <P as Pool<Block64>>::NAME {
            run_batches::<Block64, P>(BLOCK, n);
            ran = true;
        }),
        "remote_64b" => {
            for_each_remote_pool!(Block64, |P| if library == <P as Pool<Block64>>::NAME {
                run_remote::<P>(n);
                ran = true;
            });
        }
        "heap_box" if library == "framealloc" => {
            run_heap_boxes(n);
            ran = true;
        }
        "heap_box" if library == "box" => {
            run_boxes(n);
            ran = true;
        }
        _ => {}
    }
    ran
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|arg| arg == "--bench") {
        // `cargo bench` runs every bench target; this one is driven by
        // pool_callgrind.sh instead.
        println!("pool_probe: run benches/pool_callgrind.sh for instruction counts");
        return ExitCode::SUCCESS;
    }
    if args.is_empty() {
        // `cargo test --benches` (CI): every pair once (1,000 operations, one
        // batch for the batch cases), so a probe that no longer runs is seen
        // before pool_callgrind.sh needs it.
        let libraries = [
            "framealloc",
            "framealloc-hooked",
            "glibc",
            "mimalloc",
            "jemalloc",
            "slab",
            "sharded-slab",
            "free-list-floor",
            "box",
        ];
        let mut pairs = 0;
        for library in libraries {
            for (case, _) in CASES {
                let n = if case.starts_with("batch") {
                    BATCH
                } else {
                    1_000
                };
                pairs += usize::from(run(library, case, n));
            }
        }
        println!("pool_probe: {pairs} cases ran");
        return ExitCode::SUCCESS;
    }
    let parsed = match args.as_slice() {
        [case, n] => n.parse::<usize>().ok().map(|n| (case.as_str(), n)),
        _ => None,
    };
    let Some((name, n)) = parsed else {
        return usage("expected two arguments: <library>_<case> <N>");
    };
    // Library names have no underscore; case names do.
    let Some((library, case)) = name.split_once('_') else {
        return usage(&format!("no library in case name `{name}`"));
    };
    if case.starts_with("batch") && !n.is_multiple_of(BATCH) {
        return usage(&format!(
            "batch cases need N a multiple of {BATCH}, got {n}"
        ));
    }
    if !run(library, case, n) {
        return usage(&format!("unknown case `{name}`"));
    }
    println!("pool_probe: {name} x {n}");
    ExitCode::SUCCESS
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("pool_probe: {problem}");
    eprintln!("usage: pool_probe <library>_<case> <N>");
    eprintln!(
        "libraries: framealloc glibc mimalloc jemalloc slab sharded-slab free-list-floor (box: heap_box only)"
    );
    for (case, what) in CASES {
        eprintln!("  {case:<11} {what}");
    }
    ExitCode::FAILURE
}
