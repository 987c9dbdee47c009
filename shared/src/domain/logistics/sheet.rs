//! The advance sheet of a booking: who to call, the day's schedule, the
//! technical, hospitality and hotel arrangements, ground transport, the
//! guest list and merch terms.
//!
//! The sheet is one typed document stored as JSON (`booking_logistics`),
//! versioned for `If-Match`; a booking without one has an empty sheet at
//! version 0. The booking's agency writes it whole; the promoter proposes
//! sections ([`super::proposals`]), and an approval writes them in.
//! Amounts are integer minor units, stage dimensions integer centimetres
//! and shares basis points: no floating point anywhere a sum could be made.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use sqlx::types::Json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::access::Party;
use crate::domain::booking::activity::{self, Change};
use crate::domain::booking::bookings::{self, Booking, BookingStatus};
use crate::domain::precondition;
use crate::reference::Refs;
use crate::validate::Check;
use crate::{Code, DomainError};

/// Short text: names, labels, kinds.
const SHORT: usize = 200;
/// Free text of one arrangement.
const NOTE: usize = 2000;
/// The notes of a whole section.
const NOTES: usize = 5000;

/// The whole advance sheet. Every section may be left out (empty).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogisticsSheet {
    /// At most 50.
    #[serde(default)]
    pub contacts: Vec<LogisticsContact>,
    /// The show day's running order; at most 100 entries.
    #[serde(default)]
    pub schedule: Vec<LogisticsScheduleItem>,
    #[serde(default)]
    pub technical: LogisticsTechnical,
    #[serde(default)]
    pub hospitality: LogisticsHospitality,
    #[serde(default)]
    pub hotel: LogisticsHotel,
    /// Pick-ups and drives; at most 100.
    #[serde(default)]
    pub ground_transport: Vec<LogisticsTransfer>,
    #[serde(default)]
    pub guest_list: LogisticsGuestList,
    #[serde(default)]
    pub merch: LogisticsMerch,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogisticsContactRole {
    PromoterRep,
    ProductionManager,
    TourManager,
    Other,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogisticsContact {
    pub role: LogisticsContactRole,
    /// 1-200 characters.
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogisticsScheduleItem {
    /// What happens (load-in, soundcheck, doors, set ...), 1-200 characters.
    pub label: String,
    /// Local time at the venue, `HH:MM` (24 h).
    #[schema(example = "18:30")]
    pub time: String,
    #[serde(default)]
    pub notes: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogisticsTechnical {
    /// Stage width in whole centimetres (1-10000).
    #[serde(default)]
    pub stage_width_cm: Option<i32>,
    /// Stage depth in whole centimetres (1-10000).
    #[serde(default)]
    pub stage_depth_cm: Option<i32>,
    #[serde(default)]
    pub power: Option<String>,
    #[serde(default)]
    pub backline: Option<String>,
    /// Local crew provided (0-500).
    #[serde(default)]
    pub stagehands: Option<i32>,
    #[serde(default)]
    pub parking: Option<String>,
    #[serde(default)]
    pub dock: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogisticsHospitality {
    /// 0-50.
    #[serde(default)]
    pub dressing_rooms: Option<i32>,
    #[serde(default)]
    pub meals: Option<String>,
    #[serde(default)]
    pub dietary_needs: Option<String>,
    /// Cash in lieu of meals or drinks; at most 50.
    #[serde(default)]
    pub buyouts: Vec<LogisticsBuyout>,
    #[serde(default)]
    pub notes: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogisticsBuyout {
    pub description: String,
    /// Minor units of `currency` (cents for EUR), 0-1,000,000,000.
    pub amount: i64,
    /// ISO 4217.
    pub currency: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogisticsHotel {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub check_in: Option<NaiveDate>,
    /// On or after `check_in`.
    #[serde(default)]
    pub check_out: Option<NaiveDate>,
    /// At most 50.
    #[serde(default)]
    pub rooms: Vec<LogisticsHotelRoom>,
    /// At most 20.
    #[serde(default)]
    pub confirmation_numbers: Vec<String>,
    #[serde(default)]
    pub notes: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogisticsHotelRoom {
    /// Single, double, suite ...
    pub room_type: String,
    /// 1-100.
    pub count: i32,
    /// At most 20.
    #[serde(default)]
    pub guest_names: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogisticsTransfer {
    /// Car, van, shuttle, taxi ...
    pub kind: String,
    pub from: String,
    pub to: String,
    /// Local date and time of the pick-up, e.g. `2026-06-01T14:30:00`.
    #[serde(default)]
    pub at: Option<NaiveDateTime>,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub confirmation: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogisticsGuestList {
    /// Places the artist may fill (0-10000).
    #[serde(default)]
    pub allocation: Option<i32>,
    /// At most 1000.
    #[serde(default)]
    pub names: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogisticsMerch {
    /// Who sells: the venue, the artist's crew ...
    #[serde(default)]
    pub seller: Option<String>,
    /// The artist's share of merch sales in basis points (0-10000 = 0-100%).
    #[serde(default)]
    pub artist_share_bp: Option<i32>,
    #[serde(default)]
    pub notes: Option<String>,
}

/// A booking's advance sheet with its version.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct BookingLogistics {
    pub booking_id: Uuid,
    pub sheet: LogisticsSheet,
    /// 0 until the sheet is first saved; the `ETag`.
    pub version: i32,
    pub updated_by: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// Field names of nested values: `hotel.rooms[0].count`, or
/// `content.rooms[0].count` for a proposal's content.
pub(super) fn field(at: &str, name: &str) -> String {
    if at.is_empty() {
        name.to_owned()
    } else {
        format!("{at}.{name}")
    }
}

fn item(at: &str, name: &str, i: usize) -> String {
    format!("{}[{i}]", field(at, name))
}

/// Validation of a sheet or a section: field errors, and the reference
/// data it names (currencies), checked in one query at the end.
#[derive(Default)]
pub(super) struct Checker {
    pub check: Check,
    pub refs: Refs,
}

impl Checker {
    fn range<T: PartialOrd + Copy + std::fmt::Display>(
        &mut self,
        field: String,
        value: Option<T>,
        min: T,
        max: T,
    ) {
        if value.is_some_and(|v| v < min || v > max) {
            self.check
                .add(&field, format!("must be between {min} and {max}"));
        }
    }

    fn most<T>(&mut self, field: String, list: &[T], max: usize) {
        if list.len() > max {
            self.check
                .add(&field, format!("must have at most {max} entries"));
        }
    }

    fn opt(&mut self, field: String, value: Option<String>, max: usize) -> Option<String> {
        self.check.opt_text(&field, value.as_deref(), max)
    }

    fn text(&mut self, field: String, value: &str, max: usize) -> String {
        self.check.text(&field, value, 1, max)
    }

    fn names(&mut self, at: &str, name: &str, list: Vec<String>, max: usize) -> Vec<String> {
        self.most(field(at, name), &list, max);
        list.into_iter()
            .enumerate()
            .map(|(i, n)| self.text(item(at, name, i), &n, SHORT))
            .collect()
    }

    /// Field errors first (422 naming each), then unknown currencies.
    pub async fn finish(self, conn: &mut PgConnection) -> Result<(), DomainError> {
        self.check.finish()?;
        self.refs.check(conn).await
    }
}

impl LogisticsSheet {
    /// The sheet with text trimmed (blank optional text dropped), every
    /// problem recorded in `c`.
    pub(super) fn checked(self, c: &mut Checker) -> Self {
        c.most("contacts".into(), &self.contacts, 50);
        c.most("schedule".into(), &self.schedule, 100);
        c.most("ground_transport".into(), &self.ground_transport, 100);
        let contacts = self
            .contacts
            .into_iter()
            .enumerate()
            .map(|(i, contact)| {
                let at = item("", "contacts", i);
                LogisticsContact {
                    role: contact.role,
                    name: c.text(field(&at, "name"), &contact.name, SHORT),
                    email: c
                        .check
                        .email(&field(&at, "email"), contact.email.as_deref()),
                    phone: c
                        .check
                        .phone(&field(&at, "phone"), contact.phone.as_deref()),
                }
            })
            .collect();
        let schedule = self
            .schedule
            .into_iter()
            .enumerate()
            .map(|(i, entry)| {
                let at = item("", "schedule", i);
                let time = entry.time.trim().to_owned();
                if time.len() != 5 || NaiveTime::parse_from_str(&time, "%H:%M").is_err() {
                    c.check
                        .add(&field(&at, "time"), "must be a local time as HH:MM");
                }
                LogisticsScheduleItem {
                    label: c.text(field(&at, "label"), &entry.label, SHORT),
                    time,
                    notes: c.opt(field(&at, "notes"), entry.notes, NOTE),
                }
            })
            .collect();
        Self {
            contacts,
            schedule,
            technical: self.technical.checked(c, "technical"),
            hospitality: self.hospitality.checked(c, "hospitality"),
            hotel: self.hotel.checked(c, "hotel"),
            ground_transport: transfers_checked(self.ground_transport, c, "ground_transport"),
            guest_list: self.guest_list.checked(c, "guest_list"),
            merch: self.merch.checked(c, "merch"),
        }
    }
}

impl LogisticsTechnical {
    pub(super) fn checked(self, c: &mut Checker, at: &str) -> Self {
        c.range(field(at, "stage_width_cm"), self.stage_width_cm, 1, 10_000);
        c.range(field(at, "stage_depth_cm"), self.stage_depth_cm, 1, 10_000);
        c.range(field(at, "stagehands"), self.stagehands, 0, 500);
        Self {
            stage_width_cm: self.stage_width_cm,
            stage_depth_cm: self.stage_depth_cm,
            power: c.opt(field(at, "power"), self.power, NOTE),
            backline: c.opt(field(at, "backline"), self.backline, NOTE),
            stagehands: self.stagehands,
            parking: c.opt(field(at, "parking"), self.parking, NOTE),
            dock: c.opt(field(at, "dock"), self.dock, NOTE),
            notes: c.opt(field(at, "notes"), self.notes, NOTES),
        }
    }
}

impl LogisticsHospitality {
    pub(super) fn checked(self, c: &mut Checker, at: &str) -> Self {
        c.range(field(at, "dressing_rooms"), self.dressing_rooms, 0, 50);
        c.most(field(at, "buyouts"), &self.buyouts, 50);
        let buyouts = self
            .buyouts
            .into_iter()
            .enumerate()
            .map(|(i, b)| {
                let at = item(at, "buyouts", i);
                c.range(field(&at, "amount"), Some(b.amount), 0, 1_000_000_000);
                let currency_field = field(&at, "currency");
                let currency = c
                    .check
                    .currency(&currency_field, Some(&b.currency))
                    .unwrap_or_default();
                if currency.is_empty() {
                    c.check.add(&currency_field, "is required");
                } else {
                    c.refs.currency(currency_field, Some(&currency));
                }
                LogisticsBuyout {
                    description: c.text(field(&at, "description"), &b.description, SHORT),
                    amount: b.amount,
                    currency,
                }
            })
            .collect();
        Self {
            dressing_rooms: self.dressing_rooms,
            meals: c.opt(field(at, "meals"), self.meals, NOTE),
            dietary_needs: c.opt(field(at, "dietary_needs"), self.dietary_needs, NOTE),
            buyouts,
            notes: c.opt(field(at, "notes"), self.notes, NOTES),
        }
    }
}

impl LogisticsHotel {
    pub(super) fn checked(self, c: &mut Checker, at: &str) -> Self {
        if let (Some(check_in), Some(check_out)) = (self.check_in, self.check_out)
            && check_out < check_in
        {
            c.check
                .add(&field(at, "check_out"), "must be on or after check_in");
        }
        c.most(field(at, "rooms"), &self.rooms, 50);
        let rooms = self
            .rooms
            .into_iter()
            .enumerate()
            .map(|(i, room)| {
                let at = item(at, "rooms", i);
                c.range(field(&at, "count"), Some(room.count), 1, 100);
                LogisticsHotelRoom {
                    room_type: c.text(field(&at, "room_type"), &room.room_type, SHORT),
                    count: room.count,
                    guest_names: c.names(&at, "guest_names", room.guest_names, 20),
                }
            })
            .collect();
        Self {
            name: c.opt(field(at, "name"), self.name, SHORT),
            address: c.opt(field(at, "address"), self.address, 500),
            check_in: self.check_in,
            check_out: self.check_out,
            rooms,
            confirmation_numbers: c.names(
                at,
                "confirmation_numbers",
                self.confirmation_numbers,
                20,
            ),
            notes: c.opt(field(at, "notes"), self.notes, NOTES),
        }
    }
}

/// Ground transport entries, checked under `at` (a list).
pub(super) fn transfers_checked(
    list: Vec<LogisticsTransfer>,
    c: &mut Checker,
    at: &str,
) -> Vec<LogisticsTransfer> {
    c.most(at.to_owned(), &list, 100);
    list.into_iter()
        .enumerate()
        .map(|(i, t)| {
            let at = format!("{at}[{i}]");
            LogisticsTransfer {
                kind: c.text(field(&at, "kind"), &t.kind, SHORT),
                from: c.text(field(&at, "from"), &t.from, 500),
                to: c.text(field(&at, "to"), &t.to, 500),
                at: t.at,
                notes: c.opt(field(&at, "notes"), t.notes, NOTE),
                confirmation: c.opt(field(&at, "confirmation"), t.confirmation, SHORT),
            }
        })
        .collect()
}

impl LogisticsGuestList {
    fn checked(self, c: &mut Checker, at: &str) -> Self {
        c.range(field(at, "allocation"), self.allocation, 0, 10_000);
        Self {
            allocation: self.allocation,
            names: c.names(at, "names", self.names, 1000),
        }
    }
}

impl LogisticsMerch {
    fn checked(self, c: &mut Checker, at: &str) -> Self {
        c.range(
            field(at, "artist_share_bp"),
            self.artist_share_bp,
            0,
            10_000,
        );
        Self {
            seller: c.opt(field(at, "seller"), self.seller, SHORT),
            artist_share_bp: self.artist_share_bp,
            notes: c.opt(field(at, "notes"), self.notes, NOTE),
        }
    }
}

/// Locks the booking row for a change of its logistics (a cancellation
/// waits, and so does another writer of the sheet), then reads it as the
/// org may see it (404 when it is no party).
pub(super) async fn lock_booking(
    conn: &mut PgConnection,
    org_id: Uuid,
    booking_id: Uuid,
) -> Result<(Booking, Party), DomainError> {
    sqlx::query!(
        "SELECT id FROM bookings WHERE id = $1 FOR NO KEY UPDATE",
        booking_id
    )
    .fetch_optional(&mut *conn)
    .await?;
    let booking = bookings::get_for(&mut *conn, org_id, booking_id).await?;
    let party = crate::access::require_party(&mut *conn, org_id, booking.parties()).await?;
    Ok((booking, party))
}

/// 409 unless the booking is confirmed: logistics are arranged for a show
/// that is going ahead.
pub(super) fn require_confirmed(booking: &Booking) -> Result<(), DomainError> {
    if booking.status == BookingStatus::Confirmed {
        Ok(())
    } else {
        Err(DomainError::conflict(
            Code::BookingNotConfirmed,
            format!(
                "logistics are arranged for a confirmed booking; this one is {}",
                booking.status.as_str()
            ),
        ))
    }
}

pub(super) async fn load(
    conn: &mut PgConnection,
    booking_id: Uuid,
) -> Result<BookingLogistics, DomainError> {
    let row = sqlx::query!(
        r#"SELECT sheet AS "sheet: Json<LogisticsSheet>", version, updated_by, updated_at
             FROM booking_logistics WHERE booking_id = $1"#,
        booking_id
    )
    .fetch_optional(conn)
    .await?;
    Ok(match row {
        Some(row) => BookingLogistics {
            booking_id,
            sheet: row.sheet.0,
            version: row.version,
            updated_by: Some(row.updated_by),
            updated_at: Some(row.updated_at),
        },
        None => BookingLogistics {
            booking_id,
            sheet: LogisticsSheet::default(),
            version: 0,
            updated_by: None,
            updated_at: None,
        },
    })
}

/// The advance sheet of a booking the org is party to (404 otherwise).
pub async fn get_for(
    conn: &mut PgConnection,
    org_id: Uuid,
    booking_id: Uuid,
) -> Result<BookingLogistics, DomainError> {
    bookings::get_for(&mut *conn, org_id, booking_id).await?;
    load(conn, booking_id).await
}

/// Writes the sheet of a booking whose row the caller has locked: the
/// next version after `current` (a row is created at version 1).
pub(super) async fn write(
    conn: &mut PgConnection,
    booking: &Booking,
    sheet: &LogisticsSheet,
    current: i32,
    actor: &str,
    details: serde_json::Value,
) -> Result<BookingLogistics, DomainError> {
    let rows = sqlx::query!(
        "INSERT INTO booking_logistics (booking_id, sheet, version, updated_by)
         VALUES ($1, $2, 1, $3)
         ON CONFLICT (booking_id) DO UPDATE
            SET sheet = EXCLUDED.sheet, version = booking_logistics.version + 1,
                updated_by = EXCLUDED.updated_by, updated_at = now()
          WHERE booking_logistics.version = $4",
        booking.id,
        Json(sheet) as _,
        actor,
        current,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    crate::domain::guarded(rows, None)?;
    activity::record(
        &mut *conn,
        Change {
            artist_id: booking.artist_id,
            subject_type: "booking",
            subject_id: booking.id,
            action: "logistics_updated",
            from: None,
            to: None,
            actor,
            details: serde_json::json!({"logistics_version": current + 1, "details": details}),
        },
    )
    .await?;
    load(conn, booking.id).await
}

/// Replaces the whole sheet (the booking's agency only; the promoter
/// proposes sections instead), bumping its version.
pub async fn replace(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    booking_id: Uuid,
    sheet: LogisticsSheet,
    if_match: Option<i32>,
) -> Result<BookingLogistics, DomainError> {
    let (booking, party) = lock_booking(&mut *conn, org_id, booking_id).await?;
    if party != Party::Agency {
        return Err(DomainError::Forbidden(
            "the booking's agency writes the advance sheet; the promoter proposes changes to it",
        ));
    }
    let current = load(&mut *conn, booking_id).await?;
    precondition(if_match, current.version)?;
    let mut checker = Checker::default();
    let sheet = sheet.checked(&mut checker);
    checker.finish(&mut *conn).await?;
    require_confirmed(&booking)?;
    write(
        conn,
        &booking,
        &sheet,
        current.version,
        actor,
        serde_json::json!({"source": "edit"}),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(sheet: LogisticsSheet) -> Vec<String> {
        let mut c = Checker::default();
        sheet.checked(&mut c);
        match c.check.finish() {
            Ok(()) => Vec::new(),
            Err(DomainError::Validation(errors)) => errors.into_iter().map(|e| e.field).collect(),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn an_empty_sheet_is_valid_and_reads_back() {
        assert!(problems(LogisticsSheet::default()).is_empty());
        let json = serde_json::to_value(LogisticsSheet::default()).unwrap();
        let back: LogisticsSheet = serde_json::from_value(json).unwrap();
        assert_eq!(back, LogisticsSheet::default());
        assert!(serde_json::from_value::<LogisticsSheet>(serde_json::json!({"extra": 1})).is_err());
    }

    #[test]
    fn fields_are_named_with_their_path() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 6, d).unwrap();
        let sheet = LogisticsSheet {
            schedule: vec![LogisticsScheduleItem {
                label: "Doors".into(),
                time: "25:00".into(),
                notes: None,
            }],
            hotel: LogisticsHotel {
                check_in: Some(day(2)),
                check_out: Some(day(1)),
                rooms: vec![LogisticsHotelRoom {
                    room_type: "double".into(),
                    count: 0,
                    guest_names: vec![" ".into()],
                }],
                ..Default::default()
            },
            hospitality: LogisticsHospitality {
                buyouts: vec![LogisticsBuyout {
                    description: "Dinner".into(),
                    amount: -1,
                    currency: "euro".into(),
                }],
                ..Default::default()
            },
            merch: LogisticsMerch {
                artist_share_bp: Some(10_001),
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(
            problems(sheet),
            [
                "schedule[0].time",
                "hospitality.buyouts[0].amount",
                "hospitality.buyouts[0].currency",
                "hotel.check_out",
                "hotel.rooms[0].count",
                "hotel.rooms[0].guest_names[0]",
                "merch.artist_share_bp",
            ]
        );
    }

    #[test]
    fn text_is_trimmed_and_blank_options_dropped() {
        let mut c = Checker::default();
        let merch = LogisticsMerch {
            seller: Some("  ".into()),
            artist_share_bp: Some(10_000),
            notes: Some(" venue sells ".into()),
        }
        .checked(&mut c, "merch");
        assert!(c.check.finish().is_ok());
        assert_eq!(merch.seller, None);
        assert_eq!(merch.notes.as_deref(), Some("venue sells"));
    }
}
