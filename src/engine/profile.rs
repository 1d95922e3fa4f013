//! Wall time by stage of the engine's work (`bench --profile`): each convolution, pooling, loss
//! and optimiser step is timed where it runs, on the thread that drives the evaluation. Off unless
//! that thread turned it on ([`start`]), so the cost elsewhere is one thread-local flag read per
//! stage (some forty per evaluation).
//!
//! The CPU ops return when their result is computed, so a stage's time is its work. On CUDA they
//! only queue work: a profile there shows launch times, and `bench` refuses `--profile` off the CPU.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

/// What a timed stage was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    /// Mapping the RGB image to network input (and back, for its gradient).
    InputMap,
    /// Mirror padding of the input, or folding its gradient back.
    Border,
    /// The convolution with this conv index (0 = conv1_1), bias and ReLU.
    ConvForward(usize),
    /// Its input gradient (ReLU mask and the transposed convolution).
    ConvBackward(usize),
    /// Pooling before VGG block `b` (2 = the pooling after block 1), and its gradient.
    PoolForward(usize),
    PoolBackward(usize),
    /// The content loss at a conv index, with its gradient.
    ContentLoss(usize),
    /// The style loss (Gram matrix, difference, gradient) at a conv index.
    StyleLoss(usize),
    /// Cropping activations to the picture and padding their gradients back.
    Crop,
    /// Adding gradients that meet at one layer.
    GradientSum,
    /// Total variation and temporal losses.
    ImageLosses,
    /// The L-BFGS direction (two-loop recursion), the step and the curvature update.
    Optimizer,
}

/// One stage's total over the profiled work.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StageTime {
    pub stage: Stage,
    pub seconds: f64,
    pub calls: u32,
}

/// The parts of the Winograd convolutions' work, which runs on the worker threads: summed over
/// them, so these are CPU seconds, not wall time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelPart {
    /// Reading (and masking) the input and transforming its tiles.
    InputTransform,
    /// Rounding the transformed input to BF16 and laying it out for the tiles (BF16 products only).
    Packing,
    /// The matrix products.
    Products,
    /// Transforming the products back, bias and ReLU, writing the output.
    OutputTransform,
}

impl KernelPart {
    pub const ALL: [KernelPart; 4] = [Self::InputTransform, Self::Packing, Self::Products, Self::OutputTransform];
}

static KERNEL_ON: AtomicBool = AtomicBool::new(false);
static KERNEL_NANOS: [AtomicU64; 4] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];

/// A stopwatch for kernel parts on any thread, running only while some thread is profiling. It
/// takes no closures, so code compiled for a CPU feature (`#[target_feature]`) keeps it.
pub struct KernelClock(Option<Instant>);

impl KernelClock {
    #[inline(always)]
    pub fn new() -> Self {
        Self(KERNEL_ON.load(Ordering::Relaxed).then(Instant::now))
    }

    /// Adds the time since the last lap (or the start) to `part`.
    #[inline(always)]
    pub fn lap(&mut self, part: KernelPart) {
        if let Some(begin) = self.0 {
            let now = Instant::now();
            KERNEL_NANOS[part as usize].fetch_add((now - begin).as_nanos() as u64, Ordering::Relaxed);
            self.0 = Some(now);
        }
    }
}

impl Default for KernelClock {
    fn default() -> Self {
        Self::new()
    }
}

/// CPU seconds of each [`KernelPart`] between the last [`start`] and [`finish`].
pub fn kernel_seconds() -> [(KernelPart, f64); 4] {
    KernelPart::ALL.map(|p| (p, KERNEL_NANOS[p as usize].load(Ordering::Relaxed) as f64 * 1e-9))
}

thread_local! {
    static ON: Cell<bool> = const { Cell::new(false) };
    static TIMES: RefCell<Vec<StageTime>> = const { RefCell::new(Vec::new()) };
}

/// Starts recording on this thread, forgetting anything recorded before.
pub fn start() {
    TIMES.with(|t| t.borrow_mut().clear());
    ON.with(|on| on.set(true));
    for n in &KERNEL_NANOS {
        n.store(0, Ordering::Relaxed);
    }
    KERNEL_ON.store(true, Ordering::Relaxed);
}

/// Stops recording on this thread and returns the totals, in the order the stages first ran.
pub fn finish() -> Vec<StageTime> {
    ON.with(|on| on.set(false));
    KERNEL_ON.store(false, Ordering::Relaxed);
    TIMES.with(|t| std::mem::take(&mut *t.borrow_mut()))
}

/// Runs `work`, adding its wall time to `stage` when this thread is recording.
#[inline]
pub fn time<T>(stage: Stage, work: impl FnOnce() -> T) -> T {
    if !ON.with(Cell::get) {
        return work();
    }
    let begin = Instant::now();
    let out = work();
    let seconds = begin.elapsed().as_secs_f64();
    TIMES.with(|t| {
        let mut times = t.borrow_mut();
        match times.iter_mut().find(|s| s.stage == stage) {
            Some(s) => {
                s.seconds += seconds;
                s.calls += 1;
            }
            None => times.push(StageTime { stage, seconds, calls: 1 }),
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recording is per thread and off by default; totals add up per stage in first-run order.
    #[test]
    fn records_only_while_on() {
        assert_eq!(time(Stage::Crop, || 3), 3);
        start();
        time(Stage::ConvForward(1), || std::thread::sleep(std::time::Duration::from_millis(2)));
        time(Stage::Crop, || ());
        time(Stage::ConvForward(1), || ());
        std::thread::spawn(|| time(Stage::Optimizer, || ())).join().unwrap();
        let times = finish();
        let stages: Vec<(Stage, u32)> = times.iter().map(|s| (s.stage, s.calls)).collect();
        assert_eq!(stages, [(Stage::ConvForward(1), 2), (Stage::Crop, 1)]);
        assert!(times[0].seconds >= 0.002, "{times:?}");
        time(Stage::Crop, || ());
        assert!(finish().is_empty());
    }
}
