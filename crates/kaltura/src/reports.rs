//! Kaltura's analytics: the questions report.getTable / getTotal / getGraphs ask, and their answers as Kaltura
//! writes them (columns joined by the response delimiter, rows ended by `;`). Also the permission a client tests by
//! name to know whether the partner has multi-account analytics.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::types::{ListResponse, Pager, lenient};

/// Columns are split on this; Kaltura always splits rows on `;`. Names with commas are common, pipes are not.
pub(crate) const REPORT_DELIMITER: &str = "|";

/// The permission that grants cross-account analytics (kaltura/server's PermissionName). The server does not gate
/// reports on it: clients test it by name, as Kaltura's analytics app does.
pub const FEATURE_MULTI_ACCOUNT_ANALYTICS: &str = "FEATURE_MULTI_ACCOUNT_ANALYTICS";

/// KalturaReportInterval, the buckets of a trend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportInterval {
    Days,
    Months,
}

impl ReportInterval {
    pub const fn wire_name(self) -> &'static str {
        match self {
            ReportInterval::Days => "days",
            ReportInterval::Months => "months",
        }
    }
}

/// The question a report call asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportQuery {
    /// KalturaReportType: 42 (a row per partner), 20021 (the parent and children summed per period), …
    pub report_type: i64,
    /// Unix seconds.
    pub from_date: i64,
    pub to_date: i64,
    /// Partner ids to narrow to (the parent and its own children only; Kaltura drops others silently). Sent
    /// joined by the response delimiter, which is what the server splits them on.
    pub object_ids: Vec<i64>,
    /// Buckets for graphs and per-period tables; Kaltura's default is days.
    pub interval: Option<ReportInterval>,
}

impl ReportQuery {
    fn params(&self) -> Map<String, Value> {
        let mut filter = json!({
            "objectType": "KalturaReportInputFilter",
            "fromDate": self.from_date,
            "toDate": self.to_date,
            "timeZoneOffset": 0,
        });
        if let Some(interval) = self.interval {
            filter["interval"] = json!(interval.wire_name());
        }
        let mut m = Map::new();
        m.insert("reportType".into(), json!(self.report_type));
        m.insert("reportInputFilter".into(), filter);
        m.insert(
            "responseOptions".into(),
            json!({ "objectType": "KalturaReportResponseOptions", "delimiter": REPORT_DELIMITER }),
        );
        if !self.object_ids.is_empty() {
            let ids: Vec<String> = self.object_ids.iter().map(i64::to_string).collect();
            m.insert("objectIds".into(), json!(ids.join(REPORT_DELIMITER)));
        }
        m
    }

    /// report.getTotal's arguments.
    pub fn for_total(&self) -> Value {
        Value::Object(self.params())
    }

    /// report.getGraphs' arguments.
    pub fn for_graphs(&self) -> Value {
        Value::Object(self.params())
    }

    /// report.getTable's arguments: a page, ordered by one column (`-bandwidth_consumption`) if given.
    pub fn for_table(&self, pager: &Pager, order: Option<&str>) -> Value {
        let mut m = self.params();
        m.insert("pager".into(), pager.to_wire());
        if let Some(order) = order {
            m.insert("order".into(), json!(order));
        }
        Value::Object(m)
    }
}

/// KalturaReportTable: `header` split on the delimiter, `data` into rows on `;` and each row on the delimiter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportTable {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub total_count: i64,
}

impl ReportTable {
    /// Reads an answer of the console's queries (which ask for [`REPORT_DELIMITER`]).
    pub fn read(v: &Value) -> ReportTable {
        let rows: Vec<Vec<String>> =
            text_field(v, "data").split(';').filter(|r| !r.is_empty()).map(|r| split(r, REPORT_DELIMITER)).collect();
        let total_count = v.get("totalCount").and_then(lenient::as_int).unwrap_or(rows.len() as i64);
        ReportTable { header: split(&text_field(v, "header"), REPORT_DELIMITER), rows, total_count }
    }

    /// Where each column is, by header name.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }
}

/// KalturaReportTotal: one value per header column (empty when there is no data).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportTotal {
    pub header: Vec<String>,
    pub values: Vec<String>,
}

impl ReportTotal {
    pub fn read(v: &Value) -> ReportTotal {
        ReportTotal {
            header: split(&text_field(v, "header"), REPORT_DELIMITER),
            values: split(&text_field(v, "data"), REPORT_DELIMITER),
        }
    }

    /// The value of a column, by header name.
    pub fn get(&self, column: &str) -> Option<&str> {
        self.header.iter().position(|h| h == column).and_then(|i| self.values.get(i)).map(String::as_str)
    }

    /// No data, or only zeros.
    pub fn is_empty(&self) -> bool {
        self.values.iter().all(|v| v.trim().is_empty() || v.trim().parse::<f64>().is_ok_and(|n| n == 0.0))
    }
}

/// One KalturaReportGraph: a metric's value per bucket (`20240101`, `202401`), in Kaltura's order (ascending).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportGraph {
    pub id: String,
    pub points: Vec<(String, f64)>,
}

impl ReportGraph {
    /// Reads report.getGraphs' answer (an array); what does not read as a graph is left out.
    pub fn read_all(v: &Value) -> Vec<ReportGraph> {
        let Some(items) = v.as_array() else { return Vec::new() };
        items
            .iter()
            .filter_map(|g| {
                let id = text_field(g, "id");
                let points = text_field(g, "data")
                    .split(';')
                    .filter_map(|p| p.split_once(REPORT_DELIMITER))
                    .map(|(k, v)| (k.to_string(), v.trim().parse::<f64>().unwrap_or(0.0)))
                    .collect();
                (!id.is_empty()).then_some(ReportGraph { id, points })
            })
            .collect()
    }
}

/// KalturaPermission, what a client reads to know what the partner may do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Permission {
    #[serde(deserialize_with = "lenient::string")]
    pub name: Option<String>,
    /// KalturaPermissionStatus: 1 active, 2 blocked, 3 deleted.
    #[serde(deserialize_with = "lenient::int")]
    pub status: Option<i64>,
}

impl Permission {
    /// permission.list's arguments asking for the active permission `name`.
    pub fn query(name: &str) -> Value {
        json!({
            "filter": { "objectType": "KalturaPermissionFilter", "nameEqual": name, "statusEqual": 1 },
            "pager": Pager::new(1, 1).to_wire(),
        })
    }

    pub fn is_active(&self) -> bool {
        self.status == Some(1)
    }

    /// Whether a permission.list answer grants `name`: listed by that exact name, and active.
    pub fn granted_in(list: &ListResponse<Permission>, name: &str) -> bool {
        list.objects.iter().any(|p| p.name.as_deref() == Some(name) && p.is_active())
    }
}

fn text_field(v: &Value, name: &str) -> String {
    v.get(name).and_then(lenient::as_string).unwrap_or_default()
}

fn split(s: &str, delimiter: &str) -> Vec<String> {
    if s.is_empty() { Vec::new() } else { s.split(delimiter).map(str::to_string).collect() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_tables_split_columns_on_the_delimiter_and_rows_on_semicolons() {
        let t = ReportTable::read(&json!({"header": "a|b", "data": "1|Acme, Inc;2|x;", "totalCount": "7"}));
        assert_eq!(t.header, ["a", "b"]);
        assert_eq!(t.rows, [vec!["1", "Acme, Inc"], vec!["2", "x"]]);
        assert_eq!(t.total_count, 7);
        assert_eq!(t.column("b"), Some(1));
        let empty = ReportTable::read(&json!({"objectType": "KalturaReportTable"}));
        assert!(empty.header.is_empty() && empty.rows.is_empty() && empty.total_count == 0);
        let total = ReportTotal::read(&json!({"header": "total_plays|total_views", "data": "10|0"}));
        assert_eq!(total.get("total_views"), Some("0"));
        assert!(!total.is_empty());
        assert!(ReportTotal::read(&json!({"header": "total_plays", "data": ""})).is_empty());
    }

    #[test]
    fn graphs_read_as_points_in_order() {
        let graphs = ReportGraph::read_all(&json!([
            {"objectType": "KalturaReportGraph", "id": "bandwidth_consumption", "data": "202401|1.5;202402|2;"},
            {"objectType": "KalturaReportGraph", "id": "", "data": ""},
            "garbage"
        ]));
        assert_eq!(graphs.len(), 1);
        assert_eq!(graphs[0].points, [("202401".to_string(), 1.5), ("202402".to_string(), 2.0)]);
    }

    #[test]
    fn queries_send_the_interval_the_range_and_the_delimiter() {
        let q = ReportQuery {
            report_type: 20021,
            from_date: 10,
            to_date: 20,
            object_ids: vec![6475, 6474],
            interval: Some(ReportInterval::Months),
        };
        let table = q.for_table(&Pager::new(500, 2), Some("-bandwidth_consumption"));
        assert_eq!(table["reportInputFilter"]["interval"], "months");
        assert_eq!(table["responseOptions"]["delimiter"], "|");
        assert_eq!(table["order"], "-bandwidth_consumption");
        assert_eq!(table["pager"]["pageIndex"], 2);
        assert_eq!(q.for_total()["objectIds"], "6475|6474", "split by Kaltura on the delimiter");
    }
}
