//! Who is calling: the bearer token checked for signature, expiry and algorithm, and the user it
//! names still present and active (so deactivation takes effect at once).

use super::AppState;
use crate::domain::user::Role;
use crate::error::{Error, Result};
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: String,
    /// The role as stored now, not as it was when the token was issued.
    pub role: Role,
}

impl AuthUser {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    pub fn require_admin(&self) -> Result<()> {
        self.require_any(&[Role::Admin])
    }

    pub fn require_any(&self, roles: &[Role]) -> Result<()> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(Error::Forbidden(
                "You do not have permission to perform this action".into(),
            ))
        }
    }
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
            Error::Unauthorized(
                "Authentication required: send Authorization: Bearer <token>".into(),
            )
        })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Error::Unauthorized("Authorization header must be 'Bearer <token>'".into())
            })?;
        let claims = state.jwt.verify(token)?;
        let role = state
            .store
            .active_user_role(&claims.sub)
            .await?
            .ok_or_else(|| {
                Error::Unauthorized("Account is deactivated or no longer exists".into())
            })?;
        Ok(AuthUser {
            id: claims.sub,
            role,
        })
    }
}

/// The caller when a token is present, `None` when not; a bad token is still a 401.
pub struct MaybeAuthUser(pub Option<AuthUser>);

impl FromRequestParts<AppState> for MaybeAuthUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        if parts.headers.contains_key(AUTHORIZATION) {
            AuthUser::from_request_parts(parts, state)
                .await
                .map(|u| MaybeAuthUser(Some(u)))
        } else {
            Ok(MaybeAuthUser(None))
        }
    }
}
