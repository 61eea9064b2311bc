//! Request parameters as Kaltura reads them: one tree built from a JSON, form-encoded or multipart body, the query
//! string and `/key/value` path pairs, with typed accessors that follow PHP's conversions.

use serde_json::{Map, Value as Json};

use super::wire::ApiError;

/// A parameter tree: nested objects whose leaves are JSON scalars (strings from form bodies and the Python
/// client, native values from the Node client).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params(pub Map<String, Json>);

impl Params {
    pub fn from_json_body(body: &[u8]) -> Params {
        match serde_json::from_slice::<Json>(body) {
            Ok(Json::Object(map)) => Params(map),
            _ => Params::default(),
        }
    }

    /// `a=1&partner[name]=x&partner:adminName=y&1:service=partner`: nested keys by `[..]` or `:`.
    pub fn from_form(body: &[u8]) -> Params {
        let mut p = Params::default();
        for (k, v) in form_urlencoded::parse(body) {
            p.insert_path(&k, Json::String(v.into_owned()));
        }
        p
    }

    /// Inserts a leaf under a flat key, creating the objects its path names; a later value wins.
    pub fn insert_path(&mut self, key: &str, value: Json) {
        let segments = split_key(key);
        if segments.is_empty() {
            return;
        }
        let mut map = &mut self.0;
        for seg in &segments[..segments.len() - 1] {
            let entry = map.entry(seg.clone()).or_insert_with(|| Json::Object(Map::new()));
            if !entry.is_object() {
                *entry = Json::Object(Map::new());
            }
            map = entry.as_object_mut().expect("just made an object");
        }
        map.insert(segments[segments.len() - 1].clone(), value);
    }

    /// Lays `other` over `self`, leaf by leaf (URL parameters override body parameters).
    pub fn overlay(&mut self, other: Params) {
        fn merge(into: &mut Map<String, Json>, from: Map<String, Json>) {
            for (k, v) in from {
                match (into.get_mut(&k), v) {
                    (Some(Json::Object(a)), Json::Object(b)) => merge(a, b),
                    (_, v) => {
                        into.insert(k, v);
                    }
                }
            }
        }
        merge(&mut self.0, other.0);
    }

    pub fn raw(&self, name: &str) -> Option<&Json> {
        self.0.get(name)
    }

    /// True when the client marked the property null (`name__null`).
    pub fn is_nulled(&self, name: &str) -> bool {
        self.0.contains_key(&format!("{name}__null"))
    }

    /// A scalar as text; `None` when absent, null or not a scalar.
    pub fn text(&self, name: &str) -> Option<String> {
        if self.is_nulled(name) {
            return None;
        }
        match self.0.get(name)? {
            Json::String(s) => Some(s.clone()),
            Json::Number(n) => Some(n.to_string()),
            Json::Bool(b) => Some(if *b { "1" } else { "0" }.to_string()),
            _ => None,
        }
    }

    /// A scalar as text, with empty strings treated as absent (how filters and optional ints read them).
    pub fn non_empty(&self, name: &str) -> Option<String> {
        self.text(name).filter(|s| !s.trim().is_empty())
    }

    /// An integer the way PHP casts it: leading digits count, anything else is 0; empty is absent.
    pub fn int(&self, name: &str) -> Option<i64> {
        self.non_empty(name).map(|s| php_int(&s))
    }

    pub fn required_int(&self, name: &'static str) -> Result<i64, ApiError> {
        self.int(name).ok_or_else(|| ApiError::new("MISSING_MANDATORY_PARAMETER", &[name]))
    }

    pub fn object(&self, name: &str) -> Option<Params> {
        if self.is_nulled(name) {
            return None;
        }
        match self.0.get(name)? {
            Json::Object(m) => Some(Params(m.clone())),
            _ => None,
        }
    }

    /// Replaces every string leaf through `f` (multirequest result references).
    pub fn map_strings(&mut self, f: &impl Fn(&str) -> String) {
        fn walk(v: &mut Json, f: &impl Fn(&str) -> String) {
            match v {
                Json::String(s) => *s = f(s),
                Json::Object(m) => m.values_mut().for_each(|v| walk(v, f)),
                Json::Array(a) => a.iter_mut().for_each(|v| walk(v, f)),
                _ => {}
            }
        }
        self.0.values_mut().for_each(|v| walk(v, f));
    }
}

/// PHP's `(int)` cast of a string: optional sign and leading digits, saturating; no digits gives 0.
pub fn php_int(s: &str) -> i64 {
    let t = s.trim();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut n: i64 = 0;
    for c in digits.chars().take_while(char::is_ascii_digit) {
        n = n.saturating_mul(10).saturating_add(i64::from(c as u8 - b'0'));
    }
    if neg { -n } else { n }
}

/// `partner[name]` and `partner:name` both name the path `partner` → `name`.
fn split_key(key: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in key.chars() {
        match c {
            ':' | '[' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            ']' => {
                out.push(std::mem::take(&mut cur));
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Parses a request body by its content type. Multipart bodies are handled by the caller, which passes the
/// `json` part here as JSON and the other parts as form fields.
pub fn parse_body(content_type: &str, body: &[u8]) -> Params {
    let ct = content_type.to_ascii_lowercase();
    if ct.starts_with("application/json") || ct.starts_with("text/json") {
        Params::from_json_body(body)
    } else {
        Params::from_form(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn form_keys_nest_by_colon_and_brackets() {
        let p = Params::from_form(
            b"ks=abc&partner%5Bname%5D=Child+A&partner:adminEmail=a%40b.example&1:filter:statusIn=1,2",
        );
        assert_eq!(p.text("ks").as_deref(), Some("abc"));
        let partner = p.object("partner").unwrap();
        assert_eq!(partner.text("name").as_deref(), Some("Child A"));
        assert_eq!(partner.text("adminEmail").as_deref(), Some("a@b.example"));
        let one = p.object("1").unwrap();
        assert_eq!(one.object("filter").unwrap().text("statusIn").as_deref(), Some("1,2"));
    }

    #[test]
    fn scalars_convert_like_php() {
        let p = Params(json!({"a": "5", "b": 7, "c": "x", "e": ""}).as_object().unwrap().clone());
        assert_eq!(p.int("a"), Some(5));
        assert_eq!(p.int("b"), Some(7));
        assert_eq!(p.int("c"), Some(0));
        assert_eq!(p.int("e"), None);
        assert_eq!(php_int("12abc"), 12);
        assert_eq!(php_int("-3"), -3);
        assert_eq!(php_int("99999999999999999999999"), i64::MAX);
    }

    #[test]
    fn null_markers_hide_values() {
        let p = Params(json!({"description": "x", "description__null": ""}).as_object().unwrap().clone());
        assert!(p.is_nulled("description"));
        assert_eq!(p.text("description"), None);
    }

    #[test]
    fn overlay_replaces_leaves_and_keeps_siblings() {
        let mut body = Params::from_form(b"filter[statusIn]=1&filter[nameLike]=a&format=2");
        body.overlay(Params::from_form(b"filter[nameLike]=b&format=1"));
        let f = body.object("filter").unwrap();
        assert_eq!(f.text("statusIn").as_deref(), Some("1"));
        assert_eq!(f.text("nameLike").as_deref(), Some("b"));
        assert_eq!(body.text("format").as_deref(), Some("1"));
    }
}
