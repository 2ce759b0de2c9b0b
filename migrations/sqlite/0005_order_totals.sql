-- Daily order totals kept by triggers, so admin stats and list counts cost the same at a million
-- orders as at ten thousand: whole days are read from here, only the partial days at the edges
-- of a date range from `orders`. `shard` (created_at mod 16) spreads concurrent checkouts of one
-- day over 16 rows, so they do not queue on one row. Revenue is what completed payments kept:
-- total_amount - refunded_amount.
CREATE TABLE order_daily_totals (
    day            INTEGER NOT NULL,
    status         TEXT NOT NULL,
    payment_status TEXT NOT NULL,
    shard          INTEGER NOT NULL,
    orders         INTEGER NOT NULL,
    amount         INTEGER NOT NULL,
    revenue        INTEGER NOT NULL,
    PRIMARY KEY (day, status, payment_status, shard)
);

INSERT INTO order_daily_totals (day, status, payment_status, shard, orders, amount, revenue)
SELECT created_at / 86400000, status, payment_status, created_at % 16, COUNT(*), SUM(total_amount),
       SUM(CASE WHEN payment_status = 'completed' THEN total_amount - refunded_amount ELSE 0 END)
FROM orders GROUP BY created_at / 86400000, status, payment_status, created_at % 16;

CREATE TRIGGER order_daily_totals_insert AFTER INSERT ON orders
BEGIN
    INSERT INTO order_daily_totals (day, status, payment_status, shard, orders, amount, revenue)
    VALUES (NEW.created_at / 86400000, NEW.status, NEW.payment_status, NEW.created_at % 16, 1, NEW.total_amount,
            CASE WHEN NEW.payment_status = 'completed' THEN NEW.total_amount - NEW.refunded_amount ELSE 0 END)
    ON CONFLICT (day, status, payment_status, shard) DO UPDATE SET
        orders = orders + excluded.orders, amount = amount + excluded.amount, revenue = revenue + excluded.revenue;
END;

CREATE TRIGGER order_daily_totals_update AFTER UPDATE OF status, payment_status, total_amount, refunded_amount, created_at ON orders
WHEN OLD.status IS NOT NEW.status OR OLD.payment_status IS NOT NEW.payment_status
  OR OLD.total_amount IS NOT NEW.total_amount OR OLD.refunded_amount IS NOT NEW.refunded_amount
  OR OLD.created_at IS NOT NEW.created_at
BEGIN
    INSERT INTO order_daily_totals (day, status, payment_status, shard, orders, amount, revenue)
    VALUES (OLD.created_at / 86400000, OLD.status, OLD.payment_status, OLD.created_at % 16, -1, -OLD.total_amount,
            -(CASE WHEN OLD.payment_status = 'completed' THEN OLD.total_amount - OLD.refunded_amount ELSE 0 END))
    ON CONFLICT (day, status, payment_status, shard) DO UPDATE SET
        orders = orders + excluded.orders, amount = amount + excluded.amount, revenue = revenue + excluded.revenue;
    INSERT INTO order_daily_totals (day, status, payment_status, shard, orders, amount, revenue)
    VALUES (NEW.created_at / 86400000, NEW.status, NEW.payment_status, NEW.created_at % 16, 1, NEW.total_amount,
            CASE WHEN NEW.payment_status = 'completed' THEN NEW.total_amount - NEW.refunded_amount ELSE 0 END)
    ON CONFLICT (day, status, payment_status, shard) DO UPDATE SET
        orders = orders + excluded.orders, amount = amount + excluded.amount, revenue = revenue + excluded.revenue;
END;

CREATE TRIGGER order_daily_totals_delete AFTER DELETE ON orders
BEGIN
    INSERT INTO order_daily_totals (day, status, payment_status, shard, orders, amount, revenue)
    VALUES (OLD.created_at / 86400000, OLD.status, OLD.payment_status, OLD.created_at % 16, -1, -OLD.total_amount,
            -(CASE WHEN OLD.payment_status = 'completed' THEN OLD.total_amount - OLD.refunded_amount ELSE 0 END))
    ON CONFLICT (day, status, payment_status, shard) DO UPDATE SET
        orders = orders + excluded.orders, amount = amount + excluded.amount, revenue = revenue + excluded.revenue;
END;
