//! Memory for goroutine cells: the P's cache of free cells (Go's `gFree`,
//! `gfget`/`gfput`) and the chunks new cells are carved from.
//!
//! Every goroutine is one heap cell (`GCell<M>`: header, closure and result
//! slot; see `goroutine.rs`), 250–300 bytes for a small closure. Taking
//! them from glibc one by one was a third of the cost of spawning a million
//! goroutines from a goroutine (the spawn benchmark), for three reasons:
//! `malloc` and `free` cost ~450 instructions a cell; a worker thread's
//! glibc arena grows its heap one `mprotect` call per page (66,000 system
//! calls for a million cells); and freeing a burst in order coalesces and
//! trims the heap as it goes. A chain of spawns also sent its frees through
//! the graveyard 32 at a time, past glibc's per-thread cache.
//!
//! So cells of the common sizes (up to [`MAX_CELL`] bytes, aligned to at
//! most 16) come from here:
//!
//! * They are grouped in size classes of 16 bytes. A P keeps a list of free
//!   cells per class; a spawn on its worker takes one from there, and a
//!   cell whose goroutine is gone goes back to the list of the worker it is
//!   freed on.
//! * A P's list that grows past [`SPILL`] hands half of it to a global list
//!   of its class, and an empty one refills from there before anything new
//!   is carved (Go's per-P and global `gFree`). So cells flow from where
//!   goroutines die to where they are spawned, and the memory held is
//!   bounded by the goroutines that were alive at once, whatever the
//!   pattern. Cells freed off the workers go to the global lists too.
//! * Only when its list and the global one are empty does a P carve a new
//!   cell, from its current chunk of that class: a [`CHUNK`]-byte block
//!   from the global allocator (large enough that glibc maps it directly),
//!   handed out front to back. Only carving touches new memory. Spawns off
//!   the workers carve from chunks of the global lists' own.
//! * A cell of these classes is never given back to the allocator by
//!   itself. A P's chunk is, whole, once every cell ever carved from it is
//!   free again, in that P's lists or the global ones: [`GFree::trim`]
//!   looks for such chunks when its worker goes idle, so a burst's memory
//!   goes back to the system after it (Go keeps every G it ever made).
//!
//! Larger or more aligned cells are rare (the closure would have to carry
//! over a kilobyte by value) and simply come from and go back to the
//! global allocator.
//!
//! A cell enters a list only once its last reference is gone and its
//! contents have been dropped, and it leaves as uninitialised memory that
//! `GRef::new` overwrites whole — exactly what a fresh allocation gives.

use std::alloc::Layout;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::ptr::NonNull;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering::*};

/// Size classes are multiples of this; also the alignment every carved
/// cell has.
const GRANULE: usize = 16;

/// Largest cell served from chunks.
pub(crate) const MAX_CELL: usize = 1024;

/// Number of size classes (class `c` holds cells of `c * GRANULE` bytes;
/// class 0 is unused, no cell is empty).
const CLASSES: usize = MAX_CELL / GRANULE + 1;

/// Bytes of one chunk, and its alignment (so a cell's chunk is its address
/// rounded down). Above glibc's mmap threshold, so each chunk is its own
/// mapping rather than a growth of the thread's heap.
const CHUNK: usize = 256 * 1024;

/// The size class of cells of `layout`, or `None` for cells that go to
/// the global allocator. A pure function of the layout, so a cell's
/// allocation and its release always agree on where it belongs.
#[inline]
pub(crate) fn class_of(layout: Layout) -> Option<usize> {
    if layout.size() <= MAX_CELL && layout.align() <= GRANULE {
        Some(layout.size().div_ceil(GRANULE).max(1))
    } else {
        None
    }
}

/// A P's list of one class longer than this spills half to the global
/// list (Go spills at 64; cells here are smaller than Go's Gs).
const SPILL: usize = 256;

/// Cells an empty P list takes from the global list at once.
const REFILL: usize = 64;

/// A free cell: unused memory of at least `class * GRANULE` bytes,
/// aligned to `GRANULE`, inside some chunk, that nobody refers to and that
/// is never deallocated by itself (only with its whole chunk).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct FreeCell(NonNull<u8>);

// SAFETY: a free cell is unused memory owned by the list that holds it;
// whoever takes it out of a list owns it, on whatever thread.
unsafe impl Send for FreeCell {}

/// Free cells shared by all workers (and plain threads), per class, with
/// the chunks that spawns off the workers carve from.
struct Global {
    free: [Vec<FreeCell>; CLASSES],
    bump: [(usize, usize); CLASSES],
}

static GLOBAL: Mutex<Global> = Mutex::new(Global {
    free: [const { Vec::new() }; CLASSES],
    bump: [(0, 0); CLASSES],
});

/// Cells in `GLOBAL.free`, readable without the lock (a hint).
static GLOBAL_LEN: AtomicUsize = AtomicUsize::new(0);

fn global() -> std::sync::MutexGuard<'static, Global> {
    GLOBAL.lock().unwrap_or_else(|e| e.into_inner())
}

impl Global {
    fn note_len(&self) {
        GLOBAL_LEN.store(self.free.iter().map(Vec::len).sum(), Relaxed);
    }
}

/// A cell of `class` for a spawn off the workers: a free one from the
/// global list, else carved from a chunk of the global lists' own (never
/// released: cells from it may be anywhere).
pub(crate) fn take_global(class: usize) -> NonNull<u8> {
    let mut g = global();
    if let Some(FreeCell(cell)) = g.free[class].pop() {
        g.note_len();
        return cell;
    }
    let (next, end) = g.bump[class];
    let (cell, bump) = carve_from(next, end, class);
    g.bump[class] = bump;
    cell
}

/// Keeps a cell of `class` that was freed off the workers.
///
/// # Safety
/// As [`GFree::put`].
pub(crate) unsafe fn orphan(cell: NonNull<u8>, class: usize) {
    let mut g = global();
    g.free[class].push(FreeCell(cell));
    g.note_len();
}

/// Carves a cell of `class` from the chunk `[next, end)`, or from a new
/// chunk when that one is used up. Returns the cell and the new `(next,
/// end)`; the chunk is new if `next` of the result's chunk differs.
fn carve_from(mut next: usize, mut end: usize, class: usize) -> (NonNull<u8>, (usize, usize)) {
    let size = class * GRANULE;
    if end - next < size {
        let layout = chunk_layout();
        // SAFETY: the layout is not zero-sized.
        let base = NonNull::new(unsafe { std::alloc::alloc(layout) })
            .unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
        next = base.as_ptr() as usize;
        end = next + CHUNK;
    }
    // `next` lies inside an allocated chunk, so it is not 0.
    let cell = NonNull::new(next as *mut u8).expect("chunk at address 0");
    (cell, (next + size, end))
}

/// A chunk this P carved cells from.
struct Chunk {
    base: NonNull<u8>,
    class: usize,
    /// Cells carved from it so far.
    carved: usize,
}

/// The cell memory of one worker. Every pointer in `free[class]` is a
/// free cell (see [`FreeCell`]) of that class, from a chunk of this P,
/// another P or the global lists.
pub(crate) struct GFree {
    free: [Vec<NonNull<u8>>; CLASSES],
    /// Per class: where the next cell is carved, and the end of that chunk
    /// (both 0 before the first chunk).
    bump: [(usize, usize); CLASSES],
    /// Chunks carved here and not released, with the index into it of the
    /// one each class carves from now.
    chunks: Vec<Chunk>,
    current: [Option<usize>; CLASSES],
    /// Cells put back since `trim` last looked for free chunks. Looking
    /// scans every free cell, so it waits until a quarter as many came
    /// back: a worker that sleeps often with many cells cached pays O(1)
    /// per cell, not a full scan per sleep.
    put_since_scan: usize,
}

impl GFree {
    pub(crate) fn new() -> GFree {
        GFree {
            free: std::array::from_fn(|_| Vec::new()),
            bump: [(0, 0); CLASSES],
            chunks: Vec::new(),
            current: [None; CLASSES],
            put_since_scan: 0,
        }
    }

    /// Memory for a cell of class `class` (from [`class_of`]): a free one
    /// from this P's list or the global one, else a newly carved one.
    /// Uninitialised, at least `class * GRANULE` bytes, aligned to
    /// `GRANULE`; the caller owns it until it hands it back with
    /// [`put`](Self::put) or [`orphan`].
    #[inline]
    pub(crate) fn take(&mut self, class: usize) -> NonNull<u8> {
        match self.free[class].pop() {
            Some(cell) => cell,
            None => self.refill_or_carve(class),
        }
    }

    #[cold]
    #[inline(never)]
    fn refill_or_carve(&mut self, class: usize) -> NonNull<u8> {
        if GLOBAL_LEN.load(Relaxed) != 0 {
            let mut g = global();
            let list = &mut g.free[class];
            let from = list.len().saturating_sub(REFILL);
            self.free[class].extend(list.drain(from..).map(|FreeCell(c)| c));
            g.note_len();
            drop(g);
            if let Some(cell) = self.free[class].pop() {
                return cell;
            }
        }
        let (next, end) = self.bump[class];
        let (cell, bump) = carve_from(next, end, class);
        if bump.1 != end {
            // A new chunk.
            self.current[class] = Some(self.chunks.len());
            self.chunks.push(Chunk {
                base: cell,
                class,
                carved: 0,
            });
        }
        self.bump[class] = bump;
        if let Some(i) = self.current[class] {
            self.chunks[i].carved += 1;
        }
        cell
    }

    /// Keeps a cell of class `class` for reuse.
    ///
    /// # Safety
    /// `cell` came from [`take`](Self::take) (here or on another P) or
    /// [`take_global`] with this class, nothing refers to it any more, and
    /// whatever it held has been dropped.
    #[inline]
    pub(crate) unsafe fn put(&mut self, cell: NonNull<u8>, class: usize) {
        self.free[class].push(cell);
        self.put_since_scan += 1;
        if self.free[class].len() > SPILL {
            self.spill(class);
        }
    }

    /// Hands the older half of a long list to the global one.
    #[cold]
    #[inline(never)]
    fn spill(&mut self, class: usize) {
        let mut g = global();
        g.free[class].extend(self.free[class].drain(..SPILL / 2).map(FreeCell));
        g.note_len();
    }

    /// Idle-time housekeeping: gives back to the allocator every chunk of
    /// this P, other than the ones carving goes on from, all of whose cells
    /// are free again, in this P's lists or the global ones.
    ///
    /// Looking costs a scan of those lists, so it waits until this P has
    /// freed a quarter as many cells as they hold since it last looked
    /// (O(1) per freed cell); a chunk whose cells all died on other workers
    /// therefore waits for this one to free some of its own.
    pub(crate) fn trim(&mut self) {
        if self.chunks.len() <= self.current.iter().flatten().count() {
            return;
        }
        let cached = self.free.iter().map(Vec::len).sum::<usize>() + GLOBAL_LEN.load(Relaxed);
        if self.put_since_scan < (cached / 4).max(64) {
            return;
        }
        self.put_since_scan = 0;
        // The global lists may hold our cells too; nobody takes from them
        // while we count and remove.
        let mut g = global();
        // Count the free cells of each of our chunks; a chunk whose count
        // equals what was carved from it has no cell in use anywhere.
        let home: HashMap<usize, usize, BuildHasherDefault<ChunkHasher>> = self
            .chunks
            .iter()
            .enumerate()
            .map(|(i, c)| (c.base.as_ptr() as usize, i))
            .collect();
        let mut free_in = vec![0usize; self.chunks.len()];
        let global_cells = g.free.iter().flatten().map(|FreeCell(c)| c);
        for cell in self.free.iter().flatten().chain(global_cells) {
            if let Some(&i) = home.get(&chunk_of(*cell)) {
                free_in[i] += 1;
            }
        }
        let release: Vec<bool> = (self.chunks.iter().enumerate())
            .map(|(i, c)| free_in[i] == c.carved && self.current[c.class] != Some(i))
            .collect();
        if !release.contains(&true) {
            return;
        }
        let released = |cell: NonNull<u8>| home.get(&chunk_of(cell)).is_some_and(|&i| release[i]);
        for cells in &mut self.free {
            cells.retain(|&c| !released(c));
        }
        for cells in &mut g.free {
            cells.retain(|&FreeCell(c)| !released(c));
            if cells.capacity() > 4 * cells.len().max(64) {
                // A burst's big list goes back too.
                cells.shrink_to(cells.len().max(64));
            }
        }
        g.note_len();
        drop(g);
        let mut kept = Vec::with_capacity(self.chunks.len());
        for (i, chunk) in std::mem::take(&mut self.chunks).into_iter().enumerate() {
            if release[i] {
                // SAFETY: `refill_or_carve` allocated the chunk with
                // `chunk_layout()`; every cell carved from it was free (in
                // our lists or the global ones, which we held locked), and
                // the `retain`s just removed them all, so nothing refers
                // into it any more.
                unsafe { std::alloc::dealloc(chunk.base.as_ptr(), chunk_layout()) };
            } else {
                if self.current[chunk.class] == Some(i) {
                    self.current[chunk.class] = Some(kept.len());
                }
                kept.push(chunk);
            }
        }
        self.chunks = kept;
    }

    /// Free cells cached here, over all classes.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.free.iter().map(Vec::len).sum()
    }

    /// Makes the next `trim` look for free chunks however few cells came
    /// back.
    #[cfg(test)]
    fn force_scan(&mut self) {
        self.put_since_scan = usize::MAX / 2;
    }
}

/// Hashes chunk base addresses for `trim`, which looks up every free cell
/// (SipHash made a scan of a million cells take ~30 ms). The bases are
/// distinct multiples of `CHUNK`, so a multiply of the chunk number
/// spreads them well; nothing here is exposed to untrusted keys.
#[derive(Default)]
struct ChunkHasher(u64);

impl Hasher for ChunkHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = ((n / CHUNK) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

fn chunk_layout() -> Layout {
    Layout::from_size_align(CHUNK, CHUNK).expect("chunk layout")
}

/// The chunk a carved cell lies in (its base address).
fn chunk_of(cell: NonNull<u8>) -> usize {
    cell.as_ptr() as usize & !(CHUNK - 1)
}

// Workers never exit (their P lives for the whole process), so a `GFree`
// is never dropped; if one were, its chunks would leak, since cells carved
// from them may live on in other workers' lists.

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_round_up_and_leave_big_or_aligned_cells_alone() {
        assert_eq!(class_of(Layout::from_size_align(1, 1).unwrap()), Some(1));
        assert_eq!(class_of(Layout::from_size_align(264, 8).unwrap()), Some(17));
        assert_eq!(
            class_of(Layout::from_size_align(272, 16).unwrap()),
            Some(17)
        );
        assert_eq!(
            class_of(Layout::from_size_align(1024, 8).unwrap()),
            Some(64)
        );
        assert_eq!(class_of(Layout::from_size_align(1025, 8).unwrap()), None);
        assert_eq!(class_of(Layout::from_size_align(64, 64).unwrap()), None);
    }

    // The runtime's workers share the global lists with these tests, but
    // only for the classes of real goroutine cells (200 bytes and up), so
    // the tests use small classes, one each.

    fn global_len(class: usize) -> usize {
        global().free[class].len()
    }

    #[test]
    fn cells_are_reused_spilled_and_whole_chunks_go_back() {
        let mut free = GFree::new();
        let class = 2;
        let per_chunk = CHUNK / (class * GRANULE);
        // Three chunks' worth, all distinct, aligned and inside chunks.
        let n = 2 * per_chunk + 5;
        let cells: Vec<_> = (0..n).map(|_| free.take(class)).collect();
        let mut seen = std::collections::HashSet::new();
        for c in &cells {
            assert!(seen.insert(c.as_ptr() as usize));
            assert!((c.as_ptr() as usize).is_multiple_of(GRANULE));
            // The cell lies wholly within its chunk.
            assert!(chunk_of(*c) + CHUNK >= c.as_ptr() as usize + class * GRANULE);
            // SAFETY: carved for this class, not in use; writing it all
            // proves the memory is ours.
            unsafe { c.as_ptr().write_bytes(0xAB, class * GRANULE) };
        }
        assert_eq!(free.chunks.len(), 3);
        // A freed cell is the next one handed out.
        // SAFETY: taken above with this class, unused.
        unsafe { free.put(cells[0], class) };
        assert_eq!(free.take(class), cells[0]);
        // Long lists spill to the global list; with one cell of the first
        // chunk still out, only the second chunk goes back, wherever its
        // free cells are.
        for &c in &cells[1..] {
            // SAFETY: as above.
            unsafe { free.put(c, class) };
        }
        assert!(free.free[class].len() <= SPILL);
        assert!(global_len(class) > 0);
        free.force_scan();
        free.trim();
        assert_eq!(free.chunks.len(), 2);
        assert_eq!(free.len() + global_len(class), n - 1 - per_chunk);
        // All free: the first chunk goes too, the current one stays.
        // SAFETY: as above.
        unsafe { free.put(cells[0], class) };
        free.force_scan();
        free.trim();
        assert_eq!(free.chunks.len(), 1);
        assert_eq!(free.len() + global_len(class), 5);
        let current = chunk_of(cells[n - 1]);
        assert!(free.free[class].iter().all(|&c| chunk_of(c) == current));
    }

    #[test]
    fn cells_freed_elsewhere_reach_an_empty_list_through_the_global_one() {
        let mut a = GFree::new();
        let mut b = GFree::new();
        let class = 3;
        let cell = a.take(class);
        // Freed off the workers: into the global list.
        // SAFETY: carved for this class, unused.
        unsafe { orphan(cell, class) };
        // `b`'s list is empty: it refills from there before carving.
        assert_eq!(b.take(class), cell);
        assert!(b.chunks.is_empty());
        // Never released by `b`, whose chunk it is not; nor by `a` while
        // `b` holds it.
        // SAFETY: as above.
        unsafe { b.put(cell, class) };
        b.force_scan();
        b.trim();
        a.force_scan();
        a.trim();
        assert_eq!(b.free[class], vec![cell]);
        assert_eq!(a.chunks.len(), 1);
    }

    #[test]
    fn spawns_off_the_workers_take_from_the_global_lists() {
        let class = 4;
        let x = take_global(class);
        let y = take_global(class);
        assert_ne!(x, y);
        // SAFETY: taken for this class, unused.
        unsafe { orphan(x, class) };
        assert_eq!(take_global(class), x);
    }
}
