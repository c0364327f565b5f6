// A well-formed `fa_compile_error!` stops the build with the runtime's format.
framealloc::fa_compile_error!(
    code = "FA101",
    message = "Bevy support enabled but plugin not registered",
    help = "add .add_plugins(SmartAllocPlugin) to your App",
);

fn main() {}
