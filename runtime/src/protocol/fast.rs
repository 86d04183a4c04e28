//! Hand-written codecs for the JSON header frames, the hottest code of every request: a server decodes one
//! request header and encodes one response header per request, a client the other way round.
//!
//! The decoders are fast paths, not a second definition of the protocol: they accept the headers real
//! clients send (keys in any order, unknown keys skipped, `null`/`{}` contexts) and give up — return `None`
//! — on anything unusual (an escape in a string, a duplicate key, a type error, malformed JSON). The caller
//! then decodes with serde, whose result and error messages stay the reference; a unit test checks that the
//! two agree on every header that the fast path takes. The encoders write exactly the bytes serde_json
//! writes for the same header (also checked by the tests).

use std::borrow::Cow;

use super::{
    EventHeader, OutgoingRequestHeader, RequestHeader, ResponseHeader, ServerExecutionContext, ThingExecutionContext,
    default_server_context, seconds_to_duration,
};

/// serde_json's nesting limit; deeper values are left to serde, which reports them.
const MAX_SKIP_DEPTH: u32 = 127;

struct Cursor<'a> {
    text: &'a str,
    i: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Self { text, i: 0 }
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes().get(self.i) {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.bytes().get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        self.ws();
        self.bytes().get(self.i..)?.starts_with(word).then(|| self.i += word.len())
    }

    /// A string without escapes or control characters, borrowed from the frame.
    fn plain_str(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.i;
        self.i = special_from(self.bytes(), start);
        if *self.bytes().get(self.i)? != b'"' {
            return None;
        }
        let s = self.text.get(start..self.i)?;
        self.i += 1;
        Some(s)
    }

    /// A string or `null`.
    fn str_or_null(&mut self) -> Option<Option<&'a str>> {
        if self.peek()? == b'n' { self.literal(b"null").map(|_| None) } else { self.plain_str().map(Some) }
    }

    fn bool_or_null(&mut self) -> Option<Option<bool>> {
        match self.peek()? {
            b't' => self.literal(b"true").map(|_| Some(true)),
            b'f' => self.literal(b"false").map(|_| Some(false)),
            _ => self.literal(b"null").map(|_| None),
        }
    }

    /// A JSON number (strict grammar), as `f64`.
    fn number(&mut self) -> Option<f64> {
        self.ws();
        let start = self.i;
        let b = self.bytes();
        let digits = |i: &mut usize| {
            let from = *i;
            while b.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i > from
        };
        let mut i = self.i;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        match b.get(i)? {
            b'0' => i += 1,
            b'1'..=b'9' => {
                digits(&mut i);
            }
            _ => return None,
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            if !digits(&mut i) {
                return None;
            }
        }
        if let Some(b'e' | b'E') = b.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = b.get(i) {
                i += 1;
            }
            if !digits(&mut i) {
                return None;
            }
        }
        self.i = i;
        let text = self.text.get(start..i)?;
        let value: f64 = match simple_decimal(text.as_bytes()) {
            Some(v) => v,
            None => text.parse().ok()?,
        };
        value.is_finite().then_some(value)
    }

    fn number_or_null(&mut self) -> Option<Option<f64>> {
        if self.peek()? == b'n' { self.literal(b"null").map(|_| None) } else { self.number().map(Some) }
    }

    /// Skips any string, escapes included (validated as serde_json would).
    fn skip_str(&mut self) -> Option<()> {
        self.eat(b'"')?;
        let b = self.bytes();
        loop {
            self.i = special_from(b, self.i);
            match *b.get(self.i)? {
                b'"' => {
                    self.i += 1;
                    return Some(());
                }
                b'\\' => match *b.get(self.i + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 2,
                    // Surrogates are left to serde, which checks their pairing.
                    b'u' => {
                        let hex = b.get(self.i + 2..self.i + 6)?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) || matches!(hex[0], b'd' | b'D') {
                            return None;
                        }
                        self.i += 6;
                    }
                    _ => return None,
                },
                0..=0x1f => return None,
                _ => self.i += 1,
            }
        }
    }

    /// Skips one JSON value of any shape, without recursion.
    fn skip_value(&mut self) -> Option<()> {
        // Bit n of `objects` says whether the container at depth n+1 is an object.
        let mut objects: u128 = 0;
        let mut depth: u32 = 0;
        loop {
            // One value, or the opening of a container.
            match self.peek()? {
                open @ (b'{' | b'[') => {
                    self.i += 1;
                    if depth == MAX_SKIP_DEPTH {
                        return None;
                    }
                    let is_object = open == b'{';
                    objects = (objects << 1) | u128::from(is_object);
                    depth += 1;
                    let close = if is_object { b'}' } else { b']' };
                    if self.peek()? == close {
                        self.i += 1;
                        objects >>= 1;
                        depth -= 1;
                    } else {
                        if is_object {
                            self.skip_str()?;
                            self.eat(b':')?;
                        }
                        continue;
                    }
                }
                b'"' => self.skip_str()?,
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                _ => {
                    self.number()?;
                }
            }
            // After a complete value: a comma and the next member, or closing brackets.
            loop {
                if depth == 0 {
                    return Some(());
                }
                let in_object = objects & 1 == 1;
                match self.peek()? {
                    b',' => {
                        self.i += 1;
                        if in_object {
                            self.skip_str()?;
                            self.eat(b':')?;
                        }
                        break;
                    }
                    b'}' if in_object => {}
                    b']' if !in_object => {}
                    _ => return None,
                }
                self.i += 1;
                objects >>= 1;
                depth -= 1;
            }
        }
    }

    /// Runs `member` for each `"key": value` of an object, with the index of the key in `keys` (`None` for a
    /// key not listed); `member` reads the value.
    ///
    /// Senders write the keys in one order (hololinked's field order, which `keys` follows), so each key is
    /// first compared with the one expected next: one comparison of a few bytes instead of scanning the string
    /// and matching it against every name.
    fn object<const N: usize>(
        &mut self,
        keys: &[&str; N],
        mut member: impl FnMut(&mut Self, Option<usize>) -> Option<()>,
    ) -> Option<()> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        let mut expected = 0;
        loop {
            let index = match self.predicted_key(keys, expected) {
                Some(index) => Some(index),
                None => {
                    let key = self.plain_str()?;
                    keys.iter().position(|k| *k == key)
                }
            };
            if let Some(index) = index {
                expected = index + 1;
            }
            self.eat(b':')?;
            member(self, index)?;
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// Consumes `"keys[expected]"` if that is what comes next (the cursor is on the opening quote).
    fn predicted_key<const N: usize>(&mut self, keys: &[&str; N], expected: usize) -> Option<usize> {
        let key = keys.get(expected)?.as_bytes();
        let after = self.bytes().get(self.i..)?.strip_prefix(b"\"")?.strip_prefix(key)?;
        (after.first() == Some(&b'"')).then(|| {
            self.i += key.len() + 2;
            expected
        })
    }

    fn end(&mut self) -> Option<()> {
        self.ws();
        (self.i == self.text.len()).then_some(())
    }

    fn server_context(&mut self) -> Option<ServerExecutionContext> {
        const KEYS: [&str; 7] = [
            "invokationTimeout",
            "executionTimeout",
            "oneway",
            "invokation_timeout",
            "invocationTimeout",
            "invocation_timeout",
            "execution_timeout",
        ];
        let mut ctx = ServerExecutionContext::default();
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            return Some(ctx);
        }
        self.object(&KEYS, |c, key| {
            match key {
                Some(at @ (0 | 3 | 4 | 5)) => {
                    ctx.invocation_timeout =
                        seconds_to_duration::<serde::de::value::Error>(c.number_or_null()?, KEYS[at]).ok()?;
                }
                Some(at @ (1 | 6)) => {
                    ctx.execution_timeout =
                        seconds_to_duration::<serde::de::value::Error>(c.number_or_null()?, KEYS[at]).ok()?;
                }
                Some(2) => ctx.oneway = c.bool_or_null()?.unwrap_or(false),
                _ => c.skip_value()?,
            }
            Some(())
        })?;
        Some(ctx)
    }

    fn thing_context(&mut self) -> Option<ThingExecutionContext> {
        let mut ctx = ThingExecutionContext::default();
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            return Some(ctx);
        }
        self.object(&["fetchExecutionLogs", "fetch_execution_logs"], |c, key| {
            match key {
                Some(_) => ctx.fetch_execution_logs = c.bool_or_null()?.unwrap_or(false),
                None => c.skip_value()?,
            }
            Some(())
        })?;
        Some(ctx)
    }
}

/// A decimal without exponent and with at most 15 digits (`5`, `0.25`, `-12.5`), the timeouts clients send,
/// without the general float parser: the digits make an exact integer below 2^53 and the divisor an exact
/// power of ten, so one IEEE division rounds correctly (Clinger's fast path). Anything else is `None`.
fn simple_decimal(text: &[u8]) -> Option<f64> {
    const POW10: [f64; 16] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];
    let (negative, digits) = match text {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, text),
    };
    let (mut mantissa, mut count, mut fraction): (u64, usize, Option<usize>) = (0, 0, None);
    for &b in digits {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(b - b'0');
                count += 1;
                if count > 15 {
                    return None;
                }
                fraction = fraction.map(|f| f + 1);
            }
            b'.' if fraction.is_none() => fraction = Some(0),
            _ => return None,
        }
    }
    if count == 0 || fraction == Some(0) {
        return None;
    }
    let value = mantissa as f64 / POW10[fraction.unwrap_or(0)];
    Some(if negative { -value } else { value })
}

/// The index of the first byte at or after `from` that ends a plain run of string contents: a quote, a
/// backslash or a control character (`bytes.len()` if there is none). Eight bytes at a time.
fn special_from(bytes: &[u8], from: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut i = from;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        // The classic "has a zero byte" test, for w ^ '"', w ^ '\\' and w < 0x20. The lowest flagged byte
        // is always a real match (false positives only sit above a real one).
        let quote = w ^ (ONES * u64::from(b'"'));
        let backslash = w ^ (ONES * u64::from(b'\\'));
        let found = (quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (w.wrapping_sub(ONES * 0x20) & !w);
        let found = found & HIGH;
        if found != 0 {
            return i + (found.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            break;
        }
        i += 1;
    }
    i
}

/// Sets `slot` unless it was set before (a duplicate key is left to serde, which names it).
fn once<T>(slot: &mut Option<T>, value: Option<T>) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value?);
    Some(())
}

/// The request header's keys, in the order hololinked's clients (and ours) write them.
const REQUEST_KEYS: [&str; 11] = [
    "messageType",
    "messageID",
    "senderID",
    "receiverID",
    "serverExecutionContext",
    "thingExecutionContext",
    "thingID",
    "objekt",
    "operation",
    "payloadContentType",
    "preencodedPayloadContentType",
];

/// The request header of a well-formed, ordinary frame; `None` means "ask serde".
pub(super) fn request_header<'a>(text: &'a str) -> Option<RequestHeader<'a>> {
    let (mut message_type, mut message_id, mut sender_id, mut receiver_id) = (None, None, None, None);
    let (mut server_ctx, mut thing_ctx) = (None, None);
    let (mut thing_id, mut objekt, mut operation, mut payload_ct, mut preencoded_ct) = (None, None, None, None, None);
    let mut c = Cursor::new(text);
    c.object(&REQUEST_KEYS, |c, key| match key {
        Some(0) => once(&mut message_type, c.plain_str()),
        Some(1) => once(&mut message_id, c.plain_str()),
        Some(2) => once(&mut sender_id, c.plain_str()),
        Some(3) => once(&mut receiver_id, c.plain_str()),
        Some(4) => once(&mut server_ctx, c.server_context()),
        Some(5) => once(&mut thing_ctx, c.thing_context()),
        Some(6) => once(&mut thing_id, c.str_or_null()),
        Some(7) => once(&mut objekt, c.str_or_null()),
        Some(8) => once(&mut operation, c.str_or_null()),
        Some(9) => once(&mut payload_ct, c.str_or_null()),
        Some(10) => once(&mut preencoded_ct, c.str_or_null()),
        _ => c.skip_value(),
    })?;
    c.end()?;
    let text_or_empty = |v: Option<Option<&'a str>>| Cow::Borrowed(v.flatten().unwrap_or(""));
    Some(RequestHeader {
        message_type: Cow::Borrowed(message_type?),
        message_id: Cow::Borrowed(message_id?),
        sender_id: Cow::Borrowed(sender_id?),
        receiver_id: Cow::Borrowed(receiver_id?),
        server_execution_context: server_ctx.unwrap_or_else(default_server_context),
        thing_execution_context: thing_ctx.unwrap_or_default(),
        thing_id: text_or_empty(thing_id),
        objekt: match objekt {
            None => Some(Cow::Borrowed("")),
            Some(o) => o.map(Cow::Borrowed),
        },
        operation: text_or_empty(operation),
        payload_content_type: text_or_empty(payload_ct),
        preencoded_payload_content_type: text_or_empty(preencoded_ct),
    })
}

/// The string members named `keys` of a flat header object whose other members are skipped, in the order of
/// `keys`; `None` if the frame is unusual (a duplicate key, a non-string value for a key, an escape, …).
fn string_members<'a, const N: usize>(frame: &'a [u8], keys: [&str; N]) -> Option<[Option<&'a str>; N]> {
    let text = std::str::from_utf8(frame).ok()?;
    let mut found = [None; N];
    let mut c = Cursor::new(text);
    c.object(&keys, |c, key| match key {
        Some(at) => once(&mut found[at], c.plain_str()),
        None => c.skip_value(),
    })?;
    c.end()?;
    Some(found)
}

/// The response header of a well-formed, ordinary frame; `None` means "ask serde".
pub(super) fn response_header(frame: &[u8]) -> Option<ResponseHeader<'_>> {
    let keys =
        ["messageType", "messageID", "receiverID", "senderID", "payloadContentType", "preencodedPayloadContentType"];
    let [message_type, message_id, receiver_id, sender_id, payload_ct, preencoded_ct] = string_members(frame, keys)?;
    Some(ResponseHeader {
        message_type: Cow::Borrowed(message_type?),
        message_id: Cow::Borrowed(message_id?),
        receiver_id: Cow::Borrowed(receiver_id?),
        sender_id: Cow::Borrowed(sender_id?),
        payload_content_type: Cow::Borrowed(payload_ct.unwrap_or("application/json")),
        preencoded_payload_content_type: Cow::Borrowed(preencoded_ct.unwrap_or("text/plain")),
    })
}

/// The event header of a well-formed, ordinary frame; `None` means "ask serde".
pub(super) fn event_header(frame: &[u8]) -> Option<EventHeader<'_>> {
    let keys =
        ["messageType", "messageID", "senderID", "eventID", "payloadContentType", "preencodedPayloadContentType"];
    let [message_type, message_id, sender_id, event_id, payload_ct, preencoded_ct] = string_members(frame, keys)?;
    Some(EventHeader {
        message_type: Cow::Borrowed(message_type?),
        message_id: Cow::Borrowed(message_id?),
        sender_id: Cow::Borrowed(sender_id?),
        event_id: Cow::Borrowed(event_id?),
        payload_content_type: Cow::Borrowed(payload_ct.unwrap_or("application/json")),
        preencoded_payload_content_type: Cow::Borrowed(preencoded_ct.unwrap_or("text/plain")),
    })
}

/// Appends `s` as a JSON string, escaped exactly as serde_json escapes it.
fn push_str(out: &mut Vec<u8>, s: &str) {
    if special_from(s.as_bytes(), 0) < s.len() {
        // Rare: ids and names with quotes or control characters. Writing a str into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    } else {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    }
}

/// Appends a key and its string value: `"key":"value"` (the key is a literal with its quotes and colon).
fn push_member(out: &mut Vec<u8>, key: &[u8], value: &str) {
    out.extend_from_slice(key);
    push_str(out, value);
}

pub(super) fn encode_response_header(h: &ResponseHeader<'_>, out: &mut Vec<u8>) {
    out.reserve(140 + h.message_id.len() + h.receiver_id.len() + h.sender_id.len());
    push_member(out, b"{\"messageType\":", &h.message_type);
    push_member(out, b",\"messageID\":", &h.message_id);
    push_member(out, b",\"receiverID\":", &h.receiver_id);
    push_member(out, b",\"senderID\":", &h.sender_id);
    push_member(out, b",\"payloadContentType\":", &h.payload_content_type);
    push_member(out, b",\"preencodedPayloadContentType\":", &h.preencoded_payload_content_type);
    out.push(b'}');
}

pub(super) fn encode_event_header(h: &EventHeader<'_>, out: &mut Vec<u8>) {
    out.reserve(140 + h.message_id.len() + h.sender_id.len() + h.event_id.len());
    push_member(out, b"{\"messageType\":", &h.message_type);
    push_member(out, b",\"messageID\":", &h.message_id);
    push_member(out, b",\"senderID\":", &h.sender_id);
    push_member(out, b",\"eventID\":", &h.event_id);
    push_member(out, b",\"payloadContentType\":", &h.payload_content_type);
    push_member(out, b",\"preencodedPayloadContentType\":", &h.preencoded_payload_content_type);
    out.push(b'}');
}

pub(super) fn encode_request_header(h: &OutgoingRequestHeader<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        300 + h.message_id.len() + h.sender_id.len() + h.receiver_id.len() + h.thing_id.len() + h.operation.len(),
    );
    push_member(&mut out, b"{\"messageType\":", h.message_type);
    push_member(&mut out, b",\"messageID\":", h.message_id);
    push_member(&mut out, b",\"senderID\":", h.sender_id);
    push_member(&mut out, b",\"receiverID\":", h.receiver_id);
    out.extend_from_slice(b",\"serverExecutionContext\":{");
    let ctx = &h.server_execution_context;
    // serde_json writes floats with ryu (and non-finite ones as null); reuse it for byte-identical output.
    if let Some(t) = ctx.invokation_timeout {
        out.extend_from_slice(b"\"invokationTimeout\":");
        let _ = serde_json::to_writer(&mut out, &t);
        out.push(b',');
    }
    if let Some(t) = ctx.execution_timeout {
        out.extend_from_slice(b"\"executionTimeout\":");
        let _ = serde_json::to_writer(&mut out, &t);
        out.push(b',');
    }
    out.extend_from_slice(if ctx.oneway { b"\"oneway\":true}" } else { b"\"oneway\":false}" });
    out.extend_from_slice(if h.thing_execution_context.fetch_execution_logs {
        b",\"thingExecutionContext\":{\"fetchExecutionLogs\":true}"
    } else {
        b",\"thingExecutionContext\":{\"fetchExecutionLogs\":false}"
    });
    push_member(&mut out, b",\"thingID\":", h.thing_id);
    match h.objekt {
        Some(o) => push_member(&mut out, b",\"objekt\":", o),
        None => out.extend_from_slice(b",\"objekt\":null"),
    }
    push_member(&mut out, b",\"operation\":", h.operation);
    push_member(&mut out, b",\"payloadContentType\":", h.payload_content_type);
    push_member(&mut out, b",\"preencodedPayloadContentType\":", h.preencoded_payload_content_type);
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{OutgoingServerContext, OutgoingThingContext};

    const TYPICAL: &str = r#"{"messageType":"OPERATION","messageID":"6f1c2a4e-1b8e-4a53-9d1c-2f9f0b6a7c11","senderID":"client-1","receiverID":"lab","serverExecutionContext":{"invokationTimeout":5,"executionTimeout":5.5,"oneway":false},"thingExecutionContext":{"fetchExecutionLogs":false},"thingID":"spectrometer","objekt":"integration_time","operation":"readproperty","payloadContentType":"application/json","preencodedPayloadContentType":"text/plain"}"#;

    /// What serde makes of `text`, the reference.
    fn reference(text: &str) -> Option<RequestHeader<'_>> {
        if text.trim_start().starts_with('[') {
            return None;
        }
        serde_json::from_str(text).ok()
    }

    /// The fast path may give up, but when it answers it agrees with serde.
    fn agrees(text: &str) -> bool {
        match request_header(text) {
            Some(fast) => {
                assert_eq!(Some(&fast), reference(text).as_ref(), "fast path and serde disagree on {text}");
                true
            }
            None => false,
        }
    }

    #[test]
    fn ordinary_headers_take_the_fast_path_and_agree_with_serde() {
        let taken = [
            TYPICAL,
            r#"{"messageType":"HANDSHAKE","messageID":"","senderID":"c","receiverID":""}"#,
            r#" { "receiverID" : "s" , "senderID":"c","messageID":"m","messageType":"OPERATION" } "#,
            r#"{"messageType":"OPERATION","messageID":"m","senderID":"c","receiverID":"s","serverExecutionContext":null,"thingExecutionContext":null,"thingID":null,"objekt":null,"operation":null}"#,
            r#"{"messageType":"OPERATION","messageID":"m","senderID":"c","receiverID":"s","serverExecutionContext":{}}"#,
            r#"{"messageType":"OPERATION","messageID":"m","senderID":"c","receiverID":"s","serverExecutionContext":{"invocation_timeout":0.25,"execution_timeout":null,"oneway":null,"priority":[1,{"a":[]}]}}"#,
            r#"{"messageType":"OPERATION","messageID":"m","senderID":"c","receiverID":"s","serverExecutionContext":{"executionTimeout":1e300,"invokationTimeout":-0}}"#,
            r#"{"messageType":"OPERATION","messageID":"m","senderID":"c","receiverID":"s","thingExecutionContext":{"fetch_execution_logs":true,"x":"y\"z"}}"#,
            r#"{"messageType":"OPERATION","messageID":"m","senderID":"c","receiverID":"s","extra":{"deep":[[[["\u00e9",1.5e-3,true,false,null]]]]},"more":"\\\/\b\f\n\r\t"}"#,
            "{\"messageType\":\"OPERATION\",\"messageID\":\"m\",\"senderID\":\"é—ü\",\"receiverID\":\"s\",\"thingID\":\"Thing\"}",
        ];
        for text in taken {
            assert!(agrees(text), "the fast path gave up on an ordinary header: {text}");
        }
        let header = request_header(TYPICAL).expect("typical");
        assert_eq!(header.server_execution_context.execution_timeout, Some(std::time::Duration::from_millis(5500)));
        assert_eq!(header.objekt.as_deref(), Some("integration_time"));
        let absent = request_header(r#"{"messageType":"OPERATION","messageID":"m","senderID":"c","receiverID":"s"}"#)
            .expect("minimal");
        assert_eq!(absent.objekt.as_deref(), Some(""), "an absent objekt is the empty name");
        assert_eq!(absent.server_execution_context, default_server_context(), "an absent context: 5 s defaults");
    }

    #[test]
    fn unusual_headers_are_left_to_serde() {
        let left = [
            "",
            "   ",
            "null",
            "[\"OPERATION\",\"m\",\"c\",\"s\"]",
            r#"{"messageType":"OPERATION","messageID":"m","senderID":"c"}"#,
            r#"{"messageType":"OPERATION","messageID":"m","messageID":"n","senderID":"c","receiverID":"s"}"#,
            r#"{"messageType":"OPERATION","messageID":"a\"b","senderID":"c","receiverID":"s"}"#,
            r#"{"messageType":"OPERATION","messageID":42,"senderID":"c","receiverID":"s"}"#,
            r#"{"messageType":"OPERATION","messageID":"m","senderID":"c","receiverID":"s","serverExecutionContext":{"invokationTimeout":-1}}"#,
            r#"{"messageType":"OPERATION","messageID":"m","senderID":"c","receiverID":"s","serverExecutionContext":{"oneway":"yes"}}"#,
            r#"{"messageType":"OPERATION","messageID":"m","senderID":"c","receiverID":"s","serverExecutionContext":"soon"}"#,
            r#"{"messageType":"OPERATION","messageID":"m","senderID":"c","receiverID":"s"} trailing"#,
            r#"{"messageType":"OPERATION","messageID":"m","senderID":"c","receiverID":"s","x":01}"#,
            r#"{"messageType":"OPERATION","messageID":"m","senderID":"c","receiverID":"s","x":[1,]}"#,
            r#"{"messageType":"OPERATION","messageID":"m","senderID":"c","receiverID":"s","x":"\ud800"}"#,
            r#"{"messageType":"OPERATION","messageID":"m","senderID":"c","receiverID":"s","x":"\q"}"#,
            "{\"messageType\":\"OPERATION\",\"messageID\":\"m\",\"senderID\":\"c\",\"receiverID\":\"s\",\"x\":\"tab\there\"}",
        ];
        for text in left {
            assert!(request_header(text).is_none(), "the fast path should leave this to serde: {text}");
        }
        let deep = format!(
            r#"{{"messageType":"OPERATION","messageID":"m","senderID":"c","receiverID":"s","x":{}{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        assert!(request_header(&deep).is_none(), "nesting past serde_json's limit is left to serde");
    }

    /// Thousands of mutations of a real header: the fast path never panics, and agrees with serde whenever
    /// it answers.
    #[test]
    fn mutated_headers_never_disagree() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet = b"{}[]\",:\\ 0123456789.eE+-truefalsnul\x01\xc3\xa9abcXYZ";
        let (mut taken, mut total) = (0, 0);
        for _ in 0..20_000 {
            let mut bytes = TYPICAL.as_bytes().to_vec();
            for _ in 0..1 + next() % 3 {
                let at = (next() as usize) % bytes.len();
                let c = alphabet[(next() as usize) % alphabet.len()];
                match next() % 3 {
                    0 => bytes[at] = c,
                    1 => bytes.insert(at, c),
                    _ => {
                        bytes.remove(at);
                    }
                }
            }
            if let Ok(text) = std::str::from_utf8(&bytes) {
                total += 1;
                taken += usize::from(agrees(text));
            }
        }
        // Mutations in unknown-free string contents keep the header valid: some must take the fast path.
        assert!(taken > total / 20, "only {taken} of {total} mutated headers took the fast path");
    }

    #[test]
    fn the_word_scan_finds_what_the_byte_scan_finds() {
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..5_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 40) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|k| {
                    let pick = (seed >> (k % 56)) as u8;
                    // Mostly ordinary text, sometimes a quote, backslash, control or high byte.
                    match pick % 16 {
                        0 => b'"',
                        1 => b'\\',
                        2 => pick % 0x20,
                        3 => 0x80 | pick,
                        _ => b'a' + pick % 26,
                    }
                })
                .collect();
            for from in 0..=len {
                let naive = (from..len).find(|&i| matches!(bytes[i], b'"' | b'\\' | 0..=0x1f)).unwrap_or(len);
                assert_eq!(special_from(&bytes, from), naive, "{bytes:?} from {from}");
            }
        }
    }

    #[test]
    fn simple_decimals_parse_exactly_as_the_float_parser_does() {
        let mut seed: u64 = 0x853c_49e6_748f_ea9b;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for fixed in ["0", "-0", "5", "0.25", "5.5", "-12.5", "123456789012345", "0.00000000000001", "9.99999999999999"]
        {
            assert_eq!(
                simple_decimal(fixed.as_bytes()).map(f64::to_bits),
                Some(fixed.parse::<f64>().expect("float").to_bits()),
                "{fixed}"
            );
        }
        for _ in 0..100_000 {
            let digits = 1 + next() % 15;
            let mut text = format!("{}", next() % 10u64.pow(digits as u32));
            let point = (next() % (text.len() as u64 + 1)) as usize;
            if point < text.len() && point > 0 {
                text.insert(point, '.');
            }
            let expected = text.parse::<f64>().expect("float");
            assert_eq!(simple_decimal(text.as_bytes()).map(f64::to_bits), Some(expected.to_bits()), "{text}");
        }
        for other in ["1e5", "1234567890123456", "0.000000000000001", "1.2.3", "1.", "", "-", "0x10"] {
            assert!(simple_decimal(other.as_bytes()).is_none(), "{other} is left to the float parser");
        }
    }

    #[test]
    fn response_headers_decode_like_serde() {
        let cases = [
            r#"{"messageType":"REPLY","messageID":"m","receiverID":"c","senderID":"s","payloadContentType":"application/msgpack","preencodedPayloadContentType":"text/plain"}"#,
            r#"{"senderID":"s","receiverID":"c","messageID":"m","messageType":"TIMEOUT","extra":[1,2]}"#,
        ];
        for text in cases {
            let fast = response_header(text.as_bytes()).expect("fast path");
            let slow: ResponseHeader<'_> = serde_json::from_str(text).expect("serde");
            assert_eq!(fast, slow);
        }
        for text in
            [r#"{"messageType":"REPLY","messageID":"m"}"#, r#"{"messageType":"REPLY","messageID":"\u0041"}"#, "[1]"]
        {
            assert!(response_header(text.as_bytes()).is_none(), "{text}");
        }
    }

    #[test]
    fn event_headers_decode_like_serde() {
        let cases = [
            r#"{"messageType":"EVENT","messageID":"ab12-1f","senderID":"lab/event-publisher","eventID":"meter/tick","payloadContentType":"application/json","preencodedPayloadContentType":"text/plain"}"#,
            r#"{"eventID":"x/y","senderID":"s","messageID":"m","messageType":"EVENT","extra":{"a":[null]}}"#,
        ];
        for text in cases {
            let fast = event_header(text.as_bytes()).expect("fast path");
            let slow: EventHeader<'_> = serde_json::from_str(text).expect("serde");
            assert_eq!(fast, slow);
        }
        for text in [
            r#"{"messageType":"EVENT","messageID":"m","senderID":"s"}"#,
            r#"{"messageType":"EVENT","messageID":"m","senderID":"s","eventID":"a\/b"}"#,
            r#"{"messageType":"EVENT","messageID":"m","messageID":"n","senderID":"s","eventID":"e"}"#,
            "[1]",
        ] {
            assert!(event_header(text.as_bytes()).is_none(), "{text}");
        }
    }

    #[test]
    fn encoders_write_what_serde_json_writes() {
        for id in ["m-1", "", "quote\"back\\slash", "ctl\u{1}\n\t", "ünïcödé ✓", "\u{7f}"] {
            let header = ResponseHeader {
                message_type: "REPLY".into(),
                message_id: id.into(),
                receiver_id: format!("client {id}").into(),
                sender_id: "server".into(),
                payload_content_type: "application/json".into(),
                preencoded_payload_content_type: "text/plain".into(),
            };
            assert_eq!(header.encode(), serde_json::to_vec(&header).expect("serde"), "response header {id:?}");
            let event = EventHeader {
                message_type: "EVENT".into(),
                message_id: id.into(),
                sender_id: format!("{id}/event-publisher").into(),
                event_id: format!("thing/{id}").into(),
                payload_content_type: "application/json".into(),
                preencoded_payload_content_type: "application/octet-stream".into(),
            };
            assert_eq!(event.encode(), serde_json::to_vec(&event).expect("serde"), "event header {id:?}");
            for (timeouts, oneway, logs, objekt) in [
                ((None, None), false, false, Some("gain")),
                ((Some(5.0), Some(0.25)), true, true, None),
                ((Some(1e300), None), false, true, Some(id)),
                ((None, Some(f64::NAN)), true, false, Some("")),
            ] {
                let request = OutgoingRequestHeader {
                    message_type: "OPERATION",
                    message_id: id,
                    sender_id: "client",
                    receiver_id: id,
                    server_execution_context: OutgoingServerContext {
                        invokation_timeout: timeouts.0,
                        execution_timeout: timeouts.1,
                        oneway,
                    },
                    thing_execution_context: OutgoingThingContext { fetch_execution_logs: logs },
                    thing_id: id,
                    objekt,
                    operation: "readproperty",
                    payload_content_type: "application/msgpack",
                    preencoded_payload_content_type: "text/plain",
                };
                assert_eq!(request.encode(), serde_json::to_vec(&request).expect("serde"), "request header {id:?}");
            }
        }
    }
}
