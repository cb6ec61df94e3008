//! Progress bars on stderr, and a log writer that keeps log lines from tearing them.

use std::io::Write;
use std::sync::LazyLock;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// Every visible bar of the process; log lines are written around them.
static BARS: LazyLock<MultiProgress> = LazyLock::new(MultiProgress::new);

/// A bar for one target's scenarios; hidden unless `visible`.
pub fn target_bar(name: &str, length: usize, visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = BARS.add(ProgressBar::new(length as u64));
    let style = ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} {wide_msg}")
        .expect("constant progress template")
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(name.to_string());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// A `tracing` writer for stderr that hides the bars while a line is written,
/// then redraws them below it.
pub struct LogWriter {
    line: Vec<u8>,
}

impl LogWriter {
    /// Made once per log event by `tracing_subscriber`.
    pub fn make() -> LogWriter {
        LogWriter { line: Vec::new() }
    }
}

impl Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.line.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        // A log line that cannot be written has nowhere better to go.
        BARS.suspend(|| {
            let _ = std::io::stderr().write_all(&self.line);
        });
    }
}
