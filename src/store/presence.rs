//! Who is in which room, across all server instances. Each instance records its own sockets and
//! heartbeats; rows of an instance that stopped heartbeating are ignored and swept.

use std::collections::HashSet;

use sqlx::PgPool;
use uuid::Uuid;

use super::StoreResult;

/// An instance counts as alive this long after its last heartbeat.
pub(super) const ALIVE_SECS: i32 = 30;

/// Returns true when this instance's row was missing and is now inserted: at start-up, or after
/// PostgreSQL lost the unlogged presence tables (an immediate restart empties them), or after
/// this instance was swept as dead. The caller then records its sockets again (`restore`).
pub async fn heartbeat(db: &PgPool, instance: Uuid) -> StoreResult<bool> {
    let (inserted,): (bool,) = sqlx::query_as(
        "INSERT INTO instances (id) VALUES ($1) ON CONFLICT (id) DO UPDATE SET heartbeat_at = now() \
         RETURNING (xmax = 0)",
    )
    .bind(instance)
    .fetch_one(db)
    .await?;
    // Sweep instances that died without cleaning up (their presence rows cascade).
    sqlx::query("DELETE FROM instances WHERE heartbeat_at < now() - make_interval(secs => $1 * 4)")
        .bind(ALIVE_SECS)
        .execute(db)
        .await?;
    Ok(inserted)
}

/// Records again the presence of this instance's sockets, `(conn_id, room_id, user_id)`, after
/// the rows were lost; rows still there are left alone.
pub async fn restore(db: &PgPool, instance: Uuid, entries: &[(Uuid, i64, i64)]) -> StoreResult<u64> {
    let conns: Vec<Uuid> = entries.iter().map(|e| e.0).collect();
    let rooms: Vec<i64> = entries.iter().map(|e| e.1).collect();
    let users: Vec<i64> = entries.iter().map(|e| e.2).collect();
    let done = sqlx::query(
        "INSERT INTO room_presence (conn_id, room_id, instance_id, user_id) \
         SELECT c, r, $4, u FROM unnest($1::uuid[], $2::int8[], $3::int8[]) AS t(c, r, u) \
         ON CONFLICT DO NOTHING",
    )
    .bind(&conns)
    .bind(&rooms)
    .bind(&users)
    .bind(instance)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// The instances that heartbeated recently.
pub async fn live_instances(db: &PgPool) -> StoreResult<HashSet<Uuid>> {
    let rows: Vec<(Uuid,)> =
        sqlx::query_as("SELECT id FROM instances WHERE heartbeat_at > now() - make_interval(secs => $1)")
            .bind(ALIVE_SECS)
            .fetch_all(db)
            .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Records sockets in rooms, in one statement, with the lists: for each of `joins`
/// (`(conn, room, user)`, the result aligned with them), whether it is its user's first live
/// socket in the room (a `joined` notice is due) and the room's users, sorted. Every row's
/// "first" reads the snapshot from before the batch, so two sockets of one user entering one
/// room in the same batch both come back "first": the caller keeps only the earlier.
pub async fn enter_batch(
    db: &PgPool,
    instance: Uuid,
    joins: &[(Uuid, i64, i64)],
) -> StoreResult<Vec<(bool, Vec<String>)>> {
    let conns: Vec<Uuid> = joins.iter().map(|j| j.0).collect();
    let rooms: Vec<i64> = joins.iter().map(|j| j.1).collect();
    let users: Vec<i64> = joins.iter().map(|j| j.2).collect();
    let rows: Vec<(i64, bool, Vec<String>)> = sqlx::query_as(
        // Each room's list is built once (`lists`) and every check is a join: per input row
        // subqueries made a batch quadratic in its size (the 10,000-join benchmark's PostgreSQL
        // CPU). `live` is the snapshot before the insert, so "first" means no other live socket
        // of the user was there; two entries of one user in one batch are both "first", and
        // the caller announces them once.
        "WITH input AS (SELECT * FROM unnest($1::uuid[], $2::int8[], $3::int8[]) \
                        WITH ORDINALITY AS t(conn_id, room_id, user_id, ord)), \
              ins AS (INSERT INTO room_presence (conn_id, room_id, instance_id, user_id) \
                      SELECT conn_id, room_id, $4, user_id FROM input ON CONFLICT DO NOTHING \
                      RETURNING conn_id, room_id), \
              live AS (SELECT DISTINCT p.room_id, p.user_id FROM room_presence p \
                       JOIN instances i ON i.id = p.instance_id \
                       WHERE p.room_id = ANY($2::int8[]) \
                       AND i.heartbeat_at > now() - make_interval(secs => $5)), \
              lists AS (SELECT x.room_id, array_agg(DISTINCT u.username ORDER BY u.username) AS users \
                        FROM (SELECT room_id, user_id FROM live \
                              UNION SELECT room_id, user_id FROM input) x \
                        JOIN users u ON u.id = x.user_id GROUP BY x.room_id) \
         SELECT i.ord, ins.conn_id IS NOT NULL AND l.user_id IS NULL, lists.users \
         FROM input i \
         LEFT JOIN ins ON ins.conn_id = i.conn_id AND ins.room_id = i.room_id \
         LEFT JOIN live l ON l.room_id = i.room_id AND l.user_id = i.user_id \
         JOIN lists ON lists.room_id = i.room_id \
         ORDER BY i.ord",
    )
    .bind(&conns)
    .bind(&rooms)
    .bind(&users)
    .bind(instance)
    .bind(ALIVE_SECS)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|(_, first, users)| (first, users)).collect())
}

/// Removes sockets from rooms (`(conn, room)`), in two statements for the whole batch, and
/// returns the `(room, user)` pairs whose user has no live socket left there (a `left` notice
/// is due), each once, sorted. Two statements, not one: the check runs after the delete committed, so
/// of two instances removing a user's last two sockets at once, the later always sees both
/// gone (in one statement each could read the other's row from its snapshot, and neither would
/// announce).
pub async fn leave_batch(db: &PgPool, leaves: &[(Uuid, i64)]) -> StoreResult<Vec<(i64, i64)>> {
    let conns: Vec<Uuid> = leaves.iter().map(|l| l.0).collect();
    let rooms: Vec<i64> = leaves.iter().map(|l| l.1).collect();
    let removed: Vec<(i64, i64)> = sqlx::query_as(
        "DELETE FROM room_presence p USING unnest($1::uuid[], $2::int8[]) AS t(conn_id, room_id) \
         WHERE p.conn_id = t.conn_id AND p.room_id = t.room_id \
         RETURNING p.room_id, p.user_id",
    )
    .bind(&conns)
    .bind(&rooms)
    .fetch_all(db)
    .await?;
    if removed.is_empty() {
        return Ok(Vec::new());
    }
    let (rooms, users): (Vec<i64>, Vec<i64>) = removed.into_iter().unzip();
    let gone: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT DISTINCT t.room_id, t.user_id FROM unnest($1::int8[], $2::int8[]) AS t(room_id, user_id) \
         WHERE NOT EXISTS (SELECT 1 FROM room_presence p JOIN instances i ON i.id = p.instance_id \
                           WHERE p.room_id = t.room_id AND p.user_id = t.user_id \
                           AND i.heartbeat_at > now() - make_interval(secs => $3)) \
         ORDER BY t.room_id, t.user_id",
    )
    .bind(&rooms)
    .bind(&users)
    .bind(ALIVE_SECS)
    .fetch_all(db)
    .await?;
    Ok(gone)
}

/// Usernames with a live socket in the room, sorted.
pub async fn users_in(db: &PgPool, room_id: i64) -> StoreResult<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT u.username FROM room_presence p \
         JOIN instances i ON i.id = p.instance_id JOIN users u ON u.id = p.user_id \
         WHERE p.room_id = $1 AND i.heartbeat_at > now() - make_interval(secs => $2) \
         ORDER BY u.username",
    )
    .bind(room_id)
    .bind(ALIVE_SECS)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Forgets this instance and its sockets (graceful shutdown).
pub async fn retire(db: &PgPool, instance: Uuid) -> StoreResult<()> {
    sqlx::query("DELETE FROM instances WHERE id = $1")
        .bind(instance)
        .execute(db)
        .await?;
    Ok(())
}
