//! The `spatial` suite: ray-cast tabletop scenes with a depth map and camera intrinsics, and
//! referring expressions whose targets are masks.
//!
//! **Camera.** A pinhole camera (x right, y down, z forward, metres) looks down at a table
//! from height `H` with pitch `θ` below the horizon. Pixel `(u, v)` covers
//! `[u, u+1) × [v, v+1)` and is rendered with one ray through its centre
//! `((u + 0.5 − cx) / fx, (v + 0.5 − cy) / fy, 1)`. Because that direction has `z = 1`, the
//! ray parameter of the first hit *is* the camera-frame depth, which the depth PNG stores in
//! millimetres (0 = nothing hit). Hence `Intrinsics::deproject(u + 0.5, v + 0.5, d · 0.001)`
//! returns the surface point seen by pixel `(u, v)` (to within the 0.5 mm rounding). Colour,
//! depth and masks all come from the same centre ray, so they agree pixel for pixel.
//!
//! **Scene.** A textured table top, a floor below it and a wall behind it; cubes, spheres and
//! cylinders in several colours and two sizes resting on the table; Lambertian shading with a
//! small specular term and cast shadows from one directional light.
//!
//! **Expressions** are checked for uniqueness in the scene: attribute references ("the large
//! red ball"), relations to an anchor ("the ball left of the red cube", from the camera's
//! view, with margins so no object is borderline), distance ("the object closest to the
//! camera"), extremes ("the leftmost cube") and free space ("the free space between the
//! yellow cylinder and the green cube", a mask of table pixels in the gap).

use image::{ImageBuffer, Luma, RgbImage};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::canvas::Color;
use super::{Depth16, Sample};
use crate::error::{Error, Result};
use reticle_models::camera::Intrinsics;
use reticle_models::dataset::{Record, Target, Task};
use reticle_models::geometry::Mask;

/// Knobs of the `spatial` suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SpatialConfig {
    pub width: u32,
    pub height: u32,
    pub min_objects: usize,
    pub max_objects: usize,
}

impl Default for SpatialConfig {
    fn default() -> Self {
        Self {
            width: 640,
            height: 480,
            min_objects: 3,
            max_objects: 6,
        }
    }
}

impl SpatialConfig {
    pub fn validate(&self) -> Result<()> {
        if !(64..=4096).contains(&self.width) || !(48..=4096).contains(&self.height) {
            return Err(Error::invalid(
                "spatial.width/height",
                format!(
                    "{}x{} is outside 64x48..=4096x4096",
                    self.width, self.height
                ),
            ));
        }
        if self.min_objects < 2 || self.min_objects > self.max_objects || self.max_objects > 12 {
            return Err(Error::invalid(
                "spatial.min_objects/max_objects",
                format!(
                    "need 2 <= min ({}) <= max ({}) <= 12",
                    self.min_objects, self.max_objects
                ),
            ));
        }
        Ok(())
    }
}

type V3 = [f64; 3];

fn dot(a: V3, b: V3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
fn add(a: V3, b: V3) -> V3 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}
fn sub(a: V3, b: V3) -> V3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}
fn mul(a: V3, s: f64) -> V3 {
    [a[0] * s, a[1] * s, a[2] * s]
}
fn norm(a: V3) -> V3 {
    let l = dot(a, a).sqrt().max(1e-12);
    mul(a, 1.0 / l)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Solid {
    Cube,
    Sphere,
    Cylinder,
}

impl Solid {
    fn name(self) -> &'static str {
        match self {
            Solid::Cube => "cube",
            Solid::Sphere => "sphere",
            Solid::Cylinder => "cylinder",
        }
    }

    /// Words a referring expression may use for this solid.
    fn words(self) -> &'static [&'static str] {
        match self {
            Solid::Cube => &["cube", "block"],
            Solid::Sphere => &["ball", "sphere"],
            Solid::Cylinder => &["cylinder"],
        }
    }
}

const COLOURS: [(&str, [f64; 3]); 6] = [
    ("red", [0.80, 0.13, 0.11]),
    ("green", [0.15, 0.58, 0.22]),
    ("blue", [0.14, 0.30, 0.82]),
    ("yellow", [0.93, 0.76, 0.10]),
    ("purple", [0.50, 0.22, 0.68]),
    ("orange", [0.95, 0.46, 0.08]),
];

const TABLES: [(&str, [f64; 3]); 5] = [
    ("oak", [0.72, 0.56, 0.38]),
    ("walnut", [0.45, 0.31, 0.21]),
    ("white", [0.86, 0.86, 0.84]),
    ("grey", [0.55, 0.56, 0.58]),
    ("felt", [0.24, 0.42, 0.30]),
];

/// One object resting on the table.
#[derive(Debug, Clone)]
struct Object {
    solid: Solid,
    colour: usize,
    large: bool,
    /// Table coordinates of the footprint centre (metres along R and F).
    a: f64,
    b: f64,
    /// Centre of the solid in the camera frame.
    c: V3,
    /// Horizontal local axes in the camera frame (the up axis is the table normal).
    e1: V3,
    e2: V3,
    /// Half extents: cube half side; sphere radius; cylinder radius and half height.
    r: f64,
    hh: f64,
}

impl Object {
    /// Radius of the footprint disc that contains the object.
    fn footprint(&self) -> f64 {
        match self.solid {
            Solid::Cube => self.r * std::f64::consts::SQRT_2,
            _ => self.r,
        }
    }
}

/// The camera pose and table frame, all in camera coordinates.
#[derive(Debug, Clone)]
struct Rig {
    k: Intrinsics,
    height: f64,
    pitch: f64,
    /// Table normal (up), table forward (away from the camera, horizontal) and right.
    up: V3,
    fwd: V3,
    right: V3,
    /// Where the optical axis meets the table.
    t0: V3,
    /// Table extent in table coordinates.
    a_half: f64,
    b_near: f64,
    b_far: f64,
    wall_b: f64,
    light: V3,
    table: usize,
}

impl Rig {
    fn ray(&self, u: f64, v: f64) -> V3 {
        [
            (u - self.k.cx) / self.k.fx,
            (v - self.k.cy) / self.k.fy,
            1.0,
        ]
    }

    fn table_point(&self, a: f64, b: f64, h: f64) -> V3 {
        add(
            add(add(self.t0, mul(self.right, a)), mul(self.fwd, b)),
            mul(self.up, h),
        )
    }

    fn table_coords(&self, p: V3) -> (f64, f64) {
        let q = sub(p, self.t0);
        (dot(q, self.right), dot(q, self.fwd))
    }

    fn on_table(&self, a: f64, b: f64) -> bool {
        a.abs() <= self.a_half && b >= self.b_near && b <= self.b_far
    }
}

/// What a pixel's ray hit first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Surf {
    Table,
    Floor,
    Wall,
    Obj(usize),
}

#[derive(Debug, Clone, Copy)]
struct Hit {
    t: f64,
    n: V3,
    surf: Surf,
}

const TABLE_HEIGHT: f64 = 0.74;

/// Ray from `o` along `d` against object `obj`: nearest `t > eps` and the outward normal.
fn intersect(obj: &Object, up: V3, o: V3, d: V3) -> Option<(f64, V3)> {
    let oc = sub(o, obj.c);
    // Local frame: x = e1, y = up, z = e2.
    let lo = [dot(oc, obj.e1), dot(oc, up), dot(oc, obj.e2)];
    let ld = [dot(d, obj.e1), dot(d, up), dot(d, obj.e2)];
    let to_cam = |n: V3| add(add(mul(obj.e1, n[0]), mul(up, n[1])), mul(obj.e2, n[2]));
    const EPS: f64 = 1e-7;
    match obj.solid {
        Solid::Cube => {
            let (mut tn, mut tf, mut axis, mut sign) = (f64::MIN, f64::MAX, 0, 1.0);
            for i in 0..3 {
                if ld[i].abs() < 1e-12 {
                    if lo[i].abs() > obj.r {
                        return None;
                    }
                    continue;
                }
                let t1 = (-obj.r - lo[i]) / ld[i];
                let t2 = (obj.r - lo[i]) / ld[i];
                let (a, b) = if t1 < t2 { (t1, t2) } else { (t2, t1) };
                if a > tn {
                    tn = a;
                    axis = i;
                    sign = if ld[i] > 0.0 { -1.0 } else { 1.0 };
                }
                tf = tf.min(b);
            }
            if tn > tf || tn <= EPS {
                return None;
            }
            let mut n = [0.0; 3];
            n[axis] = sign;
            Some((tn, to_cam(n)))
        }
        Solid::Sphere => {
            let a = dot(d, d);
            let b = dot(oc, d);
            let c = dot(oc, oc) - obj.r * obj.r;
            let disc = b * b - a * c;
            if disc < 0.0 {
                return None;
            }
            let t = (-b - disc.sqrt()) / a;
            (t > EPS).then(|| (t, norm(add(oc, mul(d, t)))))
        }
        Solid::Cylinder => {
            let mut best: Option<(f64, V3)> = None;
            let a = ld[0] * ld[0] + ld[2] * ld[2];
            if a > 1e-12 {
                let b = lo[0] * ld[0] + lo[2] * ld[2];
                let c = lo[0] * lo[0] + lo[2] * lo[2] - obj.r * obj.r;
                let disc = b * b - a * c;
                if disc >= 0.0 {
                    let t = (-b - disc.sqrt()) / a;
                    let y = lo[1] + t * ld[1];
                    if t > EPS && y.abs() <= obj.hh {
                        let x = lo[0] + t * ld[0];
                        let z = lo[2] + t * ld[2];
                        best = Some((t, to_cam([x / obj.r, 0.0, z / obj.r])));
                    }
                }
            }
            if ld[1].abs() > 1e-12 {
                for cap in [obj.hh, -obj.hh] {
                    let t = (cap - lo[1]) / ld[1];
                    let x = lo[0] + t * ld[0];
                    let z = lo[2] + t * ld[2];
                    if t > EPS
                        && x * x + z * z <= obj.r * obj.r
                        && best.is_none_or(|(bt, _)| t < bt)
                    {
                        best = Some((t, to_cam([0.0, cap.signum(), 0.0])));
                    }
                }
            }
            best
        }
    }
}

/// The first hit of the ray from the camera along `d` (`d.z = 1`, so `t` is depth).
fn trace(rig: &Rig, objs: &[Object], d: V3) -> Option<Hit> {
    let mut best: Option<Hit> = None;
    let mut take = |t: f64, n: V3, surf: Surf| {
        if t > 0.0 && best.is_none_or(|b| t < b.t) {
            best = Some(Hit { t, n, surf });
        }
    };
    let ud = dot(rig.up, d);
    if ud < 0.0 {
        let t = -rig.height / ud;
        let (a, b) = rig.table_coords(mul(d, t));
        if rig.on_table(a, b) {
            take(t, rig.up, Surf::Table);
        } else {
            take(-(rig.height + TABLE_HEIGHT) / ud, rig.up, Surf::Floor);
        }
    }
    let fd = dot(rig.fwd, d);
    if fd > 0.0 {
        take(
            (dot(rig.fwd, rig.t0) + rig.wall_b) / fd,
            mul(rig.fwd, -1.0),
            Surf::Wall,
        );
    }
    for (i, o) in objs.iter().enumerate() {
        if let Some((t, n)) = intersect(o, rig.up, [0.0; 3], d) {
            take(t, n, Surf::Obj(i));
        }
    }
    best
}

/// Whether point `p` is in the shadow of an object.
fn shadowed(rig: &Rig, objs: &[Object], p: V3, skip: Option<usize>) -> bool {
    objs.iter()
        .enumerate()
        .any(|(i, o)| Some(i) != skip && intersect(o, rig.up, p, rig.light).is_some())
}

fn shade(rig: &Rig, objs: &[Object], d: V3, hit: &Hit) -> Color {
    let p = mul(d, hit.t);
    let (base, spec) = match hit.surf {
        Surf::Table => {
            let (a, b) = rig.table_coords(p);
            // Wood-like grain along the table's width.
            let grain = 1.0
                + 0.04 * (b * 55.0 + 2.5 * (a * 6.0).sin()).sin()
                + 0.02 * (b * 210.0 + a * 9.0).sin();
            (mul(TABLES[rig.table].1, grain), 0.0)
        }
        Surf::Floor => ([0.28, 0.26, 0.25], 0.0),
        Surf::Wall => ([0.80, 0.79, 0.76], 0.0),
        Surf::Obj(i) => (COLOURS[objs[i].colour].1, 0.35),
    };
    let skip = if let Surf::Obj(i) = hit.surf {
        Some(i)
    } else {
        None
    };
    let ndl = dot(hit.n, rig.light).max(0.0);
    let lit = if ndl > 0.0 && !shadowed(rig, objs, add(p, mul(hit.n, 1e-5)), skip) {
        1.0
    } else {
        0.0
    };
    let diffuse = 0.32 + 0.68 * ndl * lit;
    let view = norm(mul(d, -1.0));
    let refl = sub(mul(hit.n, 2.0 * ndl), rig.light);
    let s = spec * lit * dot(norm(refl), view).max(0.0).powi(24);
    let to8 = |c: f64| ((c * diffuse + s).clamp(0.0, 1.0) * 255.0).round() as u8;
    [to8(base[0]), to8(base[1]), to8(base[2])]
}

fn make_rig(cfg: &SpatialConfig, rng: &mut ChaCha8Rng) -> Rig {
    let (w, h) = (cfg.width as f64, cfg.height as f64);
    let fov = rng.gen_range(50.0f64..65.0).to_radians();
    let f = w / 2.0 / (fov / 2.0).tan();
    let k = Intrinsics {
        fx: f,
        fy: f,
        cx: w / 2.0,
        cy: h / 2.0,
        width: cfg.width,
        height: cfg.height,
        depth_scale: 0.001,
    };
    let pitch = rng.gen_range(35.0f64..60.0).to_radians();
    let height = rng.gen_range(0.35..0.6);
    let (s, c) = pitch.sin_cos();
    let up = [0.0, -c, -s];
    let fwd = [0.0, -s, c];
    let dist = height / s;
    let b_near = -dist * c + rng.gen_range(0.05..0.2);
    let b_far = rng.gen_range(0.35..0.8);
    let az = rng.gen_range(0.0..std::f64::consts::TAU);
    Rig {
        k,
        height,
        pitch,
        up,
        fwd,
        right: [1.0, 0.0, 0.0],
        t0: [0.0, 0.0, dist],
        a_half: rng.gen_range(0.5..0.9),
        b_near,
        b_far,
        wall_b: b_far + rng.gen_range(0.3..1.2),
        light: norm(add(
            add(
                mul([1.0, 0.0, 0.0], 0.6 * az.cos()),
                mul(fwd, 0.6 * az.sin()),
            ),
            up,
        )),
        table: rng.gen_range(0..TABLES.len()),
    }
}

fn place(cfg: &SpatialConfig, rig: &Rig, rng: &mut ChaCha8Rng) -> Vec<Object> {
    let n = rng.gen_range(cfg.min_objects..=cfg.max_objects);
    let (w, h) = (cfg.width as f64, cfg.height as f64);
    let mut objs: Vec<Object> = Vec::new();
    for _ in 0..200 {
        if objs.len() >= n {
            break;
        }
        // Drop the object where a random pixel in the lower image sees the table, so
        // objects spread in perspective and stay in view.
        let d = rig.ray(
            rng.gen_range(0.12 * w..0.88 * w),
            rng.gen_range(0.35 * h..0.9 * h),
        );
        let ud = dot(rig.up, d);
        if ud >= 0.0 {
            continue;
        }
        let (a, b) = rig.table_coords(mul(d, -rig.height / ud));
        // Sometimes repeat a kind (and colour) so that relations and sizes matter.
        let (solid, colour) = match objs.choose(rng) {
            Some(o) if rng.gen_bool(0.3) => (
                o.solid,
                if rng.gen_bool(0.3) {
                    o.colour
                } else {
                    rng.gen_range(0..COLOURS.len())
                },
            ),
            _ => (
                [Solid::Cube, Solid::Sphere, Solid::Cylinder][rng.gen_range(0..3)],
                rng.gen_range(0..COLOURS.len()),
            ),
        };
        let large = rng.gen_bool(0.5);
        let (r, hh) = match (solid, large) {
            (Solid::Cube, false) => (0.022, 0.022),
            (Solid::Cube, true) => (0.036, 0.036),
            (Solid::Sphere, false) => (0.025, 0.025),
            (Solid::Sphere, true) => (0.04, 0.04),
            (Solid::Cylinder, false) => (0.02, 0.032),
            (Solid::Cylinder, true) => (0.03, 0.05),
        };
        let yaw = rng.gen_range(0.0..std::f64::consts::FRAC_PI_2);
        let e1 = add(mul(rig.right, yaw.cos()), mul(rig.fwd, yaw.sin()));
        let e2 = add(mul(rig.right, -yaw.sin()), mul(rig.fwd, yaw.cos()));
        let obj = Object {
            solid,
            colour,
            large,
            a,
            b,
            c: rig.table_point(a, b, hh),
            e1,
            e2,
            r,
            hh,
        };
        let fp = obj.footprint();
        let fits = rig.on_table(a - fp, b - fp) && rig.on_table(a + fp, b + fp);
        let apart = objs
            .iter()
            .all(|o| ((o.a - a).powi(2) + (o.b - b).powi(2)).sqrt() > o.footprint() + fp + 0.02);
        if fits && apart {
            objs.push(obj);
        }
    }
    objs
}

/// Per-pixel first hits.
struct Frame {
    w: u32,
    h: u32,
    hits: Vec<Option<Hit>>,
}

impl Frame {
    fn trace(rig: &Rig, objs: &[Object]) -> Frame {
        let (w, h) = (rig.k.width, rig.k.height);
        let mut hits = Vec::with_capacity(w as usize * h as usize);
        for v in 0..h {
            for u in 0..w {
                hits.push(trace(rig, objs, rig.ray(u as f64 + 0.5, v as f64 + 0.5)));
            }
        }
        Frame { w, h, hits }
    }

    fn mask_of(&self, pred: impl Fn(u32, u32, &Hit) -> bool) -> Mask {
        let mut m = Mask::new(self.w, self.h);
        for v in 0..self.h {
            for u in 0..self.w {
                if let Some(hit) = &self.hits[(v * self.w + u) as usize] {
                    if pred(u, v, hit) {
                        m.set(u, v, true);
                    }
                }
            }
        }
        m
    }
}

/// A pixel inside `m` near its centroid: the centroid itself when inside, else the closest
/// inside pixel (masks of partly hidden objects can be concave).
fn inside_point(m: &Mask) -> Option<(u32, u32)> {
    let c = m.centroid()?;
    let (cu, cv) = (c.x.floor() as u32, c.y.floor() as u32);
    if m.get(cu, cv) {
        return Some((cu, cv));
    }
    let mut best: Option<((u32, u32), f64)> = None;
    for v in 0..m.height() {
        for u in 0..m.width() {
            if m.get(u, v) {
                let d = (u as f64 + 0.5 - c.x).powi(2) + (v as f64 + 0.5 - c.y).powi(2);
                if best.is_none_or(|(_, bd)| d < bd) {
                    best = Some(((u, v), d));
                }
            }
        }
    }
    best.map(|(p, _)| p)
}

fn pt(p: (u32, u32)) -> String {
    format!("({},{})", p.0, p.1)
}

/// Facts about the placed objects that expressions are built from.
struct Scene<'a> {
    rig: &'a Rig,
    objs: &'a [Object],
    masks: Vec<Mask>,
    /// A visible pixel near the middle of each object.
    spots: Vec<(u32, u32)>,
    /// Projected 3-D centre (u) of each object.
    u: Vec<f64>,
    /// One noun per solid kind, fixed for the sample.
    words: [&'static str; 3],
}

impl Scene<'_> {
    fn noun(&self, s: Solid) -> &'static str {
        self.words[s as usize]
    }

    /// Unique descriptions of object `i` ("the red cube", "the large ball", …).
    fn descriptions(&self, i: usize) -> Vec<String> {
        let o = &self.objs[i];
        let count = |f: &dyn Fn(&Object) -> bool| self.objs.iter().filter(|x| f(x)).count();
        let colour = COLOURS[o.colour].0;
        let size = if o.large { "large" } else { "small" };
        let noun = self.noun(o.solid);
        let mut out = Vec::new();
        let ck = count(&|x| x.colour == o.colour && x.solid == o.solid) == 1;
        if ck {
            out.push(format!("the {colour} {noun}"));
        }
        if count(&|x| x.solid == o.solid) == 1 {
            out.push(format!("the {noun}"));
        }
        if count(&|x| x.colour == o.colour) == 1 {
            out.push(format!("the {colour} object"));
        }
        if count(&|x| x.solid == o.solid && x.large == o.large) == 1 {
            out.push(format!("the {size} {noun}"));
        }
        if !ck && count(&|x| x.colour == o.colour && x.solid == o.solid && x.large == o.large) == 1
        {
            out.push(format!("the {size} {colour} {noun}"));
        }
        out
    }

    fn describe(&self, i: usize, rng: &mut ChaCha8Rng) -> Option<String> {
        self.descriptions(i).choose(rng).cloned()
    }
}

/// A chosen referring expression.
struct Expr {
    kind: &'static str,
    phrase: String,
    mask: Mask,
    cot: String,
    target: Option<usize>,
    anchor: Option<(usize, (u32, u32))>,
    /// The other object of "between A and B" (the anchor is A): the meta's `anchors` lists
    /// both, so the anchor step can point at the pair.
    second_anchor: Option<usize>,
}

fn attribute(sc: &Scene, rng: &mut ChaCha8Rng) -> Vec<Expr> {
    (0..sc.objs.len())
        .filter_map(|i| {
            let phrase = sc.describe(i, rng)?;
            let cap = capitalise(&phrase);
            Some(Expr {
                kind: "attribute",
                cot: format!("{cap} is at {}.", pt(sc.spots[i])),
                phrase,
                mask: sc.masks[i].clone(),
                target: Some(i),
                anchor: None,
                second_anchor: None,
            })
        })
        .collect()
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}

/// "the ball left of the red cube" and friends, unique with margins.
fn relations(sc: &Scene, rng: &mut ChaCha8Rng) -> Vec<Expr> {
    let margin_px = sc.rig.k.width as f64 * 0.04;
    let margin_m = 0.04;
    let mut out = Vec::new();
    for a in 0..sc.objs.len() {
        let Some(anchor) = sc.describe(a, rng) else {
            continue;
        };
        for rel in 0..4 {
            // Signed "how much the relation holds" for object j relative to the anchor.
            let score = |j: usize| -> f64 {
                match rel {
                    0 => (sc.u[a] - sc.u[j]) / margin_px,
                    1 => (sc.u[j] - sc.u[a]) / margin_px,
                    2 => (sc.objs[a].b - sc.objs[j].b) / margin_m,
                    _ => (sc.objs[j].b - sc.objs[a].b) / margin_m,
                }
            };
            for solid in [Solid::Cube, Solid::Sphere, Solid::Cylinder] {
                let class: Vec<usize> = (0..sc.objs.len())
                    .filter(|&j| j != a && sc.objs[j].solid == solid)
                    .collect();
                if class.len() < 2 || class.iter().any(|&j| score(j).abs() < 1.0) {
                    continue;
                }
                let yes: Vec<usize> = class.iter().copied().filter(|&j| score(j) >= 1.0).collect();
                let [t] = yes[..] else { continue };
                let noun = sc.noun(solid);
                let (phrase, its) = match rel {
                    0 => (
                        [
                            format!("the {noun} left of {anchor}"),
                            format!("the {noun} to the left of {anchor}"),
                        ][rng.gen_range(0..2)]
                        .clone(),
                        format!("The {noun} to its left"),
                    ),
                    1 => (
                        [
                            format!("the {noun} right of {anchor}"),
                            format!("the {noun} to the right of {anchor}"),
                        ][rng.gen_range(0..2)]
                        .clone(),
                        format!("The {noun} to its right"),
                    ),
                    2 => (
                        format!("the {noun} in front of {anchor}"),
                        format!("The {noun} in front of it"),
                    ),
                    _ => (
                        format!("the {noun} behind {anchor}"),
                        format!("The {noun} behind it"),
                    ),
                };
                out.push(Expr {
                    kind: "relation",
                    cot: format!(
                        "{} is at {}. {its} is at {}.",
                        capitalise(&anchor),
                        pt(sc.spots[a]),
                        pt(sc.spots[t])
                    ),
                    phrase,
                    mask: sc.masks[t].clone(),
                    target: Some(t),
                    anchor: Some((a, sc.spots[a])),
                    second_anchor: None,
                });
            }
        }
    }
    out
}

/// "the object closest to the camera", "the cube farthest from the camera".
fn distance(sc: &Scene, _rng: &mut ChaCha8Rng) -> Vec<Expr> {
    let mut out = Vec::new();
    let dist: Vec<f64> = sc.objs.iter().map(|o| dot(o.c, o.c).sqrt()).collect();
    let classes: [(Option<Solid>, &str); 4] = [
        (None, "object"),
        (Some(Solid::Cube), sc.noun(Solid::Cube)),
        (Some(Solid::Sphere), sc.noun(Solid::Sphere)),
        (Some(Solid::Cylinder), sc.noun(Solid::Cylinder)),
    ];
    for (solid, noun) in classes {
        let mut idx: Vec<usize> = (0..sc.objs.len())
            .filter(|&i| solid.is_none_or(|s| sc.objs[i].solid == s))
            .collect();
        if idx.len() < 2 {
            continue;
        }
        idx.sort_by(|&x, &y| dist[x].total_cmp(&dist[y]));
        let n = idx.len();
        for (far, t, other) in [(false, idx[0], idx[1]), (true, idx[n - 1], idx[n - 2])] {
            if (dist[t] - dist[other]).abs() < 0.03 {
                continue;
            }
            let o = &sc.objs[t];
            let which = if far { "farthest from" } else { "closest to" };
            out.push(Expr {
                kind: "distance",
                phrase: format!("the {noun} {which} the camera"),
                cot: format!(
                    "Comparing distances, the {noun} {which} the camera is the {} {}, at {}.",
                    COLOURS[o.colour].0,
                    sc.noun(o.solid),
                    pt(sc.spots[t])
                ),
                mask: sc.masks[t].clone(),
                target: Some(t),
                anchor: None,
                second_anchor: None,
            });
        }
    }
    out
}

/// "the leftmost cube", "the rightmost object".
fn extremes(sc: &Scene, _rng: &mut ChaCha8Rng) -> Vec<Expr> {
    let margin = sc.rig.k.width as f64 * 0.04;
    let mut out = Vec::new();
    for solid in [
        None,
        Some(Solid::Cube),
        Some(Solid::Sphere),
        Some(Solid::Cylinder),
    ] {
        let mut idx: Vec<usize> = (0..sc.objs.len())
            .filter(|&i| solid.is_none_or(|s| sc.objs[i].solid == s))
            .collect();
        if idx.len() < 2 {
            continue;
        }
        idx.sort_by(|&x, &y| sc.u[x].total_cmp(&sc.u[y]));
        let n = idx.len();
        let noun = solid.map_or("object", |s| sc.noun(s));
        for (word, t, other) in [
            ("leftmost", idx[0], idx[1]),
            ("rightmost", idx[n - 1], idx[n - 2]),
        ] {
            if (sc.u[t] - sc.u[other]).abs() < margin {
                continue;
            }
            let o = &sc.objs[t];
            out.push(Expr {
                kind: "extreme",
                phrase: format!("the {word} {noun}"),
                cot: format!(
                    "The {word} {noun} is the {} {}, at {}.",
                    COLOURS[o.colour].0,
                    sc.noun(o.solid),
                    pt(sc.spots[t])
                ),
                mask: sc.masks[t].clone(),
                target: Some(t),
                anchor: None,
                second_anchor: None,
            });
        }
    }
    out
}

/// "the free space between A and B": visible table pixels in the corridor between them.
fn free_space(sc: &Scene, frame: &Frame, rng: &mut ChaCha8Rng, min_px: usize) -> Vec<Expr> {
    let mut out = Vec::new();
    let n = sc.objs.len();
    for i in 0..n {
        for j in i + 1..n {
            let (oa, ob) = (&sc.objs[i], &sc.objs[j]);
            let (dx, dy) = (ob.a - oa.a, ob.b - oa.b);
            let len = (dx * dx + dy * dy).sqrt();
            let (s0, s1) = (oa.footprint() + 0.01, len - ob.footprint() - 0.01);
            if s1 - s0 < 0.05 {
                continue;
            }
            let (ux, uy) = (dx / len, dy / len);
            let half = (oa.footprint().min(ob.footprint())).clamp(0.02, 0.04);
            let in_corridor = |a: f64, b: f64| {
                let (px, py) = (a - oa.a, b - oa.b);
                let s = px * ux + py * uy;
                let q = (px * uy - py * ux).abs();
                s >= s0 && s <= s1 && q <= half
            };
            // The gap must really be free: no third object's footprint reaches into it.
            let blocked = sc.objs.iter().enumerate().any(|(k, o)| {
                if k == i || k == j {
                    return false;
                }
                let (px, py) = (o.a - oa.a, o.b - oa.b);
                let s = (px * ux + py * uy).clamp(s0, s1);
                let q = (px * uy - py * ux).abs();
                let d_along = (px * ux + py * uy - s).abs();
                (d_along.powi(2) + (q - half).max(0.0).powi(2)).sqrt() < o.footprint() + 0.01
            });
            if blocked {
                continue;
            }
            let mask = frame.mask_of(|u, v, hit| {
                hit.surf == Surf::Table && {
                    let (a, b) = sc
                        .rig
                        .table_coords(mul(sc.rig.ray(u as f64 + 0.5, v as f64 + 0.5), hit.t));
                    in_corridor(a, b)
                }
            });
            if mask.area() < min_px {
                continue;
            }
            let (Some(da), Some(db), Some(mid)) = (
                sc.describe(i, rng),
                sc.describe(j, rng),
                inside_point(&mask),
            ) else {
                continue;
            };
            let (first, second, a_idx, b_idx) = if rng.gen_bool(0.5) {
                (da, db, i, j)
            } else {
                (db, da, j, i)
            };
            let phrase = [
                format!("the free space between {first} and {second}"),
                format!("the empty spot on the table between {first} and {second}"),
                format!("the gap between {first} and {second}"),
            ][rng.gen_range(0..3)]
            .clone();
            out.push(Expr {
                kind: "free_space",
                cot: format!(
                    "{} is at {} and {second} is at {}; the free table space between them is around {}.",
                    capitalise(&first),
                    pt(sc.spots[a_idx]),
                    pt(sc.spots[b_idx]),
                    pt(mid)
                ),
                phrase,
                mask,
                target: None,
                anchor: Some((a_idx, sc.spots[a_idx])),
                second_anchor: Some(b_idx),
            });
        }
    }
    out
}

/// Renders one `spatial` sample.
pub(super) fn render(cfg: &SpatialConfig, rng: &mut ChaCha8Rng, id: String) -> Result<Sample> {
    cfg.validate()?;
    let rig = make_rig(cfg, rng);
    let mut objs = place(cfg, &rig, rng);
    let min_px = ((cfg.width * cfg.height) as usize * 150 / (640 * 480)).max(12);
    // Drop objects that end up mostly hidden behind others, then re-trace.
    let (frame, masks) = loop {
        let frame = Frame::trace(&rig, &objs);
        let masks: Vec<Mask> = (0..objs.len())
            .map(|i| frame.mask_of(|_, _, h| h.surf == Surf::Obj(i)))
            .collect();
        match masks.iter().position(|m| m.area() < min_px) {
            Some(i) if objs.len() > 1 => {
                objs.remove(i);
            }
            _ => break (frame, masks),
        }
    };
    if objs.is_empty() {
        return Err(Error::invalid(
            "spatial scene",
            format!("{id}: no object could be placed in view"),
        ));
    }
    let spots: Vec<(u32, u32)> = masks
        .iter()
        .map(|m| inside_point(m).unwrap_or((0, 0)))
        .collect();
    let u: Vec<f64> = objs
        .iter()
        .map(|o| rig.k.project(o.c).map_or(0.0, |p| p[0]))
        .collect();
    let pick = |ws: &'static [&'static str], rng: &mut ChaCha8Rng| ws[rng.gen_range(0..ws.len())];
    let words = [
        pick(Solid::Cube.words(), rng),
        pick(Solid::Sphere.words(), rng),
        pick(Solid::Cylinder.words(), rng),
    ];
    let sc = Scene {
        rig: &rig,
        objs: &objs,
        masks,
        spots,
        u,
        words,
    };

    // Expression type first (so rare types are not drowned), then one of its instances.
    let mut pools: Vec<(f64, Vec<Expr>)> = vec![
        (0.25, attribute(&sc, rng)),
        (0.3, relations(&sc, rng)),
        (0.15, distance(&sc, rng)),
        (0.1, extremes(&sc, rng)),
        (0.2, free_space(&sc, &frame, rng, min_px / 2)),
    ];
    pools.retain(|(_, p)| !p.is_empty());
    let total: f64 = pools.iter().map(|(w, _)| w).sum();
    let mut x = rng.gen_range(0.0..total.max(1e-9));
    let mut pick_pool = pools.len().saturating_sub(1);
    for (k, (w, _)) in pools.iter().enumerate() {
        if x < *w {
            pick_pool = k;
            break;
        }
        x -= w;
    }
    let chosen = pools.get_mut(pick_pool).map(|(_, pool)| {
        let k = rng.gen_range(0..pool.len());
        pool.swap_remove(k)
    });
    let expr = chosen.ok_or_else(|| {
        Error::invalid("spatial scene", format!("{id}: no unambiguous expression"))
    })?;

    let mut image = RgbImage::new(cfg.width, cfg.height);
    let mut depth: Depth16 = ImageBuffer::<Luma<u16>, Vec<u16>>::new(cfg.width, cfg.height);
    for v in 0..cfg.height {
        for u in 0..cfg.width {
            if let Some(hit) = &frame.hits[(v * cfg.width + u) as usize] {
                let d = rig.ray(u as f64 + 0.5, v as f64 + 0.5);
                image.put_pixel(u, v, image::Rgb(shade(&rig, &objs, d, hit)));
                depth.put_pixel(
                    u,
                    v,
                    Luma([(hit.t * 1000.0).round().clamp(0.0, 65535.0) as u16]),
                );
            }
        }
    }

    let templates: &[&str] = if expr.kind == "free_space" {
        &["{}", "point to {}", "find {}"]
    } else {
        &["{}", "point to {}", "find {}", "where is {}?", "show me {}"]
    };
    let instruction = templates[rng.gen_range(0..templates.len())].replace("{}", &expr.phrase);
    let objects: Vec<Value> = objs
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let (pu, pv) = sc.spots[i];
            let hit_t = frame.hits[(pv * cfg.width + pu) as usize].map_or(0.0, |h| h.t);
            let surface = mul(rig.ray(pu as f64 + 0.5, pv as f64 + 0.5), hit_t);
            json!({
                "kind": o.solid.name(),
                "colour": COLOURS[o.colour].0,
                "size": if o.large { "large" } else { "small" },
                "center": o.c.map(round_mm),
                "pixel": [pu, pv],
                "surface_point": surface.map(round_um),
                "visible_pixels": sc.masks[i].area(),
                "box": sc.masks[i].bbox(),
            })
        })
        .collect();
    let mut meta = json!({
        "expression": expr.kind,
        "target_object": expr.target,
        "objects": objects,
        "camera_pose": { "height_m": round_mm(rig.height), "pitch_deg": (rig.pitch.to_degrees() * 10.0).round() / 10.0 },
        "table": TABLES[rig.table].0,
        "pixel_center": "pixel (u,v) is seen by the ray through (u+0.5, v+0.5); depth is camera-frame z in mm",
    });
    if let (Some((a, p)), Some(m)) = (expr.anchor, meta.as_object_mut()) {
        m.insert("anchor".into(), json!(a));
        m.insert("anchor_point".into(), json!([p.0, p.1]));
        if let Some(b) = expr.second_anchor {
            m.insert("anchors".into(), json!([a, b]));
        }
    }
    let record = Record {
        image: format!("images/{id}.png").into(),
        depth: Some(format!("depth/{id}.png").into()),
        camera: Some(rig.k),
        instruction,
        task: Task::Refer,
        target: Target::Mask(format!("masks/{id}.png").into()),
        cot: Some(expr.cot),
        meta: Some(meta),
        id,
    };
    Ok(Sample {
        image,
        depth: Some(depth),
        mask: Some(expr.mask),
        record,
    })
}

fn round_mm(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn round_um(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{generate, SuiteConfig, SuiteKind};
    use reticle_models::imageio::read_depth;

    fn small() -> SuiteConfig {
        let mut cfg = SuiteConfig::new(SuiteKind::Spatial, 6, 21);
        cfg.spatial.width = 320;
        cfg.spatial.height = 240;
        cfg
    }

    #[test]
    fn depth_png_deprojects_onto_the_surface_points() {
        let dir = tempfile::tempdir().unwrap();
        generate(&small(), dir.path(), &|_| {}).unwrap();
        let records = reticle_models::dataset::read_dataset(dir.path()).unwrap();
        assert_eq!(records.len(), 6);
        for r in &records {
            let cam = r.camera.unwrap();
            assert_eq!(cam.depth_scale, 0.001);
            let depth = read_depth(r.depth.as_ref().unwrap()).unwrap();
            assert_eq!(depth.dimensions(), (320, 240));
            let meta = r.meta.as_ref().unwrap();
            for o in meta["objects"].as_array().unwrap() {
                let p: [u32; 2] = serde_json::from_value(o["pixel"].clone()).unwrap();
                let s: [f64; 3] = serde_json::from_value(o["surface_point"].clone()).unwrap();
                let d = depth.get_pixel(p[0], p[1]).0[0] as f64 * cam.depth_scale;
                let q = cam.deproject(p[0] as f64 + 0.5, p[1] as f64 + 0.5, d);
                let err =
                    ((q[0] - s[0]).powi(2) + (q[1] - s[1]).powi(2) + (q[2] - s[2]).powi(2)).sqrt();
                assert!(err < 0.005, "{}: {err} m off", r.id);
                // The surface point is on the object: within its bounding sphere.
                let c: [f64; 3] = serde_json::from_value(o["center"].clone()).unwrap();
                let dc =
                    ((c[0] - s[0]).powi(2) + (c[1] - s[1]).powi(2) + (c[2] - s[2]).powi(2)).sqrt();
                assert!(dc < 0.08, "{}: surface point {dc} m from centre", r.id);
            }
            let Target::Mask(m) = &r.target else {
                panic!("mask target")
            };
            let mask = Mask::load(m).unwrap();
            assert!(mask.area() > 0, "{}", r.id);
            if let Some(t) = meta["target_object"].as_u64() {
                let p: [u32; 2] =
                    serde_json::from_value(meta["objects"][t as usize]["pixel"].clone()).unwrap();
                assert!(mask.get(p[0], p[1]), "{}: target pixel outside mask", r.id);
            }
            if let Some(a) = meta.get("anchor_point") {
                assert!(r
                    .cot
                    .as_ref()
                    .unwrap()
                    .contains(&format!("({},{})", a[0], a[1])));
            }
        }
    }

    #[test]
    fn expressions_are_varied_and_unique() {
        let mut kinds = std::collections::BTreeSet::new();
        let mut cfg = small();
        cfg.spatial.width = 160;
        cfg.spatial.height = 120;
        for i in 0..40 {
            let s = crate::sample_with(&cfg, i).unwrap();
            s.record.validate().unwrap();
            kinds.insert(
                s.record.meta.as_ref().unwrap()["expression"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
        assert!(kinds.len() >= 4, "{kinds:?}");
    }
}
