//! Input validation that collects every field error of a request, so a
//! client fixes them all in one round.

use crate::{DomainError, FieldError};

#[derive(Debug, Default)]
pub struct Check {
    errors: Vec<FieldError>,
}

impl Check {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// Refuses control characters (other than tab and newlines).
    fn printable(&mut self, field: &str, value: &str) {
        if value
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        {
            self.add(field, "must not contain control characters");
        }
    }

    /// Required text, trimmed, `min..=max` characters.
    pub fn text(&mut self, field: &str, value: &str, min: usize, max: usize) -> String {
        let value = value.trim();
        self.printable(field, value);
        let len = value.chars().count();
        if len < min {
            self.add(
                field,
                if min == 1 {
                    "must not be blank".to_owned()
                } else {
                    format!("must be at least {min} characters")
                },
            );
        } else if len > max {
            self.add(field, format!("must be at most {max} characters"));
        }
        value.to_owned()
    }

    /// Optional text, trimmed; blank becomes `None`.
    pub fn opt_text(&mut self, field: &str, value: Option<&str>, max: usize) -> Option<String> {
        let value = value.map(str::trim).filter(|v| !v.is_empty())?;
        self.printable(field, value);
        if value.chars().count() > max {
            self.add(field, format!("must be at most {max} characters"));
        }
        Some(value.to_owned())
    }

    /// ISO 3166-1 alpha-2 shape (existence is checked by the database).
    pub fn country(&mut self, field: &str, value: Option<&str>) -> Option<String> {
        let value = value
            .map(str::trim)
            .filter(|v| !v.is_empty())?
            .to_ascii_uppercase();
        if value.len() != 2 || !value.bytes().all(|b| b.is_ascii_uppercase()) {
            self.add(field, "must be an ISO 3166-1 alpha-2 country code");
        }
        Some(value)
    }

    /// ISO 4217 shape (existence is checked by the database).
    pub fn currency(&mut self, field: &str, value: Option<&str>) -> Option<String> {
        let value = value
            .map(str::trim)
            .filter(|v| !v.is_empty())?
            .to_ascii_uppercase();
        if value.len() != 3 || !value.bytes().all(|b| b.is_ascii_uppercase()) {
            self.add(field, "must be an ISO 4217 currency code");
        }
        Some(value)
    }

    /// An absolute http(s) URL.
    pub fn url(&mut self, field: &str, value: Option<&str>) -> Option<String> {
        let value = value.map(str::trim).filter(|v| !v.is_empty())?;
        match reqwest::Url::parse(value) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                if value.len() > 500 {
                    self.add(field, "must be at most 500 characters");
                }
            }
            _ => self.add(field, "must be an absolute http or https URL"),
        }
        Some(value.to_owned())
    }

    /// An email address of plausible shape.
    pub fn email(&mut self, field: &str, value: Option<&str>) -> Option<String> {
        let value = value.map(str::trim).filter(|v| !v.is_empty())?;
        let valid = value.len() <= 254
            && !value.contains(char::is_whitespace)
            && value.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            });
        if !valid {
            self.add(field, "must be an email address");
        }
        Some(value.to_owned())
    }

    /// A phone number: digits with optional `+`, spaces, dots, dashes, parentheses.
    pub fn phone(&mut self, field: &str, value: Option<&str>) -> Option<String> {
        let value = value.map(str::trim).filter(|v| !v.is_empty())?;
        let digits = value.chars().filter(char::is_ascii_digit).count();
        let allowed = value
            .chars()
            .all(|c| c.is_ascii_digit() || " +-.()/".contains(c));
        if !allowed || !(5..=20).contains(&digits) || value.len() > 50 {
            self.add(field, "must be a phone number (digits, +, spaces, dashes)");
        }
        Some(value.to_owned())
    }

    pub fn finish(self) -> Result<(), DomainError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Validation(self.errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_every_error() {
        let mut check = Check::new();
        check.text("name", " ", 1, 10);
        check.country("country", Some("nld"));
        check.currency("currency", Some("eu"));
        check.url("website", Some("javascript:alert(1)"));
        check.email("email", Some("a@b"));
        check.phone("phone", Some("call me"));
        assert!(check.url("ok", Some("https://kisum.example/x")).is_some());
        assert_eq!(
            check.email("ok", Some("booker@agency.example")).as_deref(),
            Some("booker@agency.example")
        );
        assert_eq!(check.country("ok", Some("nl")).as_deref(), Some("NL"));
        let Err(DomainError::Validation(errors)) = check.finish() else {
            panic!()
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["name", "country", "currency", "website", "email", "phone"]
        );
    }
}
