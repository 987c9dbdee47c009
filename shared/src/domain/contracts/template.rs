//! Contract templates: the variable catalogue, checking and rendering.
use chrono::NaiveDate;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::DomainError;

pub struct Variable {
    pub name: &'static str,
    pub description: &'static str,
    pub example: &'static str,
}
pub struct Starter {
    pub key: &'static str,
    pub name: &'static str,
    pub body: &'static str,
}
pub const VARIABLES: &[Variable] = &[];
pub const STARTERS: &[Starter] = &[];
pub struct Terms;
pub fn check(_body: &str) -> Result<Vec<String>, DomainError> {
    Ok(vec![])
}
pub fn render(body: &str, _terms: &Terms) -> Result<String, DomainError> {
    Ok(body.to_owned())
}
pub async fn terms_for_booking(
    _conn: &mut PgConnection,
    _booking_id: Uuid,
    _title: &str,
    _issued_on: NaiveDate,
) -> Result<Terms, DomainError> {
    Ok(Terms)
}
