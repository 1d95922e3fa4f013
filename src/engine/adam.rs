//! Adam on the image's pixels, with the image clipped to [0,1] after each step (the notebook).

use candle_core::{Result, Tensor};

#[derive(Debug, Clone)]
pub struct Adam {
    pub learning_rate: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub epsilon: f64,
    step: u32,
    m: Option<Tensor>,
    v: Option<Tensor>,
}

impl Adam {
    pub fn new(learning_rate: f64, beta1: f64, beta2: f64, epsilon: f64) -> Self {
        Self { learning_rate, beta1, beta2, epsilon, step: 0, m: None, v: None }
    }

    /// One step from `x` along `grad`; returns the new, clipped image.
    pub fn step(&mut self, x: &Tensor, grad: &Tensor) -> Result<Tensor> {
        self.step += 1;
        let m = match &self.m {
            Some(m) => ((m * self.beta1)? + (grad * (1.0 - self.beta1))?)?,
            None => (grad * (1.0 - self.beta1))?,
        };
        let v = match &self.v {
            Some(v) => ((v * self.beta2)? + (grad.sqr()? * (1.0 - self.beta2))?)?,
            None => (grad.sqr()? * (1.0 - self.beta2))?,
        };
        let t = self.step as i32;
        let m_hat = (&m / (1.0 - self.beta1.powi(t)))?;
        let v_hat = (&v / (1.0 - self.beta2.powi(t)))?;
        let update = (m_hat / (v_hat.sqrt()? + self.epsilon)?)?;
        self.m = Some(m);
        self.v = Some(v);
        (x - (update * self.learning_rate)?)?.clamp(0.0, 1.0)
    }

    /// The step count and moments, for a checkpoint.
    pub fn state(&self) -> (u32, Option<Tensor>, Option<Tensor>) {
        (self.step, self.m.clone(), self.v.clone())
    }

    /// Restores what [`Adam::state`] returned.
    pub fn restore(&mut self, step: u32, m: Option<Tensor>, v: Option<Tensor>) {
        self.step = step;
        self.m = m;
        self.v = v;
    }

    /// Forgets the moments (used when the image is resized between scales).
    pub fn reset(&mut self) {
        self.step = 0;
        self.m = None;
        self.v = None;
    }
}
