//! The simulator's payer-facing pages: plain, bilingual, no script.

use tahseel_core::Fils;

const STYLE: &str = "body{font-family:system-ui,'Noto Sans Arabic',sans-serif;max-width:30rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}\
label{display:block;margin-top:1rem;font-weight:600}input{font-size:1.1rem;width:100%;padding:.5rem;box-sizing:border-box}\
button{margin-top:1.5rem;font-size:1.1rem;padding:.7rem 1.4rem;background:#0b5394;color:#fff;border:0;border-radius:4px}\
.error{color:#9c0006;font-weight:600}.amount{font-size:1.3rem}";

fn layout(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head><body><h1>Simulated acquirer · <span lang=\"ar\" dir=\"rtl\">بوابة الدفع التجريبية</span></h1>{body}</body></html>"
    )
}

fn amount_line(amount: Fils) -> String {
    format!("<p class=\"amount\">Amount: <strong>BHD {amount}</strong> · <span lang=\"ar\" dir=\"rtl\">المبلغ: {amount} د.ب</span></p>")
}

fn error_line(error: Option<&str>) -> String {
    error
        .map(|e| format!("<p role=\"alert\" class=\"error\">{e}</p>"))
        .unwrap_or_default()
}

pub fn card_form(session_ref: &str, amount: Fils, error: Option<&str>) -> String {
    layout(
        "Card payment",
        &format!(
            "{}{}<form method=\"post\" action=\"/pay/{session_ref}\">\
             <label for=\"card_number\">Card number · رقم البطاقة</label><input id=\"card_number\" name=\"card_number\" inputmode=\"numeric\" autocomplete=\"cc-number\" required>\
             <label for=\"expiry\">Expiry (MM/YY) · تاريخ الانتهاء</label><input id=\"expiry\" name=\"expiry\" autocomplete=\"cc-exp\" placeholder=\"12/30\" required>\
             <label for=\"cvv\">Security code · رمز الأمان</label><input id=\"cvv\" name=\"cvv\" inputmode=\"numeric\" autocomplete=\"cc-csc\" required>\
             <button type=\"submit\">Pay · ادفع</button></form>",
            amount_line(amount),
            error_line(error)
        ),
    )
}

pub fn challenge_form(session_ref: &str, amount: Fils, error: Option<&str>) -> String {
    layout(
        "3-D Secure",
        &format!(
            "{}{}<p>Your bank sent a one-time code. · <span lang=\"ar\" dir=\"rtl\">أرسل البنك رمزاً لمرة واحدة.</span></p>\
             <form method=\"post\" action=\"/pay/{session_ref}/challenge\">\
             <label for=\"code\">One-time code · الرمز</label><input id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required>\
             <button type=\"submit\">Confirm · تأكيد</button></form>",
            amount_line(amount),
            error_line(error)
        ),
    )
}

pub fn message(en: &str, ar: &str) -> String {
    layout(
        "Payment",
        &format!("<p>{en}</p><p lang=\"ar\" dir=\"rtl\">{ar}</p>"),
    )
}
