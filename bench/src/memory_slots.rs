//! Where a Wasmtime process keeps a component's linear memory, and which of its pages
//! the process holds as its own.
//!
//! Wasmtime maps a module's initial memory image copy-on-write from a memfd named
//! `wasm-memory-image` into every linear-memory slot that runs the module; around it
//! the slot is anonymous memory, read-write up to the memory's current size and
//! inaccessible beyond (guard pages separate the slots). So in `/proc/PID/maps` a slot
//! is the run of adjacent read-write mappings around that memfd mapping.
//!
//! A page of a slot is the process's own once something wrote it: present, neither a
//! file's page (the image, only read) nor the shared zero page (anonymous memory only
//! read), which `/proc/PID/pagemap` tells apart as "exclusively mapped" and not
//! "file-page or shared-anon".

use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;

use anyhow::{Context, Result};
use serde::Serialize;

/// The kernel's page size on the machines we measure (x86-64, aarch64 with 4 KiB pages).
pub const PAGE: u64 = 4096;

/// The name of the memfd Wasmtime maps a module's memory image from.
const IMAGE_MAPPING: &str = "wasm-memory-image";

/// One linear memory in the process's address space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// Address of linear memory's byte 0.
    pub base: u64,
    /// End of the read-write part: `base` plus the memory's current size.
    pub end: u64,
    /// The pages of the memory image, as page numbers of linear memory.
    pub image: Range<u64>,
}

impl Slot {
    /// The memory's current size, in pages.
    pub fn pages(&self) -> u64 {
        (self.end - self.base) / PAGE
    }

    /// The page of linear memory at `address`, if the slot's reservation (up to
    /// `reservation` bytes from `base`) holds it.
    pub fn page_of(&self, address: u64, reservation: u64) -> Option<u64> {
        (self.base..self.base + reservation)
            .contains(&address)
            .then(|| (address - self.base) / PAGE)
    }
}

struct Mapping<'a> {
    range: Range<u64>,
    perms: &'a str,
    path: &'a str,
}

fn parse_mapping(line: &str) -> Option<Mapping<'_>> {
    let mut fields = line.split_whitespace();
    let (start, end) = fields.next()?.split_once('-')?;
    let perms = fields.next()?;
    // offset, device, inode, then the path (absent for anonymous memory).
    let path = fields.nth(3).unwrap_or("");
    Some(Mapping {
        range: u64::from_str_radix(start, 16).ok()?..u64::from_str_radix(end, 16).ok()?,
        perms,
        path,
    })
}

/// Every linear memory with a memory image in `maps` (the text of `/proc/PID/maps`).
pub fn slots(maps: &str) -> Vec<Slot> {
    let mappings: Vec<Mapping> = maps.lines().filter_map(parse_mapping).collect();
    let anonymous_rw = |m: &Mapping| m.perms == "rw-p" && m.path.is_empty();
    let mut out = Vec::new();
    for (i, image) in mappings.iter().enumerate() {
        if !image.path.contains(IMAGE_MAPPING) {
            continue;
        }
        let mut base = image.range.start;
        for before in mappings[..i].iter().rev() {
            if before.range.end != base || !anonymous_rw(before) {
                break;
            }
            base = before.range.start;
        }
        let mut end = image.range.end;
        for after in &mappings[i + 1..] {
            if after.range.start != end || !anonymous_rw(after) {
                break;
            }
            end = after.range.end;
        }
        out.push(Slot {
            base,
            end,
            image: (image.range.start - base) / PAGE..(image.range.end - base) / PAGE,
        });
    }
    out
}

/// `/proc/PID/pagemap` entry bits (Documentation/admin-guide/mm/pagemap.rst).
const PRESENT: u64 = 1 << 63;
const FILE_OR_SHARED_ANON: u64 = 1 << 61;
const EXCLUSIVE: u64 = 1 << 56;

/// Whether a pagemap entry is a page the process wrote: present, private to it, and
/// neither a file's page nor the zero page (which is never exclusively mapped).
fn is_written(entry: u64) -> bool {
    entry & PRESENT != 0 && entry & FILE_OR_SHARED_ANON == 0 && entry & EXCLUSIVE != 0
}

/// The pages of `slot` that process `pid` holds as its own (see the module doc), as
/// page numbers of linear memory. Needs root (or the process's own user).
pub fn written_pages(pid: u32, slot: &Slot) -> Result<Vec<u64>> {
    let path = format!("/proc/{pid}/pagemap");
    let pagemap = File::open(&path).with_context(|| format!("opening {path}"))?;
    let mut entries = vec![0u8; slot.pages() as usize * 8];
    pagemap
        .read_exact_at(&mut entries, slot.base / PAGE * 8)
        .with_context(|| format!("reading {path}"))?;
    Ok(entries
        .chunks_exact(8)
        .enumerate()
        .filter(|(_, e)| is_written(u64::from_le_bytes((*e).try_into().expect("8 bytes"))))
        .map(|(page, _)| page as u64)
        .collect())
}

/// The regions of a linear memory that cost differently when it is reset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Pages below the stack's top (the shadow stack of a stack-first module).
    pub stack_pages: u64,
    /// The memory image's pages (the data and everything a pre-initialised snapshot
    /// holds).
    pub image: Range<u64>,
    /// The memory's size, in pages.
    pub memory_pages: u64,
}

/// Pages counted per region: `stack` below the stack's top, `image` the rest of the
/// memory image, `heap` everything else (the heap above the image).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ByRegion {
    pub stack: u64,
    pub image: u64,
    pub heap: u64,
    pub total: u64,
}

impl ByRegion {
    pub fn count(pages: impl IntoIterator<Item = u64>, layout: &Layout) -> Self {
        let mut out = ByRegion::default();
        for page in pages {
            if page < layout.stack_pages {
                out.stack += 1;
            } else if layout.image.contains(&page) {
                out.image += 1;
            } else {
                out.heap += 1;
            }
            out.total += 1;
        }
        out
    }

    /// Every page of the memory, by region.
    pub fn all(layout: &Layout) -> Self {
        Self::count(0..layout.memory_pages, layout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &str = "\
7bd7d2000000-7bd7d4000000 ---p 00000000 00:00 0 
7bd7d4000000-7bd7d40fa000 rw-p 00000000 00:00 0 
7bd7d40fa000-7bd7d4190000 rw-p 00000000 00:01 199723                     /memfd:wasm-memory-image (deleted)
7bd7d4190000-7bd7d4290000 rw-p 00000000 00:00 0 
7bd7d4290000-7fc7a4000000 ---p 00000000 00:00 0 
7fc7a4000000-7fc7a4010000 r--p 00000000 00:01 199724                     /memfd:wasm-memory-image (deleted)
7fc7a4010000-7fc7a4020000 rw-p 00000000 00:00 0 
";

    #[test]
    fn a_slot_is_the_read_write_run_around_its_image() {
        let slots = slots(MAPS);
        assert_eq!(
            slots[0],
            Slot {
                base: 0x7bd7d4000000,
                end: 0x7bd7d4290000,
                image: 250..400,
            }
        );
        assert_eq!(slots[0].pages(), 656);
        // An image at the start of its slot, followed by the memory's read-write rest.
        assert_eq!(slots[1].base, 0x7fc7a4000000);
        assert_eq!(slots[1].image, 0..16);
        assert_eq!(slots[1].pages(), 32);
        assert_eq!(slots[0].page_of(0x7bd7d4001fff, 1 << 32), Some(1));
        assert_eq!(slots[0].page_of(0x7bd7d3ffffff, 1 << 32), None);
    }

    #[test]
    fn written_pages_are_present_private_and_not_the_zero_page() {
        let anonymous_written = PRESENT | EXCLUSIVE | 0x1234;
        assert!(is_written(anonymous_written));
        assert!(
            !is_written(PRESENT | FILE_OR_SHARED_ANON | 0x1234),
            "image page"
        );
        assert!(!is_written(PRESENT | 0x42), "the zero page");
        assert!(!is_written(0), "not present");
    }

    #[test]
    fn our_own_pages_are_told_from_the_zero_page() {
        let pid = std::process::id();
        let mut written = vec![0u8; 64 * PAGE as usize];
        let base = written.as_ptr() as u64;
        // SAFETY: an anonymous private mapping of our own, read and unmapped here.
        let read_only = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                PAGE as usize,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(read_only, libc::MAP_FAILED);
        let zero = unsafe { std::ptr::read_volatile(read_only as *const u8) };
        written[PAGE as usize * 10] = 1;
        let page = |addr: u64| Slot {
            base: addr / PAGE * PAGE,
            end: addr / PAGE * PAGE + PAGE,
            image: 0..0,
        };
        let mine = written_pages(pid, &page(base + PAGE * 10)).unwrap();
        let only_read = written_pages(pid, &page(read_only as u64)).unwrap();
        unsafe { libc::munmap(read_only, PAGE as usize) };
        assert_eq!(zero, 0);
        assert_eq!(mine, [0]);
        assert!(only_read.is_empty());
    }

    #[test]
    fn regions_split_stack_image_and_heap() {
        let layout = Layout {
            stack_pages: 256,
            image: 250..400,
            memory_pages: 656,
        };
        assert_eq!(
            ByRegion::all(&layout),
            ByRegion {
                stack: 256,
                image: 144,
                heap: 256,
                total: 656
            }
        );
        assert_eq!(
            ByRegion::count([0xfd, 0x17a, 0x190], &layout),
            ByRegion {
                stack: 1,
                image: 1,
                heap: 1,
                total: 3
            }
        );
    }
}
