//! The rules of the shop, free of HTTP and SQL: money, ids, timestamps, roles, and the states
//! and kinds stored as text (each an enum with `as_str`/`parse`; `store::sql_types` reads and
//! writes them, refusing an unknown stored value).

/// An enum stored and serialized as fixed text: `as_str`, `parse` (the only way in from text),
/// `ALL`, `Display`, and serde/OpenAPI with the same strings.
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant,)+
        }

        // Written out rather than derived: the derive does not see the `rename` of a variant
        // when its text comes through a macro, and would document the Rust names.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text,)+]))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}

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

pub mod discount;
pub mod error;
pub mod ids;
pub mod ledger;
pub mod money;
pub mod notification;
pub mod order;
pub mod pricing;
pub mod text;
pub mod time;
pub mod user;

#[cfg(test)]
mod tests {
    use super::ledger::{LedgerKind, LedgerStatus};
    use super::notification::NotificationKind;
    use super::order::{PaymentMethod, PaymentStatus, ReturnStatus, StockState};
    use utoipa::openapi::schema::Schema;
    use utoipa::openapi::RefOr;
    use utoipa::PartialSchema;

    /// The strings the OpenAPI document lists for a type.
    fn documented<T: PartialSchema>() -> Vec<String> {
        match T::schema() {
            RefOr::T(Schema::Object(object)) => object
                .enum_values
                .unwrap_or_default()
                .into_iter()
                .map(|value| value.as_str().unwrap_or_default().to_string())
                .collect(),
            _ => panic!("not an object schema"),
        }
    }

    /// What serde writes for every variant.
    fn written<T: serde::Serialize>(all: &[T]) -> Vec<String> {
        all.iter()
            .map(|v| {
                serde_json::to_value(v)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn the_document_lists_exactly_what_the_api_writes() {
        assert_eq!(documented::<LedgerKind>(), written(LedgerKind::ALL));
        assert_eq!(documented::<LedgerStatus>(), written(LedgerStatus::ALL));
        assert_eq!(
            documented::<NotificationKind>(),
            written(NotificationKind::ALL)
        );
        assert_eq!(documented::<PaymentMethod>(), written(PaymentMethod::ALL));
        assert_eq!(documented::<PaymentStatus>(), written(PaymentStatus::ALL));
        assert_eq!(documented::<ReturnStatus>(), written(ReturnStatus::ALL));
        assert_eq!(documented::<StockState>(), written(StockState::ALL));
        assert!(documented::<NotificationKind>().contains(&"order_confirmed".to_string()));
    }
}
