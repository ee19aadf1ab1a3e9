//! A small IANA time-zone table with daylight-saving rules, so the sandbox can answer
//! `tz_label` and `tz_offset` as Slack does: the offset in force at the time of the call.
//!
//! Only zones listed here are known; `tz` strings outside it keep the offset stored on the user.
//! The rules are the current ones (EU since 1996, US/Canada since 2007, Australia since 2008,
//! New Zealand since 2007); past years under older rules are not modelled.

/// How a zone switches to daylight-saving time.
#[derive(Clone, Copy)]
enum Rule {
    None,
    /// Last Sunday of March to last Sunday of October, at 01:00 UTC.
    Eu,
    /// Second Sunday of March to first Sunday of November, at 02:00 local.
    Us,
    /// First Sunday of October to first Sunday of April, at 02:00 standard time.
    AuSouth,
    /// Last Sunday of September to first Sunday of April, at 02:00 standard time.
    Nz,
}

/// (zone, standard offset in seconds, standard label, daylight label, rule)
const ZONES: &[(&str, i64, &str, &str, Rule)] = &[
    ("UTC", 0, "Coordinated Universal Time", "", Rule::None),
    (
        "Europe/Lisbon",
        0,
        "Western European Time",
        "Western European Summer Time",
        Rule::Eu,
    ),
    (
        "Europe/London",
        0,
        "Greenwich Mean Time",
        "British Summer Time",
        Rule::Eu,
    ),
    (
        "Europe/Berlin",
        3600,
        "Central European Time",
        "Central European Summer Time",
        Rule::Eu,
    ),
    (
        "Europe/Paris",
        3600,
        "Central European Time",
        "Central European Summer Time",
        Rule::Eu,
    ),
    (
        "Europe/Madrid",
        3600,
        "Central European Time",
        "Central European Summer Time",
        Rule::Eu,
    ),
    (
        "Europe/Helsinki",
        7200,
        "Eastern European Time",
        "Eastern European Summer Time",
        Rule::Eu,
    ),
    (
        "America/St_Johns",
        -12600,
        "Newfoundland Standard Time",
        "Newfoundland Daylight Time",
        Rule::Us,
    ),
    (
        "America/Sao_Paulo",
        -10800,
        "Brasilia Standard Time",
        "",
        Rule::None,
    ),
    (
        "America/New_York",
        -18000,
        "Eastern Standard Time",
        "Eastern Daylight Time",
        Rule::Us,
    ),
    (
        "America/Toronto",
        -18000,
        "Eastern Standard Time",
        "Eastern Daylight Time",
        Rule::Us,
    ),
    (
        "America/Chicago",
        -21600,
        "Central Standard Time",
        "Central Daylight Time",
        Rule::Us,
    ),
    (
        "America/Denver",
        -25200,
        "Mountain Standard Time",
        "Mountain Daylight Time",
        Rule::Us,
    ),
    (
        "America/Phoenix",
        -25200,
        "Mountain Standard Time",
        "",
        Rule::None,
    ),
    (
        "America/Los_Angeles",
        -28800,
        "Pacific Standard Time",
        "Pacific Daylight Time",
        Rule::Us,
    ),
    (
        "Pacific/Honolulu",
        -36000,
        "Hawaii-Aleutian Standard Time",
        "",
        Rule::None,
    ),
    ("Asia/Dubai", 14400, "Gulf Standard Time", "", Rule::None),
    ("Asia/Kolkata", 19800, "India Standard Time", "", Rule::None),
    ("Asia/Kathmandu", 20700, "Nepal Time", "", Rule::None),
    (
        "Asia/Singapore",
        28800,
        "Singapore Standard Time",
        "",
        Rule::None,
    ),
    ("Asia/Tokyo", 32400, "Japan Standard Time", "", Rule::None),
    (
        "Australia/Adelaide",
        34200,
        "Australian Central Standard Time",
        "Australian Central Daylight Time",
        Rule::AuSouth,
    ),
    (
        "Australia/Sydney",
        36000,
        "Australian Eastern Standard Time",
        "Australian Eastern Daylight Time",
        Rule::AuSouth,
    ),
    (
        "Pacific/Auckland",
        43200,
        "New Zealand Standard Time",
        "New Zealand Daylight Time",
        Rule::Nz,
    ),
];

/// The zones the sandbox knows, for error messages.
pub fn known_zones() -> impl Iterator<Item = &'static str> {
    ZONES.iter().map(|zone| zone.0)
}

/// `(tz_offset, tz_label)` of a known zone at a Unix time; `None` for zones not in the table.
pub fn zone_at(tz: &str, unix: i64) -> Option<(i64, &'static str)> {
    let &(_, standard, standard_label, daylight_label, rule) =
        ZONES.iter().find(|zone| zone.0 == tz)?;
    let year = civil_from_days(unix.div_euclid(86_400)).0;
    let at = |days: i64, seconds: i64| days * 86_400 + seconds;
    let daylight = match rule {
        Rule::None => false,
        Rule::Eu => {
            let start = at(last_sunday(year, 3), 3600);
            let end = at(last_sunday(year, 10), 3600);
            (start..end).contains(&unix)
        }
        Rule::Us => {
            let start = at(nth_sunday(year, 3, 2), 7200 - standard);
            let end = at(nth_sunday(year, 11, 1), 7200 - standard - 3600);
            (start..end).contains(&unix)
        }
        Rule::AuSouth => {
            let start = at(nth_sunday(year, 10, 1), 7200 - standard);
            let end = at(nth_sunday(year, 4, 1), 7200 - standard);
            unix >= start || unix < end
        }
        Rule::Nz => {
            let start = at(last_sunday(year, 9), 7200 - standard);
            let end = at(nth_sunday(year, 4, 1), 7200 - standard);
            unix >= start || unix < end
        }
    };
    Some(if daylight {
        (standard + 3600, daylight_label)
    } else {
        (standard, standard_label)
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(super) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// (year, month, day) of a day number since 1970-01-01.
pub(super) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// 0 = Sunday.
fn weekday(days: i64) -> i64 {
    (days + 4).rem_euclid(7)
}

fn nth_sunday(year: i64, month: i64, n: i64) -> i64 {
    let first = days_from_civil(year, month, 1);
    first + (7 - weekday(first)) % 7 + 7 * (n - 1)
}

fn last_sunday(year: i64, month: i64) -> i64 {
    let next_month = if month == 12 {
        days_from_civil(year + 1, 1, 1)
    } else {
        days_from_civil(year, month + 1, 1)
    };
    let last = next_month - 1;
    last - weekday(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unix time of a UTC date and time.
    fn utc(year: i64, month: i64, day: i64, hour: i64, minute: i64) -> i64 {
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60
    }

    #[test]
    fn calendar_arithmetic_round_trips() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(utc(2025, 11, 24, 16, 0), 1_764_000_000);
        for days in [-1, 59, 365, 11_016, 20_454, 47_482] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(weekday(days_from_civil(2025, 3, 30)), 0, "a Sunday");
        assert_eq!(last_sunday(2025, 3), days_from_civil(2025, 3, 30));
        assert_eq!(nth_sunday(2025, 3, 2), days_from_civil(2025, 3, 9));
        assert_eq!(nth_sunday(2025, 11, 1), days_from_civil(2025, 11, 2));
    }

    #[test]
    fn offsets_follow_daylight_saving_time() {
        let lisbon = |t| zone_at("Europe/Lisbon", t).unwrap();
        assert_eq!(
            lisbon(utc(2025, 1, 15, 12, 0)),
            (0, "Western European Time")
        );
        assert_eq!(lisbon(utc(2025, 3, 30, 0, 59)).0, 0);
        assert_eq!(
            lisbon(utc(2025, 3, 30, 1, 0)),
            (3600, "Western European Summer Time")
        );
        assert_eq!(lisbon(utc(2025, 10, 26, 1, 0)).0, 0);

        let new_york = |t| zone_at("America/New_York", t).unwrap().0;
        // 2025-03-09 02:00 EST is 07:00 UTC; 2025-11-02 02:00 EDT is 06:00 UTC.
        assert_eq!(new_york(utc(2025, 3, 9, 6, 59)), -18_000);
        assert_eq!(new_york(utc(2025, 3, 9, 7, 0)), -14_400);
        assert_eq!(new_york(utc(2025, 11, 2, 5, 59)), -14_400);
        assert_eq!(new_york(utc(2025, 11, 2, 6, 0)), -18_000);

        let adelaide = |t| zone_at("Australia/Adelaide", t).unwrap().0;
        assert_eq!(adelaide(utc(2025, 1, 15, 0, 0)), 37_800);
        assert_eq!(adelaide(utc(2025, 7, 15, 0, 0)), 34_200);
        assert_eq!(adelaide(utc(2025, 12, 31, 20, 0)), 37_800);

        assert_eq!(
            zone_at("Asia/Kolkata", utc(2025, 7, 1, 0, 0)),
            Some((19_800, "India Standard Time"))
        );
        assert_eq!(zone_at("Asia/Kathmandu", 0).unwrap().0, 20_700);
        assert_eq!(zone_at("Mars/Olympus_Mons", 0), None);
    }
}
