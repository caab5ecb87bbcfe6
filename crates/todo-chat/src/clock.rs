//! The user's clock: an IANA time zone and the current instant. Every date an engine reads
//! ("today", "tomorrow at 5pm", "friday") is a date on the user's wall calendar, and every
//! due date it sends is an instant: a time as that local time, a date alone as the start of
//! that local day. The zone rules come from jiff's bundled tz database (the images have no
//! /usr/share/zoneinfo); the rest of the project speaks `time`, converted at this boundary.

use jiff::civil;
use jiff::tz::TimeZone;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Why a zone name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IANA time zone (e.g. Europe/Paris, America/Los_Angeles, UTC)")]
pub struct UnknownZone(pub String);

/// The user's zone and "now", given with each turn.
#[derive(Debug, Clone)]
pub struct UserClock {
    zone_name: String,
    zone: TimeZone,
    now: OffsetDateTime,
}

impl UserClock {
    /// A clock in the zone named `zone` (IANA, e.g. `Pacific/Auckland`) at instant `now`.
    pub fn new(zone: &str, now: OffsetDateTime) -> Result<UserClock, UnknownZone> {
        let tz = jiff::tz::db()
            .get(zone)
            .map_err(|_| UnknownZone(zone.to_owned()))?;
        Ok(UserClock {
            zone_name: tz.iana_name().unwrap_or(zone).to_owned(),
            zone: tz,
            now,
        })
    }

    /// UTC at `now` (callers that do not know the user's zone yet).
    pub fn utc(now: OffsetDateTime) -> UserClock {
        UserClock {
            zone_name: "UTC".to_owned(),
            zone: TimeZone::UTC,
            now,
        }
    }

    /// The zone's IANA name.
    pub fn zone(&self) -> &str {
        &self.zone_name
    }

    pub fn now(&self) -> OffsetDateTime {
        self.now
    }

    /// The wall-clock date and time now, in the user's zone.
    pub fn local_now(&self) -> PrimitiveDateTime {
        self.local(self.now)
    }

    /// Today on the user's calendar.
    pub fn today(&self) -> Date {
        self.local_now().date()
    }

    /// An instant as the user's wall-clock date and time.
    pub fn local(&self, at: OffsetDateTime) -> PrimitiveDateTime {
        let offset = self.offset_at(at);
        let local = at.to_offset(offset);
        PrimitiveDateTime::new(local.date(), local.time())
    }

    /// The UTC offset the zone has at an instant.
    fn offset_at(&self, at: OffsetDateTime) -> UtcOffset {
        let seconds = jiff::Timestamp::from_second(at.unix_timestamp())
            .map(|ts| self.zone.to_offset(ts).seconds())
            .unwrap_or(0);
        UtcOffset::from_whole_seconds(seconds).unwrap_or(UtcOffset::UTC)
    }

    /// The instant of a local date and time. A time skipped by a DST change moves forward
    /// by the gap, a repeated one takes its first occurrence (RFC 5545's rule, jiff's
    /// "compatible"), so every local time has one answer.
    pub fn instant(&self, date: Date, at: Time) -> OffsetDateTime {
        let civil = civil::DateTime::new(
            date.year() as i16,
            u8::from(date.month()) as i8,
            date.day() as i8,
            at.hour() as i8,
            at.minute() as i8,
            at.second() as i8,
            0,
        );
        let zoned = civil.and_then(|c| c.to_zoned(self.zone.clone()));
        match zoned {
            Ok(z) => {
                let offset =
                    UtcOffset::from_whole_seconds(z.offset().seconds()).unwrap_or(UtcOffset::UTC);
                OffsetDateTime::from_unix_timestamp(z.timestamp().as_second())
                    .map(|t| t.to_offset(offset))
                    .unwrap_or_else(|_| PrimitiveDateTime::new(date, at).assume_utc())
            }
            // Outside jiff's range (years -9999..=9999 are fine): fall back to UTC.
            Err(_) => PrimitiveDateTime::new(date, at).assume_utc(),
        }
    }

    /// The first instant of a local day (midnight, or the end of a gap at midnight).
    pub fn start_of_day(&self, date: Date) -> OffsetDateTime {
        self.instant(date, Time::MIDNIGHT)
    }

    /// An instant as the RFC 3339 text tools take, with the zone's offset at that instant
    /// (`2026-11-25T00:00:00+13:00`; `Z` in UTC).
    pub fn rfc3339(&self, at: OffsetDateTime) -> String {
        let offset = self.offset_at(at);
        let local = at.to_offset(offset);
        let date = local.date();
        let t = local.time();
        // `{:04}` writes year -1 as "-001"; ISO 8601 wants four digits after the sign, so a
        // year out of the tools' range reaches them readable and is refused by its number.
        let year = if date.year() < 0 {
            format!("-{:04}", date.year().unsigned_abs())
        } else {
            format!("{:04}", date.year())
        };
        let base = format!(
            "{year}-{:02}-{:02}T{:02}:{:02}:{:02}",
            u8::from(date.month()),
            date.day(),
            t.hour(),
            t.minute(),
            t.second()
        );
        let secs = offset.whole_seconds();
        if secs == 0 {
            return format!("{base}Z");
        }
        let sign = if secs < 0 { '-' } else { '+' };
        let a = secs.unsigned_abs();
        format!("{base}{sign}{:02}:{:02}", a / 3600, (a % 3600) / 60)
    }
}

/// The same day of the month `months` later, clamped to the month's length.
pub fn add_months(date: Date, months: i32) -> Date {
    let index = date.year() * 12 + i32::from(u8::from(date.month())) - 1 + months;
    let (year, month0) = (index.div_euclid(12), index.rem_euclid(12));
    let month = Month::try_from(month0 as u8 + 1).unwrap_or(Month::January);
    let day = date.day().min(month.length(year));
    Date::from_calendar_date(year, month, day).unwrap_or(date)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime, time};

    #[test]
    fn today_is_the_users_day() {
        // 2026-11-24 10:30 UTC: already the 25th in Auckland (+13), still the 24th in LA.
        let now = datetime!(2026-11-24 10:30 UTC);
        let akl = UserClock::new("Pacific/Auckland", now).unwrap();
        assert_eq!(
            akl.today(),
            date!(2026 - 11 - 24) + time::Duration::days(0) + time::Duration::days(0)
        );
        let late = datetime!(2026-11-24 11:30 UTC);
        assert_eq!(
            UserClock::new("Pacific/Auckland", late).unwrap().today(),
            date!(2026 - 11 - 25)
        );
        assert_eq!(
            UserClock::new("America/Los_Angeles", late).unwrap().today(),
            date!(2026 - 11 - 24)
        );
        assert_eq!(
            UserClock::new("Asia/Kolkata", datetime!(2026-11-24 18:45 UTC))
                .unwrap()
                .today(),
            date!(2026 - 11 - 25)
        );
        assert_eq!(UserClock::utc(late).today(), date!(2026 - 11 - 24));
    }

    #[test]
    fn local_times_become_instants_with_the_offset_of_that_day() {
        let now = datetime!(2026-11-24 12:00 UTC);
        let la = UserClock::new("America/Los_Angeles", now).unwrap();
        assert_eq!(
            la.rfc3339(la.start_of_day(date!(2026 - 11 - 25))),
            "2026-11-25T00:00:00-08:00"
        );
        // Summer time in LA is -07:00.
        assert_eq!(
            la.rfc3339(la.instant(date!(2026 - 07 - 01), time!(17:00))),
            "2026-07-01T17:00:00-07:00"
        );
        let kol = UserClock::new("Asia/Kolkata", now).unwrap();
        assert_eq!(
            kol.rfc3339(kol.instant(date!(2026 - 11 - 25), time!(17:00))),
            "2026-11-25T17:00:00+05:30"
        );
        assert_eq!(
            kol.instant(date!(2026 - 11 - 25), time!(17:00)),
            datetime!(2026-11-25 11:30 UTC)
        );
        let utc = UserClock::utc(now);
        assert_eq!(
            utc.rfc3339(utc.start_of_day(date!(2026 - 11 - 25))),
            "2026-11-25T00:00:00Z"
        );
        // Four digits after a minus too, so the tools can name the year they refuse.
        assert_eq!(
            utc.rfc3339(utc.start_of_day(date!(-0001 - 01 - 01))),
            "-0001-01-01T00:00:00Z"
        );
    }

    #[test]
    fn dst_gaps_and_overlaps_have_one_answer() {
        let now = datetime!(2026-03-01 12:00 UTC);
        let la = UserClock::new("America/Los_Angeles", now).unwrap();
        // 2026-03-08 02:30 does not exist in LA: it moves forward to 03:30 PDT.
        assert_eq!(
            la.rfc3339(la.instant(date!(2026 - 03 - 08), time!(2:30))),
            "2026-03-08T03:30:00-07:00"
        );
        // 2026-11-01 01:30 happens twice: the first one (PDT).
        assert_eq!(
            la.rfc3339(la.instant(date!(2026 - 11 - 01), time!(1:30))),
            "2026-11-01T01:30:00-07:00"
        );
        assert!(UserClock::new("Mars/Olympus", now).is_err());
        assert!(
            UserClock::new("Mars/Olympus", now)
                .unwrap_err()
                .to_string()
                .contains("IANA")
        );
    }

    #[test]
    fn months_add_with_clamping() {
        assert_eq!(add_months(date!(2026 - 01 - 31), 1), date!(2026 - 02 - 28));
        assert_eq!(add_months(date!(2026 - 12 - 15), 1), date!(2027 - 01 - 15));
        assert_eq!(add_months(date!(2026 - 11 - 24), 1), date!(2026 - 12 - 24));
    }
}
