//! Daily reminders: each person's schedule and time zone, and who is due in a 15-minute slot.
//!
//! The schedule ticks every 15 minutes in UTC. A person is due in the one slot that holds
//! their local reminder time, on their local weekdays, computed from the IANA zone on every
//! tick, so daylight-saving changes and :30/:45 offsets need no special case. Everything
//! here works from the slot the scheduler named, never from the clock.

use std::collections::BTreeMap;
use std::fmt;

use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::domain::{parse_json, ValidationError};
use crate::people::HostUserId;

/// The scheduler's period, and the width of a slot.
pub const SLOT_SECS: i64 = 15 * 60;

/// A time of day, `HH:MM`, in the person's own zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalTime {
    minutes: u16,
}

impl LocalTime {
    pub const fn new(hour: u8, minute: u8) -> Self {
        Self {
            minutes: hour as u16 * 60 + minute as u16,
        }
    }

    /// Reads `HH:MM` (24-hour, both parts two digits).
    pub fn parse(field: &str, text: &str) -> Result<Self, ValidationError> {
        let invalid = || ValidationError::new(field, "must be a time as HH:MM, such as 09:00");
        let bytes = text.as_bytes();
        if bytes.len() != 5 || bytes[2] != b':' {
            return Err(invalid());
        }
        let number = |part: &str| part.parse::<u8>().ok().filter(|_| part.len() == 2);
        match (number(&text[..2]), number(&text[3..])) {
            (Some(hour), Some(minute)) if hour < 24 && minute < 60 => Ok(Self::new(hour, minute)),
            _ => Err(invalid()),
        }
    }

    /// The start of the 15-minute slot that holds this time: 09:07 is in the 09:00 slot.
    pub fn quarter(self) -> Self {
        Self {
            minutes: self.minutes / 15 * 15,
        }
    }

    fn of(zoned: &jiff::ZonedDateTime) -> Self {
        Self::new(zoned.hour() as u8, zoned.minute() as u8)
    }
}

impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.minutes / 60, self.minutes % 60)
    }
}

impl Serialize for LocalTime {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LocalTime {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse("time", &text).map_err(serde::de::Error::custom)
    }
}

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// The weekdays a person is reminded on, in their own calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Weekdays(u8);

impl Weekdays {
    pub const MONDAY_TO_FRIDAY: Self = Self(0b0001_1111);

    /// Reads `["mon", …]`: at most seven days, each known and listed once.
    pub fn parse(field: &str, names: &[String]) -> Result<Self, ValidationError> {
        if names.len() > 7 {
            return Err(ValidationError::new(field, "must list at most 7 days"));
        }
        let mut bits = 0_u8;
        for (index, name) in names.iter().enumerate() {
            let day = DAY_NAMES
                .iter()
                .position(|known| known.eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    ValidationError::new(
                        format!("{field}[{index}]"),
                        format!("unknown day {name:?}; expected one of mon, tue, wed, thu, fri, sat, sun"),
                    )
                })?;
            if bits & (1 << day) != 0 {
                return Err(ValidationError::new(
                    format!("{field}[{index}]"),
                    format!("{name} is listed twice"),
                ));
            }
            bits |= 1 << day;
        }
        Ok(Self(bits))
    }

    pub fn contains(self, day: jiff::civil::Weekday) -> bool {
        // jiff numbers Monday 1 to Sunday 7.
        self.0 & (1 << (day as u8 - 1)) != 0
    }

    pub fn names(self) -> Vec<&'static str> {
        (0..7)
            .filter(|day| self.0 & (1 << day) != 0)
            .map(|day| DAY_NAMES[day])
            .collect()
    }
}

impl Serialize for Weekdays {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.names().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Weekdays {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(deserializer)?;
        Self::parse("days", &names).map_err(serde::de::Error::custom)
    }
}

/// An IANA zone name the bundled time-zone database knows.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ZoneName(String);

impl ZoneName {
    pub fn parse(field: &str, name: &str) -> Result<Self, ValidationError> {
        match TimeZone::get(name) {
            Ok(_) if !name.is_empty() && name.len() <= 64 => Ok(Self(name.to_owned())),
            _ => Err(ValidationError::new(
                field,
                format!("unknown time zone {name:?}; expected an IANA name such as Europe/Berlin"),
            )),
        }
    }

    pub fn utc() -> Self {
        Self("UTC".into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn zone(&self) -> TimeZone {
        TimeZone::get(&self.0).unwrap_or(TimeZone::UTC)
    }
}

impl TryFrom<String> for ZoneName {
    type Error = ValidationError;
    fn try_from(name: String) -> Result<Self, Self::Error> {
        Self::parse("time_zone", &name)
    }
}

impl From<ZoneName> for String {
    fn from(zone: ZoneName) -> Self {
        zone.0
    }
}

impl fmt::Display for ZoneName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// When someone is reminded: on or off, at what local time, on which local days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    pub enabled: bool,
    pub time: LocalTime,
    pub days: Weekdays,
}

impl Default for Schedule {
    /// Weekdays at 09:00.
    fn default() -> Self {
        Self {
            enabled: true,
            time: LocalTime::new(9, 0),
            days: Weekdays::MONDAY_TO_FRIDAY,
        }
    }
}

/// The body of `PUT …/reminders`: every field optional, missing ones take the defaults.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleBody {
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    time: Option<String>,
    #[serde(default)]
    days: Option<Vec<String>>,
    #[serde(default)]
    time_zone: Option<String>,
    #[serde(default)]
    inbox_url: Option<String>,
}

impl ScheduleBody {
    fn schedule(&self) -> Result<Schedule, ValidationError> {
        let defaults = Schedule::default();
        Ok(Schedule {
            enabled: self.enabled.unwrap_or(true),
            time: match &self.time {
                Some(time) => LocalTime::parse("time", time)?,
                None => defaults.time,
            },
            days: match &self.days {
                Some(days) => Weekdays::parse("days", days)?,
                None => defaults.days,
            },
        })
    }
}

/// A tenant's reminder settings: the schedule everyone has unless they chose their own,
/// the zone of people whose Slack profile has none, and where the host lists everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantReminders {
    #[serde(flatten)]
    pub schedule: Schedule,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<ZoneName>,
    /// The host's page of everything waiting: "and 12 more" links there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbox_url: Option<String>,
}

impl TenantReminders {
    /// Parses `PUT /v1/tenants/{t}/reminders`; errors name the field.
    pub fn from_json(body: &[u8]) -> Result<Self, ValidationError> {
        let body: ScheduleBody = parse_json(body)?;
        let time_zone = body
            .time_zone
            .as_deref()
            .map(|zone| ZoneName::parse("time_zone", zone))
            .transpose()?;
        let inbox_url = body
            .inbox_url
            .as_deref()
            .map(|url| {
                crate::domain::check_link(url)
                    .map_err(|e| ValidationError::new("inbox_url", e.message))
            })
            .transpose()?;
        Ok(Self {
            schedule: body.schedule()?,
            time_zone,
            inbox_url,
        })
    }
}

/// Parses `PUT /v1/tenants/{t}/users/{u}/reminders`: a person's own schedule.
pub fn user_schedule_from_json(body: &[u8]) -> Result<Schedule, ValidationError> {
    let body: ScheduleBody = parse_json(body)?;
    if body.time_zone.is_some() {
        return Err(ValidationError::new(
            "time_zone",
            "unknown field: a person's zone is their Slack profile's",
        ));
    }
    if body.inbox_url.is_some() {
        return Err(ValidationError::new(
            "inbox_url",
            "unknown field: set it on the tenant's reminders",
        ));
    }
    body.schedule()
}

/// The start of one 15-minute slot of the schedule, in seconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Slot(i64);

impl Slot {
    /// The slot that holds `epoch_seconds`.
    pub fn containing(epoch_seconds: i64) -> Self {
        Self(epoch_seconds.div_euclid(SLOT_SECS) * SLOT_SECS)
    }

    /// The slot of the scheduler's `<aws.scheduler.scheduled-time>` (RFC 3339).
    pub fn from_scheduled_time(text: &str) -> Result<Self, ValidationError> {
        let at: Timestamp = text.parse().map_err(|_| {
            ValidationError::new(
                "scheduled_time",
                format!("must be an RFC 3339 time such as 2026-11-25T03:30:00Z, not {text:?}"),
            )
        })?;
        Ok(Self::containing(at.as_second()))
    }

    pub fn start(self) -> i64 {
        self.0
    }

    fn local(self, zone: &TimeZone) -> jiff::ZonedDateTime {
        Timestamp::from_second(self.0)
            .unwrap_or(Timestamp::UNIX_EPOCH)
            .to_zoned_datetime(zone.clone())
    }
}

/// Where a person's reminder falls, as the reminders index files them: their zone and the
/// local slot of their reminder time. As text, `09:00@Asia/Kolkata`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReminderKey {
    pub zone: ZoneName,
    pub quarter: LocalTime,
}

impl ReminderKey {
    pub fn parse(text: &str) -> Option<Self> {
        let (quarter, zone) = text.split_once('@')?;
        Some(Self {
            quarter: LocalTime::parse("key", quarter).ok()?,
            zone: ZoneName::parse("key", zone).ok()?,
        })
    }
}

impl fmt::Display for ReminderKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.quarter, self.zone)
    }
}

/// What a slot is to one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    /// Their reminder slot, on one of their days: remind them, once for this local date.
    Now { local_date: String },
    /// Their time has passed today and is one of their days: a run that missed it (their
    /// settings changed after the index filed them) may still remind them today.
    Passed { local_date: String },
    /// Later today, or not one of their days, or reminders are off.
    No,
}

/// A person's effective reminder settings: their own schedule or the tenant's, in their
/// Slack zone, else the tenant's zone, else UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonSchedule {
    pub schedule: Schedule,
    pub zone: ZoneName,
}

impl PersonSchedule {
    pub fn resolve(
        tenant: &TenantReminders,
        own: Option<&Schedule>,
        slack_tz: Option<&str>,
    ) -> Self {
        let zone = slack_tz
            .and_then(|tz| ZoneName::parse("tz", tz).ok())
            .or_else(|| tenant.time_zone.clone())
            .unwrap_or_else(ZoneName::utc);
        Self {
            schedule: own.copied().unwrap_or(tenant.schedule),
            zone,
        }
    }

    /// The index key, or `None` when reminders are off: then they are never due.
    pub fn key(&self) -> Option<ReminderKey> {
        self.schedule.enabled.then(|| ReminderKey {
            zone: self.zone.clone(),
            quarter: self.schedule.time.quarter(),
        })
    }

    pub fn due(&self, slot: Slot) -> Due {
        if !self.schedule.enabled {
            return Due::No;
        }
        let local = slot.local(&self.zone.zone());
        if !self.schedule.days.contains(local.weekday()) {
            return Due::No;
        }
        let local_date = local.date().to_string();
        let now = LocalTime::of(&local).quarter();
        let quarter = self.schedule.time.quarter();
        if now == quarter {
            Due::Now { local_date }
        } else if now > quarter {
            Due::Passed { local_date }
        } else {
            Due::No
        }
    }
}

/// The keys in use whose local slot is `slot`: the only index partitions a run reads.
/// Each zone is converted once.
pub fn due_keys(keys: &[ReminderKey], slot: Slot) -> Vec<ReminderKey> {
    let mut local_quarter: BTreeMap<&ZoneName, LocalTime> = BTreeMap::new();
    keys.iter()
        .filter(|key| {
            let now = *local_quarter
                .entry(&key.zone)
                .or_insert_with(|| LocalTime::of(&slot.local(&key.zone.zone())).quarter());
            now == key.quarter
        })
        .cloned()
        .collect()
}

/// A person found waiting under a due key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Waiter {
    pub tenant_id: String,
    pub user_id: HostUserId,
}

/// One person to remind in a run, and when their job may be sent at the earliest: jobs of
/// one tenant (one workspace) are spread out so a big team stays within Slack's limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReminderJob {
    pub tenant_id: String,
    pub user_id: HostUserId,
    /// The run's slot (its start, epoch seconds).
    pub slot: Slot,
    /// The key under which the run found them: a person found under a stale key is
    /// re-filed by the worker.
    pub key: String,
    /// Not before this time (epoch seconds).
    pub not_before: i64,
    /// When the run queued it: a job retried for half a day is dropped, not sent days late.
    #[serde(default)]
    pub queued_at: i64,
}

/// Plans a run: one job per person (found once however many of their requests wait),
/// paced per tenant at `sends_per_second` from the slot's start.
pub fn plan_run(
    slot: Slot,
    found: impl IntoIterator<Item = (ReminderKey, Waiter)>,
    sends_per_second: u32,
) -> Vec<ReminderJob> {
    let people: BTreeMap<Waiter, ReminderKey> = found
        .into_iter()
        .map(|(key, waiter)| (waiter, key))
        .collect();
    let rate = i64::from(sends_per_second.max(1));
    let mut per_tenant: BTreeMap<String, i64> = BTreeMap::new();
    people
        .into_iter()
        .map(|(waiter, key)| {
            let index = per_tenant.entry(waiter.tenant_id.clone()).or_insert(0);
            let not_before = slot.start() + *index / rate;
            *index += 1;
            ReminderJob {
                tenant_id: waiter.tenant_id,
                user_id: waiter.user_id,
                slot,
                key: key.to_string(),
                not_before,
                queued_at: slot.start(),
            }
        })
        .collect()
}

/// "waiting 3 days", "waiting 5 hours", "waiting 20 minutes".
pub fn waited(since: i64, now: i64) -> String {
    let secs = (now - since).max(0);
    let (count, unit) = match secs {
        s if s >= 86_400 => (s / 86_400, "day"),
        s if s >= 3_600 => (s / 3_600, "hour"),
        s => ((s / 60).max(1), "minute"),
    };
    format!(
        "waiting {count} {unit}{}",
        if count == 1 { "" } else { "s" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(text: &str) -> Slot {
        Slot::from_scheduled_time(text).unwrap()
    }

    fn person(zone: &str, schedule: Schedule) -> PersonSchedule {
        PersonSchedule::resolve(&TenantReminders::default(), Some(&schedule), Some(zone))
    }

    fn due_at(zone: &str, text: &str) -> Due {
        person(zone, Schedule::default()).due(at(text))
    }

    #[test]
    fn kolkata_is_due_in_the_0330_utc_slot_and_not_a_quarter_either_side() {
        // Wednesday 2026-11-25: 09:00 in Kolkata (+05:30) is 03:30 UTC.
        assert_eq!(
            due_at("Asia/Kolkata", "2026-11-25T03:30:00Z"),
            Due::Now {
                local_date: "2026-11-25".into()
            }
        );
        assert_eq!(due_at("Asia/Kolkata", "2026-11-25T03:15:00Z"), Due::No);
        assert!(matches!(
            due_at("Asia/Kolkata", "2026-11-25T03:45:00Z"),
            Due::Passed { .. }
        ));
        // A late or repeated invocation inside the slot is the same slot.
        assert_eq!(at("2026-11-25T03:44:59Z"), at("2026-11-25T03:30:00Z"));
    }

    #[test]
    fn berlin_is_due_at_its_own_nine_across_the_dst_change() {
        // Friday before the change (CEST, +02:00): 07:00 UTC.
        assert!(matches!(
            due_at("Europe/Berlin", "2026-10-23T07:00:00Z"),
            Due::Now { .. }
        ));
        assert!(!due_at("Europe/Berlin", "2026-10-23T08:00:00Z").is_now());
        // Monday after the change on 2026-10-25 (CET, +01:00): 08:00 UTC, not 07:00.
        assert_eq!(due_at("Europe/Berlin", "2026-10-26T07:00:00Z"), Due::No);
        assert_eq!(
            due_at("Europe/Berlin", "2026-10-26T08:00:00Z"),
            Due::Now {
                local_date: "2026-10-26".into()
            }
        );
    }

    #[test]
    fn weekends_are_the_persons_own() {
        // Sunday 2026-11-22 23:30 UTC is Monday 08:30 in Tokyo; 00:00 UTC is Monday 09:00.
        let tokyo = |text| due_at("Asia/Tokyo", text);
        assert!(tokyo("2026-11-23T00:00:00Z").is_now());
        // Friday 2026-11-27 23:00 UTC is Saturday 08:00 in Tokyo; Saturday 00:00 UTC is
        // Saturday 09:00 there: no reminder, though UTC still says Friday.
        assert_eq!(tokyo("2026-11-28T00:00:00Z"), Due::No);
        // New York's Friday 09:00 is 14:00 UTC Friday.
        assert!(due_at("America/New_York", "2026-11-27T14:00:00Z").is_now());
    }

    #[test]
    fn half_and_three_quarter_hour_zones_get_their_own_slot() {
        // St John's (-03:30 in winter): 09:00 is 12:30 UTC. Kathmandu (+05:45): 03:15 UTC.
        // Chatham (+13:45 in its summer): 09:00 Thursday is 19:15 UTC Wednesday.
        assert!(due_at("America/St_Johns", "2026-11-25T12:30:00Z").is_now());
        assert!(due_at("Asia/Kathmandu", "2026-11-25T03:15:00Z").is_now());
        assert!(due_at("Pacific/Chatham", "2026-11-25T19:15:00Z").is_now());
    }

    #[test]
    fn a_disabled_schedule_is_never_due_and_has_no_key() {
        let off = person(
            "UTC",
            Schedule {
                enabled: false,
                ..Schedule::default()
            },
        );
        assert_eq!(off.due(at("2026-11-25T09:00:00Z")), Due::No);
        assert_eq!(off.key(), None);
    }

    #[test]
    fn the_zone_falls_back_from_slack_to_the_tenant_to_utc() {
        let tenant = TenantReminders {
            time_zone: Some(ZoneName::parse("time_zone", "Asia/Tokyo").unwrap()),
            ..TenantReminders::default()
        };
        let zone = |tz| PersonSchedule::resolve(&tenant, None, tz).zone.to_string();
        assert_eq!(zone(Some("Europe/Berlin")), "Europe/Berlin");
        assert_eq!(zone(Some("Mars/Olympus")), "Asia/Tokyo");
        assert_eq!(zone(None), "Asia/Tokyo");
        let bare = PersonSchedule::resolve(&TenantReminders::default(), None, None);
        assert_eq!(bare.zone.to_string(), "UTC");
        assert_eq!(bare.key().unwrap().to_string(), "09:00@UTC");
    }

    #[test]
    fn only_the_keys_whose_local_slot_it_is_are_read() {
        let keys: Vec<ReminderKey> = [
            "09:00@Asia/Kolkata",
            "09:00@Europe/Berlin",
            "09:30@Asia/Kolkata",
        ]
        .iter()
        .map(|k| ReminderKey::parse(k).unwrap())
        .collect();
        let due = due_keys(&keys, at("2026-11-25T03:30:00Z"));
        assert_eq!(due, vec![keys[0].clone()]);
        assert_eq!(
            due_keys(&keys, at("2026-11-25T04:00:00Z")),
            vec![keys[2].clone()]
        );
    }

    #[test]
    fn settings_bodies_are_checked_field_by_field() {
        let error = |body: &str| TenantReminders::from_json(body.as_bytes()).unwrap_err();
        assert_eq!(error(r#"{"time":"9:00"}"#).field, "time");
        assert_eq!(error(r#"{"time":"24:00"}"#).field, "time");
        assert_eq!(error(r#"{"days":["mon","funday"]}"#).field, "days[1]");
        assert_eq!(
            error(r#"{"days":["mon","tue","wed","thu","fri","sat","sun","mon"]}"#).field,
            "days"
        );
        assert_eq!(error(r#"{"time_zone":"Mars/Olympus"}"#).field, "time_zone");
        assert_eq!(error(r#"{"colour":"red"}"#).field, "colour");
        let parsed =
            TenantReminders::from_json(br#"{"enabled":true,"time":"08:45","days":["sat","sun"]}"#)
                .unwrap();
        assert_eq!(parsed.schedule.time.to_string(), "08:45");
        assert_eq!(parsed.schedule.days.names(), ["sat", "sun"]);
        let off = user_schedule_from_json(br#"{"enabled":false}"#).unwrap();
        assert!(!off.enabled);
        assert_eq!(off.days, Weekdays::MONDAY_TO_FRIDAY);
        assert_eq!(
            Slot::from_scheduled_time("yesterday").unwrap_err().field,
            "scheduled_time"
        );
    }

    #[test]
    fn a_run_finds_each_person_once_and_paces_each_tenant() {
        let key = ReminderKey::parse("09:00@UTC").unwrap();
        let waiter = |tenant: &str, user: &str| {
            (
                key.clone(),
                Waiter {
                    tenant_id: tenant.into(),
                    user_id: HostUserId::try_from(user.to_owned()).unwrap(),
                },
            )
        };
        let slot = at("2026-11-25T09:00:00Z");
        let jobs = plan_run(
            slot,
            vec![
                waiter("a", "u1"),
                waiter("a", "u1"),
                waiter("a", "u2"),
                waiter("a", "u3"),
                waiter("b", "u1"),
            ],
            2,
        );
        let starts: Vec<(String, i64)> = jobs
            .iter()
            .map(|j| {
                (
                    format!("{}/{}", j.tenant_id, j.user_id),
                    j.not_before - slot.start(),
                )
            })
            .collect();
        assert_eq!(
            starts,
            [
                ("a/u1".into(), 0),
                ("a/u2".into(), 0),
                ("a/u3".into(), 1),
                ("b/u1".into(), 0)
            ]
        );
    }

    #[test]
    fn ten_thousand_people_of_one_workspace_are_all_planned_at_the_pace_slack_allows() {
        let key = ReminderKey::parse("09:00@UTC").unwrap();
        let slot = at("2026-11-25T09:00:00Z");
        let found = (0..10_000).map(|n| {
            let user_id = HostUserId::try_from(format!("u-{n}")).unwrap();
            (
                key.clone(),
                Waiter {
                    tenant_id: "big".into(),
                    user_id,
                },
            )
        });

        let jobs = plan_run(slot, found, 5);

        assert_eq!(jobs.len(), 10_000, "nobody is dropped");
        let last = jobs.iter().map(|j| j.not_before).max().unwrap();
        assert_eq!(
            last - slot.start(),
            1_999,
            "5 a second: the last one 2,000 s on"
        );
        let in_first_second = jobs.iter().filter(|j| j.not_before == slot.start()).count();
        assert_eq!(in_first_second, 5);
    }

    #[test]
    fn waiting_time_reads_naturally() {
        assert_eq!(waited(0, 3 * 86_400 + 5), "waiting 3 days");
        assert_eq!(waited(0, 3_600), "waiting 1 hour");
        assert_eq!(waited(0, 10), "waiting 1 minute");
    }

    proptest! {
        /// Every slot of a day sees each zone due exactly once on a reminder day.
        #[test]
        fn each_person_is_due_in_exactly_one_slot_of_their_day(
            zone in prop::sample::select(vec!["Asia/Kolkata", "America/St_Johns", "Europe/Berlin",
                "Pacific/Chatham", "Asia/Kathmandu", "America/Los_Angeles", "UTC"]),
            hour in 6u8..20, minute in 0u8..60, day in 0i64..400,
        ) {
            let schedule = Schedule { enabled: true, time: LocalTime::new(hour, minute),
                days: Weekdays(0b111_1111) };
            let person = person(zone, schedule);
            // Walk 48 hours of slots from a day start; count the Now slots per local date.
            let start = 1_767_225_600 + day * 86_400; // 2026-01-01T00:00Z + day
            let mut per_date: BTreeMap<String, u32> = BTreeMap::new();
            for n in 0..(48 * 4) {
                if let Due::Now { local_date } = person.due(Slot(start + n * SLOT_SECS)) {
                    *per_date.entry(local_date).or_default() += 1;
                }
            }
            prop_assert!(per_date.values().all(|count| *count == 1), "{per_date:?}");
            prop_assert!(!per_date.is_empty());
        }
    }

    impl Due {
        fn is_now(&self) -> bool {
            matches!(self, Due::Now { .. })
        }
    }
}
