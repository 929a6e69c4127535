//! Bulk bill presentment: all or nothing, with a report of every bad line.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{backends, TestApp};

async fn bulk(app: &TestApp, key: &str, content_type: &str, body: String) -> (StatusCode, Value) {
    let r = app
        .client
        .post(format!("{}/api/v1/agency/bills/bulk", app.base))
        .bearer_auth(key)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap())
}

async fn bill_count(app: &TestApp, key: &str) -> usize {
    let r = app
        .call(
            reqwest::Method::GET,
            "/api/v1/agency/bills?limit=500",
            Some(key),
            None,
            None,
        )
        .await;
    r.body["bills"].as_array().unwrap().len()
}

#[tokio::test]
async fn a_bulk_file_with_bad_lines_applies_nothing_and_names_each_line() {
    for app in backends().await {
        let ewa = app.agency_key("EWA").await;
        let before = bill_count(&app, &ewa).await;
        let items = json!([
            {"service": "electricity-water", "reference": "B-1", "payer": "850101234", "amount": "12.000", "due_date": "2030-01-31"},
            {"service": "electricity-water", "reference": "B-2", "payer": "85010123", "amount": "12.000", "due_date": "2030-01-31"},
            {"service": "electricity-water", "reference": "B-3", "payer": "850101234", "amount": "-1.000", "due_date": "2030-01-31"},
            {"service": "traffic-fines", "reference": "B-4", "payer": "850101234", "amount": "5.000", "due_date": "2030-01-31"},
            {"service": "electricity-water", "reference": "B-1", "payer": "850101234", "amount": "12.000", "due_date": "2030-01-31"},
            {"service": "electricity-water", "reference": "B-6", "payer": "850101234", "amount": "12.000", "due_date": "2030-01-31", "colour": "red"}
        ]);
        let (status, body) = bulk(&app, &ewa, "application/json", items.to_string()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}: {body:?}",
            app.label
        );
        assert_eq!(body["error"]["code"], "invalid_lines");
        let lines: Vec<i64> = body["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["line"].as_i64().unwrap())
            .collect();
        assert_eq!(lines, [2, 3, 4, 5, 6], "{}: {body:?}", app.label);
        let messages: Vec<&str> = body["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["message"].as_str().unwrap())
            .collect();
        assert!(
            messages[0].contains("CPR")
                && messages[2].contains("not one of this agency's services")
                && messages[3].contains("twice")
        );
        assert_eq!(
            bill_count(&app, &ewa).await,
            before,
            "{}: nothing applied",
            app.label
        );

        // Two thousand lines of CSV, one of them bad: nothing; fixed: all, once.
        let mut csv = String::from("service,reference,payer,amount,due_date\n");
        for i in 0..2000 {
            let amount = if i == 1234 {
                "1.2345".to_owned()
            } else {
                format!("{}.{:03}", 10 + i % 90, i % 1000)
            };
            csv.push_str(&format!(
                "electricity-water,CSV-{i:05},850101234,{amount},2030-02-28\n"
            ));
        }
        let (status, body) = bulk(&app, &ewa, "text/csv", csv.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            body["lines"],
            json!([{"line": 1236, "message": "amount \"1.2345\" has more than three decimals; BHD amounts are exact to the fils (0.001)"}])
        );
        assert_eq!(bill_count(&app, &ewa).await, before);
        let fixed = csv.replace("1.2345", "1.234");
        let (status, body) = bulk(&app, &ewa, "text/csv", fixed.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{}: {body:?}", app.label);
        assert_eq!(
            (body["created"].as_i64(), body["existing"].as_i64()),
            (Some(2000), Some(0))
        );
        let (_, again) = bulk(&app, &ewa, "text/csv", fixed).await;
        assert_eq!(
            (again["created"].as_i64(), again["existing"].as_i64()),
            (Some(0), Some(2000)),
            "sending it again is safe"
        );
        let (status, _) = bulk(&app, &ewa, "text/plain", "x".into()).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
}
