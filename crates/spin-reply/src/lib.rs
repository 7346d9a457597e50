//! Sends a complete HTTP response from a Spin component (WASIp2) so that the server
//! can write its head and body in one go.
//!
//! spin-sdk hands the response to the host first and writes the body afterwards.
//! Spin's HTTP server writes the head as soon as it has it, and when the body comes
//! a moment later it goes out as a second small TCP segment. Spin leaves Nagle's
//! algorithm on for its connections, so that segment waits for the client to
//! acknowledge the first, which a client delays by up to 40 ms (delayed ACK): under
//! real Spin 3.6.3 a component that makes a host call (variables, key-value) before
//! answering would take that long on every response. Writing the body (and finishing it)
//! before handing the response over avoids that: the head and the body are there
//! together when the server looks.
//!
//! The host buffers one write of up to its chunk size (1 MiB in wasmtime) without a
//! reader; a larger body is handed over first and streamed as usual.

use spin_sdk::http::{Fields, OutgoingBody, OutgoingResponse, ResponseOutparam};

/// Sends `status`, `headers` and `body` as the response.
pub fn send(out: ResponseOutparam, status: u16, headers: &[(&str, &str)], body: &[u8]) {
    let fields = Fields::new();
    for (name, value) in headers {
        // A header the host refuses (a forbidden name) is left out, not fatal.
        let _ = fields.append(name, value.as_bytes());
    }
    let response = OutgoingResponse::new(fields);
    let _ = response.set_status_code(status);
    let Ok(outgoing) = response.body() else {
        return out.set(response);
    };
    let Ok(stream) = outgoing.write() else {
        return out.set(response);
    };
    // What the host takes before anyone reads.
    let budget = stream.check_write().unwrap_or(0) as usize;
    if body.len() <= budget {
        if !body.is_empty() && stream.write(body).is_err() {
            return out.set(response);
        }
        drop(stream);
        let _ = OutgoingBody::finish(outgoing, None);
        return out.set(response);
    }
    out.set(response);
    // Too large to hold: stream it to the reader the server now is.
    for chunk in body.chunks(4096) {
        if stream.blocking_write_and_flush(chunk).is_err() {
            return;
        }
    }
    drop(stream);
    let _ = OutgoingBody::finish(outgoing, None);
}
