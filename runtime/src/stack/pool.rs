//! Pooling: per-worker stack caches, the global pool behind them, and the
//! scavenger that gives idle stack memory back to the kernel.

use std::cell::Cell;
use std::collections::VecDeque;
use std::io;
use std::marker::PhantomData;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::stack::Stack;
use crate::stack::guard;
use crate::stack::slab::{self, NUM_CLASSES, Slot};

/// Stacks a worker keeps per class before moving half to the global pool.
const CACHE_MAX: usize = 64;

/// Stacks a worker takes from the global pool when its cache is empty.
const REFILL: usize = 16;

/// Stacks the scavenger takes out of the pool per critical section.
const SCAVENGE_CHUNK: usize = 256;

/// Most stacks one `scavenge` call trims (about 0.4 s of `madvise`).
const SCAVENGE_MAX: usize = 64 * 1024;

/// The global pool's stacks of one size class.
struct ClassPool {
    /// Dirty stacks (see `Slot::dirty`). LIFO at the back; stamps never
    /// decrease from front to back, so the oldest are at the front.
    hot: VecDeque<Slot>,
    /// Stacks the scavenger has trimmed, handed out after `hot` runs dry.
    clean: Vec<Slot>,
}

/// Stacks shared by all workers.
struct Global {
    /// Scavenge generation: bumped by each `scavenge` call.
    generation: u64,
    /// Per size class.
    classes: [ClassPool; NUM_CLASSES],
}

/// The global pool.
static GLOBAL: Mutex<Global> = Mutex::new(Global {
    generation: 0,
    classes: [const {
        ClassPool {
            hot: VecDeque::new(),
            clean: Vec::new(),
        }
    }; NUM_CLASSES],
});

/// Locks the global pool. Nothing panics while it is held, but a poisoned
/// lock would still guard consistent data, so poisoning is ignored.
fn global() -> MutexGuard<'static, Global> {
    GLOBAL.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Global {
    /// Pushes stacks into the pool: dirty ones on top of `hot`, stamped
    /// with the generation; clean ones (cached but never handed out since
    /// they were trimmed) back to `clean`.
    fn push(&mut self, slots: impl IntoIterator<Item = Slot>) {
        for mut slot in slots {
            let pool = &mut self.classes[slot.class];
            if slot.dirty {
                slot.stamp = self.generation;
                pool.hot.push_back(slot);
            } else {
                pool.clean.push(slot);
            }
        }
    }
}

/// Returns one stack to the global pool (a dropped `Stack`, a flushed cache).
pub(crate) fn release_to_global(slot: Slot) {
    slot.owner.clear();
    global().push([slot]);
}

/// A worker's private stack cache. Not `Sync`: one per worker thread.
pub(crate) struct StackCache {
    /// Per size class, LIFO.
    classes: [Vec<Slot>; NUM_CLASSES],
    /// The last size asked for and its class: nearly every goroutine asks
    /// for the default size, and working its class out again cost ~35
    /// instructions per goroutine start.
    last: Option<(usize, usize)>,
    /// Makes the cache `!Sync` (it stays `Send`).
    _not_sync: PhantomData<Cell<()>>,
}

impl StackCache {
    /// An empty cache.
    pub(crate) fn new() -> Self {
        StackCache {
            classes: std::array::from_fn(|_| Vec::new()),
            last: None,
            _not_sync: PhantomData,
        }
    }

    /// A stack with at least `size` usable bytes (rounded up to its size
    /// class): from this cache, else from the global pool, else freshly
    /// carved. Fails with a message naming the cause (mapping budget,
    /// mmap failure, size over the maximum).
    pub(crate) fn get(&mut self, size: usize) -> io::Result<Stack> {
        let class = match self.last {
            Some((last, class)) if last == size => class,
            _ => {
                let class = slab::class_for(size)?;
                self.last = Some((size, class));
                class
            }
        };
        let mut slot = match self.classes[class].pop() {
            Some(slot) => slot,
            None => {
                self.refill(class);
                match self.classes[class].pop() {
                    Some(slot) => slot,
                    None => slab::carve(class)?,
                }
            }
        };
        slot.dirty = true;
        Ok(Stack::from_slot(slot))
    }

    /// Takes up to `REFILL` stacks of `class` from the global pool, hottest
    /// first, keeping the hottest on top of the local stack.
    fn refill(&mut self, class: usize) {
        let local = &mut self.classes[class];
        let mut g = global();
        let pool = &mut g.classes[class];
        let from_hot = pool.hot.len().min(REFILL);
        let from_clean = pool.clean.len().min(REFILL - from_hot);
        let clean_start = pool.clean.len() - from_clean;
        local.extend(pool.clean.drain(clean_start..));
        let hot_start = pool.hot.len() - from_hot;
        local.extend(pool.hot.drain(hot_start..));
    }

    /// Gives a stack back and clears its owner. Keeps up to `CACHE_MAX` per
    /// class; past that, the older half moves to the global pool at once.
    pub(crate) fn put(&mut self, stack: Stack) {
        let slot = stack.into_slot();
        slot.owner.clear();
        let local = &mut self.classes[slot.class];
        local.push(slot);
        if local.len() > CACHE_MAX {
            global().push(local.drain(..CACHE_MAX / 2));
        }
    }
}

impl Drop for StackCache {
    /// Moves every cached stack to the global pool.
    fn drop(&mut self) {
        let mut g = global();
        for local in &mut self.classes {
            g.push(local.drain(..));
        }
    }
}

/// Releases the memory of stacks that have idled in the global pool for a
/// whole scavenge period: `MADV_DONTNEED` over the usable range except the
/// top page. Guards and address space stay. Returns the bytes advised (an
/// upper bound on the resident memory freed). Cheap when nothing is due.
pub(crate) fn scavenge() -> usize {
    let page = guard::config().page;
    let mut batch: Vec<Slot> = Vec::new();
    let mut released = 0;
    let mut trimmed = 0;
    let mut g = global();
    g.generation += 1;
    let generation = g.generation;
    loop {
        // Stacks stamped before the previous scavenge have sat through one
        // whole period since.
        for pool in &mut g.classes {
            while batch.len() < SCAVENGE_CHUNK
                && pool.hot.front().is_some_and(|s| s.stamp + 1 < generation)
            {
                batch.extend(pool.hot.pop_front());
            }
        }
        if batch.is_empty() {
            return released;
        }
        drop(g);
        for slot in &batch {
            released += release_pages(slot, page);
        }
        trimmed += batch.len();
        g = global();
        for slot in &mut batch {
            slot.dirty = false;
        }
        g.push(batch.drain(..));
        if trimmed >= SCAVENGE_MAX {
            return released;
        }
    }
}

/// `MADV_DONTNEED` on a pooled stack, keeping its top page. Returns bytes.
fn release_pages(slot: &Slot, page: usize) -> usize {
    let start = slot.base.get() - slot.usable;
    let len = slot.usable - page;
    // SAFETY: the slot sits in no pool and no `Stack` while the scavenger
    // holds it, so no one is running on it or pointing into it; dropping
    // the pages of this private anonymous range only makes them read back
    // as zeros. The range excludes the guard, which stays in place anyway.
    let rc = unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_DONTNEED) };
    if rc == 0 { len } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::tests::{
        child_role, mapping_count, rss_bytes, run_child, status_bytes, test_name,
    };
    use crate::stack::{DEFAULT_STACK_SIZE, GuardMode, guard_mode};
    use std::time::Instant;

    #[test]
    fn round_trip_and_create_cost() {
        let mut cache = StackCache::new();
        let warm = cache.get(DEFAULT_STACK_SIZE).unwrap();
        cache.put(warm);
        let n = 1_000_000;
        let t = Instant::now();
        for _ in 0..n {
            let s = cache.get(std::hint::black_box(DEFAULT_STACK_SIZE)).unwrap();
            cache.put(std::hint::black_box(s));
        }
        let round_trip = t.elapsed().as_nanos() as f64 / n as f64;
        let n = 2000;
        let t = Instant::now();
        let fresh: Vec<_> = (0..n).map(|_| slab::carve(3).unwrap()).collect();
        let carve = t.elapsed().as_nanos() as f64 / n as f64;
        println!("pooled get+put: {round_trip:.1} ns; carving a new 128 KiB slot: {carve:.0} ns");
        assert!(round_trip < 2000.0, "pooled get/put must not make syscalls");
        fresh.into_iter().for_each(release_to_global);
    }

    #[test]
    fn many_stacks_few_mappings() {
        const N: usize = 200_000;
        if child_role() == Some("many") {
            assert_eq!(guard_mode(), GuardMode::GuardInstall);
            let mut cache = StackCache::new();
            let (maps, rss, pte) = (mapping_count(), rss_bytes(), status_bytes("VmPTE:"));
            let t = Instant::now();
            let stacks: Vec<Stack> = (0..N)
                .map(|_| {
                    let s = cache.get(DEFAULT_STACK_SIZE).unwrap();
                    // SAFETY: the top byte of the stack's usable range.
                    unsafe { ((s.slot.base.get() - 1) as *mut u8).write_volatile(1) };
                    s
                })
                .collect();
            let per_get = t.elapsed().as_nanos() / N as u128;
            let added = mapping_count() - maps;
            let per_stack = (rss_bytes() - rss) / N;
            println!(
                "{N} stacks of 256 KiB: +{added} mappings, {per_stack} B RSS and {} B page \
                 tables each, {per_get} ns per fresh get+touch",
                (status_bytes("VmPTE:") - pte) / N
            );
            assert!(added < 1000, "{added} mappings");
            assert!(per_stack < 12 * 1024, "{per_stack} B per stack");
            stacks.into_iter().for_each(|s| cache.put(s));
            println!("MANY-OK");
            return;
        }
        let out = run_child(
            &test_name(module_path!(), "many_stacks_few_mappings"),
            "many",
            &[],
        );
        assert!(
            out.status.success() && out.stdout.contains("MANY-OK"),
            "{out:?}"
        );
    }

    #[test]
    fn scavenge_returns_memory() {
        const N: usize = 32;
        const DIRTY: usize = 128 * 1024;
        if child_role() == Some("scavenge") {
            let mut cache = StackCache::new();
            let stacks: Vec<Stack> = (0..N)
                .map(|_| cache.get(DEFAULT_STACK_SIZE).unwrap())
                .collect();
            for s in &stacks {
                let top = s.slot.base.get();
                // SAFETY: the top 128 KiB of a 256 KiB stack that we own.
                unsafe { std::ptr::write_bytes((top - DIRTY) as *mut u8, 0xa5, DIRTY) };
            }
            stacks.into_iter().for_each(|s| cache.put(s));
            drop(cache);
            let dirty = rss_bytes();
            let first = scavenge();
            let second = scavenge();
            let freed = dirty.saturating_sub(rss_bytes());
            println!("scavenge: advised {first} then {second} bytes; RSS fell by {freed} bytes");
            assert_eq!(first, 0, "nothing has idled a whole period yet");
            assert_eq!(second, N * (DEFAULT_STACK_SIZE - guard::config().page));
            assert!(freed > N * DIRTY / 2, "RSS fell by only {freed}");
            assert_eq!(scavenge(), 0, "clean stacks are not trimmed again");
            // One stack used again: only it is trimmed next time, although
            // the cache took (and gave back) a whole refill batch.
            let mut cache = StackCache::new();
            let s = cache.get(DEFAULT_STACK_SIZE).unwrap();
            cache.put(s);
            drop(cache);
            assert_eq!(scavenge(), 0);
            assert_eq!(scavenge(), DEFAULT_STACK_SIZE - guard::config().page);
            println!("SCAVENGE-OK");
            return;
        }
        let out = run_child(
            &test_name(module_path!(), "scavenge_returns_memory"),
            "scavenge",
            &[],
        );
        assert!(
            out.status.success() && out.stdout.contains("SCAVENGE-OK"),
            "{out:?}"
        );
    }
}
