//! Times are stored in UTC; people read them in Bahrain local time.

use chrono::{DateTime, SubsecRound, Utc};
use chrono_tz::Asia::Bahrain;
use chrono_tz::Tz;

pub const HUB_TIME_ZONE: Tz = Bahrain;

/// A UTC instant truncated to microseconds, the precision both databases keep,
/// so that what is written reads back equal.
pub fn truncate_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

/// An instant as Bahrain local time, RFC 3339 with its `+03:00` offset.
pub fn to_local(t: DateTime<Utc>) -> DateTime<Tz> {
    t.with_timezone(&HUB_TIME_ZONE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn bahrain_is_three_hours_ahead() {
        let t = Utc.with_ymd_and_hms(2018, 6, 30, 22, 30, 0).unwrap();
        assert_eq!(to_local(t).to_rfc3339(), "2018-07-01T01:30:00+03:00");
    }
}
