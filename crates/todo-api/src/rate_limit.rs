//! The limits of register and login, and who the client is.
//!
//! - Per client address: a token bucket each for login and register, in memory. Each replica
//!   counts on its own, which is fine for slowing one address down; it is not what protects an
//!   account (ten replicas would allow ten times the guesses).
//! - Per account: failed logins in PostgreSQL ([`todo_store::LoginThrottle`]), shared by every
//!   replica, with exponential backoff.
//! - The client address is the TCP peer unless the peer is a trusted proxy
//!   ([`service_kit::TrustedProxies`], `TRUSTED_PROXIES`): a forged `X-Forwarded-For` from
//!   anyone else changes nothing.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::AuthLimits;
use axum::http::HeaderMap;
use service_kit::TrustedProxies;
use todo_store::ThrottlePolicy;

/// Every limit of the auth endpoints (the state field keeps its historical name,
/// `login_limiter`).
pub struct RateLimiter {
    pub proxies: TrustedProxies,
    pub login: ClientBuckets,
    pub register: ClientBuckets,
    pub account: ThrottlePolicy,
    pub password_min_score: u8,
}

impl RateLimiter {
    /// `per_minute` logins per client, no register budget (as before registrations were
    /// limited) and the defaults of [`AuthLimits`] for the rest. [`RateLimiter::new`] (via
    /// `AppState::new`) applies the configuration instead.
    pub fn per_minute(per_minute: u32) -> RateLimiter {
        RateLimiter {
            register: ClientBuckets::unlimited(),
            ..RateLimiter::new(per_minute, &AuthLimits::default())
        }
    }

    pub fn new(login_per_minute: u32, limits: &AuthLimits) -> RateLimiter {
        RateLimiter {
            proxies: limits.trusted_proxies.clone(),
            login: ClientBuckets::per_minute(login_per_minute),
            register: ClientBuckets::per_minute(limits.register_attempts_per_minute),
            account: limits.login_throttle,
            password_min_score: limits.password_min_score,
        }
    }

    /// The client's address (see [`TrustedProxies::client_ip`]).
    pub fn client_ip(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        self.proxies.client_ip(peer.ip(), headers)
    }
}

/// A token bucket per client address.
pub struct ClientBuckets {
    unlimited: bool,
    capacity: f64,
    refill_per_sec: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl ClientBuckets {
    /// Allows `per_minute` attempts per minute, in bursts of up to `per_minute`.
    pub fn per_minute(per_minute: u32) -> ClientBuckets {
        let capacity = f64::from(per_minute.max(1));
        ClientBuckets {
            unlimited: false,
            capacity,
            refill_per_sec: capacity / 60.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Never refuses (and keeps no state).
    pub fn unlimited() -> ClientBuckets {
        ClientBuckets {
            unlimited: true,
            ..ClientBuckets::per_minute(1)
        }
    }

    /// Takes one attempt for `client`; `Err(seconds to wait)` when none is left.
    pub fn check(&self, client: IpAddr) -> Result<(), u64> {
        if self.unlimited {
            return Ok(());
        }
        let now = Instant::now();
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        if buckets.len() > 100_000 {
            // Bound memory under a flood of distinct addresses: drop full buckets.
            let capacity = self.capacity;
            let refill = self.refill_per_sec;
            buckets
                .retain(|_, (tokens, at)| *tokens + at.elapsed().as_secs_f64() * refill < capacity);
        }
        let (tokens, at) = buckets.entry(client).or_insert((self.capacity, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.refill_per_sec)
            .min(self.capacity);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            let wait = Duration::from_secs_f64((1.0 - *tokens) / self.refill_per_sec);
            Err(wait.as_secs().max(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_per_client_and_refuse_when_empty() {
        let limiter = ClientBuckets::per_minute(3);
        let a: IpAddr = "10.0.0.1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let b: IpAddr = "10.0.0.2".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        for _ in 0..3 {
            assert!(limiter.check(a).is_ok());
        }
        let wait = limiter.check(a).unwrap_err();
        assert!((1..=20).contains(&wait), "{wait}");
        assert!(limiter.check(b).is_ok());
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "1.1.1.1, 203.0.113.9"
                .parse()
                .unwrap_or(axum::http::HeaderValue::from_static("")),
        );
        let private: SocketAddr = ([10, 1, 2, 3], 5000).into();
        let default = RateLimiter::per_minute(10);
        assert_eq!(default.client_ip(private, &headers), private.ip());
        let limits = AuthLimits {
            trusted_proxies: TrustedProxies::parse("10.0.0.0/8").unwrap_or_default(),
            ..AuthLimits::default()
        };
        let behind = RateLimiter::new(10, &limits);
        assert_eq!(
            behind.client_ip(private, &headers),
            IpAddr::from([203, 0, 113, 9])
        );
    }
}
