//! Thresholds such as `p99 < 100ms` or `error-rate < 0.1%`: parsed from a
//! profile and checked against each level's figures.

use std::str::FromStr;

use anyhow::{Context, bail};

use super::outcome::{LevelOutcome, ThresholdOutcome};

/// One bound on one figure of a level.
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    /// The text as written, kept for the results.
    pub expression: String,
    pub metric: Metric,
    pub comparison: Comparison,
    /// In the metric's unit: milliseconds, percent, per second or a count.
    pub bound: f64,
}

/// What a threshold bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// A raw latency percentile, or the mean or max, in milliseconds.
    Latency(LatencyFigure),
    /// Requests that failed or got an unexpected status, in percent of all requests.
    ErrorRate,
    /// 429 answers, in percent of all requests.
    RateLimited,
    /// Requests per second over the hold.
    Throughput,
    /// Open-model arrivals that could not start on time.
    Dropped,
    /// Accepted events still missing at the drain deadline.
    Missing,
}

/// Which latency figure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LatencyFigure {
    Mean,
    P50,
    P90,
    P95,
    P99,
    P999,
    Max,
}

/// How the measured value must relate to the bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    Below,
    AtMost,
    Above,
    AtLeast,
}

impl FromStr for Threshold {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> anyhow::Result<Threshold> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        let [metric, comparison, bound] = parts[..] else {
            bail!("threshold \"{text}\" must read METRIC OP VALUE, such as \"p99 < 100ms\"");
        };
        let metric = parse_metric(metric).with_context(|| format!("threshold \"{text}\""))?;
        let comparison = match comparison {
            "<" => Comparison::Below,
            "<=" => Comparison::AtMost,
            ">" => Comparison::Above,
            ">=" => Comparison::AtLeast,
            other => bail!("threshold \"{text}\": operator \"{other}\" is not one of <, <=, >, >="),
        };
        let bound = parse_bound(metric, bound).with_context(|| format!("threshold \"{text}\""))?;
        Ok(Threshold {
            expression: text.to_string(),
            metric,
            comparison,
            bound,
        })
    }
}

fn parse_metric(name: &str) -> anyhow::Result<Metric> {
    use LatencyFigure::*;
    Ok(match name {
        "mean" => Metric::Latency(Mean),
        "p50" => Metric::Latency(P50),
        "p90" => Metric::Latency(P90),
        "p95" => Metric::Latency(P95),
        "p99" => Metric::Latency(P99),
        "p99.9" => Metric::Latency(P999),
        "max" => Metric::Latency(Max),
        "error-rate" => Metric::ErrorRate,
        "rate-limited" => Metric::RateLimited,
        "throughput" => Metric::Throughput,
        "dropped" => Metric::Dropped,
        "missing" => Metric::Missing,
        other => bail!(
            "metric \"{other}\" is unknown; use mean, p50, p90, p95, p99, p99.9, max, \
             error-rate, rate-limited, throughput, dropped or missing"
        ),
    })
}

/// Reads a bound in the metric's unit: `100ms` or `1s` for latency, `0.1%`
/// for rates, a plain number for the rest.
fn parse_bound(metric: Metric, text: &str) -> anyhow::Result<f64> {
    let number = |digits: &str| -> anyhow::Result<f64> {
        digits
            .parse::<f64>()
            .ok()
            .filter(|value| value.is_finite() && *value >= 0.0)
            .with_context(|| format!("\"{text}\" is not a non-negative number"))
    };
    match metric {
        Metric::Latency(_) => {
            if let Some(digits) = text.strip_suffix("ms") {
                number(digits)
            } else if let Some(digits) = text.strip_suffix("us") {
                Ok(number(digits)? / 1000.0)
            } else if let Some(digits) = text.strip_suffix('s') {
                Ok(number(digits)? * 1000.0)
            } else {
                bail!("latency bound \"{text}\" needs a unit: us, ms or s")
            }
        }
        Metric::ErrorRate | Metric::RateLimited => match text.strip_suffix('%') {
            Some(digits) => number(digits),
            None => bail!("rate bound \"{text}\" needs a percent sign, such as \"0.1%\""),
        },
        Metric::Throughput | Metric::Dropped | Metric::Missing => number(text),
    }
}

impl Threshold {
    /// Checks this threshold against a level's figures.
    pub fn check(&self, level: &LevelOutcome) -> ThresholdOutcome {
        let observed = self.observe(level);
        let passed = match self.comparison {
            Comparison::Below => observed < self.bound,
            Comparison::AtMost => observed <= self.bound,
            Comparison::Above => observed > self.bound,
            Comparison::AtLeast => observed >= self.bound,
        };
        ThresholdOutcome {
            expression: self.expression.clone(),
            observed,
            passed,
        }
    }

    fn observe(&self, level: &LevelOutcome) -> f64 {
        let latency = &level.latency;
        let milliseconds = |micros: u64| micros as f64 / 1000.0;
        let percent = |count: u64| {
            if level.request_count == 0 {
                0.0
            } else {
                count as f64 * 100.0 / level.request_count as f64
            }
        };
        match self.metric {
            Metric::Latency(LatencyFigure::Mean) => latency.mean_us / 1000.0,
            Metric::Latency(LatencyFigure::P50) => milliseconds(latency.p50_us),
            Metric::Latency(LatencyFigure::P90) => milliseconds(latency.p90_us),
            Metric::Latency(LatencyFigure::P95) => milliseconds(latency.p95_us),
            Metric::Latency(LatencyFigure::P99) => milliseconds(latency.p99_us),
            Metric::Latency(LatencyFigure::P999) => milliseconds(latency.p999_us),
            Metric::Latency(LatencyFigure::Max) => milliseconds(latency.max_us),
            Metric::ErrorRate => percent(level.errors.values().sum()),
            Metric::RateLimited => percent(level.rate_limited_count),
            Metric::Throughput => level.throughput_per_second,
            Metric::Dropped => level.dropped_arrival_count as f64,
            // When the inboxes could not be read back, nothing ingested is
            // known to be stored, so every ingest of the level counts.
            Metric::Missing => match &level.persistence {
                Some(persistence) => persistence.missing_count as f64,
                None => level.transactions.get("ingest").copied().unwrap_or(0) as f64,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_read_in_the_metric_unit() {
        let check = |text: &str, metric: Metric, comparison: Comparison, bound: f64| {
            let threshold: Threshold = text.parse().expect(text);
            assert_eq!(
                (threshold.metric, threshold.comparison, threshold.bound),
                (metric, comparison, bound),
                "{text}"
            );
        };
        check(
            "p99 < 100ms",
            Metric::Latency(LatencyFigure::P99),
            Comparison::Below,
            100.0,
        );
        check(
            "p99.9 <= 1.5s",
            Metric::Latency(LatencyFigure::P999),
            Comparison::AtMost,
            1500.0,
        );
        check(
            "max < 500us",
            Metric::Latency(LatencyFigure::Max),
            Comparison::Below,
            0.5,
        );
        check(
            "error-rate < 0.1%",
            Metric::ErrorRate,
            Comparison::Below,
            0.1,
        );
        check(
            "throughput >= 200",
            Metric::Throughput,
            Comparison::AtLeast,
            200.0,
        );
        check("missing > 0", Metric::Missing, Comparison::Above, 0.0);
    }

    #[test]
    fn mistakes_say_what_to_fix() {
        let error = |text: &str| format!("{:#}", text.parse::<Threshold>().expect_err(text));
        assert_eq!(
            error("p99<100ms"),
            "threshold \"p99<100ms\" must read METRIC OP VALUE, such as \"p99 < 100ms\""
        );
        assert_eq!(
            error("p99 < 100"),
            "threshold \"p99 < 100\": latency bound \"100\" needs a unit: us, ms or s"
        );
        assert_eq!(
            error("error-rate == 1%"),
            "threshold \"error-rate == 1%\": operator \"==\" is not one of <, <=, >, >="
        );
    }
}
