//! The service tiers and the ingest rate each one grants (SPEC section 4).

/// A service tier; it fixes the organisation's ingest rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tier {
    Free,
    Pro,
    Business,
    Enterprise,
}

impl Tier {
    /// Every tier, cheapest first.
    pub const ALL: [Tier; 4] = [Tier::Free, Tier::Pro, Tier::Business, Tier::Enterprise];

    /// The name used in the API and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Free => "free",
            Tier::Pro => "pro",
            Tier::Business => "business",
            Tier::Enterprise => "enterprise",
        }
    }

    /// The tier called `name`, if there is one.
    pub fn parse(name: &str) -> Option<Self> {
        Tier::ALL.into_iter().find(|tier| tier.as_str() == name)
    }

    /// Ingests allowed per minute, which is also the token bucket's size.
    pub fn rate_limit_per_minute(self) -> u32 {
        match self {
            Tier::Free => 100,
            Tier::Pro => 1_000,
            Tier::Business => 10_000,
            Tier::Enterprise => 100_000,
        }
    }
}
