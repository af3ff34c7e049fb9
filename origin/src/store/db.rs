//! Opening a database from its URL — `sqlite:PATH` (created if missing; WAL, `synchronous=FULL`)
//! or `postgres://...` — as a connection pool, with the versioned migrations of its backend
//! applied at start-up. An origin refuses a database whose schema is newer than it knows.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::{AnyPool, Executor};

/// The migrations of each backend, embedded at build time from `origin/migrations/`.
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Which database a URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    fn migrator(self) -> &'static Migrator {
        match self {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    /// The newest schema version this build knows.
    pub fn schema_version(self) -> i64 {
        self.migrator().iter().map(|m| m.version).max().unwrap_or(0)
    }
}

/// A database URL: `sqlite:PATH` (`sqlite://PATH` too) or `postgres://...`/`postgresql://...`.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    backend: Backend,
    url: String,
}

impl DatabaseUrl {
    /// The SQLite file at `path`.
    pub fn sqlite_file(path: &Path) -> Self {
        DatabaseUrl { backend: Backend::Sqlite, url: format!("sqlite:{}", path.display()) }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL as given, password included (for connecting, never for logs).
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// What sqlx connects to: SQLite files are created when missing.
    fn connect_url(&self) -> String {
        match self.backend {
            Backend::Sqlite if !self.url.contains('?') => format!("{}?mode=rwc", self.url),
            _ => self.url.clone(),
        }
    }
}

impl FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let backend = if let Some(path) = text.strip_prefix("sqlite:") {
            if path.trim_start_matches('/').is_empty() {
                return Err("a sqlite: URL needs a file path, as in sqlite:/var/lib/picket/picket.db".into());
            }
            Backend::Sqlite
        } else if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err("a database URL is sqlite:PATH or postgres://USER@HOST/DATABASE".into());
        };
        Ok(DatabaseUrl { backend, url: text.to_string() })
    }
}

/// Shows the URL without its password.
impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.url.split_once("://"), self.url.rfind('@')) {
            (Some((scheme, rest)), Some(at)) if self.backend == Backend::Postgres => {
                let credentials = &rest[..at - scheme.len() - 3];
                let user = credentials.split(':').next().unwrap_or_default();
                write!(f, "{scheme}://{user}{}{}", if credentials.contains(':') { ":***" } else { "" }, &self.url[at..])
            }
            _ => f.write_str(&self.url),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The connection pool's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolSettings {
    /// Connections this process opens at most (PostgreSQL counts them against its
    /// `max_connections` across every origin process).
    pub max_connections: u32,
    /// How long a query waits for a free connection before failing (a 503 to the client).
    pub acquire_timeout: Duration,
}

impl PoolSettings {
    /// SQLite writes one transaction at a time whatever the pool; a few connections let reads
    /// run beside it. PostgreSQL runs transactions side by side.
    pub fn default_for(backend: Backend) -> Self {
        let max_connections = match backend {
            Backend::Sqlite => 4,
            Backend::Postgres => 16,
        };
        PoolSettings { max_connections, acquire_timeout: Duration::from_secs(10) }
    }
}

/// How long SQLite waits for another writer before giving up with "database is locked".
const SQLITE_BUSY_TIMEOUT_MS: u32 = 10_000;

/// Opens the pool and brings the schema up to date.
pub async fn open(url: &DatabaseUrl, settings: PoolSettings) -> anyhow::Result<AnyPool> {
    sqlx::any::install_default_drivers();
    let backend = url.backend;
    let pool = AnyPoolOptions::new()
        .max_connections(settings.max_connections.max(1))
        .acquire_timeout(settings.acquire_timeout)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    // WAL lets readers run beside the writer; FULL syncs every commit to disk
                    // before the origin answers for what it wrote.
                    conn.execute(sqlx::AssertSqlSafe(format!("PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")))
                        .await?;
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = FULL").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                }
                Ok(())
            })
        })
        .connect(&url.connect_url())
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the database {url}: {e}"))?;
    // sqlx takes a lock (an advisory lock on PostgreSQL) so origins starting together migrate once.
    match backend.migrator().run(&pool).await {
        Ok(()) => Ok(pool),
        Err(MigrateError::VersionMissing(version)) => anyhow::bail!(
            "the database {url} has schema version {version}, newer than this picket-origin knows (up to {}); \
             run the picket-origin that migrated it, or a newer one",
            backend.schema_version()
        ),
        Err(e) => Err(anyhow::anyhow!("cannot migrate the database {url}: {e}")),
    }
}

/// Whether a failed transaction may simply be run again: PostgreSQL's serialization failures
/// and deadlocks, and SQLite's "database is locked" after its busy timeout.
pub fn is_transient(error: &anyhow::Error) -> bool {
    let Some(sqlx::Error::Database(db)) = error.downcast_ref::<sqlx::Error>() else {
        return false;
    };
    matches!(db.code().as_deref(), Some("40001" | "40P01" | "5" | "517" | "261"))
}

/// Reads a JSON text column.
pub fn json_column(row: &AnyRow, index: usize) -> sqlx::Result<serde_json::Value> {
    use sqlx::Row;
    let text: String = row.try_get(index)?;
    serde_json::from_str(&text).map_err(|e| sqlx::Error::ColumnDecode { index: index.to_string(), source: Box::new(e) })
}

/// Reads a 0/1 integer column (booleans are integers in both schemas).
pub fn flag_column(row: &AnyRow, index: usize) -> sqlx::Result<bool> {
    use sqlx::Row;
    Ok(row.try_get::<i64, _>(index)? != 0)
}

/// A count or size as the `BIGINT` it is stored as, failing rather than wrapping.
pub fn big(n: impl TryInto<i64>) -> sqlx::Result<i64> {
    n.try_into().map_err(|_| sqlx::Error::Protocol("a number does not fit a BIGINT".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_by_scheme_and_hide_passwords() {
        let u: DatabaseUrl = "postgres://picket:s3cret@db.internal:5432/picket".parse().unwrap();
        assert_eq!(u.backend(), Backend::Postgres);
        assert_eq!(u.to_string(), "postgres://picket:***@db.internal:5432/picket");
        let u: DatabaseUrl = "sqlite:/var/lib/picket/picket.db".parse().unwrap();
        assert_eq!(u.backend(), Backend::Sqlite);
        assert_eq!(u.connect_url(), "sqlite:/var/lib/picket/picket.db?mode=rwc");
        assert!("mysql://x".parse::<DatabaseUrl>().is_err());
        assert!("sqlite:".parse::<DatabaseUrl>().is_err());
    }

    #[test]
    fn each_backend_knows_the_same_schema_versions() {
        let versions = |b: Backend| b.migrator().iter().map(|m| m.version).collect::<Vec<_>>();
        assert_eq!(versions(Backend::Sqlite), versions(Backend::Postgres));
        assert!(Backend::Sqlite.schema_version() >= 2);
    }
}
