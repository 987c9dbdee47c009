//! Routing: the legs between a tour's stops in routing order, with
//! great-circle distance and an estimated drive, the days off, and the
//! warnings an agent routing by hand would look for.
//!
//! A leg's road distance is the great-circle distance times a road factor;
//! its drive is that distance at the travel mode's average speed. The time
//! a leg may take runs from the end of one day (the show's last `set` or
//! `curfew` item, else 23:00 local, plus an hour's load-out; 09:00 local
//! for a day without a show) to the next stop's first `load_in` item (else
//! 14:00 local; 21:00 for a day without a show). Every number is in
//! [`RoutingPolicy`] and documented in docs/areas/touring.md.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::stops::StopKind;
use super::tours::TravelMode;
use crate::DomainError;
use crate::access;

/// Mean Earth radius (IUGG), km.
const EARTH_RADIUS_KM: f64 = 6371.0088;

/// The assumptions behind estimated drives; configurable per deployment.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct RoutingPolicy {
    /// Road distance over great-circle distance.
    pub road_factor: f64,
    pub bus_kmh: u32,
    pub van_kmh: u32,
    pub car_kmh: u32,
    /// Most driving in one day (EU Regulation 561/2006 allows a driver 9 hours).
    pub max_drive_minutes_per_day: i64,
    /// From the end of a show until the party can leave.
    pub load_out_minutes: i64,
}

impl Default for RoutingPolicy {
    fn default() -> Self {
        Self {
            road_factor: 1.25,
            bus_kmh: 70,
            van_kmh: 85,
            car_kmh: 90,
            max_drive_minutes_per_day: 9 * 60,
            load_out_minutes: 60,
        }
    }
}

impl RoutingPolicy {
    pub fn speed_kmh(&self, mode: TravelMode) -> u32 {
        match mode {
            TravelMode::Bus => self.bus_kmh,
            TravelMode::Van => self.van_kmh,
            TravelMode::Car => self.car_kmh,
        }
    }
}

/// What a warning is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoutingWarningCode {
    /// The drive takes longer than the time from the end of one day to the
    /// next stop's load-in.
    LegExceedsGap,
    /// The drive is longer than the daily driving limit allows over the
    /// days between the stops.
    LegExceedsDailyDriveLimit,
    /// Two or more stops on one date.
    TwoStopsOneDay,
    /// A stop's date is before the previous stop's in routing order.
    DatesOutOfOrder,
    /// A show or promo inside the radius clause of another confirmed
    /// booking of the artist (in this tour or not).
    RadiusClauseConflict,
    /// A show or promo outside the territory the booking agency represents
    /// the artist in.
    OutsideTerritory,
    /// A show whose booking is no longer confirmed.
    BookingNotConfirmed,
}

#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct RoutingWarning {
    pub code: RoutingWarningCode,
    pub message: String,
    /// The stops concerned, in routing order.
    pub stop_ids: Vec<Uuid>,
    /// The other booking, for a radius-clause conflict.
    pub booking_id: Option<Uuid>,
}

#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct RoutingLeg {
    pub from_stop_id: Uuid,
    pub to_stop_id: Uuid,
    pub from_city: String,
    pub to_city: String,
    pub from_date: NaiveDate,
    pub to_date: NaiveDate,
    /// Great-circle distance, km, one decimal.
    pub distance_km: f64,
    /// Estimated road distance, km, one decimal.
    pub road_km: f64,
    pub drive_minutes: i64,
    /// When the party can leave the first stop.
    pub departs_at: DateTime<Utc>,
    /// When it must be at the next stop.
    pub arrive_by: DateTime<Utc>,
    /// Minutes between the two; negative when the next day starts first.
    pub available_minutes: i64,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TourRouting {
    pub tour_id: Uuid,
    pub travel_mode: TravelMode,
    pub speed_kmh: u32,
    pub policy: RoutingPolicy,
    pub legs: Vec<RoutingLeg>,
    /// Dates between the first and last stop with no show, promo,
    /// rehearsal or travel.
    pub days_off: Vec<NaiveDate>,
    pub total_road_km: f64,
    pub total_drive_minutes: i64,
    pub warnings: Vec<RoutingWarning>,
}

/// A stop as routing sees it.
#[derive(Clone, Debug)]
pub struct StopFacts {
    pub id: Uuid,
    pub kind: StopKind,
    pub date: NaiveDate,
    pub city: String,
    pub latitude: f64,
    pub longitude: f64,
    pub tz: Tz,
    pub booking_id: Option<Uuid>,
    /// Whether a show's booking is still confirmed (or completed).
    pub booking_live: bool,
    /// Whether the booking agency's territory covers the city: `None` when
    /// not checked (no agency to ask).
    pub in_territory: Option<bool>,
    /// The end of the day's show, from the itinerary.
    pub show_end: Option<DateTime<Utc>>,
    /// The day's first load-in, from the itinerary.
    pub load_in: Option<DateTime<Utc>>,
}

/// A confirmed booking of the artist with a radius clause.
#[derive(Clone, Debug)]
pub struct RadiusBooking {
    pub booking_id: Uuid,
    pub date: NaiveDate,
    pub city: String,
    pub latitude: f64,
    pub longitude: f64,
    pub km: i32,
    pub days_before: i32,
    pub days_after: i32,
    /// Whether the caller is a party of that booking; a booking of another
    /// agency's or promoter's is named by neither id, place nor terms.
    pub visible: bool,
}

/// Great-circle (haversine) distance in km.
pub fn great_circle_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
}

fn one_decimal(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// A local wall-clock time as an instant: the earlier one when the clock
/// goes back, and an hour later when it skips the time.
pub fn local_instant(tz: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let naive = date.and_time(time);
    tz.from_local_datetime(&naive)
        .earliest()
        .or_else(|| {
            naive
                .checked_add_signed(Duration::hours(1))
                .and_then(|later| tz.from_local_datetime(&later).earliest())
        })
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&naive))
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN)
}

fn is_show(kind: StopKind) -> bool {
    kind == StopKind::Show
}

fn departs(policy: &RoutingPolicy, stop: &StopFacts) -> DateTime<Utc> {
    if is_show(stop.kind) {
        stop.show_end
            .unwrap_or_else(|| local_instant(stop.tz, stop.date, hm(23, 0)))
            + Duration::minutes(policy.load_out_minutes)
    } else {
        local_instant(stop.tz, stop.date, hm(9, 0))
    }
}

fn arrive_by(stop: &StopFacts) -> DateTime<Utc> {
    if is_show(stop.kind) {
        stop.load_in
            .unwrap_or_else(|| local_instant(stop.tz, stop.date, hm(14, 0)))
    } else {
        local_instant(stop.tz, stop.date, hm(21, 0))
    }
}

/// Legs, days off and warnings for stops in routing order. Pure: the
/// database work is in [`routing_for`].
pub fn plan(
    policy: &RoutingPolicy,
    mode: TravelMode,
    stops: &[StopFacts],
    radius: &[RadiusBooking],
) -> (Vec<RoutingLeg>, Vec<NaiveDate>, Vec<RoutingWarning>) {
    let speed = f64::from(policy.speed_kmh(mode).max(1));
    let mut legs = Vec::with_capacity(stops.len().saturating_sub(1));
    let mut warnings = Vec::new();
    for pair in stops.windows(2) {
        let [a, b] = pair else { continue };
        let distance = great_circle_km(a.latitude, a.longitude, b.latitude, b.longitude);
        let road = distance * policy.road_factor;
        // Whole minutes; f64 to i64 saturates.
        let drive_minutes = (road / speed * 60.0).round() as i64;
        let departs_at = departs(policy, a);
        let arrive_by = arrive_by(b);
        let available_minutes = (arrive_by - departs_at).num_minutes();
        let days = (b.date - a.date).num_days();
        let route = format!("{} → {}", a.city, b.city);
        if days < 0 {
            warnings.push(RoutingWarning {
                code: RoutingWarningCode::DatesOutOfOrder,
                message: format!("{route}: {} comes before {}", b.date, a.date),
                stop_ids: vec![a.id, b.id],
                booking_id: None,
            });
        } else if drive_minutes > 0 {
            if drive_minutes > available_minutes {
                warnings.push(RoutingWarning {
                    code: RoutingWarningCode::LegExceedsGap,
                    message: format!(
                        "{route}: about {} of driving, {} available",
                        hours(drive_minutes),
                        hours(available_minutes.max(0)),
                    ),
                    stop_ids: vec![a.id, b.id],
                    booking_id: None,
                });
            }
            let limit = policy.max_drive_minutes_per_day * days.max(1);
            if drive_minutes > limit {
                warnings.push(RoutingWarning {
                    code: RoutingWarningCode::LegExceedsDailyDriveLimit,
                    message: format!(
                        "{route}: about {} of driving over {} day(s), more than {} a day",
                        hours(drive_minutes),
                        days.max(1),
                        hours(policy.max_drive_minutes_per_day),
                    ),
                    stop_ids: vec![a.id, b.id],
                    booking_id: None,
                });
            }
        }
        legs.push(RoutingLeg {
            from_stop_id: a.id,
            to_stop_id: b.id,
            from_city: a.city.clone(),
            to_city: b.city.clone(),
            from_date: a.date,
            to_date: b.date,
            distance_km: one_decimal(distance),
            road_km: one_decimal(road),
            drive_minutes,
            departs_at,
            arrive_by,
            available_minutes,
        });
    }

    let mut by_date: BTreeMap<NaiveDate, Vec<Uuid>> = BTreeMap::new();
    for stop in stops {
        by_date.entry(stop.date).or_default().push(stop.id);
    }
    for (date, ids) in &by_date {
        if ids.len() > 1 {
            warnings.push(RoutingWarning {
                code: RoutingWarningCode::TwoStopsOneDay,
                message: format!("{} stops on {date}", ids.len()),
                stop_ids: ids.clone(),
                booking_id: None,
            });
        }
    }

    for stop in stops {
        let checked = matches!(stop.kind, StopKind::Show | StopKind::Promo);
        if is_show(stop.kind) && !stop.booking_live {
            warnings.push(RoutingWarning {
                code: RoutingWarningCode::BookingNotConfirmed,
                message: format!(
                    "the show in {} on {} is no longer confirmed",
                    stop.city, stop.date
                ),
                stop_ids: vec![stop.id],
                booking_id: stop.booking_id,
            });
        }
        if checked && stop.in_territory == Some(false) {
            warnings.push(RoutingWarning {
                code: RoutingWarningCode::OutsideTerritory,
                message: format!(
                    "{} is outside the territory the agency represents the artist in",
                    stop.city
                ),
                stop_ids: vec![stop.id],
                booking_id: stop.booking_id,
            });
        }
        if !checked {
            continue;
        }
        for clause in radius {
            if Some(clause.booking_id) == stop.booking_id {
                continue;
            }
            let from = clause.date - Duration::days(i64::from(clause.days_before));
            let to = clause.date + Duration::days(i64::from(clause.days_after));
            if stop.date < from || stop.date > to {
                continue;
            }
            let km = great_circle_km(
                stop.latitude,
                stop.longitude,
                clause.latitude,
                clause.longitude,
            );
            if km <= f64::from(clause.km) && !clause.visible {
                warnings.push(RoutingWarning {
                    code: RoutingWarningCode::RadiusClauseConflict,
                    message: format!(
                        "{} on {} is inside the radius clause of another confirmed booking of the artist",
                        stop.city, stop.date
                    ),
                    stop_ids: vec![stop.id],
                    booking_id: None,
                });
            } else if km <= f64::from(clause.km) {
                warnings.push(RoutingWarning {
                    code: RoutingWarningCode::RadiusClauseConflict,
                    message: format!(
                        "{} on {} is {:.0} km from the show in {} on {}, whose radius clause bars {} km from {} days before to {} days after",
                        stop.city,
                        stop.date,
                        km,
                        clause.city,
                        clause.date,
                        clause.km,
                        clause.days_before,
                        clause.days_after,
                    ),
                    stop_ids: vec![stop.id],
                    booking_id: Some(clause.booking_id),
                });
            }
        }
    }

    let days_off = match (by_date.keys().next(), by_date.keys().next_back()) {
        (Some(&first), Some(&last)) => {
            let busy: BTreeSet<NaiveDate> = stops
                .iter()
                .filter(|s| s.kind != StopKind::DayOff)
                .map(|s| s.date)
                .collect();
            first
                .iter_days()
                .take_while(|d| *d <= last)
                .filter(|d| !busy.contains(d))
                .collect()
        }
        _ => Vec::new(),
    };
    (legs, days_off, warnings)
}

fn hours(minutes: i64) -> String {
    format!("{}h{:02}", minutes / 60, minutes % 60)
}

/// The end of a day's show and its first load-in, from the itinerary.
type DayMarks = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// The routing of a tour (the artist side).
pub async fn routing_for(
    conn: &mut PgConnection,
    org_id: Uuid,
    tour_id: Uuid,
    policy: &RoutingPolicy,
) -> Result<TourRouting, DomainError> {
    let access = access::tour_access(&mut *conn, org_id, tour_id).await?;
    access.require_artist_side()?;
    let mode = sqlx::query_scalar!(
        r#"SELECT travel_mode AS "mode: TravelMode" FROM tours WHERE id = $1"#,
        tour_id
    )
    .fetch_one(&mut *conn)
    .await?;
    let rows = sqlx::query!(
        r#"SELECT s.id, s.kind AS "kind: StopKind", s.stop_date, ci.name AS city, ci.latitude, ci.longitude,
                  ci.timezone, s.booking_id, b.status AS "booking_status?",
                  CASE WHEN s.kind IN ('show', 'promo') THEN
                      (SELECT l.worldwide OR ci.country_code::text = ANY (l.areas) OR ci.region_code = ANY (l.areas)
                         FROM roster_links l
                        WHERE l.company_id = COALESCE(b.agency_company_id, t.company_id)
                          AND l.artist_id = t.artist_id AND l.role = 'booking')
                  END AS in_territory
             FROM tour_stops s
             JOIN tours t ON t.id = s.tour_id
             JOIN cities ci ON ci.id = s.city_id
             LEFT JOIN bookings b ON b.id = s.booking_id
            WHERE s.tour_id = $1
            ORDER BY s.position"#,
        tour_id
    )
    .fetch_all(&mut *conn)
    .await?;
    let marks = sqlx::query!(
        r#"SELECT day, max(COALESCE(ends_at, starts_at)) FILTER (WHERE kind IN ('set', 'curfew')) AS show_end,
                  min(starts_at) FILTER (WHERE kind = 'load_in') AS load_in
             FROM itinerary_items
            WHERE tour_id = $1 AND kind IN ('set', 'curfew', 'load_in') AND starts_at IS NOT NULL
            GROUP BY day"#,
        tour_id
    )
    .fetch_all(&mut *conn)
    .await?;
    let marks: HashMap<NaiveDate, DayMarks> = marks
        .into_iter()
        .map(|m| (m.day, (m.show_end, m.load_in)))
        .collect();
    let stops: Vec<StopFacts> = rows
        .into_iter()
        .map(|r| {
            let (show_end, load_in) = marks.get(&r.stop_date).copied().unwrap_or_default();
            let show = r.kind == StopKind::Show;
            StopFacts {
                id: r.id,
                kind: r.kind,
                date: r.stop_date,
                city: r.city,
                latitude: r.latitude,
                longitude: r.longitude,
                tz: r.timezone.parse().unwrap_or(Tz::UTC),
                booking_id: r.booking_id,
                booking_live: r
                    .booking_status
                    .as_deref()
                    .is_some_and(|s| s == "confirmed" || s == "completed"),
                // A show whose agency no longer represents the artist is outside.
                in_territory: if show {
                    Some(r.in_territory.unwrap_or(false))
                } else {
                    r.in_territory
                },
                show_end,
                load_in,
            }
        })
        .collect();
    let first = stops.iter().map(|s| s.date).min();
    let last = stops.iter().map(|s| s.date).max();
    let radius = match (first, last) {
        (Some(first), Some(last)) => sqlx::query!(
            r#"SELECT b.id, b.event_date, ci.name AS city, ci.latitude, ci.longitude,
                      (b.deal -> 'radius' ->> 'km')::int AS "km!",
                      (b.deal -> 'radius' ->> 'days_before')::int AS "days_before!",
                      (b.deal -> 'radius' ->> 'days_after')::int AS "days_after!",
                      EXISTS (SELECT 1 FROM org_companies oc
                               WHERE oc.org_id = $4 AND oc.company_id IN (b.agency_company_id, b.promoter_company_id)) AS "visible!"
                 FROM bookings b
                 JOIN offers o ON o.id = b.offer_id
                 JOIN cities ci ON ci.id = o.venue_city_id
                WHERE b.artist_id = $1 AND b.status = 'confirmed'
                  AND jsonb_typeof(b.deal -> 'radius') = 'object'
                  AND b.event_date BETWEEN $2::date - 366 AND $3::date + 366"#,
            access.artist_id,
            first,
            last,
            org_id,
        )
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|r| RadiusBooking {
            booking_id: r.id,
            date: r.event_date,
            city: r.city,
            latitude: r.latitude,
            longitude: r.longitude,
            km: r.km,
            days_before: r.days_before,
            days_after: r.days_after,
            visible: r.visible,
        })
        .collect(),
        _ => Vec::new(),
    };
    let (legs, days_off, warnings) = plan(policy, mode, &stops, &radius);
    Ok(TourRouting {
        tour_id,
        travel_mode: mode,
        speed_kmh: policy.speed_kmh(mode),
        policy: policy.clone(),
        total_road_km: one_decimal(legs.iter().map(|l| l.road_km).sum()),
        total_drive_minutes: legs.iter().map(|l| l.drive_minutes).sum(),
        legs,
        days_off,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap_or_default()
    }

    fn stop(kind: StopKind, day: &str, city: &str, lat: f64, lon: f64, tz: Tz) -> StopFacts {
        StopFacts {
            id: Uuid::now_v7(),
            kind,
            date: date(day),
            city: city.into(),
            latitude: lat,
            longitude: lon,
            tz,
            booking_id: (kind == StopKind::Show).then(Uuid::now_v7),
            booking_live: true,
            in_territory: (kind == StopKind::Show).then_some(true),
            show_end: None,
            load_in: None,
        }
    }

    fn codes(w: &[RoutingWarning]) -> Vec<RoutingWarningCode> {
        w.iter().map(|w| w.code).collect()
    }

    #[test]
    fn great_circle_matches_known_distances() {
        // Paris - London, about 344 km; Amsterdam - Berlin, about 577 km.
        let pl = great_circle_km(48.8566, 2.3522, 51.5074, -0.1278);
        assert!((pl - 343.5).abs() < 2.0, "{pl}");
        let ab = great_circle_km(52.3676, 4.9041, 52.52, 13.405);
        assert!((ab - 577.0).abs() < 3.0, "{ab}");
        assert_eq!(great_circle_km(10.0, 10.0, 10.0, 10.0), 0.0);
    }

    #[test]
    fn an_overnight_leg_of_1200_km_is_too_long() {
        let policy = RoutingPolicy::default();
        let stops = [
            stop(
                StopKind::Show,
                "2027-03-01",
                "Amsterdam",
                52.3676,
                4.9041,
                chrono_tz::Europe::Amsterdam,
            ),
            stop(
                StopKind::Show,
                "2027-03-02",
                "Milan",
                45.4642,
                9.19,
                chrono_tz::Europe::Rome,
            ),
        ];
        let (legs, days_off, warnings) = plan(&policy, TravelMode::Bus, &stops, &[]);
        assert_eq!(legs.len(), 1);
        let leg = &legs[0];
        // 827 km as the crow flies, about 1,030 km of road, nearly 15 hours at 70 km/h.
        assert!((leg.distance_km - 827.0).abs() < 5.0, "{}", leg.distance_km);
        assert!(leg.drive_minutes > 14 * 60, "{}", leg.drive_minutes);
        // 23:00 + 1 h load-out in Amsterdam to 14:00 load-in in Milan: 14 hours.
        assert_eq!(leg.available_minutes, 14 * 60);
        assert_eq!(
            codes(&warnings),
            [
                RoutingWarningCode::LegExceedsGap,
                RoutingWarningCode::LegExceedsDailyDriveLimit
            ]
        );
        assert!(days_off.is_empty());
    }

    #[test]
    fn a_day_off_between_stretches_the_limit_and_is_listed() {
        let policy = RoutingPolicy::default();
        let stops = [
            stop(
                StopKind::Show,
                "2027-03-01",
                "Amsterdam",
                52.3676,
                4.9041,
                chrono_tz::Europe::Amsterdam,
            ),
            stop(
                StopKind::Show,
                "2027-03-03",
                "Milan",
                45.4642,
                9.19,
                chrono_tz::Europe::Rome,
            ),
        ];
        let (_, days_off, warnings) = plan(&policy, TravelMode::Bus, &stops, &[]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(days_off, [date("2027-03-02")]);
    }

    #[test]
    fn itinerary_times_replace_the_defaults() {
        let policy = RoutingPolicy::default();
        let mut a = stop(
            StopKind::Show,
            "2027-03-01",
            "Utrecht",
            52.0907,
            5.1214,
            chrono_tz::Europe::Amsterdam,
        );
        let mut b = stop(
            StopKind::Show,
            "2027-03-02",
            "Cologne",
            50.9375,
            6.9603,
            chrono_tz::Europe::Berlin,
        );
        a.show_end = Some(local_instant(a.tz, date("2027-03-02"), hm(1, 30)));
        b.load_in = Some(local_instant(b.tz, b.date, hm(8, 0)));
        let (legs, _, warnings) = plan(&policy, TravelMode::Car, &[a, b], &[]);
        // 02:30 to 08:00 local (both UTC+1): five and a half hours; the drive is about three.
        assert_eq!(legs[0].available_minutes, 5 * 60 + 30);
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn two_stops_one_day_and_dates_out_of_order() {
        let policy = RoutingPolicy::default();
        let tz = chrono_tz::Europe::Amsterdam;
        let stops = [
            stop(
                StopKind::Promo,
                "2027-03-02",
                "Amsterdam",
                52.3676,
                4.9041,
                tz,
            ),
            stop(
                StopKind::Show,
                "2027-03-02",
                "Amsterdam",
                52.3676,
                4.9041,
                tz,
            ),
            stop(
                StopKind::Travel,
                "2027-03-01",
                "Utrecht",
                52.0907,
                5.1214,
                tz,
            ),
        ];
        let (_, _, warnings) = plan(&policy, TravelMode::Van, &stops, &[]);
        let found = codes(&warnings);
        assert!(
            found.contains(&RoutingWarningCode::TwoStopsOneDay),
            "{found:?}"
        );
        assert!(
            found.contains(&RoutingWarningCode::DatesOutOfOrder),
            "{found:?}"
        );
        let same_day = warnings
            .iter()
            .find(|w| w.code == RoutingWarningCode::TwoStopsOneDay);
        assert_eq!(same_day.map(|w| w.stop_ids.len()), Some(2));
    }

    #[test]
    fn radius_clauses_bar_nearby_shows_within_their_days() {
        let policy = RoutingPolicy::default();
        let tz = chrono_tz::Europe::Amsterdam;
        let rotterdam = stop(
            StopKind::Show,
            "2027-03-10",
            "Rotterdam",
            51.9244,
            4.4777,
            tz,
        );
        let clause = |day: &str, km: i32, before: i32, after: i32| RadiusBooking {
            booking_id: Uuid::now_v7(),
            date: date(day),
            city: "Amsterdam".into(),
            latitude: 52.3676,
            longitude: 4.9041,
            km,
            days_before: before,
            days_after: after,
            visible: true,
        };
        // Rotterdam is about 57 km from Amsterdam.
        let inside = clause("2027-03-20", 100, 30, 0);
        let too_far = clause("2027-03-20", 50, 30, 0);
        let too_late = clause("2027-03-05", 100, 30, 4);
        let own = RadiusBooking {
            booking_id: rotterdam.booking_id.unwrap_or_default(),
            ..clause("2027-03-10", 500, 60, 60)
        };
        let (_, _, warnings) = plan(
            &policy,
            TravelMode::Bus,
            std::slice::from_ref(&rotterdam),
            &[inside.clone(), too_far, too_late, own],
        );
        assert_eq!(codes(&warnings), [RoutingWarningCode::RadiusClauseConflict]);
        assert_eq!(warnings[0].booking_id, Some(inside.booking_id));
        // Another agency's booking is not named.
        let foreign = RadiusBooking {
            visible: false,
            ..clause("2027-03-20", 100, 30, 0)
        };
        let (_, _, warnings) = plan(
            &policy,
            TravelMode::Bus,
            std::slice::from_ref(&rotterdam),
            std::slice::from_ref(&foreign),
        );
        assert_eq!(codes(&warnings), [RoutingWarningCode::RadiusClauseConflict]);
        assert_eq!(warnings[0].booking_id, None);
        assert!(
            !warnings[0].message.contains("Amsterdam"),
            "{}",
            warnings[0].message
        );
        // A travel day is no show: clauses do not apply.
        let travel = stop(
            StopKind::Travel,
            "2027-03-10",
            "Rotterdam",
            51.9244,
            4.4777,
            tz,
        );
        let (_, _, warnings) = plan(&policy, TravelMode::Bus, &[travel], &[inside]);
        assert!(warnings.is_empty());
    }

    #[test]
    fn territory_and_cancelled_shows_are_flagged() {
        let policy = RoutingPolicy::default();
        let tz = chrono_tz::Europe::Paris;
        let mut outside = stop(StopKind::Show, "2027-03-10", "Paris", 48.8566, 2.3522, tz);
        outside.in_territory = Some(false);
        let mut cancelled = stop(StopKind::Show, "2027-03-12", "Paris", 48.8566, 2.3522, tz);
        cancelled.booking_live = false;
        let mut unchecked = stop(StopKind::Promo, "2027-03-13", "Paris", 48.8566, 2.3522, tz);
        unchecked.in_territory = None;
        let (_, days_off, warnings) = plan(
            &policy,
            TravelMode::Bus,
            &[outside, cancelled, unchecked],
            &[],
        );
        assert_eq!(
            codes(&warnings),
            [
                RoutingWarningCode::OutsideTerritory,
                RoutingWarningCode::BookingNotConfirmed
            ]
        );
        assert_eq!(days_off, [date("2027-03-11")]);
    }

    #[test]
    fn local_instants_follow_daylight_saving() {
        let berlin = chrono_tz::Europe::Berlin;
        let summer = local_instant(berlin, date("2026-10-24"), hm(20, 0));
        let winter = local_instant(berlin, date("2026-10-25"), hm(20, 0));
        assert_eq!(summer.to_rfc3339(), "2026-10-24T18:00:00+00:00");
        assert_eq!(winter.to_rfc3339(), "2026-10-25T19:00:00+00:00");
        // 02:30 does not exist on 2027-03-28 in Berlin: an hour later.
        let gap = local_instant(berlin, date("2027-03-28"), hm(2, 30));
        assert_eq!(gap.to_rfc3339(), "2027-03-28T01:30:00+00:00");
    }
}
