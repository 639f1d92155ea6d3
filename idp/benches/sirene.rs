//! The SIRENE register at national scale: generates `SIRENE_BENCH_ROWS` (default 1,000,000)
//! synthetic establishments into a fresh SQLite file through the import's own upsert, prints
//! the load rate, then measures the searches the sign-up and the CLI run.
//! Run: `cargo bench -p idp --bench sirene`; results in docs/performance.md.

use std::{
    hint::black_box,
    time::{Duration, Instant},
};

use criterion::{Criterion, criterion_group, criterion_main};
use idp::{
    organizations::{Establishment, Query, Siren, Siret, register},
    store::Db,
};

/// First words of the synthetic names: sectors, some with accents (40).
const FIRST: [&str; 40] = [
    "FORMATION",
    "BOULANGERIE",
    "GARAGE",
    "CABINET",
    "INSTITUT",
    "ÉCOLE",
    "CENTRE",
    "ATELIER",
    "SOCIÉTÉ",
    "ASSOCIATION",
    "PHARMACIE",
    "RESTAURANT",
    "HÔTEL",
    "CLINIQUE",
    "TRANSPORTS",
    "BÂTIMENT",
    "PLOMBERIE",
    "ÉLECTRICITÉ",
    "COIFFURE",
    "BOUCHERIE",
    "LIBRAIRIE",
    "AGENCE",
    "CRÈCHE",
    "MAISON",
    "DOMAINE",
    "FERME",
    "CAVE",
    "IMPRIMERIE",
    "MENUISERIE",
    "PEINTURE",
    "AMBULANCES",
    "TAXI",
    "AUTO ÉCOLE",
    "LABORATOIRE",
    "STUDIO",
    "GALERIE",
    "THÉÂTRE",
    "CONSEIL",
    "INFORMATIQUE",
    "NETTOYAGE",
];

/// Second words (50).
const SECOND: [&str; 50] = [
    "DU CENTRE",
    "DES ÉCOLES",
    "DE LA GARE",
    "DU PORT",
    "DES ALPES",
    "DU MIDI",
    "DE L'OUEST",
    "DU NORD",
    "DE L'EST",
    "DU SUD",
    "SAINT MARTIN",
    "SAINT PIERRE",
    "DES LILAS",
    "DU LAC",
    "DE LA MAIRIE",
    "DU MARCHÉ",
    "DES ARTS",
    "DU PARC",
    "DE LA FORÊT",
    "DES VIGNES",
    "MARTIN",
    "BERNARD",
    "DUBOIS",
    "THOMAS",
    "ROBERT",
    "RICHARD",
    "PETIT",
    "DURAND",
    "LEROY",
    "MOREAU",
    "SIMON",
    "LAURENT",
    "LEFÈBVRE",
    "MICHEL",
    "GARCIA",
    "DAVID",
    "BERTRAND",
    "ROUX",
    "VINCENT",
    "FOURNIER",
    "MOREL",
    "GIRARD",
    "ANDRÉ",
    "LEFÈVRE",
    "MERCIER",
    "DUPONT",
    "LAMBERT",
    "BONNET",
    "FRANÇOIS",
    "MARTINEZ",
];

/// `base` (8 digits) with its Luhn check digit: a SIREN.
fn siren_of(base: &str) -> String {
    (0..10)
        .map(|d| format!("{base}{d}"))
        .find(|s| Siren::parse(s).is_ok())
        .expect("a check digit exists")
}

fn siret_of(siren: &str, nic: u32) -> Siret {
    let base = format!("{siren}{nic:04}");
    (0..10)
        .find_map(|d| Siret::parse(&format!("{base}{d}")).ok())
        .expect("a check digit exists")
}

/// A cheap deterministic generator (xorshift), so every run builds the same register.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }
}

/// Fills `db` with `rows` establishments: companies of one to three establishments, one in
/// twelve closed. Returns a SIREN and a SIRET that exist, for the lookups.
async fn generate(db: &Db, rows: usize) -> (String, String) {
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let mut batch = Vec::with_capacity(1000);
    let mut made = 0usize;
    let mut company = 0u32;
    let mut sample = (String::new(), String::new());
    let started = Instant::now();
    while made < rows {
        company += 1;
        let siren = siren_of(&format!("{:08}", 10_000_000 + company));
        let name = format!(
            "{} {} {}",
            FIRST[rng.below(FIRST.len())],
            SECOND[rng.below(SECOND.len())],
            company % 997
        );
        let establishments = 1 + rng.below(3);
        for nic in 1..=establishments {
            let siret = siret_of(&siren, u32::try_from(nic).unwrap_or(1) * 7);
            if made == rows / 2 {
                sample = (siren.clone(), siret.as_str().to_owned());
            }
            batch.push(Establishment {
                siret,
                name: if nic == 1 {
                    name.clone()
                } else {
                    format!("{name} ÉTABLISSEMENT {nic}")
                },
                address: format!(
                    "{} RUE {}",
                    1 + rng.below(150),
                    SECOND[rng.below(SECOND.len())]
                ),
                postcode: format!("{:05}", 1000 + rng.below(94_000)),
                commune: "VILLE".into(),
                active: rng.below(12) != 0,
                head_office: nic == 1,
            });
            made += 1;
            if batch.len() == 1000 {
                register::upsert(db, &batch, 1_700_000_000)
                    .await
                    .expect("upsert");
                batch.clear();
            }
        }
    }
    if !batch.is_empty() {
        register::upsert(db, &batch, 1_700_000_000)
            .await
            .expect("upsert");
    }
    let elapsed = started.elapsed();
    eprintln!(
        "register: {made} establishments written in {:.1} s ({:.0}/s)",
        elapsed.as_secs_f64(),
        made as f64 / elapsed.as_secs_f64()
    );
    sample
}

fn searches(c: &mut Criterion) {
    let rows: usize = std::env::var("SIRENE_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("sirene.db").display()
    );
    let db = rt.block_on(async {
        let db = Db::connect(&url).await.expect("db");
        db.migrate().await.expect("migrate");
        db
    });
    let (siren, siret) = rt.block_on(generate(&db, rows));
    rt.block_on(async {
        sqlx::query("ANALYZE")
            .execute(&db.pool)
            .await
            .expect("analyze");
    });
    let mut group = c.benchmark_group(format!("sirene search, {rows} establishments"));
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    let cases = [
        ("name, two letters (\"fo\", ~2.5 %)", "fo", 1),
        ("name, a sector (\"formation\", ~2.5 %)", "formation", 1),
        ("name, a sector, page 50", "formation", 50),
        (
            "name, sector + second word (~0.05 %)",
            "boulangerie du centre",
            1,
        ),
        ("name, nearly exact (a few rows)", "garage des ecoles 12", 1),
        ("name, no match", "zzz", 1),
        ("SIREN (1 to 3 rows)", siren.as_str(), 1),
        ("SIRET (1 row)", siret.as_str(), 1),
    ];
    for (label, q, page) in cases {
        let query = Query::parse(q).expect("query");
        let found = rt
            .block_on(register::search(&db, &query, page))
            .expect("search");
        eprintln!("{label}: {}", found.summary());
        group.bench_function(label, |b| {
            b.to_async(&rt).iter(|| async {
                register::search(&db, black_box(&query), page)
                    .await
                    .expect("search")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, searches);
criterion_main!(benches);
