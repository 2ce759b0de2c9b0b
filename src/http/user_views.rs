//! How the API shows a user (auth and admin routes alike): never the password hash.

use crate::domain::time::to_rfc3339;
use crate::domain::user::Role;
use crate::store::users::User;
use serde::Serialize;
use utoipa::ToSchema;

/// A user as the API shows it: never the password hash.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    #[serde(rename = "_id")]
    pub id: String,
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    pub role: Role,
    pub is_active: bool,
    pub created_at: String,
    /// A vendor's GST registration, when it has one.
    pub gstin: Option<String>,
    /// Its GST state code (two digits).
    pub gst_state: Option<String>,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        UserView {
            role: user.role(),
            id: user.id,
            name: user.name,
            email: user.email,
            phone: user.phone,
            is_active: user.is_active,
            gstin: user.gstin,
            gst_state: user.gst_state.map(|state| state.as_code_text()),
            created_at: to_rfc3339(user.created_at),
        }
    }
}
