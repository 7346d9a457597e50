//! How the report writes a figure: a value with a precision that suits its size,
//! counts as whole numbers, and a median with its range over the repetitions. The
//! report and its sections share these.

use crate::results::Figure;

/// `value` with a precision that suits its size.
pub fn fmt(v: f64) -> String {
    if v.is_nan() {
        "-".into()
    } else if v >= 1000.0 {
        format!("{v:.0}")
    } else if v >= 100.0 {
        format!("{v:.1}")
    } else if v >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// `value` as [`fmt`] shows it, or as a whole number for counts.
pub fn fmt_unit(v: f64, unit: &str) -> String {
    if unit == "count" && v.is_finite() {
        format!("{v:.0}")
    } else {
        fmt(v)
    }
}

/// Median with its spread over the repetitions: `123 (118–130)`.
pub fn cell(f: &Figure) -> String {
    let show = |v: f64| fmt_unit(v, &f.unit);
    if f.values.len() > 1 {
        format!("{} ({}–{})", show(f.median()), show(f.min()), show(f.max()))
    } else {
        show(f.median())
    }
}
