//! `POST /auth/register`, `POST /auth/login`, `GET /auth/me` (CONTRACT §3).

use super::connection::ClientAddr;
use super::extract::{ApiJson, Reply};
use super::rate_limit;
use super::session::AuthUser;
use super::user_views::UserView;
use super::AppState;
use crate::app::accounts::{create_account, NewAccount};
use crate::auth::verify_password;
use crate::domain::email::Email;
use crate::domain::user::Role;
use crate::error::{Error, ErrorBody, Result};
use axum::extract::{ConnectInfo, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(me))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub user: UserView,
    pub token: String,
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
        (status = 201, description = "Account created", body = super::extract::Envelope<SessionView>),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 409, description = "E-mail already registered", body = ErrorBody),
        (status = 429, description = "Too many attempts", body = ErrorBody),
    ))]
async fn register(
    State(state): State<AppState>,
    ConnectInfo(ClientAddr(client)): ConnectInfo<ClientAddr>,
    ApiJson(body): ApiJson<RegisterBody>,
) -> Result<Reply<SessionView>> {
    state
        .auth_limiter
        .check(&state.store, rate_limit::Bucket::Auth, client.ip())
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
    let token = state.jwt.issue(&user.id, user.role())?;
    Ok(Reply::created(
        "User registered successfully",
        SessionView {
            user: user.into(),
            token,
        },
    ))
}

/// Log in with e-mail and password.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginBody,
    responses(
        (status = 200, description = "Logged in", body = super::extract::Envelope<SessionView>),
        (status = 400, description = "Invalid body", body = ErrorBody),
        (status = 401, description = "Wrong e-mail or password (the same answer for both)", body = ErrorBody),
        (status = 429, description = "Too many attempts", body = ErrorBody),
    ))]
async fn login(
    State(state): State<AppState>,
    ConnectInfo(ClientAddr(client)): ConnectInfo<ClientAddr>,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Reply<SessionView>> {
    state
        .auth_limiter
        .check(&state.store, rate_limit::Bucket::Auth, client.ip())
        .await?;
    let invalid = || Error::Unauthorized("Invalid email or password".into());
    let user = match Email::parse(&body.email) {
        Ok(email) => state.store.user_by_email(email.as_str()).await?,
        Err(_) => None,
    };
    let password_ok = verify_password(
        body.password,
        user.as_ref().map(|u| u.password_hash.clone()),
    )
    .await?;
    let user = match user {
        Some(user) if password_ok && user.is_active => user,
        _ => return Err(invalid()),
    };
    let token = state.jwt.issue(&user.id, user.role())?;
    Ok(Reply::ok(
        "Login successful",
        SessionView {
            user: user.into(),
            token,
        },
    ))
}

/// The calling user.
#[utoipa::path(get, path = "/auth/me", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller", body = super::extract::Envelope<UserView>),
        (status = 401, description = "No, bad or expired token", body = ErrorBody),
    ))]
async fn me(State(state): State<AppState>, caller: AuthUser) -> Result<Reply<UserView>> {
    let user = state
        .store
        .user_by_id(&caller.id)
        .await?
        .ok_or_else(|| Error::Unauthorized("Account no longer exists".into()))?;
    Ok(Reply::ok("User retrieved successfully", user.into()))
}
