//! RFC 3339 timestamps that cannot fail to serialise.
//!
//! `time::serde::rfc3339` refuses years outside 0000..=9999 at serialisation time; one such
//! stored value (PostgreSQL accepts 4713 BC) used to turn a user's every list into a 500.
//! Input is refused outside year 1..=9999 (see todo-store's validation); should such a value
//! still be read from the database, it is written in ISO 8601's expanded form
//! (`-0001-06-01T00:00:00Z`) instead of failing.

use schemars::{Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The one text form of a timestamp on the wire (UTC offsets preserved as stored).
pub fn format(t: &OffsetDateTime) -> String {
    if (0..=9999).contains(&t.year())
        && let Ok(s) = t.format(&Rfc3339)
    {
        return s;
    }
    let utc = t.to_offset(time::UtcOffset::UTC);
    let (y, m, d) = (utc.year(), utc.month() as u8, utc.day());
    let (h, mi, s) = (utc.hour(), utc.minute(), utc.second());
    let sign = if y < 0 { '-' } else { '+' };
    format!(
        "{sign}{:06}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z",
        y.unsigned_abs()
    )
}

pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(t))
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
    let raw = String::deserialize(d)?;
    parse(&raw).map_err(serde::de::Error::custom)
}

/// Reads what [`format`] writes: RFC 3339, or the expanded form (`-000001-06-01T00:00:00Z`)
/// of a year RFC 3339 cannot hold, so clients of the wire types read every stored value.
pub fn parse(raw: &str) -> Result<OffsetDateTime, String> {
    match OffsetDateTime::parse(raw, &Rfc3339) {
        Ok(t) => Ok(t),
        Err(e) => parse_expanded(raw).ok_or_else(|| e.to_string()),
    }
}

/// `±YYYYYY-MM-DDTHH:MM:SSZ`.
fn parse_expanded(raw: &str) -> Option<OffsetDateTime> {
    let sign = match raw.as_bytes().first()? {
        b'-' => -1,
        b'+' => 1,
        _ => return None,
    };
    let rest = raw.get(1..)?.strip_suffix('Z')?;
    let (date, clock) = rest.split_once('T')?;
    let mut date = date.split('-');
    let num = |s: Option<&str>, width: usize| -> Option<u32> {
        let s = s?;
        (s.len() == width && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let year = i32::try_from(num(date.next(), 6)?).ok()? * sign;
    let month = u8::try_from(num(date.next(), 2)?).ok()?;
    let day = u8::try_from(num(date.next(), 2)?).ok()?;
    if date.next().is_some() {
        return None;
    }
    let mut clock = clock.split(':');
    let hour = u8::try_from(num(clock.next(), 2)?).ok()?;
    let minute = u8::try_from(num(clock.next(), 2)?).ok()?;
    let second = u8::try_from(num(clock.next(), 2)?).ok()?;
    if clock.next().is_some() {
        return None;
    }
    let date =
        time::Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()?;
    let time = time::Time::from_hms(hour, minute, second).ok()?;
    Some(time::PrimitiveDateTime::new(date, time).assume_utc())
}

pub fn schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "format": "date-time" })
}

/// The same for `Option<OffsetDateTime>` (`null` when absent).
pub mod option {
    use super::*;

    pub fn serialize<S: Serializer>(t: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&format(t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|raw| parse(&raw).map_err(serde::de::Error::custom))
            .transpose()
    }

    pub fn schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "anyOf": [{ "type": "string", "format": "date-time" }, { "type": "null" }] })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn years_rfc3339_cannot_hold_still_serialise() {
        assert_eq!(
            format(&datetime!(2026-11-25 17:00 UTC)),
            "2026-11-25T17:00:00Z"
        );
        assert_eq!(
            format(&datetime!(2026-11-25 17:00:00.5 +02:00)),
            "2026-11-25T17:00:00.5+02:00"
        );
        assert_eq!(
            format(&datetime!(-0001-06-01 0:00 UTC)),
            "-000001-06-01T00:00:00Z"
        );
    }

    #[test]
    fn what_format_writes_parse_reads() {
        for t in [
            datetime!(2026-11-25 17:00 UTC),
            datetime!(-0001-06-01 0:00 UTC),
            datetime!(-4713-01-01 12:30:05 UTC),
            datetime!(0000-01-01 0:00 UTC),
        ] {
            assert_eq!(parse(&format(&t)), Ok(t), "{}", format(&t));
        }
        for bad in [
            "-01-06-01T00:00:00Z",
            "-000001-06-01",
            "+000001-13-01T00:00:00Z",
            "x",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
