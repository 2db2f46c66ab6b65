//! The flat `<xml><key>value</key>…</xml>` documents of APIv2, read safely:
//! no DTD (so no entity expansion, no external entities), only the
//! predefined entities, a size cap, one level of fields, one `<xml>` root,
//! each field once.

use crate::text::cut;
use quick_xml::events::Event;
use quick_xml::Reader;
use serde_json::{Map, Value};

pub use crate::error::{XmlError, MAX_XML};

/// Reads `<xml><a>1</a><b><![CDATA[x]]></b></xml>` into `{"a":"1","b":"x"}`.
///
/// Refused, as WeChat Pay never sends them and each lets two readers of the
/// same bytes see different fields: a root other than `<xml>`, anything
/// after the root element (a second document), and a field given twice.
///
/// ```
/// use wechatpay_chain::v2::xml::parse;
///
/// let fields = parse(b"<xml><return_code><![CDATA[SUCCESS]]></return_code><total_fee>1</total_fee></xml>")?;
/// assert_eq!(fields["return_code"], "SUCCESS");
/// assert_eq!(fields["total_fee"], "1");
/// assert!(parse(b"<xml><total_fee>1</total_fee><total_fee>100</total_fee></xml>").is_err());
/// assert!(parse(b"<root><total_fee>1</total_fee></root>").is_err());
/// # Ok::<(), wechatpay_chain::v2::xml::XmlError>(())
/// ```
pub fn parse(document: &[u8]) -> Result<Map<String, Value>, XmlError> {
    parse_root(document, "xml")
}

/// Reads the decrypted `req_info` of a refund notification
/// ([`decrypt_req_info`](super::notify::decrypt_req_info)), which WeChat Pay
/// writes as `<root>…</root>`; otherwise as strict as [`parse`].
///
/// ```
/// use wechatpay_chain::v2::xml::parse_req_info;
///
/// let fields = parse_req_info(b"<root><out_refund_no>R1</out_refund_no></root>")?;
/// assert_eq!(fields["out_refund_no"], "R1");
/// # Ok::<(), wechatpay_chain::v2::xml::XmlError>(())
/// ```
pub fn parse_req_info(document: &[u8]) -> Result<Map<String, Value>, XmlError> {
    parse_root(document, "root")
}

/// Where the reader is, relative to the root element.
#[derive(PartialEq)]
enum Place {
    Before,
    Inside,
    After,
}

fn parse_root(document: &[u8], root: &str) -> Result<Map<String, Value>, XmlError> {
    if document.len() > MAX_XML {
        return Err(XmlError::TooLarge(document.len()));
    }
    // The parser's messages quote the document (a tag name, an entity):
    // cut, so that a hostile document cannot make a megabyte error.
    let malformed = |what: String| XmlError::Malformed(cut(what, MAX_MESSAGE));
    let after_root = || {
        malformed(format!(
            "content after the root element </{root}> (a second document?); WeChat Pay sends one"
        ))
    };
    let outside = |place: &Place| match place {
        Place::After => after_root(),
        _ => malformed(format!("text before the root element <{root}>")),
    };
    let mut reader = Reader::from_reader(document);
    reader.config_mut().trim_text(false);
    let mut fields = Map::new();
    let mut place = Place::Before;
    let mut depth = 0usize;
    let mut current: Option<(String, String)> = None;
    let mut buffer = Vec::new();
    loop {
        let event = reader
            .read_event_into(&mut buffer)
            .map_err(|e| malformed(e.to_string()))?;
        match event {
            Event::DocType(_) => return Err(XmlError::Dtd),
            Event::Start(_) | Event::Empty(_) if place == Place::After => return Err(after_root()),
            Event::Start(start) => {
                depth += 1;
                let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
                match depth {
                    1 => {
                        check_root(&name, root)?;
                        place = Place::Inside;
                    }
                    2 => current = Some((name, String::new())),
                    _ => {
                        return Err(malformed(format!(
                            "field `{}` is nested; APIv2 fields are flat",
                            shorten(&name)
                        )))
                    }
                }
            }
            Event::Empty(empty) => {
                let name = String::from_utf8_lossy(empty.name().as_ref()).into_owned();
                match depth {
                    // `<xml/>`: a document without fields
                    0 => {
                        check_root(&name, root)?;
                        place = Place::After;
                    }
                    1 => insert(&mut fields, name, String::new())?,
                    _ => {
                        return Err(malformed(format!(
                            "field `{}` is nested; APIv2 fields are flat",
                            shorten(&name)
                        )))
                    }
                }
            }
            Event::Text(text) if depth == 0 && !text.iter().all(u8::is_ascii_whitespace) => {
                return Err(outside(&place))
            }
            Event::CData(_) | Event::GeneralRef(_) if depth == 0 => return Err(outside(&place)),
            Event::Text(text) => {
                let text = text.decode().map_err(|e| malformed(e.to_string()))?;
                let text =
                    quick_xml::escape::unescape(&text).map_err(|e| malformed(e.to_string()))?;
                if let Some((_, value)) = current.as_mut() {
                    value.push_str(&text);
                }
            }
            Event::GeneralRef(reference) => {
                let name = reference.decode().map_err(|e| malformed(e.to_string()))?;
                let resolved = match name.as_ref() {
                    "lt" => "<".to_owned(),
                    "gt" => ">".to_owned(),
                    "amp" => "&".to_owned(),
                    "apos" => "'".to_owned(),
                    "quot" => "\"".to_owned(),
                    other => match reference.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string(),
                        _ => return Err(malformed(format!("unknown entity `&{other};`"))),
                    },
                };
                if let Some((_, value)) = current.as_mut() {
                    value.push_str(&resolved);
                }
            }
            Event::CData(data) => {
                if let Some((_, value)) = current.as_mut() {
                    value.push_str(&String::from_utf8_lossy(&data));
                }
            }
            Event::End(_) => {
                match depth {
                    1 => place = Place::After,
                    2 => {
                        if let Some((name, value)) = current.take() {
                            insert(&mut fields, name, value)?;
                        }
                    }
                    _ => {}
                }
                depth = depth.saturating_sub(1);
            }
            Event::Eof => break,
            _ => {}
        }
        buffer.clear();
    }
    if depth != 0 {
        return Err(malformed(
            "the document ends before its elements close".to_owned(),
        ));
    }
    if place == Place::Before {
        return Err(malformed(format!("no <{root}> document")));
    }
    Ok(fields)
}

/// Adds a field; one seen twice is refused, since first-wins and last-wins
/// readers would disagree on the same signed bytes.
fn insert(fields: &mut Map<String, Value>, name: String, value: String) -> Result<(), XmlError> {
    if fields.contains_key(&name) {
        return Err(XmlError::Malformed(format!(
            "field `{}` appears twice; WeChat Pay never repeats a field",
            shorten(&name)
        )));
    }
    fields.insert(name, Value::String(value));
    Ok(())
}

/// Refuses a root element other than `<expected>`.
fn check_root(name: &str, expected: &str) -> Result<(), XmlError> {
    if name == expected {
        Ok(())
    } else {
        Err(XmlError::Malformed(format!(
            "the root element is <{}>, expected <{expected}>",
            shorten(name)
        )))
    }
}

/// Longest error message made from a document's text (bytes).
const MAX_MESSAGE: usize = 1024;

/// A name from the document, cut for an error message.
fn shorten(name: &str) -> String {
    match name.char_indices().nth(64) {
        Some((end, _)) => format!("{}…", &name[..end]),
        None => name.to_owned(),
    }
}

/// How many non-blank bytes are enough to tell an XML document from a file.
pub(crate) const SNIFF_BYTES: usize = 16;

/// How far a download is read to find them: what comes after this many
/// blanks is a file, since a refusal starts at once.
pub(crate) const SNIFF_LIMIT: usize = 64 << 10;

/// Whether `bytes` starts an XML document (after a BOM and blanks): an
/// `<?xml` declaration or an `<xml>` root. Files (CSV, gzip) never do.
pub(crate) fn looks_like_document(bytes: &[u8]) -> bool {
    let bytes = bytes.trim_ascii_start();
    let bytes = bytes
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(bytes)
        .trim_ascii_start();
    bytes.starts_with(b"<?xml")
        || bytes.strip_prefix(b"<xml").is_some_and(|rest| {
            matches!(
                rest.first(),
                Some(b'>' | b'/' | b' ' | b'\t' | b'\r' | b'\n')
            )
        })
}

/// Writes flat fields as `<xml>…</xml>`, values escaped. Names must be XML
/// names and values scalars.
///
/// ```
/// use wechatpay_chain::json;
/// use wechatpay_chain::v2::xml::write;
///
/// let xml = write(json!({"body": "a<b", "total_fee": 1}).as_object().unwrap())?;
/// assert_eq!(xml, "<xml><body>a&lt;b</body><total_fee>1</total_fee></xml>");
/// # Ok::<(), String>(())
/// ```
pub fn write(fields: &Map<String, Value>) -> Result<String, String> {
    let mut out = String::from("<xml>");
    for (name, value) in fields {
        let valid_name = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_name {
            return Err(format!("`{name}` is not a valid APIv2 field name"));
        }
        let text = super::sign::scalar(value).ok_or_else(|| {
            format!("`{name}` is an object or array; APIv2 fields are flat (serialize nested values to a JSON string)")
        })?;
        if let Some(c) = text
            .chars()
            .find(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        {
            return Err(format!(
                "`{name}` holds the control character U+{:04X}, which XML cannot carry",
                u32::from(c)
            ));
        }
        // A raw CR would reach WeChat Pay's parser as LF (XML 1.0 §2.11) and
        // no longer match the signed value; as a reference it stays a CR.
        let escaped = quick_xml::escape::escape(&text).replace('\r', "&#13;");
        out.push_str(&format!("<{name}>{escaped}</{name}>"));
    }
    out.push_str("</xml>");
    Ok(out)
}
