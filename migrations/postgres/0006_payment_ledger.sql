-- Refunds are retried with back-off: how many attempts were made, when the next is due, and the
-- last error an admin sees in the failed-refunds list. Capture claims (`capture_request` rows)
-- use the existing unique idempotency key.
ALTER TABLE payment_transactions ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE payment_transactions ADD COLUMN next_attempt_at BIGINT;
ALTER TABLE payment_transactions ADD COLUMN last_error TEXT;
