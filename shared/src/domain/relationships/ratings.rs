//! Ratings: each party of a completed booking rates the other once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::access::{self, Parties, Party};
use crate::codes::Code;
use crate::domain::booking::bookings::{self, BookingStatus};
use crate::validate::Check;
use crate::{DomainError, FieldError};

pub const COMMENT_MAX: usize = 2000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingIn {
    /// 1 (poor) to 5 (excellent).
    pub overall: i16,
    #[serde(default)]
    pub communication: Option<i16>,
    #[serde(default)]
    pub hospitality: Option<i16>,
    #[serde(default)]
    pub payment: Option<i16>,
    #[serde(default)]
    pub professionalism: Option<i16>,
    #[serde(default)]
    pub comment: Option<String>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Rating {
    pub id: Uuid,
    pub booking_id: Uuid,
    /// The side that rated.
    pub rater_side: Party,
    pub rater_company_id: Uuid,
    pub ratee_company_id: Uuid,
    pub overall: i16,
    pub communication: Option<i16>,
    pub hospitality: Option<i16>,
    pub payment: Option<i16>,
    pub professionalism: Option<i16>,
    pub comment: Option<String>,
    pub created_at: DateTime<Utc>,
}

fn stars(field: &str, value: Option<i16>, errors: &mut Vec<FieldError>) {
    if value.is_some_and(|v| !(1..=5).contains(&v)) {
        errors.push(FieldError::new(field, "must be 1 to 5"));
    }
}

/// The caller's side rates the other side of a completed booking: 404 for
/// a booking the org is not party to, 409 `booking_not_completed` before
/// it is completed, 409 `rating_exists` the second time.
pub async fn rate(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    booking_id: Uuid,
    input: RatingIn,
) -> Result<Rating, DomainError> {
    let mut errors = Vec::new();
    stars("overall", Some(input.overall), &mut errors);
    stars("communication", input.communication, &mut errors);
    stars("hospitality", input.hospitality, &mut errors);
    stars("payment", input.payment, &mut errors);
    stars("professionalism", input.professionalism, &mut errors);
    let mut check = Check::new();
    let comment = check.opt_text("comment", input.comment.as_deref(), COMMENT_MAX);
    if let Err(DomainError::Validation(more)) = check.finish() {
        errors.extend(more);
    }
    if !errors.is_empty() {
        return Err(DomainError::Validation(errors));
    }
    let booking = bookings::get_for(&mut *conn, org_id, booking_id).await?;
    let parties = Parties {
        agency: booking.agency_company_id,
        promoter: booking.promoter_company_id,
    };
    let side = access::require_party(&mut *conn, org_id, parties).await?;
    if booking.status != BookingStatus::Completed {
        return Err(DomainError::conflict(
            Code::BookingNotCompleted,
            "a booking is rated once it is completed",
        ));
    }
    let (rater, ratee) = match side {
        Party::Agency => (parties.agency, parties.promoter),
        Party::Promoter => (parties.promoter, parties.agency),
    };
    let rating = sqlx::query_as!(
        Rating,
        r#"INSERT INTO booking_ratings (id, booking_id, rater_side, rater_company_id, ratee_company_id, overall,
                  communication, hospitality, payment, professionalism, comment, org_id, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
           RETURNING id, booking_id, rater_side AS "rater_side: Party", rater_company_id, ratee_company_id, overall,
                     communication, hospitality, payment, professionalism, comment, created_at"#,
        Uuid::now_v7(),
        booking_id,
        side as Party,
        rater,
        ratee,
        input.overall,
        input.communication,
        input.hospitality,
        input.payment,
        input.professionalism,
        comment,
        org_id,
        actor,
    )
    .fetch_one(&mut *conn)
    .await?;
    crate::domain::changes::mark_trust(conn, &[rater, ratee]).await?;
    Ok(rating)
}
