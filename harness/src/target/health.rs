//! Readiness: polling a target's health route until it answers, it dies, or time runs out.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::dialect::Dialect;

/// How often readiness is polled while a target starts.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The health check of one target: which path to ask and how to read the answer.
#[derive(Clone)]
pub struct HealthCheck {
    /// The path appended to the base URL, starting with `/`.
    pub path: String,
    /// When set, the dialect judges the body; otherwise any 2xx answer is healthy.
    pub dialect: Option<Arc<Dialect>>,
}

impl HealthCheck {
    /// The target's own `health` path wins, then the dialect's, then `/health`.
    pub fn new(target_health: Option<&str>, dialect: Option<Arc<Dialect>>) -> Self {
        let path = match (target_health, &dialect) {
            (Some(path), _) => path.to_string(),
            (None, Some(dialect)) => dialect.health_path().to_string(),
            (None, None) => "/health".to_string(),
        };
        HealthCheck { path, dialect }
    }

    /// Asks once; `Err` says what was wrong with this attempt.
    pub async fn probe(&self, client: &reqwest::Client, base_url: &str) -> Result<(), String> {
        let url = format!("{}{}", base_url.trim_end_matches('/'), self.path);
        let response = client
            .get(&url)
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .map_err(|error| format!("GET {url} failed: {:#}", anyhow::Error::new(error)))?;
        let status = response.status();
        let body = response.bytes().await.unwrap_or_default();
        if !status.is_success() {
            return Err(format!("GET {url} answered {status}"));
        }
        match &self.dialect {
            Some(dialect) if !dialect.health_ok(&body) => {
                let body = String::from_utf8_lossy(&body);
                Err(format!(
                    "GET {url} answered a body the dialect does not call healthy: {body:.200}"
                ))
            }
            _ => Ok(()),
        }
    }

    /// Polls until healthy. Between attempts `exited` reports whether the target
    /// has died (with a description of how), which ends the wait at once.
    pub async fn wait(
        &self,
        client: &reqwest::Client,
        base_url: &str,
        timeout: Duration,
        mut exited: impl FnMut() -> Option<String>,
    ) -> Result<(), NotReady> {
        let deadline = Instant::now() + timeout;
        loop {
            let last_error = match self.probe(client, base_url).await {
                Ok(()) => return Ok(()),
                Err(error) => error,
            };
            if let Some(how) = exited() {
                return Err(NotReady::Exited(how));
            }
            if Instant::now() + POLL_INTERVAL > deadline {
                return Err(NotReady::Timeout {
                    timeout,
                    last_error,
                });
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

/// Why a target never became ready.
#[derive(Debug)]
pub enum NotReady {
    /// The target could not even be launched; the text says why.
    Launch(String),
    /// The process ended; the text says with what status.
    Exited(String),
    /// The run was interrupted while the target started.
    Cancelled,
    /// The health check kept failing for the whole start timeout.
    Timeout {
        timeout: Duration,
        last_error: String,
    },
}

impl std::fmt::Display for NotReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotReady::Launch(why) => f.write_str(why),
            NotReady::Cancelled => f.write_str("the run was interrupted while the target started"),
            NotReady::Exited(how) => write!(f, "the process exited before it was healthy ({how})"),
            NotReady::Timeout {
                timeout,
                last_error,
            } => write!(
                f,
                "not healthy within {}; last attempt: {last_error}",
                humantime::format_duration(*timeout)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::parse_dialect;

    #[test]
    fn the_target_path_wins_then_the_dialect_then_the_default() {
        let dialect = "name = \"ready\"\n[health]\npath = \"/health/ready\"\n";
        let dialect = Arc::new(parse_dialect(dialect).expect("valid dialect"));

        let own = HealthCheck::new(Some("/up"), Some(dialect.clone()));
        let from_dialect = HealthCheck::new(None, Some(dialect));
        let default = HealthCheck::new(None, None);
        assert_eq!(own.path, "/up");
        assert_eq!(from_dialect.path, "/health/ready");
        assert_eq!(default.path, "/health");
    }

    #[tokio::test]
    async fn an_unreachable_target_times_out_with_the_last_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        drop(listener);

        let check = HealthCheck::new(None, None);
        let client = reqwest::Client::new();
        let base_url = format!("http://127.0.0.1:{port}");
        let timeout = Duration::from_millis(250);
        let waited = check.wait(&client, &base_url, timeout, || None).await;
        let Err(NotReady::Timeout { last_error, .. }) = waited else {
            panic!("expected a timeout, got {waited:?}");
        };
        assert!(
            last_error.starts_with(&format!("GET {base_url}/health failed: ")),
            "{last_error}"
        );
    }
}
