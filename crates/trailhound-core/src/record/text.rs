//! [`Text`]: a JSON string field borrowed from the record's bytes.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

use serde::Deserialize;
use serde::de::{Deserializer, Error, Visitor};

/// A string field of a record: borrowed from the decode buffer when the JSON string has no
/// escapes (nearly every field of every record), owned when it had to be unescaped.
///
/// serde borrows a `Cow<str>` only when it is a field's whole type; inside an `Option` (every
/// record field is optional) its `Cow` impl copies each string into a `String`. That was an
/// allocation and a free per string field per record: about 11 per CloudTrail event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text<'a>(pub Cow<'a, str>);

impl Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(TextVisitor(std::marker::PhantomData))
    }
}

struct TextVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
    type Value = Text<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: Error>(self, v: &'de str) -> Result<Text<'a>, E> {
        Ok(Text(Cow::Borrowed(v)))
    }

    fn visit_str<E: Error>(self, v: &str) -> Result<Text<'a>, E> {
        Ok(Text(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: Error>(self, v: String) -> Result<Text<'a>, E> {
        Ok(Text(Cow::Owned(v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct R<'a> {
        #[serde(borrow)]
        a: Option<Text<'a>>,
        #[serde(borrow)]
        b: Option<Text<'a>>,
    }

    #[test]
    fn borrows_unless_escaped() {
        let r: R = serde_json::from_str(r#"{"a":"plain","b":"tab\there"}"#).unwrap();
        assert!(matches!(r.a.as_ref().unwrap().0, Cow::Borrowed("plain")));
        assert!(matches!(&r.b.as_ref().unwrap().0, Cow::Owned(s) if s == "tab\there"));
        assert_eq!(r.a.as_deref(), Some("plain"));
        let e = serde_json::from_str::<R>(r#"{"a":1}"#).err().unwrap();
        assert!(e.to_string().contains("expected a string"), "{e}");
    }

    /// What [`Text`] is for: serde's own `Option<Cow<str>>` copies even a plain string.
    #[test]
    fn serde_cow_in_option_copies() {
        #[derive(Deserialize)]
        struct C<'a> {
            #[serde(borrow)]
            a: Option<Cow<'a, str>>,
        }
        let c: C = serde_json::from_str(r#"{"a":"plain"}"#).unwrap();
        assert!(matches!(c.a, Some(Cow::Owned(_))));
    }
}
