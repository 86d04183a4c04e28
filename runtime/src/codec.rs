//! Payload codecs: frame 3 of a message, in JSON, msgpack or text. The hot path for bulk data: a property
//! read or an action result of a large `Vec<f64>` goes through [`encode_into`] on the server and [`decode`]
//! on the client.

use serde::Serialize;
use serde::de::{self, DeserializeOwned};

use crate::protocol::{ContentType, MAX_DEPTH, ProtocolError};

/// Decodes a payload frame into `T` according to `content_type`.
///
/// `text/plain` payloads are handed to `T` as a string. An empty frame with a JSON or msgpack content type
/// is an error, as it is for hololinked (no payload is spelled `null`).
pub fn decode<T: DeserializeOwned>(bytes: &[u8], content_type: &ContentType) -> Result<T, ProtocolError> {
    let fail = |reason: String| ProtocolError::Payload { content_type: content_type.as_str().to_owned(), reason };
    match content_type {
        ContentType::Json => serde_json::from_slice(bytes).map_err(|e| fail(e.to_string())),
        ContentType::Msgpack => {
            let mut de = rmp_serde::Deserializer::from_read_ref(bytes);
            de.set_max_depth(MAX_DEPTH);
            T::deserialize(&mut de).map_err(|e| fail(e.to_string()))
        }
        ContentType::Text => {
            let text = std::str::from_utf8(bytes).map_err(|e| fail(e.to_string()))?;
            T::deserialize(de::value::StrDeserializer::<de::value::Error>::new(text)).map_err(|e| fail(e.to_string()))
        }
        ContentType::Other(s) => Err(ProtocolError::UnsupportedContentType(s.clone())),
    }
}

/// Encodes `value` as `content_type` (JSON or msgpack; anything else is encoded as JSON).
pub fn encode<T: Serialize + ?Sized>(value: &T, content_type: &ContentType) -> Result<Vec<u8>, ProtocolError> {
    let mut out = Vec::new();
    encode_into(&mut out, value, content_type)?;
    Ok(out)
}

/// Like [`encode`], appending to `out`.
pub fn encode_into<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    value: &T,
    content_type: &ContentType,
) -> Result<(), ProtocolError> {
    let result = match content_type {
        ContentType::Msgpack => {
            let mut ser = rmp_serde::Serializer::new(&mut *out).with_struct_map();
            value.serialize(&mut ser).map_err(|e| e.to_string())
        }
        _ => serde_json::to_writer(&mut *out, value).map_err(|e| e.to_string()),
    };
    result
        .map_err(|reason| ProtocolError::Encode { content_type: content_type.for_reply().as_str().to_owned(), reason })
}
