//! Packed `f64` arrays for values whose type is not known to be `Vec<f64>`, in
//! [`ContentType::ThingwireMsgpack`](crate::protocol::ContentType::ThingwireMsgpack): a serializer that
//! writes a sequence (or tuple, or newtype around one) of `f64`s as little-endian doubles, and a map or
//! struct as a msgpack map whose values are encoded the same way — so the samples of a
//! `Waveform { t0, dt, samples }` or the `values` argument of an action travel packed too. Anything else
//! stops it at the first call, and the caller encodes that value as plain msgpack (rmp-serde's bytes).
//!
//! The client encodes property values and arguments of any `Serialize` type (no `'static` bound, so no
//! downcast to `Vec<f64>`), and the server encodes values of any type: this is how they still travel
//! packed.

use std::fmt;

use serde::ser::{self, Impossible, Serialize};

use super::msgpack::EXT_STRUCT_NAME;
use crate::protocol::{ContentType, PACKED_F64_EXT};

/// The ext 32 header of a packed array whose body is `body_len` bytes: `0xc9`, the length as a big-endian
/// `u32`, the type [`PACKED_F64_EXT`].
pub(super) fn header(body_len: u32) -> [u8; 6] {
    let [a, b, c, d] = body_len.to_be_bytes();
    [0xc9, a, b, c, d, PACKED_F64_EXT.to_be_bytes()[0]]
}

/// Why the value is not a packed array (never shown: the caller falls back to plain msgpack).
#[derive(Debug)]
pub(crate) struct NotPacked;

impl fmt::Display for NotPacked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a sequence of f64")
    }
}

impl std::error::Error for NotPacked {}

impl ser::Error for NotPacked {
    fn custom<T: fmt::Display>(_: T) -> Self {
        NotPacked
    }
}

/// Appends `value` to `out` and returns `true` when it serializes as a sequence of `f64`s (written packed,
/// if its bytes fit an ext 32 length) or as a map or struct of known length (its values encoded by
/// [`encode_into`](super::encode_into), and so packed where they can be); otherwise leaves `out` as it was
/// and returns `false`.
pub(crate) fn try_encode<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> bool {
    let start = out.len();
    let done = value.serialize(Outer { out: &mut *out }).is_ok();
    if !done {
        out.truncate(start);
    }
    done
}

/// The value itself: only a sequence, a tuple or a newtype around one is accepted.
struct Outer<'a> {
    out: &'a mut Vec<u8>,
}

/// One element: only an `f64` is accepted.
struct Element<'a> {
    out: &'a mut Vec<u8>,
}

/// The elements of a packed array whose ext header starts at `start`.
struct Elements<'a> {
    out: &'a mut Vec<u8>,
    start: usize,
}

impl Elements<'_> {
    /// Writes the body's length into the header.
    fn finish(self) -> Result<(), NotPacked> {
        let len = u32::try_from(self.out.len() - self.start - 6).map_err(|_| NotPacked)?;
        self.out[self.start..self.start + 6].copy_from_slice(&header(len));
        Ok(())
    }
}

/// A sequence and a tuple are the same to a packed array.
macro_rules! elements {
    ($($compound:ident),*) => {$(
        impl ser::$compound for Elements<'_> {
            type Ok = ();
            type Error = NotPacked;

            fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), NotPacked> {
                value.serialize(Element { out: &mut *self.out })
            }

            fn end(self) -> Result<(), NotPacked> {
                self.finish()
            }
        }
    )*};
}

elements!(SerializeSeq, SerializeTuple);

/// The entries of a map or the fields of a struct: keys as rmp-serde writes them, values through
/// [`encode_into`](super::encode_into) in the packed content type.
struct Entries<'a> {
    out: &'a mut Vec<u8>,
}

impl Entries<'_> {
    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), NotPacked> {
        super::encode_into(self.out, value, &ContentType::ThingwireMsgpack).map_err(|_| NotPacked)
    }
}

impl ser::SerializeMap for Entries<'_> {
    type Ok = ();
    type Error = NotPacked;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), NotPacked> {
        super::encode_into(self.out, key, &ContentType::Msgpack).map_err(|_| NotPacked)
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), NotPacked> {
        self.value(value)
    }

    fn end(self) -> Result<(), NotPacked> {
        Ok(())
    }
}

impl ser::SerializeStruct for Entries<'_> {
    type Ok = ();
    type Error = NotPacked;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), NotPacked> {
        rmp::encode::write_str(self.out, key).map_err(|_| NotPacked)?;
        self.value(value)
    }

    fn end(self) -> Result<(), NotPacked> {
        Ok(())
    }
}

/// The serializer methods that refuse: everything except what the two serializers accept.
macro_rules! refuse {
    ($($method:ident($($arg:ty),*);)*) => {$(
        fn $method(self, $(_: $arg),*) -> Result<(), NotPacked> {
            Err(NotPacked)
        }
    )*};
}

/// The compound-type methods that refuse.
macro_rules! refuse_compounds {
    () => {
        fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, NotPacked> {
            Err(NotPacked)
        }
        fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, NotPacked> {
            Err(NotPacked)
        }
        refuse_scalars!();
    };
}

/// The methods both serializers refuse.
macro_rules! refuse_scalars {
    () => {
        fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct, NotPacked> {
            Err(NotPacked)
        }
        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleVariant, NotPacked> {
            Err(NotPacked)
        }
        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStructVariant, NotPacked> {
            Err(NotPacked)
        }
        fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), NotPacked> {
            Err(NotPacked)
        }
        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: &T,
        ) -> Result<(), NotPacked> {
            Err(NotPacked)
        }
        fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result<(), NotPacked> {
            Err(NotPacked)
        }
        fn serialize_unit_struct(self, _: &'static str) -> Result<(), NotPacked> {
            Err(NotPacked)
        }
        refuse! {
            serialize_bool(bool);
            serialize_i8(i8);
            serialize_i16(i16);
            serialize_i32(i32);
            serialize_i64(i64);
            serialize_u8(u8);
            serialize_u16(u16);
            serialize_u32(u32);
            serialize_u64(u64);
            serialize_f32(f32);
            serialize_char(char);
            serialize_str(&str);
            serialize_bytes(&[u8]);
            serialize_none();
            serialize_unit();
        }
    };
}

impl<'a> ser::Serializer for Outer<'a> {
    type Ok = ();
    type Error = NotPacked;
    type SerializeSeq = Elements<'a>;
    type SerializeTuple = Elements<'a>;
    type SerializeTupleStruct = Impossible<(), NotPacked>;
    type SerializeTupleVariant = Impossible<(), NotPacked>;
    type SerializeMap = Entries<'a>;
    type SerializeStruct = Entries<'a>;
    type SerializeStructVariant = Impossible<(), NotPacked>;

    fn is_human_readable(&self) -> bool {
        false
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Elements<'a>, NotPacked> {
        let start = self.out.len();
        self.out.reserve(6 + len.unwrap_or(0).saturating_mul(8));
        self.out.extend_from_slice(&header(0));
        Ok(Elements { out: self.out, start })
    }

    fn serialize_tuple(self, len: usize) -> Result<Elements<'a>, NotPacked> {
        self.serialize_seq(Some(len))
    }

    /// A newtype is written as its content by rmp-serde, so a packed array may stand for it (except
    /// rmp-serde's own extension values).
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, name: &'static str, value: &T) -> Result<(), NotPacked> {
        if name == EXT_STRUCT_NAME {
            return Err(NotPacked);
        }
        value.serialize(self)
    }

    /// Only a map of known length: rmp-serde writes the length first.
    fn serialize_map(self, len: Option<usize>) -> Result<Entries<'a>, NotPacked> {
        let len = len.and_then(|n| u32::try_from(n).ok()).ok_or(NotPacked)?;
        rmp::encode::write_map_len(self.out, len).map_err(|_| NotPacked)?;
        Ok(Entries { out: self.out })
    }

    /// A struct as rmp-serde writes it with named fields: a map of field names.
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Entries<'a>, NotPacked> {
        self.serialize_map(Some(len))
    }

    fn serialize_f64(self, _: f64) -> Result<(), NotPacked> {
        Err(NotPacked)
    }

    refuse_scalars!();
}

impl ser::Serializer for Element<'_> {
    type Ok = ();
    type Error = NotPacked;
    type SerializeSeq = Impossible<(), NotPacked>;
    type SerializeTuple = Impossible<(), NotPacked>;
    type SerializeTupleStruct = Impossible<(), NotPacked>;
    type SerializeTupleVariant = Impossible<(), NotPacked>;
    type SerializeMap = Impossible<(), NotPacked>;
    type SerializeStruct = Impossible<(), NotPacked>;
    type SerializeStructVariant = Impossible<(), NotPacked>;

    fn is_human_readable(&self) -> bool {
        false
    }

    fn serialize_f64(self, value: f64) -> Result<(), NotPacked> {
        self.out.extend_from_slice(&value.to_le_bytes());
        Ok(())
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, NotPacked> {
        Err(NotPacked)
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, NotPacked> {
        Err(NotPacked)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, _: &T) -> Result<(), NotPacked> {
        Err(NotPacked)
    }

    refuse_compounds!();
}
