//! The operator's import (`POST /admin/accounts/{id}/contacts|agents|interactions`): a JSON array
//! of records in the bridge's own shapes, or CSV as partners export it (one header row; lists
//! separated by `;`). Every record is checked before anything is stored, so a bad file changes
//! nothing; then records are upserted by external id, and one with `deleted: true` (CSV column
//! `deleted` = `true`) becomes a tombstone.

use serde_json::{Map, Value};

use super::model::{self, field_error, FieldError};
use crate::ports::{Database, PortError};
use crate::store::bridge::{BridgeStore, ImportRow, Kind, IMPORT_CHUNK};

/// Most records per import request: keeps one request within D1's queries per invocation
/// (`MAX_RECORDS / IMPORT_CHUNK` statements). Larger sets are imported in several requests.
pub const MAX_RECORDS: usize = 5_000;
/// Largest import body.
pub const MAX_IMPORT_BYTES: usize = 4 * 1024 * 1024;

const LIST_COLUMNS: &[&str] = &["emails", "phones", "websites"];

fn columns(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Contacts => &[
            "id",
            "name",
            "company",
            "title",
            "emails",
            "phones",
            "photo_url",
            "address",
            "websites",
            "url",
            "deleted",
        ],
        Kind::Agents => &["id", "name", "email", "deleted"],
        Kind::Interactions => &[
            "id",
            "contact_external_id",
            "subject",
            "description",
            "date",
            "url",
            "type",
            "priority",
            "status",
            "deleted",
        ],
    }
}

/// Parses CSV (RFC 4180: quoted fields, doubled quotes, CRLF or LF) into rows of fields.
pub fn csv_rows(text: &str) -> Result<Vec<Vec<String>>, FieldError> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            // A line break inside a quoted field is kept as `\n`, whichever the file used.
            (true, '\r') if chars.peek() == Some(&'\n') => {}
            (true, c) => {
                if c == '\n' {
                    line += 1;
                }
                field.push(c)
            }
            (false, '"') if field.is_empty() => quoted = true,
            (false, '"') => {
                return field_error(format!("line {line}"), "a quote inside an unquoted field")
            }
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                line += 1;
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return field_error(format!("line {line}"), "a quoted field is not closed");
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    Ok(rows)
}

/// CSV as JSON records, so both formats meet the same checks.
fn csv_records(kind: Kind, text: &str) -> Result<Vec<Value>, FieldError> {
    // Spreadsheets write a byte-order mark first.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rows = csv_rows(text)?.into_iter();
    let header = rows.next().ok_or(FieldError {
        path: "line 1".into(),
        problem: "the header row is missing".into(),
    })?;
    let known = columns(kind);
    for name in &header {
        if !known.contains(&name.trim()) {
            return field_error(
                "line 1",
                format!(
                    "unknown column {}; expected some of {}",
                    crate::json::quoted(&name.chars().take(40).collect::<String>()),
                    crate::json::quoted_list(known)
                ),
            );
        }
    }
    // Loops rather than collects into a Result: each such collect is an adapter of its own.
    let mut records = Vec::new();
    for (i, r) in rows.enumerate() {
        if r.len() == 1 && r[0].trim().is_empty() {
            continue;
        }
        records.push({
            if r.len() != header.len() {
                return field_error(
                    format!("line {}", i + 2),
                    format!("has {} fields, the header {}", r.len(), header.len()),
                );
            }
            let mut o = Map::new();
            for (name, value) in header.iter().zip(r) {
                let name = name.trim();
                let v = if value.is_empty() {
                    Value::Null
                } else if name == "deleted" {
                    match value.trim().to_ascii_lowercase().as_str() {
                        "true" | "1" | "yes" => Value::Bool(true),
                        "false" | "0" | "no" => Value::Bool(false),
                        _ => {
                            return field_error(
                                format!("line {}", i + 2),
                                "deleted must be true or false",
                            )
                        }
                    }
                } else if LIST_COLUMNS.contains(&name) {
                    Value::Array(
                        value
                            .split(';')
                            .map(|s| Value::String(s.trim().to_owned()))
                            .collect(),
                    )
                } else {
                    Value::String(value)
                };
                o.insert(name.to_owned(), v);
            }
            Value::Object(o)
        });
    }
    Ok(records)
}

/// The records of an import body, by its media type.
pub fn records(
    kind: Kind,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Vec<Value>, FieldError> {
    let media = content_type
        .and_then(|c| c.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let text = std::str::from_utf8(body).map_err(|_| FieldError {
        path: "$".into(),
        problem: "is not UTF-8".into(),
    })?;
    let records = match media.as_str() {
        "application/json" => match crate::json::parse(text) {
            Ok(Value::Array(items)) => items,
            Ok(_) => return field_error("$", "must be a JSON array of records"),
            Err(_) => return field_error("$", "is not valid JSON"),
        },
        "text/csv" => csv_records(kind, text)?,
        _ => return field_error("content-type", "must be application/json or text/csv"),
    };
    if records.len() > MAX_RECORDS {
        return field_error(
            "$",
            format!("has more than {MAX_RECORDS} records: import in parts"),
        );
    }
    Ok(records)
}

/// Checks every record and turns it into a stored row.
pub fn rows(
    kind: Kind,
    records: &[Value],
    default_cc: &str,
    types: &[String],
) -> Result<Vec<ImportRow>, FieldError> {
    let mut out = Vec::with_capacity(records.len());
    for (i, v) in records.iter().enumerate() {
        out.push({
            let path = format!("$[{i}]");
            let row = |id: String, record: String, deleted: bool| ImportRow {
                id,
                record,
                emails: "[]".into(),
                phones: "[]".into(),
                contact: String::new(),
                occurred_at: String::new(),
                kind: String::new(),
                deleted: i64::from(deleted),
            };
            match kind {
                Kind::Contacts => {
                    let (c, deleted) = model::contact(v, &path, default_cc)?;
                    let record = if deleted {
                        "{}".into()
                    } else {
                        serde_json::to_string(&c).expect("serialises")
                    };
                    ImportRow {
                        emails: serde_json::to_string(&c.emails).expect("serialises"),
                        phones: serde_json::to_string(&c.phones).expect("serialises"),
                        ..row(c.id.clone(), record, deleted)
                    }
                }
                Kind::Agents => {
                    let (a, deleted) = model::agent(v, &path)?;
                    let record = if deleted {
                        "{}".into()
                    } else {
                        serde_json::to_string(&a).expect("serialises")
                    };
                    row(a.id.clone(), record, deleted)
                }
                Kind::Interactions => {
                    let (it, contact, deleted) = model::interaction(v, &path, types)?;
                    let record = if deleted {
                        "{}".into()
                    } else {
                        serde_json::to_string(&it).expect("serialises")
                    };
                    ImportRow {
                        contact,
                        // Sorted as text in time order, whatever offset the date was written in.
                        occurred_at: model::rfc3339_ms(&it.date)
                            .map(model::sortable_utc)
                            .unwrap_or_default(),
                        kind: it.kind.clone(),
                        ..row(it.id.clone(), record, deleted)
                    }
                }
            }
        });
    }
    Ok(out)
}

/// Largest JSON text bound as one chunk: well under D1's 2 MB limit for a string value.
pub const MAX_CHUNK_BYTES: usize = 512 * 1024;

/// Splits rows into chunks of at most [`IMPORT_CHUNK`] records and [`MAX_CHUNK_BYTES`].
pub fn chunks(rows: &[ImportRow]) -> Vec<&[ImportRow]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, r) in rows.iter().enumerate() {
        let size = r.record.len() + r.emails.len() + r.phones.len() + r.id.len() + 128;
        if i > start && (i - start == IMPORT_CHUNK || bytes + size > MAX_CHUNK_BYTES) {
            out.push(&rows[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < rows.len() {
        out.push(&rows[start..]);
    }
    out
}

/// Stores checked rows, all chunks in one transaction: an import lands whole or not at all.
/// Returns how many records changed.
pub async fn store<D: Database>(
    store: &BridgeStore<'_, D>,
    kind: Kind,
    account_id: &str,
    rows: &[ImportRow],
) -> Result<u64, PortError> {
    let (_, before) = store
        .changed_since(kind, account_id, u64::MAX >> 12)
        .await?;
    store.import_all(kind, account_id, &chunks(rows)).await?;
    let (changed, _) = store.changed_since(kind, account_id, before).await?;
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_reads_quotes_commas_and_new_lines() {
        let rows = csv_rows("id,name\r\nc1,\"Doe, \"\"Jo\"\"\"\nc2,\"two\nlines\"\n").unwrap();
        assert_eq!(
            rows,
            vec![
                vec!["id".to_owned(), "name".into()],
                vec!["c1".into(), "Doe, \"Jo\"".into()],
                vec!["c2".into(), "two\nlines".into()],
            ]
        );
        assert!(csv_rows("a,\"b").is_err());
        assert_eq!(
            csv_rows("a\n\"x\r\ny\"\n").unwrap()[1],
            vec!["x\ny".to_owned()]
        );
        assert!(csv_rows("a,b\"c\n").is_err());
    }

    #[test]
    fn csv_contacts_meet_the_same_checks_as_json() {
        let csv =
            "id,name,emails,phones,deleted\nc1,Ann,ANN@X.COM;b@x.com,(415) 555-0100,\nc2,,,,true\n";
        let parsed = records(Kind::Contacts, Some("text/csv"), csv.as_bytes()).unwrap();
        let stored = rows(Kind::Contacts, &parsed, "1", &[]).unwrap();
        assert_eq!(stored[0].emails, r#"["ann@x.com","b@x.com"]"#);
        assert_eq!(stored[0].phones, r#"["+14155550100"]"#);
        assert_eq!((stored[1].id.as_str(), stored[1].deleted), ("c2", 1));
        let bad = "id,name,phones\nc1,Ann,not a phone\n";
        let parsed = records(Kind::Contacts, Some("text/csv"), bad.as_bytes()).unwrap();
        assert_eq!(
            rows(Kind::Contacts, &parsed, "1", &[]).unwrap_err().path,
            "$[0].phones[0]"
        );
        assert_eq!(records_err(Kind::Agents, "id,nickname\n"), "line 1");
    }

    #[test]
    fn a_spreadsheet_bom_is_ignored_and_deleted_is_read_strictly() {
        let csv = "\u{feff}id,name,email,deleted\na1,Ann,a@x.com,yes\n";
        let parsed = records(Kind::Agents, Some("text/csv"), csv.as_bytes()).unwrap();
        assert_eq!(parsed[0]["deleted"], serde_json::json!(true));
        assert_eq!(
            records_err(Kind::Agents, "id,deleted\na1,maybe\n"),
            "line 2"
        );
    }

    fn records_err(kind: Kind, csv: &str) -> String {
        records(kind, Some("text/csv"), csv.as_bytes())
            .unwrap_err()
            .path
    }

    #[test]
    fn an_import_must_be_json_or_csv_and_not_too_large() {
        assert_eq!(
            records(Kind::Agents, Some("text/plain"), b"[]")
                .unwrap_err()
                .path,
            "content-type"
        );
        assert_eq!(
            records(Kind::Agents, Some("application/json"), b"{}")
                .unwrap_err()
                .path,
            "$"
        );
        let many = format!("[{}]", vec!["{}"; MAX_RECORDS + 1].join(","));
        assert!(records(Kind::Agents, Some("application/json"), many.as_bytes()).is_err());
    }
}
