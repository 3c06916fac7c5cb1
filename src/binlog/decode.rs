//! Decoding the bodies of the events zrm needs: queries, GTIDs (MySQL and MariaDB), rotation,
//! XIDs, annotations, checkpoints, and MariaDB's compressed events. Other events are passed
//! over by their size.

use std::io::Read;

use super::bytes::{be_uint, Cursor, Short};
use super::event::{code, FormatDescription};

/// What an event says, as far as zrm cares.
#[derive(Debug, Clone, PartialEq)]
pub enum EventData {
    Rotate {
        position: u64,
        next_file: String,
    },
    Query(Query),
    Xid(u64),
    /// MySQL GTID (`uuid:gno`) or anonymous GTID.
    MysqlGtid {
        gtid: Option<String>,
        last_committed: Option<i64>,
    },
    PreviousGtids(String),
    MariaGtid(MariaGtid),
    GtidList(Vec<MariaGtid>),
    Annotate(String),
    BinlogCheckpoint(String),
    /// MariaDB XA PREPARE: ends the binlog group of a prepared XA transaction.
    XaPrepare(String),
    Stop,
    /// Anything else (including table maps and rows, decoded in `rows`).
    Other,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub database: String,
    pub statement: String,
    pub error_code: u16,
    pub exec_time: u32,
}

/// A MariaDB GTID: domain-server-sequence, plus the event flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MariaGtid {
    pub domain: u32,
    pub server_id: u32,
    pub seq: u64,
    /// FL_STANDALONE: a single statement outside BEGIN…COMMIT (DDL).
    pub standalone: bool,
}

impl std::fmt::Display for MariaGtid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}-{}", self.domain, self.server_id, self.seq)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl From<Short> for DecodeError {
    fn from(s: Short) -> Self {
        DecodeError(s.to_string())
    }
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// MariaDB compression of event parts: one header byte (0x80 | algorithm << 4 | length bytes),
/// the uncompressed length big-endian, then zlib data.
pub fn uncompress_mariadb(src: &[u8]) -> Result<Vec<u8>, String> {
    let first = *src.first().ok_or("empty compressed data")?;
    if first & 0x80 == 0 {
        return Err(format!("bad compression header byte {first:#04x}"));
    }
    let alg = (first & 0x70) >> 4;
    if alg != 0 {
        return Err(format!("unknown compression algorithm {alg}"));
    }
    let lenlen = usize::from(first & 0x07);
    if lenlen == 0 || lenlen > 4 || src.len() < 1 + lenlen {
        return Err("bad compressed length".into());
    }
    let len = be_uint(&src[1..1 + lenlen]) as usize;
    if len > 1 << 30 {
        return Err(format!("compressed event claims {len} bytes uncompressed"));
    }
    let mut out = Vec::with_capacity(len.min(16 << 20));
    flate2::read::ZlibDecoder::new(&src[1 + lenlen..])
        .take(len as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("zlib: {e}"))?;
    if out.len() != len {
        return Err(format!(
            "uncompressed {} bytes, header says {len}",
            out.len()
        ));
    }
    Ok(out)
}

/// An unsigned integer of MySQL's serialization library (GTID_TAGGED_LOG_EVENT, tagged
/// Previous_gtids): the count of trailing one bits of the first byte says how many more bytes
/// follow (0xff: 8 raw bytes).
fn varlen_uint(c: &mut Cursor, what: &'static str) -> Result<u64, crate::binlog::bytes::Short> {
    let first = c.rest().first().copied().unwrap_or(0);
    let ones = first.trailing_ones() as usize;
    if ones == 8 {
        c.take(1, what)?;
        return Ok(crate::binlog::bytes::le_uint(c.take(8, what)?));
    }
    let bytes = c.take(ones + 1, what)?;
    Ok(crate::binlog::bytes::le_uint(bytes) >> (ones + 1))
}

/// A signed integer of the serialization library (zigzag: the low bit is the sign).
fn varlen_int(c: &mut Cursor, what: &'static str) -> Result<i64, crate::binlog::bytes::Short> {
    let u = varlen_uint(c, what)?;
    Ok(if u & 1 == 0 {
        (u >> 1) as i64
    } else {
        -((u >> 1) as i64) - 1
    })
}

/// GTID_TAGGED_LOG_EVENT (MySQL 8.3+): a version byte, the payload size, the last
/// non-ignorable field id, then (field id, value) pairs in id order: flags (0), UUID (1, 16
/// varlen bytes), number (2), tag (3), last committed (4), …; the later fields are not needed.
fn tagged_gtid(c: &mut Cursor) -> Result<EventData, DecodeError> {
    c.skip(1, "serialization version")?;
    varlen_uint(c, "payload size")?;
    varlen_uint(c, "last non-ignorable field")?;
    let (mut sid, mut gno, mut tag, mut last_committed) = (Vec::new(), 0i64, String::new(), None);
    while c.remaining() > 0 {
        match varlen_uint(c, "field id")? {
            0 => {
                varlen_uint(c, "gtid flags")?;
            }
            1 => {
                sid = (0..16)
                    .map(|_| varlen_uint(c, "gtid uuid").map(|b| b as u8))
                    .collect::<Result<_, _>>()?;
            }
            2 => gno = varlen_int(c, "gtid number")?,
            3 => {
                let len = varlen_uint(c, "tag length")? as usize;
                tag = String::from_utf8_lossy(c.take(len, "tag")?).into_owned();
            }
            4 => {
                last_committed = Some(varlen_int(c, "last committed")?);
                break;
            }
            _ => break,
        }
    }
    if sid.len() != 16 {
        return Err(DecodeError::from(crate::binlog::bytes::Short {
            what: "gtid uuid",
            need: 16,
            have: sid.len(),
        }));
    }
    Ok(EventData::MysqlGtid {
        gtid: Some(if tag.is_empty() {
            format!("{}:{gno}", uuid_text(&sid))
        } else {
            format!("{}:{tag}:{gno}", uuid_text(&sid))
        }),
        last_committed,
    })
}

fn uuid_text(b: &[u8]) -> String {
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// QUERY, QUERY_COMPRESSED and EXECUTE_LOAD_QUERY share a layout; the latter has 13 more
/// post-header bytes (file id, file name offsets, duplicate handling), skipped here.
fn query(body: &[u8], fde: &FormatDescription, type_code: u8) -> Result<Query, DecodeError> {
    let compressed = type_code == code::QUERY_COMPRESSED;
    let default_post = if type_code == code::EXECUTE_LOAD_QUERY {
        26
    } else {
        13
    };
    let mut c = Cursor::new(body);
    let post = fde.post_header(type_code, default_post);
    let mut p = Cursor::new(c.take(post, "query post-header")?);
    p.skip(4, "thread id")?;
    let exec_time = p.u32("exec time")?;
    let db_len = p.u8("database length")? as usize;
    let error_code = p.u16("error code")?;
    let status_len = if post >= 13 {
        p.u16("status variables length")? as usize
    } else {
        0
    };
    c.skip(status_len, "status variables")?;
    let database = String::from_utf8_lossy(c.take(db_len, "database name")?).into_owned();
    c.skip(1, "database name terminator")?;
    let statement = if compressed {
        String::from_utf8_lossy(&uncompress_mariadb(c.rest()).map_err(DecodeError)?).into_owned()
    } else {
        String::from_utf8_lossy(c.rest()).into_owned()
    };
    Ok(Query {
        database,
        statement,
        error_code,
        exec_time,
    })
}

/// Decode an event body (checksum already removed).
pub fn decode(
    type_code: u8,
    server_id: u32,
    body: &[u8],
    fde: &FormatDescription,
) -> Result<EventData, DecodeError> {
    let mut c = Cursor::new(body);
    Ok(match type_code {
        code::ROTATE => {
            let position = c.u64("rotate position")?;
            EventData::Rotate {
                position,
                next_file: String::from_utf8_lossy(c.rest()).into_owned(),
            }
        }
        code::QUERY | code::QUERY_COMPRESSED | code::EXECUTE_LOAD_QUERY => {
            EventData::Query(query(body, fde, type_code)?)
        }
        code::XA_PREPARE => {
            let one_phase = c.u8("xa one phase")? != 0;
            let format_id = c.u32("xa format id")?;
            let gtrid_len = c.u32("xa gtrid length")? as usize;
            let bqual_len = c.u32("xa bqual length")? as usize;
            let gtrid = c.take(gtrid_len, "xa gtrid")?;
            let bqual = c.take(bqual_len, "xa bqual")?;
            EventData::XaPrepare(format!(
                "XA {} X'{}',X'{}',{format_id}",
                if one_phase { "COMMIT" } else { "PREPARE" },
                hex::encode(gtrid),
                hex::encode(bqual)
            ))
        }
        code::XID => EventData::Xid(c.u64("xid")?),
        code::GTID | code::ANONYMOUS_GTID => {
            c.skip(1, "gtid flags")?;
            let sid = c.take(16, "gtid uuid")?;
            let gno = c.u64("gtid number")?;
            let last_committed = if c.remaining() >= 17 && c.u8("logical clock type")? == 2 {
                Some(c.u64("last committed")? as i64)
            } else {
                None
            };
            EventData::MysqlGtid {
                gtid: (type_code == code::GTID).then(|| format!("{}:{gno}", uuid_text(sid))),
                last_committed,
            }
        }
        code::GTID_TAGGED => tagged_gtid(&mut c)?,
        code::PREVIOUS_GTIDS => {
            // MySQL 8.4+ writes a format byte in the top byte of the count: 1 = tagged, where
            // each UUID is followed by its tag (varlen length and bytes).
            let header = c.u64("number of uuids")?;
            let tagged = header >> 56 != 0;
            let n = if tagged {
                (header >> 8) & ((1 << 48) - 1)
            } else {
                header & ((1 << 56) - 1)
            };
            let mut parts = Vec::new();
            for _ in 0..n.min(1 << 20) {
                let mut sid = uuid_text(c.take(16, "uuid")?);
                if tagged {
                    let len = varlen_uint(&mut c, "tag length")? as usize;
                    let tag = c.take(len, "tag")?;
                    if !tag.is_empty() {
                        sid.push(':');
                        sid.push_str(&String::from_utf8_lossy(tag));
                    }
                }
                let k = c.u64("number of intervals")?;
                let mut iv = Vec::new();
                for _ in 0..k.min(1 << 20) {
                    let start = c.u64("interval start")?;
                    let end = c.u64("interval end")?;
                    iv.push(if end == start.wrapping_add(1) || end <= start {
                        start.to_string()
                    } else {
                        format!("{start}-{}", end.saturating_sub(1))
                    });
                }
                parts.push(format!("{sid}:{}", iv.join(":")));
            }
            EventData::PreviousGtids(parts.join(",\n"))
        }
        code::MARIA_GTID => {
            let seq = c.u64("gtid sequence")?;
            let domain = c.u32("gtid domain")?;
            let flags = c.u8("gtid flags")?;
            EventData::MariaGtid(MariaGtid {
                domain,
                server_id,
                seq,
                standalone: flags & 1 != 0,
            })
        }
        code::GTID_LIST => {
            let n = c.u32("gtid list count")? & ((1 << 28) - 1);
            let mut list = Vec::new();
            for _ in 0..n {
                let domain = c.u32("domain")?;
                let server_id = c.u32("server id")?;
                let seq = c.u64("sequence")?;
                list.push(MariaGtid {
                    domain,
                    server_id,
                    seq,
                    standalone: false,
                });
            }
            EventData::GtidList(list)
        }
        code::ANNOTATE_ROWS => EventData::Annotate(String::from_utf8_lossy(body).into_owned()),
        code::BINLOG_CHECKPOINT => {
            let len = c.u32("checkpoint name length")? as usize;
            EventData::BinlogCheckpoint(
                String::from_utf8_lossy(c.take(len, "checkpoint name")?).into_owned(),
            )
        }
        code::STOP => EventData::Stop,
        _ => EventData::Other,
    })
}

/// The events inside a MySQL TRANSACTION_PAYLOAD event, uncompressed: (type, header, body).
/// The inner events carry no checksums.
pub fn transaction_payload(body: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let mut c = Cursor::new(body);
    let mut compression = 0u64;
    let mut size = None;
    loop {
        let field = c.packed("payload field type")?;
        if field == 0 {
            break;
        }
        let len = c.packed("payload field length")? as usize;
        let mut v = Cursor::new(c.take(len, "payload field")?);
        let value = v.packed("payload field value")?;
        match field {
            2 => compression = value,
            3 => size = Some(value),
            _ => {}
        }
    }
    let payload = c.rest();
    match compression {
        0 => {
            // Bounded by the size the event declares (and never more than 1 GiB).
            let limit = size.unwrap_or(1 << 30).min(1 << 30);
            let mut out = Vec::with_capacity(limit.min(64 << 20) as usize);
            zstd::stream::read::Decoder::new(payload)
                .and_then(|d| d.take(limit + 1).read_to_end(&mut out))
                .map_err(|e| DecodeError(format!("transaction payload (zstd): {e}")))?;
            Ok(out)
        }
        255 => Ok(payload.to_vec()),
        other => Err(DecodeError(format!(
            "transaction payload compressed with unknown type {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mariadb_compression_round_trip() {
        use std::io::Write;
        let text = b"INSERT INTO t VALUES (1), (2), (3)";
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(text).unwrap();
        let mut src = vec![0x80 | 1, text.len() as u8];
        src.extend(z.finish().unwrap());
        assert_eq!(uncompress_mariadb(&src).unwrap(), text);
        assert!(uncompress_mariadb(&src[..3]).is_err());
        assert!(uncompress_mariadb(&[0x01]).is_err());
    }

    /// Bodies of events MySQL 9.7.4 wrote (`SET GTID_NEXT = 'AUTOMATIC:mytag'`): the tagged
    /// GTID was "Unknown" to zrm, with no GTID, and its transaction had none either.
    #[test]
    fn mysql_tagged_gtid_and_previous_gtids() {
        let fde = FormatDescription {
            binlog_version: 4,
            server_version: "9.7.4-2".into(),
            header_len: 19,
            post_header_len: Vec::new(),
            checksum: crate::binlog::event::ChecksumAlg::Crc32,
            mariadb: false,
        };
        let gtid = hex::decode(
            "0272000000023d03fed81ac5033e22c5037d02dd0304f103000000020404060a6d797461670808\
             0a1c0c7fca5658c6ee61061071041283120b",
        )
        .unwrap();
        match decode(code::GTID_TAGGED, 7, &gtid, &fde).unwrap() {
            EventData::MysqlGtid { gtid, .. } => assert_eq!(
                gtid.as_deref(),
                Some("cf7f6c0d-f11f-11f1-9ff7-02fc00000001:mytag:1")
            ),
            other => panic!("{other:?}"),
        }
        let prev = hex::decode(
            "01030000000000013e11fa4771ca11e19e33c80aa942956200010000000000000005000000000000\
             000600000000000000cf7f6c0df11f11f19ff702fc00000001000100000000000000010000000000\
             0000c80b000000000000cf7f6c0df11f11f19ff702fc000000010a6d797461670100000000000000\
             01000000000000000200000000000000",
        )
        .unwrap();
        match decode(code::PREVIOUS_GTIDS, 7, &prev, &fde).unwrap() {
            EventData::PreviousGtids(text) => {
                let set = crate::mysql::gtid::GtidSet::parse(&text).unwrap();
                assert_eq!(
                    set.to_string(),
                    "3e11fa47-71ca-11e1-9e33-c80aa9429562:5,\
                     cf7f6c0d-f11f-11f1-9ff7-02fc00000001:1-3015:mytag:1"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
