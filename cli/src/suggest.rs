//! "Did you mean …?" for mistyped thing, property, action and event names.
//!
//! The runtime's rule (`thingwire::suggest`), made case-insensitive for names typed at a shell.

/// The candidate closest to `input`, if it is close enough to be a likely typo: a different case, or at
/// most one edit per three characters.
pub fn closest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (input.chars().count() / 3).max(1);
    let lower = input.to_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            let d = if c.to_lowercase() == lower { 0 } else { edit_distance(input, c) };
            (d, c)
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// The runtime's edit distance (a swap of neighbours counts as one edit).
pub use thingwire::suggest::edit_distance;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_names_only() {
        assert_eq!(closest("gian", ["gain", "mode"]), Some("gain"));
        assert_eq!(closest("GAIN", ["gain", "mode"]), Some("gain"));
        assert_eq!(closest("integration_time", ["integration_time_ms", "serial"]), Some("integration_time_ms"));
        assert_eq!(closest("xyz", ["gain", "mode"]), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
