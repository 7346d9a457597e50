//! Generated run names ("adjective-noun-NNN"), used when a run is created without one.
//! The word lists are our own.

const ADJECTIVES: &[&str] = &[
    "amber", "brave", "calm", "crisp", "dapper", "eager", "fancy", "gentle", "glossy", "handy",
    "honest", "jolly", "keen", "lively", "lucky", "mellow", "nimble", "polite", "quiet", "rapid",
    "rustic", "shiny", "silent", "sturdy", "sunny", "swift", "tidy", "vivid", "witty", "zesty",
];

const NOUNS: &[&str] = &[
    "otter", "falcon", "maple", "comet", "harbor", "lantern", "meadow", "pebble", "quartz",
    "river", "sparrow", "tiger", "willow", "badger", "canyon", "dolphin", "ember", "fjord",
    "glacier", "heron", "iris", "jaguar", "kestrel", "lynx", "moose", "nebula", "orchid", "panda",
    "raven", "walrus",
];

pub fn random_run_name() -> String {
    let r = super::ids::random_u32() as usize;
    format!(
        "{}-{}-{}",
        ADJECTIVES[r % ADJECTIVES.len()],
        NOUNS[(r / ADJECTIVES.len()) % NOUNS.len()],
        (r >> 16) % 1000
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_have_three_parts() {
        let n = super::random_run_name();
        assert_eq!(n.split('-').count(), 3, "{n}");
    }
}
