//! The targets file parser: what it accepts and the file:line error it gives for
//! each mistake.

use std::path::Path;
use std::time::Duration;

use harness::target::container::ImageSource;
use harness::target::{TargetKind, parse_targets};

/// Parses `text` as `targets.toml` and asserts the error message exactly.
fn check_error(text: &str, expected: &str) {
    let error =
        parse_targets(text, "targets.toml", Path::new("/work")).expect_err("the file is invalid");
    assert_eq!(format!("{error:#}"), expected);
}

#[test]
fn mistakes_name_the_line_and_the_fix() {
    check_error(
        "",
        "targets.toml:1: no targets; add at least one [[target]] table with a name and a kind",
    );
    check_error(
        "[[target]]\nname = \"a\"\nkind = \"url\"\nbase_url = \"http://x\"\nbase_urll = \"y\"\n",
        "targets.toml:5: unknown field `base_urll`, expected one of `name`, `kind`, `dialect`, \
         `health`, `start_timeout`, `capabilities`, `command`, `env`, `cwd`, `base_url`, `image`, `port`, `build`, `ready_log`, `memory`, `cpus`, `service`",
    );
    check_error(
        "[[target]]\nname = \"a\"\nkind = \"url\"\nbase_url = \"http://x\"\n\n[[target]]\nname = \"b\"\nkind = \"vm\"\n",
        "targets.toml:6: unknown kind \"vm\"; use \"process\", \"url\" or \"container\"",
    );
    check_error(
        "[[target]]\nname = \"a\"\nkind = \"process\"\n",
        "targets.toml:1: a process target needs `command`, a list such as \
         [\"./server\", \"--port\", \"{{ port }}\"]",
    );
    check_error(
        "[[target]]\nname = \"a\"\nkind = \"process\"\ncommand = [\"x\"]\nbase_url = \"http://x\"\n",
        "targets.toml:1: field `base_url` does not apply to process targets; it belongs to url targets",
    );
    check_error(
        "[[target]]\nname = \"a\"\nkind = \"url\"\nbase_url = \"ftp://x\"\n",
        "targets.toml:1: base_url \"ftp://x\" must be an http or https URL with a host",
    );
    check_error(
        "[[target]]\nname = \"a\"\nkind = \"url\"\nbase_url = \"http://x\"\ncapabilities = [\"restart\"]\n",
        "targets.toml:1: a url target cannot declare \"restart\": the harness does not run it",
    );
    check_error(
        "[[target]]\nname = \"a\"\nkind = \"url\"\nbase_url = \"http://x\"\ncapabilities = [\"fly\"]\n",
        "targets.toml:1: unknown capability \"fly\"; use any of \"restart\", \"webhook\"",
    );
    check_error(
        "[[target]]\nname = \"a\"\nkind = \"url\"\nbase_url = \"http://x\"\nstart_timeout = \"soon\"\n",
        "targets.toml:1: start_timeout \"soon\" is not a duration; write one such as \"30s\"",
    );
    check_error(
        "[[target]]\nname = \"a\"\nkind = \"url\"\nbase_url = \"http://x\"\nhealth = \"health\"\n",
        "targets.toml:1: health \"health\" must be a path starting with \"/\", such as \"/health\"",
    );
    check_error(
        "[[target]]\nname = \"a b\"\nkind = \"url\"\nbase_url = \"http://x\"\n",
        "targets.toml:1: target name \"a b\" must be non-empty letters, digits, '-', '_' or '.'",
    );
    check_error(
        "[[target]]\nname = \"a\"\nkind = \"url\"\nbase_url = \"http://x\"\n\
         [[target]]\nname = \"a\"\nkind = \"url\"\nbase_url = \"http://y\"\n",
        "targets.toml:5: target name \"a\" is used twice; give each target its own name",
    );
    check_error(
        "[[target]]\nname = \"c\"\nkind = \"container\"\nimage = \"img\"\n",
        "targets.toml:1: a container target needs `port`, the port its server listens on inside",
    );
    check_error(
        "[[target]]\nname = \"a\"\nkind = 3\n",
        "targets.toml:3: invalid type: integer `3`, expected a string",
    );
}

#[test]
fn every_kind_parses_with_its_defaults() {
    let text = r#"
[[target]]
name = "reference"
kind = "process"
command = ["target/release/reference-server", "--listen", "127.0.0.1:{{ port }}"]
env = { RUST_LOG = "info" }
cwd = "sub"
capabilities = ["restart", "webhook"]

[[target]]
name = "staging"
kind = "url"
base_url = "http://127.0.0.1:8000/"
dialect = "fastapi"
health = "/health/ready"
start_timeout = "5s"

[[target]]
name = "boxed"
kind = "container"
image = "triggers:latest"
port = 8080
"#;
    let targets = parse_targets(text, "targets.toml", Path::new("/work")).expect("valid file");
    assert_eq!(targets.len(), 3);

    let reference = &targets[0];
    assert_eq!(reference.origin, "targets.toml:2");
    assert_eq!(reference.start_timeout, Duration::from_secs(60));
    assert_eq!(
        reference.capabilities.iter().collect::<Vec<_>>(),
        ["restart", "webhook"]
    );
    let TargetKind::Process(process) = &reference.kind else {
        panic!("expected a process target, got {:?}", reference.kind);
    };
    assert_eq!(process.cwd, Path::new("/work/sub"));
    assert_eq!(process.env["RUST_LOG"], "info");

    let staging = &targets[1];
    assert_eq!(staging.dialect.as_deref(), Some("fastapi"));
    assert_eq!(staging.health.as_deref(), Some("/health/ready"));
    assert_eq!(staging.start_timeout, Duration::from_secs(5));
    let TargetKind::Url(url) = &staging.kind else {
        panic!("expected a url target, got {:?}", staging.kind);
    };
    assert_eq!(url.base_url, "http://127.0.0.1:8000");

    let TargetKind::Container(container) = &targets[2].kind else {
        panic!("expected a container target, got {:?}", targets[2].kind);
    };
    let ImageSource::Local { reference, build } = &container.image else {
        panic!("expected a local image, got {:?}", container.image);
    };
    assert_eq!(
        (reference.as_str(), container.port),
        ("triggers:latest", 8080)
    );
    assert!(build.is_none());
}

#[test]
fn the_example_targets_file_loads_with_its_dialects() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let example = root.join("scenarios/targets.example.toml");
    let targets = harness::target::load_targets(&example, &root).expect("the example is valid");
    let names: Vec<&str> = targets.iter().map(|target| target.name.as_str()).collect();
    assert_eq!(names, ["reference", "fastapi-local"]);

    for target in &targets {
        if let Some(dialect) = &target.dialect {
            let path = root
                .join("scenarios/dialects")
                .join(format!("{dialect}.toml"));
            harness::dialect::load_dialect(&path).expect("the named dialect loads");
        }
    }
}
