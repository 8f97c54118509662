"""Lower a traced JAX function (its jaxpr) to an ONNX graph: jaxsr's own converter, needing only `onnx`.

Why not a general converter: `jax2onnx` converts this model correctly (checked with 0.17.1: dynamic batch
and time, 1e-7 against JAX), but every release since 0.14 pins `orbax-checkpoint<0.11.37` while jaxsr
needs `>=0.12.8`, so pip cannot install both; 0.13.x, the last without the pin, fails on jax 0.10's
`leaky_relu`. It also pulls in some 25 packages (equinox, dm-pix, huggingface-hub, netron, orbax-export).
tf2onnx needs TensorFlow and jax2tf; torch.onnx would need a second copy of the model. The AudioUNet's
eval-mode forward uses a dozen primitives, so a lowering of exactly those is short, and it works on
the jaxpr JAX traces from `jaxsr.models.AudioUNet` itself, so it can never drift from the model code.

What it does:

- Every equation whose inputs are all known at export time (the parameters, BatchNorm's statistics,
  literals) is evaluated with JAX and becomes a constant: eval-mode BatchNorm folds into one scale and
  one shift, a conv's bias reshape disappears. Dropout in eval mode is not in the jaxpr at all.
- Calls (`jit`, `custom_jvp_call`, ...) are inlined; the ones JAX names `relu` and `leaky_relu` become
  ONNX `Relu` / `LeakyRelu` (one fused kernel instead of compare + multiply + select).
- Layouts are tracked lazily: ONNX convolutions are channels-first (`[batch, channels, time]`) and
  jaxsr's tensors channels-last (`[batch, time, channels]`), so each value remembers how its stored
  layout is permuted from its logical one, and a `Transpose` is emitted only where an op needs another
  layout (a reshape, a concat of differently laid-out inputs, the graph output). Elementwise ops and
  consecutive convolutions run in whatever layout their inputs already have.
- A per-channel constant added right after a convolution becomes that `Conv`'s bias input.
- Symbolic dimensions (`jax.export.symbolic_shape`) become ONNX `dim_param`s; a reshape with symbolic
  sizes is written with ONNX's `0` (copy this input dimension) and `-1` (infer one dimension).

Anything else raises NotImplementedError naming the primitive; export with fixed chunk lengths does not
help there, since it is the primitive, not the shape, that is missing.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import jax
import jax.extend.core as jex
import numpy as np
import onnx
from onnx import helper, numpy_helper

OPSET = (
    17  # read by ONNX Runtime >= 1.13 and every OpenVINO since 2022; all ops used here exist in it
)
IR_VERSION = 8  # the IR version that goes with opset 17, so that older runtimes read the file too

_BINARY = {
    "add": "Add",
    "sub": "Sub",
    "mul": "Mul",
    "div": "Div",
    "max": "Max",
    "min": "Min",
    "pow": "Pow",
    "gt": "Greater",
    "lt": "Less",
    "ge": "GreaterOrEqual",
    "le": "LessOrEqual",
    "eq": "Equal",
    "and": "And",
    "or": "Or",
}
_UNARY = {
    "neg": "Neg",
    "exp": "Exp",
    "log": "Log",
    "tanh": "Tanh",
    "logistic": "Sigmoid",
    "sqrt": "Sqrt",
    "abs": "Abs",
    "sign": "Sign",
    "floor": "Floor",
    "ceil": "Ceil",
    "erf": "Erf",
    "not": "Not",
}
_CALLS = (
    "jit",
    "pjit",
    "closed_call",
    "core_call",
    "custom_jvp_call",
    "custom_vjp_call",
    "custom_vjp_call_jaxpr",
    "checkpoint",
    "remat",
)
_OTHER = (
    "conv_general_dilated",
    "reshape",
    "squeeze",
    "expand_dims",
    "broadcast_in_dim",
    "concatenate",
    "transpose",
    "convert_element_type",
    "select_n",
    "integer_pow",
    "rsqrt",
    "copy",
    "copy_p",
    "ne",
)
SUPPORTED = tuple(sorted(set(_BINARY) | set(_UNARY) | set(_CALLS) | set(_OTHER)))


@dataclasses.dataclass(frozen=True)
class _Value:
    """A tensor computed at run time: ONNX value `name`, stored as `transpose(logical, perm)`."""

    name: str
    perm: tuple[int, ...]


def _is_static(d: Any) -> bool:
    return isinstance(d, (int, np.integer))


def _onnx_dtype(dtype: Any) -> int:
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def _identity(rank: int) -> tuple[int, ...]:
    return tuple(range(rank))


def _sub_jaxpr(eqn: Any) -> tuple[Any, list]:
    """The jaxpr a call-like equation runs, and its constants."""
    for key in ("jaxpr", "call_jaxpr", "fun_jaxpr"):
        sub = eqn.params.get(key)
        if sub is not None:
            if hasattr(sub, "consts"):  # a ClosedJaxpr
                return sub.jaxpr, list(sub.consts)
            return sub, []
    raise NotImplementedError(
        f"ONNX export: call primitive '{eqn.primitive.name}' carries no jaxpr to inline"
    )


class _Lowering:
    def __init__(self, dim_names: dict):
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0
        self._small: dict[tuple, str] = {}  # deduplicated small constants (literals)
        self._transposed: dict[tuple[str, tuple[int, ...]], str] = {}
        # Conv outputs not yet given a bias: output name -> (node, stored channel axis, jaxpr var).
        self._conv_without_bias: dict[str, tuple[onnx.NodeProto, int, Any]] = {}
        self.dim_names = dim_names  # symbolic dimension expression (str) -> ONNX dim_param

    # ------------------------------------------------------------------------------------ helpers
    def fresh(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def node(self, op: str, inputs: Sequence[str], hint: str | None = None, **attrs) -> str:
        out = self.fresh(hint or op.lower())
        self.nodes.append(
            helper.make_node(op, list(inputs), [out], name=self.fresh("n_" + op), **attrs)
        )
        return out

    def const(self, array: Any, hint: str = "c") -> str:
        a = np.asarray(array)
        key = None
        if a.size <= 16:  # literals (0.0, a slope) recur: store each once
            key = (a.dtype.str, a.shape, a.tobytes())
            if key in self._small:
                return self._small[key]
        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(a), name))
        if key is not None:
            self._small[key] = name
        return name

    def in_layout(self, v: _Value, perm: Sequence[int]) -> str:
        """`v` stored as `transpose(logical, perm)`: a Transpose from its current layout, or none."""
        perm = tuple(perm)
        if v.perm == perm:
            return v.name
        key = (v.name, perm)
        if key not in self._transposed:
            self._transposed[key] = self.node(
                "Transpose", [v.name], perm=[v.perm.index(p) for p in perm]
            )
        return self._transposed[key]

    def operand(self, x: Any, perm: Sequence[int], rank: int) -> str:
        """An elementwise operand (constant or `_Value`) laid out as `perm` for an output of `rank`."""
        if isinstance(x, _Value):
            return self.in_layout(x, perm)
        a = np.asarray(x)
        if a.ndim == rank and rank > 0:
            a = np.transpose(a, perm)
        elif a.ndim not in (0, rank):
            raise NotImplementedError(
                f"ONNX export: operand of rank {a.ndim} in a rank-{rank} elementwise op"
            )
        return self.const(a)

    def dim_name(self, d: Any) -> str:
        return self.dim_names.get(str(d), str(d))

    # ------------------------------------------------------------------------------------ the walk
    def run(self, jaxpr: Any, consts: Sequence[Any], args: Sequence[Any]) -> list:
        env: dict = {}

        def read(v: Any) -> Any:
            if isinstance(v, jex.Literal):
                return np.asarray(v.val, dtype=v.aval.dtype)
            return env[v]

        uses: dict = {}
        for e in jaxpr.eqns:
            for v in e.invars:
                if not isinstance(v, jex.Literal):
                    uses[v] = uses.get(v, 0) + 1
        for v in jaxpr.outvars:
            if not isinstance(v, jex.Literal):
                uses[v] = uses.get(v, 0) + 1

        for v, c in zip(jaxpr.constvars, consts):
            env[v] = np.asarray(c)
        for v, a in zip(jaxpr.invars, args):
            env[v] = a
        for eqn in jaxpr.eqns:
            ins = [read(v) for v in eqn.invars]
            if not any(isinstance(x, _Value) for x in ins):
                outs = self.fold(eqn, ins)
            else:
                outs = self.lower(eqn, ins, uses)
            for v, o in zip(eqn.outvars, outs):
                env[v] = o
        return [read(v) for v in jaxpr.outvars]

    def fold(self, eqn: Any, ins: list) -> list:
        """Evaluate an equation whose inputs are all constants (parameters, statistics, literals): as a
        one-equation jaxpr, through the public `jax.core.eval_jaxpr`."""
        invars = list(dict.fromkeys(v for v in eqn.invars if not isinstance(v, jex.Literal)))
        debug = jex.DebugInfo(
            "jaxsr ONNX constant folding",
            eqn.primitive.name,
            tuple(str(v) for v in invars),
            tuple(str(v) for v in eqn.outvars),
        )
        sub = jex.Jaxpr(
            constvars=[],
            invars=invars,
            outvars=list(eqn.outvars),
            eqns=[eqn],
            effects=eqn.effects,
            debug_info=debug,
        )
        values = {v: x for v, x in zip(eqn.invars, ins) if not isinstance(v, jex.Literal)}
        return [np.asarray(o) for o in jax.core.eval_jaxpr(sub, [], *[values[v] for v in invars])]

    def lower(self, eqn: Any, ins: list, uses: dict) -> list:
        name = eqn.primitive.name
        out_aval = eqn.outvars[0].aval
        rank = len(out_aval.shape)

        if name in _CALLS:
            fused = self.named_activation(eqn, ins)
            if fused is not None:
                return [fused]
            sub, consts = _sub_jaxpr(eqn)
            return self.run(sub, consts, ins)

        if name in _BINARY or name == "ne":
            perm = next(x.perm for x in ins if isinstance(x, _Value) and len(x.perm) == rank)
            if name == "add" and (bias := self.conv_bias(ins, uses, eqn)) is not None:
                return [bias]
            a, b = (self.operand(x, perm, rank) for x in ins)
            if name == "ne":
                return [_Value(self.node("Not", [self.node("Equal", [a, b])]), perm)]
            return [_Value(self.node(_BINARY[name], [a, b]), perm)]

        if name in _UNARY or name in ("rsqrt", "copy", "copy_p"):
            (x,) = ins
            if name in ("copy", "copy_p"):
                return [x]
            if name == "rsqrt":
                return [_Value(self.node("Reciprocal", [self.node("Sqrt", [x.name])]), x.perm)]
            return [_Value(self.node(_UNARY[name], [x.name]), x.perm)]

        if name == "integer_pow":
            (x,) = ins
            y = int(eqn.params["y"])
            if y == 2:
                return [_Value(self.node("Mul", [x.name, x.name]), x.perm)]
            exponent = self.const(np.asarray(y, dtype=out_aval.dtype))
            return [_Value(self.node("Pow", [x.name, exponent]), x.perm)]

        if name == "convert_element_type":
            (x,) = ins
            if np.dtype(eqn.invars[0].aval.dtype) == np.dtype(out_aval.dtype):
                return [x]
            return [_Value(self.node("Cast", [x.name], to=_onnx_dtype(out_aval.dtype)), x.perm)]

        if name == "select_n":
            pred, *cases = ins
            if len(cases) != 2 or np.dtype(eqn.invars[0].aval.dtype) != np.bool_:
                raise NotImplementedError(
                    "ONNX export: select_n is supported with a boolean predicate and two cases"
                )
            perm = next(x.perm for x in ins if isinstance(x, _Value) and len(x.perm) == rank)
            p, c0, c1 = (self.operand(x, perm, rank) for x in (pred, *cases))
            return [_Value(self.node("Where", [p, c1, c0]), perm)]  # select_n picks cases[pred]

        if name == "transpose":
            # Free: only the bookkeeping of the stored layout changes. Logical output axis i is input
            # axis q[i]; stored axis j holds input axis p[j], i.e. output axis q.index(p[j]).
            (x,) = ins
            q = tuple(eqn.params["permutation"])
            return [_Value(x.name, tuple(q.index(p) for p in x.perm))]

        if name in ("reshape", "squeeze", "expand_dims"):
            (x,) = ins
            return [self.reshape(x, eqn.invars[0].aval.shape, out_aval.shape)]

        if name == "broadcast_in_dim":
            return [self.broadcast(ins[0], eqn)]

        if name == "concatenate":
            # The layout most inputs already have; on a tie a channels-first one, which the next conv
            # wants (in the U-Net's up blocks: the shuffled output is logical, the skip channels-first).
            perms = [x.perm for x in ins if isinstance(x, _Value)]
            perm = max(perms, key=lambda q: (perms.count(q), q != _identity(rank)))
            names = [self.operand(x, perm, rank) for x in ins]
            return [
                _Value(
                    self.node("Concat", names, axis=perm.index(int(eqn.params["dimension"]))), perm
                )
            ]

        if name == "conv_general_dilated":
            return [self.conv(eqn, *ins)]

        raise NotImplementedError(
            f"ONNX export: JAX primitive '{name}' is not supported by jaxsr's ONNX lowering "
            f"(it covers the AudioUNet's eval-mode forward: {', '.join(SUPPORTED)})"
        )

    # ------------------------------------------------------------------------------------ op by op
    def named_activation(self, eqn: Any, ins: list) -> _Value | None:
        """`jax.nn.relu` / `jax.nn.leaky_relu` calls as one ONNX op (their jaxprs are max / compare+select)."""
        fname = eqn.params.get("name")
        if fname == "relu" and len(ins) == 1 and isinstance(ins[0], _Value):
            return _Value(self.node("Relu", [ins[0].name]), ins[0].perm)
        if (
            fname == "leaky_relu"
            and len(ins) == 2
            and isinstance(ins[0], _Value)
            and not isinstance(ins[1], _Value)
            and np.ndim(ins[1]) == 0
        ):
            return _Value(self.node("LeakyRelu", [ins[0].name], alpha=float(ins[1])), ins[0].perm)
        return None

    def conv_bias(self, ins: list, uses: dict, eqn: Any) -> _Value | None:
        """`conv(x) + b` with `b` per channel (and the conv used nowhere else): b becomes the Conv's bias."""
        for i, j in ((0, 1), (1, 0)):
            x, b = ins[i], ins[j]
            if not (isinstance(x, _Value) and x.name in self._conv_without_bias) or isinstance(
                b, _Value
            ):
                continue
            node, channel_axis, var = self._conv_without_bias[x.name]
            b = np.asarray(b)
            if uses.get(var, 0) != 1 or b.ndim != len(x.perm) or b.shape[channel_axis] != b.size:
                continue
            if np.dtype(b.dtype) != np.dtype(eqn.outvars[0].aval.dtype):
                continue
            node.input.append(self.const(b.reshape(-1), "bias"))
            del self._conv_without_bias[x.name]
            return x
        return None

    def conv(self, eqn: Any, lhs: Any, rhs: Any) -> _Value:
        p = eqn.params
        dn = p["dimension_numbers"]
        lhs_spec, rhs_spec, out_spec = tuple(dn.lhs_spec), tuple(dn.rhs_spec), tuple(dn.out_spec)
        if any(d != 1 for d in p["lhs_dilation"]) or p["batch_group_count"] != 1:
            raise NotImplementedError(
                "ONNX export: transposed (lhs-dilated) or batch-grouped convolutions"
            )
        pads = p["padding"]
        if not all(_is_static(a) and _is_static(b) for a, b in pads):
            raise NotImplementedError(
                "ONNX export: convolution padding depends on a symbolic length; "
                "export with fixed chunk_lengths"
            )
        if any(a < 0 or b < 0 for a, b in pads):
            raise NotImplementedError("ONNX export: negative convolution padding")
        if not isinstance(lhs, _Value):
            raise NotImplementedError("ONNX export: a convolution of a constant input")
        # ONNX wants x as [N, C, spatial...] and W as [O, I/groups, spatial...]: exactly the specs' orders.
        x = self.in_layout(lhs, lhs_spec)
        w = (
            self.in_layout(rhs, rhs_spec)
            if isinstance(rhs, _Value)
            else self.const(np.transpose(rhs, rhs_spec), "w")
        )
        k = list(eqn.invars[1].aval.shape[i] for i in rhs_spec[2:])
        out = self.node(
            "Conv",
            [x, w],
            kernel_shape=[int(v) for v in k],
            strides=[int(s) for s in p["window_strides"]],
            dilations=[int(d) for d in p["rhs_dilation"]],
            pads=[int(a) for a, _ in pads] + [int(b) for _, b in pads],
            group=int(p["feature_group_count"]),
        )
        self._conv_without_bias[out] = (self.nodes[-1], out_spec[1], eqn.outvars[0])
        return _Value(out, out_spec)

    def reshape(self, x: _Value, in_shape: Sequence[Any], out_shape: Sequence[Any]) -> _Value:
        """ONNX Reshape in the logical layout; symbolic sizes as 0 (same as input dim i) or one -1."""
        spec, inferred = [], 0
        for i, d in enumerate(out_shape):
            if _is_static(d):
                spec.append(int(d))
            elif i < len(in_shape) and not _is_static(in_shape[i]) and d == in_shape[i]:
                spec.append(0)
            else:
                spec.append(-1)
                inferred += 1
        if inferred > 1:
            raise NotImplementedError(
                f"ONNX export: reshape {tuple(in_shape)} -> {tuple(out_shape)} has more than "
                "one new symbolic size; export with fixed chunk_lengths"
            )
        src = self.in_layout(x, _identity(len(in_shape)))
        out = self.node("Reshape", [src, self.const(np.asarray(spec, np.int64), "shape")])
        return _Value(out, _identity(len(out_shape)))

    def broadcast(self, x: Any, eqn: Any) -> _Value:
        """`broadcast_in_dim` of a run-time tensor: Unsqueeze the new axes, Expand only if a size grows."""
        shape, dims = tuple(eqn.params["shape"]), tuple(eqn.params["broadcast_dimensions"])
        in_shape = tuple(eqn.invars[0].aval.shape)
        src = self.in_layout(x, _identity(len(in_shape)))
        missing = [i for i in range(len(shape)) if i not in dims]
        if missing:
            src = self.node("Unsqueeze", [src, self.const(np.asarray(missing, np.int64), "axes")])
        have = [in_shape[dims.index(i)] if i in dims else 1 for i in range(len(shape))]
        if any(not (h == s) for h, s in zip(have, shape)):
            if not all(_is_static(d) for d in shape):
                raise NotImplementedError(
                    "ONNX export: broadcast of a run-time tensor to a symbolic shape"
                )
            src = self.node("Expand", [src, self.const(np.asarray(shape, np.int64), "shape")])
        return _Value(src, _identity(len(shape)))


def lower_to_onnx(
    closed_jaxpr: Any,
    *,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dim_names: dict | None = None,
    graph_name: str = "jaxsr",
    doc: str = "",
    metadata: dict | None = None,
) -> onnx.ModelProto:
    """An ONNX model computing `closed_jaxpr` (from `jax.make_jaxpr`; constants are baked in).

    `dim_names` maps a symbolic dimension's expression (`str(dim)`, e.g. "b" or "8*t") to the
    `dim_param` name the ONNX inputs and outputs show (e.g. "batch", "time"); `metadata` becomes the
    model's metadata_props (strings). Inputs and outputs keep the layout and dtypes of the jaxpr's.
    """
    jaxpr = closed_jaxpr.jaxpr
    low = _Lowering(dict(dim_names or {}))

    def value_info(name: str, aval: Any) -> onnx.ValueInfoProto:
        dims = [int(d) if _is_static(d) else low.dim_name(d) for d in aval.shape]
        return helper.make_tensor_value_info(name, _onnx_dtype(aval.dtype), dims)

    args = [_Value(n, _identity(len(v.aval.shape))) for n, v in zip(input_names, jaxpr.invars)]
    outs = low.run(jaxpr, closed_jaxpr.consts, args)
    for name, out, var in zip(output_names, outs, jaxpr.outvars):
        src = (
            low.in_layout(out, _identity(len(var.aval.shape)))
            if isinstance(out, _Value)
            else low.const(out)
        )
        low.nodes.append(helper.make_node("Identity", [src], [name], name=low.fresh("n_output")))
    graph = helper.make_graph(
        low.nodes,
        graph_name,
        [value_info(n, v.aval) for n, v in zip(input_names, jaxpr.invars)],
        [value_info(n, v.aval) for n, v in zip(output_names, jaxpr.outvars)],
        initializer=low.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="jaxsr",
        doc_string=doc,
        ir_version=IR_VERSION,
    )
    for k, v in (metadata or {}).items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=str(k), value=str(v)))
    return model


__all__ = ["lower_to_onnx", "OPSET", "SUPPORTED"]
