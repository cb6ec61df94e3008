//! Records every request of a level: latency into HDR histograms, status
//! codes, errors by kind and transaction counts, keeping only the hold.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::outcome::LatencySummary;

/// The largest latency a histogram holds, in microseconds; longer ones are clamped.
const HIGHEST_MICROS: u64 = 120_000_000;

/// How one request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestEnd {
    /// An answer with the status the transaction expects.
    Expected(u16),
    /// An answer with another status.
    Unexpected(u16),
    /// No answer: the error's kind.
    Failed(&'static str),
}

/// The shared record of one level, written by every user.
///
/// Requests that end outside the measured window (the ramp, the warmup, or
/// after the hold) are not counted, so a level's figures cover the hold only.
pub struct Recorder {
    /// The measured window, `[from, until)`; set at creation, or by the
    /// first request for a recorder anchored on it.
    window: OnceLock<(Instant, Instant)>,
    /// For an anchored recorder: the window opens this long after the first request.
    offset: Duration,
    hold: Duration,
    inner: Mutex<Figures>,
}

/// The figures of a level as counted so far.
pub struct Figures {
    pub raw: Histogram<u64>,
    /// Open model: latency from the intended start of each arrival.
    pub scheduled: Histogram<u64>,
    pub status_counts: BTreeMap<String, u64>,
    pub errors: BTreeMap<String, u64>,
    pub transactions: BTreeMap<String, u64>,
    pub rate_limited_count: u64,
    /// Requests ended inside the window.
    pub request_count: u64,
    /// Every request ended, inside the window or not: what the target saw.
    pub ended_count: u64,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_MICROS, 3).expect("constant bounds are valid")
}

impl Recorder {
    /// A recorder that counts requests ending in `[measure_from, measure_from + hold)`.
    pub fn new(measure_from: Instant, hold: Duration) -> Recorder {
        let recorder = Recorder::anchored(Duration::ZERO, hold);
        let _ = recorder.window.set((measure_from, measure_from + hold));
        recorder
    }

    /// A recorder whose window opens `offset` after the first request starts,
    /// for drivers (goose) that take a moment to start their first user.
    pub fn anchored(offset: Duration, hold: Duration) -> Recorder {
        Recorder {
            window: OnceLock::new(),
            offset,
            hold,
            inner: Mutex::new(Figures {
                raw: histogram(),
                scheduled: histogram(),
                status_counts: BTreeMap::new(),
                errors: BTreeMap::new(),
                transactions: BTreeMap::new(),
                rate_limited_count: 0,
                request_count: 0,
                ended_count: 0,
            }),
        }
    }

    /// The measured window, once it is known.
    pub fn window(&self) -> Option<(Instant, Instant)> {
        self.window.get().copied()
    }

    /// Records one request that was meant to start at `intended`, started at
    /// `sent` and ended now.
    pub fn record(
        &self,
        transaction: &'static str,
        intended: Instant,
        sent: Instant,
        end: RequestEnd,
    ) {
        let now = Instant::now();
        let &(from, until) = self.window.get_or_init(|| {
            let from = sent + self.offset;
            (from, from + self.hold)
        });
        let mut figures = self.inner.lock().expect("recorder lock is never poisoned");
        figures.ended_count += 1;
        if now < from || now >= until {
            return;
        }
        let micros = |since: Instant| {
            (now.duration_since(since).as_micros() as u64).clamp(1, HIGHEST_MICROS)
        };
        figures.raw.saturating_record(micros(sent));
        figures.scheduled.saturating_record(micros(intended));
        figures.request_count += 1;
        *figures
            .transactions
            .entry(transaction.to_string())
            .or_default() += 1;
        match end {
            RequestEnd::Expected(status) | RequestEnd::Unexpected(status) => {
                *figures.status_counts.entry(status.to_string()).or_default() += 1;
                if status == 429 {
                    figures.rate_limited_count += 1;
                }
            }
            RequestEnd::Failed(_) => {}
        }
        let error_kind = match end {
            RequestEnd::Expected(_) => None,
            // A 429 is shown as rate limited, not as an error: the profile's
            // organisations and tier decide whether it happens.
            RequestEnd::Unexpected(429) => None,
            RequestEnd::Unexpected(_) => Some("unexpected_status"),
            RequestEnd::Failed(kind) => Some(kind),
        };
        if let Some(kind) = error_kind {
            *figures.errors.entry(kind.to_string()).or_default() += 1;
        }
    }

    /// Takes the figures out, leaving empty ones behind; a request still in
    /// flight ends after the window and would not be counted anyway.
    pub fn finish(&self) -> Figures {
        let mut figures = self.inner.lock().expect("recorder lock is never poisoned");
        let empty = Figures {
            raw: histogram(),
            scheduled: histogram(),
            status_counts: BTreeMap::new(),
            errors: BTreeMap::new(),
            transactions: BTreeMap::new(),
            rate_limited_count: 0,
            request_count: 0,
            ended_count: 0,
        };
        std::mem::replace(&mut *figures, empty)
    }
}

/// Reads the percentiles of a histogram of microseconds.
pub fn summarize(histogram: &Histogram<u64>) -> LatencySummary {
    if histogram.is_empty() {
        return LatencySummary::default();
    }
    LatencySummary {
        count: histogram.len(),
        min_us: histogram.min(),
        mean_us: histogram.mean(),
        p50_us: histogram.value_at_quantile(0.50),
        p90_us: histogram.value_at_quantile(0.90),
        p95_us: histogram.value_at_quantile(0.95),
        p99_us: histogram.value_at_quantile(0.99),
        p999_us: histogram.value_at_quantile(0.999),
        max_us: histogram.max(),
    }
}

/// The closed model's coordinated-omission correction: each recorded value
/// longer than `expected_interval` also stands for the requests a user
/// would have sent while it waited, as `hdrhistogram`'s `record_correct` does.
pub fn corrected(histogram: &Histogram<u64>, expected_interval_us: u64) -> Histogram<u64> {
    if expected_interval_us == 0 {
        return histogram.clone();
    }
    histogram.clone_correct(expected_interval_us)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_requests_ending_in_the_hold_count() {
        let start = Instant::now();
        let before = Recorder::new(start + Duration::from_secs(60), Duration::from_secs(1));
        before.record("ingest", start, start, RequestEnd::Expected(202));
        assert_eq!(before.finish().request_count, 0);

        let recorder = Recorder::new(start, Duration::from_secs(60));
        recorder.record("ingest", start, start, RequestEnd::Expected(202));
        recorder.record("ingest", start, start, RequestEnd::Unexpected(429));
        recorder.record("ingest", start, start, RequestEnd::Unexpected(500));
        recorder.record("inbox", start, start, RequestEnd::Failed("timeout"));
        let figures = recorder.finish();
        assert_eq!(figures.request_count, 4);
        assert_eq!(figures.raw.len(), 4);
        assert_eq!(figures.rate_limited_count, 1);
        let statuses: Vec<(&str, u64)> = figures
            .status_counts
            .iter()
            .map(|(s, n)| (s.as_str(), *n))
            .collect();
        assert_eq!(statuses, [("202", 1), ("429", 1), ("500", 1)]);
        let errors: Vec<(&str, u64)> = figures
            .errors
            .iter()
            .map(|(s, n)| (s.as_str(), *n))
            .collect();
        assert_eq!(errors, [("timeout", 1), ("unexpected_status", 1)]);
        assert_eq!(figures.transactions["ingest"], 3);
    }

    #[test]
    fn correction_adds_the_requests_a_stall_hid() {
        let mut raw = histogram();
        for _ in 0..99 {
            raw.record(1_000).expect("in range");
        }
        raw.record(100_000).expect("in range");
        let fixed = corrected(&raw, 1_000);
        assert_eq!(summarize(&raw).count, 100);
        // The 100 ms stall stands for 99 more values at 99, 98 ... 1 ms.
        assert_eq!(summarize(&fixed).count, 199);
        assert!(summarize(&fixed).p90_us > summarize(&raw).p90_us);
    }
}
