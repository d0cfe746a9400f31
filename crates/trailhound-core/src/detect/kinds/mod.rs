//! Detector kinds. A new detector of an existing kind is a new file in `detectors/`; a new
//! kind is a new module here plus one line in [`build`].

mod new_value;
mod rate_baseline;
mod resource_readers;

use serde::de::DeserializeOwned;

use super::Detector;
use super::spec::Spec;

/// Kind names accepted in detector files.
pub const KINDS: &[&str] = &["rate-baseline", "new-value", "resource-readers"];

pub(crate) fn build(spec: Spec) -> Result<Box<dyn Detector>, (String, String)> {
    match spec.kind.as_str() {
        "rate-baseline" => Ok(Box::new(rate_baseline::RateBaseline::new(spec)?)),
        "new-value" => Ok(Box::new(new_value::NewValue::new(spec)?)),
        "resource-readers" => Ok(Box::new(resource_readers::ResourceReaders::new(spec)?)),
        other => Err((
            "kind".into(),
            format!("`{other}` is not a detector kind ({})", KINDS.join(", ")),
        )),
    }
}

/// Deserializes the `[params]` table into a kind's parameter struct.
fn params<P: DeserializeOwned>(spec: &Spec) -> Result<P, (String, String)> {
    toml::Value::Table(spec.params.clone())
        .try_into()
        .map_err(|e: toml::de::Error| {
            let msg = e.message().to_string();
            let field = msg
                .split('`')
                .nth(1)
                .map(|f| format!("params.{f}"))
                .unwrap_or_else(|| "params".into());
            (field, msg)
        })
}

fn duration(field: &str, v: &str) -> Result<i64, (String, String)> {
    crate::time::parse_duration(v)
        .filter(|d| *d > 0)
        .ok_or_else(|| {
            (
                field.to_string(),
                format!("`{v}` is not a duration such as 15m, 2h, 7d"),
            )
        })
}
