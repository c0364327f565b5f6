framealloc::fa_compile_error!(code = "FA999", message = "m", help = "h");

fn main() {}
