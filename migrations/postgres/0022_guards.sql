-- The background jobs delete webhook events older than 30 days in small batches, oldest first;
-- this index finds them without reading the whole table (idempotency keys and rate-limit windows
-- have theirs already: idempotency_keys_created, rate_limits_window).
CREATE INDEX webhook_events_received ON webhook_events (received_at);

-- Whether cart p_cart may take product p_product: it holds the product already, or fewer than
-- p_max distinct products. The one-statement add to cart calls it after its first part locked the
-- cart's row. VOLATILE and PL/pgSQL (never inlined) so that its query reads with a snapshot taken
-- when it runs, after the lock was granted: it counts every line committed by the add that held
-- the lock before, which the statement's own snapshot, older than the lock, would miss.
CREATE FUNCTION cart_has_room(p_cart TEXT, p_product TEXT, p_max BIGINT) RETURNS BOOLEAN
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM cart_items WHERE cart_id = p_cart AND product_id = p_product)
        OR (SELECT COUNT(*) FROM cart_items WHERE cart_id = p_cart) < p_max;
END;
$$;
