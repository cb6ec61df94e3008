//! Renders the template strings of a scenario with minijinja: captures,
//! organisation keys, the sink URL and reproducible `uuid()` / `unique(prefix)`.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};

use minijinja::{Environment, UndefinedBehavior};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use serde_json::Value;

/// Why a template could not be rendered.
#[derive(Debug, thiserror::Error)]
#[error("template {template:?} failed: {detail}")]
pub struct TemplateError {
    pub template: String,
    pub detail: String,
}

/// Checks that `text` parses as a template, without rendering it.
pub fn check_syntax(text: &str) -> Result<(), String> {
    let environment = Environment::new();
    environment
        .template_from_str(text)
        .map(|_| ())
        .map_err(|error| error.to_string())
}

/// The template scope of one scenario run, and the generators behind its functions.
///
/// `uuid()` and `unique(prefix)` draw from a generator seeded by the run seed
/// and the scenario id, so the same seed gives the same values for a scenario
/// whatever order the scenarios run in.
pub struct Templates {
    environment: Environment<'static>,
    variables: BTreeMap<String, Value>,
}

impl Templates {
    /// A scope for the scenario `scenario_id` of a run with seed `seed`.
    pub fn new(seed: u64, scenario_id: &str) -> Templates {
        let mut hasher = DefaultHasher::new();
        (seed, scenario_id).hash(&mut hasher);
        let scenario_seed = hasher.finish();
        let random = Arc::new(Mutex::new(StdRng::seed_from_u64(scenario_seed)));
        let counter = Arc::new(Mutex::new(0u64));

        let mut environment = Environment::new();
        environment.set_undefined_behavior(UndefinedBehavior::Strict);
        let uuid_random = random.clone();
        environment.add_function("uuid", move || {
            let mut bytes = [0u8; 16];
            uuid_random
                .lock()
                .expect("uuid generator lock")
                .fill_bytes(&mut bytes);
            uuid::Builder::from_random_bytes(bytes)
                .into_uuid()
                .to_string()
        });
        environment.add_function("unique", move |prefix: Option<String>| {
            let mut counter = counter.lock().expect("unique counter lock");
            *counter += 1;
            let prefix = prefix.unwrap_or_else(|| "u".to_string());
            format!(
                "{prefix}-{:012x}-{}",
                scenario_seed & 0xffff_ffff_ffff,
                *counter
            )
        });
        Templates {
            environment,
            variables: BTreeMap::new(),
        }
    }

    /// Binds `name` for every later rendering; a capture replaces an older one.
    pub fn set(&mut self, name: &str, value: Value) {
        self.variables.insert(name.to_string(), value);
    }

    /// The value bound to `name`, if any.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.variables.get(name)
    }

    /// Renders a string template to a string.
    pub fn render_string(&self, text: &str) -> Result<String, TemplateError> {
        if !text.contains("{{") && !text.contains("{%") {
            return Ok(text.to_string());
        }
        self.environment
            .render_str(text, &self.variables)
            .map_err(|error| TemplateError {
                template: text.to_string(),
                detail: error.to_string(),
            })
    }

    /// Renders a string template to a JSON value: a string that is exactly one
    /// `{{ expression }}` keeps the expression's JSON type.
    pub fn render_text_value(&self, text: &str) -> Result<Value, TemplateError> {
        let Some(expression) = single_expression(text) else {
            return self.render_string(text).map(Value::String);
        };
        let fail = |detail: String| TemplateError {
            template: text.to_string(),
            detail,
        };
        let compiled = self
            .environment
            .compile_expression(expression)
            .map_err(|error| fail(error.to_string()))?;
        let value = compiled
            .eval(&self.variables)
            .map_err(|error| fail(error.to_string()))?;
        if value.is_undefined() {
            return Err(fail(format!("{expression:?} is undefined")));
        }
        serde_json::to_value(&value).map_err(|error| fail(error.to_string()))
    }

    /// Renders every string inside a JSON value, keys included.
    pub fn render_value(&self, value: &Value) -> Result<Value, TemplateError> {
        Ok(match value {
            Value::String(text) => self.render_text_value(text)?,
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| self.render_value(item))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => {
                let mut rendered = serde_json::Map::new();
                for (key, item) in map {
                    rendered.insert(self.render_string(key)?, self.render_value(item)?);
                }
                Value::Object(rendered)
            }
            other => other.clone(),
        })
    }
}

/// The inner expression when `text` is exactly one `{{ ... }}` and nothing else.
fn single_expression(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}")).then_some(inner.trim())
}
