//! Login throttling and sign-up limits: budgets of attempts in fixed windows, kept in
//! PostgreSQL so that they hold across every instance (`store::throttle`). An attempt is
//! counted *before* its password is hashed, and counting and checking are one transaction: of
//! many concurrent guesses only the free budget is evaluated, the rest get 429 with
//! `Retry-After` at the cost of one indexed upsert each.
//!
//! A login spends from three budgets (`free` is `LOGIN_FREE_FAILURES`, 10 by default):
//!
//! - **account and address**, `free` per 15 minutes: the tight one. Someone guessing one
//!   account's password from one address gets `free` tries; the account's owner, at another
//!   address, is not affected.
//! - **address**, `2 × free` per 15 minutes, across all accounts: one address cannot spray
//!   guesses over many accounts. IPv6 addresses count per /64 (one host usually has a whole
//!   /64).
//! - **account**, `20 × free` per 5 minutes, from any address: trips only on a distributed
//!   attack (many addresses), and then delays the account's logins by at most 5 minutes, not
//!   renewable by more guesses (refused attempts are not counted).
//!
//! An account is one budget whether it is named by username or by email (the key is the user's
//! id; a login naming no account is keyed by what was typed). A successful login gives its
//! attempt back to the address and account budgets (it was not a failure, and must not reset
//! the address's count for other accounts: that would let an attacker interleave their own good
//! logins with guesses) and clears the account-and-address budget (the owner's own typos).
//!
//! Sign-ups spend from one budget per address (`SIGNUPS_PER_ADDRESS` per hour), room creations
//! from one per user (`ROOMS_PER_USER` per hour).

use std::net::IpAddr;

use super::{Chat, ChatError};
use crate::store::{self, throttle::Budget};

/// The tight budget's and the address budget's window.
pub const WINDOW_SECS: f64 = 15.0 * 60.0;
/// The account-wide budget's window: the longest a distributed attack delays an account.
pub const ACCOUNT_WINDOW_SECS: f64 = 5.0 * 60.0;
/// The address budget, in multiples of the tight one.
pub const ADDRESS_FACTOR: i32 = 2;
/// The account-wide budget, in multiples of the tight one.
pub const ACCOUNT_FACTOR: i32 = 20;
/// The sign-up budget's window.
pub const SIGNUP_WINDOW_SECS: f64 = 60.0 * 60.0;
/// How long a stock request waits for its answer before it is forgotten (its command expires
/// in the queue after 60 s, and is then answered by the server).
pub const STOCK_REQUEST_KEPT_SECS: f64 = 600.0;
/// The room-creation budget's window.
pub const ROOMS_WINDOW_SECS: f64 = 60.0 * 60.0;

/// The throttle keys of one login attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct LoginKeys {
    account: String,
    address: Option<String>,
}

/// A client address as a throttle key: IPv4 as is, IPv6 by its /64 (an IPv4-mapped IPv6
/// address is the IPv4 one).
pub fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{net}/64")
            }
        },
    }
}

impl LoginKeys {
    /// `account`: the user's id when the login names an account, else the login as typed (case
    /// does not make another one); `from`: the client's address when known.
    pub fn new(account: Result<i64, &str>, from: Option<IpAddr>) -> LoginKeys {
        LoginKeys {
            account: match account {
                Ok(id) => format!("user:{id}"),
                Err(typed) => format!("name:{}", typed.trim().to_lowercase()),
            },
            address: from.map(address_key),
        }
    }

    fn address(&self) -> Option<Budget> {
        Some(Budget {
            key: format!("login-address:{}", self.address.as_ref()?),
            limit: 0,
            window_secs: WINDOW_SECS,
        })
    }

    /// Every budget a login attempt spends from, with `free` the tight budget.
    fn budgets(&self, free: i32) -> Vec<Budget> {
        let mut all = vec![Budget {
            key: format!("login-account:{}", self.account),
            limit: free.saturating_mul(ACCOUNT_FACTOR),
            window_secs: ACCOUNT_WINDOW_SECS,
        }];
        if let Some(address) = &self.address {
            all.push(Budget {
                key: format!("login-pair:{}|{address}", self.account),
                limit: free,
                window_secs: WINDOW_SECS,
            });
            all.extend(self.address().map(|b| Budget {
                limit: free.saturating_mul(ADDRESS_FACTOR),
                ..b
            }));
        }
        all
    }
}

impl Chat {
    /// Counts a login attempt against every budget, before any hashing: `RateLimited` (with the
    /// seconds to wait) when any is spent, and then nothing is counted.
    pub(super) async fn login_attempt(&self, keys: &LoginKeys) -> Result<(), ChatError> {
        if self.login_free == 0 {
            return Ok(());
        }
        spend(self, &keys.budgets(self.login_free)).await
    }

    /// A login refused before its password was looked at (a field too long to be anyone's):
    /// counted against the address alone, which may then be throttled.
    pub(super) async fn login_malformed(&self, from: Option<IpAddr>) -> Result<(), ChatError> {
        if self.login_free == 0 {
            return Ok(());
        }
        let keys = LoginKeys::new(Err(""), from);
        let Some(address) = keys.address() else {
            return Ok(());
        };
        spend(
            self,
            &[Budget {
                limit: self.login_free.saturating_mul(ADDRESS_FACTOR),
                ..address
            }],
        )
        .await
    }

    /// A successful login: its attempt was no failure.
    pub(super) async fn login_succeeded(&self, keys: &LoginKeys) -> Result<(), ChatError> {
        if self.login_free == 0 {
            return Ok(());
        }
        let budgets = keys.budgets(self.login_free);
        let (pair, others): (Vec<Budget>, Vec<Budget>) = budgets
            .into_iter()
            .partition(|b| b.key.starts_with("login-pair:"));
        let others: Vec<String> = others.into_iter().map(|b| b.key).collect();
        store::throttle::refund(&self.db, &others).await?;
        let pair: Vec<String> = pair.into_iter().map(|b| b.key).collect();
        store::throttle::forget(&self.db, &pair).await?;
        Ok(())
    }

    /// Counts a sign-up attempt against its address's budget (`RateLimited` when spent).
    pub(super) async fn signup_attempt(&self, from: Option<IpAddr>) -> Result<(), ChatError> {
        let (Some(ip), limit) = (from, self.signups_per_address) else {
            return Ok(());
        };
        if limit == 0 {
            return Ok(());
        }
        spend(
            self,
            &[Budget {
                key: format!("signup:{}", address_key(ip)),
                limit,
                window_secs: SIGNUP_WINDOW_SECS,
            }],
        )
        .await
    }

    /// Counts a room creation against the user's budget (`RateLimited` when spent).
    pub(super) async fn room_creation_attempt(&self, user_id: i64) -> Result<(), ChatError> {
        if self.rooms_per_user == 0 {
            return Ok(());
        }
        spend(
            self,
            &[Budget {
                key: format!("rooms:{user_id}"),
                limit: self.rooms_per_user,
                window_secs: ROOMS_WINDOW_SECS,
            }],
        )
        .await
    }

    /// Deletes the budgets whose window ended, and stock requests never answered within ten
    /// minutes (the heartbeat calls it).
    pub async fn prune_budgets(&self) -> Result<u64, ChatError> {
        store::stock::prune(&self.db, STOCK_REQUEST_KEPT_SECS).await?;
        store::sessions::prune_retired(&self.db).await?;
        Ok(store::throttle::prune(&self.db).await?)
    }
}

async fn spend(chat: &Chat, budgets: &[Budget]) -> Result<(), ChatError> {
    match store::throttle::spend(&chat.db, budgets).await? {
        None => Ok(()),
        Some(wait) => {
            tracing::info!(wait_secs = wait.ceil() as u64, "attempt throttled");
            Err(ChatError::RateLimited {
                retry_after_secs: wait.ceil().max(1.0) as u64,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_count_per_64_and_mapped_ipv4_as_ipv4() {
        let a = address_key("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = address_key("2001:db8:1:2:bbbb::9".parse().unwrap());
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(a, b, "one /64, one budget");
        assert_ne!(a, address_key("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(address_key("::ffff:192.0.2.7".parse().unwrap()), "192.0.2.7");
        assert_eq!(address_key("192.0.2.7".parse().unwrap()), "192.0.2.7");
    }

    #[test]
    fn a_login_spends_from_the_pair_the_address_and_the_account() {
        let k = LoginKeys::new(Ok(42), Some("10.0.0.1".parse().unwrap()));
        let keys: Vec<(String, i32)> = k.budgets(10).into_iter().map(|b| (b.key, b.limit)).collect();
        assert_eq!(
            keys,
            [
                ("login-account:user:42".to_string(), 200),
                ("login-pair:user:42|10.0.0.1".to_string(), 10),
                ("login-address:10.0.0.1".to_string(), 20),
            ]
        );
        let unknown = LoginKeys::new(Err(" Nobody "), None);
        assert_eq!(
            unknown.budgets(10).into_iter().map(|b| b.key).collect::<Vec<_>>(),
            ["login-account:name:nobody"]
        );
    }
}
