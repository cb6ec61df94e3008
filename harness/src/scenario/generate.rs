//! Generated request bodies of exact sizes and depths, for limits such as the
//! 262,144-byte payload cap and the 128-level nesting cap.

use super::model::Generate;

/// The bytes of a generated body; every kind is sent as `application/json`.
pub(crate) fn generate_body(generate: Generate) -> Vec<u8> {
    match generate {
        Generate::Event { bytes } => {
            let empty = r#"{"type":"generated.event","payload":{"fill":""}}"#;
            let fill = "x".repeat(bytes.saturating_sub(empty.len()));
            format!(r#"{{"type":"generated.event","payload":{{"fill":"{fill}"}}}}"#).into_bytes()
        }
        Generate::Nested { depth } => {
            // The payload object itself is the first level, so `depth - 1` more open inside it.
            let inner = depth.saturating_sub(1);
            let payload = format!("{}{{}}{}", r#"{"a":"#.repeat(inner), "}".repeat(inner));
            format!(r#"{{"type":"generated.nested","payload":{payload}}}"#).into_bytes()
        }
        Generate::Filler { bytes } => vec![b'x'; bytes],
    }
}
