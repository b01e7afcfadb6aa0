//! The one timestamp format of the API: RFC 3339 in UTC with microseconds and `Z`
//! (`2026-11-21T10:00:00.123456Z`), as the contract's examples show. PostgreSQL keeps
//! microseconds, so this loses nothing and every response, frame and row serialises the same way.

use chrono::{DateTime, SecondsFormat, Utc};

/// Formats `t` the API's way.
pub fn timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// `#[serde(serialize_with = "crate::domain::time::micros")]` on every timestamp field that
/// reaches a client.
pub fn micros<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&timestamp(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_microseconds_and_z() {
        let t = DateTime::parse_from_rfc3339("2026-11-21T10:00:00.123456Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(timestamp(&t), "2026-11-21T10:00:00.123456Z");
    }
}
