-- Every commit that inserts an order or moves its status updated the same totals rows (one per
-- status and payment status, one per day), so on PostgreSQL all checkouts and confirmations
-- queued on those row locks for the length of their commits. Each order now counts in one of 16
-- shards picked by its id; readers add the shards up (a few more rows per day, no more reads).
ALTER TABLE order_state_totals ADD COLUMN shard SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE order_state_totals DROP CONSTRAINT order_state_totals_pkey;
ALTER TABLE order_state_totals ADD PRIMARY KEY (status, payment_status, shard);

ALTER TABLE order_daily_totals ADD COLUMN shard SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE order_daily_totals DROP CONSTRAINT order_daily_totals_pkey;
ALTER TABLE order_daily_totals ADD PRIMARY KEY (day, status, payment_status, shard);

CREATE OR REPLACE FUNCTION order_totals_apply(o orders, sign BIGINT) RETURNS void AS $$
    INSERT INTO order_state_totals AS t (status, payment_status, shard, orders, amount, revenue)
    VALUES (o.status, o.payment_status, hashtext(o.id) & 15, sign, sign * o.total_amount,
            sign * (CASE WHEN o.payment_status = 'completed' THEN o.total_amount - o.refunded_amount ELSE 0 END))
    ON CONFLICT (status, payment_status, shard) DO UPDATE SET
        orders = t.orders + EXCLUDED.orders, amount = t.amount + EXCLUDED.amount, revenue = t.revenue + EXCLUDED.revenue;
    INSERT INTO order_daily_totals AS t (day, status, payment_status, shard, orders, amount, revenue)
    VALUES (o.created_at / 86400000, o.status, o.payment_status, hashtext(o.id) & 15, sign, sign * o.total_amount,
            sign * (CASE WHEN o.payment_status = 'completed' THEN o.total_amount - o.refunded_amount ELSE 0 END))
    ON CONFLICT (day, status, payment_status, shard) DO UPDATE SET
        orders = t.orders + EXCLUDED.orders, amount = t.amount + EXCLUDED.amount, revenue = t.revenue + EXCLUDED.revenue;
$$ LANGUAGE sql;
