//! The channels over plain HTTP: the mobile-app return link, receipt
//! verification, kiosk cash and its cash-up, and the admin CSV export.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tahseel::hub::LineRequest;
use tahseel_core::agency::Names;
use tahseel_core::Fils;
use uuid::Uuid;

use crate::helpers::{backends, TestApp, APPROVE};

async fn first_due(app: &TestApp, payer: &str) -> (String, String) {
    let dues = app.get(&format!("/api/v1/dues?payer={payer}")).await.body;
    let b = &dues["bills"][0];
    (
        b["id"].as_str().unwrap().to_owned(),
        b["amount_payable_now"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn a_mobile_app_gets_the_payer_back_through_its_deep_link() {
    for app in backends().await {
        let (bill, amount) = first_due(&app, "850101234").await;
        let body = |url: &str| json!({"channel": "mobile", "method": "debit", "lines": [{"bill_id": bill, "amount": amount}], "return_url": url});
        for bad in ["javascript:alert(1)", "not a url", "data:text/html,x"] {
            let r = app
                .call(
                    Method::POST,
                    "/api/v1/payments",
                    None,
                    Some(&Uuid::new_v4().to_string()),
                    Some(body(bad)),
                )
                .await;
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{bad}: {:?}",
                r.body
            );
            assert!(r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("return_url"));
        }
        let created = app
            .call(
                Method::POST,
                "/api/v1/payments",
                None,
                Some(&Uuid::new_v4().to_string()),
                Some(body("bh-gov-app://payments")),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        let id = created.body["id"].as_str().unwrap();
        let back = app
            .client
            .post(created.body["next_url"].as_str().unwrap())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("card_number={APPROVE}&expiry=12%2F39&cvv=123"))
            .send()
            .await
            .unwrap();
        assert!(back.status().is_redirection());
        assert_eq!(
            back.headers()["location"].to_str().unwrap(),
            format!("bh-gov-app://payments?payment_id={id}")
        );
        let p = app.get(&format!("/api/v1/payments/{id}")).await.body;
        assert_eq!(
            (p["state"].as_str(), p["channel"].as_str()),
            (Some("captured"), Some("mobile"))
        );

        // The app's receipt carries the address its QR code opens.
        let receipt = app
            .get(&format!("/api/v1/payments/{id}/receipt"))
            .await
            .body;
        let verify = receipt["verification_url"].as_str().unwrap();
        assert!(verify.starts_with(&format!("{}/verify/", app.base)));
        let page = app
            .client
            .get(format!("{verify}?lang=en"))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page
            .text()
            .await
            .unwrap()
            .contains("This receipt is genuine"));
        let forged = format!("{}x", &verify[..verify.len() - 1]);
        assert_eq!(
            app.client.get(forged).send().await.unwrap().status(),
            StatusCode::NOT_FOUND
        );
    }
}

#[tokio::test]
async fn kiosk_cash_is_captured_once_and_the_cash_up_balances_the_box() {
    for app in backends().await {
        let out = app.cli(&[
            "kiosk",
            "add",
            "--code",
            "ISA-02",
            "--name-en",
            "Isa Town",
            "--name-ar",
            "مدينة عيسى",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let key = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .last()
            .unwrap()
            .to_owned();
        assert!(key.starts_with("tkk_"));
        assert_eq!(
            app.store.kiosk_by_key(&key).await.unwrap().unwrap().code,
            "ISA-02"
        );

        let (bill, amount) = first_due(&app, "771203456").await;
        let line = LineRequest {
            bill_id: bill.parse().unwrap(),
            amount: Fils::parse(&amount).unwrap(),
        };
        // The kiosk repeats its call after a lost answer: one payment, one capture.
        let first = app
            .hub
            .pay_cash("ISA-02", std::slice::from_ref(&line), "cash-1")
            .await
            .unwrap();
        let again = app
            .hub
            .pay_cash("ISA-02", std::slice::from_ref(&line), "cash-1")
            .await
            .unwrap();
        assert!(again.is_replay());
        let (first, again) = (first.into_inner(), again.into_inner());
        assert_eq!(first.id, again.id);
        assert_eq!(
            (
                first.state.as_str(),
                first.kiosk.as_deref(),
                first.card.is_none()
            ),
            ("captured", Some("ISA-02"), true)
        );
        assert!(first.receipt_number.is_some());
        let balances = app.get_admin("/api/v1/admin/ledger/balances").await;
        let account = |name: &str| {
            balances["accounts"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["account"] == name)
                .cloned()
        };
        assert_eq!(
            account("kiosk:ISA-02:cash").unwrap()["net_debit"],
            amount.as_str()
        );

        // Counted more than the ledger says: the excess goes to over/short.
        let out = app.cli(&["kiosk", "cashup", "--kiosk", "ISA-02", "--counted", "2.250"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains("expected (ledger)  BHD 2.000") && text.contains("0.250 (over)"),
            "{text}"
        );
        let balances = app.get_admin("/api/v1/admin/ledger/balances").await;
        let account = |name: &str| {
            balances["accounts"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["account"] == name)
                .cloned()
        };
        assert_eq!(
            account("kiosk:ISA-02:cash").unwrap()["net_debit"],
            "0.000",
            "the box is empty in the ledger"
        );
        assert_eq!(account("cash:over_short").unwrap()["net_debit"], "-0.250");
        // An empty box counted empty posts nothing and balances.
        let out = app.cli(&[
            "kiosk",
            "cashup",
            "--kiosk",
            "ISA-02",
            "--counted",
            "0",
            "--format",
            "json",
        ]);
        let c: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            (
                c["expected"].as_str(),
                c["difference"].as_str(),
                c["payments"].as_i64()
            ),
            (Some("0.000"), Some("0.000"), Some(0))
        );
        let out = app.cli(&["kiosk", "cashup", "--kiosk", "NOPE-1", "--counted", "1"]);
        assert!(!out.status.success());
        app.assert_ledger_ok().await;
    }
}

#[tokio::test]
async fn the_admin_csv_export_streams_every_line() {
    for app in backends().await {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.csv");
        let mut csv = String::from("paid_at,agency,service,channel,method,amount,reference\n");
        for n in 0..2_345 {
            csv.push_str(&format!(
                "2018-03-{:02}T10:00:00+03:00,GDT,traffic-fines,kiosk,cash,{}.500,EXP-{n}\n",
                n % 28 + 1,
                n % 40 + 1
            ));
        }
        std::fs::write(&path, csv).unwrap();
        let out = app.cli(&["import", "payments", path.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );

        // Without signing in, the export sends the operator to sign in.
        let r = app
            .client
            .get(format!("{}/admin/payments.csv", app.base))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_redirection());
        let refused = app
            .client
            .post(format!("{}/admin/login", app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("key=tsk_wrong")
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        let login = app
            .client
            .post(format!("{}/admin/login", app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("key={}", app.admin_key))
            .send()
            .await
            .unwrap();
        let cookie = login.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        assert!(cookie.starts_with("tahseel_admin="));
        assert!(login.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("SameSite=Strict"));

        let r = app
            .client
            .get(format!(
                "{}/admin/payments.csv?agency=GDT&channel=kiosk&from=2018-03-01&to=2018-03-31",
                app.base
            ))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv"));
        let body = r.text().await.unwrap();
        let mut reader = csv::Reader::from_reader(body.as_bytes());
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
        assert_eq!(rows.len(), 2_345, "every line, past the export's page size");
        let headers = reader.headers().unwrap().clone();
        let amount = headers.iter().position(|h| h == "amount").unwrap();
        let sum: i64 = rows
            .iter()
            .map(|r| Fils::parse(&r[amount]).unwrap().as_i64())
            .sum();
        let expected: i64 = (0..2_345).map(|n| (n % 40 + 1) * 1000 + 500).sum();
        assert_eq!(sum, expected);
        let ids: std::collections::HashSet<&str> = rows.iter().map(|r| r.get(0).unwrap()).collect();
        assert_eq!(ids.len(), 2_345, "no line twice across pages");

        // The search page shows a page of them; a bad date is a clear error.
        let page = app
            .client
            .get(format!("{}/admin/payments?agency=GDT&lang=en", app.base))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.text().await.unwrap().contains("Next page"));
        let bad = app
            .client
            .get(format!("{}/admin/payments.csv?from=March", app.base))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn portal_pages_answer_in_the_chosen_language_without_script() {
    for app in backends().await {
        let home = app
            .client
            .get(format!("{}/", app.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(home.contains(r#"<html lang="ar" dir="rtl">"#));
        let switch = app
            .client
            .get(format!(
                "{}/lang/en?back=/dues%3Fpayer%3D850101234",
                app.base
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(switch.headers()["location"], "/dues?payer=850101234");
        assert!(switch.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .starts_with("tahseel_lang=en"));
        let evil = app
            .client
            .get(format!("{}/lang/en?back=//evil.example", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(
            evil.headers()["location"],
            "/",
            "never back to another site"
        );
        let dues = app
            .client
            .get(format!("{}/dues?payer=850101234", app.base))
            .header("cookie", "tahseel_lang=en")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(dues.contains(r#"<html lang="en" dir="ltr">"#));
        assert!(dues.contains("BHD 20.000"), "amounts with three decimals");
        let bad = app
            .client
            .get(format!("{}/dues?payer=12x", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.text().await.unwrap().contains("الرقم الشخصي"));

        // The basket form pays with a plain POST and lands on the card page.
        let key = Uuid::new_v4().to_string();
        let (bill, _) = first_due(&app, "850101234").await;
        let form = format!("key={key}&bill={bill}&method=debit");
        let post = || {
            app.client
                .post(format!("{}/pay", app.base))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form.clone())
                .send()
        };
        let first = post().await.unwrap();
        let second = post().await.unwrap();
        assert_eq!(first.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            first.headers()["location"],
            second.headers()["location"],
            "a double click goes to the same card page"
        );
        assert!(first.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with(&app.sim_base));
        let none = app
            .client
            .post(format!("{}/pay", app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("key={}&method=debit", Uuid::new_v4()))
            .send()
            .await
            .unwrap();
        assert_eq!(none.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
}

impl TestApp {
    async fn get_admin(&self, path: &str) -> Value {
        let r = self
            .call(Method::GET, path, Some(&self.admin_key), None, None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        r.body
    }
}

#[tokio::test]
async fn kiosks_are_named_and_keyed_once() {
    for app in backends().await {
        let names = Names {
            en: "Sitra".into(),
            ar: "سترة".into(),
        };
        let (k, key) = app.store.add_kiosk("SIT-01", names.clone()).await.unwrap();
        assert_eq!(k.code, "SIT-01");
        assert!(
            app.store.add_kiosk("SIT-01", names.clone()).await.is_err(),
            "codes are unique"
        );
        assert!(
            app.store.add_kiosk("sit 1", names.clone()).await.is_err(),
            "codes are checked"
        );
        app.store.revoke_kiosk("SIT-01").await.unwrap();
        assert!(
            app.store.kiosk_by_key(&key).await.unwrap().is_none(),
            "a revoked key stops working"
        );
    }
}
