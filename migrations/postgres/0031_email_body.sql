-- The outbox keeps each email's words as compact JSON (`body`, a `domain::mail::MailBody`) and
-- renders the text and HTML bodies when it sends or shows the email: the row written inside the
-- checkout's and the payment's transaction is a fraction of the rendered bodies' size. Rows
-- written before keep their rendered bodies (`body` NULL); later rows leave those empty.
ALTER TABLE email_outbox ADD COLUMN body TEXT;

-- Fewer indexes, each written by every email those transactions keep: the listing reads newest
-- first by id (UUIDv7, ordered by time, so the primary key serves it), and no query looks
-- emails up by user. Only the sender's index (`email_outbox_due`) stays.
DROP INDEX email_outbox_listed;
DROP INDEX email_outbox_user;
