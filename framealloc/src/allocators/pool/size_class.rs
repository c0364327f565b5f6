//! Size classes: the slot sizes of pool pages, which class serves a
//! layout, and the size of a page.

/// Bytes per page, and their alignment.
pub(crate) const PAGE_SIZE: usize = 64 << 10;

/// Slot sizes. Each serves any layout whose size fits and whose alignment
/// divides the slot size's lowest set bit.
pub(crate) const CLASS_SIZES: [usize; 30] = [
    8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 896,
    1024, 1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096,
];

/// Number of size classes.
pub(crate) const CLASSES: usize = CLASS_SIZES.len();

/// The smallest class that can hold `size` bytes aligned to `align`, or
/// `CLASSES` when none can (the caller then uses the heap).
pub(crate) const fn class_for(size: usize, align: usize) -> usize {
    let mut class = 0;
    while class < CLASSES {
        let slot = CLASS_SIZES[class];
        // A slot at `base + i * slot` is aligned to `slot & slot.wrapping_neg()`.
        if slot >= size && (slot & slot.wrapping_neg()) >= align {
            return class;
        }
        class += 1;
    }
    CLASSES
}

/// The size class of a `T` (`CLASSES` when no class can hold it).
pub(crate) const fn class_of<T>() -> usize {
    class_for(size_of::<T>(), align_of::<T>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_fit_and_honour_alignment() {
        assert_eq!(class_for(1, 1), 0);
        assert_eq!(CLASS_SIZES[class_for(100, 8)], 112);
        assert_eq!(CLASS_SIZES[class_for(64, 64)], 64);
        assert_eq!(CLASS_SIZES[class_for(65, 64)], 128);
        assert_eq!(class_for(4097, 8), CLASSES);
        assert_eq!(class_for(8, 8192), CLASSES);
    }
}
