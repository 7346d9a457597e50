//! Opaque page tokens: base64 of `{"offset": N}`. Clients only echo them back; a token
//! we did not issue is an INVALID_PARAMETER_VALUE.

use crate::error::{ApiResult, MlflowError};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

pub fn encode(offset: i64) -> String {
    STANDARD.encode(format!("{{\"offset\": {offset}}}"))
}

/// The offset a token stands for; no token (or an empty one) is offset 0.
pub fn decode(token: Option<&str>) -> ApiResult<i64> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(0);
    };
    let bad = || {
        MlflowError::invalid(format!(
            "Invalid page token, could not base64-decode: {token:?}"
        ))
    };
    let bytes = STANDARD.decode(token).map_err(|_| bad())?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    match v.get("offset").and_then(|o| o.as_i64()) {
        Some(n) if n >= 0 => Ok(n),
        _ => Err(MlflowError::invalid(format!(
            "Invalid page token, offset missing or negative: {token:?}"
        ))),
    }
}

/// The token for the page after `offset + page_len`, when more rows exist.
pub fn next(offset: i64, page_len: usize, has_more: bool) -> Option<String> {
    has_more.then(|| encode(offset + page_len as i64))
}

/// Turns rows fetched with `LIMIT limit + 1 OFFSET offset` into one page and the
/// token for the next: the extra row only says that more exist.
pub fn page<R, T>(
    rows: &[R],
    limit: i64,
    offset: i64,
    convert: impl FnMut(&R) -> ApiResult<T>,
) -> ApiResult<(Vec<T>, Option<String>)> {
    let has_more = rows.len() as i64 > limit;
    let page = rows
        .iter()
        .take(limit as usize)
        .map(convert)
        .collect::<ApiResult<Vec<_>>>()?;
    let next = next(offset, page.len(), has_more);
    Ok((page, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        assert_eq!(decode(Some(&encode(40))).unwrap(), 40);
        assert_eq!(decode(None).unwrap(), 0);
        assert_eq!(decode(Some("")).unwrap(), 0);
        assert!(decode(Some("!!!")).is_err());
        assert!(decode(Some(&STANDARD.encode("{\"offset\": -1}"))).is_err());
        assert!(decode(Some(&STANDARD.encode("[]"))).is_err());
    }
}
