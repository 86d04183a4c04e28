//! Reading our attributes: `#[thing(...)]`, `#[property(...)]`, `#[action(...)]`, `#[event(...)]`,
//! `#[param(...)]`. Each key is checked once; unknown keys get a "did you mean" when one is close.

use std::time::Duration;

use proc_macro2::Span;
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, LitStr};

use crate::ctxt::{Ctxt, suggest};
use crate::symbol::*;

/// One bound key with its expression.
#[derive(Clone)]
pub(crate) struct BoundAttr {
    pub(crate) kind: BoundKind,
    pub(crate) value: Expr,
    pub(crate) span: Span,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum BoundKind {
    Minimum,
    Maximum,
    ExclusiveMinimum,
    ExclusiveMaximum,
    MultipleOf,
    MinItems,
    MaxItems,
    MinLength,
    MaxLength,
}

impl BoundKind {
    const ALL: [Self; 9] = [
        Self::Minimum,
        Self::Maximum,
        Self::ExclusiveMinimum,
        Self::ExclusiveMaximum,
        Self::MultipleOf,
        Self::MinItems,
        Self::MaxItems,
        Self::MinLength,
        Self::MaxLength,
    ];

    /// The attribute key that writes this bound.
    fn key(self) -> Symbol {
        match self {
            Self::Minimum => MINIMUM,
            Self::Maximum => MAXIMUM,
            Self::ExclusiveMinimum => EXCLUSIVE_MINIMUM,
            Self::ExclusiveMaximum => EXCLUSIVE_MAXIMUM,
            Self::MultipleOf => MULTIPLE_OF,
            Self::MinItems => MIN_ITEMS,
            Self::MaxItems => MAX_ITEMS,
            Self::MinLength => MIN_LENGTH,
            Self::MaxLength => MAX_LENGTH,
        }
    }

    fn from_key(key: Symbol) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.key() == key)
    }

    pub(crate) fn is_numeric(self) -> bool {
        matches!(
            self,
            Self::Minimum | Self::Maximum | Self::ExclusiveMinimum | Self::ExclusiveMaximum | Self::MultipleOf
        )
    }

    pub(crate) fn variant(self) -> &'static str {
        match self {
            Self::Minimum => "Minimum",
            Self::Maximum => "Maximum",
            Self::ExclusiveMinimum => "ExclusiveMinimum",
            Self::ExclusiveMaximum => "ExclusiveMaximum",
            Self::MultipleOf => "MultipleOf",
            Self::MinItems => "MinItems",
            Self::MaxItems => "MaxItems",
            Self::MinLength => "MinLength",
            Self::MaxLength => "MaxLength",
        }
    }
}

/// The bound keys, in the order the "expected one of" lists give them.
const BOUND_KEYS: &[Symbol] = &[
    MINIMUM,
    MAXIMUM,
    EXCLUSIVE_MINIMUM,
    EXCLUSIVE_MAXIMUM,
    MULTIPLE_OF,
    MIN_ITEMS,
    MAX_ITEMS,
    MIN_LENGTH,
    MAX_LENGTH,
];

/// Reads the keys of one attribute, refusing unknown and repeated ones.
struct Keys<'c> {
    cx: &'c Ctxt,
    attr: Symbol,
    allowed: &'static [&'static [Symbol]],
    seen: Vec<Symbol>,
}

impl<'c> Keys<'c> {
    fn new(cx: &'c Ctxt, attr: Symbol, allowed: &'static [&'static [Symbol]]) -> Self {
        Self { cx, attr, allowed, seen: Vec::new() }
    }

    /// The key, or `None` (with an error recorded) when it is unknown or repeated.
    fn key(&mut self, meta: &ParseNestedMeta<'_>) -> Option<Symbol> {
        let Some(ident) = meta.path.get_ident() else {
            self.cx.error_spanned_by(&meta.path, format!("unknown `{}` attribute; expected a plain name", self.attr));
            return None;
        };
        let all: Vec<Symbol> = self.allowed.iter().flat_map(|k| k.iter().copied()).collect();
        let Some(key) = all.iter().copied().find(|k| ident == k) else {
            let hint = match suggest(&ident.to_string(), &all) {
                Some(s) => format!(", did you mean `{s}`?"),
                None => {
                    format!("; expected one of {}", all.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", "))
                }
            };
            self.cx.error_spanned_by(&meta.path, format!("unknown `{}` attribute `{ident}`{hint}", self.attr));
            return None;
        };
        if self.seen.contains(&key) {
            self.cx.error_spanned_by(&meta.path, format!("duplicate `{}` attribute `{key}`", self.attr));
            return None;
        }
        self.seen.push(key);
        Some(key)
    }
}

fn lit_str(meta: &ParseNestedMeta<'_>) -> syn::Result<LitStr> {
    meta.value()?.parse::<LitStr>()
}

fn expr(meta: &ParseNestedMeta<'_>) -> syn::Result<Expr> {
    meta.value()?.parse::<Expr>()
}

/// Skips the rest of a key we already reported, so parsing goes on.
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        let _ = meta.value()?.parse::<Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let _content;
        syn::parenthesized!(_content in meta.input);
        let _: proc_macro2::TokenStream = _content.parse()?;
    }
    Ok(())
}

/// A flag key must not carry a value.
fn flag(cx: &Ctxt, meta: &ParseNestedMeta<'_>, key: Symbol) -> syn::Result<bool> {
    Ok(flag_at(cx, meta, key)?.is_some())
}

/// Like [`flag`], keeping where the flag was written.
fn flag_at(cx: &Ctxt, meta: &ParseNestedMeta<'_>, key: Symbol) -> syn::Result<Option<proc_macro2::Span>> {
    if meta.input.peek(syn::Token![=]) {
        cx.error_spanned_by(&meta.path, format!("`{key}` is a flag and takes no value: write `{key}`"));
        skip_value(meta)?;
        return Ok(None);
    }
    Ok(Some(meta.path.span()))
}

/// Parses `#[name(...)]` with `f` for each key; an empty `#[name]` is fine.
fn parse_list(cx: &Ctxt, attr: &Attribute, mut f: impl FnMut(ParseNestedMeta<'_>) -> syn::Result<()>) {
    if matches!(attr.meta, syn::Meta::Path(_)) {
        return;
    }
    if let Err(e) = attr.parse_nested_meta(&mut f) {
        cx.syn_error(e);
    }
}

/// `#[thing(...)]` on the struct.
#[derive(Default)]
pub(crate) struct ThingAttrs {
    pub(crate) title: Option<LitStr>,
    pub(crate) description: Option<LitStr>,
    pub(crate) crate_path: Option<syn::Path>,
    pub(crate) client: Option<syn::Ident>,
    pub(crate) id: Option<LitStr>,
    /// `states(Idle = [move_to, home], Fault = [home])` on the impl block: which states allow which actions
    /// and writable properties.
    pub(crate) states: Vec<StateRule>,
}

/// One state of `states(...)` and the members it allows.
#[derive(Clone)]
pub(crate) struct StateRule {
    pub(crate) state: syn::Ident,
    pub(crate) members: Vec<syn::Ident>,
}

pub(crate) fn thing_attrs(cx: &Ctxt, args: proc_macro2::TokenStream, for_impl: bool) -> ThingAttrs {
    let mut out = ThingAttrs::default();
    if args.is_empty() {
        return out;
    }
    const STRUCT_KEYS: &[Symbol] = &[TITLE, DESCRIPTION, CRATE, CLIENT, ID];
    const IMPL_KEYS: &[Symbol] = &[CRATE, STATES];
    let mut keys = Keys::new(cx, THING, if for_impl { &[IMPL_KEYS] } else { &[STRUCT_KEYS] });
    let parser = syn::meta::parser(|meta| {
        if for_impl && STRUCT_KEYS.iter().any(|k| meta.path == *k) && meta.path != CRATE {
            cx.error_spanned_by(
                &meta.path,
                "this option goes on the struct's `#[thing(...)]`; the impl block's `#[thing]` takes `crate` and `states`",
            );
            return skip_value(&meta);
        }
        if !for_impl && meta.path == STATES {
            cx.error_spanned_by(
                &meta.path,
                "`states(...)` goes on the impl block's `#[thing(...)]`, where the actions it gates are; the \
                 struct holds the machine in a `#[state_machine]` field",
            );
            return skip_value(&meta);
        }
        let Some(key) = keys.key(&meta) else { return skip_value(&meta) };
        match key {
            STATES => {
                meta.parse_nested_meta(|rule| {
                    let state = rule.path.require_ident()?.clone();
                    let value = rule.value()?;
                    let content;
                    syn::bracketed!(content in value);
                    let members =
                        syn::punctuated::Punctuated::<syn::Ident, syn::Token![,]>::parse_terminated(&content)?;
                    out.states.push(StateRule { state, members: members.into_iter().collect() });
                    Ok(())
                })?;
            }
            TITLE => out.title = Some(lit_str(&meta)?),
            DESCRIPTION => out.description = Some(lit_str(&meta)?),
            ID => out.id = Some(lit_str(&meta)?),
            CRATE => {
                let s = lit_str(&meta)?;
                match s.parse::<syn::Path>() {
                    Ok(p) => out.crate_path = Some(p),
                    Err(_) => cx.error_spanned_by(&s, "`crate` must be a path such as \"::thingwire\""),
                }
            }
            CLIENT => {
                let s = lit_str(&meta)?;
                match syn::parse_str::<syn::Ident>(&s.value()) {
                    Ok(mut i) => {
                        i.set_span(s.span());
                        out.client = Some(i);
                    }
                    Err(_) => cx.error_spanned_by(&s, "`client` must be a type name such as \"SpectrometerClient\""),
                }
            }
            _ => {}
        }
        Ok(())
    });
    if let Err(e) = syn::parse::Parser::parse2(parser, args) {
        cx.syn_error(e);
    }
    out
}

/// Options shared by `#[property(...)]` and `#[param(...)]`: bounds and a default.
#[derive(Default, Clone)]
pub(crate) struct ValueOpts {
    pub(crate) bounds: Vec<BoundAttr>,
    pub(crate) default: Option<Expr>,
}

/// `#[property(...)]`.
#[derive(Default, Clone)]
pub(crate) struct PropertyOpts {
    pub(crate) read_only: Option<Span>,
    pub(crate) observable: bool,
    pub(crate) setter: Option<Span>,
    pub(crate) value: ValueOpts,
    pub(crate) unit: Option<LitStr>,
    pub(crate) rename: Option<LitStr>,
    pub(crate) title: Option<LitStr>,
    pub(crate) description: Option<LitStr>,
    /// `poll = "1s"`: read the getter this often and publish a change past the thresholds.
    pub(crate) poll: Option<(Duration, Span)>,
    /// `abs_change = 0.5`: a polled change is published when the value moved by more than this.
    pub(crate) abs_change: Option<(Expr, Span)>,
    /// `rel_change = 0.01`: … or by more than this fraction of the last published value.
    pub(crate) rel_change: Option<(Expr, Span)>,
    pub(crate) persist: Option<PersistAttr>,
}

/// `persist`, `persist = "init"` or `persist = "commit"` (hololinked's `db_persist`, `db_init`, `db_commit`).
#[derive(Clone, Copy)]
pub(crate) struct PersistAttr {
    pub(crate) mode: PersistMode,
    pub(crate) span: Span,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum PersistMode {
    /// Stored on every write, restored at start.
    Always,
    /// Restored at start only.
    Init,
    /// Stored on every write, never restored.
    Commit,
}

impl PersistMode {
    /// The variant of the runtime's `Persist`.
    pub(crate) fn variant(self) -> &'static str {
        match self {
            Self::Always => "Always",
            Self::Init => "Init",
            Self::Commit => "Commit",
        }
    }
}

/// The values `persist = "..."` takes.
const PERSIST_VALUES: &[Symbol] = &[INIT, COMMIT];

fn persist_attr(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Option<PersistAttr>> {
    let span = meta.path.span();
    if !meta.input.peek(syn::Token![=]) {
        return Ok(Some(PersistAttr { mode: PersistMode::Always, span }));
    }
    let value = expr(meta)?;
    let how = "Write `persist` (stored on every write and restored at start), `persist = \"init\"` (only \
               restored at start) or `persist = \"commit\"` (only stored)";
    let Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) = &value else {
        cx.error_spanned_by(&value, format!("`persist` takes a string. {how}"));
        return Ok(None);
    };
    let mode = match s.value().as_str() {
        "init" => PersistMode::Init,
        "commit" => PersistMode::Commit,
        other => {
            let message = match suggest(other, PERSIST_VALUES) {
                Some(close) => format!("unknown `persist` value \"{other}\", did you mean \"{close}\"? {how}"),
                None => format!("unknown `persist` value \"{other}\". {how}"),
            };
            cx.error_spanned_by(s, message);
            return Ok(None);
        }
    };
    Ok(Some(PersistAttr { mode, span: s.span() }))
}

fn bound_or_default(cx: &Ctxt, key: Symbol, meta: &ParseNestedMeta<'_>, value: &mut ValueOpts) -> syn::Result<bool> {
    if let Some(kind) = BoundKind::from_key(key) {
        let e = expr(meta)?;
        if !kind.is_numeric() && matches!(&e, Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_))) {
            cx.error_spanned_by(&e, format!("`{key}` is a length: it cannot be negative"));
        }
        value.bounds.push(BoundAttr { kind, span: meta.path.span(), value: e });
        return Ok(true);
    }
    if key == DEFAULT {
        value.default = Some(expr(meta)?);
        return Ok(true);
    }
    Ok(false)
}

pub(crate) fn property_opts(cx: &Ctxt, attr: &Attribute, on_method: bool) -> PropertyOpts {
    const FIELD_KEYS: &[Symbol] = &[READ_ONLY, OBSERVABLE, PERSIST, DEFAULT, UNIT, RENAME, TITLE, DESCRIPTION];
    const METHOD_KEYS: &[Symbol] = &[SETTER, POLL, ABS_CHANGE, REL_CHANGE];
    // `setter` is read on fields too, so that the check can explain where it belongs.
    let _ = on_method;
    let allowed: &'static [&'static [Symbol]] = &[FIELD_KEYS, METHOD_KEYS, BOUND_KEYS];
    let mut keys = Keys::new(cx, PROPERTY, allowed);
    let mut out = PropertyOpts::default();
    parse_list(cx, attr, |meta| {
        let Some(key) = keys.key(&meta) else { return skip_value(&meta) };
        if bound_or_default(cx, key, &meta, &mut out.value)? {
            return Ok(());
        }
        match key {
            READ_ONLY => out.read_only = flag_at(cx, &meta, key)?,
            OBSERVABLE => out.observable = flag(cx, &meta, key)?,
            PERSIST => out.persist = persist_attr(cx, &meta)?,
            SETTER => out.setter = flag_at(cx, &meta, key)?,
            UNIT => out.unit = Some(lit_str(&meta)?),
            RENAME => out.rename = Some(lit_str(&meta)?),
            TITLE => out.title = Some(lit_str(&meta)?),
            DESCRIPTION => out.description = Some(lit_str(&meta)?),
            POLL => {
                let s = lit_str(&meta)?;
                match parse_duration(&s.value()) {
                    Some(d) if !d.is_zero() => out.poll = Some((d, meta.path.span())),
                    _ => cx.error_spanned_by(
                        &s,
                        "`poll` takes a period with a unit, more than zero, such as \"500ms\", \"1s\" or \"2min\"",
                    ),
                }
            }
            ABS_CHANGE | REL_CHANGE => {
                let e = expr(&meta)?;
                if matches!(&e, Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_))) {
                    cx.error_spanned_by(&e, format!("`{key}` is a threshold: it cannot be negative"));
                }
                if key == ABS_CHANGE {
                    out.abs_change = Some((e, meta.path.span()));
                } else {
                    out.rel_change = Some((e, meta.path.span()));
                }
            }
            _ => {}
        }
        Ok(())
    });
    out
}

/// `#[param(...)]` on an action argument.
pub(crate) fn param_opts(cx: &Ctxt, attr: &Attribute) -> (ValueOpts, Option<LitStr>) {
    let mut keys = Keys::new(cx, PARAM, &[BOUND_KEYS, &[DEFAULT, RENAME]]);
    let mut out = ValueOpts::default();
    let mut rename = None;
    parse_list(cx, attr, |meta| {
        let Some(key) = keys.key(&meta) else { return skip_value(&meta) };
        if bound_or_default(cx, key, &meta, &mut out)? {
            return Ok(());
        }
        if key == RENAME {
            rename = Some(lit_str(&meta)?);
        }
        Ok(())
    });
    (out, rename)
}

/// `#[action(...)]`.
#[derive(Default, Clone)]
pub(crate) struct ActionOpts {
    pub(crate) threaded: Option<Span>,
    pub(crate) concurrent: Option<Span>,
    pub(crate) invocation_timeout: Option<Duration>,
    pub(crate) execution_timeout: Option<Duration>,
    pub(crate) safe: bool,
    pub(crate) idempotent: bool,
    pub(crate) rename: Option<LitStr>,
    pub(crate) title: Option<LitStr>,
    pub(crate) description: Option<LitStr>,
}

pub(crate) fn action_opts(cx: &Ctxt, attr: &Attribute) -> ActionOpts {
    const KEYS: &[Symbol] =
        &[THREADED, CONCURRENT, INVOCATION_TIMEOUT, EXECUTION_TIMEOUT, SAFE, IDEMPOTENT, RENAME, TITLE, DESCRIPTION];
    let mut keys = Keys::new(cx, ACTION, &[KEYS]);
    let mut out = ActionOpts::default();
    parse_list(cx, attr, |meta| {
        let Some(key) = keys.key(&meta) else { return skip_value(&meta) };
        match key {
            THREADED => out.threaded = flag_at(cx, &meta, key)?,
            CONCURRENT => out.concurrent = flag_at(cx, &meta, key)?,
            SAFE => out.safe = flag(cx, &meta, key)?,
            IDEMPOTENT => out.idempotent = flag(cx, &meta, key)?,
            INVOCATION_TIMEOUT | EXECUTION_TIMEOUT => {
                let value = expr(&meta)?;
                let parsed = match &value {
                    Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => parse_duration(&s.value()),
                    _ => None,
                };
                match parsed {
                    Some(d) if key == INVOCATION_TIMEOUT => out.invocation_timeout = Some(d),
                    Some(d) => out.execution_timeout = Some(d),
                    None => cx.error_spanned_by(
                        &value,
                        format!("`{key}` takes a duration string with a unit, such as \"500ms\", \"5s\", \"1.5s\" or \"2min\""),
                    ),
                }
            }
            RENAME => out.rename = Some(lit_str(&meta)?),
            TITLE => out.title = Some(lit_str(&meta)?),
            DESCRIPTION => out.description = Some(lit_str(&meta)?),
            _ => {}
        }
        Ok(())
    });
    out
}

/// `#[event(...)]`.
#[derive(Default, Clone)]
pub(crate) struct EventOpts {
    pub(crate) rename: Option<LitStr>,
    pub(crate) title: Option<LitStr>,
    pub(crate) description: Option<LitStr>,
}

pub(crate) fn event_opts(cx: &Ctxt, attr: &Attribute) -> EventOpts {
    let mut keys = Keys::new(cx, EVENT, &[&[RENAME, TITLE, DESCRIPTION]]);
    let mut out = EventOpts::default();
    parse_list(cx, attr, |meta| {
        let Some(key) = keys.key(&meta) else { return skip_value(&meta) };
        let s = lit_str(&meta)?;
        match key {
            RENAME => out.rename = Some(s),
            TITLE => out.title = Some(s),
            _ => out.description = Some(s),
        }
        Ok(())
    });
    out
}

/// `"500ms"`, `"5s"`, `"1.5s"`, `"2min"`, `"1h"`.
pub(crate) fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = s.split_at(split);
    let n: f64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "ms" => n / 1000.0,
        "s" => n,
        "min" | "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(seconds).ok()
}

/// The doc comment text of `attrs`, lines joined with newlines; `None` when there is none.
pub(crate) fn docs(attrs: &[Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .map(|l| l.strip_prefix(' ').unwrap_or(&l).trim_end().to_owned())
        .collect();
    let text = lines.join("\n").trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// The `#[cfg(...)]` attributes of a member, repeated on everything generated for it.
pub(crate) fn cfgs(attrs: &[Attribute]) -> Vec<Attribute> {
    attrs.iter().filter(|a| a.path().is_ident("cfg")).cloned().collect()
}

/// The doc attributes, forwarded to generated client methods.
pub(crate) fn doc_attrs(attrs: &[Attribute]) -> Vec<Attribute> {
    attrs.iter().filter(|a| a.path().is_ident("doc")).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2min"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration("5 parsecs"), None);
    }
}
