//! The **webhook receiver**: a small HTTP/1.1 server on 127.0.0.1 that answers every
//! request 200 and notes when each arrived, its path and its body. Argus's notifier and
//! Alertmanager post their webhook bodies to it (`/argus`, `/prometheus`). Stopped when
//! dropped.

use anyhow::Context as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One request received.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub at: Instant,
    pub path: String,
    pub body: Vec<u8>,
}

pub struct Hook {
    pub port: u16,
    received: Arc<Mutex<Vec<Delivery>>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Hook {
    pub fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").context("webhook receiver: bind")?;
        let port = listener.local_addr()?.port();
        // Non-blocking accept, so the loop sees the stop flag.
        listener.set_nonblocking(true)?;
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (received.clone(), stop.clone());
        let accept = std::thread::spawn(move || {
            let mut conns = Vec::new();
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (r, s) = (r.clone(), s.clone());
                        conns.push(std::thread::spawn(move || serve(stream, &r, &s)));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
            for c in conns {
                let _ = c.join();
            }
        });
        Ok(Hook {
            port,
            received,
            stop,
            accept: Some(accept),
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Everything received so far.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.received.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl Drop for Hook {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

/// Serves one keep-alive connection until it closes or the receiver stops.
fn serve(stream: TcpStream, received: &Mutex<Vec<Delivery>>, stop: &AtomicBool) {
    let _ = stream.set_nonblocking(false);
    // Wake up now and then to see the stop flag.
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    while !stop.load(Ordering::Relaxed) {
        let mut line = String::new();
        if read_patiently(&mut reader, &mut line, stop).is_err() {
            return;
        }
        if line.trim().is_empty() {
            continue;
        }
        let at = Instant::now();
        let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
        let mut length = 0usize;
        loop {
            let mut h = String::new();
            if read_patiently(&mut reader, &mut h, stop).is_err() {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        let mut got = 0;
        while got < length {
            match reader.read(&mut body[got..]) {
                Ok(0) => return,
                Ok(n) => got += n,
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                }
                Err(_) => return,
            }
        }
        if let Ok(mut v) = received.lock() {
            v.push(Delivery { at, path, body });
        }
        if writer
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}

/// A line (partial reads kept), waiting through read timeouts (a slow sender) until the receiver stops.
fn read_patiently(
    reader: &mut BufReader<TcpStream>,
    line: &mut String,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    loop {
        match reader.read_line(line) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(_) => return Ok(()),
            Err(e)
                if (e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut)
                    && !stop.load(Ordering::Relaxed) => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_posts_on_a_kept_alive_connection() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let hook = Hook::start().unwrap_or_else(|e| panic!("{e:#}"));
        let c = reqwest::blocking::Client::new();
        for body in ["one", "two"] {
            let r = c
                .post(hook.url("/argus"))
                .body(body)
                .send()
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(r.status(), 200);
        }
        let d = hook.deliveries();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].path, "/argus");
        assert_eq!(d[1].body, b"two");
    }
}
