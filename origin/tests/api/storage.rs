//! Storage failing is one answer everywhere: the web API, the relay API and ingest all say 503
//! with `{"detail": ...}` and `Retry-After`, through `ApiError`, and each failure is logged once.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt;

use crate::{Api, Backend, Reply};

/// What the log says, captured for the current thread.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Log {
    /// How many lines mention `what`.
    fn count(&self, what: &str) -> usize {
        String::from_utf8_lossy(&self.0.lock().unwrap()).lines().filter(|l| l.contains(what)).count()
    }
}

impl Api {
    /// Drops every table under the running store, so each query it makes fails.
    async fn break_storage(&self) {
        use sqlx::{Connection, Executor, Row};
        sqlx::any::install_default_drivers();
        let mut db = sqlx::AnyConnection::connect(self.url.as_str()).await.unwrap();
        match self.url.backend() {
            Backend::Sqlite => {
                db.execute("PRAGMA foreign_keys = OFF").await.unwrap();
                let tables = db
                    .fetch_all("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
                    .await
                    .unwrap();
                for table in tables {
                    let name: String = table.try_get(0).unwrap();
                    db.execute(sqlx::AssertSqlSafe(format!("DROP TABLE \"{name}\""))).await.unwrap();
                }
            }
            Backend::Postgres => {
                db.execute("DROP SCHEMA public CASCADE").await.unwrap();
                db.execute("CREATE SCHEMA public").await.unwrap();
            }
        }
        db.close().await.unwrap();
    }

    /// Sends a raw request through the router.
    async fn raw(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap().to_vec();
        Reply { status: parts.status, headers: parts.headers, body }
    }
}

/// A 503 in the one shape, asking the client to come back.
#[track_caller]
fn assert_unavailable(reply: &Reply, what: &str) {
    reply.assert_error(503);
    assert_eq!(reply.json()["detail"], "storage is unavailable, try again", "{what}");
    assert_eq!(reply.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("5"), "{what}");
}

on_both_stores! {
    async fn storage_failure_is_one_logged_503_everywhere(api) {
        storage_failure_is_one_logged_503(api).await
    }
}

async fn storage_failure_is_one_logged_503(api: Api) {
    let log = Log::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).finish();
    let _logging = tracing::subscriber::set_default(subscriber);

    api.break_storage().await;

    let web = api.get(&api.project_path("")).await;
    assert_unavailable(&web, "web API");
    assert_eq!(log.count("storage is unavailable"), 1, "web API");

    let relay = Request::post("/api/0/relays/projectconfigs/?version=3")
        .header("x-sentry-relay-id", "a-relay")
        .header("x-sentry-relay-signature", "a.signature")
        .body(Body::from("{\"publicKeys\": []}"))
        .unwrap();
    assert_unavailable(&api.raw(relay).await, "relay API");
    assert_eq!(log.count("storage is unavailable"), 2, "relay API");

    let event = Request::post(format!("/api/{}/store/", api.boot.project_id))
        .header("x-sentry-auth", format!("Sentry sentry_key={}, sentry_version=7", api.boot.public_key))
        .header("content-type", "application/json")
        .body(Body::from("{\"message\": \"lost\"}"))
        .unwrap();
    assert_unavailable(&api.raw(event).await, "ingest");
    assert_eq!(log.count("storage is unavailable"), 3, "ingest");
}
