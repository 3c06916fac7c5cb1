//! The S3 backend (AWS or any S3-compatible store): the same tree of relative paths as a local
//! repository, as objects under `s3://bucket/prefix/`.
//!
//! * Writes stream as multipart uploads: memory is bounded by `IN_FLIGHT_BYTES` plus one part
//!   per file, whatever its size. Nothing is visible until the upload completes (a small file
//!   is one PutObject at commit); an uncommitted writer aborts its upload.
//! * Reads stream too, and a connection lost mid-object resumes with a ranged GET from the
//!   byte where it broke (pinned to the object's ETag, so a replaced object is an error).
//! * Every request retries throttling, 5xx and broken connections with exponential backoff
//!   (`MAX_ATTEMPTS`). Checksums are calculated only where the API requires them, which is
//!   what non-AWS implementations accept.
//! * The set lock is an object created with `If-None-Match: *` and refreshed by a heartbeat;
//!   one whose heartbeat stopped for `STALE_AFTER` (its holder died) is taken over.
//!
//! The SDK is async and the `Backend` trait is not: requests run on a small runtime owned by
//! the backend, and callers wait on a channel, which is safe from any thread, async or not.

use std::collections::VecDeque;
use std::future::Future;
use std::io::{self, Read, Write};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, StorageClass};
use aws_sdk_s3::Client;
use bytes::Bytes;

use super::{Backend, ObjectWriter, SetLock};
use crate::error::{Error, Result};

/// One part of a multipart upload (S3's minimum is 5 MiB except for the last).
pub const PART_SIZE: usize = 8 << 20;
/// The size of part `n` (1-based): 8 MiB, doubling every 1000 parts up to 512 MiB, so that a
/// file of several TiB stays within S3's 10,000 parts while small files keep small parts.
pub fn part_size(n: i32) -> usize {
    PART_SIZE << ((n.max(1) as usize - 1) / 1000).min(6)
}

/// Parts of one file uploading at once (as many as boto3's default transfer threads), while
/// their bytes stay within [`IN_FLIGHT_BYTES`].
pub const MAX_IN_FLIGHT: usize = 10;
/// Bytes of one file's parts uploading at once, at most: with 8 MiB parts that is 10 parts;
/// the larger parts of very large files go fewer at a time, so memory stays bounded.
pub const IN_FLIGHT_BYTES: usize = 96 << 20;

/// Parts of size `part` that may upload at once.
fn in_flight_cap(part: usize) -> usize {
    (IN_FLIGHT_BYTES / part.max(1)).clamp(1, MAX_IN_FLIGHT)
}
/// Attempts per request (the first try and the retries).
pub const MAX_ATTEMPTS: u32 = 10;
/// Resumptions of one download after broken connections.
const READ_RESUMES: u32 = 10;
const HEARTBEAT: Duration = Duration::from_secs(30);
const STALE_AFTER: Duration = Duration::from_secs(300);

pub use crate::location::S3Location;

/// What a request needs: cheap to clone into the tasks (which must not hold `Inner`, whose
/// drop shuts the runtime down).
#[derive(Clone)]
struct Api {
    client: Client,
    bucket: String,
}

/// A lock object as read back: its holder (`None` if unreadable) and when the store last
/// wrote it.
struct LockObject {
    written: Option<chrono::DateTime<chrono::Utc>>,
    holder: Option<LockHolder>,
}

impl Api {
    /// The lock object at `key`; `None` when there is none.
    async fn read_lock(&self, key: &str, url: &str) -> Result<Option<LockObject>> {
        let o = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(s3_error("GetObject (lock)", url, &e)),
        };
        let written = o
            .last_modified()
            .and_then(|t| chrono::DateTime::from_timestamp(t.secs(), 0));
        let body = o
            .body
            .collect()
            .await
            .map_err(|e| Error::Repository(format!("reading {url}: {e}")))?;
        Ok(Some(LockObject {
            written,
            holder: serde_json::from_slice(&body.into_bytes()).ok(),
        }))
    }

    /// Abort every multipart upload under `prefix` that was never completed.
    async fn abort_uploads(&self, prefix: &str, url: &str) -> Result<usize> {
        let out = self
            .client
            .list_multipart_uploads()
            .bucket(&self.bucket)
            .prefix(prefix)
            .send()
            .await
            .map_err(|e| s3_error("ListMultipartUploads", url, &e))?;
        let mut n = 0;
        for u in out.uploads() {
            if let (Some(k), Some(id)) = (u.key(), u.upload_id()) {
                self.client
                    .abort_multipart_upload()
                    .bucket(&self.bucket)
                    .key(k)
                    .upload_id(id)
                    .send()
                    .await
                    .map_err(|e| s3_error("AbortMultipartUpload", k, &e))?;
                n += 1;
            }
        }
        Ok(n)
    }

    async fn delete(&self, key: &str, url: &str) -> Result<()> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| s3_error("DeleteObject", url, &e))
    }
}

struct Inner {
    api: Api,
    prefix: String,
    url: String,
    storage_class: Option<StorageClass>,
    rt: Option<tokio::runtime::Runtime>,
}

impl Inner {
    fn key(&self, rel: &str) -> String {
        if self.prefix.is_empty() {
            rel.to_string()
        } else {
            format!("{}/{rel}", self.prefix)
        }
    }

    fn object_url(&self, rel: &str) -> String {
        format!("{}/{rel}", self.url)
    }

    /// Run a future on the backend's runtime and wait for it, from any thread.
    fn run<F>(&self, f: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (tx, rx) = mpsc::sync_channel(1);
        self.rt().spawn(async move {
            let _ = tx.send(f.await);
        });
        rx.recv()
            .expect("the S3 runtime runs until the backend is dropped")
    }

    fn rt(&self) -> &tokio::runtime::Runtime {
        self.rt.as_ref().expect("present until drop")
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics inside async code: let it wind down alone.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// An S3 API error as a sentence: operation, object, S3's code and message, and a hint.
fn s3_error<E>(op: &str, url: &str, e: &E) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let (code, detail) = crate::aws::error_detail(e);
    let hint = match code.as_str() {
        "NoSuchBucket" => "; create the bucket, or fix `url` in [repository]",
        "AccessDenied" | "AllAccessDisabled" => {
            "; the AWS identity zrm runs as lacks this permission on the bucket"
        }
        "InvalidAccessKeyId" | "SignatureDoesNotMatch" => {
            "; the AWS credentials were refused: check the access key (environment, ~/.aws, \
             instance role)"
        }
        "" => "; check the network, `endpoint` and the credentials (after retries)",
        _ => "",
    };
    Error::Repository(format!("S3 {op} of {url} failed: {detail}{hint}"))
}

fn is_not_found<E: ProvideErrorMetadata>(e: &E) -> bool {
    matches!(e.code(), Some("NoSuchKey" | "NotFound" | "404"))
}

pub struct S3Backend {
    inner: Arc<Inner>,
}

impl S3Backend {
    pub fn new(loc: &S3Location) -> Result<S3Backend> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("zrm-s3")
            .enable_all()
            .build()
            .map_err(|e| Error::Repository(format!("cannot start the S3 client runtime: {e}")))?;
        let loc2 = loc.clone();
        let (tx, rx) = mpsc::sync_channel(1);
        rt.spawn(async move {
            let _ = tx.send(client(&loc2).await);
        });
        let client = match rx.recv().expect("the runtime runs the client set-up") {
            Ok(c) => c,
            Err(e) => {
                // Dropping a runtime inside async code panics: let it wind down on its own.
                rt.shutdown_background();
                return Err(e);
            }
        };
        let storage_class = loc
            .storage_class
            .as_deref()
            .map(|s| s.parse::<StorageClass>().expect("infallible"));
        Ok(S3Backend {
            inner: Arc::new(Inner {
                api: Api {
                    client,
                    bucket: loc.bucket.clone(),
                },
                prefix: loc.prefix.clone(),
                url: loc.url(),
                storage_class,
                rt: Some(rt),
            }),
        })
    }

    fn walk_objects(&self, rel: &str) -> Result<Vec<(String, u64)>> {
        let api = self.inner.api.clone();
        let prefix = if rel.is_empty() {
            self.inner.key("")
        } else {
            format!("{}/", self.inner.key(rel))
        };
        let strip = self.inner.key("");
        let url = self.inner.object_url(rel);
        self.inner.run(async move {
            let (_, objects) = list_objects(&api, &prefix, false, &url).await?;
            Ok(objects
                .into_iter()
                .map(|(k, size)| (k.strip_prefix(&strip).unwrap_or(&k).to_string(), size))
                .collect())
        })
    }

    /// Abort the multipart uploads under `rel` that were never completed (a killed upload
    /// leaves its parts, which cost storage, behind). Returns how many.
    pub fn abort_incomplete_uploads(&self, rel: &str) -> Result<usize> {
        let api = self.inner.api.clone();
        let prefix = format!("{}/", self.inner.key(rel));
        let url = self.inner.url.clone();
        self.inner
            .run(async move { api.abort_uploads(&prefix, &url).await })
    }

    fn clean_after_kill(&self, rel: &str) {
        match self.abort_incomplete_uploads(rel) {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                "aborted {n} incomplete upload(s) under {}/{rel} left by a killed run",
                self.inner.url
            ),
            // Not fatal: the parts only cost storage until a later run or a lifecycle rule.
            Err(e) => tracing::warn!("could not clean up incomplete uploads: {e}"),
        }
    }

    /// Take the lock object `rel`, which guards everything under `area`.
    fn lock(&self, rel: String, area: &str, what: &'static str, set: &str) -> Result<SetLock> {
        let api = self.inner.api.clone();
        let set = set.to_string();
        let me = LockHolder::me();
        let url = self.inner.object_url(&rel);
        let key = self.inner.key(&rel);
        let taken_over = self.inner.run({
            let api = api.clone();
            let key = key.clone();
            let me = me.clone();
            async move { take_lock(&api, &key, &url, &me, what, &set).await }
        })?;
        // The heartbeat keeps the lock fresh while held; dropping the guard stops it and
        // deletes the lock object.
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let hb = {
            let api = api.clone();
            let key = key.clone();
            let me = me.clone();
            self.inner.rt().spawn(async move {
                let mut stop = stop_rx;
                loop {
                    tokio::select! {
                        _ = &mut stop => return,
                        _ = tokio::time::sleep(HEARTBEAT) => {
                            // Refresh only a lock that is still ours: never overwrite the lock
                            // of a run that took it over.
                            if let Ok(Some(LockObject { holder: Some(h), .. })) = api.read_lock(&key, "").await {
                                if h.token != me.token {
                                    tracing::warn!("the lock {key} was taken over by another run; this run no longer holds it");
                                    return;
                                }
                            }
                            let mut fresh = me.clone();
                            fresh.heartbeat = chrono::Utc::now();
                            let _ = api.client.put_object().bucket(&api.bucket).key(&key)
                                .body(ByteStream::from(fresh.to_json())).send().await;
                        }
                    }
                }
            })
        };
        let release = RemoteLock {
            inner: self.inner.clone(),
            area: format!("{}/", self.inner.key(area)),
            key,
            stop: Some(stop_tx),
            heartbeat: Some(hb),
        };
        Ok(SetLock::remote(Box::new(release), taken_over))
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct LockHolder {
    /// This run's own token: a lock object carrying it is ours, even when the answer to the
    /// PUT that created it was lost and the retry saw "already exists".
    #[serde(default)]
    token: String,
    host: String,
    pid: u32,
    since: chrono::DateTime<chrono::Utc>,
    heartbeat: chrono::DateTime<chrono::Utc>,
}

impl LockHolder {
    fn me() -> LockHolder {
        let now = chrono::Utc::now();
        LockHolder {
            token: uuid::Uuid::new_v4().to_string(),
            host: hostname(),
            pid: std::process::id(),
            since: now,
            heartbeat: now,
        }
    }

    fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("serialises")
    }
}

use super::lock::hostname;

fn pid_alive(pid: u32) -> bool {
    // SAFETY: signal 0 checks for existence only.
    let rc = unsafe { libc::kill(pid as i32, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Create the lock object if absent; take over one whose holder is provably gone (same host,
/// dead pid) or whose heartbeat stopped. Returns the previous holder when taken over.
async fn take_lock(
    api: &Api,
    key: &str,
    url: &str,
    me: &LockHolder,
    what: &'static str,
    set: &str,
) -> Result<Option<String>> {
    let mut taken_over = None;
    for _ in 0..3 {
        let put = api
            .client
            .put_object()
            .bucket(&api.bucket)
            .key(key)
            .if_none_match("*")
            .body(ByteStream::from(me.to_json()))
            .send()
            .await;
        match put {
            Ok(_) => return Ok(taken_over),
            Err(e)
                if matches!(
                    e.code(),
                    Some("PreconditionFailed" | "ConditionalRequestConflict")
                ) => {}
            Err(e) => return Err(s3_error("PutObject (lock)", url, &e)),
        }
        // The store's own time of the last write (heartbeat) judges staleness: it does not
        // depend on the holder's clock.
        let Some(LockObject { written, holder }) = api.read_lock(key, url).await? else {
            continue; // released meanwhile: try again
        };
        if holder.as_ref().is_some_and(|h| h.token == me.token) {
            return Ok(taken_over); // ours: the PUT succeeded, its answer was lost
        }
        let stale = match &holder {
            None => true, // unreadable: a torn write of a dead holder
            Some(h) if h.host == me.host => !pid_alive(h.pid),
            Some(h) => {
                let age = chrono::Utc::now() - written.unwrap_or(h.heartbeat);
                age.to_std().unwrap_or_default() > STALE_AFTER
            }
        };
        if !stale {
            let h = holder.expect("checked");
            return Err(Error::Locked {
                what,
                set: set.to_string(),
                pid: format!("{} on {}", h.pid, h.host),
                since: h.since.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            });
        }
        taken_over = Some(
            holder
                .map(|h| format!("{} on {}", h.pid, h.host))
                .unwrap_or_else(|| "unknown".into()),
        );
        api.delete(key, url).await?;
    }
    Err(Error::Repository(format!(
        "could not take the lock {url}: it changed hands three times while zrm tried; try again"
    )))
}

struct RemoteLock {
    inner: Arc<Inner>,
    /// The key prefix the lock guards: uploads still open there when it is released are
    /// orphans of this run (a retried CreateMultipartUpload whose first answer was lost).
    area: String,
    key: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    heartbeat: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for RemoteLock {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let api = self.inner.api.clone();
        let key = self.key.clone();
        let area = self.area.clone();
        let hb = self.heartbeat.take();
        self.inner.run(async move {
            if let Some(h) = hb {
                let _ = h.await;
            }
            let _ = api.abort_uploads(&area, "").await;
            let _ = api.delete(&key, "").await;
        });
    }
}

async fn client(loc: &S3Location) -> Result<Client> {
    let conf = crate::aws::sdk_config(loc.region.as_deref(), loc.endpoint.as_deref()).await;
    if conf.region().is_none() {
        return Err(Error::Config(
            "no AWS region for the S3 repository: set `region` in [repository], or AWS_REGION"
                .into(),
        ));
    }
    let s3 = aws_sdk_s3::config::Builder::from(&conf)
        .force_path_style(loc.path_style)
        .request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired)
        .retry_config(
            aws_sdk_s3::config::retry::RetryConfig::standard()
                .with_max_attempts(MAX_ATTEMPTS)
                .with_initial_backoff(Duration::from_millis(100))
                .with_max_backoff(Duration::from_secs(10)),
        )
        .build();
    Ok(Client::from_conf(s3))
}

impl Backend for S3Backend {
    fn describe(&self) -> String {
        self.inner.url.clone()
    }

    fn create(&self, rel: &str) -> Result<Box<dyn ObjectWriter>> {
        Ok(Box::new(S3Writer {
            inner: self.inner.clone(),
            rel: rel.to_string(),
            buf: Vec::with_capacity(64 << 10),
            upload: None,
            committed: false,
        }))
    }

    fn open(&self, rel: &str) -> Result<Box<dyn Read + Send>> {
        let api = self.inner.api.clone();
        let url = self.inner.object_url(rel);
        let key = self.inner.key(rel);
        let (tx, rx) = mpsc::sync_channel::<io::Result<Bytes>>(16);
        // Open first, so a missing object is an error here and not at the first read.
        let first = {
            let api = api.clone();
            let key = key.clone();
            let url = url.clone();
            self.inner.run(async move {
                api.client
                    .get_object()
                    .bucket(&api.bucket)
                    .key(&key)
                    .send()
                    .await
                    .map_err(|e| {
                        if is_not_found(&e) {
                            Error::Repository(format!("{url} does not exist"))
                        } else {
                            s3_error("GetObject", &url, &e)
                        }
                    })
            })?
        };
        let etag = first.e_tag().map(str::to_string);
        self.inner.rt().spawn(async move {
            let mut body = first.body;
            let mut offset: u64 = 0;
            let mut resumes = 0;
            loop {
                match body.next().await {
                    None => return,
                    Some(Ok(chunk)) => {
                        offset += chunk.len() as u64;
                        // The channel is bounded (backpressure from a slow reader); wait
                        // for room without blocking a runtime thread.
                        let mut item = Ok(chunk);
                        loop {
                            match tx.try_send(item) {
                                Ok(()) => break,
                                Err(mpsc::TrySendError::Full(back)) => {
                                    item = back;
                                    tokio::time::sleep(Duration::from_millis(1)).await;
                                }
                                Err(mpsc::TrySendError::Disconnected(_)) => return,
                            }
                        }
                    }
                    Some(Err(e)) => {
                        resumes += 1;
                        if resumes > READ_RESUMES {
                            let _ = tx.send(Err(io::Error::other(format!(
                                "reading {url}: the connection broke {READ_RESUMES} times: {e}"
                            ))));
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(100 << resumes.min(6))).await;
                        let mut req = api
                            .client
                            .get_object()
                            .bucket(&api.bucket)
                            .key(&key)
                            .range(format!("bytes={offset}-"));
                        if let Some(t) = &etag {
                            req = req.if_match(t);
                        }
                        match req.send().await {
                            Ok(o) => body = o.body,
                            Err(e) => {
                                let _ = tx.send(Err(io::Error::other(
                                    s3_error("GetObject (resume)", &url, &e).to_string(),
                                )));
                                return;
                            }
                        }
                    }
                }
            }
        });
        Ok(Box::new(S3Reader {
            rx,
            current: Bytes::new(),
        }))
    }

    fn exists(&self, rel: &str) -> Result<bool> {
        let api = self.inner.api.clone();
        let key = self.inner.key(rel);
        let url = self.inner.object_url(rel);
        self.inner.run(async move {
            match api
                .client
                .head_object()
                .bucket(&api.bucket)
                .key(&key)
                .send()
                .await
            {
                Ok(_) => return Ok(true),
                Err(e) => {
                    let not_found = e.raw_response().map(|r| r.status().as_u16()) == Some(404)
                        || is_not_found(&e);
                    if !not_found {
                        return Err(s3_error("HeadObject", &url, &e));
                    }
                }
            }
            // A "directory": anything under it.
            let page = api
                .client
                .list_objects_v2()
                .bucket(&api.bucket)
                .prefix(format!("{key}/"))
                .max_keys(1)
                .send()
                .await
                .map_err(|e| s3_error("ListObjectsV2", &url, &e))?;
            Ok(!page.contents().is_empty())
        })
    }

    fn list(&self, rel: &str) -> Result<Vec<String>> {
        let api = self.inner.api.clone();
        let prefix = format!("{}/", self.inner.key(rel));
        let url = self.inner.object_url(rel);
        self.inner.run(async move {
            let (dirs, objects) = list_objects(&api, &prefix, true, &url).await?;
            let mut names: Vec<String> = dirs
                .iter()
                .chain(objects.iter().map(|(k, _)| k))
                .filter_map(|k| k.strip_prefix(&prefix))
                .map(|n| n.trim_end_matches('/').to_string())
                .collect();
            names.sort();
            names.dedup();
            Ok(names)
        })
    }

    fn walk(&self, rel: &str) -> Result<Vec<(String, u64)>> {
        let mut all = self.walk_objects(rel)?;
        all.retain(|(k, _)| {
            !k.rsplit('/')
                .next()
                .is_some_and(|name| name.starts_with('.'))
        });
        all.sort();
        Ok(all)
    }

    fn size(&self, rel: &str) -> Result<u64> {
        let api = self.inner.api.clone();
        let key = self.inner.key(rel);
        let url = self.inner.object_url(rel);
        self.inner.run(async move {
            let h = api
                .client
                .head_object()
                .bucket(&api.bucket)
                .key(&key)
                .send()
                .await
                .map_err(|e| s3_error("HeadObject", &url, &e))?;
            Ok(h.content_length().unwrap_or(0).max(0) as u64)
        })
    }

    /// Holding the set's lock, no other run writes its backups: uploads left open there were
    /// killed, and are aborted.
    fn lock_set(&self, set: &str) -> Result<SetLock> {
        let area = format!("sets/{set}/backups");
        let lock = self.lock(format!("sets/{set}/lock"), &area, "set", set)?;
        self.clean_after_kill(&area);
        Ok(lock)
    }

    fn lock_binlogs(&self, set: &str) -> Result<SetLock> {
        let area = format!("sets/{set}/binlogs");
        let lock = self.lock(
            format!("sets/{set}/binlog.lock"),
            &area,
            "the binlog archive of set",
            set,
        )?;
        self.clean_after_kill(&area);
        Ok(lock)
    }

    fn probe_writable(&self) -> Result<()> {
        let rel = format!(".zrm-probe-{}", uuid::Uuid::new_v4());
        let mut w = self.create(&rel)?;
        w.write_all(b"probe")
            .map_err(|e| Error::io("write", &rel, e))?;
        w.commit()?;
        let api = self.inner.api.clone();
        let key = self.inner.key(&rel);
        let url = self.inner.object_url(&rel);
        self.inner.run(async move { api.delete(&key, &url).await })
    }

    fn remove_file(&self, rel: &str) {
        let api = self.inner.api.clone();
        let key = self.inner.key(rel);
        self.inner.run(async move {
            let _ = api.delete(&key, "").await;
        });
    }

    fn remove_empty_dir(&self, _rel: &str) {
        // Object stores have no directories.
    }
}

/// Every object under `prefix` (keys and sizes), and with `delimited` the "directories" one
/// level down (common prefixes), across all pages.
async fn list_objects(
    api: &Api,
    prefix: &str,
    delimited: bool,
    url: &str,
) -> Result<(Vec<String>, Vec<(String, u64)>)> {
    let mut dirs = Vec::new();
    let mut objects = Vec::new();
    let mut token = None;
    loop {
        let page = api
            .client
            .list_objects_v2()
            .bucket(&api.bucket)
            .prefix(prefix)
            .set_delimiter(delimited.then(|| "/".to_string()))
            .set_continuation_token(token)
            .send()
            .await
            .map_err(|e| s3_error("ListObjectsV2", url, &e))?;
        dirs.extend(
            page.common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().map(str::to_string)),
        );
        objects.extend(page.contents().iter().filter_map(|o| {
            o.key()
                .map(|k| (k.to_string(), o.size().unwrap_or(0).max(0) as u64))
        }));
        match page.next_continuation_token() {
            Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
            _ => return Ok((dirs, objects)),
        }
    }
}

struct S3Reader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

impl Read for S3Reader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.recv() {
                Ok(Ok(b)) => self.current = b,
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0), // the body ended
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        let _ = self.current.split_to(n);
        Ok(n)
    }
}

struct Upload {
    id: String,
    next_part: i32,
    in_flight: VecDeque<mpsc::Receiver<Result<CompletedPart>>>,
    done: Vec<CompletedPart>,
}

struct S3Writer {
    inner: Arc<Inner>,
    rel: String,
    buf: Vec<u8>,
    upload: Option<Upload>,
    committed: bool,
}

impl S3Writer {
    fn start_upload(&mut self) -> Result<()> {
        if self.upload.is_some() {
            return Ok(());
        }
        let api = self.inner.api.clone();
        let key = self.inner.key(&self.rel);
        let url = self.inner.object_url(&self.rel);
        let class = self.inner.storage_class.clone();
        let id = self.inner.run(async move {
            let out = api
                .client
                .create_multipart_upload()
                .bucket(&api.bucket)
                .key(&key)
                .set_storage_class(class)
                .send()
                .await
                .map_err(|e| s3_error("CreateMultipartUpload", &url, &e))?;
            out.upload_id()
                .map(str::to_string)
                .ok_or_else(|| Error::Repository(format!("{url}: S3 returned no upload id")))
        })?;
        self.upload = Some(Upload {
            id,
            next_part: 1,
            in_flight: VecDeque::new(),
            done: Vec::new(),
        });
        Ok(())
    }

    /// Upload one part in the background; waits first when `MAX_IN_FLIGHT` are running.
    fn send_part(&mut self, data: Vec<u8>) -> Result<()> {
        self.start_upload()?;
        let upload = self.upload.as_mut().expect("started");
        let cap = in_flight_cap(data.len());
        while upload.in_flight.len() >= cap {
            let oldest = upload.in_flight.pop_front().expect("non-empty");
            upload.done.push(wait_part(oldest)?);
        }
        let number = upload.next_part;
        upload.next_part += 1;
        let (tx, rx) = mpsc::sync_channel(1);
        let api = self.inner.api.clone();
        let key = self.inner.key(&self.rel);
        let url = self.inner.object_url(&self.rel);
        let id = upload.id.clone();
        let body = Bytes::from(data);
        self.inner.rt().spawn(async move {
            let r = api
                .client
                .upload_part()
                .bucket(&api.bucket)
                .key(&key)
                .upload_id(&id)
                .part_number(number)
                .body(ByteStream::from(body))
                .send()
                .await
                .map_err(|e| s3_error(&format!("UploadPart {number}"), &url, &e))
                .map(|o| {
                    CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(o.e_tag().map(str::to_string))
                        .build()
                });
            let _ = tx.send(r);
        });
        upload.in_flight.push_back(rx);
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        let api = self.inner.api.clone();
        let key = self.inner.key(&self.rel);
        let url = self.inner.object_url(&self.rel);
        if self.upload.is_none() {
            let body = Bytes::from(std::mem::take(&mut self.buf));
            let class = self.inner.storage_class.clone();
            return self.inner.run(async move {
                api.client
                    .put_object()
                    .bucket(&api.bucket)
                    .key(&key)
                    .set_storage_class(class)
                    .body(ByteStream::from(body))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| s3_error("PutObject", &url, &e))
            });
        }
        if !self.buf.is_empty() {
            let last = std::mem::take(&mut self.buf);
            self.send_part(last)?;
        }
        let upload = self.upload.as_mut().expect("started");
        while let Some(rx) = upload.in_flight.pop_front() {
            upload.done.push(wait_part(rx)?);
        }
        let mut parts = std::mem::take(&mut upload.done);
        parts.sort_by_key(|p| p.part_number());
        let id = upload.id.clone();
        self.inner.run(async move {
            api.client
                .complete_multipart_upload()
                .bucket(&api.bucket)
                .key(&key)
                .upload_id(&id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(parts))
                        .build(),
                )
                .send()
                .await
                .map(|_| ())
                .map_err(|e| s3_error("CompleteMultipartUpload", &url, &e))
        })?;
        self.upload = None;
        Ok(())
    }
}

fn wait_part(rx: mpsc::Receiver<Result<CompletedPart>>) -> Result<CompletedPart> {
    rx.recv()
        .unwrap_or_else(|_| Err(Error::Repository("an upload task ended early".into())))
}

impl Write for S3Writer {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        loop {
            let size = part_size(self.upload.as_ref().map_or(1, |u| u.next_part));
            if self.buf.len() < size {
                break;
            }
            let rest = self.buf.split_off(size);
            let part = std::mem::replace(&mut self.buf, rest);
            self.send_part(part)
                .map_err(|e| io::Error::other(e.to_string()))?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl ObjectWriter for S3Writer {
    fn commit(mut self: Box<Self>) -> Result<()> {
        let r = self.finish();
        if r.is_ok() {
            self.committed = true;
        }
        r
    }
}

impl Drop for S3Writer {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        // Nothing of an uncommitted file may stay: abort the multipart upload.
        if let Some(u) = self.upload.take() {
            for rx in u.in_flight {
                let _ = rx.recv();
            }
            let api = self.inner.api.clone();
            let key = self.inner.key(&self.rel);
            self.inner.run(async move {
                let _ = api
                    .client
                    .abort_multipart_upload()
                    .bucket(&api.bucket)
                    .key(&key)
                    .upload_id(&u.id)
                    .send()
                    .await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_grow_so_that_terabytes_fit_in_10000_parts() {
        assert_eq!(part_size(1), 8 << 20);
        assert_eq!(part_size(1000), 8 << 20);
        assert_eq!(part_size(1001), 16 << 20);
        assert_eq!(part_size(10_000), 512 << 20);
        let total: u64 = (1..=10_000).map(|n| part_size(n) as u64).sum();
        assert!(total > 2 << 40, "{total}");
    }

    #[test]
    fn parses_urls() {
        assert_eq!(
            S3Location::parse("s3://b/p/q/").unwrap(),
            ("b".into(), "p/q".into())
        );
        assert_eq!(
            S3Location::parse("s3://b").unwrap(),
            ("b".into(), "".into())
        );
        assert!(S3Location::parse("s3:///x").is_err());
        assert!(S3Location::parse("gs://b").is_err());
    }
}
