//! The rules of the shop, free of HTTP and SQL: money, ids, timestamps, roles, and the states
//! and kinds stored as text (each an enum with `as_str`/`parse`; `store::sql_types` reads and
//! writes them, refusing an unknown stored value).

/// An enum stored and serialized as fixed text: `as_str`, `parse` (the only way in from text),
/// `ALL`, `Display`, and serde/OpenAPI with the same strings (each text must be the variant's
/// name in snake_case).
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
            utoipa::ToSchema,
        )]
        // `snake_case` is each variant's text (a test checks they agree): utoipa reads
        // `rename_all`, where a per-variant `rename` from a macro argument is lost to it.
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub mod csv;
pub mod discount;
pub mod discount_code;
pub mod email;
pub mod error;
pub mod gst;
pub mod ids;
pub mod invoice;
pub mod ledger;
pub mod mail;
pub mod money;
pub mod net;
pub mod notification;
pub mod order;
pub mod order_number;
pub mod pricing;
pub mod text;
pub mod time;
pub mod user;

#[cfg(test)]
mod tests {
    /// serde (the JSON) and the OpenAPI document write each variant as `as_str` does.
    #[test]
    fn text_enums_serialize_as_their_text() {
        fn check<T: serde::Serialize + utoipa::PartialSchema + Copy>(
            all: &[T],
            text: fn(T) -> &'static str,
        ) {
            for value in all {
                assert_eq!(serde_json::to_value(value).unwrap(), text(*value));
            }
            let schema = serde_json::to_value(T::schema()).unwrap();
            let texts: Vec<&str> = all.iter().map(|value| text(*value)).collect();
            assert_eq!(schema["enum"], serde_json::json!(texts), "{schema}");
        }
        check(
            super::ledger::LedgerKind::ALL,
            super::ledger::LedgerKind::as_str,
        );
        check(
            super::ledger::LedgerStatus::ALL,
            super::ledger::LedgerStatus::as_str,
        );
        check(
            super::notification::NotificationKind::ALL,
            super::notification::NotificationKind::as_str,
        );
        check(
            super::order::PaymentMethod::ALL,
            super::order::PaymentMethod::as_str,
        );
        check(
            super::order::PaymentStatus::ALL,
            super::order::PaymentStatus::as_str,
        );
        check(
            super::order::StockState::ALL,
            super::order::StockState::as_str,
        );
        check(
            super::order::ReturnStatus::ALL,
            super::order::ReturnStatus::as_str,
        );
        check(
            &super::order::OrderStatus::ALL,
            super::order::OrderStatus::as_str,
        );
        check(
            super::discount::DiscountUseState::ALL,
            super::discount::DiscountUseState::as_str,
        );
    }
}
