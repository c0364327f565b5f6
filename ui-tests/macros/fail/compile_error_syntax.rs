framealloc::fa_compile_error!(code "FA101", message = "m", help = "h");

fn main() {}
