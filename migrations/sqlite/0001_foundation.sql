-- Accounts, catalog and address book. Money is INTEGER paise; times are INTEGER epoch milliseconds.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    email         TEXT NOT NULL UNIQUE,
    phone         TEXT,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('customer', 'vendor', 'admin')),
    is_active     BOOLEAN NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX users_role_created ON users (role, created_at);

CREATE TABLE products (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    price        INTEGER NOT NULL CHECK (price >= 0),
    stock        INTEGER NOT NULL CHECK (stock >= 0),
    -- Units held by unpaid orders; availableStock = stock - reserved.
    reserved     INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0 AND reserved <= stock),
    brand        TEXT NOT NULL DEFAULT '',
    category     TEXT NOT NULL DEFAULT '',
    image_urls   TEXT NOT NULL DEFAULT '[]',
    sku          TEXT UNIQUE,
    is_active    BOOLEAN NOT NULL DEFAULT 1,
    vendor_id    TEXT REFERENCES users (id),
    rating_sum   INTEGER NOT NULL DEFAULT 0,
    rating_count INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX products_active_created ON products (is_active, created_at);
CREATE INDEX products_category ON products (category);
CREATE INDEX products_brand ON products (brand);
CREATE INDEX products_price ON products (price);
CREATE INDEX products_vendor ON products (vendor_id);

CREATE TABLE addresses (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    name       TEXT,
    street     TEXT NOT NULL,
    city       TEXT NOT NULL,
    state      TEXT NOT NULL,
    zip_code   TEXT NOT NULL,
    country    TEXT NOT NULL,
    phone      TEXT NOT NULL,
    is_default BOOLEAN NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX addresses_user ON addresses (user_id, created_at);
