framealloc::fa_compile_error!(code = FA101, message = 42, help = "h");

fn main() {}
