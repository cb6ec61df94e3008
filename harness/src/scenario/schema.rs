//! JSON Schema checks against `components.schemas` of docs/openapi.json, each
//! schema compiled once with its `$ref`s resolved inside the document.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use serde_json::{Value, json};

/// The schemas of one OpenAPI document, compiled on first use.
pub struct Schemas {
    components: Option<Value>,
    compiled: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

impl Schemas {
    /// Reads an OpenAPI document; only its `components` are used.
    pub fn load(openapi_json: &Path) -> anyhow::Result<Schemas> {
        let text = std::fs::read_to_string(openapi_json).with_context(|| {
            format!(
                "reading the OpenAPI document {:?}",
                openapi_json.display().to_string()
            )
        })?;
        let document: Value = serde_json::from_str(&text).with_context(|| {
            format!(
                "parsing the OpenAPI document {:?}",
                openapi_json.display().to_string()
            )
        })?;
        Ok(Schemas::from_document(document))
    }

    /// Uses an OpenAPI document already in memory.
    pub fn from_document(document: Value) -> Schemas {
        Schemas {
            components: document.get("components").cloned(),
            compiled: Mutex::default(),
        }
    }

    /// No document: every schema expectation reports that none was loaded.
    pub fn none() -> Schemas {
        Schemas {
            components: None,
            compiled: Mutex::default(),
        }
    }

    /// The compiled validator of `components.schemas.NAME`.
    ///
    /// The schema is wrapped in a root that carries the document's `components`,
    /// so OpenAPI references such as `#/components/schemas/Event` resolve.
    pub fn validator(&self, name: &str) -> Result<Arc<jsonschema::Validator>, String> {
        if let Some(validator) = self.compiled.lock().expect("schema cache lock").get(name) {
            return Ok(validator.clone());
        }
        let Some(components) = &self.components else {
            return Err(format!(
                "schema {name:?} is expected but no OpenAPI document with components was loaded"
            ));
        };
        if components.pointer(&format!("/schemas/{name}")).is_none() {
            return Err(format!(
                "schema {name:?} is not in components.schemas of the OpenAPI document; use one of its names"
            ));
        }
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": components,
            "$ref": format!("#/components/schemas/{name}"),
        });
        let validator = jsonschema::validator_for(&root)
            .map_err(|error| format!("schema {name:?} does not compile: {error}"))?;
        let validator = Arc::new(validator);
        let mut compiled = self.compiled.lock().expect("schema cache lock");
        compiled.insert(name.to_string(), validator.clone());
        Ok(validator)
    }

    /// The first few reasons `instance` does not match schema `name`; empty when it does.
    pub fn violations(&self, name: &str, instance: &Value) -> Result<Vec<String>, String> {
        let validator = self.validator(name)?;
        Ok(validator
            .iter_errors(instance)
            .take(5)
            .map(|error| format!("{}: {error}", error.instance_path()))
            .collect())
    }
}
