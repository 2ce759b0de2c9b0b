//! Discount codes and their uses by orders (CONTRACT §5).
//!
//! `discounts.used_count` counts reserved plus final uses and only ever moves through conditional
//! statements (`... WHERE usage_limit IS NULL OR used_count < usage_limit`), backed by a CHECK, so a
//! usage limit holds however many checkouts race for the last use. Each use is a `discount_uses`
//! row keyed by its order, so reserving, finalizing and releasing happen at most once per order.
//!
//! Checkout runs inside its own transaction, so the use operations live on the [`DiscountUses`]
//! trait, implemented for both back-ends' connections: call them on the `tx` of the
//! `transaction!` macro (`tx.reserve_discount_use(...)`; the transaction derefs to the connection). The `Store` methods of the same names run them in a transaction of their
//! own for callers that have none (the unpaid-order expiry job, say).

use super::{read, transaction, write, PageRequest, Store};
use crate::domain::discount::{
    evaluate, DiscountRule, DiscountType, DiscountUseState, DiscountValue, RuleDefinition,
};
use crate::domain::money::Money;
use crate::domain::time::now_millis;
use crate::error::{Error, ErrorCode, Result, ResultExt};
use async_trait::async_trait;

/// A discount code as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Discount {
    pub code: String,
    pub kind: DiscountType,
    /// Basis points for `percent`, paise for `fixed`: read it typed through `value()`.
    pub(super) value: i64,
    pub min_order_amount: Money,
    pub max_discount_amount: Option<Money>,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    pub usage_limit: Option<i64>,
    pub per_user_limit: Option<i64>,
    pub used_count: i64,
    pub is_active: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Discount {
    pub fn kind(&self) -> DiscountType {
        self.kind
    }

    /// The code's value, typed by its kind.
    pub fn value(&self) -> DiscountValue {
        DiscountValue::from_hundredths(self.kind, self.value)
    }

    /// The rule the domain evaluates.
    pub fn rule(&self) -> DiscountRule {
        DiscountRule {
            code: self.code.clone(),
            value: self.value(),
            min_order_amount: self.min_order_amount,
            max_discount_amount: self.max_discount_amount,
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            usage_limit: self.usage_limit,
            per_user_limit: self.per_user_limit,
            used_count: self.used_count,
            is_active: self.is_active,
        }
    }
}

const DISCOUNT_COLUMNS: &str = "code, type AS kind, value, min_order_amount, max_discount_amount, \
     starts_at, ends_at, usage_limit, per_user_limit, used_count, is_active, created_at, updated_at";

/// What `DELETE /admin/discounts/:code` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    /// Never used: the row is gone.
    Deleted(Discount),
    /// Used by at least one order: kept for their history, but inactive.
    Deactivated(Discount),
}

/// The outcome of `replace_discount`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replaced {
    Updated(Discount),
    NotFound,
    /// The new usage limit is below the uses already made.
    LimitBelowUses {
        used_count: i64,
    },
}

/// The demo codes of CONTRACT §5.
fn demo_codes() -> [(&'static str, RuleDefinition); 2] {
    [
        (
            "WELCOME10",
            RuleDefinition {
                kind: DiscountType::Percent,
                value: 1_000,
                min_order_amount: Money::ZERO,
                max_discount_amount: Some(Money::from_minor(10_000)),
                starts_at: None,
                ends_at: None,
                usage_limit: None,
                per_user_limit: Some(1),
                is_active: true,
            },
        ),
        (
            "SAVE50",
            RuleDefinition {
                kind: DiscountType::Fixed,
                value: 5_000,
                min_order_amount: Money::from_minor(50_000),
                max_discount_amount: None,
                starts_at: None,
                ends_at: None,
                usage_limit: None,
                per_user_limit: None,
                is_active: true,
            },
        ),
    ]
}

impl Store {
    /// Stores a new code (already normalized and checked); a taken code is a 409.
    pub async fn create_discount(&self, code: &str, def: &RuleDefinition) -> Result<Discount> {
        let now = now_millis();
        let sql = format!(
            "INSERT INTO discounts (code, type, value, min_order_amount, max_discount_amount,
                 starts_at, ends_at, usage_limit, per_user_limit, used_count, is_active, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $11, $11)
             RETURNING {DISCOUNT_COLUMNS}"
        );
        Ok(write!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(code)
                .bind(def.kind.as_str())
                .bind(def.value)
                .bind(def.min_order_amount)
                .bind(def.max_discount_amount.map(Money::minor))
                .bind(def.starts_at)
                .bind(def.ends_at)
                .bind(def.usage_limit)
                .bind(def.per_user_limit)
                .bind(def.is_active)
                .bind(now)
                .fetch_one(pool)
                .await
                .on_unique_violation(|| {
                    Error::Conflict(
                        ErrorCode::AlreadyExists,
                        format!("Discount code {code} already exists"),
                    )
                })?
        }))
    }

    pub async fn discount_by_code(&self, code: &str) -> Result<Option<Discount>> {
        let sql = format!("SELECT {DISCOUNT_COLUMNS} FROM discounts WHERE code = $1");
        Ok(read!(self, |pool| sqlx::query_as(&sql)
            .bind(code)
            .fetch_optional(pool)
            .await?))
    }

    /// Codes, newest first, with the total count.
    pub async fn list_discounts(&self, page: PageRequest) -> Result<(Vec<Discount>, i64)> {
        let sql = format!(
            "SELECT {DISCOUNT_COLUMNS} FROM discounts ORDER BY created_at DESC, code
             LIMIT $1 OFFSET $2"
        );
        Ok(read!(self, |pool| {
            let rows = sqlx::query_as(&sql)
                .bind(page.limit)
                .bind(page.offset())
                .fetch_all(pool)
                .await?;
            let (total,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM discounts")
                .fetch_one(pool)
                .await?;
            (rows, total)
        }))
    }

    /// Replaces every setting of a code except its uses, in one conditional statement: a usage
    /// limit below the uses already made is refused rather than left to the CHECK constraint.
    pub async fn replace_discount(&self, code: &str, def: &RuleDefinition) -> Result<Replaced> {
        let sql = format!(
            "UPDATE discounts SET type = $2, value = $3, min_order_amount = $4,
                 max_discount_amount = $5, starts_at = $6, ends_at = $7, usage_limit = $8,
                 per_user_limit = $9, is_active = $10, updated_at = $11
             WHERE code = $1 AND ($8 IS NULL OR used_count <= $8)
             RETURNING {DISCOUNT_COLUMNS}"
        );
        let updated: Option<Discount> = write!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(code)
                .bind(def.kind.as_str())
                .bind(def.value)
                .bind(def.min_order_amount)
                .bind(def.max_discount_amount.map(Money::minor))
                .bind(def.starts_at)
                .bind(def.ends_at)
                .bind(def.usage_limit)
                .bind(def.per_user_limit)
                .bind(def.is_active)
                .bind(now_millis())
                .fetch_optional(pool)
                .await?
        });
        if let Some(updated) = updated {
            return Ok(Replaced::Updated(updated));
        }
        // Only the error message depends on this read; the write above already decided.
        Ok(match self.discount_by_code(code).await? {
            None => Replaced::NotFound,
            Some(existing) => Replaced::LimitBelowUses {
                used_count: existing.used_count,
            },
        })
    }

    /// Deletes a code that no order ever used; deactivates one that was used, since orders and
    /// their uses keep referring to it. The delete is conditional on `used_count = 0`, so a
    /// checkout reserving the code at the same moment turns it into a deactivation.
    pub async fn remove_discount(&self, code: &str) -> Result<Option<Removal>> {
        let delete = format!(
            "DELETE FROM discounts WHERE code = $1 AND used_count = 0
                 AND NOT EXISTS (SELECT 1 FROM discount_uses WHERE code = $1)
             RETURNING {DISCOUNT_COLUMNS}"
        );
        let deactivate = format!(
            "UPDATE discounts SET is_active = FALSE, updated_at = $2 WHERE code = $1
             RETURNING {DISCOUNT_COLUMNS}"
        );
        let now = now_millis();
        Ok(transaction!(self, |tx| {
            let deleted: Option<Discount> = sqlx::query_as(&delete)
                .bind(code)
                .fetch_optional(&mut *tx)
                .await?;
            match deleted {
                Some(row) => Some(Removal::Deleted(row)),
                None => {
                    let row: Option<Discount> = sqlx::query_as(&deactivate)
                        .bind(code)
                        .bind(now)
                        .fetch_optional(&mut *tx)
                        .await?;
                    row.map(Removal::Deactivated)
                }
            }
        }))
    }

    /// How many uses (reserved or final) of `code` the user holds.
    pub async fn discount_uses_by_user(&self, code: &str, user_id: &str) -> Result<i64> {
        let (count,): (i64,) = read!(self, |pool| {
            sqlx::query_as("SELECT COUNT(*) FROM discount_uses WHERE code = $1 AND user_id = $2")
                .bind(code)
                .bind(user_id)
                .fetch_one(pool)
                .await?
        });
        Ok(count)
    }

    /// Inserts the demo codes WELCOME10 (10 % off, at most 100.00, once per customer) and SAVE50
    /// (50.00 off orders of 500.00 or more) unless codes of those names exist; an admin's edits to
    /// them are never overwritten.
    pub async fn seed_demo_discounts(&self) -> Result<()> {
        let now = now_millis();
        for (code, def) in demo_codes() {
            write!(self, |pool| {
                sqlx::query(
                    "INSERT INTO discounts (code, type, value, min_order_amount, max_discount_amount,
                         starts_at, ends_at, usage_limit, per_user_limit, used_count, is_active,
                         created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $11, $11)
                     ON CONFLICT (code) DO NOTHING",
                )
                .bind(code)
                .bind(def.kind.as_str())
                .bind(def.value)
                .bind(def.min_order_amount)
                .bind(def.max_discount_amount.map(Money::minor))
                .bind(def.starts_at)
                .bind(def.ends_at)
                .bind(def.usage_limit)
                .bind(def.per_user_limit)
                .bind(def.is_active)
                .bind(now)
                .execute(pool)
                .await?;
            });
        }
        Ok(())
    }

    /// [`DiscountUses::reserve_discount_use`] in a transaction of its own.
    pub async fn reserve_discount_use(
        &self,
        order_id: &str,
        code: &str,
        user_id: &str,
        subtotal: Money,
    ) -> Result<Money> {
        let now = now_millis();
        Ok(transaction!(self, |tx| {
            tx.reserve_discount_use(order_id, code, user_id, subtotal, now)
                .await?
        }))
    }

    /// [`DiscountUses::finalize_discount_use`] in a transaction of its own.
    pub async fn finalize_discount_use(&self, order_id: &str) -> Result<bool> {
        let now = now_millis();
        Ok(transaction!(self, |tx| {
            tx.finalize_discount_use(order_id, now).await?
        }))
    }

    /// [`DiscountUses::release_discount_use`] in a transaction of its own.
    pub async fn release_discount_use(&self, order_id: &str) -> Result<bool> {
        let now = now_millis();
        Ok(transaction!(self, |tx| {
            tx.release_discount_use(order_id, now).await?
        }))
    }
}

/// The life of one order's use of a code, for the checkout and order code to run inside their own
/// transactions (`tx.reserve_discount_use(...)` inside `transaction!`). Implemented for `SqliteConnection` and
/// `PgConnection`.
#[async_trait]
pub trait DiscountUses {
    /// Reserves one use of `code` for `order_id`, placed now by `user_id` with goods worth
    /// `subtotal`, and returns the amount off (already within `0..=subtotal`).
    ///
    /// First a conditional `UPDATE ... SET used_count = used_count + 1 WHERE usage_limit IS NULL OR
    /// used_count < usage_limit` takes the code's row (on PostgreSQL the row lock is held until the
    /// transaction ends, so concurrent checkouts of the code queue here and each sees the uses the
    /// others committed); then the user's uses are counted and every rule of the code is checked
    /// against `subtotal` at `now`. Any failure is a 409 whose message names the rule (for example
    /// "... is used up"), and the counter is put back before returning, so the caller's transaction
    /// is left as it was even if the caller goes on without a discount.
    async fn reserve_discount_use(
        &mut self,
        order_id: &str,
        code: &str,
        user_id: &str,
        subtotal: Money,
        now: i64,
    ) -> Result<Money>;

    /// Makes the order's reserved use final (its order was confirmed). `false` when the order has
    /// no reserved use (no code, or already final): safe to call on every confirmation path.
    async fn finalize_discount_use(&mut self, order_id: &str, now: i64) -> Result<bool>;

    /// Gives back the order's reserved use (its order was cancelled or expired before payment):
    /// deletes the use and lowers `used_count`. `false` when there is none; a final use is never
    /// released. Runs at most once per order, however many paths call it.
    async fn release_discount_use(&mut self, order_id: &str, now: i64) -> Result<bool>;
}

/// One implementation per back-end connection, from one body (as the store macros do for pools).
macro_rules! impl_discount_uses {
    ($conn:ty) => {
        #[async_trait]
        impl DiscountUses for $conn {
            async fn reserve_discount_use(
                &mut self,
                order_id: &str,
                code: &str,
                user_id: &str,
                subtotal: Money,
                now: i64,
            ) -> Result<Money> {
                let take = format!(
                    "UPDATE discounts SET used_count = used_count + 1, updated_at = $2
                     WHERE code = $1 AND (usage_limit IS NULL OR used_count < usage_limit)
                     RETURNING {DISCOUNT_COLUMNS}"
                );
                let taken: Option<Discount> = sqlx::query_as(&take)
                    .bind(code)
                    .bind(now)
                    .fetch_optional(&mut *self)
                    .await?;
                let Some(taken) = taken else {
                    let select = format!("SELECT {DISCOUNT_COLUMNS} FROM discounts WHERE code = $1");
                    let existing: Option<Discount> = sqlx::query_as(&select)
                        .bind(code)
                        .fetch_optional(&mut *self)
                        .await?;
                    // Unknown, or at its limit: let the rule say which.
                    let rule = existing.map(|d| d.rule());
                    return Err(match evaluate(code, rule.as_ref(), subtotal, now, 0) {
                        Err(rejection) => Error::Conflict(rejection.code(), rejection.to_string()),
                        Ok(_) => Error::Conflict(
                            ErrorCode::CodeUsedUp,
                            format!("Discount code {code} is used up"),
                        ),
                    });
                };
                let (user_uses,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM discount_uses WHERE code = $1 AND user_id = $2",
                )
                .bind(code)
                .bind(user_id)
                .fetch_one(&mut *self)
                .await?;
                // The rule as it stood before this reservation took its use.
                let mut rule = taken.rule();
                rule.used_count -= 1;
                let amount = match evaluate(code, Some(&rule), subtotal, now, user_uses) {
                    Ok(amount) => amount,
                    Err(rejection) => {
                        sqlx::query(
                            "UPDATE discounts SET used_count = used_count - 1 WHERE code = $1",
                        )
                        .bind(code)
                        .execute(&mut *self)
                        .await?;
                        return Err(Error::Conflict(rejection.code(), rejection.to_string()));
                    }
                };
                sqlx::query(
                    "INSERT INTO discount_uses (order_id, code, user_id, state, created_at, updated_at)
                     VALUES ($1, $2, $3, $5, $4, $4)",
                )
                .bind(order_id)
                .bind(code)
                .bind(user_id)
                .bind(now)
                .bind(DiscountUseState::Reserved)
                .execute(&mut *self)
                .await
                .on_unique_violation(|| {
                    Error::Conflict(ErrorCode::Conflict, "This order already holds a discount code".into())
                })?;
                Ok(amount)
            }

            async fn finalize_discount_use(&mut self, order_id: &str, now: i64) -> Result<bool> {
                let done = sqlx::query(
                    "UPDATE discount_uses SET state = $3, updated_at = $2
                     WHERE order_id = $1 AND state = $4",
                )
                .bind(order_id)
                .bind(now)
                .bind(DiscountUseState::Final)
                .bind(DiscountUseState::Reserved)
                .execute(&mut *self)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn release_discount_use(&mut self, order_id: &str, now: i64) -> Result<bool> {
                let released: Option<(String,)> = sqlx::query_as(
                    "DELETE FROM discount_uses WHERE order_id = $1 AND state = $2
                     RETURNING code",
                )
                .bind(order_id)
                .bind(DiscountUseState::Reserved)
                .fetch_optional(&mut *self)
                .await?;
                let Some((code,)) = released else {
                    return Ok(false);
                };
                sqlx::query(
                    "UPDATE discounts SET used_count = used_count - 1, updated_at = $2
                     WHERE code = $1 AND used_count > 0",
                )
                .bind(code)
                .bind(now)
                .execute(&mut *self)
                .await?;
                Ok(true)
            }
        }
    };
}

impl_discount_uses!(sqlx::SqliteConnection);
impl_discount_uses!(sqlx::PgConnection);
