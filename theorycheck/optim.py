"""AM1-SGD and AM2-SGD as ``torch.optim`` optimizers (THEORY §3.3–3.7; [ZJDC] Alg. 4, Alg. 5, App. A.1, A.6).

Conventions follow ``torch.optim.SGD``: the learning rate multiplies the whole update of the step in which it is
used, and the buffers hold gradient-scale quantities (sums of gradients), never positions. Per parameter tensor
``x`` with gradient ``g`` (after weight decay ``g <- g + wd * x``), ``lr`` and ``momentum`` (= beta) read from the
group at every step:

AM1SGD — Algorithm 5 of [ZJDC] (= Algorithm 2) with the offsets divided by the learning rate::

    init:  q <- 0 ;  t <- 0 ;  a <- 0 ;  k <- 0   # xt = x + lr * (q + beta * t)
    step:  i <- k mod m                           # steps already taken in the current epoch
           a <- a + i * g ;  q <- q + g ;  k <- k + 1
           if k mod m == 0:                       # amortized momentum, once every m steps
               t <- beta * t + q - a / m
               x <- x - lr * (g + beta * t)
               q <- a / m ;  a <- 0
           else:
               x <- x - lr * g
    output: Option I: x (the parameters) ;  Option II: xt = x + lr * (q + beta * t)

AM2SGD — Algorithm 4 of [ZJDC] with the point table stored as offsets: ``phi[i] = x + lr * (T[i] - c)``,
``phibar = x + lr * (b - c)`` (T of shape ``(m, *x.shape)``; c a shift shared by all entries; one index ``j``
per parameter group)::

    init:  T[i] <- 0 for all i ;  c <- 0 ;  b <- 0 (Option II) ;  j <- randint(m) ;  k <- 0
    step:  j' <- randint(m)
           if j' != j:  u <- g + beta * (T[j] - T[j'])
           else:        u <- g + beta * (T[j] - c + g)       # phi[j'] is the entry just written
           b <- b - (T[j] - c + g) / m                       (Option II only)
           T[j] <- c - g ;  c <- c - u
           x <- x - lr * u
           j <- j' ;  k <- k + 1
           if k mod m == 0:  T <- T - c ;  b <- b - c ;  c <- 0   # re-base (O(m n) once every m steps)
    output: Option I: x (unstable, not recommended by the paper) ;  Option II: phibar = x + lr * (b - c)

At a constant ``lr`` these are exactly Algorithms 5 and 4 (positions = x + lr * offsets; tested against the
position-form references and the batched engine to 1e-12). Under a changing ``lr`` the pending momentum is
scaled by the *current* lr, as in torch's SGD, and the Option II point ``xt`` / ``phibar`` is read with the
group's current lr. With ``m = 1`` both are ``torch.optim.SGD(lr, momentum, nesterov=True)`` step for step under
any lr schedule (Option I; Option II outputs the "y" sequence of OM-SGD): t = buf, T[0] = beta * buf. AM1SGD
reads ``momentum`` when it applies it, so it also follows torch under momentum schedules (OneCycleLR's
``cycle_momentum``); AM2SGD applies beta when it writes the table, so a changed momentum takes effect one step
later than in torch (m = 1: buf_k = beta_{k-1} buf_{k-1} + g_k instead of beta_k buf_{k-1} + g_k).

Numerics: the parameters are changed once per step, by ``lr * u`` with ``u`` gradient-scale, as in torch's SGD;
state never holds positions, so float32 parameters far from 0 lose no more accuracy than with torch's SGD.
``m`` and ``option`` are fixed until :meth:`restart`. Complex parameters are handled as pairs of reals (every
operation is real-linear), which is what torch's SGD does (``torch.view_as_real``).

Option II is exposed as the paper did (App. A.1): the parameters are temporarily replaced by the output point,
``with opt.evaluation_params(): evaluate(model)``; with ``option="I"`` this is a no-op.

Randomness of AM2SGD: ``j_k`` is drawn as ``torch.randint(m, (1,), generator=opt.generator)``, one draw per
parameter group and step in group order, the first (``j_0``) at the group's first step. The generator state is
part of ``state_dict()``, so a saved and reloaded run continues with the same indices. Alternatively the index
sequence can be injected: ``AM2SGD(..., index_fn=f)`` takes ``j_k = f(k)``, k counting the group's steps since
its (re)start (j_0 = f(0) at the first step, j_{k+1} = f(k + 1) at step k). :func:`rng_index_fn` gives the
sequence the batched engine (``theorycheck.algorithms.AM2Momentum``) uses for one replica's seed.

Copies: ``copy.deepcopy`` and pickling keep everything (state, generator, ``index_fn``) and continue
bit-identically; pickling an optimizer whose ``index_fn`` cannot be pickled (a lambda, a closure) raises
``pickle.PicklingError`` naming it (:func:`rng_index_fn` returns a picklable object).
"""
from __future__ import annotations

import contextlib
import copy
import math
import numbers
import pickle

import torch
from torch.optim import Optimizer

from . import rng

__all__ = ["AM1SGD", "AM2SGD", "rng_index_fn", "RngIndex"]

# Param-group keys besides the hyper-parameters: torch's own bookkeeping and what torch's LR/momentum schedulers
# write into groups (so a group saved with a scheduler can be re-added). Anything else is refused.
_BOOKKEEPING_KEYS = frozenset({"params", "param_names", "initial_lr", "base_lr", "max_lr", "min_lr",
                               "base_momentum", "max_momentum"})
_HYPER_KEYS = ("lr", "momentum", "m", "option", "weight_decay", "foreach")


class RngIndex:
    """The engine's AM2 index sequence for one replica, ``k -> rng.integers([seed], k, stream, m)`` (picklable);
    build it with :func:`rng_index_fn`."""

    def __init__(self, seed: int, m: int, stream: int = rng.STREAM_INDEX):
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        if isinstance(m, bool) or not isinstance(m, numbers.Integral) or m < 1:
            raise ValueError(f"m must be an integer >= 1, got {m!r}")
        self.seed, self.m, self.stream = int(seed), int(m), int(stream)

    def __call__(self, k: int) -> int:
        seeds = torch.tensor([self.seed], dtype=torch.int64)
        return int(rng.integers(seeds, int(k), self.stream, self.m)[0, 0])

    def __repr__(self):
        return f"rng_index_fn(seed={self.seed}, m={self.m}, stream={self.stream})"


def rng_index_fn(seed: int, m: int, stream: int = rng.STREAM_INDEX) -> RngIndex:
    """The engine's AM2 index sequence for one replica: ``k -> rng.integers([seed], k, stream, m)``, i.e. the j_k
    that :class:`theorycheck.algorithms.AM2Momentum` uses for the replica with this seed. Pass it as
    ``AM2SGD(..., index_fn=rng_index_fn(seed, m))`` to reproduce an engine run step for step. The returned
    callable pickles (so the optimizer does). Raises ValueError for a negative seed or m < 1."""
    return RngIndex(seed, m, stream)


def _validate(lr, momentum, m, option, weight_decay, foreach=None):
    if isinstance(lr, torch.Tensor):
        lr = float(lr)
    if not (isinstance(lr, numbers.Real) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    if not (isinstance(momentum, numbers.Real) and 0.0 <= momentum < 1.0):
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    if isinstance(m, bool) or not isinstance(m, numbers.Integral) or m < 1:
        raise ValueError(f"m (amortization length) must be an integer >= 1, got {m!r}")
    if option not in ("I", "II"):
        raise ValueError(f"option must be 'I' or 'II', got {option!r}")
    if not (isinstance(weight_decay, numbers.Real) and math.isfinite(weight_decay) and weight_decay >= 0):
        raise ValueError(f"weight_decay must be a finite number >= 0, got {weight_decay!r}")
    if foreach not in (None, True, False):
        raise ValueError(f"foreach must be None, True or False, got {foreach!r}")


class _AmortizedBase(Optimizer):
    """Shared machinery: validation, the Option II swap, foreach selection, copying and pickling."""

    def __init__(self, params, lr, momentum, m, option, weight_decay, foreach):
        _validate(lr, momentum, m, option, weight_decay, foreach)
        defaults = dict(lr=lr, momentum=momentum, m=int(m), option=option, weight_decay=weight_decay,
                        foreach=foreach)
        self._swapped = None
        super().__init__(params, defaults)

    def add_param_group(self, param_group):
        """As torch's, after validation: a group key that is neither a hyper-parameter of this optimizer
        (lr, momentum, m, option, weight_decay, foreach) nor torch/scheduler bookkeeping (params, param_names,
        initial_lr, base_lr, max_lr, min_lr, base_momentum, max_momentum) raises ValueError naming it (e.g.
        ``maximize``, ``nesterov``, ``dampening``: not supported). A rejected group leaves the optimizer unchanged."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, got {type(param_group).__name__}")
        unknown = [k for k in param_group if k not in _BOOKKEEPING_KEYS and k not in _HYPER_KEYS
                   and not (k == "differentiable" and param_group[k] is False)]
        if unknown:
            raise ValueError(f"unsupported param-group key(s) {', '.join(map(repr, unknown))} for "
                             f"{type(self).__name__}; allowed: {', '.join(_HYPER_KEYS)} (and torch/scheduler "
                             "bookkeeping: " + ", ".join(sorted(_BOOKKEEPING_KEYS)) + ")")
        eff = {k: param_group.get(k, self.defaults[k]) for k in _HYPER_KEYS}
        _validate(**eff)  # before adding, so a rejected group leaves the optimizer unchanged
        super().add_param_group(param_group)
        self.param_groups[-1]["m"] = int(self.param_groups[-1]["m"])

    # ---- copy / pickle -----------------------------------------------------------------------------
    # torch's Optimizer.__getstate__ keeps only defaults/state/param_groups; ours keeps every attribute that
    # the run depends on (generator state, index_fn), and drops the unsaved scratch buffers.
    _extra_attrs: tuple = ()

    def _full_state(self):
        st = {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups,
              "_swapped": self._swapped}
        for name in self._extra_attrs:
            st[name] = getattr(self, name)
        return st

    def __getstate__(self):
        return self._full_state()

    def __deepcopy__(self, memo):
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        new.__setstate__(copy.deepcopy(self._full_state(), memo))
        return new

    def __setstate__(self, state):
        super().__setstate__(state)
        self.__dict__.setdefault("_swapped", None)
        self.__dict__.setdefault("_scratch", {})

    # ---- Option II output --------------------------------------------------------------------------
    def _output_point(self, p, st, group):  # pragma: no cover - overridden
        raise NotImplementedError

    def swap_to_output(self) -> None:
        """Replace every Option II parameter by its output point (xt for AM1, phibar for AM2); keep x aside.

        The output point is computed with the group's current lr (see the module docstring). Parameters that have
        not been stepped yet are their own output (xt = phibar = x0)."""
        if self._swapped is not None:
            raise RuntimeError("parameters are already swapped to the output point; call swap_back() first")
        saved = []
        with torch.no_grad():
            for group in self.param_groups:
                if group["option"] != "II":
                    continue
                for p in group["params"]:
                    st = self.state.get(p)
                    out = self._output_point(p, st, group) if st else None
                    if out is not None:
                        saved.append((p, p.detach().clone()))
                        p.copy_(out)
        self._swapped = saved

    def swap_back(self) -> None:
        """Undo :meth:`swap_to_output` (restores the parameters bit for bit)."""
        if self._swapped is None:
            raise RuntimeError("swap_back() called without a preceding swap_to_output()")
        with torch.no_grad():
            for p, x in self._swapped:
                p.copy_(x)
        self._swapped = None

    def load_state_dict(self, state_dict):
        """As torch's, but on a deep copy, so the loaded optimizer never shares buffers with the source."""
        self._check_not_swapped("load_state_dict")
        super().load_state_dict(copy.deepcopy(state_dict))

    @contextlib.contextmanager
    def evaluation_params(self):
        """Context manager: inside, the parameters hold the Option II output; restored on exit (even on error)."""
        self.swap_to_output()
        try:
            yield self
        finally:
            self.swap_back()

    # ---- helpers -----------------------------------------------------------------------------------
    def _check_not_swapped(self, what):
        if self._swapped is not None:
            raise RuntimeError(f"{what}() called while the parameters are swapped to the Option II output; "
                               "leave evaluation_params() (or call swap_back()) first")

    @staticmethod
    def _use_foreach(group, params):
        fe = group["foreach"]
        if fe is None:  # same default rule as torch.optim: foreach on accelerators only
            return len(params) > 0 and all(p.device.type != "cpu" for p in params)
        return bool(fe)

    @staticmethod
    def _grads(group, params):
        wd = group["weight_decay"]
        grads = []
        for p in params:
            if p.grad.is_sparse:
                raise RuntimeError("sparse gradients are not supported")
            grads.append(p.grad if wd == 0 else p.grad.add(p, alpha=wd))
        return grads


class AM1SGD(_AmortizedBase):
    r"""AM1-SGD, Algorithm 5 of [ZJDC] (= Algorithm 2) in torch's learning-rate convention.

    Update, per parameter ``x`` with gradient ``g`` (``g <- g + weight_decay * x``), ``beta = momentum``::

        init:  q <- 0 ;  t <- 0 ;  a <- 0 ;  k <- 0
        step:  i <- k mod m ;  a <- a + i * g ;  q <- q + g ;  k <- k + 1
               if k mod m == 0:  t <- beta * t + q - a/m ;  x <- x - lr * (g + beta * t) ;  q <- a/m ;  a <- 0
               else:             x <- x - lr * g
        output: Option I: x ;  Option II: xt = x + lr * (q + beta * t)

    At constant lr and momentum, ``x`` and ``xt`` are those of Algorithm 5 (``o = lr * (a - m (q + beta t))``);
    with m = 1 it is ``torch.optim.SGD(nesterov=True)`` under any lr and momentum schedule (``t = buf``, a is
    not allocated). ``momentum`` is read when it is used (at the amortized-momentum steps and for the output).

    Args:
        params: iterable of parameters or parameter groups (real or complex tensors).
        lr (float): learning rate eta > 0 (read from the group each step; scales the whole update).
        momentum (float): beta in [0, 1) (read from the group at each amortized-momentum step).
        m (int): amortization length >= 1; ``m=1, option="I"`` is SGD with Nesterov momentum.
        option ("I" | "II"): output point; "II" (theory) = xt, shown by :meth:`evaluation_params`.
        weight_decay (float): L2 penalty, ``g <- g + weight_decay * x`` with x the gradient point.
        foreach (bool | None): use the multi-tensor ``torch._foreach_*`` path (None: on non-CPU devices).

    Raises ValueError for an out-of-range hyper-parameter or an unsupported param-group key (named).

    State per parameter: ``q``, ``t`` (gradient-scale: (xt - x) / lr = q + beta t), ``a`` (epoch accumulator,
    m > 1 only), ``step`` (int), ``m`` (int). Memory: 3 gradient-size buffers (2 for m = 1), SGD has 1.
    """

    def __init__(self, params, lr, momentum=0.9, m=5, option="II", weight_decay=0.0, foreach=None):
        super().__init__(params, lr, momentum, m, option, weight_decay, foreach)

    def _init_state(self, p, m):
        st = self.state[p]
        st.clear()
        st["q"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        st["t"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        if m > 1:
            st["a"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        st["step"] = 0
        st["m"] = m
        return st

    def _output_point(self, p, st, group):
        if "q" not in st:  # state of an older (position-form) AM1SGD: step() asks for restart()
            return None
        return p.detach() + float(group["lr"]) * (st["q"] + float(group["momentum"]) * st["t"])

    @torch.no_grad()
    def restart(self) -> None:
        """Re-initialise the amortization from the current x (paper App. A.6): xt <- x (q, t, a <- 0), k <- 0.

        The parameters (the Option I point x) are kept; m is re-read from the group."""
        self._check_not_swapped("restart")
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state and self.state[p]:
                    self._init_state(p, group["m"])

    @torch.no_grad()
    def step(self, closure=None):
        self._check_not_swapped("step")
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            m = group["m"]
            states = []
            for p in params:
                st = self.state[p]
                if not st:
                    st = self._init_state(p, m)
                elif st["m"] != m:
                    raise RuntimeError(f"m changed from {st['m']} to {m} mid-run; call restart() after changing m")
                elif "q" not in st:
                    raise RuntimeError("optimizer state has no 'q' buffer: it was saved by an older AM1SGD "
                                       "(position-form state); call restart() after loading it")
                states.append(st)
            lr, beta = float(group["lr"]), float(group["momentum"])
            grads = self._grads(group, params)
            if self._use_foreach(group, params):
                self._step_foreach(params, grads, states, lr, beta, m)
            else:
                self._step_loop(params, grads, states, lr, beta, m)
        return loss

    # Both paths do the same elementwise arithmetic in the same order.
    @staticmethod
    def _step_loop(params, grads, states, lr, beta, m):
        for p, g, st in zip(params, grads, states):
            q, t = st["q"], st["t"]
            st["step"] += 1
            if m == 1:  # q is 0 before and after every step: t <- beta t + g (torch's buf), x <- x - lr (g + beta t)
                t.mul_(beta).add_(g)
                p.add_(g.add(t, alpha=beta), alpha=-lr)
                continue
            i = (st["step"] - 1) % m
            if i:
                st["a"].add_(g, alpha=float(i))
            q.add_(g)
            if st["step"] % m == 0:
                t.mul_(beta).add_(q).sub_(st["a"], alpha=1.0 / m)
                p.add_(g.add(t, alpha=beta), alpha=-lr)
                q.copy_(st["a"]).mul_(1.0 / m)
                st["a"].zero_()
            else:
                p.add_(g, alpha=-lr)

    @staticmethod
    def _step_foreach(params, grads, states, lr, beta, m):
        i = [st["step"] % m for st in states]
        for st in states:
            st["step"] += 1
        if m == 1:  # as in the loop: q stays 0
            ts = [st["t"] for st in states]
            torch._foreach_mul_(ts, beta)
            torch._foreach_add_(ts, grads)
            torch._foreach_add_(params, torch._foreach_add(grads, ts, alpha=beta), alpha=-lr)
            return
        for ii in sorted(set(i) - {0}):  # usually one value: all parameters of a group step together
            sel = [n for n in range(len(i)) if i[n] == ii]
            torch._foreach_add_([states[n]["a"] for n in sel], [grads[n] for n in sel], alpha=float(ii))
        torch._foreach_add_([st["q"] for st in states], grads)
        bnd = [n for n, st in enumerate(states) if st["step"] % m == 0]
        mid = [n for n, st in enumerate(states) if st["step"] % m != 0]
        if mid:
            torch._foreach_add_([params[n] for n in mid], [grads[n] for n in mid], alpha=-lr)
        if bnd:
            pb, gb = [params[n] for n in bnd], [grads[n] for n in bnd]
            qb, tb = [states[n]["q"] for n in bnd], [states[n]["t"] for n in bnd]
            ab = [states[n]["a"] for n in bnd]
            torch._foreach_mul_(tb, beta)
            torch._foreach_add_(tb, qb)
            torch._foreach_sub_(tb, ab, alpha=1.0 / m)
            torch._foreach_add_(pb, torch._foreach_add(gb, tb, alpha=beta), alpha=-lr)
            torch._foreach_copy_(qb, ab)
            torch._foreach_mul_(qb, 1.0 / m)
            torch._foreach_zero_(ab)


class AM2SGD(_AmortizedBase):
    r"""AM2-SGD, Algorithm 4 of [ZJDC] in torch's learning-rate convention (offset form; module docstring).

    Update, per parameter ``x`` with gradient ``g``; ``phi[i] = x + lr (T[i] - c)``, ``phibar = x + lr (b - c)``::

        init:  T <- 0 (m entries) ;  c <- 0 ;  b <- 0 ;  j <- j_0 ;  k <- 0
        step:  j' <- j_{k+1}
               u <- g + beta * (T[j] - T[j'])   if j' != j   else   g + beta * (T[j] - c + g)
               b <- b - (T[j] - c + g) / m       (Option II)
               T[j] <- c - g ;  c <- c - u ;  x <- x - lr * u ;  j <- j' ;  k <- k + 1
               if k mod m == 0:  T <- T - c ;  b <- b - c ;  c <- 0
        output: Option I: x ;  Option II: phibar = x + lr * (b - c)

    At constant lr this is Algorithm 4 exactly; with m = 1 it is ``torch.optim.SGD(nesterov=True)`` under any lr
    schedule (``T[0] = beta * buf``).

    Args: as :class:`AM1SGD`, plus
        seed (int | None): seed of the index generator ``opt.generator`` (None: a seed drawn from torch's global
            RNG, so ``torch.manual_seed`` makes runs reproducible).
        index_fn (callable | None): inject the index sequence instead: ``index_fn(k)`` must return j_k, an int in
            [0, m), where k counts the group's steps since its (re)start (j_0 = index_fn(0) at the first step).
            Every parameter group calls the same function with its own counter; :meth:`restart` resets the
            counter to 0. Give ``seed`` or ``index_fn``, not both. The function is not part of ``state_dict()``
            (the counter is): pass the same function to the optimizer you load into. It is kept by
            ``copy.deepcopy`` and by pickling (which raises ``pickle.PicklingError`` if it cannot be pickled).

    State per parameter: ``T`` (m, *shape) offset table, ``c`` (shift), ``b`` (Option II only), ``j`` (the
    group's current index j_k, an int), ``k`` (the group's steps since its (re)start), ``m``. Memory: m + 1
    gradient-size buffers per parameter (+1 for Option II), plus one unsaved scratch buffer.
    """

    _extra_attrs = ("index_fn", "generator")

    def __init__(self, params, lr, momentum=0.9, m=5, option="II", weight_decay=0.0, foreach=None, seed=None,
                 index_fn=None):
        if index_fn is not None:
            if not callable(index_fn):
                raise ValueError(f"index_fn must be a callable k -> j_k or None, got {index_fn!r}")
            if seed is not None:
                raise ValueError("give seed or index_fn, not both (index_fn replaces the generator)")
            seed = 0  # the generator exists (and is saved) but is never drawn from
        if seed is None:
            seed = int(torch.randint(0, 2**62, (1,)).item())
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
        self.index_fn = index_fn
        self.generator = torch.Generator(device="cpu")
        self.generator.manual_seed(int(seed))
        self._scratch = {}  # per-parameter work buffer (not state: never saved)
        super().__init__(params, lr, momentum, m, option, weight_decay, foreach)

    def _scratch_for(self, p):
        s = self._scratch.get(p)
        if s is None or s.shape != p.shape or s.dtype != p.dtype or s.device != p.device:
            s = self._scratch[p] = torch.empty_like(p, memory_format=torch.preserve_format)
        return s

    # ---- copy / pickle: the generator travels as its state tensor ------------------------------------
    def _full_state(self):
        st = super()._full_state()
        st["generator"] = self.generator.get_state().clone()
        return st

    def __getstate__(self):
        st = self._full_state()
        if st["index_fn"] is not None:
            try:
                pickle.dumps(st["index_fn"])
            except Exception as e:  # noqa: BLE001 - any failure means "cannot be pickled"
                raise pickle.PicklingError(
                    f"AM2SGD.index_fn={st['index_fn']!r} cannot be pickled ({type(e).__name__}: {e}); use "
                    "rng_index_fn(seed, m) or a module-level function, or save state_dict() and pass the same "
                    "index_fn to the optimizer you load it into") from e
        return st

    def __setstate__(self, state):
        state = dict(state)
        gen_state = state.pop("generator", None)
        super().__setstate__(state)
        self.__dict__.setdefault("index_fn", None)
        self.generator = torch.Generator(device="cpu")
        if gen_state is not None:
            self.generator.set_state(gen_state)

    def _draw(self, m: int, k: int) -> int:
        """j_k: from ``index_fn(k)`` when given (validated), else from the generator."""
        if self.index_fn is None:
            return int(torch.randint(m, (1,), generator=self.generator).item())
        j = self.index_fn(k)
        if isinstance(j, torch.Tensor) and j.numel() == 1 and not j.is_floating_point():
            j = int(j.item())
        if isinstance(j, bool) or not isinstance(j, numbers.Integral) or not 0 <= j < m:
            raise ValueError(f"index_fn({k}) must return an integer in [0, m={m}), got {j!r}")
        return int(j)

    def _init_state(self, p, m, option, j, k=0):
        st = self.state[p]
        st.clear()
        st["T"] = torch.zeros((m,) + tuple(p.shape), dtype=p.dtype, device=p.device)
        st["c"] = torch.zeros_like(p, memory_format=torch.contiguous_format)
        if option == "II":
            st["b"] = torch.zeros_like(p, memory_format=torch.contiguous_format)
        st["j"] = j
        st["k"] = k
        st["m"] = m
        return st

    def _output_point(self, p, st, group):
        if "b" not in st:  # stepped with Option I (restart() is required before stepping with Option II)
            return None
        return p.detach() + float(group["lr"]) * (st["b"] - st["c"])

    def _group_index(self, group):
        """(j_k, k) of the group, or None before its first step."""
        for p in group["params"]:
            st = self.state.get(p)
            if st:
                return st["j"], st.get("k", 0)
        return None

    @torch.no_grad()
    def restart(self) -> None:
        """Re-initialise Algorithm 4 from the current x (App. A.6): phi[i] <- x, phibar <- x (T, c, b <- 0),
        a fresh j_0."""
        self._check_not_swapped("restart")
        for group in self.param_groups:
            stepped = [p for p in group["params"] if self.state.get(p)]
            if not stepped:
                continue
            j = self._draw(group["m"], 0)
            for p in stepped:
                self._init_state(p, group["m"], group["option"], j)

    @torch.no_grad()
    def step(self, closure=None):
        self._check_not_swapped("step")
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            m, option = group["m"], group["option"]
            jk = self._group_index(group)
            j, k = (self._draw(m, 0), 0) if jk is None else jk  # j_0 at the group's first step
            states = []
            for p in params:
                st = self.state[p]
                if not st:
                    st = self._init_state(p, m, option, j, k)
                elif "T" not in st:
                    raise RuntimeError("optimizer state has no offset table 'T': it was saved by an older AM2SGD "
                                       "(position-form state); call restart() after loading it")
                elif st["m"] != m or (option == "II") != ("b" in st):
                    raise RuntimeError("m or option changed mid-run; call restart() after changing them")
                states.append(st)
            lr, beta = float(group["lr"]), float(group["momentum"])
            grads = self._grads(group, params)
            jn = self._draw(m, k + 1)  # j_{k+1}
            scratch = [self._scratch_for(p) for p in params]
            rebase = (k + 1) % m == 0
            if self._use_foreach(group, params):
                self._step_foreach(params, grads, states, scratch, lr, beta, m, j, jn, option == "II", rebase)
            else:
                self._step_loop(params, grads, states, scratch, lr, beta, m, j, jn, option == "II", rebase)
            for p in group["params"]:
                st = self.state.get(p)
                if st:
                    st["j"], st["k"] = jn, k + 1
        return loss

    # Both paths do the same elementwise arithmetic in the same order (s: the unsaved scratch buffer):
    #   s <- T[j] - c + g  (if j' == j or Option II) ;  b -= s/m (II) ;
    #   s <- g + beta * (s if j' == j else T[j] - T[j'])  (= u) ;  T[j] <- c - g ;  c -= s ;  x -= lr s ;
    #   re-base every m-th step.
    @staticmethod
    def _step_loop(params, grads, states, scratch, lr, beta, m, j, jn, opt2, rebase):
        for p, g, st, s in zip(params, grads, states, scratch):
            T, c = st["T"], st["c"]
            g = g.reshape(c.shape)
            if opt2 or jn == j:
                torch.sub(T[j], c, out=s).add_(g)
                if opt2:
                    st["b"].sub_(s, alpha=1.0 / m)
            if jn != j:
                torch.sub(T[j], T[jn], out=s)
            torch.add(g, s, alpha=beta, out=s)
            torch.sub(c, g, out=T[j])
            c.sub_(s)
            p.add_(s.view_as(p), alpha=-lr)
            if rebase:
                T.sub_(c)
                if opt2:
                    st["b"].sub_(c)
                c.zero_()

    @staticmethod
    def _step_foreach(params, grads, states, scratch, lr, beta, m, j, jn, opt2, rebase):
        Tj = [st["T"][j] for st in states]
        cs = [st["c"] for st in states]
        grads = [g.reshape(c.shape) for g, c in zip(grads, cs)]
        if opt2 or jn == j:
            torch._foreach_copy_(scratch, Tj)
            torch._foreach_sub_(scratch, cs)
            torch._foreach_add_(scratch, grads)
            if opt2:
                torch._foreach_sub_([st["b"] for st in states], scratch, alpha=1.0 / m)
        if jn != j:
            torch._foreach_copy_(scratch, Tj)
            torch._foreach_sub_(scratch, [st["T"][jn] for st in states])
        torch._foreach_copy_(scratch, torch._foreach_add(grads, scratch, alpha=beta))
        torch._foreach_copy_(Tj, torch._foreach_sub(cs, grads))
        torch._foreach_sub_(cs, scratch)
        torch._foreach_add_(params, [s.view_as(p) for s, p in zip(scratch, params)], alpha=-lr)
        if rebase:
            for st in states:
                st["T"].sub_(st["c"])
                if opt2:
                    st["b"].sub_(st["c"])
            torch._foreach_zero_(cs)

    # ---- generator in the state dict ----------------------------------------------------------------
    def state_dict(self):
        sd = super().state_dict()
        sd["am2_generator_state"] = self.generator.get_state().clone()
        return sd

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        gen = state_dict.pop("am2_generator_state", None)
        if gen is None:
            raise ValueError("state_dict has no 'am2_generator_state': not saved by AM2SGD")
        super().load_state_dict(state_dict)
        self.generator.set_state(gen.clone())
