//! Placeholders become typed `$n` outside quotes.

use super::*;

#[test]
fn placeholders_are_numbered_and_typed_outside_quotes() {
    let sql = "SELECT ?, '?', \"a?\", ? WHERE x = ? AND y IN (?, ?) LIMIT ?";
    let params = [
        SqlValue::Integer(1),
        SqlValue::Text("t".into()),
        SqlValue::Real(1.5),
        SqlValue::Blob(vec![1]),
        SqlValue::Null,
        SqlValue::Integer(2),
    ];
    assert_eq!(
        placeholders(sql, &params),
        "SELECT $1::int8, '?', \"a?\", $2::text WHERE x = $3::float8 AND y IN ($4::bytea, $5) LIMIT $6::int8"
    );
    assert_eq!(placeholders("SELECT 'it''s ?'", &[]), "SELECT 'it''s ?'");
    let numbered = [SqlValue::Text("r".into()), SqlValue::Integer(5)];
    assert_eq!(
        placeholders("x = ?1 AND ?2 > 1 OR ?2 = ?1", &numbered),
        "x = $1::text AND $2::int8 > 1 OR $2::int8 = $1::text"
    );
}
