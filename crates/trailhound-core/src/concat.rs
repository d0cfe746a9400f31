//! String concatenation for keys built on every activity.

/// `parts` joined, allocated once at its final size: `format!` goes through the formatting
/// machinery (about 1,000 instructions for `"p#{key}"`, callgrind), and entity, marker and
/// series keys are built per activity.
pub fn concat(parts: &[&str]) -> String {
    let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        s.push_str(p);
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn joins_in_order() {
        assert_eq!(
            super::concat(&["g#ai/", "1", "/", "role", "/", "r"]),
            "g#ai/1/role/r"
        );
        assert_eq!(super::concat(&[]), "");
    }
}
