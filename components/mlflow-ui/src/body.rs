//! Sends a file as the response body without holding it in memory: read in
//! `CHUNK`-sized pieces and written as fast as the host takes them.
//!
//! The response is handed to the host only once its body pipe is full, or once the
//! whole file is in it. Small files (most of the UI) thus leave with their head in
//! one go, which keeps Spin's HTTP server clear of the Nagle/delayed-ACK stall
//! described in `spin-reply`; large ones (the main bundle is ~4 MiB) stream.

use spin_sdk::http::{Fields, OutgoingBody, OutgoingResponse, ResponseOutparam};
use std::io::Read;

/// Bytes read from the file per step: the component's only buffer.
const CHUNK: usize = 64 << 10;

/// Response headers as the host wants them. A header it refuses is left out.
pub fn fields(headers: &[(&str, &str)]) -> Fields {
    let fields = Fields::new();
    for (name, value) in headers {
        let _ = fields.append(name, value.as_bytes());
    }
    fields
}

/// Answers `status` with `headers` and `file`'s bytes as the body. If the file
/// cannot be read to its end, the body is left unfinished, which the host reports
/// to the client as a failed response rather than a short file (before the
/// response is handed over, that is a 500 from the host).
pub fn send_file(
    out: ResponseOutparam,
    status: u16,
    headers: &[(&str, &str)],
    mut file: impl Read,
) {
    let response = OutgoingResponse::new(fields(headers));
    let _ = response.set_status_code(status);
    let Ok(body) = response.body() else {
        return out.set(response);
    };
    let Ok(stream) = body.write() else {
        return out.set(response);
    };
    let mut pending = Some((out, response));
    let mut buf = vec![0; CHUNK];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(_) => return,
        };
        let mut data = &buf[..n];
        while !data.is_empty() {
            let Ok(permit) = stream.check_write() else {
                return; // the client has gone
            };
            if permit == 0 {
                // The host holds no more until the server reads: let it.
                hand_over(&mut pending);
                stream.subscribe().block();
                continue;
            }
            let take = data
                .len()
                .min(usize::try_from(permit).unwrap_or(usize::MAX));
            if stream.write(&data[..take]).is_err() {
                return;
            }
            data = &data[take..];
        }
    }
    if pending.is_none() {
        let _ = stream.blocking_flush();
    }
    drop(stream);
    let _ = OutgoingBody::finish(body, None);
    hand_over(&mut pending);
}

fn hand_over(pending: &mut Option<(ResponseOutparam, OutgoingResponse)>) {
    if let Some((out, response)) = pending.take() {
        out.set(response);
    }
}
