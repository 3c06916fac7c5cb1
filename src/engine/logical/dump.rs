//! The parallel dump: N workers, each with its own snapshot connection and its own writer
//! thread. A worker takes the next task (biggest first), reads its rows, encodes them
//! ([`super::format`]) into 256 KiB buffers and hands them to its writer, which compresses,
//! hashes and writes the chunk file. The channel between them holds a few buffers: a slow
//! disk or compressor stops the reads, so memory stays bounded whatever the table sizes.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mysql_async::prelude::Queryable;

use super::conn::DumpConn;
use crate::mysql::wire::RowCursor;
use tokio::sync::mpsc;

use super::discover::{self, TableInfo, TableKind, Task};
use super::format::{file_component, push_field, TableSum};
use super::schema::{self, SchemaRequest};
use super::snapshot::{self, SnapshotOptions};
use super::{Chunk, LogicalLayout, LogicalTable, SchemaFile};
use crate::catalog::{ConsistentPoint, FileEntry};
use crate::config::{Compression, ConnectionConfig};
use crate::engine::stream::{StoredFile, StoredFileWriter};
use crate::error::{Error, Result};
use crate::manifest::Flavor;
use crate::mysql;
use crate::progress::Progress;
use crate::repo::{ObjectWriter, Repository};

const BUFFER: usize = 256 * 1024;
/// Buffers in flight between one reader and its writer.
const IN_FLIGHT: usize = 4;

pub struct DumpJob<'a> {
    pub conn: &'a ConnectionConfig,
    pub flavor: Flavor,
    pub server_version: &'a str,
    pub log_bin: bool,
    /// The selected base tables per database (after `exclude`).
    pub selection: &'a BTreeMap<String, Vec<String>>,
    pub excluded_tables: &'a [String],
    pub parallel: usize,
    pub compression: Compression,
    pub level: i32,
    /// The backup directory in the repository.
    pub dir: String,
    /// Target uncompressed size of a chunk file.
    pub chunk_bytes: u64,
    pub include_users: bool,
    pub lock_timeout: Duration,
    /// Part of a coordinated cluster cut: (the cut, this shard's name).
    pub cut: Option<(Arc<crate::cluster::cut::Cut>, String)>,
}

pub struct DumpOutcome {
    pub layout: LogicalLayout,
    /// Sequences (`db`, `name`): schema objects here, one row each on the server.
    pub sequences: Vec<(String, String)>,
    pub files: Vec<FileEntry>,
    pub point: Option<ConsistentPoint>,
}

enum WriterMsg {
    Open(String),
    Data(Vec<u8>),
    Close,
}

struct Shared {
    tables: Vec<TableInfo>,
    queue: Mutex<VecDeque<Task>>,
    sums: Mutex<Vec<TableSum>>,
    chunks: Mutex<Vec<Vec<Chunk>>>,
    next_chunk: Vec<AtomicU32>,
    stop: AtomicBool,
    chunk_bytes: u64,
    progress: Arc<dyn Progress>,
}

impl Shared {
    fn chunk_path(&self, table: usize, ext: &str) -> String {
        let t = &self.tables[table];
        let n = self.next_chunk[table].fetch_add(1, Ordering::Relaxed);
        format!(
            "data/{}.{}.{n:05}.tsv{ext}",
            file_component(&t.database),
            file_component(&t.name)
        )
    }
}

pub fn data_ext(c: Compression) -> &'static str {
    match c {
        Compression::Zstd => ".zst",
        Compression::None => "",
    }
}

pub async fn dump(
    repo: Arc<Repository>,
    job: &DumpJob<'_>,
    progress: Arc<dyn Progress>,
) -> Result<DumpOutcome> {
    let mut planner = mysql::connect(job.conn).await?;
    for q in snapshot::DUMP_SESSION {
        planner.exec(q).await?;
    }
    let tables = discover::tables(&mut planner, job.selection).await?;
    let tasks = discover::tasks(&mut planner, &tables, job.chunk_bytes, job.parallel).await?;
    let non_transactional: Vec<String> = tables
        .iter()
        .filter(|t| t.kind != TableKind::Sequence && !t.transactional())
        .map(|t| t.key())
        .collect();
    let source_sql_mode = planner
        .value("SELECT @@GLOBAL.sql_mode")
        .await?
        .unwrap_or_default();

    let snap = snapshot::open(
        job.conn,
        &SnapshotOptions {
            connections: job.parallel.min(tasks.len().max(1)),
            flavor: job.flavor,
            log_bin: job.log_bin,
            backup_stage: snapshot::has_backup_stage(job.server_version),
            lock_timeout: job.lock_timeout,
            cut: job.cut.clone(),
        },
    )
    .await?;

    let n_tables = tables.len();
    let shared = Arc::new(Shared {
        queue: Mutex::new(tasks.into()),
        sums: Mutex::new(vec![TableSum::default(); n_tables]),
        chunks: Mutex::new(vec![Vec::new(); n_tables]),
        next_chunk: (0..n_tables).map(|_| AtomicU32::new(1)).collect(),
        stop: AtomicBool::new(false),
        chunk_bytes: job.chunk_bytes,
        progress,
        tables,
    });
    let ext = data_ext(job.compression);
    let mut workers = Vec::new();
    let mut writers = Vec::new();
    for session in snap.sessions {
        let (tx, rx) = mpsc::channel::<WriterMsg>(IN_FLIGHT);
        let (recycle_tx, recycle_rx) = mpsc::channel::<Vec<u8>>(IN_FLIGHT + 2);
        let (repo, dir, compression, level) =
            (repo.clone(), job.dir.clone(), job.compression, job.level);
        writers.push(std::thread::spawn(move || {
            write_chunks(&repo, &dir, compression, level, rx, recycle_tx)
        }));
        let shared = shared.clone();
        workers.push(tokio::spawn(async move {
            let r = read_tasks(&shared, session, tx, recycle_rx, ext).await;
            if r.is_err() {
                shared.stop.store(true, Ordering::Relaxed);
            }
            r
        }));
    }

    // The schema is read while the workers stream the data.
    let excluded: BTreeSet<String> = job.excluded_tables.iter().cloned().collect();
    let databases: Vec<String> = job.selection.keys().cloned().collect();
    let schema = schema::read(
        &mut planner,
        &SchemaRequest {
            databases: &databases,
            tables: &shared.tables,
            excluded_tables: &excluded,
            include_users: job.include_users,
        },
    )
    .await;
    planner.close().await;
    if schema.is_err() {
        shared.stop.store(true, Ordering::Relaxed);
    }

    let mut first_err: Option<Error> = None;
    for w in workers {
        match w.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                first_err.get_or_insert(e);
            }
            Err(e) => {
                first_err.get_or_insert(Error::Backup(format!("a dump worker failed: {e}")));
            }
        }
    }
    let mut stored: Vec<(String, StoredFile)> = Vec::new();
    // Joining waits for the last fsyncs: off the async workers.
    let joined: Vec<_> =
        tokio::task::block_in_place(|| writers.into_iter().map(|w| w.join()).collect());
    for j in joined {
        match j {
            Ok(Ok(files)) => stored.extend(files),
            // The writer's own error says more than the reader's "writer stopped".
            Ok(Err(e)) => first_err = Some(e),
            Err(_) => {
                first_err = Some(Error::Backup("a chunk writer thread panicked".into()));
            }
        }
    }
    let schema = schema?;
    if let Some(e) = first_err {
        return Err(e);
    }

    let (mut files, schema_files) =
        tokio::task::block_in_place(|| write_schema(&repo, job, &schema))?;
    let mut stored_by_path: BTreeMap<String, StoredFile> = stored.into_iter().collect();

    let shared =
        Arc::try_unwrap(shared).map_err(|_| Error::Backup("dump workers still running".into()))?;
    let sums = shared.sums.into_inner().expect("not poisoned");
    let chunks = shared.chunks.into_inner().expect("not poisoned");
    let mut out_tables = Vec::new();
    let mut sequences = Vec::new();
    for ((t, sum), mut chunks) in shared.tables.into_iter().zip(sums).zip(chunks) {
        if t.kind == TableKind::Sequence {
            sequences.push((t.database, t.name));
            continue;
        }
        chunks.sort_by(|a, b| a.path.cmp(&b.path));
        for c in &chunks {
            if let Some(f) = stored_by_path.remove(&c.path) {
                files.push(entry(&c.path, &f));
            }
        }
        out_tables.push(LogicalTable {
            columns: t.columns.iter().map(|c| c.name.clone()).collect(),
            enum_columns: t
                .columns
                .iter()
                .filter(|c| c.is_enum)
                .map(|c| c.name.clone())
                .collect(),
            chunk_key: t.chunk_key.clone(),
            rows: sum.rows,
            checksum: sum.checksum_text(),
            system_versioned: t.kind == TableKind::SystemVersioned,
            engine: t.engine,
            database: t.database,
            name: t.name,
            chunks,
        });
    }
    Ok(DumpOutcome {
        layout: LogicalLayout {
            schema_files,
            tables: out_tables,
            snapshot: snap.info,
            source_sql_mode,
            non_transactional,
        },
        files,
        point: snap.point,
        sequences,
    })
}

/// One file per kind of schema object, compressed and hashed like the data.
fn write_schema(
    repo: &Repository,
    job: &DumpJob<'_>,
    schema: &[(schema::Kind, Vec<schema::Object>)],
) -> Result<(Vec<FileEntry>, Vec<SchemaFile>)> {
    let ext = data_ext(job.compression);
    let mut files = Vec::new();
    let mut schema_files = Vec::new();
    for (kind, objects) in schema {
        let rel = format!("schema/{}.sql{}", kind.file_stem(), ext);
        let bytes = schema::encode(objects);
        let obj = repo.backend().create(&format!("{}/{rel}", job.dir))?;
        let mut w = StoredFileWriter::new(obj, job.compression, job.level)?;
        w.write_all(&bytes)
            .map_err(|e| Error::io("write", rel.clone(), e))?;
        let f = w.commit(bytes.len() as u64, &rel)?;
        files.push(entry(&rel, &f));
        schema_files.push(SchemaFile {
            kind: *kind,
            path: rel,
            objects: objects.len(),
        });
    }
    Ok((files, schema_files))
}

fn entry(rel: &str, f: &StoredFile) -> FileEntry {
    FileEntry {
        path: rel.to_string(),
        size: f.size,
        stored_size: f.stored_size,
        sha256: f.sha256.clone(),
    }
}

/// Where one task's rows go: the current chunk file of its table, cut at `chunk_bytes`.
struct Sink<'a> {
    shared: &'a Shared,
    table: usize,
    tx: &'a mpsc::Sender<WriterMsg>,
    recycled: &'a mut mpsc::Receiver<Vec<u8>>,
    ext: &'static str,
    buf: Vec<u8>,
    open: Option<Chunk>,
    done: Vec<Chunk>,
    sum: TableSum,
}

impl<'a> Sink<'a> {
    fn new(
        shared: &'a Shared,
        table: usize,
        tx: &'a mpsc::Sender<WriterMsg>,
        recycled: &'a mut mpsc::Receiver<Vec<u8>>,
        ext: &'static str,
    ) -> Self {
        Sink {
            shared,
            table,
            tx,
            recycled,
            ext,
            buf: Vec::with_capacity(BUFFER + 64 * 1024),
            open: None,
            done: Vec::new(),
            sum: TableSum::default(),
        }
    }

    async fn send(&self, msg: WriterMsg) -> Result<()> {
        self.tx
            .send(msg)
            .await
            .map_err(|_| Error::Backup("the chunk writer stopped".into()))
    }

    /// Before a row: open a chunk file if none is; returns where the row starts in `buf`.
    async fn begin_row(&mut self) -> Result<usize> {
        if self.open.is_none() {
            let path = self.shared.chunk_path(self.table, self.ext);
            self.send(WriterMsg::Open(path.clone())).await?;
            self.open = Some(Chunk {
                path,
                rows: 0,
                bytes: 0,
            });
        }
        Ok(self.buf.len())
    }

    /// After a row's fields: count and hash it, pass full buffers on, cut the chunk.
    async fn end_row(&mut self, start: usize) -> Result<()> {
        self.buf.push(b'\n');
        self.sum.add_row(&self.buf[start..]);
        let chunk = self.open.as_mut().expect("begin_row opened a chunk");
        chunk.rows += 1;
        chunk.bytes += (self.buf.len() - start) as u64;
        let full = chunk.bytes >= self.shared.chunk_bytes;
        if self.buf.len() >= BUFFER || full {
            self.flush().await?;
        }
        if full {
            self.send(WriterMsg::Close).await?;
            self.done.extend(self.open.take());
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.shared.progress.advance(self.buf.len() as u64);
        let next = self
            .recycled
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(BUFFER + 64 * 1024));
        let data = std::mem::replace(&mut self.buf, next);
        self.send(WriterMsg::Data(data)).await
    }

    async fn finish(mut self) -> Result<()> {
        if self.open.is_some() {
            self.flush().await?;
            self.send(WriterMsg::Close).await?;
            self.done.extend(self.open.take());
        }
        self.shared.sums.lock().expect("not poisoned")[self.table].merge(self.sum);
        self.shared.chunks.lock().expect("not poisoned")[self.table].extend(self.done);
        Ok(())
    }
}

/// One worker: take tasks until none is left (or another worker failed).
async fn read_tasks(
    shared: &Shared,
    mut conn: DumpConn,
    tx: mpsc::Sender<WriterMsg>,
    mut recycled: mpsc::Receiver<Vec<u8>>,
    ext: &'static str,
) -> Result<()> {
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        let Some(task) = shared.queue.lock().expect("not poisoned").pop_front() else {
            break;
        };
        let t = &shared.tables[task.table];
        let q = task.query(t);
        let mut sink = Sink::new(shared, task.table, &tx, &mut recycled, ext);
        let r = read_task(&mut conn, &q, &mut sink, shared).await;
        if let Err(e) = r {
            return Err(match e {
                // Row errors name the table and range they hit.
                Error::Mysql { server, message } => Error::Mysql {
                    server,
                    message: format!("reading {}: {message}", task.describe(t)),
                },
                e => e,
            });
        }
        sink.finish().await?;
    }
    let _ = conn.exec("COMMIT").await;
    conn.close().await;
    Ok(())
}

/// Stream one task's rows into its sink.
async fn read_task(
    conn: &mut DumpConn,
    q: &str,
    sink: &mut Sink<'_>,
    shared: &Shared,
) -> Result<()> {
    {
        match conn {
            DumpConn::Raw(raw) => {
                raw.start_query(q).await?;
                let mut cur = RowCursor::new();
                while let Some(row) = raw.next_row(&mut cur).await? {
                    let start = sink.begin_row().await?;
                    for i in 0..row.len() {
                        if i > 0 {
                            sink.buf.push(b'\t');
                        }
                        push_field(&mut sink.buf, row.get(i));
                    }
                    sink.end_row(start).await?;
                    if shared.stop.load(Ordering::Relaxed) {
                        return Ok(());
                    }
                }
            }
            DumpConn::Driver(session) => {
                let server = session.server.clone();
                let fail = |e| Error::Mysql {
                    server: server.clone(),
                    message: format!("query `{q}` failed: {e}"),
                };
                let mut result = session.conn.query_iter(q).await.map_err(fail)?;
                while let Some(row) = result.next().await.map_err(fail)? {
                    let start = sink.begin_row().await?;
                    for i in 0..row.len() {
                        if i > 0 {
                            sink.buf.push(b'\t');
                        }
                        match row.as_ref(i) {
                            Some(mysql_async::Value::Bytes(b)) => {
                                push_field(&mut sink.buf, Some(b))
                            }
                            Some(mysql_async::Value::NULL) | None => {
                                push_field(&mut sink.buf, None)
                            }
                            Some(other) => {
                                push_field(&mut sink.buf, Some(other.as_sql(true).as_bytes()))
                            }
                        }
                    }
                    sink.end_row(start).await?;
                    if shared.stop.load(Ordering::Relaxed) {
                        return Ok(());
                    }
                }
            }
        }
    }
    Ok(())
}

/// A writer thread: compress, hash and store the chunks one reader produces. Each finished
/// file is made durable (fsync, rename) on a second thread while the next one is written, so
/// the reader never waits for the disk to flush.
fn write_chunks(
    repo: &Repository,
    dir: &str,
    compression: Compression,
    level: i32,
    mut rx: mpsc::Receiver<WriterMsg>,
    recycle: mpsc::Sender<Vec<u8>>,
) -> Result<Vec<(String, StoredFile)>> {
    let (sync_tx, sync_rx) = std::sync::mpsc::sync_channel::<Box<dyn ObjectWriter>>(2);
    let syncer = std::thread::spawn(move || -> Result<()> {
        for obj in sync_rx {
            obj.commit()?;
        }
        Ok(())
    });
    let written = write_chunk_files(repo, dir, compression, level, &mut rx, &sync_tx, &recycle);
    drop(sync_tx);
    let synced = syncer
        .join()
        .unwrap_or_else(|_| Err(Error::Backup("the chunk sync thread panicked".into())));
    let files = written?;
    synced?;
    Ok(files)
}

fn write_chunk_files(
    repo: &Repository,
    dir: &str,
    compression: Compression,
    level: i32,
    rx: &mut mpsc::Receiver<WriterMsg>,
    sync_tx: &std::sync::mpsc::SyncSender<Box<dyn ObjectWriter>>,
    recycle: &mpsc::Sender<Vec<u8>>,
) -> Result<Vec<(String, StoredFile)>> {
    let mut out = Vec::new();
    let mut current: Option<(String, StoredFileWriter, u64)> = None;
    while let Some(msg) = rx.blocking_recv() {
        match msg {
            WriterMsg::Open(rel) => {
                let obj = repo.backend().create(&format!("{dir}/{rel}"))?;
                current = Some((rel, StoredFileWriter::new(obj, compression, level)?, 0));
            }
            WriterMsg::Data(mut bytes) => {
                let Some((rel, w, n)) = current.as_mut() else {
                    return Err(Error::Backup("chunk data without an open file".into()));
                };
                w.write_all(&bytes)
                    .map_err(|e| Error::io("write", format!("{dir}/{rel}"), e))?;
                *n += bytes.len() as u64;
                // Back to the reader: a fresh 256 KiB buffer each time would cost a mapping
                // and its page faults.
                bytes.clear();
                let _ = recycle.try_send(bytes);
            }
            WriterMsg::Close => {
                let Some((rel, w, n)) = current.take() else {
                    return Err(Error::Backup("chunk close without an open file".into()));
                };
                let (obj, f) = w.finish(n, &format!("{dir}/{rel}"))?;
                // A failed sync thread has its error reported by the caller.
                if sync_tx.send(obj).is_err() {
                    return Ok(out);
                }
                out.push((rel, f));
            }
        }
    }
    Ok(out)
}
