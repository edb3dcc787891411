//! CPU-bound work over many items on every core: matching a month of stored articles again
//! (re-match, `bantin topics test`) is some 90,000 independent pieces of work. Pure scheduling:
//! results come back in the items' order, so callers see what one loop would give.
//!
//! Scoped threads, not the async runtime's blocking pool: callers are already off the runtime
//! (in `spawn_blocking` or the CLI), and a panic in one item reaches the caller as a panic,
//! where its task edge ([`crate::guard`]) records it as before.

use std::num::NonZeroUsize;

/// Below this many items one thread does it all: starting threads costs more than it saves.
const MIN_PER_THREAD: usize = 64;

/// The cores this process may use (one when the system does not say).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, NonZeroUsize::get)
}

/// `f` of every item, in order, computed on up to as many threads as the machine has cores.
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = cores().min(items.len() / MIN_PER_THREAD).max(1);
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let per_thread = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(per_thread)
            .map(|chunk| scope.spawn(move || chunk.iter().map(f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(part) => part,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_order_of_the_items() {
        for n in [0, 1, 63, 64, 200, 1_001] {
            let items: Vec<usize> = (0..n).collect();
            let want: Vec<usize> = items.iter().map(|i| i * 3).collect();
            assert_eq!(map(&items, |i| i * 3), want, "{n} items");
        }
    }
}
