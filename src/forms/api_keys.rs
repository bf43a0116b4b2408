//! Creating an API key (`POST /api-keys`).

use serde::Deserialize;

use super::{plain_text, FieldErrors};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct NewKeyFields {
    pub name: String,
}

impl NewKeyFields {
    /// The key's name, shown as `by` on every change it makes.
    pub fn parse(&self) -> Result<String, FieldErrors> {
        plain_text("name", &self.name, 100).map_err(Into::into)
    }
}
