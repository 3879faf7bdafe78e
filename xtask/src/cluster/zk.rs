//! A tiny client of ZooKeeper's wire protocol (jute over a byte stream), enough for `verify` to act
//! as an anonymous client: open a session, list a node's children, read, set and delete a node, and
//! see the error code the server answers (NoAuth when an ACL refuses). No watches, no reconnection,
//! one request at a time. The stream is any `Read + Write`: `verify` runs `nc` inside a node (the
//! cluster's network exists only in its namespaces), so the client never opens a socket itself.
//!
//! Why not a crate: the maintained Rust clients are asynchronous (they need an async runtime), and
//! the synchronous one runs on mio 0.6 and opens its own socket (see ARCHITECTURE.md's
//! dependencies); this needs five requests over a stream it is given.

use std::io::{Read, Write};

use anyhow::{Context, Result, bail};

/// ZooKeeper's error codes that `verify` names (`KeeperException.Code`).
pub const NO_NODE: i32 = -101;
pub const NO_AUTH: i32 = -102;
pub const BAD_VERSION: i32 = -103;

const OP_DELETE: i32 = 2;
const OP_GET_DATA: i32 = 4;
const OP_SET_DATA: i32 = 5;
const OP_GET_ACL: i32 = 6;
const OP_GET_CHILDREN: i32 = 8;
const OP_CLOSE: i32 = -11;
/// The xids the server uses for its own frames (watch events, pings): skipped.
const XID_NOTIFICATION: i32 = -1;
const XID_PING: i32 = -2;
/// No frame of these requests comes near this (ZooKeeper's own limit is jute.maxbuffer, 1 MiB).
const MAX_FRAME: usize = 1 << 20;

/// The name of an error code, for messages.
pub fn code_name(code: i32) -> String {
    let name = match code {
        0 => "Ok",
        -4 => "ConnectionLoss",
        -8 => "BadArguments",
        -100 => "APIError",
        NO_NODE => "NoNode",
        NO_AUTH => "NoAuth",
        BAD_VERSION => "BadVersion",
        -110 => "NodeExists",
        -111 => "NotEmpty",
        -112 => "SessionExpired",
        -115 => "AuthFailed",
        _ => return format!("error {code}"),
    };
    format!("{name} ({code})")
}

/// An answer of the server: the data of a success, or its error code.
pub type Reply<T> = std::result::Result<T, i32>;

pub struct Session<S: Read + Write> {
    stream: S,
    xid: i32,
    pub session_id: i64,
}

impl<S: Read + Write> Session<S> {
    /// Opens an anonymous session (no AuthPacket) over `stream`.
    pub fn connect(mut stream: S, timeout_ms: i32) -> Result<Self> {
        let mut request = Vec::new();
        put_i32(&mut request, 0); // protocol version
        put_i64(&mut request, 0); // last zxid seen
        put_i32(&mut request, timeout_ms);
        put_i64(&mut request, 0); // session id: a new session
        put_buffer(&mut request, &[0; 16]); // password
        request.push(0); // not read-only
        write_frame(&mut stream, &request)?;
        let frame = read_frame(&mut stream).context("ZooKeeper did not answer the connect")?;
        let mut reply = Reader(&frame);
        let _version = reply.i32()?;
        let timeout = reply.i32()?;
        let session_id = reply.i64()?;
        if timeout <= 0 || session_id == 0 {
            bail!("ZooKeeper refused the session (a server without quorum answers so)");
        }
        Ok(Self {
            stream,
            xid: 0,
            session_id,
        })
    }

    /// The children of `path`.
    pub fn children(&mut self, path: &str) -> Result<Reply<Vec<String>>> {
        let mut body = Vec::new();
        put_string(&mut body, path);
        body.push(0); // no watch
        Ok(match self.call(OP_GET_CHILDREN, &body)? {
            Ok(frame) => {
                let mut reply = Reader(&frame);
                let count = reply.i32()?;
                let mut names = Vec::new();
                for _ in 0..count.max(0) {
                    names.push(reply.string()?);
                }
                Ok(names)
            }
            Err(code) => Err(code),
        })
    }

    /// The data of `path`.
    pub fn data(&mut self, path: &str) -> Result<Reply<Vec<u8>>> {
        let mut body = Vec::new();
        put_string(&mut body, path);
        body.push(0);
        Ok(match self.call(OP_GET_DATA, &body)? {
            Ok(frame) => Ok(Reader(&frame).buffer()?),
            Err(code) => Err(code),
        })
    }

    /// The ACL of `path` as ZooKeeper's CLI shows it: `scheme:id:perms` (perms of `cdrwa`).
    pub fn acl(&mut self, path: &str) -> Result<Reply<Vec<String>>> {
        let mut body = Vec::new();
        put_string(&mut body, path);
        Ok(match self.call(OP_GET_ACL, &body)? {
            Ok(frame) => {
                let mut reply = Reader(&frame);
                let count = reply.i32()?;
                let mut entries = Vec::new();
                for _ in 0..count.max(0) {
                    let perms = reply.i32()?;
                    let scheme = reply.string()?;
                    let id = reply.string()?;
                    entries.push(format!("{scheme}:{id}:{}", perms_text(perms)));
                }
                Ok(entries)
            }
            Err(code) => Err(code),
        })
    }

    /// Sets the data of `path` if its version is `version` (-1: any). ZooKeeper checks the ACL
    /// before the version, so a version the node does not have probes the right to write without
    /// writing: NoAuth when refused, BadVersion when it would be allowed.
    pub fn set_data(&mut self, path: &str, data: &[u8], version: i32) -> Result<Reply<()>> {
        let mut body = Vec::new();
        put_string(&mut body, path);
        put_buffer(&mut body, data);
        put_i32(&mut body, version);
        Ok(self.call(OP_SET_DATA, &body)?.map(drop))
    }

    /// Deletes `path` if its version is `version` (-1: any); the ACL (DELETE on the parent) is
    /// checked first, as for [`Session::set_data`].
    pub fn delete(&mut self, path: &str, version: i32) -> Result<Reply<()>> {
        let mut body = Vec::new();
        put_string(&mut body, path);
        put_i32(&mut body, version);
        Ok(self.call(OP_DELETE, &body)?.map(drop))
    }

    /// Ends the session (its ephemeral nodes, none here, would go at once).
    pub fn close(mut self) -> Result<()> {
        let _answer = self.call(OP_CLOSE, &[])?;
        Ok(())
    }

    /// Sends one request and reads frames until its reply: the body on success, else the code.
    fn call(&mut self, op: i32, body: &[u8]) -> Result<Reply<Vec<u8>>> {
        self.xid += 1;
        let mut request = Vec::with_capacity(8 + body.len());
        put_i32(&mut request, self.xid);
        put_i32(&mut request, op);
        request.extend_from_slice(body);
        write_frame(&mut self.stream, &request)?;
        loop {
            let frame = read_frame(&mut self.stream)
                .with_context(|| format!("ZooKeeper did not answer request {op}"))?;
            let mut reply = Reader(&frame);
            let xid = reply.i32()?;
            let _zxid = reply.i64()?;
            let error = reply.i32()?;
            if xid == XID_NOTIFICATION || xid == XID_PING {
                continue;
            }
            if xid != self.xid {
                bail!("ZooKeeper answered xid {xid} to request {}", self.xid);
            }
            return Ok(match error {
                0 => Ok(reply.0.to_vec()),
                code => Err(code),
            });
        }
    }
}

/// ZooKeeper's permission bits (READ 1, WRITE 2, CREATE 4, DELETE 8, ADMIN 16) as its CLI writes
/// them.
fn perms_text(perms: i32) -> String {
    [(4, 'c'), (8, 'd'), (1, 'r'), (2, 'w'), (16, 'a')]
        .iter()
        .filter(|(bit, _)| perms & bit != 0)
        .map(|(_, letter)| *letter)
        .collect()
}

fn put_i32(out: &mut Vec<u8>, value: i32) {
    out.extend_from_slice(&value.to_be_bytes());
}

fn put_i64(out: &mut Vec<u8>, value: i64) {
    out.extend_from_slice(&value.to_be_bytes());
}

fn put_buffer(out: &mut Vec<u8>, bytes: &[u8]) {
    put_i32(out, bytes.len() as i32);
    out.extend_from_slice(bytes);
}

fn put_string(out: &mut Vec<u8>, text: &str) {
    put_buffer(out, text.as_bytes());
}

fn write_frame(stream: &mut impl Write, body: &[u8]) -> Result<()> {
    let mut frame = Vec::with_capacity(4 + body.len());
    put_i32(&mut frame, body.len() as i32);
    frame.extend_from_slice(body);
    stream.write_all(&frame)?;
    stream.flush()?;
    Ok(())
}

fn read_frame(stream: &mut impl Read) -> Result<Vec<u8>> {
    let mut length = [0; 4];
    stream
        .read_exact(&mut length)
        .context("the connection closed")?;
    let length = i32::from_be_bytes(length);
    if length < 0 || length as usize > MAX_FRAME {
        bail!("a frame of {length} bytes: not ZooKeeper");
    }
    let mut frame = vec![0; length as usize];
    stream
        .read_exact(&mut frame)
        .context("the connection closed in a frame")?;
    Ok(frame)
}

/// Reads jute's big-endian fields off a frame.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        if self.0.len() < n {
            bail!("a frame shorter than its fields");
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_be_bytes(self.take(4)?.try_into()?))
    }

    fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_be_bytes(self.take(8)?.try_into()?))
    }

    fn buffer(&mut self) -> Result<Vec<u8>> {
        let length = self.i32()?;
        // -1 is jute's null buffer.
        Ok(match length {
            n if n < 0 => Vec::new(),
            n => self.take(n as usize)?.to_vec(),
        })
    }

    fn string(&mut self) -> Result<String> {
        Ok(String::from_utf8(self.buffer()?)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A stream that gives scripted answers and keeps what was written.
    struct Script {
        answers: Cursor<Vec<u8>>,
        written: Vec<u8>,
    }

    impl Read for Script {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.answers.read(buf)
        }
    }

    impl Write for Script {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.written.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        put_buffer(&mut out, body);
        out
    }

    fn reply(xid: i32, error: i32, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        put_i32(&mut out, xid);
        put_i64(&mut out, 7);
        put_i32(&mut out, error);
        out.extend_from_slice(body);
        frame(&out)
    }

    #[test]
    fn a_session_lists_children_and_sees_no_auth() {
        let mut connected = Vec::new();
        put_i32(&mut connected, 0);
        put_i32(&mut connected, 10_000);
        put_i64(&mut connected, 0x1234);
        put_buffer(&mut connected, &[0; 16]);
        let mut children = Vec::new();
        put_i32(&mut children, 2);
        put_string(&mut children, "json.info_0000000001");
        put_string(&mut children, "log_replicas");
        let mut answers = frame(&connected);
        // A ping's answer before the reply is skipped.
        answers.extend(reply(XID_PING, 0, &[]));
        answers.extend(reply(1, 0, &children));
        answers.extend(reply(2, NO_AUTH, &[]));
        answers.extend(reply(3, NO_AUTH, &[]));
        let script = Script {
            answers: Cursor::new(answers),
            written: Vec::new(),
        };
        let mut session = Session::connect(script, 10_000).unwrap();
        assert_eq!(session.session_id, 0x1234);
        assert_eq!(
            session.children("/mesos").unwrap().unwrap(),
            ["json.info_0000000001", "log_replicas"]
        );
        assert_eq!(
            session.set_data("/mesos/x", b"y", -1).unwrap(),
            Err(NO_AUTH)
        );
        assert_eq!(session.delete("/mesos/x", -1).unwrap(), Err(NO_AUTH));
        // The connect request: 4 + 8 + 4 + 8 + (4 + 16) + 1 bytes, after its length.
        let written = &session.stream.written;
        assert_eq!(&written[..4], &45i32.to_be_bytes());
        // The delete: xid 3, op 2, the path, version -1.
        let mut delete = Vec::new();
        put_i32(&mut delete, 3);
        put_i32(&mut delete, OP_DELETE);
        put_string(&mut delete, "/mesos/x");
        put_i32(&mut delete, -1);
        assert!(written.ends_with(&frame(&delete)));
        assert_eq!(code_name(NO_AUTH), "NoAuth (-102)");
        assert_eq!(perms_text(31), "cdrwa");
        assert_eq!(perms_text(1), "r");
    }

    #[test]
    fn a_refused_session_and_a_short_frame_are_errors() {
        let mut refused = Vec::new();
        put_i32(&mut refused, 0);
        put_i32(&mut refused, 0);
        put_i64(&mut refused, 0);
        put_buffer(&mut refused, &[]);
        let script = Script {
            answers: Cursor::new(frame(&refused)),
            written: Vec::new(),
        };
        assert!(Session::connect(script, 10_000).is_err());
        let script = Script {
            answers: Cursor::new(vec![0, 0, 0, 9, 1]),
            written: Vec::new(),
        };
        assert!(Session::connect(script, 10_000).is_err());
    }
}
