#!/usr/bin/env python3
"""JAX twin of the engine's four reference cases (the `engine` section of reports/perf.json).

The same computations as ufom's oracles, in f32 on the CPU, jit-compiled:

* one inner gradient dL_in/dphi, and
* one HVP pair [(d2L_in/dtheta dphi)^T v, grad2_phi L_in v] by forward-over-reverse
  (jax.jvp of jax.grad along the tangent (0, v)), JAX's recommended HVP.

Models (the losses of hypergrad/src/problems/):

* ``mlp`` (mlp.rs): L_in(theta, phi) = (1/n) sum_i sigmoid(theta_i) CE(g(phi, X_i), Y_i) with
  g = relu(X W1 + b1) W2 + b2 and phi = (W1, b1, W2, b2).
* ``conv`` (convnet.rs, maml.rs): L_in(theta, phi) = mean CE of the few-shot conv net on the
  support images (MAML: L_in does not depend on theta, so the mixed term is zero). Each block:
  3x3 conv, stride 2, TF 'same' padding, no bias -> batch norm with the batch's own statistics
  over (N, H, W), biased variance, eps 1e-3, scale gamma and shift beta -> relu; NHWC (inputs
  arrive NCHW and are transposed inside the computation, as in ufom), then flatten -> dense.
  phi = [kernel (3, 3, c_in, f), gamma (f), beta (f)] per block, then [W, b].

It computes on ufom's own inputs: the Rust driver (benches/benches/perf_jax.rs) writes each
case's tensors to a safetensors file -- theta.0.., phi.0.., v.0.. (v: ufom's gradient), x, y --
and the twin writes what it computed -- gradient.i, hvp_theta.i, hvp_phi.i -- to another, which
the driver compares with ufom's oracles before it reports any ratio.

Protocol (``--serve``, the default): one JSON object per line on stdin, one answer per line on
stdout. First line out: {"ready": true, "jax": ..., "python": ...}. Commands:

  {"cmd": "load", "model": "mlp"|"conv", "inputs": PATH, "outputs": PATH}
      -> {"ok": true, "compile_s": ...}   (compiles both functions, writes their values)
  {"cmd": "time", "reps": N, "warm_up": W}
      -> {"ok": true, "gradient_ms": median, "hvp_ms": median}
  {"cmd": "quit"}

One-shot: ``jax_twin.py --model mlp --inputs IN --outputs OUT --reps 10`` prints one JSON line.
Needs jax, numpy and safetensors (benches/reference/requirements.txt).
"""

import argparse
import json
import os
import platform
import sys
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from safetensors.numpy import load_file, save_file  # noqa: E402

BN_EPS = 1e-3


def cross_entropy_per_example(logits, y):
    """-sum_c y_c log softmax(logits)_c (max-shifted, as hypergrad::nn::log_softmax)."""
    return -jnp.sum(jax.nn.log_softmax(logits, axis=-1) * y, axis=-1)


def mlp_inner_loss(theta, phi, x, y):
    (w,) = theta
    w1, b1, w2, b2 = phi
    logits = jax.nn.relu(x @ w1 + b1) @ w2 + b2
    ce = cross_entropy_per_example(logits, y)
    return jnp.sum(ce * jax.nn.sigmoid(w)) / ce.shape[0]


def conv_same_stride2(x, kernel):
    """3x3 conv, stride 2, TF 'same' padding (XLA's 'SAME' is TF's), NHWC x, HWIO kernel."""
    return jax.lax.conv_general_dilated(
        x, kernel, window_strides=(2, 2), padding="SAME",
        dimension_numbers=("NHWC", "HWIO", "NHWC"))


def batch_norm(x, gamma, beta):
    mu = jnp.mean(x, axis=(0, 1, 2), keepdims=True)
    centred = x - mu
    var = jnp.mean(centred * centred, axis=(0, 1, 2), keepdims=True)
    return centred / jnp.sqrt(var + BN_EPS) * gamma + beta


def conv_inner_loss(theta, phi, x, y):
    del theta  # MAML: L_in depends on phi only
    layers = (len(phi) - 2) // 3
    out = jnp.transpose(x, (0, 2, 3, 1))
    for l in range(layers):
        kernel, gamma, beta = phi[3 * l: 3 * l + 3]
        out = jax.nn.relu(batch_norm(conv_same_stride2(out, kernel), gamma, beta))
    w, b = phi[-2:]
    logits = out.reshape(out.shape[0], -1) @ w + b
    return jnp.mean(cross_entropy_per_example(logits, y))


MODELS = {"mlp": mlp_inner_loss, "conv": conv_inner_loss}


def oracles(loss):
    """(gradient, hvp), jitted: dL/dphi, and the HVP pair by forward-over-reverse."""
    grad_phi = jax.grad(loss, argnums=1)
    grad_both = jax.grad(loss, argnums=(0, 1))

    def hvp(theta, phi, x, y, v):
        zeros = [jnp.zeros_like(t) for t in theta]
        _, (h_theta, h_phi) = jax.jvp(
            lambda th, ph: grad_both(th, ph, x, y), (theta, phi), (zeros, v))
        return h_theta, h_phi

    return jax.jit(grad_phi), jax.jit(hvp)


def listed(tensors, prefix):
    out, i = [], 0
    while f"{prefix}.{i}" in tensors:
        out.append(jnp.asarray(tensors[f"{prefix}.{i}"], dtype=jnp.float32))
        i += 1
    if not out:
        raise ValueError(f"no {prefix}.0 in the inputs")
    return out


class Case:
    def __init__(self, model, inputs):
        if model not in MODELS:
            raise ValueError(f"unknown model {model!r} (known: {sorted(MODELS)})")
        t = load_file(inputs)
        self.theta, self.phi, self.v = listed(t, "theta"), listed(t, "phi"), listed(t, "v")
        self.x = jnp.asarray(t["x"], dtype=jnp.float32)
        self.y = jnp.asarray(t["y"], dtype=jnp.float32)
        self.grad, self.hvp = oracles(MODELS[model])

    def gradient(self):
        return self.grad(self.theta, self.phi, self.x, self.y)

    def hvp_pair(self):
        return self.hvp(self.theta, self.phi, self.x, self.y, self.v)

    def compile_and_write(self, outputs):
        start = time.perf_counter()
        g = jax.block_until_ready(self.gradient())
        h_theta, h_phi = jax.block_until_ready(self.hvp_pair())
        compile_s = time.perf_counter() - start
        out = {}
        for name, ts in (("gradient", g), ("hvp_theta", h_theta), ("hvp_phi", h_phi)):
            for i, t in enumerate(ts):
                out[f"{name}.{i}"] = np.ascontiguousarray(np.asarray(t, dtype=np.float32))
        save_file(out, outputs)
        return compile_s

    def time(self, reps, warm_up):
        return {"gradient_ms": median_ms(self.gradient, reps, warm_up),
                "hvp_ms": median_ms(self.hvp_pair, reps, warm_up)}


def median_ms(f, reps, warm_up):
    if reps < 1:
        raise ValueError("reps must be at least 1")
    for _ in range(warm_up):
        jax.block_until_ready(f())
    ms = []
    for _ in range(reps):
        start = time.perf_counter()
        jax.block_until_ready(f())
        ms.append((time.perf_counter() - start) * 1e3)
    return float(np.median(ms))


def versions():
    import jaxlib
    import safetensors
    return {"jax": jax.__version__, "jaxlib": jaxlib.__version__, "numpy": np.__version__,
            "safetensors": safetensors.__version__, "python": platform.python_version(),
            "devices": [str(d) for d in jax.devices()], "x64": bool(jax.config.jax_enable_x64)}


def serve():
    print(json.dumps({"ready": True, **versions()}), flush=True)
    case = None
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            cmd = json.loads(line)
            if cmd["cmd"] == "quit":
                break
            if cmd["cmd"] == "load":
                case = None
                case = Case(cmd["model"], cmd["inputs"])
                answer = {"compile_s": case.compile_and_write(cmd["outputs"])}
            elif cmd["cmd"] == "time":
                if case is None:
                    raise ValueError("time before load")
                answer = case.time(int(cmd["reps"]), int(cmd.get("warm_up", 2)))
            else:
                raise ValueError(f"unknown command {cmd['cmd']!r}")
            print(json.dumps({"ok": True, **answer}), flush=True)
        except Exception as e:  # report and keep serving; the driver decides
            print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"}), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", choices=sorted(MODELS))
    ap.add_argument("--inputs")
    ap.add_argument("--outputs")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--warm-up", type=int, default=2)
    args = ap.parse_args()
    if args.model is None:
        serve()
        return
    if not (args.inputs and args.outputs):
        ap.error("--model needs --inputs and --outputs")
    case = Case(args.model, args.inputs)
    compile_s = case.compile_and_write(args.outputs)
    print(json.dumps({**versions(), "compile_s": compile_s,
                      **case.time(args.reps, args.warm_up)}))


if __name__ == "__main__":
    main()
