//! Argon2id with the OWASP minimum parameter set (m = 19 MiB, t = 2, p = 1). Hashing takes tens
//! of milliseconds of CPU and 19 MiB of memory, so it is rationed:
//!
//! - It runs on the blocking pool, so a burst of logins cannot stall the async workers that
//!   serve everyone else.
//! - At most one hash per core runs at once (a semaphore); more would only queue inside the OS
//!   scheduler while each holding its 19 MiB.
//! - The 19 MiB work areas are kept in a small pool and reused. Allocating one per hash let
//!   glibc keep every freed area in a per-thread arena: 100 concurrent logins left 1.9 GB
//!   resident. The pool holds at most one area per core, for the life of the process.
//!
//! The PHC strings are the ones the `argon2` crate writes and reads (a test checks both ways);
//! only the memory is ours.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::Semaphore;

/// Why a password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Hashing itself failed (a bad stored hash, or the blocking pool is gone): a server fault,
    /// never the user's. The message is for the log.
    #[error("password hashing failed: {0}")]
    Failed(String),
    /// `MAX_WAITING` requests already wait for a hashing permit: try again shortly.
    #[error("too many password checks waiting")]
    Busy,
}

/// Password checks (logins) that may wait for a permit; one more is refused (`Busy`, a 429
/// with `Retry-After`) rather than queued: past this, a client would wait seconds anyway, and
/// each waiter holds a request.
pub const MAX_WAITING: usize = 64;

/// New passwords (sign-ups) that may be waiting when one more asks: far fewer than logins, so
/// a flood of sign-ups leaves the queue to logins (each queued login waits behind at most this
/// many hashes of theirs).
pub const MAX_WAITING_NEW: usize = 8;

fn err(what: &str) -> impl Fn(argon2::password_hash::Error) -> PasswordError + '_ {
    move |e| PasswordError::Failed(format!("{what}: {e}"))
}

fn params() -> Params {
    Params::new(19 * 1024, 2, 1, Some(32)).expect("static Argon2 parameters are valid")
}

/// The process's hashing capacity: one permit and at most one work area per core. Process-wide
/// on purpose: it rations the machine's cores and memory, however many servers (tests start
/// several) share the process.
struct Workbench {
    permits: Arc<Semaphore>,
    /// Idle standard-sized work areas.
    areas: Mutex<Vec<Vec<Block>>>,
    /// Standard-sized areas ever allocated: never more than the permits.
    allocated: AtomicUsize,
    /// Requests waiting for a permit now.
    waiting: AtomicUsize,
}

static WORKBENCH: LazyLock<Workbench> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    Workbench {
        permits: Arc::new(Semaphore::new(cores)),
        areas: Mutex::new(Vec::with_capacity(cores)),
        allocated: AtomicUsize::new(0),
        waiting: AtomicUsize::new(0),
    }
});

/// Runs `work` on the blocking pool with a permit and a work area of at least `blocks` blocks.
/// The permit and the area go back when the work ends, even if the caller stopped waiting.
async fn on_workbench<T: Send + 'static>(
    blocks: usize,
    max_waiting: usize,
    work: impl FnOnce(&mut [Block]) -> T + Send + 'static,
) -> Result<T, PasswordError> {
    let bench = &*WORKBENCH;
    let permit = match bench.permits.clone().try_acquire_owned() {
        Ok(permit) => permit,
        Err(_) => {
            // Counted down on drop: also when the caller stops waiting (its client went away).
            struct Waiting<'a>(&'a AtomicUsize);
            impl Drop for Waiting<'_> {
                fn drop(&mut self) {
                    self.0.fetch_sub(1, Ordering::AcqRel);
                }
            }
            let waiting = Waiting(&bench.waiting);
            if waiting.0.fetch_add(1, Ordering::AcqRel) >= max_waiting {
                return Err(PasswordError::Busy);
            }
            let permit = bench.permits.clone().acquire_owned().await;
            drop(waiting);
            permit.map_err(|e| PasswordError::Failed(format!("hash permits: {e}")))?
        }
    };
    tokio::task::spawn_blocking(move || {
        let pooled = bench.areas.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let standard = params().block_count();
        let mut area = match pooled {
            Some(area) if area.len() >= blocks => area,
            other => {
                // A pooled area too small for this (non-standard) hash goes back unused.
                if let Some(small) = other {
                    bench.areas.lock().unwrap_or_else(|p| p.into_inner()).push(small);
                }
                if blocks == standard {
                    bench.allocated.fetch_add(1, Ordering::Relaxed);
                }
                vec![Block::default(); blocks]
            }
        };
        let out = work(&mut area);
        // Only standard-sized areas are pooled: a stored hash with a larger `m` borrows its own.
        if area.len() == standard {
            bench.areas.lock().unwrap_or_else(|p| p.into_inner()).push(area);
        }
        drop(permit);
        out
    })
    .await
    .map_err(|e| PasswordError::Failed(format!("hash task: {e}")))
}

/// New passwords hashed by this process so far (sign-ups): what a flood of sign-ups cost it.
static NEW_HASHES: AtomicUsize = AtomicUsize::new(0);

/// How many new passwords this process has hashed (tests check that a refused sign-up hashed
/// nothing).
pub fn new_hashes() -> usize {
    NEW_HASHES.load(Ordering::Relaxed)
}

/// Hashes a new password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`), waiting in
/// the small queue of new passwords (`MAX_WAITING_NEW`).
pub async fn hash(password: String) -> Result<String, PasswordError> {
    NEW_HASHES.fetch_add(1, Ordering::Relaxed);
    let params = params();
    on_workbench(params.block_count(), MAX_WAITING_NEW, move |area| {
        let salt = SaltString::generate(&mut OsRng);
        let mut salt_buf = [0u8; 64];
        let salt_bytes = salt.as_salt().decode_b64(&mut salt_buf).map_err(err("salt"))?;
        let mut out = [0u8; 32];
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
            .hash_password_into_with_memory(password.as_bytes(), salt_bytes, &mut out, area)
            .map_err(|e| PasswordError::Failed(format!("argon2 hash: {e}")))?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params).map_err(err("params"))?,
            salt: Some(salt.as_salt()),
            hash: Some(Output::new(&out).map_err(err("output"))?),
        };
        Ok(phc.to_string())
    })
    .await?
}

/// Checks a password against a stored hash. With no stored hash (unknown user) it still burns the
/// same work against a dummy hash, so response time does not reveal whether the user exists.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, PasswordError> {
    let phc = stored.clone().unwrap_or_else(|| DUMMY_HASH.to_string());
    let parsed = PasswordHash::new(&phc).map_err(err("stored hash"))?;
    let params = Params::try_from(&parsed).map_err(err("stored params"))?;
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(err("stored algorithm"))?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|e| PasswordError::Failed(format!("stored version: {e}")))?
        .unwrap_or_default();
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(PasswordError::Failed(
            "stored hash has no salt or no output".into(),
        ));
    };
    let mut salt_buf = [0u8; 64];
    let salt = salt
        .decode_b64(&mut salt_buf)
        .map_err(err("stored salt"))?
        .to_vec();
    let matches = on_workbench(params.block_count(), MAX_WAITING, move |area| {
        let mut out = vec![0u8; expected.len()];
        Argon2::new(algorithm, version, params)
            .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, area)
            .map_err(|e| PasswordError::Failed(format!("argon2 verify: {e}")))?;
        // `Output`'s equality is constant-time.
        Ok::<_, PasswordError>(Output::new(&out).map_err(err("output"))? == expected)
    })
    .await??;
    Ok(matches && stored.is_some())
}

/// A valid Argon2id hash of a random string nobody knows, with the production parameters.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3kY3zL0kXx7e1nIYf1Qy2q9wQm2m0o0dDq3oQwGf3wM";

#[cfg(test)]
mod tests {
    use super::*;

    /// The workbench is the process's: the test that floods it runs alone, the others that hash
    /// new passwords share this lock's other side.
    static FLOOD: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let _shared = FLOOD.read().await;
        let h = hash("correct horse".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse".into(), Some(h.clone())).await.unwrap());
        assert!(!verify("wrong horse".into(), Some(h)).await.unwrap());
    }

    #[tokio::test]
    async fn the_phc_strings_are_the_argon2_crates_both_ways() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let _shared = FLOOD.read().await;
        let ours = hash("correct horse".into()).await.unwrap();
        let reference = Argon2::new(Algorithm::Argon2id, Version::V0x13, params());
        assert!(
            reference
                .verify_password(b"correct horse", &PasswordHash::new(&ours).unwrap())
                .is_ok()
        );
        let salt = SaltString::generate(&mut OsRng);
        let theirs = reference
            .hash_password(b"battery staple", &salt)
            .unwrap()
            .to_string();
        assert!(
            verify("battery staple".into(), Some(theirs.clone()))
                .await
                .unwrap()
        );
        assert!(!verify("battery stapler".into(), Some(theirs)).await.unwrap());
    }

    #[tokio::test]
    async fn concurrent_hashes_reuse_at_most_one_area_per_core() {
        // Logins (their queue takes these 8; an unknown user's check hashes like any other).
        let tasks: Vec<_> = (0..8)
            .map(|i| tokio::spawn(verify(format!("password {i}"), None)))
            .collect();
        for t in tasks {
            assert!(!t.await.unwrap().unwrap());
        }
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let allocated = WORKBENCH.allocated.load(Ordering::Relaxed);
        assert!(
            (1..=cores).contains(&allocated),
            "{allocated} work areas for {cores} cores"
        );
    }

    #[tokio::test]
    async fn new_passwords_wait_in_a_short_queue() {
        let _alone = FLOOD.write().await;
        // 2 × cores + MAX_WAITING_NEW more than can run or wait: some are refused at once.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let tasks: Vec<_> = (0..2 * cores + 2 * MAX_WAITING_NEW)
            .map(|i| tokio::spawn(hash(format!("password {i}"))))
            .collect();
        let mut busy = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(phc) => assert!(phc.starts_with("$argon2id$")),
                Err(PasswordError::Busy) => busy += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(busy > 0, "a flood of new passwords is turned away, not queued");
    }

    #[tokio::test]
    async fn an_unknown_user_never_verifies() {
        assert!(!verify("anything".into(), None).await.unwrap());
    }
}
