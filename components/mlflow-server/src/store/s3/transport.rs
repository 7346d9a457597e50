//! The HTTP exchange the S3 store needs ([`ObjectHttp`]): one presigned request with a
//! buffered body (at most one upload part), and an answer whose body is read a piece
//! at a time. The component sends through Spin's outbound HTTP (`super::wasi_http`);
//! the unit tests through a native client against a real S3 server.

use crate::error::ObjectStoreError;
use url::Url;

/// Sends one request and hands back the answer once its head has arrived.
pub trait ObjectHttp {
    fn send(
        &self,
        method: rusty_s3::Method,
        url: &Url,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<HttpReply, ObjectStoreError>;
}

/// An answer: status, headers (names in lower case) and the body still to read.
pub struct HttpReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Box<dyn ReplyBody>,
}

/// The body of an answer, read a piece at a time.
pub trait ReplyBody {
    /// The next piece (at most `max` bytes); `None` at the end.
    fn read(&mut self, max: usize) -> Result<Option<Vec<u8>>, ObjectStoreError>;
}

/// The most of an answer's body read into memory (listings, errors, upload ids);
/// object bodies are streamed instead.
const MAX_SMALL_BODY: usize = 16 << 20;

impl HttpReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The whole body as text (S3's XML), bounded.
    pub fn text(mut self) -> Result<String, ObjectStoreError> {
        let mut bytes = Vec::new();
        while let Some(piece) = self.body.read(64 << 10)? {
            if bytes.len() + piece.len() > MAX_SMALL_BODY {
                return Err(ObjectStoreError::Malformed(format!(
                    "an answer of more than {MAX_SMALL_BODY} bytes"
                )));
            }
            bytes.extend(piece);
        }
        String::from_utf8(bytes)
            .map_err(|_| ObjectStoreError::Malformed("an answer that is not UTF-8".into()))
    }

    /// The error an unsuccessful answer carries: S3's `<Error><Code>` and `<Message>`,
    /// or the bare status when the body has none (a HEAD, a proxy's page).
    pub fn into_error(self) -> ObjectStoreError {
        let status = self.status;
        let body = self.text().unwrap_or_default();
        let code = xml_text(&body, "Code").unwrap_or_else(|| format!("HTTP{status}"));
        let mut message = xml_text(&body, "Message").unwrap_or_default();
        if let Some(bucket) = xml_text(&body, "BucketName") {
            message = format!("{message} (bucket '{bucket}')");
        }
        ObjectStoreError::Status {
            status,
            code,
            message,
        }
    }
}

/// The text of the first `<tag>` element of an XML document, unescaped.
pub fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    Some(
        xml[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_error_bodies() {
        let xml = "<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code>\
                   <Message>The specified bucket does not exist &amp; more</Message>\
                   <BucketName>b</BucketName></Error>";
        assert_eq!(xml_text(xml, "Code").as_deref(), Some("NoSuchBucket"));
        assert_eq!(
            xml_text(xml, "Message").as_deref(),
            Some("The specified bucket does not exist & more")
        );
        assert_eq!(xml_text(xml, "Key"), None);
        assert_eq!(xml_text("<Code>unterminated", "Code"), None);
    }
}
