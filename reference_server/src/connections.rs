//! Accepting connections and the limits each one lives under: how long a
//! request head may take, how large it may be, and a graceful end.
//!
//! `axum::serve` sets no timer, so a client that sends its head one byte at
//! a time would hold its connection open forever; hyper's own builder, used
//! here, closes it once `--header-read-timeout` passes. The same timer bounds
//! how long an idle keep-alive connection waits for its next request. The
//! request body is bounded by the request timeout of [`crate::middleware`].

use std::future::Future;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The largest request head, in bytes; a larger one answers 431.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// How long a shutdown waits for requests in flight before it closes their
/// connections.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `app` on `listener` until `shutdown` completes, then stops
/// accepting and lets the requests in flight finish (up to
/// [`DRAIN_TIMEOUT`]). A request head must arrive within
/// `header_read_timeout`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .max_buf_size(MAX_HEAD_BYTES);
    builder.http2().timer(TokioTimer::new());

    let draining = CancellationToken::new();
    let connections = TaskTracker::new();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        match accepted {
            Ok((stream, _)) => {
                let served = serve_connection(stream, &builder, &app, draining.clone());
                connections.spawn(served);
            }
            Err(error) => {
                // Running out of descriptors passes; spinning on it helps no one.
                tracing::warn!(%error, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    drop(listener);
    draining.cancel();
    connections.close();
    if tokio::time::timeout(DRAIN_TIMEOUT, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            timeout = ?DRAIN_TIMEOUT,
            "requests still in flight at shutdown were cut off"
        );
    }
}

/// Serves one connection until it ends, finishing its request in flight
/// once `draining` is cancelled.
fn serve_connection(
    stream: TcpStream,
    builder: &Builder<TokioExecutor>,
    app: &Router,
    draining: CancellationToken,
) -> impl Future<Output = ()> + Send + 'static {
    let _ = stream.set_nodelay(true);
    let service = TowerToHyperService::new(app.clone());
    let connection = builder
        .serve_connection_with_upgrades(TokioIo::new(stream), service)
        .into_owned();
    async move {
        let mut connection = std::pin::pin!(connection);
        let mut told = false;
        loop {
            // The connection is polled first, so a request that reached the
            // socket before the shutdown is read and served, not dropped.
            tokio::select! {
                biased;
                ended = connection.as_mut() => {
                    if let Err(error) = ended {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                    return;
                }
                () = draining.cancelled(), if !told => {
                    told = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}
