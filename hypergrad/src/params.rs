//! [`ParamList`]: a list of tensors treated as one vector (θ, φ, b1, b2, gradients).

use crate::error::{Error, Result};
use candle_core::{DType, Device, Tensor, Var};

/// An ordered list of tensors, viewed as one flat vector for the algorithms' vector algebra.
#[derive(Clone, Debug)]
pub struct ParamList(Vec<Tensor>);

impl ParamList {
    /// Wraps tensors; the list may not be empty.
    pub fn new(tensors: Vec<Tensor>) -> Result<Self> {
        if tensors.is_empty() {
            return Err(Error::Mismatch(
                "a parameter list needs at least one tensor".into(),
            ));
        }
        Ok(Self(tensors))
    }

    /// A single-tensor list.
    pub fn single(t: Tensor) -> Self {
        Self(vec![t])
    }

    /// A flat list from `values`, one 1-D tensor.
    pub fn from_slice(values: &[f64], dtype: DType, device: &Device) -> Result<Self> {
        let t = Tensor::from_slice(values, values.len(), device)?.to_dtype(dtype)?;
        Ok(Self::single(t))
    }

    /// The tensors.
    pub fn tensors(&self) -> &[Tensor] {
        &self.0
    }

    /// Consumes the list into its tensors.
    pub fn into_tensors(self) -> Vec<Tensor> {
        self.0
    }

    /// Total number of scalars.
    pub fn numel(&self) -> usize {
        self.0.iter().map(Tensor::elem_count).sum()
    }

    /// Bytes the values occupy.
    pub fn bytes(&self) -> usize {
        self.0
            .iter()
            .map(|t| t.elem_count() * t.dtype().size_in_bytes())
            .sum()
    }

    /// Element type (of the first tensor; lists are homogeneous in practice).
    pub fn dtype(&self) -> DType {
        self.0[0].dtype()
    }

    /// Device of the first tensor.
    pub fn device(&self) -> &Device {
        self.0[0].device()
    }

    /// The same values, cut from any autodiff graph.
    pub fn detach(&self) -> Self {
        Self(self.0.iter().map(Tensor::detach).collect())
    }

    /// Fresh autodiff leaves holding these values (graph-free copies).
    pub fn to_vars(&self) -> Result<Vec<Var>> {
        Ok(self
            .0
            .iter()
            .map(|t| Var::from_tensor(&t.detach()))
            .collect::<candle_core::Result<_>>()?)
    }

    /// A list of the tensors behind `vars`.
    pub fn from_vars(vars: &[Var]) -> Self {
        Self(vars.iter().map(|v| v.as_tensor().clone()).collect())
    }

    /// Zeros of the same shapes.
    pub fn zeros_like(&self) -> Result<Self> {
        self.map(Tensor::zeros_like)
    }

    /// Applies `f` to every tensor.
    pub fn map(&self, f: impl Fn(&Tensor) -> candle_core::Result<Tensor>) -> Result<Self> {
        Ok(Self(
            self.0.iter().map(f).collect::<candle_core::Result<_>>()?,
        ))
    }

    fn zip(
        &self,
        other: &Self,
        f: impl Fn(&Tensor, &Tensor) -> candle_core::Result<Tensor>,
    ) -> Result<Self> {
        self.check_shapes(other)?;
        Ok(Self(
            self.0
                .iter()
                .zip(&other.0)
                .map(|(a, b)| f(a, b))
                .collect::<candle_core::Result<_>>()?,
        ))
    }

    /// Errors unless both lists have the same shapes in the same order.
    pub fn check_shapes(&self, other: &Self) -> Result<()> {
        let a: Vec<_> = self.0.iter().map(|t| t.dims().to_vec()).collect();
        let b: Vec<_> = other.0.iter().map(|t| t.dims().to_vec()).collect();
        if a == b {
            Ok(())
        } else {
            Err(Error::Mismatch(format!("shapes {a:?} vs {b:?}")))
        }
    }

    /// `self + other`.
    pub fn add(&self, other: &Self) -> Result<Self> {
        self.zip(other, |a, b| a + b)
    }

    /// `self - other`.
    pub fn sub(&self, other: &Self) -> Result<Self> {
        self.zip(other, |a, b| a - b)
    }

    /// `c * self`.
    pub fn scale(&self, c: f64) -> Result<Self> {
        self.map(|t| t.affine(c, 0.0))
    }

    /// `self + c * other` (BLAS axpy with the roles named).
    pub fn axpy(&self, c: f64, other: &Self) -> Result<Self> {
        self.zip(other, |a, b| a + b.affine(c, 0.0)?)
    }

    /// Entry-wise clamp to `[-c, c]`.
    pub fn clamp_abs(&self, c: f64) -> Result<Self> {
        self.map(|t| t.clamp(-c, c))
    }

    /// Inner product, accumulated in f64.
    pub fn dot(&self, other: &Self) -> Result<f64> {
        self.check_shapes(other)?;
        let mut s = 0.0;
        for (a, b) in self.0.iter().zip(&other.0) {
            s += (a * b)?
                .sum_all()?
                .to_dtype(DType::F64)?
                .to_scalar::<f64>()?;
        }
        Ok(s)
    }

    /// Squared Euclidean norm.
    pub fn sq_norm(&self) -> Result<f64> {
        self.dot(self)
    }

    /// All values, flattened in order, as f64.
    pub fn to_vec(&self) -> Result<Vec<f64>> {
        let mut out = Vec::with_capacity(self.numel());
        for t in &self.0 {
            out.extend(t.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?);
        }
        Ok(out)
    }

    /// A list shaped like `self` holding `values` (flattened in the same order).
    pub fn with_values(&self, values: &[f64]) -> Result<Self> {
        if values.len() != self.numel() {
            return Err(Error::Mismatch(format!(
                "{} values for a list of {} scalars",
                values.len(),
                self.numel()
            )));
        }
        let mut offset = 0;
        let mut out = Vec::with_capacity(self.0.len());
        for t in &self.0 {
            let n = t.elem_count();
            let chunk = &values[offset..offset + n];
            out.push(Tensor::from_slice(chunk, t.dims(), t.device())?.to_dtype(t.dtype())?);
            offset += n;
        }
        Ok(Self(out))
    }

    /// Converts every tensor to `dtype`.
    pub fn to_dtype(&self, dtype: DType) -> Result<Self> {
        self.map(|t| t.to_dtype(dtype))
    }

    /// Σ_i sum(self_i ⊙ other_i) as a scalar tensor that stays in the autodiff graph.
    pub fn dot_tensor(&self, other: &Self) -> Result<Tensor> {
        self.check_shapes(other)?;
        let mut total: Option<Tensor> = None;
        for (a, b) in self.0.iter().zip(&other.0) {
            let s = (a * b)?.sum_all()?;
            total = Some(match total {
                None => s,
                Some(t) => (t + s)?,
            });
        }
        // `new` guarantees at least one tensor.
        total.ok_or_else(|| Error::Mismatch("empty parameter list".into()))
    }
}

/// `x` for names and messages: plain decimal for ordinary magnitudes (0.1, 12.5), scientific
/// notation beyond them (1e-300 rather than 300 digits), shortest round-trip digits either way.
pub fn compact(x: f64) -> String {
    let a = x.abs();
    if a == 0.0 || !a.is_finite() || (1e-4..1e6).contains(&a) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_algebra() -> Result<()> {
        let d = Device::Cpu;
        let a = ParamList::new(vec![
            Tensor::new(&[1.0f64, 2.0], &d)?,
            Tensor::new(&[[3.0f64]], &d)?,
        ])?;
        let b = a.scale(2.0)?;
        assert_eq!(b.to_vec()?, vec![2.0, 4.0, 6.0]);
        assert_eq!(a.dot(&b)?, 28.0);
        assert_eq!(a.axpy(-1.0, &b)?.to_vec()?, vec![-1.0, -2.0, -3.0]);
        assert_eq!(
            a.with_values(&[7.0, 8.0, 9.0])?.to_vec()?,
            vec![7.0, 8.0, 9.0]
        );
        assert_eq!(a.bytes(), 24);
        assert!(a.with_values(&[1.0]).is_err());
        assert!(a
            .add(&ParamList::single(Tensor::new(&[1.0f64], &d)?))
            .is_err());
        Ok(())
    }
}
