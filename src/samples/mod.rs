//! Sample archive generator (being written).
pub struct Summary {
    pub objects: usize,
    pub records: usize,
    pub bytes: u64,
}

pub fn generate(_out: &std::path::Path) -> anyhow::Result<Summary> {
    anyhow::bail!("not yet")
}
