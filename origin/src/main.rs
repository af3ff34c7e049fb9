//! `picket-origin`: wiring only — parse the command line, open the store, then serve the app
//! or run one management command.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Parser, Subcommand};
use picket::core::limits::Limits;
use picket_origin::commit::{CommitSettings, Committer};
use picket_origin::metrics::Metrics;
use picket_origin::process::{self, normalize::Context};
use picket_origin::store::{DatabaseUrl, PoolSettings, Role, SqlStore, Store};
use picket_origin::worker::{self, Queue};
use picket_origin::{app, bootstrap, manage, people, AppState};
use tokio::net::TcpListener;

#[derive(Parser)]
#[command(
    name = "picket-origin",
    version,
    about = "Picket origin: stores Sentry events, groups issues, serves the API"
)]
struct Cli {
    /// Directory for bootstrap.json and, unless --database names another, the SQLite database.
    #[arg(long, global = true, default_value = ".picket", env = "PICKET_DATA_DIR")]
    data_dir: PathBuf,
    /// The database: `sqlite:PATH` or `postgres://USER:PASSWORD@HOST:PORT/DATABASE`; defaults to
    /// `sqlite:DATA_DIR/picket.db`. Several origin processes may share one PostgreSQL database.
    #[arg(long, global = true, env = "PICKET_DATABASE_URL", hide_env_values = true)]
    database: Option<DatabaseUrl>,
    /// Connections this process opens to the database at most (default: 4 for SQLite, 16 for
    /// PostgreSQL, where every origin process counts against the server's `max_connections`).
    #[arg(long, global = true, env = "PICKET_DB_MAX_CONNECTIONS")]
    db_max_connections: Option<u32>,
    /// How long a request waits for a free database connection before answering 503.
    #[arg(long, global = true, default_value_t = 10, env = "PICKET_DB_ACQUIRE_TIMEOUT_SECS")]
    db_acquire_timeout_secs: u64,
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
        /// Organization slug created on first start.
        #[arg(long, default_value = "picket")]
        org: String,
        /// Project slug created on first start.
        #[arg(long, default_value = "dev")]
        project: String,
        /// Where SDKs send (the edge), for the DSNs the API shows; defaults to this server.
        #[arg(long, env = "PICKET_DSN_URL")]
        dsn_url: Option<String>,
        /// At most this many accepted envelopes wait for processing; past it ingest answers 503.
        #[arg(long, default_value_t = 10_000, env = "PICKET_MAX_PENDING")]
        max_pending: usize,
        /// On SIGTERM/SIGINT, requests in flight get this many seconds to finish; then it exits.
        #[arg(long, default_value_t = 10, env = "PICKET_DRAIN_SECS")]
        drain_secs: u64,
        /// A request body must arrive within this many seconds (else 408).
        #[arg(long, default_value_t = 30, env = "PICKET_BODY_TIMEOUT_SECS")]
        body_timeout_secs: u64,
        /// Proxies in front of the origin that append the client's address to X-Forwarded-For
        /// (believed for direct SDK traffic; signed edges name the client themselves). 0 believes
        /// only the connecting address.
        #[arg(long, default_value_t = 0, env = "PICKET_TRUSTED_PROXIES", value_parser = clap::value_parser!(u8).range(0..=16))]
        trusted_proxies: u8,
        /// Email of the owner created on first start (password generated, in bootstrap.json).
        #[arg(long, default_value = bootstrap::OWNER_EMAIL, env = "PICKET_OWNER_EMAIL")]
        owner_email: String,
        /// If set, `GET /metrics` answers only `Authorization: Bearer <token>`; unset, it answers
        /// anyone who can reach the origin (fine on loopback or a private network).
        #[arg(long, env = "PICKET_METRICS_TOKEN", hide_env_values = true)]
        metrics_token: Option<String>,
    },
    /// Manage the people who sign in to the web UI.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Manage organizations.
    Org {
        #[command(subcommand)]
        action: OrgAction,
    },
    /// Manage projects.
    Project {
        #[command(subcommand)]
        action: ProjectAction,
    },
    /// Manage DSN keys.
    Key {
        #[command(subcommand)]
        action: KeyAction,
    },
    /// Manage quotas (Relay quota objects).
    Quota {
        #[command(subcommand)]
        action: QuotaAction,
    },
    /// Manage inbound filters.
    Filter {
        #[command(subcommand)]
        action: FilterAction,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Manage the edges whose signed requests the origin accepts.
    Edge {
        #[command(subcommand)]
        action: EdgeAction,
    },
    /// Process one event (JSON on stdin) as ingest would, and print the stored event with its
    /// title, culprit and grouping. Nothing is stored.
    ProcessEvent {
        /// When the event was received (Unix milliseconds); now if unset.
        #[arg(long)]
        received_ms: Option<i64>,
        /// The envelope's `sent_at` (RFC 3339), for clock-drift correction.
        #[arg(long)]
        sent_at: Option<String>,
        #[arg(long)]
        client_ip: Option<String>,
        #[arg(long, default_value_t = 90)]
        retention_days: i64,
        /// `datascrubbingSettings` as JSON (Relay's names); scrubbing defaults if unset.
        #[arg(long)]
        scrubbing: Option<String>,
    },
    /// Delete what is older than each project's retention, now or as of a given instant.
    Sweep {
        /// Pretend it is this RFC 3339 instant (to preview or test retention).
        #[arg(long)]
        as_of: Option<String>,
    },
}

#[derive(Subcommand)]
enum OrgAction {
    /// Create an organization.
    Create { slug: String },
}

#[derive(Subcommand)]
enum UserAction {
    /// Create a user in an organization (prints a generated password once), or add an existing
    /// user to another organization (their password is unchanged).
    Create {
        email: String,
        #[arg(long)]
        org: String,
        #[arg(long, default_value = "member", value_parser = ["owner", "member"])]
        role: String,
        /// Read the password from the first line of standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password (generated and printed once, or from stdin) and end the user's sessions.
    ResetPassword {
        email: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
enum ProjectAction {
    /// Create a project (with a first DSN key) in an organization.
    Create { org: String, slug: String },
    /// Set the browser origins a project accepts (`*`, `example.com`, `*.example.com`).
    AllowedDomains {
        org: String,
        project: String,
        #[arg(required = true)]
        domains: Vec<String>,
    },
}

#[derive(Subcommand)]
enum KeyAction {
    /// Add a DSN key to a project.
    Create {
        org: String,
        project: String,
        #[arg(long, default_value = "Default")]
        label: String,
    },
    /// Limit a key to COUNT events per WINDOW seconds (no --count clears the limit).
    RateLimit {
        org: String,
        project: String,
        public_key: String,
        #[arg(long, default_value_t = 60)]
        window: u64,
        #[arg(long)]
        count: Option<u64>,
    },
    /// Stop accepting events sent with a key (numeric id or public key); it stays listed.
    Disable { key: String },
    /// Accept events sent with a disabled key again.
    Enable { key: String },
    /// Delete a key for good: its events are refused and it is no longer listed.
    Delete { key: String },
}

#[derive(Subcommand)]
enum QuotaAction {
    /// Replace the organization's quotas, or the project's with --project (a JSON list).
    Set {
        org: String,
        json: String,
        #[arg(long)]
        project: Option<String>,
    },
}

#[derive(Subcommand)]
enum FilterAction {
    /// Replace a project's inbound filters (Relay's `filterSettings` as JSON).
    Set { org: String, project: String, json: String },
}

#[derive(Subcommand)]
enum TokenAction {
    /// Create an API token for an organization (shown once).
    Create { org: String },
}

#[derive(Subcommand)]
enum EdgeAction {
    /// Make a new edge identity (Relay id + ed25519 key pair) and trust it; prints the secret once.
    Create {
        #[arg(long, default_value = "edge")]
        name: String,
    },
    /// Trust an edge whose key pair was made elsewhere.
    Trust {
        relay_id: String,
        /// Base64url, which may start with `-`.
        #[arg(allow_hyphen_values = true)]
        public_key: String,
        #[arg(long, default_value = "edge")]
        name: String,
    },
    /// List the trusted edges.
    List,
}

/// How long shutdown and request bodies may take, and whom the origin believes about clients.
struct Times {
    drain: std::time::Duration,
    body: std::time::Duration,
    trusted_proxies: usize,
    metrics_token: Option<String>,
}

async fn open_store(cli: &Cli) -> anyhow::Result<SqlStore> {
    std::fs::create_dir_all(&cli.data_dir)?;
    let url = cli.database.clone().unwrap_or_else(|| DatabaseUrl::sqlite_file(&cli.data_dir.join("picket.db")));
    let mut pool = PoolSettings::default_for(url.backend());
    pool.max_connections = cli.db_max_connections.unwrap_or(pool.max_connections);
    pool.acquire_timeout = std::time::Duration::from_secs(cli.db_acquire_timeout_secs);
    let store = SqlStore::open(&url, pool).await?;
    tracing::debug!(database = %url, schema = url.backend().schema_version(), "database open");
    Ok(store)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let store = open_store(&cli).await?;
    let output = match cli.command {
        Command::Serve {
            bind,
            org,
            project,
            dsn_url,
            max_pending,
            drain_secs,
            body_timeout_secs,
            trusted_proxies,
            owner_email,
            metrics_token,
        } => {
            let times = Times {
                drain: std::time::Duration::from_secs(drain_secs),
                body: std::time::Duration::from_secs(body_timeout_secs),
                trusted_proxies: trusted_proxies.into(),
                metrics_token: metrics_token.filter(|t| !t.is_empty()),
            };
            let first = (org.as_str(), project.as_str(), owner_email.as_str());
            return serve(store, &cli.data_dir, bind, first, dsn_url, max_pending, times).await;
        }
        Command::User { action: UserAction::Create { email, org, role, password_stdin } } => {
            let role = Role::parse(&role).ok_or_else(|| anyhow::anyhow!("a role is owner or member"))?;
            let password = password_stdin.then(people::password_from_stdin).transpose()?;
            people::cli_create(&store, &email, &org, role, password).await?
        }
        Command::User { action: UserAction::ResetPassword { email, password_stdin } } => {
            let password = password_stdin.then(people::password_from_stdin).transpose()?;
            people::cli_reset(&store, &email, password).await?
        }
        Command::Org { action: OrgAction::Create { slug } } => manage::create_organization(&store, &slug).await?,
        Command::Project { action: ProjectAction::Create { org, slug } } => {
            manage::create_project(&store, &org, &slug).await?
        }
        Command::Project { action: ProjectAction::AllowedDomains { org, project, domains } } => {
            manage::set_allowed_domains(&store, &org, &project, &domains).await?
        }
        Command::Key { action: KeyAction::Create { org, project, label } } => {
            manage::create_key(&store, &org, &project, &label).await?
        }
        Command::Token { action: TokenAction::Create { org } } => manage::create_token(&store, &org).await?,
        Command::Edge { action: EdgeAction::Create { name } } => manage::create_edge(&store, &name).await?,
        Command::Edge { action: EdgeAction::Trust { relay_id, public_key, name } } => {
            manage::trust_edge(&store, &relay_id, &public_key, &name).await?
        }
        Command::Edge { action: EdgeAction::List } => manage::list_edges(&store).await?,
        Command::Key { action: KeyAction::RateLimit { org, project, public_key, window, count } } => {
            manage::set_key_rate_limit(&store, &org, &project, &public_key, count.map(|c| (window, c))).await?
        }
        Command::Key { action: KeyAction::Disable { key } } => manage::set_key_active(&store, &key, false).await?,
        Command::Key { action: KeyAction::Enable { key } } => manage::set_key_active(&store, &key, true).await?,
        Command::Key { action: KeyAction::Delete { key } } => manage::delete_key(&store, &key).await?,
        Command::Quota { action: QuotaAction::Set { org, json, project } } => {
            manage::set_quotas(&store, &org, project.as_deref(), &json).await?
        }
        Command::Filter { action: FilterAction::Set { org, project, json } } => {
            manage::set_filters(&store, &org, &project, &json).await?
        }
        Command::Sweep { as_of } => manage::sweep(&store, as_of.as_deref()).await?,
        Command::ProcessEvent { received_ms, sent_at, client_ip, retention_days, scrubbing } => {
            let scrubbing = scrubbing.map(|s| serde_json::from_str(&s)).transpose()?.unwrap_or_default();
            let payload: serde_json::Value = serde_json::from_reader(std::io::stdin())?;
            let ctx = Context {
                received_ms: received_ms.unwrap_or_else(|| chrono::Utc::now().timestamp_millis()),
                sent_at_ms: sent_at
                    .map(|s| chrono::DateTime::parse_from_rfc3339(&s))
                    .transpose()?
                    .map(|d| d.timestamp_millis()),
                client_ip: client_ip.as_deref(),
                retention_days,
            };
            process::inspect(payload, &ctx, &scrubbing).map_err(|e| anyhow::anyhow!(e))?
        }
    };
    println!("{output}");
    Ok(())
}

async fn serve(
    store: SqlStore,
    data_dir: &Path,
    bind: SocketAddr,
    (org, project, owner_email): (&str, &str, &str),
    dsn_url: Option<String>,
    max_pending: usize,
    times: Times,
) -> anyhow::Result<()> {
    if let Some(b) = bootstrap::ensure(&store, data_dir, org, project, owner_email).await? {
        tracing::info!(org = %b.organization, project = %b.project, "created the first organization, project, key, token and owner");
    }
    tokio::task::spawn_blocking(people::warm_up);
    let limits = Limits::from_settings(|name| std::env::var(format!("PICKET_{name}")).ok())
        .map_err(|e| anyhow::anyhow!("limit settings: {e}"))?;
    let pool = store.clone();
    let commit = CommitSettings::for_backend(store.backend());
    let store: Arc<dyn Store> = Arc::new(store);
    let queue = Arc::new(Queue::new(store.pending_count().await?, max_pending));
    let metrics = Arc::new(Metrics::default());
    let worker = tokio::spawn(worker::run(store.clone(), queue.clone(), metrics.clone()));
    let sweeper = tokio::spawn(worker::retention(store.clone()));
    let committer = Committer::start(store.clone(), commit, metrics.clone());
    let state = AppState {
        store,
        limits,
        queue,
        dsn_url,
        body_timeout: times.body,
        trusted_proxies: times.trusted_proxies,
        committer,
        metrics,
        metrics_token: times.metrics_token,
    };
    let listener = TcpListener::bind(bind).await?;
    // Tests and scripts read this line to learn the port.
    println!("picket-origin listening on http://{}", listener.local_addr()?);
    let service = app(state).into_make_service_with_connect_info::<SocketAddr>();
    let stopping = Arc::new(tokio::sync::Notify::new());
    let signalled = stopping.clone();
    let server = axum::serve(listener, service).with_graceful_shutdown(async move {
        shutdown().await;
        signalled.notify_one();
    });
    // Every 200 was committed before it was sent, so cutting a slow request off loses nothing
    // that was answered.
    tokio::select! {
        served = std::future::IntoFuture::into_future(server) => served?,
        _ = async { stopping.notified().await; tokio::time::sleep(times.drain).await } => {
            tracing::warn!(seconds = times.drain.as_secs(), "requests still in flight after the drain time; exiting");
        }
    }
    // Whatever is still queued is on disk and is processed on the next start.
    worker.abort();
    sweeper.abort();
    pool.close().await;
    tracing::info!("stopped");
    Ok(())
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
