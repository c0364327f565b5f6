//! The per-thread stacks behind the scoped guards (`TagGuard`,
//! `StrictModeGuard`, `Capture`): each guard owns one entry, found by its
//! id, so a guard dropped out of order removes only itself and the setting
//! in force is always the newest live guard's (or the base one when none is
//! left), never a value some other guard saved.

use core::cell::{Cell, RefCell};

/// One thread's live guards of one kind, oldest first. Lives in a
/// `thread_local!`; its `Vec` allocates on the thread's first guard and
/// keeps its capacity after.
pub(crate) struct GuardStack<T> {
    entries: RefCell<Vec<(u64, T)>>,
    next_id: Cell<u64>,
}

impl<T> GuardStack<T> {
    pub(crate) const fn new() -> GuardStack<T> {
        GuardStack {
            entries: RefCell::new(Vec::new()),
            next_id: Cell::new(0),
        }
    }

    /// Pushes `value` as the newest entry; returns the id its guard keeps.
    pub(crate) fn push(&self, value: T) -> u64 {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        self.entries.borrow_mut().push((id, value));
        id
    }

    /// Removes the entry `id` (wherever it is) and returns it.
    pub(crate) fn remove(&self, id: u64) -> Option<T> {
        let mut entries = self.entries.borrow_mut();
        let index = entries.iter().rposition(|(entry, _)| *entry == id)?;
        Some(entries.remove(index).1)
    }

    /// Whether no guard is live (`false` while the stack is borrowed).
    pub(crate) fn is_empty(&self) -> bool {
        self.entries
            .try_borrow()
            .map(|entries| entries.is_empty())
            .unwrap_or(false)
    }

    /// Runs `f` on the newest entry's value, if any (`None` too while
    /// the stack is borrowed, from inside another of these calls).
    pub(crate) fn with_newest<R>(&self, f: impl FnOnce(Option<&mut T>) -> R) -> R {
        match self.entries.try_borrow_mut() {
            Ok(mut entries) => f(entries.last_mut().map(|(_, value)| value)),
            Err(_) => f(None),
        }
    }

    /// Runs `f` on entry `id`'s value, if it is live.
    pub(crate) fn with_entry<R>(&self, id: u64, f: impl FnOnce(Option<&mut T>) -> R) -> R {
        let mut entries = self.entries.borrow_mut();
        f(entries
            .iter_mut()
            .rev()
            .find(|(entry, _)| *entry == id)
            .map(|(_, value)| value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_leave_by_id_in_any_order_and_the_newest_live_one_is_in_force() {
        let stack = GuardStack::new();
        let a = stack.push('a');
        let b = stack.push('b');
        let c = stack.push('c');
        assert_eq!(stack.remove(a), Some('a'));
        assert_eq!(stack.with_newest(|v| v.copied()), Some('c'));
        assert_eq!(stack.remove(c), Some('c'));
        assert_eq!(stack.with_newest(|v| v.copied()), Some('b'));
        assert_eq!(stack.remove(c), None, "an entry leaves once");
        assert_eq!(stack.with_entry(b, |v| v.copied()), Some('b'));
        assert_eq!(stack.remove(b), Some('b'));
        assert_eq!(stack.with_newest(|v| v.copied()), None);
        assert_ne!(stack.push('d'), a, "ids are not reused");
    }
}
