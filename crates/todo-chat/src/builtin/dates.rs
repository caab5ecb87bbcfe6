//! Relative dates and times in English: today, tomorrow, weekdays, "next week", "next month",
//! "in 3 days", "on the 15th", ISO dates, "dec 5", and times ("at 5pm", "17:30", "noon").
//! Everything is relative to the user's local "now" (see [`crate::clock::UserClock`]), so
//! tests are deterministic.

use crate::clock::add_months;
use serde::{Deserialize, Serialize};
use time::{Date, Duration, Month, PrimitiveDateTime, Time, Weekday};

/// A due date as the user said it: a local day, and a local time if one was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Due {
    pub date: Date,
    pub time: Option<Time>,
}

impl Due {
    pub fn day(date: Date) -> Due {
        Due { date, time: None }
    }
}

/// "5pm", "5:30pm", "17:00", "noon", "midnight", "5 pm" at the start of `words`.
fn parse_time(words: &[&str]) -> Option<(Time, usize)> {
    let first = *words.first()?;
    match first {
        "noon" | "midday" => return Time::from_hms(12, 0, 0).ok().map(|t| (t, 1)),
        "midnight" => return Some((Time::MIDNIGHT, 1)),
        _ => {}
    }
    let (body, suffix, used) = if let Some(b) = first.strip_suffix("am") {
        (b, Some(false), 1)
    } else if let Some(b) = first.strip_suffix("pm") {
        (b, Some(true), 1)
    } else if let Some(next) = words
        .get(1)
        .copied()
        .filter(|w| matches!(*w, "am" | "pm" | "a.m" | "p.m" | "a.m." | "p.m."))
    {
        (first, Some(next.starts_with('p')), 2)
    } else {
        (first, None, 1)
    };
    let (h, m) = match body
        .split_once(':')
        .or_else(|| body.split_once('.').filter(|_| suffix.is_some()))
    {
        Some((h, m)) if m.len() == 2 => (h.parse::<u8>().ok()?, m.parse::<u8>().ok()?),
        None if suffix.is_some() && !body.is_empty() && body.len() <= 2 => {
            (body.parse::<u8>().ok()?, 0)
        }
        _ => return None,
    };
    let hour = match suffix {
        Some(pm) => {
            if !(1..=12).contains(&h) {
                return None;
            }
            (h % 12) + if pm { 12 } else { 0 }
        }
        None => h,
    };
    Time::from_hms(hour, m, 0).ok().map(|t| (t, used))
}

/// Reads a due date and/or time at the start of `words` (lower case): "tomorrow",
/// "at 5pm tomorrow", "friday at noon", "on the 15th", "5pm". A time with no day is today
/// if it is still ahead, else tomorrow. Returns the due and how many words it used.
pub fn parse_due(words: &[&str], now: PrimitiveDateTime) -> Option<(Due, usize)> {
    let today = now.date();
    // A time first: "at 5pm", "at 5pm tomorrow", "by 17:00"
    let mut skip = 0;
    while skip < words.len() && matches!(words[skip], "at" | "by" | "@" | "around" | "due") {
        skip += 1;
    }
    if let Some((t, n)) = parse_time(&words[skip..]) {
        let after = skip + n;
        if let Some((d, m)) = parse_date(&words[after..], today) {
            return Some((
                Due {
                    date: d,
                    time: Some(t),
                },
                after + m,
            ));
        }
        let date = if t > now.time() {
            today
        } else {
            today + Duration::days(1)
        };
        return Some((
            Due {
                date,
                time: Some(t),
            },
            after,
        ));
    }
    let (date, used) = parse_date(words, today)?;
    let mut skip = used;
    while skip < words.len() && matches!(words[skip], "at" | "by" | "@" | "around") {
        skip += 1;
    }
    // A time needs "am"/"pm" or a colon, so "friday 3" leaves the 3 alone.
    if let Some((t, n)) = parse_time(&words[skip..]) {
        return Some((
            Due {
                date,
                time: Some(t),
            },
            skip + n,
        ));
    }
    Some((Due::day(date), used))
}

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
        "today" | "tonight" | "tod" => return Some((today, 1)),
        "day" if words.get(1) == Some(&"after") && words.get(2) == Some(&"tomorrow") => {
            return Some((today + Duration::days(2), 3));
        }
        "weekend" => return Some((next_or_today(today, Weekday::Saturday), 1)),
        "the" => {
            // "the 15th": that day of this month, or next month's if it has passed.
            let day = words.get(1).and_then(|w| ordinal_day(w))?;
            return day_of_month(today, day).map(|d| (d, 2));
        }
        "tomorrow" | "tmrw" | "tmr" => return Some((today + Duration::days(1), 1)),
        "next" => {
            let second = *words.get(1)?;
            if second == "week" {
                return Some((next_weekday(today, Weekday::Monday), 2));
            }
            if second == "month" {
                // The first of next month: "next month" names the month, not a day in it.
                let d = add_months(today, 1);
                return Date::from_calendar_date(d.year(), d.month(), 1)
                    .ok()
                    .map(|d| (d, 2));
            }
            // "next wednesday" is the coming Wednesday (as "wednesday" is). People split on
            // this; the reply always shows the date ("due Wed 25 Nov"), so a misreading is
            // seen at once and fixed with "move 3 to dec 2".
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
                "month" => {
                    let months = i32::try_from(n).ok().filter(|m| *m <= 120)?;
                    return Some(((add_months(today, months)), 3));
                }
                _ => return None,
            };
            return (0..=3650)
                .contains(&days)
                .then(|| (today + Duration::days(days), 3));
        }
        _ => {}
    }
    if let Some(day) = ordinal_day(first) {
        return day_of_month(today, day).map(|d| (d, 1));
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

/// "15th", "1st", "22nd", "3rd" (a suffix is required: a bare "15" is a task number).
fn ordinal_day(word: &str) -> Option<u8> {
    let digits = ["st", "nd", "rd", "th"]
        .iter()
        .find_map(|s| word.strip_suffix(s))?;
    digits.parse::<u8>().ok().filter(|d| (1..=31).contains(d))
}

/// Day `day` of this month if still ahead (or today), else of the next month that has it.
fn day_of_month(today: Date, day: u8) -> Option<Date> {
    for ahead in 0..=12 {
        let m = add_months(
            Date::from_calendar_date(today.year(), today.month(), 1).ok()?,
            ahead,
        );
        if let Ok(d) = Date::from_calendar_date(m.year(), m.month(), day)
            && d >= today
        {
            return Some(d);
        }
    }
    None
}

/// `weekday` today if today is one, else the next.
fn next_or_today(today: Date, weekday: Weekday) -> Date {
    if today.weekday() == weekday {
        today
    } else {
        next_weekday(today, weekday)
    }
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
    fn reads_times_and_days_of_the_month() {
        let now = PrimitiveDateTime::new(TODAY, Time::from_hms(10, 0, 0).expect("a time"));
        let due = |s: &str| {
            let words: Vec<&str> = s.split_whitespace().collect();
            parse_due(&words, now).map(|(d, n)| (d.date, d.time.map(|t| (t.hour(), t.minute())), n))
        };
        assert_eq!(
            due("at 5pm tomorrow"),
            Some((date!(2026 - 11 - 25), Some((17, 0)), 3))
        );
        assert_eq!(
            due("tomorrow at 5pm"),
            Some((date!(2026 - 11 - 25), Some((17, 0)), 3))
        );
        assert_eq!(
            due("tomorrow 5:30 pm"),
            Some((date!(2026 - 11 - 25), Some((17, 30)), 3))
        );
        assert_eq!(due("at 17:00"), Some((TODAY, Some((17, 0)), 2)));
        assert_eq!(
            due("at 9am"),
            Some((date!(2026 - 11 - 25), Some((9, 0)), 2)),
            "9am has passed"
        );
        assert_eq!(due("at noon"), Some((TODAY, Some((12, 0)), 2)));
        assert_eq!(due("12am"), Some((date!(2026 - 11 - 25), Some((0, 0)), 1)));
        assert_eq!(due("on the 15th"), Some((date!(2026 - 12 - 15), None, 3)));
        assert_eq!(due("the 30th"), Some((date!(2026 - 11 - 30), None, 2)));
        assert_eq!(due("next month"), Some((date!(2026 - 12 - 01), None, 2)));
        assert_eq!(due("in 2 months"), Some((date!(2027 - 01 - 24), None, 3)));
        assert_eq!(due("this weekend"), Some((date!(2026 - 11 - 28), None, 2)));
        assert_eq!(
            due("day after tomorrow"),
            Some((date!(2026 - 11 - 26), None, 3))
        );
        assert_eq!(due("at 13pm"), None);
        assert_eq!(due("at 5"), None, "a bare number is not a time");
        assert_eq!(due("15"), None, "nor a day");
    }

    #[test]
    fn describes_dates_for_people() {
        assert_eq!(describe(TODAY, TODAY), "today");
        assert_eq!(describe(date!(2026 - 11 - 25), TODAY), "tomorrow");
        assert_eq!(describe(date!(2026 - 11 - 27), TODAY), "Fri 27 Nov");
        assert_eq!(describe(date!(2027 - 01 - 05), TODAY), "Tue 5 Jan 2027");
    }
}
