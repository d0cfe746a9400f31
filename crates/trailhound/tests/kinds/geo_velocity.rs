//! `geo-velocity`: impossible travel between country centroids.

use super::*;

const TRAVEL: &str = "[match]\nsources = [\"cloudtrail\"]\n[params]\nmax_speed_kmh = 1000.0\nmin_distance_km = 500.0";

fn from(t: i64, country: &[u8; 2], ip: &str) -> Activity {
    Activity {
        country: Some(*country),
        source_ip: Some(ip.parse().unwrap()),
        ..act(t, "GetCallerIdentity")
    }
}

fn travel_run() -> Run {
    Run::new(&file(
        "geo-velocity",
        "{principal_name} called from {from} then {to}, {distance_km} km apart in {time_apart} ({speed_kmh} km/h)",
        TRAVEL,
    ))
}

#[test]
fn geo_velocity_fires_on_impossible_travel_with_the_numbers() {
    let mut run = travel_run();
    run.apply(vec![
        from(T0, b"DE", "91.64.0.1"),
        from(T0 + 300, b"DE", "91.64.0.2"),
    ]);
    run.apply(vec![from(T0 + 900, b"RU", "95.165.0.1")]);
    let f = run.only().clone();
    let km = country_distance_km(b"DE", b"RU").unwrap();
    assert!((5400.0..5450.0).contains(&km), "{km}");
    let speed = (km / (600.0 / 3600.0)).round();
    let ev = serde_json::Value::Object(f.evidence.clone());
    assert_eq!(
        ev["from"],
        serde_json::json!({"country": "DE", "seen": "2026-10-01T00:05:00Z"})
    );
    assert_eq!(
        ev["to"],
        serde_json::json!({"country": "RU", "seen": "2026-10-01T00:15:00Z"})
    );
    assert_eq!(ev["distance_km"], km.round());
    assert_eq!(ev["time_apart_seconds"], 600);
    assert_eq!(ev["implied_speed_kmh"], speed);
    assert!(ev["note"].as_str().unwrap().contains("country centroids"));
    assert_eq!(
        f.title,
        format!(
            "alice called from DE then RU, {} km apart in 10 minutes ({} km/h)",
            fmt(km.round()),
            fmt(speed)
        )
    );
    assert_eq!(
        (f.count, f.first_seen.as_str()),
        (1, "2026-10-01T00:05:00Z")
    );
    // Back in Germany ten minutes later: the same pair updates the finding.
    run.apply(vec![from(T0 + 1500, b"DE", "91.64.0.3")]);
    assert_eq!(run.only().count, 2);
}

fn fmt(n: f64) -> String {
    let s = (n as u64).to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[test]
fn geo_velocity_stays_quiet_for_neighbours_real_travel_and_unknown_places() {
    let cases: Vec<(&str, Vec<Activity>)> = vec![
        (
            "neighbours (under min_distance_km)",
            vec![from(T0, b"BE", "1.0.0.1"), from(T0 + 60, b"NL", "1.0.0.2")],
        ),
        (
            "a flight's worth of time",
            vec![
                from(T0, b"DE", "1.0.0.1"),
                from(T0 + 12 * 3600, b"RU", "1.0.0.2"),
            ],
        ),
        (
            "one country",
            vec![from(T0, b"US", "1.0.0.1"), from(T0 + 1, b"US", "8.8.8.8")],
        ),
        (
            "no centroid for EU",
            vec![from(T0, b"DE", "1.0.0.1"), from(T0 + 60, b"EU", "1.0.0.2")],
        ),
        (
            "no geolocated address",
            vec![
                from(T0, b"DE", "1.0.0.1"),
                Activity {
                    country: None,
                    ..from(T0 + 60, b"RU", "10.0.0.1")
                },
            ],
        ),
    ];
    for (why, acts) in cases {
        let mut run = travel_run();
        run.apply(acts);
        assert!(run.findings.is_empty(), "{why}: {:#?}", run.findings);
    }
}

#[test]
fn geo_velocity_judges_late_sightings_and_caps_its_places() {
    // The Russian call arrives in a later object than the German one after it.
    let mut run = travel_run();
    run.apply(vec![from(T0 + 600, b"DE", "1.0.0.1")]);
    run.apply(vec![from(T0, b"RU", "1.0.0.2")]);
    let f = run.only();
    assert_eq!(
        (
            f.evidence["from"]["country"].as_str(),
            f.evidence["to"]["country"].as_str()
        ),
        (Some("RU"), Some("DE"))
    );
    assert_eq!(
        (f.first_seen.as_str(), f.last_seen.as_str()),
        ("2026-10-01T00:00:00Z", "2026-10-01T00:10:00Z")
    );

    let codes: Vec<[u8; 2]> = [
        "US", "BR", "AU", "JP", "ZA", "IN", "CA", "MX", "AR", "CN", "RU", "EG", "NG", "KE", "FR",
        "DE", "GB", "ES", "IT", "SE",
    ]
    .iter()
    .map(|c| c.as_bytes().try_into().unwrap())
    .collect();
    let mut run = travel_run();
    run.apply(
        codes
            .iter()
            .enumerate()
            .map(|(i, c)| from(T0 + i as i64 * 60, c, "1.0.0.1"))
            .collect(),
    );
    let places = &run.states[&format!("p#{ALICE}")].kinds.places[ID];
    assert_eq!(places.countries.len(), 16);
    assert!(!places.countries.contains_key("US") && places.countries.contains_key("SE"));
    // Sightings older than the farthest trip at max speed are forgotten.
    run.apply(vec![from(T0 + 3 * 86_400, b"NZ", "1.0.0.1")]);
    assert_eq!(
        run.states[&format!("p#{ALICE}")].kinds.places[ID]
            .countries
            .len(),
        1
    );
    // Idle state goes whatever the detectors' parameters.
    let mut kinds = run.states[&format!("p#{ALICE}")].kinds.clone();
    kinds.prune(T0 + 3 * 86_400 + 200 * 3600);
    assert!(!kinds.is_empty());
    kinds.prune(T0 + 3 * 86_400 + 202 * 3600);
    assert!(kinds.is_empty());
    assert_eq!(
        load_error(&file("geo-velocity", "x", "[params]\nmax_speed_kmh = 0.0")).0,
        "params.max_speed_kmh"
    );
    assert_eq!(
        load_error(&file("geo-velocity", "{nope}", "[params]")).0,
        "title"
    );
}
