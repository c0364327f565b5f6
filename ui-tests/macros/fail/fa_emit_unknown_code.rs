// The runtime macros check their code against the same table, at compile time.
fn main() {
    framealloc::fa_emit!(FA999);
}
