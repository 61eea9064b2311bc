//! What can go wrong talking to Kaltura, in words a page can show.
//!
//! Kaltura's `INVALID_KS` message quotes the KS it refused, so every message and argument is scrubbed of
//! KS-shaped tokens when the error is built: nothing downstream (Display, Debug, logs) can leak one.

use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KalturaError {
    /// Kaltura answered the call with an API exception (always HTTP 200 on the wire).
    #[error("Kaltura answered: {message}")]
    Api { code: String, message: String, args: BTreeMap<String, String> },
    /// No connection could be made, or it broke before an answer came.
    #[error("Kaltura could not be reached at {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("Kaltura took too long to answer (over {secs} s)")]
    Timeout { secs: u64 },
    /// The answer was larger than the client reads.
    #[error(
        "Kaltura sent an answer larger than the console reads ({limit_mb} MB); if that is expected, raise the limit"
    )]
    TooLarge { limit_mb: usize },
    /// A non-200 status, a body that is not JSON, or JSON of the wrong shape.
    #[error("Kaltura sent an answer the console cannot read: {0}")]
    BadResponse(String),
}

pub const INVALID_KS: &str = "INVALID_KS";

/// What replaces a KS found in a message.
const KS_PLACEHOLDER: &str = "[KS hidden]";

/// A KS is base64 of at least 40 bytes; ordinary message words, emails and URLs are broken up by spaces, dots,
/// `@` or `:` long before that.
const KS_MIN_LEN: usize = 40;

impl KalturaError {
    /// An API error with its message and arguments scrubbed of KS tokens.
    pub fn api(code: &str, message: &str, args: BTreeMap<String, String>) -> KalturaError {
        let args = args
            .into_iter()
            .map(|(name, value)| {
                // INVALID_KS names the refused KS in KSID (or the word EXPIRED).
                let value = if code == INVALID_KS && name == "KSID" && value != "EXPIRED" {
                    KS_PLACEHOLDER.to_string()
                } else {
                    redact(&value)
                };
                (name, value)
            })
            .collect();
        KalturaError::Api { code: code.to_string(), message: redact(message), args }
    }

    /// The Kaltura error code (`INVALID_KS`, `FEATURE_FORBIDDEN`, …) of an API error.
    pub fn code(&self) -> Option<&str> {
        match self {
            KalturaError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    pub fn arg(&self, name: &str) -> Option<&str> {
        match self {
            KalturaError::Api { args, .. } => args.get(name).map(String::as_str),
            _ => None,
        }
    }

    pub fn is_invalid_ks(&self) -> bool {
        self.code() == Some(INVALID_KS)
    }

    /// The partner lacks the feature the action needs (e.g. varConsole without FEATURE_VAR_CONSOLE_LOGIN).
    pub fn is_feature_forbidden(&self) -> bool {
        self.code() == Some("FEATURE_FORBIDDEN")
    }

    /// The partner does not exist, or is outside the parent's scope: Kaltura does not tell the two apart.
    pub fn is_invalid_partner(&self) -> bool {
        self.code() == Some("INVALID_PARTNER_ID")
    }

    /// The account has no user with that id (user.get's INVALID_USER_ID).
    pub fn is_invalid_user(&self) -> bool {
        self.code() == Some("INVALID_USER_ID")
    }

    /// Kaltura refuses calls made for a blocked or removed partner.
    pub fn is_partner_blocked(&self) -> bool {
        self.code() == Some("SERVICE_FORBIDDEN_CONTENT_BLOCKED")
    }

    /// partner.register refused the administrator email because a login with it exists (the substring UIs
    /// detect, kaltura-api.md §5).
    pub fn is_duplicate_email(&self) -> bool {
        matches!(self, KalturaError::Api { code, message, .. }
            if code == "PARTNER_REGISTRATION_ERROR" && message.contains("already exists in system"))
    }

    /// Reads an API exception out of a JSON answer (or one multirequest item); `None` for a normal result.
    pub(crate) fn from_answer(v: &Value) -> Option<KalturaError> {
        let obj = v.as_object()?;
        let code = obj.get("code")?.as_str()?;
        let is_exception = match obj.get("objectType").and_then(Value::as_str) {
            Some(t) => t.ends_with("Exception"),
            None => obj.get("message").is_some_and(Value::is_string),
        };
        if !is_exception {
            return None;
        }
        let message = obj.get("message").and_then(Value::as_str).unwrap_or(code);
        // `args` is an object of strings, or `[]` when the template has none.
        let args = match obj.get("args") {
            Some(Value::Object(m)) => {
                m.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string))).collect()
            }
            _ => BTreeMap::new(),
        };
        Some(KalturaError::api(code, message, args))
    }
}

impl KalturaError {
    /// [`KalturaError::from_answer`] for an answer still in its text: only an object with a `code` key is read
    /// into a value to look closer, so a page of accounts is never parsed twice.
    pub(crate) fn from_raw(raw: &RawValue) -> Option<KalturaError> {
        let text = raw.get();
        if !(text.starts_with('{') && text.contains("\"code\"")) {
            return None;
        }
        KalturaError::from_answer(&value(raw))
    }
}

/// A JSON text already checked as valid, read as a value.
pub(crate) fn value(raw: &RawValue) -> Value {
    serde_json::from_str(raw.get()).unwrap_or(Value::Null)
}

/// What kind of JSON value arrived, without its content (which may be secret).
pub(crate) fn shape(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Replaces every KS in `text` (a long run of base64 characters that decodes as a KS does) with a placeholder.
pub fn redact(text: &str) -> String {
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '-' | '_');
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= KS_MIN_LEN && super::ks::looks_like_ks(run) {
            out.push_str(KS_PLACEHOLDER);
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if is_b64(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KS: &str = "djJ8NjQ2NHzVf2o3XJv0yAq9Yl1lR0vX9mK3c2Jm8a1s4c6q0Wd9pZ7hT5uV3bN1xE-_Qw==";

    #[test]
    fn invalid_ks_errors_never_show_the_ks() {
        let answer = json!({
            "code": "INVALID_KS",
            "message": format!("Invalid KS \"{KS}\", Error \"-1,INVALID_STR\""),
            "objectType": "KalturaAPIException",
            "args": {"KSID": KS, "ERR_CODE": "-1", "ERR_DESC": "INVALID_STR"},
        });
        let e = KalturaError::from_answer(&answer).expect("an API error");
        assert!(e.is_invalid_ks());
        for shown in [e.to_string(), format!("{e:?}")] {
            assert!(!shown.contains("djJ8"), "{shown}");
        }
        assert_eq!(e.to_string(), "Kaltura answered: Invalid KS \"[KS hidden]\", Error \"-1,INVALID_STR\"");
        assert_eq!(e.arg("KSID"), Some("[KS hidden]"));
        assert_eq!(e.arg("ERR_DESC"), Some("INVALID_STR"));
    }

    #[test]
    fn ordinary_messages_are_left_alone() {
        let text = "User with email [renee.dvir@downunder.techpubs.example] already exists in system.";
        assert_eq!(redact(text), text);
        assert_eq!(
            redact("Template partner [7001] is not a sub-partner of partner [6464]"),
            "Template partner [7001] is not a sub-partner of partner [6464]"
        );
        assert_eq!(redact(&format!("a {KS} b")), "a [KS hidden] b");
        // Long runs that are not a KS stay readable: a body of `x`, a hash, a long id.
        let xs = "x".repeat(60);
        assert_eq!(redact(&xs), xs);
        let digest = "3f786850e387550fdab836ed7e6dc881de23001b3f786850e387550fdab836ed";
        assert_eq!(redact(digest), digest);
    }

    #[test]
    fn api_errors_are_told_from_results() {
        assert!(KalturaError::from_answer(&json!({"objectType": "KalturaPartner", "id": 1})).is_none());
        assert!(KalturaError::from_answer(&json!("djJ8")).is_none());
        assert!(KalturaError::from_answer(&json!(null)).is_none());
        let e = KalturaError::from_answer(&json!({
            "code": "MISSING_KS", "message": "Missing KS, session not established",
            "objectType": "KalturaAPIException", "args": []
        }))
        .expect("an API error");
        assert_eq!(e.code(), Some("MISSING_KS"));
        assert_eq!(
            e,
            KalturaError::Api {
                code: "MISSING_KS".into(),
                message: "Missing KS, session not established".into(),
                args: BTreeMap::new()
            }
        );
    }

    #[test]
    fn duplicate_emails_are_recognised_by_kalturas_wording() {
        let dup = KalturaError::api(
            "PARTNER_REGISTRATION_ERROR",
            "Error while registering partner with message \"User with email [a@b.example] already exists in system.\"",
            BTreeMap::new(),
        );
        assert!(dup.is_duplicate_email());
        let other = KalturaError::api("PARTNER_REGISTRATION_ERROR", "Invalid email address", BTreeMap::new());
        assert!(!other.is_duplicate_email());
    }
}
