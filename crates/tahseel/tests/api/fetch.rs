//! Bill fetch: a service whose bills live in the agency's own system is
//! asked at lookup time; a slow or dead agency gets the payer a clear 503.

use std::time::Duration;

use axum::extract::Query;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{backends_with, TestApp, APPROVE};

#[derive(serde::Deserialize)]
struct Ask {
    reference: String,
}

/// The agency's system: knows EF-1, is slow for EF-SLOW, knows nothing else.
async fn agency_system() -> std::net::SocketAddr {
    async fn bill(Query(q): Query<Ask>) -> (StatusCode, axum::Json<Value>) {
        match q.reference.as_str() {
            "EF-1" => (
                StatusCode::OK,
                axum::Json(
                    json!({"payer": "900612345", "amount": "250.000", "due_date": "2030-06-30"}),
                ),
            ),
            "EF-SLOW" => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                (
                    StatusCode::OK,
                    axum::Json(
                        json!({"payer": "900612345", "amount": "1.000", "due_date": "2030-06-30"}),
                    ),
                )
            }
            _ => (StatusCode::NOT_FOUND, axum::Json(json!({}))),
        }
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            axum::Router::new().route("/bills", axum::routing::get(bill)),
        )
        .await
    });
    addr
}

async fn point_at(app: &TestApp, url: &str) {
    let r = app
        .call(
            Method::PUT,
            "/api/v1/admin/services/MOJ/enforcement-file/fetch",
            Some(&app.admin_key),
            None,
            Some(json!({"fetch_url": url})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}: {:?}", app.label, r.body);
}

#[tokio::test]
async fn bills_are_fetched_from_the_agency_at_lookup() {
    let quick =
        |c: &mut tahseel::app::HubConfig| c.agency_fetch_timeout = Some(Duration::from_millis(500));
    for app in backends_with(quick).await {
        let system = agency_system().await;
        point_at(&app, &format!("http://{system}/bills")).await;

        let found = app.get("/api/v1/dues/MOJ/EF-1").await;
        assert_eq!(
            found.status,
            StatusCode::OK,
            "{}: {:?}",
            app.label,
            found.body
        );
        assert_eq!(found.body["amount_due"], "250.000");
        assert_eq!(found.body["service"], "enforcement-file");
        // Kept like a pushed bill: payable, and found again without asking.
        let paid = app
            .pay_with_card(&[(found.body["id"].as_str().unwrap(), "100.000")], APPROVE)
            .await;
        assert_eq!(paid["state"], "captured");
        assert_eq!(
            app.get("/api/v1/dues/MOJ/EF-1").await.body["amount_outstanding"],
            "150.000"
        );

        let missing = app.get("/api/v1/dues/MOJ/EF-404").await;
        assert_eq!(missing.code(), "bill_not_found");

        let slow = app.get("/api/v1/dues/MOJ/EF-SLOW").await;
        assert_eq!(
            slow.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            app.label
        );
        assert_eq!(slow.code(), "agency_unavailable");
        assert!(slow.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("try again"));

        // A dead agency: nothing listens there.
        let dead = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        point_at(&app, &format!("http://{dead}/bills")).await;
        let down = app.get("/api/v1/dues/MOJ/EF-2").await;
        assert_eq!(down.code(), "agency_unavailable");
        // A bill already presented is still found while the agency is down.
        assert_eq!(
            app.get("/api/v1/dues/MOJ/EF-1").await.status,
            StatusCode::OK
        );
        app.assert_ledger_ok().await;
    }
}
