//! Group commit and `/metrics`: concurrent ingests are each answered 200 only once stored, and
//! stored exactly once; a batch that fails answers every member 503 and stores none of them;
//! the metrics move with ingest and processing.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use picket_origin::commit::{CommitSettings, Committer};
use picket_origin::store::{Backend, DatabaseUrl};
use picket_origin::{app, AppState};
use tower::ServiceExt;

use crate::Api;

/// A new connection beside the store's pool, as another program would open.
async fn connect(url: &DatabaseUrl) -> sqlx::AnyConnection {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    sqlx::AnyConnection::connect(url.as_str()).await.unwrap()
}

/// `(stored envelopes, distinct event ids among them)`.
async fn stored(url: &DatabaseUrl) -> (i64, i64) {
    let mut c = connect(url).await;
    let row: (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), COUNT(DISTINCT event_id) FROM envelopes").fetch_one(&mut c).await.unwrap();
    row
}

async fn stored_ids(url: &DatabaseUrl) -> Vec<String> {
    let mut c = connect(url).await;
    sqlx::query_scalar("SELECT event_id FROM envelopes ORDER BY event_id").fetch_all(&mut c).await.unwrap()
}

fn event_id(n: u32) -> String {
    format!("{:032x}", 0xc0_0000u128 + u128::from(n))
}

/// Posts an envelope with one event of id `id`: the status.
async fn post_envelope(router: &Router, api: &Api, id: &str) -> StatusCode {
    let payload =
        serde_json::json!({ "event_id": id, "message": format!("grouped {id}"), "level": "error" }).to_string();
    let body = format!("{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\",\"length\":{}}}\n{payload}", payload.len());
    let request = Request::post(format!("/api/{}/envelope/", api.boot.project_id))
        .header("x-sentry-auth", format!("Sentry sentry_key={}, sentry_version=7", api.boot.public_key))
        .body(Body::from(body))
        .unwrap();
    router.clone().oneshot(request).await.unwrap().status()
}

/// The value of the sample `series` (name with labels, exactly as rendered), 0 if absent.
pub fn metric(text: &str, series: &str) -> f64 {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.split(' ').next()?.parse().ok()).unwrap_or(0.0)
}

on_both_stores! {
    async fn concurrent_ingests_are_each_stored_once(api) {
        let api = Arc::new(api);
        let router = app(api.state.clone());
        let sends: Vec<_> = (0..120)
            .map(|n| {
                let (api, router) = (api.clone(), router.clone());
                tokio::spawn(async move { post_envelope(&router, &api, &event_id(n)).await })
            })
            .collect();
        for send in sends {
            assert_eq!(send.await.unwrap(), StatusCode::OK);
        }
        assert_eq!(stored(&api.url).await, (120, 120));
        let text = String::from_utf8(api.get("/metrics").await.body).unwrap();
        assert_eq!(metric(&text, "picket_group_commit_batch_size_sum"), 120.0, "{text}");
        let batches = metric(&text, "picket_group_commit_batch_size_count");
        assert!((1.0..=120.0).contains(&batches), "{text}");
        assert_eq!(metric(&text, "picket_ingest_requests_total{endpoint=\"envelope\",status=\"200\"}"), 120.0);
    }

    async fn a_failed_batch_answers_every_member_503_and_stores_none(api) {
        let api = Arc::new(api);
        let poison = event_id(999);
        let mut db = connect(&api.url).await;
        {
            use sqlx::Executor;
            match api.url.backend() {
                Backend::Sqlite => {
                    db.execute(sqlx::AssertSqlSafe(format!(
                        "CREATE TRIGGER poison BEFORE INSERT ON envelopes WHEN NEW.event_id = '{poison}' \
                         BEGIN SELECT RAISE(ABORT, 'poisoned'); END"
                    )))
                    .await
                    .unwrap();
                    // Holds the write lock, so the committer waits and requests pile up.
                    db.execute("BEGIN IMMEDIATE").await.unwrap();
                }
                Backend::Postgres => {
                    db.execute(sqlx::AssertSqlSafe(format!(
                        "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                         IF NEW.event_id = '{poison}' THEN RAISE EXCEPTION 'poisoned'; END IF; RETURN NEW; END $$"
                    )))
                    .await
                    .unwrap();
                    db.execute("CREATE TRIGGER poison BEFORE INSERT ON envelopes FOR EACH ROW EXECUTE FUNCTION poison()")
                        .await
                        .unwrap();
                    db.execute("BEGIN").await.unwrap();
                    db.execute("LOCK TABLE envelopes IN EXCLUSIVE MODE").await.unwrap();
                }
            }
        }
        // One committer, so the batch's members are known: the first request waits alone on the
        // lock; the poisoned one and nine others pile up behind it and go in the next batch.
        let settings = CommitSettings { writers: 1, ..CommitSettings::for_backend(api.url.backend()) };
        let committer = Committer::start(api.store.clone(), settings, api.state.metrics.clone());
        let router = app(AppState { committer, ..api.state.clone() });
        let send = |id: String| {
            let (api, router) = (api.clone(), router.clone());
            tokio::spawn(async move { post_envelope(&router, &api, &id).await })
        };
        let first = send(event_id(0));
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut batch: Vec<_> = (1..10).map(|n| send(event_id(n))).collect();
        batch.push(send(poison.clone()));
        tokio::time::sleep(Duration::from_millis(300)).await;
        {
            use sqlx::Executor;
            db.execute("ROLLBACK").await.unwrap();
        }
        assert_eq!(first.await.unwrap(), StatusCode::OK);
        for member in batch {
            assert_eq!(member.await.unwrap(), StatusCode::SERVICE_UNAVAILABLE);
        }
        assert_eq!(stored_ids(&api.url).await, vec![event_id(0)], "only what was answered 200 is stored");
        let text = String::from_utf8(api.get("/metrics").await.body).unwrap();
        assert_eq!(metric(&text, "picket_store_errors_total{source=\"commit\"}"), 1.0, "{text}");
        assert_eq!(metric(&text, "picket_ingest_requests_total{endpoint=\"envelope\",status=\"503\"}"), 10.0);
    }

    async fn metrics_move_with_ingest_and_processing(api) {
        let text = String::from_utf8(api.get("/metrics").await.body).unwrap();
        assert_eq!(metric(&text, "picket_ingest_requests_total{endpoint=\"store\",status=\"200\"}"), 0.0);
        for n in 0..3 {
            assert_eq!(api.send_event(&api.boot.public_key, &format!("metered {n}")).await, StatusCode::OK);
        }
        let reply = api.get("/metrics").await;
        assert_eq!(reply.status, StatusCode::OK);
        let content_type = reply.headers.get("content-type").unwrap().to_str().unwrap();
        assert!(content_type.starts_with("application/openmetrics-text"), "{content_type}");
        let text = String::from_utf8(reply.body).unwrap();
        assert_eq!(metric(&text, "picket_ingest_requests_total{endpoint=\"store\",status=\"200\"}"), 3.0, "{text}");
        assert_eq!(metric(&text, "picket_ingest_request_duration_seconds_count{endpoint=\"store\"}"), 3.0);
        assert_eq!(metric(&text, "picket_queue_depth"), 3.0, "{text}");
        assert!(metric(&text, "picket_queue_lag_seconds") >= 0.0);
        let s = &api.state;
        let worker = tokio::spawn(picket_origin::worker::run(s.store.clone(), s.queue.clone(), s.metrics.clone()));
        let mut text = String::new();
        for _ in 0..100 {
            text = String::from_utf8(api.get("/metrics").await.body).unwrap();
            if metric(&text, "picket_events_processed_total") >= 3.0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        worker.abort();
        assert_eq!(metric(&text, "picket_events_processed_total"), 3.0, "{text}");
        assert_eq!(metric(&text, "picket_envelopes_processed_total"), 3.0, "{text}");
        assert_eq!(metric(&text, "picket_queue_depth"), 0.0, "{text}");
        assert_eq!(metric(&text, "picket_queue_lag_seconds"), 0.0, "{text}");
        let accepted = "picket_outcomes_total{source=\"processing\",outcome=\"accepted\",category=\"error\",reason=\"\"}";
        assert_eq!(metric(&text, accepted), 3.0, "{text}");
        // A token, when set, is needed.
        let router = app(AppState { metrics_token: Some("m3trics".into()), ..api.state.clone() });
        let get = |auth: Option<&'static str>| {
            let mut request = Request::get("/metrics");
            if let Some(auth) = auth {
                request = request.header("authorization", auth);
            }
            router.clone().oneshot(request.body(Body::empty()).unwrap())
        };
        assert_eq!(get(None).await.unwrap().status(), StatusCode::UNAUTHORIZED);
        assert_eq!(get(Some("Bearer wrong")).await.unwrap().status(), StatusCode::UNAUTHORIZED);
        assert_eq!(get(Some("Bearer m3trics")).await.unwrap().status(), StatusCode::OK);
    }
}
