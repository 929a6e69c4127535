//! Daily settlement statements and settlement: totals equal the ledger,
//! a day is settled once however often `settle` runs.

use reqwest::Method;
use serde_json::{json, Value};
use tahseel_core::time::to_local;
use tahseel_core::Fils;

use crate::helpers::{backends, TestApp, APPROVE};

async fn statement(app: &TestApp, key: &str, day: &str, format: &str) -> (Value, String) {
    let r = app
        .client
        .get(format!(
            "{}/api/v1/agency/statements/{day}?format={format}",
            app.base
        ))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}: {}", app.label, r.status());
    let text = r.text().await.unwrap();
    (serde_json::from_str(&text).unwrap_or(Value::Null), text)
}

fn fils(v: &Value) -> i64 {
    Fils::parse(v.as_str().unwrap()).unwrap().as_i64()
}

/// Credits less debits of a camt.053 document's entries, read from the XML.
fn camt_net(xml: &str) -> (usize, i64) {
    let mut n = 0;
    let mut net = 0;
    for entry in xml.split("<Ntry>").skip(1) {
        let amount = entry
            .split("<Amt Ccy=\"BHD\">")
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap();
        let sign = if entry.contains("<CdtDbtInd>CRDT</CdtDbtInd>") {
            1
        } else {
            -1
        };
        net += sign * Fils::parse(amount).unwrap().as_i64();
        n += 1;
    }
    (n, net)
}

#[tokio::test]
async fn statements_equal_the_ledger_and_a_day_is_settled_once() {
    for app in backends().await {
        let gdt = app.agency_key("GDT").await;
        let ewa = app.agency_key("EWA").await;
        let fine = app.bill(&gdt, "traffic-fines", "850101234", "20.000").await;
        let reg = app
            .call(
                Method::POST,
                "/api/v1/agency/bills",
                Some(&gdt),
                None,
                Some(json!({"service": "vehicle-registration", "reference": "VR-1", "payer": "850101234", "due_date": "2030-01-01"})),
            )
            .await
            .body["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let power = app
            .bill(&ewa, "electricity-water", "850101234", "9.000")
            .await;
        let paid = app
            .pay_with_card(
                &[(&fine, "20.000"), (&reg, "15.000"), (&power, "9.000")],
                APPROVE,
            )
            .await;
        let refund = app
            .call(
                Method::POST,
                &format!(
                    "/api/v1/agency/payments/{}/refunds",
                    paid["id"].as_str().unwrap()
                ),
                Some(&gdt),
                Some("st-1"),
                Some(json!({"amount": "5.000", "reason": "reduced", "bill_id": fine})),
            )
            .await;
        assert_eq!(refund.body["state"], "refunded");

        let today = to_local(chrono::Utc::now()).date_naive().to_string();
        let (s, _) = statement(&app, &gdt, &today, "json").await;
        assert_eq!(
            (
                s["collections"].as_str(),
                s["refunds"].as_str(),
                s["net_payable"].as_str()
            ),
            (Some("35.000"), Some("5.000"), Some("30.000")),
            "{}: {s}",
            app.label
        );
        assert_eq!(s["by_service_channel"].as_array().unwrap().len(), 2);
        assert_eq!(
            fils(&s["closing_balance"]),
            -app.balance("agency:GDT:payable").await,
            "{}: the closing balance is the ledger's",
            app.label
        );
        let (_, xml) = statement(&app, &gdt, &today, "camt053").await;
        assert!(
            xml.contains("urn:iso:std:iso:20022:tech:xsd:camt.053.001.02")
                && xml.contains("<IBAN>BH97NBOB00000099000101</IBAN>")
        );
        assert_eq!(
            camt_net(&xml),
            (3, 30_000),
            "{}: entries in the XML sum to the net",
            app.label
        );
        let (_, csv) = statement(&app, &gdt, &today, "csv").await;
        assert!(
            csv.contains("GDT,") && csv.contains("net_payable,,30.000"),
            "{csv}"
        );
        let (other, _) = statement(&app, &ewa, &today, "json").await;
        assert_eq!(other["collections"], "9.000", "each agency sees its own");

        // History of an earlier day, settled once.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("history.csv");
        std::fs::write(
            &file,
            "paid_at,agency,service,channel,method,amount,reference\n\
             2018-03-01T08:00:00+03:00,GDT,traffic-fines,portal,debit,10.000,H-1\n\
             2018-03-01T12:00:00+03:00,GDT,traffic-fines,mobile,credit,20.000,H-2\n\
             2018-03-01T23:30:00+03:00,GDT,vehicle-registration,kiosk,debit,15.000,H-3\n",
        )
        .unwrap();
        assert!(app
            .cli(&["import", "payments", file.to_str().unwrap()])
            .status
            .success());
        let refused = app.cli(&["settle", "--date", &today]);
        assert!(
            !refused.status.success(),
            "a day is settled once it has ended"
        );
        for expected in [
            "GDT 2018-03-01: settled 45.000 BHD",
            "GDT 2018-03-01: already settled 45.000 BHD",
        ] {
            let out = app.cli(&["settle", "--date", "2018-03-01"]);
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(stdout.contains(expected), "{}: {stdout}", app.label);
        }
        assert_eq!(
            app.balance("bank:settlement").await,
            -45_000,
            "{}: paid out once",
            app.label
        );
        let (day, _) = statement(&app, &gdt, "2018-03-01", "json").await;
        assert_eq!(day["net_payable"], "45.000");
        let (now, _) = statement(&app, &gdt, &today, "json").await;
        assert_eq!(now["opening_balance"], "45.000");
        assert_eq!(now["settled"], "45.000");
        assert_eq!(
            fils(&now["closing_balance"]),
            -app.balance("agency:GDT:payable").await
        );
        app.assert_ledger_ok().await;
    }
}
