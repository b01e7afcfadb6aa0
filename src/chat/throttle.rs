//! Login throttling (issue #12): failed logins are counted per account and per client address,
//! in PostgreSQL so that the count holds across every instance. The first `LOGIN_FREE_FAILURES`
//! (10) failures of a window cost nothing; from then on each failure blocks the key for a delay that doubles, up
//! to a cap. A blocked login is answered 429 with `Retry-After` before any password is hashed,
//! so a brute-force run costs the server one indexed lookup per attempt.
//!
//! The trade-off (docs/architecture.md, "Login throttling"): an attacker who knows a username
//! can keep that account delayed, so the account's delay is capped low (`ACCOUNT_CAP`, 5 min)
//! and never becomes a lockout; the attacker's own address is delayed far longer
//! (`ADDRESS_CAP`, 1 h). A successful login clears both counts.

use std::net::IpAddr;

use chrono::Utc;

use super::{Chat, ChatError};
use crate::store;

/// A window starts with the first failure and lasts this long.
pub const WINDOW_SECS: f64 = 15.0 * 60.0;
/// The delay after the last free failure; it doubles with each failure after it.
pub const BASE_SECS: f64 = 60.0;
/// The longest an account is delayed.
pub const ACCOUNT_CAP_SECS: f64 = 5.0 * 60.0;
/// The longest a client address is delayed.
pub const ADDRESS_CAP_SECS: f64 = 60.0 * 60.0;

/// The throttle keys of one login attempt.
pub struct LoginKeys {
    account: String,
    address: Option<String>,
}

impl LoginKeys {
    /// The login as typed (email or username; case does not make another account) and the
    /// client's address when known.
    pub fn new(login: &str, from: Option<IpAddr>) -> LoginKeys {
        LoginKeys {
            account: format!("account:{}", login.trim().to_lowercase()),
            address: from.map(|ip| format!("address:{ip}")),
        }
    }

    fn all(&self) -> Vec<String> {
        std::iter::once(self.account.clone())
            .chain(self.address.clone())
            .collect()
    }
}

/// The delay after failure number `failures` when `free` are free (none before), capped at
/// `cap`.
pub fn delay_after(failures: i32, free: i32, cap: f64) -> Option<f64> {
    (failures >= free).then(|| (BASE_SECS * 2f64.powi((failures - free).min(30))).min(cap))
}

impl Chat {
    /// `RateLimited` (with the seconds to wait) while either key is blocked.
    pub(super) async fn login_allowed(&self, keys: &LoginKeys) -> Result<(), ChatError> {
        if self.login_free == 0 {
            return Ok(());
        }
        if let Some(until) = store::throttle::blocked_until(&self.db, &keys.all()).await? {
            let wait = (until - Utc::now()).num_milliseconds().max(0) as f64 / 1000.0;
            tracing::info!(wait_secs = wait.ceil() as u64, "login throttled");
            return Err(ChatError::RateLimited {
                retry_after_secs: wait.ceil().max(1.0) as u64,
            });
        }
        Ok(())
    }

    /// Counts a failed login against both keys, blocking whichever is over its budget.
    pub(super) async fn login_failed(&self, keys: &LoginKeys) -> Result<(), ChatError> {
        if self.login_free == 0 {
            return Ok(());
        }
        let caps = std::iter::once((&keys.account, ACCOUNT_CAP_SECS))
            .chain(keys.address.as_ref().map(|a| (a, ADDRESS_CAP_SECS)));
        for (key, cap) in caps {
            let failures = store::throttle::count_failure(&self.db, key, WINDOW_SECS).await?;
            if let Some(secs) = delay_after(failures, self.login_free, cap) {
                store::throttle::block(&self.db, key, secs).await?;
            }
        }
        Ok(())
    }

    /// A successful login: both counts start again.
    pub(super) async fn login_succeeded(&self, keys: &LoginKeys) -> Result<(), ChatError> {
        if self.login_free == 0 {
            return Ok(());
        }
        Ok(store::throttle::clear(&self.db, &keys.all()).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_start_at_the_free_budget_double_and_stop_at_the_cap() {
        assert_eq!(delay_after(9, 10, ACCOUNT_CAP_SECS), None);
        assert_eq!(delay_after(10, 10, ACCOUNT_CAP_SECS), Some(60.0));
        assert_eq!(delay_after(11, 10, ACCOUNT_CAP_SECS), Some(120.0));
        assert_eq!(
            delay_after(13, 10, ACCOUNT_CAP_SECS),
            Some(300.0),
            "an account: 5 min at most"
        );
        assert_eq!(
            delay_after(16, 10, ADDRESS_CAP_SECS),
            Some(3600.0),
            "an address: 1 h"
        );
        assert_eq!(
            delay_after(i32::MAX, 10, ADDRESS_CAP_SECS),
            Some(3600.0),
            "no overflow"
        );
    }

    #[test]
    fn the_account_key_ignores_case_and_the_address_is_optional() {
        let k = LoginKeys::new(" Alice@Example.com ", Some("10.0.0.1".parse().unwrap()));
        assert_eq!(k.all(), ["account:alice@example.com", "address:10.0.0.1"]);
        assert_eq!(LoginKeys::new("bob", None).all(), ["account:bob"]);
    }
}
