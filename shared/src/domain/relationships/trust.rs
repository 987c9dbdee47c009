//! Trust: a 0-100 score per company with the factors that made it,
//! computed by the worker from what bookings, ratings, Finance and
//! contracts recorded (formula in docs/areas/relationships.md).
//!
//! Each factor is a decayed, shrunk average of observations in 0..1:
//! observations older than the window are ignored, the rest weigh
//! `0.5^(age / half-life)`, and the average is pulled toward the factor's
//! prior by `prior_weight` pseudo-observations (a Bayesian average), so a
//! few events cannot pin a score at 0 or 100. A factor without
//! observations is left out and the others' weights are scaled up: a
//! missing factor counts against no one. Below [`MIN_SAMPLE`] ended
//! bookings the score is withheld (`insufficient_history`).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::access::Party;

/// Bumped whenever the formula changes; stored with each score.
pub const FORMULA_VERSION: i16 = 1;
/// Observations older than this are ignored.
pub const WINDOW_DAYS: i64 = 730;
/// An observation this old weighs half as much as one from today.
pub const HALF_LIFE_DAYS: f64 = 365.0;
/// Ended bookings (completed or cancelled) in the window below which no
/// score is shown.
pub const MIN_SAMPLE: i32 = 5;
/// A cancellation this close to the show (or after it) counts double.
pub const LATE_CANCEL_DAYS: i64 = 30;
/// At most this many reason codes are given.
pub const MAX_REASONS: usize = 4;

/// The factors, in the order they are shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = TrustFactorName)]
pub enum FactorName {
    /// Bookings kept rather than cancelled by this company's side.
    Reliability,
    /// Ratings the company received (1-5, overall).
    Ratings,
    /// Deposits paid on time, as Finance reported them (promoter side).
    Payment,
    /// Days this company's signers took to sign a sent contract.
    ContractSigning,
}

struct Spec {
    name: FactorName,
    /// Share of the score, in basis points (the four sum to 10,000).
    weight_bp: i64,
    /// Where the average starts, 0..1.
    prior: f64,
    /// How many observations the prior is worth.
    prior_weight: f64,
    /// The reason code when this factor pulls the score below its prior.
    reason: &'static str,
}

const SPECS: [Spec; 4] = [
    Spec {
        name: FactorName::Reliability,
        weight_bp: 4000,
        prior: 0.95,
        prior_weight: 3.0,
        reason: "cancellations",
    },
    Spec {
        name: FactorName::Ratings,
        weight_bp: 3000,
        prior: 0.75,
        prior_weight: 3.0,
        reason: "low_ratings",
    },
    Spec {
        name: FactorName::Payment,
        weight_bp: 2000,
        prior: 0.9,
        prior_weight: 2.0,
        reason: "late_payments",
    },
    Spec {
        name: FactorName::ContractSigning,
        weight_bp: 1000,
        prior: 0.8,
        prior_weight: 2.0,
        reason: "slow_contract_signing",
    },
];

/// The band shown beside the number: 91 and 93 mean the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum TrustBand {
    Excellent,
    Good,
    Fair,
    Poor,
    InsufficientHistory,
}

impl TrustBand {
    pub fn of(score: Option<i16>) -> Self {
        match score {
            None => Self::InsufficientHistory,
            Some(s) if s >= 85 => Self::Excellent,
            Some(s) if s >= 70 => Self::Good,
            Some(s) if s >= 50 => Self::Fair,
            Some(_) => Self::Poor,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Excellent => "excellent",
            Self::Good => "good",
            Self::Fair => "fair",
            Self::Poor => "poor",
            Self::InsufficientHistory => "insufficient_history",
        }
    }
}

/// One factor of a score: what it measured, its weight and what it added.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TrustFactor {
    pub name: FactorName,
    /// The factor's shrunk average in basis points of its 0..1 scale
    /// (10,000 is perfect); `null` without observations.
    pub value_bp: Option<i32>,
    /// Its share of the score in basis points; the shares of the factors
    /// with observations sum to 10,000, the others have 0.
    pub weight_bp: i32,
    /// Points it adds to the score; the contributions sum to the score.
    /// `null` when the score is withheld.
    pub contribution: Option<i32>,
    /// Observations in the window.
    pub observations: i32,
}

/// A company's trust as computed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Computed {
    pub company_id: Uuid,
    pub score: Option<i16>,
    pub band: TrustBand,
    pub sample_size: i32,
    pub window_from: NaiveDate,
    pub window_to: NaiveDate,
    pub factors: Vec<TrustFactor>,
    pub reasons: Vec<String>,
}

/// A completed or cancelled booking the company was party to.
#[derive(Clone, Debug)]
pub struct EndedBooking {
    pub side: Party,
    pub cancelled: bool,
    /// `None` for a cancellation whose side is not known.
    pub cancelled_by: Option<Party>,
    pub event_date: NaiveDate,
    pub ended_at: DateTime<Utc>,
}

/// A rating the company received.
#[derive(Clone, Debug)]
pub struct Received {
    pub rater_company_id: Uuid,
    pub overall: i16,
    pub at: DateTime<Utc>,
}

/// What the formula reads of one company.
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    pub bookings: Vec<EndedBooking>,
    pub ratings: Vec<Received>,
    /// Deposits of its bookings as promoter: paid on time, and when.
    pub deposits: Vec<(bool, DateTime<Utc>)>,
    /// Its side's signing time of signed contracts, in days, and when.
    pub signings: Vec<(f64, DateTime<Utc>)>,
}

/// Days from sent to signed that still count fully, and where the credit
/// reaches zero.
const SIGN_FULL_DAYS: f64 = 3.0;
const SIGN_ZERO_DAYS: f64 = 21.0;

struct Observation {
    value: f64,
    weight: f64,
}

/// Decay weight of an observation made at `at`, seen at `now`; `None`
/// outside the window.
fn decay(at: DateTime<Utc>, now: DateTime<Utc>) -> Option<f64> {
    let age = (now - at).num_seconds().max(0) as f64 / 86_400.0;
    (age <= WINDOW_DAYS as f64).then(|| 0.5_f64.powf(age / HALF_LIFE_DAYS))
}

fn reliability(inputs: &Inputs, now: DateTime<Utc>) -> Vec<Observation> {
    inputs
        .bookings
        .iter()
        .filter_map(|b| {
            let w = decay(b.ended_at, now)?;
            if !b.cancelled {
                return Some(Observation {
                    value: 1.0,
                    weight: w,
                });
            }
            // A cancellation of unknown side says nothing about either.
            let by = b.cancelled_by?;
            if by != b.side {
                return Some(Observation {
                    value: 1.0,
                    weight: w,
                });
            }
            let late = (b.event_date - b.ended_at.date_naive()).num_days() < LATE_CANCEL_DAYS;
            Some(Observation {
                value: 0.0,
                weight: if late { 2.0 * w } else { w },
            })
        })
        .collect()
}

/// Ratings, newest first per rater: the k-th rating from one company
/// weighs 1/k, so repeated ratings between a pair count less and less.
fn ratings(inputs: &Inputs, now: DateTime<Utc>) -> Vec<Observation> {
    let mut sorted: Vec<&Received> = inputs.ratings.iter().collect();
    sorted.sort_by(|a, b| {
        a.rater_company_id
            .cmp(&b.rater_company_id)
            .then(b.at.cmp(&a.at))
    });
    let mut out = Vec::with_capacity(sorted.len());
    let mut rank = 0_u32;
    let mut last: Option<Uuid> = None;
    for r in sorted {
        if last == Some(r.rater_company_id) {
            rank += 1;
        } else {
            rank = 1;
            last = Some(r.rater_company_id);
        }
        if let Some(w) = decay(r.at, now) {
            out.push(Observation {
                value: f64::from(r.overall.clamp(1, 5) - 1) / 4.0,
                weight: w / f64::from(rank),
            });
        }
    }
    out
}

fn payment(inputs: &Inputs, now: DateTime<Utc>) -> Vec<Observation> {
    inputs
        .deposits
        .iter()
        .filter_map(|(on_time, at)| {
            Some(Observation {
                value: if *on_time { 1.0 } else { 0.0 },
                weight: decay(*at, now)?,
            })
        })
        .collect()
}

fn signing(inputs: &Inputs, now: DateTime<Utc>) -> Vec<Observation> {
    inputs
        .signings
        .iter()
        .filter_map(|(days, at)| {
            let value =
                ((SIGN_ZERO_DAYS - days) / (SIGN_ZERO_DAYS - SIGN_FULL_DAYS)).clamp(0.0, 1.0);
            Some(Observation {
                value,
                weight: decay(*at, now)?,
            })
        })
        .collect()
}

/// The shrunk average in basis points.
fn shrunk_bp(observations: &[Observation], spec: &Spec) -> i64 {
    let (sum, weight) = observations.iter().fold((0.0, 0.0), |(s, w), o| {
        (s + o.value * o.weight, w + o.weight)
    });
    let value = (sum + spec.prior * spec.prior_weight) / (weight + spec.prior_weight);
    (value * 10_000.0).round().clamp(0.0, 10_000.0) as i64
}

/// Splits `total` into integer parts proportional to `exact` (each in the
/// same unit as `total` times `unit`), largest remainders first, so the
/// parts sum to `total` exactly.
fn apportion(exact: &[i64], unit: i64, total: i64) -> Vec<i64> {
    let mut parts: Vec<i64> = exact.iter().map(|e| e / unit).collect();
    let mut left = total - parts.iter().sum::<i64>();
    let mut order: Vec<usize> = (0..exact.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(exact[i] % unit), i));
    for i in order {
        if left <= 0 {
            break;
        }
        if exact[i] > 0 {
            parts[i] += 1;
            left -= 1;
        }
    }
    parts
}

/// The score of one company from its inputs, as seen at `now`.
pub fn compute(company_id: Uuid, inputs: &Inputs, now: DateTime<Utc>) -> Computed {
    let observed: [Vec<Observation>; 4] = [
        reliability(inputs, now),
        ratings(inputs, now),
        payment(inputs, now),
        signing(inputs, now),
    ];
    let sample_size = i32::try_from(
        inputs
            .bookings
            .iter()
            .filter(|b| decay(b.ended_at, now).is_some())
            .count(),
    )
    .unwrap_or(i32::MAX);
    let present: Vec<bool> = observed.iter().map(|o| !o.is_empty()).collect();
    let values: Vec<i64> = SPECS
        .iter()
        .zip(&observed)
        .map(|(spec, o)| shrunk_bp(o, spec))
        .collect();
    // Weights of the present factors, scaled to sum to 10,000.
    let present_weight: i64 = SPECS
        .iter()
        .zip(&present)
        .filter(|(_, p)| **p)
        .map(|(s, _)| s.weight_bp)
        .sum();
    let weights: Vec<i64> = if present_weight == 0 {
        vec![0; SPECS.len()]
    } else {
        let raw: Vec<i64> = SPECS
            .iter()
            .zip(&present)
            .map(|(s, p)| if *p { s.weight_bp * 10_000 } else { 0 })
            .collect();
        apportion(&raw, present_weight, 10_000)
    };
    // Contributions in millionths of a point: value_bp * weight_bp.
    let exact: Vec<i64> = values.iter().zip(&weights).map(|(v, w)| v * w).collect();
    let total: i64 = exact.iter().sum();
    let enough = sample_size >= MIN_SAMPLE && present_weight > 0;
    let score = enough.then(|| (total + 500_000) / 1_000_000);
    let contributions = score.map(|s| apportion(&exact, 1_000_000, s));
    let factors = SPECS
        .iter()
        .enumerate()
        .map(|(i, spec)| TrustFactor {
            name: spec.name,
            value_bp: present[i].then(|| values[i] as i32),
            weight_bp: weights[i] as i32,
            contribution: contributions.as_ref().map(|c| c[i] as i32),
            observations: i32::try_from(observed[i].len()).unwrap_or(i32::MAX),
        })
        .collect();
    // Reasons: factors below their prior, by the points that cost.
    let mut below: Vec<(i64, &'static str)> = SPECS
        .iter()
        .enumerate()
        .filter(|(i, _)| present[*i])
        .filter_map(|(i, spec)| {
            let prior_bp = (spec.prior * 10_000.0).round() as i64;
            let lost = (prior_bp - values[i]) * weights[i];
            (lost >= 1_000_000).then_some((lost, spec.reason))
        })
        .collect();
    below.sort_by_key(|b| std::cmp::Reverse(b.0));
    let reasons = if enough {
        below
            .into_iter()
            .take(MAX_REASONS)
            .map(|(_, r)| r.to_owned())
            .collect()
    } else {
        Vec::new()
    };
    let score = score.map(|s| s as i16);
    Computed {
        company_id,
        score,
        band: TrustBand::of(score),
        sample_size,
        window_from: (now - chrono::Duration::days(WINDOW_DAYS)).date_naive(),
        window_to: now.date_naive(),
        factors,
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-12-01T12:00:00Z".parse().unwrap()
    }

    fn kept(days_ago: i64) -> EndedBooking {
        let ended_at = now() - chrono::Duration::days(days_ago);
        EndedBooking {
            side: Party::Promoter,
            cancelled: false,
            cancelled_by: None,
            event_date: ended_at.date_naive(),
            ended_at,
        }
    }

    fn cancelled_by_us(days_ago: i64, days_before_show: i64) -> EndedBooking {
        let ended_at = now() - chrono::Duration::days(days_ago);
        EndedBooking {
            side: Party::Promoter,
            cancelled: true,
            cancelled_by: Some(Party::Promoter),
            event_date: ended_at.date_naive() + chrono::Duration::days(days_before_show),
            ended_at,
        }
    }

    fn sum(c: &Computed) -> i32 {
        c.factors.iter().filter_map(|f| f.contribution).sum()
    }

    #[test]
    fn contributions_sum_to_the_score_and_weights_to_ten_thousand() {
        let inputs = Inputs {
            bookings: (0..8).map(|d| kept(d * 20)).collect(),
            ratings: vec![Received {
                rater_company_id: Uuid::nil(),
                overall: 3,
                at: now(),
            }],
            deposits: vec![(true, now()), (false, now())],
            signings: vec![(10.0, now())],
        };
        let c = compute(Uuid::nil(), &inputs, now());
        let score = c.score.expect("enough history");
        assert_eq!(sum(&c), i32::from(score));
        assert_eq!(c.factors.iter().map(|f| f.weight_bp).sum::<i32>(), 10_000);
        assert_eq!(c.band, TrustBand::of(Some(score)));
    }

    #[test]
    fn few_bookings_are_insufficient_history() {
        let inputs = Inputs {
            bookings: vec![kept(1), kept(2)],
            ..Inputs::default()
        };
        let c = compute(Uuid::nil(), &inputs, now());
        assert_eq!(c.score, None);
        assert_eq!(c.band, TrustBand::InsufficientHistory);
        assert_eq!(c.sample_size, 2);
        assert!(c.factors.iter().all(|f| f.contribution.is_none()));
        assert!(c.reasons.is_empty());
    }

    #[test]
    fn a_missing_factor_counts_against_no_one() {
        // Only reliability observed, all kept: its weight becomes the whole.
        let inputs = Inputs {
            bookings: (0..10).map(kept).collect(),
            ..Inputs::default()
        };
        let c = compute(Uuid::nil(), &inputs, now());
        assert_eq!(c.factors[0].weight_bp, 10_000);
        assert!(
            c.factors[1..]
                .iter()
                .all(|f| f.weight_bp == 0 && f.value_bp.is_none())
        );
        assert!(c.score.unwrap() >= 95, "{c:?}");
    }

    #[test]
    fn a_late_cancellation_costs_more_than_an_early_one_and_names_its_reason() {
        let base: Vec<EndedBooking> = (1..=6).map(|d| kept(d * 10)).collect();
        let score = |extra: EndedBooking| {
            let mut bookings = base.clone();
            bookings.push(extra);
            compute(
                Uuid::nil(),
                &Inputs {
                    bookings,
                    ..Inputs::default()
                },
                now(),
            )
        };
        let clean = score(kept(5));
        let early = score(cancelled_by_us(5, 90));
        let late = score(cancelled_by_us(5, 3));
        assert!(early.score < clean.score, "{early:?} {clean:?}");
        assert!(late.score < early.score, "{late:?} {early:?}");
        assert_eq!(late.reasons, ["cancellations"]);
        assert!(clean.reasons.is_empty());
    }

    #[test]
    fn the_other_sides_cancellation_and_unknown_sides_do_not_count_against() {
        let mut theirs = cancelled_by_us(5, 3);
        theirs.cancelled_by = Some(Party::Agency);
        let mut unknown = cancelled_by_us(5, 3);
        unknown.cancelled_by = None;
        let base: Vec<EndedBooking> = (1..=6).map(|d| kept(d * 10)).collect();
        let with = |b: EndedBooking| {
            let mut bookings = base.clone();
            bookings.push(b);
            compute(
                Uuid::nil(),
                &Inputs {
                    bookings,
                    ..Inputs::default()
                },
                now(),
            )
        };
        let kept_score = with(kept(5)).score;
        assert_eq!(with(theirs).score, kept_score);
        assert!(with(unknown).score >= kept_score);
    }

    #[test]
    fn three_perfect_ratings_do_not_pin_the_factor_at_the_top() {
        let rating = |rater: u128, overall| Received {
            rater_company_id: Uuid::from_u128(rater),
            overall,
            at: now(),
        };
        let three = Inputs {
            bookings: (0..6).map(kept).collect(),
            ratings: vec![rating(1, 5), rating(2, 5), rating(3, 5)],
            ..Inputs::default()
        };
        let c = compute(Uuid::nil(), &three, now());
        let v = c.factors[1].value_bp.unwrap();
        assert!(v < 10_000 && v > 7_500, "{v}");
        // One rater repeating a 1-star weighs less than three raters doing so.
        let same = Inputs {
            ratings: vec![rating(9, 1), rating(9, 1), rating(9, 1)],
            ..three.clone()
        };
        let different = Inputs {
            ratings: vec![rating(7, 1), rating(8, 1), rating(9, 1)],
            ..three
        };
        let same = compute(Uuid::nil(), &same, now()).factors[1].value_bp;
        let different = compute(Uuid::nil(), &different, now()).factors[1].value_bp;
        assert!(same > different, "{same:?} {different:?}");
    }

    #[test]
    fn old_events_decay_and_leave_the_window() {
        let fresh = vec![(false, now())];
        let old = vec![(false, now() - chrono::Duration::days(600))];
        let gone = vec![(false, now() - chrono::Duration::days(800))];
        let payment_bp = |deposits| {
            compute(
                Uuid::nil(),
                &Inputs {
                    bookings: (0..6).map(kept).collect(),
                    deposits,
                    ..Inputs::default()
                },
                now(),
            )
            .factors[2]
                .value_bp
        };
        assert!(payment_bp(fresh) < payment_bp(old));
        assert_eq!(payment_bp(gone), None);
    }

    #[test]
    fn apportion_keeps_the_total() {
        assert_eq!(apportion(&[333, 333, 334], 1, 1000), vec![333, 333, 334]);
        assert_eq!(apportion(&[1_500_000, 1_500_000], 1_000_000, 3), vec![2, 1]);
        assert_eq!(apportion(&[0, 2_600_000], 1_000_000, 3), vec![0, 3]);
    }
}
