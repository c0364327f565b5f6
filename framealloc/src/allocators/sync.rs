//! The crate's synchronisation types, chosen in one place.
//!
//! - Under `--cfg loom`: loom's atomics, mutexes and read-write locks, so the
//!   model tests explore every interleaving of the real close, free and
//!   streaming paths. (Loom with the `parking_lot` feature is not a
//!   supported combination: loom's types win.)
//! - With the `parking_lot` feature: parking_lot's `Mutex` and `RwLock` for
//!   the slow-path locks (the pool's page and heap registries, the frame
//!   arena registry and chunk pool, the groups registry, the streaming table
//!   and listeners, the budget listeners, the tag names). They are smaller
//!   (one byte of state) and spin briefly before parking.
//! - Otherwise: `std`'s.
//!
//! std and loom report poisoning and parking_lot does not, so every lock
//! is taken through [`lock`], [`read`], [`write`] or [`get_mut`], which
//! hide the difference: every critical section in this crate leaves its
//! data consistent before anything that can panic, so a poisoned lock is
//! used as it is.
//!
//! Budgets and tags (leaves that the intents call) use these types too:
//! this file names no other module, so that adds no cycle.

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize};

#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

#[cfg(all(feature = "parking_lot", not(loom)))]
pub(crate) use parking_lot::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

#[cfg(all(not(feature = "parking_lot"), not(loom)))]
pub(crate) use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// A mutex that can sit in a `static`: loom's constructors are not
/// `const`, so a static lock is never a loom one (no model reaches one).
#[cfg(feature = "parking_lot")]
pub(crate) use parking_lot::{Mutex as StaticMutex, MutexGuard as StaticMutexGuard};

/// A mutex that can sit in a `static` (see the `parking_lot` variant).
#[cfg(not(feature = "parking_lot"))]
pub(crate) use std::sync::{Mutex as StaticMutex, MutexGuard as StaticMutexGuard};

/// Locks a mutex, ignoring poisoning.
#[cfg(any(loom, not(feature = "parking_lot")))]
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Locks a mutex (parking_lot's never poisons).
#[cfg(all(feature = "parking_lot", not(loom)))]
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock()
}

/// The data of a mutex owned outright (in `Drop`), ignoring poisoning.
#[cfg(any(loom, not(feature = "parking_lot")))]
pub(crate) fn get_mut<T>(mutex: &mut Mutex<T>) -> &mut T {
    mutex
        .get_mut()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The data of a mutex owned outright (in `Drop`).
#[cfg(all(feature = "parking_lot", not(loom)))]
pub(crate) fn get_mut<T>(mutex: &mut Mutex<T>) -> &mut T {
    mutex.get_mut()
}

/// Takes a read lock, ignoring poisoning.
#[cfg(any(loom, not(feature = "parking_lot")))]
pub(crate) fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Takes a read lock.
#[cfg(all(feature = "parking_lot", not(loom)))]
pub(crate) fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read()
}

/// Takes the write lock, ignoring poisoning.
#[cfg(any(loom, not(feature = "parking_lot")))]
pub(crate) fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Takes the write lock.
#[cfg(all(feature = "parking_lot", not(loom)))]
pub(crate) fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write()
}

/// Locks a static mutex, ignoring poisoning.
#[cfg(not(feature = "parking_lot"))]
pub(crate) fn lock_static<T>(mutex: &StaticMutex<T>) -> StaticMutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Locks a static mutex.
#[cfg(feature = "parking_lot")]
pub(crate) fn lock_static<T>(mutex: &StaticMutex<T>) -> StaticMutexGuard<'_, T> {
    mutex.lock()
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// A panic while a lock is held does not make the lock unusable:
    /// std's poisoning is ignored, parking_lot has none. Either way the
    /// data is what the panicking section left.
    #[test]
    fn a_panic_under_a_lock_leaves_it_usable() {
        let mutex = std::sync::Arc::new(Mutex::new(1_u32));
        let rw = std::sync::Arc::new(RwLock::new(10_u32));
        let (m, r) = (mutex.clone(), rw.clone());
        let outcome = std::thread::spawn(move || {
            let mut held = lock(&m);
            let mut written = write(&r);
            *held = 2;
            *written = 20;
            panic!("inside both locks");
        })
        .join();
        assert!(outcome.is_err());
        assert_eq!(*lock(&mutex), 2);
        assert_eq!(*read(&rw), 20);
        *write(&rw) = 30;
        assert_eq!(*read(&rw), 30);
        let mut owned = std::sync::Arc::into_inner(mutex).unwrap();
        *get_mut(&mut owned) = 3;
        assert_eq!(*lock(&owned), 3);
    }

    /// The feature picks the implementation.
    #[test]
    fn the_feature_picks_parking_lot() {
        use core::any::TypeId;
        #[cfg(feature = "parking_lot")]
        let expected = TypeId::of::<parking_lot::Mutex<u8>>();
        #[cfg(not(feature = "parking_lot"))]
        let expected = TypeId::of::<std::sync::Mutex<u8>>();
        assert_eq!(TypeId::of::<Mutex<u8>>(), expected);
        assert_eq!(TypeId::of::<StaticMutex<u8>>(), expected);
        #[cfg(feature = "parking_lot")]
        let expected = TypeId::of::<parking_lot::RwLock<u8>>();
        #[cfg(not(feature = "parking_lot"))]
        let expected = TypeId::of::<std::sync::RwLock<u8>>();
        assert_eq!(TypeId::of::<RwLock<u8>>(), expected);
    }

    static COUNT: StaticMutex<u32> = StaticMutex::new(0);

    #[test]
    fn a_static_mutex_counts() {
        let threads: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(|| (0..1000).for_each(|_| *lock_static(&COUNT) += 1)))
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(*lock_static(&COUNT), 4000);
    }
}
