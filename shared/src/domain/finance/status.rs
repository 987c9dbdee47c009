//! What Finance reported about a booking: one status per part (deposit,
//! invoice, settlement), each set by the newest event for that part, and
//! the read of it the booking's parties get.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::DomainError;
use crate::domain::booking::bookings;

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

/// Whether the deposit is overdue: Finance said so, or its due date has
/// passed and Finance has not reported it paid or refunded.
pub fn deposit_overdue(
    status: DepositStatus,
    due_date: Option<NaiveDate>,
    today: NaiveDate,
) -> bool {
    match status {
        DepositStatus::Overdue => true,
        DepositStatus::Paid | DepositStatus::Refunded => false,
        DepositStatus::NotReported | DepositStatus::Invoiced => {
            due_date.is_some_and(|due| due < today)
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
    /// while it is neither paid nor refunded.
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
    let row = sqlx::query!(
        r#"SELECT deposit_status AS "deposit_status: DepositStatus", deposit_amount,
                  deposit_currency, deposit_due_date, deposit_changed_at,
                  invoice_status AS "invoice_status: InvoiceStatus", invoice_amount,
                  invoice_currency, invoice_reference, invoice_due_date, invoice_changed_at,
                  settlement_status AS "settlement_status: SettlementStatus", settlement_amount,
                  settlement_currency, settlement_changed_at, updated_at
             FROM booking_finance WHERE booking_id = $1"#,
        booking.id,
    )
    .fetch_optional(conn)
    .await?;
    let today = Utc::now().date_naive();
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
                deposit_overdue: deposit_overdue(deposit_status, r.deposit_due_date, today),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overdue_when_finance_says_so_or_the_due_date_passed_unpaid() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        let past = NaiveDate::from_ymd_opt(2026, 12, 2);
        let future = NaiveDate::from_ymd_opt(2026, 12, 4);
        use DepositStatus::*;
        for (status, due, overdue) in [
            (Overdue, None, true),
            (Overdue, future, true),
            (Invoiced, past, true),
            (NotReported, past, true),
            (Invoiced, Some(today), false),
            (Invoiced, future, false),
            (Invoiced, None, false),
            (Paid, past, false),
            (Refunded, past, false),
            (NotReported, None, false),
        ] {
            assert_eq!(
                deposit_overdue(status, due, today),
                overdue,
                "{status:?} {due:?}"
            );
        }
    }
}
