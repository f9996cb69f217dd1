//! Reverse-mode helpers on top of candle, including the one call that makes second order work.
//!
//! Stock candle 0.11 detaches every gradient it computes (so a gradient has no graph and its
//! own derivative is silently zero) unless the environment variable `CANDLE_GRAD_DO_NOT_DETACH`
//! is set before the first backward pass *of each thread*. Setting the environment from a
//! library while other threads run is unsound, so the engine does not: the patched candle-core
//! it builds on (`vendor/PATCHES.md`) has [`Tensor::backward_create_graph`], which keeps the
//! graph of that one backward pass whatever the environment says. Every backward pass whose
//! gradient is differentiated again goes through [`backward_keep_graph`]; the others use the
//! ordinary (detaching, cheaper) `backward`. [`ensure_second_order`] probes once per process
//! that second derivatives really come out (a candle that detached anyway would give
//! [`Error::SecondOrderDetached`] instead of zero Hessian-vector products).

use crate::error::{Error, Result};
use crate::params::ParamList;
use candle_core::{backprop::GradStore, DType, Device, Storage, Tensor, Var};
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

static SECOND_ORDER: OnceLock<bool> = OnceLock::new();

/// Checks (once per process) that gradients from [`backward_keep_graph`] are differentiable.
pub fn ensure_second_order() -> Result<()> {
    let works = match SECOND_ORDER.get() {
        Some(&w) => w,
        None => *SECOND_ORDER.get_or_init(|| second_order_works().unwrap_or(false)),
    };
    if works {
        Ok(())
    } else {
        Err(Error::SecondOrderDetached)
    }
}

/// A backward pass whose gradients keep their graph, for a second backward pass through them.
pub fn backward_keep_graph(loss: &Tensor) -> Result<GradStore> {
    Ok(loss.backward_create_graph()?)
}

/// Whether d²/dx² (x²)² at x = 2 comes out as 12x² = 48 with [`backward_keep_graph`]. With
/// detached gradients candle loses the path through the upstream gradient of the outer square
/// and returns 4x² = 16 instead (a single op such as x³ would not show the difference).
pub fn second_order_works() -> Result<bool> {
    let x = Var::new(2.0f64, &Device::Cpu)?;
    let y = x.as_tensor().sqr()?.sqr()?;
    Ok(second_derivative(&backward_keep_graph(&y)?, &x)? == Some(48.0))
}

/// d/dx of the gradient `first` holds for `x` (None when `x` got no gradient).
pub fn second_derivative(first: &GradStore, x: &Var) -> Result<Option<f64>> {
    let Some(dy) = first.get(x.as_tensor()) else {
        return Ok(None);
    };
    let g2 = dy.backward()?;
    Ok(match g2.get(x.as_tensor()) {
        Some(t) => Some(t.to_dtype(DType::F64)?.to_scalar::<f64>()?),
        None => Some(0.0),
    })
}

/// Requires `loss` to be a scalar (rank 0, or a single element).
pub fn check_scalar(loss: &Tensor, which: &'static str) -> Result<Tensor> {
    if loss.elem_count() != 1 {
        return Err(Error::NotScalar {
            which,
            shape: loss.dims().to_vec(),
        });
    }
    Ok(loss.flatten_all()?.sum_all()?)
}

/// The gradients of a backward pass with respect to `wrt`, zeros where `wrt` had no influence.
/// With `keep_graph` the result stays differentiable (for a second backward pass).
pub fn collect(grads: &GradStore, wrt: &[Var], keep_graph: bool) -> Result<ParamList> {
    let mut out = Vec::with_capacity(wrt.len());
    for v in wrt {
        let g = match grads.get(v.as_tensor()) {
            Some(g) if keep_graph => g.clone(),
            Some(g) => g.detach(),
            None => v.as_tensor().zeros_like()?,
        };
        out.push(g);
    }
    ParamList::new(out)
}

/// ∂f/∂x at `x` *keeping the graph*: `x` may be an intermediate result (e.g. depend on θ), and
/// the returned gradient stays differentiable with respect to whatever `x` depends on.
///
/// candle only reports gradients of leaves, so `x` is shifted by zero-valued leaves `z`
/// (f(x + z) at z = 0): ∂f/∂z = ∂f/∂x, and the gradient keeps its dependence on `x`'s graph.
pub fn grad_through(
    f: impl FnOnce(&ParamList) -> Result<Tensor>,
    x: &ParamList,
) -> Result<(Tensor, ParamList)> {
    ensure_second_order()?;
    let shifts = x.zeros_like()?.to_vars()?;
    let shifted = x.add(&ParamList::from_vars(&shifts))?;
    let value = f(&shifted)?;
    let grads = backward_keep_graph(&value)?;
    Ok((value, collect(&grads, &shifts, true)?))
}

/// Bytes of memory that `roots` keep alive: the distinct storages behind the roots and behind
/// every tensor of their autodiff graphs that lies on a differentiable path to a variable
/// (candle's [`Tensor::sorted_nodes`], the nodes its backward pass visits: the intermediate
/// results that depend on θ or φ, and the variables themselves). A storage shared by several tensors (reshapes, transposes, broadcasts, narrows
/// are views) counts once, at the extent its tensors address. Not counted: graph tensors that
/// depend on no variable (the task's data and what is computed from it alone), and candle's
/// bookkeeping per node (shapes, strides, reference counts).
pub fn held_bytes(roots: &[Tensor]) -> usize {
    let mut extent: HashMap<usize, usize> = HashMap::new();
    let mut note = |t: &Tensor| {
        let (storage, layout) = t.storage_and_layout();
        let key = std::ptr::from_ref::<Storage>(&storage).addr();
        drop(storage);
        let elems = if t.elem_count() == 0 {
            0
        } else {
            let last: usize = layout
                .dims()
                .iter()
                .zip(layout.stride())
                .map(|(d, s)| (d - 1) * s)
                .sum();
            layout.start_offset() + last + 1
        };
        let bytes = extent.entry(key).or_insert(0);
        *bytes = (*bytes).max(elems * t.dtype().size_in_bytes());
    };
    let mut seen = HashSet::new();
    for root in roots {
        note(root);
        for node in root.sorted_nodes() {
            if seen.insert(node.id()) {
                note(node);
            }
        }
    }
    extent.values().sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_bytes_counts_each_storage_of_the_graph_once() -> Result<()> {
        let x = Var::new(&[1.0f64, 2.0, 3.0, 4.0], &Device::Cpu)?;
        let y = x.as_tensor().affine(2.0, 0.0)?.exp()?;
        // x, 2x and exp(2x): three storages of 4 f64.
        assert_eq!(held_bytes(std::slice::from_ref(&y)), 3 * 32);
        // Views share their source's storage: a reshape, a broadcast (stride 0) add nothing.
        let views = [y.reshape((2, 2))?, y.broadcast_as((5, 4))?, y.clone()];
        assert_eq!(held_bytes(&views), 3 * 32);
        // A constant input is not counted, the result that depends on x is; a constant root is.
        let c = Tensor::ones(4, DType::F64, &Device::Cpu)?;
        let z = (&y + &c)?;
        assert_eq!(held_bytes(std::slice::from_ref(&z)), 4 * 32);
        assert_eq!(held_bytes(std::slice::from_ref(&c)), 32);
        // Negative control: a detached result holds only itself.
        assert_eq!(held_bytes(&[z.detach()]), 32);
        Ok(())
    }

    #[test]
    fn probe_passes_once_enabled() -> Result<()> {
        ensure_second_order()?;
        assert!(second_order_works()?);
        Ok(())
    }

    #[test]
    fn grad_through_keeps_dependence_on_upstream_leaf() -> Result<()> {
        // x = t², f(x) = x³  ⇒ ∂f/∂x = 3x² = 3t⁴; d/dt of that = 12 t³ = 96 at t = 2.
        ensure_second_order()?;
        let t = Var::new(&[2.0f64], &Device::Cpu)?;
        let x = ParamList::single(t.as_tensor().sqr()?);
        let (_, g) = grad_through(|x| Ok(x.tensors()[0].powf(3.0)?.sum_all()?), &x)?;
        assert_eq!(g.to_vec()?, vec![48.0]);
        let g2 = g.tensors()[0].sum_all()?.backward()?;
        let d = g2
            .get(t.as_tensor())
            .map(|t| t.to_vec1::<f64>())
            .transpose()?;
        assert_eq!(d, Some(vec![96.0]));
        Ok(())
    }
}
