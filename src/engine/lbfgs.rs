//! Limited-memory BFGS on the image's pixels (Nocedal & Wright, algorithm 7.4, two-loop recursion).
//!
//! History: the last `history` pairs `s = x_{k+1} − x_k`, `y = g_{k+1} − g_k`; a pair with
//! `yᵀs ≤ 1e-10·‖s‖·‖y‖` (no positive curvature) is skipped. The initial Hessian is `γ·I` with `γ = sᵀy / yᵀy` of the newest pair.
//! The first step is `−g · min(1, 1/‖g‖₁) · learning_rate`, as torch.optim.LBFGS does. Without a
//! line search each iteration costs one evaluation; with backtracking the step is halved until the
//! Armijo condition `f(x+t·d) ≤ f(x) + 1e-4·t·gᵀd` holds.

use std::collections::VecDeque;

use candle_core::{DType, Result, Tensor};

fn dot(a: &Tensor, b: &Tensor) -> Result<f64> {
    (a * b)?.sum_all()?.to_dtype(DType::F64)?.to_scalar::<f64>()
}

#[derive(Debug, Clone)]
pub struct Lbfgs {
    history: usize,
    pairs: VecDeque<(Tensor, Tensor, f64)>,
}

impl Lbfgs {
    pub fn new(history: usize) -> Self {
        Self { history: history.max(1), pairs: VecDeque::new() }
    }

    /// Forgets the curvature pairs (used when the image is resized between scales).
    pub fn reset(&mut self) {
        self.pairs.clear();
    }

    pub fn has_history(&self) -> bool {
        !self.pairs.is_empty()
    }

    /// Records a step `s` and the gradient change `y` it caused.
    pub fn update(&mut self, s: Tensor, y: Tensor) -> Result<()> {
        let ys = dot(&y, &s)?;
        let scale = (dot(&s, &s)? * dot(&y, &y)?).sqrt();
        if ys > 1e-10 * scale && ys.is_finite() {
            if self.pairs.len() == self.history {
                self.pairs.pop_front();
            }
            self.pairs.push_back((s, y, 1.0 / ys));
        }
        Ok(())
    }

    /// The search direction `−H·g`.
    pub fn direction(&self, g: &Tensor) -> Result<Tensor> {
        let mut q = g.clone();
        let mut alphas = Vec::with_capacity(self.pairs.len());
        for (s, y, rho) in self.pairs.iter().rev() {
            let a = rho * dot(s, &q)?;
            q = (q - (y * a)?)?;
            alphas.push(a);
        }
        if let Some((s, y, _)) = self.pairs.back() {
            let gamma = dot(s, y)? / dot(y, y)?;
            q = (q * gamma)?;
        } else {
            let l1 = g.abs()?.sum_all()?.to_dtype(DType::F64)?.to_scalar::<f64>()?;
            q = (q * (1.0f64).min(1.0 / l1.max(1e-30)))?;
        }
        for ((s, y, rho), a) in self.pairs.iter().zip(alphas.into_iter().rev()) {
            let b = rho * dot(y, &q)?;
            q = (q + (s * (a - b))?)?;
        }
        q.neg()
    }

    /// `gᵀd`, for the Armijo test.
    pub fn slope(g: &Tensor, d: &Tensor) -> Result<f64> {
        dot(g, d)
    }
}
