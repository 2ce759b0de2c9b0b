//! The address book: each user's saved shipping addresses, at most one of them the default.
//!
//! Default changes happen in one transaction with the user's row locked, so two concurrent saves
//! cannot both leave a default behind.

use super::{transaction, Backend, Store};
use crate::domain::ids::new_id;
use crate::domain::time::now_millis;
use crate::domain::user::Phone;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The country an address gets when none is given (CONTRACT §4).
pub const DEFAULT_COUNTRY: &str = "India";

fn default_country() -> String {
    DEFAULT_COUNTRY.to_string()
}

/// A shipping address as carts and orders carry it: `{street, city, state, zipCode, country,
/// phone, name?}`. Deserialize, then call `validated` before keeping one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShippingAddress {
    /// Up to 200 characters.
    pub street: String,
    /// Up to 100 characters.
    pub city: String,
    /// Up to 100 characters.
    pub state: String,
    /// 3 to 12 letters, digits, spaces or hyphens.
    pub zip_code: String,
    /// Up to 100 characters; `India` when left out.
    #[serde(default = "default_country")]
    pub country: String,
    /// 5 to 20 digits, with `+`, `-`, spaces or parentheses.
    pub phone: String,
    /// Who receives the parcel, up to 100 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl ShippingAddress {
    /// The address unchanged, or a 400 naming `state` when GST is charged (`gst`) and the state is
    /// not one of India's states and union territories: tax cannot be placed without it.
    pub fn checked_for_gst(self, gst: bool) -> Result<ShippingAddress> {
        if gst && self.place_of_supply().is_none() {
            return Err(Error::invalid(
                "state",
                "must be an Indian state or union territory, by name or GST code (e.g. Maharashtra or 27)",
                self.state.as_str(),
            ));
        }
        Ok(self)
    }

    /// The GST place of supply: the address's state, when it names one (CONTRACT §10).
    pub fn place_of_supply(&self) -> Option<crate::domain::gst::StateCode> {
        crate::domain::gst::StateCode::parse(&self.state)
    }

    /// The address trimmed and checked; a bad field is a 400 naming it.
    pub fn validated(self) -> Result<ShippingAddress> {
        let required = |field: &str, value: &str, max: usize| -> Result<String> {
            let value = value.trim();
            if value.is_empty() || value.chars().count() > max {
                return Err(Error::invalid(
                    field,
                    format!("must be 1 to {max} characters"),
                    value,
                ));
            }
            Ok(value.to_string())
        };
        let zip_code = self.zip_code.trim().to_string();
        let zip_ok = (3..=12).contains(&zip_code.len())
            && zip_code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-')
            && zip_code.chars().any(|c| c.is_ascii_alphanumeric());
        if !zip_ok {
            return Err(Error::invalid(
                "zipCode",
                "must be 3 to 12 letters, digits, spaces or hyphens",
                self.zip_code.as_str(),
            ));
        }
        let phone = Phone::parse_optional(Some(&self.phone))?
            .ok_or_else(|| Error::invalid("phone", "is required", self.phone.as_str()))?
            .into_string();
        let name = match self.name.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(name) => Some(required("name", name, 100)?),
        };
        Ok(ShippingAddress {
            street: required("street", &self.street, 200)?,
            city: required("city", &self.city, 100)?,
            state: required("state", &self.state, 100)?,
            zip_code,
            country: required("country", &self.country, 100)?,
            phone,
            name,
        })
    }
}

/// A saved address.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Address {
    pub id: String,
    pub user_id: String,
    pub name: Option<String>,
    pub street: String,
    pub city: String,
    pub state: String,
    pub zip_code: String,
    pub country: String,
    pub phone: String,
    pub is_default: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Address {
    /// The copy a cart or an order keeps.
    pub fn shipping(&self) -> ShippingAddress {
        ShippingAddress {
            street: self.street.clone(),
            city: self.city.clone(),
            state: self.state.clone(),
            zip_code: self.zip_code.clone(),
            country: self.country.clone(),
            phone: self.phone.clone(),
            name: self.name.clone(),
        }
    }
}

const ADDRESS_COLUMNS: &str =
    "id, user_id, name, street, city, state, zip_code, country, phone, is_default, created_at, updated_at";

impl Store {
    /// Locks the user's row for the rest of the transaction so address-book changes of one user
    /// run one at a time. SQLite's single writer already serializes them.
    fn lock_user_sql(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "SELECT id FROM users WHERE id = $1",
            Backend::Postgres(_) => "SELECT id FROM users WHERE id = $1 FOR UPDATE",
        }
    }

    /// The user's addresses, the default first, then the newest.
    pub async fn addresses_for_user(&self, user_id: &str) -> Result<Vec<Address>> {
        let sql = format!(
            "SELECT {ADDRESS_COLUMNS} FROM addresses WHERE user_id = $1
             ORDER BY is_default DESC, created_at DESC, id DESC"
        );
        Ok(super::read!(self, |pool| sqlx::query_as(&sql)
            .bind(user_id)
            .fetch_all(pool)
            .await?))
    }

    /// One of the user's addresses; another user's address is `None`, as if it did not exist.
    pub async fn address_for_user(
        &self,
        user_id: &str,
        address_id: &str,
    ) -> Result<Option<Address>> {
        let sql = format!("SELECT {ADDRESS_COLUMNS} FROM addresses WHERE id = $1 AND user_id = $2");
        Ok(super::read!(self, |pool| sqlx::query_as(&sql)
            .bind(address_id)
            .bind(user_id)
            .fetch_optional(pool)
            .await?))
    }

    /// Saves a checked address. The user's first address becomes the default whatever was asked;
    /// a new default takes the flag from the old one in the same transaction.
    pub async fn create_address(
        &self,
        user_id: &str,
        address: &ShippingAddress,
        make_default: bool,
    ) -> Result<Address> {
        let lock = self.lock_user_sql();
        let now = now_millis();
        let id = new_id();
        let insert = format!(
            "INSERT INTO addresses (id, user_id, name, street, city, state, zip_code, country, phone,
                 is_default, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
             RETURNING {ADDRESS_COLUMNS}"
        );
        Ok(transaction!(self, |tx| {
            sqlx::query(lock).bind(user_id).execute(&mut *tx).await?;
            let (existing,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM addresses WHERE user_id = $1")
                    .bind(user_id)
                    .fetch_one(&mut *tx)
                    .await?;
            let is_default = make_default || existing == 0;
            if is_default {
                sqlx::query(
                    "UPDATE addresses SET is_default = FALSE, updated_at = $2
                     WHERE user_id = $1 AND is_default",
                )
                .bind(user_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            let saved: Address = sqlx::query_as(&insert)
                .bind(&id)
                .bind(user_id)
                .bind(&address.name)
                .bind(&address.street)
                .bind(&address.city)
                .bind(&address.state)
                .bind(&address.zip_code)
                .bind(&address.country)
                .bind(&address.phone)
                .bind(is_default)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            saved
        }))
    }

    /// Replaces the fields of one of the user's addresses. `make_default`: `Some(true)` makes it
    /// the default (clearing the others), `Some(false)` unsets it, `None` leaves the flag alone.
    /// `None` when the user has no such address.
    pub async fn update_address(
        &self,
        user_id: &str,
        address_id: &str,
        address: &ShippingAddress,
        make_default: Option<bool>,
    ) -> Result<Option<Address>> {
        let lock = self.lock_user_sql();
        let now = now_millis();
        let update = format!(
            "UPDATE addresses SET name = $3, street = $4, city = $5, state = $6, zip_code = $7,
                 country = $8, phone = $9, is_default = COALESCE($10, is_default), updated_at = $11
             WHERE id = $1 AND user_id = $2
             RETURNING {ADDRESS_COLUMNS}"
        );
        Ok(transaction!(self, |tx| {
            sqlx::query(lock).bind(user_id).execute(&mut *tx).await?;
            // Nothing is written unless the address is the user's.
            let owned: Option<(String,)> =
                sqlx::query_as("SELECT id FROM addresses WHERE id = $1 AND user_id = $2")
                    .bind(address_id)
                    .bind(user_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if owned.is_none() {
                return Ok(None);
            }
            if make_default == Some(true) {
                sqlx::query(
                    "UPDATE addresses SET is_default = FALSE, updated_at = $3
                     WHERE user_id = $1 AND id <> $2 AND is_default",
                )
                .bind(user_id)
                .bind(address_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            let saved: Option<Address> = sqlx::query_as(&update)
                .bind(address_id)
                .bind(user_id)
                .bind(&address.name)
                .bind(&address.street)
                .bind(&address.city)
                .bind(&address.state)
                .bind(&address.zip_code)
                .bind(&address.country)
                .bind(&address.phone)
                .bind(make_default)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(saved) = saved else {
                return Ok(None);
            };
            Some(saved)
        }))
    }

    /// Deletes one of the user's addresses; when it was the default, the newest remaining address
    /// takes over, so a user with addresses always has a default. `false` when there was none.
    pub async fn delete_address(&self, user_id: &str, address_id: &str) -> Result<bool> {
        let lock = self.lock_user_sql();
        let now = now_millis();
        Ok(transaction!(self, |tx| {
            sqlx::query(lock).bind(user_id).execute(&mut *tx).await?;
            let deleted: Option<(bool,)> = sqlx::query_as(
                "DELETE FROM addresses WHERE id = $1 AND user_id = $2 RETURNING is_default",
            )
            .bind(address_id)
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((was_default,)) = deleted else {
                return Ok(false);
            };
            if was_default {
                sqlx::query(
                    "UPDATE addresses SET is_default = TRUE, updated_at = $2
                     WHERE id = (SELECT id FROM addresses WHERE user_id = $1
                                 ORDER BY created_at DESC, id DESC LIMIT 1)",
                )
                .bind(user_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            true
        }))
    }
}
