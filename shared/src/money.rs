//! Money and percentages, exactly: the one place that knows a currency's
//! minor units, formats an amount, turns a deal's percentage into basis
//! points and computes a deposit. Deals, contracts, the Finance payload and
//! the dashboards all use it.
//!
//! - Money is an `i64` of minor units of an ISO 4217 currency; the exponent
//!   comes from the shipped reference data (`reference/currencies.tsv`,
//!   included here once), so formatting needs no database round trip.
//! - A [`Percent`] is a decimal read from the JSON number's own text, never
//!   through a float: `12.35` is 1235 basis points, not 12.3499... It keeps
//!   the value exactly as written (up to [`MAX_DIGITS`] significant digits
//!   and decimals), so a deal with `33.333` can be refused by name
//!   (`deal.deposit_percent`) instead of being rounded; the rules then work
//!   in whole basis points ([`Percent::basis_points`]).
//! - A percentage goes back out as a JSON number in its shortest exact
//!   form: `80`, `12.5`, `12.35` (trailing zeros dropped, no exponent).

use std::fmt;
use std::str::FromStr;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{RefOr, schema};
use utoipa::{PartialSchema, ToSchema};

/// ISO 4217, as shipped in the reference data: loaded into `currencies` by
/// [`crate::reference`], read here for exponents and names.
pub(crate) const CURRENCIES: &str = include_str!("../../reference/currencies.tsv");

/// Basis points in 100%.
pub const BP_PER_WHOLE: i64 = 10_000;

/// The most significant digits and the most decimals a [`Percent`] is read
/// with; anything longer is refused as malformed rather than rounded.
pub const MAX_DIGITS: u32 = 18;

/// An ISO 4217 currency from the reference data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Currency {
    pub code: &'static str,
    pub name: &'static str,
    /// Decimals of the minor unit: 2 for EUR, 0 for JPY, 3 for BHD.
    pub exponent: u32,
}

/// The ISO 4217 row of `code`, if the reference data has it.
pub fn currency(code: &str) -> Option<Currency> {
    CURRENCIES.lines().skip(1).find_map(|line| {
        let mut fields = line.split('\t');
        let found = fields.next()?;
        if found != code {
            return None;
        }
        let name = fields.nth(1)?;
        let exponent = fields.next()?.trim().parse().ok()?;
        Some(Currency {
            code: found,
            name,
            exponent,
        })
    })
}

/// `EUR 12,500.00`, `JPY 1,250,000`, `BHD 1,234.567`: the ISO code, the
/// whole units grouped by thousands and as many decimals as the currency
/// has minor units (two for a code the reference data lacks).
pub fn format_money(minor: i64, code: &str) -> String {
    let exponent = currency(code).map_or(2, |c| c.exponent);
    let scale = 10_u64.pow(exponent);
    let abs = minor.unsigned_abs();
    let digits = (abs / scale).to_string();
    let mut out = format!("{code} ");
    if minor < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if exponent > 0 {
        out.push_str(&format!(
            ".{:0width$}",
            abs % scale,
            width = exponent as usize
        ));
    }
    out
}

/// The deposit on a guarantee, in minor units: `guarantee * bp / 10000`,
/// rounded half up to the minor unit, in integers (saturating at `i64`).
pub fn deposit_minor(guarantee: i64, bp: i64) -> i64 {
    let exact = i128::from(guarantee) * i128::from(bp);
    let rounded = (exact + 5_000).div_euclid(i128::from(BP_PER_WHOLE));
    i64::try_from(rounded).unwrap_or(if rounded < 0 { i64::MIN } else { i64::MAX })
}

/// `part / whole` in basis points, rounded down; `None` when `whole` is
/// not positive (a rate of nothing).
pub fn ratio_bp(part: i64, whole: i64) -> Option<i64> {
    (whole > 0).then(|| part.saturating_mul(BP_PER_WHOLE) / whole)
}

/// `85%`, `12.5%`, `12.35%`, from basis points.
pub fn format_percent(bp: i64) -> String {
    format!("{}%", Percent::from_bp(bp))
}

/// A percentage exactly as written: `units / 10^scale` percent, kept in
/// lowest terms (`80.0` is `80`, `12.50` is `12.5`). See the module doc.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Percent {
    units: i64,
    scale: u32,
}

/// Why a JSON number is not read as a [`Percent`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PercentError {
    #[error("a percentage must be a JSON number")]
    NotANumber,
    #[error(
        "a percentage is read with at most {MAX_DIGITS} significant digits and {MAX_DIGITS} decimals"
    )]
    TooLong,
}

impl Percent {
    pub const ZERO: Percent = Percent { units: 0, scale: 0 };

    /// `bp` basis points (hundredths of a percent).
    pub const fn from_bp(bp: i64) -> Percent {
        let (mut units, mut scale) = (bp, 2);
        while scale > 0 && units % 10 == 0 {
            units /= 10;
            scale -= 1;
        }
        Percent { units, scale }
    }

    /// The value in whole basis points; `None` when it has more than two
    /// decimals (or does not fit an `i64` of basis points).
    pub fn basis_points(self) -> Option<i64> {
        match self.scale {
            0 => self.units.checked_mul(100),
            1 => self.units.checked_mul(10),
            2 => Some(self.units),
            _ => None,
        }
    }

    /// Decimals as written, in lowest terms.
    pub fn decimals(self) -> u32 {
        self.scale
    }

    /// Reads the text of a JSON number (RFC 8259 grammar, exponent forms
    /// included) exactly. Bounded work: the exponent is never expanded, so
    /// `1e999999999` is refused without allocating.
    pub fn parse_json_number(text: &str) -> Result<Percent, PercentError> {
        let bytes = text.as_bytes();
        let (negative, rest) = match bytes.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, bytes),
        };
        let int_len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let (int, rest) = rest.split_at(int_len);
        // JSON: at least one digit, no leading zero before another digit.
        if int.is_empty() || (int.len() > 1 && int[0] == b'0') {
            return Err(PercentError::NotANumber);
        }
        let (frac, rest) = match rest.split_first() {
            Some((b'.', after)) => {
                let len = after.iter().take_while(|b| b.is_ascii_digit()).count();
                if len == 0 {
                    return Err(PercentError::NotANumber);
                }
                after.split_at(len)
            }
            _ => (&rest[..0], rest),
        };
        let exponent: i64 = match rest.split_first() {
            None => 0,
            Some((b'e' | b'E', after)) => {
                let (sign, digits) = match after.split_first() {
                    Some((b'-', d)) => (-1, d),
                    Some((b'+', d)) => (1, d),
                    _ => (1, after),
                };
                if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                    return Err(PercentError::NotANumber);
                }
                // Saturates far beyond any exponent that could fit.
                let magnitude = digits.iter().fold(0_i64, |n, d| {
                    n.saturating_mul(10)
                        .saturating_add(i64::from(d - b'0'))
                        .min(1 << 40)
                });
                sign * magnitude
            }
            Some(_) => return Err(PercentError::NotANumber),
        };
        let digits = || int.iter().chain(frac.iter()).copied();
        let Some(first) = digits().position(|d| d != b'0') else {
            return Ok(Percent::ZERO);
        };
        let last = int.len() + frac.len() - 1 - digits().rev().position(|d| d != b'0').unwrap_or(0);
        let significant = last - first + 1;
        if significant > MAX_DIGITS as usize {
            return Err(PercentError::TooLong);
        }
        let mut units = digits()
            .skip(first)
            .take(significant)
            .fold(0_i64, |n, d| n * 10 + i64::from(d - b'0'));
        // value = units * 10^power, units without trailing zeros.
        let trailing = (int.len() + frac.len() - 1 - last) as i64;
        let power = trailing - frac.len() as i64 + exponent;
        let scale = if power >= 0 {
            let factor = u32::try_from(power)
                .ok()
                .and_then(|p| 10_i64.checked_pow(p))
                .ok_or(PercentError::TooLong)?;
            units = units.checked_mul(factor).ok_or(PercentError::TooLong)?;
            0
        } else {
            u32::try_from(-power)
                .ok()
                .filter(|s| *s <= MAX_DIGITS)
                .ok_or(PercentError::TooLong)?
        };
        if negative {
            units = -units;
        }
        Ok(Percent { units, scale })
    }
}

impl fmt::Display for Percent {
    /// The shortest exact decimal: `80`, `12.5`, `-0.05`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.units < 0 { "-" } else { "" };
        let abs = self.units.unsigned_abs();
        if self.scale == 0 {
            return write!(f, "{sign}{abs}");
        }
        let scale = 10_u64.pow(self.scale);
        write!(
            f,
            "{sign}{}.{:0width$}",
            abs / scale,
            abs % scale,
            width = self.scale as usize
        )
    }
}

impl FromStr for Percent {
    type Err = PercentError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Percent::parse_json_number(text)
    }
}

impl Serialize for Percent {
    /// A JSON number with the exact decimal text. Only `serde_json` writes
    /// deals (the API, JSONB, Finance), and it emits a raw value verbatim.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw = RawValue::from_string(self.to_string()).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Percent {
    /// Takes the number's own text from `serde_json` (a raw value), so no
    /// float is ever made. A string or any other JSON type is refused. Needs `serde_json`'s deserializer, or its
    /// `Value` (whose numbers print exactly up to 15 digits); serde's
    /// buffering (`flatten`, untagged enums) cannot hand out raw values,
    /// and is not used on the way to a deal.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        Percent::parse_json_number(raw.get().trim()).map_err(D::Error::custom)
    }
}

impl PartialSchema for Percent {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::Number))
            .description(Some(
                "A percentage, read and shown back as the exact decimal written: at most two \
                 decimals (`12.35`), never rounded.",
            ))
            .multiple_of(Some(0.01))
            .minimum(Some(0))
            .maximum(Some(100))
            .examples([serde_json::json!(12.35)])
            .into()
    }
}

impl ToSchema for Percent {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("Percent")
    }

    fn schemas(_: &mut Vec<(String, RefOr<schema::Schema>)>) {}
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn bp(text: &str) -> Option<i64> {
        Percent::parse_json_number(text).unwrap().basis_points()
    }

    #[test]
    fn plain_decimals_are_exact() {
        for (text, expected) in [
            ("0", 0),
            ("-0", 0),
            ("0.0", 0),
            ("0.01", 1),
            ("0.05", 5),
            ("1", 100),
            ("12.35", 1235),
            ("33.33", 3333),
            ("12.5", 1250),
            ("12.50", 1250),
            ("70.07", 7007),
            ("100", 10_000),
            ("100.00", 10_000),
            ("100.0000000", 10_000),
            ("100.01", 10_001),
            ("150", 15_000),
            ("-1", -100),
            ("-5.25", -525),
        ] {
            assert_eq!(bp(text), Some(expected), "{text}");
        }
    }

    #[test]
    fn exponent_forms_are_exact() {
        for (text, expected) in [
            ("1e2", 10_000),
            ("1E2", 10_000),
            ("1e+2", 10_000),
            ("1e-2", 1),
            ("1.235e1", 1235),
            ("1235e-2", 1235),
            ("0.1235e2", 1235),
            ("3333E-2", 3333),
            ("0e999999999999999999999", 0),
            ("0.000e-5", 0),
            ("1000000e-4", 10_000),
        ] {
            assert_eq!(bp(text), Some(expected), "{text}");
        }
    }

    #[test]
    fn more_than_two_decimals_are_kept_to_be_refused() {
        for (text, decimals) in [
            ("33.333", 3),
            ("12.345", 3),
            ("1.2345e1", 3),
            ("1e-3", 3),
            ("0.000000000000000001", 18),
        ] {
            let p = Percent::parse_json_number(text).unwrap();
            assert_eq!(p.basis_points(), None, "{text}");
            assert_eq!(p.decimals(), decimals, "{text}");
            assert_eq!(p.to_string().parse::<Percent>().unwrap(), p);
        }
    }

    #[test]
    fn malformed_or_unbounded_numbers_are_refused_without_work() {
        for text in [
            "", "-", "+1", "01", "00.5", "1.", ".5", "1e", "1e+", "1x", "\"80\"", "null", "true",
            "[1]", "1 2", "0x10", "NaN", "Infinity", "1.2.3",
        ] {
            assert_eq!(
                Percent::parse_json_number(text),
                Err(PercentError::NotANumber),
                "{text}"
            );
        }
        for text in [
            "1e999999999999999999999999",
            "1e-999999999999999999999999",
            "1e19",
            "1e-19",
            "1234567890123456789",
            "0.1234567890123456789",
            "9223372036854775807e1",
        ] {
            assert_eq!(
                Percent::parse_json_number(text),
                Err(PercentError::TooLong),
                "{text}"
            );
        }
        let long_zeros = format!("1{}", "0".repeat(100_000));
        assert_eq!(
            Percent::parse_json_number(&long_zeros),
            Err(PercentError::TooLong)
        );
        let many_trailing = format!("12.35{}", "0".repeat(100_000));
        assert_eq!(bp(&many_trailing), Some(1235));
    }

    #[test]
    fn json_round_trip_keeps_the_text() {
        for (input, output) in [
            ("12.35", "12.35"),
            ("33.33", "33.33"),
            ("80.0", "80"),
            ("80", "80"),
            ("1e2", "100"),
            ("1.235e1", "12.35"),
            ("0.5", "0.5"),
            ("-0.05", "-0.05"),
        ] {
            let p: Percent = serde_json::from_str(input).unwrap();
            assert_eq!(serde_json::to_string(&p).unwrap(), output, "{input}");
            let from_value: Percent =
                serde_json::from_value(serde_json::from_str(input).unwrap()).unwrap();
            assert_eq!(from_value, p, "{input}");
        }
        for input in ["\"80\"", "null", "{}", "[80]", "true"] {
            assert!(serde_json::from_str::<Percent>(input).is_err(), "{input}");
        }
        assert!(serde_json::from_str::<Percent>("1e400").is_err());
    }

    #[test]
    fn basis_points_print_back() {
        for (bp, text) in [
            (8500, "85%"),
            (1250, "12.5%"),
            (1235, "12.35%"),
            (3333, "33.33%"),
            (30, "0.3%"),
            (5, "0.05%"),
            (10_000, "100%"),
            (0, "0%"),
            (-150, "-1.5%"),
        ] {
            assert_eq!(format_percent(bp), text, "{bp}");
            assert_eq!(Percent::from_bp(bp).basis_points(), Some(bp));
        }
    }

    #[test]
    fn money_follows_the_currency_exponent() {
        assert_eq!(format_money(1_250_000, "EUR"), "EUR 12,500.00");
        assert_eq!(format_money(5, "EUR"), "EUR 0.05");
        assert_eq!(format_money(0, "USD"), "USD 0.00");
        assert_eq!(format_money(1_250_000, "JPY"), "JPY 1,250,000");
        assert_eq!(format_money(999, "KRW"), "KRW 999");
        assert_eq!(format_money(1_234_567, "BHD"), "BHD 1,234.567");
        assert_eq!(format_money(1_005, "KWD"), "KWD 1.005");
        assert_eq!(format_money(42, "TND"), "TND 0.042");
        assert_eq!(format_money(100, "XTS"), "XTS 1.00");
        assert_eq!(
            format_money(i64::MAX, "EUR"),
            "EUR 92,233,720,368,547,758.07"
        );
        assert_eq!(format_money(123_456_789_012, "GBP"), "GBP 1,234,567,890.12");
        assert_eq!(format_money(100_000, "GBP"), "GBP 1,000.00");
        assert_eq!(format_money(99_999, "GBP"), "GBP 999.99");
        assert_eq!(format_money(-150, "EUR"), "EUR -1.50");
        assert_eq!(currency("JPY").map(|c| c.name), Some("Yen"));
        assert_eq!(currency("ZZZ"), None);
    }

    #[test]
    fn the_deposit_is_integer_arithmetic_rounded_half_up() {
        assert_eq!(deposit_minor(1_250_000, 3000), 375_000);
        assert_eq!(deposit_minor(1_000_001, 5000), 500_001); // 500000.5 up
        assert_eq!(deposit_minor(999, 3333), 333); // 332.9667
        assert_eq!(deposit_minor(3, 5000), 2); // 1.5 up
        assert_eq!(deposit_minor(1, 4999), 0);
        assert_eq!(deposit_minor(777, 10_000), 777);
        assert_eq!(deposit_minor(i64::MAX, 10_000), i64::MAX);
        assert_eq!(deposit_minor(i64::MAX, 20_000), i64::MAX);
        assert_eq!(deposit_minor(1_250_000, 1235), 154_375);
    }

    #[test]
    fn ratios_are_basis_points_rounded_down() {
        assert_eq!(ratio_bp(1, 3), Some(3333));
        assert_eq!(ratio_bp(2, 2), Some(10_000));
        assert_eq!(ratio_bp(0, 5), Some(0));
        assert_eq!(ratio_bp(5, 0), None);
    }
}
