//! Scripts that hand a plan's segments to a scheduler: a SLURM array job with the stitch as a
//! dependent job, a Kubernetes Indexed Job with a stitch Job, or one `xargs -P` line for a single
//! box. brushwork writes them into the plan folder; the scheduler does the rest.

use std::path::{Path, PathBuf};

use super::plan::Plan;
use super::status::index_list;

/// Which scheduler to write for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheduler {
    Slurm,
    Kubernetes,
    Shell,
}

/// What the scripts ask of the scheduler, and how each task calls brushwork.
#[derive(Debug, Clone, Default)]
pub struct Resources {
    /// The brushwork binary the tasks run (absolute: the nodes share the file system).
    pub program: PathBuf,
    /// Weights file passed to every render (`--weights`), when the plan was made with one.
    pub weights: Option<PathBuf>,
    /// `--device` of every render (`cpu`, `cuda`, `cuda:N`).
    pub device: String,
    pub cpus_per_task: Option<u32>,
    pub gpus_per_task: Option<u32>,
    /// SLURM generic resources (`gpu:1`, `gpu:a100:2`), instead of `--gpus-per-task`.
    pub gres: Option<String>,
    /// SLURM time limit per task (`HH:MM:SS`, `D-HH`, minutes).
    pub time: Option<String>,
    pub partition: Option<String>,
    /// Kubernetes: the container image with brushwork (and FFmpeg) in it.
    pub image: String,
    /// Kubernetes: the PersistentVolumeClaim that holds the plan folder, mounted at `mount`.
    pub volume_claim: String,
    pub mount: PathBuf,
    /// Shell: how many segments run at once.
    pub jobs: u32,
}

/// A file to write, relative to the plan folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptFile {
    pub path: PathBuf,
    pub text: String,
    pub executable: bool,
}

/// What `--emit` writes, the command that starts it, and a script that does (printed, so
/// `brushwork video plan ... --emit slurm | bash` submits).
#[derive(Debug, Clone)]
pub struct Emitted {
    pub files: Vec<ScriptFile>,
    pub start: String,
    pub script: String,
}

/// What the tasks render: a video plan's segments (then stitched) or an image folder's groups.
#[derive(Debug, Clone)]
pub struct Work {
    /// The brushwork command whose `render` each task runs (`video`, `images`).
    pub command: &'static str,
    pub segments: usize,
    /// The jobs' name (see [`job_name`]).
    pub name: String,
    /// What is rendered, for the scripts' comments.
    pub source: PathBuf,
    /// Where the stitch writes the video, when there is one.
    pub stitch_to: Option<PathBuf>,
}

impl Work {
    /// A video plan: its segments, then the stitch into `output`.
    pub fn video(plan: &Plan, output: &Path) -> Work {
        Work {
            command: "video",
            segments: plan.segments.len(),
            name: job_name(&plan.source_sha256),
            source: plan.source.clone(),
            stitch_to: Some(output.to_path_buf()),
        }
    }
}

/// The scripts for `scheduler` for the plan in `dir`.
pub fn emit(scheduler: Scheduler, dir: &Path, work: &Work, r: &Resources) -> Emitted {
    match scheduler {
        Scheduler::Slurm => slurm(dir, work, r),
        Scheduler::Kubernetes => kubernetes(dir, work, r),
        Scheduler::Shell => shell(dir, work, r),
    }
}

/// `'text'` for a POSIX shell, single quotes inside written as `'\''`.
pub fn shell_quote(text: &str) -> String {
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+:=@%,".contains(c)) {
        return text.to_string();
    }
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn q(path: &Path) -> String {
    shell_quote(&path.to_string_lossy())
}

/// The brushwork arguments of one segment's render (without the segment: it comes from the
/// scheduler's index variable).
fn render_args(dir: &Path, work: &Work, r: &Resources) -> Vec<String> {
    let mut args = vec![r.program.to_string_lossy().into_owned(), work.command.into(), "render".into()];
    args.push(dir.to_string_lossy().into_owned());
    if let Some(w) = &r.weights {
        args.extend(["--weights".into(), w.to_string_lossy().into_owned()]);
    }
    if r.device != "cpu" {
        args.extend(["--device".into(), r.device.clone()]);
    }
    args
}

fn stitch_args(dir: &Path, output: &Path, r: &Resources) -> Vec<String> {
    let program = r.program.to_string_lossy().into_owned();
    let (dir, output) = (dir.to_string_lossy().into_owned(), output.to_string_lossy().into_owned());
    vec![program, "video".into(), "stitch".into(), dir, "-o".into(), output]
}

fn shell_line(args: &[String]) -> String {
    args.iter().map(|a| shell_quote(a)).collect::<Vec<_>>().join(" ")
}

/// A name for a plan's jobs: `brushwork-` and the start of a hash of what it renders (DNS-1123
/// safe).
pub fn job_name(sha256: &str) -> String {
    let id: String = sha256.chars().filter(char::is_ascii_alphanumeric).take(10).collect();
    format!("brushwork-{}", id.to_ascii_lowercase())
}

fn slurm(dir: &Path, work: &Work, r: &Resources) -> Emitted {
    let n = work.segments;
    let name = &work.name;
    let mut head = vec![
        "#!/bin/bash".to_string(),
        format!("# brushwork: one segment of the plan in {} per array task", dir.display()),
        format!("#SBATCH --job-name={name}-render"),
        format!("#SBATCH --array=0-{}", n - 1),
        "#SBATCH --ntasks=1".to_string(),
    ];
    if let Some(c) = r.cpus_per_task {
        head.push(format!("#SBATCH --cpus-per-task={c}"));
    }
    if let Some(g) = &r.gres {
        head.push(format!("#SBATCH --gres={g}"));
    } else if let Some(g) = r.gpus_per_task {
        head.push(format!("#SBATCH --gpus-per-task={g}"));
    }
    if let Some(t) = &r.time {
        head.push(format!("#SBATCH --time={t}"));
    }
    if let Some(p) = &r.partition {
        head.push(format!("#SBATCH --partition={p}"));
    }
    let render = format!("{}\nset -euo pipefail\nexec {}\n", head.join("\n"), shell_line(&render_args(dir, work, r)));
    let mut files = vec![ScriptFile { path: "slurm/render.sbatch".into(), text: render, executable: true }];
    let d = q(dir);
    let submit = match &work.stitch_to {
        Some(output) => {
            let mut stitch_head = vec![
                "#!/bin/bash".to_string(),
                format!("# brushwork: stitch the plan in {} once every segment is rendered", dir.display()),
                format!("#SBATCH --job-name={name}-stitch"),
                "#SBATCH --ntasks=1".to_string(),
            ];
            if let Some(c) = r.cpus_per_task {
                stitch_head.push(format!("#SBATCH --cpus-per-task={c}"));
            }
            if let Some(t) = &r.time {
                stitch_head.push(format!("#SBATCH --time={t}"));
            }
            if let Some(p) = &r.partition {
                stitch_head.push(format!("#SBATCH --partition={p}"));
            }
            let stitch = format!(
                "{}\nset -euo pipefail\nexec {}\n",
                stitch_head.join("\n"),
                shell_line(&stitch_args(dir, output, r))
            );
            files.push(ScriptFile { path: "slurm/stitch.sbatch".into(), text: stitch, executable: true });
            format!(
                "#!/usr/bin/env bash\n\
                 # brushwork: render {source} in {n} segments as a SLURM array, then stitch it into {out}\n\
                 # once every task succeeded. Rerun a failed or cancelled segment with the line\n\
                 # `brushwork {command} status {dir_plain}` prints, then submit the stitch again.\n\
                 set -euo pipefail\n\
                 dir={d}\n\
                 render=$(sbatch --parsable --output=\"$dir/logs/render-%a.log\" \"$dir/slurm/render.sbatch\")\n\
                 render=${{render%%;*}}\n\
                 stitch=$(sbatch --parsable --dependency=afterok:\"$render\" --output=\"$dir/logs/stitch.log\" \"$dir/slurm/stitch.sbatch\")\n\
                 echo \"render: job $render (array 0-{last}); stitch: job ${{stitch%%;*}}, after it\"\n",
                source = work.source.display(),
                out = output.display(),
                command = work.command,
                dir_plain = dir.display(),
                last = n - 1,
            )
        }
        None => format!(
            "#!/usr/bin/env bash\n\
             # brushwork: render {source} in {n} groups as a SLURM array. Rerun a failed or cancelled\n\
             # group with the line `brushwork {command} status {dir_plain}` prints.\n\
             set -euo pipefail\n\
             dir={d}\n\
             render=$(sbatch --parsable --output=\"$dir/logs/render-%a.log\" \"$dir/slurm/render.sbatch\")\n\
             echo \"render: job ${{render%%;*}} (array 0-{last})\"\n",
            source = work.source.display(),
            command = work.command,
            dir_plain = dir.display(),
            last = n - 1,
        ),
    };
    files.push(ScriptFile { path: "slurm/submit.sh".into(), text: submit.clone(), executable: true });
    Emitted { files, start: format!("bash {}", q(&dir.join("slurm/submit.sh"))), script: submit }
}

/// The `sbatch` line that renders only `missing` segments again.
pub fn slurm_resubmit(dir: &Path, missing: &[usize]) -> String {
    format!(
        "sbatch --array={} --output={} {}",
        index_list(missing),
        q(&dir.join("logs/render-%a.log")),
        q(&dir.join("slurm/render.sbatch"))
    )
}

/// A YAML double-quoted scalar (JSON's string syntax is YAML's).
fn y(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}

fn yaml_list(items: &[String]) -> String {
    format!("[{}]", items.iter().map(|a| y(a)).collect::<Vec<_>>().join(", "))
}

fn k8s_job(name: &str, indexed: Option<usize>, command: &[String], r: &Resources, gpus: bool) -> String {
    let mut spec = String::new();
    if let Some(n) = indexed {
        spec.push_str(&format!(
            "  completionMode: Indexed\n  completions: {n}\n  parallelism: {n}\n  backoffLimit: {}\n",
            n * 3
        ));
    } else {
        spec.push_str("  completions: 1\n  parallelism: 1\n  backoffLimit: 2\n");
    }
    let mut requests = Vec::new();
    let mut limits = Vec::new();
    if let Some(c) = r.cpus_per_task {
        requests.push(format!("cpu: {}", y(&c.to_string())));
    }
    if let (true, Some(g)) = (gpus, r.gpus_per_task) {
        limits.push(format!("nvidia.com/gpu: {}", y(&g.to_string())));
    }
    let mut resources = String::new();
    if !requests.is_empty() || !limits.is_empty() {
        resources.push_str("          resources:\n");
        if !requests.is_empty() {
            resources.push_str(&format!("            requests: {{{}}}\n", requests.join(", ")));
        }
        if !limits.is_empty() {
            resources.push_str(&format!("            limits: {{{}}}\n", limits.join(", ")));
        }
    }
    format!(
        "apiVersion: batch/v1\n\
         kind: Job\n\
         metadata:\n  name: {name}\n  labels:\n    app.kubernetes.io/name: brushwork\n\
         spec:\n{spec}  template:\n    metadata:\n      labels:\n        app.kubernetes.io/name: brushwork\n\
         \x20   spec:\n      restartPolicy: Never\n      containers:\n        - name: brushwork\n          image: {image}\n\
         \x20         command: {command}\n{resources}\
         \x20         volumeMounts:\n            - name: work\n              mountPath: {mount}\n\
         \x20     volumes:\n        - name: work\n          persistentVolumeClaim:\n            claimName: {claim}\n",
        name = y(name),
        image = y(&r.image),
        command = yaml_list(command),
        mount = y(&r.mount.to_string_lossy()),
        claim = y(&r.volume_claim),
    )
}

fn kubernetes(dir: &Path, work: &Work, r: &Resources) -> Emitted {
    let n = work.segments;
    let name = &work.name;
    let header = format!(
        "# brushwork: render {} in {n} parts as a Kubernetes Indexed Job (each pod renders part\n\
         # $JOB_COMPLETION_INDEX). The claim {} is mounted at {}: the plan folder, the sources, the\n\
         # styles and the weights must be reachable there at the paths the plan names.\n",
        work.source.display(),
        r.volume_claim,
        r.mount.display()
    );
    let render =
        format!("{header}{}", k8s_job(&format!("{name}-render"), Some(n), &render_args(dir, work, r), r, true));
    let k = dir.join("kubernetes");
    let mut files = vec![ScriptFile { path: "kubernetes/render.yaml".into(), text: render, executable: false }];
    let mut start = format!("kubectl apply -f {}", q(&k.join("render.yaml")));
    if let Some(output) = &work.stitch_to {
        let stitch = format!(
            "# brushwork: stitch the plan in {} (apply once the render Job is complete)\n{}",
            dir.display(),
            k8s_job(&format!("{name}-stitch"), None, &stitch_args(dir, output, r), r, false)
        );
        files.push(ScriptFile { path: "kubernetes/stitch.yaml".into(), text: stitch, executable: false });
        start.push_str(&format!(
            " && kubectl wait --for=condition=complete --timeout=-1s job/{name}-render && kubectl apply -f {}",
            q(&k.join("stitch.yaml"))
        ));
    }
    let script = format!(
        "#!/usr/bin/env bash\n# brushwork: start the render on Kubernetes\nset -euo pipefail\n{}\n",
        start.replace(" && ", "\n")
    );
    Emitted { files, start, script }
}

fn shell(dir: &Path, work: &Work, r: &Resources) -> Emitted {
    let n = work.segments;
    let render = shell_line(&render_args(dir, work, r));
    let stitch = work.stitch_to.as_ref().map(|o| format!(" && {}", shell_line(&stitch_args(dir, o, r))));
    let line = format!(
        "seq 0 {} | xargs -P {} -I{{}} {render} --segment {{}}{}",
        n - 1,
        r.jobs.max(1),
        stitch.unwrap_or_default()
    );
    let text = format!(
        "#!/usr/bin/env bash\n# brushwork: render the plan in {} on this machine, {} parts at a time{}.\n\
         # With GNU parallel: parallel -j {} {render} --segment {{}} ::: $(seq 0 {})\nset -euo pipefail\n{line}\n",
        dir.display(),
        r.jobs.max(1),
        if work.stitch_to.is_some() { ", then stitch" } else { "" },
        r.jobs.max(1),
        n - 1
    );
    Emitted {
        files: vec![ScriptFile { path: "shell/render.sh".into(), text: text.clone(), executable: true }],
        start: line,
        script: text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting_survives_quotes_and_spaces() {
        assert_eq!(shell_quote("/plain/path-1.mp4"), "/plain/path-1.mp4");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$(rm -rf ~)"), "'$(rm -rf ~)'");
        assert_eq!(shell_quote(""), "''");
    }
}
