//! `brushwork images plan | render | status`: a folder split into groups that array tasks render,
//! each image once (reruns skip finished results), on the tiny random VGG-16.

use crate::cli_support;

use cli_support::{gradient, Fixture};

fn plan_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "images",
        "plan",
        "photos",
        "--style",
        "style.png",
        "--weights",
        "tiny.safetensors",
        "--size",
        "32",
        "--iterations",
        "3",
        "--scales",
        "1",
        "--workdir",
        "plan",
        "--out",
        "results",
    ];
    args.extend_from_slice(extra);
    args
}

fn photos(fx: &Fixture) {
    std::fs::create_dir_all(fx.join("photos")).unwrap();
    for (k, name) in ["a.png", "b.png", "c.jpg", "d.png", "e.png"].iter().enumerate() {
        let mut img = gradient(40, 30);
        img.put_pixel(k as u32, 0, image::Rgb([255, 0, 0]));
        img.save(fx.join("photos").join(name)).unwrap();
    }
    // Not planned: a hidden file, a text file, a subfolder.
    std::fs::write(fx.join("photos/.hidden.png"), b"x").unwrap();
    std::fs::write(fx.join("photos/notes.txt"), b"x").unwrap();
    std::fs::create_dir_all(fx.join("photos/sub")).unwrap();
}

#[test]
fn a_folder_is_rendered_in_groups_each_image_once() {
    let fx = Fixture::new("images-plan");
    photos(&fx);
    let r = fx.run(&plan_args(&["--segments", "2", "--json", "--emit", "slurm"]));
    assert_eq!(r.code, Some(0), "{r}");
    let plan = &r.events()[0];
    assert_eq!(plan["images"], 5, "{plan}");
    let groups: Vec<(u64, u64)> = plan["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["first"].as_u64().unwrap(), g["last"].as_u64().unwrap()))
        .collect();
    assert_eq!(groups, vec![(1, 3), (4, 5)]);
    let sbatch = std::fs::read_to_string(fx.join("plan/slurm/render.sbatch")).unwrap();
    assert!(sbatch.contains("#SBATCH --array=0-1") && sbatch.contains(" images render "), "{sbatch}");
    assert!(!fx.join("plan/slurm/stitch.sbatch").exists(), "no stitch for images");

    // Group 1 by the Kubernetes variable, then group 0 by flag.
    let mut cmd = fx.command(&["images", "render", "plan", "--json"]);
    cmd.env("JOB_COMPLETION_INDEX", "1");
    let r = cli_support::Run::of(cmd);
    assert_eq!(r.code, Some(0), "{r}");
    let done = r.events().into_iter().find(|e| e["event"] == "done").unwrap();
    assert_eq!((done["group"].as_u64(), done["rendered"].as_u64()), (Some(1), Some(2)), "{done}");
    let st = &fx.run(&["images", "status", "plan", "--json"]).events()[0];
    assert_eq!((st["done"].as_u64(), st["array"].as_str()), (Some(2), Some("0")), "{st}");
    // The plan is a session of kind `folder` whose progress is read from the plan folder.
    assert!(plan["session"].is_string(), "{plan}");
    let list = fx.run(&["sessions", "list"]);
    assert!(
        list.stdout.contains("distributed") && list.stdout.contains("folder") && list.stdout.contains("2/5"),
        "{list}"
    );
    let r = fx.run(&["images", "render", "plan", "--segment", "0"]);
    assert_eq!(r.code, Some(0), "{r}");
    let mut results: Vec<String> = std::fs::read_dir(fx.join("results"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    results.sort();
    assert_eq!(results, ["a.quick.png", "b.quick.png", "c.quick.png", "d.quick.png", "e.quick.png"]);
    // Each image once: a rerun renders nothing and leaves the results as they are.
    let before = std::fs::read(fx.join("results/a.quick.png")).unwrap();
    let r = fx.run(&["images", "render", "plan", "--segment", "0", "--json"]);
    let done = r.events().into_iter().find(|e| e["event"] == "done").unwrap();
    assert_eq!((done["rendered"].as_u64(), done["kept"].as_u64()), (Some(0), Some(3)), "{done}");
    assert!(std::fs::read(fx.join("results/a.quick.png")).unwrap() == before);
    let st = &fx.run(&["images", "status", "plan", "--json"]).events()[0];
    assert_eq!(st["finished"], true, "{st}");
    let list = fx.run(&["sessions", "list"]);
    assert!(
        list.stdout.contains("done") && list.stdout.contains("5/5"),
        "done once every image has its result:\n{list}"
    );
    // Planning again reuses the session; a worker never runs it.
    assert_eq!(fx.run(&plan_args(&["--segments", "2"])).code, Some(0));
    let list = fx.run(&["sessions", "list"]);
    assert_eq!(list.stdout.lines().count(), 2, "one session for the plan:\n{list}");
}

#[test]
fn bad_folders_and_changed_images_are_refused() {
    let fx = Fixture::new("images-plan-bad");
    photos(&fx);
    // Two images whose results would share a name.
    gradient(40, 30).save(fx.join("photos/a.jpg")).unwrap();
    let r = fx.run(&plan_args(&["--segments", "2"]));
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.stderr.contains("a.jpg") && r.stderr.contains("a.png") && r.stderr.contains("same name"), "{r}");
    std::fs::remove_file(fx.join("photos/a.jpg")).unwrap();
    // Results into the images' own folder.
    let mut into = plan_args(&["--segments", "2"]);
    let out = into.iter().position(|a| *a == "results").unwrap();
    into[out] = "photos";
    let r = fx.run(&into);
    assert_eq!(r.code, Some(2), "{r}");
    // An empty folder.
    std::fs::create_dir_all(fx.join("empty")).unwrap();
    let mut empty = plan_args(&["--segments", "1"]);
    empty[2] = "empty";
    let r = fx.run(&empty);
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.stderr.contains("no images"), "{r}");

    assert_eq!(fx.run(&plan_args(&["--segments", "2"])).code, Some(0));
    // Another split into the same plan folder.
    let r = fx.run(&plan_args(&["--segments", "3"]));
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.stderr.contains("images.toml"), "{r}");
    // An image edited after the plan: named, nothing written for it.
    gradient(40, 30).save(fx.join("photos/b.png")).unwrap();
    let r = fx.run(&["images", "render", "plan", "--segment", "0"]);
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.stderr.contains("b.png") && r.stderr.contains("changed"), "{r}");
    assert!(!fx.join("results/b.quick.png").exists());
    let r = fx.run(&["images", "render", "plan", "--segment", "5"]);
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.stderr.contains("group 5"), "{r}");
}
