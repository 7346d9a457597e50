//! The model region of the WASIp2 build: a stretch of linear memory, at the same
//! address in every instance, where registry models are loaded.
//!
//! A registry model loaded in this region by one instance can be copied, as bytes,
//! into the region of a later one (see `model_image`): every instance starts from
//! the same snapshot, so the plan's pointers (into the region, and to the code's
//! statics) mean the same thing there. The region has its own dlmalloc, whose state
//! travels with the bytes, so the load's temporaries are reused rather than copied.
//!
//! `wizer-initialize` reserves the region after the request arena; its pages stay
//! zero, so they add nothing to the snapshot's data, and an instance that never loads
//! a registry model never touches them.

use dlmalloc::{Allocator, Dlmalloc};
use std::alloc::Layout;
use std::cell::{Cell, UnsafeCell};

/// Room for the load of a large skl2onnx ensemble, temporaries included. Untouched
/// pages cost nothing.
const REGION_BYTES: usize = 16 << 20;
const WASM_PAGE: usize = 64 << 10;

/// Hands the region's pages to the region's dlmalloc, in order, and never takes
/// them back.
struct RegionPages;

// SAFETY: wasm32-wasip2 has a single thread.
unsafe impl Send for RegionPages {}

// SAFETY: the blocks handed out never overlap and lie inside the reserved region.
unsafe impl Allocator for RegionPages {
    fn alloc(&self, size: usize) -> (*mut u8, usize, u32) {
        let Some(size) = size.checked_next_multiple_of(WASM_PAGE) else {
            return (std::ptr::null_mut(), 0, 0);
        };
        let at = REGION.pages_next.get();
        match at.checked_add(size) {
            Some(end) if at != 0 && end <= REGION.end.get() => {
                REGION.pages_next.set(end);
                (at as *mut u8, size, 0)
            }
            _ => (std::ptr::null_mut(), 0, 0),
        }
    }

    fn remap(&self, _: *mut u8, _: usize, _: usize, _: bool) -> *mut u8 {
        std::ptr::null_mut()
    }

    fn free_part(&self, _: *mut u8, _: usize, _: usize) -> bool {
        false
    }

    fn free(&self, _: *mut u8, _: usize) -> bool {
        false
    }

    fn can_release_part(&self, _: u32) -> bool {
        false
    }

    fn allocates_zeros(&self) -> bool {
        // Pages past `pages_next` were never written.
        true
    }

    fn page_size(&self) -> usize {
        WASM_PAGE
    }
}

/// All of the region's state: an image carries it besides the region's bytes.
struct Region {
    start: Cell<usize>,
    end: Cell<usize>,
    /// The end of the pages the allocator has taken so far.
    pages_next: Cell<usize>,
    /// Whether allocations go to the region (during a load).
    active: Cell<bool>,
    heap: UnsafeCell<Dlmalloc<RegionPages>>,
}

// SAFETY: wasm32-wasip2 has a single thread.
unsafe impl Sync for Region {}

static REGION: Region = Region {
    start: Cell::new(0),
    end: Cell::new(0),
    pages_next: Cell::new(0),
    active: Cell::new(false),
    heap: UnsafeCell::new(Dlmalloc::new_with_allocator(RegionPages)),
};

/// Reserves the region at the end of memory: called by `wizer-initialize` after the
/// request arena.
pub fn reserve() {
    if REGION.start.get() != 0 {
        return;
    }
    let first_page = core::arch::wasm32::memory_grow(0, REGION_BYTES / WASM_PAGE);
    if first_page == usize::MAX {
        return;
    }
    let start = first_page * WASM_PAGE;
    REGION.start.set(start);
    REGION.end.set(start + REGION_BYTES);
    REGION.pages_next.set(start);
}

/// Start and end of the reserved region (both 0 when there is none).
pub fn bounds() -> (usize, usize) {
    (REGION.start.get(), REGION.end.get())
}

/// The end of the pages the region's allocator has taken so far.
pub fn high_water() -> usize {
    REGION.pages_next.get()
}

/// Whether nothing was ever allocated in the region (the state of a fresh instance).
pub fn is_pristine() -> bool {
    REGION.start.get() != 0 && high_water() == REGION.start.get()
}

/// Address and size of the region's state (allocator included), which an image
/// carries with the region's used bytes.
pub fn state() -> (usize, usize) {
    (
        &REGION as *const Region as usize,
        std::mem::size_of::<Region>(),
    )
}

/// Runs `f` with every new allocation placed in the region (while it has room).
pub fn allocating_in_region<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            REGION.active.set(self.0);
        }
    }
    let _restore = Restore(REGION.active.replace(true));
    f()
}

pub fn is_active() -> bool {
    REGION.active.get()
}

pub fn owns(ptr: *mut u8) -> bool {
    let p = ptr as usize;
    p >= REGION.start.get() && p < REGION.end.get()
}

/// A block from the region, or null when it is full (or not reserved).
///
/// # Safety
/// As `GlobalAlloc::alloc`.
pub unsafe fn alloc(layout: Layout) -> *mut u8 {
    if REGION.start.get() == 0 {
        return std::ptr::null_mut();
    }
    // SAFETY: single thread; the allocator is only reached through these functions.
    unsafe { (*REGION.heap.get()).malloc(layout.size(), layout.align()) }
}

/// Frees a block, zeroing it first: what a load leaves in freed blocks would
/// otherwise be in an image, where stale pointers would look like live ones.
///
/// # Safety
/// `ptr` is a block of the region allocated with `layout`.
pub unsafe fn dealloc(ptr: *mut u8, layout: Layout) {
    // SAFETY: the block is the caller's to give back; single thread.
    unsafe {
        std::ptr::write_bytes(ptr, 0, layout.size());
        (*REGION.heap.get()).free(ptr, layout.size(), layout.align())
    }
}

/// The block moved to one of `new_size` bytes in the region (the old one freed as
/// by [`dealloc`]), or null when the region is full (the block is then untouched).
///
/// # Safety
/// `ptr` is a block of the region allocated with `layout`.
pub unsafe fn realloc(ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
    // SAFETY: as in `alloc` and `dealloc`, and the caller's guarantee.
    unsafe {
        let new = (*REGION.heap.get()).malloc(new_size, layout.align());
        if !new.is_null() {
            std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
            dealloc(ptr, layout);
        }
        new
    }
}
