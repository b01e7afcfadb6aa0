//! Migrations apply, undo completely, and apply again (they are reversible).

mod common;

use common::TestEnv;
use tickertalk::store::MIGRATOR;

async fn tables(pool: &sqlx::PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn migrations_are_reversible() {
    let env = TestEnv::create().await;
    let pool = sqlx::PgPool::connect(&env.db_url).await.unwrap();
    MIGRATOR.run(&pool).await.unwrap();
    let created = tables(&pool).await;
    for t in [
        "users",
        "sessions",
        "rooms",
        "room_messages",
        "direct_messages",
        "room_presence",
        "instances",
    ] {
        assert!(created.contains(&t.to_string()), "{t} missing from {created:?}");
    }
    MIGRATOR.undo(&pool, 0).await.unwrap();
    assert_eq!(
        tables(&pool).await,
        Vec::<String>::new(),
        "undo removes everything"
    );
    MIGRATOR.run(&pool).await.unwrap();
    assert_eq!(tables(&pool).await, created, "and it applies again");
    pool.close().await;
}

#[tokio::test]
async fn the_history_query_uses_the_room_index_not_a_scan() {
    let env = TestEnv::create().await;
    let pool = sqlx::PgPool::connect(&env.db_url).await.unwrap();
    MIGRATOR.run(&pool).await.unwrap();
    // A realistic shape: many rooms, many messages; planner statistics refreshed.
    sqlx::query("INSERT INTO users (username, email, password_hash) VALUES ('u', 'u@example.com', 'x')")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO rooms (name) SELECT 'r' || g FROM generate_series(1, 50) g")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO room_messages (room_id, seq, rev, user_id, body) \
         SELECT (g % 50) + 1, g, g, 1, 'm' FROM generate_series(1, 20000) g",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("ANALYZE").execute(&pool).await.unwrap();
    let plan: Vec<String> = sqlx::query_scalar(
        "EXPLAIN SELECT id FROM room_messages WHERE room_id = 7 ORDER BY created_at DESC, id DESC LIMIT 50",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let plan = plan.join("\n");
    assert!(plan.contains("room_messages_room_time_idx"), "{plan}");
    assert!(!plan.contains("Seq Scan"), "{plan}");
    pool.close().await;
}
