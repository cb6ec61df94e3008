//! Reports rendered from a run's results, one file per format: the terminal
//! table, Markdown, JUnit XML and a self-contained HTML page, each optionally
//! set against a baseline run.

pub mod baseline;
pub mod charts;
pub mod figures;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod matrix;
pub mod schema;
pub mod terminal;

use std::path::{Path, PathBuf};

use anyhow::Context;

use self::baseline::Comparison;
use crate::results::RunResults;

/// A report format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The tables printed at the end of a run, on standard output.
    Terminal,
    /// `report.md`, for pull requests.
    Markdown,
    /// `junit.xml`, one test case per scenario and target.
    Junit,
    /// `report.html`, the self-contained page.
    Html,
}

impl Format {
    /// Every format written to a file, in the order they are written.
    pub const FILES: [Format; 3] = [Format::Markdown, Format::Junit, Format::Html];

    /// The file the format is written to inside a run's directory; `None` for
    /// the terminal, which is printed.
    pub fn file_name(self) -> Option<&'static str> {
        match self {
            Format::Terminal => None,
            Format::Markdown => Some("report.md"),
            Format::Junit => Some("junit.xml"),
            Format::Html => Some("report.html"),
        }
    }

    /// Renders the format; JUnit ignores the baseline, which is no test.
    pub fn render(
        self,
        results: &RunResults,
        comparison: Option<&Comparison>,
    ) -> anyhow::Result<String> {
        match self {
            Format::Terminal => Ok(terminal::render(results)),
            Format::Markdown => Ok(markdown::render(results, comparison)),
            Format::Junit => Ok(junit::render(results)),
            Format::Html => html::render(results, comparison),
        }
    }
}

/// Writes each file format of `formats` into `directory`, creating it, and
/// returns the paths written; the terminal format is left to the caller to print.
pub fn write_reports(
    results: &RunResults,
    comparison: Option<&Comparison>,
    formats: &[Format],
    directory: &Path,
) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(directory)
        .with_context(|| format!("cannot create \"{}\"", directory.display()))?;
    let mut written = Vec::with_capacity(formats.len());
    for format in formats {
        let Some(file_name) = format.file_name() else {
            continue;
        };
        let path = directory.join(file_name);
        let text = format.render(results, comparison)?;
        std::fs::write(&path, text)
            .with_context(|| format!("cannot write \"{}\"", path.display()))?;
        tracing::debug!(path = %path.display(), "report written");
        written.push(path);
    }
    Ok(written)
}
