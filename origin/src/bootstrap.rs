//! First start: an empty store gets an organization, a project with a DSN key and an API
//! token, written once to `bootstrap.json` in the data directory (mode 0600) for the operator.

use std::path::Path;

use serde_json::json;

use crate::ids;
use crate::store::{Bootstrap, Store};

/// The file `scripts/dev` reads to write `dev.env`.
pub const FILE: &str = "bootstrap.json";

/// Creates the first organization/project/key/token if the store is empty.
pub async fn ensure(
    store: &dyn Store,
    data_dir: &Path,
    organization: &str,
    project: &str,
) -> anyhow::Result<Option<Bootstrap>> {
    let created = store.bootstrap(organization, project, &ids::public_key(), &ids::api_token()).await?;
    if let Some(b) = &created {
        let body = json!({
            "organization": b.organization,
            "project": b.project,
            "project_id": b.project_id,
            "public_key": b.public_key,
            "token": b.token,
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
