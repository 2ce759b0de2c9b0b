//! Who is calling: the bearer token checked for signature, expiry and algorithm, and the user it
//! names still present and active. The account check is answered from `app::cache::AccountCache`
//! when it can be (kept by the change feed on every node, so deactivation and role changes bite
//! within a second everywhere, at once on the node that made them), else by one query.

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
    /// When the token expires (seconds since the epoch): a live stream ends then.
    pub expires_at: i64,
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
        let role = active_role(state, &claims.sub).await?.ok_or_else(|| {
            Error::Unauthorized("Account is deactivated or no longer exists".into())
        })?;
        if let Some(slot) = parts.extensions.get::<CallerSlot>() {
            let _ = slot.0.set(claims.sub.clone());
        }
        Ok(AuthUser {
            id: claims.sub,
            role,
            expires_at: claims.exp,
        })
    }
}

/// Put in a write request's extensions by `super::flush_after_writes`; the caller's id is written
/// into it once authenticated, so the caller's cached cart can be dropped after the write.
#[derive(Clone, Default)]
pub struct CallerSlot(pub std::sync::Arc<std::sync::OnceLock<String>>);

/// The role of an active account, `None` when it is deactivated or gone: from the account cache
/// when it holds a fresh answer, else read and remembered.
pub async fn active_role(state: &AppState, user_id: &str) -> Result<Option<Role>> {
    let connected = state.live.is_connected();
    if let Some(role) = state.live.accounts.get(user_id, connected) {
        return Ok(role);
    }
    let fill = state.live.accounts.begin(connected);
    let role = state.store.active_user_role(user_id).await?;
    state.live.accounts.put(user_id, role, fill);
    Ok(role)
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
