-- Order totals kept by triggers, so admin stats and list counts cost the same at a million orders
-- as at ten thousand: all-time figures come from `order_state_totals` (one row per status and
-- payment status), date ranges from `order_daily_totals` for whole days, and only the partial
-- days at the edges of a range are read from `orders`. Revenue is what completed payments kept:
-- total_amount - refunded_amount.
CREATE TABLE order_state_totals (
    status         TEXT NOT NULL,
    payment_status TEXT NOT NULL,
    orders         INTEGER NOT NULL,
    amount         INTEGER NOT NULL,
    revenue        INTEGER NOT NULL,
    PRIMARY KEY (status, payment_status)
);

CREATE TABLE order_daily_totals (
    day            INTEGER NOT NULL,
    status         TEXT NOT NULL,
    payment_status TEXT NOT NULL,
    orders         INTEGER NOT NULL,
    amount         INTEGER NOT NULL,
    revenue        INTEGER NOT NULL,
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

-- SQLite has one writer at a time, so these rows are never contended.
CREATE TRIGGER order_totals_insert AFTER INSERT ON orders
BEGIN
    INSERT INTO order_state_totals (status, payment_status, orders, amount, revenue)
    VALUES (NEW.status, NEW.payment_status, 1, NEW.total_amount,
            CASE WHEN NEW.payment_status = 'completed' THEN NEW.total_amount - NEW.refunded_amount ELSE 0 END)
    ON CONFLICT (status, payment_status) DO UPDATE SET
        orders = orders + excluded.orders, amount = amount + excluded.amount, revenue = revenue + excluded.revenue;
    INSERT INTO order_daily_totals (day, status, payment_status, orders, amount, revenue)
    VALUES (NEW.created_at / 86400000, NEW.status, NEW.payment_status, 1, NEW.total_amount,
            CASE WHEN NEW.payment_status = 'completed' THEN NEW.total_amount - NEW.refunded_amount ELSE 0 END)
    ON CONFLICT (day, status, payment_status) DO UPDATE SET
        orders = orders + excluded.orders, amount = amount + excluded.amount, revenue = revenue + excluded.revenue;
END;

CREATE TRIGGER order_totals_update AFTER UPDATE OF status, payment_status, total_amount, refunded_amount, created_at ON orders
WHEN OLD.status IS NOT NEW.status OR OLD.payment_status IS NOT NEW.payment_status
  OR OLD.total_amount IS NOT NEW.total_amount OR OLD.refunded_amount IS NOT NEW.refunded_amount
  OR OLD.created_at IS NOT NEW.created_at
BEGIN
    INSERT INTO order_state_totals (status, payment_status, orders, amount, revenue)
    VALUES (OLD.status, OLD.payment_status, -1, -OLD.total_amount,
            -(CASE WHEN OLD.payment_status = 'completed' THEN OLD.total_amount - OLD.refunded_amount ELSE 0 END))
    ON CONFLICT (status, payment_status) DO UPDATE SET
        orders = orders + excluded.orders, amount = amount + excluded.amount, revenue = revenue + excluded.revenue;
    INSERT INTO order_daily_totals (day, status, payment_status, orders, amount, revenue)
    VALUES (OLD.created_at / 86400000, OLD.status, OLD.payment_status, -1, -OLD.total_amount,
            -(CASE WHEN OLD.payment_status = 'completed' THEN OLD.total_amount - OLD.refunded_amount ELSE 0 END))
    ON CONFLICT (day, status, payment_status) DO UPDATE SET
        orders = orders + excluded.orders, amount = amount + excluded.amount, revenue = revenue + excluded.revenue;
    INSERT INTO order_state_totals (status, payment_status, orders, amount, revenue)
    VALUES (NEW.status, NEW.payment_status, 1, NEW.total_amount,
            CASE WHEN NEW.payment_status = 'completed' THEN NEW.total_amount - NEW.refunded_amount ELSE 0 END)
    ON CONFLICT (status, payment_status) DO UPDATE SET
        orders = orders + excluded.orders, amount = amount + excluded.amount, revenue = revenue + excluded.revenue;
    INSERT INTO order_daily_totals (day, status, payment_status, orders, amount, revenue)
    VALUES (NEW.created_at / 86400000, NEW.status, NEW.payment_status, 1, NEW.total_amount,
            CASE WHEN NEW.payment_status = 'completed' THEN NEW.total_amount - NEW.refunded_amount ELSE 0 END)
    ON CONFLICT (day, status, payment_status) DO UPDATE SET
        orders = orders + excluded.orders, amount = amount + excluded.amount, revenue = revenue + excluded.revenue;
END;

CREATE TRIGGER order_totals_delete AFTER DELETE ON orders
BEGIN
    INSERT INTO order_state_totals (status, payment_status, orders, amount, revenue)
    VALUES (OLD.status, OLD.payment_status, -1, -OLD.total_amount,
            -(CASE WHEN OLD.payment_status = 'completed' THEN OLD.total_amount - OLD.refunded_amount ELSE 0 END))
    ON CONFLICT (status, payment_status) DO UPDATE SET
        orders = orders + excluded.orders, amount = amount + excluded.amount, revenue = revenue + excluded.revenue;
    INSERT INTO order_daily_totals (day, status, payment_status, orders, amount, revenue)
    VALUES (OLD.created_at / 86400000, OLD.status, OLD.payment_status, -1, -OLD.total_amount,
            -(CASE WHEN OLD.payment_status = 'completed' THEN OLD.total_amount - OLD.refunded_amount ELSE 0 END))
    ON CONFLICT (day, status, payment_status) DO UPDATE SET
        orders = orders + excluded.orders, amount = amount + excluded.amount, revenue = revenue + excluded.revenue;
END;

-- Order lists sort by (column, id): with id in the index the first page is read in index order,
-- without sorting the matching orders.
DROP INDEX orders_created;
CREATE INDEX orders_created ON orders (created_at, id);
DROP INDEX orders_status_created;
CREATE INDEX orders_status_created ON orders (status, created_at, id);
DROP INDEX orders_user_created;
CREATE INDEX orders_user_created ON orders (user_id, created_at, id);
