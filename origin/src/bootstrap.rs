//! First start: an empty store gets an organization, a project with a DSN key, an API token,
//! a trusted edge identity (`dev`) and an owner who signs in to the web UI (a generated
//! password), written once to `bootstrap.json` in the data directory (mode 0600) for the
//! operator and `scripts/dev`.

use std::path::Path;

use serde_json::json;

use crate::ids;
use crate::store::{Bootstrap, Role, Store, TrustedEdge};

/// The file `scripts/dev` reads to write `dev.env`.
pub const FILE: &str = "bootstrap.json";

/// The first owner's email unless `--owner-email` names another.
pub const OWNER_EMAIL: &str = "owner@picket.local";

/// Creates the first organization/project/key/token and its owner if the store is empty.
pub async fn ensure(
    store: &dyn Store,
    data_dir: &Path,
    organization: &str,
    project: &str,
    owner_email: &str,
) -> anyhow::Result<Option<Bootstrap>> {
    // Checked before anything is created, so a bad address leaves the store empty.
    crate::people::normalize_email(owner_email).map_err(anyhow::Error::msg)?;
    let created = store.bootstrap(organization, project, &ids::public_key(), &ids::api_token()).await?;
    if let Some(b) = &created {
        let (relay_id, key) = ids::edge_identity();
        let edge = TrustedEdge { relay_id, public_key: key.public().to_string(), name: "dev".into() };
        store.trust_edge(&edge).await?;
        let owner = crate::people::create_user(store, owner_email, &b.organization, Role::Owner, None).await?;
        let body = json!({
            "organization": b.organization,
            "project": b.project,
            "project_id": b.project_id,
            "public_key": b.public_key,
            "token": b.token,
            "edge_relay_id": edge.relay_id,
            "edge_secret_key": key.to_string(),
            "owner_email": owner.user.email,
            "owner_password": owner.generated_password,
        });
        write_private(&data_dir.join(FILE), serde_json::to_string_pretty(&body)?.as_bytes())?;
    }
    Ok(created)
}

fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}
