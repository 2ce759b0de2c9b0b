-- Change log for src/app/events.rs. Triggers, not calls in the Rust code, so every write path is
-- covered (checkout, confirmation, cancellation, expiry, returns, admin edits, even SQL typed by
-- hand) and none can be forgotten. Each change is a row written inside the changing transaction,
-- so a rollback takes it back. Every node reads the log: the rows of the transactions whose ids
-- lie between what it has read and the oldest transaction still running (`pg_snapshot_xmin`), so
-- a row is read only once its transaction has ended, and none is skipped however transactions
-- interleave. Each node deletes the rows it read a minute ago (a node further behind than that
-- empties its caches). `pg_notify` was tried first: PostgreSQL serialises the commits of all transactions that
-- notify (a database-wide lock held through the commit's WAL flush), which took 41 % off the
-- checkout storage ceiling in the benchmark; a plain insert costs no such lock.
CREATE TABLE change_log (
    seq     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    xid     xid8 NOT NULL DEFAULT pg_current_xact_id(),
    payload TEXT NOT NULL
);
CREATE INDEX change_log_xid ON change_log (xid);

CREATE FUNCTION cw_notify_order() RETURNS trigger AS $$
BEGIN
    INSERT INTO change_log (payload) VALUES (json_build_object(
        'k', 'order', 'id', NEW.id, 'number', NEW.order_number, 'user', NEW.user_id,
        'status', NEW.status)::text);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER cw_order_insert AFTER INSERT ON orders
    FOR EACH ROW EXECUTE FUNCTION cw_notify_order();
CREATE TRIGGER cw_order_status AFTER UPDATE OF status ON orders
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION cw_notify_order();

CREATE FUNCTION cw_notify_notification() RETURNS trigger AS $$
BEGIN
    INSERT INTO change_log (payload) VALUES (json_build_object(
        'k', 'notification', 'id', NEW.id, 'user', NEW.user_id, 'order', NEW.order_id)::text);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER cw_notification_insert AFTER INSERT ON notifications
    FOR EACH ROW EXECUTE FUNCTION cw_notify_notification();

-- Accounts: role and activation are what the per-request account check caches.
CREATE FUNCTION cw_notify_user() RETURNS trigger AS $$
BEGIN
    INSERT INTO change_log (payload) VALUES (json_build_object(
        'k', 'user', 'id', CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END)::text);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER cw_user_update AFTER UPDATE OF role, is_active ON users
    FOR EACH ROW EXECUTE FUNCTION cw_notify_user();
CREATE TRIGGER cw_user_delete AFTER DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION cw_notify_user();

-- Products: any edit, and every stock move (reservation at checkout, decrement at confirmation,
-- release at cancellation or expiry, restock on return), since each updates the product's row.
CREATE FUNCTION cw_notify_product() RETURNS trigger AS $$
BEGIN
    INSERT INTO change_log (payload) VALUES (json_build_object(
        'k', 'product', 'id', CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END)::text);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER cw_product_change AFTER INSERT OR UPDATE OR DELETE ON products
    FOR EACH ROW EXECUTE FUNCTION cw_notify_product();

-- Carts (the cart cache): a cart row, its lines, and the user's uses of discount codes (which a
-- per-user limit counts) name the user whose cart changed; a code's row changing (an admin edit,
-- a use taken or given back) may change every cart holding it.
CREATE FUNCTION cw_notify_cart() RETURNS trigger AS $$
DECLARE
    owner TEXT;
    r RECORD;
BEGIN
    IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
    IF TG_TABLE_NAME = 'cart_items' THEN
        SELECT user_id INTO owner FROM carts WHERE id = r.cart_id;
    ELSE
        owner := r.user_id;
    END IF;
    INSERT INTO change_log (payload) VALUES (json_build_object('k', 'cart', 'user', owner)::text);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

-- Every change to a cart's lines also touches its row's `updated_at`; only the changes of the
-- row's own content are worth a second log row.
CREATE TRIGGER cw_cart_change AFTER INSERT OR DELETE ON carts
    FOR EACH ROW EXECUTE FUNCTION cw_notify_cart();
CREATE TRIGGER cw_cart_update AFTER UPDATE ON carts
    FOR EACH ROW WHEN (OLD.discount_code IS DISTINCT FROM NEW.discount_code
                       OR OLD.shipping_address IS DISTINCT FROM NEW.shipping_address)
    EXECUTE FUNCTION cw_notify_cart();
CREATE TRIGGER cw_cart_item_change AFTER INSERT OR UPDATE OR DELETE ON cart_items
    FOR EACH ROW EXECUTE FUNCTION cw_notify_cart();
CREATE TRIGGER cw_discount_use_change AFTER INSERT OR UPDATE OR DELETE ON discount_uses
    FOR EACH ROW EXECUTE FUNCTION cw_notify_cart();

CREATE FUNCTION cw_notify_discount() RETURNS trigger AS $$
BEGIN
    INSERT INTO change_log (payload) VALUES ('{"k":"discount"}');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER cw_discount_change AFTER INSERT OR UPDATE OR DELETE ON discounts
    FOR EACH ROW EXECUTE FUNCTION cw_notify_discount();
