//! When the next delivery attempt is due: the operator's schedule with
//! jitter, stretched by a receiver's `Retry-After` (DLV-5, DLV-7).

use std::time::Duration;

/// The most jitter added to a scheduled delay, as a fraction of it.
/// Jitter only lengthens a delay, so the schedule is a lower bound.
const MAX_JITTER: f64 = 0.2;

/// The configured delays between attempts; `delays.len() + 1` attempts are
/// made at most.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    delays: Vec<Duration>,
}

impl RetrySchedule {
    pub fn new(delays: Vec<Duration>) -> Self {
        RetrySchedule { delays }
    }

    /// The wait before the next attempt once `attempts_made` attempts have
    /// failed, or `None` when none is left. `retry_after` is the receiver's
    /// own request and is honoured when it asks for longer.
    pub fn next_delay(
        &self,
        attempts_made: usize,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        let scheduled = *self.delays.get(attempts_made.checked_sub(1)?)?;
        let jittered = scheduled.mul_f64(1.0 + rand::random_range(0.0..MAX_JITTER));
        Some(jittered.max(retry_after.unwrap_or_default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_follow_the_schedule_then_stop() {
        let schedule = RetrySchedule::new(vec![Duration::from_secs(5), Duration::from_secs(60)]);
        for _ in 0..100 {
            let first = schedule.next_delay(1, None).unwrap();
            assert!(
                first >= Duration::from_secs(5) && first < Duration::from_secs(6),
                "{first:?}"
            );
            let second = schedule.next_delay(2, None).unwrap();
            assert!(second >= Duration::from_secs(60) && second < Duration::from_secs(72));
        }
        assert_eq!(schedule.next_delay(3, None), None);
    }

    #[test]
    fn retry_after_only_lengthens() {
        let schedule = RetrySchedule::new(vec![Duration::from_secs(5)]);
        let asked = Some(Duration::from_secs(30));
        assert_eq!(schedule.next_delay(1, asked), Some(Duration::from_secs(30)));
        let short = schedule
            .next_delay(1, Some(Duration::from_secs(1)))
            .unwrap();
        assert!(short >= Duration::from_secs(5));
    }
}
