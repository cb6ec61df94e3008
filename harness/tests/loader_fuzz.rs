//! Property tests of the four file loaders (scenarios, dialects, load
//! profiles, targets): the shipped files, mutated at random (cut, spliced,
//! truncated, with stray TOML punctuation), never make a loader panic, and
//! every refusal is a message that names where the problem is.
//!
//! The corpus is the project's own files; proptest keeps any failing case it
//! finds under `tests/loader_fuzz.proptest-regressions` and replays it first.

use std::path::{Path, PathBuf};

use proptest::prelude::*;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `.toml` file under `dir`, recursively, as text.
fn corpus(dir: &str) -> Vec<String> {
    let mut files = Vec::new();
    let mut pending = vec![workspace_root().join(dir)];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("a corpus directory") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path
                .extension()
                .is_some_and(|extension| extension == "toml")
            {
                files.push(std::fs::read_to_string(&path).expect("a corpus file"));
            }
        }
    }
    assert!(!files.is_empty(), "no corpus under {dir}");
    files.sort();
    files
}

/// One edit of a text; positions are taken modulo its length.
#[derive(Clone, Debug)]
enum Edit {
    /// Removes up to `length` characters at `at`.
    Cut { at: usize, length: usize },
    /// Inserts `text` at `at`.
    Insert { at: usize, text: String },
    /// Keeps the first `at` characters.
    Truncate { at: usize },
    /// Repeats the line that holds `at`.
    RepeatLine { at: usize },
}

fn edit() -> impl Strategy<Value = Edit> {
    // Fragments that TOML and the file models give meaning to.
    let fragment = prop_oneof![
        Just("[[".to_string()),
        Just("]]".to_string()),
        Just("{".to_string()),
        Just("\"".to_string()),
        Just("=".to_string()),
        Just("\n".to_string()),
        Just("[[scenario]]\n".to_string()),
        Just("[[target]]\n".to_string()),
        Just("{{ ".to_string()),
        Just("$..".to_string()),
        Just("-1".to_string()),
        Just("1e999".to_string()),
        Just("\u{0}".to_string()),
        "[ -~]{0,12}",
    ];
    prop_oneof![
        (any::<usize>(), 1..40usize).prop_map(|(at, length)| Edit::Cut { at, length }),
        (any::<usize>(), fragment).prop_map(|(at, text)| Edit::Insert { at, text }),
        any::<usize>().prop_map(|at| Edit::Truncate { at }),
        any::<usize>().prop_map(|at| Edit::RepeatLine { at }),
    ]
}

/// Applies `edits` to `text`, always at character boundaries.
fn apply(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for edit in edits {
        let position = |at: usize| at % (chars.len() + 1);
        match edit {
            Edit::Cut { at, length } => {
                let start = position(*at);
                let end = (start + length).min(chars.len());
                chars.drain(start..end);
            }
            Edit::Insert { at, text } => {
                let start = position(*at);
                chars.splice(start..start, text.chars());
            }
            Edit::Truncate { at } => chars.truncate(position(*at)),
            Edit::RepeatLine { at } => {
                let at = position(*at).min(chars.len().saturating_sub(1));
                let start = chars[..at]
                    .iter()
                    .rposition(|c| *c == '\n')
                    .map_or(0, |i| i + 1);
                let end = chars[at..]
                    .iter()
                    .position(|c| *c == '\n')
                    .map_or(chars.len(), |i| at + i + 1);
                let line: Vec<char> = chars[start..end].to_vec();
                chars.splice(start..start, line);
            }
        }
    }
    chars.into_iter().collect()
}

/// A refusal must say where: a `line:column`, a `file:line`, or the name of
/// the item or field at fault. An empty or placeless message fails.
fn assert_placed(kind: &str, error: &anyhow::Error, text: &str) {
    let message = format!("{error:#}");
    assert!(
        !message.trim().is_empty(),
        "{kind}: an empty error for {text:?}"
    );
    let position = regex::Regex::new(r"line \d+|\d+:\d*").expect("a valid pattern");
    let has_position = position.is_match(&message);
    let names_something = message.contains('"') || message.contains('`');
    assert!(
        has_position || names_something,
        "{kind}: the error names no place: {message:?}\nfor {text:?}"
    );
}

/// 1,000 cases per loader, or `PROPTEST_CASES` for a longer search.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(1000);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn scenario_files(pick in any::<usize>(), edits in prop::collection::vec(edit(), 1..4)) {
        let files = corpus("scenarios/conformance");
        let text = apply(&files[pick % files.len()], &edits);
        let loaded = harness::scenario::load_scenarios_from_str(Path::new("fuzz.toml"), &text);
        if let Err(error) = loaded {
            assert_placed("scenario", &error, &text);
        }
    }

    #[test]
    fn dialect_files(pick in any::<usize>(), edits in prop::collection::vec(edit(), 1..4)) {
        let files = corpus("scenarios/dialects");
        let text = apply(&files[pick % files.len()], &edits);
        if let Err(error) = harness::dialect::parse_dialect(&text) {
            assert_placed("dialect", &error, &text);
        }
    }

    #[test]
    fn load_profiles(pick in any::<usize>(), edits in prop::collection::vec(edit(), 1..4)) {
        let files = corpus("scenarios/load");
        let text = apply(&files[pick % files.len()], &edits);
        if let Err(error) = harness::load::profile::parse_profile(&text) {
            assert_placed("profile", &error, &text);
        }
    }

    #[test]
    fn targets_files(pick in any::<usize>(), edits in prop::collection::vec(edit(), 1..4)) {
        let files: Vec<String> = ["targets.example.toml", "targets.containers.toml"]
            .iter()
            .map(|name| {
                let path = workspace_root().join("scenarios").join(name);
                std::fs::read_to_string(path).expect("a targets file")
            })
            .collect();
        let text = apply(&files[pick % files.len()], &edits);
        let parsed = harness::target::parse_targets(&text, "targets.toml", &workspace_root());
        if let Err(error) = parsed {
            assert_placed("targets", &error, &text);
        }
    }
}
