-- Where each account has logged in successfully (last time per address): an address its owner
-- used is held back only by its own wrong passwords, not by the account's, so failures sent from
-- elsewhere cannot lock the owner out. Kept 30 days after the last login.
CREATE TABLE login_addresses (
    user_id       TEXT NOT NULL,
    client        TEXT NOT NULL,
    last_login_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client)
);

CREATE INDEX login_addresses_last_login ON login_addresses (last_login_at);
