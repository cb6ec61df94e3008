//! Reading and checking JSON request bodies: media type, size limit, JSON
//! syntax and the typed fields, each with the error that says what to fix.

use std::collections::BTreeMap;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use futures::StreamExt;
use serde_json::value::RawValue;

use crate::error::ApiError;

/// The largest request body accepted, in bytes (ING-7).
pub const MAX_BODY_BYTES: usize = 262_144;

/// A JSON object's members, each kept as the exact text the client sent.
pub type JsonObject = BTreeMap<String, Box<RawValue>>;

/// Whether the request declares a JSON body; parameters such as `charset`
/// are allowed after the media type (ING-3).
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return false;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let media_type = value.split(';').next().unwrap_or_default().trim();
    media_type.eq_ignore_ascii_case("application/json")
}

/// Reads the body of a JSON request, refusing another media type and any
/// body over [`MAX_BODY_BYTES`] before a byte of it is parsed.
pub async fn read(headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    if !is_json(headers) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let too_large = ApiError::PayloadTooLarge {
        limit: MAX_BODY_BYTES,
    };

    // A declared length settles it without reading; a chunked body is
    // counted as it arrives and dropped as soon as it passes the limit.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Err(too_large);
    }

    let mut collected = Vec::with_capacity(declared.unwrap_or(0) as usize);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|error| {
            ApiError::InvalidJson(format!("the body could not be read: {error}"))
        })?;
        if collected.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large);
        }
        collected.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(collected))
}

/// The deepest nesting of arrays and objects accepted, counting the body
/// itself as level 1 (ING-4).
pub const MAX_NESTING: usize = 128;

/// Parses a body that must be a JSON object. Invalid JSON, including
/// nesting deeper than [`MAX_NESTING`], is a 400; valid JSON of another
/// kind is a 422 on the field `body` (ING-4, ING-5).
pub fn parse_object(bytes: &[u8]) -> Result<JsonObject, ApiError> {
    // Raw values skip their content without serde_json's recursion limit,
    // so the depth is measured here before parsing.
    if nesting_depth(bytes) > MAX_NESTING {
        return Err(ApiError::InvalidJson(format!(
            "arrays and objects nest deeper than {MAX_NESTING} levels"
        )));
    }
    let raw: Box<RawValue> =
        serde_json::from_slice(bytes).map_err(|error| ApiError::InvalidJson(error.to_string()))?;
    if !raw.get().starts_with('{') {
        return Err(ApiError::validation(
            "body",
            "the request body must be a JSON object",
        ));
    }
    serde_json::from_str(raw.get()).map_err(|error| ApiError::InvalidJson(error.to_string()))
}

/// The deepest nesting of `[` and `{` outside strings. Invalid JSON may
/// give any figure; the parser rejects it afterwards.
fn nesting_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &byte in bytes {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// What a text field may hold.
#[derive(Debug, Clone, Copy)]
pub struct TextRule {
    pub field: &'static str,
    /// The most characters (not bytes) allowed; at least one is required.
    pub max_chars: usize,
}

impl TextRule {
    /// Reads the field, which must be present and a valid string.
    pub fn required(self, object: &JsonObject) -> Result<String, ApiError> {
        match self.optional(object)? {
            Some(text) => Ok(text),
            None => Err(ApiError::validation(
                self.field,
                format!("field '{}' is required", self.field),
            )),
        }
    }

    /// Reads the field; absent and `null` both mean no value.
    pub fn optional(self, object: &JsonObject) -> Result<Option<String>, ApiError> {
        let Some(raw) = object.get(self.field) else {
            return Ok(None);
        };
        if raw.get() == "null" {
            return Ok(None);
        }
        let text: String = serde_json::from_str(raw.get()).map_err(|_| {
            ApiError::validation(
                self.field,
                format!("field '{}' must be a string", self.field),
            )
        })?;
        self.check(&text)?;
        Ok(Some(text))
    }

    fn check(self, text: &str) -> Result<(), ApiError> {
        let length = text.chars().count();
        if length == 0 || length > self.max_chars {
            return Err(ApiError::validation(
                self.field,
                format!(
                    "field '{}' must hold 1 to {} characters, not {length}",
                    self.field, self.max_chars
                ),
            ));
        }
        if text.chars().any(char::is_control) {
            return Err(ApiError::validation(
                self.field,
                format!("field '{}' must not contain control characters", self.field),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> String {
        format!("{}{}", "[".repeat(depth), "]".repeat(depth))
    }

    #[test]
    fn brackets_inside_strings_do_not_nest() {
        assert_eq!(nesting_depth(br#"{"a":"[[{\"]]","b":[{}]}"#), 3);
    }

    #[test]
    fn nesting_past_128_levels_is_invalid_json() {
        let at_limit = format!(r#"{{"payload":{}}}"#, nested(127));
        assert!(parse_object(at_limit.as_bytes()).is_ok());

        let past_limit = format!(r#"{{"payload":{}}}"#, nested(128));
        let error = parse_object(past_limit.as_bytes()).unwrap_err();
        assert_eq!(error.code(), "invalid_json");
    }

    #[test]
    fn text_rule_counts_characters_not_bytes() {
        let rule = TextRule {
            field: "type",
            max_chars: 3,
        };
        let object = parse_object(r#"{"type":"éé€"}"#.as_bytes()).unwrap();
        assert_eq!(rule.required(&object).unwrap(), "éé€");

        let object = parse_object(r#"{"type":"abcd"}"#.as_bytes()).unwrap();
        assert_eq!(
            rule.required(&object).unwrap_err().code(),
            "validation_failed"
        );
    }
}
