//! The target's CPU and memory during a level: a [`ResourceSampler`] reads
//! them (from /proc for a process, from the Docker API for a container) and
//! [`sample_while`] turns readings into samples at a fixed period.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::outcome::ResourceSample;

/// How often a level samples its target.
pub const SAMPLE_PERIOD: Duration = Duration::from_millis(500);

/// One reading of cumulative figures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ResourceReading {
    /// CPU time the target has used since it started, in seconds.
    pub cpu_seconds: f64,
    /// Resident memory now, in bytes.
    pub rss_bytes: u64,
}

/// Reads a target's resource use; implemented per target kind.
#[async_trait]
pub trait ResourceSampler: Send + Sync {
    /// The current cumulative reading, or `None` when the target cannot be read (it exited).
    async fn read(&self) -> Option<ResourceReading>;
}

/// Reads a process from `/proc/<pid>/stat` (CPU ticks) and `/proc/<pid>/status` (`VmRSS`).
///
/// Only the process itself is counted: children a wrapper script started
/// are not, so a process target should run its server directly.
pub struct ProcSampler {
    pid: u32,
}

/// Linux reports CPU time in `USER_HZ` ticks, fixed at 100 per second for
/// user space whatever the kernel's own tick rate.
const TICKS_PER_SECOND: f64 = 100.0;

impl ProcSampler {
    /// A sampler of the process `pid`.
    pub fn new(pid: u32) -> ProcSampler {
        ProcSampler { pid }
    }
}

#[async_trait]
impl ResourceSampler for ProcSampler {
    async fn read(&self) -> Option<ResourceReading> {
        let stat = tokio::fs::read_to_string(format!("/proc/{}/stat", self.pid))
            .await
            .ok()?;
        let status = tokio::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .await
            .ok()?;
        let ticks = cpu_ticks(&stat)?;
        let rss_bytes = rss_kib(&status)? * 1024;
        Some(ResourceReading {
            cpu_seconds: ticks as f64 / TICKS_PER_SECOND,
            rss_bytes,
        })
    }
}

/// Finds the process listening on `port` of the local machine, through the
/// socket tables in `/proc/net/tcp*` and the descriptors in `/proc/*/fd`.
///
/// This finds the target whatever started it, but only when the harness may
/// read that process's descriptors (the same user), and for a container it
/// would find Docker's port proxy instead, so containers are sampled through
/// the Docker API.
pub fn find_listener(port: u16) -> Option<u32> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        inodes.extend(
            text.lines()
                .skip(1)
                .filter_map(|line| listening_inode(line, port)),
        );
    }
    if inodes.is_empty() {
        return None;
    }
    let wanted: Vec<String> = inodes
        .iter()
        .map(|inode| format!("socket:[{inode}]"))
        .collect();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(descriptors) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for descriptor in descriptors.flatten() {
            if let Ok(link) = std::fs::read_link(descriptor.path())
                && wanted
                    .iter()
                    .any(|socket| link.as_os_str() == socket.as_str())
            {
                return Some(pid);
            }
        }
    }
    None
}

/// The inode of a `/proc/net/tcp` line when it is a socket listening on `port`.
fn listening_inode(line: &str, port: u16) -> Option<u64> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let local_port = fields.get(1)?.rsplit(':').next()?;
    // State 0A is LISTEN.
    if u16::from_str_radix(local_port, 16).ok()? != port || *fields.get(3)? != "0A" {
        return None;
    }
    fields.get(9)?.parse().ok()
}

/// User plus system ticks from a `/proc/<pid>/stat` line. The command name
/// may hold spaces and parentheses, so fields are counted after its last `)`.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name: state is field 3 of the line, utime 14 and stime 15.
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    Some(user + system)
}

fn rss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Samples `sampler` every [`SAMPLE_PERIOD`] until `stop` is cancelled;
/// CPU percent is the CPU time used between two readings over the wall time.
pub async fn sample_while(
    sampler: Arc<dyn ResourceSampler>,
    started: Instant,
    stop: CancellationToken,
) -> Vec<ResourceSample> {
    let mut samples = Vec::new();
    let Some(mut previous) = sampler.read().await else {
        return samples;
    };
    let mut previous_at = Instant::now();
    loop {
        tokio::select! {
            () = stop.cancelled() => return samples,
            () = tokio::time::sleep(SAMPLE_PERIOD) => {}
        }
        let Some(reading) = sampler.read().await else {
            return samples;
        };
        let now = Instant::now();
        let wall = now.duration_since(previous_at).as_secs_f64();
        let cpu = (reading.cpu_seconds - previous.cpu_seconds).max(0.0);
        samples.push(ResourceSample {
            at_ms: now.duration_since(started).as_millis() as u64,
            cpu_percent: if wall > 0.0 { cpu * 100.0 / wall } else { 0.0 },
            rss_bytes: reading.rss_bytes,
        });
        previous = reading;
        previous_at = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_read_as_ticks_and_bytes() {
        let stat = "1234 (a (weird) name) S 1 1234 1234 0 -1 4194304 100 0 0 0 250 50 0 0 20 0";
        assert_eq!(cpu_ticks(stat), Some(300));
        assert_eq!(rss_kib("Name:\tx\nVmRSS:\t  2048 kB\n"), Some(2048));
        assert_eq!(rss_kib("Name:\tx\n"), None);
    }

    #[tokio::test]
    async fn a_listener_is_found_by_its_port() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bound");
        let port = listener.local_addr().expect("address").port();
        assert_eq!(find_listener(port), Some(std::process::id()));
        drop(listener);
        assert_eq!(find_listener(port), None);
    }

    #[tokio::test]
    async fn the_harness_itself_can_be_sampled() {
        let sampler = ProcSampler::new(std::process::id());
        let reading = sampler.read().await.expect("own process is readable");
        assert!(reading.rss_bytes > 1024 * 1024, "{reading:?}");
    }
}
