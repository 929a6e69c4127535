use reqwest::{Method, StatusCode};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{backends, APPROVE};

#[tokio::test]
async fn refunds_never_exceed_what_was_captured() {
    for app in backends().await {
        let gdt = app.agency_key("GDT").await;
        let ewa = app.agency_key("EWA").await;
        let fine = app.bill(&gdt, "traffic-fines", "850101234", "20.000").await;
        let power = app
            .bill(&ewa, "electricity-water", "850101234", "10.000")
            .await;
        let payment = app
            .pay_with_card(&[(&fine, "20.000"), (&power, "10.000")], APPROVE)
            .await;
        let id = payment["id"].as_str().unwrap();
        let refund = |key: &str, amount: &str, agency: &str| {
            let path = format!("/api/v1/agency/payments/{id}/refunds");
            let body = json!({"amount": amount, "reason": "duplicate fine"});
            let agency = agency.to_owned();
            let key = key.to_owned();
            let app = &app;
            async move {
                app.call(Method::POST, &path, Some(&agency), Some(&key), Some(body))
                    .await
            }
        };

        // GDT may refund at most its own 20.000, not the payment's 30.000.
        let too_much = refund(&Uuid::new_v4().to_string(), "20.001", &gdt).await;
        assert_eq!(
            too_much.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}: {:?}",
            app.label,
            too_much.body
        );
        assert_eq!(too_much.code(), "refund_exceeds_captured");

        let key = Uuid::new_v4().to_string();
        let first = refund(&key, "15.000", &gdt).await;
        assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
        assert_eq!(first.body["state"], "refunded");
        let replay = refund(&key, "15.000", &gdt).await;
        assert_eq!(replay.body["id"], first.body["id"]);
        assert_eq!(replay.headers["idempotent-replayed"], "true");

        let rest = refund(&Uuid::new_v4().to_string(), "5.001", &gdt).await;
        assert_eq!(rest.code(), "refund_exceeds_captured");
        let exact = refund(&Uuid::new_v4().to_string(), "5.000", &gdt).await;
        assert_eq!(exact.status, StatusCode::CREATED);

        let as_gdt = app
            .call(
                Method::GET,
                &format!("/api/v1/agency/payments/{id}"),
                Some(&gdt),
                None,
                None,
            )
            .await;
        assert_eq!(as_gdt.body["refunded"], "20.000");
        assert_eq!(as_gdt.body["total"], "20.000");
        assert_eq!(
            as_gdt.body["lines"].as_array().unwrap().len(),
            1,
            "an agency sees only its own lines"
        );

        assert_eq!(app.balance("agency:GDT:payable").await, 0);
        assert_eq!(app.balance("agency:EWA:payable").await, -10_000);
        assert_eq!(app.balance("acquirer:sim:clearing").await, 10_000);
        assert_eq!(app.balance("refunds:payable").await, 0);

        // A pending payment cannot be refunded.
        let other = app.bill(&gdt, "traffic-fines", "850101234", "1.000").await;
        let pending = app
            .pay("portal", &[(&other, "1.000")], &Uuid::new_v4().to_string())
            .await;
        let pid = pending.body["id"].as_str().unwrap();
        let r = app
            .call(
                Method::POST,
                &format!("/api/v1/agency/payments/{pid}/refunds"),
                Some(&gdt),
                Some(&Uuid::new_v4().to_string()),
                Some(json!({"amount": "1.000", "reason": "x"})),
            )
            .await;
        assert_eq!(r.code(), "payment_not_captured");
        app.assert_ledger_ok().await;
    }
}
