//! JSON paths: the request parameters and response elements detector files ask for.
//!
//! Decode extracts only the paths the loaded detectors declare (the engine gathers them into
//! one [`Paths`] and the normalizer applies it to every record). A record whose event name no
//! declaring filter can match costs one lookup; one that can is walked once per root with a
//! serde visitor that descends only into the keys of the declared paths and skips every other
//! value without allocating. The alternative, keeping each record's raw parameters in its
//! activity and parsing them at match time, would copy a few hundred bytes per record (most
//! of which no detector reads) and hold them for the whole object; extraction here copies
//! nothing but the few values asked for. Measured on a generated 100 MB CloudTrail file
//! (release build, best of 8): paths scoped to event names the file does not hold cost
//! about 2% (one lookup per record); two paths read on every record, about 10%.

use std::borrow::Cow;

use super::cloudtrail::CtRecord;

/// Values extracted per record at most (a `[*]` over a long array stops here).
pub const MAX_EXTRACTED: usize = 32;

/// Where a path starts in a CloudTrail record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Root {
    RequestParameters,
    ResponseElements,
    AdditionalEventData,
}

impl Root {
    const ALL: [Root; 3] = [
        Root::RequestParameters,
        Root::ResponseElements,
        Root::AdditionalEventData,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Root::RequestParameters => "requestParameters",
            Root::ResponseElements => "responseElements",
            Root::AdditionalEventData => "additionalEventData",
        }
    }
}

/// A path, identified by its text: filters compile `PathId::of(text)` and decode tags each
/// extracted value with the same id, so neither depends on the other's numbering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PathId(pub u64);

impl PathId {
    /// FNV-1a of the path's text (64 bits: distinct paths of one catalogue do not collide).
    pub fn of(path: &str) -> PathId {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in path.trim().bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        PathId(h)
    }
}

/// A value found at a path; strings are `S` (borrowed while decoding, shared in activities).
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<S> {
    Str(S),
    Num(f64),
    Bool(bool),
    Null,
    /// An object or an array at the end of a path (it exists; it equals nothing).
    Container,
}

impl<S> Scalar<S> {
    pub fn map<T>(self, f: impl FnOnce(S) -> T) -> Scalar<T> {
        match self {
            Scalar::Str(s) => Scalar::Str(f(s)),
            Scalar::Num(n) => Scalar::Num(n),
            Scalar::Bool(b) => Scalar::Bool(b),
            Scalar::Null => Scalar::Null,
            Scalar::Container => Scalar::Container,
        }
    }
}

impl<S: AsRef<str>> Scalar<S> {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Scalar::Str(s) => Some(s.as_ref()),
            _ => None,
        }
    }

    /// The value as text for titles and evidence (`true`, `8`, `p4d.24xlarge`).
    pub fn to_text(&self) -> String {
        match self {
            Scalar::Str(s) => s.as_ref().to_string(),
            Scalar::Num(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", *n as i64),
            Scalar::Num(n) => n.to_string(),
            Scalar::Bool(b) => b.to_string(),
            Scalar::Null => "null".into(),
            Scalar::Container => "(object)".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    /// `[*]`: every element of an array.
    Each,
}

/// A parsed path: `requestParameters.instanceType`,
/// `requestParameters.eventSelectors[*].includeManagementEvents`. Keys are separated by
/// dots; `[*]` after a key walks every element of the array it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    pub text: String,
    pub root: Root,
    segs: Vec<Seg>,
}

impl JsonPath {
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        let bad = |why: &str| format!("`{text}`: {why}");
        let mut parts = text.split('.');
        let head = parts.next().unwrap_or("");
        let (root_name, head_each) = split_each(head).ok_or_else(|| bad("`[` without `[*]`"))?;
        let root = Root::ALL
            .into_iter()
            .find(|r| r.name() == root_name)
            .ok_or_else(|| {
                bad("a path starts with requestParameters, responseElements or additionalEventData")
            })?;
        if head_each > 0 {
            return Err(bad("the root is an object, not an array"));
        }
        let mut segs = Vec::new();
        for part in parts {
            let (key, each) = split_each(part).ok_or_else(|| bad("use `[*]` for arrays"))?;
            if key.is_empty()
                || key
                    .chars()
                    .any(|c| c.is_whitespace() || matches!(c, '*' | '[' | ']' | '{' | '}'))
            {
                return Err(bad(&format!("`{part}` is not a key")));
            }
            segs.push(Seg::Key(key.to_string()));
            segs.extend(std::iter::repeat_n(Seg::Each, each));
        }
        Ok(JsonPath {
            text: text.to_string(),
            root,
            segs,
        })
    }

    pub fn id(&self) -> PathId {
        PathId::of(&self.text)
    }
}

/// `key[*][*]` → (`key`, 2); `None` for a bracket that is not `[*]`.
fn split_each(part: &str) -> Option<(&str, usize)> {
    let mut key = part;
    let mut n = 0;
    while let Some(k) = key.strip_suffix("[*]") {
        key = k;
        n += 1;
    }
    (!key.contains(['[', ']'])).then_some((key, n))
}

/// The paths the loaded detectors declare, with the event names each is needed for.
#[derive(Debug, Default)]
pub struct Paths {
    roots: Vec<(Root, Node)>,
    /// Per path, the event names it is extracted for (`None`: every event).
    scopes: Vec<(PathId, Option<Vec<String>>)>,
    /// Some path is needed for every event.
    every_event: bool,
    /// The union of the scopes, sorted.
    names: Vec<String>,
}

#[derive(Debug, Default)]
struct Node {
    id: Option<PathId>,
    keys: Vec<(Box<str>, Node)>,
    each: Option<Box<Node>>,
}

impl Paths {
    /// `decls`: each path with the event names a declaring filter can match (`None` when a
    /// filter names no event, or names them by glob: then every event). A path declared
    /// twice is extracted for the union.
    pub fn new(decls: impl IntoIterator<Item = (JsonPath, Option<Vec<String>>)>) -> Paths {
        let mut paths = Paths::default();
        for (path, events) in decls {
            let id = path.id();
            match paths.scopes.iter_mut().find(|(i, _)| *i == id) {
                Some((_, scope)) => match (scope.as_mut(), events) {
                    (Some(s), Some(e)) => s.extend(e),
                    _ => *scope = None,
                },
                None => {
                    paths.scopes.push((id, events));
                    let node = match paths.roots.iter().position(|(r, _)| *r == path.root) {
                        Some(i) => &mut paths.roots[i].1,
                        None => {
                            paths.roots.push((path.root, Node::default()));
                            &mut paths.roots.last_mut().expect("pushed").1
                        }
                    };
                    node.insert(&path.segs, id);
                }
            }
        }
        // Request parameters first: a record's values are capped, and they matter most.
        paths.roots.sort_by_key(|(r, _)| *r);
        for (_, scope) in &mut paths.scopes {
            match scope {
                None => paths.every_event = true,
                Some(s) => {
                    s.sort();
                    s.dedup();
                    paths.names.extend(s.iter().cloned());
                }
            }
        }
        paths.names.sort();
        paths.names.dedup();
        paths
    }

    pub fn is_empty(&self) -> bool {
        self.scopes.is_empty()
    }

    pub fn len(&self) -> usize {
        self.scopes.len()
    }

    /// Whether some path is needed for events named `event_name`.
    pub fn wants(&self, event_name: &str) -> bool {
        !self.scopes.is_empty()
            && (self.every_event
                || self
                    .names
                    .binary_search_by(|n| n.as_str().cmp(event_name))
                    .is_ok())
    }

    fn admits(&self, id: PathId, event_name: &str) -> bool {
        self.scopes.iter().any(|(i, s)| {
            *i == id
                && s.as_ref()
                    .is_none_or(|s| s.binary_search_by(|n| n.as_str().cmp(event_name)).is_ok())
        })
    }

    /// Appends the values of the declared paths found in `r` (at most [`MAX_EXTRACTED`]).
    pub fn extract<'a>(&self, r: &CtRecord<'a>, out: &mut Vec<(PathId, Scalar<Cow<'a, str>>)>) {
        let Some(name) = r.event_name.as_deref() else {
            return;
        };
        if !self.wants(name) {
            return;
        }
        let start = out.len();
        for (root, node) in &self.roots {
            let Some(raw) = r.root(*root) else { continue };
            let mut de = serde_json::Deserializer::from_str(raw.get());
            // The raw value is valid JSON already; an error can only be the depth limit.
            let _ = serde::de::DeserializeSeed::deserialize(Walk { node, out }, &mut de);
        }
        if self.scopes.iter().any(|(_, s)| s.is_some()) {
            let mut i = start;
            while i < out.len() {
                if self.admits(out[i].0, name) {
                    i += 1;
                } else {
                    out.remove(i);
                }
            }
        }
    }
}

impl Node {
    fn insert(&mut self, segs: &[Seg], id: PathId) {
        let Some((first, rest)) = segs.split_first() else {
            self.id = Some(id);
            return;
        };
        let child = match first {
            Seg::Each => &mut **self.each.get_or_insert_with(Box::default),
            Seg::Key(k) => match self.keys.iter().position(|(key, _)| **key == **k) {
                Some(i) => &mut self.keys[i].1,
                None => {
                    self.keys.push((k.as_str().into(), Node::default()));
                    &mut self.keys.last_mut().expect("pushed").1
                }
            },
        };
        child.insert(rest, id);
    }
}

/// Walks one value along a trie node: pushes the value where a path ends, descends into the
/// keys and array elements the node names, skips everything else.
struct Walk<'n, 'o, 'a> {
    node: &'n Node,
    out: &'o mut Vec<(PathId, Scalar<Cow<'a, str>>)>,
}

impl<'a> Walk<'_, '_, 'a> {
    fn push(&mut self, v: Scalar<Cow<'a, str>>) {
        if let Some(id) = self.node.id
            && self.out.len() < MAX_EXTRACTED
        {
            self.out.push((id, v));
        }
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for Walk<'_, '_, 'de> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Walk<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(mut self, v: bool) -> Result<(), E> {
        self.push(Scalar::Bool(v));
        Ok(())
    }

    fn visit_i64<E>(mut self, v: i64) -> Result<(), E> {
        self.push(Scalar::Num(v as f64));
        Ok(())
    }

    fn visit_u64<E>(mut self, v: u64) -> Result<(), E> {
        self.push(Scalar::Num(v as f64));
        Ok(())
    }

    fn visit_f64<E>(mut self, v: f64) -> Result<(), E> {
        self.push(Scalar::Num(v));
        Ok(())
    }

    fn visit_borrowed_str<E>(mut self, v: &'de str) -> Result<(), E> {
        self.push(Scalar::Str(Cow::Borrowed(v)));
        Ok(())
    }

    fn visit_str<E>(mut self, v: &str) -> Result<(), E> {
        self.push(Scalar::Str(Cow::Owned(v.to_string())));
        Ok(())
    }

    fn visit_unit<E>(mut self) -> Result<(), E> {
        self.push(Scalar::Null);
        Ok(())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        self.push(Scalar::Container);
        let node = self.node;
        while let Some(child) = map.next_key_seed(KeySeed(node))? {
            match child {
                Some(node) => map.next_value_seed(Walk {
                    node,
                    out: &mut *self.out,
                })?,
                None => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        self.push(Scalar::Container);
        match self.node.each.as_deref() {
            Some(node) => {
                while seq
                    .next_element_seed(Walk {
                        node,
                        out: &mut *self.out,
                    })?
                    .is_some()
                {}
            }
            None => while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {},
        }
        Ok(())
    }
}

/// A map key, looked up among a node's children without allocating.
struct KeySeed<'n>(&'n Node);

impl<'de, 'n> serde::de::DeserializeSeed<'de> for KeySeed<'n> {
    type Value = Option<&'n Node>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'n> serde::de::Visitor<'_> for KeySeed<'n> {
    type Value = Option<&'n Node>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.0.keys.iter().find(|(k, _)| **k == *v).map(|(_, n)| n))
    }
}
