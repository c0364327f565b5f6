// Every mistake in one invocation is reported in one run.
framealloc::fa_compile_error!(code = "FA1", message = 1, message = "m", severity = "high");

fn main() {}
