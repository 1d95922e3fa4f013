//! Where the tiles of an exact tiled evaluation lie (see [`super::objective::Objective::evaluate`]
//! with tiles): the picture (with its mirrored border) is cut into cores that partition it, each
//! read with a halo as wide as the receptive field of the deepest layer used, so every feature of
//! a core is computed from the same pixels as in the whole picture and comes out the same.
//!
//! Cores start on multiples of the network's largest stride (`2^(b−1)` for the deepest block `b`
//! used), and so do the halos: every tile then pools on the same 2x2 grid as the whole picture,
//! and a core's features at stride `s` are the rows `start/s .. end/s` of the whole picture's,
//! the last core's ending where the picture's do (pooling rounds down the same way).

use crate::weights::layout::Arch;

/// One tile: its core and the crop read for it (core plus halo, cut at the picture's edges),
/// as `[start, end)` rows and columns of the picture the network sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    pub core_rows: (usize, usize),
    pub core_cols: (usize, usize),
    pub crop_rows: (usize, usize),
    pub crop_cols: (usize, usize),
}

impl Tile {
    /// The core's features at stride `stride` (`2^(b−1)` for block `b`) inside the tile's own
    /// activation: offset and length of rows, then of columns. `rows_total`/`cols_total` are the
    /// whole picture's activation size at that stride (where the last core ends).
    pub fn core_features(
        &self,
        stride: usize,
        rows_total: usize,
        cols_total: usize,
    ) -> ((usize, usize), (usize, usize)) {
        let span = |(c0, c1): (usize, usize), crop0: usize, total: usize| {
            let start = c0 / stride;
            let end = if c1 % stride == 0 { c1 / stride } else { total };
            let end = end.min(total);
            (start - crop0 / stride, end.saturating_sub(start))
        };
        (span(self.core_rows, self.crop_rows.0, rows_total), span(self.core_cols, self.crop_cols.0, cols_total))
    }

    pub fn crop_pixels(&self) -> usize {
        (self.crop_rows.1 - self.crop_rows.0) * (self.crop_cols.1 - self.crop_cols.0)
    }
}

/// The largest stride among the layers up to conv `deepest` (0-based index into `arch.convs()`):
/// `2^(b−1)` for its block `b`.
pub fn alignment(arch: Arch, deepest: usize) -> usize {
    let block = arch.convs().get(deepest).map_or(1, |c| c.block);
    1 << (block - 1)
}

/// How far (in input pixels, on each side) the features up to conv `deepest` reach: each 3x3
/// convolution at stride `s` adds `s`, each 2x2 pooling from stride `s` adds `s` (its window
/// reaches one input cell further on one side). VGG-19 to conv5_1: 2·1 + 1 + 2·2 + 2 + 4·4 + 4 +
/// 4·8 + 8 + 1·16 = 85 pixels.
pub fn receptive_radius(arch: Arch, deepest: usize) -> usize {
    let mut radius = 0;
    let mut stride = 1;
    let mut block = 1;
    for conv in arch.convs().iter().take(deepest + 1) {
        while block < conv.block {
            radius += stride;
            stride *= 2;
            block += 1;
        }
        radius += stride;
    }
    radius
}

/// The halo: the receptive radius rounded up to the alignment.
pub fn halo(arch: Arch, deepest: usize) -> usize {
    let a = alignment(arch, deepest);
    receptive_radius(arch, deepest).div_ceil(a) * a
}

/// Tiles of cores `core` x `core` (rounded down to the alignment, at least one alignment step)
/// over a `rows` x `cols` picture, row by row.
pub fn tiles(rows: usize, cols: usize, core: usize, align: usize, halo: usize) -> Vec<Tile> {
    let step = (core / align).max(1) * align;
    let spans = |len: usize| -> Vec<(usize, usize)> {
        (0..len.div_ceil(step)).map(|i| (i * step, ((i + 1) * step).min(len))).collect()
    };
    let crop = |(a, b): (usize, usize), len: usize| (a.saturating_sub(halo), (b + halo).min(len));
    let mut out = Vec::new();
    for r in spans(rows) {
        for c in spans(cols) {
            out.push(Tile { core_rows: r, core_cols: c, crop_rows: crop(r, rows), crop_cols: crop(c, cols) });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receptive_radius_by_hand() {
        // VGG-19 to conv5_1 (index 12): 85, see the doc; rounded up to 16: 96.
        let conv5_1 = Arch::Vgg19.convs().iter().position(|c| c.block == 5 && c.layer == 1).unwrap();
        assert_eq!(receptive_radius(Arch::Vgg19, conv5_1), 85);
        assert_eq!(halo(Arch::Vgg19, conv5_1), 96);
        assert_eq!(alignment(Arch::Vgg19, conv5_1), 16);
        // VGG-16 to conv4_2 (index 8): 2 + 1 + 4 + 2 + 12 + 4 + 2·8 = 41, stride 8: halo 48.
        let conv4_2 = Arch::Vgg16.convs().iter().position(|c| c.block == 4 && c.layer == 2).unwrap();
        assert_eq!(receptive_radius(Arch::Vgg16, conv4_2), 41);
        assert_eq!(halo(Arch::Vgg16, conv4_2), 48);
        // conv1_1 alone: one pixel.
        assert_eq!(receptive_radius(Arch::Vgg16, 0), 1);
    }

    #[test]
    fn cores_partition_the_picture_and_their_features_the_activation() {
        for (rows, cols, core) in [(100, 37, 32), (64, 64, 16), (17, 250, 48), (5, 5, 64)] {
            let t = tiles(rows, cols, core, 16, 32);
            let mut seen = vec![0u8; rows * cols];
            for tile in &t {
                assert_eq!(tile.core_rows.0 % 16, 0);
                assert_eq!(tile.crop_rows.0 % 16, 0);
                assert!(tile.crop_rows.0 <= tile.core_rows.0 && tile.core_rows.1 <= tile.crop_rows.1);
                for y in tile.core_rows.0..tile.core_rows.1 {
                    for x in tile.core_cols.0..tile.core_cols.1 {
                        seen[y * cols + x] += 1;
                    }
                }
            }
            assert!(seen.iter().all(|&n| n == 1), "{rows}x{cols} by {core}");
            // At stride 8 the cores' feature rows cover 0..rows/8 once each.
            let total = rows / 8;
            let mut covered = vec![0u8; total];
            for tile in t.iter().filter(|t| t.core_cols.0 == 0) {
                let ((off, len), _) = tile.core_features(8, total, cols / 8);
                let start = tile.crop_rows.0 / 8 + off;
                for n in covered.iter_mut().skip(start).take(len) {
                    *n += 1;
                }
            }
            assert!(covered.iter().all(|&n| n == 1), "{rows} rows by {core}: {covered:?}");
        }
    }
}
