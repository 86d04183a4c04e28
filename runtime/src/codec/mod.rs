//! Payload codecs: frame 3 of a message, in JSON, msgpack or text. The hot path for bulk data: a property
//! read or an action result of a large `Vec<f64>` goes through [`encode_into`] on the server and [`decode`]
//! on the client.

use serde::Serialize;
use serde::de::{self, DeserializeOwned};

use crate::protocol::{ContentType, MAX_DEPTH, PACKED_F64_EXT, ProtocolError};

pub(crate) mod msgpack;
mod packed;

/// Decodes a payload frame into `T` according to `content_type`.
///
/// `text/plain` payloads are handed to `T` as a string. An empty frame with a JSON or msgpack content type
/// is an error, as it is for hololinked (no payload is spelled `null`), and so are bytes after the value.
/// msgpack nesting is bounded by [`MAX_DEPTH`].
pub fn decode<T: DeserializeOwned>(bytes: &[u8], content_type: &ContentType) -> Result<T, ProtocolError> {
    let fail = |reason: String| ProtocolError::Payload { content_type: content_type.as_str().to_owned(), reason };
    match content_type {
        ContentType::Json => serde_json::from_slice(bytes).map_err(|e| fail(e.to_string())),
        ContentType::Msgpack => msgpack::from_slice(bytes, MAX_DEPTH, false).map_err(|e| fail(e.to_string())),
        ContentType::ThingwireMsgpack => msgpack::from_slice(bytes, MAX_DEPTH, true).map_err(|e| fail(e.to_string())),
        ContentType::Text => {
            let text = std::str::from_utf8(bytes).map_err(|e| fail(e.to_string()))?;
            T::deserialize(de::value::StrDeserializer::<de::value::Error>::new(text)).map_err(|e| fail(e.to_string()))
        }
        ContentType::Other(s) => Err(ProtocolError::UnsupportedContentType(s.clone())),
    }
}

/// Encodes `value` as `content_type` (JSON or msgpack; anything else is encoded as JSON). In
/// [`ContentType::ThingwireMsgpack`], a value that serializes as a sequence of `f64`s (`Vec<f64>`, `&[f64]`,
/// `[f64; N]`, a newtype around one) is written as a packed array.
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
        ContentType::ThingwireMsgpack if packed::try_encode(out, value) => Ok(()),
        ContentType::Msgpack | ContentType::ThingwireMsgpack => {
            let mut ser = rmp_serde::Serializer::new(&mut *out).with_struct_map();
            value.serialize(&mut ser).map_err(|e| e.to_string())
        }
        _ => serde_json::to_writer(&mut *out, value).map_err(|e| e.to_string()),
    };
    result
        .map_err(|reason| ProtocolError::Encode { content_type: content_type.for_reply().as_str().to_owned(), reason })
}

/// [`encode_into`] for the values generated code encodes (property reads, action results), with a fast path
/// for the bulk type of instruments, `Vec<f64>` in msgpack: one tight loop over a buffer sized up front
/// instead of a serializer call per element (about 20 instructions each). The bytes are rmp_serde's. In
/// [`ContentType::ThingwireMsgpack`], a `Vec<f64>` is written packed (see [`encode_packed_f64`]).
pub(crate) fn encode_value_into<T: Serialize + 'static>(
    out: &mut Vec<u8>,
    value: &T,
    content_type: &ContentType,
) -> Result<(), ProtocolError> {
    if content_type.is_msgpack()
        && let Some(values) = (value as &dyn std::any::Any).downcast_ref::<Vec<f64>>()
        && let Ok(len) = u32::try_from(values.len())
    {
        if *content_type == ContentType::ThingwireMsgpack && encode_packed_f64(out, values) {
            return Ok(());
        }
        encode_f64_array(out, values, len);
        return Ok(());
    }
    encode_into(out, value, content_type)
}

/// [`decode`] for the values the typed client returns, with the fast path matching
/// [`encode_value_into`]: a msgpack array of float 64s decoded into a `Vec<f64>` by one loop. Anything else,
/// or an array with another element type, goes through [`decode`] (and its errors).
pub(crate) fn decode_value<T: DeserializeOwned + 'static>(
    bytes: &[u8],
    content_type: &ContentType,
) -> Result<T, ProtocolError> {
    match fast_value(bytes, content_type) {
        Some(value) => Ok(value),
        None => decode(bytes, content_type),
    }
}

/// The fast paths of [`decode_value`]: `Some` when `T` is `Vec<f64>` and `bytes` are exactly a msgpack array
/// of float 64s or (in [`ContentType::ThingwireMsgpack`]) a packed array.
pub(crate) fn fast_value<T: 'static>(bytes: &[u8], content_type: &ContentType) -> Option<T> {
    if !content_type.is_msgpack() || std::any::TypeId::of::<T>() != std::any::TypeId::of::<Vec<f64>>() {
        return None;
    }
    let values = match content_type {
        ContentType::ThingwireMsgpack => decode_packed_f64(bytes).or_else(|| decode_f64_array(bytes)),
        _ => decode_f64_array(bytes),
    }?;
    let boxed: Box<dyn std::any::Any> = Box::new(values);
    boxed.downcast::<T>().ok().map(|value| *value)
}

/// The values of a msgpack array whose elements are all float 64s (`0xcb` + 8 big-endian bytes), with nothing
/// after it; `None` for anything else.
fn decode_f64_array(bytes: &[u8]) -> Option<Vec<f64>> {
    let (len, body) = match bytes {
        [m, rest @ ..] if m & 0xf0 == 0x90 => (usize::from(m & 0x0f), rest),
        [0xdc, a, b, rest @ ..] => (usize::from(u16::from_be_bytes([*a, *b])), rest),
        [0xdd, a, b, c, d, rest @ ..] => (usize::try_from(u32::from_be_bytes([*a, *b, *c, *d])).ok()?, rest),
        _ => return None,
    };
    if body.len() != len.checked_mul(9)? {
        return None;
    }
    // One pass over a zeroed vector with the markers checked by accumulation: no early exit and no capacity
    // check per element, which makes it about twice as fast as pushing element by element.
    let mut values = vec![0.0f64; len];
    let mut wrong_marker = 0u8;
    for (value, chunk) in values.iter_mut().zip(body.chunks_exact(9)) {
        wrong_marker |= chunk[0] ^ 0xcb;
        let mut bits = [0u8; 8];
        bits.copy_from_slice(&chunk[1..]);
        *value = f64::from_be_bytes(bits);
    }
    if wrong_marker != 0 {
        return None;
    }
    Some(values)
}

/// A packed `Vec<f64>` of [`ContentType::ThingwireMsgpack`]: an ext 32 value (`0xc9`, the body length as a
/// big-endian `u32`, the type [`PACKED_F64_EXT`]) whose body is the values as little-endian doubles. One
/// pass at memory speed each way instead of a marker and a byte swap per number. `false` (nothing written)
/// when the body would not fit the ext 32 length.
fn encode_packed_f64(out: &mut Vec<u8>, values: &[f64]) -> bool {
    let Some(body) = values.len().checked_mul(8).and_then(|n| u32::try_from(n).ok()) else {
        return false;
    };
    out.reserve(6 + values.len() * 8);
    out.extend_from_slice(&packed::header(body));
    if cfg!(target_endian = "little") {
        // The numbers' memory is already the body: one copy, which libc does with non-temporal stores
        // (an element loop stalls on every cache line of a fresh 1 MiB buffer).
        out.extend_from_slice(bytemuck::cast_slice(values));
    } else {
        out.extend(values.iter().flat_map(|v| v.to_le_bytes()));
    }
    true
}

/// The values of a packed `Vec<f64>` ([`encode_packed_f64`], or any ext form of type [`PACKED_F64_EXT`])
/// with nothing after it; `None` for anything else.
fn decode_packed_f64(bytes: &[u8]) -> Option<Vec<f64>> {
    let (len, tag, body) = match bytes {
        [0xd7, tag, body @ ..] => (8, *tag, body),
        [0xd8, tag, body @ ..] => (16, *tag, body),
        [0xc7, len, tag, body @ ..] => (usize::from(*len), *tag, body),
        [0xc8, a, b, tag, body @ ..] => (usize::from(u16::from_be_bytes([*a, *b])), *tag, body),
        [0xc9, a, b, c, d, tag, body @ ..] => (usize::try_from(u32::from_be_bytes([*a, *b, *c, *d])).ok()?, *tag, body),
        _ => return None,
    };
    if i8::from_be_bytes([tag]) != PACKED_F64_EXT || body.len() != len || len % 8 != 0 {
        return None;
    }
    Some(packed_values(body).collect())
}

/// The numbers of a packed body (whose length is a multiple of 8).
pub(crate) fn packed_values(body: &[u8]) -> impl ExactSizeIterator<Item = f64> + '_ {
    body.chunks_exact(8).map(|c| {
        let mut bits = [0u8; 8];
        bits.copy_from_slice(c);
        f64::from_le_bytes(bits)
    })
}

/// A msgpack array of float 64s, as rmp_serde writes it: the shortest array header, then `0xcb` and the
/// big-endian bits of each value.
fn encode_f64_array(out: &mut Vec<u8>, values: &[f64], len: u32) {
    match len {
        0..=15 => out.push(0x90 | len as u8),
        16..=0xffff => {
            out.push(0xdc);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(0xdd);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
    let start = out.len();
    out.resize(start + values.len() * 9, 0);
    for (slot, value) in out[start..].chunks_exact_mut(9).zip(values) {
        slot[0] = 0xcb;
        slot[1..].copy_from_slice(&value.to_bits().to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::fmt::Debug;

    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Inner {
        name: String,
        values: Vec<f64>,
        flag: Option<bool>,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Outer {
        id: u32,
        inner: Inner,
        list: Vec<Inner>,
        map: BTreeMap<String, i64>,
        tuple: (u8, i16, String),
        mode: Mode,
        modes: Vec<Mode>,
        unit: Unit,
        wide: i128,
        uwide: u128,
        letter: char,
        raw: crate::Bytes,
        nested: Option<Option<u8>>,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Unit;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    enum Mode {
        Off,
        Gain(f32),
        Pair(i8, u64),
        Range { lo: f64, hi: f64 },
    }

    fn outer() -> Outer {
        let inner = Inner { name: "ch\u{e9}1".into(), values: vec![0.5, -0.0, 1e300, f64::INFINITY], flag: Some(true) };
        Outer {
            id: 7,
            inner: inner.clone(),
            list: vec![inner, Inner { name: String::new(), values: vec![], flag: None }],
            map: [("a".to_owned(), -1), ("b".to_owned(), i64::MIN), ("c".to_owned(), i64::MAX)].into(),
            tuple: (255, -300, "x".repeat(40)),
            mode: Mode::Range { lo: -1.0, hi: 2.5 },
            modes: vec![Mode::Off, Mode::Gain(1.5), Mode::Pair(-3, u64::MAX), Mode::Range { lo: 0.0, hi: 1.0 }],
            unit: Unit,
            wide: i128::MIN,
            uwide: u128::MAX,
            letter: '\u{1F600}',
            raw: crate::Bytes(vec![0, 1, 2, 255]),
            nested: Some(Some(3)),
        }
    }

    /// rmp-serde's decoding, as the runtime used it before `codec::msgpack` (no check after the value).
    fn rmp_decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
        let mut de = rmp_serde::Deserializer::from_read_ref(bytes);
        de.set_max_depth(MAX_DEPTH);
        T::deserialize(&mut de).map_err(|e| e.to_string())
    }

    /// `codec::msgpack` without its check for bytes after the value, to compare with rmp-serde.
    fn fast_decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
        let mut de = msgpack::Deserializer::new(bytes, MAX_DEPTH);
        T::deserialize(&mut de).map_err(|e| e.to_string())
    }

    /// Both decoders agree on `bytes`: the same value, or the same error text.
    fn agree<T: DeserializeOwned + PartialEq + Debug>(bytes: &[u8]) {
        let slow = rmp_decode::<T>(bytes);
        let fast = fast_decode::<T>(bytes);
        match (&slow, &fast) {
            // NaN != NaN: compare such values through their re-encoding.
            (Ok(a), Ok(b)) if a != b => {
                assert_eq!(format!("{a:?}"), format!("{b:?}"), "{} for {bytes:02x?}", std::any::type_name::<T>())
            }
            _ => assert_eq!(slow, fast, "{} for {bytes:02x?}", std::any::type_name::<T>()),
        }
    }

    /// Each of `bytes`' prefixes and a few thousand deterministic corruptions of it: both decoders agree
    /// (and neither panics).
    fn agree_on_damage<T: DeserializeOwned + PartialEq + Debug>(bytes: &[u8]) {
        agree::<T>(bytes);
        for end in 0..bytes.len() {
            agree::<T>(&bytes[..end]);
        }
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..3000 {
            let mut damaged = bytes.to_vec();
            for _ in 0..=(next() % 3) {
                let at = (next() % damaged.len() as u64) as usize;
                damaged[at] = next() as u8;
            }
            agree::<T>(&damaged);
        }
    }

    #[test]
    fn msgpack_decoding_matches_rmp_serde_on_good_and_damaged_input() {
        let value = outer();
        let bytes = rmp_serde::to_vec_named(&value).expect("encode");
        assert_eq!(decode::<Outer>(&bytes, &ContentType::Msgpack).expect("decodes"), value);
        agree_on_damage::<Outer>(&bytes);
        agree_on_damage::<serde_json::Value>(&bytes);
        agree_on_damage::<Vec<Mode>>(&rmp_serde::to_vec_named(&value.modes).expect("encode"));
        let floats = vec![1.5, f64::NAN, f64::NEG_INFINITY, -0.0, f64::MIN_POSITIVE, 3.0];
        let bytes = rmp_serde::to_vec_named(&floats).expect("encode");
        agree_on_damage::<Vec<f64>>(&bytes);
        agree_on_damage::<Vec<f32>>(&bytes);
        agree_on_damage::<Vec<i64>>(
            &rmp_serde::to_vec_named(&[0_i64, -1, 127, 128, -33, 70000, i64::MIN]).expect("encode"),
        );
        agree_on_damage::<Option<String>>(&rmp_serde::to_vec_named(&Some("text")).expect("encode"));
        agree_on_damage::<crate::Bytes>(&rmp_serde::to_vec_named(&crate::Bytes(vec![9; 40])).expect("encode"));
        agree_on_damage::<BTreeMap<String, Vec<u8>>>(
            &rmp_serde::to_vec_named(&BTreeMap::from([("k".to_owned(), vec![1_u8, 200])])).expect("encode"),
        );
    }

    #[test]
    fn msgpack_decoding_matches_rmp_serde_on_odd_encodings() {
        let cases: &[&[u8]] = &[
            // `bin` where a sequence is expected reads as integers; invalid UTF-8 in a `str`.
            &[0xc4, 0x02, 0x01, 0x02],
            &[0xa2, 0xff, 0xfe],
            // Extension values (rmp-serde reads them as a newtype of (tag, bytes)).
            &[0xd4, 0x05, 0x01],
            &[0xc7, 0x02, 0x05, 0x01, 0x02],
            // Reserved marker, array longer than its content, map with an odd key.
            &[0xc1],
            &[0x93, 0x01],
            &[0x81, 0x01, 0x02],
            // Sized numbers.
            &[0xcc, 0xff],
            &[0xcd, 0x01, 0x00],
            &[0xd0, 0x80],
            &[0xca, 0x3f, 0xc0, 0x00, 0x00],
            // i128 as `bin` 16, and as a fixarray of 16 (rmp-serde's own quirk).
            &[[0xc4, 0x10].as_slice(), &[0x11; 16]].concat(),
            &[[0x9f].as_slice(), &[0x11; 16]].concat(),
        ];
        for bytes in cases {
            agree::<serde_json::Value>(bytes);
            agree::<Vec<u8>>(bytes);
            agree::<Vec<f64>>(bytes);
            agree::<String>(bytes);
            agree::<crate::Bytes>(bytes);
            agree::<i128>(bytes);
            agree::<u128>(bytes);
            agree::<Mode>(bytes);
            agree::<Option<u16>>(bytes);
            agree::<Unit>(bytes);
            agree::<f32>(bytes);
        }
    }

    #[test]
    fn msgpack_nesting_is_bounded_like_rmp_serde() {
        for depth in [1, 2, 126, 127, 128, 129, 400, 100_000] {
            let bytes = [vec![0x91; depth], vec![0x01]].concat();
            agree::<serde_json::Value>(&bytes);
            let err = decode::<serde_json::Value>(&bytes, &ContentType::Msgpack);
            assert_eq!(err.is_err(), depth >= MAX_DEPTH, "depth {depth}: {err:?}");
            if depth >= MAX_DEPTH {
                assert!(err.expect_err("too deep").to_string().contains("depth limit exceeded"));
            }
        }
    }

    #[test]
    fn msgpack_bytes_after_the_value_are_refused() {
        // The JSON text `2.5` sent as msgpack: fixint 50, then `.5`.
        let err = decode::<f64>(b"2.5", &ContentType::Msgpack).expect_err("trailing bytes");
        assert!(err.to_string().contains("2 trailing bytes after the msgpack value"), "{err}");
        let err = decode::<Vec<f64>>(&[0x91, 0x01, 0xc0], &ContentType::Msgpack).expect_err("trailing byte");
        assert!(err.to_string().contains("1 trailing byte after"), "{err}");
        assert_eq!(decode::<Vec<f64>>(&[0x91, 0x01], &ContentType::Msgpack).expect("exact"), vec![1.0]);
        assert!(decode::<Option<f64>>(b"", &ContentType::Msgpack).is_err(), "an empty frame is not nil");
    }

    #[test]
    fn bulk_floats_round_trip_bit_for_bit() {
        let floats: Vec<f64> = (0..10_000_u32)
            .map(|i| match i % 5 {
                0 => f64::NAN,
                1 => -0.0,
                2 => f64::INFINITY,
                _ => f64::from(i) * -0.37,
            })
            .collect();
        let bytes = encode(&floats, &ContentType::Msgpack).expect("encode");
        assert_eq!(bytes, rmp_serde::to_vec_named(&floats).expect("rmp"), "the wire format is rmp-serde's");
        let back: Vec<f64> = decode(&bytes, &ContentType::Msgpack).expect("decode");
        assert_eq!(
            back.iter().map(|f| f.to_bits()).collect::<Vec<_>>(),
            floats.iter().map(|f| f.to_bits()).collect::<Vec<_>>()
        );
        let empty: Vec<f64> =
            decode(&encode(&Vec::<f64>::new(), &ContentType::Msgpack).expect("e"), &ContentType::Msgpack)
                .expect("empty");
        assert!(empty.is_empty());
    }

    #[test]
    fn the_f64_fast_path_reads_what_the_decoder_reads() {
        for len in [0usize, 3, 15, 16, 0xffff, 0x1_0000, 70_001] {
            let values: Vec<f64> = (0..len).map(|i| if i % 5 == 0 { f64::NAN } else { i as f64 / -3.0 }).collect();
            let bytes = encode(&values, &ContentType::Msgpack).expect("encode");
            let fast: Vec<f64> = decode_value(&bytes, &ContentType::Msgpack).expect("fast");
            assert!(decode_f64_array(&bytes).is_some(), "{len} values take the fast path");
            assert!(fast.iter().zip(&values).all(|(a, b)| a.to_bits() == b.to_bits()) && fast.len() == len);
        }
        // Mixed element types, short or long bodies, other encodings: the general decoder decides (and errs).
        let mixed = encode(&(1.5f64, 2u8, 3.5f64), &ContentType::Msgpack).expect("mixed");
        assert!(decode_f64_array(&mixed).is_none());
        let general: Vec<f64> = decode_value(&mixed, &ContentType::Msgpack).expect("integers widen to f64");
        assert_eq!(general, [1.5, 2.0, 3.5]);
        let mut trailing = encode(&vec![1.0f64], &ContentType::Msgpack).expect("one");
        trailing.push(0);
        assert!(decode_f64_array(&trailing).is_none());
        let err = decode_value::<Vec<f64>>(&trailing, &ContentType::Msgpack).expect_err("trailing byte");
        assert_eq!(err, decode::<Vec<f64>>(&trailing, &ContentType::Msgpack).expect_err("same error"));
        let truncated = &encode(&vec![1.0f64, 2.0], &ContentType::Msgpack).expect("two")[..12];
        assert!(decode_value::<Vec<f64>>(truncated, &ContentType::Msgpack).is_err());
        let other: Vec<u8> = decode_value(&[0x92, 1, 2], &ContentType::Msgpack).expect("bytes");
        assert_eq!(other, [1, 2]);
    }

    /// `values` packed as an ext value of `marker` (`0xd7`/`0xd8` fixext, `0xc7`/`0xc8`/`0xc9` ext 8/16/32).
    fn packed(marker: u8, tag: i8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![marker];
        let len = body.len();
        match marker {
            0xc7 => out.push(u8::try_from(len).expect("ext 8")),
            0xc8 => out.extend_from_slice(&u16::try_from(len).expect("ext 16").to_be_bytes()),
            0xc9 => out.extend_from_slice(&u32::try_from(len).expect("ext 32").to_be_bytes()),
            _ => {}
        }
        out.push(tag.to_be_bytes()[0]);
        out.extend_from_slice(body);
        out
    }

    fn le_bytes(values: &[f64]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    fn bits(values: &[f64]) -> Vec<u64> {
        values.iter().map(|v| v.to_bits()).collect()
    }

    #[test]
    fn packed_f64_arrays_round_trip_bit_for_bit() {
        let packed_ct = ContentType::ThingwireMsgpack;
        for len in [0usize, 1, 2, 15, 16, 0xffff, 131_072] {
            let values: Vec<f64> = (0..len)
                .map(|i| match i % 6 {
                    0 => f64::NAN,
                    1 => -0.0,
                    2 => f64::NEG_INFINITY,
                    3 => f64::MIN_POSITIVE / 4.0,
                    _ => i as f64 * 1.25e-3,
                })
                .collect();
            let mut bytes = Vec::new();
            encode_value_into(&mut bytes, &values, &packed_ct).expect("encode");
            assert_eq!(bytes, packed(0xc9, PACKED_F64_EXT, &le_bytes(&values)), "{len} values: ext 32, LE doubles");
            let fast: Vec<f64> = decode_value(&bytes, &packed_ct).expect("fast path");
            assert_eq!(bits(&fast), bits(&values), "{len} values, fast path");
            // The general decoder (dynamic clients, nested values) reads the same numbers.
            let general: Vec<f64> = decode(&bytes, &packed_ct).expect("general path");
            assert_eq!(bits(&general), bits(&values), "{len} values, general path");
        }
        // As a JSON value, for the dynamic client and the CLI.
        let mut bytes = Vec::new();
        encode_value_into(&mut bytes, &vec![1.5, -2.0], &packed_ct).expect("encode");
        assert_eq!(decode::<serde_json::Value>(&bytes, &packed_ct).expect("value"), serde_json::json!([1.5, -2.0]));
        // Every ext form of the type is read, by both paths.
        let two = le_bytes(&[0.5, 8.0]);
        for form in
            [packed(0xd8, PACKED_F64_EXT, &two), packed(0xc7, PACKED_F64_EXT, &two), packed(0xc8, PACKED_F64_EXT, &two)]
        {
            assert_eq!(decode_value::<Vec<f64>>(&form, &packed_ct).expect("fast"), [0.5, 8.0]);
            assert_eq!(decode::<Vec<f32>>(&form, &packed_ct).expect("general"), [0.5f32, 8.0]);
        }
        let one = packed(0xd7, PACKED_F64_EXT, &le_bytes(&[3.0]));
        assert_eq!(decode_value::<Vec<f64>>(&one, &packed_ct).expect("fixext 8"), [3.0]);
    }

    #[test]
    fn packed_arrays_nest_and_everything_else_is_plain_msgpack() {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct Trace {
            name: String,
            samples: Vec<f64>,
        }
        let packed_ct = ContentType::ThingwireMsgpack;
        // A packed array inside a map, as a sender may write it.
        let mut bytes = vec![0x82];
        bytes.extend(rmp_serde::to_vec(&"name").expect("key"));
        bytes.extend(rmp_serde::to_vec(&"ch1").expect("value"));
        bytes.extend(rmp_serde::to_vec(&"samples").expect("key"));
        bytes.extend(packed(0xc9, PACKED_F64_EXT, &le_bytes(&[1.0, 2.0])));
        let trace: Trace = decode(&bytes, &packed_ct).expect("nested packed array");
        assert_eq!(trace, Trace { name: "ch1".into(), samples: vec![1.0, 2.0] });
        // A struct's `Vec<f64>` field is written packed, the rest as rmp-serde writes it.
        let mut packed_out = Vec::new();
        encode_value_into(&mut packed_out, &trace, &packed_ct).expect("encode");
        assert_eq!(packed_out, bytes);
        let mut ints = Vec::new();
        encode_value_into(&mut ints, &vec![1u8, 2], &packed_ct).expect("ints");
        assert_eq!(ints, [0x92, 1, 2]);
        // A plain msgpack array is valid in the packed content type too.
        let plain = encode(&vec![1.5f64, 2.5], &ContentType::Msgpack).expect("plain");
        assert_eq!(decode_value::<Vec<f64>>(&plain, &packed_ct).expect("plain array"), [1.5, 2.5]);
    }

    #[test]
    fn any_sequence_of_f64s_is_packed_and_anything_else_is_plain() {
        #[derive(Serialize)]
        struct Samples(Vec<f64>);
        let packed_ct = ContentType::ThingwireMsgpack;
        let expected = packed(0xc9, PACKED_F64_EXT, &le_bytes(&[1.0, -2.5, 3.0]));
        let encoded = |value: &dyn erased_serde::Serialize| {
            let mut out = vec![0x42];
            encode_into(&mut out, value, &packed_ct).expect("encode");
            assert_eq!(out[0], 0x42, "appends");
            out[1..].to_vec()
        };
        let values = vec![1.0f64, -2.5, 3.0];
        assert_eq!(encoded(&values), expected, "Vec<f64>");
        assert_eq!(encoded(&values.as_slice()), expected, "&[f64]");
        assert_eq!(encoded(&[1.0f64, -2.5, 3.0]), expected, "[f64; 3]");
        assert_eq!(encoded(&Samples(values.clone())), expected, "a newtype");
        assert_eq!(encoded(&(1.0f64, -2.5f64, 3.0f64)), expected, "a tuple of f64s");
        assert_eq!(encoded(&Vec::<f64>::new()), packed(0xc9, PACKED_F64_EXT, &[]), "empty");
        // Not f64s all through: plain msgpack, exactly rmp-serde's bytes.
        let plain = |value: &dyn erased_serde::Serialize| {
            let mut expected = Vec::new();
            encode_into(&mut expected, value, &ContentType::Msgpack).expect("plain");
            assert_eq!(encoded(value), expected);
        };
        plain(&vec![1.0f32, 2.0]);
        plain(&(1.0f64, 2u8));
        plain(&vec![vec![1.0f64]]);
        plain(&vec!["a".to_owned()]);
        plain(&serde_json::json!({"a": [1, 2], "b": "x"}));
        plain(&1.5f64);
        plain(&Some(vec![1.5f64]));
        // Maps and structs, at any depth: their values are packed where they can be.
        let mut map = vec![0x82];
        map.extend(rmp_serde::to_vec("a").expect("key"));
        map.extend(&expected);
        map.extend(rmp_serde::to_vec("b").expect("key"));
        map.push(0x81);
        map.extend(rmp_serde::to_vec("c").expect("key"));
        map.extend(packed(0xc9, PACKED_F64_EXT, &le_bytes(&[0.5])));
        let json = serde_json::json!({"a": [1.0, -2.5, 3.0], "b": {"c": [0.5]}});
        assert_eq!(encoded(&json), map, "a JSON object");
        assert_eq!(decode::<serde_json::Value>(&map, &packed_ct).expect("reads back"), json);
        // And what was packed reads back as the types that wrote it.
        let bytes = encoded(&[0.5f64, 0.25]);
        assert_eq!(decode::<[f64; 2]>(&bytes, &packed_ct).expect("array"), [0.5, 0.25]);
        assert_eq!(decode::<(f64, f64)>(&bytes, &packed_ct).expect("tuple"), (0.5, 0.25));
    }

    #[test]
    fn damaged_packed_arrays_are_refused_with_reasons() {
        let packed_ct = ContentType::ThingwireMsgpack;
        // A body that is not a whole number of doubles.
        let ragged = packed(0xc7, PACKED_F64_EXT, &[0u8; 12]);
        let err = decode_value::<Vec<f64>>(&ragged, &packed_ct).expect_err("12 bytes");
        assert!(err.to_string().contains("12 bytes: not a whole number of 8-byte doubles"), "{err}");
        // Cut short, and bytes after it.
        let whole = packed(0xc9, PACKED_F64_EXT, &le_bytes(&[1.0, 2.0]));
        assert!(decode_value::<Vec<f64>>(&whole[..whole.len() - 3], &packed_ct).is_err());
        let mut trailing = whole.clone();
        trailing.push(0xc0);
        let err = decode_value::<Vec<f64>>(&trailing, &packed_ct).expect_err("trailing");
        assert!(err.to_string().contains("1 trailing byte"), "{err}");
        // Another ext type is not numbers.
        let other = packed(0xc9, 7, &le_bytes(&[1.0]));
        assert!(decode_value::<Vec<f64>>(&other, &packed_ct).is_err());
        // Plain msgpack knows no packed arrays: the same bytes are refused there, as rmp-serde refuses them.
        assert!(decode_value::<Vec<f64>>(&whole, &ContentType::Msgpack).is_err());
        assert!(rmp_serde::from_slice::<Vec<f64>>(&whole).is_err());
    }

    #[test]
    fn the_f64_fast_path_writes_rmp_serdes_bytes() {
        for len in [0usize, 1, 15, 16, 17, 0xffff, 0x1_0000, 100_003] {
            let values: Vec<f64> = (0..len)
                .map(|i| match i % 7 {
                    0 => f64::NAN,
                    1 => -0.0,
                    2 => f64::INFINITY,
                    3 => f64::MIN_POSITIVE,
                    _ => i as f64 * -1.25e-3,
                })
                .collect();
            let mut fast = vec![0x42];
            encode_value_into(&mut fast, &values, &ContentType::Msgpack).expect("fast");
            let mut reference = vec![0x42];
            encode_into(&mut reference, &values, &ContentType::Msgpack).expect("rmp_serde");
            assert_eq!(fast, reference, "{len} values");
            let back: Vec<f64> = decode(&fast[1..], &ContentType::Msgpack).expect("decode");
            assert_eq!(back.len(), len);
            assert!(back.iter().zip(&values).all(|(a, b)| a.to_bits() == b.to_bits()), "{len} values round trip");
        }
        // Other types and JSON take the ordinary path.
        let mut json = Vec::new();
        encode_value_into(&mut json, &vec![1.5f64, 2.0], &ContentType::Json).expect("json");
        assert_eq!(json, b"[1.5,2.0]");
        let mut ints = Vec::new();
        encode_value_into(&mut ints, &vec![1u8, 2], &ContentType::Msgpack).expect("ints");
        assert_eq!(ints, [0x92, 1, 2]);
    }
}
