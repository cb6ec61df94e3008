//! Standard Webhooks signatures: HMAC-SHA256 over `{id}.{timestamp}.{body}`,
//! keyed with the base64 part of a `whsec_` secret, sent as `v1,{base64}`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Why a delivery's signature did not verify.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("secret does not start with \"whsec_\" followed by base64")]
    MalformedSecret,
    #[error("header {0:?} is missing")]
    MissingHeader(&'static str),
    #[error("no \"v1,\" signature in {0:?} matches the body")]
    Mismatch(String),
}

fn key_of(secret: &str) -> Result<Vec<u8>, SignatureError> {
    let encoded = secret
        .strip_prefix("whsec_")
        .ok_or(SignatureError::MalformedSecret)?;
    STANDARD
        .decode(encoded)
        .map_err(|_| SignatureError::MalformedSecret)
}

fn mac_of(key: &[u8], id: &str, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `webhook-signature` value a sender with `secret` puts on this delivery.
pub fn sign(
    secret: &str,
    id: &str,
    timestamp: &str,
    body: &[u8],
) -> Result<String, SignatureError> {
    let key = key_of(secret)?;
    let digest = mac_of(&key, id, timestamp, body).finalize().into_bytes();
    Ok(format!("v1,{}", STANDARD.encode(digest)))
}

/// Verifies a delivery: one of the space-separated `v1,` signatures of
/// `signature_header` must match, compared in constant time.
pub fn verify(
    secret: &str,
    id: Option<&str>,
    timestamp: Option<&str>,
    signature_header: Option<&str>,
    body: &[u8],
) -> Result<(), SignatureError> {
    let key = key_of(secret)?;
    let id = id.ok_or(SignatureError::MissingHeader("webhook-id"))?;
    let timestamp = timestamp.ok_or(SignatureError::MissingHeader("webhook-timestamp"))?;
    let header = signature_header.ok_or(SignatureError::MissingHeader("webhook-signature"))?;

    for candidate in header.split_whitespace() {
        let Some(encoded) = candidate.strip_prefix("v1,") else {
            continue;
        };
        let Ok(signature) = STANDARD.decode(encoded) else {
            continue;
        };
        if mac_of(&key, id, timestamp, body)
            .verify_slice(&signature)
            .is_ok()
        {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch(header.to_string()))
}
