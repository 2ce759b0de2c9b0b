//! Placeholder: being written.

use crate::store::Store;

pub async fn load_if_empty(_store: &Store) -> anyhow::Result<bool> {
    Ok(false)
}
