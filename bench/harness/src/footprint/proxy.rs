//! A **counting proxy**: a TCP relay on 127.0.0.1 between the Argus agent and its sink
//! server that counts the bytes each way, so the report can say how many bytes the agent
//! put on the wire (its gzip bodies plus HTTP framing), as it does for collectd's UDP
//! packets and node_exporter's scrapes.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

#[derive(Default)]
pub struct Traffic {
    /// Agent → server.
    pub sent: AtomicU64,
    /// Server → agent.
    pub answered: AtomicU64,
    pub connections: AtomicU64,
}

pub struct Proxy {
    pub addr: SocketAddr,
    pub traffic: Arc<Traffic>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    /// Listens on a free port and relays every connection to `upstream`.
    pub fn start(upstream: SocketAddr) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let traffic = Arc::new(Traffic::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (t, s) = (traffic.clone(), stop.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if s.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(upstream) else {
                    continue; // the agent sees a closed connection and retries
                };
                t.connections.fetch_add(1, Ordering::Relaxed);
                relay(client, server, t.clone());
            }
        });
        Ok(Self {
            addr,
            traffic,
            stop,
        })
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wakes the accept loop so that it sees the flag and ends.
        let _ = TcpStream::connect(self.addr);
    }
}

/// Copies both ways on two threads; each direction's end is passed on as a half-close.
fn relay(client: TcpStream, server: TcpStream, traffic: Arc<Traffic>) {
    let pipe = |from: &TcpStream, to: &TcpStream, upstream: bool| -> std::io::Result<()> {
        let (mut from, mut to) = (from.try_clone()?, to.try_clone()?);
        let t = traffic.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            loop {
                let n = match from.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                // Counted before it is passed on: whoever sees the bytes sees them counted.
                let counter = if upstream { &t.sent } else { &t.answered };
                counter.fetch_add(n as u64, Ordering::Relaxed);
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            let _ = to.shutdown(Shutdown::Write);
            let _ = from.shutdown(Shutdown::Read);
        });
        Ok(())
    };
    let _ = pipe(&client, &server, true);
    let _ = pipe(&server, &client, false);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_both_directions() {
        let upstream = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let up_addr = upstream.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let echo = std::thread::spawn(move || {
            let (mut s, _) = upstream.accept().unwrap_or_else(|e| panic!("{e}"));
            let mut got = Vec::new();
            s.read_to_end(&mut got).unwrap_or_else(|e| panic!("{e}"));
            s.write_all(&got[..3]).unwrap_or_else(|e| panic!("{e}"));
        });
        let proxy = Proxy::start(up_addr).unwrap_or_else(|e| panic!("{e}"));
        let mut c = TcpStream::connect(proxy.addr).unwrap_or_else(|e| panic!("{e}"));
        c.write_all(b"hello world")
            .unwrap_or_else(|e| panic!("{e}"));
        c.shutdown(Shutdown::Write)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut back = Vec::new();
        c.read_to_end(&mut back).unwrap_or_else(|e| panic!("{e}"));
        echo.join().unwrap_or_else(|_| panic!("echo thread"));
        assert_eq!(back, b"hel");
        assert_eq!(proxy.traffic.sent.load(Ordering::Relaxed), 11);
        assert_eq!(proxy.traffic.answered.load(Ordering::Relaxed), 3);
        assert_eq!(proxy.traffic.connections.load(Ordering::Relaxed), 1);
    }
}
