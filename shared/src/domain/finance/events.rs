//! Inbound Finance events (SPEC 5.8): verified per Standard Webhooks,
//! stored once by `webhook-id`, and folded into the booking's finance by
//! their own time.
//!
//! What must stay true:
//! - nothing is stored unless the signature verifies against one of the
//!   configured secrets (several while one rotates) within 5 minutes;
//! - an event is stored and applied in one transaction, and a repeated
//!   `webhook-id` changes nothing (it is acknowledged like the first);
//! - an event older than what a part already shows does not overwrite it
//!   (Finance may deliver out of order);
//! - an unknown type or an unknown booking is stored unapplied and
//!   acknowledged, so Finance does not retry it forever.

use chrono::{DateTime, NaiveDate, Utc};
use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use standardwebhooks::Webhook;
use utoipa::ToSchema;
use uuid::Uuid;

use super::status::{DepositStatus, InvoiceStatus, SettlementStatus};
use crate::domain::booking::activity::{self, Change};
use crate::reference::Refs;
use crate::{DomainError, FieldError};

/// Why an inbound event was refused before anything was read from it.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// No `FINANCE_EVENTS_SECRET` is configured.
    #[error("Finance events are not configured")]
    Disabled,
    /// A header is missing, the timestamp is off, or no secret verifies.
    #[error("{0}")]
    Unverified(String),
}

/// Verifies the exact bytes received against every secret; any one
/// verifying is enough.
pub fn verify(secrets: &[SecretString], headers: &HeaderMap, body: &[u8]) -> Result<(), Refused> {
    if secrets.is_empty() {
        return Err(Refused::Disabled);
    }
    // The library subtracts the timestamp from now unchecked: anything
    // beyond a day either way is refused first.
    let plausible = headers
        .get("webhook-timestamp")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .and_then(|ts| chrono::Utc::now().timestamp().checked_sub(ts))
        .is_some_and(|skew| skew.unsigned_abs() <= 86_400);
    if !plausible {
        return Err(Refused::Unverified(
            "webhook-timestamp is missing or more than 5 minutes from now".to_owned(),
        ));
    }
    let mut last = None;
    for secret in secrets {
        let outcome =
            Webhook::new(secret.expose_secret()).and_then(|hook| hook.verify(body, headers));
        match outcome {
            Ok(()) => return Ok(()),
            Err(e) => last = Some(e),
        }
    }
    let reason = last.map_or_else(|| "no secret".to_owned(), |e| e.to_string());
    Err(Refused::Unverified(format!(
        "the event's Standard Webhooks signature does not verify: {reason}"
    )))
}

/// What happened, as Finance names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinanceEventType {
    DepositInvoiced,
    DepositPaid,
    DepositOverdue,
    DepositRefunded,
    InvoiceIssued,
    InvoicePaid,
    InvoiceVoid,
    SettlementDrafted,
    SettlementSettled,
}

/// The part of a booking's finance an event sets, and to what.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    Deposit(DepositStatus),
    Invoice(InvoiceStatus),
    Settlement(SettlementStatus),
}

impl Effect {
    /// The status the event sets, as the booking's finance shows it.
    pub fn status(self) -> &'static str {
        match self {
            Self::Deposit(s) => s.as_str(),
            Self::Invoice(s) => s.as_str(),
            Self::Settlement(s) => s.as_str(),
        }
    }
}

impl FinanceEventType {
    pub const ALL: [Self; 9] = [
        Self::DepositInvoiced,
        Self::DepositPaid,
        Self::DepositOverdue,
        Self::DepositRefunded,
        Self::InvoiceIssued,
        Self::InvoicePaid,
        Self::InvoiceVoid,
        Self::SettlementDrafted,
        Self::SettlementSettled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::DepositInvoiced => "deposit.invoiced",
            Self::DepositPaid => "deposit.paid",
            Self::DepositOverdue => "deposit.overdue",
            Self::DepositRefunded => "deposit.refunded",
            Self::InvoiceIssued => "invoice.issued",
            Self::InvoicePaid => "invoice.paid",
            Self::InvoiceVoid => "invoice.void",
            Self::SettlementDrafted => "settlement.drafted",
            Self::SettlementSettled => "settlement.settled",
        }
    }

    /// The type named `name`; `None` for one we do not know (yet).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    pub fn effect(self) -> Effect {
        match self {
            Self::DepositInvoiced => Effect::Deposit(DepositStatus::Invoiced),
            Self::DepositPaid => Effect::Deposit(DepositStatus::Paid),
            Self::DepositOverdue => Effect::Deposit(DepositStatus::Overdue),
            Self::DepositRefunded => Effect::Deposit(DepositStatus::Refunded),
            Self::InvoiceIssued => Effect::Invoice(InvoiceStatus::Issued),
            Self::InvoicePaid => Effect::Invoice(InvoiceStatus::Paid),
            Self::InvoiceVoid => Effect::Invoice(InvoiceStatus::Void),
            Self::SettlementDrafted => Effect::Settlement(SettlementStatus::Drafted),
            Self::SettlementSettled => Effect::Settlement(SettlementStatus::Settled),
        }
    }
}

/// An event as Finance sends it. Fields Finance adds later are kept in the
/// stored payload and otherwise ignored.
#[derive(Debug, Deserialize, ToSchema)]
pub struct FinanceEventIn {
    /// `deposit.invoiced|paid|overdue|refunded`, `invoice.issued|paid|void`,
    /// `settlement.drafted|settled`; any other type is stored unapplied.
    #[serde(rename = "type")]
    pub kind: String,
    pub booking_id: Uuid,
    /// When it happened at Finance; events apply in this order.
    pub occurred_at: DateTime<Utc>,
    /// For a known type, a [`FinanceEventData`].
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub data: Option<serde_json::Value>,
}

/// What a known event may carry.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct FinanceEventData {
    /// Integer minor units of `currency` (cents for EUR).
    pub amount: Option<i64>,
    /// ISO 4217; required with `amount`.
    pub currency: Option<String>,
    pub due_date: Option<NaiveDate>,
    /// Finance's id of the invoice (or deposit, settlement).
    pub reference: Option<String>,
}

/// The acknowledgement Finance gets; a repeat gets the same.
#[derive(Debug, Serialize, ToSchema)]
pub struct FinanceEventReceipt {
    pub webhook_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub booking_id: Uuid,
    /// Whether the event changed the booking's finance: false for an
    /// unknown type or booking, or an event older than what is shown.
    pub applied: bool,
    /// This `webhook-id` had been received before; nothing changed now.
    pub duplicate: bool,
}

const MAX_WEBHOOK_ID: usize = 200;
const MAX_REFERENCE: usize = 200;

/// Checks the data of a known event: money is an amount with a currency.
async fn checked_data(
    conn: &mut PgConnection,
    effect: Effect,
    data: Option<serde_json::Value>,
) -> Result<FinanceEventData, DomainError> {
    let data: FinanceEventData = match data {
        None | Some(serde_json::Value::Null) => FinanceEventData::default(),
        Some(value) => serde_json::from_value(value)
            .map_err(|e| DomainError::invalid("data", e.to_string()))?,
    };
    let mut errors = Vec::new();
    if data.amount.is_some() && data.currency.is_none() {
        errors.push(FieldError::new(
            "data.currency",
            "is required with an amount",
        ));
    }
    if data.currency.is_some() && data.amount.is_none() {
        errors.push(FieldError::new(
            "data.amount",
            "is required with a currency (they change together)",
        ));
    }
    if data.due_date.is_some_and(|d| !(plausible_date(d))) {
        errors.push(FieldError::new(
            "data.due_date",
            "must be between 1970-01-01 and 2200-12-31",
        ));
    }
    if data.amount.is_some_and(|a| a < 0) && !matches!(effect, Effect::Settlement(_)) {
        errors.push(FieldError::new("data.amount", "must not be negative"));
    }
    if data
        .reference
        .as_ref()
        .is_some_and(|r| r.chars().count() > MAX_REFERENCE)
    {
        errors.push(FieldError::new(
            "data.reference",
            "is longer than 200 characters",
        ));
    }
    errors.extend(
        Refs::new()
            .currency("data.currency", data.currency.as_deref())
            .unknown(conn)
            .await?,
    );
    if errors.is_empty() {
        Ok(data)
    } else {
        Err(DomainError::Validation(errors))
    }
}

/// Dates Finance may name: far from the limits of chrono and Postgres.
fn plausible_date(date: chrono::NaiveDate) -> bool {
    (chrono::NaiveDate::from_ymd_opt(1970, 1, 1)..=chrono::NaiveDate::from_ymd_opt(2200, 12, 31))
        .contains(&Some(date))
}

/// Stores a verified event once and applies it, in the caller's
/// transaction. `payload` is the whole body as received.
pub async fn receive(
    conn: &mut PgConnection,
    webhook_id: &str,
    event: FinanceEventIn,
    payload: &serde_json::Value,
) -> Result<FinanceEventReceipt, DomainError> {
    if webhook_id.is_empty() || webhook_id.chars().count() > MAX_WEBHOOK_ID {
        return Err(DomainError::invalid(
            "webhook-id",
            "must be 1 to 200 characters",
        ));
    }
    if !plausible_date(event.occurred_at.date_naive()) {
        return Err(DomainError::invalid(
            "occurred_at",
            "must be between 1970-01-01 and 2200-12-31",
        ));
    }
    let effect = FinanceEventType::parse(&event.kind).map(FinanceEventType::effect);
    let data = match effect {
        Some(effect) => Some(checked_data(&mut *conn, effect, event.data).await?),
        None => None,
    };
    let mut receipt = FinanceEventReceipt {
        webhook_id: webhook_id.to_owned(),
        kind: event.kind,
        booking_id: event.booking_id,
        applied: false,
        duplicate: false,
    };
    let stored = sqlx::query!(
        "INSERT INTO finance_events (webhook_id, type, booking_id, occurred_at, payload)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (webhook_id) DO NOTHING",
        webhook_id,
        receipt.kind,
        receipt.booking_id,
        event.occurred_at,
        payload,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if stored == 0 {
        receipt.duplicate = true;
        receipt.applied = sqlx::query_scalar!(
            "SELECT applied FROM finance_events WHERE webhook_id = $1",
            webhook_id
        )
        .fetch_one(&mut *conn)
        .await?;
        return Ok(receipt);
    }
    let (Some(effect), Some(data)) = (effect, data) else {
        return Ok(receipt);
    };
    let Some(booking) = sqlx::query!(
        "SELECT artist_id, agency_company_id, promoter_company_id FROM bookings WHERE id = $1",
        receipt.booking_id
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(receipt);
    };
    receipt.applied = apply(
        &mut *conn,
        receipt.booking_id,
        effect,
        &data,
        event.occurred_at,
    )
    .await?;
    if receipt.applied {
        sqlx::query!(
            "UPDATE finance_events SET applied = true WHERE webhook_id = $1",
            webhook_id
        )
        .execute(&mut *conn)
        .await?;
        activity::record(
            &mut *conn,
            Change {
                artist_id: booking.artist_id,
                subject_type: "finance",
                subject_id: receipt.booking_id,
                action: &receipt.kind,
                from: None,
                to: Some(effect.status()),
                actor: "finance",
                details: serde_json::json!({
                    "webhook_id": webhook_id,
                    "occurred_at": event.occurred_at,
                    "amount": data.amount,
                    "currency": data.currency,
                    "due_date": data.due_date,
                    "reference": data.reference,
                }),
            },
        )
        .await?;
        // Payment punctuality is part of trust and relationship memory.
        crate::domain::changes::mark_trust(
            &mut *conn,
            &[booking.agency_company_id, booking.promoter_company_id],
        )
        .await?;
    }
    Ok(receipt)
}

/// Sets one part of the booking's finance, unless that part already shows
/// an event at least as recent. Fields the event leaves out keep their
/// value. Whether anything changed.
async fn apply(
    conn: &mut PgConnection,
    booking_id: Uuid,
    effect: Effect,
    data: &FinanceEventData,
    at: DateTime<Utc>,
) -> Result<bool, DomainError> {
    let rows = match effect {
        // Generic plan: the `IS NULL OR` tests the stored row's column, not a parameter.
        Effect::Deposit(status) => sqlx::query!(
            "INSERT INTO booking_finance AS f (booking_id, deposit_status, deposit_amount,
                    deposit_currency, deposit_due_date, deposit_changed_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (booking_id) DO UPDATE SET
                    deposit_status = excluded.deposit_status,
                    deposit_amount = COALESCE(excluded.deposit_amount, f.deposit_amount),
                    deposit_currency = COALESCE(excluded.deposit_currency, f.deposit_currency),
                    deposit_due_date = COALESCE(excluded.deposit_due_date, f.deposit_due_date),
                    deposit_changed_at = excluded.deposit_changed_at,
                    updated_at = now()
              WHERE f.deposit_changed_at IS NULL OR excluded.deposit_changed_at >= f.deposit_changed_at",
            booking_id,
            status.as_str(),
            data.amount,
            data.currency.as_deref(),
            data.due_date,
            at,
        )
        .execute(&mut *conn)
        .await?
        .rows_affected(),
        // Generic plan: the `IS NULL OR` tests the stored row's column, not a parameter.
        Effect::Invoice(status) => sqlx::query!(
            "INSERT INTO booking_finance AS f (booking_id, invoice_status, invoice_amount,
                    invoice_currency, invoice_reference, invoice_due_date, invoice_changed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (booking_id) DO UPDATE SET
                    invoice_status = excluded.invoice_status,
                    invoice_amount = COALESCE(excluded.invoice_amount, f.invoice_amount),
                    invoice_currency = COALESCE(excluded.invoice_currency, f.invoice_currency),
                    invoice_reference = COALESCE(excluded.invoice_reference, f.invoice_reference),
                    invoice_due_date = COALESCE(excluded.invoice_due_date, f.invoice_due_date),
                    invoice_changed_at = excluded.invoice_changed_at,
                    updated_at = now()
              WHERE f.invoice_changed_at IS NULL OR excluded.invoice_changed_at >= f.invoice_changed_at",
            booking_id,
            status.as_str(),
            data.amount,
            data.currency.as_deref(),
            data.reference.as_deref(),
            data.due_date,
            at,
        )
        .execute(&mut *conn)
        .await?
        .rows_affected(),
        Effect::Settlement(status) => sqlx::query!(
            "INSERT INTO booking_finance AS f (booking_id, settlement_status, settlement_amount,
                    settlement_currency, settlement_changed_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (booking_id) DO UPDATE SET
                    settlement_status = excluded.settlement_status,
                    settlement_amount = COALESCE(excluded.settlement_amount, f.settlement_amount),
                    settlement_currency = COALESCE(excluded.settlement_currency, f.settlement_currency),
                    settlement_changed_at = excluded.settlement_changed_at,
                    updated_at = now()
              WHERE f.settlement_changed_at IS NULL
                 OR excluded.settlement_changed_at >= f.settlement_changed_at",
            booking_id,
            status.as_str(),
            data.amount,
            data.currency.as_deref(),
            at,
        )
        .execute(&mut *conn)
        .await?
        .rows_affected(),
    };
    Ok(rows == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips_and_sets_its_own_part() {
        for t in FinanceEventType::ALL {
            assert_eq!(FinanceEventType::parse(t.as_str()), Some(t));
            let part = t.as_str().split('.').next().unwrap();
            let (effect_part, status) = match t.effect() {
                Effect::Deposit(s) => ("deposit", s.as_str()),
                Effect::Invoice(s) => ("invoice", s.as_str()),
                Effect::Settlement(s) => ("settlement", s.as_str()),
            };
            assert_eq!(part, effect_part);
            assert_eq!(t.as_str(), format!("{part}.{status}"));
        }
        assert_eq!(FinanceEventType::parse("deposit.forgiven"), None);
        assert_eq!(FinanceEventType::parse("Deposit.Paid"), None);
    }

    #[test]
    fn verification_needs_a_secret_and_a_matching_signature() {
        let secret = SecretString::from("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let other = SecretString::from("whsec_c2Vjb25kLXNlY3JldC0wMTIzNDU2Nzg5");
        let body = br#"{"type":"deposit.paid"}"#;
        let now = Utc::now().timestamp();
        let signature = Webhook::new(other.expose_secret())
            .unwrap()
            .sign("msg_1", now, body)
            .unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("webhook-id", "msg_1".parse().unwrap());
        headers.insert("webhook-timestamp", now.to_string().parse().unwrap());
        headers.insert("webhook-signature", signature.parse().unwrap());
        assert!(matches!(
            verify(&[], &headers, body),
            Err(Refused::Disabled)
        ));
        assert!(matches!(
            verify(std::slice::from_ref(&secret), &headers, body),
            Err(Refused::Unverified(_))
        ));
        assert!(verify(&[secret, other.clone()], &headers, body).is_ok());
        assert!(verify(std::slice::from_ref(&other), &headers, b"{}").is_err());
        headers.remove("webhook-id");
        assert!(verify(&[other], &headers, body).is_err());
    }
}
