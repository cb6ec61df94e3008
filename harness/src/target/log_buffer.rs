//! A bounded ring of the last lines a target printed, kept for the results file.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

use crate::scenario::outcome::redact;

/// How many lines a buffer keeps; older lines are dropped first.
pub const LOG_CAPACITY: usize = 2000;

/// How many of the kept lines go into the results file.
pub const LOG_EXCERPT_LINES: usize = 200;

/// The last [`LOG_CAPACITY`] lines of a target's stdout and stderr, interleaved
/// in the order they arrived.
#[derive(Clone, Default)]
pub struct LogBuffer {
    lines: Arc<Mutex<VecDeque<String>>>,
}

impl LogBuffer {
    /// Appends one line, dropping the oldest when full.
    ///
    /// API keys and webhook secrets are redacted on the way in: the lines end
    /// up in the results file, which is meant to be shared.
    pub fn push(&self, line: String) {
        let line = redact(&line);
        let mut lines = self
            .lines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if lines.len() == LOG_CAPACITY {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    /// The last `count` lines, oldest first.
    pub fn tail(&self, count: usize) -> Vec<String> {
        let lines = self
            .lines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let skip = lines.len().saturating_sub(count);
        lines.iter().skip(skip).cloned().collect()
    }

    /// Copies every line of `stream` into the buffer until the stream closes.
    ///
    /// Bytes that are not UTF-8 are replaced rather than ending the copy, so a
    /// target printing binary noise still leaves a readable tail.
    pub fn capture<R>(&self, stream: R) -> tokio::task::JoinHandle<()>
    where
        R: AsyncRead + Unpin + Send + 'static,
    {
        let buffer = self.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stream);
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let text = String::from_utf8_lossy(&line);
                        buffer.push(text.trim_end_matches(['\n', '\r']).to_string());
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_newest_lines() {
        let buffer = LogBuffer::default();
        for index in 0..LOG_CAPACITY + 5 {
            buffer.push(format!("line {index}"));
        }
        let tail = buffer.tail(3);
        let last = LOG_CAPACITY + 4;
        let expected = vec![
            format!("line {}", last - 2),
            format!("line {}", last - 1),
            format!("line {last}"),
        ];
        assert_eq!(tail, expected);
        assert_eq!(buffer.tail(usize::MAX).len(), LOG_CAPACITY);
    }

    #[test]
    fn secrets_never_reach_the_buffer() {
        let buffer = LogBuffer::default();
        buffer.push("created key trg_4f2a9c and secret whsec_QUJD for org 7".to_string());
        let expected = "created key trg_[redacted] and secret whsec_[redacted] for org 7";
        assert_eq!(buffer.tail(1), [expected]);
    }
}
