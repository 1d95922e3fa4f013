//! `brushwork flow A B -o F.flo [--png VIS.png]`: the optical flow brushwork's video mode uses,
//! written so it can be inspected or handed to other tools.

use serde_json::json;

use crate::cli::FlowArgs;
use brushwork::engine::settings::FlowQuality;
use brushwork::engine::tensor_image::fit_long_side;
use brushwork::error::{Error, Result};
use brushwork::flow::{self, Gray};
use brushwork::imageio::{load_rgb, to_rgb8};
use brushwork::util::fs::{temp_path_for, write_atomic_with};

pub fn flow(args: &FlowArgs) -> Result<()> {
    let quality = FlowQuality::from(args.quality);
    check_extension(&args.output, "flo")?;
    if let Some(png) = &args.png {
        check_extension(png, "png")?;
    }
    let a = load_rgb(&args.first)?;
    let b = load_rgb(&args.second)?;
    let (mut w, mut h) = a.dimensions();
    if let Some(size) = args.size {
        if size == 0 || size > 8192 {
            return Err(Error::Usage(format!("--size {size}: must be between 1 and 8192")));
        }
        (w, h) = fit_long_side(w, h, size);
    }
    if b.dimensions() != a.dimensions() {
        return Err(Error::input(
            &args.second,
            format!(
                "is {}x{}, {} is {}x{}: the two images must have the same size",
                b.width(),
                b.height(),
                args.first.display(),
                a.width(),
                a.height()
            ),
        ));
    }
    let gray = |img: &image::Rgb32FImage| {
        let img =
            if img.dimensions() == (w, h) { img.clone() } else { brushwork::engine::tensor_image::resize(img, w, h) };
        Gray::from_rgb8(&to_rgb8(&img))
    };
    let start = std::time::Instant::now();
    let f = flow::dis(&gray(&a), &gray(&b), brushwork::video::motion::quality_of(quality));
    let ms = start.elapsed().as_secs_f64() * 1e3;
    // Written beside the final name and renamed, so a half-written flow never stands there.
    let tmp = temp_path_for(&args.output);
    if let Err(e) = flow::write_flo(&tmp, &f).and_then(|()| {
        std::fs::rename(&tmp, &args.output)
            .map_err(|source| flow::FlowFileError::Io { path: args.output.clone(), source })
    }) {
        let _ = std::fs::remove_file(&tmp);
        return Err(brushwork::video::motion::flo_error(&args.output, e));
    }
    if let Some(png) = &args.png {
        let picture = flow::to_color(&f);
        write_atomic_with(png, |file| picture.write_to(file, image::ImageFormat::Png).map_err(std::io::Error::other))?;
    }
    let n = (f.width * f.height).max(1) as f64;
    let mean = f.u.iter().zip(&f.v).map(|(u, v)| (u * u + v * v).sqrt() as f64).sum::<f64>() / n;
    if args.json {
        let line = json!({
            "event": "flow", "output": args.output.display().to_string(), "width": w, "height": h,
            "quality": args.quality.to_string(), "mean_motion": mean, "milliseconds": ms,
        });
        outln!("{line}");
    } else {
        errln!(
            "wrote {} ({w}x{h}, {} flow, mean motion {mean:.2} px, {ms:.0} ms)",
            args.output.display(),
            args.quality
        );
    }
    Ok(())
}

fn check_extension(path: &std::path::Path, ext: &str) -> Result<()> {
    match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case(ext) => Ok(()),
        _ => Err(Error::input(path, format!("the file name must end in .{ext}"))),
    }
}
