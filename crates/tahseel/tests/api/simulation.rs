//! A seeded random walk through the payment flow against a hostile
//! acquirer: bills, baskets, cards, lost, doubled, reordered, forged and
//! wrong-amount notices, reconciler passes, refunds and abandoned pages,
//! with the invariants checked after every step. The seed is printed; set
//! `TAHSEEL_SEED` to replay one exactly.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use reqwest::{Method, StatusCode};
use serde_json::json;
use tahseel::simulator::cards::{DECLINE, NO_ANSWER};
use tahseel::simulator::Faults;
use tahseel_core::Fils;
use uuid::Uuid;

use crate::helpers::{backends, TestApp, APPROVE};

const STEPS: usize = 80;

struct World {
    keys: Vec<(&'static str, &'static str, String)>,
    /// (bill id, agency key index)
    bills: Vec<(String, usize)>,
    /// (payment id, card page)
    payments: Vec<(String, String)>,
}

fn amount(fils: i64) -> String {
    Fils::new(fils).to_string()
}

/// The invariants that must hold after any step.
async fn check(app: &TestApp, world: &World, step: usize, seed: u64) {
    let ctx = format!("{} seed {seed} step {step}", app.label);
    let verify = app
        .call(
            Method::GET,
            "/api/v1/admin/ledger/verify",
            Some(&app.admin_key),
            None,
            None,
        )
        .await;
    assert_eq!(verify.body["ok"], true, "{ctx}: {:?}", verify.body);
    for (bill, k) in &world.bills {
        let b = app.bill_as(&world.keys[*k].2, bill).await;
        let f = |n: &str| Fils::parse(b[n].as_str().unwrap()).unwrap().as_i64();
        assert!(
            f("amount_paid") <= f("amount_due") && f("amount_payable_now") >= 0,
            "{ctx}: bill {b}"
        );
    }
    // What the acquirer's clearing account holds is what was captured less what was paid back.
    let mut captured = 0;
    let mut refunded = 0;
    for (id, _) in &world.payments {
        let p = app.payment(id).await;
        if p["state"] == "captured" {
            captured += Fils::parse(p["total"].as_str().unwrap()).unwrap().as_i64();
            refunded += Fils::parse(p["refunded"].as_str().unwrap())
                .unwrap()
                .as_i64();
        }
    }
    let pending_refunds = -app.balance("refunds:payable").await;
    assert_eq!(
        app.balance("acquirer:sim:clearing").await,
        captured - refunded + pending_refunds,
        "{ctx}"
    );
}

#[tokio::test]
async fn a_random_walk_against_a_hostile_acquirer_keeps_every_invariant() {
    let seed: u64 = std::env::var("TAHSEEL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("simulation seed {seed} (TAHSEEL_SEED={seed} replays it)");
    for app in backends().await {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut world = World {
            keys: vec![
                ("GDT", "traffic-fines", app.agency_key("GDT").await),
                ("EWA", "electricity-water", app.agency_key("EWA").await),
                ("MOJ", "enforcement-file", app.agency_key("MOJ").await),
            ],
            bills: vec![],
            payments: vec![],
        };
        for step in 0..STEPS {
            match rng.random_range(0..100) {
                0..=14 => {
                    let k = rng.random_range(0..world.keys.len());
                    let due = rng.random_range(1_000..500_000);
                    let id = app
                        .bill(&world.keys[k].2, world.keys[k].1, "850101234", &amount(due))
                        .await;
                    world.bills.push((id, k));
                }
                15..=39 if !world.bills.is_empty() => {
                    let mut lines = Vec::new();
                    for _ in 0..rng.random_range(1..=2) {
                        let (bill, k) = &world.bills[rng.random_range(0..world.bills.len())];
                        if lines.iter().any(|(b, _): &(String, String)| b == bill) {
                            continue;
                        }
                        let b = app.bill_as(&world.keys[*k].2, bill).await;
                        let outstanding = Fils::parse(b["amount_outstanding"].as_str().unwrap())
                            .unwrap()
                            .as_i64();
                        let pay = if outstanding > 1 && rng.random_bool(0.3) {
                            rng.random_range(1..outstanding)
                        } else {
                            outstanding.max(1)
                        };
                        lines.push((bill.clone(), amount(pay)));
                    }
                    let lines: Vec<(&str, &str)> = lines
                        .iter()
                        .map(|(b, a)| (b.as_str(), a.as_str()))
                        .collect();
                    let channel = ["portal", "mobile", "kiosk"][rng.random_range(0..3)];
                    let r = app.pay(channel, &lines, &Uuid::new_v4().to_string()).await;
                    match r.status {
                        StatusCode::CREATED => world.payments.push((
                            r.body["id"].as_str().unwrap().to_owned(),
                            r.body["next_url"].as_str().unwrap().to_owned(),
                        )),
                        StatusCode::CONFLICT | StatusCode::UNPROCESSABLE_ENTITY => {}
                        other => panic!(
                            "{} seed {seed} step {step}: payment answered {other}: {:?}",
                            app.label, r.body
                        ),
                    }
                }
                40..=59 if !world.payments.is_empty() => {
                    let (_, page) = &world.payments[rng.random_range(0..world.payments.len())];
                    let card =
                        [APPROVE, APPROVE, APPROVE, DECLINE, NO_ANSWER][rng.random_range(0..5)];
                    let status = app
                        .client
                        .post(page)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(format!("card_number={card}&expiry=12%2F39&cvv=123"))
                        .send()
                        .await
                        .unwrap()
                        .status();
                    assert!(
                        status.is_success()
                            || status.is_redirection()
                            || status == StatusCode::NOT_FOUND,
                        "{status}"
                    );
                }
                60..=71 => app.sim.set_faults(Faults {
                    drop_callbacks: rng.random_bool(0.3),
                    duplicate_callbacks: rng.random_bool(0.3),
                    reorder_callbacks: rng.random_bool(0.2),
                    wrong_amount: rng.random_bool(0.1),
                    bad_signature: rng.random_bool(0.1),
                    ..Faults::default()
                }),
                72..=81 => {
                    app.reconcile().await;
                }
                82..=91 if !world.payments.is_empty() => {
                    let (id, _) = &world.payments[rng.random_range(0..world.payments.len())];
                    let p = app.payment(id).await;
                    if let Some(line) = p["lines"].as_array().and_then(|l| l.first()) {
                        let k = world
                            .keys
                            .iter()
                            .position(|(code, ..)| line["agency"] == *code)
                            .unwrap();
                        let cap = Fils::parse(line["amount"].as_str().unwrap())
                            .unwrap()
                            .as_i64();
                        let ask = rng.random_range(1..=cap + 1000);
                        let r = app
                            .call(
                                Method::POST,
                                &format!("/api/v1/agency/payments/{id}/refunds"),
                                Some(&world.keys[k].2),
                                Some(&Uuid::new_v4().to_string()),
                                Some(json!({"amount": amount(ask), "reason": "random", "bill_id": line["bill_id"]})),
                            )
                            .await;
                        assert!(
                            r.status.is_client_error() || r.status == StatusCode::CREATED,
                            "{}: {:?}",
                            r.status,
                            r.body
                        );
                    }
                }
                92..=95 => {
                    app.client
                        .post(format!("{}/control/flush", app.sim_base))
                        .send()
                        .await
                        .unwrap();
                }
                96..=99 => {
                    app.client
                        .post(format!("{}/control/expire-open-sessions", app.sim_base))
                        .send()
                        .await
                        .unwrap();
                }
                _ => {}
            }
            check(&app, &world, step, seed).await;
        }
        // Calm the acquirer, let every open page lapse: nothing may stay pending.
        app.sim.set_faults(Faults::default());
        app.client
            .post(format!("{}/control/flush", app.sim_base))
            .send()
            .await
            .unwrap();
        app.client
            .post(format!("{}/control/expire-open-sessions", app.sim_base))
            .send()
            .await
            .unwrap();
        app.reconcile().await;
        let mut states = std::collections::BTreeMap::new();
        for (id, _) in &world.payments {
            let state = app.payment(id).await["state"].as_str().unwrap().to_owned();
            assert!(
                !matches!(state.as_str(), "created" | "pending"),
                "{} seed {seed}: payment {id} left {state}",
                app.label
            );
            *states.entry(state).or_insert(0) += 1;
        }
        println!(
            "{} seed {seed}: {} bills, payments ended {states:?}",
            app.label,
            world.bills.len()
        );
        assert!(
            !world.payments.is_empty(),
            "seed {seed}: the walk made no payment; it tested nothing"
        );
        check(&app, &world, STEPS, seed).await;
    }
}
