use std::collections::HashSet;
use std::sync::Arc;

use reqwest::StatusCode;
use tahseel::simulator::protocol::{sign, Notice, SessionStatus};
use tahseel::simulator::Faults;
use tahseel_core::Fils;
use uuid::Uuid;

use crate::helpers::{backends, TestApp, APPROVE, SIM_SECRET};

const CHANNELS: [&str; 4] = ["portal", "mobile", "kiosk", "counter"];

/// An acquirer's approval notice: timestamp, signature and body.
#[derive(Clone)]
struct SignedNotice {
    timestamp: String,
    signature: String,
    body: Vec<u8>,
}

/// An approval of `amount` for a payment, signed as the simulated acquirer signs.
fn signed_approval(payment_id: &str, session_ref: &str, amount: Fils) -> SignedNotice {
    let notice = Notice {
        event_id: Uuid::new_v4().to_string(),
        merchant_ref: payment_id.to_owned(),
        session_ref: session_ref.to_owned(),
        status: SessionStatus::Approved,
        amount,
        card_brand: Some("visa".into()),
        card_last4: Some("1111".into()),
        reason: None,
    };
    let body = serde_json::to_vec(&notice).unwrap();
    let timestamp = chrono::Utc::now().timestamp().to_string();
    let signature = sign(SIM_SECRET.as_bytes(), &timestamp, &body);
    SignedNotice {
        timestamp,
        signature,
        body,
    }
}

/// Posts a notice to the hub as the acquirer does.
async fn send_notice(app: &TestApp, notice: SignedNotice) -> StatusCode {
    app.client
        .post(format!("{}/api/v1/acquirers/sim/notices", app.base))
        .header("x-acquirer-timestamp", notice.timestamp)
        .header("x-acquirer-signature", notice.signature)
        .header("content-type", "application/json")
        .body(notice.body)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn fifty_channels_paying_the_same_bill_at_once_capture_it_exactly_once() {
    for app in backends().await {
        let app = Arc::new(app);
        let gdt = app.agency_key("GDT").await;
        let fine = app.bill(&gdt, "traffic-fines", "850101234", "25.000").await;

        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..50 {
            let (app, fine) = (app.clone(), fine.clone());
            tasks.spawn(async move {
                app.pay(
                    CHANNELS[i % 4],
                    &[(&fine, "25.000")],
                    &Uuid::new_v4().to_string(),
                )
                .await
            });
        }
        let mut created = Vec::new();
        let mut refused = 0;
        while let Some(r) = tasks.join_next().await {
            let r = r.unwrap();
            match r.status {
                StatusCode::CREATED => created.push(r),
                StatusCode::CONFLICT => {
                    assert_eq!(
                        r.code(),
                        "bill_payment_in_progress",
                        "{}: {:?}",
                        app.label,
                        r.body
                    );
                    refused += 1;
                }
                other => panic!("{}: unexpected {other}: {:?}", app.label, r.body),
            }
        }
        assert_eq!(
            created.len(),
            1,
            "{}: exactly one payment may hold the bill",
            app.label
        );
        assert_eq!(refused, 49);

        // Every payer who reaches the card page submits at once.
        let next_url = created[0].body["next_url"].as_str().unwrap().to_owned();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let (app, url) = (app.clone(), next_url.clone());
            tasks.spawn(async move { app.submit_card(&url, APPROVE).await });
        }
        while let Some(status) = tasks.join_next().await {
            assert_eq!(status.unwrap(), StatusCode::SEE_OTHER);
        }
        let bill = app.bill_as(&gdt, &fine).await;
        assert_eq!(bill["state"], "paid", "{}", app.label);
        assert_eq!(bill["amount_paid"], "25.000");
        assert_eq!(
            app.balance("acquirer:sim:clearing").await,
            25_000,
            "{}: captured once",
            app.label
        );
        assert_eq!(app.balance("agency:GDT:payable").await, -25_000);
        app.assert_ledger_ok().await;
    }
}

#[tokio::test]
async fn fifty_retries_with_one_idempotency_key_create_one_payment() {
    for app in backends().await {
        let app = Arc::new(app);
        let ewa = app.agency_key("EWA").await;
        let bill = app
            .bill(&ewa, "electricity-water", "900612345", "9.999")
            .await;
        let key = Uuid::new_v4().to_string();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let (app, bill, key) = (app.clone(), bill.clone(), key.clone());
            tasks.spawn(async move { app.pay("mobile", &[(&bill, "9.999")], &key).await });
        }
        let mut ids = HashSet::new();
        while let Some(r) = tasks.join_next().await {
            let r = r.unwrap();
            assert_eq!(r.status, StatusCode::CREATED, "{}: {:?}", app.label, r.body);
            ids.insert(r.body["id"].as_str().unwrap().to_owned());
        }
        assert_eq!(ids.len(), 1, "{}", app.label);
        assert_eq!(
            app.bill_as(&ewa, &bill).await["amount_payable_now"],
            "0.000"
        );
    }
}

#[tokio::test]
async fn fifty_copies_of_a_signed_notice_capture_once() {
    for app in backends().await {
        let app = Arc::new(app);
        let moj = app.agency_key("MOJ").await;
        let file = app
            .bill(&moj, "enforcement-file", "900612345", "300.000")
            .await;
        let created = app
            .pay("portal", &[(&file, "300.000")], &Uuid::new_v4().to_string())
            .await;
        let id = created.body["id"].as_str().unwrap().to_owned();
        let next_url = created.body["next_url"].as_str().unwrap();
        let session_ref = next_url.rsplit('/').next().unwrap().to_owned();

        // The acquirer's own notice is lost; fifty copies of a signed one arrive at once.
        app.sim.set_faults(Faults {
            drop_callbacks: true,
            ..Faults::default()
        });
        assert_eq!(
            app.submit_card(next_url, APPROVE).await,
            StatusCode::SEE_OTHER
        );
        assert_eq!(app.payment(&id).await["state"], "pending");
        let notice = signed_approval(&id, &session_ref, Fils::new(300_000));

        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let (app, notice) = (app.clone(), notice.clone());
            tasks.spawn(async move { send_notice(&app, notice).await });
        }
        while let Some(status) = tasks.join_next().await {
            assert_eq!(status.unwrap(), StatusCode::OK, "{}", app.label);
        }
        assert_eq!(app.payment(&id).await["state"], "captured");
        assert_eq!(
            app.balance("acquirer:sim:clearing").await,
            300_000,
            "{}",
            app.label
        );
        app.assert_ledger_ok().await;
    }
}

fn group_counts(app: &TestApp) -> (u64, u64, u64) {
    use std::sync::atomic::Ordering::Relaxed;
    let stats = app.store.group_stats().expect("group commit is on");
    (
        stats.transactions.load(Relaxed),
        stats.writes.load(Relaxed),
        stats.largest.load(Relaxed),
    )
}

/// Shared transactions that failed and were replayed write by write.
fn group_replays(app: &TestApp) -> u64 {
    let stats = app.store.group_stats().expect("group commit is on");
    stats.replayed.load(std::sync::atomic::Ordering::Relaxed)
}

/// Group commit keeps every guarantee when many payment writes share one
/// transaction: payments created at once for the same bills (double clicks
/// and a second channel) hold each bill once; each payment is captured
/// exactly once; repeats are answered as repeats; a bad notice is refused
/// alone without undoing its neighbours; the ledger balances.
#[tokio::test]
async fn writes_sharing_one_transaction_keep_every_guarantee() {
    for app in backends().await {
        let app = Arc::new(app);
        let gdt = app.agency_key("GDT").await;
        app.sim.set_faults(Faults {
            drop_callbacks: true,
            ..Faults::default()
        });
        let mut bills = Vec::new();
        for i in 0..60 {
            let amount = format!("{}.250", i + 1);
            let bill = app.bill(&gdt, "traffic-fines", "850101234", &amount).await;
            bills.push((bill, amount));
        }
        // For every bill at once: a double-clicked payment (one key, twice)
        // and a payment from another channel (its own key).
        let replays_before = group_replays(&app);
        let (transactions_before, writes_before, _) = group_counts(&app);
        let mut tasks = tokio::task::JoinSet::new();
        for (n, (bill, amount)) in bills.iter().enumerate() {
            let key = Uuid::new_v4().to_string();
            for (channel, key) in [
                ("portal", key.clone()),
                ("portal", key),
                ("mobile", Uuid::new_v4().to_string()),
            ] {
                let (app, bill, amount) = (app.clone(), bill.clone(), amount.clone());
                tasks.spawn(async move { (n, app.pay(channel, &[(&bill, &amount)], &key).await) });
            }
        }
        let mut answers: Vec<Vec<crate::helpers::Reply>> =
            (0..bills.len()).map(|_| Vec::new()).collect();
        while let Some(r) = tasks.join_next().await {
            let (n, answer) = r.unwrap();
            answers[n].push(answer);
        }
        let (transactions, writes, largest) = group_counts(&app);
        let (transactions, writes) = (transactions - transactions_before, writes - writes_before);
        assert!(
            largest > 1 && transactions < writes,
            "{}: payment writes shared transactions ({transactions} for {writes}, largest {largest})",
            app.label
        );
        let mut payments = Vec::new();
        for ((_, amount), answers) in bills.iter().zip(&answers) {
            let held: HashSet<String> = answers
                .iter()
                .filter(|a| a.status == StatusCode::CREATED)
                .map(|a| a.body["id"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(
                held.len(),
                1,
                "{}: one payment holds each bill: {answers:?}",
                app.label
            );
            for a in answers.iter().filter(|a| a.status != StatusCode::CREATED) {
                assert_eq!(
                    a.status,
                    StatusCode::CONFLICT,
                    "{}: {:?}",
                    app.label,
                    a.body
                );
                assert_eq!(a.code(), "bill_payment_in_progress");
            }
            // The request that made the payment answers once the acquirer's
            // page is open; its double may have been answered before that.
            let created = answers
                .iter()
                .find(|a| a.status == StatusCode::CREATED && a.body["next_url"].is_string())
                .unwrap();
            let next_url = created.body["next_url"].as_str().unwrap().to_owned();
            assert_eq!(
                app.submit_card(&next_url, APPROVE).await,
                StatusCode::SEE_OTHER
            );
            let session_ref = next_url.rsplit('/').next().unwrap().to_owned();
            payments.push((
                created.body["id"].as_str().unwrap().to_owned(),
                session_ref,
                Fils::parse(amount).unwrap(),
            ));
        }
        let (transactions_before, writes_before, _) = group_counts(&app);
        // Three copies of each payment's notice, and for every tenth payment
        // a forged amount, all at once.
        let mut tasks = tokio::task::JoinSet::new();
        for (i, (id, session, amount)) in payments.iter().enumerate() {
            let mut sends = vec![(signed_approval(id, session, *amount), true); 3];
            if i % 10 == 0 {
                let forged = amount.checked_add(Fils::new(1)).unwrap();
                sends.push((signed_approval(id, session, forged), false));
            }
            for (notice, good) in sends {
                let app = app.clone();
                tasks.spawn(async move { (send_notice(&app, notice).await, good) });
            }
        }
        while let Some(r) = tasks.join_next().await {
            let (status, good) = r.unwrap();
            let expected = if good {
                StatusCode::OK
            } else {
                StatusCode::BAD_REQUEST
            };
            assert_eq!(status, expected, "{}", app.label);
        }
        let mut total = 0;
        for (id, _, amount) in &payments {
            let p = app.payment(id).await;
            assert_eq!(p["state"], "captured", "{}", app.label);
            let receipt = p["receipt_number"].as_str().unwrap().to_owned();
            assert!(!receipt.is_empty());
            total += amount.as_i64();
        }
        assert_eq!(
            app.balance("acquirer:sim:clearing").await,
            total,
            "each captured once"
        );
        assert_eq!(app.balance("agency:GDT:payable").await, -total);
        let receipts: HashSet<String> = {
            let mut set = HashSet::new();
            for (id, _, _) in &payments {
                set.insert(
                    app.payment(id).await["receipt_number"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                );
            }
            set
        };
        assert_eq!(receipts.len(), payments.len(), "one receipt per payment");
        if app.store.backend_name() == "sqlite" {
            // One writer: receipt numbers run on without gaps, even with
            // refused notices and repeats in the same transactions.
            let mut numbers: Vec<i64> = receipts
                .iter()
                .map(|r| r.trim_start_matches("TH-").parse().unwrap())
                .collect();
            numbers.sort_unstable();
            let span = (numbers[numbers.len() - 1] - numbers[0] + 1) as usize;
            assert_eq!(span, numbers.len(), "{}: receipts {numbers:?}", app.label);
        }
        let (transactions, writes, _) = group_counts(&app);
        let (transactions, writes) = (transactions - transactions_before, writes - writes_before);
        assert_eq!(
            writes, 186,
            "{}: every verified notice went through the queue",
            app.label
        );
        assert!(
            transactions < writes,
            "{}: notices shared transactions ({transactions} for {writes})",
            app.label
        );
        // Refused writes were undone inside their shared transactions: none
        // failed as a whole (a read-ahead the database rejects would, and
        // the write-by-write replay would hide it).
        assert_eq!(
            group_replays(&app),
            replays_before,
            "{}: no shared transaction was replayed write by write",
            app.label
        );
        app.assert_ledger_ok().await;
    }
}

/// Baskets of bills from two agencies, captured by notices that share
/// transactions: each line is paid to its own agency. (A shared
/// transaction reads its payments' lines ahead, with what each shows of
/// its bill, for all its captures at once.)
#[tokio::test]
async fn baskets_captured_in_shared_transactions_pay_each_line_to_its_agency() {
    for app in backends().await {
        let app = Arc::new(app);
        let gdt = app.agency_key("GDT").await;
        let ewa = app.agency_key("EWA").await;
        app.sim.set_faults(Faults {
            drop_callbacks: true,
            ..Faults::default()
        });
        let (gdt_before, ewa_before) = (
            app.balance("agency:GDT:payable").await,
            app.balance("agency:EWA:payable").await,
        );
        let mut payments = Vec::new();
        let (mut to_gdt, mut to_ewa) = (0, 0);
        for i in 0..30 {
            let (fine, bill) = (format!("{}.125", i + 1), format!("{}.500", i + 2));
            let a = app.bill(&gdt, "traffic-fines", "850101234", &fine).await;
            let b = app
                .bill(&ewa, "electricity-water", "850101234", &bill)
                .await;
            let created = app
                .pay(
                    "mobile",
                    &[(&a, &fine), (&b, &bill)],
                    &Uuid::new_v4().to_string(),
                )
                .await;
            assert_eq!(created.status, StatusCode::CREATED, "{}", app.label);
            let next_url = created.body["next_url"].as_str().unwrap().to_owned();
            assert_eq!(
                app.submit_card(&next_url, APPROVE).await,
                StatusCode::SEE_OTHER
            );
            let (fine, bill) = (Fils::parse(&fine).unwrap(), Fils::parse(&bill).unwrap());
            to_gdt += fine.as_i64();
            to_ewa += bill.as_i64();
            payments.push((
                created.body["id"].as_str().unwrap().to_owned(),
                next_url.rsplit('/').next().unwrap().to_owned(),
                fine.checked_add(bill).unwrap(),
            ));
        }
        let replays_before = group_replays(&app);
        let (transactions_before, writes_before, _) = group_counts(&app);
        let mut tasks = tokio::task::JoinSet::new();
        for (id, session, amount) in &payments {
            let (app, notice) = (app.clone(), signed_approval(id, session, *amount));
            tasks.spawn(async move { send_notice(&app, notice).await });
        }
        while let Some(status) = tasks.join_next().await {
            assert_eq!(status.unwrap(), StatusCode::OK, "{}", app.label);
        }
        let (transactions, writes, _) = group_counts(&app);
        assert!(
            transactions - transactions_before < writes - writes_before,
            "{}: the captures shared transactions",
            app.label
        );
        assert_eq!(group_replays(&app), replays_before, "{}", app.label);
        for (id, _, _) in &payments {
            assert_eq!(app.payment(id).await["state"], "captured", "{}", app.label);
        }
        assert_eq!(
            app.balance("agency:GDT:payable").await - gdt_before,
            -to_gdt,
            "{}: the traffic lines are owed to GDT",
            app.label
        );
        assert_eq!(
            app.balance("agency:EWA:payable").await - ewa_before,
            -to_ewa,
            "{}: the electricity lines are owed to EWA",
            app.label
        );
        app.assert_ledger_ok().await;
    }
}
