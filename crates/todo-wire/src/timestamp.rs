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
    OffsetDateTime::parse(&raw, &Rfc3339).map_err(serde::de::Error::custom)
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
            .map(|raw| OffsetDateTime::parse(&raw, &Rfc3339).map_err(serde::de::Error::custom))
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
}
