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
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
            utoipa::ToSchema,
        )]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant,)+
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

pub mod discount;
pub mod discount_code;
pub mod email;
pub mod error;
pub mod ids;
pub mod ledger;
pub mod money;
pub mod notification;
pub mod order;
pub mod order_number;
pub mod pricing;
pub mod text;
pub mod time;
pub mod user;
