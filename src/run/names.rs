//! Human names for runs, in Grid's style (`spiffy-sunfish-821`); trials of
//! a sweep are `<batch name>-exp<N>`. Stored as the `name` attr.

use rand::Rng;

const ADJECTIVES: &[&str] = &[
    "agile",
    "amber",
    "bold",
    "brave",
    "bright",
    "brisk",
    "calm",
    "clever",
    "cosmic",
    "crisp",
    "curious",
    "dapper",
    "daring",
    "eager",
    "electric",
    "fancy",
    "fearless",
    "fluffy",
    "gentle",
    "gifted",
    "glowing",
    "golden",
    "happy",
    "hardy",
    "honest",
    "humble",
    "jolly",
    "keen",
    "kind",
    "lively",
    "lucky",
    "mellow",
    "mighty",
    "nimble",
    "noble",
    "patient",
    "plucky",
    "polished",
    "proud",
    "quick",
    "quiet",
    "radiant",
    "rapid",
    "rustic",
    "sharp",
    "shiny",
    "silent",
    "sleek",
    "smooth",
    "snappy",
    "sparkling",
    "spiffy",
    "steady",
    "sturdy",
    "sunny",
    "swift",
    "tidy",
    "trusty",
    "upbeat",
    "vivid",
    "witty",
    "zesty",
];

const ANIMALS: &[&str] = &[
    "albatross",
    "alpaca",
    "badger",
    "beaver",
    "bison",
    "bobcat",
    "capybara",
    "cheetah",
    "condor",
    "coyote",
    "crane",
    "dolphin",
    "eagle",
    "falcon",
    "ferret",
    "finch",
    "gazelle",
    "gecko",
    "heron",
    "ibis",
    "jaguar",
    "kestrel",
    "koala",
    "lemur",
    "lynx",
    "magpie",
    "manatee",
    "marmot",
    "meerkat",
    "moose",
    "narwhal",
    "ocelot",
    "orca",
    "osprey",
    "otter",
    "owl",
    "panda",
    "pelican",
    "penguin",
    "puffin",
    "quail",
    "raccoon",
    "raven",
    "salmon",
    "seal",
    "sparrow",
    "squid",
    "sunfish",
    "swan",
    "tapir",
    "tiger",
    "toucan",
    "turtle",
    "walrus",
    "weasel",
    "whale",
    "wombat",
    "yak",
    "zebra",
];

/// A new random name like `spiffy-sunfish-821`.
pub fn generate() -> String {
    let mut rng = rand::thread_rng();
    format!(
        "{}-{}-{}",
        ADJECTIVES[rng.gen_range(0..ADJECTIVES.len())],
        ANIMALS[rng.gen_range(0..ANIMALS.len())],
        rng.gen_range(100..1000)
    )
}

/// The name of trial `index` (0-based) of a batch named `batch`.
pub fn trial(batch: &str, index: usize) -> String {
    format!("{batch}-exp{index}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_have_three_parts() {
        let n = super::generate();
        let parts: Vec<&str> = n.split('-').collect();
        assert_eq!(parts.len(), 3, "{n}");
        assert!(parts[2].parse::<u32>().is_ok());
        assert_eq!(super::trial(&n, 2), format!("{n}-exp2"));
    }
}
