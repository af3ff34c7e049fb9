//! `picket-origin`: wiring only — parse the command line, open the store, serve the app.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use picket::core::limits::Limits;
use picket_origin::store::{SqliteStore, Store};
use picket_origin::worker::{self, Queue};
use picket_origin::{app, bootstrap, AppState};
use tokio::net::TcpListener;

#[derive(Parser)]
#[command(
    name = "picket-origin",
    version,
    about = "Picket origin: stores Sentry events, groups issues, serves the API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve ingest, the relay config API and the web API.
    Serve {
        /// Address to listen on; port 0 picks a free one (printed on start).
        #[arg(long, default_value = "127.0.0.1:8000", env = "PICKET_ORIGIN_BIND")]
        bind: SocketAddr,
        /// Directory for the SQLite database and bootstrap.json.
        #[arg(long, default_value = ".picket", env = "PICKET_DATA_DIR")]
        data_dir: PathBuf,
        /// Organization slug created on first start.
        #[arg(long, default_value = "picket")]
        org: String,
        /// Project slug created on first start.
        #[arg(long, default_value = "dev")]
        project: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Serve { bind, data_dir, org, project } => {
            std::fs::create_dir_all(&data_dir)?;
            let store = SqliteStore::open(&data_dir.join("picket.db"))?;
            if let Some(b) = bootstrap::ensure(&store, &data_dir, &org, &project).await? {
                tracing::info!(org = %b.organization, project = %b.project, "created the first organization, project, key and token");
            }
            let limits = Limits::from_settings(|name| std::env::var(format!("PICKET_{name}")).ok())
                .map_err(|e| anyhow::anyhow!("limit settings: {e}"))?;
            let store: Arc<dyn Store> = Arc::new(store);
            let capacity = std::env::var("PICKET_MAX_PENDING").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
            let queue = Arc::new(Queue::new(store.pending_count().await?, capacity));
            let worker = tokio::spawn(worker::run(store.clone(), queue.clone()));
            let state = AppState { store, limits, queue };
            let listener = TcpListener::bind(bind).await?;
            // Tests and scripts read this line to learn the port.
            println!("picket-origin listening on http://{}", listener.local_addr()?);
            let service = app(state).into_make_service_with_connect_info::<SocketAddr>();
            axum::serve(listener, service).with_graceful_shutdown(shutdown()).await?;
            // Whatever is still queued is on disk and is processed on the next start.
            worker.abort();
            tracing::info!("stopped");
            Ok(())
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
