//! Agency webhooks: a receiver that fails, then is down, then comes back
//! still gets every event, each id once after de-duplication, in order per
//! bill; signatures verify across a secret rotation; dead letters can be
//! redelivered.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use reqwest::Method;
use serde_json::{json, Value};
use tahseel::simulator::protocol::signature_ok;
use tahseel::webhooks::{Dispatcher, WebhookConfig};
use uuid::Uuid;

use crate::helpers::{backends, TestApp, APPROVE};

/// (event id, seq, bill id, signature verified)
type Arrival = (String, i64, Option<String>, bool);

#[derive(Default)]
struct Receiver {
    /// Requests to answer 500 before answering 200.
    fail_next: AtomicUsize,
    secrets: Mutex<Vec<String>>,
    /// (event id, seq, bill id, signature verified) in arrival order, duplicates included.
    seen: Mutex<Vec<Arrival>>,
}

async fn receive(
    State(r): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    if r.fail_next.load(Ordering::SeqCst) > 0 {
        r.fail_next.fetch_sub(1, Ordering::SeqCst);
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let (ts, sigs) = (h("tahseel-timestamp"), h("tahseel-signature"));
    let verified = r.secrets.lock().unwrap().iter().any(|s| {
        sigs.split(',')
            .any(|v| signature_ok(s.as_bytes(), &ts, &body, v.trim_start_matches("v1=")))
    });
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(h("tahseel-event-id"), v["id"].as_str().unwrap());
    r.seen.lock().unwrap().push((
        v["id"].as_str().unwrap().to_owned(),
        v["seq"].as_i64().unwrap(),
        v["bill_id"].as_str().map(str::to_owned),
        verified,
    ));
    StatusCode::OK
}

/// Serves the receiver on `addr`; dropping the handle takes it down.
async fn serve(addr: SocketAddr, r: Arc<Receiver>) -> tokio::task::JoinHandle<()> {
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let app = axum::Router::new()
        .route("/hooks", axum::routing::post(receive))
        .with_state(r);
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    })
}

fn fast() -> WebhookConfig {
    WebhookConfig {
        retry_after: vec![Duration::from_millis(5); 8],
        timeout: Duration::from_secs(2),
        batch: 100,
    }
}

async fn pending(app: &TestApp, key: &str) -> usize {
    let r = app
        .call(
            Method::GET,
            "/api/v1/agency/events?after=0",
            Some(key),
            None,
            None,
        )
        .await;
    r.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["delivery"] == "pending")
        .count()
}

#[tokio::test]
async fn every_event_arrives_once_in_order_per_bill_through_failures_and_an_outage() {
    for app in backends().await {
        let receiver = Arc::new(Receiver::default());
        let addr: SocketAddr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let mut server = serve(addr, receiver.clone()).await;
        let gdt = app.agency_key("GDT").await;
        let set = app
            .call(
                Method::PUT,
                "/api/v1/agency/webhook",
                Some(&gdt),
                None,
                Some(json!({"url": format!("http://{addr}/hooks")})),
            )
            .await;
        assert_eq!(
            set.status,
            reqwest::StatusCode::OK,
            "{}: {:?}",
            app.label,
            set.body
        );
        receiver
            .secrets
            .lock()
            .unwrap()
            .push(set.body["secret"].as_str().unwrap().to_owned());

        // Two bills in one payment, one alone, a refund and a cancellation.
        let a = app.bill(&gdt, "traffic-fines", "850101234", "10.000").await;
        let b = app.bill(&gdt, "traffic-fines", "850101234", "20.000").await;
        let c = app.bill(&gdt, "traffic-fines", "900612345", "30.000").await;
        let d = app.bill(&gdt, "traffic-fines", "900612345", "40.000").await;
        let ab = app
            .pay_with_card(&[(&a, "10.000"), (&b, "20.000")], APPROVE)
            .await;
        app.pay_with_card(&[(&c, "30.000")], APPROVE).await;
        let refund = app
            .call(
                Method::POST,
                &format!(
                    "/api/v1/agency/payments/{}/refunds",
                    ab["id"].as_str().unwrap()
                ),
                Some(&gdt),
                Some("rf-a"),
                Some(json!({"amount": "4.000", "reason": "reduced", "bill_id": a})),
            )
            .await;
        assert_eq!(refund.body["state"], "refunded", "{:?}", refund.body);
        app.call(
            Method::POST,
            &format!("/api/v1/agency/bills/{d}/cancel"),
            Some(&gdt),
            None,
            None,
        )
        .await;
        assert_eq!(pending(&app, &gdt).await, 5, "{}", app.label);

        let dispatcher = Dispatcher::new(fast());
        // The receiver fails its first three requests...
        receiver.fail_next.store(3, Ordering::SeqCst);
        let first = dispatcher.deliver_once(&app.hub).await.unwrap();
        assert!(first.retrying >= 3, "{first:?}");
        // ...then is down for a while...
        server.abort();
        let _ = server.await;
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            let s = dispatcher.deliver_once(&app.hub).await.unwrap();
            assert_eq!(
                s.delivered, 0,
                "{}: nothing can arrive while it is down",
                app.label
            );
        }
        // ...and comes back.
        server = serve(addr, receiver.clone()).await;
        for _ in 0..100 {
            if pending(&app, &gdt).await == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            dispatcher.deliver_once(&app.hub).await.unwrap();
        }
        assert_eq!(pending(&app, &gdt).await, 0, "{}", app.label);

        let polled = app
            .call(
                Method::GET,
                "/api/v1/agency/events?after=0",
                Some(&gdt),
                None,
                None,
            )
            .await
            .body;
        let events = polled["events"].as_array().unwrap();
        let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "payment.captured",
                "payment.captured",
                "payment.captured",
                "refund.refunded",
                "bill.cancelled"
            ]
        );
        let seen = receiver.seen.lock().unwrap().clone();
        assert!(
            seen.iter().all(|s| s.3),
            "{}: every delivery is signed with the agency's secret",
            app.label
        );
        let mut first_arrival: Vec<&Arrival> = Vec::new();
        for s in &seen {
            if !first_arrival.iter().any(|f| f.0 == s.0) {
                first_arrival.push(s);
            }
        }
        let ids: Vec<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
        assert_eq!(
            first_arrival.len(),
            ids.len(),
            "{}: every event, once after de-duplication",
            app.label
        );
        let mut per_bill: HashMap<Option<String>, i64> = HashMap::new();
        for (_, seq, bill, _) in &first_arrival {
            let last = per_bill.entry(bill.clone()).or_insert(0);
            assert!(
                *seq > *last,
                "{}: bill {bill:?} events arrive in order",
                app.label
            );
            *last = *seq;
        }
        let next = polled["next_after"].as_i64().unwrap();
        let rest = app
            .call(
                Method::GET,
                &format!("/api/v1/agency/events?after={next}"),
                Some(&gdt),
                None,
                None,
            )
            .await;
        assert!(rest.body["events"].as_array().unwrap().is_empty());

        // A rotated secret: both sign during the overlap; a receiver that
        // knows only the new one still verifies.
        let rotated = app
            .call(
                Method::POST,
                "/api/v1/agency/webhook/secrets",
                Some(&gdt),
                None,
                Some(json!({"overlap_secs": 3600})),
            )
            .await;
        *receiver.secrets.lock().unwrap() =
            vec![rotated.body["secret"].as_str().unwrap().to_owned()];
        let e = app.bill(&gdt, "traffic-fines", "850101234", "1.000").await;
        app.call(
            Method::POST,
            &format!("/api/v1/agency/bills/{e}/cancel"),
            Some(&gdt),
            None,
            None,
        )
        .await;

        // The receiver refuses everything: the event is dead after its retries...
        receiver.fail_next.store(1000, Ordering::SeqCst);
        let short = Dispatcher::new(WebhookConfig {
            retry_after: vec![Duration::from_millis(1)],
            ..fast()
        });
        let mut dead = 0;
        for _ in 0..5 {
            dead += short.deliver_once(&app.hub).await.unwrap().dead;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(dead, 1, "{}", app.label);
        let last = app
            .call(
                Method::GET,
                &format!("/api/v1/agency/events?after={next}"),
                Some(&gdt),
                None,
                None,
            )
            .await;
        assert_eq!(last.body["events"][0]["delivery"], "dead");
        // ...and redelivered once the agency is fixed.
        receiver.fail_next.store(0, Ordering::SeqCst);
        let out = app.cli(&["webhooks", "redeliver", "--agency", "GDT"]);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("1 dead-lettered event(s) queued again")
        );
        assert_eq!(short.deliver_once(&app.hub).await.unwrap().delivered, 1);
        let newest = receiver.seen.lock().unwrap().last().cloned().unwrap();
        assert!(
            newest.3,
            "{}: verified with the new secret alone",
            app.label
        );
        server.abort();
        let _ = Uuid::nil();
    }
}
