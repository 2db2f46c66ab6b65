//! Adversarial tests of the mock's front door (feature `mock`): what a
//! stranger who opens TCP connections to it can make it hold. Each test is
//! a break an adversarial review found (issue 26): it failed on the code it
//! was written against and passes since the fix. Real sockets on loopback;
//! the assertions are on what the mock answers, not on timings.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use wechatpay_chain::mock::{MockServer, BODY_BUDGET, MAX_BODY};

/// Connections the attack opens (issue 26: 48 of them pinned 389 MiB).
const ATTACKERS: usize = 48;

/// Opens a connection announcing `MAX_BODY` bytes of a JSON body, sends all
/// but the last byte (stopping when the mock cuts it off), and reads the
/// status line the mock answers with: `None` when it answers nothing
/// within `patience` (it still holds the connection and what came on it).
/// The answer is read while the body is still being sent: a mock that
/// answers early and closes must not have its answer lost to the reset.
fn announce_and_stall(address: SocketAddr, patience: Duration) -> Option<String> {
    let mut stream = TcpStream::connect(address).ok()?;
    stream.set_read_timeout(Some(patience)).ok()?;
    stream.set_write_timeout(Some(patience)).ok()?;
    let mut writer = stream.try_clone().ok()?;
    let sending = std::thread::spawn(move || {
        let head = format!(
            "POST /v3/pay/transactions/native HTTP/1.1\r\nHost: {address}\r\n\
             Content-Type: application/json\r\nContent-Length: {MAX_BODY}\r\n\r\n"
        );
        if writer.write_all(head.as_bytes()).is_err() {
            return;
        }
        let chunk = vec![b'a'; 64 << 10];
        let mut left = MAX_BODY - 1;
        while left > 0 {
            let n = left.min(chunk.len());
            // A refused connection is closed by the mock: the write fails.
            if writer.write_all(&chunk[..n]).is_err() {
                return;
            }
            left -= n;
        }
    });
    let status = read_status(&mut stream);
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let _ = sending.join();
    status
}

fn read_status(stream: &mut TcpStream) -> Option<String> {
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).ok()?;
    (!line.is_empty()).then(|| line.trim_end().to_owned())
}

/// 48 connections each announce an 8 MiB body and send one byte less, the
/// way issue 26 pinned 389 MiB. A bounded mock holds the bodies of only a
/// few unfinished requests at a time (`BODY_BUDGET`): it answers the others
/// at once (503, its budget of unfinished bodies spent) and those it holds
/// when their body does not complete in time (408, `BODY_TIMEOUT`). Every
/// connection gets an answer; none is left holding memory. The old mock
/// read every byte of all 48 and answered none within a minute.
#[test]
fn unfinished_bodies_are_bounded_and_answered() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(MockServer::start()).unwrap();
    let address = server.address();
    let patience = Duration::from_secs(60);
    let attackers: Vec<_> = (0..ATTACKERS)
        .map(|_| std::thread::spawn(move || announce_and_stall(address, patience)))
        .collect();
    let answers: Vec<Option<String>> = attackers.into_iter().map(|t| t.join().unwrap()).collect();
    let status = |line: &Option<String>| {
        line.as_deref()
            .and_then(|l| l.split(' ').nth(1))
            .map(str::to_owned)
    };
    let unanswered = answers.iter().filter(|a| a.is_none()).count();
    assert_eq!(unanswered, 0, "connections left unanswered: {answers:?}");
    let busy = answers
        .iter()
        .filter(|a| status(a).as_deref() == Some("503"))
        .count();
    let timed_out = answers
        .iter()
        .filter(|a| status(a).as_deref() == Some("408"))
        .count();
    assert_eq!(busy + timed_out, ATTACKERS, "{answers:?}");
    // the budget holds a handful of 8 MiB bodies, not 48
    assert!(
        (1..=BODY_BUDGET / MAX_BODY).contains(&timed_out),
        "{timed_out} bodies held at once: {answers:?}"
    );

    // and the mock still serves: a signed call goes through
    let client = server.client().unwrap();
    let answered = runtime.block_on(client["v3/certificates"].get(()));
    assert!(answered.is_ok(), "{answered:?}");
    drop(server);
}

/// A `Content-Length` over what any route can take is refused before a byte
/// of the body is read: the answer comes although the body never does.
#[test]
fn a_content_length_over_the_limit_is_refused_before_the_body() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(MockServer::start()).unwrap();
    let address = server.address();
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "POST /v3/pay/transactions/native HTTP/1.1\r\nHost: {address}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{{",
        MAX_BODY + 1
    );
    stream.write_all(head.as_bytes()).unwrap();
    let status = read_status(&mut stream);
    // WeChat Pay's shape for a body it will not read: 400 PARAM_ERROR
    assert_eq!(status.as_deref(), Some("HTTP/1.1 400 Bad Request"));
    drop(server);
}
