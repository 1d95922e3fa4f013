//! Little-endian tensor bytes to f32, for the float dtypes weights come in.

/// Converts raw little-endian bytes of `dtype` (safetensors spelling) to f32.
pub fn to_f32(dtype: &str, bytes: &[u8]) -> Result<Vec<f32>, String> {
    Ok(match dtype {
        "F32" => bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
        "F64" => bytes
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32)
            .collect(),
        "BF16" => {
            bytes.chunks_exact(2).map(|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16)).collect()
        }
        "F16" => bytes.chunks_exact(2).map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]]))).collect(),
        other => return Err(format!("unsupported dtype {other} (expected F32, F16, BF16 or F64)")),
    })
}

fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal: value = frac * 2^-24.
            let v = frac as f32 * f32::powi(2.0, -24);
            return if sign != 0 { -v } else { v };
        }
        (0x1f, _) => sign | 0x7f80_0000 | (frac << 13),
        _ => sign | ((exp + 112) << 23) | (frac << 13),
    };
    f32::from_bits(bits)
}

#[cfg(test)]
mod tests {
    #[test]
    fn halves() {
        let v = super::to_f32("F16", &[0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00]).unwrap();
        assert_eq!(&v[..2], &[1.0, -2.0]);
        assert!((v[2] - 5.96e-8).abs() < 1e-9);
        assert_eq!(super::to_f32("BF16", &[0x80, 0x3f]).unwrap(), vec![1.0]);
    }
}
