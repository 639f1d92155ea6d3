//! Calendar dates of habilitations. An end date is the last day a habilitation counts, in
//! France's legal time (Europe/Paris). Guide 002 has people give a month, « 06/2025 », meaning
//! the access ends with that month: it is stored as the month's last day (`2025-06-30`), so the
//! claims and every comparison stay plain dates. Full dates typed earlier, or by the CLI, keep
//! their day.

use std::fmt;

use jiff::{Timestamp, civil::Date, tz::TimeZone};

/// Today's date in Paris.
pub fn today() -> Date {
    today_at(Timestamp::now())
}

/// The date in Paris at `instant` (seconds since the epoch wrapped by the caller).
pub fn today_at(instant: Timestamp) -> Date {
    let paris = TimeZone::get("Europe/Paris").expect("the bundled time zone database has Paris");
    instant.to_zoned(paris).date()
}

/// Today's date in Paris, as stored (`YYYY-MM-DD`): compared as text with `end_date`.
pub fn today_iso() -> String {
    today().to_string()
}

/// The last day a habilitation counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct EndDate(Date);

/// Why an end date was refused; the messages are shown as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndDateError {
    /// Neither a month nor a date.
    #[error("La date de fin doit être un mois au format MM/AAAA, par exemple 06/2027.")]
    Malformed,
    /// Already past.
    #[error("La date de fin ne peut pas être antérieure au mois en cours.")]
    Past,
}

impl EndDate {
    /// Parses what a form sends: `MM/AAAA` (the guide's month, ending with its last day),
    /// `JJ/MM/AAAA` or `AAAA-MM-JJ` (a full date, from the CLI or an older form). An end date
    /// must not be before `today`.
    pub fn parse(input: &str, today: Date) -> Result<Self, EndDateError> {
        let input = input.trim();
        let num = |s: &str| {
            let s = s.trim();
            if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(EndDateError::Malformed);
            }
            s.parse::<i16>().map_err(|_| EndDateError::Malformed)
        };
        let day_month_year = |d: i16, m: i16, y: i16| {
            Date::new(
                y,
                i8::try_from(m).map_err(|_| EndDateError::Malformed)?,
                i8::try_from(d).map_err(|_| EndDateError::Malformed)?,
            )
            .map_err(|_| EndDateError::Malformed)
        };
        let parts: Vec<&str> = input.split('/').collect();
        let date = match parts.as_slice() {
            [m, y] => {
                let first = day_month_year(1, num(m)?, num(y)?)?;
                first.last_of_month()
            }
            [d, m, y] => day_month_year(num(d)?, num(m)?, num(y)?)?,
            _ => input.parse::<Date>().map_err(|_| EndDateError::Malformed)?,
        };
        if !(2000..=2199).contains(&date.year()) {
            return Err(EndDateError::Malformed);
        }
        if date < today {
            return Err(EndDateError::Past);
        }
        Ok(Self(date))
    }

    /// Reads a stored value (`YYYY-MM-DD`), past or not.
    pub fn from_stored(stored: &str) -> Option<Self> {
        stored.parse::<Date>().ok().map(Self)
    }

    /// As stored and in claims: `YYYY-MM-DD`.
    pub fn iso(&self) -> String {
        self.0.to_string()
    }

    /// As shown on pages, in e-mails and by the CLI: `MM/AAAA` when the habilitation ends with
    /// a month (how the guide enters it), `JJ/MM/AAAA` for a date set to another day.
    pub fn french(&self) -> String {
        if self.0 == self.0.last_of_month() {
            return format!("{:02}/{:04}", self.0.month(), self.0.year());
        }
        format!(
            "{:02}/{:02}/{:04}",
            self.0.day(),
            self.0.month(),
            self.0.year()
        )
    }

    /// « jusqu'à fin 06/2027 » or « jusqu'au 15/06/2027 », for sentences on pages and in e-mails.
    pub fn until(&self) -> String {
        if self.0 == self.0.last_of_month() {
            format!("jusqu'à fin {}", self.french())
        } else {
            format!("jusqu'au {}", self.french())
        }
    }

    /// Whether the habilitation still counts on `today`.
    pub fn covers(&self, today: Date) -> bool {
        self.0 >= today
    }
}

impl fmt::Display for EndDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.french())
    }
}

/// `JJ/MM/AAAA à HHhMM` in Paris, for « le … à … » on pages and in e-mails.
pub fn french_date_time(seconds: i64) -> String {
    let Ok(ts) = Timestamp::from_second(seconds) else {
        return String::new();
    };
    let paris = TimeZone::get("Europe/Paris").expect("the bundled time zone database has Paris");
    let z = ts.to_zoned(paris);
    format!(
        "{:02}/{:02}/{:04} à {:02}h{:02}",
        z.day(),
        z.month(),
        z.year(),
        z.hour(),
        z.minute()
    )
}

/// `JJ/MM/AAAA` in Paris.
pub fn french_date(seconds: i64) -> String {
    french_date_time(seconds)
        .split(" à ")
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn end_dates_are_typed_or_picked_and_never_past() {
        let today = date(2025, 3, 10);
        assert_eq!(
            EndDate::parse("30/06/2025", today).unwrap().iso(),
            "2025-06-30"
        );
        assert_eq!(
            EndDate::parse(" 2025-06-29 ", today).unwrap().french(),
            "29/06/2025"
        );
        // A full date on a month's last day reads as the month, as the guide writes it.
        assert_eq!(
            EndDate::parse("2025-06-30", today).unwrap().french(),
            "06/2025"
        );
        assert_eq!(
            EndDate::parse("10/03/2025", today).unwrap().iso(),
            "2025-03-10"
        );
        assert_eq!(EndDate::parse("09/03/2025", today), Err(EndDateError::Past));
        // The guide's month: the access ends with the month's last day.
        assert_eq!(
            EndDate::parse("06/2025", today).unwrap().iso(),
            "2025-06-30"
        );
        assert_eq!(
            EndDate::parse(" 2/2028 ", today).unwrap().iso(),
            "2028-02-29"
        );
        assert_eq!(
            EndDate::parse("03/2025", today).unwrap().iso(),
            "2025-03-31"
        );
        assert_eq!(EndDate::parse("02/2025", today), Err(EndDateError::Past));
        assert_eq!(
            EndDate::parse("12/2026", today).unwrap().french(),
            "12/2026"
        );
        assert_eq!(
            EndDate::parse("12/2026", today).unwrap().until(),
            "jusqu'à fin 12/2026"
        );
        assert_eq!(
            EndDate::parse("15/12/2026", today).unwrap().until(),
            "jusqu'au 15/12/2026"
        );
        for bad in [
            "31/02/2025",
            "2025-13-01",
            "demain",
            "",
            "1/1",
            "01/01/99999",
            "13/2026",
            "00/2026",
            "06/26",
            "+6/2026",
            "06/2026/",
            "06 / 2026x",
        ] {
            assert_eq!(
                EndDate::parse(bad, today),
                Err(EndDateError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_day_changes_at_midnight_in_paris_not_in_utc() {
        // 2025-06-30 22:30 UTC is already 1 July in Paris (UTC+2 in summer).
        let late = Timestamp::from_second(1_751_322_600).unwrap();
        assert_eq!(today_at(late), date(2025, 7, 1));
        let end = EndDate::from_stored("2025-06-30").unwrap();
        assert!(!end.covers(today_at(late)));
        assert_eq!(french_date_time(1_751_322_600), "01/07/2025 à 00h30");
    }
}
