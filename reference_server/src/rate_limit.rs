//! The ingest rate limit: a token bucket per organisation holding its tier's
//! per-minute figure and refilling at that figure per minute (SPEC section 4).
//!
//! Buckets live in this process's memory, so replicas sharing one
//! PostgreSQL database each grant the full rate: N replicas behind one
//! address may grant an organisation up to N times its figure, as the
//! spec's RATE section says. A shared limit would need the buckets in the
//! shared database.

use std::num::NonZeroU32;

use governor::clock::Clock;
use governor::middleware::StateInformationMiddleware;
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::store::Organization;
use crate::tier::Tier;

type Buckets = DefaultKeyedRateLimiter<String, StateInformationMiddleware>;

/// The answer for one ingest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Within the limit; `remaining` requests could follow right now.
    Allowed { limit: u32, remaining: u32 },
    /// Over the limit; a retry after `retry_after` whole seconds can pass.
    Limited { limit: u32, retry_after: u64 },
}

/// One keyed limiter per tier, since a keyed limiter has one quota for all
/// its keys; each organisation's bucket lives in its tier's limiter.
/// Buckets are kept for every organisation seen since start, which costs a
/// few dozen bytes each.
pub struct IngestLimiter {
    /// Indexed by the tier's position in [`Tier::ALL`].
    per_tier: Vec<Buckets>,
}

impl Default for IngestLimiter {
    fn default() -> Self {
        let per_tier = Tier::ALL
            .into_iter()
            .map(|tier| {
                let per_minute = NonZeroU32::new(tier.rate_limit_per_minute())
                    .expect("every tier grants a positive rate");
                governor::RateLimiter::keyed(Quota::per_minute(per_minute))
                    .with_middleware::<StateInformationMiddleware>()
            })
            .collect();
        IngestLimiter { per_tier }
    }
}

impl IngestLimiter {
    /// Takes one token from the organisation's bucket if it holds one.
    pub fn check(&self, organization: &Organization) -> Decision {
        let limit = organization.tier.rate_limit_per_minute();
        let buckets = &self.per_tier[organization.tier as usize];
        match buckets.check_key(&organization.id) {
            Ok(snapshot) => Decision::Allowed {
                limit,
                remaining: snapshot.remaining_burst_capacity(),
            },
            Err(not_until) => {
                let wait = not_until.wait_time_from(buckets.clock().now());
                let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                Decision::Limited {
                    limit,
                    retry_after: retry_after.max(1),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn organization(id: &str, tier: Tier) -> Organization {
        Organization {
            id: id.into(),
            name: id.into(),
            tier,
            api_key_hash: String::new(),
            webhook_url: None,
            webhook_secret: None,
            created_at: 0,
        }
    }

    #[test]
    fn a_full_bucket_allows_the_whole_minute_then_refuses() {
        let limiter = IngestLimiter::default();
        let first = organization("first", Tier::Free);
        for sent in 1..=100 {
            let expected = Decision::Allowed {
                limit: 100,
                remaining: 100 - sent,
            };
            assert_eq!(limiter.check(&first), expected);
        }
        let Decision::Limited { limit, retry_after } = limiter.check(&first) else {
            panic!("the 101st ingest within a minute must be limited");
        };
        assert_eq!(limit, 100);
        assert!((1..=1).contains(&retry_after), "retry after {retry_after}");

        let second = organization("second", Tier::Free);
        assert!(matches!(limiter.check(&second), Decision::Allowed { .. }));
    }
}
