//! The flicker figure: how much consecutive output frames differ, beyond what the input frames do.

/// Mean absolute difference between two 8-bit buffers of equal length, on a 0..1 scale
/// (`Σ|a−b| / (255·n)`). Zero for empty or mismatched buffers.
pub fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    if a.is_empty() || a.len() != b.len() {
        return 0.0;
    }
    let sum: u64 = a.iter().zip(b).map(|(&x, &y)| x.abs_diff(y) as u64).sum();
    sum as f64 / (255.0 * a.len() as f64)
}

/// Flicker of one frame: the mean absolute difference between this output frame and the previous
/// one, minus the same for the input frames (both at the output size). Positive means the
/// stylisation changes more between frames than the source does.
pub fn flicker(prev_out: &[u8], out: &[u8], prev_in: &[u8], input: &[u8]) -> f64 {
    mean_abs_diff(prev_out, out) - mean_abs_diff(prev_in, input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_abs_diff_by_hand() {
        // |0-255| + |10-20| + |100-100| + |50-0| = 255 + 10 + 0 + 50 = 315; / (255 * 4) = 0.308823...
        let d = mean_abs_diff(&[0, 10, 100, 50], &[255, 20, 100, 0]);
        assert!((d - 315.0 / 1020.0).abs() < 1e-12, "{d}");
        assert_eq!(mean_abs_diff(&[7, 7], &[7, 7]), 0.0);
        assert_eq!(mean_abs_diff(&[], &[]), 0.0);
        assert_eq!(mean_abs_diff(&[1, 2], &[1]), 0.0);
    }

    #[test]
    fn flicker_is_output_minus_input() {
        // Output moves by 51 on each of 2 values: 102 / 510 = 0.2. Input moves by 51 on one: 51 / 510 = 0.1.
        let f = flicker(&[0, 0], &[51, 51], &[0, 0], &[51, 0]);
        assert!((f - 0.1).abs() < 1e-12, "{f}");
        // A steadier output than input gives a negative figure: 0 - 0.2.
        let f = flicker(&[9, 9], &[9, 9], &[0, 0], &[51, 51]);
        assert!((f + 0.2).abs() < 1e-12, "{f}");
    }
}
