//! API keys: how they are made, how they are stored (SHA-256 hex only), and
//! the extractor that turns an `X-API-Key` header into the caller's
//! organisation before any body is read (AUTH-3).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::error::ApiError;
use crate::store::Organization;

/// The header that carries the key.
pub const API_KEY_HEADER: &str = "x-api-key";

/// The prefix that lets secret scanners recognise a leaked key (AUTH-5).
pub const API_KEY_PREFIX: &str = "trg_";

/// Makes a new key: the prefix and 256 random bits in base64url.
pub fn generate_key() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{API_KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The stored form of a key. A fast hash suffices because keys carry 256
/// random bits, so there is nothing to guess that a slow hash would protect.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The organisation that the request's key belongs to. Handlers that take
/// it as their first extractor refuse a bad key before reading the body.
#[derive(Debug, Clone)]
pub struct Org(pub Organization);

impl FromRequestParts<AppState> for Org {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = match parts.headers.get(API_KEY_HEADER) {
            None => return Err(ApiError::MissingApiKey),
            Some(value) if value.is_empty() => return Err(ApiError::MissingApiKey),
            Some(value) => value.to_str().map_err(|_| ApiError::InvalidApiKey)?,
        };

        let hash = hash_key(key);
        let organization = state
            .store
            .organization_by_key_hash(&hash)
            .await?
            .ok_or(ApiError::InvalidApiKey)?;

        // The lookup already matched the hash; comparing again in constant
        // time keeps the decision itself free of timing differences.
        let matches: bool = organization
            .api_key_hash
            .as_bytes()
            .ct_eq(hash.as_bytes())
            .into();
        if !matches {
            return Err(ApiError::InvalidApiKey);
        }
        Ok(Org(organization))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_prefixed_unique_and_carry_256_bits() {
        let first = generate_key();
        let second = generate_key();
        assert_ne!(first, second);
        assert!(first.starts_with(API_KEY_PREFIX));

        let encoded = first.strip_prefix(API_KEY_PREFIX).unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(encoded).unwrap().len(), 32);
    }

    #[test]
    fn hash_is_lowercase_sha256_hex() {
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
