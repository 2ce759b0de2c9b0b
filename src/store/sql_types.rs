//! How the domain's typed values are stored: each state, role and kind as TEXT (its `as_str`),
//! money as a BIGINT (SQLite INTEGER) of minor units. The domain knows nothing of sqlx; these
//! impls are the one place that does. A stored text no enum variant names is a decode error
//! (a 500 whose log names the value and the type), never a silent default.

use crate::domain::discount::{DiscountType, DiscountUseState};
use crate::domain::gst::{DocumentKind, GstRate, StateCode};
use crate::domain::ledger::{LedgerKind, LedgerStatus};
use crate::domain::mail::{EmailKind, EmailStatus};
use crate::domain::money::Money;
use crate::domain::notification::NotificationKind;
use crate::domain::order::{OrderStatus, PaymentMethod, PaymentStatus, ReturnStatus, StockState};
use crate::domain::user::Role;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Encode, Type};

/// The error of a stored text that names no variant of `type_name`.
fn unknown_value(type_name: &str, text: &str) -> BoxDynError {
    format!("unknown {type_name} {text:?} in the database").into()
}

macro_rules! text_column {
    ($($ty:ty),+ $(,)?) => {$(
        impl<DB: Database> Type<DB> for $ty
        where
            str: Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: Database> Encode<'q, DB> for $ty
        where
            &'q str: Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as Database>::ArgumentBuffer<'q>,
            ) -> Result<IsNull, BoxDynError> {
                let text: &'q str = self.as_str();
                text.encode_by_ref(buf)
            }
        }

        impl<'r, DB: Database> Decode<'r, DB> for $ty
        where
            &'r str: Decode<'r, DB>,
        {
            fn decode(value: <DB as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
                let text = <&'r str as Decode<'r, DB>>::decode(value)?;
                <$ty>::parse(text).ok_or_else(|| unknown_value(stringify!($ty), text))
            }
        }
    )+};
}

text_column!(
    OrderStatus,
    PaymentStatus,
    PaymentMethod,
    StockState,
    ReturnStatus,
    Role,
    DiscountType,
    DiscountUseState,
    NotificationKind,
    LedgerKind,
    LedgerStatus,
    EmailKind,
    EmailStatus,
    DocumentKind,
);

/// Values stored as a BIGINT: `$to` gives the number, `$from` takes it back (`None`: unknown).
macro_rules! integer_column {
    ($($ty:ty => $to:expr, $from:expr;)+) => {$(
        impl<DB: Database> Type<DB> for $ty
        where
            i64: Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <i64 as Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <i64 as Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: Database> Encode<'q, DB> for $ty
        where
            i64: Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as Database>::ArgumentBuffer<'q>,
            ) -> Result<IsNull, BoxDynError> {
                let number: i64 = $to(*self);
                number.encode_by_ref(buf)
            }
        }

        impl<'r, DB: Database> Decode<'r, DB> for $ty
        where
            i64: Decode<'r, DB>,
        {
            fn decode(value: <DB as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
                let number = <i64 as Decode<'r, DB>>::decode(value)?;
                $from(number).ok_or_else(|| unknown_value(stringify!($ty), &number.to_string()))
            }
        }
    )+};
}

integer_column! {
    GstRate => GstRate::percent, GstRate::from_percent;
    StateCode => |state: StateCode| i64::from(state.code()),
        |number: i64| u8::try_from(number).ok().and_then(StateCode::from_code);
}

impl<DB: Database> Type<DB> for Money
where
    i64: Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <i64 as Type<DB>>::type_info()
    }

    fn compatible(ty: &DB::TypeInfo) -> bool {
        <i64 as Type<DB>>::compatible(ty)
    }
}

impl<'q, DB: Database> Encode<'q, DB> for Money
where
    i64: Encode<'q, DB>,
{
    fn encode_by_ref(
        &self,
        buf: &mut <DB as Database>::ArgumentBuffer<'q>,
    ) -> Result<IsNull, BoxDynError> {
        self.minor().encode_by_ref(buf)
    }
}

impl<'r, DB: Database> Decode<'r, DB> for Money
where
    i64: Decode<'r, DB>,
{
    fn decode(value: <DB as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Money::from_minor(<i64 as Decode<'r, DB>>::decode(value)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::SqlitePoolOptions;

    #[tokio::test]
    async fn states_round_trip_and_an_unknown_stored_value_is_an_error() {
        let pool = SqlitePoolOptions::new()
            .connect("sqlite::memory:")
            .await
            .unwrap();
        for status in OrderStatus::ALL {
            let (back,): (OrderStatus,) = sqlx::query_as("SELECT $1")
                .bind(status)
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(back, status);
        }
        let (kind,): (LedgerKind,) = sqlx::query_as("SELECT 'payment_captured'")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(kind, LedgerKind::PaymentCaptured);
        let err = sqlx::query_as::<_, (PaymentStatus,)>("SELECT 'paid'")
            .fetch_one(&pool)
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("PaymentStatus") && text.contains("\"paid\""),
            "{text}"
        );
        let (amount,): (Money,) = sqlx::query_as("SELECT $1")
            .bind(Money::from_minor(1999))
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(amount, Money::from_minor(1999));
    }
}
