//! CPU and memory of a running container, read from the Docker stats API and
//! offered to the load stage as a [`ResourceSampler`].

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;
use testcontainers::bollard::Docker;
use testcontainers::bollard::models::ContainerStatsResponse;
use testcontainers::bollard::query_parameters::StatsOptions;
use tokio::task::JoinHandle;

use crate::load::resources::{ResourceReading, ResourceSampler};

/// How old the latest reading may be before the container counts as gone:
/// the engine sends one about every second while the container runs.
const FRESH_FOR: Duration = Duration::from_secs(3);

/// Follows a container's stats stream in the background (the engine sends a
/// reading about once a second) and keeps the latest one.
///
/// The readings are cumulative (CPU time since start, memory now), so the
/// load stage turns them into CPU percent over its own sampling period just
/// as it does for a process read from `/proc`.
pub struct StatsSampler {
    latest: Arc<Mutex<Option<(Instant, ResourceReading)>>>,
    task: JoinHandle<()>,
}

impl StatsSampler {
    /// Starts streaming the stats of container `id`.
    pub fn start(docker: Docker, id: String) -> Self {
        let latest = Arc::new(Mutex::new(None));
        let sink = latest.clone();
        let task = tokio::spawn(async move {
            let options = StatsOptions {
                stream: true,
                one_shot: false,
            };
            let mut stream = docker.stats(&id, Some(options));
            while let Some(Ok(stats)) = stream.next().await {
                if let Some(reading) = reading_of(&stats) {
                    let mut latest = sink.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                    *latest = Some((Instant::now(), reading));
                }
            }
        });
        StatsSampler { latest, task }
    }

    /// Stops following the stream; the last reading stays readable.
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for StatsSampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[async_trait]
impl ResourceSampler for StatsSampler {
    /// The latest reading; `None` before the first one, and once no fresh
    /// one comes (the container stopped or died).
    async fn read(&self) -> Option<ResourceReading> {
        let latest = *self
            .latest
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (at, reading) = latest?;
        (at.elapsed() < FRESH_FOR).then_some(reading)
    }
}

/// The cumulative figures of one stats reading, or `None` when the engine
/// left them out (a stopped container's stream ends with empty readings).
pub fn reading_of(stats: &ContainerStatsResponse) -> Option<ResourceReading> {
    let cpu = stats.cpu_stats.as_ref()?.cpu_usage.as_ref()?.total_usage?;

    // What `docker stats` shows: usage without the reclaimable page cache,
    // which cgroup v2 reports as inactive_file and v1 as cache.
    let memory = stats.memory_stats.as_ref()?;
    let detail = memory.stats.clone().unwrap_or_default();
    let cache = detail
        .get("inactive_file")
        .or_else(|| detail.get("cache"))
        .copied()
        .unwrap_or(0);
    Some(ResourceReading {
        cpu_seconds: cpu as f64 / 1e9,
        rss_bytes: memory.usage?.saturating_sub(cache),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use testcontainers::bollard::models::{
        ContainerCpuStats, ContainerCpuUsage, ContainerMemoryStats,
    };

    fn stats(total_nanos: Option<u64>, usage: u64, cache: (&str, u64)) -> ContainerStatsResponse {
        ContainerStatsResponse {
            cpu_stats: Some(ContainerCpuStats {
                cpu_usage: Some(ContainerCpuUsage {
                    total_usage: total_nanos,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            memory_stats: Some(ContainerMemoryStats {
                usage: Some(usage),
                stats: Some(HashMap::from([(cache.0.to_string(), cache.1)])),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn cpu_is_in_seconds_and_memory_leaves_out_the_cache() {
        let v2 = stats(
            Some(1_500_000_000),
            50_000_000,
            ("inactive_file", 10_000_000),
        );
        let reading = reading_of(&v2).expect("a complete reading");
        assert_eq!(
            reading,
            ResourceReading {
                cpu_seconds: 1.5,
                rss_bytes: 40_000_000,
            }
        );
        let v1 = stats(Some(0), 8_000, ("cache", 3_000));
        assert_eq!(reading_of(&v1).map(|r| r.rss_bytes), Some(5_000));
    }

    #[test]
    fn a_reading_without_cpu_figures_is_none() {
        assert_eq!(reading_of(&stats(None, 1, ("cache", 0))), None);
        assert_eq!(reading_of(&ContainerStatsResponse::default()), None);
    }
}
