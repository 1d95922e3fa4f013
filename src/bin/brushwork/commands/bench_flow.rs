//! `brushwork bench --flow`: DIS optical flow timed per quality at the sizes video runs at, with the
//! end-point error against the known motion beside each time (a fast flow that is wrong is no use).

use std::time::Instant;

use serde_json::json;

use brushwork::error::Result;
use brushwork::flow::{dis, Gray, Quality};
use brushwork::util::rng::SplitMix64;

/// A smooth texture of twelve random plane waves, shifted by (`dx`, `dy`): its values are known at
/// any sub-pixel position, so the true flow between two renderings is exactly the shift.
struct Waves(Vec<[f32; 4]>);

impl Waves {
    fn new(seed: u64) -> Self {
        let mut rng = SplitMix64::new(seed);
        Waves(
            (0..12)
                .map(|_| {
                    let v = rng.uniform(4, 0.0, 1.0);
                    // Periods of 6 to 40 px in any direction, random phase and amplitude.
                    let (angle, period) = (v[0] * std::f32::consts::TAU, 6.0 + 34.0 * v[1]);
                    let k = std::f32::consts::TAU / period;
                    [k * angle.cos(), k * angle.sin(), v[2] * std::f32::consts::TAU, 0.3 + v[3]]
                })
                .collect(),
        )
    }

    fn render(&self, w: usize, h: usize, dx: f32, dy: f32) -> Gray {
        let norm: f32 = self.0.iter().map(|p| p[3]).sum();
        let mut data = Vec::with_capacity(w * h);
        for y in 0..h {
            for x in 0..w {
                let (sx, sy) = (x as f32 - dx, y as f32 - dy);
                let v: f32 = self.0.iter().map(|p| p[3] * (p[0] * sx + p[1] * sy + p[2]).sin()).sum();
                data.push(0.5 + 0.5 * v / norm);
            }
        }
        Gray::new(w, h, data)
    }
}

pub fn bench_flow(runs: u32, threads: usize, json: bool) -> Result<()> {
    let waves = Waves::new(11);
    let (dx, dy) = (1.3f32, -0.6f32);
    if !json {
        outln!("DIS flow, {threads} thread(s), median of {runs} (true motion ({dx}, {dy}) px everywhere)");
        outln!("  {:<10} {:>9} {:>9} {:>12}", "quality", "size", "ms", "mean EPE px");
    }
    for (w, h) in [(256usize, 144usize), (512, 288)] {
        let (a, b) = (waves.render(w, h, 0.0, 0.0), waves.render(w, h, dx, dy));
        for q in Quality::ALL {
            let mut flow = dis(&a, &b, q);
            let mut times = Vec::new();
            for _ in 0..runs {
                let start = Instant::now();
                flow = std::hint::black_box(dis(&a, &b, q));
                times.push(start.elapsed().as_secs_f64() * 1e3);
            }
            times.sort_by(f64::total_cmp);
            let median = times[times.len() / 2];
            // End-point error away from an 8 px border, where the shifted texture is fully known.
            let (mut sum, mut n) = (0.0f64, 0usize);
            for y in 8..h - 8 {
                for x in 8..w - 8 {
                    let (u, v) = flow.at(x, y);
                    sum += f64::from(((u - dx).powi(2) + (v - dy).powi(2)).sqrt());
                    n += 1;
                }
            }
            let epe = sum / n.max(1) as f64;
            if json {
                let line = json!({"event": "bench_flow", "quality": q.name(), "width": w, "height": h,
                    "threads": threads, "runs": runs, "median_ms": median, "mean_epe_px": epe});
                outln!("{line}");
            } else {
                outln!("  {:<10} {:>9} {:>9.1} {:>12.4}", q.name(), format!("{w}x{h}"), median, epe);
            }
        }
    }
    Ok(())
}
