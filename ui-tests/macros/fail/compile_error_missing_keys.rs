framealloc::fa_compile_error!(code = "FA101");

fn main() {}
