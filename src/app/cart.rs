//! The cart's workflow steps that are more than one store call: applying a discount code, which
//! must find the cart non-empty and the code applicable to this customer and subtotal now.

use super::AppState;
use crate::domain::discount_code::DiscountCode;
use crate::domain::pricing::PricingSettings;
use crate::error::{Error, ErrorCode, FieldError, Result};

/// Puts `code` on the user's cart (replacing any other) if it applies now; otherwise a 400 on
/// `discountCode` whose message says which rule failed (or that the cart is empty). The code is
/// re-checked on every read and at checkout, so this is the first check, not the last.
pub async fn apply_discount(state: &AppState, user_id: &str, code: &DiscountCode) -> Result<()> {
    let settings = PricingSettings::from_config(&state.config);
    let priced = state.store.priced_cart(user_id, &settings).await?;
    if priced.lines.is_empty() {
        return Err(Error::Validation {
            code: ErrorCode::CartEmpty,
            message: "Your cart is empty: add items before applying a discount code".into(),
            errors: vec![FieldError::new(
                "discountCode",
                "the cart is empty",
                code.as_str(),
            )],
        });
    }
    if let Err(rejection) = state
        .store
        .check_cart_discount(code.as_str(), user_id, priced.totals.subtotal)
        .await?
    {
        return Err(Error::rule(
            rejection.code(),
            "discountCode",
            rejection.to_string(),
            code.as_str(),
        ));
    }
    state.store.set_cart_discount(user_id, code.as_str()).await
}
