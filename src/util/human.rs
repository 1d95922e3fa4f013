//! Numbers and times the way people read them, shared by the CLI, the files a session writes and
//! the dashboard: losses as `1.23e5`, timestamps as ISO 8601 (`2026-12-01T19:25:37Z`), ages as
//! `7d`.

/// A loss as people read it: three significant digits with an exponent (`1.23e5`, `4.00e-2`),
/// `0` for zero and `-` for a value that is not finite. The CLI, `sessions list`, the progress bar
/// and the dashboard all print losses with this.
pub fn loss(v: f64) -> String {
    sci(v, 3)
}

/// `v` with `digits` significant digits and an exponent (`sci(123456.0, 3)` = `1.23e5`): the
/// notation of [`loss`]; `losses.csv` uses it with more digits so its curves keep their detail.
pub fn sci(v: f64, digits: usize) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    if v == 0.0 {
        return "0".into();
    }
    format!("{v:.*e}", digits.max(1) - 1)
}

/// Seconds since the Unix epoch as ISO 8601 UTC: `2026-12-01T19:25:37Z`.
pub fn iso_utc(secs: u64) -> String {
    let (y, mo, d) = civil_from_days((secs / 86_400) as i64);
    let s = secs % 86_400;
    format!("{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z", s / 3600, s / 60 % 60, s % 60)
}

/// Seconds since the Unix epoch as local date and minute (`2026-12-01 19:25`), for tables; UTC
/// with a `Z` where the local time zone is not known. `-` for 0 (unknown).
pub fn local_minute(secs: u64) -> String {
    if secs == 0 {
        return "-".into();
    }
    match local_parts(secs) {
        Some((y, mo, d, h, mi)) => format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}"),
        None => {
            let iso = iso_utc(secs);
            format!("{} {}Z", &iso[..10], &iso[11..16])
        }
    }
}

fn local_parts(secs: u64) -> Option<(i64, u32, u32, u32, u32)> {
    let t = libc::time_t::try_from(secs).ok()?;
    // SAFETY: `tm` is plain data that localtime_r fills in; both pointers are valid for the call.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    ok.then(|| {
        (i64::from(tm.tm_year) + 1900, (tm.tm_mon + 1) as u32, tm.tm_mday as u32, tm.tm_hour as u32, tm.tm_min as u32)
    })
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar (Howard
/// Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// An age such as `7d`, `12h`, `30m`, `90s` or `2w` (a bare number is days), in seconds.
pub fn parse_age(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let bad = || format!("`{text}` is not an age: give a number and a unit, e.g. 7d, 12h, 30m, 2w");
    let (num, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, "d"),
    };
    let n: u64 = num.parse().map_err(|_| bad())?;
    let per = match unit {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(per).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn losses_read_alike() {
        assert_eq!(loss(123_456.0), "1.23e5");
        assert_eq!(loss(0.04), "4.00e-2");
        assert_eq!(loss(1.0), "1.00e0");
        assert_eq!(loss(0.0), "0");
        assert_eq!(loss(f64::NAN), "-");
        assert_eq!(sci(123_456.7, 6), "1.23457e5");
        assert_eq!(sci(123_456.7, 6).parse::<f64>().unwrap(), 123_457.0);
    }

    #[test]
    fn iso_dates() {
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso_utc(1_796_153_137), "2026-12-01T19:25:37Z");
    }

    #[test]
    fn ages() {
        assert_eq!(parse_age("7d"), Ok(7 * 86_400));
        assert_eq!(parse_age("12h"), Ok(12 * 3600));
        assert_eq!(parse_age("2w"), Ok(14 * 86_400));
        assert_eq!(parse_age("3"), Ok(3 * 86_400));
        assert!(parse_age("7 days").is_err());
        assert!(parse_age("d").is_err());
    }
}
