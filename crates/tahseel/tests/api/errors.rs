//! Bad input gets a 4xx JSON error with a stable code and a message.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{backends, Reply};

fn assert_error(r: &Reply, status: StatusCode, code: &str) {
    assert_eq!(r.status, status, "{:?}", r.body);
    assert_eq!(r.code(), code, "{:?}", r.body);
    let message = r.body["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.len() > 10,
        "a message a person can act on: {:?}",
        r.body
    );
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx() {
    for app in backends().await {
        let gdt = app.agency_key("GDT").await;
        let fine = app.bill(&gdt, "traffic-fines", "850101234", "5.000").await;
        let pay = |body: Value| {
            let app = &app;
            async move {
                app.call(
                    Method::POST,
                    "/api/v1/payments",
                    None,
                    Some(&Uuid::new_v4().to_string()),
                    Some(body),
                )
                .await
            }
        };
        let line = |amount: &str| json!({"channel": "portal", "method": "debit", "lines": [{"bill_id": fine, "amount": amount}]});

        let malformed = app
            .client
            .post(format!("{}/api/v1/payments", app.base))
            .header("Idempotency-Key", "k1")
            .header("content-type", "application/json")
            .body("{\"channel\": ")
            .send()
            .await
            .unwrap();
        assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
        let body: Value = malformed.json().await.unwrap();
        assert_eq!(body["error"]["code"], "malformed_json");

        let mut unknown = line("5.000");
        unknown["tip"] = json!("1.000");
        assert_error(
            &pay(unknown).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        );
        assert_error(
            &pay(line("-5.000")).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_basket",
        );
        let four = pay(line("5.0001")).await;
        assert_error(&four, StatusCode::UNPROCESSABLE_ENTITY, "invalid_request");
        assert!(four.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("three decimals"));
        let float = pay(json!({"channel": "portal", "method": "debit", "lines": [{"bill_id": fine, "amount": 5.0}]})).await;
        assert_error(&float, StatusCode::UNPROCESSABLE_ENTITY, "invalid_request");
        assert_error(
            &pay(json!({"channel": "fax", "method": "debit", "lines": [{"bill_id": fine, "amount": "5.000"}]})).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        );
        assert_error(
            &pay(json!({"channel": "portal", "method": "debit", "lines": [{"bill_id": Uuid::new_v4(), "amount": "5.000"}]})).await,
            StatusCode::NOT_FOUND,
            "bill_not_found",
        );
        assert_error(
            &pay(json!({"channel": "portal", "method": "debit", "lines": []})).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_basket",
        );
        assert_error(
            &pay(json!({"channel": "portal", "method": "cash", "lines": [{"bill_id": fine, "amount": "5.000"}]})).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        );
        let no_key = app
            .call(
                Method::POST,
                "/api/v1/payments",
                None,
                None,
                Some(line("5.000")),
            )
            .await;
        assert_error(&no_key, StatusCode::BAD_REQUEST, "idempotency_key_required");

        assert_error(
            &app.get("/api/v1/dues?payer=12345678").await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_payer",
        );
        assert_error(
            &app.get("/api/v1/dues").await,
            StatusCode::BAD_REQUEST,
            "invalid_query",
        );
        assert_error(
            &app.get(&format!("/api/v1/payments/{}", Uuid::new_v4()))
                .await,
            StatusCode::NOT_FOUND,
            "payment_not_found",
        );
        assert_error(
            &app.get("/api/v1/payments/not-a-uuid").await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
        assert_error(
            &app.get("/api/v1/nothing-here").await,
            StatusCode::NOT_FOUND,
            "not_found",
        );

        let bill = |payer: &str, amount: &str| json!({"service": "traffic-fines", "reference": Uuid::new_v4().to_string(), "payer": payer, "amount": amount, "due_date": "2030-01-01"});
        let no_auth = app
            .call(
                Method::POST,
                "/api/v1/agency/bills",
                None,
                None,
                Some(bill("850101234", "1.000")),
            )
            .await;
        assert_error(&no_auth, StatusCode::UNAUTHORIZED, "unauthorized");
        let wrong = app
            .call(
                Method::POST,
                "/api/v1/agency/bills",
                Some("tsk_wrong"),
                None,
                Some(bill("850101234", "1.000")),
            )
            .await;
        assert_error(&wrong, StatusCode::UNAUTHORIZED, "unauthorized");
        let admin_only = app
            .call(
                Method::GET,
                "/api/v1/admin/agencies",
                Some(&gdt),
                None,
                None,
            )
            .await;
        assert_error(&admin_only, StatusCode::FORBIDDEN, "forbidden");
        let bad_cpr = app
            .call(
                Method::POST,
                "/api/v1/agency/bills",
                Some(&gdt),
                None,
                Some(bill("85010123X", "1.000")),
            )
            .await;
        assert_error(
            &bad_cpr,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        );
        assert!(bad_cpr.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("CPR"));
        let zero = app
            .call(
                Method::POST,
                "/api/v1/agency/bills",
                Some(&gdt),
                None,
                Some(bill("850101234", "0.000")),
            )
            .await;
        assert_error(&zero, StatusCode::UNPROCESSABLE_ENTITY, "invalid_amount");
        let huge = app
            .call(
                Method::POST,
                "/api/v1/agency/bills",
                Some(&gdt),
                None,
                Some(bill("850101234", "99999999999999999.000")),
            )
            .await;
        assert_error(&huge, StatusCode::UNPROCESSABLE_ENTITY, "invalid_request");
    }
}

#[tokio::test]
async fn a_revoked_key_is_refused() {
    for app in backends().await {
        let r = app
            .call(
                Method::POST,
                "/api/v1/admin/api-keys",
                Some(&app.admin_key),
                None,
                Some(json!({"agency": "EWA"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let key = r.body["key"].as_str().unwrap().to_owned();
        let id = r.body["api_key"]["id"].as_str().unwrap();
        assert_eq!(
            app.call(Method::GET, "/api/v1/agency/bills", Some(&key), None, None)
                .await
                .status,
            StatusCode::OK
        );
        let revoke = app
            .call(
                Method::POST,
                &format!("/api/v1/admin/api-keys/{id}/revoke"),
                Some(&app.admin_key),
                None,
                None,
            )
            .await;
        assert_eq!(revoke.status, StatusCode::OK);
        assert_error(
            &app.call(Method::GET, "/api/v1/agency/bills", Some(&key), None, None)
                .await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        );
    }
}
