//! A fixed pool of workers (sessions + buffers) shared by concurrent callers.
//!
//! `ort`'s `Session::run` takes `&mut self` (some ONNX Runtime providers are not safe to run
//! concurrently on one session), so each caller leases a whole worker and gives it back on
//! drop; callers beyond the pool size wait. A larger pool trades memory (each worker holds
//! its own copy of the weights) for parallel requests.

use std::ops::{Deref, DerefMut};
use std::sync::{Condvar, Mutex, PoisonError};

#[derive(Debug)]
pub(crate) struct Pool<T> {
    idle: Mutex<Vec<T>>,
    returned: Condvar,
    size: usize,
}

impl<T> Pool<T> {
    pub fn new(items: Vec<T>) -> Self {
        Self {
            size: items.len(),
            idle: Mutex::new(items),
            returned: Condvar::new(),
        }
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// Waits for an idle worker. A worker is only ever taken out and put back whole, so a
    /// panic in another caller cannot leave one half-updated: poisoning is ignored.
    pub fn lease(&self) -> Lease<'_, T> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(item) = idle.pop() {
                return Lease {
                    pool: self,
                    item: Some(item),
                };
            }
            idle = self
                .returned
                .wait(idle)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// A leased worker; returns to the pool when dropped.
#[derive(Debug)]
pub(crate) struct Lease<'p, T> {
    pool: &'p Pool<T>,
    /// Always `Some` until drop.
    item: Option<T>,
}

impl<T> Deref for Lease<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        match &self.item {
            Some(item) => item,
            // `item` is only taken in `drop`, after which the lease cannot be used.
            None => unreachable!("lease used after drop"),
        }
    }
}

impl<T> DerefMut for Lease<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        match &mut self.item {
            Some(item) => item,
            None => unreachable!("lease used after drop"),
        }
    }
}

impl<T> Drop for Lease<'_, T> {
    fn drop(&mut self) {
        if let Some(item) = self.item.take() {
            self.pool
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(item);
            self.pool.returned.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn callers_beyond_the_pool_size_wait_their_turn() {
        let pool = Pool::new(vec![0usize, 0]);
        let busy = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    let mut w = pool.lease();
                    let now = busy.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    *w += 1;
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    busy.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        assert!(peak.load(Ordering::SeqCst) <= 2);
        let total: usize = pool.idle.lock().unwrap().iter().sum();
        assert_eq!(total, 8);
    }
}
