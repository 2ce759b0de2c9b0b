//! `GET/POST /admin/users`, `PATCH /admin/users/:id`: admins list accounts, create any role (this
//! is how vendors are made) and change roles or deactivate (CONTRACT §3).

use super::extract::{ApiJson, ApiPath, ApiQuery, Envelope, PageParams, Pagination, Reply};
use super::roles::Admin;
use super::user_views::UserView;
use super::AppState;
use crate::app::accounts::{create_account, NewAccount};
use crate::domain::gst::{Gstin, StateCode};
use crate::domain::ids::UserId;
use crate::domain::user::{check_name, Role};
use crate::error::{Error, ErrorBody, Result};
use crate::store::users::UserChanges;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(update_user))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserFilter {
    /// Only users of this role.
    pub role: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    pub users: Vec<UserView>,
    pub pagination: Pagination,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateUserBody {
    pub name: String,
    pub email: String,
    pub password: String,
    pub phone: Option<String>,
    pub role: Role,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateUserBody {
    pub role: Option<Role>,
    pub is_active: Option<bool>,
    pub name: Option<String>,
    /// A vendor's GSTIN (check character verified); `""` removes it. Its lines are then invoiced
    /// by the vendor (CONTRACT §10).
    pub gstin: Option<String>,
    /// The vendor's GST state, a code or a name; must be the GSTIN's (taken from it when left out).
    pub state: Option<String>,
}

/// List users (admin).
#[utoipa::path(get, path = "/admin/users", tag = "admin", security(("bearer" = [])),
    params(UserFilter, PageParams),
    responses(
        (status = 200, description = "A page of users", body = Envelope<UserList>),
        (status = 400, description = "Bad filter or page", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    ))]
async fn list_users(
    State(state): State<AppState>,
    _: Admin,
    ApiQuery(filter): ApiQuery<UserFilter>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Reply<UserList>> {
    let page = page.checked()?;
    let role = match filter.role.as_deref() {
        None | Some("") => None,
        Some(raw) => Some(
            Role::parse(raw)
                .ok_or_else(|| Error::invalid("role", "must be customer, vendor or admin", raw))?,
        ),
    };
    let (users, total) = state.store.list_users(role, page).await?;
    Ok(Reply::ok(
        "Users retrieved successfully",
        UserList {
            users: users.into_iter().map(UserView::from).collect(),
            pagination: Pagination::new(page, total),
        },
    ))
}

/// Create a user of any role (admin).
#[utoipa::path(post, path = "/admin/users", tag = "admin", security(("bearer" = [])),
    request_body = CreateUserBody,
    responses(
        (status = 201, description = "User created", body = Envelope<UserView>),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 409, description = "E-mail already registered", body = ErrorBody),
    ))]
async fn create_user(
    State(state): State<AppState>,
    _: Admin,
    ApiJson(body): ApiJson<CreateUserBody>,
) -> Result<Reply<UserView>> {
    let user = create_account(
        &state,
        NewAccount {
            name: body.name,
            email: body.email,
            password: body.password,
            phone: body.phone,
            role: body.role,
        },
    )
    .await?;
    Ok(Reply::created("User created successfully", user.into()))
}

/// Change a user's role, name or active flag (admin). Deactivation ends their sessions at once.
/// The caller's own standing is checked again inside the write (`Store::update_user`), so two
/// admins demoting each other at once cannot leave the shop without one.
#[utoipa::path(patch, path = "/admin/users/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    request_body = UpdateUserBody,
    responses(
        (status = 200, description = "User updated", body = Envelope<UserView>),
        (status = 400, description = "Invalid field or id", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin, or no longer one when the change is made", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "An admin cannot demote or deactivate themself, nor the last active admin", body = ErrorBody),
    ))]
async fn update_user(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateUserBody>,
) -> Result<Reply<UserView>> {
    let id = UserId::parse("id", &id)?;
    let name = body
        .name
        .as_deref()
        .map(|n| check_name("name", n, 100))
        .transpose()?;
    let gst = match body.gstin.as_deref().map(str::trim) {
        None => None,
        Some("") => Some(None),
        Some(raw) => {
            let gstin = Gstin::parse(raw).map_err(|why| Error::invalid("gstin", why, raw))?;
            let registered = gstin.state();
            let gst_state = match body.state.as_deref() {
                None => registered,
                Some(text) => StateCode::parse(text).ok_or_else(|| {
                    Error::invalid("state", "is not an Indian state or union territory", text)
                })?,
            };
            if gst_state != registered {
                return Err(Error::invalid(
                    "state",
                    format!("must be the GSTIN's state, {registered}"),
                    body.state.as_deref().unwrap_or_default(),
                ));
            }
            Some(Some((gstin, gst_state)))
        }
    };
    let user = state
        .store
        .update_user(
            &caller.id,
            id.as_str(),
            UserChanges {
                role: body.role,
                is_active: body.is_active,
                name,
                gst,
            },
        )
        .await?
        .ok_or_else(|| Error::not_found("User"))?;
    Ok(Reply::ok("User updated successfully", user.into()))
}
