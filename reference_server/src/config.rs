//! The command line and environment of the server, and the checked settings
//! built from them.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// The ingest queue's default batch size; one disk sync covers a batch.
pub const DEFAULT_MAX_BATCH: usize = 256;

/// The reference server of the Triggers API.
#[derive(Debug, Parser)]
#[command(
    name = "reference-server",
    version,
    after_help = "Example:\n  reference-server --listen 127.0.0.1:8080 \
                  --database sqlite://triggers.db --log-format json"
)]
pub struct Args {
    /// Listen on ADDR [default: 127.0.0.1:8080, or 0.0.0.0:$PORT when PORT is set].
    #[arg(
        long,
        value_name = "ADDR",
        env = "TRIGGERS_LISTEN",
        help_heading = "Server"
    )]
    pub listen: Option<SocketAddr>,

    /// Store data in the database at URL (sqlite://PATH or postgres://...).
    #[arg(
        long,
        value_name = "URL",
        env = "DATABASE_URL",
        default_value = "sqlite://triggers.db",
        help_heading = "Server"
    )]
    pub database: String,

    /// Write logs in FORMAT.
    #[arg(
        long,
        value_name = "FORMAT",
        default_value = "pretty",
        help_heading = "Server"
    )]
    pub log_format: LogFormat,

    /// Store up to N queued ingests per transaction.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_BATCH, help_heading = "Server")]
    pub max_batch: usize,

    /// Answer 503 to requests that take longer than DURATION.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "30s",
        help_heading = "Server"
    )]
    pub request_timeout: String,

    /// Close a connection whose request head takes longer than DURATION, or
    /// that stays idle that long between requests.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "10s",
        help_heading = "Server"
    )]
    pub header_read_timeout: String,

    /// Wait these delays between webhook attempts (comma-separated DURATIONs).
    #[arg(
        long,
        value_name = "DURATIONS",
        env = "TRIGGERS_WEBHOOK_RETRY_SCHEDULE",
        default_value = "5s,5m,30m,2h,5h,10h,10h",
        help_heading = "Webhook delivery"
    )]
    pub webhook_retry_schedule: String,

    /// Give up on a webhook attempt after DURATION.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "10s",
        help_heading = "Webhook delivery"
    )]
    pub webhook_timeout: String,

    /// Turn webhook delivery off, for pure ingest benchmarks.
    #[arg(
        long,
        env = "DISABLE_WEBHOOK_DELIVERY",
        help_heading = "Webhook delivery"
    )]
    pub disable_delivery: bool,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// A setting that cannot be used as given.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid duration \"{value}\" for --{flag}; use forms like 500ms, 5s, 5m or 2h")]
    Duration { flag: &'static str, value: String },
    #[error("--webhook-retry-schedule must list at least one duration")]
    EmptySchedule,
    #[error("--max-batch must be at least 1")]
    ZeroBatch,
    #[error("invalid PORT \"{0}\"; use a number from 1 to 65535")]
    Port(String),
    #[error("unsupported database URL \"{0}\"; use sqlite://PATH or postgres://USER@HOST/DATABASE")]
    UnsupportedDatabase(String),
}

/// The checked settings the server runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub listen: SocketAddr,
    /// A `sqlite:` URL or a `postgres://` (or `postgresql://`) URL.
    pub database_url: String,
    pub log_format: LogFormat,
    pub max_batch: usize,
    pub request_timeout: Duration,
    /// How long a request head may take, and how long an idle connection
    /// waits for its next request.
    pub header_read_timeout: Duration,
    /// The delays between webhook attempts; their count plus one is the
    /// number of attempts.
    pub webhook_retry_schedule: Vec<Duration>,
    pub webhook_timeout: Duration,
    pub delivery_enabled: bool,
}

impl Config {
    /// Settings with every default, storing in the database at `url`.
    pub fn new(database_url: impl Into<String>) -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: database_url.into(),
            log_format: LogFormat::Pretty,
            max_batch: DEFAULT_MAX_BATCH,
            request_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            webhook_retry_schedule: parse_schedule("5s,5m,30m,2h,5h,10h,10h")
                .expect("the default schedule parses"),
            webhook_timeout: Duration::from_secs(10),
            delivery_enabled: true,
        }
    }

    /// Checks the arguments; `port` is the `PORT` environment variable,
    /// used only when no listen address is given.
    pub fn from_args(args: Args, port: Option<String>) -> Result<Self, ConfigError> {
        let listen = match (args.listen, port) {
            (Some(listen), _) => listen,
            (None, Some(port)) => {
                let number = port.parse::<u16>().ok().filter(|number| *number > 0);
                let number = number.ok_or(ConfigError::Port(port))?;
                SocketAddr::from(([0, 0, 0, 0], number))
            }
            (None, None) => SocketAddr::from(([127, 0, 0, 1], 8080)),
        };
        check_database_url(&args.database)?;
        if args.max_batch == 0 {
            return Err(ConfigError::ZeroBatch);
        }

        Ok(Config {
            listen,
            database_url: args.database,
            log_format: args.log_format,
            max_batch: args.max_batch,
            request_timeout: parse_duration("request-timeout", &args.request_timeout)?,
            header_read_timeout: parse_duration("header-read-timeout", &args.header_read_timeout)?,
            webhook_retry_schedule: parse_schedule(&args.webhook_retry_schedule)?,
            webhook_timeout: parse_duration("webhook-timeout", &args.webhook_timeout)?,
            delivery_enabled: !args.disable_delivery,
        })
    }
}

/// The storage backends, chosen by the database URL's scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The backend that `url` names by its scheme.
pub fn check_database_url(url: &str) -> Result<Backend, ConfigError> {
    if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else {
        Err(ConfigError::UnsupportedDatabase(url.into()))
    }
}

fn parse_duration(flag: &'static str, value: &str) -> Result<Duration, ConfigError> {
    humantime::parse_duration(value.trim()).map_err(|_| ConfigError::Duration {
        flag,
        value: value.into(),
    })
}

fn parse_schedule(value: &str) -> Result<Vec<Duration>, ConfigError> {
    if value.trim().is_empty() {
        return Err(ConfigError::EmptySchedule);
    }
    value
        .split(',')
        .map(|part| parse_duration("webhook-retry-schedule", part))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(arguments: &[&str], port: Option<&str>) -> Result<Config, ConfigError> {
        let args = Args::try_parse_from(["reference-server"].iter().chain(arguments))
            .expect("arguments parse");
        Config::from_args(args, port.map(String::from))
    }

    #[test]
    fn port_applies_only_without_listen() {
        let config = parse(&[], Some("9000")).unwrap();
        assert_eq!(config.listen, "0.0.0.0:9000".parse().unwrap());

        let config = parse(&["--listen", "127.0.0.1:7000"], Some("9000")).unwrap();
        assert_eq!(config.listen, "127.0.0.1:7000".parse().unwrap());

        let error = parse(&[], Some("http")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid PORT \"http\"; use a number from 1 to 65535"
        );
    }

    #[test]
    fn schedules_and_databases_are_checked() {
        let config = parse(&["--webhook-retry-schedule", "1s, 250ms"], None).unwrap();
        let expected = vec![Duration::from_secs(1), Duration::from_millis(250)];
        assert_eq!(config.webhook_retry_schedule, expected);

        let error = parse(&["--webhook-retry-schedule", "1s,soon"], None).unwrap_err();
        assert!(matches!(error, ConfigError::Duration { .. }), "{error}");

        let config = parse(&["--database", "postgres://localhost/triggers"], None).unwrap();
        assert_eq!(
            check_database_url(&config.database_url).unwrap(),
            Backend::Postgres
        );
        assert_eq!(
            check_database_url("sqlite://t.db").unwrap(),
            Backend::Sqlite
        );

        let error = parse(&["--database", "mysql://localhost/triggers"], None).unwrap_err();
        assert_eq!(
            error.to_string(),
            "unsupported database URL \"mysql://localhost/triggers\"; \
             use sqlite://PATH or postgres://USER@HOST/DATABASE"
        );
    }
}
