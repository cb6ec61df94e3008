//! The closed model: goose runs a fixed number of users, each sending its
//! next transaction once the previous one answered.
//!
//! Goose schedules the users, the ramp and the run time; the requests go
//! through the harness's shared client and are timed by the [`Recorder`],
//! because goose's own percentiles are rounded too coarsely to compare targets.
//!
//! # Interrupts
//!
//! Goose installs a process-wide Ctrl-C handler the first time it runs, and
//! that handler replaces the harness's own: from then on a Ctrl-C only trips
//! goose's killswitch. [`bridge_interrupts`] therefore watches the killswitch
//! and cancels the harness's token when it trips, and an attack trips the
//! killswitch itself when the harness is interrupted another way (SIGTERM).
//! The killswitch is reset before each attack, so one stopped level does not
//! stop the next; a Ctrl-C that lands in the moment between the watcher's
//! check and that reset is lost, and a second Ctrl-C ends the process at once
//! (goose's behaviour), leaving a process target to the operating system.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use goose::config::GooseConfiguration;
use goose::goose::{Scenario, Transaction, TransactionFunction};
use goose::prelude::GooseUser;
use goose::{GooseAttack, is_killswitch_triggered, reset_killswitch, trigger_killswitch};
use tokio_util::sync::CancellationToken;

use super::workload::Workload;

/// How often the interrupt bridge looks at goose's killswitch.
const KILLSWITCH_POLL: Duration = Duration::from_millis(100);

/// Cancels `interrupt` when goose's killswitch trips (its Ctrl-C handler),
/// for as long as the process runs.
pub fn bridge_interrupts(interrupt: CancellationToken) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = interrupt.cancelled() => return,
                () = tokio::time::sleep(KILLSWITCH_POLL) => {}
            }
            if is_killswitch_triggered() {
                tracing::info!("interrupted during load; stopping");
                interrupt.cancel();
                return;
            }
        }
    });
}

/// Runs `users` goose users against the workload's target for `ramp +
/// warmup + hold` (whole seconds, rounded up, as goose counts them).
pub async fn run_closed(
    workload: Arc<Workload>,
    base_url: &str,
    users: u32,
    ramp: Duration,
    run_time: Duration,
    interrupt: &CancellationToken,
) -> anyhow::Result<()> {
    let configuration = configuration(base_url, users, ramp, run_time);
    let function: TransactionFunction = Arc::new(move |user: &mut GooseUser| {
        let workload = workload.clone();
        let index = user.weighted_users_index;
        Box::pin(async move {
            workload.run_one(index, Instant::now()).await;
            Ok(())
        })
    });
    let scenario = Scenario::new("load").register_transaction(Transaction::new(function));
    let attack = GooseAttack::initialize_with_config(configuration)
        .context("cannot configure goose")?
        .register_scenario(scenario);

    reset_killswitch();
    let stop_on_interrupt = interrupt.clone();
    let watcher = tokio::spawn(async move {
        stop_on_interrupt.cancelled().await;
        trigger_killswitch("the harness was interrupted");
    });
    let result = attack.execute().await;
    watcher.abort();
    result.context("goose could not run the load")?;
    Ok(())
}

fn configuration(
    base_url: &str,
    users: u32,
    ramp: Duration,
    run_time: Duration,
) -> GooseConfiguration {
    let mut configuration = GooseConfiguration::default();
    configuration.host = Some(base_url.to_string());
    configuration.users = Some(users as usize);
    let ramp_seconds = ramp.as_secs_f64().ceil() as u64;
    if users >= 2 && ramp_seconds > 0 {
        configuration.increase_time = Some(format!("{ramp_seconds}s"));
    } else {
        // No ramp: every user starts within the first tenth of a second.
        configuration.increase_rate = Some((users.max(1) * 10).to_string());
    }
    configuration.run_time = Some(format!(
        "{}s",
        run_time.as_secs_f64().ceil().max(1.0) as u64
    ));
    // The harness records its own figures and prints its own report.
    configuration.quiet = 1;
    configuration.no_metrics = true;
    configuration.no_print_metrics = true;
    configuration.no_error_summary = true;
    configuration.no_telnet = true;
    configuration
}
