//! The allocator of the WASIp2 build: a bump arena for the one request an instance
//! lives for.
//!
//! Spin gives a WASIp2 component a fresh instance per request and throws it away
//! afterwards, so nothing allocated during a request needs to be reused: freeing
//! is wasted work. `wizer-initialize` reserves the arena once, at build time,
//! after the embedded model was loaded with the ordinary allocator; the snapshot
//! keeps the (still empty) arena, so every instance starts with it. From then on
//! allocations take the next bytes of the arena, and a block is only given back
//! when it is the last one handed out (temporaries, a growing `Vec` or `String`
//! extended in place). Blocks from before the snapshot, and anything past the
//! arena's end, stay with the ordinary allocator (dlmalloc), which frees them as
//! usual.
//!
//! Not for the WASIp3 build: it serves many requests per instance, where a bump
//! arena would only grow.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Reserved once; untouched pages cost nothing (they are not in the snapshot's data).
const ARENA_BYTES: usize = 1 << 20;

pub struct RequestArena {
    start: AtomicUsize,
    end: AtomicUsize,
    /// The next free byte; equals `start` in every fresh instance.
    next: AtomicUsize,
}

#[global_allocator]
static ALLOCATOR: RequestArena = RequestArena {
    start: AtomicUsize::new(0),
    end: AtomicUsize::new(0),
    next: AtomicUsize::new(0),
};

/// Reserves the arena: called at the end of `wizer-initialize`, so that the model
/// loaded before stays with the ordinary allocator.
pub fn reserve() {
    if ALLOCATOR.start.load(Relaxed) != 0 {
        return;
    }
    // New pages at the end of memory, past everything the ordinary allocator
    // holds: left zero, they stay out of the snapshot's memory image.
    let pages = ARENA_BYTES / WASM_PAGE;
    let first_page = core::arch::wasm32::memory_grow(0, pages);
    if first_page != usize::MAX {
        let block = first_page * WASM_PAGE;
        ALLOCATOR.next.store(block, Relaxed);
        ALLOCATOR.end.store(block + ARENA_BYTES, Relaxed);
        ALLOCATOR.start.store(block, Relaxed);
    }
}

const WASM_PAGE: usize = 64 << 10;

impl RequestArena {
    fn owns(&self, ptr: *mut u8) -> bool {
        let p = ptr as usize;
        p >= self.start.load(Relaxed) && p < self.end.load(Relaxed)
    }

    /// The next `size` bytes aligned to `align`, or `None` when the arena is full
    /// (or not reserved: `end` is then 0).
    fn bump(&self, size: usize, align: usize) -> Option<*mut u8> {
        let at = self.next.load(Relaxed).checked_next_multiple_of(align)?;
        let new_next = at.checked_add(size)?;
        if new_next > self.end.load(Relaxed) {
            return None;
        }
        self.next.store(new_next, Relaxed);
        Some(at as *mut u8)
    }
}

// SAFETY: blocks never overlap (the cursor only moves past a block, or back to
// the start of the last one when that one is freed); the rest is `System`'s.
// wasm32-wasip2 has a single thread, so the relaxed loads and stores do not race.
unsafe impl GlobalAlloc for RequestArena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match self.bump(layout.size(), layout.align()) {
            Some(ptr) => ptr,
            None => unsafe { System.alloc(layout) },
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !self.owns(ptr) {
            return unsafe { System.dealloc(ptr, layout) };
        }
        // Only the last block can be given back.
        if ptr as usize + layout.size() == self.next.load(Relaxed) {
            self.next.store(ptr as usize, Relaxed);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !self.owns(ptr) {
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        let p = ptr as usize;
        // The last block grows or shrinks in place while the arena has room.
        if p + layout.size() == self.next.load(Relaxed) {
            if let Some(end) = p.checked_add(new_size) {
                if end <= self.end.load(Relaxed) {
                    self.next.store(end, Relaxed);
                    return ptr;
                }
            }
        }
        if new_size <= layout.size() {
            return ptr;
        }
        // SAFETY: the caller guarantees a valid layout for the new size.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are valid for the old size and distinct.
            unsafe { std::ptr::copy_nonoverlapping(ptr, new, layout.size()) };
            unsafe { self.dealloc(ptr, layout) };
        }
        new
    }
}
