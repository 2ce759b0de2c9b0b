-- `order_totals_apply` was a two-statement SQL function. PostgreSQL (before 18) plans the
-- statements of such a function again on every call, and every order paid ran it three times at
-- its commits (new order; old and new state at confirmation): pg_stat_statements put it at a
-- quarter of the server's time under the hot-product mix. As PL/pgSQL its plans are cached per
-- connection. The shard is now the connection's (backend pid), not the order's: a connection runs
-- one transaction at a time, so two concurrent commits meet on a totals row only when their
-- backends share a shard, instead of whenever their orders hash alike. Readers add all shards up,
-- so which shard a change lands in does not matter.
CREATE OR REPLACE FUNCTION order_totals_apply(o orders, sign BIGINT) RETURNS void AS $$
DECLARE
    part SMALLINT := pg_backend_pid() & 15;
    kept BIGINT := CASE WHEN o.payment_status = 'completed' THEN o.total_amount - o.refunded_amount ELSE 0 END;
BEGIN
    INSERT INTO order_state_totals AS t (status, payment_status, shard, orders, amount, revenue)
    VALUES (o.status, o.payment_status, part, sign, sign * o.total_amount, sign * kept)
    ON CONFLICT (status, payment_status, shard) DO UPDATE SET
        orders = t.orders + EXCLUDED.orders, amount = t.amount + EXCLUDED.amount, revenue = t.revenue + EXCLUDED.revenue;
    INSERT INTO order_daily_totals AS t (day, status, payment_status, shard, orders, amount, revenue)
    VALUES (o.created_at / 86400000, o.status, o.payment_status, part, sign, sign * o.total_amount, sign * kept)
    ON CONFLICT (day, status, payment_status, shard) DO UPDATE SET
        orders = t.orders + EXCLUDED.orders, amount = t.amount + EXCLUDED.amount, revenue = t.revenue + EXCLUDED.revenue;
END;
$$ LANGUAGE plpgsql;
