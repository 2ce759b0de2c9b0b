//! Who may call a route, said by the handler's signature: `AnyUser`, `Customer`, `Vendor`,
//! `Admin` or `Editor` (an admin or a vendor). Each is an extractor that authenticates the caller
//! (`session::authenticate`: 401 for no, bad or expired token or an ended session) and then checks
//! the role as stored now (403 for any other), before the path, query or body is read. The table
//! of every route and who may call it is `super::routes::ROUTE_ROLES`.

use super::session::{authenticate, AuthUser};
use super::AppState;
use crate::domain::user::Role;
use crate::error::{Error, Result};
use crate::store::products;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use std::ops::Deref;

/// The caller when `roles` holds its role; else a 403 with `denied`.
async fn caller_in(
    parts: &mut Parts,
    state: &AppState,
    roles: &[Role],
    denied: &str,
) -> Result<AuthUser> {
    let caller = authenticate(parts, state).await?;
    if roles.contains(&caller.role) {
        Ok(caller)
    } else {
        Err(Error::Forbidden(denied.into()))
    }
}

const NOT_ALLOWED: &str = "You do not have permission to perform this action";

/// One extractor per set of roles; each derefs to the `AuthUser` it checked.
macro_rules! role_extractor {
    ($(#[$doc:meta])* $name:ident, [$($role:expr),+], $denied:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(pub AuthUser);

        impl FromRequestParts<AppState> for $name {
            type Rejection = Error;

            async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
                caller_in(parts, state, &[$($role),+], $denied).await.map($name)
            }
        }

        impl Deref for $name {
            type Target = AuthUser;

            fn deref(&self) -> &AuthUser {
                &self.0
            }
        }
    };
}

role_extractor!(
    /// Any signed-in account, whatever its role.
    AnyUser,
    [Role::Customer, Role::Vendor, Role::Admin],
    NOT_ALLOWED
);
role_extractor!(
    /// A customer: the people who buy (and review what they bought); not staff or vendors.
    Customer,
    [Role::Customer],
    "Only customers can perform this action"
);
role_extractor!(
    /// A vendor account.
    Vendor,
    [Role::Vendor],
    NOT_ALLOWED
);
role_extractor!(
    /// An admin account.
    Admin,
    [Role::Admin],
    NOT_ALLOWED
);
role_extractor!(
    /// An admin or a vendor: who may create and edit products (a vendor only its own).
    Editor,
    [Role::Admin, Role::Vendor],
    NOT_ALLOWED
);

impl Editor {
    /// How the catalog store scopes this editor's changes: any product, or the vendor's own.
    pub fn product_editor(&self) -> products::Editor<'_> {
        if self.0.role == Role::Admin {
            products::Editor::Admin
        } else {
            products::Editor::Vendor(&self.0.id)
        }
    }
}
