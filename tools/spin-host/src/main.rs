//! A test host for Picket's Spin edge: loads the component `spin.toml` names (the one
//! `cargo build --target wasm32-wasip2 --release --features spin` ships, unchanged), serves its
//! `wasi:http/handler@0.3.0` export on 127.0.0.1 with a new instance per request as Spin does,
//! lets work continue after the response, and provides Spin's variables and key-value stores
//! and outbound HTTP limited to `allowed_outbound_hosts`.
//!
//! Usage: `picket-spin-host [--manifest spin.toml] [--listen 127.0.0.1:0] [--var name=value]...`
//! (`SPIN_VARIABLE_<NAME>` in the environment works too). Prints
//! `picket-spin-host listening on http://ADDR` once ready. `--list-imports` prints the
//! interfaces the component imports instead.

mod manifest;
mod spin;

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store, StoreContextMut};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::handler::{
    HandlerState, Instance, ProxyHandler, ProxyPre, ShouldAccept, WorkerExpiration, WorkerState, WorkerStatus,
};
use wasmtime_wasi_http::{WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use manifest::AllowedHost;
use spin::{SpinState, SpinView};

/// How long a request may take to produce its response.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long work after the response (forwards, outcomes) may run.
const POST_RETURN_TIMEOUT: Duration = Duration::from_secs(60);

/// One instance's store data.
struct Host {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: Outbound,
    spin: Arc<SpinState>,
}

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for Host {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}

/// Outbound HTTP as Spin allows it: only to `allowed_outbound_hosts`.
struct Outbound {
    allowed: Arc<Vec<AllowedHost>>,
}

type SendResult = wasmtime_wasi_http::Result<(
    http::Response<WasiBody>,
    Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
)>;

impl WasiHttpHooks for Outbound {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        let uri = request.uri();
        let scheme = uri.scheme_str().unwrap_or("https");
        let port = uri.port_u16().unwrap_or(if scheme == "https" { 443 } else { 80 });
        let host = uri.host().unwrap_or("");
        if !self.allowed.iter().any(|a| a.scheme == scheme && a.host == host && a.port == port) {
            eprintln!(
                "picket-spin-host: outbound request to {scheme}://{host}:{port} denied (not in allowed_outbound_hosts)"
            );
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        Box::new(async move {
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((response.map(BodyExt::boxed_unsync), Box::new(io) as Box<dyn Future<Output = _> + Send>))
        })
    }
}

/// Makes a store and instance per request.
struct Server {
    engine: Engine,
    pre: ProxyPre<Host>,
    spin: Arc<SpinState>,
    allowed: Arc<Vec<AllowedHost>>,
}

impl HandlerState for Server {
    type StoreData = Host;
    type WorkerExpiration = Expiry;
    type WorkerState = OneRequest;

    async fn instantiate(&self) -> wasmtime::Result<Instance<Host, Expiry, OneRequest>> {
        let host = Host {
            table: ResourceTable::new(),
            wasi: WasiCtxBuilder::new().inherit_stderr().inherit_stdout().build(),
            http: WasiHttpCtx::new(),
            hooks: Outbound { allowed: self.allowed.clone() },
            spin: self.spin.clone(),
        };
        let mut store = Store::new(&self.engine, host);
        let proxy = self.pre.instantiate_async(&mut store).await?;
        Ok(Instance { store, proxy, view: |h: &mut Host| h.http(), expiration: Expiry::default(), state: OneRequest })
    }
}

/// Spin's model: an instance serves one request, then finishes its post-return work and ends.
struct OneRequest;

impl WorkerState for OneRequest {
    type StoreData = Host;
    type RequestData = ();

    fn should_accept_request(&self, _concurrent: usize, total: usize) -> ShouldAccept {
        if total == 0 {
            ShouldAccept::Yes
        } else {
            ShouldAccept::Never
        }
    }

    fn on_request_start(
        &self,
        _store: StoreContextMut<'_, Host>,
        _data: (),
        _task: wasmtime::component::GuestTaskId,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + Sync>> {
        Box::pin(tokio::time::sleep(REQUEST_TIMEOUT))
    }

    fn drop(&self, _store: Store<Host>, result: Result<(), wasmtime::Error>) {
        if let Err(e) = result {
            eprintln!("picket-spin-host: instance ended with an error: {e:?}");
        }
    }
}

/// Ends an instance when idle, or when a phase outlives its timeout.
#[derive(Default)]
struct Expiry {
    timer: Option<(WorkerStatus, Instant, Pin<Box<tokio::time::Sleep>>)>,
}

impl WorkerExpiration for Expiry {
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>, status: WorkerStatus, start: Instant) -> Poll<()> {
        let limit = match status {
            WorkerStatus::Idle => return Poll::Ready(()),
            WorkerStatus::Requests => REQUEST_TIMEOUT,
            WorkerStatus::PostReturn => POST_RETURN_TIMEOUT,
        };
        let current = matches!(&self.timer, Some((s, t, _)) if *s == status && *t == start);
        if !current {
            let sleep = Box::pin(tokio::time::sleep_until((start + limit).into()));
            self.timer = Some((status, start, sleep));
        }
        let (_, _, sleep) = self.timer.as_mut().expect("set above");
        sleep.as_mut().poll(cx)
    }
}

struct Args {
    list_imports: bool,
    manifest: PathBuf,
    listen: String,
    vars: HashMap<String, String>,
}

fn args() -> Result<Args> {
    let mut args =
        Args { list_imports: false, manifest: "spin.toml".into(), listen: "127.0.0.1:0".into(), vars: HashMap::new() };
    for (name, value) in std::env::vars() {
        if let Some(var) = name.strip_prefix("SPIN_VARIABLE_") {
            args.vars.insert(var.to_lowercase(), value);
        }
    }
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--manifest" => args.manifest = value()?.into(),
            "--listen" => args.listen = value()?,
            "--list-imports" => args.list_imports = true,
            "--var" => {
                let pair = value()?;
                let (k, v) = pair.split_once('=').with_context(|| format!("--var {pair}: expected name=value"))?;
                args.vars.insert(k.to_string(), v.to_string());
            }
            other => bail!("unknown argument {other:?}"),
        }
    }
    Ok(args)
}

fn internal_error(message: String) -> http::Response<WasiBody> {
    let body = Full::new(Bytes::from(format!("{{\"detail\":{message:?}}}"))).map_err(|never| match never {});
    let mut response = http::Response::new(body.boxed_unsync());
    *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
    response.headers_mut().insert("content-type", http::HeaderValue::from_static("application/json"));
    response
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = args()?;
    let app = manifest::load(&args.manifest, &args.vars)?;
    let mut config = Config::new();
    config.wasm_component_model(true).wasm_component_model_async(true);
    let engine = Engine::new(&config)?;
    let component = Component::from_file(&engine, &app.source).map_err(|e| {
        anyhow::anyhow!("loading {} (build it with `spin build` or scripts/build-spin): {e:?}", app.source.display())
    })?;
    if args.list_imports {
        // What a runtime must provide to run this component (checked by the tests).
        for (name, _) in component.component_type().imports(&engine) {
            println!("{name}");
        }
        return Ok(());
    }
    let mut linker: Linker<Host> = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi::p3::add_to_linker(&mut linker)?;
    wasmtime_wasi_http::p3::add_to_linker(&mut linker)?;
    spin::add_to_linker(&mut linker, |h: &mut Host| SpinView { state: h.spin.clone(), table: &mut h.table })?;
    let pre = ProxyPre::P3(wasmtime_wasi_http::p3::bindings::ServicePre::new(linker.instantiate_pre(&component)?)?);
    let server = Server {
        engine,
        pre,
        spin: Arc::new(SpinState::new(app.variables, app.key_value_stores)),
        allowed: Arc::new(app.allowed_hosts),
    };
    let handler = ProxyHandler::new(server);
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    println!("picket-spin-host listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    loop {
        let (stream, peer) = listener.accept().await?;
        let handler = handler.clone();
        tokio::spawn(async move {
            let service = service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
                let handler = handler.clone();
                async move {
                    // What Spin tells a component about its peer.
                    let addr = http::HeaderValue::from_str(&peer.to_string()).expect("an address is a valid header");
                    request.headers_mut().insert("spin-client-addr", addr);
                    // And about the URL it was asked for (the runtime drops `Host` itself).
                    let host = request.headers().get("host").and_then(|h| h.to_str().ok()).unwrap_or("localhost");
                    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
                    if let Ok(url) = http::HeaderValue::from_str(&format!("http://{host}{path}")) {
                        request.headers_mut().insert("spin-full-url", url);
                    }
                    let request = request.map(|b| b.map_err(wasmtime_wasi_http::Error::from).boxed_unsync());
                    let response = match handler.handle((), request).await {
                        Ok(response) => response,
                        Err(e) => {
                            eprintln!("picket-spin-host: the component failed: {e:?}");
                            internal_error(format!("the component failed: {e}"))
                        }
                    };
                    Ok::<_, Infallible>(response)
                }
            });
            let io = wasmtime_wasi_http::io::TokioIo::new(stream);
            if let Err(e) = http1::Builder::new().serve_connection(io, service).await {
                eprintln!("picket-spin-host: connection from {peer}: {e}");
            }
        });
    }
}
