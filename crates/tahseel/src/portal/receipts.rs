//! Receipt verification: the QR code on a receipt opens `/verify/TOKEN`,
//! where TOKEN is the payment id and an HMAC of it under a key every node
//! shares (kept in the database). A changed id or signature does not verify.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use uuid::Uuid;

use crate::error::Result;
use crate::store::Store;

const KEY_NAME: &str = "receipt_signing";

fn mac(key: &str, id: Uuid) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
    mac.update(b"tahseel-receipt:");
    mac.update(id.as_bytes());
    mac
}

/// `<payment id>.<signature>`, both base64url.
pub async fn token(store: &Store, payment_id: Uuid) -> Result<String> {
    let key = store.hub_secret(KEY_NAME).await?;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    Ok(format!(
        "{}.{}",
        b64.encode(payment_id.as_bytes()),
        b64.encode(mac(&key, payment_id).finalize().into_bytes())
    ))
}

/// The payment a token names, if its signature holds.
pub async fn verify(store: &Store, token: &str) -> Result<Option<Uuid>> {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let Some((id, signature)) = token.split_once('.') else {
        return Ok(None);
    };
    let (Ok(id), Ok(signature)) = (b64.decode(id), b64.decode(signature)) else {
        return Ok(None);
    };
    let Ok(id) = Uuid::from_slice(&id) else {
        return Ok(None);
    };
    let key = store.hub_secret(KEY_NAME).await?;
    // verify_slice compares in constant time.
    Ok(mac(&key, id).verify_slice(&signature).is_ok().then_some(id))
}

/// A QR code for `url` as inline SVG.
pub fn qr_svg(url: &str) -> String {
    let code = qrcode::QrCode::with_error_correction_level(url.as_bytes(), qrcode::EcLevel::M)
        .expect("a URL fits in a QR code");
    code.render::<qrcode::render::svg::Color>()
        .min_dimensions(160, 160)
        .quiet_zone(true)
        .build()
}
