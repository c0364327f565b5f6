//! The compile-pass half of the UI tests: each program under
//! `ui-tests/{pass,macros/pass,groups/pass}/` must compile and run. They are
//! modules of this test binary, each `main` run by a test, not trybuild
//! cases: with no pass case, trybuild only type-checks (`cargo check`) its
//! project, so the compile-fail cases do not cost a full debug build of
//! their dependencies (Bevy's among them). `ui-tests/bevy/pass/` runs in
//! `tests/bevy_app`, beside the other Bevy tests.

macro_rules! pass_programs {
    ($($name:ident = $path:literal;)*) => {
        $(
            #[path = $path]
            mod $name;

            #[test]
            fn $name() {
                $name::main();
            }
        )*
    };
}

pass_programs! {
    hashbrown_in_frame = "../../ui-tests/pass/hashbrown_in_frame.rs";
    nested_begin_frame = "../../ui-tests/pass/nested_begin_frame.rs";
    scope_in_loop = "../../ui-tests/pass/scope_in_loop.rs";
    scoped_thread_reads_framebox = "../../ui-tests/pass/scoped_thread_reads_framebox.rs";
    vec_in_frame = "../../ui-tests/pass/vec_in_frame.rs";
    disabled_macros = "../../ui-tests/macros/pass/disabled_macros.rs";
    runtime_macros = "../../ui-tests/macros/pass/runtime_macros.rs";
    group_send_and_values_shared = "../../ui-tests/groups/pass/group_send_and_values_shared.rs";
}
