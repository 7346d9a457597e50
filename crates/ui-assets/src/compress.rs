//! Pre-compressed variants, made once at build time at the highest settings (the
//! component only picks one per request): brotli quality 11 and gzip level 9.
//! Both outputs are deterministic (gzip without a timestamp), so the site, and the
//! OCI image that carries it, are the same bytes on every build of the same wheel.

use std::io::Write;

/// Files smaller than this go out in one packet anyway.
const MIN_SIZE: usize = 256;

/// Extensions of text-like formats that compress well (images and fonts such as
/// png and woff2 are compressed already).
const COMPRESSIBLE: &[&str] = &[
    "html",
    "htm",
    "js",
    "mjs",
    "cjs",
    "css",
    "json",
    "map",
    "webmanifest",
    "txt",
    "md",
    "xml",
    "svg",
    "ico",
    "ttf",
    "otf",
    "eot",
    "wasm",
];

pub struct Variants {
    pub br: Option<Vec<u8>>,
    pub gz: Option<Vec<u8>>,
}

/// The variants worth storing for `path`: each only if it saves at least a tenth.
pub fn variants(path: &str, data: &[u8]) -> Variants {
    if data.len() < MIN_SIZE || !is_compressible(path) {
        return Variants { br: None, gz: None };
    }
    let worth = |v: Option<Vec<u8>>| v.filter(|v| v.len() * 10 <= data.len() * 9);
    Variants {
        br: worth(brotli(data)),
        gz: worth(gzip(data)),
    }
}

fn is_compressible(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.rsplit_once('.')
        .is_some_and(|(_, ext)| COMPRESSIBLE.iter().any(|c| c.eq_ignore_ascii_case(ext)))
}

pub fn gzip(data: &[u8]) -> Option<Vec<u8>> {
    // GzEncoder's header carries no name and mtime 0.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data).ok()?;
    enc.finish().ok()
}

pub fn brotli(data: &[u8]) -> Option<Vec<u8>> {
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 22,
        size_hint: data.len(),
        ..Default::default()
    };
    let mut out = Vec::new();
    brotli::BrotliCompress(&mut &data[..], &mut out, &params).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn text(n: usize) -> Vec<u8> {
        "function f(){return 42}\n".repeat(n / 24 + 1).into_bytes()
    }

    #[test]
    fn text_gets_both_variants_that_decode_back() {
        let data = text(10_000);
        let v = variants("static/js/main.1234abcd.js", &data);
        let (br, gz) = (v.br.unwrap(), v.gz.unwrap());
        let mut back = Vec::new();
        brotli::Decompressor::new(&br[..], 4096)
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
        back.clear();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn output_is_deterministic() {
        let data = text(5_000);
        assert_eq!(gzip(&data), gzip(&data));
        assert_eq!(brotli(&data), brotli(&data));
    }

    #[test]
    fn small_binary_or_incompressible_files_get_none() {
        let v = variants("index.html", &text(1000)[..200]);
        assert!(v.br.is_none() && v.gz.is_none());
        let v = variants("static/media/logo.png", &text(10_000));
        assert!(v.br.is_none() && v.gz.is_none());
        // Pseudo-random bytes do not shrink by a tenth.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let noise: Vec<u8> = (0..10_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let v = variants("noise.js", &noise);
        assert!(v.br.is_none() && v.gz.is_none());
    }
}
