//! People in SQL both backends run: users (email lowercased, Argon2id hash), memberships,
//! web sessions and personal API tokens (both by SHA-256 hex, never the secret), and sign-in
//! attempt counters shared by every origin process — exact under concurrent writers, since each
//! counter is read under its row's lock (SQLite's `BEGIN IMMEDIATE` holds the whole database).

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use super::db::Backend;
use super::rows::{organization_row, ORGANIZATION_COLUMNS};
use super::{Membership, NewSession, Role, Session, User, UserCredentials, UserToken};

const USER_COLUMNS: &str = "u.id, u.email, u.date_created";
const TOKEN_COLUMNS: &str = "id, name, date_created, last_used";

/// A last-seen time or a token's last use is written at most this often.
pub const TOUCH_EVERY_MS: i64 = 60_000;

fn user_row(r: &AnyRow) -> sqlx::Result<User> {
    Ok(User { id: r.try_get(0)?, email: r.try_get(1)?, date_created_ms: r.try_get(2)? })
}

fn token_row(r: &AnyRow) -> sqlx::Result<UserToken> {
    Ok(UserToken {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        date_created_ms: r.try_get(2)?,
        last_used_ms: r.try_get(3)?,
    })
}

fn bad_role(role: &str) -> sqlx::Error {
    sqlx::Error::Protocol(format!("unknown role {role:?} in memberships"))
}

/// Creates a user; `None` if the email (lowercased) is taken.
pub async fn create_user(
    c: &mut AnyConnection,
    email: &str,
    password_hash: &str,
    now_ms: i64,
) -> sqlx::Result<Option<User>> {
    let row = sqlx::query(
        "INSERT INTO users (email, password_hash, date_created) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING \
         RETURNING id, email, date_created",
    )
    .bind(email.to_lowercase())
    .bind(password_hash.to_string())
    .bind(now_ms)
    .fetch_optional(&mut *c)
    .await?;
    row.as_ref().map(user_row).transpose()
}

pub async fn user_credentials(c: &mut AnyConnection, email: &str) -> sqlx::Result<Option<UserCredentials>> {
    let row =
        sqlx::query(AssertSqlSafe(format!("SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.email = $1")))
            .bind(email.to_lowercase())
            .fetch_optional(&mut *c)
            .await?;
    row.map(|r| Ok(UserCredentials { user: user_row(&r)?, password_hash: r.try_get(3)? })).transpose()
}

pub async fn user(c: &mut AnyConnection, id: i64) -> sqlx::Result<Option<User>> {
    let row = sqlx::query(AssertSqlSafe(format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1")))
        .bind(id)
        .fetch_optional(&mut *c)
        .await?;
    row.as_ref().map(user_row).transpose()
}

/// Replaces a user's password hash and ends all their sessions; whether the user exists.
pub async fn set_password(tx: &mut AnyConnection, user_id: i64, password_hash: &str) -> sqlx::Result<bool> {
    let changed = sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(user_id)
        .bind(password_hash.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
    Ok(changed == 1)
}

/// Adds a user to an organization with `role`, or changes their role there.
pub async fn set_membership(
    tx: &mut AnyConnection,
    user_id: i64,
    organization_id: i64,
    role: Role,
    now_ms: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO memberships (organization_id, user_id, role, date_created) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (organization_id, user_id) DO UPDATE SET role = excluded.role",
    )
    .bind(organization_id)
    .bind(user_id)
    .bind(role.as_str())
    .bind(now_ms)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A user's organizations, by slug.
pub async fn memberships(c: &mut AnyConnection, user_id: i64) -> sqlx::Result<Vec<Membership>> {
    let columns = ORGANIZATION_COLUMNS.split(", ").map(|c| format!("o.{c}")).collect::<Vec<_>>().join(", ");
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {columns}, m.role FROM memberships m JOIN organizations o ON o.id = m.organization_id \
         WHERE m.user_id = $1 ORDER BY o.slug"
    )))
    .bind(user_id)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            let role: String = r.try_get(4)?;
            Ok(Membership {
                organization: organization_row(r)?,
                role: Role::parse(&role).ok_or_else(|| bad_role(&role))?,
            })
        })
        .collect()
}

pub async fn create_session(c: &mut AnyConnection, s: &NewSession) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO sessions (id, user_id, csrf, created, expires, last_seen) VALUES ($1, $2, $3, $4, $5, $4)",
    )
    .bind(s.id_sha256.clone())
    .bind(s.user_id)
    .bind(s.csrf.clone())
    .bind(s.created_ms)
    .bind(s.expires_ms)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// A session that has not expired at `now_ms`, with its user.
pub async fn session(c: &mut AnyConnection, id_sha256: &str, now_ms: i64) -> sqlx::Result<Option<Session>> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS}, s.csrf, s.created, s.expires, s.last_seen FROM sessions s \
         JOIN users u ON u.id = s.user_id WHERE s.id = $1 AND s.expires > $2"
    )))
    .bind(id_sha256.to_string())
    .bind(now_ms)
    .fetch_optional(&mut *c)
    .await?;
    row.map(|r| {
        Ok(Session {
            user: user_row(&r)?,
            csrf: r.try_get(3)?,
            created_ms: r.try_get(4)?,
            expires_ms: r.try_get(5)?,
            last_seen_ms: r.try_get(6)?,
        })
    })
    .transpose()
}

/// Records `now_ms` as a session's last use (if it is a minute or more later than the last).
pub async fn touch_session(c: &mut AnyConnection, id_sha256: &str, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE sessions SET last_seen = $2 WHERE id = $1 AND last_seen <= $3")
        .bind(id_sha256.to_string())
        .bind(now_ms)
        .bind(now_ms - TOUCH_EVERY_MS)
        .execute(&mut *c)
        .await?;
    Ok(())
}

pub async fn delete_session(c: &mut AnyConnection, id_sha256: &str) -> sqlx::Result<bool> {
    let n = sqlx::query("DELETE FROM sessions WHERE id = $1").bind(id_sha256.to_string()).execute(&mut *c).await?;
    Ok(n.rows_affected() > 0)
}

pub async fn create_user_token(
    c: &mut AnyConnection,
    user_id: i64,
    name: &str,
    token_sha256: &str,
    now_ms: i64,
) -> sqlx::Result<UserToken> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO user_tokens (user_id, token_sha256, name, date_created) VALUES ($1, $2, $3, $4) \
         RETURNING {TOKEN_COLUMNS}"
    )))
    .bind(user_id)
    .bind(token_sha256.to_string())
    .bind(name.to_string())
    .bind(now_ms)
    .fetch_one(&mut *c)
    .await?;
    token_row(&row)
}

/// A user's personal tokens, newest first.
pub async fn user_tokens(c: &mut AnyConnection, user_id: i64) -> sqlx::Result<Vec<UserToken>> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {TOKEN_COLUMNS} FROM user_tokens WHERE user_id = $1 ORDER BY id DESC"
    )))
    .bind(user_id)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(token_row).collect()
}

pub async fn delete_user_token(c: &mut AnyConnection, user_id: i64, token_id: i64) -> sqlx::Result<bool> {
    let n = sqlx::query("DELETE FROM user_tokens WHERE id = $1 AND user_id = $2")
        .bind(token_id)
        .bind(user_id)
        .execute(&mut *c)
        .await?;
    Ok(n.rows_affected() > 0)
}

/// The user of a personal token, recording its use (at most once a minute).
pub async fn token_user(c: &mut AnyConnection, token_sha256: &str, now_ms: i64) -> sqlx::Result<Option<User>> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS}, t.id, t.last_used FROM user_tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.token_sha256 = $1"
    )))
    .bind(token_sha256.to_string())
    .fetch_optional(&mut *c)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let (token_id, last_used): (i64, Option<i64>) = (row.try_get(3)?, row.try_get(4)?);
    if last_used.is_none_or(|t| t <= now_ms - TOUCH_EVERY_MS) {
        sqlx::query("UPDATE user_tokens SET last_used = $2 WHERE id = $1")
            .bind(token_id)
            .bind(now_ms)
            .execute(&mut *c)
            .await?;
    }
    Ok(Some(user_row(&row)?))
}

/// Counts one attempt under every `(scope, limit)` of the window ending at `window_end_ms`
/// if none has reached its limit; counts nothing and answers false if one has. Counters are
/// locked in one order, so concurrent attempts neither lose counts nor deadlock.
pub async fn try_attempt(
    tx: &mut AnyConnection,
    backend: Backend,
    scopes: &[(String, i64)],
    window_end_ms: i64,
) -> sqlx::Result<bool> {
    let mut sorted: Vec<&(String, i64)> = scopes.iter().collect();
    sorted.sort_unstable();
    let lock = match backend {
        Backend::Sqlite => "",
        Backend::Postgres => " FOR UPDATE",
    };
    let mut allowed = true;
    for (scope, limit) in &sorted {
        sqlx::query("INSERT INTO sign_in_attempts (scope, window_end, used) VALUES ($1, $2, 0) ON CONFLICT DO NOTHING")
            .bind(scope.clone())
            .bind(window_end_ms)
            .execute(&mut *tx)
            .await?;
        let used: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT used FROM sign_in_attempts WHERE scope = $1 AND window_end = $2{lock}"
        )))
        .bind(scope.clone())
        .bind(window_end_ms)
        .fetch_one(&mut *tx)
        .await?;
        allowed &= used < *limit;
    }
    if allowed {
        for (scope, _) in sorted {
            sqlx::query("UPDATE sign_in_attempts SET used = used + 1 WHERE scope = $1 AND window_end = $2")
                .bind(scope.clone())
                .bind(window_end_ms)
                .execute(&mut *tx)
                .await?;
        }
    }
    Ok(allowed)
}

/// Takes one attempt back under each scope (a sign-in that succeeded is not a failure).
pub async fn forgive_attempt(tx: &mut AnyConnection, scopes: &[String], window_end_ms: i64) -> sqlx::Result<()> {
    for scope in scopes {
        sqlx::query("UPDATE sign_in_attempts SET used = used - 1 WHERE scope = $1 AND window_end = $2 AND used > 0")
            .bind(scope.clone())
            .bind(window_end_ms)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Forgets expired sessions and attempt windows that have ended.
pub async fn sweep(tx: &mut AnyConnection, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM sessions WHERE expires <= $1").bind(now_ms).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM sign_in_attempts WHERE window_end <= $1").bind(now_ms).execute(&mut *tx).await?;
    Ok(())
}
