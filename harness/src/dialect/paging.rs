//! Offset paging expressed as the contract's cursors: an inbox `cursor` goes
//! out as the offset, and `next_cursor` comes back derived from the offset,
//! the page length and the target's total.

use serde_json::Value;

use super::apply::{DeviationLog, WireRequest};
use super::{Dialect, Paging};

impl Dialect {
    /// Rewrites `cursor=V` of an inbox request to the target's offset parameter
    /// and remembers the offset (0 when no cursor was sent).
    pub(crate) fn map_cursor_to_offset(&self, wire: &mut WireRequest, log: &DeviationLog) {
        if self.paging != Paging::Offset {
            return;
        }
        let (path, query) = wire.path.split_once('?').unwrap_or((&wire.path, ""));
        let mut offset = 0;
        let mut rewritten = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            if name == "cursor" {
                // A cursor the target did not issue goes out as is, for it to reject.
                offset = value.parse().unwrap_or(0);
                rewritten.append_pair(&self.offset_param, &value);
                self.note(log, format!("paging cursor -> {}", self.offset_param));
            } else {
                rewritten.append_pair(&name, &value);
            }
        }
        let query = rewritten.finish();
        wire.path = if query.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{query}")
        };
        wire.offset = Some(offset);
    }

    /// Adds `next_cursor` to an inbox page of an offset-paging target: the next
    /// offset while `offset + events < total`, else null. A page without a
    /// total is taken as the last one.
    pub fn map_inbox_page(
        &self,
        wire: &WireRequest,
        status: u16,
        body: Option<&mut Value>,
        log: &DeviationLog,
    ) {
        let (Some(offset), 200, Some(Value::Object(page))) = (wire.offset, status, body) else {
            return;
        };
        if page.contains_key("next_cursor") {
            return;
        }
        let Some(listed) = page.get("events").and_then(Value::as_array).map(Vec::len) else {
            return;
        };
        let total = page.get(&self.total_field).and_then(Value::as_u64);
        let next = offset + listed as u64;
        let cursor = match total {
            Some(total) if next < total && listed > 0 => Value::String(next.to_string()),
            _ => Value::Null,
        };
        page.insert("next_cursor".to_string(), cursor);
        self.note(
            log,
            format!(
                "paging {} and {} -> next_cursor",
                self.offset_param, self.total_field
            ),
        );
    }
}
