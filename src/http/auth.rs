//! `POST /auth/register`, `POST /auth/login`, `GET /auth/me` (CONTRACT §3).

use super::connection::ClientAddr;
use super::extract::{ApiJson, Reply};
use super::rate_limit;
use super::session::AuthUser;
use super::AppState;
use crate::auth::{hash_password, verify_password};
use crate::domain::time::to_rfc3339;
use crate::domain::user::{check_name, check_password, normalize_email, Phone, Role};
use crate::error::{Error, ErrorBody, Result};
use crate::store::users::{NewUser, User};
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
            created_at: to_rfc3339(user.created_at),
        }
    }
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

/// Checks the fields of a new account, hashes its password and stores it; a taken e-mail is a 409.
pub async fn create_account(
    state: &AppState,
    name: String,
    email: String,
    password: String,
    phone: Option<String>,
    role: Role,
) -> Result<User> {
    let name = check_name("name", &name, 100)?;
    let email = normalize_email(&email)?;
    check_password(&password)?;
    let phone = Phone::parse_optional(phone.as_deref())?;
    let password_hash = hash_password(password).await?;
    state
        .store
        .create_user(NewUser {
            name: &name,
            email: &email,
            phone: phone.as_ref().map(Phone::as_str),
            password_hash: &password_hash,
            role,
        })
        .await
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
        body.name,
        body.email,
        body.password,
        body.phone,
        Role::Customer,
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
    let user = match normalize_email(&body.email) {
        Ok(email) => state.store.user_by_email(&email).await?,
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
