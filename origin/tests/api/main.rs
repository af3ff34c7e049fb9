//! The origin's web API driven in-process (`app(state)` through `tower::ServiceExt::oneshot`)
//! on each store — a temporary SQLite file and a fresh PostgreSQL database — with the same test
//! bodies (`on_both_stores!`): one test binary for the whole API, one module per concern.

/// Runs each test body on both stores, as `NAME::sqlite` and `NAME::postgres`:
/// `on_both_stores! { async fn name(api) { ... } }`.
macro_rules! on_both_stores {
    ($(async fn $name:ident($api:ident) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn run($api: crate::Api) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    run(crate::Api::new(crate::Backend::Sqlite).await).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    run(crate::Api::new(crate::Backend::Postgres).await).await
                }
            }
        )*
    };
}

mod errors;
mod group_commit;
mod keys;
mod layering;
mod lifecycle;
mod overflow;
mod pages;
mod pages_more;
mod pages_store;
mod people;
// Shared with tests/integration; each binary uses part of it.
#[allow(dead_code)]
#[path = "../../../tests/support/postgres.rs"]
mod postgres;
mod postgres_cluster;
mod props;
mod routes;
mod storage;
mod store;
mod updates;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use picket::core::limits::Limits;
use picket_origin::commit::{CommitSettings, Committer};
use picket_origin::metrics::Metrics;
pub use picket_origin::store::Backend;
use picket_origin::store::{Bootstrap, DatabaseUrl, PoolSettings, SqlStore, Store};
use picket_origin::worker::Queue;
use picket_origin::{app, AppState};
use serde_json::Value;
use tempfile::TempDir;
use tower::ServiceExt;

/// An empty store of `backend`: a SQLite file in `dir`, or a fresh PostgreSQL database.
pub async fn open_store(backend: Backend, dir: &TempDir) -> (SqlStore, DatabaseUrl) {
    let url = match backend {
        Backend::Sqlite => DatabaseUrl::sqlite_file(&dir.path().join("picket.db")),
        Backend::Postgres => postgres::server().fresh_database("api").parse().unwrap(),
    };
    (SqlStore::open(&url, PoolSettings::default_for(backend)).await.unwrap(), url)
}

/// An app's state over `store` with the defaults: the group commit started, fresh metrics.
pub fn state_for(store: Arc<SqlStore>, backend: Backend) -> AppState {
    let metrics = Arc::new(Metrics::default());
    let committer = Committer::start(store.clone(), CommitSettings::for_backend(backend), metrics.clone());
    AppState {
        store,
        limits: Limits::default(),
        queue: Arc::new(Queue::new(0, 10_000)),
        dsn_url: None,
        body_timeout: std::time::Duration::from_secs(5),
        trusted_proxies: 0,
        committer,
        metrics,
        metrics_token: None,
    }
}

/// An origin with one organization (`acme`), project (`web`), DSN key and token.
pub struct Api {
    router: Router,
    /// The app's state (its queue, committer and metrics), for tests that run the worker.
    pub state: AppState,
    pub store: Arc<SqlStore>,
    pub boot: Bootstrap,
    /// The store's database, for tests that reach under the API.
    pub url: DatabaseUrl,
    _dir: TempDir,
}

/// What the origin answered.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    /// Asserts a `{"detail": "..."}` JSON error with this status.
    #[track_caller]
    pub fn assert_error(&self, status: u16) {
        assert_eq!(self.status.as_u16(), status, "body: {:?}", String::from_utf8_lossy(&self.body));
        let content_type = self.headers.get("content-type").and_then(|v| v.to_str().ok());
        assert_eq!(content_type, Some("application/json"));
        assert!(self.json()["detail"].is_string(), "{}", self.json());
    }
}

impl Api {
    pub async fn new(backend: Backend) -> Api {
        let dir = tempfile::tempdir().unwrap();
        let (store, url) = open_store(backend, &dir).await;
        let store = Arc::new(store);
        let boot = store
            .bootstrap("acme", "web", "a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5", "sntryu_test_token")
            .await
            .unwrap()
            .expect("an empty store bootstraps");
        let state = state_for(store.clone(), backend);
        Api { router: app(state.clone()), state, store, boot, url, _dir: dir }
    }

    /// Sends a request with the organization's token (or `token`, or none with `Some("")`).
    pub async fn send(&self, method: &str, path: &str, token: Option<&str>, body: impl Into<Body>) -> Reply {
        let mut request = Request::builder().method(Method::from_bytes(method.as_bytes()).unwrap()).uri(path);
        match token.unwrap_or(&self.boot.token) {
            "" => {}
            token => request = request.header("authorization", format!("Bearer {token}")),
        }
        let response = self.router.clone().oneshot(request.body(body.into()).unwrap()).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap().to_vec();
        Reply { status: parts.status, headers: parts.headers, body }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send("GET", path, None, Body::empty()).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.send("PUT", path, None, body.to_string()).await
    }

    /// `/api/0/projects/acme/web/{rest}`.
    pub fn project_path(&self, rest: &str) -> String {
        format!("/api/0/projects/{}/{}/{rest}", self.boot.organization, self.boot.project)
    }

    /// Another organization (`rival`) with a project of the same slug; its token.
    pub async fn rival(&self) -> String {
        let org = self.store.create_organization("rival").await.unwrap().unwrap();
        self.store.create_project(org.id, "web").await.unwrap().unwrap();
        let token = "sntryu_rival_token";
        self.store.create_token(org.id, &picket_origin::http::auth::token_digest(token)).await.unwrap();
        token.to_string()
    }

    /// Sends an event with a DSN public key to this project's store endpoint: the ingest status.
    pub async fn send_event(&self, public_key: &str, message: &str) -> StatusCode {
        let request = Request::builder()
            .method("POST")
            .uri(format!("/api/{}/store/", self.boot.project_id))
            .header("x-sentry-auth", format!("Sentry sentry_key={public_key}, sentry_version=7"))
            .header("content-type", "application/json")
            .body(Body::from(serde_json::json!({ "message": message, "level": "error" }).to_string()))
            .unwrap();
        self.router.clone().oneshot(request).await.unwrap().status()
    }

    /// Processes what ingest accepted, as the worker would, so issues and events exist.
    pub async fn process_pending(&self) {
        let now = chrono::Utc::now().timestamp_millis();
        let pending = self.store.claim(1_000, now, 60_000).await.unwrap();
        self.store.complete(picket_origin::worker::process_batch(&pending)).await.unwrap();
    }

    /// Sends and processes one event; the id of its issue.
    pub async fn make_issue(&self, message: &str) -> String {
        assert_eq!(self.send_event(&self.boot.public_key, message).await, StatusCode::OK);
        self.process_pending().await;
        let issues = self.get(&self.project_path("issues/?query=")).await.json();
        let issue = issues.as_array().unwrap().iter().find(|i| i["title"].as_str().unwrap().contains(message));
        issue.expect("the issue was made")["id"].as_str().unwrap().to_string()
    }
}

/// A signed-in browser for page tests: send `cookie` as the `Cookie` header (it is
/// `picket_session=…`) and `csrf` as every form's `csrf` field. Made by [`Api::sign_in`].
#[derive(Clone, Debug)]
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

/// The value a `Set-Cookie` header of a reply gives cookie `name`, if one does.
pub fn set_cookie_value(reply: &Reply, name: &str) -> Option<String> {
    reply
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")).map(|rest| rest.split(';').next().unwrap_or("").to_string()))
}

/// The value of the first hidden `csrf` field of an HTML page.
pub fn csrf_field(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    Some(html[at..].split('"').next()?.to_string())
}

impl Api {
    /// Sends a request with these headers and no token: what a browser sends to pages.
    pub async fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: impl Into<Body>) -> Reply {
        let mut request = Request::builder().method(Method::from_bytes(method.as_bytes()).unwrap()).uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = self.router.clone().oneshot(request.body(body.into()).unwrap()).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap().to_vec();
        Reply { status: parts.status, headers: parts.headers, body }
    }

    /// Creates a user who is a member of `org` with `role` (`owner` or `member`) by the same
    /// code as `picket-origin user create`, and returns their generated password. An existing
    /// user is added to `org` instead (then the answer is an empty string: the password is
    /// unchanged).
    pub async fn create_user(&self, email: &str, org: &str, role: &str) -> String {
        let role = picket_origin::store::Role::parse(role).expect("owner or member");
        let done = picket_origin::people::create_user(&*self.store, email, org, role, None).await.unwrap();
        done.generated_password.unwrap_or_default()
    }

    /// Signs in through `/auth/login/` as a browser does (the login form's CSRF cookie, the
    /// form, the session cookie) and reads the session's CSRF token from a page. Panics if the
    /// sign-in is refused. Use the [`Session`] with [`Api::page`] and [`Api::post_form`].
    pub async fn sign_in(&self, email: &str, password: &str) -> Session {
        let form = self.request("GET", "/auth/login/", &[], Body::empty()).await;
        let login_csrf = set_cookie_value(&form, "picket_login_csrf").expect("the login form sets its CSRF cookie");
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("csrf", &login_csrf)
            .append_pair("email", email)
            .append_pair("password", password)
            .append_pair("next", "")
            .finish();
        let cookie = format!("picket_login_csrf={login_csrf}");
        let headers = [("cookie", cookie.as_str()), ("content-type", "application/x-www-form-urlencoded")];
        let reply = self.request("POST", "/auth/login/", &headers, body).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "sign-in refused: {}", String::from_utf8_lossy(&reply.body));
        let token = set_cookie_value(&reply, "picket_session").expect("a session cookie");
        let cookie = format!("picket_session={token}");
        let page =
            self.request("GET", "/settings/account/api/auth-tokens/", &[("cookie", &cookie)], Body::empty()).await;
        assert_eq!(page.status, StatusCode::OK);
        let csrf = csrf_field(&String::from_utf8_lossy(&page.body)).expect("a page with a form");
        Session { cookie, csrf }
    }

    /// `GET path` as the signed-in `session`.
    pub async fn page(&self, session: &Session, path: &str) -> Reply {
        self.request("GET", path, &[("cookie", &session.cookie)], Body::empty()).await
    }

    /// `POST path` with a form of `fields` plus the session's `csrf`, as the signed-in `session`.
    pub async fn post_form(&self, session: &Session, path: &str, fields: &[(&str, &str)]) -> Reply {
        let mut body = form_urlencoded::Serializer::new(String::new());
        body.append_pair("csrf", &session.csrf);
        for (k, v) in fields {
            body.append_pair(k, v);
        }
        let headers = [("cookie", session.cookie.as_str()), ("content-type", "application/x-www-form-urlencoded")];
        self.request("POST", path, &headers, body.finish()).await
    }
}
