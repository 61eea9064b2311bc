//! Kaltura's wire format: API errors, result values, and their JSON (`format=1`) and XML (`format=2`) encodings.

use serde_json::{Map, Value as Json};
use std::fmt::Write as _;

/// An API error as the server raises it: a code, its argument values, and the message built from the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: &'static str,
    pub args: Vec<(&'static str, String)>,
    /// A message given whole (a test's injected failure) instead of the code's template.
    pub text: Option<String>,
}

impl ApiError {
    pub fn new(code: &'static str, values: &[&str]) -> Self {
        let names = arg_names(code);
        let args =
            names.iter().zip(values.iter().chain(std::iter::repeat(&""))).map(|(n, v)| (*n, v.to_string())).collect();
        ApiError { code, args, text: None }
    }

    /// An error with its own message.
    pub fn with_message(code: &'static str, message: &str) -> Self {
        ApiError { code, args: Vec::new(), text: Some(message.to_string()) }
    }

    pub fn message(&self) -> String {
        if let Some(text) = &self.text {
            return text.clone();
        }
        let mut text = template(self.code).to_string();
        for (name, value) in &self.args {
            text = text.replace(&format!("@{name}@"), value);
        }
        text
    }

    /// INVALID_KS for an unparsable or badly signed KS (`-1,INVALID_STR`).
    pub fn invalid_ks(ks: &str) -> Self {
        ApiError::new("INVALID_KS", &[ks, "-1", "INVALID_STR"])
    }

    /// INVALID_KS for an expired KS: the server's `ks::EXPIRED` code.
    pub fn expired_ks(ks: &str) -> Self {
        ApiError::new("INVALID_KS", &[ks, "-5", "EXPIRED"])
    }

    pub fn registration(message: &str) -> Self {
        ApiError::new("PARTNER_REGISTRATION_ERROR", &[message])
    }
}

/// Argument names and message templates of the errors the emulator raises (kaltura/server `KalturaErrors`, `APIErrors`).
const TEMPLATES: &[(&str, &[&str], &str)] = &[
    ("INVALID_KS", &["KSID", "ERR_CODE", "ERR_DESC"], "Invalid KS \"@KSID@\", Error \"@ERR_CODE@,@ERR_DESC@\""),
    ("MISSING_KS", &[], "Missing KS, session not established"),
    ("SERVICE_FORBIDDEN", &["SERVICE"], "The access to service [@SERVICE@] is forbidden"),
    (
        "SERVICE_FORBIDDEN_CONTENT_BLOCKED",
        &[],
        "The access to this service is forbidden since the specified partner is blocked",
    ),
    ("FEATURE_FORBIDDEN", &["FEATURE"], "The usage of feature [@FEATURE@] is forbidden"),
    ("START_SESSION_ERROR", &["PID"], "Error while starting session for partner [@PID@]"),
    ("INVALID_PARTNER_ID", &["PID"], "Invalid partner id \"@PID@\""),
    ("UNKNOWN_PARTNER_ID", &["PID"], "Unknown partner_id [@PID@]"),
    ("PARTNER_REGISTRATION_ERROR", &["MESSAGE"], "Error while registering partner with message \"@MESSAGE@\""),
    (
        "NON_GROUP_PARTNER_ATTEMPTING_TO_ASSIGN_CHILD",
        &["PID"],
        "Partner id [@PID@] is not a VAR/GROUP, but is attempting to create child partner",
    ),
    ("MISSING_MANDATORY_PARAMETER", &["PARAM_NAME"], "Missing parameter \"@PARAM_NAME@\""),
    (
        "INVALID_ENUM_VALUE",
        &["ENUM_VAL", "PARAM_NAME", "ENUM_TYPE"],
        "Invalid enumeration value \"@ENUM_VAL@\" for parameter \"@PARAM_NAME@\", expecting enumeration type \"@ENUM_TYPE@\"",
    ),
    ("SERVICE_DOES_NOT_EXISTS", &["SRV_NAME"], "Service \"@SRV_NAME@\" does not exists"),
    (
        "ACTION_DOES_NOT_EXISTS",
        &["ACTION_NAME", "SERVICE_NAME"],
        "Action \"@ACTION_NAME@\" does not exists for service \"@SERVICE_NAME@\"",
    ),
    ("PROPERTY_VALIDATION_CANNOT_BE_NULL", &["PROP_NAME"], "The property \"@PROP_NAME@\" cannot be null"),
    ("PROPERTY_VALIDATION_NOT_UPDATABLE", &["PROP_NAME"], "The property \"@PROP_NAME@\" cannot be updated"),
    (
        "PROPERTY_VALIDATION_MAX_LENGTH",
        &["PROP_NAME", "MAX_LEN"],
        "The property \"@PROP_NAME@\" cannot have more than @MAX_LEN@ characters",
    ),
    // The server's code is misspelt.
    ("PROPERTY_DEPRECTAED", &["PROP"], "The property \"@PROP@\" is deprecated and should not be used"),
    ("USER_WRONG_PASSWORD", &[], "Wrong password supplied"),
    ("INVALID_OBJECT_ID", &["ID"], "Invalid object id [@ID@]"),
    ("INTERNAL_SERVERL_ERROR", &[], "Internal server error occurred"),
    ("INVALID_USER_ID", &[], "Invalid user id"),
    (
        "CANNOT_RETRIEVE_ANOTHER_USER_USING_NON_ADMIN_SESSION",
        &["USER_ID"],
        "cannot retrieve another user \"@USER_ID@\" using non-admin session",
    ),
    ("ACCOUNT_OWNER_NEEDS_PARTNER_ADMIN_ROLE", &[], "Account owner must have a partner administrator role"),
    ("MAX_SUB_PUBLISHERS_EXCEEDED", &[], "Maximum number of sub-publishers exceeded"),
];

fn lookup(code: &str) -> Option<&'static (&'static str, &'static [&'static str], &'static str)> {
    TEMPLATES.iter().find(|(c, _, _)| *c == code)
}

fn arg_names(code: &str) -> &'static [&'static str] {
    lookup(code).map(|t| t.1).unwrap_or(&[])
}

fn template(code: &str) -> &'static str {
    lookup(code).map(|t| t.2).unwrap_or("Internal server error occurred")
}

/// A result value, typed enough to be written in either format.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum V {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// An object: its `objectType` and its declared properties in order (null ones included, for XML).
    Obj(&'static str, Vec<(&'static str, V)>),
    Arr(Vec<V>),
    Err(ApiError),
}

impl V {
    pub fn opt_str(s: Option<String>) -> V {
        s.map(V::Str).unwrap_or(V::Null)
    }

    pub fn opt_int(i: Option<i64>) -> V {
        i.map(V::Int).unwrap_or(V::Null)
    }

    /// The text a multirequest reference `{N:result:a:b}` takes from this value.
    pub fn reference(&self, path: &[&str]) -> Option<String> {
        let mut cur = self;
        for key in path {
            cur = match cur {
                V::Obj(_, fields) => &fields.iter().find(|(k, _)| k == key)?.1,
                V::Arr(items) => items.get(key.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        match cur {
            V::Bool(b) => Some(if *b { "1" } else { "0" }.into()),
            V::Int(i) => Some(i.to_string()),
            V::Float(f) => Some(php_float(*f)),
            V::Str(s) => Some(s.clone()),
            _ => None,
        }
    }

    pub fn to_json(&self) -> Json {
        match self {
            V::Null => Json::Null,
            V::Bool(b) => Json::Bool(*b),
            V::Int(i) => Json::from(*i),
            V::Float(f) => Json::from(*f),
            V::Str(s) => Json::String(s.clone()),
            V::Arr(items) => Json::Array(items.iter().map(V::to_json).collect()),
            V::Obj(object_type, fields) => {
                let mut map = Map::new();
                for (k, v) in fields {
                    if *v != V::Null {
                        map.insert((*k).to_string(), v.to_json());
                    }
                }
                map.insert("objectType".into(), Json::String((*object_type).into()));
                Json::Object(map)
            }
            V::Err(e) => {
                let mut map = Map::new();
                map.insert("code".into(), Json::String(e.code.into()));
                map.insert("message".into(), Json::String(e.message()));
                map.insert("objectType".into(), Json::String("KalturaAPIException".into()));
                // PHP's json_encode(array()) is `[]`, so an error without arguments has `"args":[]`.
                let args = if e.args.is_empty() {
                    Json::Array(vec![])
                } else {
                    Json::Object(e.args.iter().map(|(k, v)| ((*k).to_string(), Json::String(v.clone()))).collect())
                };
                map.insert("args".into(), args);
                Json::Object(map)
            }
        }
    }

    pub fn write_xml(&self, out: &mut String) {
        match self {
            V::Null => {}
            V::Bool(b) => out.push(if *b { '1' } else { '0' }),
            V::Int(i) => {
                let _ = write!(out, "{i}");
            }
            V::Float(f) => out.push_str(&php_float(*f)),
            V::Str(s) => escape_into(s, out),
            V::Arr(items) => {
                for item in items {
                    out.push_str("<item>");
                    item.write_xml(out);
                    out.push_str("</item>");
                }
            }
            V::Obj(object_type, fields) => {
                let _ = write!(out, "<objectType>{object_type}</objectType>");
                for (k, v) in fields {
                    let _ = write!(out, "<{k}>");
                    v.write_xml(out);
                    let _ = write!(out, "</{k}>");
                }
            }
            V::Err(e) => {
                out.push_str("<error><code>");
                out.push_str(e.code);
                out.push_str("</code><message>");
                escape_into(&e.message(), out);
                out.push_str("</message><objectType>KalturaAPIException</objectType><args>");
                for (name, value) in &e.args {
                    let _ =
                        write!(out, "<item><objectType>KalturaAPIExceptionArg</objectType><name>{name}</name><value>");
                    escape_into(value, out);
                    out.push_str("</value></item>");
                }
                out.push_str("</args></error>");
            }
        }
    }
}

/// A float as PHP turns it into a string (`precision` = 14): `1.5`, `2`, `0.0001`, `1.0E-5`, `1.0E+25`.
pub fn php_float(x: f64) -> String {
    if !x.is_finite() {
        return if x.is_nan() {
            "NAN"
        } else if x > 0.0 {
            "INF"
        } else {
            "-INF"
        }
        .into();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let sci = format!("{:.13e}", x.abs());
    let (mantissa, exponent) = sci.split_once('e').expect("Rust writes an exponent");
    let exponent: i32 = exponent.parse().expect("a decimal exponent");
    let digits = mantissa.replace('.', "");
    let digits = digits.trim_end_matches('0');
    let sign = if x < 0.0 { "-" } else { "" };
    // zend_gcvt: the decimal point's position decides between fixed and exponential notation.
    let point = exponent + 1;
    if !(-3..=14).contains(&point) {
        let rest = if digits.len() > 1 { &digits[1..] } else { "0" };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{}.{rest}E{exp_sign}{}", &digits[..1], exponent.abs());
    }
    let body = match usize::try_from(point) {
        Ok(0) | Err(_) => format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize)),
        Ok(point) if point >= digits.len() => format!("{digits}{}", "0".repeat(point - digits.len())),
        Ok(point) => format!("{}.{}", &digits[..point], &digits[point..]),
    };
    format!("{sign}{body}")
}

fn escape_into(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all; dropping them keeps the document parseable.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
}

/// The response format a request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
    /// JSONP (`format=9`): JSON wrapped in the `callback` function.
    Jsonp,
}

impl Format {
    /// `format` as sent; anything unknown falls back to XML, the server default.
    pub fn from_param(value: Option<&str>) -> Format {
        match value.map(str::trim) {
            Some("1") => Format::Json,
            Some("9") => Format::Jsonp,
            _ => Format::Xml,
        }
    }
}

/// Encodes a result (or a multirequest's list of results) as a response body and its content type.
pub fn encode(result: &V, format: Format, callback: Option<&str>, elapsed_secs: f64) -> (String, &'static str) {
    match format {
        Format::Json => (result.to_json().to_string(), "application/json"),
        Format::Jsonp => {
            let name: String = callback
                .unwrap_or("callback")
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '$'))
                .collect();
            let name = if name.is_empty() { "callback".to_string() } else { name };
            (format!("{name}({});", result.to_json()), "application/javascript")
        }
        Format::Xml => {
            let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?><xml><result>");
            result.write_xml(&mut out);
            let _ = write!(out, "</result><executionTime>{elapsed_secs:.4}</executionTime></xml>");
            (out, "text/xml")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_fill_their_templates_in_order() {
        let e = ApiError::new("ACTION_DOES_NOT_EXISTS", &["fly", "partner"]);
        assert_eq!(e.message(), "Action \"fly\" does not exists for service \"partner\"");
        assert_eq!(e.args, vec![("ACTION_NAME", "fly".to_string()), ("SERVICE_NAME", "partner".to_string())]);
    }

    #[test]
    fn json_errors_without_arguments_carry_an_empty_array() {
        let j = V::Err(ApiError::new("MISSING_KS", &[])).to_json();
        assert_eq!(j["args"], serde_json::json!([]));
        assert_eq!(j["message"], "Missing KS, session not established");
        let j = V::Err(ApiError::new("INVALID_PARTNER_ID", &["9"])).to_json();
        assert_eq!(j["args"], serde_json::json!({"PID": "9"}));
    }

    #[test]
    fn xml_objects_list_every_property_with_object_type_first() {
        let v =
            V::Obj("KalturaPartner", vec![("id", V::Int(5)), ("name", V::Str("A&B".into())), ("description", V::Null)]);
        let (body, ct) = encode(&v, Format::Xml, None, 0.0);
        assert_eq!(ct, "text/xml");
        assert!(body.contains(
            "<result><objectType>KalturaPartner</objectType><id>5</id><name>A&amp;B</name><description></description></result>"
        ));
        let (json, _) = encode(&v, Format::Json, None, 0.0);
        assert_eq!(json, r#"{"id":5,"name":"A&B","objectType":"KalturaPartner"}"#);
    }

    #[test]
    fn floats_are_written_as_php_writes_them() {
        let cases = [
            (1.5, "1.5"),
            (2.0, "2"),
            (100.0, "100"),
            (0.0001, "0.0001"),
            (0.00001, "1.0E-5"),
            (1.0 / 1_048_576.0, "9.5367431640625E-7"),
            (1e25, "1.0E+25"),
            (1e14, "1.0E+14"),
            (99_999_999_999_999.0, "99999999999999"),
            (-1234.5678, "-1234.5678"),
            (2.0 / 3.0, "0.66666666666667"),
            (123_456.789_012_345_67, "123456.78901235"),
        ];
        for (x, want) in cases {
            assert_eq!(php_float(x), want, "{x}");
        }
        assert_eq!(V::Float(12.0).to_json().to_string(), "12.0");
    }

    #[test]
    fn references_walk_objects_and_arrays() {
        let v = V::Obj("L", vec![("objects", V::Arr(vec![V::Obj("P", vec![("id", V::Int(7))])]))]);
        assert_eq!(v.reference(&["objects", "0", "id"]), Some("7".into()));
        assert_eq!(v.reference(&["missing"]), None);
        assert_eq!(V::Str("ks".into()).reference(&[]), Some("ks".into()));
    }
}
