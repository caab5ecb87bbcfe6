//! The rules for task input, shared by REST, MCP and chat so all three accept and refuse the
//! same things with the same messages.
//!
//! Text rules (every text field): no control characters (C0, DEL, C1; descriptions and chat
//! messages may hold tab and line breaks). Titles, tags and names must show something: a
//! value of only whitespace, zero-width characters, bidi controls or other format (Cf)
//! characters is refused. Due dates must fall in year 1..=9999 (UTC); dates and wall-clock
//! times are read in the user's time zone ([`parse_due_in`], rules in [`todo_wire::zone`]).

use crate::error::ValidationError;
use crate::model::Priority;
use time::macros::datetime;
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time};
use todo_wire::UserZone;

pub use todo_wire::chat::MESSAGE_MAX;
pub use todo_wire::task::{DESCRIPTION_MAX, TAG_MAX, TAGS_MAX, TITLE_MAX};
pub use todo_wire::user::{EMAIL_MAX, NAME_MAX};

/// The longest search text or tag filter (`q`, `tag`).
pub const SEARCH_MAX: usize = 200;
/// The longest conversation title.
pub const CONVERSATION_TITLE_MAX: usize = 200;

/// The earliest due date accepted (and allowed by the database's CHECK constraint).
pub const DUE_MIN: OffsetDateTime = datetime!(0001-01-01 0:00 UTC);
/// The latest due date accepted.
pub const DUE_MAX: OffsetDateTime = datetime!(9999-12-31 23:59:59.999999 UTC);

/// A task to create, already normalised (see [`NewTask::new`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTask {
    pub title: String,
    pub description: Option<String>,
    pub priority: Priority,
    pub due_at: Option<OffsetDateTime>,
    pub tags: Vec<String>,
}

impl NewTask {
    /// Validates and normalises raw input.
    pub fn new(
        title: &str,
        description: Option<&str>,
        priority: Option<Priority>,
        due_at: Option<OffsetDateTime>,
        tags: &[String],
    ) -> Result<NewTask, ValidationError> {
        Ok(NewTask {
            title: title_rule(title)?,
            description: description_rule(description)?,
            priority: priority.unwrap_or_default(),
            due_at: due_at.map(|d| due_range("due_at", d)).transpose()?,
            tags: tags_rule(tags)?,
        })
    }
}

/// A partial update. `None` keeps a field; for optional fields `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskPatch {
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub priority: Option<Priority>,
    pub due_at: Option<Option<OffsetDateTime>>,
    pub tags: Option<Vec<String>>,
    pub completed: Option<bool>,
}

impl TaskPatch {
    pub fn is_empty(&self) -> bool {
        self == &TaskPatch::default()
    }

    /// Validates and normalises every field that is present.
    pub fn normalised(self) -> Result<TaskPatch, ValidationError> {
        Ok(TaskPatch {
            title: self.title.as_deref().map(title_rule).transpose()?,
            description: match self.description {
                None => None,
                Some(d) => Some(description_rule(d.as_deref())?),
            },
            priority: self.priority,
            due_at: match self.due_at {
                Some(Some(d)) => Some(Some(due_range("due_at", d)?)),
                other => other,
            },
            tags: self.tags.as_deref().map(tags_rule).transpose()?,
            completed: self.completed,
        })
    }
}

/// The length limit counts the title as sent, surrounding spaces included: that is what the
/// schemas' `maxLength` counts (code points), so a validator and the server agree.
pub fn title_rule(title: &str) -> Result<String, ValidationError> {
    let len = title.chars().count();
    let title = title.trim();
    if title.is_empty() {
        return Err(ValidationError::new("title", "must not be empty"));
    }
    if len > TITLE_MAX {
        return Err(ValidationError::new(
            "title",
            format!("must be at most {TITLE_MAX} characters (got {len})"),
        ));
    }
    text_rule("title", title, false)?;
    visible_rule("title", title)?;
    Ok(title.to_owned())
}

/// Blank descriptions are stored as none. Tabs and line breaks are kept. The length limit
/// counts the text as sent (as the schemas' `maxLength` does).
pub fn description_rule(description: Option<&str>) -> Result<Option<String>, ValidationError> {
    let Some(raw) = description else {
        return Ok(None);
    };
    let len = raw.chars().count();
    let d = raw.trim();
    if len > DESCRIPTION_MAX {
        return Err(ValidationError::new(
            "description",
            format!("must be at most {DESCRIPTION_MAX} characters (got {len})"),
        ));
    }
    if d.is_empty() {
        return Ok(None);
    }
    text_rule("description", d, true)?;
    Ok(Some(d.to_owned()))
}

/// Tags are lower-cased, stripped of one leading `#`, de-duplicated (first wins). More than
/// [`TAGS_MAX`] given is refused before de-duplication: the count is what was sent. A tag is
/// checked as sent (the schemas' `TAG_PATTERN`): no spaces anywhere (callers that read free
/// text, such as the web form, split and trim first), at most [`TAG_MAX`] characters after
/// the `#`. Lower-casing keeps the length (see [`lowercase_tag`]), so a stored tag can always
/// be sent back as it is.
pub fn tags_rule(tags: &[String]) -> Result<Vec<String>, ValidationError> {
    if tags.len() > TAGS_MAX {
        return Err(ValidationError::new(
            "tags",
            format!("at most {TAGS_MAX} tags (got {})", tags.len()),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for raw in tags {
        let bare = raw.strip_prefix('#').unwrap_or(raw);
        let len = bare.chars().count();
        if len == 0 {
            return Err(ValidationError::new("tags", "tags must not be empty"));
        }
        if len > TAG_MAX {
            return Err(ValidationError::new(
                "tags",
                format!("each tag must be at most {TAG_MAX} characters ({raw:?} has {len})"),
            ));
        }
        if let Some((at, c)) = first_control(bare, false) {
            return Err(ValidationError::new(
                "tags",
                format!(
                    "tag {raw:?} must not contain control characters (found {} at character {})",
                    code_point(c),
                    at + 1
                ),
            ));
        }
        if bare.chars().any(|c| c.is_whitespace() || c == ',') {
            return Err(ValidationError::new(
                "tags",
                format!("tag {raw:?} must not contain spaces or commas"),
            ));
        }
        if bare.starts_with('#') {
            return Err(ValidationError::new(
                "tags",
                format!("tag {raw:?} may start with one # only"),
            ));
        }
        if !has_visible(bare) {
            return Err(ValidationError::new(
                "tags",
                format!(
                    "tag {raw:?} must contain a visible character (not only zero-width or formatting characters)"
                ),
            ));
        }
        let tag = lowercase_tag(bare);
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    Ok(out)
}

/// A tag filter as people type it (`#Work`, ` work `): trimmed, one leading `#` dropped,
/// lower-cased.
pub fn normalise_tag(raw: &str) -> String {
    let t = raw.trim();
    lowercase_tag(t.strip_prefix('#').unwrap_or(t))
}

/// Lower-cases character by character, keeping a character whose lower case is longer (only
/// `İ`, U+0130, whose lower case is `i` and a combining dot): a 32-character tag must stay 32
/// characters, or reading a task and sending its tags back would be refused.
pub fn lowercase_tag(tag: &str) -> String {
    tag.chars()
        .map(|c| {
            let mut lower = c.to_lowercase();
            match (lower.next(), lower.next()) {
                (Some(l), None) => l,
                _ => c,
            }
        })
        .collect()
}

/// [`parse_due_in`] for a user in UTC.
pub fn parse_due(field: &str, raw: &str) -> Result<OffsetDateTime, ValidationError> {
    parse_due_in(field, raw, &UserZone::utc())
}

/// Parses a due date in exactly the forms of `todo_wire::task::DUE_PATTERN` (what the schemas
/// publish), reading dates and wall-clock times in the user's `zone` (see [`todo_wire::zone`]
/// for the rules): a plain date (`2026-11-25`: the start of that day in the zone), a date and
/// `THH:MM` or `THH:MM:SS` (that wall-clock time in the zone), or RFC 3339
/// (`2026-11-25T17:00:00Z`, up to 9 fraction digits, `Z` or `+HH:MM`; the zone plays no part).
/// Nothing is trimmed, and no other form is guessed at (a space for `T`, a leap second `:60`,
/// 10 fraction digits), so a value a schema validator refuses is refused here too. The
/// instant must fall in year 1..=9999 (UTC); `field` names the field in every refusal.
pub fn parse_due_in(
    field: &str,
    raw: &str,
    zone: &UserZone,
) -> Result<OffsetDateTime, ValidationError> {
    text_rule(field, raw, false)?;
    if let Some(year) = signed_year(raw).filter(|y| !(1..=9999).contains(y)) {
        return Err(out_of_range(field, year));
    }
    let parsed = parse_due_unchecked(raw).ok_or_else(|| {
        ValidationError::new(
            field,
            format!(
                "{raw:?} is not an ISO 8601 date or date-time (e.g. 2026-11-25, 2026-11-25T17:00 or 2026-11-25T17:00:00Z)"
            ),
        )
    })?;
    let instant = match parsed {
        Due::Instant(t) => Some(t),
        Due::Date(d) => zone.start_of_day(d),
        Due::Local(t) => zone.resolve(t),
    };
    // Only a wall-clock time at the very ends of the calendar has no instant.
    due_range(
        field,
        instant.ok_or_else(|| out_of_range(field, raw.get(..4).unwrap_or(raw)))?,
    )
}

/// A time zone name for `field`: one of the bundled tz database's (ASCII case ignored),
/// answered in its canonical spelling.
pub fn zone_rule(field: &str, raw: &str) -> Result<UserZone, ValidationError> {
    UserZone::parse(raw).map_err(|e| ValidationError::new(field, e.to_string()))
}

/// A due date as written, before a zone gives it an instant.
enum Due {
    Date(Date),
    Local(PrimitiveDateTime),
    Instant(OffsetDateTime),
}

/// The year of an ISO 8601 expanded-year date (`-0001-06-01`, `+10000-01-01`): a form the
/// server never takes, but worth naming as the year being out of range.
fn signed_year(raw: &str) -> Option<i64> {
    let sign = match raw.as_bytes().first()? {
        b'-' => -1,
        b'+' => 1,
        _ => return None,
    };
    let (year, _) = raw.get(1..)?.split_once('-')?;
    if year.len() < 4 || year.len() > 9 || !year.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    year.parse::<i64>().ok().map(|y| sign * y)
}

fn out_of_range(field: &str, year: impl std::fmt::Display) -> ValidationError {
    ValidationError::new(
        field,
        format!("year {year} is out of range: a due date must be in year 1 to 9999"),
    )
}

fn parse_due_unchecked(raw: &str) -> Option<Due> {
    /// `n` ASCII digits at the start of `s`, as a number, and the rest.
    fn digits(s: &[u8], n: usize) -> Option<(u32, &[u8])> {
        let (head, rest) = (s.get(..n)?, s.get(n..)?);
        head.iter().all(u8::is_ascii_digit).then(|| {
            let v = head.iter().fold(0u32, |v, d| v * 10 + u32::from(d - b'0'));
            (v, rest)
        })
    }
    fn byte(s: &[u8], b: u8) -> Option<&[u8]> {
        s.strip_prefix(&[b])
    }
    /// `HH:MM`, hour 0..=23 and minute 0..=59.
    fn hh_mm(s: &[u8]) -> Option<(u8, u8, &[u8])> {
        let (h, s) = digits(s, 2)?;
        let (m, s) = digits(byte(s, b':')?, 2)?;
        (h <= 23 && m <= 59).then_some((h as u8, m as u8, s))
    }
    let s = raw.as_bytes();
    let (year, s) = digits(s, 4)?;
    let (month, s) = digits(byte(s, b'-')?, 2)?;
    let (day, s) = digits(byte(s, b'-')?, 2)?;
    let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date =
        Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?).ok()?;
    let Some((&sep, s)) = s.split_first() else {
        return Some(Due::Date(date));
    };
    if sep != b'T' && sep != b't' {
        return None;
    }
    let (hour, minute, s) = hh_mm(s)?;
    let (second, s) = match byte(s, b':') {
        Some(rest) => digits(rest, 2).map(|(sec, rest)| (Some(sec), rest))?,
        None => (None, s),
    };
    if second.is_some_and(|sec| sec > 59) {
        return None;
    }
    let (nanos, s) = match byte(s, b'.') {
        Some(rest) => {
            let n = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            if !(1..=9).contains(&n) {
                return None;
            }
            let (f, rest) = digits(rest, n)?;
            (Some(f * 10u32.pow(9 - n as u32)), rest)
        }
        None => (None, s),
    };
    let clock =
        Time::from_hms_nano(hour, minute, second.unwrap_or(0) as u8, nanos.unwrap_or(0)).ok()?;
    let offset = match s.split_first() {
        // `THH:MM` or `THH:MM:SS` with no fraction and no offset: a wall-clock time.
        None if sep == b'T' && nanos.is_none() => {
            return Some(Due::Local(PrimitiveDateTime::new(date, clock)));
        }
        None => return None,
        // RFC 3339: seconds, then the offset.
        Some(_) if second.is_none() => return None,
        Some((b'Z' | b'z', [])) => time::UtcOffset::UTC,
        Some((&sign @ (b'+' | b'-'), rest)) => {
            let (h, m, []) = hh_mm(rest)? else {
                return None;
            };
            let (h, m) = (h as i8, m as i8);
            let (h, m) = if sign == b'-' { (-h, -m) } else { (h, m) };
            time::UtcOffset::from_hms(h, m, 0).ok()?
        }
        Some(_) => return None,
    };
    Some(Due::Instant(
        PrimitiveDateTime::new(date, clock).assume_offset(offset),
    ))
}

/// A due date must fall in year 1..=9999 (in UTC, as stored): other years cannot be written
/// as RFC 3339 and break clients that read them.
pub fn due_range(field: &str, due: OffsetDateTime) -> Result<OffsetDateTime, ValidationError> {
    if (DUE_MIN..=DUE_MAX).contains(&due) {
        return Ok(due);
    }
    let year = if due < DUE_MIN {
        due.year().min(0)
    } else {
        due.year().max(10000)
    };
    Err(out_of_range(field, year))
}

/// Refuses control characters in a text field: C0 (U+0000..U+001F), DEL and C1
/// (U+0080..U+009F). With `multiline`, tab, line feed and carriage return are allowed.
/// For any text the store keeps or searches with (todo-api: user email and name).
pub fn text_rule(field: &str, raw: &str, multiline: bool) -> Result<(), ValidationError> {
    match first_control(raw, multiline) {
        None => Ok(()),
        Some((at, c)) => Err(ValidationError::new(
            field,
            format!(
                "must not contain control characters (found {} at character {})",
                code_point(c),
                at + 1
            ),
        )),
    }
}

/// Refuses a value that shows nothing: only whitespace, zero-width characters, bidi controls
/// or other format (Cf) characters.
pub fn visible_rule(field: &str, raw: &str) -> Result<(), ValidationError> {
    if has_visible(raw) {
        Ok(())
    } else {
        Err(ValidationError::new(
            field,
            "must contain a visible character (not only spaces, zero-width or formatting characters)",
        ))
    }
}

/// A one-line name shown to people (a user's name, a conversation title): trimmed, not empty,
/// at most `max` characters, no control characters, something visible.
pub fn name_rule(field: &str, raw: &str, max: usize) -> Result<String, ValidationError> {
    let name = raw.trim();
    let len = name.chars().count();
    if len == 0 {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if len > max {
        return Err(ValidationError::new(
            field,
            format!("must be at most {max} characters (got {len})"),
        ));
    }
    text_rule(field, name, false)?;
    visible_rule(field, name)?;
    Ok(name.to_owned())
}

/// A search text or tag filter (`q`, `query`, `tag`): trimmed, at most [`SEARCH_MAX`]
/// characters, no control characters. `None` when blank (no filter).
pub fn search_rule(field: &str, raw: &str) -> Result<Option<String>, ValidationError> {
    let s = raw.trim();
    text_rule(field, s, false)?;
    let len = s.chars().count();
    if len > SEARCH_MAX {
        return Err(ValidationError::new(
            field,
            format!("must be at most {SEARCH_MAX} characters (got {len})"),
        ));
    }
    Ok((!s.is_empty()).then(|| s.to_owned()))
}

/// A chat message: trimmed, not empty, at most [`MESSAGE_MAX`] characters, no control
/// characters other than tab and line breaks.
pub fn message_rule(field: &str, raw: &str) -> Result<String, ValidationError> {
    let m = raw.trim();
    if m.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    let len = m.chars().count();
    if len > MESSAGE_MAX {
        return Err(ValidationError::new(
            field,
            format!("must be at most {MESSAGE_MAX} characters (got {len})"),
        ));
    }
    text_rule(field, m, true)?;
    Ok(m.to_owned())
}

/// The first control character (its index in characters), if any.
fn first_control(s: &str, multiline: bool) -> Option<(usize, char)> {
    s.chars()
        .enumerate()
        .find(|(_, c)| is_forbidden_control(*c, multiline))
}

/// C0, DEL, C1; tab, LF and CR only in multi-line text.
pub fn is_forbidden_control(c: char, multiline: bool) -> bool {
    let allowed = multiline && matches!(c, '\t' | '\n' | '\r');
    !allowed && (c <= '\u{1f}' || ('\u{7f}'..='\u{9f}').contains(&c))
}

fn code_point(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

/// True when the text has at least one character that shows: not whitespace, not a control,
/// not a format (Cf) or other default-ignorable character.
pub fn has_visible(s: &str) -> bool {
    s.chars()
        .any(|c| !c.is_whitespace() && !c.is_control() && !is_invisible(c))
}

/// Format characters (Unicode general category Cf) and the other characters that render as
/// nothing (default-ignorable fillers and variation selectors, the braille blank).
pub fn is_invisible(c: char) -> bool {
    matches!(u32::from(c),
        0x00AD
        | 0x034F
        | 0x0600..=0x0605
        | 0x061C
        | 0x06DD
        | 0x070F
        | 0x0890..=0x0891
        | 0x08E2
        | 0x115F..=0x1160
        | 0x17B4..=0x17B5
        | 0x180B..=0x180F
        | 0x200B..=0x200F
        | 0x202A..=0x202E
        | 0x2060..=0x206F
        | 0x2800
        | 0x3164
        | 0xFE00..=0xFE0F
        | 0xFEFF
        | 0xFFA0
        | 0xFFF9..=0xFFFB
        | 0x110BD
        | 0x110CD
        | 0x13430..=0x1343F
        | 0x1BCA0..=0x1BCA3
        | 0x1D173..=0x1D17A
        | 0xE0001
        | 0xE0020..=0xE007F
        | 0xE0100..=0xE01EF
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use time::macros::datetime;

    #[test]
    fn titles_are_trimmed_and_bounded() {
        assert_eq!(title_rule("  buy milk ").unwrap(), "buy milk");
        assert_eq!(title_rule("   ").unwrap_err().field, "title");
        assert!(
            title_rule(&"é".repeat(200)).is_ok(),
            "200 characters, not bytes"
        );
        assert!(
            title_rule(&"x".repeat(201))
                .unwrap_err()
                .message
                .contains("at most 200")
        );
    }

    #[test]
    fn descriptions_blank_to_none_and_bounded() {
        assert_eq!(description_rule(Some("  ")).unwrap(), None);
        assert_eq!(description_rule(Some(" a ")).unwrap().as_deref(), Some("a"));
        assert_eq!(
            description_rule(Some(&"x".repeat(1001))).unwrap_err().field,
            "description"
        );
    }

    #[test]
    fn tags_are_normalised_deduplicated_and_bounded() {
        let tags = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            tags_rule(&tags(&["#Work", "work", "home"])).unwrap(),
            vec!["work", "home"]
        );
        assert_eq!(tags_rule(&tags(&[""])).unwrap_err().field, "tags");
        assert!(tags_rule(&tags(&[&"x".repeat(33)])).is_err());
        assert!(tags_rule(&tags(&["a b"])).is_err());
        let eleven: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
        assert!(
            tags_rule(&eleven)
                .unwrap_err()
                .message
                .contains("at most 10")
        );
        let ten: Vec<String> = (0..10).map(|i| format!("t{i}")).collect();
        assert_eq!(tags_rule(&ten).unwrap().len(), 10);
    }

    #[test]
    fn due_dates_accept_iso_forms() {
        assert_eq!(
            parse_due("due", "2026-11-25").unwrap(),
            datetime!(2026-11-25 0:00 UTC)
        );
        assert_eq!(
            parse_due("due", "2026-11-25T17:30:00Z").unwrap(),
            datetime!(2026-11-25 17:30 UTC)
        );
        assert_eq!(
            parse_due("due", "2026-11-25T17:30:00+02:00").unwrap(),
            datetime!(2026-11-25 15:30 UTC)
        );
        assert_eq!(
            parse_due("due", "2026-11-25T17:30").unwrap(),
            datetime!(2026-11-25 17:30 UTC)
        );
        let err = parse_due("due_at", "next tuesday").unwrap_err();
        assert_eq!(err.field, "due_at");
        assert!(parse_due("due", "2026-13-01").is_err());
    }

    #[test]
    fn patches_validate_present_fields_only() {
        let p = TaskPatch {
            title: Some(" x ".into()),
            description: Some(None),
            ..Default::default()
        };
        let n = p.normalised().unwrap();
        assert_eq!(n.title.as_deref(), Some("x"));
        assert_eq!(n.description, Some(None));
        assert!(TaskPatch::default().is_empty());
        let bad = TaskPatch {
            tags: Some(vec!["".into()]),
            ..Default::default()
        };
        assert_eq!(bad.normalised().unwrap_err().field, "tags");
    }

    #[test]
    fn due_dates_outside_years_1_to_9999_are_refused_naming_the_field() {
        for bad in [
            "-0001-01-01",
            "-0001-06-01",
            "0000-12-31",
            "0000-06-01T00:00:00Z",
            "0001-01-01T00:30:00+01:00",
        ] {
            let err = parse_due("due", bad).unwrap_err();
            assert_eq!(err.field, "due", "{bad}");
            assert!(err.message.contains("year 1 to 9999"), "{bad}: {err}");
        }
        assert_eq!(
            parse_due("due_at", "0001-01-01").unwrap(),
            datetime!(0001-01-01 0:00 UTC)
        );
        assert_eq!(
            parse_due("due_at", "9999-12-31T23:59:59Z").unwrap(),
            datetime!(9999-12-31 23:59:59 UTC)
        );
        let late = parse_due("due_before", "9999-12-31T23:00:00-02:00").unwrap_err();
        assert_eq!(late.field, "due_before");
        assert!(late.message.contains("year 10000"), "{late}");
        assert_eq!(parse_due("due", "2026-01-01\0").unwrap_err().field, "due");
        // Values built in code are held to the same range.
        let err =
            NewTask::new("x", None, None, Some(datetime!(-0001-06-01 0:00 UTC)), &[]).unwrap_err();
        assert_eq!(err.field, "due_at");
        let patch = TaskPatch {
            due_at: Some(Some(datetime!(0000-06-01 0:00 UTC))),
            ..Default::default()
        };
        assert_eq!(patch.normalised().unwrap_err().field, "due_at");
    }

    #[test]
    fn control_characters_are_refused_in_every_text_field() {
        for bad in [
            "a\0b",
            "a\u{1}",
            "tab\there",
            "line\nbreak",
            "del\u{7f}",
            "c1\u{85}x",
            "c1\u{9f}",
        ] {
            let err = title_rule(bad).unwrap_err();
            assert_eq!(err.field, "title", "{bad:?}");
            assert!(err.message.contains("control characters"), "{err}");
            assert_eq!(tags_rule(&[bad.to_owned()]).unwrap_err().field, "tags");
            assert_eq!(search_rule("q", bad).unwrap_err().field, "q");
            assert_eq!(name_rule("name", bad, 100).unwrap_err().field, "name");
            assert_eq!(text_rule("email", bad, false).unwrap_err().field, "email");
        }
        let err = title_rule("milk\0").unwrap_err();
        assert!(err.message.contains("U+0000 at character 5"), "{err}");
        // Descriptions and messages may hold tabs and line breaks, nothing else.
        assert_eq!(
            description_rule(Some("one\n\ttwo\r\nthree"))
                .unwrap()
                .as_deref(),
            Some("one\n\ttwo\r\nthree")
        );
        for bad in [
            "a\0b",
            "bell\u{7}",
            "esc\u{1b}[0m",
            "del\u{7f}",
            "nel\u{85}x",
        ] {
            assert_eq!(
                description_rule(Some(bad)).unwrap_err().field,
                "description"
            );
            assert_eq!(message_rule("message", bad).unwrap_err().field, "message");
        }
        assert_eq!(message_rule("message", " hi\nthere ").unwrap(), "hi\nthere");
        assert_eq!(message_rule("message", "  ").unwrap_err().field, "message");
        assert!(message_rule("message", &"x".repeat(2001)).is_err());
        assert!(text_rule("email", "ann@example.com", false).is_ok());
        assert!(text_rule("x", "ünïcødé ✓ 日本", false).is_ok());
    }

    #[test]
    fn titles_tags_and_names_must_show_something() {
        for invisible in [
            "\u{200B}",
            "\u{200B}\u{200C}\u{200D}",
            "\u{2060}\u{FEFF}",
            " \u{200E}\u{200F} ",
            "\u{202A}\u{202B}\u{202C}\u{202D}\u{202E}",
            "\u{2066}\u{2067}\u{2068}\u{2069}",
            "\u{00AD}\u{061C}\u{180E}",
            "\u{3000}\u{2003}",
            "\u{E0041}\u{E007F}",
        ] {
            let err = title_rule(invisible).unwrap_err();
            assert_eq!(err.field, "title", "{invisible:?}");
            assert_eq!(name_rule("name", invisible, 100).unwrap_err().field, "name");
        }
        assert!(
            title_rule("\u{200B}")
                .unwrap_err()
                .message
                .contains("visible character")
        );
        for invisible in ["\u{200B}", "#\u{FEFF}", "\u{2066}\u{2069}"] {
            let err = tags_rule(&[invisible.to_owned()]).unwrap_err();
            assert_eq!(err.field, "tags", "{invisible:?}");
        }
        // Visible text with format characters inside is fine (e.g. emoji sequences, RTL text).
        assert!(title_rule("👩\u{200D}💻 ship it").is_ok());
        assert!(title_rule("\u{202B}שלום\u{202C}").is_ok());
        assert!(tags_rule(&["café".into()]).is_ok());
    }

    #[test]
    fn more_than_ten_tags_are_refused_before_deduplication() {
        let eleven_same: Vec<String> = vec!["a".to_owned(); 11];
        let err = tags_rule(&eleven_same).unwrap_err();
        assert_eq!(err.field, "tags");
        assert!(err.message.contains("at most 10 tags (got 11)"), "{err}");
        let ten_same: Vec<String> = vec!["a".to_owned(); 10];
        assert_eq!(tags_rule(&ten_same).unwrap(), vec!["a"]);
    }

    #[test]
    fn search_texts_are_trimmed_bounded_and_blank_is_none() {
        assert_eq!(
            search_rule("q", "  milk ").unwrap().as_deref(),
            Some("milk")
        );
        assert_eq!(search_rule("q", "   ").unwrap(), None);
        let err = search_rule("query", &"x".repeat(201)).unwrap_err();
        assert_eq!(err.field, "query");
        assert!(search_rule("q", "100% _literal_").is_ok());
    }

    /// Each form `DUE_PATTERN` allows parses, and the ones it refuses are refused: the schemas
    /// and the server read due dates alike.
    #[test]
    fn due_dates_parse_exactly_the_published_forms() {
        for (ok, want) in [
            ("2024-02-29", datetime!(2024-02-29 0:00 UTC)),
            ("2000-02-29", datetime!(2000-02-29 0:00 UTC)),
            ("2026-11-25T17:30", datetime!(2026-11-25 17:30 UTC)),
            ("2026-11-25T17:30:05", datetime!(2026-11-25 17:30:05 UTC)),
            ("2026-11-25t17:30:05z", datetime!(2026-11-25 17:30:05 UTC)),
            (
                "2026-11-25T17:30:05.123456789Z",
                datetime!(2026-11-25 17:30:05.123456789 UTC),
            ),
            (
                "2026-11-25T17:30:05.5-00:00",
                datetime!(2026-11-25 17:30:05.5 UTC),
            ),
            (
                "2026-11-25T17:30:05+23:59",
                datetime!(2026-11-25 17:30:05 +23:59),
            ),
            (
                "2026-11-25T00:00:00-02:30",
                datetime!(2026-11-25 00:00:00 -02:30),
            ),
        ] {
            assert_eq!(parse_due("due", ok).ok(), Some(want), "{ok}");
        }
        for bad in [
            " 2026-11-25",
            "2026-11-25 ",
            "2026-11-25 17:30:00Z",
            "2026-11-25t17:30",
            "2026-11-25T17:30Z",
            "2026-11-25T17:30:05.5",
            "2026-11-25T17:30:05.1234567890Z",
            "2026-11-25T17:30:05.Z",
            "2026-11-25T17:30:60Z",
            "2026-06-30T23:59:60Z",
            "2026-11-25T24:00:00Z",
            "2026-11-25T17:30:05+24:00",
            "2026-11-25T17:30:05+0100",
            "2026-11-25T17:30:05+01",
            "2026-11-25T17:30:05+01:00x",
            "2026-11-25T17:30:05ZZ",
            "2026-02-29",
            "1900-02-29",
            "2026-04-31",
            "2026-1-01",
            "+2026-01-01",
            "20261125",
            "2026-W48-3",
            "\u{0662}026-11-25",
            "",
        ] {
            let err = parse_due("due", bad).unwrap_err();
            assert_eq!(err.field, "due", "{bad:?}");
        }
    }

    /// What the schemas' `maxLength` and `TAG_PATTERN` allow is what the server takes.
    #[test]
    fn lengths_count_what_was_sent_and_tags_match_the_pattern() {
        let padded = format!(" {} ", "x".repeat(199));
        assert!(title_rule(&padded).unwrap_err().message.contains("got 201"));
        assert!(title_rule(&format!(" {}", "x".repeat(199))).is_ok());
        assert!(description_rule(Some(&format!(" {}", "x".repeat(1000)))).is_err());
        assert_eq!(description_rule(Some(&" ".repeat(1000))).unwrap(), None);
        let tags = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        for bad in [
            "##a",
            " a",
            "a ",
            "a\u{a0}",
            "\u{3000}a",
            "#",
            "a,b",
            "x\u{2028}",
        ] {
            assert_eq!(
                tags_rule(&tags(&[bad])).unwrap_err().field,
                "tags",
                "{bad:?}"
            );
        }
        assert_eq!(tags_rule(&tags(&["a#b", "#A"])).unwrap(), vec!["a#b", "a"]);
        // Lower-casing keeps 32 characters 32 (İ would become two), so the stored tag can be
        // sent back as it is.
        let dotted = format!("A{}", "\u{130}".repeat(31));
        let stored = tags_rule(&tags(&[&dotted])).unwrap();
        assert_eq!(stored[0], format!("a{}", "\u{130}".repeat(31)));
        assert_eq!(tags_rule(&stored).unwrap(), stored);
        assert_eq!(normalise_tag(&dotted), stored[0]);
        assert_eq!(lowercase_tag("ΣΑΣ"), "σασ");
        assert!(tags_rule(&tags(&[&format!("#{}", "x".repeat(32))])).is_ok());
        assert!(tags_rule(&tags(&[&"x".repeat(33)])).is_err());
        assert_eq!(normalise_tag(" #Work "), "work");
        assert_eq!(normalise_tag("##a"), "#a");
    }
}
