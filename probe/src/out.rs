//! Output: one JSON object per line on stdout, each stamped with RFC 3339 wall-clock time in
//! milliseconds, so kindproof can read results from container or pod logs.

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

/// Print `fields` as one JSON line with `time` and `event` first.
pub fn emit(event: &str, fields: Value) {
    let _ = try_emit(event, fields);
}

/// [`emit`], saying whether the line was written (a closed stdout: nobody reads any more).
pub fn try_emit(event: &str, fields: Value) -> std::io::Result<()> {
    let mut obj = Map::new();
    obj.insert(
        "time".into(),
        Value::String(rfc3339_millis(SystemTime::now())),
    );
    obj.insert("event".into(), Value::String(event.into()));
    if let Value::Object(rest) = fields {
        obj.extend(rest);
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", Value::Object(obj))?;
    out.flush()
}

/// Print `record` (a type of the shared protocol) as one JSON line, with the probe's own
/// `extra` fields after it (readers ignore those).
pub fn emit_record<T: serde::Serialize>(event: &str, record: &T, extra: Value) {
    let _ = try_emit_record(event, record, extra);
}

/// [`emit_record`], saying whether the line was written.
pub fn try_emit_record<T: serde::Serialize>(
    event: &str,
    record: &T,
    extra: Value,
) -> std::io::Result<()> {
    let mut fields = match serde_json::to_value(record) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    if let Value::Object(rest) = extra {
        fields.extend(rest);
    }
    try_emit(event, Value::Object(fields))
}

/// `2026-11-22T14:05:09.123Z`.
pub fn rfc3339_millis(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, day) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Milliseconds with microsecond precision, for latencies.
pub fn millis(d: Duration) -> f64 {
    (d.as_micros() as f64) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339_millis(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_795_356_309_123);
        assert_eq!(rfc3339_millis(t), "2026-11-22T14:05:09.123Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339_millis(leap), "2000-02-29T00:00:00.000Z");
    }
}
