//! The open model: requests start at a fixed arrival rate whatever the
//! target answers, through a bounded pool of in-flight requests.
//!
//! goose has no arrival-rate model, so the harness schedules arrivals itself
//! and bypasses goose here. An arrival that finds every slot of the pool busy
//! is not sent and is counted as dropped; latency corrected for coordinated
//! omission is measured from each arrival's scheduled time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::workload::Workload;

/// How long the driver waits for requests still in flight after the last arrival.
const DRAIN_IN_FLIGHT: Duration = Duration::from_secs(30);

/// What the scheduler counted.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Arrivals {
    /// Arrivals scheduled inside the measured window.
    pub scheduled_count: u64,
    /// Of those, arrivals not sent because the pool was full.
    pub dropped_count: u64,
}

/// Sends arrivals at `rate_per_second` from `start` until the workload's
/// measured window ends, with at most `pool` in flight.
pub async fn run_open(
    workload: Arc<Workload>,
    rate_per_second: u32,
    pool: u32,
    start: Instant,
    interrupt: &CancellationToken,
) -> Arrivals {
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate_per_second));
    let slots = Arc::new(Semaphore::new(pool as usize));
    let (measure_from, end) = workload
        .recorder
        .window()
        .expect("the open model's recorder has a fixed window");
    let (measure_from, end) = (Instant::from_std(measure_from), Instant::from_std(end));
    let dropped = AtomicU64::new(0);
    let mut scheduled_count = 0;

    let mut arrival: u32 = 0;
    loop {
        let intended = start + interval * arrival;
        if intended >= end || interrupt.is_cancelled() {
            break;
        }
        tokio::time::sleep_until(intended).await;
        let measured = intended >= measure_from;
        scheduled_count += u64::from(measured);
        match slots.clone().try_acquire_owned() {
            Ok(permit) => {
                let workload = workload.clone();
                let user = arrival as usize;
                tokio::spawn(async move {
                    workload.run_one(user, intended.into_std()).await;
                    drop(workload);
                    drop(permit);
                });
            }
            Err(_) if measured => {
                dropped.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {}
        }
        arrival += 1;
    }

    // The level ends when every request sent has ended, or after a bound
    // so a target that never answers cannot hold the run.
    let all = slots.acquire_many(pool);
    let _ = tokio::time::timeout(DRAIN_IN_FLIGHT, all).await;
    Arrivals {
        scheduled_count,
        dropped_count: dropped.into_inner(),
    }
}
