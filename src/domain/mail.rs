//! The emails the shop sends (CONTRACT §9): which ones, to whom, and their wording. Each is
//! composed here once, as a subject and a `MailBody`: every word the email says, kept in the
//! outbox (as compact JSON) in the transaction of the change the email reports, and rendered into
//! a plain-text and an HTML body (askama templates under `templates/email/`, compiled into the
//! binary) when it is sent or shown. Rendering late keeps the checkout's transaction small: the
//! outbox row is a fraction of the rendered bodies' size.
//!
//! User text (names, product names, reasons, addresses) reaches only the bodies: the HTML body
//! escapes it, and subjects are built from fixed words and the order number alone, so no text a
//! user typed can add a header.

use super::money::Money;
use super::notification::{ConfirmedBy, OrderEvent};
use super::order::OrderStatus;
use askama::Template;
use serde::{Deserialize, Serialize};

text_enum! {
    /// Why an email was written.
    pub enum EmailKind {
        OrderAwaitingPayment = "order_awaiting_payment",
        OrderConfirmed = "order_confirmed",
        OrderShipped = "order_shipped",
        OrderDelivered = "order_delivered",
        OrderCancelled = "order_cancelled",
        OrderRefunded = "order_refunded",
        ReturnRequested = "return_requested",
        ReturnApproved = "return_approved",
        ReturnRejected = "return_rejected",
        ReturnCompleted = "return_completed",
        VendorOrder = "vendor_order",
        PasswordReset = "password_reset",
    }
}

text_enum! {
    /// Where an outbox row stands: `pending` (waiting to be sent, or to be retried at its next
    /// attempt; it stays so while no SMTP server is configured), `sending` (claimed by a node
    /// until its claim runs out), `sent`, `failed` (refused for good or out of attempts; an admin
    /// may send it again).
    pub enum EmailStatus {
        Pending = "pending",
        Sending = "sending",
        Sent = "sent",
        Failed = "failed",
    }
}

/// An email as composed: what the outbox row holds besides its recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composed {
    pub kind: EmailKind,
    pub subject: String,
    pub body: MailBody,
}

/// What an email's bodies say, before rendering: stored as JSON (`to_json`), rendered by
/// `text` and `html`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MailBody(BodyView);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
enum BodyView {
    Order(Box<OrderView>),
    Reset(ResetView),
}

impl MailBody {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A body kept by `to_json`; an error names what is wrong with it.
    pub fn from_json(json: &str) -> Result<MailBody, String> {
        serde_json::from_str(json).map_err(|err| format!("unreadable email body: {err}"))
    }

    /// The plain-text body.
    pub fn text(&self) -> String {
        match &self.0 {
            BodyView::Order(v) => render(&OrderText { v }),
            BodyView::Reset(v) => render(&ResetText { v }),
        }
    }

    /// The HTML body: user text in it is escaped.
    pub fn html(&self) -> String {
        match &self.0 {
            BodyView::Order(v) => render(&OrderHtml { v }),
            BodyView::Reset(v) => render(&ResetHtml { v }),
        }
    }
}

/// What of an order the emails show. Amounts are in `currency`.
#[derive(Debug, Clone)]
pub struct OrderFacts<'a> {
    pub order_id: &'a str,
    pub order_number: &'a str,
    pub currency: &'a str,
    pub lines: Vec<MailLine<'a>>,
    pub subtotal: Money,
    pub discount: Money,
    pub shipping: Money,
    pub tax: Money,
    pub total: Money,
    /// The shipping address, one part a line.
    pub address: Vec<String>,
}

/// One order line as an email shows it.
#[derive(Debug, Clone)]
pub struct MailLine<'a> {
    pub name: &'a str,
    pub quantity: i64,
    pub price: Money,
    pub total: Money,
}

/// Where links point and what the shop calls itself.
#[derive(Debug, Clone, Copy)]
pub struct MailContext<'a> {
    /// `PUBLIC_URL`, without a trailing slash.
    pub public_url: &'a str,
    pub shop: &'a str,
}

/// What happened to an order that its customer is emailed about.
#[derive(Debug, Clone, Copy)]
pub enum OrderMail<'a> {
    /// Placed, to be paid online: the email links to the order, where it can be paid.
    AwaitingPayment,
    /// A change the customer is also notified of in the app.
    Event(OrderEvent<'a>),
}

/// The link to an order in the storefront.
pub fn order_link(public_url: &str, order_id: &str) -> String {
    format!("{public_url}/#/orders/{order_id}")
}

/// The link of a password reset email.
pub fn reset_link(public_url: &str, token: &str) -> String {
    format!("{public_url}/#/reset?token={token}")
}

fn amount(currency: &str, money: Money) -> String {
    format!("{currency} {money}")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Action {
    label: String,
    url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct LineView {
    name: String,
    quantity: i64,
    price: String,
    total: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct TotalRow {
    label: String,
    amount: String,
}

/// What both bodies of an order email show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct OrderView {
    subject: String,
    shop: String,
    heading: String,
    paragraphs: Vec<String>,
    action: Option<Action>,
    order_number: String,
    lines: Vec<LineView>,
    totals: Vec<TotalRow>,
    address: Vec<String>,
    order_url: String,
}

#[derive(Template)]
#[template(path = "email/order.txt")]
struct OrderText<'a> {
    v: &'a OrderView,
}

#[derive(Template)]
#[template(path = "email/order.html")]
struct OrderHtml<'a> {
    v: &'a OrderView,
}

/// What both bodies of the password reset email show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ResetView {
    shop: String,
    link: String,
    ttl_minutes: i64,
}

#[derive(Template)]
#[template(path = "email/reset.txt")]
struct ResetText<'a> {
    v: &'a ResetView,
}

#[derive(Template)]
#[template(path = "email/reset.html")]
struct ResetHtml<'a> {
    v: &'a ResetView,
}

/// How much of the order an email shows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Detail {
    /// Only the words and the link.
    Brief,
    /// The lines, the totals and the address (a receipt; the payment request).
    Receipt,
    /// The lines alone (a vendor's share carries no totals of the whole order).
    Lines,
}

impl OrderView {
    fn new(
        context: MailContext<'_>,
        facts: &OrderFacts<'_>,
        subject: String,
        heading: String,
        paragraphs: Vec<String>,
        detail: Detail,
    ) -> OrderView {
        let money = |m: Money| amount(facts.currency, m);
        let lines = if detail == Detail::Brief {
            Vec::new()
        } else {
            facts
                .lines
                .iter()
                .map(|line| LineView {
                    name: one_line(line.name),
                    quantity: line.quantity,
                    price: money(line.price),
                    total: money(line.total),
                })
                .collect()
        };
        let mut totals = Vec::new();
        if detail == Detail::Receipt {
            totals.push(TotalRow {
                label: "Subtotal".to_string(),
                amount: money(facts.subtotal),
            });
            if facts.discount > Money::ZERO {
                totals.push(TotalRow {
                    label: "Discount".to_string(),
                    amount: format!("-{}", money(facts.discount)),
                });
            }
            totals.push(TotalRow {
                label: "Shipping".to_string(),
                amount: money(facts.shipping),
            });
            totals.push(TotalRow {
                label: "Tax".to_string(),
                amount: money(facts.tax),
            });
            totals.push(TotalRow {
                label: "Total".to_string(),
                amount: money(facts.total),
            });
        }
        OrderView {
            subject,
            shop: context.shop.to_string(),
            heading,
            paragraphs,
            action: None,
            order_number: facts.order_number.to_string(),
            lines,
            totals,
            address: if detail == Detail::Receipt {
                facts.address.iter().map(|part| one_line(part)).collect()
            } else {
                Vec::new()
            },
            order_url: order_link(context.public_url, facts.order_id),
        }
    }

    fn compose(self, kind: EmailKind) -> Composed {
        Composed {
            kind,
            subject: self.subject.clone(),
            body: MailBody(BodyView::Order(Box::new(self))),
        }
    }
}

fn render(template: &impl Template) -> String {
    // The templates only format strings and numbers: rendering cannot fail.
    template
        .render()
        .unwrap_or_else(|err| format!("(this email could not be rendered: {err})"))
}

/// Text a user typed, on one line: a line break in a name or a reason cannot start a line of
/// its own in the plain-text body.
fn one_line(text: &str) -> String {
    text.split(['\r', '\n'])
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The customer's email about `mail`, or `None` for a change no email reports (a move to
/// processing, a failed refund: the in-app notice is enough).
pub fn customer_order_email(
    context: MailContext<'_>,
    facts: &OrderFacts<'_>,
    mail: OrderMail<'_>,
) -> Option<Composed> {
    let number = facts.order_number;
    let total = amount(facts.currency, facts.total);
    let (kind, subject, heading, paragraphs, detail) = match mail {
        OrderMail::AwaitingPayment => (
            EmailKind::OrderAwaitingPayment,
            format!("Order {number}: waiting for your payment"),
            format!("Your order {number} is waiting for payment"),
            vec![format!(
                "We are holding your items for a short while. Pay {total} to confirm the order."
            )],
            Detail::Receipt,
        ),
        OrderMail::Event(OrderEvent::Confirmed(by)) => (
            EmailKind::OrderConfirmed,
            format!("Order {number} confirmed: your receipt"),
            format!("Thank you: order {number} is confirmed"),
            vec![match by {
                ConfirmedBy::Payment => format!("We received your payment of {total}."),
                ConfirmedBy::CashOnDelivery => {
                    format!("Please pay {total} in cash when it is delivered.")
                }
                ConfirmedBy::NothingToPay => {
                    "Your discount covers the whole total: there is nothing to pay.".to_string()
                }
            }],
            Detail::Receipt,
        ),
        OrderMail::Event(OrderEvent::Moved {
            to: OrderStatus::Shipped,
            tracking_number,
        }) => (
            EmailKind::OrderShipped,
            format!("Order {number} has shipped"),
            format!("Your order {number} is on its way"),
            vec![match tracking_number {
                Some(tracking) => format!("Tracking number: {}", one_line(tracking)),
                None => "It left our warehouse today.".to_string(),
            }],
            Detail::Brief,
        ),
        OrderMail::Event(OrderEvent::Moved {
            to: OrderStatus::Delivered,
            ..
        }) => (
            EmailKind::OrderDelivered,
            format!("Order {number} was delivered"),
            format!("Your order {number} was delivered"),
            vec!["Enjoy it, and tell others what you think with a review.".to_string()],
            Detail::Brief,
        ),
        OrderMail::Event(OrderEvent::Moved { .. }) | OrderMail::Event(OrderEvent::RefundFailed) => {
            return None
        }
        OrderMail::Event(OrderEvent::Cancelled { reason }) => (
            EmailKind::OrderCancelled,
            format!("Order {number} was cancelled"),
            format!("Your order {number} was cancelled"),
            vec![
                format!("Reason: {}", one_line(reason)),
                "If you paid for it, the money goes back to you in full; we will email you when the refund is issued."
                    .to_string(),
            ],
            Detail::Brief,
        ),
        OrderMail::Event(OrderEvent::Refunded { currency, amount: refunded }) => (
            EmailKind::OrderRefunded,
            format!("Order {number}: refund issued"),
            format!("A refund for order {number} is on its way"),
            vec![format!(
                "{} is being refunded to your original payment method. Banks usually take 5 to 7 working days to show it.",
                amount(currency, refunded)
            )],
            Detail::Brief,
        ),
        OrderMail::Event(OrderEvent::ReturnRequested { reason }) => (
            EmailKind::ReturnRequested,
            format!("Order {number}: return requested"),
            format!("We received your return request for order {number}"),
            vec![
                format!("Your reason: {}", one_line(reason)),
                "We will look at it and tell you what happens next.".to_string(),
            ],
            Detail::Brief,
        ),
        OrderMail::Event(OrderEvent::ReturnApproved) => (
            EmailKind::ReturnApproved,
            format!("Order {number}: return approved"),
            format!("Your return for order {number} was approved"),
            vec!["Please send the items back; your refund follows once they arrive.".to_string()],
            Detail::Brief,
        ),
        OrderMail::Event(OrderEvent::ReturnRejected { reason }) => (
            EmailKind::ReturnRejected,
            format!("Order {number}: return rejected"),
            format!("Your return for order {number} was rejected"),
            vec![format!(
                "Reason: {}",
                one_line(reason.unwrap_or("no reason given"))
            )],
            Detail::Brief,
        ),
        OrderMail::Event(OrderEvent::ReturnCompleted) => (
            EmailKind::ReturnCompleted,
            format!("Order {number}: return complete"),
            format!("Your return for order {number} is complete"),
            vec!["We received the items; your refund is on its way.".to_string()],
            Detail::Brief,
        ),
    };
    let mut view = OrderView::new(context, facts, subject, heading, paragraphs, detail);
    if matches!(mail, OrderMail::AwaitingPayment) {
        view.action = Some(Action {
            label: "Pay now".to_string(),
            url: view.order_url.clone(),
        });
    }
    Some(view.compose(kind))
}

/// A vendor's email about a paid order holding its products: `facts.lines` must be its lines
/// alone (the rest of the order is not its to read).
pub fn vendor_order_email(context: MailContext<'_>, facts: &OrderFacts<'_>) -> Composed {
    let number = facts.order_number;
    let items: i64 = facts.lines.iter().map(|line| line.quantity).sum();
    let view = OrderView {
        // The vendor desk lists the vendor's orders on its first page.
        order_url: format!("{}/vendor/#/", context.public_url),
        ..OrderView::new(
            context,
            facts,
            format!("New order {number} to fulfil"),
            format!("Order {number} holds your products"),
            vec![format!(
                "It is paid and ready for you: {items} item(s) to ship. Add the tracking number when you ship it."
            )],
            Detail::Lines,
        )
    };
    view.compose(EmailKind::VendorOrder)
}

/// The password reset email, with its single-use link.
pub fn password_reset_email(context: MailContext<'_>, link: &str, ttl_minutes: i64) -> Composed {
    Composed {
        kind: EmailKind::PasswordReset,
        subject: format!("Reset your {} password", one_line(context.shop)),
        body: MailBody(BodyView::Reset(ResetView {
            shop: context.shop.to_string(),
            link: link.to_string(),
            ttl_minutes,
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(lines: Vec<MailLine<'a>>) -> OrderFacts<'a> {
        OrderFacts {
            order_id: "o1",
            order_number: "ORD1234567890123",
            currency: "INR",
            lines,
            subtotal: Money::from_minor(5198),
            discount: Money::ZERO,
            shipping: Money::ZERO,
            tax: Money::from_minor(936),
            total: Money::from_minor(6134),
            address: vec!["A <b>Name</b>".into(), "1 Road".into()],
        }
    }

    const CONTEXT: MailContext<'static> = MailContext {
        public_url: "http://shop.test",
        shop: "Cartwright",
    };

    #[test]
    fn a_receipt_shows_lines_totals_address_and_link_and_escapes_html() {
        let lines = vec![MailLine {
            name: "<script>x</script> Shampoo",
            quantity: 2,
            price: Money::from_minor(2599),
            total: Money::from_minor(5198),
        }];
        let mail = customer_order_email(
            CONTEXT,
            &facts(lines),
            OrderMail::Event(OrderEvent::Confirmed(ConfirmedBy::Payment)),
        )
        .unwrap();
        assert_eq!(
            mail.subject,
            "Order ORD1234567890123 confirmed: your receipt"
        );
        // Kept as JSON and read back, as the outbox does.
        let body = MailBody::from_json(&mail.body.to_json()).unwrap();
        assert_eq!(body, mail.body);
        let text = body.text();
        for needle in [
            "<script>x</script> Shampoo x 2 @ INR 25.99 = INR 51.98",
            "Total: INR 61.34",
            "Tax: INR 9.36",
            "A <b>Name</b>",
            "http://shop.test/#/orders/o1",
        ] {
            assert!(text.contains(needle), "{needle} not in {text}");
        }
        let html = mail
            .body
            .html()
            .replace("&#60;", "&lt;")
            .replace("&#62;", "&gt;");
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(html.contains("&lt;b&gt;Name"), "{html}");
    }

    #[test]
    fn untold_moves_send_nothing_and_every_email_names_its_order() {
        let f = facts(Vec::new());
        assert!(customer_order_email(
            CONTEXT,
            &f,
            OrderMail::Event(OrderEvent::Moved {
                to: OrderStatus::Processing,
                tracking_number: None
            })
        )
        .is_none());
        let shipped = customer_order_email(
            CONTEXT,
            &f,
            OrderMail::Event(OrderEvent::Moved {
                to: OrderStatus::Shipped,
                tracking_number: Some("TRK\r\nBcc: x@evil.test"),
            }),
        )
        .unwrap();
        assert!(shipped.subject.contains("ORD1234567890123"));
        let text = shipped.body.text();
        assert!(text.contains("Tracking number: TRK Bcc: x@evil.test"));
        assert!(!text.contains("\nBcc"));
        let vendor = vendor_order_email(CONTEXT, &f);
        assert!(vendor.subject.contains("ORD1234567890123"));
    }
}
