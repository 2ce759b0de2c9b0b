-- Order totals kept by triggers, so admin stats and list counts cost the same at a million orders
-- as at ten thousand: all-time figures come from `order_state_totals` (one row per status and
-- payment status), date ranges from `order_daily_totals` for whole days, and only the partial
-- days at the edges of a range are read from `orders`. Revenue is what completed payments kept:
-- total_amount - refunded_amount.
CREATE TABLE order_state_totals (
    status         TEXT NOT NULL,
    payment_status TEXT NOT NULL,
    orders         BIGINT NOT NULL,
    amount         BIGINT NOT NULL,
    revenue        BIGINT NOT NULL,
    PRIMARY KEY (status, payment_status)
);

CREATE TABLE order_daily_totals (
    day            BIGINT NOT NULL,
    status         TEXT NOT NULL,
    payment_status TEXT NOT NULL,
    orders         BIGINT NOT NULL,
    amount         BIGINT NOT NULL,
    revenue        BIGINT NOT NULL,
    PRIMARY KEY (day, status, payment_status)
);

INSERT INTO order_state_totals (status, payment_status, orders, amount, revenue)
SELECT status, payment_status, COUNT(*), SUM(total_amount),
       SUM(CASE WHEN payment_status = 'completed' THEN total_amount - refunded_amount ELSE 0 END)
FROM orders GROUP BY status, payment_status;

INSERT INTO order_daily_totals (day, status, payment_status, orders, amount, revenue)
SELECT created_at / 86400000, status, payment_status, COUNT(*), SUM(total_amount),
       SUM(CASE WHEN payment_status = 'completed' THEN total_amount - refunded_amount ELSE 0 END)
FROM orders GROUP BY created_at / 86400000, status, payment_status;

CREATE FUNCTION order_totals_apply(o orders, sign BIGINT) RETURNS void AS $$
    INSERT INTO order_state_totals AS t (status, payment_status, orders, amount, revenue)
    VALUES (o.status, o.payment_status, sign, sign * o.total_amount,
            sign * (CASE WHEN o.payment_status = 'completed' THEN o.total_amount - o.refunded_amount ELSE 0 END))
    ON CONFLICT (status, payment_status) DO UPDATE SET
        orders = t.orders + EXCLUDED.orders, amount = t.amount + EXCLUDED.amount, revenue = t.revenue + EXCLUDED.revenue;
    INSERT INTO order_daily_totals AS t (day, status, payment_status, orders, amount, revenue)
    VALUES (o.created_at / 86400000, o.status, o.payment_status, sign, sign * o.total_amount,
            sign * (CASE WHEN o.payment_status = 'completed' THEN o.total_amount - o.refunded_amount ELSE 0 END))
    ON CONFLICT (day, status, payment_status) DO UPDATE SET
        orders = t.orders + EXCLUDED.orders, amount = t.amount + EXCLUDED.amount, revenue = t.revenue + EXCLUDED.revenue;
$$ LANGUAGE sql;

CREATE FUNCTION order_totals_trigger() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM order_totals_apply(OLD, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM order_totals_apply(NEW, 1);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

-- Deferred to commit, so a checkout holds the lock on a totals row only while it commits: every
-- concurrent checkout touches the same few rows, and an ordinary trigger would make them queue
-- for the rest of their transactions.
CREATE CONSTRAINT TRIGGER order_totals_insert AFTER INSERT ON orders
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION order_totals_trigger();
CREATE CONSTRAINT TRIGGER order_totals_update AFTER UPDATE OF status, payment_status, total_amount, refunded_amount, created_at ON orders
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.payment_status IS DISTINCT FROM NEW.payment_status
                       OR OLD.total_amount IS DISTINCT FROM NEW.total_amount OR OLD.refunded_amount IS DISTINCT FROM NEW.refunded_amount
                       OR OLD.created_at IS DISTINCT FROM NEW.created_at)
    EXECUTE FUNCTION order_totals_trigger();
CREATE CONSTRAINT TRIGGER order_totals_delete AFTER DELETE ON orders
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION order_totals_trigger();

-- Order lists sort by (column, id): with id in the index the first page is read in index order,
-- without sorting the matching orders.
DROP INDEX orders_created;
CREATE INDEX orders_created ON orders (created_at, id);
DROP INDEX orders_status_created;
CREATE INDEX orders_status_created ON orders (status, created_at, id);
DROP INDEX orders_user_created;
CREATE INDEX orders_user_created ON orders (user_id, created_at, id);
