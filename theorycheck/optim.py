"""AM1-SGD and AM2-SGD as ``torch.optim`` optimizers (THEORY §3.3–3.7; [ZJDC] Alg. 4, Alg. 5, App. A.1, A.6).

Conventions (per parameter tensor ``x``, gradient ``g``, after weight decay ``g <- g + wd * x``):

AM1SGD — Algorithm 5 (Algorithm 2 with the scaled momentum ``o = m (xt_plus - xt)``)::

    init:  xt <- x ;  o <- -m * x ;  k <- 0
    step:  x  <- x - lr * g
           o  <- o + x
           if (k + 1) % m == 0:            # amortized momentum, once every m steps
               x  <- x + (momentum / m) * o
               xt <- xt + (1 / m) * o ;  o <- -m * xt
           k <- k + 1
    output: Option I: x (the parameters) ;  Option II: xt

AM2SGD — Algorithm 4 (point table ``phi`` of shape ``(m, *x.shape)``, one index ``j`` per parameter group)::

    init:  phi[i] <- x for all i ;  phibar <- x (Option II) ;  j <- randint(m)
    step:  old <- phi[j] ;  phi[j] <- x - lr * g
           j' <- randint(m)                 # may equal j: then phi[j'] is the fresh entry
           x  <- phi[j] + momentum * (phi[j'] - old)
           phibar <- phibar + (phi[j] - old) / m        (Option II only)
           j <- j'
    output: Option I: x (unstable, not recommended by the paper) ;  Option II: phibar

With ``m = 1`` both are ``torch.optim.SGD(lr, momentum, nesterov=True)`` (Option I; Option II outputs the
"y" sequence of OM-SGD). ``lr`` and ``momentum`` are read from the parameter group at every step, so LR
schedulers work; ``m`` and ``option`` are fixed until :meth:`restart`.

Option II is exposed as the paper did (App. A.1): the parameters are temporarily replaced by the output point,
``with opt.evaluation_params(): evaluate(model)``; with ``option="I"`` this is a no-op.

Randomness of AM2SGD: ``j_k`` is drawn as ``torch.randint(m, (1,), generator=opt.generator)``, one draw per
parameter group and step in group order, the first (``j_0``) at the group's first step. The generator state is
part of ``state_dict()``, so a saved and reloaded run continues with the same indices. Alternatively the index
sequence can be injected: ``AM2SGD(..., index_fn=f)`` takes ``j_k = f(k)``, k counting the group's steps since
its (re)start (j_0 = f(0) at the first step, j_{k+1} = f(k + 1) at step k). :func:`rng_index_fn` gives the
sequence the batched engine (``theorycheck.algorithms.AM2Momentum``) uses for one replica's seed.
"""
from __future__ import annotations

import contextlib
import copy
import math
import numbers

import torch
from torch.optim import Optimizer

from . import rng

__all__ = ["AM1SGD", "AM2SGD", "rng_index_fn"]


def rng_index_fn(seed: int, m: int, stream: int = rng.STREAM_INDEX):
    """The engine's AM2 index sequence for one replica: ``k -> rng.integers([seed], k, stream, m)``, i.e. the j_k
    that :class:`theorycheck.algorithms.AM2Momentum` uses for the replica with this seed. Pass it as
    ``AM2SGD(..., index_fn=rng_index_fn(seed, m))`` to reproduce an engine run step for step."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(m, bool) or not isinstance(m, numbers.Integral) or m < 1:
        raise ValueError(f"m must be an integer >= 1, got {m!r}")
    seeds = torch.tensor([int(seed)], dtype=torch.int64)

    def index(k: int) -> int:
        return int(rng.integers(seeds, int(k), stream, int(m))[0, 0])

    return index


def _validate(lr, momentum, m, option, weight_decay):
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


class _AmortizedBase(Optimizer):
    """Shared machinery: validation, the Option II swap, foreach selection."""

    _output_key: str = ""  # state key of the Option II output point

    def __init__(self, params, lr, momentum, m, option, weight_decay, foreach):
        _validate(lr, momentum, m, option, weight_decay)
        if foreach not in (None, True, False):
            raise ValueError(f"foreach must be None, True or False, got {foreach!r}")
        defaults = dict(lr=lr, momentum=momentum, m=int(m), option=option, weight_decay=weight_decay,
                        foreach=foreach)
        self._swapped = None
        super().__init__(params, defaults)

    def add_param_group(self, param_group):
        eff = {k: param_group.get(k, self.defaults[k]) for k in ("lr", "momentum", "m", "option", "weight_decay")}
        _validate(**eff)  # before adding, so a rejected group leaves the optimizer unchanged
        super().add_param_group(param_group)
        self.param_groups[-1]["m"] = int(self.param_groups[-1]["m"])

    def __setstate__(self, state):
        super().__setstate__(state)
        self.__dict__.setdefault("_swapped", None)
        self.__dict__.setdefault("_scratch", {})

    # ---- Option II output --------------------------------------------------------------------------
    def swap_to_output(self) -> None:
        """Replace every Option II parameter by its output point (xt for AM1, phibar for AM2); keep x aside.

        Parameters that have not been stepped yet are their own output (xt = phibar = x0)."""
        if self._swapped is not None:
            raise RuntimeError("parameters are already swapped to the output point; call swap_back() first")
        saved = []
        with torch.no_grad():
            for group in self.param_groups:
                if group["option"] != "II":
                    continue
                for p in group["params"]:
                    st = self.state.get(p)
                    if st and self._output_key in st:
                        saved.append((p, p.detach().clone()))
                        p.copy_(st[self._output_key])
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
    r"""AM1-SGD, Algorithm 5 of [ZJDC] (equivalent to Algorithm 2; see the module docstring for the update).

    Args:
        params: iterable of parameters or parameter groups.
        lr (float): learning rate eta > 0 (read from the group each step).
        momentum (float): beta in [0, 1) (read from the group at each amortized-momentum step).
        m (int): amortization length >= 1; ``m=1, option="I"`` is SGD with Nesterov momentum.
        option ("I" | "II"): output point; "II" (theory) = xt, shown by :meth:`evaluation_params`.
        weight_decay (float): L2 penalty, ``g <- g + weight_decay * x`` with x the gradient point.
        foreach (bool | None): use the multi-tensor ``torch._foreach_*`` path (None: on non-CPU devices).

    State per parameter: ``xt`` (x tilde), ``o`` (o plus = m (xt_plus - xt)), ``step`` (int), ``m`` (int).
    """

    _output_key = "xt"

    def __init__(self, params, lr, momentum=0.9, m=5, option="II", weight_decay=0.0, foreach=None):
        super().__init__(params, lr, momentum, m, option, weight_decay, foreach)

    def _init_state(self, p, m):
        st = self.state[p]
        st["xt"] = p.detach().clone()
        st["o"] = p.detach().mul(-m)
        st["step"] = 0
        st["m"] = m
        return st

    @torch.no_grad()
    def restart(self) -> None:
        """Re-initialise the amortization from the current x (paper App. A.6): xt <- x, o <- -m x, k <- 0.

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
                states.append(st)
            lr, beta = float(group["lr"]), float(group["momentum"])
            grads = self._grads(group, params)
            if self._use_foreach(group, params):
                self._step_foreach(params, grads, states, lr, beta, m)
            else:
                self._step_loop(params, grads, states, lr, beta, m)
        return loss

    @staticmethod
    def _step_loop(params, grads, states, lr, beta, m):
        for p, g, st in zip(params, grads, states):
            o = st["o"]
            p.add_(g, alpha=-lr)
            o.add_(p)
            st["step"] += 1
            if st["step"] % m == 0:
                p.add_(o, alpha=beta / m)
                st["xt"].add_(o, alpha=1.0 / m)
                o.copy_(st["xt"]).mul_(-m)

    @staticmethod
    def _step_foreach(params, grads, states, lr, beta, m):
        os_ = [st["o"] for st in states]
        torch._foreach_add_(params, grads, alpha=-lr)
        torch._foreach_add_(os_, params)
        bnd = []
        for i, st in enumerate(states):
            st["step"] += 1
            if st["step"] % m == 0:
                bnd.append(i)
        if bnd:
            ps = [params[i] for i in bnd]
            ob = [os_[i] for i in bnd]
            xts = [states[i]["xt"] for i in bnd]
            torch._foreach_add_(ps, ob, alpha=beta / m)
            torch._foreach_add_(xts, ob, alpha=1.0 / m)
            torch._foreach_copy_(ob, xts)
            torch._foreach_mul_(ob, -m)


class AM2SGD(_AmortizedBase):
    r"""AM2-SGD, Algorithm 4 of [ZJDC] (see the module docstring for the update).

    Args: as :class:`AM1SGD`, plus
        seed (int | None): seed of the index generator ``opt.generator`` (None: a seed drawn from torch's global
            RNG, so ``torch.manual_seed`` makes runs reproducible).
        index_fn (callable | None): inject the index sequence instead: ``index_fn(k)`` must return j_k, an int in
            [0, m), where k counts the group's steps since its (re)start (j_0 = index_fn(0) at the first step).
            Every parameter group calls the same function with its own counter; :meth:`restart` resets the
            counter to 0. Give ``seed`` or ``index_fn``, not both. The function is not part of ``state_dict()``
            (the counter is): pass the same function to the optimizer you load into.

    State per parameter: ``phi`` (m, *shape) point table, ``phibar`` (Option II only), ``j`` (the group's
    current index j_k, an int), ``k`` (the group's steps since its (re)start), ``m``. Memory: m copies of every
    parameter (+1 for Option II), plus one unsaved scratch buffer that keeps the step allocation-free.
    """

    _output_key = "phibar"

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

    def __setstate__(self, state):
        super().__setstate__(state)
        self.__dict__.setdefault("index_fn", None)

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
        st["phi"] = p.detach().unsqueeze(0).repeat((m,) + (1,) * p.dim()).contiguous()
        if option == "II":
            st["phibar"] = p.detach().clone()
        else:
            st.pop("phibar", None)
        st["j"] = j
        st["k"] = k
        st["m"] = m
        return st

    def _group_index(self, group):
        """(j_k, k) of the group, or None before its first step."""
        for p in group["params"]:
            st = self.state.get(p)
            if st:
                return st["j"], st.get("k", 0)
        return None

    @torch.no_grad()
    def restart(self) -> None:
        """Re-initialise Algorithm 4 from the current x (App. A.6): phi[i] <- x, phibar <- x, a fresh j_0."""
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
                elif st["m"] != m or (option == "II") != ("phibar" in st):
                    raise RuntimeError("m or option changed mid-run; call restart() after changing them")
                states.append(st)
            lr, beta = float(group["lr"]), float(group["momentum"])
            grads = self._grads(group, params)
            jn = self._draw(m, k + 1)  # j_{k+1}
            scratch = [self._scratch_for(p) for p in params]
            if self._use_foreach(group, params):
                self._step_foreach(params, grads, states, scratch, lr, beta, m, j, jn, option == "II")
            else:
                self._step_loop(params, grads, states, scratch, lr, beta, m, j, jn, option == "II")
            for p in group["params"]:
                st = self.state.get(p)
                if st:
                    st["j"], st["k"] = jn, k + 1
        return loss

    # Both paths do the same arithmetic, allocation-free (one scratch buffer s per parameter, not saved):
    #   x <- x - lr g (= new) ; s <- new - old ; phibar += s/m (II) ;
    #   s <- (new - old) if j' == j else (phi[j'] - old) ; phi[j] <- new ; x <- new + momentum * s
    @staticmethod
    def _step_loop(params, grads, states, scratch, lr, beta, m, j, jn, opt2):
        for p, g, st, s in zip(params, grads, states, scratch):
            phi = st["phi"]
            p.add_(g, alpha=-lr)
            if opt2 or jn == j:
                torch.sub(p, phi[j], out=s)
                if opt2:
                    st["phibar"].add_(s, alpha=1.0 / m)
            if jn != j:
                torch.sub(phi[jn], phi[j], out=s)
            phi[j].copy_(p)
            p.add_(s, alpha=beta)

    @staticmethod
    def _step_foreach(params, grads, states, scratch, lr, beta, m, j, jn, opt2):
        pj = [st["phi"][j] for st in states]
        torch._foreach_add_(params, grads, alpha=-lr)
        if opt2 or jn == j:
            torch._foreach_copy_(scratch, params)
            torch._foreach_sub_(scratch, pj)
            if opt2:
                torch._foreach_add_([st["phibar"] for st in states], scratch, alpha=1.0 / m)
        if jn != j:
            torch._foreach_copy_(scratch, [st["phi"][jn] for st in states])
            torch._foreach_sub_(scratch, pj)
        torch._foreach_copy_(pj, params)
        torch._foreach_add_(params, scratch, alpha=beta)

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
