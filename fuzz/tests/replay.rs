//! Replays every committed input, without libFuzzer: the seeds in `corpus/<target>/` and the
//! crashes kept in `regressions/<target>/` go through the same function as the fuzz target.

use std::{fs, path::Path};

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 12] = [
    ("siret", idp_fuzz::siret),
    ("activation_code", idp_fuzz::activation_code),
    ("end_date", idp_fuzz::end_date),
    ("account_fields", idp_fuzz::account_fields),
    ("claims_request", idp_fuzz::claims_request),
    ("token_form", idp_fuzz::token_form),
    ("cookies", idp_fuzz::cookies),
    ("jwt", idp_fuzz::jwt),
    ("sirene_csv", idp_fuzz::sirene_csv),
    ("http_authorize", idp_fuzz::http_authorize),
    ("http_token", idp_fuzz::http_token),
    ("http_logout", idp_fuzz::http_logout),
];

fn replay(kind: &str) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(kind);
    let mut count = 0;
    for (name, target) in TARGETS {
        let Ok(entries) = fs::read_dir(root.join(name)) else {
            continue;
        };
        let mut files: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        files.sort();
        for file in files.into_iter().filter(|f| f.is_file()) {
            if file
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            {
                continue;
            }
            let data = fs::read(&file).expect("readable input");
            eprintln!("{name}: {}", file.display());
            target(&data);
            count += 1;
        }
    }
    count
}

#[test]
fn every_target_has_a_directory_per_kind_known_here() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for kind in ["corpus", "regressions"] {
        if let Ok(entries) = fs::read_dir(root.join(kind)) {
            for entry in entries.filter_map(Result::ok).filter(|e| e.path().is_dir()) {
                let name = entry.file_name().to_string_lossy().into_owned();
                assert!(
                    TARGETS.iter().any(|(t, _)| *t == name),
                    "{kind}/{name} names no target of tests/replay.rs"
                );
            }
        }
    }
}

#[test]
fn corpus_seeds_pass() {
    assert!(replay("corpus") > 0, "the seeds are committed");
}

#[test]
fn regressions_stay_fixed() {
    replay("regressions");
}
