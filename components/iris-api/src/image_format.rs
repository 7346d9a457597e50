//! The byte format of a model image (see `model_image`, WASIp2 build): pure code,
//! tested natively.
//!
//! An image is `MAGIC`, a checksum of all that follows (u64, FNV-1a), the snapshot's
//! fingerprint (u64), the address of the loaded value (u32), then three lists of
//! memory pieces, each a count (u32) and, per
//! piece, its address (u32), its length (u32) and its bytes: the windows (bytes the
//! plan points to outside the region, to compare), the region's non-zero bytes and
//! the region's state (to copy). Numbers are little-endian.

/// An image's first bytes.
pub const MAGIC: &[u8; 8] = b"SFIMAGE3";

/// A piece of memory: where, and its bytes.
pub type Piece<'a> = (usize, &'a [u8]);

/// An image, read.
#[derive(Debug, PartialEq, Eq)]
pub struct Image<'a> {
    pub snapshot: u64,
    pub root: usize,
    /// Bytes outside the region the plan points into, as the recording instance
    /// had them.
    pub windows: Vec<Piece<'a>>,
    /// The non-zero bytes of the region's used pages.
    pub region: Vec<Piece<'a>>,
    /// The region's state.
    pub state: Piece<'a>,
}

impl<'a> Image<'a> {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&[0; 8]); // the checksum, once the rest is written
        out.extend_from_slice(&self.snapshot.to_le_bytes());
        put_u32(&mut out, self.root);
        for pieces in [&self.windows[..], &self.region[..], &[self.state]] {
            put_u32(&mut out, pieces.len());
            for (start, bytes) in pieces {
                put_u32(&mut out, *start);
                put_u32(&mut out, bytes.len());
                out.extend_from_slice(bytes);
            }
        }
        let checksum = fnv1a(FNV_OFFSET, &out[16..]);
        out[8..16].copy_from_slice(&checksum.to_le_bytes());
        out
    }

    /// `None` unless `bytes` is exactly one well-formed, undamaged image.
    pub fn parse(bytes: &'a [u8]) -> Option<Self> {
        let mut reader = Reader(bytes);
        if reader.take(8)? != MAGIC {
            return None;
        }
        let checksum = u64::from_le_bytes(reader.take(8)?.try_into().ok()?);
        if checksum != fnv1a(FNV_OFFSET, reader.0) {
            return None;
        }
        let snapshot = u64::from_le_bytes(reader.take(8)?.try_into().ok()?);
        let root = reader.u32()?;
        let windows = reader.pieces()?;
        let region = reader.pieces()?;
        let [state] = reader.pieces()?.try_into().ok()?;
        reader.0.is_empty().then_some(Self {
            snapshot,
            root,
            windows,
            region,
            state,
        })
    }
}

fn put_u32(out: &mut Vec<u8>, value: usize) {
    let value = u32::try_from(value).expect("wasm32 addresses and lengths fit in u32");
    out.extend_from_slice(&value.to_le_bytes());
}

/// Reads an image's fields in order.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (taken, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(taken)
    }

    fn u32(&mut self) -> Option<usize> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?) as usize)
    }

    fn pieces(&mut self) -> Option<Vec<Piece<'a>>> {
        let count = self.u32()?;
        // Each piece takes 8 bytes at least: a count cannot ask for more room.
        let mut pieces = Vec::with_capacity(count.min(self.0.len() / 8));
        for _ in 0..count {
            let start = self.u32()?;
            let len = self.u32()?;
            pieces.push((start, self.take(len)?));
        }
        Some(pieces)
    }
}

pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a from `h` over `bytes`, a little-endian word of 8 bytes at a time (and the
/// last bytes one by one): fast enough for megabytes at build time and kilobytes per
/// request.
pub fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        h = (h ^ u64::from_le_bytes(word.try_into().expect("8 bytes"))).wrapping_mul(FNV_PRIME);
    }
    for &byte in words.remainder() {
        h = (h ^ u64::from(byte)).wrapping_mul(FNV_PRIME);
    }
    h
}

/// The `[start, end)` ranges of `bytes` that are not zero, merged where fewer than
/// `gap` zero bytes lie between them.
pub fn nonzero_ranges(bytes: &[u8], gap: usize) -> Vec<(usize, usize)> {
    let gap = gap.max(1);
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    let mut at = 0;
    while let Some(first) = bytes[at..].iter().position(|&b| b != 0).map(|i| at + i) {
        let end = bytes[first..]
            .iter()
            .position(|&b| b == 0)
            .map_or(bytes.len(), |i| first + i);
        match ranges.last_mut() {
            Some(last) if first - last.1 < gap => last.1 = end,
            _ => ranges.push((first, end)),
        }
        at = end;
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Image<'static> {
        Image {
            snapshot: 0x1234_5678_9abc_def0,
            root: 0x29_0010,
            windows: vec![(0x17_0000, &[1, 2, 3]), (0x17_1000, &[])],
            region: vec![(0x29_0000, &[9; 20])],
            state: (0x13_0000, &[7, 7]),
        }
    }

    #[test]
    fn an_image_reads_back_as_written() {
        let bytes = sample().encode();
        assert_eq!(Image::parse(&bytes), Some(sample()));
    }

    #[test]
    fn anything_but_one_whole_image_is_refused() {
        let bytes = sample().encode();
        for cut in 0..bytes.len() {
            assert_eq!(Image::parse(&bytes[..cut]), None, "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(Image::parse(&longer), None);
        for at in [0, 9, 20, bytes.len() - 1] {
            let mut damaged = bytes.clone();
            damaged[at] ^= 1;
            assert_eq!(Image::parse(&damaged), None, "byte {at} changed");
        }
        assert_eq!(Image::parse(b"not imageable"), None);
    }

    #[test]
    fn a_huge_piece_count_is_refused_without_reserving_room_for_it() {
        let mut rest = [0u8; 12].to_vec();
        rest.extend_from_slice(&u32::MAX.to_le_bytes());
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&fnv1a(FNV_OFFSET, &rest).to_le_bytes());
        bytes.extend_from_slice(&rest);
        assert_eq!(Image::parse(&bytes), None);
    }

    #[test]
    fn fnv1a_covers_every_byte() {
        let base = fnv1a(FNV_OFFSET, b"0123456789abc");
        assert_ne!(base, fnv1a(FNV_OFFSET, b"0123456789abd"));
        assert_ne!(base, fnv1a(FNV_OFFSET, b"1123456789abc"));
        assert_ne!(base, fnv1a(FNV_OFFSET, b"0123456789ab"));
    }

    #[test]
    fn nonzero_ranges_skip_long_zero_runs_only() {
        let mut bytes = vec![0u8; 40];
        bytes[2] = 1;
        bytes[3] = 1;
        bytes[6] = 5; // 2 zeros after the first run: merged with gap 4
        bytes[30] = 8; // 23 zeros before: a range of its own
        bytes[39] = 9; // last byte
        assert_eq!(nonzero_ranges(&bytes, 4), [(2, 7), (30, 31), (39, 40)]);
        assert_eq!(nonzero_ranges(&bytes, 64), [(2, 40)]);
        assert_eq!(nonzero_ranges(&[0; 8], 4), []);
        assert_eq!(nonzero_ranges(&[], 4), []);
        assert_eq!(nonzero_ranges(&[3; 5], 4), [(0, 5)]);
    }
}
