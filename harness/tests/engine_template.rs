//! Template rendering: captures keep their JSON type, organisations and the
//! sink are in scope, and generated values are reproducible from the seed.

use harness::scenario::template::Templates;
use serde_json::json;

fn scope() -> Templates {
    let mut templates = Templates::new(42, "scenario-a");
    templates.set("count", json!(5));
    templates.set("id", json!("e-1"));
    templates.set("key", json!("trg_main"));
    templates.set(
        "orgs",
        json!({ "other": { "key": "trg_other", "id": "o-2" } }),
    );
    templates.set("sink_url", json!("http://127.0.0.1:9/sink/k"));
    templates
}

#[test]
fn values_render_with_their_json_type_when_alone() {
    let templates = scope();
    let cases = [
        (json!("{{ count }}"), json!(5)),
        (json!("{{count}}"), json!(5)),
        (json!("n={{ count }}"), json!("n=5")),
        (json!("{{ count + 1 }}"), json!(6)),
        (json!("{{ orgs.other.key }}"), json!("trg_other")),
        (
            json!("{{ sink_url }}/x"),
            json!("http://127.0.0.1:9/sink/k/x"),
        ),
        (
            json!({ "ids": ["{{ id }}", 3], "{{ id }}": true }),
            json!({ "ids": ["e-1", 3], "e-1": true }),
        ),
        (json!("no template"), json!("no template")),
    ];
    for (input, expected) in cases {
        assert_eq!(
            templates.render_value(&input).unwrap(),
            expected,
            "rendering {input}"
        );
    }
}

#[test]
fn an_undefined_name_is_an_error_naming_the_template() {
    let error = scope()
        .render_value(&json!("{{ missing }}"))
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("template \"{{ missing }}\" failed"),
        "{error}"
    );
    let error = scope()
        .render_string("/api/ack/{{ missing }}")
        .unwrap_err()
        .to_string();
    assert!(error.contains("undefined"), "{error}");
}

#[test]
fn unique_and_uuid_are_reproducible_per_seed_and_scenario() {
    let draw = |seed, id: &str| {
        let templates = Templates::new(seed, id);
        let values: Vec<String> = ["{{ unique('d') }}", "{{ unique('d') }}", "{{ uuid() }}"]
            .iter()
            .map(|t| templates.render_string(t).unwrap())
            .collect();
        values
    };
    let first = draw(42, "scenario-a");
    assert_eq!(first, draw(42, "scenario-a"));
    assert_ne!(first, draw(43, "scenario-a"));
    assert_ne!(first, draw(42, "scenario-b"));
    assert_ne!(first[0], first[1]);
    assert!(
        first[0].starts_with("d-") && first[1].ends_with("-2"),
        "{first:?}"
    );
    assert_eq!(
        uuid::Uuid::parse_str(&first[2]).unwrap().get_version_num(),
        4
    );
}

#[test]
fn syntax_errors_are_found_without_rendering() {
    assert!(harness::scenario::template::check_syntax("{{ a }}").is_ok());
    assert!(harness::scenario::template::check_syntax("{{ a ").is_err());
}
