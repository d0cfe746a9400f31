//! `geo-velocity`: two locations of one principal closer in time than travel allows
//! (impossible travel). No learning period.
//!
//! Each call with a geolocated source address puts the principal in a country. When a call
//! comes from another country whose centroid is at least `min_distance_km` away (default
//! 500: neighbours and small countries never count) and the time since (or until) the
//! nearest sighting of that country implies more than `max_speed_kmh` (default 1000, an
//! airliner), a finding is raised, one per country pair within the cooldown.
//!
//! ```toml
//! kind = "geo-velocity"
//! [params]
//! max_speed_kmh = 1000.0
//! min_distance_km = 500.0
//! ```
//!
//! Locations are country centroids (`crate::centroids`): an approximation of where in a
//! country an address is, off by up to the country's size. The evidence says so, with the
//! countries, the distance, the time apart and the implied speed. VPNs, corporate proxies
//! and mobile networks that exit abroad also look like travel: suppress their ranges.
//!
//! State caps (see `state::kinds`): at most 16 countries per detector and principal, each
//! with the first and last time seen; a country not seen within the time the farthest
//! trip on Earth (20,038 km) takes at `max_speed_kmh` of the newest sighting is dropped
//! (about 20 hours at the default speed), and the least recently seen goes beyond 16.
//!
//! Template placeholders: [`PLACEHOLDERS`].

use serde::Deserialize;
use serde_json::json;

use super::rule::context_evidence;
use super::sequence::short_duration;
use crate::activity::{Activity, Source, principal_name};
use crate::centroids::{centroid, distance_km};
use crate::detect::spec::Spec;
use crate::detect::{Ctx, Detector, render, thousands};
use crate::state::kinds::Places;

/// Placeholders of `geo-velocity` templates.
pub const PLACEHOLDERS: &[&str] = &[
    "principal_name",
    "account",
    "region",
    "event_name",
    "from",
    "to",
    "distance_km",
    "time_apart",
    "speed_kmh",
    "max_speed_kmh",
];

/// Half the Earth's circumference: no two points are farther apart.
const FARTHEST_KM: f64 = 20_038.0;

const NOTE: &str = "Locations are country centroids, an approximation: the addresses may be closer together or farther apart, by up to the size of the countries.";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default = "default_speed")]
    max_speed_kmh: f64,
    #[serde(default = "default_distance")]
    min_distance_km: f64,
}

fn default_speed() -> f64 {
    1000.0
}
fn default_distance() -> f64 {
    500.0
}

pub struct GeoVelocity {
    spec: Spec,
    max_speed: f64,
    min_distance: f64,
    /// Sightings older than this (seconds) cannot make any trip too fast.
    horizon: i64,
}

impl GeoVelocity {
    pub fn new(spec: Spec) -> Result<Self, (String, String)> {
        let p: Params = super::params(&spec)?;
        super::rule::check_templates(&spec, PLACEHOLDERS)?;
        // At least 100 km/h, so no sighting is kept longer than 200 hours.
        if !(p.max_speed_kmh >= 100.0 && p.max_speed_kmh.is_finite()) {
            return Err((
                "params.max_speed_kmh".into(),
                format!("{} must be at least 100", p.max_speed_kmh),
            ));
        }
        if !(0.0..FARTHEST_KM).contains(&p.min_distance_km) {
            return Err((
                "params.min_distance_km".into(),
                format!("{} must be 0 to {FARTHEST_KM}", p.min_distance_km),
            ));
        }
        if !spec.filter.can_see(Source::Cloudtrail) {
            return Err((
                "match.sources".into(),
                "geo-velocity needs CloudTrail records (invocation logs carry no address)".into(),
            ));
        }
        Ok(GeoVelocity {
            horizon: (FARTHEST_KM / p.max_speed_kmh * 3600.0).ceil() as i64,
            spec,
            max_speed: p.max_speed_kmh,
            min_distance: p.min_distance_km,
        })
    }
}

/// The fastest trip found: the other country, the time it was seen, distance, gap, speed.
struct Trip {
    other: String,
    other_time: i64,
    km: f64,
    apart: i64,
    speed: f64,
}

impl Detector for GeoVelocity {
    fn spec(&self) -> &Spec {
        &self.spec
    }

    fn observe(&self, ctx: &mut Ctx<'_>, a: &Activity) {
        let Some(code) = a.country else { return };
        let Some(here) = centroid(&code) else { return };
        let here_code = crate::geo::country_str(&code);
        let t = a.time;
        let places = &mut ctx.principal.kinds.places;
        if !places.contains_key(&self.spec.id) {
            places.insert(self.spec.id.clone(), Places::default());
        }
        let places = places.get_mut(&self.spec.id).expect("just inserted");
        let mut best: Option<Trip> = None;
        for (other, &(first, last)) in &places.countries {
            let Some(there) = <&[u8; 2]>::try_from(other.as_bytes())
                .ok()
                .and_then(centroid)
            else {
                continue;
            };
            if other == here_code {
                continue;
            }
            let km = distance_km(here, there);
            if km < self.min_distance {
                continue;
            }
            // The sighting nearest in time: the last one before, or the first one after;
            // when the country was seen both before and after, the nearer of the two ends
            // (a gap at least as long as the true one: the speed is never overstated).
            let (other_time, apart) = if last <= t {
                (last, t - last)
            } else if first >= t {
                (first, first - t)
            } else if t - first <= last - t {
                (first, t - first)
            } else {
                (last, last - t)
            };
            let speed = km / (apart.max(1) as f64 / 3600.0);
            if speed > self.max_speed && best.as_ref().is_none_or(|b| speed > b.speed) {
                best = Some(Trip {
                    other: other.clone(),
                    other_time,
                    km,
                    apart,
                    speed,
                });
            }
        }
        places.see(here_code, t, self.horizon);
        let Some(trip) = best else { return };
        let ((from, from_t), (to, to_t)) = if trip.other_time <= t {
            ((trip.other.as_str(), trip.other_time), (here_code, t))
        } else {
            ((here_code, t), (trip.other.as_str(), trip.other_time))
        };
        let pair = if from < to {
            format!("{from}-{to}")
        } else {
            format!("{to}-{from}")
        };
        let Some(open) = ctx
            .alerts
            .raise(&self.spec, ctx.principal, a, &pair, from_t, 1)
        else {
            return;
        };
        if to_t > open.last {
            open.last = to_t;
            open.finding.last_seen = crate::time::format(to_t);
        }
        let f = &mut open.finding;
        let ev = &mut f.evidence;
        let faster = ev
            .get("implied_speed_kmh")
            .and_then(|s| s.as_f64())
            .is_none_or(|s| trip.speed.round() > s);
        if faster {
            ev.insert(
                "from".into(),
                json!({"country": from, "seen": crate::time::format(from_t)}),
            );
            ev.insert(
                "to".into(),
                json!({"country": to, "seen": crate::time::format(to_t)}),
            );
            ev.insert("distance_km".into(), json!(trip.km.round()));
            ev.insert("time_apart_seconds".into(), json!(trip.apart));
            ev.insert("time_apart".into(), json!(short_duration(trip.apart)));
            ev.insert("implied_speed_kmh".into(), json!(trip.speed.round()));
        }
        ev.insert("max_speed_kmh".into(), json!(self.max_speed));
        ev.insert("min_distance_km".into(), json!(self.min_distance));
        ev.insert("note".into(), json!(NOTE));
        context_evidence(ev, a);
        let num = |k: &str| ev.get(k).and_then(|v| v.as_f64()).unwrap_or(0.0) as u64;
        let (km, speed) = (num("distance_km"), num("implied_speed_kmh"));
        let country = |k: &str| ev[k]["country"].as_str().unwrap_or("?").to_string();
        let apart = ev["time_apart"].as_str().unwrap_or("").to_string();
        let vars = [
            ("principal_name", principal_name(&f.principal_key)),
            ("account", f.account.clone()),
            ("region", a.region.to_string()),
            ("event_name", a.event_name.to_string()),
            ("from", country("from")),
            ("to", country("to")),
            ("distance_km", thousands(km)),
            ("time_apart", apart),
            ("speed_kmh", thousands(speed)),
            ("max_speed_kmh", thousands(self.max_speed.round() as u64)),
        ];
        f.title = render(&self.spec.title, &vars);
        f.description = render(&self.spec.description, &vars);
        f.subject = render(self.spec.subject_template(), &vars);
    }
}
