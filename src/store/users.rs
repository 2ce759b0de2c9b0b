//! Accounts: users, their roles and whether they may still sign in.

use super::{read, transaction, write, PageRequest, Store};
use crate::domain::gst::{Gstin, StateCode};
use crate::domain::ids::new_id;
use crate::domain::time::now_millis;
use crate::domain::user::Role;
use crate::error::{Error, ErrorCode, Result, ResultExt};
use async_trait::async_trait;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct User {
    pub id: String,
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    pub password_hash: String,
    pub role: Role,
    pub is_active: bool,
    /// Bumped to end every session of the account (`crate::auth::Claims::sv`).
    pub session_version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// A vendor's own GST registration (CONTRACT §10): it then invoices its own lines.
    pub gstin: Option<String>,
    pub gst_state: Option<StateCode>,
}

/// What the per-request account check needs of an active account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveAccount {
    pub role: Role,
    /// Tokens issued with another version are refused.
    pub session_version: i64,
}

impl User {
    pub fn role(&self) -> Role {
        self.role
    }
}

pub struct NewUser<'a> {
    pub name: &'a str,
    pub email: &'a str,
    pub phone: Option<&'a str>,
    pub password_hash: &'a str,
    pub role: Role,
}

/// What `PATCH /admin/users/:id` may change.
#[derive(Default)]
pub struct UserChanges {
    pub role: Option<Role>,
    pub is_active: Option<bool>,
    pub name: Option<String>,
    /// `Some(None)` removes the registration.
    pub gst: Option<Option<(Gstin, StateCode)>>,
}

const USER_COLUMNS: &str =
    "id, name, email, phone, password_hash, role, is_active, session_version, created_at, updated_at, \
     gstin, gst_state";

impl Store {
    /// Inserts a user; a taken e-mail is a 409.
    pub async fn create_user(&self, new: NewUser<'_>) -> Result<User> {
        let now = now_millis();
        let user = User {
            id: new_id(),
            name: new.name.to_string(),
            email: new.email.to_string(),
            phone: new.phone.map(str::to_string),
            password_hash: new.password_hash.to_string(),
            role: new.role,
            is_active: true,
            session_version: 0,
            created_at: now,
            updated_at: now,
            gstin: None,
            gst_state: None,
        };
        write!(self, |pool| {
            sqlx::query(
                "INSERT INTO users (id, name, email, phone, password_hash, role, is_active, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&user.id)
            .bind(&user.name)
            .bind(&user.email)
            .bind(&user.phone)
            .bind(&user.password_hash)
            .bind(user.role)
            .bind(user.is_active)
            .bind(user.created_at)
            .bind(user.updated_at)
            .execute(pool)
            .await
            .on_unique_violation(|| Error::Conflict(ErrorCode::AlreadyExists, "A user with this email already exists".into()))?;
        });
        Ok(user)
    }

    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1");
        Ok(read!(self, |pool| sqlx::query_as(&sql)
            .bind(email)
            .fetch_optional(pool)
            .await?))
    }

    /// The users with these ids (the customers of a page of orders), one statement per
    /// `MAX_LIST_BINDS` ids; unknown ids are left out.
    pub async fn users_by_ids(&self, ids: &[String]) -> Result<Vec<User>> {
        let mut users = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(super::MAX_LIST_BINDS) {
            let found: Vec<User> = read!(self, |pool| {
                let mut query = sqlx::QueryBuilder::new(format!(
                    "SELECT {USER_COLUMNS} FROM users WHERE id IN ("
                ));
                let mut list = query.separated(", ");
                for id in chunk {
                    list.push_bind(id.as_str());
                }
                query.push(")");
                query.build_query_as().fetch_all(pool).await?
            });
            users.extend(found);
        }
        Ok(users)
    }

    pub async fn user_by_id(&self, id: &str) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        Ok(read!(self, |pool| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await?))
    }

    /// The role and session version of an active user, or `None` when the user is gone or
    /// deactivated. Called on every authenticated request not answered by the account cache, so
    /// it is one statement reading three columns by primary key.
    pub async fn active_account(&self, id: &str) -> Result<Option<ActiveAccount>> {
        let row: Option<(String, i64)> = read!(self, |pool| {
            sqlx::query_as("SELECT role, session_version FROM users WHERE id = $1 AND is_active")
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.and_then(|(role, session_version)| {
            Role::parse(&role).map(|role| ActiveAccount {
                role,
                session_version,
            })
        }))
    }

    /// Ends every session of the user: tokens issued before this carry an older version and are
    /// refused from now on (on every node within a second, through the change feed). For logout,
    /// and for password changes and resets. Returns `false` when there is no such user.
    pub async fn bump_session_version(&self, id: &str) -> Result<bool> {
        let changed = write!(self, |pool| {
            sqlx::query(
                "UPDATE users SET session_version = session_version + 1, updated_at = $2
                 WHERE id = $1",
            )
            .bind(id)
            .bind(now_millis())
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(changed == 1)
    }

    /// Password reset (CONTRACT §9), in one transaction: the token (its hash) is consumed by one
    /// conditional update (unused and unexpired), the password replaced, the account's other
    /// reset tokens spent, and its session version bumped so every token issued before stops
    /// working. `None` when the token is unknown, used, expired, or its account inactive.
    pub async fn reset_password(
        &self,
        token_hash: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<Option<User>> {
        let sql = format!(
            "UPDATE users SET password_hash = $2, session_version = session_version + 1,
                    updated_at = $3
             WHERE id = $1 AND is_active RETURNING {USER_COLUMNS}"
        );
        Ok(transaction!(self, |tx| {
            let consumed: Option<(String,)> = sqlx::query_as(
                "UPDATE password_resets SET used_at = $2
                 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
                 RETURNING user_id",
            )
            .bind(token_hash)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((user_id,)) = consumed else {
                return Ok(None);
            };
            let user: Option<User> = sqlx::query_as(&sql)
                .bind(&user_id)
                .bind(password_hash)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
            if user.is_none() {
                // Deactivated since the email: the token is not spent on nothing.
                return Err(Error::invalid(
                    "token",
                    "This reset link is invalid, used or expired",
                    serde_json::Value::Null,
                ));
            }
            sqlx::query(
                "UPDATE password_resets SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL",
            )
            .bind(&user_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            user
        }))
    }

    /// A new password for the account, if its hash is still `current_hash` (so of two racing
    /// changes one wins), ending every session: tokens issued before are refused from now on.
    pub async fn change_password(
        &self,
        id: &str,
        current_hash: &str,
        password_hash: &str,
    ) -> Result<Option<User>> {
        let sql = format!(
            "UPDATE users SET password_hash = $3, session_version = session_version + 1,
                    updated_at = $4
             WHERE id = $1 AND password_hash = $2 AND is_active RETURNING {USER_COLUMNS}"
        );
        Ok(write!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(id)
                .bind(current_hash)
                .bind(password_hash)
                .bind(now_millis())
                .fetch_optional(pool)
                .await?
        }))
    }

    /// The account holder's own changes: name and phone (`None` leaves one as it is; an empty
    /// phone clears it).
    pub async fn update_profile(
        &self,
        id: &str,
        name: Option<&str>,
        phone: Option<Option<&str>>,
    ) -> Result<Option<User>> {
        let sql = format!(
            "UPDATE users SET name = COALESCE($2, name),
                    phone = CASE WHEN $3 THEN $4 ELSE phone END, updated_at = $5
             WHERE id = $1 RETURNING {USER_COLUMNS}"
        );
        Ok(write!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(id)
                .bind(name)
                .bind(phone.is_some())
                .bind(phone.flatten())
                .bind(now_millis())
                .fetch_optional(pool)
                .await?
        }))
    }

    pub async fn any_admin_exists(&self) -> Result<bool> {
        let row: Option<(String,)> = read!(self, |pool| {
            sqlx::query_as("SELECT id FROM users WHERE role = 'admin' LIMIT 1")
                .fetch_optional(pool)
                .await?
        });
        Ok(row.is_some())
    }

    /// Users, newest first, optionally of one role. Returns the page and the total count.
    pub async fn list_users(
        &self,
        role: Option<Role>,
        page: PageRequest,
    ) -> Result<(Vec<User>, i64)> {
        let role = role.map(Role::as_str);
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE ($1 IS NULL OR role = $1)
             ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
        );
        let count_sql = "SELECT COUNT(*) FROM users WHERE ($1 IS NULL OR role = $1)";
        Ok(read!(self, |pool| {
            let users = sqlx::query_as(&sql)
                .bind(role)
                .bind(page.limit)
                .bind(page.offset())
                .fetch_all(pool)
                .await?;
            let (total,): (i64,) = sqlx::query_as(count_sql).bind(role).fetch_one(pool).await?;
            (users, total)
        }))
    }

    /// Logout: ends the user's sessions, but only if the token logging out is still current
    /// (its version is the stored one), so replaying an old token's logout ends nothing newer.
    /// One conditional statement; returns whether it ended anything.
    pub async fn end_sessions_at(&self, id: &str, session_version: i64) -> Result<bool> {
        let changed = write!(self, |pool| {
            sqlx::query(
                "UPDATE users SET session_version = session_version + 1, updated_at = $3
                 WHERE id = $1 AND session_version = $2",
            )
            .bind(id)
            .bind(session_version)
            .bind(now_millis())
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(changed == 1)
    }

    /// Applies `admin_id`'s changes to user `id` and returns the updated user (`None`: no such
    /// user). Runs in one transaction that first locks the rows of every active admin (in id
    /// order, so two such transactions cannot deadlock; SQLite's single writer serializes them
    /// anyway), and re-checks there, against what is committed now rather than what the caller's
    /// token or the account cache said:
    /// - an admin may not demote or deactivate their own account (409);
    /// - the caller is still an active admin (403): one demoted or deactivated a moment ago, on
    ///   any node, changes nothing;
    /// - the change does not leave the shop without an active admin (409).
    ///
    /// So of two admins demoting each other at the same moment, the second to get the lock finds
    /// it is no longer an admin and is refused. Deactivation also bumps the session version, so
    /// reactivating the account does not revive the tokens it had.
    pub async fn update_user(
        &self,
        admin_id: &str,
        id: &str,
        changes: UserChanges,
    ) -> Result<Option<User>> {
        let removes_admin = changes.is_active == Some(false)
            || changes.role.is_some_and(|role| role != Role::Admin);
        if removes_admin && id == admin_id {
            // Keeps at least the acting admin able to undo a mistake.
            return Err(Error::Conflict(
                ErrorCode::Conflict,
                "You cannot demote or deactivate your own account".into(),
            ));
        }
        let sql = format!(
            "UPDATE users SET role = COALESCE($2, role), is_active = COALESCE($3, is_active),
                    session_version = CASE WHEN $3 = FALSE THEN session_version + 1
                                           ELSE session_version END,
                    name = COALESCE($4, name), updated_at = $5,
                    gstin = CASE WHEN $6 THEN $7 ELSE gstin END,
                    gst_state = CASE WHEN $6 THEN $8 ELSE gst_state END
             WHERE id = $1 RETURNING {USER_COLUMNS}"
        );
        Ok(transaction!(self, |tx| {
            let admins = tx.lock_active_admins().await?;
            if !admins.iter().any(|admin| admin == admin_id) {
                return Err(Error::Forbidden(
                    "Your account is no longer an active admin".into(),
                ));
            }
            let target_is_admin = admins.iter().any(|admin| admin == id);
            if removes_admin && target_is_admin && admins.iter().all(|admin| admin == id) {
                return Err(Error::Conflict(
                    ErrorCode::Conflict,
                    "This is the last active admin: make another admin before demoting or \
                     deactivating this one"
                        .into(),
                ));
            }
            let user: Option<User> = sqlx::query_as(&sql)
                .bind(id)
                .bind(changes.role.map(Role::as_str))
                .bind(changes.is_active)
                .bind(changes.name.as_deref())
                .bind(now_millis())
                .bind(changes.gst.is_some())
                .bind(
                    changes
                        .gst
                        .as_ref()
                        .and_then(|gst| gst.as_ref().map(|(gstin, _)| gstin.as_str())),
                )
                .bind(
                    changes
                        .gst
                        .as_ref()
                        .and_then(|gst| gst.as_ref().map(|(_, state)| *state)),
                )
                .fetch_optional(&mut *tx)
                .await?;
            user
        }))
    }
}

/// The admins' rows inside a transaction; implemented for `SqliteConnection` and `PgConnection`.
#[async_trait]
trait AdminRows {
    /// The ids of every active admin, their rows locked until the transaction ends on PostgreSQL
    /// (`FOR NO KEY UPDATE`, in id order: what an `UPDATE` of the role would take, without
    /// blocking rows that merely reference the user). A row changed by a transaction that
    /// committed while this one waited is read as it is now, so an admin demoted meanwhile is
    /// not in the list.
    async fn lock_active_admins(&mut self) -> Result<Vec<String>>;
}

macro_rules! impl_admin_rows {
    ($conn:ty, $lock:literal) => {
        #[async_trait]
        impl AdminRows for $conn {
            async fn lock_active_admins(&mut self) -> Result<Vec<String>> {
                let rows: Vec<(String,)> = sqlx::query_as(concat!(
                    "SELECT id FROM users WHERE role = 'admin' AND is_active ORDER BY id",
                    $lock
                ))
                .fetch_all(&mut *self)
                .await?;
                Ok(rows.into_iter().map(|(id,)| id).collect())
            }
        }
    };
}

impl_admin_rows!(sqlx::SqliteConnection, "");
impl_admin_rows!(sqlx::PgConnection, " FOR NO KEY UPDATE");
