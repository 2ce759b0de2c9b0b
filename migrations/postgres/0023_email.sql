-- Email (CONTRACT §9). `email_outbox` holds every email the shop composes, written in the
-- transaction of the change that causes it and sent later by the background sender
-- (src/app/mailer.rs), which claims a row with a conditional update (`claim_token`,
-- `claimed_until`) so two nodes never send one row; `attempts`, `next_attempt_at` and
-- `last_error` carry the retries and back-off. The bodies are composed at write time, so the
-- admin console shows an email even where no SMTP server is configured.
CREATE TABLE email_outbox (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    recipient_name  TEXT,
    user_id         TEXT,
    order_id        TEXT,
    subject         TEXT NOT NULL,
    body_text       TEXT NOT NULL,
    body_html       TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending',
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claim_token     TEXT,
    claimed_until   BIGINT,
    last_error      TEXT,
    sent_at         BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE INDEX email_outbox_due ON email_outbox (status, next_attempt_at);
CREATE INDEX email_outbox_listed ON email_outbox (status, created_at);
CREATE INDEX email_outbox_user ON email_outbox (user_id, kind, created_at);

-- Password reset tokens: only the SHA-256 of the token is kept; a token is used once
-- (`used_at`, set by one conditional update) and only before `expires_at`.
CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    created_at BIGINT NOT NULL
);

CREATE INDEX password_resets_user ON password_resets (user_id, created_at);
