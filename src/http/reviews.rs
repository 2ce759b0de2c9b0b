//! Product reviews (CONTRACT §4, user-flow.md step 6): anyone reads them; a customer who received
//! a product reviews it once, then changes or removes that review at `/reviews/mine`.

use super::extract::{
    optional_text, ApiJson, ApiPath, ApiQuery, Envelope, PageParams, Pagination, Reply,
};
use super::roles::{AnyUser, Customer};
use super::AppState;
use crate::domain::ids::parse_id;
use crate::domain::time::to_rfc3339;
use crate::error::{Error, ErrorBody, Result};
use crate::store::products::Product;
use crate::store::reviews::{Review, ReviewText};
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_reviews, create_review))
        .routes(routes!(update_my_review, delete_my_review))
}

const MAX_TITLE: usize = 100;
const MAX_COMMENT: usize = 2000;

/// A review as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReviewView {
    #[serde(rename = "_id")]
    pub id: String,
    pub product_id: String,
    pub user_id: String,
    /// The author's current name.
    pub user_name: String,
    /// 1 to 5.
    pub rating: i64,
    pub title: Option<String>,
    pub comment: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Review> for ReviewView {
    fn from(r: Review) -> Self {
        ReviewView {
            id: r.id,
            product_id: r.product_id,
            user_id: r.user_id,
            user_name: r.user_name,
            rating: r.rating,
            title: r.title,
            comment: r.comment,
            created_at: to_rfc3339(r.created_at),
            updated_at: to_rfc3339(r.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReviewList {
    pub reviews: Vec<ReviewView>,
    pub pagination: Pagination,
    /// Average rating with one decimal; 0 when unrated.
    pub rating_average: f64,
    pub rating_count: i64,
}

/// A review just written, with the product's rating after it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SavedReview {
    pub review: ReviewView,
    /// The product's average rating with one decimal.
    pub rating_average: f64,
    pub rating_count: i64,
}

/// The id of a removed review, with the product's rating after it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeletedReview {
    #[serde(rename = "_id")]
    pub id: String,
    /// The product's average rating with one decimal; 0 when no review is left.
    pub rating_average: f64,
    pub rating_count: i64,
}

/// Body of `POST /products/{id}/reviews` and `PUT /products/{id}/reviews/mine`. A `PUT` replaces
/// the whole review: a title or comment left out is removed.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReviewBody {
    /// A whole number from 1 to 5.
    pub rating: i64,
    /// Up to 100 characters.
    pub title: Option<String>,
    /// Up to 2000 characters.
    pub comment: Option<String>,
}

impl ReviewBody {
    fn checked(&self) -> Result<ReviewText> {
        if !(1..=5).contains(&self.rating) {
            return Err(Error::invalid(
                "rating",
                "must be a whole number from 1 to 5",
                self.rating,
            ));
        }
        Ok(ReviewText {
            rating: self.rating,
            title: optional_text("title", self.title.as_deref(), MAX_TITLE)?,
            comment: optional_text("comment", self.comment.as_deref(), MAX_COMMENT)?,
        })
    }
}

/// The average as products show it: tenths from the same integer rounding, one decimal.
fn rating_average(product: &Product) -> f64 {
    product.rating_tenths() as f64 / 10.0
}

/// The product a review route names; unknown and inactive products are both 404, as on
/// `GET /products/{id}` for the public.
async fn active_product(state: &AppState, raw_id: &str) -> Result<Product> {
    let id = parse_id("id", raw_id)?;
    state
        .store
        .product_by_id(&id)
        .await?
        .filter(|p| p.is_active)
        .ok_or_else(|| Error::not_found("Product"))
}

/// A product's reviews, newest first, with its average rating.
#[utoipa::path(get, path = "/products/{id}/reviews", tag = "reviews",
    params(("id" = String, Path, description = "Product id"), PageParams),
    responses(
        (status = 200, description = "A page of reviews and the product's rating", body = Envelope<ReviewList>),
        (status = 400, description = "Malformed id or bad page", body = ErrorBody),
        (status = 404, description = "No such product, or it is inactive", body = ErrorBody),
    ))]
async fn list_reviews(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Reply<ReviewList>> {
    let page = page.checked()?;
    let product = active_product(&state, &id).await?;
    let (reviews, total) = state.store.list_reviews(&product.id, page).await?;
    Ok(Reply::ok(
        "Reviews retrieved successfully",
        ReviewList {
            reviews: reviews.into_iter().map(ReviewView::from).collect(),
            pagination: Pagination::new(page, total),
            rating_average: rating_average(&product),
            rating_count: product.rating_count,
        },
    ))
}

/// Review a product (customer). Allowed once an order holding the product was delivered to the
/// caller, and once per product: change an existing review with `PUT /products/{id}/reviews/mine`.
#[utoipa::path(post, path = "/products/{id}/reviews", tag = "reviews", security(("bearer" = [])),
    params(("id" = String, Path, description = "Product id")),
    request_body = ReviewBody,
    responses(
        (status = 201, description = "Review created", body = Envelope<SavedReview>),
        (status = 400, description = "Invalid field or malformed id", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not a customer, or no delivered order holds the product", body = ErrorBody),
        (status = 404, description = "No such product, or it is inactive", body = ErrorBody),
        (status = 409, description = "The caller already reviewed this product", body = ErrorBody),
    ))]
async fn create_review(
    State(state): State<AppState>,
    Customer(caller): Customer,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ReviewBody>,
) -> Result<Reply<SavedReview>> {
    let text = body.checked()?;
    let product = active_product(&state, &id).await?;
    let review = state
        .store
        .create_review(&product.id, &caller.id, &text)
        .await?;
    let saved = saved_review(&state, &product.id, review).await?;
    Ok(Reply::created("Review created successfully", saved))
}

/// Replace the caller's review of a product (customer).
#[utoipa::path(put, path = "/products/{id}/reviews/mine", tag = "reviews", security(("bearer" = [])),
    params(("id" = String, Path, description = "Product id")),
    request_body = ReviewBody,
    responses(
        (status = 200, description = "Review updated", body = Envelope<SavedReview>),
        (status = 400, description = "Invalid field or malformed id", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not a customer", body = ErrorBody),
        (status = 404, description = "No such product, or the caller has not reviewed it", body = ErrorBody),
    ))]
async fn update_my_review(
    State(state): State<AppState>,
    Customer(caller): Customer,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ReviewBody>,
) -> Result<Reply<SavedReview>> {
    let text = body.checked()?;
    let product = active_product(&state, &id).await?;
    let review = state
        .store
        .update_review(&product.id, &caller.id, &text)
        .await?
        .ok_or_else(|| Error::not_found("Review"))?;
    let saved = saved_review(&state, &product.id, review).await?;
    Ok(Reply::ok("Review updated successfully", saved))
}

/// Remove the caller's review of a product. Any role: a customer who has since become a vendor
/// can still take back what they wrote.
#[utoipa::path(delete, path = "/products/{id}/reviews/mine", tag = "reviews", security(("bearer" = [])),
    params(("id" = String, Path, description = "Product id")),
    responses(
        (status = 200, description = "Review deleted", body = Envelope<DeletedReview>),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such product, or the caller has not reviewed it", body = ErrorBody),
    ))]
async fn delete_my_review(
    State(state): State<AppState>,
    AnyUser(caller): AnyUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Reply<DeletedReview>> {
    let product = active_product(&state, &id).await?;
    let review_id = state
        .store
        .delete_review(&product.id, &caller.id)
        .await?
        .ok_or_else(|| Error::not_found("Review"))?;
    let product = current_product(&state, &product.id).await?;
    Ok(Reply::ok(
        "Review deleted successfully",
        DeletedReview {
            id: review_id,
            rating_average: rating_average(&product),
            rating_count: product.rating_count,
        },
    ))
}

/// The product re-read after a review changed, for its new totals.
async fn current_product(state: &AppState, id: &str) -> Result<Product> {
    state
        .store
        .product_by_id(id)
        .await?
        .ok_or_else(|| Error::not_found("Product"))
}

async fn saved_review(state: &AppState, product_id: &str, review: Review) -> Result<SavedReview> {
    let product = current_product(state, product_id).await?;
    Ok(SavedReview {
        review: review.into(),
        rating_average: rating_average(&product),
        rating_count: product.rating_count,
    })
}
