//! Human names for runs, in Grid's style (`spiffy-sunfish-821`); trials of
//! a sweep are `<batch name>-exp<N>`. A name given with `--run-name` and
//! trial names are stored as the `name` attr; other runs go by a name made
//! from their id.

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

/// The name a run without a `name` attr goes by: made from its id, so it
/// is the same every time and costs no file.
pub fn for_id(id: &str) -> String {
    // FNV-1a: stable across builds and platforms.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let a = (h % ADJECTIVES.len() as u64) as usize;
    let n = ((h / 1000) % ANIMALS.len() as u64) as usize;
    let num = 100 + (h / 1_000_000) % 900;
    format!("{}-{}-{num}", ADJECTIVES[a], ANIMALS[n])
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
        let id = "71778bbf13c14a0d9dc3110d743a4325";
        assert_eq!(super::for_id(id), super::for_id(id));
        assert_eq!(super::for_id(id).split('-').count(), 3);
        assert_ne!(
            super::for_id(id),
            super::for_id("71778bbf13c14a0d9dc3110d743a4326")
        );
    }
}
