//! Attempts per key in a fixed window (`rate_budgets`); which keys and budgets an attempt
//! spends is decided in `chat::throttle`.

use sqlx::PgPool;

use super::StoreResult;

/// One budget an attempt spends from: at most `limit` attempts per window of `window_secs`
/// (the window starts with the first attempt).
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    pub key: String,
    pub limit: i32,
    pub window_secs: f64,
}

/// Spends one attempt from every budget, or from none: `Ok(None)` when each was under its
/// limit (the attempt is counted on all of them), `Ok(Some(secs))` when at least one was spent
/// (nothing is counted; `secs` is when the longest of those windows ends).
///
/// Counting and checking are one transaction: the upsert locks each key's row until the commit
/// or rollback, so of many concurrent attempts exactly the free budget gets through. Rows are
/// locked in key order, so two attempts sharing keys cannot deadlock.
pub async fn spend(db: &PgPool, budgets: &[Budget]) -> StoreResult<Option<f64>> {
    let mut sorted: Vec<&Budget> = budgets.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    sorted.dedup_by(|a, b| a.key == b.key);
    let keys: Vec<&str> = sorted.iter().map(|b| b.key.as_str()).collect();
    let windows: Vec<f64> = sorted.iter().map(|b| b.window_secs).collect();
    let mut tx = db.begin().await?;
    let rows: Vec<(String, i32, f64)> = sqlx::query_as(
        "INSERT INTO rate_budgets AS t (key, spent, window_end) \
         SELECT k, 1, now() + make_interval(secs => w) \
           FROM unnest($1::text[], $2::float8[]) AS u(k, w) ORDER BY k \
         ON CONFLICT (key) DO UPDATE SET \
           spent = CASE WHEN t.window_end > now() THEN t.spent + 1 ELSE 1 END, \
           window_end = CASE WHEN t.window_end > now() THEN t.window_end ELSE EXCLUDED.window_end END \
         RETURNING key, spent, extract(epoch FROM window_end - now())::float8",
    )
    .bind(&keys)
    .bind(&windows)
    .fetch_all(&mut *tx)
    .await?;
    let wait = rows
        .iter()
        .filter(|(key, spent, _)| sorted.iter().any(|b| &b.key == key && *spent > b.limit))
        .map(|(_, _, left)| left.max(0.0))
        .reduce(f64::max);
    match wait {
        None => tx.commit().await?,
        Some(_) => tx.rollback().await?,
    }
    Ok(wait)
}

/// Gives one attempt back to each key still in its window (an attempt that turned out not to
/// be a failure).
pub async fn refund(db: &PgPool, keys: &[String]) -> StoreResult<()> {
    sqlx::query(
        "UPDATE rate_budgets SET spent = greatest(spent - 1, 0) \
         WHERE key = ANY($1) AND window_end > now()",
    )
    .bind(keys)
    .execute(db)
    .await?;
    Ok(())
}

/// Forgets `keys` altogether (their budgets start again).
pub async fn forget(db: &PgPool, keys: &[String]) -> StoreResult<()> {
    sqlx::query("DELETE FROM rate_budgets WHERE key = ANY($1)")
        .bind(keys)
        .execute(db)
        .await?;
    Ok(())
}

/// Deletes the budgets whose window ended; returns how many.
pub async fn prune(db: &PgPool) -> StoreResult<u64> {
    let done = sqlx::query("DELETE FROM rate_budgets WHERE window_end <= now()")
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}
