//! How state and findings are laid out in DynamoDB items: keys, the packed (deflated JSON)
//! blobs, and item sizes.

use std::collections::HashMap;
use std::io::{Read, Write};

use anyhow::{Context, bail};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use sha2::{Digest, Sha256};

use super::{ENTITY_SK, FORMAT_DEFLATE_JSON};
use trailhound_core::ingest::ObjectRef;
use trailhound_core::state::{ENTITY_TTL_SECS, EntityState};

/// Compresses JSON with a leading format byte.
pub fn pack<T: serde::Serialize>(v: &T) -> Vec<u8> {
    let json = serde_json::to_vec(v).expect("state always serializes");
    let mut enc = flate2::write::DeflateEncoder::new(
        vec![FORMAT_DEFLATE_JSON],
        flate2::Compression::default(),
    );
    enc.write_all(&json).expect("writing to a Vec cannot fail");
    enc.finish().expect("writing to a Vec cannot fail")
}

pub fn unpack<T: serde::de::DeserializeOwned>(b: &[u8]) -> anyhow::Result<T> {
    match b.split_first() {
        Some((&FORMAT_DEFLATE_JSON, rest)) => {
            let mut json = Vec::new();
            flate2::read::DeflateDecoder::new(rest)
                .read_to_end(&mut json)
                .context("the stored blob does not inflate")?;
            serde_json::from_slice(&json).context("the stored JSON does not parse")
        }
        Some((f, _)) => bail!("unknown stored format {f} (written by a newer trailhound?)"),
        None => bail!("empty stored blob"),
    }
}

/// Partition keys are at most 2048 bytes: longer ones are hashed (the original is kept in
/// the `id` attribute).
pub(super) fn bounded(pk: String) -> String {
    if pk.len() <= 1024 {
        return pk;
    }
    let (prefix, _) = pk.split_at(pk.find('#').map_or(0, |i| i + 1));
    let d = Sha256::digest(pk.as_bytes());
    let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}sha256:{hex}")
}

pub fn entity_pk(key: &str) -> String {
    bounded(key.to_string())
}

pub fn object_pk(o: &ObjectRef) -> String {
    bounded(format!("obj#{}", o.identity()))
}

pub(super) fn key(pk: String, sk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_string(), AttributeValue::S(pk)),
        ("sk".to_string(), AttributeValue::S(sk.to_string())),
    ])
}

pub(super) fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(super) fn get_n(item: &HashMap<String, AttributeValue>, name: &str) -> Option<i64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

/// DynamoDB's item size: attribute names plus values.
pub fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    fn value(v: &AttributeValue) -> usize {
        match v {
            AttributeValue::S(s) => s.len(),
            AttributeValue::N(s) => s.len().div_ceil(2) + 1,
            AttributeValue::B(b) => b.as_ref().len(),
            AttributeValue::M(m) => {
                3 + m.iter().map(|(k, v)| k.len() + value(v) + 1).sum::<usize>()
            }
            AttributeValue::L(l) => 3 + l.iter().map(|v| value(v) + 1).sum::<usize>(),
            _ => 1,
        }
    }
    item.iter().map(|(k, v)| k.len() + value(v)).sum()
}

pub(super) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The entity item for a state at `version`, as `commit` writes it.
pub fn entity_item(
    entity: &str,
    state: &EntityState,
    version: u64,
    at: i64,
) -> HashMap<String, AttributeValue> {
    let mut item = key(entity_pk(entity), ENTITY_SK);
    item.insert("version".into(), n(version as i64));
    item.insert("state".into(), AttributeValue::B(Blob::new(pack(state))));
    item.insert("expires_at".into(), n(at + ENTITY_TTL_SECS));
    if entity_pk(entity) != entity {
        item.insert("id".into(), AttributeValue::S(entity.to_string()));
    }
    item
}
