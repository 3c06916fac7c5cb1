//! Test data of every type and object a server flavor has, shared by the tests that carry
//! them through backups and restores (tests/logical.rs, tests/pitr.rs).

use super::TestServer;

/// What MySQL 8/9 has: JSON in its binary storage (every JSON type, a large document, SQL NULL
/// beside JSON null, updates in place), multi-valued and functional indexes, GEOMETRY columns
/// with an SRID, descending and invisible indexes, invisible columns, CHECK constraints
/// (enforced or not), expression defaults, a generated invisible primary key, FULLTEXT with the
/// ngram parser.
pub const MYSQL_TYPES_SQL: &str = r#"
SET NAMES utf8mb4;
SET SESSION sql_mode = '';
SET SESSION time_zone = '+00:00';
USE @DB@;

CREATE TABLE js (id INT PRIMARY KEY, j JSON, jn JSON NULL, tags JSON NOT NULL,
  KEY ktags ((CAST(tags->'$[*]' AS UNSIGNED ARRAY))));
INSERT INTO js VALUES
 (1, '{"a": 1, "b": [true, false, null], "c": {"d": 1.5e300, "e": "ü\\u0000x\\"q\\t", "f": -0.5},
       "big": 18446744073709551615, "neg": -9223372036854775808, "emoji": "😀"}', NULL, '[1, 2, 3]'),
 (2, 'null', 'null', '[]'),
 (3, '"a string"', '{}', '[7]'),
 (4, '[]', '[1, [2, [3, {"deep": true}]]]', '[4, 5]'),
 (5, (SELECT JSON_OBJECTAGG(seq, REPEAT('x', 200)) FROM @SEQ5000@), NULL, '[]');
UPDATE js SET j = JSON_SET(j, '$.a', 2, '$.c.e', 'ö') WHERE id = 1;
UPDATE js SET j = JSON_REPLACE(j, '$."17"', 'y') WHERE id = 5;
UPDATE js SET j = JSON_REMOVE(j, '$."18"') WHERE id = 5;

CREATE TABLE geo (id INT PRIMARY KEY, g GEOMETRY NOT NULL SRID 4326, p POINT SRID 0 NULL,
  SPATIAL KEY sg (g));
INSERT INTO geo VALUES (1, ST_GeomFromText('POINT(45.5 -73.6)', 4326), POINT(1, 2)),
 (2, ST_GeomFromText('POLYGON((0 0, 0 1, 1 1, 1 0, 0 0))', 4326), NULL);

CREATE TABLE expr (id INT PRIMARY KEY, a INT, b VARCHAR(20), h INT INVISIBLE,
  created DATETIME DEFAULT (CAST('2020-01-01 10:00:00' AS DATETIME)),
  uid BINARY(16) DEFAULT (UUID_TO_BIN('3e11fa47-71ca-11e1-9e33-c80aa9429562')),
  KEY kabs ((ABS(a))), KEY kdesc (a DESC, b ASC), KEY kinv (b) INVISIBLE,
  CONSTRAINT pos CHECK (a >= -1000), CONSTRAINT neg CHECK (a < 0) NOT ENFORCED);
INSERT INTO expr (id, a, b, h) VALUES (1, -5, 'x', 9), (2, 7, 'y', NULL);
INSERT INTO expr (id, a, b) VALUES (3, 0, 'z');

SET SESSION sql_generate_invisible_primary_key = ON;
CREATE TABLE gipk (a INT, b VARCHAR(10));
SET SESSION sql_generate_invisible_primary_key = OFF;
INSERT INTO gipk VALUES (1, 'one'), (1, 'one'), (NULL, NULL), (3, 'three');
DELETE FROM gipk WHERE a = 3;

CREATE TABLE ft (id INT PRIMARY KEY, body TEXT, FULLTEXT KEY fb (body) WITH PARSER ngram);
INSERT INTO ft VALUES (1, '数据库备份'), (2, 'backup restore');
"#;

/// MYSQL_TYPES_SQL for database `db` (which must exist) on `server`.
pub fn mysql_types_sql(server: &TestServer, db: &str) -> String {
    let re = regex::Regex::new(r"@SEQ(\d+)@").expect("valid regex");
    let sql = MYSQL_TYPES_SQL.replace("@DB@", &format!("`{db}`"));
    re.replace_all(&sql, |c: &regex::Captures| {
        server.seq(c[1].parse().unwrap())
    })
    .into_owned()
}

/// What MYSQL_TYPES_SQL made in `db`, checked one by one on the target (a checksum says only that
/// something differs).
pub fn assert_mysql_types(source: &TestServer, target: &TestServer, db: &str) {
    let same = |q: &str, what: &str| assert_eq!(source.sql(q), target.sql(q), "{what}: {q}");
    same(
        &format!("SELECT id, j, jn, jn IS NULL, JSON_TYPE(jn), tags FROM {db}.js WHERE id < 5 ORDER BY id"),
        "JSON documents, SQL NULL apart from JSON null",
    );
    same(
        &format!("SELECT id, SHA2(j, 256), JSON_LENGTH(j) FROM {db}.js ORDER BY id"),
        "the large JSON document",
    );
    same(
        &format!("SELECT id FROM {db}.js WHERE 2 MEMBER OF (tags) ORDER BY id"),
        "the multi-valued index answers",
    );
    same(
        &format!("SELECT id, ST_SRID(g), ST_AsText(g), ST_AsText(p) FROM {db}.geo ORDER BY id"),
        "GEOMETRY with its SRID",
    );
    same(
        &format!("SELECT id, a, b, h, created, HEX(uid) FROM {db}.expr ORDER BY id"),
        "invisible column and expression defaults",
    );
    target.sql(&format!("INSERT INTO {db}.expr (id, a) VALUES (10, 1)"));
    assert_eq!(
        target.sql(&format!(
            "SELECT created, HEX(uid) FROM {db}.expr WHERE id = 10"
        )),
        "2020-01-01 10:00:00\t3E11FA4771CA11E19E33C80AA9429562",
        "the expression defaults work on the target"
    );
    assert!(
        target
            .try_sql(&format!("INSERT INTO {db}.expr (id, a) VALUES (11, -5000)"))
            .is_err(),
        "the CHECK constraint is enforced"
    );
    target.sql(&format!("INSERT INTO {db}.expr (id, a) VALUES (12, 5)")); // `neg` is NOT ENFORCED
    same(
        &format!("SELECT my_row_id, a, b FROM {db}.gipk ORDER BY my_row_id"),
        "the generated invisible primary key and its values",
    );
    same(
        &format!("SELECT id FROM {db}.ft WHERE MATCH(body) AGAINST ('据库') ORDER BY id"),
        "the ngram FULLTEXT index",
    );
}
