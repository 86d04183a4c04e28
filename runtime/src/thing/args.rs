//! Decoding values and action arguments straight from a payload, with no intermediate tree.
//!
//! An action's payload is an object of keyword arguments; hololinked's Python client puts positional
//! arguments under the key `"__args__"`, and a non-empty frame 4 is the first positional argument. The
//! [`decode_args`] visitor walks that shape once and hands each argument's deserializer to an [`ArgSink`],
//! which decodes it into its own type.

use std::cell::Cell;
use std::fmt;

use std::marker::PhantomData;

use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::codec::msgpack;
use crate::error::ThingError;
use crate::protocol::{ContentType, ProtocolError};
use crate::thing::{ArgSink, Args, ValueDeserializer};

/// Runs `f` with an erased deserializer over `payload` in `content_type` (frame 4, when not empty, is used
/// instead, as bytes — hololinked writes raw bytes that way). Bytes after the value are an error, in JSON and
/// in msgpack.
///
/// Over JSON and msgpack the deserializer also answers [`decode_value`]'s request for the payload's bytes,
/// so that the value is decoded with a deserializer monomorphized for its type rather than element by
/// element through the erased one.
pub fn with_value_deserializer<R>(
    payload: &[u8],
    content_type: &ContentType,
    preserialized: &[u8],
    f: impl FnOnce(ValueDeserializer<'_, '_>) -> Result<R, ThingError>,
) -> Result<R, ThingError> {
    if !preserialized.is_empty() {
        let de = de::value::BytesDeserializer::<de::value::Error>::new(preserialized);
        return f(&mut <dyn erased_serde::Deserializer<'_>>::erase(de));
    }
    match content_type {
        ContentType::Json => {
            let mut de = serde_json::Deserializer::from_slice(payload);
            let taken = Cell::new(false);
            let out = f(&mut <dyn erased_serde::Deserializer<'_>>::erase(JsonPayload {
                de: &mut de,
                payload,
                taken: &taken,
            }))?;
            // When `decode_value` took the payload, it checked the end itself.
            if !taken.get() {
                de.end().map_err(|e| payload_error(content_type, e))?;
            }
            Ok(out)
        }
        ContentType::Msgpack | ContentType::ThingwireMsgpack => {
            // As deep as serde_json allows: deeper nesting would exhaust the stack of a runtime worker.
            let mut de = msgpack::Deserializer::new(payload, crate::protocol::MAX_DEPTH)
                .packed(*content_type == ContentType::ThingwireMsgpack);
            let out = f(&mut <dyn erased_serde::Deserializer<'_>>::erase(&mut de))?;
            de.end().map_err(|e| payload_error(content_type, e))?;
            Ok(out)
        }
        ContentType::Text => {
            let text = std::str::from_utf8(payload).map_err(|e| payload_error(content_type, e))?;
            let de = de::value::StrDeserializer::<de::value::Error>::new(text);
            f(&mut <dyn erased_serde::Deserializer<'_>>::erase(de))
        }
        ContentType::Other(s) => Err(ProtocolError::UnsupportedContentType(s.clone()).into()),
    }
}

/// Why [`decode_value`] failed.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueError {
    /// The value does not fit the type: the deserializer's message.
    Invalid(String),
    /// The payload is wrong as a whole (bytes after a JSON value): the payload's error.
    Payload(ThingError),
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(message) => f.write_str(message),
            Self::Payload(e) => e.fmt(f),
        }
    }
}

/// Decodes a `T` from an erased deserializer made by [`with_value_deserializer`] or [`decode_args`]. Over
/// msgpack and over a whole JSON payload, the bytes are decoded with a deserializer monomorphized for `T` (a
/// `Vec<f64>` then costs a few instructions per element instead of a few hundred through `erased_serde`);
/// any other deserializer decodes `T` itself. The error is the deserializer's message, the same either way.
pub fn decode_value<T: DeserializeOwned + 'static>(value: ValueDeserializer<'_, '_>) -> Result<T, ValueError> {
    match RawSeed::<T>(PhantomData).deserialize(value) {
        Ok(result) => result,
        Err(e) => Err(ValueError::Invalid(e.to_string())),
    }
}

/// [`decode_value`] for a value being written to property `name`: a value that does not fit is a
/// `TypeError` naming the property.
pub fn decode_property_value<T: DeserializeOwned + 'static>(
    value: ValueDeserializer<'_, '_>,
    name: &str,
) -> Result<T, ThingError> {
    decode_value(value).map_err(|e| match e {
        ValueError::Invalid(e) => ThingError::type_error(format!("property `{name}`: {e}")),
        ValueError::Payload(e) => e,
    })
}

/// Asks a deserializer for its payload's bytes (see `codec::msgpack::RAW_TOKEN`); decodes whatever else it
/// offers as `T`.
struct RawSeed<T>(PhantomData<fn() -> T>);

impl<'de, T: DeserializeOwned + 'static> DeserializeSeed<'de> for RawSeed<T> {
    type Value = Result<T, ValueError>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_newtype_struct(msgpack::RAW_TOKEN, self)
    }
}

/// The top-level JSON deserializer, which also answers the raw-bytes request with the whole payload.
struct JsonPayload<'a, 'de> {
    de: &'a mut serde_json::Deserializer<serde_json::de::SliceRead<'de>>,
    payload: &'de [u8],
    taken: &'a Cell<bool>,
}

macro_rules! forward_json {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, serde_json::Error> {
            Deserializer::$method(self.de, $($arg,)* visitor)
        }
    )*};
}

impl<'de> Deserializer<'de> for JsonPayload<'_, 'de> {
    type Error = serde_json::Error;

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, serde_json::Error> {
        if name == msgpack::RAW_TOKEN {
            self.taken.set(true);
            return visitor.visit_seq(msgpack::RawParts::<serde_json::Error>::new(
                msgpack::RawKind::JsonPayload,
                0,
                self.payload,
            ));
        }
        Deserializer::deserialize_newtype_struct(self.de, name, visitor)
    }

    forward_json! {
        deserialize_any();
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_str();
        deserialize_string();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_option();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_seq();
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
        deserialize_ignored_any();
    }
}

/// Decodes the answer to the raw-bytes request.
fn decode_raw<T: DeserializeOwned + 'static>(kind: u8, depth: u16, bytes: &[u8]) -> Result<T, ValueError> {
    if kind == msgpack::RawKind::JsonPayload as u8 {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let value = T::deserialize(&mut de).map_err(|e| ValueError::Invalid(e.to_string()))?;
        de.end().map_err(|e| ValueError::Payload(payload_error(&ContentType::Json, e)))?;
        return Ok(value);
    }
    let packed = kind == msgpack::RawKind::PackedMsgpackValue as u8;
    // Bulk numbers in one loop, as the typed client reads them (the depth left is at least 1 here).
    let content_type = if packed { ContentType::ThingwireMsgpack } else { ContentType::Msgpack };
    if let Some(values) = crate::codec::fast_value::<T>(bytes, &content_type) {
        return Ok(values);
    }
    msgpack::from_slice(bytes, usize::from(depth), packed).map_err(|e| ValueError::Invalid(e.to_string()))
}

/// A deserializer that does not know the raw-bytes request forwards it to `deserialize_any` (serde's value
/// deserializers: frame 4, `text/plain`) or to `visit_newtype_struct` (serde_json): decode `T` from what
/// it gives.
macro_rules! forward_visits {
    ($($method:ident($ty:ty) => $de:ident;)*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
            Ok(T::deserialize(de::value::$de::<E>::new(v)).map_err(invalid))
        }
    )*};
}

impl<'de, T: DeserializeOwned + 'static> Visitor<'de> for RawSeed<T> {
    type Value = Result<T, ValueError>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value")
    }

    /// The raw-bytes answer: the kind, the nesting depth left, then the bytes.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let kind: u8 = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let depth: u16 = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(1, &self))?;
        let bytes: &'de [u8] = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(2, &self))?;
        Ok(decode_raw(kind, depth, bytes))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        T::deserialize(d).map(Ok)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        T::deserialize(d).map(Ok)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visit_unit()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(T::deserialize(de::value::UnitDeserializer::<E>::new()).map_err(invalid))
    }

    forward_visits! {
        visit_bool(bool) => BoolDeserializer;
        visit_i8(i8) => I8Deserializer;
        visit_i16(i16) => I16Deserializer;
        visit_i32(i32) => I32Deserializer;
        visit_i64(i64) => I64Deserializer;
        visit_i128(i128) => I128Deserializer;
        visit_u8(u8) => U8Deserializer;
        visit_u16(u16) => U16Deserializer;
        visit_u32(u32) => U32Deserializer;
        visit_u64(u64) => U64Deserializer;
        visit_u128(u128) => U128Deserializer;
        visit_f32(f32) => F32Deserializer;
        visit_f64(f64) => F64Deserializer;
        visit_char(char) => CharDeserializer;
        visit_str(&str) => StrDeserializer;
        visit_string(String) => StringDeserializer;
        visit_bytes(&[u8]) => BytesDeserializer;
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(T::deserialize(de::value::BorrowedStrDeserializer::<E>::new(v)).map_err(invalid))
    }

    fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<Self::Value, E> {
        Ok(T::deserialize(de::value::BorrowedBytesDeserializer::<E>::new(v)).map_err(invalid))
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Self::Value, E> {
        self.visit_bytes(&v)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Ok)
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        T::deserialize(de::value::EnumAccessDeserializer::new(data)).map(Ok)
    }
}

fn invalid(e: impl fmt::Display) -> ValueError {
    ValueError::Invalid(e.to_string())
}

fn payload_error(content_type: &ContentType, e: impl fmt::Display) -> ThingError {
    ProtocolError::Payload { content_type: content_type.as_str().to_owned(), reason: e.to_string() }.into()
}

/// Decodes an action's arguments into `sink`: a keyword object (with optional `"__args__"` positional list),
/// a bare list of positional arguments, or `null` for none; frame 4 bytes first when present. Bytes after
/// the arguments are an error.
pub fn decode_args(args: Args<'_>, sink: &mut dyn ArgSink) -> Result<(), ThingError> {
    let mut state = ArgState { sink, filled: Vec::new(), first_positional: 0 };
    state.filled.resize(state.sink.names().len(), false);
    if !args.preserialized.is_empty() {
        let de = de::value::BytesDeserializer::<de::value::Error>::new(args.preserialized);
        state.put(0, de).map_err(|e: de::value::Error| ThingError::type_error(e.to_string()))?;
        state.first_positional = 1;
    }
    if args.payload.is_empty() && !args.preserialized.is_empty() {
        return Ok(());
    }
    // The argument object is walked with the concrete deserializer; each argument is then erased once for
    // the sink (over msgpack the sink decodes its bytes monomorphically, see `decode_value`).
    let content_type = args.content_type;
    match content_type {
        ContentType::Json => {
            let mut de = serde_json::Deserializer::from_slice(args.payload);
            (&mut de).deserialize_any(&mut ArgsVisitor(&mut state)).map_err(arg_error)?;
            de.end().map_err(|e| payload_error(content_type, e))
        }
        ContentType::Msgpack | ContentType::ThingwireMsgpack => {
            let mut de = msgpack::Deserializer::new(args.payload, crate::protocol::MAX_DEPTH)
                .packed(*content_type == ContentType::ThingwireMsgpack);
            (&mut de).deserialize_any(&mut ArgsVisitor(&mut state)).map_err(arg_error)?;
            de.end().map_err(|e| payload_error(content_type, e))
        }
        ContentType::Text => {
            let text = std::str::from_utf8(args.payload).map_err(|e| payload_error(content_type, e))?;
            de::value::StrDeserializer::<de::value::Error>::new(text)
                .deserialize_any(&mut ArgsVisitor(&mut state))
                .map_err(arg_error)
        }
        ContentType::Other(s) => Err(ProtocolError::UnsupportedContentType(s.clone()).into()),
    }
}

fn arg_error(e: impl fmt::Display) -> ThingError {
    ThingError::type_error(e.to_string())
}

struct ArgState<'s> {
    sink: &'s mut dyn ArgSink,
    filled: Vec<bool>,
    first_positional: usize,
}

impl ArgState<'_> {
    fn put<'de, D: Deserializer<'de>>(&mut self, index: usize, de: D) -> Result<(), D::Error> {
        let names = self.sink.names();
        let Some(&name) = names.get(index) else {
            return Err(de::Error::custom(format_args!(
                "takes {} argument{} but {} were given",
                names.len(),
                if names.len() == 1 { "" } else { "s" },
                index + 1
            )));
        };
        if std::mem::replace(&mut self.filled[index], true) {
            return Err(de::Error::custom(format_args!("got multiple values for argument `{name}`")));
        }
        self.sink
            .accept(index, &mut <dyn erased_serde::Deserializer<'_>>::erase(de))
            .map_err(|e| de::Error::custom(format_args!("argument `{name}`: {e}")))
    }
}

struct ArgsVisitor<'a, 's>(&'a mut ArgState<'s>);

impl<'de> Visitor<'de> for &mut ArgsVisitor<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of keyword arguments, a list of positional arguments, or null")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        PositionalSeed(self.0).visit(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "__args__" {
                map.next_value_seed(PositionalSeed(self.0))?;
                continue;
            }
            let names = self.0.sink.names();
            let Some(index) = names.iter().position(|n| *n == key) else {
                return Err(de::Error::custom(unexpected_argument(&key, names)));
            };
            map.next_value_seed(NamedSeed { state: self.0, index })?;
        }
        Ok(())
    }
}

fn unexpected_argument(key: &str, names: &[&str]) -> String {
    if names.is_empty() {
        return format!("got an unexpected argument `{key}`; this action takes no arguments");
    }
    let list = names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
    match crate::suggest::closest(key, names.iter().copied()) {
        Some(s) => format!("got an unexpected argument `{key}`, did you mean `{s}`? (arguments: {list})"),
        None => format!("got an unexpected argument `{key}`; the arguments are {list}"),
    }
}

struct NamedSeed<'a, 's> {
    state: &'a mut ArgState<'s>,
    index: usize,
}

impl<'de> DeserializeSeed<'de> for NamedSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        self.state.put(self.index, de)
    }
}

struct PositionalSeed<'a, 's>(&'a mut ArgState<'s>);

impl<'de> PositionalSeed<'_, '_> {
    fn visit<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = self.0.first_positional;
        loop {
            let seed = NamedSeed { state: self.0, index };
            if seq.next_element_seed(seed)?.is_none() {
                return Ok(());
            }
            index += 1;
        }
    }
}

impl<'de> DeserializeSeed<'de> for PositionalSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        struct V<'a, 's>(PositionalSeed<'a, 's>);
        impl<'de> Visitor<'de> for V<'_, '_> {
            type Value = ();
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of positional arguments")
            }
            fn visit_unit<E: de::Error>(self) -> Result<(), E> {
                Ok(())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
                self.0.visit(seq)
            }
        }
        de.deserialize_any(V(self))
    }
}

/// The entries of a JSON or msgpack object, in their order, each value buffered on its own.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrderedEntries(pub Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for OrderedEntries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OrderedEntries;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedEntries, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0).min(256));
                while let Some(entry) = map.next_entry::<String, serde_json::Value>()? {
                    out.push(entry);
                }
                Ok(OrderedEntries(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Argument slots for a tuple of argument types: `ArgSlots<(f64, Option<String>)>` collects
/// `(Option<f64>, Option<Option<String>>)` — `None` where the caller gave no value. Used by generated code and
/// by hand-written Things.
pub struct ArgSlots<T: SlotTuple> {
    names: &'static [&'static str],
    slots: T::Slots,
}

impl<T: SlotTuple> fmt::Debug for ArgSlots<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArgSlots").field("names", &self.names).finish_non_exhaustive()
    }
}

impl<T: SlotTuple> ArgSlots<T> {
    /// Empty slots for parameters `names` (one per tuple element).
    pub fn new(names: &'static [&'static str]) -> Self {
        debug_assert_eq!(names.len(), T::LEN, "one name per argument");
        Self { names, slots: T::Slots::default() }
    }

    /// Decodes `args` into the slots.
    pub fn decode(mut self, args: Args<'_>) -> Result<T::Slots, ThingError> {
        decode_args(args, &mut self)?;
        Ok(self.slots)
    }
}

impl<T: SlotTuple> ArgSink for ArgSlots<T> {
    fn names(&self) -> &[&'static str] {
        self.names
    }
    fn accept(&mut self, index: usize, value: ValueDeserializer<'_, '_>) -> Result<(), erased_serde::Error> {
        T::accept(&mut self.slots, index, value)
    }
}

/// A tuple of argument types that [`ArgSlots`] can fill. Implemented for tuples of up to 12 elements.
pub trait SlotTuple {
    /// Number of arguments.
    const LEN: usize;
    /// The tuple of `Option`s being filled.
    type Slots: Default;
    /// Decodes argument `index` into its slot.
    fn accept(
        slots: &mut Self::Slots,
        index: usize,
        value: ValueDeserializer<'_, '_>,
    ) -> Result<(), erased_serde::Error>;
}

macro_rules! slot_tuple {
    ($len:expr; $($idx:tt $t:ident),*) => {
        impl<$($t: for<'de> Deserialize<'de> + 'static),*> SlotTuple for ($($t,)*) {
            const LEN: usize = $len;
            type Slots = ($(Option<$t>,)*);
            #[allow(unused_variables)]
            fn accept(slots: &mut Self::Slots, index: usize, value: ValueDeserializer<'_, '_>) -> Result<(), erased_serde::Error> {
                match index {
                    $($idx => {
                        let decoded = decode_value::<$t>(value).map_err(<erased_serde::Error as de::Error>::custom)?;
                        slots.$idx = Some(decoded);
                        Ok(())
                    })*
                    _ => Err(<erased_serde::Error as de::Error>::custom("argument index out of range")),
                }
            }
        }
    };
}

slot_tuple!(0;);
slot_tuple!(1; 0 A);
slot_tuple!(2; 0 A, 1 B);
slot_tuple!(3; 0 A, 1 B, 2 C);
slot_tuple!(4; 0 A, 1 B, 2 C, 3 D);
slot_tuple!(5; 0 A, 1 B, 2 C, 3 D, 4 E);
slot_tuple!(6; 0 A, 1 B, 2 C, 3 D, 4 E, 5 F);
slot_tuple!(7; 0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G);
slot_tuple!(8; 0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H);
slot_tuple!(9; 0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I);
slot_tuple!(10; 0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J);
slot_tuple!(11; 0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K);
slot_tuple!(12; 0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K, 11 L);

/// Takes a required argument out of its slot, or says which one is missing.
pub fn required<T>(slot: Option<T>, name: &str) -> Result<T, ThingError> {
    slot.ok_or_else(|| ThingError::type_error(format!("missing required argument `{name}`")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode2(payload: &[u8], ct: ContentType, pre: &[u8]) -> Result<(Option<f64>, Option<String>), ThingError> {
        ArgSlots::<(f64, String)>::new(&["a", "b"]).decode(Args { payload, content_type: &ct, preserialized: pre })
    }

    #[test]
    fn keyword_positional_and_mixed() {
        assert_eq!(
            decode2(br#"{"a":1.5,"b":"x"}"#, ContentType::Json, b"").expect("kw"),
            (Some(1.5), Some("x".into()))
        );
        assert_eq!(
            decode2(br#"{"__args__":[2,"y"]}"#, ContentType::Json, b"").expect("pos"),
            (Some(2.0), Some("y".into()))
        );
        assert_eq!(
            decode2(br#"{"__args__":[2],"b":"z"}"#, ContentType::Json, b"").expect("mixed"),
            (Some(2.0), Some("z".into()))
        );
        assert_eq!(decode2(b"[3]", ContentType::Json, b"").expect("list"), (Some(3.0), None));
        assert_eq!(decode2(b"null", ContentType::Json, b"").expect("null"), (None, None));
        let mp = rmp_serde::to_vec_named(&serde_json::json!({"b": "m", "a": 4.0})).expect("mp");
        assert_eq!(decode2(&mp, ContentType::Msgpack, b"").expect("msgpack"), (Some(4.0), Some("m".into())));
    }

    #[test]
    fn bad_arguments_say_what_is_wrong() {
        let cases: &[(&[u8], &str)] = &[
            (br#"{"c":1}"#, "unexpected argument `c`"),
            (br#"{"aa":1}"#, "did you mean `a`"),
            (br#"{"a":"no"}"#, "argument `a`"),
            (br#"{"__args__":[1],"a":2}"#, "multiple values for argument `a`"),
            (br#"{"__args__":[1,"x",3]}"#, "takes 2 arguments but 3 were given"),
            (br#"{"a":1} trailing"#, "trailing"),
            (b"7", "keyword arguments"),
        ];
        for (payload, expected) in cases {
            let err = decode2(payload, ContentType::Json, b"").expect_err("must fail");
            assert!(err.message.contains(expected), "{err} should mention {expected}");
        }
    }

    #[test]
    fn frame_four_is_the_first_positional_argument() {
        let got = ArgSlots::<(serde_bytes_shim::Bytes, u8)>::new(&["data", "n"])
            .decode(Args { payload: br#"{"n":3}"#, content_type: &ContentType::Json, preserialized: b"\x01\x02" })
            .expect("decodes");
        assert_eq!(got.0.map(|b| b.0), Some(vec![1, 2]));
        assert_eq!(got.1, Some(3));
    }

    /// What the runtime did before `decode_value`: `T` through the erased deserializer, element by element.
    fn erased_rmp<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
        let mut de = rmp_serde::Deserializer::from_read_ref(bytes);
        de.set_max_depth(crate::protocol::MAX_DEPTH);
        erased_serde::deserialize::<T>(&mut <dyn erased_serde::Deserializer<'_>>::erase(&mut de))
            .map_err(|e| e.to_string())
    }

    fn via_decode_value<T: DeserializeOwned + 'static>(bytes: &[u8]) -> Result<T, String> {
        let mut de = msgpack::Deserializer::new(bytes, crate::protocol::MAX_DEPTH);
        decode_value::<T>(&mut <dyn erased_serde::Deserializer<'_>>::erase(&mut de)).map_err(|e| e.to_string())
    }

    #[test]
    fn monomorphic_values_decode_and_fail_as_the_erased_path_did() {
        let good: Vec<Vec<u8>> = vec![
            rmp_serde::to_vec_named(&vec![1.5_f64, -0.0, f64::INFINITY, 1e-300]).expect("e"),
            rmp_serde::to_vec_named(&vec![1_i64, -70000, 3]).expect("e"),
            rmp_serde::to_vec_named(&serde_json::json!({"a": [1, 2.5, "x", null, {"b": true}]})).expect("e"),
            rmp_serde::to_vec_named(&Some("text")).expect("e"),
        ];
        for bytes in &good {
            for end in 0..=bytes.len() {
                let cut = &bytes[..end];
                assert_eq!(via_decode_value::<Vec<f64>>(cut), erased_rmp::<Vec<f64>>(cut), "{cut:02x?}");
                assert_eq!(via_decode_value::<serde_json::Value>(cut), erased_rmp::<serde_json::Value>(cut));
                assert_eq!(via_decode_value::<Option<String>>(cut), erased_rmp::<Option<String>>(cut));
                assert_eq!(via_decode_value::<Vec<i32>>(cut), erased_rmp::<Vec<i32>>(cut), "{cut:02x?}");
            }
        }
        let deep = [vec![0x91; 300], vec![0x01]].concat();
        assert_eq!(via_decode_value::<serde_json::Value>(&deep), Err("depth limit exceeded".to_owned()));
    }

    /// A property write as the runtime did it before `decode_value`: erased, then the end check.
    fn old_json_write<T: DeserializeOwned>(payload: &[u8]) -> Result<T, ThingError> {
        let mut de = serde_json::Deserializer::from_slice(payload);
        let value = erased_serde::deserialize::<T>(&mut <dyn erased_serde::Deserializer<'_>>::erase(&mut de))
            .map_err(|e| ThingError::type_error(format!("property `p`: {e}")))?;
        de.end().map_err(|e| payload_error(&ContentType::Json, e))?;
        Ok(value)
    }

    fn new_write<T: DeserializeOwned + 'static>(payload: &[u8], ct: ContentType) -> Result<T, ThingError> {
        with_value_deserializer(payload, &ct, &[], |d| decode_property_value::<T>(d, "p"))
    }

    #[test]
    fn json_property_writes_decode_monomorphically_with_the_same_errors() {
        let payloads: &[&[u8]] = &[
            b"[1.5, -2, 3e10, 0]",
            b"[1.5, \"x\"]",
            b"[1.5, 2",
            b"[1.5] trailing",
            b"[1.5]   ",
            b"{\"a\": 1}",
            b"null",
            b"",
            b"2.5",
            b"\"text\" 1",
            br#"{"a": [1, {"b": null}], "c": "\u00e9"}"#,
        ];
        for payload in payloads {
            let show = String::from_utf8_lossy(payload);
            assert_eq!(
                format!("{:?}", new_write::<Vec<f64>>(payload, ContentType::Json)),
                format!("{:?}", old_json_write::<Vec<f64>>(payload)),
                "{show}"
            );
            assert_eq!(
                format!("{:?}", new_write::<serde_json::Value>(payload, ContentType::Json)),
                format!("{:?}", old_json_write::<serde_json::Value>(payload)),
                "{show}"
            );
            assert_eq!(
                format!("{:?}", new_write::<Option<f64>>(payload, ContentType::Json)),
                format!("{:?}", old_json_write::<Option<f64>>(payload)),
                "{show}"
            );
        }
        let err = new_write::<Vec<f64>>(b"[1.5] x", ContentType::Json).expect_err("trailing");
        assert!(err.to_string().contains("trailing characters"), "{err}");
        assert_eq!(new_write::<Vec<f64>>(b"[1.5]", ContentType::Json).expect("decodes"), vec![1.5]);
        // msgpack: the fixint 50, then `.5`.
        let err = new_write::<f64>(b"2.5", ContentType::Msgpack).expect_err("trailing");
        assert!(err.to_string().contains("2 trailing bytes after the msgpack value"), "{err}");
        // Text and frame 4 still decode through their own deserializers.
        assert_eq!(new_write::<String>(b"hello", ContentType::Text).expect("text"), "hello");
        let got = with_value_deserializer(b"", &ContentType::Json, b"\x01\x02", |d| {
            decode_property_value::<serde_bytes_shim::Bytes>(d, "p")
        })
        .expect("frame 4");
        assert_eq!(got.0, vec![1, 2]);
    }

    #[test]
    fn msgpack_arguments_decode_monomorphically_with_the_same_errors() {
        let decode = |payload: &[u8]| {
            ArgSlots::<(Vec<f64>, Option<u8>)>::new(&["values", "n"]).decode(Args {
                payload,
                content_type: &ContentType::Msgpack,
                preserialized: b"",
            })
        };
        let kw = rmp_serde::to_vec_named(&serde_json::json!({"values": [1.5, 2.0, -3], "n": 4})).expect("e");
        assert_eq!(decode(&kw).expect("keywords"), (Some(vec![1.5, 2.0, -3.0]), Some(Some(4))));
        let pos = rmp_serde::to_vec_named(&serde_json::json!({"__args__": [[0.5]]})).expect("e");
        assert_eq!(decode(&pos).expect("positional"), (Some(vec![0.5]), None));
        let bad = rmp_serde::to_vec_named(&serde_json::json!({"values": [1.5, "x"]})).expect("e");
        let err = decode(&bad).expect_err("a string is not a float");
        // rmp-serde's message, as before.
        assert_eq!(err.message, "argument `values`: wrong msgpack marker FixStr(1)");
        let trailing = [kw.as_slice(), b"\x01"].concat();
        let err = decode(&trailing).expect_err("trailing byte");
        assert!(err.message.contains("1 trailing byte after the msgpack value"), "{err}");
    }

    #[test]
    fn packed_arrays_reach_property_values_and_arguments() {
        let mut packed = vec![0xc9, 0, 0, 0, 16, crate::protocol::PACKED_F64_EXT.to_be_bytes()[0]];
        packed.extend([1.5f64, -2.0].iter().flat_map(|v| v.to_le_bytes()));
        // A property write in the packed content type; plain msgpack refuses the same bytes.
        assert_eq!(new_write::<Vec<f64>>(&packed, ContentType::ThingwireMsgpack).expect("packed"), [1.5, -2.0]);
        assert!(new_write::<Vec<f64>>(&packed, ContentType::Msgpack).is_err());
        // An argument: the map is walked, then the argument's bytes are decoded on their own, still packed.
        let mut args = vec![0x81];
        args.extend(rmp_serde::to_vec(&"values").expect("key"));
        args.extend(&packed);
        let decode = |ct: &ContentType| {
            ArgSlots::<(Vec<f64>,)>::new(&["values"]).decode(Args {
                payload: &args,
                content_type: ct,
                preserialized: b"",
            })
        };
        assert_eq!(decode(&ContentType::ThingwireMsgpack).expect("packed argument"), (Some(vec![1.5, -2.0]),));
        assert!(decode(&ContentType::Msgpack).is_err());
    }

    mod serde_bytes_shim {
        /// Accepts serde bytes (what frame 4 is handed as).
        pub(super) struct Bytes(pub(super) Vec<u8>);
        impl<'de> serde::Deserialize<'de> for Bytes {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = Bytes;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("bytes")
                    }
                    fn visit_bytes<E>(self, v: &[u8]) -> Result<Bytes, E> {
                        Ok(Bytes(v.to_vec()))
                    }
                }
                d.deserialize_bytes(V)
            }
        }
    }
}
