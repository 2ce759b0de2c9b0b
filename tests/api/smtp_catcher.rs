//! A small SMTP server for the tests: speaks EHLO/HELO, MAIL FROM, RCPT TO, DATA, RSET, NOOP and
//! QUIT over plain TCP, keeps each message's envelope and raw data, and can be stopped and started
//! again on the same port, refuse with a 4xx or 5xx on demand, or hold back its final 250 after
//! DATA (the message is kept first, as a real server that accepted it would have). Used by
//! tests/api/email.rs and, through `#[path]`, by tests/processes.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// One message as the catcher received it.
#[derive(Debug, Clone)]
pub struct Caught {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The DATA, dot-unstuffed, lines joined with CRLF.
    pub data: String,
}

/// How the catcher answers `MAIL FROM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Accept,
    /// `451`: try again later.
    Defer,
    /// `550`: refused for good.
    Refuse,
}

struct Shared {
    messages: Mutex<Vec<Caught>>,
    mode: Mutex<Mode>,
    /// How long to wait after the final dot of DATA before answering 250.
    hold_after_data: Mutex<Duration>,
    arrived: tokio::sync::Notify,
}

pub struct SmtpCatcher {
    shared: Arc<Shared>,
    address: SocketAddr,
    /// The accept loop and every open connection; stopping aborts them all.
    tasks: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl SmtpCatcher {
    /// Starts on a free port of 127.0.0.1.
    pub async fn start() -> SmtpCatcher {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let catcher = SmtpCatcher {
            shared: Arc::new(Shared {
                messages: Mutex::new(Vec::new()),
                mode: Mutex::new(Mode::Accept),
                hold_after_data: Mutex::new(Duration::ZERO),
                arrived: tokio::sync::Notify::new(),
            }),
            address,
            tasks: Mutex::new(None),
        };
        catcher.serve(listener);
        catcher
    }

    /// `SMTP_URL` for this catcher.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}?tls=none", self.address.port())
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    fn serve(&self, listener: TcpListener) {
        let shared = self.shared.clone();
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        if let Ok((stream, _)) = accepted {
                            connections.spawn(session(stream, shared.clone()));
                        }
                    }
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
            // Dropping the JoinSet (when this task is aborted) aborts every connection.
        });
        *self.tasks.lock().unwrap() = Some(task);
    }

    /// Stops listening and drops every open connection: the port refuses connections.
    pub async fn stop(&self) {
        let task = self.tasks.lock().unwrap().take();
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
    }

    /// Listens again on the same port.
    pub async fn resume(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match TcpListener::bind(self.address).await {
                Ok(listener) => break listener,
                Err(err) if Instant::now() < deadline => {
                    let _ = err;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(err) => panic!("rebinding {}: {err}", self.address),
            }
        };
        self.serve(listener);
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
    }

    pub fn hold_after_data(&self, hold: Duration) {
        *self.shared.hold_after_data.lock().unwrap() = hold;
    }

    pub fn messages(&self) -> Vec<Caught> {
        self.shared.messages.lock().unwrap().clone()
    }

    /// Waits until at least `count` messages arrived (panics after `timeout`) and returns all.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Caught> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let arrived = self.shared.arrived.notified();
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                let messages = self.messages();
                if messages.len() >= count {
                    return messages;
                }
                panic!(
                    "expected {count} emails within {timeout:?}, got {}: {:#?}",
                    messages.len(),
                    messages
                        .iter()
                        .map(|m| (m.rcpt_to.clone(), m.header("Subject")))
                        .collect::<Vec<_>>()
                );
            }
        }
    }
}

async fn session(stream: TcpStream, shared: Arc<Shared>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    if write
        .write_all(b"220 catcher ESMTP ready\r\n")
        .await
        .is_err()
    {
        return;
    }
    let mut mail_from: Option<String> = None;
    let mut rcpt_to: Vec<String> = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let command = line.trim_end_matches(['\r', '\n']).to_string();
        let verb = command
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let answer: String = match verb.as_str() {
            "EHLO" => "250-catcher\r\n250-8BITMIME\r\n250 SIZE 10485760".into(),
            "HELO" => "250 catcher".into(),
            "MAIL" => {
                let mode = *shared.mode.lock().unwrap();
                match mode {
                    Mode::Accept => {
                        mail_from = Some(angle(&command));
                        rcpt_to.clear();
                        "250 2.1.0 OK".into()
                    }
                    Mode::Defer => "451 4.3.0 Try again later".into(),
                    Mode::Refuse => "550 5.7.1 Refused".into(),
                }
            }
            "RCPT" => {
                if mail_from.is_none() {
                    "503 5.5.1 MAIL first".into()
                } else {
                    rcpt_to.push(angle(&command));
                    "250 2.1.5 OK".into()
                }
            }
            "DATA" => {
                if mail_from.is_none() || rcpt_to.is_empty() {
                    "503 5.5.1 RCPT first".into()
                } else {
                    if write
                        .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                        .await
                        .is_err()
                    {
                        return;
                    }
                    let mut data = Vec::new();
                    loop {
                        line.clear();
                        match lines.read_line(&mut line).await {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {}
                        }
                        let text = line.trim_end_matches(['\r', '\n']);
                        if text == "." {
                            break;
                        }
                        data.push(text.strip_prefix('.').unwrap_or(text).to_string());
                    }
                    shared.messages.lock().unwrap().push(Caught {
                        mail_from: mail_from.take().unwrap_or_default(),
                        rcpt_to: std::mem::take(&mut rcpt_to),
                        data: data.join("\r\n"),
                    });
                    shared.arrived.notify_waiters();
                    let hold = *shared.hold_after_data.lock().unwrap();
                    if !hold.is_zero() {
                        tokio::time::sleep(hold).await;
                    }
                    "250 2.0.0 Queued".into()
                }
            }
            "RSET" => {
                mail_from = None;
                rcpt_to.clear();
                "250 2.0.0 OK".into()
            }
            "NOOP" => "250 2.0.0 OK".into(),
            "QUIT" => {
                let _ = write.write_all(b"221 2.0.0 Bye\r\n").await;
                return;
            }
            _ => "502 5.5.2 Command not recognized".into(),
        };
        if write
            .write_all(format!("{answer}\r\n").as_bytes())
            .await
            .is_err()
        {
            return;
        }
    }
}

/// The address between `<` and `>` of a MAIL FROM or RCPT TO command.
fn angle(command: &str) -> String {
    match (command.find('<'), command.rfind('>')) {
        (Some(open), Some(close)) if open < close => command[open + 1..close].to_string(),
        _ => command.split(':').nth(1).unwrap_or("").trim().to_string(),
    }
}

impl Caught {
    /// The header block: everything before the first empty line.
    pub fn headers(&self) -> &str {
        self.data.split("\r\n\r\n").next().unwrap_or("")
    }

    /// A top-level header's value (folded lines joined), if present.
    pub fn header(&self, name: &str) -> Option<String> {
        header_in(self.headers(), name)
    }

    /// The decoded body of the part with this content type (`text/plain` or `text/html`).
    pub fn part(&self, content_type: &str) -> Option<String> {
        let boundary = self
            .header("Content-Type")
            .and_then(|v| {
                v.split("boundary=")
                    .nth(1)
                    .map(|b| b.trim_matches('"').to_string())
            })
            .map(|b| {
                b.split(';')
                    .next()
                    .unwrap_or("")
                    .trim_matches('"')
                    .to_string()
            });
        let boundary = boundary?;
        for part in self.data.split(&format!("--{boundary}")) {
            let part = part.trim_start_matches("\r\n");
            let (head, body) = part.split_once("\r\n\r\n")?;
            let kind = header_in(head, "Content-Type").unwrap_or_default();
            if !kind.to_ascii_lowercase().starts_with(content_type) {
                continue;
            }
            let body = body.trim_end_matches("\r\n");
            let encoding = header_in(head, "Content-Transfer-Encoding")
                .unwrap_or_default()
                .to_ascii_lowercase();
            return Some(match encoding.as_str() {
                "quoted-printable" => quoted_printable(body),
                "base64" => base64(body),
                _ => body.to_string(),
            });
        }
        None
    }

    pub fn text(&self) -> String {
        self.part("text/plain").unwrap_or_default()
    }

    pub fn html(&self) -> String {
        self.part("text/html").unwrap_or_default()
    }
}

fn header_in(headers: &str, name: &str) -> Option<String> {
    let mut value: Option<String> = None;
    for line in headers.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(v) = value.as_mut() {
                v.push(' ');
                v.push_str(line.trim());
                continue;
            }
        } else if value.is_some() {
            break;
        }
        if let Some((key, rest)) = line.split_once(':') {
            if key.eq_ignore_ascii_case(name) {
                value = Some(rest.trim().to_string());
            }
        }
    }
    value
}

fn quoted_printable(body: &str) -> String {
    let joined = body.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(byte) = u8::from_str_radix(hex, 16) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn base64(body: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut buffer = 0u32;
    let mut bits = 0;
    for c in body.bytes() {
        let Some(value) = ALPHABET.iter().position(|&a| a == c) else {
            continue;
        };
        buffer = (buffer << 6) | value as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
