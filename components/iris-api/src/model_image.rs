//! Loaded registry models kept as memory images, so that a WASIp2 instance, which
//! lives for one request, need not load the model again (model preparation must not
//! dominate a request).
//!
//! tract has no serialised form of an optimised plan, but every instance of the
//! pre-initialised component starts from the same snapshot, with its code, statics,
//! heap and model region (`model_region`) at the same addresses. The first instance
//! to load a version loads it into its model region, then reads every 4-byte word of
//! the region's used pages as a possible pointer:
//! - into the region, or below the heap (statics, constants): the same in every
//!   instance;
//! - into the snapshot's heap: the image keeps a copy of the bytes there (64 at
//!   most per target), and a later instance restores it only where its own memory
//!   still holds them (tract points to the compute kernels it chose, built at
//!   pre-initialisation);
//! - into memory of this request (the request arena, memory grown since the
//!   snapshot, the model's bytes): no image.
//!
//! The image is then the region's used bytes and the region allocator's state. A
//! later instance of the same snapshot copies them into its own, still unused,
//! region and has the plan. A number that only looks like a pointer costs the image
//! (or a copied window), never correctness. The region allocator zeroes what a load
//! frees, so stale pointers in freed blocks are not read as live ones.
//!
//! The load may also write statics outside the region (tract's symbol-scope counter
//! and proof cache, the hasher seed): counters and caches that every instance keeps
//! for itself, which the plan does not point into.

use crate::image_format::{fnv1a, nonzero_ranges, Image, Piece, FNV_OFFSET};
use crate::{model_region, request_arena};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Bytes copied at each snapshot-heap address the plan points to (from 8 before).
const WINDOW: usize = 64;
/// More targets than this in the snapshot's heap: no image.
const MAX_TARGETS: usize = 512;
/// Zero bytes that split the region's used pages into separate pieces.
const ZERO_GAP: usize = 64;

extern "C" {
    // Defined by wasm-ld: the start and end of the statics, and where the heap starts.
    static __global_base: u8;
    static __data_end: u8;
    static __heap_base: u8;
    // The lowest address of the stack.
    static __stack_low: u8;
}

/// Identifies the snapshot (the component's code and its pre-initialised memory);
/// 0 when the component was not pre-initialised, which turns images off.
static SNAPSHOT_ID: AtomicU64 = AtomicU64::new(0);

/// Called last in `wizer-initialize`: fingerprints the statics and the heap as the
/// snapshot will hold them (the statics hold the addresses of code and data, so a
/// different build gets a different fingerprint).
pub fn seal_snapshot() {
    let (data_start, data_end, _) = layout();
    let id = [(data_start, data_end), snapshot_heap()]
        .into_iter()
        .fold(FNV_OFFSET, |h, (start, end)| fnv1a(h, memory(start, end)));
    SNAPSHOT_ID.store(id.max(1), Relaxed);
}

/// The suffix that ties an image's key-value key to this snapshot, while this
/// instance can still make or place one (its model region is unused).
pub fn snapshot_tag() -> Option<String> {
    let id = SNAPSHOT_ID.load(Relaxed);
    (id != 0 && model_region::is_pristine()).then(|| format!("{id:016x}"))
}

/// Why a load was not kept as an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotRecorded {
    /// Not pre-initialised, or the region was already used.
    Unavailable,
    /// A word of the plan, at this address, may point into this request's memory.
    MayPointIntoRequest(usize),
    /// The plan points to too many places in the snapshot's heap.
    TooManyTargets,
}

/// Runs `load` on a copy of `source` in the model region. Returns what it made (in
/// the region, for the rest of the instance) and, when it can be placed in another
/// instance, its image.
pub fn record<T: 'static, E>(
    source: &[u8],
    load: impl FnOnce(&[u8]) -> Result<T, E>,
) -> Result<(&'static T, Result<Vec<u8>, NotRecorded>), E> {
    if snapshot_tag().is_none() {
        let made = load(source)?;
        return Ok((Box::leak(Box::new(made)), Err(NotRecorded::Unavailable)));
    }
    clear_unused_stack();
    let made = model_region::allocating_in_region(|| {
        // Loaded from a copy in the region, which is freed (and zeroed) afterwards:
        // pointers into the request's copy could otherwise stay behind.
        let own_source = source.to_vec();
        let made = load(&own_source);
        drop(own_source);
        made.map(|made| Box::leak(Box::new(made)) as *const T)
    })?;
    // SAFETY: leaked just above.
    let made_ref = unsafe { &*made };
    let image = image_of(made as usize, source);
    Ok((made_ref, image))
}

/// Bytes of the stack left alone below the frame of [`clear_unused_stack`].
const STACK_MARGIN: usize = 256;

/// Zeroes the unused part of the stack, below this function's frame. What earlier
/// calls left there would otherwise be copied into the region as the uninitialised
/// parts of what a load builds (the spare slots of a `SmallVec`, padding), where
/// it would read as pointers into this request's memory.
#[inline(never)]
fn clear_unused_stack() {
    let marker = 0u8;
    let here = std::hint::black_box(&marker) as *const u8 as usize;
    let mut at = (&raw const __stack_low as usize).next_multiple_of(8);
    let end = here.saturating_sub(STACK_MARGIN);
    while at + 8 <= end {
        // SAFETY: below the current frame the stack is unused; nothing reads it
        // before writing it.
        unsafe { std::ptr::write_volatile(at as *mut u64, 0) };
        at += 8;
    }
}

fn image_of(root: usize, source: &[u8]) -> Result<Vec<u8>, NotRecorded> {
    let (region_start, region_end) = model_region::bounds();
    let snapshot_heap = snapshot_heap();
    let source = (
        source.as_ptr() as usize,
        source.as_ptr() as usize + source.len(),
    );
    let this_request = [request_arena::bounds(), (region_end, memory_end()), source];
    let taken = (region_start, model_region::high_water());

    let mut targets = Vec::new();
    for (at, value) in words(taken) {
        if this_request.iter().any(|&range| within(value, range)) {
            return Err(NotRecorded::MayPointIntoRequest(at));
        }
        if within(value, snapshot_heap) {
            targets.push(value);
        }
    }
    targets.sort_unstable();
    targets.dedup();
    if targets.len() > MAX_TARGETS {
        return Err(NotRecorded::TooManyTargets);
    }
    let windows = targets
        .iter()
        .map(|&t| {
            let start = t.saturating_sub(8).max(snapshot_heap.0);
            let end = (start + WINDOW).min(snapshot_heap.1);
            (start, memory(start, end))
        })
        .collect();
    // The region's pages are zero in a fresh instance: only what is not is kept.
    let region = nonzero_ranges(memory(taken.0, taken.1), ZERO_GAP)
        .into_iter()
        .map(|(start, end)| (taken.0 + start, memory(taken.0 + start, taken.0 + end)))
        .collect();
    let (state_addr, state_len) = model_region::state();
    let image = Image {
        snapshot: SNAPSHOT_ID.load(Relaxed),
        root,
        windows,
        region,
        state: (state_addr, memory(state_addr, state_addr + state_len)),
    };
    Ok(image.encode())
}

/// Whether `image`, made by this snapshot, can be placed in this instance: its
/// region unused and where the image's was, the same region state layout, and the
/// snapshot-heap bytes the plan points into as the recording instance had them.
fn fits_here(image: &Image) -> bool {
    let region = model_region::bounds();
    let snapshot_heap = snapshot_heap();
    let inside = |(start, bytes): &Piece, (low, high): (usize, usize)| {
        *start >= low && start.saturating_add(bytes.len()) <= high
    };
    image.snapshot == SNAPSHOT_ID.load(Relaxed)
        && snapshot_tag().is_some()
        && within(image.root, region)
        && (image.state.0, image.state.1.len()) == model_region::state()
        && image.region.iter().all(|piece| inside(piece, region))
        && image.windows.iter().all(|piece| {
            inside(piece, snapshot_heap) && memory(piece.0, piece.0 + piece.1.len()) == piece.1
        })
}

/// The plan of `image` placed in this instance's region, if the image fits it.
pub fn restore<T: 'static>(image: &[u8]) -> Option<&'static T> {
    let image = Image::parse(image).filter(fits_here)?;
    for (start, bytes) in image.region.iter().chain([&image.state]) {
        // SAFETY: the pieces lie in the region, which is reserved and unused in this
        // instance, or are the region's own static, which nothing uses now. Both
        // get what the same snapshot had right after the load; what the plan points
        // to outside the region is the snapshot's code and statics, or snapshot-heap
        // bytes checked above to be as the recording instance had them. So `root`
        // is the `T` that was loaded, for the rest of the instance.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), *start as *mut u8, bytes.len()) };
    }
    // SAFETY: see above.
    Some(unsafe { &*(image.root as *const T) })
}

fn within(value: usize, (start, end): (usize, usize)) -> bool {
    value >= start && value < end
}

/// The bytes of linear memory in `[start, end)`.
fn memory(start: usize, end: usize) -> &'static [u8] {
    // SAFETY: callers pass ranges inside linear memory, which is always readable.
    unsafe { std::slice::from_raw_parts(start as *const u8, end - start) }
}

/// The 4-byte words of `[start, end)`, with their addresses.
fn words((start, end): (usize, usize)) -> impl Iterator<Item = (usize, usize)> {
    memory(start, end)
        .chunks_exact(4)
        .enumerate()
        .map(move |(i, w)| {
            (
                start + 4 * i,
                u32::from_le_bytes(w.try_into().expect("4 bytes")) as usize,
            )
        })
}

/// The snapshot's heap: from the linker's heap base to the request arena, reserved
/// at the end of pre-initialisation.
fn snapshot_heap() -> (usize, usize) {
    (layout().2, request_arena::bounds().0)
}

/// Where the statics start and end, and where the heap starts.
fn layout() -> (usize, usize, usize) {
    // Only the addresses of the linker's symbols are taken.
    (
        &raw const __global_base as usize,
        &raw const __data_end as usize,
        &raw const __heap_base as usize,
    )
}

fn memory_end() -> usize {
    core::arch::wasm32::memory_size(0) * (64 << 10)
}
