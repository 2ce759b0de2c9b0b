//! Accounts: the one way a user is made, whether a customer registers or an admin creates one of
//! any role (CONTRACT §3); and the account holder's own changes (CONTRACT §9): password reset by
//! email, password change, name and phone.

use super::AppState;
use crate::auth::hash_password;
use crate::domain::email::Email;
use crate::domain::mail::{password_reset_email, reset_link};
use crate::domain::time::now_millis;
use crate::domain::user::{check_name, check_password, Phone, Role};
use crate::error::{Error, Result};
use crate::store::users::{NewUser, User};
use sha2::{Digest, Sha256};

/// Reset emails one account may be sent per hour; further requests answer the same and send
/// nothing.
pub const RESETS_PER_HOUR: i64 = 3;

/// The stored form of a reset token: hex SHA-256 (the token itself is only in the email).
pub fn reset_token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.trim().as_bytes()))
}

/// A new account as the client sent it; `create_account` checks every field.
#[derive(Debug)]
pub struct NewAccount {
    pub name: String,
    pub email: String,
    pub password: String,
    pub phone: Option<String>,
    pub role: Role,
}

/// Checks the fields (name, e-mail, password, phone, the first bad one a 400), hashes the
/// password off the async threads and stores the user; a taken e-mail is a 409.
pub async fn create_account(state: &AppState, account: NewAccount) -> Result<User> {
    let name = check_name("name", &account.name, 100)?;
    let email = Email::parse(&account.email)?;
    check_password(&account.password)?;
    let phone = Phone::parse_optional(account.phone.as_deref())?;
    let password_hash = hash_password(account.password).await?;
    state
        .store
        .create_user(NewUser {
            name: &name,
            email: email.as_str(),
            phone: phone.as_ref().map(Phone::as_str),
            password_hash: &password_hash,
            role: account.role,
        })
        .await
}

/// `POST /auth/password/forgot`: for an active account with this address (and under its hourly
/// allowance), a single-use reset token valid `PASSWORD_RESET_TTL_MINUTES` and the email with its
/// link, written together. Whether anything was sent is not told, so the answer cannot reveal
/// which addresses have accounts.
pub async fn request_password_reset(state: &AppState, email: &str) -> Result<()> {
    let Ok(email) = Email::parse(email) else {
        return Ok(());
    };
    let token = hex::encode(rand::random::<[u8; 32]>());
    let now = now_millis();
    let ttl_minutes = state.config.password_reset_ttl_minutes;
    let mail = state.store.mail.clone();
    let composed = password_reset_email(
        mail.context(),
        &reset_link(&mail.public_url, &token),
        ttl_minutes,
    );
    state
        .store
        .issue_password_reset(
            email.as_str(),
            &reset_token_hash(&token),
            now + ttl_minutes * 60 * 1000,
            RESETS_PER_HOUR,
            &composed,
            now,
        )
        .await?;
    Ok(())
}

/// `POST /auth/password/reset`: the new password for the account of a valid token, which is
/// spent; every token issued before stops working (session version), on this node at once and
/// on the others through the change feed.
pub async fn reset_password(state: &AppState, token: &str, password: String) -> Result<User> {
    check_password(&password)?;
    let invalid = || {
        Error::invalid(
            "token",
            "This reset link is invalid, used or expired; ask for a new one",
            serde_json::Value::Null,
        )
    };
    if token.trim().is_empty() || token.len() > 200 {
        return Err(invalid());
    }
    let password_hash = hash_password(password).await?;
    let user = state
        .store
        .reset_password(&reset_token_hash(token), &password_hash, now_millis())
        .await?
        .ok_or_else(invalid)?;
    state.live.accounts.invalidate(&user.id);
    Ok(user)
}

/// `POST /auth/password/change`: the caller's password, if `current` is right; ends every
/// session of the account (the caller gets a fresh one).
pub async fn change_password(
    state: &AppState,
    user_id: &str,
    current: String,
    new: String,
) -> Result<User> {
    let wrong = || {
        Error::invalid(
            "currentPassword",
            "Your current password is not right",
            serde_json::Value::Null,
        )
    };
    check_password(&new).map_err(|_| {
        Error::invalid(
            "newPassword",
            "must be 8 to 128 characters",
            serde_json::Value::Null,
        )
    })?;
    let user = state
        .store
        .user_by_id(user_id)
        .await?
        .ok_or_else(|| Error::Unauthorized("Account no longer exists".into()))?;
    if !crate::auth::verify_password(current, Some(user.password_hash.clone())).await? {
        return Err(wrong());
    }
    let password_hash = hash_password(new).await?;
    let user = state
        .store
        .change_password(user_id, &user.password_hash, &password_hash)
        .await?
        // Changed by a racing request between the check and the update.
        .ok_or_else(wrong)?;
    state.live.accounts.invalidate(&user.id);
    Ok(user)
}

/// `PATCH /auth/me`: the caller's name and phone (an empty phone clears it).
pub async fn update_profile(
    state: &AppState,
    user_id: &str,
    name: Option<&str>,
    phone: Option<&str>,
) -> Result<User> {
    let name = name.map(|n| check_name("name", n, 100)).transpose()?;
    let phone = match phone {
        None => None,
        Some(raw) => Some(Phone::parse_optional(Some(raw))?),
    };
    state
        .store
        .update_profile(
            user_id,
            name.as_deref(),
            phone.as_ref().map(|p| p.as_ref().map(Phone::as_str)),
        )
        .await?
        .ok_or_else(|| Error::Unauthorized("Account no longer exists".into()))
}
