-- Change log for src/app/events.rs. SQLite serves one process, so "every node" is this one; the
-- triggers write a row per change into `change_log` inside the writing transaction (so a rollback
-- takes it back and only committed changes are ever read), and the feed reads the rows after
-- their commit. Triggers rather than calls in the Rust code, so no write path can be forgotten.
-- `seq` only grows (AUTOINCREMENT) and the single writer commits in `seq` order, so the feed
-- resumes from the last `seq` it read and trims what it has read.
CREATE TABLE change_log (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    payload TEXT NOT NULL
);

CREATE TRIGGER cw_order_insert AFTER INSERT ON orders BEGIN
    INSERT INTO change_log (payload) VALUES (json_object(
        'k', 'order', 'id', NEW.id, 'number', NEW.order_number, 'user', NEW.user_id,
        'status', NEW.status));
END;

CREATE TRIGGER cw_order_status AFTER UPDATE OF status ON orders
    WHEN OLD.status IS NOT NEW.status BEGIN
    INSERT INTO change_log (payload) VALUES (json_object(
        'k', 'order', 'id', NEW.id, 'number', NEW.order_number, 'user', NEW.user_id,
        'status', NEW.status));
END;

CREATE TRIGGER cw_notification_insert AFTER INSERT ON notifications BEGIN
    INSERT INTO change_log (payload) VALUES (json_object(
        'k', 'notification', 'id', NEW.id, 'user', NEW.user_id, 'order', NEW.order_id));
END;

CREATE TRIGGER cw_user_update AFTER UPDATE OF role, is_active ON users BEGIN
    INSERT INTO change_log (payload) VALUES (json_object('k', 'user', 'id', NEW.id));
END;

CREATE TRIGGER cw_user_delete AFTER DELETE ON users BEGIN
    INSERT INTO change_log (payload) VALUES (json_object('k', 'user', 'id', OLD.id));
END;

CREATE TRIGGER cw_product_insert AFTER INSERT ON products BEGIN
    INSERT INTO change_log (payload) VALUES (json_object('k', 'product', 'id', NEW.id));
END;

CREATE TRIGGER cw_product_update AFTER UPDATE ON products BEGIN
    INSERT INTO change_log (payload) VALUES (json_object('k', 'product', 'id', NEW.id));
END;

CREATE TRIGGER cw_product_delete AFTER DELETE ON products BEGIN
    INSERT INTO change_log (payload) VALUES (json_object('k', 'product', 'id', OLD.id));
END;

-- Carts (the cart cache): a cart row, its lines, and the user's uses of discount codes (which a
-- per-user limit counts) name the user whose cart changed; a code's row changing may change every
-- cart holding it.
CREATE TRIGGER cw_cart_insert AFTER INSERT ON carts BEGIN
    INSERT INTO change_log (payload) VALUES (json_object('k', 'cart', 'user', NEW.user_id));
END;
-- Every change to a cart's lines also touches its row's `updated_at`; only the changes of the
-- row's own content are worth a second log row.
CREATE TRIGGER cw_cart_update AFTER UPDATE ON carts
    WHEN OLD.discount_code IS NOT NEW.discount_code
      OR OLD.shipping_address IS NOT NEW.shipping_address BEGIN
    INSERT INTO change_log (payload) VALUES (json_object('k', 'cart', 'user', NEW.user_id));
END;
CREATE TRIGGER cw_cart_delete AFTER DELETE ON carts BEGIN
    INSERT INTO change_log (payload) VALUES (json_object('k', 'cart', 'user', OLD.user_id));
END;
CREATE TRIGGER cw_cart_item_insert AFTER INSERT ON cart_items BEGIN
    INSERT INTO change_log (payload) VALUES (json_object('k', 'cart', 'user',
        (SELECT user_id FROM carts WHERE id = NEW.cart_id)));
END;
CREATE TRIGGER cw_cart_item_update AFTER UPDATE ON cart_items BEGIN
    INSERT INTO change_log (payload) VALUES (json_object('k', 'cart', 'user',
        (SELECT user_id FROM carts WHERE id = NEW.cart_id)));
END;
CREATE TRIGGER cw_cart_item_delete AFTER DELETE ON cart_items BEGIN
    INSERT INTO change_log (payload) VALUES (json_object('k', 'cart', 'user',
        (SELECT user_id FROM carts WHERE id = OLD.cart_id)));
END;
CREATE TRIGGER cw_discount_use_insert AFTER INSERT ON discount_uses BEGIN
    INSERT INTO change_log (payload) VALUES (json_object('k', 'cart', 'user', NEW.user_id));
END;
CREATE TRIGGER cw_discount_use_update AFTER UPDATE ON discount_uses BEGIN
    INSERT INTO change_log (payload) VALUES (json_object('k', 'cart', 'user', NEW.user_id));
END;
CREATE TRIGGER cw_discount_use_delete AFTER DELETE ON discount_uses BEGIN
    INSERT INTO change_log (payload) VALUES (json_object('k', 'cart', 'user', OLD.user_id));
END;
CREATE TRIGGER cw_discount_insert AFTER INSERT ON discounts BEGIN
    INSERT INTO change_log (payload) VALUES ('{"k":"discount"}');
END;
CREATE TRIGGER cw_discount_update AFTER UPDATE ON discounts BEGIN
    INSERT INTO change_log (payload) VALUES ('{"k":"discount"}');
END;
CREATE TRIGGER cw_discount_delete AFTER DELETE ON discounts BEGIN
    INSERT INTO change_log (payload) VALUES ('{"k":"discount"}');
END;
