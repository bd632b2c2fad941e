//! Slabs: large mappings carved lazily into guarded stack slots, size
//! classes, and the lock-free registry that the overflow handler searches.

use std::io;
use std::num::NonZeroUsize;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::stack::{MIN_STACK_SIZE, format_size, guard};

/// Number of size classes: `MIN_STACK_SIZE << c` for c in 0..17, that is
/// 16 KiB up to 1 GiB (Go's limit for one goroutine stack, too).
pub(crate) const NUM_CLASSES: usize = 17;

/// Slots in the first slab of a class; each later slab has twice as many.
const FIRST_SLAB_SLOTS: usize = 16;

/// Slabs stop doubling at this many bytes (but hold at least one slot).
const MAX_SLAB_BYTES: usize = 1 << 30;

/// Capacity of the registry. At the 1 GiB cap this is 4 TiB of stacks,
/// about 13 million stacks of 256 KiB.
const MAX_SLABS: usize = 4096;

/// Who runs on a slot, readable from the signal handler (atomics only).
pub(crate) struct Owner {
    /// Goroutine id, 0 when the slot has no owner.
    id: AtomicU64,
    /// Start of the goroutine's name, null when unnamed.
    name_ptr: AtomicPtr<u8>,
    /// Length of the name in bytes.
    name_len: AtomicUsize,
}

impl Owner {
    /// An empty entry.
    const fn new() -> Owner {
        Owner {
            id: AtomicU64::new(0),
            name_ptr: AtomicPtr::new(ptr::null_mut()),
            name_len: AtomicUsize::new(0),
        }
    }

    /// Records an owner. The name fields are written before the id is
    /// published, so a reader that sees the id sees its name.
    pub(crate) fn set(&self, id: u64, name: Option<&str>) {
        let (p, len) = name.map_or((ptr::null_mut(), 0), |s| (s.as_ptr().cast_mut(), s.len()));
        self.id.store(0, Ordering::Release);
        self.name_len.store(len, Ordering::Relaxed);
        self.name_ptr.store(p, Ordering::Relaxed);
        self.id.store(id, Ordering::Release);
    }

    /// Forgets the owner.
    pub(crate) fn clear(&self) {
        self.id.store(0, Ordering::Release);
        self.name_ptr.store(ptr::null_mut(), Ordering::Relaxed);
    }

    /// Reads the owner: `None` when unowned, else the id and the raw name.
    /// Async-signal-safe.
    pub(crate) fn get(&self) -> Option<(u64, *const u8, usize)> {
        let id = self.id.load(Ordering::Acquire);
        if id == 0 {
            return None;
        }
        let p = self.name_ptr.load(Ordering::Relaxed);
        Some((id, p, self.name_len.load(Ordering::Relaxed)))
    }
}

/// One slab. Created once, leaked, never changed or freed.
pub(crate) struct SlabInfo {
    /// Lowest address of the mapping.
    base: usize,
    /// Length of the mapping in bytes (`slots * slot_size`).
    len: usize,
    /// Bytes per slot: guard plus usable stack.
    slot_size: usize,
    /// Bytes of guard at the low end of each slot.
    guard: usize,
    /// One owner entry per slot.
    owners: &'static [Owner],
}

impl SlabInfo {
    /// Usable stack bytes per slot.
    pub(crate) fn usable(&self) -> usize {
        self.slot_size - self.guard
    }

    /// The owner entry of slot `index`.
    pub(crate) fn owner(&self, index: usize) -> &'static Owner {
        &self.owners[index]
    }
}

/// A carved slot as it travels between the pools and a `Stack`.
/// Deliberately neither `Copy` nor `Clone`: one owner at a time.
pub(crate) struct Slot {
    /// Top of the stack (end of the slot).
    pub(crate) base: NonZeroUsize,
    /// Bottom of the slot, guard included.
    pub(crate) limit: NonZeroUsize,
    /// Usable bytes: `base - limit - guard`.
    pub(crate) usable: usize,
    /// Size class index.
    pub(crate) class: usize,
    /// This slot's owner entry in its slab.
    pub(crate) owner: &'static Owner,
    /// Scavenge generation at which the slot entered the global pool.
    pub(crate) stamp: u64,
    /// Handed out since it was carved or last scavenged: its pages below
    /// the top one may be resident.
    pub(crate) dirty: bool,
}

/// Registered slabs, for the signal handler: filled in order, never cleared.
static REGISTRY: [AtomicPtr<SlabInfo>; MAX_SLABS] =
    [const { AtomicPtr::new(ptr::null_mut()) }; MAX_SLABS];

/// Number of registry entries handed out (may run past `MAX_SLABS`).
static REGISTERED: AtomicUsize = AtomicUsize::new(0);

/// Carving state of one size class.
struct Carver {
    /// Slab being carved, if any.
    slab: Option<&'static SlabInfo>,
    /// Next uncarved slot index in `slab`.
    next: usize,
    /// Slabs made so far for this class (drives the doubling).
    made: u32,
}

/// One carver per class, so carving in one class never waits for another.
static CARVERS: [Mutex<Carver>; NUM_CLASSES] = [const {
    Mutex::new(Carver {
        slab: None,
        next: 0,
        made: 0,
    })
}; NUM_CLASSES];

/// The class that holds `size` usable bytes.
pub(crate) fn class_for(size: usize) -> io::Result<usize> {
    let want = size.max(MIN_STACK_SIZE).max(guard::config().page);
    let class = want
        .checked_next_power_of_two()
        .map(|p| (p / MIN_STACK_SIZE).trailing_zeros() as usize)
        .filter(|&c| c < NUM_CLASSES);
    class.ok_or_else(|| {
        let max = format_size(MIN_STACK_SIZE << (NUM_CLASSES - 1));
        let msg = format!("gofer: a goroutine stack of {size} bytes is over the maximum of {max}");
        io::Error::new(io::ErrorKind::InvalidInput, msg)
    })
}

/// Usable bytes of class `class`.
pub(crate) fn class_usable(class: usize) -> usize {
    (MIN_STACK_SIZE << class).max(guard::config().page)
}

/// Carves a fresh slot of `class`, mapping a new slab when the current one
/// is used up. Costs one guard-install syscall (plus an mmap now and then).
pub(crate) fn carve(class: usize) -> io::Result<Slot> {
    guard::charge_slot()?;
    let reserved = {
        let mut c = CARVERS[class]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        reserve(&mut c, class)
    };
    let (slab, index) = reserved.inspect_err(|_| guard::refund_slot())?;
    let start = slab.base + index * slab.slot_size;
    // A slot whose guard could not be installed is never handed out; it
    // stays carved and unused (this only happens when the kernel is out of
    // memory or mappings).
    guard::install(start, slab.guard).inspect_err(|_| guard::refund_slot())?;
    let nz = |a: usize| NonZeroUsize::new(a).expect("mmap never returns page 0");
    Ok(Slot {
        base: nz(start + slab.slot_size),
        limit: nz(start),
        usable: slab.usable(),
        class,
        owner: slab.owner(index),
        stamp: 0,
        dirty: false,
    })
}

/// Takes the next slot index of the class, mapping a slab if needed.
fn reserve(c: &mut Carver, class: usize) -> io::Result<(&'static SlabInfo, usize)> {
    let slab = match c.slab {
        Some(s) if c.next < s.owners.len() => s,
        _ => {
            let s = new_slab(class, c.made)?;
            c.made += 1;
            c.slab = Some(s);
            c.next = 0;
            s
        }
    };
    c.next += 1;
    Ok((slab, c.next - 1))
}

/// Maps and registers the `made`-th slab of `class`.
fn new_slab(class: usize, made: u32) -> io::Result<&'static SlabInfo> {
    let guard = guard::config().guard;
    let slot_size = class_usable(class) + guard;
    // Past 2^32 slots any slab would be over the cap, so stop shifting there.
    let slots = (FIRST_SLAB_SLOTS << made.min(32)).min((MAX_SLAB_BYTES / slot_size).max(1));
    let len = slots * slot_size;
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK;
    // SAFETY: an anonymous mapping at an address of the kernel's choosing
    // cannot alias any existing Rust object.
    let p = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            flags,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        let err = io::Error::last_os_error();
        let msg = format!(
            "gofer: cannot map {} for goroutine stacks: {err}",
            format_size(len)
        );
        return Err(io::Error::new(err.kind(), msg));
    }
    let owners: Vec<Owner> = (0..slots).map(|_| Owner::new()).collect();
    let info: &'static SlabInfo = Box::leak(Box::new(SlabInfo {
        base: p as usize,
        len,
        slot_size,
        guard,
        owners: Box::leak(owners.into_boxed_slice()),
    }));
    let index = REGISTERED.fetch_add(1, Ordering::AcqRel);
    if index >= MAX_SLABS {
        // SAFETY: the mapping was made above and nothing points into it yet.
        unsafe { libc::munmap(p, len) };
        let msg = format!("gofer: too many goroutine stack slabs (more than {MAX_SLABS})");
        return Err(io::Error::new(io::ErrorKind::OutOfMemory, msg));
    }
    REGISTRY[index].store(ptr::from_ref(info).cast_mut(), Ordering::Release);
    Ok(info)
}

/// Finds the slab slot whose guard contains `addr`. Async-signal-safe: it
/// reads atomics and immutable leaked data only.
pub(crate) fn find_guard(addr: usize) -> Option<(&'static SlabInfo, usize)> {
    let n = REGISTERED.load(Ordering::Acquire).min(MAX_SLABS);
    for entry in &REGISTRY[..n] {
        let p = entry.load(Ordering::Acquire);
        if p.is_null() {
            continue;
        }
        // SAFETY: registry entries point to leaked `SlabInfo`s that are never
        // freed or mutated.
        let slab = unsafe { &*p };
        if addr.wrapping_sub(slab.base) < slab.len {
            let offset = addr - slab.base;
            return (offset % slab.slot_size < slab.guard).then(|| (slab, offset / slab.slot_size));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_round_up_to_powers_of_two() {
        assert_eq!(class_usable(class_for(0).unwrap()), 16 * 1024);
        assert_eq!(class_usable(class_for(16 * 1024).unwrap()), 16 * 1024);
        assert_eq!(class_usable(class_for(16 * 1024 + 1).unwrap()), 32 * 1024);
        assert_eq!(class_usable(class_for(100_000).unwrap()), 128 * 1024);
        assert_eq!(class_usable(class_for(1 << 30).unwrap()), 1 << 30);
        let err = class_for((1 << 30) + 1).unwrap_err();
        assert!(
            err.to_string().contains("over the maximum of 1 GiB"),
            "{err}"
        );
        assert!(class_for(usize::MAX).is_err());
    }

    #[test]
    fn guard_lookup_is_exact() {
        let slot = carve(class_for(16 * 1024).unwrap()).unwrap();
        let limit = slot.limit.get();
        let guard = guard::config().guard;
        let (slab, index) = find_guard(limit).expect("bottom of the guard");
        assert!(ptr::eq(slab.owner(index), slot.owner));
        assert!(find_guard(limit + guard - 1).is_some());
        assert!(find_guard(limit + guard).is_none(), "first usable byte");
        assert!(
            find_guard(slot.base.get() - 1).is_none(),
            "top of the stack"
        );
        assert!(find_guard(8).is_none());
        crate::stack::pool::release_to_global(slot);
    }
}
