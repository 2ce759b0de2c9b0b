-- Webhooks are answered once recorded (Razorpay wants an answer within 5 s) and processed after,
-- in the background: the signed body waits in `pending_body` until its effects are done, then is
-- cleared and `processed_at` set. A failed attempt is due again at `next_attempt_at` (the jobs
-- retry it); a row being processed holds `next_attempt_at` in the future as its claim. Rows from
-- before this migration have no pending body: they were processed when received.
ALTER TABLE webhook_events ADD COLUMN pending_body TEXT;
ALTER TABLE webhook_events ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhook_events ADD COLUMN next_attempt_at BIGINT;
ALTER TABLE webhook_events ADD COLUMN processed_at BIGINT;
CREATE INDEX webhook_events_due ON webhook_events (next_attempt_at) WHERE pending_body IS NOT NULL;
