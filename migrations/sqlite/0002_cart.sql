-- Carts, their lines, discount codes and the uses of codes by orders.
-- Money is INTEGER paise; times are INTEGER epoch milliseconds.

-- Discount codes (CONTRACT §5). `value` holds hundredths of the number the admin typed: basis points
-- for `percent` (10 % = 1000, so 0 < value <= 10000) and paise for `fixed` (50.00 = 5000).
-- `used_count` counts reserved plus final uses; the CHECK makes the usage limit hold even if a
-- writer forgot its conditional UPDATE.
CREATE TABLE discounts (
    code                TEXT PRIMARY KEY CHECK (length(code) BETWEEN 1 AND 20 AND code = upper(code)),
    type                TEXT NOT NULL CHECK (type IN ('percent', 'fixed')),
    value               INTEGER NOT NULL CHECK (value > 0 AND (type <> 'percent' OR value <= 10000)),
    min_order_amount    INTEGER NOT NULL DEFAULT 0 CHECK (min_order_amount >= 0),
    max_discount_amount INTEGER CHECK (max_discount_amount IS NULL OR max_discount_amount > 0),
    starts_at           INTEGER,
    ends_at             INTEGER,
    usage_limit         INTEGER CHECK (usage_limit IS NULL OR usage_limit >= 1),
    per_user_limit      INTEGER CHECK (per_user_limit IS NULL OR per_user_limit >= 1),
    used_count          INTEGER NOT NULL DEFAULT 0
                        CHECK (used_count >= 0 AND (usage_limit IS NULL OR used_count <= usage_limit)),
    is_active           BOOLEAN NOT NULL DEFAULT 1,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    CHECK (starts_at IS NULL OR ends_at IS NULL OR starts_at < ends_at)
);
CREATE INDEX discounts_created ON discounts (created_at);

-- One row per order that used a code: `reserved` when the order is placed, `final` once it is
-- confirmed; a reserved use is deleted (and used_count given back) when the order is cancelled or
-- expires unpaid. No foreign key to orders: the orders table belongs to a later migration.
CREATE TABLE discount_uses (
    order_id   TEXT PRIMARY KEY,
    code       TEXT NOT NULL REFERENCES discounts (code),
    user_id    TEXT NOT NULL REFERENCES users (id),
    state      TEXT NOT NULL CHECK (state IN ('reserved', 'final')),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX discount_uses_code_user ON discount_uses (code, user_id);

-- One cart per user, made on first use. `discount_code` has no foreign key on purpose: a code
-- deleted by an admin is noticed on the next read and removed with a message, like any other code
-- that stopped applying. `shipping_address` is the address as JSON text.
CREATE TABLE carts (
    id               TEXT PRIMARY KEY,
    user_id          TEXT NOT NULL UNIQUE REFERENCES users (id),
    discount_code    TEXT,
    shipping_address TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);

CREATE TABLE cart_items (
    cart_id    TEXT NOT NULL REFERENCES carts (id) ON DELETE CASCADE,
    product_id TEXT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    quantity   INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 100),
    added_at   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (cart_id, product_id)
);
CREATE INDEX cart_items_product ON cart_items (product_id);
