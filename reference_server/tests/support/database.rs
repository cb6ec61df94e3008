//! A fresh database per test on either backend: a SQLite file in its own
//! directory, or a PostgreSQL database created on the server named by
//! `TRIGGERS_TEST_POSTGRES_URL` and dropped when the test ends.

use sqlx::Connection;
use sqlx::postgres::PgConnection;
use tempfile::TempDir;

/// The variable naming the PostgreSQL server that tests may create
/// databases on; `scripts/setup` prints it.
pub const POSTGRES_URL_VARIABLE: &str = "TRIGGERS_TEST_POSTGRES_URL";

/// Which storage a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server URL, or `None` (with the reason printed) when the
/// tests that need it must be skipped.
pub fn postgres_server() -> Option<String> {
    match std::env::var(POSTGRES_URL_VARIABLE) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!(
                "skipped: {POSTGRES_URL_VARIABLE} is not set; run `eval \"$(scripts/setup)\"` \
                 to test the PostgreSQL backend"
            );
            None
        }
    }
}

/// A database that lives as long as this value.
#[derive(Debug)]
pub struct TestDatabase {
    /// The URL to give the server's `--database`.
    pub url: String,
    /// Holds the SQLite file; removed on drop.
    directory: Option<TempDir>,
    /// The server URL and database name to drop, for PostgreSQL.
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    /// Creates an empty database. Panics for PostgreSQL when the server
    /// variable is unset: callers check [`postgres_server`] first.
    pub async fn create(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let directory = tempfile::tempdir().expect("temporary directory");
                let path = directory.path().join("triggers.db");
                TestDatabase {
                    url: format!("sqlite://{}", path.display()),
                    directory: Some(directory),
                    postgres: None,
                }
            }
            Backend::Postgres => {
                let server = std::env::var(POSTGRES_URL_VARIABLE).expect("postgres server URL");
                let name = format!("triggers_test_{}", uuid::Uuid::new_v4().simple());
                let mut connection = PgConnection::connect(&server)
                    .await
                    .expect("the test PostgreSQL server answers");
                sqlx::query(&format!("CREATE DATABASE \"{name}\""))
                    .execute(&mut connection)
                    .await
                    .expect("test database is created");
                connection.close().await.ok();

                let mut url = url::Url::parse(&server).expect("postgres server URL parses");
                url.set_path(&name);
                TestDatabase {
                    url: url.to_string(),
                    directory: None,
                    postgres: Some((server, name)),
                }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        self.directory.take();
        let Some((server, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs inside the test's runtime, which cannot be blocked on;
        // a thread with its own runtime drops the database, ending any
        // connection a server left open.
        let dropping = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let mut connection = PgConnection::connect(&server).await?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut connection)
                    .await?;
                connection.close().await
            })
        });
        if let Ok(Err(error)) = dropping.join() {
            eprintln!("could not drop a test database: {error}");
        }
    }
}

/// Turns each listed `async fn NAME(backend: Backend)` into two tests,
/// `NAME::sqlite` and `NAME::postgres`; the second says it was skipped and
/// passes when no PostgreSQL server is configured.
#[macro_export]
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        $(
            mod $test {
                #[tokio::test]
                async fn sqlite() {
                    super::$test($crate::support::Backend::Sqlite).await;
                }

                #[tokio::test]
                async fn postgres() {
                    if $crate::support::postgres_server().is_some() {
                        super::$test($crate::support::Backend::Postgres).await;
                    }
                }
            }
        )*
    };
}
