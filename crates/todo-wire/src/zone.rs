//! Users' time zones, and the calendar days the date filters mean in them.
//!
//! Every user has an IANA time zone (`Pacific/Auckland`, `UTC` by default). Names are checked
//! against the tz database bundled into every binary (jiff's `tzdb-bundle-always`: the images
//! carry no /usr/share/zoneinfo), so every service and client accepts the same names.
//!
//! The rules, the same for REST, MCP, chat and the web:
//! - A date-only due date (`2026-11-25`) means that day in the user's zone and is stored as
//!   the instant the day starts there (local midnight; on a day a DST change skips midnight,
//!   the first instant of the day). A local date-time without an offset (`2026-11-25T17:00`)
//!   is that wall-clock time in the user's zone (a time skipped by a DST change moves forward
//!   by the gap; a repeated one takes the earlier instant). An RFC 3339 instant with `Z` or
//!   an offset is taken as it is. Stored due dates are instants and go out as RFC 3339 UTC.
//! - A due date at exactly local midnight reads as "that day, no time": it is due all that
//!   day and becomes overdue when the day ends. Any other time is a deadline, overdue once it
//!   has passed.
//! - [`DueFilter`] days are the user's days: `today` and `tomorrow` run midnight to midnight;
//!   `this_week` runs from the start of today to the end of Sunday (weeks start on Monday, as
//!   in ISO 8601); `overdue` is pending tasks past due (see above).

use crate::query::DueFilter;
use jiff::tz::TimeZone;
use schemars::{Schema, SchemaGenerator, json_schema};
use std::sync::OnceLock;
use time::{Date, Duration, OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// The zone of accounts that never chose one (and of every account before zones existed).
pub const DEFAULT_ZONE: &str = "UTC";
/// The longest zone name accepted (the longest IANA name is about 32 characters).
pub const ZONE_MAX: usize = 64;
/// The characters of IANA names; the database's CHECK constraint says the same.
pub const ZONE_PATTERN: &str = "^[A-Za-z0-9_+/-]{1,64}$";
pub const ZONE_HELP: &str =
    "an IANA time zone name such as Europe/Paris, America/Los_Angeles, Pacific/Auckland or UTC";

/// A name that is not a zone of the bundled tz database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownZone(pub String);

impl std::fmt::Display for UnknownZone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown: String = self.0.chars().take(ZONE_MAX + 1).collect();
        write!(f, "{shown:?} is not a known time zone: use {ZONE_HELP}")
    }
}

impl std::error::Error for UnknownZone {}

/// A user's time zone: its IANA name and its rules.
#[derive(Debug, Clone)]
pub struct UserZone {
    name: String,
    tz: TimeZone,
}

impl PartialEq for UserZone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for UserZone {}

impl Default for UserZone {
    fn default() -> Self {
        UserZone::utc()
    }
}

impl UserZone {
    pub fn utc() -> UserZone {
        UserZone {
            name: DEFAULT_ZONE.to_owned(),
            tz: TimeZone::UTC,
        }
    }

    /// Looks a name up, ignoring ASCII case (`america/new_york` is `America/New_York`); the
    /// zone keeps the database's spelling, which is what gets stored.
    pub fn parse(name: &str) -> Result<UserZone, UnknownZone> {
        let unknown = || UnknownZone(name.to_owned());
        if name.is_empty()
            || name.len() > ZONE_MAX
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_+/-".contains(&b))
        {
            return Err(unknown());
        }
        let tz = jiff::tz::db().get(name).map_err(|_| unknown())?;
        let canonical = tz.iana_name().unwrap_or(name).to_owned();
        Ok(UserZone {
            name: canonical,
            tz,
        })
    }

    /// A stored name; one the database no longer knows (a tz release dropped it) reads as
    /// UTC rather than failing every request of its user.
    pub fn from_stored(name: &str) -> UserZone {
        UserZone::parse(name).unwrap_or_else(|_| UserZone::utc())
    }

    /// The IANA name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The zone's UTC offset at an instant.
    pub fn offset_at(&self, at: OffsetDateTime) -> UtcOffset {
        let seconds = jiff::Timestamp::from_second(at.unix_timestamp())
            .map(|ts| self.tz.to_offset(ts).seconds())
            .unwrap_or(0);
        UtcOffset::from_whole_seconds(seconds).unwrap_or(UtcOffset::UTC)
    }

    /// An instant as the user's wall-clock date and time.
    pub fn local(&self, at: OffsetDateTime) -> PrimitiveDateTime {
        let local = at.to_offset(self.offset_at(at));
        PrimitiveDateTime::new(local.date(), local.time())
    }

    /// The user's calendar date at an instant.
    pub fn date_of(&self, at: OffsetDateTime) -> Date {
        self.local(at).date()
    }

    /// The instant of a wall-clock time: a time skipped by a DST change moves forward by the
    /// gap, a repeated one is the earlier instant (RFC 5545's and Temporal's "compatible").
    /// `None` only past the range instants have (about year ±9999).
    pub fn resolve(&self, local: PrimitiveDateTime) -> Option<OffsetDateTime> {
        let civil = jiff::civil::DateTime::new(
            i16::try_from(local.year()).ok()?,
            i8::try_from(u8::from(local.month())).ok()?,
            i8::try_from(local.day()).ok()?,
            i8::try_from(local.hour()).ok()?,
            i8::try_from(local.minute()).ok()?,
            i8::try_from(local.second()).ok()?,
            i32::try_from(local.nanosecond()).ok()?,
        )
        .ok()?;
        let ts = self.tz.to_ambiguous_timestamp(civil).compatible().ok()?;
        OffsetDateTime::from_unix_timestamp_nanos(ts.as_nanosecond()).ok()
    }

    /// The first instant of a day in this zone: local midnight, or (on a day a DST change
    /// skips midnight) the first wall-clock time that exists.
    pub fn start_of_day(&self, date: Date) -> Option<OffsetDateTime> {
        let civil = jiff::civil::Date::new(
            i16::try_from(date.year()).ok()?,
            i8::try_from(u8::from(date.month())).ok()?,
            i8::try_from(date.day()).ok()?,
        )
        .ok()?;
        let zoned = civil.to_zoned(self.tz.clone()).ok()?.start_of_day().ok()?;
        OffsetDateTime::from_unix_timestamp_nanos(zoned.timestamp().as_nanosecond()).ok()
    }

    /// True when `due` reads as a date with no time: the start of its local day.
    pub fn is_date_only(&self, due: OffsetDateTime) -> bool {
        self.start_of_day(self.date_of(due)) == Some(due)
    }

    /// The instants a filter covers at `now`, in this zone (see the module docs).
    pub fn window(&self, filter: DueFilter, now: OffsetDateTime) -> DueWindow {
        let today = self.date_of(now);
        let start = |days: i64| {
            today
                .checked_add(Duration::days(days))
                .and_then(|d| self.start_of_day(d))
        };
        match filter {
            DueFilter::Today => DueWindow::Range {
                from: start(0),
                before: start(1),
            },
            DueFilter::Tomorrow => DueWindow::Range {
                from: start(1),
                before: start(2),
            },
            DueFilter::ThisWeek => DueWindow::Range {
                from: start(0),
                // Monday is 0 days from Monday: the week ends before the next one.
                before: start(7 - i64::from(today.weekday().number_days_from_monday())),
            },
            DueFilter::Overdue => DueWindow::Overdue {
                today_starts: start(0).unwrap_or(now),
                now,
            },
        }
    }

    /// Whether a pending task due at `due` is overdue at `now` in this zone.
    pub fn is_overdue(&self, due: OffsetDateTime, now: OffsetDateTime) -> bool {
        match self.window(DueFilter::Overdue, now) {
            DueWindow::Overdue { today_starts, now } => {
                due < today_starts || (due > today_starts && due < now)
            }
            DueWindow::Range { .. } => false,
        }
    }
}

/// What a [`DueFilter`] selects, as instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DueWindow {
    /// `from <= due_at < before` (a bound is `None` only past the representable range).
    Range {
        from: Option<OffsetDateTime>,
        before: Option<OffsetDateTime>,
    },
    /// Pending, and due before today started, or due today at a time (not midnight) that
    /// has passed: `due_at < today_starts OR (today_starts < due_at AND due_at < now)`.
    Overdue {
        today_starts: OffsetDateTime,
        now: OffsetDateTime,
    },
}

/// Every zone name the bundled database has, sorted: the schema's `enum` and the web's
/// select list.
pub fn names() -> &'static [String] {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut names: Vec<String> = jiff::tz::db()
            .available()
            .map(|n| n.as_str().to_owned())
            .filter(|n| UserZone::parse(n).is_ok_and(|z| z.name() == n))
            .collect();
        names.sort();
        names.dedup();
        names
    })
}

/// A zone name in a request body: one of [`names`].
pub fn schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "enum": names(),
        "description": format!("The user's time zone: {ZONE_HELP}"),
        "examples": ["Pacific/Auckland"]
    })
}

/// A zone name in a response (any stored name).
pub fn stored_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "minLength": 1,
        "maxLength": ZONE_MAX,
        "pattern": ZONE_PATTERN,
        "description": "The user's IANA time zone; due dates without an offset and the date filters (today, overdue, ...) use it",
        "examples": ["Pacific/Auckland"]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    fn zone(name: &str) -> UserZone {
        UserZone::parse(name).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn names_are_checked_against_the_bundled_database() {
        assert_eq!(zone("america/los_angeles").name(), "America/Los_Angeles");
        assert_eq!(zone("UTC").name(), "UTC");
        for bad in [
            "",
            "Mars/Olympus",
            "Local",
            "UTC ",
            "../etc/passwd",
            "+05:00",
        ] {
            assert!(UserZone::parse(bad).is_err(), "{bad:?}");
        }
        let err = UserZone::parse("Mars/Olympus").unwrap_err().to_string();
        assert!(
            err.contains("Mars/Olympus") && err.contains("IANA"),
            "{err}"
        );
        assert!(names().len() > 300, "{}", names().len());
        assert!(names().iter().any(|n| n == "Asia/Kolkata"));
        assert!(names().iter().all(|n| n.len() <= ZONE_MAX));
    }

    #[test]
    fn days_start_at_local_midnight_across_dst() {
        let la = zone("America/Los_Angeles");
        // 2026-11-01: PDT (-7) ends at 02:00; the day starts at -7, the next at -8.
        assert_eq!(
            la.start_of_day(date!(2026 - 11 - 01)),
            Some(datetime!(2026-11-01 07:00 UTC))
        );
        assert_eq!(
            la.start_of_day(date!(2026 - 11 - 02)),
            Some(datetime!(2026-11-02 08:00 UTC))
        );
        let akl = zone("Pacific/Auckland");
        // 2027-04-04: NZDT (+13) ends at 03:00.
        assert_eq!(
            akl.start_of_day(date!(2027 - 04 - 04)),
            Some(datetime!(2027-04-03 11:00 UTC))
        );
        assert_eq!(
            akl.start_of_day(date!(2027 - 04 - 05)),
            Some(datetime!(2027-04-04 12:00 UTC))
        );
        // A skipped wall-clock time moves forward; a repeated one is the earlier instant.
        assert_eq!(
            la.resolve(datetime!(2027-03-14 02:30)),
            Some(datetime!(2027-03-14 10:30 UTC))
        );
        assert_eq!(
            la.resolve(datetime!(2026-11-01 01:30)),
            Some(datetime!(2026-11-01 08:30 UTC))
        );
    }

    #[test]
    fn windows_are_the_users_days() {
        let kolkata = zone("Asia/Kolkata");
        // 18:29:59 UTC is 23:59:59 in Kolkata (+05:30): still the 25th there.
        let now = datetime!(2026-11-25 18:29:59 UTC);
        assert_eq!(
            kolkata.window(DueFilter::Today, now),
            DueWindow::Range {
                from: Some(datetime!(2026-11-24 18:30 UTC)),
                before: Some(datetime!(2026-11-25 18:30 UTC)),
            }
        );
        // 2026-11-25 is a Wednesday: this week runs to the end of Sunday the 29th.
        assert_eq!(
            kolkata.window(DueFilter::ThisWeek, now),
            DueWindow::Range {
                from: Some(datetime!(2026-11-24 18:30 UTC)),
                before: Some(datetime!(2026-11-29 18:30 UTC)),
            }
        );
        let later = datetime!(2026-11-25 18:30 UTC);
        assert_eq!(
            kolkata.window(DueFilter::Tomorrow, later),
            DueWindow::Range {
                from: Some(datetime!(2026-11-26 18:30 UTC)),
                before: Some(datetime!(2026-11-27 18:30 UTC)),
            }
        );
        // A date-only due date of today is not overdue; a passed time today is.
        let today = datetime!(2026-11-24 18:30 UTC);
        assert!(kolkata.is_date_only(today));
        assert!(!kolkata.is_overdue(today, now));
        assert!(kolkata.is_overdue(datetime!(2026-11-25 10:00 UTC), now));
        assert!(kolkata.is_overdue(datetime!(2026-11-23 18:30 UTC), now));
        // 23:59:59.5 tonight has not passed yet.
        assert!(!kolkata.is_overdue(datetime!(2026-11-25 18:29:59.5 UTC), now));
    }
}
