//! The demo catalog (CONTRACT §1): one vendor and the products of `api-reference.md`, loaded into
//! an empty database so a fresh install can be tried at once. Each product's image is a small SVG
//! shipped in the binary (`web/demo/`, served at `/assets/demo/<name>.svg`), so the catalog shows
//! pictures with no internet.
//!
//! Loading is one transaction that re-checks emptiness, so two nodes starting together cannot both
//! load it: the second trips over the first one's vendor e-mail or SKUs and backs off.

use crate::auth::hash_password;
use crate::domain::ids::new_id;
use crate::domain::time::now_millis;
use crate::domain::user::Role;
use crate::store::{transaction, Store};
use anyhow::Context;

pub const DEMO_VENDOR_EMAIL: &str = "vendor@cartwright.local";
pub const DEMO_VENDOR_NAME: &str = "SalonPro Supplies";

struct DemoProduct {
    name: &'static str,
    description: &'static str,
    /// Paise.
    price: i64,
    stock: i64,
    brand: &'static str,
    category: &'static str,
    image: &'static str,
    sku: &'static str,
}

const CATALOG: &[DemoProduct] = &[
    DemoProduct {
        name: "Professional Hair Shampoo",
        description: "Sulphate-free salon shampoo for daily use on all hair types.",
        price: 2599,
        stock: 50,
        brand: "SalonPro",
        category: "hair_care",
        image: "/assets/demo/shampoo.svg",
        sku: "SP-HC-001",
    },
    DemoProduct {
        name: "Argan Oil Hair Conditioner",
        description:
            "Moisturising conditioner with Moroccan argan oil for smooth, frizz-free hair.",
        price: 2799,
        stock: 40,
        brand: "SalonPro",
        category: "hair_care",
        image: "/assets/demo/conditioner.svg",
        sku: "SP-HC-002",
    },
    DemoProduct {
        name: "Keratin Repair Hair Mask",
        description: "Weekly deep-conditioning treatment that rebuilds damaged, coloured hair.",
        price: 3450,
        stock: 30,
        brand: "SalonPro",
        category: "hair_care",
        image: "/assets/demo/hair-mask.svg",
        sku: "SP-HC-003",
    },
    DemoProduct {
        name: "Heat Protect Styling Spray",
        description: "Shields hair from styling tools up to 230 °C with a light, non-sticky hold.",
        price: 1899,
        stock: 60,
        brand: "StyleCraft",
        category: "hair_care",
        image: "/assets/demo/styling-spray.svg",
        sku: "SC-HC-004",
    },
    DemoProduct {
        name: "Vitamin C Brightening Serum",
        description: "15% vitamin C serum that evens skin tone and fades dark spots.",
        price: 4200,
        stock: 35,
        brand: "GlowLab",
        category: "skin_care",
        image: "/assets/demo/vitamin-c-serum.svg",
        sku: "GL-SC-001",
    },
    DemoProduct {
        name: "Hydrating Hyaluronic Moisturizer",
        description: "Oil-free gel cream with hyaluronic acid for 24-hour hydration.",
        price: 3199,
        stock: 45,
        brand: "GlowLab",
        category: "skin_care",
        image: "/assets/demo/moisturizer.svg",
        sku: "GL-SC-002",
    },
    DemoProduct {
        name: "Gentle Foaming Face Cleanser",
        description: "pH-balanced cleanser that removes make-up without drying the skin.",
        price: 1550,
        stock: 80,
        brand: "PureSkin",
        category: "skin_care",
        image: "/assets/demo/face-cleanser.svg",
        sku: "PS-SC-003",
    },
    DemoProduct {
        name: "SPF 50 Daily Sunscreen",
        description: "Broad-spectrum, no white cast, suitable under make-up.",
        price: 2250,
        stock: 70,
        brand: "PureSkin",
        category: "skin_care",
        image: "/assets/demo/sunscreen.svg",
        sku: "PS-SC-004",
    },
    DemoProduct {
        name: "Gel Nail Polish Set",
        description: "Six long-wear gel colours, cured under any UV or LED lamp.",
        price: 3999,
        stock: 25,
        brand: "NailArt Pro",
        category: "nails",
        image: "/assets/demo/gel-polish.svg",
        sku: "NA-NL-001",
    },
    DemoProduct {
        name: "Nourishing Cuticle Oil Pen",
        description: "Jojoba and vitamin E cuticle oil in a brush-tip pen.",
        price: 899,
        stock: 100,
        brand: "NailArt Pro",
        category: "nails",
        image: "/assets/demo/cuticle-oil.svg",
        sku: "NA-NL-002",
    },
    DemoProduct {
        name: "Acetone-Free Nail Polish Remover",
        description: "Removes polish gently without drying nails or cuticles.",
        price: 650,
        stock: 90,
        brand: "NailArt Pro",
        category: "nails",
        image: "/assets/demo/polish-remover.svg",
        sku: "NA-NL-003",
    },
    DemoProduct {
        name: "Professional Ionic Hair Dryer",
        description: "2200 W salon dryer with ionic technology and three heat settings.",
        price: 8999,
        stock: 15,
        brand: "StyleCraft",
        category: "tools",
        image: "/assets/demo/hair-dryer.svg",
        sku: "SC-TL-001",
    },
    DemoProduct {
        name: "Ceramic Flat Iron Straightener",
        description: "Floating ceramic plates with adjustable temperature up to 230 °C.",
        price: 6499,
        stock: 20,
        brand: "StyleCraft",
        category: "tools",
        image: "/assets/demo/flat-iron.svg",
        sku: "SC-TL-002",
    },
    DemoProduct {
        name: "Stainless Steel Cuticle Nipper",
        description: "Surgical-grade steel nipper with a precision-ground jaw.",
        price: 1299,
        stock: 50,
        brand: "SalonPro",
        category: "tools",
        image: "/assets/demo/cuticle-nipper.svg",
        sku: "SP-TL-001",
    },
    DemoProduct {
        name: "Velvet Matte Lipstick",
        description: "Long-wear matte lipstick in a rich brick red that does not dry the lips.",
        price: 1199,
        stock: 55,
        brand: "Luma",
        category: "makeup",
        image: "/assets/demo/lipstick.svg",
        sku: "LU-MU-001",
    },
    DemoProduct {
        name: "Volume Lift Mascara",
        description: "Buildable black mascara with a curved brush; smudge-proof for 12 hours.",
        price: 999,
        stock: 65,
        brand: "Luma",
        category: "makeup",
        image: "/assets/demo/mascara.svg",
        sku: "LU-MU-002",
    },
    DemoProduct {
        name: "Ten-Piece Makeup Brush Set",
        description:
            "Soft synthetic brushes for powder, blush, contour and eyes, with a travel roll.",
        price: 2499,
        stock: 30,
        brand: "StyleCraft",
        category: "makeup",
        image: "/assets/demo/makeup-brushes.svg",
        sku: "SC-MU-003",
    },
    DemoProduct {
        name: "Amber Oud Eau de Parfum",
        description: "Warm amber and oud with a bergamot opening; 50 ml spray.",
        price: 12999,
        stock: 12,
        brand: "Maison Noor",
        category: "fragrance",
        image: "/assets/demo/eau-de-parfum.svg",
        sku: "MN-FR-001",
    },
    DemoProduct {
        name: "Citrus Bloom Body Mist",
        description: "Light everyday mist of orange blossom and grapefruit.",
        price: 1499,
        stock: 75,
        brand: "Maison Noor",
        category: "fragrance",
        image: "/assets/demo/body-mist.svg",
        sku: "MN-FR-002",
    },
    DemoProduct {
        name: "Sandalwood Beard Oil",
        description: "Softens and tames beards with argan and sandalwood oils.",
        price: 749,
        stock: 0,
        brand: "PureSkin",
        category: "mens_grooming",
        image: "/assets/demo/beard-oil.svg",
        sku: "PS-MG-001",
    },
];

/// What one attempt to load the catalog did.
enum Outcome {
    /// The catalog already had products.
    NotEmpty,
    /// Loaded; `true` when the demo vendor account was created now (so its password is new).
    Loaded { vendor_created: bool },
}

/// Loads the demo catalog when there are no products. Returns `true` when it loaded it.
pub async fn load_if_empty(store: &Store) -> anyhow::Result<bool> {
    if has_products(store).await? {
        return Ok(false);
    }
    // Hashed before the transaction so the write lock is not held while argon2 runs.
    let password = hex::encode(rand::random::<[u8; 12]>());
    let password_hash = hash_password(password.clone())
        .await
        .map_err(|e| anyhow::anyhow!("hashing the demo vendor password: {e}"))?;
    let outcome = match insert_catalog(store, &password_hash).await {
        Ok(outcome) => outcome,
        // Another node loaded it at the same moment: its vendor e-mail or SKUs are taken.
        Err(crate::error::Error::Internal(err))
            if err
                .downcast_ref::<sqlx::Error>()
                .and_then(sqlx::Error::as_database_error)
                .is_some_and(|db| db.is_unique_violation()) =>
        {
            Outcome::NotEmpty
        }
        Err(err) => return Err(anyhow::Error::new(err)).context("loading the demo catalog"),
    };
    let loaded = match outcome {
        Outcome::NotEmpty => false,
        Outcome::Loaded { vendor_created } => {
            if vendor_created {
                tracing::warn!(
                    "created the demo vendor: email {DEMO_VENDOR_EMAIL} password {password} (shown once)"
                );
            }
            true
        }
    };

    // The demo discount codes (WELCOME10, SAVE50) come with the catalog; seeding is idempotent.
    if loaded {
        store
            .seed_demo_discounts()
            .await
            .map_err(|e| anyhow::anyhow!("seeding the demo discount codes: {e}"))?;
    }

    Ok(loaded)
}

async fn has_products(store: &Store) -> anyhow::Result<bool> {
    let row: Option<(String,)> = crate::store::read!(store, |pool| {
        sqlx::query_as("SELECT id FROM products LIMIT 1")
            .fetch_optional(pool)
            .await?
    });
    Ok(row.is_some())
}

/// The vendor and every product in one transaction, after checking again that the catalog is
/// empty; an existing demo vendor account is reused.
async fn insert_catalog(store: &Store, password_hash: &str) -> crate::error::Result<Outcome> {
    let now = now_millis();
    Ok(transaction!(store, |tx| {
        let any: Option<(String,)> = sqlx::query_as("SELECT id FROM products LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
        if any.is_some() {
            return Ok(Outcome::NotEmpty);
        }
        let existing: Option<(String,)> = sqlx::query_as("SELECT id FROM users WHERE email = $1")
            .bind(DEMO_VENDOR_EMAIL)
            .fetch_optional(&mut *tx)
            .await?;
        let (vendor_id, vendor_created) = match existing {
            Some((id,)) => (id, false),
            None => {
                let id = new_id();
                sqlx::query(
                    "INSERT INTO users (id, name, email, phone, password_hash, role, is_active, created_at, updated_at)
                     VALUES ($1, $2, $3, NULL, $4, $5, TRUE, $6, $6)",
                )
                .bind(&id)
                .bind(DEMO_VENDOR_NAME)
                .bind(DEMO_VENDOR_EMAIL)
                .bind(password_hash)
                .bind(Role::Vendor.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await?;
                (id, true)
            }
        };
        for (index, product) in CATALOG.iter().enumerate() {
            // The first product is the newest, so the default listing (newest first) opens with it.
            let created_at = now - index as i64;
            let images = serde_json::to_string(&[product.image]).unwrap_or_else(|_| "[]".into());
            sqlx::query(
                "INSERT INTO products (id, name, description, price, stock, reserved, brand, category,
                     image_urls, sku, is_active, vendor_id, rating_sum, rating_count, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $8, $9, TRUE, $10, 0, 0, $11, $11)",
            )
            .bind(new_id())
            .bind(product.name)
            .bind(product.description)
            .bind(product.price)
            .bind(product.stock)
            .bind(product.brand)
            .bind(product.category)
            .bind(images)
            .bind(product.sku)
            .bind(&vendor_id)
            .bind(created_at)
            .execute(&mut *tx)
            .await?;
        }
        Outcome::Loaded { vendor_created }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn catalog_meets_the_contract() {
        assert!(CATALOG.len() >= 12);
        let categories: HashSet<_> = CATALOG.iter().map(|p| p.category).collect();
        assert!(categories.len() >= 3);
        let skus: HashSet<_> = CATALOG.iter().map(|p| p.sku).collect();
        assert_eq!(skus.len(), CATALOG.len(), "SKUs must be unique");
        let shampoo = &CATALOG[0];
        assert_eq!(shampoo.name, "Professional Hair Shampoo");
        assert_eq!(
            (
                shampoo.brand,
                shampoo.category,
                shampoo.price,
                shampoo.stock
            ),
            ("SalonPro", "hair_care", 2599, 50)
        );
        assert_eq!(shampoo.image, "/assets/demo/shampoo.svg");
    }
}
