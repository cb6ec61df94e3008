//! The HTML report opened in a real headless Chromium: the page renders with
//! no console message, its script runs, the matrix has one row per scenario,
//! and a screenshot lands under `reports/screenshots/` for CI to keep.
//!
//! Needs Debian's `chromium` package (`scripts/setup` installs it); without
//! it the test is skipped, except under `TRIGGERS_SLOW_TESTS=1`, where it fails.

mod run_support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use harness::report::html;
use harness::results::RunResults;
use run_support::fixtures;

/// Runs Chromium headless on `page` with `args`; returns stdout and stderr.
fn chromium(page: &Path, args: &[&str]) -> (String, String) {
    let profile = tempfile::tempdir().expect("browser profile dir");
    let output = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        // Console messages and uncaught errors are logged as CONSOLE lines.
        .args(["--enable-logging=stderr", "--v=0"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "chromium failed: {stderr}");
    (stdout, stderr)
}

fn console_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|line| line.contains(":CONSOLE"))
        .collect()
}

/// Where CI keeps the screenshot: the workspace's own `reports/`.
fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports/screenshots")
}

#[test]
fn the_html_report_renders_in_chromium() {
    let found = Command::new("chromium").arg("--version").output().is_ok();
    if !found {
        assert!(
            std::env::var_os("TRIGGERS_SLOW_TESTS").is_none(),
            "chromium is missing; install Debian's chromium package (scripts/setup does)"
        );
        eprintln!("skipped: chromium is missing; scripts/setup installs it");
        return;
    }
    let results = RunResults::read(&fixtures().join("results-small.json")).expect("fixture");
    let directory = tempfile::tempdir().expect("temp dir");
    let page = directory.path().join("report.html");
    std::fs::write(&page, html::render(&results, None).expect("render")).expect("write page");

    // The DOM after the page's script ran: one matrix row per scenario id.
    let (dom, stderr) = chromium(&page, &["--dump-dom"]);
    assert_eq!(
        console_lines(&stderr),
        Vec::<&str>::new(),
        "the page logged to the console"
    );
    let scenario_ids: BTreeSet<&str> = results
        .targets
        .iter()
        .flat_map(|target| target.scenarios.iter().map(|outcome| outcome.id.as_str()))
        .collect();
    let rows = dom.matches("class=\"scenario-row").count();
    assert_eq!(rows, scenario_ids.len(), "matrix rows");
    for id in &scenario_ids {
        assert!(
            dom.contains(&format!("data-scenario=\"{id}\"")),
            "no row for {id}"
        );
    }
    assert!(
        dom.contains("data-script=\"ran\""),
        "the page's script did not finish"
    );
    assert!(dom.matches("<svg").count() >= 2, "the charts are missing");

    let shots = screenshot_dir();
    std::fs::create_dir_all(&shots).expect("reports/screenshots");
    let shot = shots.join("report.png");
    let _ = std::fs::remove_file(&shot);
    let screenshot = format!("--screenshot={}", shot.display());
    let (_, stderr) = chromium(&page, &[&screenshot, "--window-size=1400,2400"]);
    assert_eq!(
        console_lines(&stderr),
        Vec::<&str>::new(),
        "the page logged to the console"
    );
    let png = std::fs::read(&shot).expect("the screenshot was written");
    assert!(png.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
    assert!(
        png.len() > 20_000,
        "the screenshot is nearly empty: {} bytes",
        png.len()
    );
}
