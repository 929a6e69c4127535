use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{backends, APPROVE};

#[tokio::test]
async fn health_readiness_and_the_openapi_document() {
    for app in backends().await {
        assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
        let ready = app.get("/readyz").await;
        assert_eq!(ready.body["database"], app.label);
        let doc = app.get("/api/v1/openapi.json").await;
        assert_eq!(doc.status, StatusCode::OK);
        assert!(doc.body["openapi"].as_str().unwrap().starts_with("3."));
        // Every documented operation is served (not the fallback's "no such endpoint").
        for (path, ops) in doc.body["paths"].as_object().unwrap() {
            let concrete = path
                .replace("{id}", "00000000-0000-0000-0000-000000000000")
                .replace("{agency}", "GDT")
                .replace("{reference}", "X")
                .replace("{name}", "sim");
            for method in ops.as_object().unwrap().keys() {
                let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let r = app
                    .call(
                        method.clone(),
                        &format!("/api/v1{concrete}"),
                        None,
                        None,
                        None,
                    )
                    .await;
                let fallback = r.body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("no such endpoint"));
                assert!(
                    !fallback && r.status != StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path} is documented but not served"
                );
                assert!(r.status.as_u16() < 500, "{method} {path}: {:?}", r.body);
            }
        }
    }
}

#[tokio::test]
async fn admins_manage_agencies_services_and_keys() {
    for app in backends().await {
        let admin = Some(app.admin_key.as_str());
        let agency = json!({"code": "NHRA", "name_en": "National Health Regulatory Authority", "name_ar": "الهيئة الوطنية لتنظيم المهن والخدمات الصحية", "iban": "BH67BMAG00001299123456"});
        let r = app
            .call(
                Method::POST,
                "/api/v1/admin/agencies",
                admin,
                None,
                Some(agency.clone()),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}: {:?}", app.label, r.body);
        let bad_iban = json!({"code": "NHRB", "name_en": "x", "name_ar": "س", "iban": "BH00BMAG00001299123456"});
        let r = app
            .call(
                Method::POST,
                "/api/v1/admin/agencies",
                admin,
                None,
                Some(bad_iban),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

        let service = json!({"agency": "NHRA", "code": "licence-renewal", "name_en": "Licence renewal", "name_ar": "تجديد الترخيص", "kind": "fee", "fee": "25.000"});
        let r = app
            .call(
                Method::POST,
                "/api/v1/admin/services",
                admin,
                None,
                Some(service),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        assert_eq!(r.body["fee"], "25.000");
        let no_fee = json!({"agency": "NHRA", "code": "other", "name_en": "Other", "name_ar": "أخرى", "kind": "fee"});
        let r = app
            .call(
                Method::POST,
                "/api/v1/admin/services",
                admin,
                None,
                Some(no_fee),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

        let key = app
            .call(
                Method::POST,
                "/api/v1/admin/api-keys",
                admin,
                None,
                Some(json!({"agency": "NHRA"})),
            )
            .await;
        let key = key.body["key"].as_str().unwrap().to_owned();
        let bill = app.call(
            Method::POST,
            "/api/v1/agency/bills",
            Some(&key),
            None,
            Some(json!({"service": "licence-renewal", "reference": "LIC-1", "payer": "850101234", "due_date": "2030-01-01"})),
        )
        .await;
        assert_eq!(bill.status, StatusCode::CREATED);
        let paid = app
            .pay_with_card(&[(bill.body["id"].as_str().unwrap(), "25.000")], APPROVE)
            .await;
        assert_eq!(paid["state"], "captured");
        let services = app.get("/api/v1/services").await;
        assert!(services.body["services"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["code"] == "licence-renewal"));
    }
}

#[tokio::test]
async fn agencies_never_see_each_others_objects() {
    for app in backends().await {
        let gdt = app.agency_key("GDT").await;
        let ewa = app.agency_key("EWA").await;
        let fine = app.bill(&gdt, "traffic-fines", "850101234", "3.000").await;
        let paid = app.pay_with_card(&[(&fine, "3.000")], APPROVE).await;
        let payment = paid["id"].as_str().unwrap();

        for path in [
            format!("/api/v1/agency/bills/{fine}"),
            format!("/api/v1/agency/payments/{payment}"),
        ] {
            let r = app.call(Method::GET, &path, Some(&ewa), None, None).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{}: {path}", app.label);
        }
        let cancel = app
            .call(
                Method::POST,
                &format!("/api/v1/agency/bills/{fine}/cancel"),
                Some(&ewa),
                None,
                None,
            )
            .await;
        assert_eq!(cancel.status, StatusCode::NOT_FOUND);
        let refund = app
            .call(
                Method::POST,
                &format!("/api/v1/agency/payments/{payment}/refunds"),
                Some(&ewa),
                Some("k"),
                Some(json!({"amount": "1.000", "reason": "x"})),
            )
            .await;
        assert_eq!(refund.status, StatusCode::NOT_FOUND);
        // EWA cannot bill under GDT's service either.
        let r = app
            .call(
                Method::POST,
                "/api/v1/agency/bills",
                Some(&ewa),
                None,
                Some(json!({"service": "traffic-fines", "reference": "X", "payer": "850101234", "amount": "1.000", "due_date": "2030-01-01"})),
            )
            .await;
        assert_eq!(r.code(), "service_not_found");
        let list = app
            .call(
                Method::GET,
                "/api/v1/agency/payments",
                Some(&ewa),
                None,
                None,
            )
            .await;
        assert!(list.body["payments"].as_array().unwrap().is_empty());
        let list = app
            .call(Method::GET, "/api/v1/agency/bills", Some(&ewa), None, None)
            .await;
        assert!(list.body["bills"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["agency"] == "EWA"));
        let own = app
            .call(
                Method::GET,
                "/api/v1/agency/payments",
                Some(&gdt),
                None,
                None,
            )
            .await;
        assert_eq!(own.body["payments"].as_array().unwrap().len(), 1);

        // A GDT refund, GDT's events and statement: none of them EWA's.
        let refund = app
            .call(
                Method::POST,
                &format!("/api/v1/agency/payments/{payment}/refunds"),
                Some(&gdt),
                Some("x-1"),
                Some(json!({"amount": "1.000", "reason": "x"})),
            )
            .await;
        let refund_id = refund.body["id"].as_str().unwrap();
        let r = app
            .call(
                Method::GET,
                &format!("/api/v1/agency/refunds/{refund_id}"),
                Some(&ewa),
                None,
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let theirs = app
            .call(
                Method::GET,
                "/api/v1/agency/events?after=0",
                Some(&gdt),
                None,
                None,
            )
            .await;
        assert_eq!(
            theirs.body["events"].as_array().unwrap().len(),
            2,
            "{}: capture and refund",
            app.label
        );
        let mine = app
            .call(
                Method::GET,
                "/api/v1/agency/events?after=0",
                Some(&ewa),
                None,
                None,
            )
            .await;
        assert!(mine.body["events"].as_array().unwrap().is_empty());
        let today = tahseel_core::time::to_local(chrono::Utc::now()).date_naive();
        let statement = app
            .call(
                Method::GET,
                &format!("/api/v1/agency/statements/{today}"),
                Some(&ewa),
                None,
                None,
            )
            .await;
        assert_eq!(statement.body["collections"], "0.000");
        assert!(statement.body["entries"].as_array().unwrap().is_empty());
        // An administrator key is not an agency key, and no key is no access.
        for path in [
            "/api/v1/agency/bills",
            "/api/v1/agency/payments",
            "/api/v1/agency/events",
        ] {
            assert_eq!(
                app.call(Method::GET, path, Some(&app.admin_key), None, None)
                    .await
                    .status,
                StatusCode::FORBIDDEN
            );
            assert_eq!(
                app.call(Method::GET, path, None, None, None).await.status,
                StatusCode::UNAUTHORIZED
            );
        }
    }
}
