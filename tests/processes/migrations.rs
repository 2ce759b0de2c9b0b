//! Migrations are append-only, and a database of the last release upgrades with its data.
//!
//! `APPLIED` holds the SHA-256 of every migration file of both backends: a database that ran a
//! migration keeps running the shop only if its text never changes (sqlx refuses a changed
//! checksum at start), so changing or removing one fails here, and a new file must be added to
//! the list. The upgrade test loads a text dump of a shop database written by release 66b1b24's
//! migrations (tests/fixtures/upgrade/, made by its make.py), runs today's `cartwright migrate` on
//! it and checks its rows, and that its customer still logs in and sees the order.

use crate::node::{Api, Database, Kind, Node, TempDir};
use reqwest::Method;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// Every migration file (relative to migrations/) and the SHA-256 of its text.
const APPLIED: &[(&str, &str)] = &[
    (
        "sqlite/0001_foundation.sql",
        "520e950b62fcf930699ca2a4601a19da41ed09b77f8093f14c0d1d9b0806f91b",
    ),
    (
        "sqlite/0002_cart.sql",
        "6a848bec3b943936e17d2289cf5c125faf062d699078b0ca7c0b56370279e980",
    ),
    (
        "sqlite/0004_orders.sql",
        "c53ac94a23e60468d58aae15c1474c19d705aa7a54395f98098bf706ac9508b0",
    ),
    (
        "sqlite/0005_order_totals.sql",
        "75367bc11583d6220a89b4f8586d8ff8cc6babc52493597a41fae36e9a85b966",
    ),
    (
        "sqlite/0006_payment_ledger.sql",
        "81fa9a152a738fad09127728aad4abe37def3d3fe7ef675e56ec4945ae14ce9e",
    ),
    (
        "sqlite/0019_rate_limits.sql",
        "a8d65f27eb67d74b4c12607d3ea358436ebd4a0884f217ba4e5ff017c85c840e",
    ),
    (
        "sqlite/0020_events.sql",
        "db9050c556dfa0d2a5c8ac6d957499f2c3c8724d77576df1ef760e1c5c1fa5d7",
    ),
    (
        "sqlite/0021_session_version.sql",
        "cf924520cdea6515e8f2331cd919574fc551f57db7402063f76f726633b319d1",
    ),
    (
        "sqlite/0022_guards.sql",
        "b0be47c24f7f329d047c20aa127037e007372f50d9240bbf2c1f3295622b9a2f",
    ),
    (
        "sqlite/0023_email.sql",
        "f538c9f970fbb63f53275aa8a85fb36bb165dbebb2ad901a92c3795855472072",
    ),
    (
        "sqlite/0024_faults.sql",
        "f8d7d0dbd6df68ad4281f69cc20a3f70d05c795040a6dce3dccde7ca81736240",
    ),
    (
        "sqlite/0025_webhook_queue.sql",
        "e77a7406cf324890a1431f35c6d42704c30d09d911279c5d542a0dd4c1b34abb",
    ),
    (
        "sqlite/0026_login_addresses.sql",
        "cfdfecd503532eee7d362be4d9b01dfc92e4b67ee535fb5d736f060389b8bd59",
    ),
    (
        "sqlite/0027_job_leases.sql",
        "1b74f9d339d2fb2f402ab0ca3821ef9003e7241c2596a38c1bfdef2a359b3918",
    ),
    (
        "sqlite/0029_gst.sql",
        "c87a2989aa12211976a09560ab6d0551dbc542c58fd03226cb1c0970a0b0b1c9",
    ),
    (
        "sqlite/0031_email_body.sql",
        "a2f6a8adb280a858c6cebfe7e980234a308692096a6d5f1b1a6120854649b859",
    ),
    (
        "postgres/0001_foundation.sql",
        "ff19d455e1ce1e37ff369611a86905287d69044d88db4b389f36ab9d8d4ce176",
    ),
    (
        "postgres/0002_cart.sql",
        "894a96920d6ad4b68f5b33b3f189848704d2e51de81a4aae9b6d65b97c3568dc",
    ),
    (
        "postgres/0004_orders.sql",
        "72e86b2a58965286b22378501f921c4ead73a4b2f81f8fb5bd80838add1cfb55",
    ),
    (
        "postgres/0005_order_totals.sql",
        "69e8f04f9e5023e982fcae49de17bc6721f4c66f3c02ce9a6d1fa4e47addec36",
    ),
    (
        "postgres/0006_payment_ledger.sql",
        "81fa9a152a738fad09127728aad4abe37def3d3fe7ef675e56ec4945ae14ce9e",
    ),
    (
        "postgres/0007_order_totals_shards.sql",
        "244bd98bef17fd96705f473d46981e2db932ed281197a6499284fe7537a026ba",
    ),
    (
        "postgres/0008_order_totals_cached_plans.sql",
        "b29da963b939b9879bcc2880492f82f935ecb06826c2e2693457a449666d5674",
    ),
    (
        "postgres/0019_rate_limits.sql",
        "6c7219235cd9113b083d063bcef90d474d12e4858c1b42df961c7789a86ed4e5",
    ),
    (
        "postgres/0020_events.sql",
        "9090d3109917275cc0d1b665bd430c137aa475e5a7a5ce0bc53ff288cac29388",
    ),
    (
        "postgres/0021_session_version.sql",
        "169ac65ffb3d39ff7ce1da0dfcc7b9f2e934c86dae264053b65d7266d9d967ed",
    ),
    (
        "postgres/0022_guards.sql",
        "1851e7c2f73d49ee95b0ea8fc9149cb23095a767488add1393a9912db07d39b1",
    ),
    (
        "postgres/0023_email.sql",
        "7fd5d154117e70e3bbe64de2367ac047fae4bf10af7712eda64d4ba1a2759ce7",
    ),
    (
        "postgres/0024_faults.sql",
        "1fa3d6c15f9b88e7eaa8b693623ec0c8f63d01ed2910e42e8f56fbd8b7f0ede9",
    ),
    (
        "postgres/0025_webhook_queue.sql",
        "e77a7406cf324890a1431f35c6d42704c30d09d911279c5d542a0dd4c1b34abb",
    ),
    (
        "postgres/0026_login_addresses.sql",
        "b61c7bda145b1b146b5500574ad9e6b83cf7993eb8cceec0384a8f12092ff7c5",
    ),
    (
        "postgres/0027_job_leases.sql",
        "1b74f9d339d2fb2f402ab0ca3821ef9003e7241c2596a38c1bfdef2a359b3918",
    ),
    (
        "postgres/0029_gst.sql",
        "c87a2989aa12211976a09560ab6d0551dbc542c58fd03226cb1c0970a0b0b1c9",
    ),
    (
        "postgres/0031_email_body.sql",
        "a2f6a8adb280a858c6cebfe7e980234a308692096a6d5f1b1a6120854649b859",
    ),
];

fn migrations_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// What is wrong with the migration files compared to `APPLIED` (empty when nothing is).
fn migration_problems(dir: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let mut listed = BTreeSet::new();
    for (file, checksum) in APPLIED {
        listed.insert(file.to_string());
        match std::fs::read(dir.join(file)) {
            Err(_) => problems.push(format!(
                "migration {file} was removed: databases that applied it cannot start; restore it"
            )),
            Ok(text) if sha256_hex(&text) != *checksum => problems.push(format!(
                "migration {file} changed after it was applied: restore its text and put the change \
                 in a new migration"
            )),
            Ok(_) => {}
        }
    }
    for backend in ["sqlite", "postgres"] {
        let mut files: Vec<_> = std::fs::read_dir(dir.join(backend))
            .unwrap_or_else(|e| panic!("reading migrations/{backend}: {e}"))
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".sql"))
            .collect();
        files.sort();
        for name in files {
            let file = format!("{backend}/{name}");
            if !listed.contains(&file) {
                let text = std::fs::read(dir.join(&file)).unwrap();
                problems.push(format!(
                    "new migration {file}: add (\"{file}\", \"{}\") to APPLIED in \
                     tests/processes/migrations.rs",
                    sha256_hex(&text)
                ));
            }
        }
    }
    problems
}

#[test]
fn applied_migrations_never_change_and_new_ones_are_listed() {
    let problems = migration_problems(migrations_dir());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The check itself fails on an edited, a removed and an unlisted file (on a copy of the folder).
#[test]
fn an_edited_removed_or_unlisted_migration_is_reported() {
    let copy = TempDir::new();
    for backend in ["sqlite", "postgres"] {
        std::fs::create_dir_all(copy.path.join(backend)).unwrap();
        for entry in std::fs::read_dir(migrations_dir().join(backend)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(
                entry.path(),
                copy.path.join(backend).join(entry.file_name()),
            )
            .unwrap();
        }
    }
    assert!(migration_problems(&copy.path).is_empty());
    let edited = copy.path.join("sqlite/0002_cart.sql");
    let mut text = std::fs::read_to_string(&edited).unwrap();
    text.push_str("\n-- an edit\n");
    std::fs::write(&edited, text).unwrap();
    std::fs::remove_file(copy.path.join("postgres/0020_events.sql")).unwrap();
    std::fs::write(copy.path.join("postgres/0999_new.sql"), "SELECT 1;\n").unwrap();
    let problems = migration_problems(&copy.path).join("\n");
    assert!(
        problems.contains("sqlite/0002_cart.sql changed"),
        "{problems}"
    );
    assert!(
        problems.contains("postgres/0020_events.sql was removed"),
        "{problems}"
    );
    assert!(
        problems.contains("new migration postgres/0999_new.sql: add"),
        "{problems}"
    );
}

const ORDER: &str = "01a23b60-e756-72bc-8056-8afdbbdd626f";

async fn load_fixture(db: &Database) {
    use sqlx::Connection;
    match db.kind() {
        Kind::Sqlite => {
            let fixture = include_str!("../fixtures/upgrade/sqlite.sql");
            let path = db.url.trim_start_matches("sqlite://");
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                // A dump writes each table's rows after the table, not in foreign-key order.
                .foreign_keys(false);
            let mut conn = sqlx::SqliteConnection::connect_with(&options)
                .await
                .unwrap();
            // One statement at a time (sqlx prepares a script's statements ahead of running
            // them, so a table's rows would be prepared before the table exists). A statement
            // ends at a line ending in `;`, a trigger at its `END;`.
            let mut statement = String::new();
            for line in fixture.lines() {
                statement.push_str(line);
                statement.push('\n');
                let trigger = statement.trim_start().starts_with("CREATE TRIGGER");
                if line.ends_with(';') && (!trigger || line.ends_with("END;")) {
                    sqlx::raw_sql(&statement).execute(&mut conn).await.unwrap();
                    statement.clear();
                }
            }
            assert!(
                statement.trim().is_empty(),
                "the fixture ends with a statement"
            );
            conn.close().await.unwrap();
        }
        Kind::Postgres => {
            let fixture = include_str!("../fixtures/upgrade/postgres.sql");
            let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::raw_sql(fixture).execute(&mut conn).await.unwrap();
            conn.close().await.unwrap();
        }
    }
}

async fn last_release_database_upgrades_with_its_data(kind: Kind) {
    let db = Database::new(kind).await.unwrap();
    load_fixture(&db).await;
    let binary = std::env::var("CARTWRIGHT_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_cartwright").to_string());
    let output = Command::new(binary)
        .arg("migrate")
        .current_dir(&db.dir.path)
        .env_clear()
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cartwright migrate on the release's database: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let sql = db.connect().await;
    let latest = APPLIED
        .iter()
        .filter(|(file, _)| {
            file.starts_with(if kind == Kind::Sqlite {
                "sqlite/"
            } else {
                "postgres/"
            })
        })
        .count() as i64;
    assert_eq!(
        sql.count("SELECT COUNT(*) FROM _sqlx_migrations WHERE success", &[])
            .await,
        latest,
        "every migration is applied"
    );
    assert_eq!(sql.count("SELECT COUNT(*) FROM users", &[]).await, 3);
    assert_eq!(sql.count("SELECT COUNT(*) FROM products", &[]).await, 2);
    assert_eq!(sql.count("SELECT COUNT(*) FROM orders", &[]).await, 1);
    assert_eq!(sql.count("SELECT COUNT(*) FROM order_items", &[]).await, 1);
    assert_eq!(
        sql.count("SELECT COUNT(*) FROM payment_transactions", &[])
            .await,
        2
    );
    assert_eq!(
        sql.count("SELECT COUNT(*) FROM order_status_history", &[])
            .await,
        2
    );
    assert_eq!(
        sql.count("SELECT total_amount FROM orders WHERE id = $1", &[ORDER])
            .await,
        58882
    );
    assert_eq!(
        sql.count("SELECT stock FROM products WHERE name = 'Old Lamp'", &[])
            .await,
        18
    );
    sql.close().await;

    // The release's accounts log in on today's binary and see their order as it was.
    let node = Node::start("upgraded", &db, &[]).await;
    let api = Api::new();
    let token = api
        .login(&node, "old.customer@example.com", "password123")
        .await;
    let order = api
        .get(&node, &format!("/orders/{ORDER}"), &token)
        .await
        .expect(200);
    let order = order.data();
    assert_eq!(order["orderNumber"], "ORD6292536150891");
    assert_eq!(order["status"], "confirmed");
    assert_eq!(order["paymentDetails"]["status"], "completed");
    assert_eq!(order["totalAmount"].to_string(), "588.82");
    assert_eq!(order["items"][0]["quantity"], 2);
    let admin = api
        .login(&node, "admin@old.example", "admin-password-1")
        .await;
    let stats = api
        .send(
            Method::GET,
            &node.url("/products?search=Old"),
            Some(&admin),
            None,
        )
        .await
        .expect(200);
    assert!(
        stats.body.to_string().contains("Old Chair"),
        "{}",
        stats.body
    );
    // And the upgraded database takes new orders.
    let (_, customer) = api.customer(&node, "New").await;
    api.add_to_cart(&node, &customer, "01a23b60-e624-75a6-a74a-ae329532228b", 1)
        .await;
    api.set_address(&node, &customer).await;
    api.post(&node, "/orders", &customer, json!({"paymentMethod": "cod"}))
        .await
        .expect(201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_release_database_upgrades_with_its_data_sqlite() {
    last_release_database_upgrades_with_its_data(Kind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_release_database_upgrades_with_its_data_postgres() {
    last_release_database_upgrades_with_its_data(Kind::Postgres).await;
}
