//! The P's cache of free goroutine cells (Go's `gFree`, `gfget`/`gfput`).
//!
//! Every goroutine is one heap cell (`GCell<M>`: header, closure and result
//! slot; see `goroutine.rs`). A program that spawns and finishes goroutines
//! at a steady rate would malloc and free one cell per goroutine, and those
//! frees come 32 at a time from the graveyard (`sysmon.rs`), which overflows
//! glibc's per-thread cache (7 chunks per size class) and sends both sides
//! to the slow path with bin consolidation: ~320 instructions per goroutine
//! in the chained-spawn benchmark. So each P keeps the cells freed on its
//! worker and hands them to the next goroutine spawned there with the same
//! layout.
//!
//! Cells differ in size and alignment by closure type, so the cache has a
//! few bins, each holding cells of one exact [`Layout`]; a bin is given to a
//! new layout only when it is empty. Cells of a layout that finds no bin,
//! and cells beyond [`CAP`], go back to the allocator, as do cells freed
//! off the workers (plain threads, sysmon, the blocking pool). A cell only
//! enters the cache once its last reference is gone and its contents have
//! been dropped, and it leaves it as uninitialised memory that
//! `GRef::new` overwrites whole — exactly what a fresh allocation gives.

use std::alloc::Layout;
use std::ptr::NonNull;

/// Most cells one P keeps, over all bins (Go keeps 64 per P and spills to
/// a global list; a chain of spawns needs ~32 here, one graveyard sweep).
const CAP: usize = 256;

/// How many layouts are cached at once. Most programs spawn a handful of
/// closure types, and cells of different closures often share a layout.
const BINS: usize = 4;

/// Free goroutine cells of one worker. All of them were allocated by the
/// global allocator with their bin's layout and are owned by the cache.
pub(crate) struct GFree {
    bins: [Bin; BINS],
    /// Cells in all bins together.
    len: usize,
}

/// Free cells of one layout.
struct Bin {
    layout: Layout,
    cells: Vec<NonNull<u8>>,
}

impl GFree {
    pub(crate) fn new() -> GFree {
        GFree {
            // An empty bin's layout is meaningless: it is reassigned on the
            // first `put`. No cell is ever zero-sized, so this one never
            // matches a request.
            bins: std::array::from_fn(|_| Bin {
                layout: Layout::new::<()>(),
                cells: Vec::new(),
            }),
            len: 0,
        }
    }

    /// A cached cell of exactly `layout`, if there is one. The caller owns
    /// it: uninitialised memory, allocated by the global allocator with
    /// `layout`.
    #[inline]
    pub(crate) fn take(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        let bin = self.bins.iter_mut().find(|b| b.layout == layout)?;
        let cell = bin.cells.pop()?;
        self.len -= 1;
        Some(cell)
    }

    /// Keeps `cell` for reuse, or hands it back (`Err`) when the cache is
    /// full or has no bin for `layout`; the caller then frees it.
    ///
    /// # Safety
    /// `cell` was allocated by the global allocator with exactly `layout`,
    /// nothing refers to it any more, and whatever it held has been dropped.
    #[inline]
    pub(crate) unsafe fn put(
        &mut self,
        cell: NonNull<u8>,
        layout: Layout,
    ) -> Result<(), NonNull<u8>> {
        if self.len >= CAP {
            return Err(cell);
        }
        let bin = match self.bins.iter().position(|b| b.layout == layout) {
            Some(i) => &mut self.bins[i],
            None => match self.bins.iter_mut().find(|b| b.cells.is_empty()) {
                Some(bin) => {
                    bin.layout = layout;
                    bin
                }
                None => return Err(cell),
            },
        };
        bin.cells.push(cell);
        self.len += 1;
        Ok(())
    }
}

impl Drop for GFree {
    /// Workers never exit (their P lives for the whole process), so this
    /// only runs if that ever changes; it frees what the cache holds.
    fn drop(&mut self) {
        for bin in &mut self.bins {
            for cell in bin.cells.drain(..) {
                // SAFETY: by `put`'s contract the cache owns `cell`, which
                // the global allocator allocated with `bin.layout`.
                unsafe { std::alloc::dealloc(cell.as_ptr(), bin.layout) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alloc(layout: Layout) -> NonNull<u8> {
        // SAFETY: the test layouts are not zero-sized.
        NonNull::new(unsafe { std::alloc::alloc(layout) }).unwrap()
    }

    #[test]
    fn exact_layout_only_and_capped() {
        let a = Layout::from_size_align(64, 8).unwrap();
        let b = Layout::from_size_align(64, 16).unwrap();
        let mut free = GFree::new();
        let cell = alloc(a);
        // SAFETY: fresh from the allocator with `a`, unused.
        assert!(unsafe { free.put(cell, a) }.is_ok());
        // Same size, other alignment: no match.
        assert_eq!(free.take(b), None);
        assert_eq!(free.take(a), Some(cell));
        assert_eq!(free.take(a), None);
        // Four bins: a fifth layout is refused while the others hold cells.
        let layouts: Vec<Layout> = (1..=5)
            .map(|i| Layout::from_size_align(32 * i, 8).unwrap())
            .collect();
        for (i, &l) in layouts.iter().enumerate() {
            let cell = alloc(l);
            // SAFETY: as above.
            match unsafe { free.put(cell, l) } {
                Ok(()) => assert!(i < BINS),
                Err(back) => {
                    assert_eq!(i, BINS);
                    // SAFETY: refused, so still ours; allocated with `l`.
                    unsafe { std::alloc::dealloc(back.as_ptr(), l) };
                }
            }
        }
        // Fill to the cap; the next is refused. Drop frees the rest.
        while free.len < CAP {
            // SAFETY: as above.
            assert!(unsafe { free.put(alloc(a), a) }.is_ok());
        }
        let extra = alloc(layouts[0]);
        // SAFETY: as above.
        let back = unsafe { free.put(extra, layouts[0]) }.unwrap_err();
        // SAFETY: refused, so still ours.
        unsafe { std::alloc::dealloc(back.as_ptr(), layouts[0]) };
    }
}
