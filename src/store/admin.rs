//! Creating and dropping whole databases: `tickertalk db create|drop|reset|url`, used by the
//! Makefile, the scripts and the tests, so the rule "same server, same credentials, another
//! database name" is written once. These statements run on the server's `postgres` database,
//! because a database cannot drop itself.

use sqlx::{Connection, PgConnection};

use super::StoreResult;

/// `url` with its database name replaced by `name` (query parameters kept).
pub fn url_with_db(url: &str, name: &str) -> Result<String, String> {
    let mut parsed = url::Url::parse(url).map_err(|e| format!("not a valid URL ({e})"))?;
    parsed.set_path(&format!("/{name}"));
    Ok(parsed.to_string())
}

/// The database name in `url`.
pub fn db_name(url: &str) -> Result<String, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("not a valid URL ({e})"))?;
    let name = parsed.path().trim_start_matches('/');
    let name = percent_encoding::percent_decode_str(name)
        .decode_utf8_lossy()
        .into_owned();
    if name.is_empty() {
        return Err("the URL names no database".into());
    }
    Ok(name)
}

/// Refuses names that are not plain identifiers, and the databases PostgreSQL itself needs.
/// Names come from scripts and tests, but they are spliced into DDL (which takes no bind
/// parameters), so this check is what makes that safe.
pub fn check_name(name: &str) -> Result<(), String> {
    let plain = (1..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !plain {
        return Err(format!(
            "refusing the database name {name:?} (letters, digits and _ only)"
        ));
    }
    if matches!(name, "postgres" | "template0" | "template1") {
        return Err(format!("refusing to touch the {name:?} database"));
    }
    Ok(())
}

async fn admin(url: &str) -> StoreResult<PgConnection> {
    let admin_url = url_with_db(url, "postgres").map_err(|_| sqlx::Error::Configuration("bad URL".into()))?;
    Ok(PgConnection::connect(&admin_url).await?)
}

/// Creates database `name` on the server of `url` unless it exists. True when it was created.
pub async fn create(url: &str, name: &str) -> StoreResult<bool> {
    let mut conn = admin(url).await?;
    let (exists,): (bool,) = sqlx::query_as("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(name)
        .fetch_one(&mut conn)
        .await?;
    if !exists {
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut conn)
            .await?;
    }
    let _ = conn.close().await;
    Ok(!exists)
}

/// Drops database `name` if it exists, ending the sessions still using it (`WITH (FORCE)`,
/// PostgreSQL 13+): a test or a server left running must not keep it alive.
///
/// FORCE may not end a session of another role: an autovacuum worker (the superuser's) that
/// started on the new database a moment ago makes it fail with "insufficient privilege" (seen
/// in `make check-schema` right after migrating). Such a worker is done within moments, so
/// that error is retried a few times before it is returned.
pub async fn drop(url: &str, name: &str) -> StoreResult<()> {
    let mut conn = admin(url).await?;
    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
    let mut attempt = 0;
    let result = loop {
        match sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
            .execute(&mut conn)
            .await
        {
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42501") && attempt < 10 => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            other => break other,
        }
    };
    let _ = conn.close().await;
    result?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_is_replaced_and_the_query_kept() {
        assert_eq!(
            url_with_db("postgres://u:p@h:5432/app?sslmode=disable", "other").unwrap(),
            "postgres://u:p@h:5432/other?sslmode=disable"
        );
        assert_eq!(url_with_db("postgres://u@h", "x").unwrap(), "postgres://u@h/x");
        assert_eq!(db_name("postgres://u@h/my%5Fdb").unwrap(), "my_db");
        assert!(db_name("postgres://u@h/").is_err());
    }

    #[test]
    fn only_plain_names_are_accepted() {
        assert!(check_name("tt_test_0a1b").is_ok());
        for bad in [
            "",
            "a-b",
            "x\"; DROP TABLE users; --",
            "postgres",
            "1abc",
            &"a".repeat(64),
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
