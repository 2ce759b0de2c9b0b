//! The shop against the fake Razorpay: shared set-up of the Razorpay test modules.

use crate::fake_razorpay::FakeRazorpay;

/// The credentials the shop and the fake share in the Razorpay tests.
pub const KEY_ID: &str = "rzp_test_FakeKey0001";
pub const KEY_SECRET: &str = "fake_key_secret";
pub const WEBHOOK_SECRET: &str = "fake_webhook_secret";

/// One `#[tokio::test]` per database for each `async fn(Db)` (tests that start their own app,
/// such as the shop against the fake Razorpay).
#[macro_export]
macro_rules! db_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::helpers::Db::Sqlite).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::helpers::Db::Postgres).await;
                }
            }
        )*
    };
}

/// A fake Razorpay and the shop configured against it (with `extra` settings on top), or `None`
/// when the database is unavailable.
pub async fn shop(
    db: crate::helpers::Db,
    extra: &[(&str, &str)],
) -> Option<(FakeRazorpay, crate::helpers::TestApp)> {
    let fake = FakeRazorpay::start(KEY_ID, KEY_SECRET, WEBHOOK_SECRET).await;
    let base = fake.base_url();
    let mut vars = vec![
        ("PAYMENT_GATEWAY", "razorpay"),
        ("RAZORPAY_KEY_ID", KEY_ID),
        ("RAZORPAY_KEY_SECRET", KEY_SECRET),
        ("RAZORPAY_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("RAZORPAY_API_BASE", base.as_str()),
        ("RAZORPAY_TIMEOUT_MS", "1500"),
    ];
    vars.extend_from_slice(extra);
    let app = crate::helpers::TestApp::spawn_with(db, &vars).await?;
    fake.set_webhook_target(&app.url("/webhooks/razorpay"));
    Some((fake, app))
}
