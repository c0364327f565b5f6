// `fa_compile_error!` behind a `cfg` that is off, and `#[frame_system]`
// behind a `cfg_attr` that is off, expand to nothing: the build goes on.
#[cfg(any())]
framealloc::fa_compile_error!(
    code = "FA101",
    message = "Bevy support enabled but plugin not registered",
    help = "add .add_plugins(SmartAllocPlugin) to your App",
);

#[cfg_attr(any(), framealloc::frame_system)]
fn cull(frame: &framealloc::Frame<'_>) -> u32 {
    frame.alloc_slice_fill_with(8, |i| i as u32).iter().sum()
}

pub fn main() {
    #[cfg(any())]
    framealloc::fa_compile_error!(code = "FA003", message = "m", help = "h");

    let alloc = framealloc::SmartAlloc::with_defaults();
    assert_eq!(cull(&alloc.begin_frame()), 28);
}
