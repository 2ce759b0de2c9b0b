-- Change notifications for src/app/events.rs. Triggers, not calls in the Rust code, so every write
-- path is covered (checkout, confirmation, cancellation, expiry, returns, admin edits, even SQL
-- typed by hand) and none can be forgotten. pg_notify is delivered when the transaction commits
-- and not at all when it rolls back, so listeners only hear of committed data. The channel is per
-- schema (several shops may share one database), named as the listener names it:
-- left('cw_' || schema, 63). Payloads are a few ids, far below the 8000-byte limit.

CREATE FUNCTION cw_channel(schema_name TEXT) RETURNS TEXT AS $$
    SELECT left('cw_' || schema_name, 63);
$$ LANGUAGE sql IMMUTABLE;

CREATE FUNCTION cw_notify_order() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify(cw_channel(TG_TABLE_SCHEMA), json_build_object(
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
    PERFORM pg_notify(cw_channel(TG_TABLE_SCHEMA), json_build_object(
        'k', 'notification', 'id', NEW.id, 'user', NEW.user_id, 'order', NEW.order_id)::text);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER cw_notification_insert AFTER INSERT ON notifications
    FOR EACH ROW EXECUTE FUNCTION cw_notify_notification();

-- Accounts: role and activation are what the per-request account check caches.
CREATE FUNCTION cw_notify_user() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify(cw_channel(TG_TABLE_SCHEMA), json_build_object(
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
    PERFORM pg_notify(cw_channel(TG_TABLE_SCHEMA), json_build_object(
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
    PERFORM pg_notify(cw_channel(TG_TABLE_SCHEMA), json_build_object('k', 'cart', 'user', owner)::text);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER cw_cart_change AFTER INSERT OR UPDATE OR DELETE ON carts
    FOR EACH ROW EXECUTE FUNCTION cw_notify_cart();
CREATE TRIGGER cw_cart_item_change AFTER INSERT OR UPDATE OR DELETE ON cart_items
    FOR EACH ROW EXECUTE FUNCTION cw_notify_cart();
CREATE TRIGGER cw_discount_use_change AFTER INSERT OR UPDATE OR DELETE ON discount_uses
    FOR EACH ROW EXECUTE FUNCTION cw_notify_cart();

CREATE FUNCTION cw_notify_discount() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify(cw_channel(TG_TABLE_SCHEMA), '{"k":"discount"}');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER cw_discount_change AFTER INSERT OR UPDATE OR DELETE ON discounts
    FOR EACH ROW EXECUTE FUNCTION cw_notify_discount();
