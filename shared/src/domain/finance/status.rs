//! What Finance reported about a booking: one status per part (deposit,
//! invoice, settlement), each set by the newest event for that part, and
//! the read of it the booking's parties get.
//!
//! When a deposit is late is decided in one place, the SQL function
//! `kisum_deposit_overdue(deposit_status, due_date, booking_cancelled,
//! on_day)` (migration `20261206000100_exact_deal_terms.sql`): Finance said
//! overdue, or the due date has passed while the deposit is neither paid
//! nor refunded, on a booking that is not cancelled. The booking's finance
//! read ([`for_booking`]), the promoter dashboard ([`overdue_on`]) and the
//! `deposit_outcomes` view (trust and relationship figures) all call it.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::DomainError;
use crate::domain::booking::bookings::{self, BookingStatus};

/// The deposit as Finance last reported it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum DepositStatus {
    /// Finance has said nothing about the deposit yet.
    NotReported,
    Invoiced,
    Paid,
    Overdue,
    Refunded,
}

/// The invoice as Finance last reported it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum InvoiceStatus {
    NotReported,
    Issued,
    Paid,
    Void,
}

/// The settlement as Finance last reported it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum SettlementStatus {
    NotReported,
    Drafted,
    Settled,
}

impl DepositStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotReported => "not_reported",
            Self::Invoiced => "invoiced",
            Self::Paid => "paid",
            Self::Overdue => "overdue",
            Self::Refunded => "refunded",
        }
    }
}

impl InvoiceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotReported => "not_reported",
            Self::Issued => "issued",
            Self::Paid => "paid",
            Self::Void => "void",
        }
    }
}

impl SettlementStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotReported => "not_reported",
            Self::Drafted => "drafted",
            Self::Settled => "settled",
        }
    }
}

/// The deposit part. Amounts are integer minor units of `currency`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct FinanceDeposit {
    pub status: DepositStatus,
    pub amount: Option<i64>,
    pub currency: Option<String>,
    pub due_date: Option<NaiveDate>,
    /// When Finance said the status changed (the event's `occurred_at`).
    pub changed_at: Option<DateTime<Utc>>,
}

/// The invoice part. Amounts are integer minor units of `currency`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct FinanceInvoice {
    pub status: InvoiceStatus,
    pub amount: Option<i64>,
    pub currency: Option<String>,
    pub due_date: Option<NaiveDate>,
    /// Finance's own id of the invoice.
    pub reference: Option<String>,
    pub changed_at: Option<DateTime<Utc>>,
}

/// The settlement part. Amounts are integer minor units of `currency`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct FinanceSettlement {
    pub status: SettlementStatus,
    pub amount: Option<i64>,
    pub currency: Option<String>,
    pub changed_at: Option<DateTime<Utc>>,
}

/// A booking's finance as Finance reported it; every part `not_reported`
/// until Finance says something.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct BookingFinance {
    pub booking_id: Uuid,
    pub deposit: FinanceDeposit,
    /// Finance reported the deposit overdue, or its due date has passed
    /// while it is neither paid nor refunded and the booking is not
    /// cancelled. Dashboards and late-payment figures use the same rule.
    pub deposit_overdue: bool,
    pub invoice: FinanceInvoice,
    pub settlement: FinanceSettlement,
    /// When an event last changed any part; null when none has.
    pub updated_at: Option<DateTime<Utc>>,
}

/// The booking's finance, for either party of it (404 for anyone else).
pub async fn for_booking(
    conn: &mut PgConnection,
    org_id: Uuid,
    booking_id: Uuid,
) -> Result<BookingFinance, DomainError> {
    let booking = bookings::get_for(&mut *conn, org_id, booking_id).await?;
    let today = Utc::now().date_naive();
    let row = sqlx::query!(
        r#"SELECT deposit_status AS "deposit_status: DepositStatus", deposit_amount,
                  kisum_deposit_overdue(deposit_status, deposit_due_date, $2, $3) AS "deposit_overdue!",
                  deposit_currency, deposit_due_date, deposit_changed_at,
                  invoice_status AS "invoice_status: InvoiceStatus", invoice_amount,
                  invoice_currency, invoice_reference, invoice_due_date, invoice_changed_at,
                  settlement_status AS "settlement_status: SettlementStatus", settlement_amount,
                  settlement_currency, settlement_changed_at, updated_at
             FROM booking_finance WHERE booking_id = $1"#,
        booking.id,
        booking.status == BookingStatus::Cancelled,
        today,
    )
    .fetch_optional(conn)
    .await?;
    Ok(match row {
        None => BookingFinance {
            booking_id: booking.id,
            deposit: FinanceDeposit {
                status: DepositStatus::NotReported,
                amount: None,
                currency: None,
                due_date: None,
                changed_at: None,
            },
            deposit_overdue: false,
            invoice: FinanceInvoice {
                status: InvoiceStatus::NotReported,
                amount: None,
                currency: None,
                due_date: None,
                reference: None,
                changed_at: None,
            },
            settlement: FinanceSettlement {
                status: SettlementStatus::NotReported,
                amount: None,
                currency: None,
                changed_at: None,
            },
            updated_at: None,
        },
        Some(r) => {
            let deposit_status = r.deposit_status.unwrap_or(DepositStatus::NotReported);
            BookingFinance {
                booking_id: booking.id,
                deposit_overdue: r.deposit_overdue,
                deposit: FinanceDeposit {
                    status: deposit_status,
                    amount: r.deposit_amount,
                    currency: r.deposit_currency,
                    due_date: r.deposit_due_date,
                    changed_at: r.deposit_changed_at,
                },
                invoice: FinanceInvoice {
                    status: r.invoice_status.unwrap_or(InvoiceStatus::NotReported),
                    amount: r.invoice_amount,
                    currency: r.invoice_currency,
                    due_date: r.invoice_due_date,
                    reference: r.invoice_reference,
                    changed_at: r.invoice_changed_at,
                },
                settlement: FinanceSettlement {
                    status: r.settlement_status.unwrap_or(SettlementStatus::NotReported),
                    amount: r.settlement_amount,
                    currency: r.settlement_currency,
                    changed_at: r.settlement_changed_at,
                },
                updated_at: Some(r.updated_at),
            }
        }
    })
}

/// The deposit rule for deposits of bookings that are not cancelled, as of
/// `on_day`: one flag per `(status, due date)`, in order, from one query.
pub async fn overdue_on(
    conn: &mut PgConnection,
    deposits: &[(String, Option<NaiveDate>)],
    on_day: NaiveDate,
) -> Result<Vec<bool>, DomainError> {
    let (statuses, due_dates): (Vec<String>, Vec<Option<NaiveDate>>) =
        deposits.iter().cloned().unzip();
    let flags = sqlx::query_scalar!(
        r#"SELECT kisum_deposit_overdue(d.status, d.due_date, false, $3) AS "overdue!"
             FROM unnest($1::text[], $2::date[]) WITH ORDINALITY AS d (status, due_date, n)
            ORDER BY d.n"#,
        &statuses,
        &due_dates as &[Option<NaiveDate>],
        on_day,
    )
    .fetch_all(conn)
    .await?;
    Ok(flags)
}
