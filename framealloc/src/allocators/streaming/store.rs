//! Slots that never move: segments of doubling size, made on demand and
//! kept until the allocator drops, so a reader can hold `&Slot` without a
//! lock while other slots are being made.

use std::sync::OnceLock;

use super::slot::Slot;

/// Slots in the first segment; segment `k` holds `FIRST << k`.
const FIRST: usize = 64;
/// Segments: room for 64 · (2^24 − 1) slots.
const SEGMENTS: usize = 24;

#[derive(Default)]
pub(crate) struct SlotStore {
    segments: [OnceLock<Box<[Slot]>>; SEGMENTS],
}

/// The segment and the position in it of slot `index`.
fn locate(index: usize) -> Option<(usize, usize)> {
    let n = index / FIRST + 1;
    let segment = (usize::BITS - 1 - n.leading_zeros()) as usize;
    let offset = index - FIRST * ((1 << segment) - 1);
    (segment < SEGMENTS).then_some((segment, offset))
}

impl SlotStore {
    /// Slot `index`, if its segment was made.
    #[inline]
    pub(crate) fn get(&self, index: usize) -> Option<&Slot> {
        let (segment, offset) = locate(index)?;
        self.segments[segment].get()?.get(offset)
    }

    /// Slot `index`, making its segment if need be (`None` past the last
    /// segment).
    pub(crate) fn make(&self, index: usize) -> Option<&Slot> {
        let (segment, offset) = locate(index)?;
        let slots = self.segments[segment]
            .get_or_init(|| (0..FIRST << segment).map(|_| Slot::default()).collect());
        slots.get(offset)
    }

    /// Every slot made so far, with its index.
    pub(crate) fn made(&self) -> impl Iterator<Item = (usize, &Slot)> {
        self.segments
            .iter()
            .map_while(OnceLock::get)
            .flat_map(|slots| slots.iter())
            .enumerate()
    }
}

#[cfg(test)]
mod tests {
    use super::locate;

    #[test]
    fn indices_map_to_segments_without_gaps() {
        assert_eq!(locate(0), Some((0, 0)));
        assert_eq!(locate(63), Some((0, 63)));
        assert_eq!(locate(64), Some((1, 0)));
        assert_eq!(locate(191), Some((1, 127)));
        assert_eq!(locate(192), Some((2, 0)));
    }
}
