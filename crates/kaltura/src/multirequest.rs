//! Several calls in one HTTP request (`service=multirequest`), with references from one call to the result of an
//! earlier one (`{N:result:path}`), and per-call results.

use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::fmt;

use super::action::Action;
use super::error::{KalturaError, shape, value};

/// Calls to send together, run by Kaltura in the order added.
#[derive(Default)]
pub struct MultiRequest {
    calls: Vec<(Action, Map<String, Value>)>,
}

/// The place of a call in its multirequest (1-based, as Kaltura counts for references).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResultRef(usize);

impl ResultRef {
    pub fn number(self) -> usize {
        self.0
    }

    /// A parameter value Kaltura replaces with the whole result of this call (for a call returning a scalar).
    pub fn value(self) -> String {
        format!("{{{}:result}}", self.0)
    }

    /// A parameter value Kaltura replaces with a property of this call's result: `"id"`, `"objects:0:id"`. If the
    /// call failed the value becomes `""` and the dependent call still runs.
    pub fn field(self, path: &str) -> String {
        format!("{{{}:result:{path}}}", self.0)
    }
}

impl MultiRequest {
    pub fn new() -> MultiRequest {
        MultiRequest::default()
    }

    /// Adds a call; `params` is a JSON object of its arguments (or `null` for none).
    ///
    /// Panics if `params` is another kind of value: that is a mistake in the calling code.
    pub fn add(&mut self, action: Action, params: Value) -> ResultRef {
        let params = match params {
            Value::Object(m) => m,
            Value::Null => Map::new(),
            other => panic!("multirequest arguments must be a JSON object, not {other}"),
        };
        self.calls.push((action, params));
        ResultRef(self.calls.len())
    }

    /// Adds a call sent with the KS another call of this request returns (session.impersonate's): Kaltura puts the
    /// KS in place itself, so the caller never has to hold or send it.
    pub fn add_as(&mut self, action: Action, params: Value, session: ResultRef) -> ResultRef {
        let r = self.add(action, params);
        self.calls[r.0 - 1].1.insert("ks".into(), Value::String(session.value()));
        r
    }

    pub fn len(&self) -> usize {
        self.calls.len()
    }

    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// Whether sending it twice is harmless: every call in it is.
    pub(crate) fn is_repeatable(&self) -> bool {
        self.calls.iter().all(|(action, _)| action.is_repeatable())
    }

    /// `"service.action,…"` for logs.
    pub(crate) fn names(&self) -> String {
        self.calls.iter().map(|(action, _)| action.to_string()).collect::<Vec<_>>().join(",")
    }

    /// The request body without the top-level `ks`/`format`: sub-requests under keys "1", "2", ….
    pub(crate) fn to_wire(&self) -> Map<String, Value> {
        let mut body = Map::new();
        for (i, (action, params)) in self.calls.iter().enumerate() {
            let mut sub = params.clone();
            sub.insert("service".into(), Value::String(action.service().into()));
            sub.insert("action".into(), Value::String(action.name().into()));
            body.insert((i + 1).to_string(), Value::Object(sub));
        }
        body
    }
}

/// Arguments are left out: they may hold secrets (session.impersonate takes the admin secret).
impl fmt::Debug for MultiRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MultiRequest").field("calls", &self.names()).finish()
    }
}

/// One result per call: the JSON result as Kaltura wrote it (read into a type only when asked for), or the API
/// error Kaltura gave that call alone.
pub struct MultiResponse {
    items: Vec<Result<Box<RawValue>, KalturaError>>,
}

impl MultiResponse {
    pub(crate) fn from_raw(items: Vec<Box<RawValue>>) -> MultiResponse {
        MultiResponse {
            items: items.into_iter().map(|raw| KalturaError::from_raw(&raw).map_or(Ok(raw), Err)).collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn raw(&self, r: ResultRef) -> Result<&RawValue, KalturaError> {
        match self.items.get(r.0 - 1) {
            Some(Ok(raw)) => Ok(raw),
            Some(Err(e)) => Err(e.clone()),
            None => Err(KalturaError::BadResponse(format!("the multirequest answer has no result {}", r.0))),
        }
    }

    /// The result of a call as a JSON value, or its error.
    pub fn item(&self, r: ResultRef) -> Result<Value, KalturaError> {
        self.raw(r).map(value)
    }

    /// The result of a call read as `T`, or its error.
    pub fn get<T: DeserializeOwned>(&self, r: ResultRef) -> Result<T, KalturaError> {
        let raw = self.raw(r)?;
        // The serde message is left out: it may quote the value, and values may be secret.
        serde_json::from_str(raw.get()).map_err(|_| {
            KalturaError::BadResponse(format!(
                "result {} of the multirequest is {}, which does not read as expected",
                r.0,
                shape(&value(raw))
            ))
        })
    }

    /// Whether Kaltura refused the session for any call.
    pub(crate) fn has_invalid_ks(&self) -> bool {
        self.items.iter().any(|i| i.as_ref().is_err_and(KalturaError::is_invalid_ks))
    }
}

/// Results are left out: they may hold secrets (admin secrets, a KS).
impl fmt::Debug for MultiResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let summary: Vec<&str> =
            self.items.iter().map(|i| i.as_ref().map_or_else(|e| e.code().unwrap_or("error"), |_| "ok")).collect();
        f.debug_struct("MultiResponse").field("items", &summary).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn calls_are_numbered_from_one_and_references_use_those_numbers() {
        let mut mr = MultiRequest::new();
        let get = mr.add(Action::PARTNER_GET, json!({"id": 6475}));
        let imp = mr.add(Action::SESSION_IMPERSONATE, json!({"userId": get.field("adminUserId"), "secret": "s"}));
        assert_eq!((get.number(), imp.number(), mr.len()), (1, 2, 2));
        assert_eq!(get.value(), "{1:result}");
        let body = Value::Object(mr.to_wire());
        assert_eq!(body["1"], json!({"id": 6475, "service": "partner", "action": "get"}));
        assert_eq!(body["2"]["userId"], "{1:result:adminUserId}");
        assert!(!format!("{mr:?}").contains("\"s\""), "{mr:?}");
        assert!(mr.is_repeatable());
        mr.add(Action::PARTNER_REGISTER, Value::Null);
        assert!(!mr.is_repeatable());
    }

    #[test]
    fn each_result_is_its_own_success_or_error() {
        let answer = json!([
            {"objectType": "KalturaPartner", "id": 6475, "description": "a \"code\" in a string"},
            {
                "code": "INVALID_PARTNER_ID", "message": "Invalid partner id \"7001\"",
                "objectType": "KalturaAPIException", "args": {"PID": "7001"},
            },
        ]);
        let r = MultiResponse::from_raw(serde_json::from_str(&answer.to_string()).unwrap());
        let id: serde_json::Map<String, Value> = r.get(ResultRef(1)).expect("the first result");
        assert_eq!(id["id"], 6475);
        let e = r.item(ResultRef(2)).expect_err("the second failed");
        assert_eq!(e.code(), Some("INVALID_PARTNER_ID"));
        assert!(matches!(r.item(ResultRef(3)), Err(KalturaError::BadResponse(_))));
        assert!(!r.has_invalid_ks());
        assert_eq!(format!("{r:?}"), "MultiResponse { items: [\"ok\", \"INVALID_PARTNER_ID\"] }");
    }
}
