use framealloc::SmartAlloc;

#[test]
fn alloc_and_read_back() {
    let alloc = SmartAlloc::with_defaults();
    let frame = alloc.begin_frame();
    let a = frame.alloc(7u64);
    let b = frame.alloc([1u8; 3]);
    assert_eq!(*a, 7);
    assert_eq!(*b, [1, 1, 1]);
}
