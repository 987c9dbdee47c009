//! What a booking's changes cause in the other areas, wired in one place
//! above booking, contracts and finance, so those areas never call each
//! other. Each function runs the booking's own change and then its
//! consequences on the caller's transaction: all commit or none does.
//!
//! - confirmed: the Finance handoff (`booking.confirmed`);
//! - cancelled: its open contract is voided, then the Finance handoff;
//! - completed: the Finance handoff;
//! - and each time the trust of both parties is marked for recomputation.
//!
//! The read models need no call here: the booking's activity entry marks
//! them ([`crate::domain::changes::mark_subject`]).

use sqlx::PgConnection;
use uuid::Uuid;

use crate::DomainError;
use crate::domain::booking::bookings::{self, Booking, BookingIn, CancelIn};
use crate::domain::changes;
use crate::domain::contracts::contracts;
use crate::domain::finance::handoff::{self, HandoffEvent};

/// Confirms an accepted offer into a booking, and hands it to Finance.
pub async fn confirm_booking(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    input: BookingIn,
) -> Result<Booking, DomainError> {
    let booking = bookings::confirm(&mut *conn, org_id, actor, input).await?;
    followed_by(conn, &booking, HandoffEvent::Confirmed).await?;
    Ok(booking)
}

/// Cancels a booking, voids its open contract and tells Finance.
pub async fn cancel_booking(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    id: Uuid,
    input: CancelIn,
    expected_version: Option<i32>,
) -> Result<Booking, DomainError> {
    let booking = bookings::cancel(&mut *conn, org_id, actor, id, input, expected_version).await?;
    contracts::void_for_cancelled_booking(&mut *conn, booking.id, actor, org_id).await?;
    followed_by(conn, &booking, HandoffEvent::Cancelled).await?;
    Ok(booking)
}

/// Completes a booking on or after its date, and tells Finance.
pub async fn complete_booking(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    id: Uuid,
    expected_version: Option<i32>,
) -> Result<Booking, DomainError> {
    let booking = bookings::complete(&mut *conn, org_id, actor, id, expected_version).await?;
    followed_by(conn, &booking, HandoffEvent::Completed).await?;
    Ok(booking)
}

/// What every change of a booking causes: its Finance handoff and the
/// recomputation of both parties' trust.
async fn followed_by(
    conn: &mut PgConnection,
    booking: &Booking,
    event: HandoffEvent,
) -> Result<(), DomainError> {
    handoff::record(&mut *conn, booking.id, event).await?;
    changes::mark_trust(
        conn,
        &[booking.agency_company_id, booking.promoter_company_id],
    )
    .await
}
