-- Indian GST (CONTRACT §10, TAX_MODE=gst). Rates are whole percents (0, 5, 18, 40), state codes
-- the two-digit GST codes, amounts paise. Order lines keep the tax they were charged, so invoices,
-- views and the GSTR-1 export read it back instead of pricing again.
ALTER TABLE products ADD COLUMN hsn_code TEXT;
ALTER TABLE products ADD COLUMN gst_rate BIGINT NOT NULL DEFAULT 18;

-- A vendor with its own registration invoices its own lines.
ALTER TABLE users ADD COLUMN gstin TEXT;
ALTER TABLE users ADD COLUMN gst_state BIGINT;

ALTER TABLE order_items ADD COLUMN hsn_code TEXT;
ALTER TABLE order_items ADD COLUMN gst_rate BIGINT;
ALTER TABLE order_items ADD COLUMN seller_state BIGINT;
ALTER TABLE order_items ADD COLUMN discount_share BIGINT NOT NULL DEFAULT 0;
ALTER TABLE order_items ADD COLUMN taxable_value BIGINT NOT NULL DEFAULT 0;
ALTER TABLE order_items ADD COLUMN cgst BIGINT NOT NULL DEFAULT 0;
ALTER TABLE order_items ADD COLUMN sgst BIGINT NOT NULL DEFAULT 0;
ALTER TABLE order_items ADD COLUMN igst BIGINT NOT NULL DEFAULT 0;

ALTER TABLE orders ADD COLUMN buyer_gstin TEXT;
ALTER TABLE orders ADD COLUMN place_of_supply BIGINT;
ALTER TABLE orders ADD COLUMN shipping_gst_rate BIGINT;
ALTER TABLE orders ADD COLUMN shipping_taxable BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN shipping_cgst BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN shipping_sgst BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN shipping_igst BIGINT NOT NULL DEFAULT 0;

-- The last serial given per seller (`shop` or a vendor's user id), kind and financial year. It is
-- updated in the transaction that issues the document, so a rollback gives the number back and
-- the serials stay consecutive (a sequence would skip).
CREATE TABLE gst_counters (
    seller_key  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    fiscal_year BIGINT NOT NULL,
    last_serial BIGINT NOT NULL,
    PRIMARY KEY (seller_key, kind, fiscal_year)
);

-- Invoices and credit notes as issued: `body` is the document (seller, buyer, lines, totals) as
-- JSON, frozen at issue like the paper it stands for.
CREATE TABLE gst_documents (
    id          TEXT PRIMARY KEY,
    order_id    TEXT NOT NULL REFERENCES orders(id),
    kind        TEXT NOT NULL,
    seller_key  TEXT NOT NULL,
    fiscal_year BIGINT NOT NULL,
    serial      BIGINT NOT NULL,
    number      TEXT NOT NULL,
    refers_to   TEXT REFERENCES gst_documents(id),
    vendor_id   TEXT,
    issued_at   BIGINT NOT NULL,
    body        TEXT NOT NULL,
    UNIQUE (seller_key, kind, fiscal_year, serial)
);
CREATE INDEX gst_documents_order ON gst_documents (order_id);
CREATE INDEX gst_documents_issued ON gst_documents (issued_at);
