//! `POST /auth/register`, `POST /auth/login`, `GET /auth/me` (CONTRACT §3), and the browser
//! apps' cookie session (CONTRACT §8): login and registration also set the `HttpOnly` session
//! cookie, `GET /auth/session` tells a reloaded page who it is and its CSRF token, and
//! `POST /auth/logout` ends the session on the server (every token of the account) and clears the
//! cookie. Account recovery and the holder's own changes (CONTRACT §9): `POST /auth/password/forgot`,
//! `POST /auth/password/reset`, `POST /auth/password/change`, `PATCH /auth/me`.

use super::connection::ClientIp;
use super::extract::{ApiJson, Reply};
use super::rate_limit;
use super::roles::AnyUser;
use super::session::{check_csrf, cleared_cookie_header, presented_token, session_cookie_header};
use super::user_views::UserView;
use super::AppState;
use crate::app::accounts::{self, create_account, NewAccount};
use crate::auth::verify_password;
use crate::domain::email::Email;
use crate::domain::user::Role;
use crate::error::{Error, ErrorBody, Result};
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(me, update_me))
        .routes(routes!(current_session))
        .routes(routes!(logout))
        .routes(routes!(forgot_password))
        .routes(routes!(reset_password))
        .routes(routes!(change_password))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub user: UserView,
    /// For API clients: send it as `Authorization: Bearer <token>`. The browser apps ignore it
    /// and use the session cookie set by the same answer.
    pub token: String,
    /// For requests authenticated by the session cookie: send it as `X-CSRF-Token` on every
    /// request that is not GET, HEAD or OPTIONS.
    #[serde(rename = "csrfToken")]
    pub csrf_token: String,
}

/// The caller of a cookie session and the CSRF token its writes must carry.
#[derive(Debug, Serialize, ToSchema)]
pub struct CookieSessionView {
    pub user: UserView,
    #[serde(rename = "csrfToken")]
    pub csrf_token: String,
}

/// A new session: the body for API clients, and the `Set-Cookie` value for browsers.
fn start_session(
    state: &AppState,
    user: crate::store::users::User,
) -> Result<(HeaderValue, SessionView)> {
    let token = state
        .jwt
        .issue(&user.id, user.role(), user.session_version)?;
    let cookie = session_cookie_header(&token, state.jwt.ttl_seconds(), state.config.cookie_secure);
    let view = SessionView {
        user: user.into(),
        csrf_token: state.jwt.csrf_token(&token),
        token,
    };
    Ok((cookie, view))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterBody {
    pub name: String,
    pub email: String,
    /// 8 to 128 characters.
    pub password: String,
    pub phone: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginBody {
    pub email: String,
    pub password: String,
}

/// Register a customer account.
#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = RegisterBody,
    responses(
        (status = 201, description = "Account created; also sets the `HttpOnly` session cookie",
            body = super::extract::Envelope<SessionView>,
            headers(("set-cookie" = String, description = "cartwright_session=<token>; HttpOnly; SameSite=Strict; Path=/"))),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 409, description = "E-mail already registered", body = ErrorBody),
        (status = 429, description = "Too many attempts", body = ErrorBody),
    ))]
async fn register(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    ApiJson(body): ApiJson<RegisterBody>,
) -> Result<Response> {
    state
        .auth_limiter
        .check(&state.store, rate_limit::Bucket::Auth, client)
        .await?;
    let user = create_account(
        &state,
        NewAccount {
            name: body.name,
            email: body.email,
            password: body.password,
            phone: body.phone,
            role: Role::Customer,
        },
    )
    .await?;
    let (cookie, view) = start_session(&state, user)?;
    Ok((
        [(SET_COOKIE, cookie)],
        Reply::created("User registered successfully", view),
    )
        .into_response())
}

/// Log in with e-mail and password.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginBody,
    responses(
        (status = 200, description = "Logged in; also sets the `HttpOnly` session cookie",
            body = super::extract::Envelope<SessionView>,
            headers(("set-cookie" = String, description = "cartwright_session=<token>; HttpOnly; SameSite=Strict; Path=/"))),
        (status = 400, description = "Invalid body", body = ErrorBody),
        (status = 401, description = "Wrong e-mail or password (the same answer for both)", body = ErrorBody),
        (status = 429, description = "Too many attempts from this client, or too many wrong passwords for this account (`LOGIN_FAILURES_PER_ACCOUNT` per `LOGIN_FAILURE_WINDOW_SECONDS`; the same answer for an email without an account)", body = ErrorBody),
    ))]
async fn login(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response> {
    state
        .auth_limiter
        .check(&state.store, rate_limit::Bucket::Auth, client)
        .await?;
    let invalid = || Error::Unauthorized("Invalid email or password".into());
    let user = match Email::parse(&body.email) {
        Ok(email) => state.store.user_by_email(email.as_str()).await?,
        Err(_) => None,
    };
    let account = rate_limit::account_key(&body.email);
    let limiter = state.account_limiter;
    limiter
        .check(
            &state.store,
            &account,
            user.as_ref().map(|u| u.id.as_str()),
            client,
        )
        .await?;
    let password_ok = verify_password(
        body.password,
        user.as_ref().map(|u| u.password_hash.clone()),
    )
    .await?;
    let user = match user {
        Some(user) if password_ok && user.is_active => user,
        _ => {
            limiter
                .record_failure(&state.store, &account, client)
                .await?;
            return Err(invalid());
        }
    };
    limiter
        .record_success(&state.store, &user.id, client)
        .await?;
    let (cookie, view) = start_session(&state, user)?;
    Ok(([(SET_COOKIE, cookie)], Reply::ok("Login successful", view)).into_response())
}

/// The calling user.
#[utoipa::path(get, path = "/auth/me", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller", body = super::extract::Envelope<UserView>),
        (status = 401, description = "No, bad or expired token", body = ErrorBody),
    ))]
async fn me(State(state): State<AppState>, AnyUser(caller): AnyUser) -> Result<Reply<UserView>> {
    let user = state
        .store
        .user_by_id(&caller.id)
        .await?
        .ok_or_else(|| Error::Unauthorized("Account no longer exists".into()))?;
    Ok(Reply::ok("User retrieved successfully", user.into()))
}

/// The caller of a session and its CSRF token (how a reloaded page recovers its cookie session).
#[utoipa::path(get, path = "/auth/session", tag = "auth", security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The caller and the `csrfToken` its cookie-authenticated writes send as `X-CSRF-Token`",
            body = super::extract::Envelope<CookieSessionView>),
        (status = 401, description = "No session, or it has ended", body = ErrorBody),
    ))]
async fn current_session(
    State(state): State<AppState>,
    AnyUser(caller): AnyUser,
) -> Result<Reply<CookieSessionView>> {
    let user = state
        .store
        .user_by_id(&caller.id)
        .await?
        .ok_or_else(|| Error::Unauthorized("Account no longer exists".into()))?;
    Ok(Reply::ok(
        "Session retrieved successfully",
        CookieSessionView {
            user: user.into(),
            csrf_token: state.jwt.csrf_token(&caller.token),
        },
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoggedOut {
    /// Whether this call ended a live session (false when it had already ended).
    pub ended: bool,
}

/// Log out: end the session on the server and clear the session cookie.
///
/// Ends every session of the account (its tokens stop working on every node within a second).
/// Idempotent: a missing or already ended session is a 200 too, and a token older than the
/// account's current session ends nothing. With the session cookie it needs `X-CSRF-Token`.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Logged out; the session cookie is cleared",
            body = super::extract::Envelope<LoggedOut>,
            headers(("set-cookie" = String, description = "cartwright_session=; Max-Age=0"))),
        (status = 401, description = "A malformed Authorization header", body = ErrorBody),
        (status = 403, description = "Cookie session without its X-CSRF-Token", body = ErrorBody),
    ))]
async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Result<Response> {
    let mut ended = false;
    if let Some((token, by_cookie)) = presented_token(&headers)? {
        // An expired or foreign token names no session to end; the cookie is cleared all the same.
        if let Ok(claims) = state.jwt.verify(&token) {
            if by_cookie {
                check_csrf(&state, &token, &headers)?;
            }
            ended = state.store.end_sessions_at(&claims.sub, claims.sv).await?;
            // This node stops accepting the tokens before answering; the others hear it through
            // the change feed.
            state.live.accounts.invalidate(&claims.sub);
        }
    }
    let cleared = cleared_cookie_header(state.config.cookie_secure);
    Ok((
        [(SET_COOKIE, cleared)],
        Reply::ok("Logged out", LoggedOut { ended }),
    )
        .into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ForgotPasswordBody {
    pub email: String,
}

/// The same answer whether or not the address has an account.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResetRequested {}

/// Ask for a password reset email.
///
/// Always the same 200, whether or not an account has this address (no account enumeration).
/// For an active account, an email with a single-use link `PUBLIC_URL/#/reset?token=...` valid
/// `PASSWORD_RESET_TTL_MINUTES` (at most 3 such emails per account per hour). Rate limited per
/// client like login.
#[utoipa::path(post, path = "/auth/password/forgot", tag = "auth", request_body = ForgotPasswordBody,
    responses(
        (status = 200, description = "Accepted (the same answer for every address)", body = super::extract::Envelope<ResetRequested>),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 429, description = "Too many attempts", body = ErrorBody),
    ))]
async fn forgot_password(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    ApiJson(body): ApiJson<ForgotPasswordBody>,
) -> Result<Reply<ResetRequested>> {
    state
        .auth_limiter
        .check(&state.store, rate_limit::Bucket::Auth, client)
        .await?;
    accounts::request_password_reset(&state, &body.email).await?;
    Ok(Reply::ok(
        "If an account uses this address, we have sent it a link to reset the password",
        ResetRequested {},
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetPasswordBody {
    /// The token of the reset link.
    pub token: String,
    /// 8 to 128 characters.
    pub password: String,
}

/// Set a new password with the token of a reset email.
///
/// The token is spent; every token issued before the reset stops working (on every node within
/// a second). Log in with the new password afterwards.
#[utoipa::path(post, path = "/auth/password/reset", tag = "auth", request_body = ResetPasswordBody,
    responses(
        (status = 200, description = "Password changed", body = super::extract::Envelope<UserView>),
        (status = 400, description = "Invalid, used or expired token, or a bad password", body = ErrorBody),
        (status = 429, description = "Too many attempts", body = ErrorBody),
    ))]
async fn reset_password(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    ApiJson(body): ApiJson<ResetPasswordBody>,
) -> Result<Reply<UserView>> {
    state
        .auth_limiter
        .check(&state.store, rate_limit::Bucket::Auth, client)
        .await?;
    let user = accounts::reset_password(&state, &body.token, body.password).await?;
    Ok(Reply::ok(
        "Your password was changed; log in with the new one",
        user.into(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangePasswordBody {
    pub current_password: String,
    /// 8 to 128 characters.
    pub new_password: String,
}

/// Change the caller's password.
///
/// Ends every session of the account (its other tokens stop working on every node within a
/// second) and starts a new one for the caller: a fresh token, and the session cookie.
#[utoipa::path(post, path = "/auth/password/change", tag = "auth", security(("bearer" = []), ("cookie" = [])),
    request_body = ChangePasswordBody,
    responses(
        (status = 200, description = "Password changed; a new session",
            body = super::extract::Envelope<SessionView>,
            headers(("set-cookie" = String, description = "cartwright_session=<token>; HttpOnly; SameSite=Strict; Path=/"))),
        (status = 400, description = "Wrong current password (`errors[0].field` = currentPassword) or a bad new one", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    ))]
async fn change_password(
    State(state): State<AppState>,
    AnyUser(caller): AnyUser,
    ApiJson(body): ApiJson<ChangePasswordBody>,
) -> Result<Response> {
    let user =
        accounts::change_password(&state, &caller.id, body.current_password, body.new_password)
            .await?;
    let (cookie, view) = start_session(&state, user)?;
    Ok(([(SET_COOKIE, cookie)], Reply::ok("Password changed", view)).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateMeBody {
    /// 1 to 100 characters.
    pub name: Option<String>,
    /// A phone number; empty clears it.
    pub phone: Option<String>,
}

/// Change the caller's name or phone.
#[utoipa::path(patch, path = "/auth/me", tag = "auth", security(("bearer" = []), ("cookie" = [])),
    request_body = UpdateMeBody,
    responses(
        (status = 200, description = "The caller, changed", body = super::extract::Envelope<UserView>),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    ))]
async fn update_me(
    State(state): State<AppState>,
    AnyUser(caller): AnyUser,
    ApiJson(body): ApiJson<UpdateMeBody>,
) -> Result<Reply<UserView>> {
    let user = accounts::update_profile(
        &state,
        &caller.id,
        body.name.as_deref(),
        body.phone.as_deref(),
    )
    .await?;
    Ok(Reply::ok("Profile updated", user.into()))
}
