-- Orders with frozen lines, their append-only status history, the payments ledger, webhook
-- deduplication, idempotency keys, notifications and reviews.
CREATE TABLE orders (
    id                  TEXT PRIMARY KEY,
    order_number        TEXT NOT NULL UNIQUE,
    user_id             TEXT NOT NULL REFERENCES users (id),
    status              TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'processing', 'shipped', 'delivered', 'cancelled', 'returned')),
    total_items         BIGINT NOT NULL CHECK (total_items >= 1),
    subtotal            BIGINT NOT NULL CHECK (subtotal >= 0),
    discount            BIGINT NOT NULL DEFAULT 0 CHECK (discount >= 0),
    discount_code       TEXT,
    shipping_charges    BIGINT NOT NULL DEFAULT 0 CHECK (shipping_charges >= 0),
    tax                 BIGINT NOT NULL DEFAULT 0 CHECK (tax >= 0),
    total_amount        BIGINT NOT NULL CHECK (total_amount >= 0),
    currency            TEXT NOT NULL,
    shipping_address    TEXT NOT NULL,
    notes               TEXT,
    payment_method      TEXT NOT NULL,
    -- pending | completed | failed | refunded
    payment_status      TEXT NOT NULL,
    gateway_order_id    TEXT UNIQUE,
    gateway_payment_id  TEXT,
    paid_at             BIGINT,
    refunded_amount     BIGINT NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0 AND refunded_amount <= total_amount),
    -- What the order holds of its products' stock: reserved (unpaid), committed (sold),
    -- released (reservation given back) or restocked (sold units put back).
    stock_state         TEXT NOT NULL CHECK (stock_state IN ('reserved', 'committed', 'released', 'restocked')),
    payment_expires_at  BIGINT,
    -- when the gateway was last asked about this unpaid order (reconciliation)
    gateway_checked_at  BIGINT,
    confirmed_at        BIGINT,
    tracking_number     TEXT,
    estimated_delivery  BIGINT,
    delivered_at        BIGINT,
    received_at         BIGINT,
    cancelled_at        BIGINT,
    cancelled_by        TEXT,
    cancellation_reason TEXT,
    return_status       TEXT NOT NULL DEFAULT 'none' CHECK (return_status IN ('none', 'requested', 'approved', 'rejected', 'completed')),
    return_reason       TEXT,
    return_requested_at BIGINT,
    return_decision_reason TEXT,
    returned_at         BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE INDEX orders_user_created ON orders (user_id, created_at);
CREATE INDEX orders_created ON orders (created_at);
CREATE INDEX orders_status_created ON orders (status, created_at);
CREATE INDEX orders_payment_status_created ON orders (payment_status, created_at);
CREATE INDEX orders_unpaid_expiry ON orders (payment_expires_at) WHERE status = 'pending';

CREATE TABLE order_items (
    order_id      TEXT NOT NULL REFERENCES orders (id),
    product_id    TEXT NOT NULL REFERENCES products (id),
    vendor_id     TEXT,
    product_name  TEXT NOT NULL,
    product_image TEXT,
    price         BIGINT NOT NULL CHECK (price >= 0),
    quantity      BIGINT NOT NULL CHECK (quantity >= 1),
    total_price   BIGINT NOT NULL CHECK (total_price >= 0),
    PRIMARY KEY (order_id, product_id)
);
CREATE INDEX order_items_vendor ON order_items (vendor_id, order_id);
CREATE INDEX order_items_product ON order_items (product_id);

CREATE TABLE order_status_history (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id    TEXT NOT NULL REFERENCES orders (id),
    status      TEXT NOT NULL,
    description TEXT NOT NULL,
    actor_id    TEXT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX order_status_history_order ON order_status_history (order_id, id);

-- The payments ledger: every interaction with the gateway about an order.
CREATE TABLE payment_transactions (
    id              TEXT PRIMARY KEY,
    order_id        TEXT NOT NULL REFERENCES orders (id),
    -- gateway_order | payment_captured | payment_failed | refund
    kind            TEXT NOT NULL,
    -- the gateway's id for it: order_..., pay_..., rfnd_...
    gateway_ref     TEXT,
    amount          BIGINT NOT NULL CHECK (amount >= 0),
    -- created | captured | failed | requested | processed
    status          TEXT NOT NULL,
    -- refunds: the key sent as X-Refund-Idempotency; one refund per key, ever.
    idempotency_key TEXT UNIQUE,
    -- refunds: the payment (pay_...) the money goes back from
    payment_ref     TEXT,
    detail          TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX payment_transactions_order ON payment_transactions (order_id, created_at);
CREATE UNIQUE INDEX payment_transactions_capture ON payment_transactions (gateway_ref) WHERE kind = 'payment_captured';
CREATE INDEX payment_transactions_pending_refunds ON payment_transactions (status) WHERE kind = 'refund';

CREATE TABLE webhook_events (
    event_id    TEXT PRIMARY KEY,
    event_type  TEXT NOT NULL,
    received_at BIGINT NOT NULL
);

CREATE TABLE idempotency_keys (
    user_id         TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    -- NULL while the first request is still running
    response_status BIGINT,
    response_body   TEXT,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (user_id, idempotency_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

CREATE TABLE notifications (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    kind       TEXT NOT NULL,
    title      TEXT NOT NULL,
    message    TEXT NOT NULL,
    order_id   TEXT,
    is_read    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL
);
CREATE INDEX notifications_user ON notifications (user_id, is_read, created_at);

CREATE TABLE reviews (
    id         TEXT PRIMARY KEY,
    product_id TEXT NOT NULL REFERENCES products (id),
    user_id    TEXT NOT NULL REFERENCES users (id),
    rating     BIGINT NOT NULL CHECK (rating BETWEEN 1 AND 5),
    title      TEXT,
    comment    TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (product_id, user_id)
);
CREATE INDEX reviews_product_created ON reviews (product_id, created_at);
