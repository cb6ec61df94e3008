//! The OpenAPI document on its own: reading it, following its references,
//! validating values against its schemas, and checking that it is well formed.

use std::collections::BTreeSet;

use serde_json::{Value, json};

/// The document under test, read from the repository rather than the server.
const DOCUMENT: &str = include_str!("../../../docs/openapi.json");

/// The contract whose rule ids the document cites.
const SPEC: &str = include_str!("../../../docs/SPEC.md");

/// Component schemas that the conformance scenarios name in `expect.schema`.
const SCENARIO_SCHEMAS: [&str; 13] = [
    "Error",
    "KeyGenerateRequest",
    "KeyCreated",
    "KeyInfo",
    "KeyRotated",
    "WebhookConfigRequest",
    "WebhookConfig",
    "EventCreateRequest",
    "EventAccepted",
    "Event",
    "InboxPage",
    "AckResult",
    "Health",
];

/// The parsed document.
pub fn document() -> Value {
    serde_json::from_str(DOCUMENT).expect("docs/openapi.json is valid JSON")
}

/// The path and lowercase method of the operation with `operation_id`.
pub fn find_operation<'d>(document: &'d Value, operation_id: &str) -> Option<(&'d str, &'d str)> {
    let paths = document["paths"].as_object()?;
    paths.iter().find_map(|(path, item)| {
        let operations = item.as_object()?;
        operations
            .iter()
            .find(|(_, operation)| operation["operationId"] == operation_id)
            .map(|(method, _)| (path.as_str(), method.as_str()))
    })
}

/// Every (operationId, status) pair the document names under `paths`.
pub fn documented_statuses(document: &Value) -> BTreeSet<(String, String)> {
    let mut statuses = BTreeSet::new();
    for item in document["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            let id = operation["operationId"].as_str().unwrap();
            for status in operation["responses"].as_object().unwrap().keys() {
                statuses.insert((id.to_owned(), status.clone()));
            }
        }
    }
    statuses
}

/// The response object documented for `status`, falling back to its range
/// (`4XX`) and to `default` as OpenAPI does.
pub fn documented_response<'d>(
    document: &'d Value,
    operation: &'d Value,
    status: u16,
) -> Option<&'d Value> {
    let responses = &operation["responses"];
    let range = format!("{}XX", status / 100);
    [status.to_string(), range, "default".to_owned()]
        .iter()
        .find_map(|key| responses.get(key))
        .map(|response| resolve(document, response))
}

/// Follows `$ref` until the value is not a reference.
pub fn resolve<'d>(document: &'d Value, mut value: &'d Value) -> &'d Value {
    while let Some(reference) = value["$ref"].as_str() {
        value = lookup(document, reference).unwrap_or_else(|| panic!("unresolved {reference}"));
    }
    value
}

fn lookup<'d>(document: &'d Value, reference: &str) -> Option<&'d Value> {
    document.pointer(reference.strip_prefix('#')?)
}

fn collect_references(value: &Value, references: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                references.push(reference.clone());
            }
            map.values()
                .for_each(|child| collect_references(child, references));
        }
        Value::Array(items) => items
            .iter()
            .for_each(|child| collect_references(child, references)),
        _ => {}
    }
}

/// Compiles `schema` with the document's components in scope, so that
/// `#/components/schemas/...` references resolve as they do in the document.
pub fn compile(document: &Value, schema: &Value) -> Result<jsonschema::Validator, String> {
    let wrapper = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "allOf": [schema],
        "components": document["components"],
    });
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&wrapper)
        .map_err(|error| error.to_string())
}

pub fn validate(document: &Value, schema: &Value, instance: &Value) -> Result<(), String> {
    let validator = compile(document, schema)?;
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|error| format!("at {:?}: {error}", error.instance_path().as_str()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!("does not match the schema: {}", errors.join("; ")))
    }
}

/// Rule ids such as `ING-12` in `text`.
fn rule_ids(text: &str) -> BTreeSet<String> {
    const SECTIONS: [&str; 12] = [
        "GEN", "AUTH", "KEY", "RATE", "ING", "INBOX", "ACK", "HOOK", "DLV", "OPS", "DUR", "TEN",
    ];
    let mut ids = BTreeSet::new();
    for section in SECTIONS {
        let prefix = format!("{section}-");
        for (start, _) in text.match_indices(&prefix) {
            let before = text[..start].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric()) {
                continue;
            }
            let digits: String = text[start + prefix.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if !digits.is_empty() {
                ids.insert(format!("{prefix}{digits}"));
            }
        }
    }
    ids
}

#[test]
fn every_reference_resolves() {
    let document = document();
    let mut references = Vec::new();
    collect_references(&document, &mut references);

    assert!(
        references.len() > 50,
        "too few $ref found: {}",
        references.len()
    );
    let unresolved: Vec<&String> = references
        .iter()
        .filter(|reference| lookup(&document, reference).is_none())
        .collect();
    assert!(unresolved.is_empty(), "unresolved $ref: {unresolved:?}");
}

#[test]
fn every_component_schema_compiles() {
    let document = document();
    let schemas = document["components"]["schemas"]
        .as_object()
        .expect("components.schemas is an object");

    for name in SCENARIO_SCHEMAS {
        assert!(schemas.contains_key(name), "schema {name:?} is missing");
    }
    for name in schemas.keys() {
        let reference = json!({ "$ref": format!("#/components/schemas/{name}") });
        if let Err(error) = compile(&document, &reference) {
            panic!("schema {name:?} does not compile: {error}");
        }
    }
}

#[test]
fn every_cited_rule_exists_in_the_spec() {
    let rule = rule_ids(DOCUMENT);
    let known = rule_ids(SPEC);

    assert!(
        rule.len() > 40,
        "the document cites too few rules: {rule:?}"
    );
    let unknown: Vec<&String> = rule.difference(&known).collect();
    assert!(
        unknown.is_empty(),
        "rules cited but not in SPEC.md: {unknown:?}"
    );
}

#[test]
fn schemas_reject_what_the_spec_rejects() {
    let document = document();
    let checks = [
        ("Event", json!({"id": "e"}), false),
        ("EventAccepted", accepted_example("received"), false),
        ("EventAccepted", accepted_example("accepted"), true),
        ("KeyCreated", key_created_example("pro", 1000), true),
        ("KeyCreated", key_created_example("pro", 100), false),
        ("KeyInfo", json!({"api_key": "trg_x"}), false),
        ("Error", json!({"error": "no", "code": "teapot"}), false),
        (
            "Error",
            json!({"error": "no", "code": "not_found", "hint": 1}),
            true,
        ),
        (
            "WebhookConfigRequest",
            json!({"webhook_url": "ftp://example.com"}),
            false,
        ),
        ("WebhookConfig", webhook_example("whsec_c2hvcnQ="), false),
        ("Health", json!({"status": "healthy"}), false),
    ];

    for (name, instance, valid) in checks {
        let reference = json!({ "$ref": format!("#/components/schemas/{name}") });
        let validator = compile(&document, &reference).expect("schema compiles");
        assert_eq!(validator.is_valid(&instance), valid, "{name} on {instance}");
    }
}

fn accepted_example(status: &str) -> Value {
    json!({
        "id": "e1",
        "status": status,
        "type": "t",
        "dedup_id": null,
        "created_at": "2026-12-03T19:25:08.123Z",
    })
}

fn key_created_example(tier: &str, limit: u32) -> Value {
    json!({
        "api_key": "trg_x",
        "organization_id": "o1",
        "organization_name": "acme",
        "tier": tier,
        "rate_limit_per_minute": limit,
        "created_at": "2026-12-03T19:25:08Z",
    })
}

fn webhook_example(secret: &str) -> Value {
    json!({"webhook_url": "https://example.com/hook", "webhook_secret": secret})
}
