//! The load generator: prepared bodies posted as an SDK posts them (`Content-Encoding: gzip`,
//! `X-Sentry-Auth`) over N keep-alive connections of a hyper client, N tasks on one tokio
//! thread, each taking the next body until none is left; and a trivial in-process server (its
//! own thread: reads each body, answers 200) to measure the generator's own ceiling.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, Uri};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};

/// How long one request may take before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The User-Agent and `sentry_client` of the capture.
const CLIENT: &str = "sentry.python/2.75.0";

/// Where the load goes: an envelope endpoint and a public key for it.
pub struct Target {
    pub url: String,
    pub public_key: String,
}

/// What posting every body took.
pub struct Posted {
    pub took: Duration,
    /// Requests not answered 200, by status (0: no answer).
    pub refused: BTreeMap<u16, usize>,
    /// The first failure, to say why.
    pub first_failure: Option<String>,
    /// CPU time this process (the generator, and the trivial server when it is the target)
    /// used meanwhile.
    pub cpu_seconds: f64,
}

impl Posted {
    pub fn refused(&self) -> usize {
        self.refused.values().sum()
    }

    pub fn per_second(&self, events: usize) -> f64 {
        (events - self.refused()) as f64 / self.took.as_secs_f64()
    }

    /// `503: 12, 0: 1` for a note.
    pub fn describe_refused(&self) -> String {
        let counts: Vec<_> = self.refused.iter().map(|(status, n)| format!("{status}: {n}")).collect();
        format!("{} ({})", counts.join(", "), self.first_failure.as_deref().unwrap_or(""))
    }
}

/// Posts every body to `target` over `connections` keep-alive connections and returns once
/// every one was answered (or failed).
pub fn post_all(target: &Target, bodies: &Arc<Vec<Bytes>>, connections: usize) -> Posted {
    let uri: Uri = target.url.parse().unwrap_or_else(|e| panic!("{}: {e}", target.url));
    let auth = format!("Sentry sentry_key={}, sentry_version=7, sentry_client={CLIENT}", target.public_key);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async move {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(connections)
            .pool_idle_timeout(None)
            .build(connector);
        let next = Arc::new(AtomicUsize::new(0));
        let refused = Arc::new(Mutex::new((BTreeMap::new(), None)));
        let cpu_before = crate::procs::cpu_seconds(std::process::id());
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..connections {
            let (client, uri, auth, bodies, next, refused) =
                (client.clone(), uri.clone(), auth.clone(), bodies.clone(), next.clone(), refused.clone());
            tasks.spawn(async move {
                while let Some(body) = bodies.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let request = Request::post(uri.clone())
                        .header("content-type", "application/x-sentry-envelope")
                        .header("content-encoding", "gzip")
                        .header("user-agent", CLIENT)
                        .header("x-sentry-auth", &auth)
                        .body(Full::new(body.clone()))
                        .unwrap();
                    let answer = tokio::time::timeout(REQUEST_TIMEOUT, async {
                        let response = client.request(request).await.map_err(|e| format!("{e:?}"))?;
                        let status = response.status().as_u16();
                        // Read to the end, so the connection goes back to the pool.
                        let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
                        Ok::<_, String>((status, body))
                    })
                    .await
                    .unwrap_or_else(|_| Err(format!("no answer within {REQUEST_TIMEOUT:?}")));
                    let failure = match answer {
                        Ok((200, _)) => continue,
                        Ok((status, body)) => (status, format!("{status}: {}", String::from_utf8_lossy(&body))),
                        Err(e) => (0, e),
                    };
                    let mut refused = refused.lock().unwrap();
                    *refused.0.entry(failure.0).or_insert(0) += 1;
                    refused.1.get_or_insert(failure.1);
                }
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap();
        }
        let took = start.elapsed();
        let cpu_seconds = crate::procs::cpu_seconds(std::process::id()) - cpu_before;
        let (refused, first_failure) = std::mem::take(&mut *refused.lock().unwrap());
        Posted { took, refused, first_failure, cpu_seconds }
    })
}

/// A server that only reads each request's body and answers `200 {}` on the same connection,
/// on its own thread and tokio runtime: what the load generator alone reaches. Stops when
/// dropped.
pub struct TrivialServer {
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TrivialServer {
    pub fn start() -> TrivialServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    tokio::select! {
                        _ = &mut stopped => return,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            let _ = stream.set_nodelay(true);
                            tokio::spawn(async move {
                                let service = hyper::service::service_fn(answer);
                                let _ = hyper::server::conn::http1::Builder::new()
                                    .serve_connection(TokioIo::new(stream), service)
                                    .await;
                            });
                        }
                    }
                }
            });
        });
        TrivialServer { url, stop: Some(stop), thread: Some(thread) }
    }
}

async fn answer(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    request.into_body().collect().await?;
    Ok(Response::new(Full::new(Bytes::from_static(b"{}"))))
}

impl Drop for TrivialServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
