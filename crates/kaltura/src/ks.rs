//! Kaltura Session (KS) tokens: minting and verifying both the v1 (signed) and
//! v2 (encrypted) formats, byte-compatible with Kaltura's server and clients.

use aes::Aes128;
use base64::Engine;
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, PAD_INDIFFERENT, STANDARD, URL_SAFE};
use cbc::cipher::block_padding::ZeroPadding;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use rand::TryRng;
use rand::rngs::SysRng;
use sha1::{Digest, Sha1};

/// Which KS format a token uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KsVersion {
    V1,
    V2,
}

/// What a KS says once decoded and verified.
///
/// Holds only the decoded fields, never the token or a secret, so `Debug` is safe to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ks {
    pub version: KsVersion,
    pub partner_id: i64,
    /// Unix seconds.
    pub valid_until: i64,
    /// 0 USER, 2 ADMIN.
    pub session_type: i32,
    pub user_id: String,
    /// Comma list `name:value,name`; `*` for all.
    pub privileges: String,
    pub master_partner_id: Option<i64>,
}

impl Ks {
    pub fn is_expired(&self, now: i64) -> bool {
        self.valid_until <= now
    }

    /// The value of privilege `name` (`""` for a bare privilege), or `None` if absent.
    pub fn has_privilege(&self, name: &str) -> Option<&str> {
        self.privileges
            .split(',')
            .map(|p| p.split_once(':').unwrap_or((p, "")))
            .find(|(n, _)| n.trim() == name)
            .map(|(_, v)| v.trim())
    }
}

/// Everything needed to mint a KS.
#[derive(Debug, Clone, Copy)]
pub struct KsParams<'a> {
    pub partner_id: i64,
    pub user_id: &'a str,
    pub session_type: i32,
    /// Absolute expiry, unix seconds.
    pub valid_until: i64,
    pub privileges: &'a str,
    pub master_partner_id: Option<i64>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KsError {
    #[error("the KS is not valid base64 or has no partner id")]
    Malformed,
    #[error("the KS signature does not match")]
    BadSignature,
}

type Aes128CbcEnc = cbc::Encryptor<Aes128>;
type Aes128CbcDec = cbc::Decryptor<Aes128>;

const V2_PREFIX: &[u8] = b"v2|";
const SHA1_LEN: usize = 20;
const RANDOM_LEN: usize = 16;
const BLOCK: usize = 16;

/// Clients differ in alphabet and padding (and PHP's decoder is lenient), so input is
/// normalised to the standard alphabet and decoded with padding and trailing bits optional.
const LENIENT: GeneralPurpose =
    GeneralPurpose::new(&alphabet::STANDARD, PAD_INDIFFERENT.with_decode_allow_trailing_bits(true));

/// Mints a v2 KS with the given random prefix (fixed in tests, from the OS otherwise).
pub fn generate_v2(secret: &str, p: &KsParams, random: [u8; 16]) -> String {
    let mut body = random.to_vec();
    body.extend_from_slice(v2_fields(p).as_bytes());

    let mut buf = Sha1::digest(&body).to_vec();
    buf.extend_from_slice(&body);
    let len = buf.len();
    buf.resize(len.div_ceil(BLOCK) * BLOCK, 0);
    let ct = Aes128CbcEnc::new(&v2_key(secret).into(), &[0u8; BLOCK].into())
        .encrypt_padded::<ZeroPadding>(&mut buf, len)
        .expect("buffer is sized to whole blocks");

    let mut out = format!("v2|{}|", p.partner_id).into_bytes();
    out.extend_from_slice(ct);
    URL_SAFE.encode(out)
}

/// Mints a v2 KS with random bytes from the OS RNG.
///
/// Panics if the OS RNG fails: minting a session with predictable bytes would be worse.
pub fn generate_v2_random(secret: &str, p: &KsParams) -> String {
    let mut random = [0u8; RANDOM_LEN];
    SysRng.try_fill_bytes(&mut random).expect("the OS random number generator failed");
    generate_v2(secret, p, random)
}

/// Mints a v1 KS; the master partner id, when given, goes in the 8th field.
pub fn generate_v1(secret: &str, p: &KsParams, rand: u32) -> String {
    let master = p.master_partner_id.map(|m| format!(";{m}")).unwrap_or_default();
    let info = format!(
        "{pid};{pid};{};{};{rand};{};{}{master}",
        p.valid_until,
        p.session_type,
        p.user_id,
        p.privileges,
        pid = p.partner_id,
    );
    STANDARD.encode(format!("{}|{info}", v1_signature(secret, info.as_bytes())))
}

/// Reads the partner id (and version) without a secret, so the caller can look up which
/// secret to verify with.
pub fn peek(ks: &str) -> Result<(KsVersion, i64), KsError> {
    let raw = decode_base64(ks)?;
    Ok(match split(&raw)? {
        Parts::V1 { partner_id, .. } => (KsVersion::V1, partner_id),
        Parts::V2 { partner_id, .. } => (KsVersion::V2, partner_id),
    })
}

/// Decodes and verifies with that partner's admin secret.
///
/// Does not check expiry: the server reports a bad KS and an expired KS differently, so
/// callers compare `valid_until` with the current time themselves.
pub fn verify(ks: &str, secret: &str) -> Result<Ks, KsError> {
    let raw = decode_base64(ks)?;
    match split(&raw)? {
        Parts::V1 { sig, info, .. } => verify_v1(sig, info, secret),
        Parts::V2 { partner_id, ct } => verify_v2(partner_id, ct, secret),
    }
}

enum Parts<'a> {
    V1 { partner_id: i64, sig: &'a [u8], info: &'a [u8] },
    V2 { partner_id: i64, ct: &'a [u8] },
}

/// Whether a run of base64 characters (possibly cut short) is a KS: it decodes to `v2|…`, or to a v1 token's
/// hex signature and `|`. Ordinary long words and ids decode to neither.
pub(crate) fn looks_like_ks(token: &str) -> bool {
    let whole = &token[..token.len() - token.len() % 4];
    let Ok(raw) = decode_base64(whole) else { return false };
    let hex_prefix = raw.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    raw.starts_with(b"v2|") || (hex_prefix >= 24 && raw.get(hex_prefix).is_none_or(|b| *b == b'|'))
}

fn decode_base64(ks: &str) -> Result<Vec<u8>, KsError> {
    let normalised: Vec<u8> = ks
        .trim()
        .bytes()
        .map(|b| match b {
            b'-' => b'+',
            b'_' => b'/',
            b => b,
        })
        .collect();
    LENIENT.decode(normalised).map_err(|_| KsError::Malformed)
}

fn split(raw: &[u8]) -> Result<Parts<'_>, KsError> {
    if let Some(rest) = raw.strip_prefix(V2_PREFIX) {
        let (pid, ct) = split_at_byte(rest, b'|').ok_or(KsError::Malformed)?;
        return Ok(Parts::V2 { partner_id: parse_num(pid)?, ct });
    }
    let (sig, info) = split_at_byte(raw, b'|').ok_or(KsError::Malformed)?;
    let pid = info.split(|&b| b == b';').next().unwrap_or_default();
    Ok(Parts::V1 { partner_id: parse_num(pid)?, sig, info })
}

fn verify_v1(sig: &[u8], info: &[u8], secret: &str) -> Result<Ks, KsError> {
    let expected = v1_signature(secret, info);
    if !ct_eq(sig, expected.as_bytes()) {
        return Err(KsError::BadSignature);
    }
    let info = std::str::from_utf8(info).map_err(|_| KsError::Malformed)?;
    // Positional like the server's `explode(";")`: trailing fields may be absent.
    let fields: Vec<&str> = info.split(';').collect();
    let field = |i: usize| fields.get(i).copied().unwrap_or_default();
    let master = field(7);
    Ok(Ks {
        version: KsVersion::V1,
        partner_id: parse_num(field(0).as_bytes())?,
        valid_until: parse_num(field(2).as_bytes())?,
        session_type: parse_num(field(3).as_bytes())?,
        user_id: field(5).to_owned(),
        privileges: field(6).to_owned(),
        master_partner_id: if master.is_empty() { None } else { Some(parse_num(master.as_bytes())?) },
    })
}

fn verify_v2(partner_id: i64, ct: &[u8], secret: &str) -> Result<Ks, KsError> {
    if ct.is_empty() || !ct.len().is_multiple_of(BLOCK) {
        return Err(KsError::Malformed);
    }
    let mut buf = ct.to_vec();
    // ZeroPadding's unpad is the server's `rtrim($plain, "\0")`.
    let plain = Aes128CbcDec::new(&v2_key(secret).into(), &[0u8; BLOCK].into())
        .decrypt_padded::<ZeroPadding>(&mut buf)
        .map_err(|_| KsError::Malformed)?;
    if plain.len() < SHA1_LEN {
        return Err(KsError::BadSignature);
    }
    let (hash, body) = plain.split_at(SHA1_LEN);
    if !ct_eq(hash, &Sha1::digest(body)) {
        return Err(KsError::BadSignature);
    }
    let fields = body.get(RANDOM_LEN..).ok_or(KsError::Malformed)?;

    let mut ks = Ks {
        version: KsVersion::V2,
        partner_id,
        valid_until: 0,
        session_type: 0,
        user_id: String::new(),
        privileges: String::new(),
        master_partner_id: None,
    };
    let (mut expiry, mut session_type) = (None, None);
    let mut privileges = Vec::new();
    for pair in fields.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = split_at_byte(pair, b'=').unwrap_or((pair, b""));
        let name = url_decode(name)?;
        let value = url_decode(value)?;
        match name.as_str() {
            "_e" => expiry = Some(parse_num(value.as_bytes())?),
            "_t" => session_type = Some(parse_num(value.as_bytes())?),
            "_u" => ks.user_id = value,
            "_m" if value.is_empty() => ks.master_partner_id = None,
            "_m" => ks.master_partner_id = Some(parse_num(value.as_bytes())?),
            "_d" => {}
            "all" if value == "*" => privileges.push("*".to_owned()),
            _ if value.is_empty() => privileges.push(name),
            _ => privileges.push(format!("{name}:{value}")),
        }
    }
    ks.valid_until = expiry.ok_or(KsError::Malformed)?;
    ks.session_type = session_type.ok_or(KsError::Malformed)?;
    ks.privileges = privileges.join(",");
    Ok(ks)
}

/// The v2 field string, in the order Kaltura's clients write it.
fn v2_fields(p: &KsParams) -> String {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    for privilege in p.privileges.split(',').map(str::trim) {
        match privilege {
            "" => {}
            "*" => pairs.push(("all", "*".to_owned())),
            _ => {
                let (name, value) = privilege.split_once(':').unwrap_or((privilege, ""));
                pairs.push((name, value.to_owned()));
            }
        }
    }
    pairs.push(("_e", p.valid_until.to_string()));
    pairs.push(("_t", p.session_type.to_string()));
    pairs.push(("_u", p.user_id.to_owned()));
    if let Some(master) = p.master_partner_id {
        pairs.push(("_m", master.to_string()));
    }
    http_build_query(&pairs)
}

/// PHP's `http_build_query` with its default `urlencode` encoding.
fn http_build_query(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| format!("{}={}", url_encode(name), url_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// PHP's `urlencode`: space becomes `+` and only `A-Za-z0-9-_.` stay literal.
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => out.push(char::from(b)),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// PHP's `urldecode`: `+` is a space and a `%` not followed by two hex digits stays literal.
fn url_decode(s: &[u8]) -> Result<String, KsError> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        let escaped = match (b, s.get(i + 1), s.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) => hex_val(h).zip(hex_val(l)).map(|(h, l)| (h << 4) | l),
            _ => None,
        };
        match (b, escaped) {
            (_, Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (b, None) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| KsError::Malformed)
}

fn hex_val(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

fn v1_signature(secret: &str, info: &[u8]) -> String {
    let mut hasher = Sha1::new();
    hasher.update(secret.as_bytes());
    hasher.update(info);
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn v2_key(secret: &str) -> [u8; 16] {
    let digest = Sha1::digest(secret.as_bytes());
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

fn split_at_byte(s: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let i = s.iter().position(|&b| b == sep)?;
    Some((&s[..i], &s[i + 1..]))
}

fn parse_num<T: std::str::FromStr>(s: &[u8]) -> Result<T, KsError> {
    std::str::from_utf8(s).ok().and_then(|s| s.parse().ok()).ok_or(KsError::Malformed)
}

/// Compares without an early exit, so timing does not reveal how much of a forged
/// signature was right.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";
    const RANDOM: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

    const V1: &str = "M2MyNWJjYzdjMTUxNWJmZGU1Yzk1YWI0ZmM3NWQyNDBhZWY2OWI3OHwxMjM0NTsxMjM0NTsxNzAwMDg2NDAwOzI7NDI0MjthZG1pbkBhY21lLmV4YW1wbGU7";
    const V2: &str = "djJ8MTIzNDV80sHRZAjfte2fPyC5_tm7upGlRuGkoSsyjdmenZs4RNpGkeclcjUg5ARRTmzgHAsc2ucM_fAiGdu0UCogjlZZ7tfbSI2ksy6KtQQ90Lexhp0=";
    const V2_ALL: &str = "djJ8MTIzNDV8VpsFCLqfveEd9lxKaaSFhTW9dOrs-Q2IcleGqH7BLS2jl7iSW65stMAVmX3ZzZoARPQpNi6Y3rDV14b8U71TYU9m7A-JMGdMADQwjQyAemP1ISDBZROMDW0Hy1tp-HxJ";
    const V2_MASTER: &str = "djJ8Njc4fCr54miXHEYzZc0YqQZzBEngUXxq4x1nvFyWGFZ1nVDU2F0Sk-im_HKk1m7_HawrqvzvalG-bMoY9-aLGDZIiMudouU-BJMn4FU3ECViif4EWbYqECEZk-CmdM9P0S2aoAjkWB0jTwLjGnaOjoBPYy5lK7sK_PKqNzMWmNFDuRsm";

    fn admin(privileges: &str) -> KsParams<'_> {
        KsParams {
            partner_id: 12345,
            user_id: "admin@acme.example",
            session_type: 2,
            valid_until: 1_700_086_400,
            privileges,
            master_partner_id: None,
        }
    }

    fn impersonating() -> KsParams<'static> {
        KsParams {
            partner_id: 678,
            user_id: "admin@example.com",
            session_type: 2,
            valid_until: 1_800_000_000,
            privileges: "disableentitlement,enablechangeaccount:678",
            master_partner_id: Some(100),
        }
    }

    #[test]
    fn v1_generation_matches_the_official_client() {
        assert_eq!(generate_v1(SECRET, &admin(""), 4242), V1);
    }

    #[test]
    fn v2_generation_matches_the_official_client() {
        assert_eq!(generate_v2(SECRET, &admin(""), RANDOM), V2);
    }

    #[test]
    fn v2_generation_with_all_privileges_matches_the_official_client() {
        assert_eq!(generate_v2(SECRET, &admin("*"), RANDOM), V2_ALL);
    }

    #[test]
    fn v2_generation_with_master_partner_matches_the_reference() {
        assert_eq!(generate_v2(SECRET, &impersonating(), RANDOM), V2_MASTER);
    }

    #[test]
    fn v2_fields_are_written_in_client_order() {
        assert_eq!(
            v2_fields(&impersonating()),
            "disableentitlement=&enablechangeaccount=678&_e=1800000000&_t=2&_u=admin%40example.com&_m=100"
        );
        assert_eq!(v2_fields(&admin("*")), "all=%2A&_e=1700086400&_t=2&_u=admin%40acme.example");
    }

    #[test]
    fn v1_verifies_back_to_its_fields() {
        let ks = verify(V1, SECRET).unwrap();
        assert_eq!(
            ks,
            Ks {
                version: KsVersion::V1,
                partner_id: 12345,
                valid_until: 1_700_086_400,
                session_type: 2,
                user_id: "admin@acme.example".into(),
                privileges: String::new(),
                master_partner_id: None,
            }
        );
    }

    #[test]
    fn v1_with_master_partner_round_trips() {
        let ks = verify(&generate_v1(SECRET, &impersonating(), 7), SECRET).unwrap();
        assert_eq!(ks.master_partner_id, Some(100));
        assert_eq!(ks.privileges, "disableentitlement,enablechangeaccount:678");
        assert_eq!(ks.partner_id, 678);
    }

    #[test]
    fn v2_verifies_back_to_its_fields() {
        let ks = verify(V2, SECRET).unwrap();
        assert_eq!(
            ks,
            Ks {
                version: KsVersion::V2,
                partner_id: 12345,
                valid_until: 1_700_086_400,
                session_type: 2,
                user_id: "admin@acme.example".into(),
                privileges: String::new(),
                master_partner_id: None,
            }
        );
    }

    #[test]
    fn v2_with_all_privileges_verifies_to_a_star() {
        let ks = verify(V2_ALL, SECRET).unwrap();
        assert_eq!(ks.privileges, "*");
        assert_eq!(ks.has_privilege("*"), Some(""));
    }

    #[test]
    fn v2_with_master_partner_verifies_back_to_its_fields() {
        let ks = verify(V2_MASTER, SECRET).unwrap();
        assert_eq!(ks.partner_id, 678);
        assert_eq!(ks.user_id, "admin@example.com");
        assert_eq!(ks.session_type, 2);
        assert_eq!(ks.valid_until, 1_800_000_000);
        assert_eq!(ks.privileges, "disableentitlement,enablechangeaccount:678");
        assert_eq!(ks.master_partner_id, Some(100));
        assert_eq!(ks.has_privilege("enablechangeaccount"), Some("678"));
        assert_eq!(ks.has_privilege("disableentitlement"), Some(""));
        assert_eq!(ks.has_privilege("privacycontext"), None);
    }

    #[test]
    fn random_v2_tokens_differ_and_verify() {
        let a = generate_v2_random(SECRET, &admin("*"));
        let b = generate_v2_random(SECRET, &admin("*"));
        assert_ne!(a, b);
        assert_eq!(verify(&a, SECRET).unwrap(), verify(&b, SECRET).unwrap());
    }

    #[test]
    fn peek_reads_partner_and_version_without_a_secret() {
        assert_eq!(peek(V1), Ok((KsVersion::V1, 12345)));
        assert_eq!(peek(V2), Ok((KsVersion::V2, 12345)));
        assert_eq!(peek(V2_MASTER), Ok((KsVersion::V2, 678)));
    }

    #[test]
    fn a_wrong_secret_gives_bad_signature() {
        let wrong = "fedcba9876543210fedcba9876543210";
        assert_eq!(verify(V1, wrong), Err(KsError::BadSignature));
        assert_eq!(verify(V2, wrong), Err(KsError::BadSignature));
        assert_eq!(verify(V2_MASTER, wrong), Err(KsError::BadSignature));
    }

    #[test]
    fn expiry_is_inclusive_of_the_valid_until_second() {
        let ks = verify(V2, SECRET).unwrap();
        assert!(!ks.is_expired(1_700_086_399));
        assert!(ks.is_expired(1_700_086_400));
    }

    #[test]
    fn both_alphabets_and_missing_padding_are_accepted() {
        let raw = URL_SAFE.decode(V2).unwrap();
        let standard = STANDARD.encode(&raw);
        assert_ne!(standard, V2);
        let unpadded = V2.trim_end_matches('=');
        let v1_url = V1.replace('+', "-").replace('/', "_");
        for ks in [standard.as_str(), unpadded, &format!("  {V2}\n")] {
            assert_eq!(verify(ks, SECRET), verify(V2, SECRET));
        }
        assert_eq!(verify(&v1_url, SECRET), verify(V1, SECRET));
        assert!(verify(V2_ALL, SECRET).is_ok());
    }

    #[test]
    fn a_tampered_v1_payload_is_rejected() {
        let raw = STANDARD.decode(V1).unwrap();
        let forged = String::from_utf8(raw).unwrap().replace(";2;", ";0;");
        assert_eq!(verify(&STANDARD.encode(forged), SECRET), Err(KsError::BadSignature));
    }

    #[test]
    fn garbage_inputs_are_errors() {
        for ks in [
            "",
            "   ",
            "!!!!",
            "djJ8",
            "v2|12345|abc",
            &STANDARD.encode("v2|12345|"),
            &STANDARD.encode("v2|abc|0123456789abcdef"),
            &STANDARD.encode("v2|12345|short"),
            &STANDARD.encode("v2|99999999999999999999999|0123456789abcdef"),
            &STANDARD.encode("no separator"),
            &STANDARD.encode("sig|notanumber;1;2"),
            &STANDARD.encode([0xff, 0xfe, b'|', 0xff, b';']),
        ] {
            assert!(verify(ks, SECRET).is_err(), "{ks:?} verified");
        }
        assert_eq!(peek(""), Err(KsError::Malformed));
    }

    #[test]
    fn truncations_and_bit_flips_never_panic_or_verify() {
        for valid in [V1, V2, V2_ALL, V2_MASTER] {
            let raw = URL_SAFE.decode(valid).unwrap();
            for len in 0..raw.len() {
                let cut = URL_SAFE.encode(&raw[..len]);
                assert!(verify(&cut, SECRET).is_err(), "truncated to {len}");
                let _ = peek(&cut);
                let _ = verify(&valid[..len], SECRET);
            }
            let original = verify(valid, SECRET).unwrap();
            for i in 0..raw.len() {
                for bit in 0..8 {
                    let mut flipped = raw.clone();
                    flipped[i] ^= 1 << bit;
                    let ks = URL_SAFE.encode(&flipped);
                    let _ = peek(&ks);
                    // The v2 header's partner id is outside the ciphertext; it is bound only by
                    // the caller choosing that partner's secret, which this test does not do.
                    if let Ok(got) = verify(&ks, SECRET) {
                        assert_eq!(original.version, KsVersion::V2, "flip {i}:{bit}");
                        assert_ne!(got.partner_id, original.partner_id);
                        assert_eq!(Ks { partner_id: original.partner_id, ..got }, original);
                    }
                }
            }
        }
    }

    #[test]
    fn http_build_query_encodes_like_php() {
        assert_eq!(url_encode("a b~c@d*e-f_g.h"), "a+b%7Ec%40d%2Ae-f_g.h");
        assert_eq!(url_encode("é/"), "%C3%A9%2F");
        let pairs = [("k y", "v~1".to_owned()), ("x", String::new())];
        assert_eq!(http_build_query(&pairs), "k+y=v%7E1&x=");
    }

    #[test]
    fn url_decoding_is_like_php() {
        assert_eq!(url_decode(b"a+b%7Ec%40d%2a").unwrap(), "a b~c@d*");
        assert_eq!(url_decode(b"100%").unwrap(), "100%");
        assert_eq!(url_decode(b"%zz%4").unwrap(), "%zz%4");
        assert_eq!(url_decode(b"%ff"), Err(KsError::Malformed));
    }
}
