// `note` is optional and goes between the message and the help line.
fn main() {
    framealloc::fa_compile_error!(
        code = "FA003",
        message = "this target's frame arena is too small",
        note = "the level streams 80 MiB of frame data",
        help = "raise `frame_arena_size` for this target",
    );
}
