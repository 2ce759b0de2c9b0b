//! Who is calling: the session token, from `Authorization: Bearer` (API clients) or from the
//! `HttpOnly` session cookie (the browser apps, CONTRACT §8), checked for signature, expiry and
//! algorithm, and the user it names still present, active and at the token's session version
//! (logout and deactivation bump the version, which ends every earlier token). The account check
//! is answered from `app::cache::AccountCache` when it can be (kept by the change feed on every
//! node, so deactivation, logout and role changes bite within a second everywhere, at once on the
//! node that made them), else by one query.
//!
//! A browser attaches the cookie to any request for this origin, including one a hostile page
//! triggers, so a cookie-authenticated request that changes state must also carry
//! `X-CSRF-Token`: a value derived from the session token (`JwtKeys::csrf_token`) that only this
//! origin's pages can learn. A bearer token is never attached by a browser on its own, so it
//! needs no such proof.

use super::AppState;
use crate::domain::user::Role;
use crate::error::{Error, Result};
use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "cartwright_session";
/// The header a cookie-authenticated write must carry.
pub const CSRF_HEADER: &str = "x-csrf-token";

#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: String,
    /// The role as stored now, not as it was when the token was issued.
    pub role: Role,
    /// When the token expires (seconds since the epoch): a live stream ends then.
    pub expires_at: i64,
    /// The session version the token was issued at.
    pub session_version: i64,
    /// The session token as presented.
    pub token: String,
    /// Whether the token came in the session cookie rather than the `Authorization` header.
    pub by_cookie: bool,
}

impl AuthUser {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// The bearer token of the `Authorization` header: `None` without the header, a 401 when it is
/// not `Bearer <token>`.
fn bearer_token(headers: &HeaderMap) -> Result<Option<String>> {
    let Some(header) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    header
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| Some(t.to_string()))
        .ok_or_else(|| Error::Unauthorized("Authorization header must be 'Bearer <token>'".into()))
}

/// The session cookie's value, if the request carries a non-empty one.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim().trim_matches('"').to_string())
        .filter(|value| !value.is_empty())
}

/// Safe methods change nothing, so a cookie alone may authorize them.
fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The `Set-Cookie` value that starts a session: `HttpOnly` (no script reads it), `SameSite=Strict`
/// (no other site's page sends it), `Secure` behind TLS (`COOKIE_SECURE`), and a lifetime of the
/// token's own.
pub fn session_cookie_header(token: &str, max_age_seconds: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age_seconds}{secure}"
    ))
    .expect("a JWT is a valid header value")
}

/// The `Set-Cookie` value that ends a session in the browser.
pub fn cleared_cookie_header(secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure}"
    ))
    .expect("plain ASCII")
}

/// The token a request presents and whether it came in the cookie: the `Authorization` header
/// when there is one (the cookie is then ignored), else the session cookie.
pub fn presented_token(headers: &HeaderMap) -> Result<Option<(String, bool)>> {
    Ok(match bearer_token(headers)? {
        Some(token) => Some((token, false)),
        None => session_cookie(headers).map(|token| (token, true)),
    })
}

/// The CSRF proof a cookie-authenticated write needs: `X-CSRF-Token` must be the session's
/// `csrfToken`, else 403.
pub fn check_csrf(state: &AppState, token: &str, headers: &HeaderMap) -> Result<()> {
    let presented = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if state.jwt.csrf_matches(token, presented) {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "Missing or wrong X-CSRF-Token header: a request authenticated by the session cookie \
             must send the csrfToken of its session"
                .into(),
        ))
    }
}

/// The caller of a request: 401 without a token, with a bad or expired one, for a deactivated
/// account or an ended session; 403 for a cookie-authenticated write without its CSRF proof.
/// Handlers do not call this: they name who may call them with an extractor of `super::roles`.
pub async fn authenticate(parts: &mut Parts, state: &AppState) -> Result<AuthUser> {
    let (token, by_cookie) = presented_token(&parts.headers)?.ok_or_else(|| {
        Error::Unauthorized(
            "Authentication required: send Authorization: Bearer <token>, or log in for a \
             session cookie"
                .into(),
        )
    })?;
    let claims = state.jwt.verify(&token)?;
    if by_cookie && changes_state(&parts.method) {
        check_csrf(state, &token, &parts.headers)?;
    }
    let role = match active_role(state, &claims.sub, claims.sv).await? {
        Standing::Active(role) => role,
        Standing::Deactivated => {
            return Err(Error::Unauthorized(
                "Account is deactivated or no longer exists".into(),
            ))
        }
        Standing::SessionEnded => {
            return Err(Error::Unauthorized(
                "Session has ended; log in again".into(),
            ))
        }
    };
    if let Some(slot) = parts.extensions.get::<CallerSlot>() {
        let _ = slot.0.set(claims.sub.clone());
    }
    Ok(AuthUser {
        id: claims.sub,
        role,
        expires_at: claims.exp,
        session_version: claims.sv,
        token,
        by_cookie,
    })
}

/// Put in a write request's extensions by `super::flush_after_writes`; the caller's id is written
/// into it once authenticated, so the caller's cached cart can be dropped after the write.
#[derive(Clone, Default)]
pub struct CallerSlot(pub std::sync::Arc<std::sync::OnceLock<String>>);

/// Whether a token's holder may still act.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Active, at the token's session version, with the role stored now.
    Active(Role),
    /// Deactivated or gone.
    Deactivated,
    /// Active, but the token's session was ended (logout, an earlier deactivation).
    SessionEnded,
}

/// Where the account of a token issued at `session_version` stands: from the account cache when
/// it holds a fresh answer, else read (one statement) and remembered.
pub async fn active_role(
    state: &AppState,
    user_id: &str,
    session_version: i64,
) -> Result<Standing> {
    let connected = state.live.is_connected();
    let account = match state.live.accounts.get(user_id, connected) {
        Some(account) => account,
        None => {
            let fill = state.live.accounts.begin(connected);
            let account = state.store.active_account(user_id).await?;
            state.live.accounts.put(user_id, account, fill);
            account
        }
    };
    Ok(match account {
        None => Standing::Deactivated,
        Some(account) if account.session_version != session_version => Standing::SessionEnded,
        Some(account) => Standing::Active(account.role),
    })
}

/// The caller when a token is present, `None` when not. A bad bearer token is still a 401; a
/// session cookie that no longer names a live session is ignored (the browser sends it by itself,
/// and a public page must not fail for it).
pub struct MaybeAuthUser(pub Option<AuthUser>);

impl FromRequestParts<AppState> for MaybeAuthUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        if parts.headers.contains_key(AUTHORIZATION) {
            authenticate(parts, state)
                .await
                .map(|u| MaybeAuthUser(Some(u)))
        } else if session_cookie(&parts.headers).is_some() {
            match authenticate(parts, state).await {
                Ok(user) => Ok(MaybeAuthUser(Some(user))),
                Err(Error::Unauthorized(_) | Error::Forbidden(_)) => Ok(MaybeAuthUser(None)),
                Err(other) => Err(other),
            }
        } else {
            Ok(MaybeAuthUser(None))
        }
    }
}
