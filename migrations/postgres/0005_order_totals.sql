-- Daily order totals kept by triggers, so admin stats and list counts cost the same at a million
-- orders as at ten thousand: whole days are read from here, only the partial days at the edges
-- of a date range from `orders`. `shard` (created_at mod 16) spreads concurrent checkouts of one
-- day over 16 rows, so they do not queue on one row lock. Revenue is what completed payments
-- kept: total_amount - refunded_amount.
CREATE TABLE order_daily_totals (
    day            BIGINT NOT NULL,
    status         TEXT NOT NULL,
    payment_status TEXT NOT NULL,
    shard          BIGINT NOT NULL,
    orders         BIGINT NOT NULL,
    amount         BIGINT NOT NULL,
    revenue        BIGINT NOT NULL,
    PRIMARY KEY (day, status, payment_status, shard)
);

INSERT INTO order_daily_totals (day, status, payment_status, shard, orders, amount, revenue)
SELECT created_at / 86400000, status, payment_status, created_at % 16, COUNT(*), SUM(total_amount),
       SUM(CASE WHEN payment_status = 'completed' THEN total_amount - refunded_amount ELSE 0 END)
FROM orders GROUP BY created_at / 86400000, status, payment_status, created_at % 16;

CREATE FUNCTION order_daily_totals_apply(o orders, sign BIGINT) RETURNS void AS $$
    INSERT INTO order_daily_totals AS t (day, status, payment_status, shard, orders, amount, revenue)
    VALUES (o.created_at / 86400000, o.status, o.payment_status, o.created_at % 16, sign, sign * o.total_amount,
            sign * (CASE WHEN o.payment_status = 'completed' THEN o.total_amount - o.refunded_amount ELSE 0 END))
    ON CONFLICT (day, status, payment_status, shard) DO UPDATE SET
        orders = t.orders + EXCLUDED.orders, amount = t.amount + EXCLUDED.amount, revenue = t.revenue + EXCLUDED.revenue;
$$ LANGUAGE sql;

CREATE FUNCTION order_daily_totals_trigger() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM order_daily_totals_apply(OLD, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM order_daily_totals_apply(NEW, 1);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER order_daily_totals_insert AFTER INSERT ON orders
    FOR EACH ROW EXECUTE FUNCTION order_daily_totals_trigger();
CREATE TRIGGER order_daily_totals_update AFTER UPDATE OF status, payment_status, total_amount, refunded_amount, created_at ON orders
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.payment_status IS DISTINCT FROM NEW.payment_status
                       OR OLD.total_amount IS DISTINCT FROM NEW.total_amount OR OLD.refunded_amount IS DISTINCT FROM NEW.refunded_amount
                       OR OLD.created_at IS DISTINCT FROM NEW.created_at)
    EXECUTE FUNCTION order_daily_totals_trigger();
CREATE TRIGGER order_daily_totals_delete AFTER DELETE ON orders
    FOR EACH ROW EXECUTE FUNCTION order_daily_totals_trigger();
