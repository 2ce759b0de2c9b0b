-- Issue 23. An unpaid order whose payment the gateway could not tell us long after its deadline is
-- flagged for an admin instead of being cancelled: the time it was flagged (NULL: not flagged).
ALTER TABLE orders ADD COLUMN payment_unresolved_at INTEGER;
-- A refund is sent by one party at a time: the request that recorded it, or the refund job. The
-- sender claims the ledger row until this time (ms); an expired claim belongs to a sender that died.
ALTER TABLE payment_transactions ADD COLUMN send_claimed_until INTEGER;
