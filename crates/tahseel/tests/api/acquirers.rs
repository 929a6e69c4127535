//! The acquirer as a hostile, separate HTTP peer: notices doubled, lost,
//! forged, stale, reordered or with a wrong amount; status inquiries that
//! fail or hang; refunds refused; the hub killed mid-flow.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tahseel::simulator::cards::{CHALLENGE, CHALLENGE_CODE, NO_ANSWER};
use tahseel::simulator::{Faults, StatusFault};
use tahseel_core::payment::Method as PayMethod;
use tahseel_core::Fils;
use uuid::Uuid;

use crate::helpers::{backends, backends_with, TestApp, APPROVE, DECLINE, SIM_SECRET};

async fn exceptions(app: &TestApp) -> Vec<Value> {
    let r = app
        .call(
            Method::GET,
            "/api/v1/admin/acquirer-exceptions",
            Some(&app.admin_key),
            None,
            None,
        )
        .await;
    r.body["exceptions"].as_array().unwrap().clone()
}

/// A pending payment for a fresh traffic fine; returns (payment id, card page URL, GDT key, bill id).
async fn pending_fine(app: &TestApp, amount: &str) -> (String, String, String, String) {
    let gdt = app.agency_key("GDT").await;
    let fine = app.bill(&gdt, "traffic-fines", "850101234", amount).await;
    let created = app
        .pay("portal", &[(&fine, amount)], &Uuid::new_v4().to_string())
        .await;
    assert_eq!(
        created.status,
        StatusCode::CREATED,
        "{}: {:?}",
        app.label,
        created.body
    );
    let id = created.body["id"].as_str().unwrap().to_owned();
    let next = created.body["next_url"].as_str().unwrap().to_owned();
    assert!(
        next.starts_with(&app.sim_base),
        "the card page is the acquirer's, not Tahseel's"
    );
    (id, next, gdt, fine)
}

#[tokio::test]
async fn a_duplicated_notice_captures_once() {
    for app in backends().await {
        app.sim.set_faults(Faults {
            duplicate_callbacks: true,
            ..Faults::default()
        });
        let (id, next, ..) = pending_fine(&app, "15.000").await;
        app.submit_card(&next, APPROVE).await;
        assert_eq!(app.payment(&id).await["state"], "captured", "{}", app.label);
        assert_eq!(app.balance("acquirer:sim:clearing").await, 15_000);
        assert!(exceptions(&app).await.is_empty());
        app.assert_ledger_ok().await;
    }
}

#[tokio::test]
async fn a_forged_or_stale_notice_is_refused_and_logged() {
    for app in backends().await {
        for (faults, what) in [
            (
                Faults {
                    bad_signature: true,
                    ..Faults::default()
                },
                "signature",
            ),
            (
                Faults {
                    stale_timestamp: true,
                    ..Faults::default()
                },
                "timestamp",
            ),
        ] {
            app.sim.set_faults(faults);
            let (id, next, ..) = pending_fine(&app, "4.000").await;
            app.submit_card(&next, APPROVE).await;
            assert_eq!(
                app.payment(&id).await["state"],
                "pending",
                "{}: a refused notice changes nothing",
                app.label
            );
            let logged = exceptions(&app).await;
            assert!(
                logged.iter().any(|e| e["kind"] == "notice_refused"
                    && e["detail"].as_str().unwrap().contains(what)),
                "{}: {logged:?}",
                app.label
            );
        }
        assert_eq!(app.balance("acquirer:sim:clearing").await, 0);
        // The acquirer's own status answer is authoritative and signed by transport.
        app.sim.set_faults(Faults::default());
        let summary = app.reconcile().await;
        assert_eq!(summary.captured, 2, "{}: {summary:?}", app.label);
        app.assert_ledger_ok().await;
    }
}

#[tokio::test]
async fn a_lost_notice_is_captured_by_the_reconciler() {
    for app in backends().await {
        app.sim.set_faults(Faults {
            drop_callbacks: true,
            ..Faults::default()
        });
        let (id, next, gdt, fine) = pending_fine(&app, "33.300").await;
        assert_eq!(app.submit_card(&next, APPROVE).await, StatusCode::SEE_OTHER);
        assert_eq!(app.payment(&id).await["state"], "pending");
        let summary = app.reconcile().await;
        assert_eq!(summary.captured, 1, "{}: {summary:?}", app.label);
        let payment = app.payment(&id).await;
        assert_eq!(payment["state"], "captured");
        assert_eq!(payment["card"]["last4"], "1111");
        assert_eq!(app.bill_as(&gdt, &fine).await["state"], "paid");
        // A second pass finds nothing to do.
        assert_eq!(app.reconcile().await, Default::default());
        assert_eq!(app.balance("acquirer:sim:clearing").await, 33_300);
        app.assert_ledger_ok().await;
    }
}

#[tokio::test]
async fn a_notice_with_a_wrong_amount_is_flagged_and_not_captured() {
    for app in backends().await {
        app.sim.set_faults(Faults {
            wrong_amount: true,
            ..Faults::default()
        });
        let (id, next, ..) = pending_fine(&app, "10.000").await;
        app.submit_card(&next, APPROVE).await;
        assert_eq!(app.payment(&id).await["state"], "pending", "{}", app.label);
        let logged = exceptions(&app).await;
        let flagged = logged
            .iter()
            .find(|e| e["kind"] == "notice_not_applied")
            .expect("flagged");
        assert_eq!(flagged["payment_id"], id.as_str());
        assert!(
            flagged["detail"].as_str().unwrap().contains("10.001"),
            "{flagged:?}"
        );
        assert_eq!(app.balance("acquirer:sim:clearing").await, 0);
        app.assert_ledger_ok().await;
    }
}

#[tokio::test]
async fn reordered_notices_capture_every_payment() {
    for app in backends().await {
        app.sim.set_faults(Faults {
            reorder_callbacks: true,
            ..Faults::default()
        });
        let (first, next1, ..) = pending_fine(&app, "1.000").await;
        let (second, next2, ..) = pending_fine(&app, "2.000").await;
        app.submit_card(&next1, APPROVE).await;
        assert_eq!(
            app.payment(&first).await["state"],
            "pending",
            "held back by the acquirer"
        );
        app.submit_card(&next2, DECLINE).await;
        assert_eq!(
            app.payment(&first).await["state"],
            "captured",
            "{}",
            app.label
        );
        assert_eq!(app.payment(&second).await["state"], "declined");
        assert_eq!(app.balance("acquirer:sim:clearing").await, 1_000);
        app.assert_ledger_ok().await;
    }
}

#[tokio::test]
async fn declined_and_abandoned_payments_leave_the_bill_payable() {
    for app in backends().await {
        let (declined, next, gdt, fine) = pending_fine(&app, "7.500").await;
        app.submit_card(&next, DECLINE).await;
        assert_eq!(app.payment(&declined).await["state"], "declined");
        assert_eq!(
            app.bill_as(&gdt, &fine).await["amount_payable_now"],
            "7.500"
        );

        // Abandoned on the card page, and one whose bank never answers.
        let abandoned = app
            .pay("mobile", &[(&fine, "7.500")], &Uuid::new_v4().to_string())
            .await;
        let abandoned_id = abandoned.body["id"].as_str().unwrap().to_owned();
        assert_eq!(
            app.bill_as(&gdt, &fine).await["amount_payable_now"],
            "0.000"
        );
        let (silent, silent_next, ..) = pending_fine(&app, "3.000").await;
        let page = app
            .client
            .post(&silent_next)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("card_number={NO_ANSWER}&expiry=12%2F39&cvv=123"))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);

        // While the acquirer still has them open, they stay pending.
        let summary = app.reconcile().await;
        assert_eq!(summary.still_pending, 2, "{}: {summary:?}", app.label);
        app.client
            .post(format!("{}/control/expire-open-sessions", app.sim_base))
            .send()
            .await
            .unwrap();
        let summary = app.reconcile().await;
        assert_eq!(summary.expired, 2, "{}: {summary:?}", app.label);
        assert_eq!(app.payment(&abandoned_id).await["state"], "expired");
        assert_eq!(app.payment(&silent).await["state"], "expired");
        assert_eq!(
            app.bill_as(&gdt, &fine).await["amount_payable_now"],
            "7.500"
        );

        let paid = app.pay_with_card(&[(&fine, "7.500")], APPROVE).await;
        assert_eq!(paid["state"], "captured");
        app.assert_ledger_ok().await;
    }
}

/// The session is opened before the payment is stored. An acquirer that
/// cannot open one: the payer is told at once, the attempt is kept as a
/// failed payment that holds nothing on the bill, and a repeat of the
/// request is answered with it, without trying again.
#[tokio::test]
async fn an_acquirer_that_cannot_open_a_session_leaves_a_failed_attempt_and_the_bill_payable() {
    // A port nothing listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    for app in backends_with(|c| c.acquirers[0].url = dead_url.clone()).await {
        let gdt = app.agency_key("GDT").await;
        let fine = app.bill(&gdt, "traffic-fines", "850101234", "12.000").await;
        let key = Uuid::new_v4().to_string();
        let refused = app.pay("portal", &[(&fine, "12.000")], &key).await;
        assert_eq!(
            (refused.status, refused.code()),
            (StatusCode::BAD_GATEWAY, "acquirer_unavailable"),
            "{}: {:?}",
            app.label,
            refused.body
        );
        let kept = app
            .store
            .payment_by_key(&key)
            .await
            .unwrap()
            .expect("the attempt is kept");
        assert_eq!(kept.state, tahseel_core::payment::PaymentState::Failed);
        assert_eq!(kept.failure_reason.as_deref(), Some("acquirer_unavailable"));
        assert_eq!(
            app.bill_as(&gdt, &fine).await["amount_payable_now"],
            "12.000",
            "{}: the failed attempt holds nothing",
            app.label
        );
        let again = app.pay("portal", &[(&fine, "12.000")], &key).await;
        assert_eq!(
            again.headers["idempotent-replayed"], "true",
            "{}: {:?}",
            app.label, again.body
        );
        assert_eq!(again.body["id"], kept.id.to_string());
        assert_eq!(again.body["state"], "failed");
        app.assert_ledger_ok().await;
    }
}

#[tokio::test]
async fn a_three_d_secure_challenge_approves_with_the_right_code_only() {
    for app in backends().await {
        for (code, expected) in [(CHALLENGE_CODE, "captured"), ("000000", "declined")] {
            let (id, next, ..) = pending_fine(&app, "9.000").await;
            let page = app
                .client
                .post(&next)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("card_number={CHALLENGE}&expiry=12%2F39&cvv=123"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(
                page.contains("name=\"code\""),
                "the challenge step asks for a code"
            );
            assert_eq!(app.payment(&id).await["state"], "pending");
            let done = app
                .client
                .post(format!("{next}/challenge"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("code={code}"))
                .send()
                .await
                .unwrap();
            assert_eq!(done.status(), StatusCode::SEE_OTHER);
            let payment = app.payment(&id).await;
            assert_eq!(payment["state"], expected, "{}", app.label);
        }
        app.assert_ledger_ok().await;
    }
}

#[tokio::test]
async fn a_failing_or_hanging_status_endpoint_leaves_payments_pending() {
    for app in backends().await {
        let (id, next, ..) = pending_fine(&app, "5.000").await;
        app.sim.set_faults(Faults {
            drop_callbacks: true,
            status: StatusFault::Fail,
            ..Faults::default()
        });
        app.submit_card(&next, APPROVE).await;
        let summary = app.reconcile().await;
        assert_eq!(summary.errors, 1, "{}: {summary:?}", app.label);
        app.sim.set_faults(Faults {
            status: StatusFault::Hang,
            ..Faults::default()
        });
        let summary = app.reconcile().await;
        assert_eq!(
            summary.errors, 1,
            "{}: the inquiry times out: {summary:?}",
            app.label
        );
        assert_eq!(app.payment(&id).await["state"], "pending");
        app.sim.set_faults(Faults::default());
        assert_eq!(app.reconcile().await.captured, 1);
        app.assert_ledger_ok().await;
    }
}

#[tokio::test]
async fn refunds_go_through_the_acquirer_and_a_refused_one_is_reversed() {
    for app in backends().await {
        let (id, next, gdt, _) = pending_fine(&app, "40.000").await;
        app.submit_card(&next, APPROVE).await;
        let refund = |amount: &str| {
            let (app, gdt, id) = (&app, gdt.clone(), id.clone());
            let body = json!({"amount": amount, "reason": "fine annulled by court"});
            async move {
                app.call(
                    Method::POST,
                    &format!("/api/v1/agency/payments/{id}/refunds"),
                    Some(&gdt),
                    Some(&Uuid::new_v4().to_string()),
                    Some(body),
                )
                .await
            }
        };
        let ok = refund("10.000").await;
        assert_eq!(ok.body["state"], "refunded", "{}: {:?}", app.label, ok.body);

        app.sim.set_faults(Faults {
            refuse_refunds: true,
            ..Faults::default()
        });
        let refused = refund("5.000").await;
        assert_eq!(refused.body["state"], "failed");
        assert_eq!(refused.body["failure_reason"], "refunds_suspended");
        assert_eq!(
            app.balance("agency:GDT:payable").await,
            -30_000,
            "a refused refund goes back to the agency"
        );
        assert_eq!(app.balance("refunds:payable").await, 0);
        app.sim.set_faults(Faults::default());

        // The acquirer unreachable: the refund stays requested and the reconciler finishes it.
        let down = tahseel::app::hub(
            app.store.clone(),
            &app.base,
            &tahseel::app::HubConfig {
                acquirers: vec![tahseel::app::AcquirerSetting {
                    name: "sim".into(),
                    url: "http://127.0.0.1:9".into(),
                    secret: SIM_SECRET.into(),
                }],
                ..Default::default()
            },
        )
        .unwrap();
        let pending = down
            .refund(
                gdt_id(&app).await,
                Uuid::parse_str(&id).unwrap(),
                &tahseel::hub::RefundRequest {
                    amount: Fils::new(2_000),
                    reason: "overcharge".into(),
                    bill_id: None,
                },
                &Uuid::new_v4().to_string(),
            )
            .await
            .unwrap()
            .into_inner();
        assert_eq!(pending.state.as_str(), "requested");
        assert_eq!(app.balance("refunds:payable").await, -2_000);
        let summary = app.reconcile().await;
        assert_eq!(summary.refunds_finished, 1, "{}: {summary:?}", app.label);
        assert_eq!(app.balance("refunds:payable").await, 0);
        assert_eq!(app.balance("acquirer:sim:clearing").await, 28_000);
        app.assert_ledger_ok().await;
    }
}

async fn gdt_id(app: &TestApp) -> Uuid {
    app.store.agency_by_code("GDT").await.unwrap().id
}

#[tokio::test]
async fn a_method_fee_is_charged_on_top_and_posted_to_its_own_account() {
    let with_fee =
        |c: &mut tahseel::app::HubConfig| c.fees = vec![(PayMethod::Credit, Fils::new(500))];
    for app in backends_with(with_fee).await {
        let gdt = app.agency_key("GDT").await;
        let fine = app.bill(&gdt, "traffic-fines", "850101234", "20.000").await;
        let created = app
            .call(
                Method::POST,
                "/api/v1/payments",
                None,
                Some(&Uuid::new_v4().to_string()),
                Some(json!({"channel": "mobile", "method": "credit", "lines": [{"bill_id": fine, "amount": "20.000"}]})),
            )
            .await;
        assert_eq!(
            created.body["total"], "20.500",
            "{}: {:?}",
            app.label, created.body
        );
        assert_eq!(created.body["fee"], "0.500");
        app.submit_card(created.body["next_url"].as_str().unwrap(), APPROVE)
            .await;
        assert_eq!(
            app.payment(created.body["id"].as_str().unwrap()).await["state"],
            "captured"
        );
        assert_eq!(app.balance("acquirer:sim:clearing").await, 20_500);
        assert_eq!(
            app.balance("agency:GDT:payable").await,
            -20_000,
            "the agency gets its whole amount"
        );
        assert_eq!(app.balance("fees:revenue").await, -500);
        // Debit carries no fee here.
        let other = app.bill(&gdt, "traffic-fines", "850101234", "1.000").await;
        let debit = app
            .pay("portal", &[(&other, "1.000")], &Uuid::new_v4().to_string())
            .await;
        assert_eq!(debit.body["total"], "1.000");
        app.assert_ledger_ok().await;
    }
}
