-- Server-side session revocation (src/http/session.rs): every token carries the account's
-- `session_version` at issue (claim `sv`) and is refused once the stored version moves on. Logging
-- out and deactivation bump it, so a logged-out token, or an old token of a reactivated account,
-- never works again.
ALTER TABLE users ADD COLUMN session_version BIGINT NOT NULL DEFAULT 0;

-- The account check caches the version too, so a bump must reach the change feed of every node
-- like a role or activation change (0020's trigger only listens to those two columns).
DROP TRIGGER cw_user_update ON users;
CREATE TRIGGER cw_user_update AFTER UPDATE OF role, is_active, session_version ON users
    FOR EACH ROW EXECUTE FUNCTION cw_notify_user();
