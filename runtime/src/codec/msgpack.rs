//! A msgpack deserializer over a byte slice, for the hot path of bulk data.
//!
//! It reads exactly what `rmp_serde::Deserializer::from_read_ref` reads, with the same serde data model
//! mapping and the same errors (it returns [`rmp_serde::decode::Error`], built the way rmp-serde builds
//! them), but without rmp-serde's per-value `io::Read` plumbing: an element of a `Vec<f64>` costs a few
//! instructions instead of about forty. The unit tests in `codec.rs` check it against rmp-serde.
//!
//! It also answers one private request: `deserialize_newtype_struct(RAW_TOKEN, …)` hands the visitor the
//! bytes of the next value and the nesting depth left ([`RawParts`]; see [`crate::args::decode_value`]), so
//! that generated code can decode an argument or a property value with a deserializer monomorphized for its
//! type even though it was given a type-erased one. (`args::with_value_deserializer` answers the same
//! request for a whole JSON payload.)

use std::io;
use std::marker::PhantomData;

use rmp::Marker;
use rmp_serde::decode::Error;
use serde::de::{self, DeserializeSeed, Unexpected, Visitor};
use serde::forward_to_deserialize_any;

use crate::protocol::PACKED_F64_EXT;

/// The newtype name that asks for the raw bytes of the next value (a private protocol between this module
/// and `args::decode_value`).
pub(crate) const RAW_TOKEN: &str = "$thingwire::private::RawPayload";

/// rmp-serde's name for msgpack extension values.
pub(super) const EXT_STRUCT_NAME: &str = "_ExtStruct";

/// Decodes one value from `bytes`, refusing bytes after it. `max_depth` bounds nesting as
/// `rmp_serde::Deserializer::set_max_depth` does.
/// With `packed`, extension values of type [`PACKED_F64_EXT`] are read as sequences of `f64`
/// ([`ContentType::ThingwireMsgpack`](crate::protocol::ContentType::ThingwireMsgpack)).
pub(crate) fn from_slice<'de, T: de::Deserialize<'de>>(
    bytes: &'de [u8],
    max_depth: usize,
    packed: bool,
) -> Result<T, Error> {
    let mut de = Deserializer::new(bytes, max_depth).packed(packed);
    let value = T::deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// A msgpack deserializer over `&'de [u8]`.
#[derive(Debug)]
pub(crate) struct Deserializer<'de> {
    input: &'de [u8],
    depth: u16,
    /// Whether extension values of type [`PACKED_F64_EXT`] are packed `f64` arrays.
    packed: bool,
}

/// The error of a marker that is not there (rmp-serde's `InvalidMarkerRead` of `read_exact`).
#[cold]
fn marker_eof() -> Error {
    Error::InvalidMarkerRead(io::Error::new(io::ErrorKind::UnexpectedEof, "failed to fill whole buffer"))
}

/// The error of a fixed-size datum cut short (rmp-serde's `InvalidDataRead` of `read_exact`).
#[cold]
fn data_eof() -> Error {
    Error::InvalidDataRead(io::Error::new(io::ErrorKind::UnexpectedEof, "failed to fill whole buffer"))
}

/// The error of a string, binary or extension body cut short (rmp-serde's `read_slice`).
#[cold]
fn slice_eof() -> Error {
    Error::InvalidDataRead(io::ErrorKind::UnexpectedEof.into())
}

impl<'de> Deserializer<'de> {
    /// A deserializer over `input` allowing `max_depth` levels of nesting (capped at `u16::MAX` as in
    /// rmp-serde).
    pub(crate) fn new(input: &'de [u8], max_depth: usize) -> Self {
        Self { input, depth: max_depth.min(usize::from(u16::MAX)) as u16, packed: false }
    }

    /// Reads extension values of type [`PACKED_F64_EXT`] as sequences of `f64` (little-endian, 8 bytes each).
    pub(crate) fn packed(mut self, packed: bool) -> Self {
        self.packed = packed;
        self
    }

    /// Fails when bytes are left after the value.
    pub(crate) fn end(&self) -> Result<(), Error> {
        match self.input.len() {
            0 => Ok(()),
            n => Err(Error::Syntax(format!(
                "{n} trailing byte{} after the msgpack value",
                if n == 1 { "" } else { "s" }
            ))),
        }
    }

    #[inline]
    fn peek_marker(&self) -> Result<Marker, Error> {
        match self.input.first() {
            Some(&b) => Ok(Marker::from_u8(b)),
            None => Err(marker_eof()),
        }
    }

    #[inline]
    fn take_marker(&mut self) -> Result<Marker, Error> {
        let marker = self.peek_marker()?;
        self.input = &self.input[1..];
        Ok(marker)
    }

    #[inline]
    fn read_array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        match self.input.split_first_chunk::<N>() {
            Some((head, rest)) => {
                self.input = rest;
                Ok(*head)
            }
            None => {
                self.input = &[];
                Err(data_eof())
            }
        }
    }

    #[inline]
    fn read_slice(&mut self, len: u32) -> Result<&'de [u8], Error> {
        let len = len as usize;
        if len > self.input.len() {
            return Err(slice_eof());
        }
        let (head, rest) = self.input.split_at(len);
        self.input = rest;
        Ok(head)
    }

    fn read_u8(&mut self) -> Result<u8, Error> {
        Ok(self.read_array::<1>()?[0])
    }

    fn read_u16(&mut self) -> Result<u16, Error> {
        Ok(u16::from_be_bytes(self.read_array()?))
    }

    fn read_u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_be_bytes(self.read_array()?))
    }

    /// The numbers, `nil` and booleans (rmp-serde's `any_num`).
    #[inline]
    fn any_num<V: Visitor<'de>>(&mut self, visitor: V, marker: Marker) -> Result<V::Value, Error> {
        match marker {
            Marker::F64 => visitor.visit_f64(f64::from_be_bytes(self.read_array()?)),
            Marker::FixPos(v) => visitor.visit_u8(v),
            Marker::Null => visitor.visit_unit(),
            Marker::True | Marker::False => visitor.visit_bool(marker == Marker::True),
            Marker::FixNeg(v) => visitor.visit_i8(v),
            Marker::U8 => visitor.visit_u8(self.read_u8()?),
            Marker::U16 => visitor.visit_u16(self.read_u16()?),
            Marker::U32 => visitor.visit_u32(self.read_u32()?),
            Marker::U64 => visitor.visit_u64(u64::from_be_bytes(self.read_array()?)),
            Marker::I8 => visitor.visit_i8(i8::from_be_bytes(self.read_array()?)),
            Marker::I16 => visitor.visit_i16(i16::from_be_bytes(self.read_array()?)),
            Marker::I32 => visitor.visit_i32(i32::from_be_bytes(self.read_array()?)),
            Marker::I64 => visitor.visit_i64(i64::from_be_bytes(self.read_array()?)),
            Marker::F32 => visitor.visit_f32(f32::from_be_bytes(self.read_array()?)),
            other => Err(Error::TypeMismatch(other)),
        }
    }

    fn ext_len(&mut self, marker: Marker) -> Result<u32, Error> {
        Ok(match marker {
            Marker::FixExt1 => 1,
            Marker::FixExt2 => 2,
            Marker::FixExt4 => 4,
            Marker::FixExt8 => 8,
            Marker::FixExt16 => 16,
            Marker::Ext8 => u32::from(self.read_u8()?),
            Marker::Ext16 => u32::from(self.read_u16()?),
            Marker::Ext32 => self.read_u32()?,
            _ => return Err(Error::TypeMismatch(marker)),
        })
    }

    /// One level deeper around `f`, as rmp-serde's `depth_count!`.
    #[inline]
    fn nested<R>(&mut self, f: impl FnOnce(&mut Self) -> Result<R, Error>) -> Result<R, Error> {
        self.depth = self.depth.saturating_sub(1);
        if self.depth == 0 {
            return Err(Error::DepthLimitExceeded);
        }
        let out = f(self)?;
        self.depth += 1;
        Ok(out)
    }

    /// rmp-serde's `any_inner`: `allow_bytes` is false when a sequence was asked for (msgpack `bin` then
    /// reads as a sequence of integers).
    fn any_inner<V: Visitor<'de>>(&mut self, visitor: V, allow_bytes: bool) -> Result<V::Value, Error> {
        let marker = self.take_marker()?;
        match marker {
            Marker::Null
            | Marker::True
            | Marker::False
            | Marker::FixPos(_)
            | Marker::FixNeg(_)
            | Marker::U8
            | Marker::U16
            | Marker::U32
            | Marker::U64
            | Marker::I8
            | Marker::I16
            | Marker::I32
            | Marker::I64
            | Marker::F32
            | Marker::F64 => self.any_num(visitor, marker),
            Marker::FixStr(_) | Marker::Str8 | Marker::Str16 | Marker::Str32 => {
                let len = match marker {
                    Marker::FixStr(len) => u32::from(len),
                    Marker::Str8 => u32::from(self.read_u8()?),
                    Marker::Str16 => u32::from(self.read_u16()?),
                    _ => self.read_u32()?,
                };
                let buf = self.read_slice(len)?;
                match std::str::from_utf8(buf) {
                    Ok(s) => visitor.visit_borrowed_str(s),
                    // As rmp-serde: invalid UTF-8 may still be read as bytes.
                    Err(err) => visitor.visit_borrowed_bytes::<Error>(buf).map_err(|_| Error::Utf8Error(err)),
                }
            }
            Marker::FixArray(_) | Marker::Array16 | Marker::Array32 => {
                let len = match marker {
                    Marker::FixArray(len) => u32::from(len),
                    Marker::Array16 => u32::from(self.read_u16()?),
                    _ => self.read_u32()?,
                };
                self.nested(|de| {
                    let mut seq = SeqAccess { de, left: len };
                    let value = visitor.visit_seq(&mut seq)?;
                    match seq.left {
                        0 => Ok(value),
                        excess => Err(Error::LengthMismatch(len - excess)),
                    }
                })
            }
            Marker::FixMap(_) | Marker::Map16 | Marker::Map32 => {
                let len = match marker {
                    Marker::FixMap(len) => u32::from(len),
                    Marker::Map16 => u32::from(self.read_u16()?),
                    _ => self.read_u32()?,
                };
                self.nested(|de| {
                    let mut map = MapAccess { de, left: len };
                    let value = visitor.visit_map(&mut map)?;
                    match map.left {
                        0 => Ok(value),
                        excess => Err(Error::LengthMismatch(len - excess)),
                    }
                })
            }
            Marker::Bin8 | Marker::Bin16 | Marker::Bin32 => {
                let len = match marker {
                    Marker::Bin8 => u32::from(self.read_u8()?),
                    Marker::Bin16 => u32::from(self.read_u16()?),
                    _ => self.read_u32()?,
                };
                let buf = self.read_slice(len)?;
                if allow_bytes {
                    visitor.visit_borrowed_bytes(buf)
                } else {
                    visitor.visit_seq(de::value::SeqDeserializer::new(buf.iter().copied()))
                }
            }
            Marker::FixExt1
            | Marker::FixExt2
            | Marker::FixExt4
            | Marker::FixExt8
            | Marker::FixExt16
            | Marker::Ext8
            | Marker::Ext16
            | Marker::Ext32 => {
                let len = self.ext_len(marker)?;
                if self.packed && self.input.first() == Some(&PACKED_F64_EXT.to_be_bytes()[0]) {
                    self.input = &self.input[1..];
                    let body = self.read_slice(len)?;
                    if body.len() % 8 != 0 {
                        return Err(Error::Syntax(format!(
                            "a packed f64 array of {} bytes: not a whole number of 8-byte doubles",
                            body.len()
                        )));
                    }
                    return self.nested(|_| {
                        visitor
                            .visit_seq(de::value::SeqDeserializer::<_, Error>::new(crate::codec::packed_values(body)))
                    });
                }
                self.nested(|de| visitor.visit_newtype_struct(ExtDeserializer { de, len, state: ExtState::New }))
            }
            Marker::Reserved => Err(Error::TypeMismatch(Marker::Reserved)),
        }
    }

    /// rmp-serde's `read_i128_marker`.
    fn read_i128(&mut self) -> Result<i128, Error> {
        let marker = self.take_marker()?;
        Ok(match marker {
            Marker::FixPos(v) => v.into(),
            Marker::FixNeg(v) => v.into(),
            Marker::U8 => self.read_u8()?.into(),
            Marker::U16 => self.read_u16()?.into(),
            Marker::U32 => self.read_u32()?.into(),
            Marker::U64 => u64::from_be_bytes(self.read_array()?).into(),
            Marker::I8 => i8::from_be_bytes(self.read_array()?).into(),
            Marker::I16 => i16::from_be_bytes(self.read_array()?).into(),
            Marker::I32 => i32::from_be_bytes(self.read_array()?).into(),
            Marker::I64 => i64::from_be_bytes(self.read_array()?).into(),
            Marker::Bin8 => {
                let len = self.read_u8()?;
                self.read_128_buf(len)?
            }
            Marker::FixArray(len) => self.read_128_buf(len)?,
            marker => return Err(Error::TypeMismatch(marker)),
        })
    }

    fn read_128_buf(&mut self, len: u8) -> Result<i128, Error> {
        if len != 16 {
            return Err(Error::LengthMismatch(16));
        }
        let buf = self.read_slice(16)?;
        Ok(i128::from_be_bytes(buf.try_into().map_err(|_| Error::LengthMismatch(16))?))
    }

    /// Skips one value, nesting bounded by the depth left.
    fn skip(&mut self) -> Result<(), Error> {
        let marker = self.take_marker()?;
        let (body, items) = match marker {
            Marker::Null | Marker::True | Marker::False | Marker::FixPos(_) | Marker::FixNeg(_) => (0, 0),
            Marker::U8 | Marker::I8 => (1, 0),
            Marker::U16 | Marker::I16 => (2, 0),
            Marker::U32 | Marker::I32 | Marker::F32 => (4, 0),
            Marker::U64 | Marker::I64 | Marker::F64 => (8, 0),
            Marker::FixStr(len) => (u32::from(len), 0),
            Marker::Str8 | Marker::Bin8 => (u32::from(self.read_u8()?), 0),
            Marker::Str16 | Marker::Bin16 => (u32::from(self.read_u16()?), 0),
            Marker::Str32 | Marker::Bin32 => (self.read_u32()?, 0),
            Marker::FixArray(len) => (0, u64::from(len)),
            Marker::Array16 => (0, u64::from(self.read_u16()?)),
            Marker::Array32 => (0, u64::from(self.read_u32()?)),
            Marker::FixMap(len) => (0, 2 * u64::from(len)),
            Marker::Map16 => (0, 2 * u64::from(self.read_u16()?)),
            Marker::Map32 => (0, 2 * u64::from(self.read_u32()?)),
            Marker::FixExt1
            | Marker::FixExt2
            | Marker::FixExt4
            | Marker::FixExt8
            | Marker::FixExt16
            | Marker::Ext8
            | Marker::Ext16
            | Marker::Ext32 => (self.ext_len(marker)? + 1, 0),
            Marker::Reserved => return Err(Error::TypeMismatch(Marker::Reserved)),
        };
        self.read_slice(body)?;
        if matches!(
            marker,
            Marker::FixArray(_) | Marker::Array16 | Marker::Array32 | Marker::FixMap(_) | Marker::Map16 | Marker::Map32
        ) {
            self.nested(|de| {
                let mut items = items;
                while items > 0 {
                    items -= 1;
                    // float64s (the bulk of a numeric array) and other scalars in line; the rest recursively.
                    if let [0xcb, _, _, _, _, _, _, _, _, rest @ ..] = de.input {
                        de.input = rest;
                        continue;
                    }
                    match de.input.first().copied().and_then(scalar_size) {
                        Some(size) if size <= de.input.len() => de.input = &de.input[size..],
                        _ => de.skip()?,
                    }
                }
                Ok(())
            })?;
        }
        Ok(())
    }
}

/// The encoded size of a scalar from its first byte (`nil`, booleans, numbers); `None` for the rest.
#[inline]
fn scalar_size(first: u8) -> Option<usize> {
    match first {
        0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => Some(1),
        0xcc | 0xd0 => Some(2),
        0xcd | 0xd1 => Some(3),
        0xca | 0xce | 0xd2 => Some(5),
        0xcb | 0xcf | 0xd3 => Some(9),
        _ => None,
    }
}

/// `fn $name(self, visitor)` forwarding to `deserialize_bool`, which reads any numeric marker.
macro_rules! forward_to_marker {
    ($($name:ident)*) => {
        $(
            fn $name<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                self.deserialize_bool(visitor)
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for &mut Deserializer<'de> {
    type Error = Error;

    fn is_human_readable(&self) -> bool {
        false
    }

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.any_inner(visitor, true)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.peek_marker()? == Marker::Null {
            self.input = &self.input[1..];
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let marker = self.peek_marker()?;
        let mut after = Deserializer { input: &self.input[1..], ..*self };
        let len = match marker {
            Marker::FixMap(len) => Ok(u32::from(len)),
            Marker::Map16 => after.read_u16().map(u32::from),
            Marker::Map32 => after.read_u32(),
            _ => Err(Error::TypeMismatch(marker)),
        };
        match len {
            Ok(1) => {
                self.input = after.input;
                visitor.visit_enum(VariantAccess { de: self })
            }
            Ok(n) => Err(Error::LengthMismatch(n)),
            // Not a map: a unit variant by its name (the marker is read again by the variant's identifier).
            Err(_) => visitor.visit_enum(UnitVariantAccess { de: self }),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, Error> {
        if name == EXT_STRUCT_NAME {
            let marker = self.take_marker()?;
            let len = self.ext_len(marker)?;
            return visitor.visit_newtype_struct(ExtDeserializer { de: self, len, state: ExtState::New });
        }
        if name == RAW_TOKEN {
            let mut probe = Deserializer { ..*self };
            if probe.skip().is_ok() {
                let value = &self.input[..self.input.len() - probe.input.len()];
                self.input = probe.input;
                let kind = if self.packed { RawKind::PackedMsgpackValue } else { RawKind::MsgpackValue };
                return visitor.visit_seq(RawParts::<Error>::new(kind, self.depth, value));
            }
            // Malformed: decode it the ordinary way, which reports the error rmp-serde would.
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Error> {
        // rmp-serde writes unit structs as `[]` and reads `nil` or `[]` as one.
        match self.peek_marker()? {
            Marker::Null | Marker::FixArray(0) => {
                self.input = &self.input[1..];
                visitor.visit_unit()
            }
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_i128(self.read_i128()?)
    }

    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        #[allow(clippy::cast_sign_loss, reason = "as rmp-serde")]
        visitor.visit_u128(self.read_i128()? as u128)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.any_inner(visitor, false)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        self.any_inner(visitor, false)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.any_inner(visitor, false)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.any_inner(visitor, false)
    }

    #[inline]
    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        // The bulk case first: a float64 with its 8 bytes present.
        if let &[0xcb, b0, b1, b2, b3, b4, b5, b6, b7, ref rest @ ..] = self.input {
            self.input = rest;
            return visitor.visit_f64(f64::from_be_bytes([b0, b1, b2, b3, b4, b5, b6, b7]));
        }
        let marker = self.take_marker()?;
        self.any_num(visitor, marker)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let marker = self.take_marker()?;
        self.any_num(visitor, marker)
    }

    // Every other number reads its marker as `deserialize_bool` does (rmp_serde accepts any numeric marker).
    forward_to_marker! { deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_u8
    deserialize_u16 deserialize_u32 deserialize_u64 deserialize_f32 }

    forward_to_deserialize_any! {
        bytes byte_buf unit map identifier str string char ignored_any
    }
}

struct SeqAccess<'a, 'de> {
    de: &'a mut Deserializer<'de>,
    left: u32,
}

impl<'de> de::SeqAccess<'de> for SeqAccess<'_, 'de> {
    type Error = Error;

    #[inline]
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Error> {
        if self.left > 0 {
            self.left -= 1;
            Ok(Some(seed.deserialize(&mut *self.de)?))
        } else {
            Ok(None)
        }
    }

    fn size_hint(&self) -> Option<usize> {
        usize::try_from(self.left).ok()
    }
}

struct MapAccess<'a, 'de> {
    de: &'a mut Deserializer<'de>,
    left: u32,
}

impl<'de> de::MapAccess<'de> for MapAccess<'_, 'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        if self.left > 0 {
            self.left -= 1;
            seed.deserialize(&mut *self.de).map(Some)
        } else {
            Ok(None)
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        seed.deserialize(&mut *self.de)
    }

    fn size_hint(&self) -> Option<usize> {
        usize::try_from(self.left).ok()
    }
}

/// What a [`RAW_TOKEN`] answer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RawKind {
    /// The msgpack bytes of exactly one value.
    MsgpackValue = 0,
    /// A whole JSON payload (bytes after its value are the payload's error, not the value's).
    JsonPayload = 1,
    /// [`RawKind::MsgpackValue`] in which packed `f64` arrays may appear.
    PackedMsgpackValue = 2,
}

/// The answer to [`RAW_TOKEN`]: a sequence of the kind (`u8`), the nesting depth left (`u16`) and the bytes.
pub(crate) struct RawParts<'de, E> {
    kind: Option<RawKind>,
    depth: Option<u16>,
    value: Option<&'de [u8]>,
    error: PhantomData<E>,
}

impl<'de, E> RawParts<'de, E> {
    pub(crate) fn new(kind: RawKind, depth: u16, value: &'de [u8]) -> Self {
        Self { kind: Some(kind), depth: Some(depth), value: Some(value), error: PhantomData }
    }
}

impl<'de, E: de::Error> de::SeqAccess<'de> for RawParts<'de, E> {
    type Error = E;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, E> {
        if let Some(kind) = self.kind.take() {
            return seed.deserialize(de::value::U8Deserializer::new(kind as u8)).map(Some);
        }
        if let Some(depth) = self.depth.take() {
            return seed.deserialize(de::value::U16Deserializer::new(depth)).map(Some);
        }
        match self.value.take() {
            Some(value) => seed.deserialize(de::value::BorrowedBytesDeserializer::new(value)).map(Some),
            None => Ok(None),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum ExtState {
    New,
    ReadTag,
    ReadBinary,
}

/// rmp-serde's extension deserializer: a sequence of the tag (`i8`) and the data (bytes).
struct ExtDeserializer<'a, 'de> {
    de: &'a mut Deserializer<'de>,
    len: u32,
    state: ExtState,
}

impl<'de> de::Deserializer<'de> for ExtDeserializer<'_, 'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_seq(self)
    }

    forward_to_deserialize_any! {
        bool u8 u16 u32 u64 i8 i16 i32 i64 f32 f64 char str string unit option
        seq bytes byte_buf map unit_struct newtype_struct
        struct identifier tuple enum ignored_any tuple_struct
    }
}

impl<'de> de::SeqAccess<'de> for ExtDeserializer<'_, 'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Error> {
        match self.state {
            ExtState::New | ExtState::ReadTag => Ok(Some(seed.deserialize(self)?)),
            ExtState::ReadBinary => Ok(None),
        }
    }
}

impl<'de> de::Deserializer<'de> for &mut ExtDeserializer<'_, 'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.state {
            ExtState::New => {
                let tag = i8::from_be_bytes(self.de.read_array()?);
                self.state = ExtState::ReadTag;
                visitor.visit_i8(tag)
            }
            ExtState::ReadTag => {
                let data = self.de.read_slice(self.len)?;
                self.state = ExtState::ReadBinary;
                visitor.visit_borrowed_bytes(data)
            }
            ExtState::ReadBinary => Err(Error::TypeMismatch(Marker::Reserved)),
        }
    }

    forward_to_deserialize_any! {
        bool u8 u16 u32 u64 i8 i16 i32 i64 f32 f64 char str string unit option
        seq bytes byte_buf map unit_struct newtype_struct
        tuple_struct struct identifier tuple enum ignored_any
    }
}

/// A unit variant written as its name.
struct UnitVariantAccess<'a, 'de> {
    de: &'a mut Deserializer<'de>,
}

impl<'de> de::EnumAccess<'de> for UnitVariantAccess<'_, 'de> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), Error> {
        let variant = seed.deserialize(&mut *self.de)?;
        Ok((variant, self))
    }
}

impl<'de> de::VariantAccess<'de> for UnitVariantAccess<'_, 'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _seed: T) -> Result<T::Value, Error> {
        Err(de::Error::invalid_type(Unexpected::UnitVariant, &"newtype variant"))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, _visitor: V) -> Result<V::Value, Error> {
        Err(de::Error::invalid_type(Unexpected::UnitVariant, &"tuple variant"))
    }

    fn struct_variant<V: Visitor<'de>>(self, _fields: &'static [&'static str], _visitor: V) -> Result<V::Value, Error> {
        Err(de::Error::invalid_type(Unexpected::UnitVariant, &"struct variant"))
    }
}

/// A variant written as a map of one entry, name to data.
struct VariantAccess<'a, 'de> {
    de: &'a mut Deserializer<'de>,
}

impl<'de> de::EnumAccess<'de> for VariantAccess<'_, 'de> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), Error> {
        Ok((seed.deserialize(&mut *self.de)?, self))
    }
}

impl<'de> de::VariantAccess<'de> for VariantAccess<'_, 'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        match self.de.take_marker()? {
            Marker::Null => Ok(()),
            marker => Err(Error::TypeMismatch(marker)),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self.de)
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_tuple(self.de, len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(self, fields: &'static [&'static str], visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_tuple(self.de, fields.len(), visitor)
    }
}
