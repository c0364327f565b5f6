//! A value the group will drop must be `'static`: its destructor runs at
//! `free_group`, after anything it borrowed may be gone.
struct Printer<'a>(&'a String);

impl Drop for Printer<'_> {
    fn drop(&mut self) {
        println!("{}", self.0);
    }
}

fn main() {
    let alloc = framealloc::SmartAlloc::with_defaults();
    let groups = alloc.groups();
    let level = groups.create_group("level");
    {
        let text = String::from("gone");
        level.alloc(Printer(&text));
    }
    groups.free_group(level);
}
