//! A fixed workload for instruction counting under callgrind.
//!
//! ```text
//! callgrind_probe <library>_<case> <N>
//! ```
//!
//! `<library>` is `framealloc`, `bumpalo`, `bumpscope` or `blink`; `<case>`
//! is one of [`CASES`]. Runs `N` operations (each result through
//! `black_box`) in rounds of 16,384, ends or resets every round, and prints
//! one line. `benches/callgrind.sh` runs each case with `N` and with 0 and
//! divides the difference by `N`, so start-up cost cancels out.

mod common;

use std::hint::black_box;
use std::process::ExitCode;

use common::{
    Block64, Contender, Counted, DROPS, FRAME_ALLOCS, LAYOUT, SMALL_FRAME_ALLOCS, Scope,
    empty_rounds, push_api2_vec, run_rounds, vec_rounds,
};
use framealloc::SmartAlloc;

/// The cases, with what one operation is.
const CASES: [(&str, &str); 9] = [
    ("u64", "`alloc` of a u64, rounds of 16,384"),
    ("64b", "`alloc` of a 64-byte struct, rounds of 16,384"),
    (
        "layout",
        "runtime-`Layout` allocation (24 B, align 8), rounds of 16,384",
    ),
    (
        "allocate",
        "`Allocator::allocate` (24 B, align 8), rounds of 16,384",
    ),
    (
        "drop",
        "a value with `Drop` in an owning box, rounds of 16,384",
    ),
    (
        "frame",
        "begin + end of an empty frame (one op = one frame)",
    ),
    (
        "frame64",
        "one allocation in frames of 64 allocations, begin + end included",
    ),
    (
        "vec",
        "one push onto an arena vector, 1,000,000 pushes per round",
    ),
    (
        "api2vec",
        "one push onto an allocator-api2 0.2 `Vec` (framealloc, bumpalo)",
    ),
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|arg| arg == "--bench") {
        // `cargo bench` runs every bench target; this one is driven by
        // callgrind.sh instead.
        println!("callgrind_probe: run benches/callgrind.sh for instruction counts");
        return ExitCode::SUCCESS;
    }
    if args.is_empty() {
        // `cargo test --benches` (CI): every pair once, a few rounds each,
        // so a probe that no longer runs is seen before callgrind.sh needs it.
        let mut pairs = 0;
        for library in ["framealloc", "bumpalo", "bumpscope", "blink"] {
            for (what, _) in CASES {
                pairs += usize::from(run_case(library, what, 3));
            }
        }
        println!("callgrind_probe: {pairs} cases ran 3 operations each");
        return ExitCode::SUCCESS;
    }
    let parsed = match args.as_slice() {
        [case, n] => n.parse::<usize>().ok().map(|n| (case.as_str(), n)),
        _ => None,
    };
    let Some((case, n)) = parsed else {
        return usage("expected two arguments: <library>_<case> <N>");
    };
    let Some((library, what)) = case.split_once('_') else {
        return usage(&format!("no library in case name `{case}`"));
    };
    if !run_case(library, what, n) {
        return usage(&format!("unknown case `{case}`"));
    }
    println!(
        "{case} {n} drops={}",
        DROPS.load(std::sync::atomic::Ordering::Relaxed)
    );
    ExitCode::SUCCESS
}

/// Runs `n` operations of `library`'s case `what`; `false` when there is no
/// such pair.
fn run_case(library: &str, what: &str, n: usize) -> bool {
    match (library, what) {
        // The allocator-api2 0.2 `Vec`: only framealloc and bumpalo implement
        // that version of the trait.
        ("framealloc", "api2vec") => {
            vec_rounds(&mut SmartAlloc::create(), n, |s, count| {
                push_api2_vec(s, count)
            });
            true
        }
        ("bumpalo", "api2vec") => {
            vec_rounds(&mut bumpalo::Bump::create(), n, |s, count| {
                push_api2_vec(s, count)
            });
            true
        }
        ("framealloc", _) => probe::<SmartAlloc>(what, n),
        ("bumpalo", _) => probe::<bumpalo::Bump>(what, n),
        ("bumpscope", _) => probe::<bump_scope::Bump>(what, n),
        ("blink", _) => probe::<blink_alloc::Blink>(what, n),
        _ => false,
    }
}

/// Runs `n` operations of case `what` on a new arena of `C`; `false` when
/// the case is unknown.
fn probe<C: Contender>(what: &str, n: usize) -> bool {
    eprintln!("callgrind_probe: {} {what} x {n}", C::NAME);
    let mut arena = C::create();
    match what {
        "u64" => run_rounds(&mut arena, n, FRAME_ALLOCS, |s, i| s.op_alloc(i)),
        "64b" => run_rounds(&mut arena, n, FRAME_ALLOCS, |s, i| {
            s.op_alloc(Block64([i; 8]))
        }),
        "layout" => run_rounds(&mut arena, n, FRAME_ALLOCS, |s, _| {
            s.op_alloc_layout(black_box(LAYOUT));
        }),
        "allocate" => run_rounds(&mut arena, n, FRAME_ALLOCS, |s, _| {
            s.op_allocate(black_box(LAYOUT));
        }),
        "drop" => run_rounds(&mut arena, n, FRAME_ALLOCS, |s, i| {
            s.op_alloc_owned(Counted(i))
        }),
        "frame" => empty_rounds(&mut arena, n),
        "frame64" => run_rounds(&mut arena, n, SMALL_FRAME_ALLOCS, |s, i| s.op_alloc(i)),
        "vec" => vec_rounds(&mut arena, n, |s, count| s.op_push_vec(count)),
        _ => return false,
    }
    true
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("callgrind_probe: {problem}");
    eprintln!("usage: callgrind_probe <library>_<case> <N>");
    eprintln!("  library: framealloc | bumpalo | bumpscope | blink");
    for (name, what) in CASES {
        eprintln!("  case {name:9} {what}");
    }
    ExitCode::from(2)
}
