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
//! * When a list is empty, the P carves a new cell from its current chunk
//!   of that class: a [`CHUNK`]-byte block from the global allocator
//!   (large enough that glibc maps it directly), handed out front to back.
//!   Only carving touches new memory, so a program's cells take the pages
//!   they need and no more.
//! * A cell of these classes is never given back to the allocator by
//!   itself. A chunk is, whole, once all the cells ever carved from it are
//!   back in its P's lists: [`GFree::trim`] looks for such chunks when its
//!   worker goes idle. Memory held after a burst is therefore bounded by
//!   the goroutines that were alive at once, and goes back to the system
//!   once the cells are home and the worker idles; cells that died on
//!   another worker stay in that worker's lists and are reused there
//!   (Go's `gFree` keeps every G it ever allocated).
//! * A cell freed off the workers (a plain thread dropped the last
//!   reference) goes to a global orphan list, and the next worker to idle
//!   adopts it.
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

/// The layout of memory for a cell of `class` taken straight from the
/// global allocator (by a thread that is not a worker): the class's full
/// size, so that the cell can serve any closure of its class once it is
/// freed into some P's list.
pub(crate) fn class_layout(class: usize) -> Layout {
    Layout::from_size_align(class * GRANULE, GRANULE).expect("cell class layout")
}

/// A free cell of a chunked class, with its class.
struct Orphan(NonNull<u8>, usize);

// SAFETY: an orphan is unused cell memory that its list owns; whoever
// takes it out of the list owns it, on whatever thread.
unsafe impl Send for Orphan {}

/// Cells of the chunked classes freed where no P could take them.
static ORPHANS: Mutex<Vec<Orphan>> = Mutex::new(Vec::new());

/// `ORPHANS.len()`, readable without the lock.
static NUM_ORPHANS: AtomicUsize = AtomicUsize::new(0);

/// Keeps a cell of class `class` that was freed off the workers.
///
/// # Safety
/// As [`GFree::put`].
pub(crate) unsafe fn orphan(cell: NonNull<u8>, class: usize) {
    let mut orphans = ORPHANS.lock().unwrap_or_else(|e| e.into_inner());
    orphans.push(Orphan(cell, class));
    NUM_ORPHANS.store(orphans.len(), Relaxed);
}

/// A chunk this P carved cells from.
struct Chunk {
    base: NonNull<u8>,
    class: usize,
    /// Cells carved from it so far.
    carved: usize,
}

/// The cell memory of one worker. Every cell in `free[class]` is unused
/// memory of at least `class * GRANULE` bytes, aligned to `GRANULE`, that
/// nobody else refers to and that is never deallocated by itself: it lies
/// in a chunk (this P's or another's), or came from the global allocator
/// with [`class_layout`] and stays in the lists for good.
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
    /// if this P has one, else a newly carved one. Uninitialised, at least
    /// `class * GRANULE` bytes, aligned to `GRANULE`; the caller owns it
    /// until it hands it back with [`put`](Self::put) or [`orphan`].
    #[inline]
    pub(crate) fn take(&mut self, class: usize) -> NonNull<u8> {
        match self.free[class].pop() {
            Some(cell) => cell,
            None => self.carve(class),
        }
    }

    /// Carves a cell of `class` from its current chunk, starting a new
    /// chunk when that one is used up.
    #[cold]
    #[inline(never)]
    fn carve(&mut self, class: usize) -> NonNull<u8> {
        let size = class * GRANULE;
        let (mut next, mut end) = self.bump[class];
        if end - next < size {
            let layout = chunk_layout();
            // SAFETY: the layout is not zero-sized.
            let base = NonNull::new(unsafe { std::alloc::alloc(layout) })
                .unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
            self.current[class] = Some(self.chunks.len());
            self.chunks.push(Chunk {
                base,
                class,
                carved: 0,
            });
            next = base.as_ptr() as usize;
            end = next + CHUNK;
        }
        self.bump[class] = (next + size, end);
        if let Some(i) = self.current[class] {
            self.chunks[i].carved += 1;
        }
        // `next` lies inside the chunk, which is not at address 0.
        NonNull::new(next as *mut u8).expect("chunk at address 0")
    }

    /// Keeps a cell of class `class` for reuse.
    ///
    /// # Safety
    /// `cell` came from [`take`](Self::take) with this class (here or on
    /// another P) or from the global allocator with `class_layout(class)`,
    /// nothing refers to it any more, and whatever it held has been
    /// dropped.
    #[inline]
    pub(crate) unsafe fn put(&mut self, cell: NonNull<u8>, class: usize) {
        self.free[class].push(cell);
        self.put_since_scan += 1;
    }

    /// Idle-time housekeeping: adopts the orphaned cells, and gives back to
    /// the allocator every chunk of this P, other than the ones carving
    /// goes on from, all of whose cells are back in these lists.
    pub(crate) fn trim(&mut self) {
        self.adopt_orphans();
        self.release_free_chunks();
    }

    /// Takes every orphaned cell into these lists.
    fn adopt_orphans(&mut self) {
        if NUM_ORPHANS.load(Relaxed) != 0 {
            let mut orphans = ORPHANS.lock().unwrap_or_else(|e| e.into_inner());
            for Orphan(cell, class) in orphans.drain(..) {
                self.free[class].push(cell);
                self.put_since_scan += 1;
            }
            NUM_ORPHANS.store(0, Relaxed);
        }
    }

    /// Gives back every chunk of this P, other than the ones carving goes
    /// on from, all of whose cells are in these lists.
    fn release_free_chunks(&mut self) {
        if self.chunks.len() <= self.current.iter().flatten().count() {
            return;
        }
        let cached: usize = self.free.iter().map(Vec::len).sum();
        if self.put_since_scan < (cached / 4).max(64) {
            return;
        }
        self.put_since_scan = 0;
        // Count the free cells of each of our chunks; a chunk whose count
        // equals what was carved from it has no cell in use anywhere.
        let mut home: HashMap<usize, usize, BuildHasherDefault<ChunkHasher>> = self
            .chunks
            .iter()
            .enumerate()
            .map(|(i, c)| (c.base.as_ptr() as usize, i))
            .collect();
        let mut free_in = vec![0usize; self.chunks.len()];
        for cells in &self.free {
            for cell in cells {
                if let Some(&i) = home.get(&chunk_of(*cell)) {
                    free_in[i] += 1;
                }
            }
        }
        let mut release = vec![false; self.chunks.len()];
        for (i, chunk) in self.chunks.iter().enumerate() {
            release[i] = free_in[i] == chunk.carved && self.current[chunk.class] != Some(i);
        }
        if !release.contains(&true) {
            return;
        }
        for cells in &mut self.free {
            cells.retain(|cell| home.get(&chunk_of(*cell)).is_none_or(|&i| !release[i]));
            if cells.capacity() > 4 * cells.len().max(64) {
                // A burst's big list goes back too.
                cells.shrink_to(cells.len().max(64));
            }
        }
        home.clear();
        let mut kept = Vec::with_capacity(self.chunks.len());
        for (i, chunk) in std::mem::take(&mut self.chunks).into_iter().enumerate() {
            if release[i] {
                // SAFETY: `carve` allocated the chunk with `chunk_layout()`;
                // every cell carved from it was in our lists, none is in use
                // (see the struct docs), and `retain` just removed them, so
                // nothing refers into it any more.
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

    #[test]
    fn cells_are_reused_and_whole_chunks_go_back() {
        let mut free = GFree::new();
        let class = 17;
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
        // With one cell of the first chunk still out, only the second
        // chunk goes back.
        for &c in &cells[1..] {
            // SAFETY: as above.
            unsafe { free.put(c, class) };
        }
        free.force_scan();
        free.release_free_chunks();
        assert_eq!(free.chunks.len(), 2);
        assert_eq!(free.len(), n - 1 - per_chunk);
        // All home: the first chunk goes too, the current one stays.
        // SAFETY: as above.
        unsafe { free.put(cells[0], class) };
        free.force_scan();
        free.release_free_chunks();
        assert_eq!(free.chunks.len(), 1);
        assert_eq!(free.len(), 5);
        // Carving resumes in the current chunk.
        let again = free.take(class);
        assert_eq!(chunk_of(again), chunk_of(cells[n - 1]));
    }

    #[test]
    fn orphans_are_adopted_and_never_released_by_their_new_p() {
        let mut a = GFree::new();
        let mut b = GFree::new();
        let cell = a.take(3);
        // SAFETY: carved for class 3, unused.
        unsafe { orphan(cell, 3) };
        b.adopt_orphans();
        // The runtime's own idle workers (other tests in this process run
        // goroutines) may have adopted it first; then there is nothing
        // more to check here.
        if !b.free[3].contains(&cell) {
            return;
        }
        // A foreign cell is reused, but its new P never releases it.
        assert_eq!(b.take(3), cell);
        // SAFETY: as above.
        unsafe { b.put(cell, 3) };
        b.force_scan();
        b.release_free_chunks();
        assert!(b.free[3].contains(&cell));
        assert_eq!(a.chunks.len(), 1);
    }
}
