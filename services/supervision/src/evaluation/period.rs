//! The periods an evaluation is asked for, in the city's calendar days:
//! a month `YYYY-MM`, a year `YYYY`, or days `YYYY-MM-DD..YYYY-MM-DD`
//! (both included, at most [`MAX_DAYS`]). Pure.

use chrono::NaiveDate;
use hotline_sla::Month;

/// The longest range of days asked at once (a leap year).
pub const MAX_DAYS: i64 = 366;
/// The most months a trend spans.
pub const MAX_MONTHS: usize = 60;

/// A period: its first and last day, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

fn day(s: &str) -> Result<NaiveDate, String> {
    let ok = s.len() == 10
        && s.char_indices().all(|(i, c)| {
            if i == 4 || i == 7 {
                c == '-'
            } else {
                c.is_ascii_digit()
            }
        });
    if !ok {
        return Err(format!("{s:?} is not a day YYYY-MM-DD"));
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("{s:?} is not a day of the calendar"))?;
    Month::parse(&s[..7])?;
    Ok(d)
}

impl Period {
    /// Parses the three forms; the problem in words otherwise.
    pub fn parse(raw: &str) -> Result<Period, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("required: YYYY-MM, YYYY or YYYY-MM-DD..YYYY-MM-DD".into());
        }
        if s.len() > 32 {
            return Err("too long: YYYY-MM, YYYY or YYYY-MM-DD..YYYY-MM-DD".into());
        }
        if let Some((a, b)) = s.split_once("..") {
            let (from, to) = (day(a)?, day(b)?);
            if to < from {
                return Err(format!("{b} is before {a}"));
            }
            if (to - from).num_days() + 1 > MAX_DAYS {
                return Err(format!("at most {MAX_DAYS} days"));
            }
            return Ok(Period { from, to });
        }
        if s.len() == 4 {
            let m = Month::parse(&format!("{s}-01"))?;
            let last = Month {
                year: m.year,
                month: 12,
            };
            return Ok(Period {
                from: m.first_day(),
                to: last.last_day(),
            });
        }
        let m = Month::parse(s)?;
        Ok(Period::month(m))
    }

    pub fn month(m: Month) -> Period {
        Period {
            from: m.first_day(),
            to: m.last_day(),
        }
    }

    /// Its first day's month: the policy version applying to it is used.
    pub fn first_month(&self) -> Month {
        Month::of(self.from)
    }

    /// A name for files: the form it was asked in, made file-safe.
    pub fn label(&self) -> String {
        format!("{}_{}", self.from, self.to)
    }
}

/// The months from `from` to `to`, both included; at most [`MAX_MONTHS`].
pub fn months(from: &str, to: &str) -> Result<Vec<Month>, (&'static str, String)> {
    let a = Month::parse(from.trim()).map_err(|e| ("from_month", e))?;
    let b = Month::parse(to.trim()).map_err(|e| ("to_month", e))?;
    if b < a {
        return Err(("to_month", format!("{b} is before {a}")));
    }
    let mut all = vec![a];
    while *all.last().expect("one") < b {
        if all.len() == MAX_MONTHS {
            return Err(("to_month", format!("at most {MAX_MONTHS} months")));
        }
        all.push(all.last().expect("one").next());
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn the_three_forms() {
        assert_eq!(
            Period::parse("2025-02").unwrap(),
            Period {
                from: d("2025-02-01"),
                to: d("2025-02-28")
            }
        );
        assert_eq!(
            Period::parse(" 2024 ").unwrap(),
            Period {
                from: d("2024-01-01"),
                to: d("2024-12-31")
            }
        );
        let r = Period::parse("2025-03-30..2025-04-02").unwrap();
        assert_eq!((r.from, r.to), (d("2025-03-30"), d("2025-04-02")));
        assert_eq!(r.first_month().to_string(), "2025-03");
        assert!(Period::parse("2024-01-01..2024-12-31").is_ok(), "366 days");
    }

    #[test]
    fn bad_periods_say_why() {
        for (bad, why) in [
            ("", "required"),
            ("2025-13", "not 01–12"),
            ("255000", "not a month"),
            ("255000-01", "not a month"),
            ("2025-02-30..2025-03-01", "not a day of the calendar"),
            ("2025-03-02..2025-03-01", "before"),
            ("2024-01-01..2025-01-01", "at most 366"),
            ("2025-1", "not a month"),
            ("2025-03-01..", "not a day"),
            ("1999", "2000–2200"),
            ("2025-0\u{0}", "not a month"),
        ] {
            let e = Period::parse(bad).unwrap_err();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
        assert!(
            Period::parse(&"9".repeat(100_000))
                .unwrap_err()
                .contains("too long")
        );
    }

    #[test]
    fn months_of_a_trend() {
        let m = months("2024-11", "2025-02").unwrap();
        let shown: Vec<String> = m.iter().map(|m| m.to_string()).collect();
        assert_eq!(shown, ["2024-11", "2024-12", "2025-01", "2025-02"]);
        assert_eq!(months("2025-02", "2025-01").unwrap_err().0, "to_month");
        assert_eq!(months("2025-13", "2025-01").unwrap_err().0, "from_month");
        assert!(months("2020-01", "2024-12").is_ok(), "60 months");
        assert!(
            months("2020-01", "2025-01")
                .unwrap_err()
                .1
                .contains("at most 60")
        );
    }
}
