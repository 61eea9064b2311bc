//! The second factor's pieces: time-based codes (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps), the `otpauth://`
//! address an authenticator app reads from a QR code, recovery codes, and secrets sealed with the server's key.

use rand::RngExt as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::fmt;
use totp_rs::{Builder, Totp};

use crate::seal::{SecretKey, Undecryptable};

/// The name the authenticator app shows above the code.
const ISSUER: &str = "Multi Account";
pub const STEP_SECS: i64 = 30;
const DIGITS: usize = 6;
/// 160 bits, as RFC 4226 recommends.
const SECRET_BYTES: usize = 20;
/// Steps either side of the current one that are accepted, for a clock that is a little off.
const DRIFT_STEPS: i64 = 1;
pub const RECOVERY_CODES: usize = 10;
/// Ten characters of 31: about 50 bits each, too many to guess, so a plain SHA-256 is enough to store them.
const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
const RECOVERY_HALF: usize = 5;

/// A user's TOTP secret, in base32 as authenticator apps take it. `Debug` hides it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([hidden])")
    }
}

impl Secret {
    /// 20 bytes from the thread's CSPRNG, which the operating system seeds.
    pub fn generate() -> Secret {
        let bytes: [u8; SECRET_BYTES] = rand::rng().random();
        Secret(totp_rs::Secret::from(bytes).to_base32())
    }

    /// A secret as base32 text, if it is one.
    pub fn from_base32(text: &str) -> Option<Secret> {
        totp_rs::Secret::try_from_base32(text).ok().map(|_| Secret(text.to_owned()))
    }

    pub fn base32(&self) -> &str {
        &self.0
    }

    /// In groups of four, for typing it into an app by hand.
    pub fn grouped(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        chars.chunks(4).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join(" ")
    }

    /// What the QR code holds: the issuer, the account and the parameters spelled out, as apps expect them.
    pub fn otpauth_uri(&self, email: &str) -> String {
        let encode = |s: &str| percent_encode(s);
        format!(
            "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}\
             &period={STEP_SECS}",
            issuer = encode(ISSUER),
            account = encode(email),
            secret = self.0,
        )
    }

    fn totp(&self) -> Option<Totp> {
        let bytes = totp_rs::Secret::try_from_base32(&self.0).ok()?;
        Builder::new().with_secret(bytes).with_digits(DIGITS as u8).with_skew(0).build().ok()
    }

    /// The step `code` belongs to, if it is the code of the current step or of one either side of it, and later than
    /// `after` (the last step accepted: a code is good once).
    pub fn matching_step(&self, code: &str, now: i64, after: Option<i64>) -> Option<i64> {
        let totp = self.totp()?;
        let current = now.div_euclid(STEP_SECS);
        (current - DRIFT_STEPS..=current + DRIFT_STEPS)
            .filter(|step| after.is_none_or(|last| *step > last))
            .find(|step| u64::try_from(step * STEP_SECS).is_ok_and(|at| totp.check(code, at).is_some()))
    }
}

/// RFC 3986's unreserved characters stay; everything else is `%XX` (a space is `%20`, as apps expect in a label).
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The QR code of `text` as an inline SVG element (no XML prologue), labelled for screen readers.
pub fn qr_svg(text: &str) -> Result<String, qrcode::types::QrError> {
    let code = qrcode::QrCode::new(text.as_bytes())?;
    let svg = code.render::<qrcode::render::svg::Color>().min_dimensions(200, 200).build();
    let svg = svg.find("<svg").map_or(svg.as_str(), |at| &svg[at..]);
    Ok(svg.replacen("<svg ", "<svg role=\"img\" aria-label=\"QR code for your authenticator app\" ", 1))
}

/// What the user typed at the code step: a 6-digit code, or a recovery code (`xxxxx-xxxxx`, in any case, with or
/// without the dash and spaces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    Totp(String),
    Recovery(RecoveryCode),
    /// Neither: counted as a wrong code.
    Malformed,
}

impl Code {
    pub fn parse(input: &str) -> Code {
        let compact: String = input.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
        if compact.len() == DIGITS && compact.bytes().all(|b| b.is_ascii_digit()) {
            return Code::Totp(compact);
        }
        let compact = compact.to_ascii_lowercase();
        if compact.len() == 2 * RECOVERY_HALF && compact.bytes().all(|b| RECOVERY_ALPHABET.contains(&b)) {
            return Code::Recovery(RecoveryCode(compact));
        }
        Code::Malformed
    }
}

/// A recovery code, without its dash. `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(String);

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode([hidden])")
    }
}

impl RecoveryCode {
    /// A fresh set, from the thread's CSPRNG.
    pub fn generate_set() -> Vec<RecoveryCode> {
        let mut rng = rand::rng();
        (0..RECOVERY_CODES)
            .map(|_| {
                let code = (0..2 * RECOVERY_HALF)
                    .map(|_| RECOVERY_ALPHABET[rng.random_range(0..RECOVERY_ALPHABET.len())] as char)
                    .collect();
                RecoveryCode(code)
            })
            .collect()
    }

    /// As shown to the user once: `xxxxx-xxxxx`.
    pub fn shown(&self) -> String {
        format!("{}-{}", &self.0[..RECOVERY_HALF], &self.0[RECOVERY_HALF..])
    }

    /// What is stored: the SHA-256 of the code, in hex.
    pub fn hash(&self) -> String {
        Sha256::digest(self.0.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl Secret {
    /// The secret as stored: sealed with the server's key, bound to its user's id, so a secret copied to another
    /// user's row does not open.
    pub fn seal(&self, key: &SecretKey, user_id: i64) -> String {
        key.seal(&user_id.to_be_bytes(), self.0.as_bytes())
    }

    pub fn open(key: &SecretKey, user_id: i64, stored: &str) -> Result<Secret, Undecryptable> {
        String::from_utf8(key.open(&user_id.to_be_bytes(), stored)?).map(Secret).map_err(|_| Undecryptable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238's SHA-1 seed, in base32.
    fn rfc_secret() -> Secret {
        Secret(totp_rs::Secret::from(*b"12345678901234567890").to_base32())
    }

    #[test]
    fn codes_match_rfc_6238_and_the_steps_either_side() {
        // RFC 6238 appendix B: 94287082 at T = 59 (8 digits); its last six digits are the 6-digit code.
        let secret = rfc_secret();
        assert_eq!(secret.matching_step("287082", 59, None), Some(1));
        assert_eq!(secret.matching_step("287082", 59 + 30, None), Some(1), "the previous step");
        assert_eq!(secret.matching_step("287082", 59 - 30, None), Some(1), "the next step");
        assert_eq!(secret.matching_step("287082", 59 + 60, None), None, "two steps back");
        assert_eq!(secret.matching_step("287082", 59, Some(1)), None, "a step already accepted");
        assert_eq!(secret.matching_step("287083", 59, None), None);
        // 1111111109 → 07081804.
        assert_eq!(secret.matching_step("081804", 1_111_111_109, None), Some(1_111_111_109 / 30));
    }

    #[test]
    fn a_new_secret_is_20_random_bytes_in_base32_and_its_uri_names_issuer_and_account() {
        let (a, b) = (Secret::generate(), Secret::generate());
        assert_ne!(a, b);
        assert_eq!(a.base32().len(), 32, "20 bytes are 32 base32 characters");
        assert_eq!(a.grouped().split(' ').count(), 8);
        assert_eq!(
            a.otpauth_uri("renée+ops@example.com"),
            format!(
                "otpauth://totp/Multi%20Account:ren%C3%A9e%2Bops@example.com?secret={}&issuer=Multi%20Account\
                 &algorithm=SHA1&digits=6&period=30",
                a.base32()
            )
        );
        assert!(!format!("{a:?}").contains(a.base32()));
        let svg = qr_svg(&a.otpauth_uri("a@example.com")).unwrap();
        assert!(svg.starts_with("<svg role=\"img\""), "{}", &svg[..60]);
    }

    #[test]
    fn codes_are_read_as_typed() {
        assert_eq!(Code::parse(" 123 456 "), Code::Totp("123456".into()));
        let set = RecoveryCode::generate_set();
        assert_eq!(set.len(), 10);
        let shown = set[0].shown();
        assert_eq!(shown.len(), 11);
        assert_eq!(Code::parse(&shown.to_uppercase()), Code::Recovery(set[0].clone()));
        assert_eq!(Code::parse(&shown.replace('-', "")), Code::Recovery(set[0].clone()));
        assert_eq!(set[0].hash().len(), 64);
        for bad in ["12345", "1234567", "abcde-fghi!", ""] {
            assert_eq!(Code::parse(bad), Code::Malformed, "{bad}");
        }
    }

    #[test]
    fn secrets_open_only_with_the_same_key_and_user() {
        let key = SecretKey::derive("a key of at least thirty-two characters").unwrap();
        let secret = Secret::generate();
        let sealed = secret.seal(&key, 7);
        assert!(!sealed.contains(secret.base32()));
        assert_eq!(Secret::open(&key, 7, &sealed), Ok(secret));
        assert_eq!(Secret::open(&key, 8, &sealed), Err(Undecryptable), "another user's row");
    }
}
