//! Decoding values and action arguments straight from a payload, with no intermediate tree.
//!
//! An action's payload is an object of keyword arguments; hololinked's Python client puts positional
//! arguments under the key `"__args__"`, and a non-empty frame 4 is the first positional argument. The
//! [`decode_args`] visitor walks that shape once and hands each argument's deserializer to an [`ArgSink`],
//! which decodes it into its own type.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::error::ThingError;
use crate::protocol::{ContentType, ProtocolError};
use crate::thing::{ArgSink, Args, ValueDeserializer};

/// Runs `f` with an erased deserializer over `payload` in `content_type` (frame 4, when not empty, is used
/// instead, as bytes — hololinked writes raw bytes that way). Trailing garbage after a JSON value is an
/// error.
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
            let out = f(&mut <dyn erased_serde::Deserializer<'_>>::erase(&mut de))?;
            de.end().map_err(|e| payload_error(content_type, e))?;
            Ok(out)
        }
        ContentType::Msgpack => {
            let mut de = rmp_serde::Deserializer::from_read_ref(payload);
            // As deep as serde_json allows: deeper nesting would exhaust the stack of a runtime worker.
            de.set_max_depth(crate::protocol::MAX_DEPTH);
            f(&mut <dyn erased_serde::Deserializer<'_>>::erase(&mut de))
        }
        ContentType::Text => {
            let text = std::str::from_utf8(payload).map_err(|e| payload_error(content_type, e))?;
            let de = de::value::StrDeserializer::<de::value::Error>::new(text);
            f(&mut <dyn erased_serde::Deserializer<'_>>::erase(de))
        }
        ContentType::Other(s) => Err(ProtocolError::UnsupportedContentType(s.clone()).into()),
    }
}

fn payload_error(content_type: &ContentType, e: impl fmt::Display) -> ThingError {
    ProtocolError::Payload { content_type: content_type.as_str().to_owned(), reason: e.to_string() }.into()
}

/// Decodes an action's arguments into `sink`: a keyword object (with optional `"__args__"` positional list),
/// a bare list of positional arguments, or `null` for none; frame 4 bytes first when present.
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
    with_value_deserializer(args.payload, args.content_type, &[], |de| {
        de.deserialize_any(&mut ArgsVisitor(&mut state)).map_err(arg_error)
    })
}

fn arg_error(e: erased_serde::Error) -> ThingError {
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
        impl<$($t: for<'de> Deserialize<'de>),*> SlotTuple for ($($t,)*) {
            const LEN: usize = $len;
            type Slots = ($(Option<$t>,)*);
            #[allow(unused_variables)]
            fn accept(slots: &mut Self::Slots, index: usize, value: ValueDeserializer<'_, '_>) -> Result<(), erased_serde::Error> {
                match index {
                    $($idx => { slots.$idx = Some(erased_serde::deserialize::<$t>(value)?); Ok(()) })*
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
