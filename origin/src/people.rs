//! People who sign in: email and password rules, Argon2id hashing and verification (run on
//! tokio's blocking pool, as they take tens of milliseconds of CPU), generated passwords, and
//! the user commands the CLI, the first start and the tests share. A password is printed once
//! when generated and never stored; only its PHC string (Argon2id, salt, hash) is.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde_json::{json, Value};

use crate::ids;
use crate::store::{Role, Store, User};

/// Passwords shorter than this are refused.
pub const MIN_PASSWORD: usize = 8;
/// Passwords longer than this are refused (hashing is bounded work).
pub const MAX_PASSWORD: usize = 1024;

/// An email as stored and compared: trimmed and lowercased, or why it is not an address.
pub fn normalize_email(raw: &str) -> Result<String, String> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(email.split_once('@'), Some((local, domain)) if !local.is_empty() && !domain.is_empty() && !domain.contains('@'));
    if valid {
        Ok(email)
    } else {
        Err(format!("not an email address: {raw:?}"))
    }
}

/// Whether a password may be set.
pub fn check_password(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_PASSWORD {
        Err(format!("a password has at least {MIN_PASSWORD} characters"))
    } else if password.len() > MAX_PASSWORD {
        Err(format!("a password has at most {MAX_PASSWORD} bytes"))
    } else {
        Ok(())
    }
}

/// A new random password: 24 hex digits (96 bits).
pub fn generate_password() -> String {
    ids::random_hex(12)
}

/// The Argon2id PHC string of `password` with a fresh 16-byte salt (CPU-heavy: call
/// [`hash_password`] from async code).
pub fn hash_password_blocking(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("the OS random source failed: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let hash = Argon2::default().hash_password(password.as_bytes(), &salt).map_err(|e| anyhow::anyhow!("hash: {e}"))?;
    Ok(hash.to_string())
}

/// Whether `password` matches a PHC string (constant-time comparison inside the crate); a
/// malformed string matches nothing.
pub fn verify_password_blocking(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// A hash no password is checked against for real: verifying an unknown email's attempt against
/// it costs what a real check costs, so timing does not tell which emails exist.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password_blocking(&generate_password()).expect("hashing a random password"))
}

/// Computes the dummy hash ahead of the first sign-in with an unknown email, so that one costs
/// no more than any other (blocking: run it on the blocking pool at start-up).
pub fn warm_up() {
    dummy_hash();
}

pub async fn hash_password(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash_password_blocking(&password)).await?
}

/// Verifies `password` against `phc`, or against a dummy hash when there is no user (always
/// false then), on the blocking pool.
pub async fn verify_password(password: String, phc: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || match phc {
        Some(phc) => verify_password_blocking(&password, &phc),
        None => {
            verify_password_blocking(&password, dummy_hash());
            false
        }
    })
    .await
    .unwrap_or(false)
}

/// What `create_user` did.
#[derive(Debug)]
pub struct CreatedUser {
    pub user: User,
    /// Whether the user is new (else they were added to the organization, or their role there
    /// changed, and their password is unchanged).
    pub created: bool,
    /// The password, when it was generated here.
    pub generated_password: Option<String>,
}

/// Creates a user who is a member of `org` with `role`, with `password` or a generated one;
/// an existing user (same email in any case) is added to `org` (or has their role there set)
/// and keeps their password.
pub async fn create_user(
    store: &dyn Store,
    email: &str,
    org: &str,
    role: Role,
    password: Option<String>,
) -> anyhow::Result<CreatedUser> {
    let email = normalize_email(email).map_err(anyhow::Error::msg)?;
    if let Some(p) = &password {
        check_password(p).map_err(anyhow::Error::msg)?;
    }
    let org = store.organization(org).await?.ok_or_else(|| anyhow::anyhow!("no organization {org:?}"))?;
    if let Some(found) = store.user_credentials(&email).await? {
        store.set_membership(found.user.id, org.id, role).await?;
        return Ok(CreatedUser { user: found.user, created: false, generated_password: None });
    }
    let generated = password.is_none().then(generate_password);
    let password = password.or_else(|| generated.clone()).unwrap_or_default();
    let hash = hash_password(password).await?;
    match store.create_user(&email, &hash, Some((org.id, role))).await? {
        Some(user) => Ok(CreatedUser { user, created: true, generated_password: generated }),
        // Created by someone else in between: add that user instead.
        None => {
            let found =
                store.user_credentials(&email).await?.ok_or_else(|| anyhow::anyhow!("user {email:?} vanished"))?;
            store.set_membership(found.user.id, org.id, role).await?;
            Ok(CreatedUser { user: found.user, created: false, generated_password: None })
        }
    }
}

/// Sets a user's password (given, or generated and returned) and ends their sessions.
pub async fn reset_password(
    store: &dyn Store,
    email: &str,
    password: Option<String>,
) -> anyhow::Result<Option<String>> {
    let email = normalize_email(email).map_err(anyhow::Error::msg)?;
    if let Some(p) = &password {
        check_password(p).map_err(anyhow::Error::msg)?;
    }
    let found = store.user_credentials(&email).await?.ok_or_else(|| anyhow::anyhow!("no user {email:?}"))?;
    let generated = password.is_none().then(generate_password);
    let hash = hash_password(password.or_else(|| generated.clone()).unwrap_or_default()).await?;
    anyhow::ensure!(store.set_password(found.user.id, &hash).await?, "no user {email:?}");
    Ok(generated)
}

/// Reads a password from standard input (one line; the line break is not part of it).
pub fn password_from_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// `picket-origin user create`: the JSON it prints (the password only when generated).
pub async fn cli_create(
    store: &dyn Store,
    email: &str,
    org: &str,
    role: Role,
    password: Option<String>,
) -> anyhow::Result<Value> {
    let done = create_user(store, email, org, role, password).await?;
    let mut out =
        json!({ "email": done.user.email, "organization": org, "role": role.as_str(), "created": done.created });
    if let Some(p) = done.generated_password {
        out["password"] = json!(p);
    }
    Ok(out)
}

/// `picket-origin user reset-password`: the JSON it prints (the password only when generated).
pub async fn cli_reset(store: &dyn Store, email: &str, password: Option<String>) -> anyhow::Result<Value> {
    let generated = reset_password(store, email, password).await?;
    let mut out = json!({ "email": normalize_email(email).unwrap_or_default(), "sessions": "ended" });
    if let Some(p) = generated {
        out["password"] = json!(p);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let phc = hash_password_blocking("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(verify_password_blocking("correct horse", &phc));
        assert!(!verify_password_blocking("correct horsE", &phc));
        assert!(!verify_password_blocking("correct horse", "not a phc string"));
        // A fresh salt each time.
        assert_ne!(phc, hash_password_blocking("correct horse").unwrap());
    }

    #[tokio::test]
    async fn an_unknown_user_never_verifies() {
        assert!(!verify_password("anything at all".into(), None).await);
    }

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(normalize_email("  Ann@Example.COM ").unwrap(), "ann@example.com");
        for bad in ["", "ann", "@example.com", "ann@", "a b@example.com", "a@b@c"] {
            assert!(normalize_email(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn passwords_have_bounds() {
        assert!(check_password("short").is_err());
        assert!(check_password("long enough").is_ok());
        assert!(check_password(&"x".repeat(MAX_PASSWORD + 1)).is_err());
        assert_eq!(generate_password().len(), 24);
    }
}
