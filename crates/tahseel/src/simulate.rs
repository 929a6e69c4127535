//! `tahseel simulate --scenario bahrain-2018-h1`: January–June 2017 and
//! January–June 2018 for the article's agencies, services and channels,
//! generated from a seed and written through the same domain rules and
//! ledger postings as any captured payment (see `store::history`).
//!
//! The mix is set so that the 2018 H1 report reproduces the article: more
//! than BHD 50 million, about 74% above H1 2017, more than 600,000
//! transactions, new vehicle registration about five times its 2017 use,
//! enforcement-file dues about twice, the apps about three times.

use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tahseel_core::agency::AgencyCode;
use tahseel_core::payment::{Channel, Method};
use tahseel_core::time::HUB_TIME_ZONE;
use tahseel_core::Fils;

use crate::error::{Error, Result};
use crate::store::{HistoricPayment, Store, HISTORY_BATCH};

/// The acquirer simulated history is recorded under.
pub const SIMULATED_ACQUIRER: &str = "simulated";

/// How a service's amounts are drawn, in fils.
#[derive(Clone, Copy)]
enum Amounts {
    Fixed(i64),
    /// One of these, equally likely.
    OneOf(&'static [i64]),
    /// Uniform between the two, to the fils.
    Between(i64, i64),
}

struct ServiceMix {
    agency: &'static str,
    service: &'static str,
    amounts: Amounts,
    /// Transactions in H1 2017 and H1 2018.
    count_2017: u64,
    count_2018: u64,
}

const MIX: &[ServiceMix] = &[
    ServiceMix {
        agency: "GDT",
        service: "vehicle-registration",
        amounts: Amounts::Fixed(15_000),
        count_2017: 12_000,
        count_2018: 60_000,
    },
    ServiceMix {
        agency: "GDT",
        service: "traffic-fines",
        amounts: Amounts::OneOf(&[5_000, 10_000, 15_000, 20_000, 25_000, 30_000, 50_000]),
        count_2017: 185_185,
        count_2018: 250_000,
    },
    ServiceMix {
        agency: "MOJ",
        service: "enforcement-file",
        amounts: Amounts::Between(50_000, 750_000),
        count_2017: 19_048,
        count_2018: 40_000,
    },
    ServiceMix {
        agency: "EWA",
        service: "electricity-water",
        amounts: Amounts::Between(10_000, 150_000),
        count_2017: 125_000,
        count_2018: 200_000,
    },
    ServiceMix {
        agency: "MOE",
        service: "education-fees",
        amounts: Amounts::OneOf(&[300_000, 450_000, 600_000]),
        count_2017: 17_647,
        count_2018: 30_000,
    },
    ServiceMix {
        agency: "IGA",
        service: "id-card",
        amounts: Amounts::Fixed(2_000),
        count_2017: 37_500,
        count_2018: 45_000,
    },
];

/// Channel shares per year, in per mille: the apps' share grows.
const CHANNELS_2017: &[(Channel, u32)] = &[
    (Channel::Portal, 660),
    (Channel::Mobile, 158),
    (Channel::Kiosk, 182),
];
const CHANNELS_2018: &[(Channel, u32)] = &[
    (Channel::Portal, 550),
    (Channel::Mobile, 300),
    (Channel::Kiosk, 150),
];
const METHODS_2017: &[(Method, u32)] = &[
    (Method::Debit, 700),
    (Method::Credit, 280),
    (Method::Wallet, 20),
];
const METHODS_2018: &[(Method, u32)] = &[
    (Method::Debit, 600),
    (Method::Credit, 300),
    (Method::Wallet, 100),
];
/// Payments per hour of the Bahrain day, relative.
const HOURS: [u32; 24] = [
    1, 1, 1, 1, 1, 2, 4, 8, 12, 14, 15, 15, 13, 12, 12, 12, 11, 11, 12, 13, 12, 9, 5, 2,
];

fn pick<T: Copy>(rng: &mut StdRng, weighted: &[(T, u32)]) -> T {
    let total: u32 = weighted.iter().map(|(_, w)| w).sum();
    let mut x = rng.random_range(0..total);
    for (v, w) in weighted {
        if x < *w {
            return *v;
        }
        x -= w;
    }
    weighted[weighted.len() - 1].0
}

/// Day weights for January–June of `year`: working days (Sunday to
/// Thursday) busier than the weekend, the last three days of a month
/// busier still, and a slow rise through the half.
fn day_weights(year: i32) -> Vec<(NaiveDate, u32)> {
    let mut out = Vec::new();
    let mut d = NaiveDate::from_ymd_opt(year, 1, 1).expect("valid date");
    let end = NaiveDate::from_ymd_opt(year, 6, 30).expect("valid date");
    while d <= end {
        let mut w: u32 = match d.weekday() {
            Weekday::Fri => 45,
            Weekday::Sat => 60,
            _ => 100,
        };
        let next_month = d + Duration::days(3);
        if next_month.month() != d.month() {
            w = w * 3 / 2;
        }
        w += d.ordinal() / 12;
        out.push((d, w));
        d = d.succ_opt().expect("next day");
    }
    out
}

fn amount(rng: &mut StdRng, a: Amounts) -> Fils {
    Fils::new(match a {
        Amounts::Fixed(f) => f,
        Amounts::OneOf(list) => list[rng.random_range(0..list.len())],
        Amounts::Between(lo, hi) => rng.random_range(lo..=hi),
    })
}

fn cpr(rng: &mut StdRng) -> String {
    format!(
        "{:02}{:02}{:05}",
        rng.random_range(40..99),
        rng.random_range(1..=12),
        rng.random_range(0..100_000)
    )
}

/// Runs the scenario; `scale` multiplies every count (1.0 is the article's
/// size; 10 gives about ten million payments, for benchmarks). `progress` is told each batch's size. Returns payments written.
pub async fn run(
    store: &Store,
    scenario: &str,
    seed: u64,
    scale: f64,
    progress: impl Fn(u64),
) -> Result<u64> {
    if scenario != "bahrain-2018-h1" {
        return Err(Error::Invalid(format!(
            "unknown scenario {scenario:?}; the one there is: bahrain-2018-h1"
        )));
    }
    if !(scale > 0.0 && scale <= 20.0) {
        return Err(Error::Invalid(
            "--scale must be above 0 and at most 20".into(),
        ));
    }
    crate::demo::load(store).await?;
    let mut services = Vec::new();
    for m in MIX {
        let agency = store.agency_by_code(m.agency).await?;
        let service = store.service(agency.id, m.service).await?;
        services.push((agency, service));
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut written = 0;
    for year in [2017, 2018] {
        let days = day_weights(year);
        let (channels, methods) = if year == 2017 {
            (CHANNELS_2017, METHODS_2017)
        } else {
            (CHANNELS_2018, METHODS_2018)
        };
        let mut batch = Vec::with_capacity(HISTORY_BATCH);
        for (i, m) in MIX.iter().enumerate() {
            let count = if year == 2017 {
                m.count_2017
            } else {
                m.count_2018
            };
            let count = (count as f64 * scale).round() as u64;
            let (agency, service) = &services[i];
            for n in 0..count {
                let day = pick(&mut rng, &days);
                let hour = pick(
                    &mut rng,
                    &HOURS
                        .iter()
                        .enumerate()
                        .map(|(h, w)| (h as u32, *w))
                        .collect::<Vec<_>>(),
                );
                let local = day
                    .and_hms_opt(hour, rng.random_range(0..60), rng.random_range(0..60))
                    .expect("valid time");
                let paid_at = HUB_TIME_ZONE
                    .from_local_datetime(&local)
                    .single()
                    .expect("Bahrain has no DST")
                    .with_timezone(&Utc);
                let import_ref = format!("sim-{seed}-{year}-{}-{n:07}", m.service);
                batch.push(HistoricPayment {
                    bill_reference: format!("SIM-{seed}-{year}-{}-{n:07}", m.service),
                    import_ref,
                    paid_at,
                    agency_id: agency.id,
                    agency: AgencyCode::parse(m.agency)?,
                    service_id: service.id,
                    service: m.service.to_owned(),
                    channel: pick(&mut rng, channels),
                    method: pick(&mut rng, methods),
                    amount: amount(&mut rng, m.amounts),
                    payer: cpr(&mut rng),
                });
                if batch.len() == HISTORY_BATCH {
                    written += store.record_history(&batch, SIMULATED_ACQUIRER).await? as u64;
                    progress(batch.len() as u64);
                    batch.clear();
                }
            }
        }
        written += store.record_history(&batch, SIMULATED_ACQUIRER).await? as u64;
        progress(batch.len() as u64);
    }
    Ok(written)
}

/// How many payments the scenario writes at `scale`.
pub fn planned(scale: f64) -> u64 {
    MIX.iter()
        .map(|m| {
            (m.count_2017 as f64 * scale).round() as u64
                + (m.count_2018 as f64 * scale).round() as u64
        })
        .sum()
}
