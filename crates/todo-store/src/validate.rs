//! The rules for task input, shared by REST, MCP and chat so all three accept and refuse the
//! same things with the same messages.

use crate::error::ValidationError;
use crate::model::Priority;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time};

pub use todo_wire::task::{DESCRIPTION_MAX, TAG_MAX, TAGS_MAX, TITLE_MAX};

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
            due_at,
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
            due_at: self.due_at,
            tags: self.tags.as_deref().map(tags_rule).transpose()?,
            completed: self.completed,
        })
    }
}

pub fn title_rule(title: &str) -> Result<String, ValidationError> {
    let title = title.trim();
    let len = title.chars().count();
    if len == 0 {
        return Err(ValidationError::new("title", "must not be empty"));
    }
    if len > TITLE_MAX {
        return Err(ValidationError::new(
            "title",
            format!("must be at most {TITLE_MAX} characters (got {len})"),
        ));
    }
    Ok(title.to_owned())
}

/// Blank descriptions are stored as none.
pub fn description_rule(description: Option<&str>) -> Result<Option<String>, ValidationError> {
    let Some(d) = description.map(str::trim).filter(|d| !d.is_empty()) else {
        return Ok(None);
    };
    let len = d.chars().count();
    if len > DESCRIPTION_MAX {
        return Err(ValidationError::new(
            "description",
            format!("must be at most {DESCRIPTION_MAX} characters (got {len})"),
        ));
    }
    Ok(Some(d.to_owned()))
}

/// Tags are trimmed, lower-cased, stripped of a leading `#`, de-duplicated (first wins).
pub fn tags_rule(tags: &[String]) -> Result<Vec<String>, ValidationError> {
    let mut out: Vec<String> = Vec::new();
    for raw in tags {
        let tag = normalise_tag(raw);
        let len = tag.chars().count();
        if len == 0 {
            return Err(ValidationError::new("tags", "tags must not be empty"));
        }
        if len > TAG_MAX {
            return Err(ValidationError::new(
                "tags",
                format!("each tag must be at most {TAG_MAX} characters ({tag:?} has {len})"),
            ));
        }
        if tag
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == ',')
        {
            return Err(ValidationError::new(
                "tags",
                format!("tag {tag:?} must not contain spaces or commas"),
            ));
        }
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    if out.len() > TAGS_MAX {
        return Err(ValidationError::new(
            "tags",
            format!("at most {TAGS_MAX} tags (got {})", out.len()),
        ));
    }
    Ok(out)
}

pub fn normalise_tag(raw: &str) -> String {
    raw.trim().trim_start_matches('#').to_lowercase()
}

/// Parses a due date: an RFC 3339 date-time (`2026-11-25T17:00:00Z`), a date-time without an
/// offset (taken as UTC), or a plain date (`2026-11-25`, the start of that day in UTC).
pub fn parse_due(field: &str, raw: &str) -> Result<OffsetDateTime, ValidationError> {
    let raw = raw.trim();
    if let Ok(t) = OffsetDateTime::parse(raw, &Rfc3339) {
        return Ok(t);
    }
    let naive = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    if let Ok(t) = PrimitiveDateTime::parse(raw, naive) {
        return Ok(t.assume_utc());
    }
    let naive_minutes = format_description!("[year]-[month]-[day]T[hour]:[minute]");
    if let Ok(t) = PrimitiveDateTime::parse(raw, naive_minutes) {
        return Ok(t.assume_utc());
    }
    if let Ok(d) = Date::parse(raw, format_description!("[year]-[month]-[day]")) {
        return Ok(PrimitiveDateTime::new(d, Time::MIDNIGHT).assume_utc());
    }
    Err(ValidationError::new(
        field,
        format!(
            "{raw:?} is not an ISO 8601 date or date-time (e.g. 2026-11-25 or 2026-11-25T17:00:00Z)"
        ),
    ))
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
            tags_rule(&tags(&["#Work", "work", " home "])).unwrap(),
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
}
