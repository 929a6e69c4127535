//! The portal, kiosk and admin pages in a real browser: headless Chromium
//! driven over WebDriver (chromedriver), from lookup to receipt. Every page
//! visited is screenshotted (to `screenshots/`, or TAHSEEL_SCREENSHOTS) and
//! checked with axe-core for serious accessibility violations.
//!
//! Needs Debian's `chromium` and `chromium-driver` and axe-core (`.ci/run`
//! installs them). Without them these tests say so and pass, unless
//! TAHSEEL_REQUIRE_BROWSER is set, as CI sets it.

use std::path::PathBuf;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use tahseel_core::agency::Names;

use crate::helpers::{backends, backends_with, TestApp, APPROVE, DECLINE};

struct Browser {
    client: Client,
    driver: std::process::Child,
    axe: String,
    /// Where screenshots go; `None` on the second backend, which would
    /// only overwrite the first one's.
    shots: Option<PathBuf>,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn required() -> bool {
    std::env::var_os("TAHSEEL_REQUIRE_BROWSER").is_some_and(|v| !v.is_empty())
}

fn axe_path() -> PathBuf {
    if let Some(p) = std::env::var_os("TAHSEEL_AXE_JS") {
        return p.into();
    }
    let home = std::env::var_os("HOME").unwrap_or_default();
    PathBuf::from(home).join(".cache/tahseel-axe/node_modules/axe-core/axe.min.js")
}

pub fn screenshot_dir() -> PathBuf {
    match std::env::var_os("TAHSEEL_SCREENSHOTS") {
        Some(p) => p.into(),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../screenshots"),
    }
}

/// A fresh headless Chromium, or `None` when it is not installed here.
async fn browser(app: &TestApp) -> Option<Browser> {
    let driver_path =
        std::env::var("TAHSEEL_CHROMEDRIVER").unwrap_or("/usr/bin/chromedriver".into());
    let axe = std::fs::read_to_string(axe_path());
    if !std::path::Path::new(&driver_path).exists() || axe.is_err() {
        assert!(
            !required(),
            "TAHSEEL_REQUIRE_BROWSER is set but {driver_path} or {} is missing",
            axe_path().display()
        );
        eprintln!(
            "browser tests skipped: install chromium, chromium-driver and axe-core (see .ci/run)"
        );
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let driver = std::process::Command::new(&driver_path)
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,1100"]}),
    );
    let mut client = None;
    for _ in 0..100 {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(c) => {
                client = Some(c);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let client = client.expect("chromedriver answers within 10 s");
    let shots = (app.label == "sqlite").then(|| {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        dir
    });
    Some(Browser {
        client,
        driver,
        axe: axe.unwrap(),
        shots,
    })
}

impl Browser {
    async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_owned()
    }

    async fn text(&self) -> String {
        self.client
            .find(Locator::Css("body"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .attr(name)
            .await
            .unwrap()
    }

    async fn fill(&self, css: &str, value: &str) {
        let e = self.client.find(Locator::Css(css)).await.unwrap();
        e.clear().await.unwrap();
        e.send_keys(value).await.unwrap();
    }

    /// Clicks what `locator` finds and waits for the next page to load.
    async fn click_to(&self, locator: Locator<'_>) {
        let old = self.client.find(Locator::Css("html")).await.unwrap();
        self.client
            .find(locator)
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        self.wait_for_new_page(old).await;
    }

    /// Waits until `old` (the previous page's root) is gone and the new page loaded.
    async fn wait_for_new_page(&self, old: fantoccini::elements::Element) {
        for _ in 0..200 {
            if old.tag_name().await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for _ in 0..200 {
            let state = self
                .client
                .execute("return document.readyState", vec![])
                .await;
            if matches!(state, Ok(Value::String(s)) if s == "complete") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the next page did not load within 10 s");
    }

    async fn click(&self, css: &str) {
        self.click_to(Locator::Css(css)).await;
    }

    async fn click_link(&self, text: &str) {
        self.click_to(Locator::LinkText(text)).await;
    }

    /// Screenshots the page as `name` and runs axe-core on it: no serious
    /// or critical violation of WCAG 2 A/AA may remain.
    async fn check_page(&self, name: &str) {
        if let Some(dir) = &self.shots {
            let png = self.client.screenshot().await.unwrap();
            std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
        }
        self.client
            .execute(&format!("{};return true;", self.axe), vec![])
            .await
            .unwrap();
        let result = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];\
                 axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})\
                   .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)}))))\
                   .catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e)}]));",
                vec![],
            )
            .await
            .unwrap();
        let serious: Vec<&Value> = result
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .collect();
        assert!(
            serious.is_empty(),
            "{name}: accessibility violations: {serious:#?}"
        );
    }

    /// Fills the simulated acquirer's card page and submits it.
    async fn pay_by_card(&self, card: &str) {
        assert!(
            self.text().await.contains("Card number"),
            "on the card page"
        );
        self.fill("#card_number", card).await;
        self.fill("#expiry", "12/39").await;
        self.fill("#cvv", "123").await;
        self.click("button[type=submit]").await;
    }

    async fn close(self) {
        self.client.clone().close().await.unwrap();
    }
}

/// Unticks every due but the first `keep`.
async fn keep_first_dues(b: &Browser, keep: usize) -> usize {
    let boxes = b
        .client
        .find_all(Locator::Css("input[name=bill]"))
        .await
        .unwrap();
    for cb in boxes.iter().skip(keep) {
        cb.click().await.unwrap();
    }
    boxes.len()
}

async fn payment_id_from_path(b: &Browser) -> uuid::Uuid {
    let path = b.path().await;
    path.rsplit('/').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn pays_two_dues_in_one_payment_in_arabic_and_in_english() {
    for app in backends().await {
        let Some(b) = browser(&app).await else { return };
        for (lang, payer) in [("ar", "850101234"), ("en", "900612345")] {
            b.goto(&format!("{}/", app.base)).await;
            if lang == "en" {
                // One click from Arabic to English, remembered afterwards.
                b.click_link("English").await;
            }
            assert_eq!(b.attr("html", "lang").await.as_deref(), Some(lang));
            let dir = if lang == "ar" { "rtl" } else { "ltr" };
            assert_eq!(b.attr("html", "dir").await.as_deref(), Some(dir));
            b.check_page(&format!("home-{lang}")).await;

            b.fill("#payer", payer).await;
            b.click("form[action='/dues'] button").await;
            assert_eq!(b.path().await, "/dues");
            let offered = keep_first_dues(&b, 2).await;
            assert!(offered >= 2, "{payer} has at least two dues");
            b.check_page(&format!("dues-{lang}")).await;
            b.click("form[action='/pay'] button[type=submit]").await;

            b.pay_by_card(APPROVE).await;
            assert!(
                b.path().await.starts_with("/payments/"),
                "back on the status page"
            );
            let id = payment_id_from_path(&b).await;
            let text = b.text().await;
            let paid = if lang == "ar" {
                "تم استلام الدفعة"
            } else {
                "Payment received"
            };
            assert!(text.contains(paid), "{}: {text}", app.label);
            b.check_page(&format!("status-paid-{lang}")).await;

            b.click("a.button").await;
            assert_eq!(b.path().await, format!("/receipts/{id}"));
            let payment = app.hub.store.payment(id).await.unwrap();
            assert_eq!(payment.lines.len(), 2, "two dues in one payment");
            assert_eq!(payment.channel.as_str(), "portal");
            let text = b.text().await;
            assert!(text.contains(payment.receipt_number.as_deref().unwrap()));
            for line in &payment.lines {
                assert!(text.contains(&line.reference), "{text}");
            }
            assert!(
                text.contains(&payment.total.to_string()),
                "amount with three decimals"
            );
            assert_eq!(
                b.attr(".qr svg", "role").await.as_deref(),
                Some("img"),
                "the receipt carries its QR code"
            );
            b.check_page(&format!("receipt-{lang}")).await;
            // The same pages on a phone.
            b.client.set_window_size(390, 844).await.unwrap();
            b.check_page(&format!("receipt-{lang}-phone")).await;
            b.goto(&format!("{}/dues?payer=771203456", app.base)).await;
            b.check_page(&format!("dues-{lang}-phone")).await;
            b.client.set_window_size(1280, 1100).await.unwrap();
        }
        app.assert_ledger_ok().await;
        b.close().await;
    }
}

#[tokio::test]
async fn a_declined_card_can_be_tried_again() {
    for app in backends().await {
        let Some(b) = browser(&app).await else { return };
        for (lang, agency, reference) in [
            ("en", "GDT", "TF-2026-000103"),
            ("ar", "IGA", "ID-2026-88812"),
        ] {
            b.goto(&format!("{}/lang/{lang}?back=/", app.base)).await;
            b.client
                .find(Locator::Css("#agency"))
                .await
                .unwrap()
                .select_by_value(agency)
                .await
                .unwrap();
            b.fill("#reference", reference).await;
            b.click("form[action='/bill'] button").await;
            assert_eq!(b.path().await, "/bill");
            assert!(b.text().await.contains(reference));
            b.check_page(&format!("bill-{lang}")).await;
            b.click("form[action='/pay'] button[type=submit]").await;
            b.pay_by_card(DECLINE).await;
            let declined = payment_id_from_path(&b).await;
            let text = b.text().await;
            let (state, reason) = if lang == "en" {
                ("Declined", "The bank declined the card.")
            } else {
                ("مرفوضة", "رفض البنك البطاقة.")
            };
            assert!(text.contains(state) && text.contains(reason), "{text}");
            b.check_page(&format!("status-declined-{lang}")).await;

            b.click("form[action='/pay'] button[type=submit]").await;
            b.pay_by_card(APPROVE).await;
            let retried = payment_id_from_path(&b).await;
            assert_ne!(declined, retried, "a retry is a new payment");
            let payment = app.hub.store.payment(retried).await.unwrap();
            assert_eq!(payment.state.as_str(), "captured");
            let bill = app
                .hub
                .store
                .bill(payment.lines[0].bill_id, None)
                .await
                .unwrap();
            assert_eq!(bill.amount_outstanding.as_i64(), 0, "paid once, in full");
            assert_eq!(
                app.hub
                    .store
                    .payment(declined)
                    .await
                    .unwrap()
                    .state
                    .as_str(),
                "declined"
            );
        }
        app.assert_ledger_ok().await;
        b.close().await;
    }
}

#[tokio::test]
async fn kiosk_takes_cash_records_itself_and_clears_when_idle() {
    let apps = backends_with(|c| c.portal.kiosk_idle = Duration::from_secs(3)).await;
    for app in apps {
        let Some(b) = browser(&app).await else { return };
        let (_, key) = app
            .hub
            .store
            .add_kiosk(
                "MUH-01",
                Names {
                    en: "Muharraq service centre".into(),
                    ar: "مركز خدمات المحرق".into(),
                },
            )
            .await
            .unwrap();
        b.goto(&format!("{}/lang/en?back=/kiosk", app.base)).await;
        assert!(
            b.text().await.contains("not activated"),
            "a new device needs its key"
        );
        b.check_page("kiosk-activate-en").await;
        b.goto(&format!("{}/lang/ar?back=/kiosk", app.base)).await;
        assert!(
            b.text().await.contains("غير مفعّل"),
            "a new device needs its key"
        );
        b.check_page("kiosk-activate-ar").await;
        b.fill("#key", &key).await;
        b.click("button[type=submit]").await;

        // A payment in cash.
        assert!(b.text().await.contains("المحرق"));
        b.check_page("kiosk-start-ar").await;
        b.fill("#payer", "771203456").await;
        b.click("button[type=submit]").await;
        assert_eq!(b.path().await, "/kiosk/dues");
        b.check_page("kiosk-dues-ar").await;
        b.fill("#cash", "200").await;
        b.click("button[value=cash]").await;
        assert!(b.path().await.starts_with("/kiosk/payments/"));
        let id = payment_id_from_path(&b).await;
        let text = b.text().await;
        assert!(text.contains("78.000"), "the change is shown: {text}");
        b.check_page("kiosk-receipt-ar").await;
        let p = app.hub.store.payment(id).await.unwrap();
        assert_eq!(p.kiosk.as_deref(), Some("MUH-01"));
        assert_eq!(
            (p.method.as_str(), p.channel.as_str(), p.state.as_str()),
            ("cash", "kiosk", "captured")
        );
        assert_eq!(p.total.to_string(), "122.000");

        // The next person walks away mid-way: the screen and the visit clear.
        b.click("a.button").await;
        assert_eq!(b.path().await, "/kiosk");
        b.click_link("English").await;
        b.check_page("kiosk-start-en").await;
        b.fill("#payer", "900612345").await;
        b.click("button[type=submit]").await;
        assert_eq!(b.path().await, "/kiosk/dues");
        assert!(b.text().await.contains("900612345"));
        b.check_page("kiosk-dues-en").await;
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(
            b.path().await,
            "/kiosk",
            "the idle screen went back to the start"
        );
        assert!(
            !b.text().await.contains("900612345"),
            "nothing of the last payer stays on screen"
        );
        b.goto(&format!("{}/kiosk/dues", app.base)).await;
        assert_eq!(
            b.path().await,
            "/kiosk",
            "the visit ended on the server too"
        );

        // A card payment on the kiosk records the kiosk as well.
        b.fill("#payer", "900612345").await;
        b.click("button[type=submit]").await;
        keep_first_dues(&b, 1).await;
        b.click("button[value=card]").await;
        b.pay_by_card(APPROVE).await;
        assert!(b.path().await.starts_with("/kiosk/payments/"));
        assert!(b.text().await.contains("Payment received"));
        b.check_page("kiosk-receipt-en").await;
        let card = app
            .hub
            .store
            .payment(payment_id_from_path(&b).await)
            .await
            .unwrap();
        assert_eq!(
            (card.kiosk.as_deref(), card.state.as_str()),
            (Some("MUH-01"), "captured")
        );

        // Counting the box: 122.000 expected, 121.500 found.
        let out = app.cli(&[
            "kiosk",
            "cashup",
            "--kiosk",
            "MUH-01",
            "--counted",
            "121.500",
            "--format",
            "json",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let c: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            (
                c["expected"].as_str(),
                c["counted"].as_str(),
                c["difference"].as_str()
            ),
            (Some("122.000"), Some("121.500"), Some("-0.500"))
        );
        assert_eq!(c["payments"], 1);
        app.assert_ledger_ok().await;
        b.close().await;
    }
}

#[tokio::test]
async fn a_tampered_receipt_id_is_rejected() {
    for app in backends().await {
        let Some(b) = browser(&app).await else { return };
        let dues = app.get("/api/v1/dues?payer=771203456").await.body;
        let bill = &dues["bills"][0];
        let (bill_id, amount) = (
            bill["id"].as_str().unwrap(),
            bill["amount_payable_now"].as_str().unwrap(),
        );
        let paid = app.pay_with_card(&[(bill_id, amount)], APPROVE).await;
        let id: uuid::Uuid = paid["id"].as_str().unwrap().parse().unwrap();
        let token = tahseel::portal::receipts::token(&app.hub.store, id)
            .await
            .unwrap();

        b.goto(&format!("{}/verify/{token}?lang=en", app.base))
            .await;
        assert!(b.text().await.contains("This receipt is genuine"));
        b.check_page("verify-genuine-en").await;
        b.goto(&format!("{}/verify/{token}?lang=ar", app.base))
            .await;
        assert!(b.text().await.contains("هذا الإيصال صحيح"));
        b.check_page("verify-genuine-ar").await;

        // Another payment's id under this signature, and a changed signature.
        let (id_part, sig) = token.split_once('.').unwrap();
        let other = tahseel::portal::receipts::token(&app.hub.store, uuid::Uuid::now_v7())
            .await
            .unwrap();
        let mut flipped: Vec<char> = sig.chars().collect();
        flipped[3] = if flipped[3] == 'A' { 'B' } else { 'A' };
        let flipped: String = flipped.into_iter().collect();
        for forged in [
            format!("{}.{sig}", other.split_once('.').unwrap().0),
            format!("{id_part}.{flipped}"),
            "not-a-token".to_owned(),
        ] {
            b.goto(&format!("{}/verify/{forged}?lang=en", app.base))
                .await;
            assert!(b.text().await.contains("could not be verified"), "{forged}");
            let status = app
                .client
                .get(format!("{}/verify/{forged}", app.base))
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, 404);
        }
        b.check_page("verify-rejected-en").await;
        b.goto(&format!("{}/verify/{id_part}.{flipped}?lang=ar", app.base))
            .await;
        b.check_page("verify-rejected-ar").await;
        b.close().await;
    }
}

/// Sign-in, the account page, the admin area and error pages, in both
/// languages, through the development identity provider.
#[tokio::test]
async fn every_other_page_in_both_languages() {
    let apps = backends_with(|c| c.portal.dev_idp = true).await;
    for app in apps {
        let Some(b) = browser(&app).await else { return };
        for lang in ["ar", "en"] {
            b.goto(&format!("{}/lang/{lang}?back=/", app.base)).await;
            b.click("a[href='/login?back=/account']").await;
            assert!(b.path().await.starts_with("/dev-idp/authorize"));
            b.check_page(&format!("signin-provider-{lang}")).await;
            b.fill("#cpr", "850101234").await;
            b.fill("#name", "Fatima Al-Sayed").await;
            b.click("button[type=submit]").await;
            assert_eq!(b.path().await, "/account");
            let text = b.text().await;
            assert!(
                text.contains("Fatima Al-Sayed") && text.contains("850101234"),
                "{text}"
            );
            b.check_page(&format!("account-{lang}")).await;
            b.click("form[action='/logout'] button").await;
            b.goto(&format!("{}/account", app.base)).await;
            assert!(
                b.path().await.starts_with("/dev-idp/authorize"),
                "signed out"
            );

            b.goto(&format!("{}/dues?payer=12", app.base)).await;
            b.check_page(&format!("error-bad-payer-{lang}")).await;

            b.goto(&format!("{}/admin", app.base)).await;
            b.check_page(&format!("admin-signin-{lang}")).await;
            b.fill("#key", &app.admin_key).await;
            b.click("button[type=submit]").await;
            assert!(b.text().await.contains("GDT"));
            b.check_page(&format!("admin-{lang}")).await;
            if lang == "en" {
                // A service added through the admin form shows in the catalog.
                b.client
                    .find(Locator::XPath("//summary[text()='Add a service']"))
                    .await
                    .unwrap()
                    .click()
                    .await
                    .unwrap();
                b.client
                    .find(Locator::Css("#s-agency-code"))
                    .await
                    .unwrap()
                    .select_by_value("IGA")
                    .await
                    .unwrap();
                b.fill("#s-code", "passport-renewal").await;
                b.fill("#s-en", "Passport renewal").await;
                b.fill("#s-ar", "تجديد جواز السفر").await;
                b.client
                    .find(Locator::Css("#s-kind"))
                    .await
                    .unwrap()
                    .select_by_value("fee")
                    .await
                    .unwrap();
                b.fill("#s-fee", "12.000").await;
                b.click("form[action='/admin/services'] button").await;
                let services = app.store.services(Some("IGA")).await.unwrap();
                let added = services
                    .iter()
                    .find(|s| s.code == "passport-renewal")
                    .expect("the service was added");
                assert_eq!(added.fee.map(|f| f.to_string()).as_deref(), Some("12.000"));
                assert!(b.text().await.contains("Passport renewal"));
            }
            b.goto(&format!("{}/admin/payments?agency=GDT", app.base))
                .await;
            b.check_page(&format!("admin-payments-{lang}")).await;
            b.goto(&format!("{}/admin", app.base)).await;
            b.click("form[action='/admin/logout'] button").await;
        }
        b.close().await;
    }
}
