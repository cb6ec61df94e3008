//! A minimal HTTP/1.1 sender for very large request bodies: it reads the answer
//! while the body is still being written, so a target that answers early (413)
//! and closes the connection is judged on that answer, not on a broken pipe.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An answer read off the wire: status, lowercase headers, decoded body.
pub(crate) struct RawAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Sends one request on a fresh connection (`Connection: close`) to a plain
/// `http://` URL. Only the first `max_answer` bytes of the answer are accepted.
pub(crate) async fn send_raw(
    url: &url::Url,
    method: &str,
    headers: &[(String, String)],
    body: &[u8],
    timeout: Duration,
    max_answer: usize,
) -> Result<RawAnswer, String> {
    let host = url
        .host_str()
        .ok_or_else(|| format!("url {:?} has no host", url.as_str()))?;
    let port = url.port_or_known_default().unwrap_or(80);
    let work = async {
        let stream = TcpStream::connect((host, port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let (mut reader, mut writer) = stream.into_split();

        let mut head = format!(
            "{method} {}",
            &url[url::Position::BeforePath..url::Position::AfterQuery]
        );
        head.push_str(&format!(
            " HTTP/1.1\r\nhost: {host}:{port}\r\nconnection: close\r\n"
        ));
        head.push_str(&format!("content-length: {}\r\n", body.len()));
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");

        // A write error after the head is expected when the target answers early.
        let write = async {
            writer.write_all(head.as_bytes()).await.ok();
            writer.write_all(body).await.ok();
            writer.flush().await.ok();
            std::future::pending::<()>().await
        };
        let read = async {
            let mut answer = Vec::new();
            let mut buffer = vec![0u8; 64 * 1024];
            loop {
                let read = reader
                    .read(&mut buffer)
                    .await
                    .map_err(|e| format!("read: {e}"))?;
                if read == 0 {
                    return Ok::<_, String>(answer);
                }
                if answer.len() + read > max_answer {
                    return Err(format!("the answer body exceeds {max_answer} bytes"));
                }
                answer.extend_from_slice(&buffer[..read]);
                if complete(&answer) {
                    return Ok(answer);
                }
            }
        };
        let answer = tokio::select! {
            answer = read => answer?,
            () = write => unreachable!("the writer never finishes on its own"),
        };
        parse(&answer)
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| format!("no answer within {timeout:?}"))?
}

/// Whether `bytes` holds a whole answer whose length its head declares.
fn complete(bytes: &[u8]) -> bool {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    let Ok(httparse::Status::Complete(head_length)) = response.parse(bytes) else {
        return false;
    };
    let length = response
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"));
    let length = length.and_then(|h| {
        std::str::from_utf8(h.value)
            .ok()?
            .trim()
            .parse::<usize>()
            .ok()
    });
    length.is_some_and(|length| bytes.len() >= head_length + length)
}

fn parse(bytes: &[u8]) -> Result<RawAnswer, String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    let head_length = match response.parse(bytes) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => {
            return Err("the connection closed inside the answer head".into());
        }
        Err(error) => return Err(format!("the answer is not HTTP: {error}")),
    };
    let status = response.code.unwrap_or(0);
    let headers: Vec<(String, String)> = response
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let raw_body = &bytes[head_length..];
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(raw_body)?
    } else {
        raw_body.to_vec()
    };
    Ok(RawAnswer {
        status,
        headers,
        body,
    })
}

/// Decodes a chunked body; trailers are ignored.
fn dechunk(mut bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line_end = bytes
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a chunk size line is cut off")?;
        let size_text = String::from_utf8_lossy(&bytes[..line_end]);
        let size_text = size_text
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        let size = usize::from_str_radix(&size_text, 16)
            .map_err(|_| format!("chunk size {size_text:?} is not hex"))?;
        bytes = &bytes[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = bytes.get(..size).ok_or("a chunk is cut off")?;
        body.extend_from_slice(chunk);
        bytes = bytes.get(size + 2..).unwrap_or_default();
    }
}
