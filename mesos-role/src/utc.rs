//! Times as UTC text, from the system clock (no time-zone database needed).

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in nanoseconds since the epoch (Mesos' `TimeInfo`).
pub fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `2026-11-30 02:50:00 UTC` for seconds since the epoch.
pub fn text(seconds: i64) -> String {
    let (date, (h, m, s)) = split(seconds);
    format!("{date} {h:02}:{m:02}:{s:02} UTC")
}

/// `20261130T025000Z`: a timestamp for a file name (no colon, sorts by time).
pub fn stamp(seconds: i64) -> String {
    let (date, (h, m, s)) = split(seconds);
    format!("{}T{h:02}{m:02}{s:02}Z", date.replace('-', ""))
}

fn split(seconds: i64) -> (String, (i64, i64, i64)) {
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    let (y, mo, d) = civil(days);
    (
        format!("{y:04}-{mo:02}-{d:02}"),
        (rest / 3600, rest % 3600 / 60, rest % 60),
    )
}

/// Year, month and day of a day count since 1970-01-01 (Howard Hinnant's civil_from_days).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_of_known_days() {
        assert_eq!(text(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(text(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(text(1_796_006_700), "2026-11-30 02:45:00 UTC");
        assert_eq!(stamp(1_796_006_700), "20261130T024500Z");
    }
}
