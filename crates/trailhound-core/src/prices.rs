//! Per-model Bedrock prices, for the USD estimates of token findings. The default table is
//! `config/prices.toml`, embedded at build time; the first use reads the file named by the
//! `TRAILHOUND_PRICES` environment variable instead when it is set (replay and the Lambda),
//! and [`install`] replaces the table for the process (embedding programs, tests).

use std::sync::OnceLock;

use serde::Deserialize;

/// The embedded default table.
pub const DEFAULT: &str = include_str!("../../../config/prices.toml");

/// USD per 1,000 tokens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    #[serde(default)]
    pub cache_read: Option<f64>,
    #[serde(default)]
    pub cache_write: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: String,
    #[serde(flatten)]
    price: Price,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    model: Vec<Entry>,
}

/// Token counts of one call or a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tokens {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
}

impl Tokens {
    pub fn of(a: &crate::activity::Activity) -> Tokens {
        Tokens {
            input: a.input_tokens,
            output: a.output_tokens,
            cache_read: a.cache_read_tokens,
            cache_write: a.cache_write_tokens,
        }
    }

    /// All four counts; saturating, as every count comes from log content (a forged
    /// `outputTokenCount` of 4.6e22 reads as `u64::MAX`).
    pub fn total(&self) -> u64 {
        self.input
            .saturating_add(self.output)
            .saturating_add(self.cache_read)
            .saturating_add(self.cache_write)
    }
}

/// A price table: model id prefixes, longest first.
#[derive(Debug)]
pub struct Prices(Vec<(String, Price)>);

impl Prices {
    /// Parses a table; errors name the entry and say what to fix.
    pub fn parse(name: &str, text: &str) -> anyhow::Result<Prices> {
        let f: File = toml::from_str(text).map_err(|e| {
            anyhow::anyhow!(
                "{name}: {} (expected [[model]] tables with id, input, output and optional cache_read, cache_write in USD per 1,000 tokens)",
                e.message()
            )
        })?;
        let mut v = Vec::new();
        for (i, e) in f.model.into_iter().enumerate() {
            let p = e.price;
            let all = [Some(p.input), Some(p.output), p.cache_read, p.cache_write];
            anyhow::ensure!(
                !e.id.is_empty() && all.iter().flatten().all(|x| x.is_finite() && *x >= 0.0),
                "{name}: model[{i}] ({}): the id must not be empty and prices must be numbers ≥ 0",
                e.id
            );
            v.push((e.id, p));
        }
        v.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        Ok(Prices(v))
    }

    /// The embedded default table.
    pub fn embedded() -> Prices {
        Prices::parse("config/prices.toml", DEFAULT).expect("the embedded price table parses")
    }

    /// The price of a model id, inference profile id or ARN.
    pub fn price(&self, model: &str) -> Option<&Price> {
        let id = base_model(model);
        self.0
            .iter()
            .find(|(p, _)| id.starts_with(p.as_str()))
            .map(|(_, p)| p)
    }

    /// Estimated USD of `t` tokens on `model` (`None`: no price for it).
    pub fn cost(&self, model: &str, t: Tokens) -> Option<f64> {
        let p = self.price(model)?;
        let k = |n: u64, price: f64| n as f64 / 1000.0 * price;
        Some(
            k(t.input, p.input)
                + k(t.output, p.output)
                + k(t.cache_read, p.cache_read.unwrap_or(p.input))
                + k(t.cache_write, p.cache_write.unwrap_or(p.input)),
        )
    }
}

/// Geographic prefixes of cross-region inference profiles.
const PROFILE_PREFIXES: &[&str] = &[
    "us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au.", "ca.",
];

/// The base model id of a model id, an inference profile id (`us.anthropic.…`) or a model or
/// inference-profile ARN (`arn:aws:bedrock:…:foundation-model/anthropic.…`).
pub fn base_model(model: &str) -> &str {
    let id = if model.starts_with("arn:") {
        model.rsplit('/').next().unwrap_or(model)
    } else {
        model
    };
    PROFILE_PREFIXES
        .iter()
        .find_map(|p| id.strip_prefix(p))
        .unwrap_or(id)
}

static INSTALLED: OnceLock<Prices> = OnceLock::new();

/// Replaces the table for this process (before the first [`global`]); false if too late.
pub fn install(p: Prices) -> bool {
    INSTALLED.set(p).is_ok()
}

/// Reads a table from a file.
pub fn load(path: &std::path::Path) -> anyhow::Result<Prices> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        anyhow::anyhow!(
            "could not read the price table {}: {e} (give a TOML file like config/prices.toml)",
            path.display()
        )
    })?;
    Prices::parse(&path.display().to_string(), &text)
}

/// The table in use: the installed one, else `TRAILHOUND_PRICES`'s file, else the embedded
/// one (a `TRAILHOUND_PRICES` that does not load is logged and the embedded table used).
pub fn global() -> &'static Prices {
    INSTALLED.get_or_init(|| match std::env::var_os("TRAILHOUND_PRICES") {
        Some(path) => load(std::path::Path::new(&path)).unwrap_or_else(|e| {
            tracing::error!(error = %e, "TRAILHOUND_PRICES: using the embedded price table");
            Prices::embedded()
        }),
        None => Prices::embedded(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_profiles_and_arns_map_to_their_model() {
        let p = Prices::embedded();
        let sonnet = p
            .price("anthropic.claude-3-5-sonnet-20240620-v1:0")
            .copied();
        assert_eq!(sonnet.map(|s| (s.input, s.output)), Some((0.003, 0.015)));
        for id in [
            "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
            "eu.anthropic.claude-3-5-sonnet-20240620-v1:0",
            "apac.anthropic.claude-3-5-sonnet-20240620-v1:0",
            "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-sonnet-20240620-v1:0",
            "arn:aws:bedrock:us-east-1:111122223333:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0",
        ] {
            assert_eq!(p.price(id).copied(), sonnet, "{id}");
        }
        // The longest prefix wins: 3.5 Haiku is not 3 Haiku, Opus 4.5 is not Opus 4.
        assert_eq!(
            p.price("anthropic.claude-3-5-haiku-20241022-v1:0")
                .unwrap()
                .input,
            0.0008
        );
        assert_eq!(
            p.price("anthropic.claude-3-haiku-20240307-v1:0")
                .unwrap()
                .input,
            0.00025
        );
        assert_eq!(
            p.price("global.anthropic.claude-opus-4-5-20251101-v1:0")
                .unwrap()
                .input,
            0.005
        );
        assert_eq!(
            p.price("anthropic.claude-opus-4-1-20250805-v1:0")
                .unwrap()
                .input,
            0.015
        );
        assert_eq!(
            p.price("meta.llama3-1-70b-instruct-v1:0").unwrap().input,
            0.00072
        );
        assert_eq!(
            p.price("meta.llama3-70b-instruct-v1:0").unwrap().input,
            0.00265
        );
        assert!(p.price("deepseek.r1-v1:0").is_none());
        assert!(
            p.price("arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/abc123")
                .is_none()
        );
    }

    #[test]
    fn cost_counts_cache_tokens_at_their_prices() {
        let p = Prices::embedded();
        let t = Tokens {
            input: 1_000_000,
            output: 100_000,
            cache_read: 2_000_000,
            cache_write: 10_000,
        };
        // 1,000 × 0.003 + 100 × 0.015 + 2,000 × 0.0003 + 10 × 0.00375
        let c = p
            .cost("us.anthropic.claude-3-7-sonnet-20250219-v1:0", t)
            .unwrap();
        assert!((c - (3.0 + 1.5 + 0.6 + 0.0375)).abs() < 1e-9, "{c}");
        // No cache prices: the input price.
        let c = p.cost("meta.llama3-3-70b-instruct-v1:0", t).unwrap();
        assert!(
            (c - 3_010_000.0 / 1000.0 * 0.00072 - 0.072).abs() < 1e-9,
            "{c}"
        );
        assert_eq!(p.cost("unknown.model", t), None);
    }

    #[test]
    fn malformed_tables_say_what_to_fix() {
        let e = Prices::parse("p.toml", "[[model]]\nid = \"x\"\ninput = 1.0\n").unwrap_err();
        assert!(
            e.to_string().starts_with("p.toml: missing field `output`"),
            "{e}"
        );
        let e = Prices::parse(
            "p.toml",
            "[[model]]\nid = \"x\"\ninput = -1.0\noutput = 1.0\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("model[0] (x)"), "{e}");
    }
}
