use reqwest::{Method, StatusCode};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{backends, APPROVE, DECLINE};

#[tokio::test]
async fn a_basket_of_two_bills_is_paid_in_full() {
    for app in backends().await {
        let gdt = app.agency_key("GDT").await;
        let ewa = app.agency_key("EWA").await;
        let fine = app.bill(&gdt, "traffic-fines", "850101234", "20.000").await;
        let power = app
            .bill(&ewa, "electricity-water", "850101234", "42.750")
            .await;

        let dues = app.get("/api/v1/dues?payer=850101234").await;
        let ids: Vec<&str> = dues.body["bills"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["id"].as_str().unwrap())
            .collect();
        assert!(
            ids.contains(&fine.as_str()) && ids.contains(&power.as_str()),
            "{}",
            app.label
        );

        let created = app
            .pay(
                "portal",
                &[(&fine, "20.000"), (&power, "42.750")],
                &Uuid::new_v4().to_string(),
            )
            .await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{}: {:?}",
            app.label,
            created.body
        );
        assert_eq!(created.body["state"], "pending");
        assert_eq!(created.body["total"], "62.750");
        // The answer is built from what the writes knew; it is what the
        // store holds.
        let id = created.body["id"].as_str().unwrap();
        assert_eq!(created.body, app.payment(id).await, "{}", app.label);
        let next_url = created.body["next_url"].as_str().unwrap();

        // The acquirer's hosted page carries the card inputs; Tahseel's API never does.
        let page = app
            .client
            .get(next_url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for input in ["name=\"card_number\"", "name=\"expiry\"", "name=\"cvv\""] {
            assert!(page.contains(input), "{input}");
        }
        assert_eq!(
            app.submit_card(next_url, APPROVE).await,
            StatusCode::SEE_OTHER
        );

        let id = created.body["id"].as_str().unwrap();
        let payment = app.get(&format!("/api/v1/payments/{id}")).await.body;
        assert_eq!(payment["state"], "captured", "{}", app.label);
        assert_eq!(payment["card"], json!({"brand": "visa", "last4": "1111"}));
        assert_eq!(app.bill_as(&gdt, &fine).await["state"], "paid");
        assert_eq!(app.bill_as(&ewa, &power).await["state"], "paid");

        let receipt = app.get(&format!("/api/v1/payments/{id}/receipt")).await;
        assert_eq!(receipt.status, StatusCode::OK);
        assert!(receipt.body["receipt_number"]
            .as_str()
            .unwrap()
            .starts_with("TH-"));
        assert_eq!(receipt.body["total"], "62.750");
        assert_eq!(receipt.body["lines"].as_array().unwrap().len(), 2);
        assert_eq!(receipt.body["title"]["ar"], "إيصال دفع");
        assert!(receipt.body["paid_at_local"]
            .as_str()
            .unwrap()
            .ends_with("+03:00"));

        assert_eq!(app.balance("acquirer:sim:clearing").await, 62_750);
        assert_eq!(app.balance("agency:GDT:payable").await, -20_000);
        assert_eq!(app.balance("agency:EWA:payable").await, -42_750);

        let dues = app.get("/api/v1/dues?payer=850101234").await;
        let still: Vec<&str> = dues.body["bills"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["id"].as_str().unwrap())
            .collect();
        assert!(!still.contains(&fine.as_str()) && !still.contains(&power.as_str()));
        app.assert_ledger_ok().await;
    }
}

#[tokio::test]
async fn partial_payment_is_taken_only_where_the_service_allows_it() {
    for app in backends().await {
        let ewa = app.agency_key("EWA").await;
        let gdt = app.agency_key("GDT").await;
        let power = app
            .bill(&ewa, "electricity-water", "900612345", "30.000")
            .await;
        let fine = app.bill(&gdt, "traffic-fines", "900612345", "30.000").await;

        let paid = app.pay_with_card(&[(&power, "10.000")], APPROVE).await;
        assert_eq!(paid["state"], "captured", "{}", app.label);
        let bill = app.bill_as(&ewa, &power).await;
        assert_eq!(bill["state"], "partially_paid");
        assert_eq!(bill["amount_outstanding"], "20.000");

        let refused = app
            .pay("mobile", &[(&fine, "10.000")], &Uuid::new_v4().to_string())
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(refused.code(), "partial_payment_not_allowed");
        assert!(refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("30.000"));

        let rest = app.pay_with_card(&[(&power, "20.000")], APPROVE).await;
        assert_eq!(rest["state"], "captured");
        assert_eq!(app.bill_as(&ewa, &power).await["state"], "paid");
        app.assert_ledger_ok().await;
    }
}

#[tokio::test]
async fn overpayment_is_refused() {
    for app in backends().await {
        let moj = app.agency_key("MOJ").await;
        let file = app
            .bill(&moj, "enforcement-file", "771203456", "100.000")
            .await;
        let r = app
            .pay("portal", &[(&file, "100.001")], &Uuid::new_v4().to_string())
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", app.label);
        assert_eq!(r.code(), "overpayment");
        assert_eq!(
            app.bill_as(&moj, &file).await["amount_payable_now"],
            "100.000"
        );
    }
}

#[tokio::test]
async fn an_idempotency_key_replays_the_same_payment_and_refuses_another_body() {
    for app in backends().await {
        let gdt = app.agency_key("GDT").await;
        let a = app.bill(&gdt, "traffic-fines", "850101234", "5.000").await;
        let b = app.bill(&gdt, "traffic-fines", "850101234", "7.000").await;
        let key = Uuid::new_v4().to_string();

        let first = app.pay("portal", &[(&a, "5.000")], &key).await;
        assert_eq!(first.status, StatusCode::CREATED);
        assert_eq!(first.headers["idempotent-replayed"], "false");
        let again = app.pay("portal", &[(&a, "5.000")], &key).await;
        assert_eq!(
            again.status,
            StatusCode::CREATED,
            "{}: {:?}",
            app.label,
            again.body
        );
        assert_eq!(again.headers["idempotent-replayed"], "true");
        assert_eq!(again.body["id"], first.body["id"]);
        assert_eq!(again.body["next_url"], first.body["next_url"]);
        // The repeat reserved nothing more: the bill is held once.
        assert_eq!(app.bill_as(&gdt, &a).await["amount_payable_now"], "0.000");

        let other = app.pay("portal", &[(&b, "7.000")], &key).await;
        assert_eq!(other.status, StatusCode::CONFLICT);
        assert_eq!(other.code(), "idempotency_key_reused");
        // The refused request reserved nothing.
        assert_eq!(app.bill_as(&gdt, &b).await["amount_payable_now"], "7.000");

        // A replay after capture still answers with the same, now captured, payment.
        app.submit_card(first.body["next_url"].as_str().unwrap(), APPROVE)
            .await;
        let late = app.pay("portal", &[(&a, "5.000")], &key).await;
        assert_eq!(late.body["id"], first.body["id"]);
        assert_eq!(late.body["state"], "captured");
        app.assert_ledger_ok().await;
    }
}

#[tokio::test]
async fn a_declined_payment_leaves_the_bill_payable_and_a_retry_succeeds() {
    for app in backends().await {
        let gdt = app.agency_key("GDT").await;
        let fine = app.bill(&gdt, "traffic-fines", "850101234", "12.500").await;
        let declined = app.pay_with_card(&[(&fine, "12.500")], DECLINE).await;
        assert_eq!(declined["state"], "declined", "{}", app.label);
        assert_eq!(declined["failure_reason"], "card_declined");
        assert_eq!(declined["receipt_number"], serde_json::Value::Null);
        let bill = app.bill_as(&gdt, &fine).await;
        assert_eq!(bill["state"], "open");
        assert_eq!(bill["amount_payable_now"], "12.500");
        let receipt = app
            .get(&format!(
                "/api/v1/payments/{}/receipt",
                declined["id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(receipt.code(), "payment_not_captured");
        assert_eq!(app.balance("acquirer:sim:clearing").await, 0);

        let retried = app.pay_with_card(&[(&fine, "12.500")], APPROVE).await;
        assert_eq!(retried["state"], "captured");
        assert_eq!(app.balance("acquirer:sim:clearing").await, 12_500);
        app.assert_ledger_ok().await;
    }
}

#[tokio::test]
async fn fee_services_charge_their_fee_and_bills_can_be_cancelled() {
    for app in backends().await {
        let iga = app.agency_key("IGA").await;
        let r = app
            .call(
                Method::POST,
                "/api/v1/agency/bills",
                Some(&iga),
                None,
                Some(json!({"service": "id-card", "reference": "ID-1", "payer": "771203456", "due_date": "2030-01-01"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}: {:?}", app.label, r.body);
        assert_eq!(r.body["amount_due"], "2.000");
        // The same reference with the same details is the same bill.
        let again = app
            .call(
                Method::POST,
                "/api/v1/agency/bills",
                Some(&iga),
                None,
                Some(json!({"service": "id-card", "reference": "ID-1", "payer": "771203456", "due_date": "2030-01-01"})),
            )
            .await;
        assert_eq!(again.status, StatusCode::OK);
        assert_eq!(again.body["id"], r.body["id"]);
        let wrong_fee = app
            .call(
                Method::POST,
                "/api/v1/agency/bills",
                Some(&iga),
                None,
                Some(json!({"service": "id-card", "reference": "ID-2", "payer": "771203456", "amount": "3.000", "due_date": "2030-01-01"})),
            )
            .await;
        assert_eq!(wrong_fee.status, StatusCode::UNPROCESSABLE_ENTITY);

        let id = r.body["id"].as_str().unwrap();
        let held = app
            .pay("kiosk", &[(id, "2.000")], &Uuid::new_v4().to_string())
            .await;
        assert_eq!(held.status, StatusCode::CREATED);
        let cancel = app
            .call(
                Method::POST,
                &format!("/api/v1/agency/bills/{id}/cancel"),
                Some(&iga),
                None,
                None,
            )
            .await;
        assert_eq!(
            cancel.status,
            StatusCode::CONFLICT,
            "a bill with a payment in progress is not cancelled"
        );
        app.submit_card(held.body["next_url"].as_str().unwrap(), DECLINE)
            .await;
        let cancel = app
            .call(
                Method::POST,
                &format!("/api/v1/agency/bills/{id}/cancel"),
                Some(&iga),
                None,
                None,
            )
            .await;
        assert_eq!(cancel.status, StatusCode::OK);
        assert_eq!(cancel.body["state"], "cancelled");
        let pay = app
            .pay("kiosk", &[(id, "2.000")], &Uuid::new_v4().to_string())
            .await;
        assert_eq!(pay.code(), "bill_not_payable");
    }
}
