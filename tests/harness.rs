//! The test harness cleans up after itself, including after a test that panics: a failed run
//! must not leave databases and durable broker queues behind to pile up.

mod common;

use common::{TestApp, admin_url, amqp_url};
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use tickertalk::store::admin::url_with_db;

async fn database_exists(name: &str) -> bool {
    let pool = sqlx::PgPool::connect(&url_with_db(&admin_url(), "postgres").unwrap())
        .await
        .unwrap();
    let (exists,): (bool,) = sqlx::query_as("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(name)
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    exists
}

/// Whether the prefix's durable command queue exists (a passive declare fails when it does not).
async fn queue_exists(prefix: &str) -> bool {
    let conn = lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    let exists = ch
        .queue_declare(
            format!("{prefix}.stock.commands").as_str().into(),
            passive,
            FieldTable::default(),
        )
        .await
        .is_ok();
    let _ = conn.close(200, "bye".into()).await;
    exists
}

#[test]
fn a_test_that_panics_leaves_no_database_and_no_queue_behind() {
    // The "test" runs the way #[tokio::test] runs one: a runtime on its own thread, blocking on
    // the test's future. It panics half-way, with a server up on its database and prefix.
    let failing = std::thread::spawn(|| {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let app = TestApp::spawn(&[]).await;
            let token = app.token("alice").await;
            app.create_room(&token, "doomed").await;
            let made = (app.env.db_name.clone(), app.env.prefix.clone());
            assert!(database_exists(&made.0).await && queue_exists(&made.1).await);
            std::panic::panic_any(made);
        })
    });
    let payload = failing.join().expect_err("the inner test panicked");
    let (db_name, prefix) = payload.downcast::<(String, String)>().map(|b| *b).unwrap();

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        assert!(!database_exists(&db_name).await, "database {db_name} left behind");
        assert!(
            !queue_exists(&prefix).await,
            "queue {prefix}.stock.commands left behind"
        );
    });
}
