//! Content negotiation: which stored representation answers a request's
//! `Accept-Encoding` (RFC 9110 12.5.3).

use crate::assets::Variants;

/// A stored representation of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Brotli,
    Gzip,
    Identity,
}

impl Encoding {
    /// The `Content-Encoding` value, if any.
    pub fn header(self) -> Option<&'static str> {
        match self {
            Encoding::Brotli => Some("br"),
            Encoding::Gzip => Some("gzip"),
            Encoding::Identity => None,
        }
    }

    /// The suffix of the stored variant's file name.
    pub fn file_suffix(self) -> &'static str {
        match self {
            Encoding::Brotli => ".br",
            Encoding::Gzip => ".gz",
            Encoding::Identity => "",
        }
    }

    /// Tells the representations apart in ETags (a strong ETag names one of them).
    pub fn etag_suffix(self) -> &'static str {
        match self {
            Encoding::Brotli => "-br",
            Encoding::Gzip => "-gz",
            Encoding::Identity => "",
        }
    }
}

/// The best of the available representations for `accept_encoding` (all header
/// lines joined by commas; `None` when absent). The highest q-value wins, ties go to
/// the smaller variant (br, then gzip). Identity is the answer whenever nothing
/// better is acceptable, even if the client refused it: the file is still served
/// rather than a 406 nobody's browser would show.
pub fn choose(accept_encoding: Option<&str>, available: Variants) -> Encoding {
    let Some(header) = accept_encoding else {
        return Encoding::Identity;
    };
    let (mut br, mut gzip, mut star) = (None, None, None);
    for item in header.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let q = parts.find_map(q_value).unwrap_or(1000);
        let slot = match name.as_str() {
            "br" => &mut br,
            "gzip" | "x-gzip" => &mut gzip,
            "*" => &mut star,
            _ => continue,
        };
        // A coding named twice keeps its best weight.
        *slot = Some(slot.map_or(q, |old: u16| old.max(q)));
    }
    let weight = |named: Option<u16>| named.or(star).unwrap_or(0);
    let mut best = (0, Encoding::Identity);
    for (present, encoding, q) in [
        (available.br, Encoding::Brotli, weight(br)),
        (available.gz, Encoding::Gzip, weight(gzip)),
    ] {
        if present && q > best.0 {
            best = (q, encoding);
        }
    }
    best.1
}

/// A `q=` parameter in thousandths (`q=0.8` -> 800). A malformed weight counts as 0,
/// so a garbled header can only make us send the plain file.
fn q_value(param: &str) -> Option<u16> {
    let (key, value) = param.split_once('=')?;
    if !key.trim().eq_ignore_ascii_case("q") {
        return None;
    }
    let value = value.trim();
    let (int, frac) = value.split_once('.').unwrap_or((value, ""));
    let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let parsed = match int {
        "0" if frac.len() <= 3 && digits_ok(frac) => {
            format!("{frac:0<3}").parse::<u16>().unwrap_or(0)
        }
        "1" if frac.len() <= 3 && frac.bytes().all(|b| b == b'0') => 1000,
        _ => 0,
    };
    Some(parsed)
}

#[cfg(test)]
mod tests {
    use super::Encoding::*;
    use super::*;

    const BOTH: Variants = Variants { br: true, gz: true };
    const GZ_ONLY: Variants = Variants {
        br: false,
        gz: true,
    };
    const NONE: Variants = Variants {
        br: false,
        gz: false,
    };

    #[test]
    fn brotli_is_preferred_when_both_are_accepted() {
        assert_eq!(choose(Some("gzip, deflate, br, zstd"), BOTH), Brotli);
        assert_eq!(choose(Some("br;q=1.0, gzip;q=1.0"), BOTH), Brotli);
        assert_eq!(choose(Some("*"), BOTH), Brotli);
    }

    #[test]
    fn weights_decide_and_zero_refuses() {
        assert_eq!(choose(Some("br;q=0.5, gzip;q=0.8"), BOTH), Gzip);
        assert_eq!(choose(Some("br;q=0, gzip"), BOTH), Gzip);
        assert_eq!(choose(Some("*;q=0.1, br;q=0"), BOTH), Gzip);
        assert_eq!(choose(Some("br;q=0, gzip;q=0.000"), BOTH), Identity);
        assert_eq!(choose(Some("BR ; Q=0.9"), BOTH), Brotli);
        assert_eq!(choose(Some("br;q=0, br;q=0.7"), BOTH), Brotli);
    }

    #[test]
    fn only_stored_variants_are_chosen() {
        assert_eq!(choose(Some("br, gzip"), GZ_ONLY), Gzip);
        assert_eq!(choose(Some("br"), GZ_ONLY), Identity);
        assert_eq!(choose(Some("br, gzip"), NONE), Identity);
    }

    #[test]
    fn absent_empty_or_unknown_means_identity() {
        assert_eq!(choose(None, BOTH), Identity);
        assert_eq!(choose(Some(""), BOTH), Identity);
        assert_eq!(choose(Some("identity"), BOTH), Identity);
        assert_eq!(choose(Some("deflate, zstd"), BOTH), Identity);
        assert_eq!(choose(Some("x-gzip"), BOTH), Gzip);
    }

    #[test]
    fn malformed_weights_count_as_refusals() {
        for header in [
            "br;q=2",
            "br;q=0.5.1",
            "br;q=abc",
            "br;q=-1",
            "br;q=0.1234",
            "br;q=",
        ] {
            assert_eq!(choose(Some(header), BOTH), Identity, "{header}");
        }
        assert_eq!(q_value("q=0.25"), Some(250));
        assert_eq!(q_value("q=1"), Some(1000));
        assert_eq!(q_value("q=1.000"), Some(1000));
        assert_eq!(q_value("level=1"), None);
    }
}
