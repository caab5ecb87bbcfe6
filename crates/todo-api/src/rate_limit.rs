//! Per-client rate limiting for login: a token bucket per client address, in memory.
//! Each replica limits on its own; that bounds guessing without needing shared state.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

pub struct RateLimiter {
    capacity: f64,
    refill_per_sec: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateLimiter {
    /// Allows `per_minute` attempts per minute, in bursts of up to `per_minute`.
    pub fn per_minute(per_minute: u32) -> RateLimiter {
        let capacity = f64::from(per_minute.max(1));
        RateLimiter {
            capacity,
            refill_per_sec: capacity / 60.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one attempt for `client`; `Err(seconds to wait)` when none is left.
    pub fn check(&self, client: IpAddr) -> Result<(), u64> {
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

/// The client's address. Behind a proxy on a private network (the cluster's ingress), the
/// proxy's `X-Forwarded-For` names the client: its last entry is the one the proxy appended.
/// A direct peer on a public address is taken as is, so clients cannot forge their identity.
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    let peer_ip = peer.ip();
    let behind_proxy = match peer_ip {
        IpAddr::V4(v4) => v4.is_private() || v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00,
    };
    if behind_proxy {
        let forwarded = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|ip| ip.trim().parse::<IpAddr>().ok());
        if let Some(ip) = forwarded {
            return ip;
        }
    }
    peer_ip
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_per_client_and_refuse_when_empty() {
        let limiter = RateLimiter::per_minute(3);
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
    fn forwarded_for_is_trusted_only_from_private_peers() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "1.1.1.1, 203.0.113.9"
                .parse()
                .unwrap_or(axum::http::HeaderValue::from_static("")),
        );
        let private: SocketAddr = ([10, 1, 2, 3], 5000).into();
        let public: SocketAddr = ([198, 51, 100, 1], 5000).into();
        assert_eq!(client_ip(private, &headers), IpAddr::from([203, 0, 113, 9]));
        assert_eq!(client_ip(public, &headers), IpAddr::from([198, 51, 100, 1]));
    }
}
