//! Conversions from raw bytes and labels to candle tensors.

use candle_core::{DType, Device, Tensor};

use crate::error::{DataError, Result};

/// Pixel bytes (0..=255) to a tensor of values in `[0, 1]` with the given shape, device and
/// dtype (f32 or f64 are the intended ones; any float dtype candle supports works).
pub fn pixels_to_tensor(
    pixels: &[u8],
    shape: &[usize],
    device: &Device,
    dtype: DType,
) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    if n != pixels.len() {
        return Err(DataError::Config(format!(
            "{} pixels cannot fill shape {shape:?}",
            pixels.len()
        )));
    }
    let t = match dtype {
        DType::F64 => {
            let v: Vec<f64> = pixels.iter().map(|&p| f64::from(p) / 255.0).collect();
            Tensor::from_vec(v, shape, &Device::Cpu)?
        }
        _ => {
            let v: Vec<f32> = pixels.iter().map(|&p| f32::from(p) / 255.0).collect();
            Tensor::from_vec(v, shape, &Device::Cpu)?.to_dtype(dtype)?
        }
    };
    Ok(t.to_device(device)?)
}

/// Labels as a `u32` tensor of shape `(n,)`.
pub fn labels_to_tensor(labels: &[u32], device: &Device) -> Result<Tensor> {
    Ok(Tensor::from_slice(labels, labels.len(), device)?)
}

/// One-hot encoding `(n, classes)` of `labels` in the given dtype.
///
/// Built on the host (the engine avoids `gather`); errors if a label is `>= classes`.
pub fn one_hot(labels: &[u32], classes: usize, device: &Device, dtype: DType) -> Result<Tensor> {
    if let Some((i, l)) = labels
        .iter()
        .enumerate()
        .find(|(_, &l)| l as usize >= classes)
    {
        return Err(DataError::Config(format!(
            "label {l} at position {i} is outside 0..{classes}"
        )));
    }
    let indices = Tensor::from_slice(labels, labels.len(), &Device::Cpu)?;
    let t = candle_nn::encoding::one_hot(indices, classes, 1f32, 0f32)?.to_dtype(dtype)?;
    Ok(t.to_device(device)?)
}

/// Gathers the fixed-size records `indices` of `data` (record length `record`) into one buffer.
pub(crate) fn gather_records(data: &[u8], record: usize, indices: &[usize]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(indices.len() * record);
    for &i in indices {
        let chunk = data
            .get(i * record..(i + 1) * record)
            .ok_or_else(|| DataError::Config(format!("record index {i} out of range")))?;
        out.extend_from_slice(chunk);
    }
    Ok(out)
}
