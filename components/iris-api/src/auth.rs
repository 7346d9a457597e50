//! API keys: `X-API-Key: <key>` or `Authorization: Bearer <key>`. The configured keys
//! are kept as SHA-256 digests (they are stored with the settings, see
//! [`crate::config`]); a presented key's digest is compared with each in constant time.

use crate::error::ApiError;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The digest a key is kept as: SHA-256, in hex.
pub fn digest(key: &str) -> String {
    crate::model::hex(&Sha256::digest(key.as_bytes()))
}

/// The key a request presents, if any (`X-API-Key` wins over `Authorization`).
pub fn presented_key<'a>(
    x_api_key: Option<&'a str>,
    authorization: Option<&'a str>,
) -> Option<&'a str> {
    if let Some(key) = x_api_key.map(str::trim).filter(|k| !k.is_empty()) {
        return Some(key);
    }
    let auth = authorization?.trim();
    let (scheme, token) = auth.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Checks `presented` against the digest of every configured key without stopping at
/// the first match, so the time taken does not tell which key matched.
pub fn check(digests: &[String], presented: Option<&str>) -> Result<(), ApiError> {
    if digests.is_empty() {
        return Ok(());
    }
    let Some(presented) = presented else {
        return Err(ApiError::unauthorized(
            "missing API key: send it in the X-API-Key header or as Authorization: Bearer <key>",
        ));
    };
    let presented = digest(presented);
    let matched = digests.iter().fold(subtle::Choice::from(0), |acc, key| {
        acc | key.as_bytes().ct_eq(presented.as_bytes())
    });
    if bool::from(matched) {
        Ok(())
    } else {
        Err(ApiError::unauthorized("invalid API key"))
    }
}

/// The `WWW-Authenticate` challenge sent with every 401.
pub const CHALLENGE: &str = r#"Bearer realm="iris-api", ApiKey header="X-API-Key""#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_header_forms_are_read() {
        assert_eq!(presented_key(Some("k1"), None), Some("k1"));
        assert_eq!(presented_key(None, Some("Bearer k2")), Some("k2"));
        assert_eq!(presented_key(None, Some("bearer  k2 ")), Some("k2"));
        assert_eq!(presented_key(None, Some("Basic abc")), None);
        assert_eq!(presented_key(Some(" "), Some("Bearer k3")), Some("k3"));
        assert_eq!(presented_key(None, None), None);
    }

    #[test]
    fn only_configured_keys_pass() {
        let keys = vec![digest("alpha"), digest("beta")];
        assert!(check(&keys, Some("beta")).is_ok());
        assert_eq!(check(&keys, Some("bet")).unwrap_err().status, 401);
        assert_eq!(
            check(&keys, Some("betaa")).unwrap_err().message,
            "invalid API key"
        );
        assert!(check(&keys, None).unwrap_err().message.contains("missing"));
        assert!(check(&[], None).is_ok(), "no keys configured = auth off");
    }
}
