//! The flat `<xml><key>value</key>…</xml>` documents of APIv2, read safely:
//! no DTD (so no entity expansion, no external entities), only the
//! predefined entities, a size cap, one level of fields.

use quick_xml::events::Event;
use quick_xml::Reader;
use serde_json::{Map, Value};

/// Largest APIv2 document read.
pub const MAX_XML: usize = 1 << 20;

/// Why an XML document was refused.
///
/// ```
/// use wechatpay_chain::v2::xml::{parse, XmlError};
/// assert_eq!(parse(b"<!DOCTYPE x><xml/>"), Err(XmlError::Dtd));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum XmlError {
    /// Larger than [`MAX_XML`].
    #[error("the XML document is {0} bytes, over the {MAX_XML}-byte limit")]
    TooLarge(usize),
    /// A `<!DOCTYPE>`: refused, as it is how entity bombs and external
    /// entities come in.
    #[error("the XML document has a DTD (<!DOCTYPE …>), which is refused")]
    Dtd,
    /// Not well-formed, truncated, or not `<xml>` with flat fields.
    #[error("not an APIv2 XML document: {0}")]
    Malformed(String),
}

/// Reads `<xml><a>1</a><b><![CDATA[x]]></b></xml>` into `{"a":"1","b":"x"}`.
///
/// ```
/// use wechatpay_chain::v2::xml::parse;
///
/// let fields = parse(b"<xml><return_code><![CDATA[SUCCESS]]></return_code><total_fee>1</total_fee></xml>")?;
/// assert_eq!(fields["return_code"], "SUCCESS");
/// assert_eq!(fields["total_fee"], "1");
/// # Ok::<(), wechatpay_chain::v2::xml::XmlError>(())
/// ```
pub fn parse(document: &[u8]) -> Result<Map<String, Value>, XmlError> {
    if document.len() > MAX_XML {
        return Err(XmlError::TooLarge(document.len()));
    }
    let malformed = |what: String| XmlError::Malformed(what);
    let mut reader = Reader::from_reader(document);
    reader.config_mut().trim_text(false);
    let mut fields = Map::new();
    let mut depth = 0usize;
    let mut current: Option<(String, String)> = None;
    let mut buffer = Vec::new();
    loop {
        let event = reader
            .read_event_into(&mut buffer)
            .map_err(|e| malformed(e.to_string()))?;
        match event {
            Event::DocType(_) => return Err(XmlError::Dtd),
            Event::Start(start) => {
                depth += 1;
                let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
                match depth {
                    1 => {}
                    2 => current = Some((name, String::new())),
                    _ => {
                        return Err(malformed(format!(
                            "field `{name}` is nested; APIv2 fields are flat"
                        )))
                    }
                }
            }
            Event::Empty(empty) if depth == 1 => {
                let name = String::from_utf8_lossy(empty.name().as_ref()).into_owned();
                fields.insert(name, Value::String(String::new()));
            }
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
                if depth == 2 {
                    if let Some((name, value)) = current.take() {
                        fields.insert(name, Value::String(value));
                    }
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
    if fields.is_empty() && !document.windows(5).any(|w| w == b"<xml>") {
        return Err(malformed("no <xml> document".to_owned()));
    }
    Ok(fields)
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
        out.push_str(&format!(
            "<{name}>{}</{name}>",
            quick_xml::escape::escape(&text)
        ));
    }
    out.push_str("</xml>");
    Ok(out)
}
