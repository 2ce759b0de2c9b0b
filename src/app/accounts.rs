//! Accounts: the one way a user is made, whether a customer registers or an admin creates one of
//! any role (CONTRACT §3).

use super::AppState;
use crate::auth::hash_password;
use crate::domain::email::Email;
use crate::domain::user::{check_name, check_password, Phone, Role};
use crate::error::Result;
use crate::store::users::{NewUser, User};

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
