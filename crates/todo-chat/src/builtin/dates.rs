//! Relative dates in English: today, tomorrow, weekdays, "next week", "in 3 days", ISO dates,
//! "dec 5". Everything is relative to a given `today`, so tests are deterministic.

use time::{Date, Duration, Month, Weekday};

const WEEKDAYS: [(&str, Weekday); 14] = [
    ("monday", Weekday::Monday),
    ("tuesday", Weekday::Tuesday),
    ("wednesday", Weekday::Wednesday),
    ("thursday", Weekday::Thursday),
    ("friday", Weekday::Friday),
    ("saturday", Weekday::Saturday),
    ("sunday", Weekday::Sunday),
    ("mon", Weekday::Monday),
    ("tue", Weekday::Tuesday),
    ("wed", Weekday::Wednesday),
    ("thu", Weekday::Thursday),
    ("fri", Weekday::Friday),
    ("sat", Weekday::Saturday),
    ("sun", Weekday::Sunday),
];

const MONTHS: [(&str, Month); 12] = [
    ("jan", Month::January),
    ("feb", Month::February),
    ("mar", Month::March),
    ("apr", Month::April),
    ("may", Month::May),
    ("jun", Month::June),
    ("jul", Month::July),
    ("aug", Month::August),
    ("sep", Month::September),
    ("oct", Month::October),
    ("nov", Month::November),
    ("dec", Month::December),
];

/// The next `weekday` strictly after `today` ("friday" said on a Friday means next week's).
pub fn next_weekday(today: Date, weekday: Weekday) -> Date {
    let mut d = today + Duration::days(1);
    while d.weekday() != weekday {
        d += Duration::days(1);
    }
    d
}

fn weekday(word: &str) -> Option<Weekday> {
    let word = word.trim_end_matches('s'); // "fridays" is not a date, but "thurs" is common
    WEEKDAYS
        .iter()
        .find(|(name, _)| {
            *name == word || (word.len() >= 3 && name.starts_with(word) && word.len() <= name.len())
        })
        .map(|(_, d)| *d)
}

fn month(word: &str) -> Option<Month> {
    if word.len() < 3 {
        return None;
    }
    MONTHS
        .iter()
        .find(|(prefix, _)| word.starts_with(prefix))
        .map(|(_, m)| *m)
}

fn day_number(word: &str) -> Option<u8> {
    let digits = word.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    digits.parse::<u8>().ok().filter(|d| (1..=31).contains(d))
}

/// Tries to read a date at the start of `words` (lower case). Returns the date and how many
/// words it used. Leading connectors ("due", "by", "on", "for", "this") are consumed too.
pub fn parse_date(words: &[&str], today: Date) -> Option<(Date, usize)> {
    let mut skip = 0;
    while skip < words.len()
        && matches!(
            words[skip],
            "due" | "by" | "on" | "for" | "this" | "until" | "before"
        )
    {
        skip += 1;
    }
    let rest = &words[skip..];
    let (date, used) = parse_bare(rest, today)?;
    Some((date, skip + used))
}

fn parse_bare(words: &[&str], today: Date) -> Option<(Date, usize)> {
    let first = *words.first()?;
    match first {
        "today" | "tonight" => return Some((today, 1)),
        "tomorrow" | "tmrw" | "tmr" => return Some((today + Duration::days(1), 1)),
        "next" => {
            let second = *words.get(1)?;
            if second == "week" {
                return Some((next_weekday(today, Weekday::Monday), 2));
            }
            if second == "month" {
                let d = today + Duration::days(30);
                return Some((d, 2));
            }
            return weekday(second).map(|w| (next_weekday(today, w), 2));
        }
        "in" => {
            let n: i64 = match *words.get(1)? {
                "a" | "one" => 1,
                "two" => 2,
                "three" => 3,
                n => n.parse().ok()?,
            };
            let unit = *words.get(2)?;
            let days = match unit.trim_end_matches('s') {
                "day" => n,
                "week" => n * 7,
                _ => return None,
            };
            return (0..=3650)
                .contains(&days)
                .then(|| (today + Duration::days(days), 3));
        }
        _ => {}
    }
    if let Some(w) = weekday(first) {
        return Some((next_weekday(today, w), 1));
    }
    if let Ok(d) = Date::parse(
        first,
        time::macros::format_description!("[year]-[month]-[day]"),
    ) {
        return Some((d, 1));
    }
    // "dec 5", "december 5th", "5 dec"
    if let (Some(m), Some(day)) = (month(first), words.get(1).and_then(|w| day_number(w))) {
        return on_or_after(today, m, day).map(|d| (d, 2));
    }
    if let (Some(day), Some(m)) = (day_number(first), words.get(1).and_then(|w| month(w))) {
        return on_or_after(today, m, day).map(|d| (d, 2));
    }
    None
}

/// That month and day this year, or next year if it has passed.
fn on_or_after(today: Date, month: Month, day: u8) -> Option<Date> {
    let this_year = Date::from_calendar_date(today.year(), month, day).ok()?;
    if this_year >= today {
        Some(this_year)
    } else {
        Date::from_calendar_date(today.year() + 1, month, day).ok()
    }
}

/// "today", "tomorrow", "Fri 27 Nov" for replies.
pub fn describe(date: Date, today: Date) -> String {
    if date == today {
        return "today".into();
    }
    if date == today + Duration::days(1) {
        return "tomorrow".into();
    }
    let weekday = &format!("{:?}", date.weekday())[..3];
    let month = &format!("{:?}", date.month())[..3];
    let mut s = format!("{weekday} {} {month}", date.day());
    if date.year() != today.year() {
        s.push_str(&format!(" {}", date.year()));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    // 2026-11-24 is a Tuesday.
    const TODAY: Date = date!(2026 - 11 - 24);

    fn p(s: &str) -> Option<(Date, usize)> {
        let words: Vec<&str> = s.split_whitespace().collect();
        parse_date(&words, TODAY)
    }

    #[test]
    fn reads_relative_and_absolute_dates() {
        assert_eq!(p("today"), Some((TODAY, 1)));
        assert_eq!(p("tomorrow"), Some((date!(2026 - 11 - 25), 1)));
        assert_eq!(p("friday"), Some((date!(2026 - 11 - 27), 1)));
        assert_eq!(p("on fri"), Some((date!(2026 - 11 - 27), 2)));
        assert_eq!(
            p("tuesday"),
            Some((date!(2026 - 12 - 01), 1)),
            "same weekday means next week's"
        );
        assert_eq!(p("next friday"), Some((date!(2026 - 11 - 27), 2)));
        assert_eq!(p("by next week"), Some((date!(2026 - 11 - 30), 3)));
        assert_eq!(p("in 3 days"), Some((date!(2026 - 11 - 27), 3)));
        assert_eq!(p("in two weeks"), Some((date!(2026 - 12 - 08), 3)));
        assert_eq!(p("due 2026-12-24"), Some((date!(2026 - 12 - 24), 2)));
        assert_eq!(p("dec 5th"), Some((date!(2026 - 12 - 05), 2)));
        assert_eq!(p("5 jan"), Some((date!(2027 - 01 - 05), 2)));
        assert_eq!(p("milk"), None);
        assert_eq!(p("in a while"), None);
        assert_eq!(p("march"), None);
    }

    #[test]
    fn describes_dates_for_people() {
        assert_eq!(describe(TODAY, TODAY), "today");
        assert_eq!(describe(date!(2026 - 11 - 25), TODAY), "tomorrow");
        assert_eq!(describe(date!(2026 - 11 - 27), TODAY), "Fri 27 Nov");
        assert_eq!(describe(date!(2027 - 01 - 05), TODAY), "Tue 5 Jan 2027");
    }
}
