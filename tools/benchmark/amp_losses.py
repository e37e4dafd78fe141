#!/usr/bin/env python
"""Stateful losses under AMP autocast (fp16 / bf16) against fp32.

    python tools/benchmark/amp_losses.py [--device cuda|cpu] [--json FILE]
        [--steps 4] [--small] [--cases eqlv2,efl,eqfl,ebl,bank]
        [--dtypes float16,bfloat16] [--mmcv-ext-placeholder]

For every method whose loss keeps state across iterations -- EQLv2
(``pos_grad`` / ``neg_grad`` / ``pos_neg``), EFL and EQFL (the same plus
``pending_grad``), EBL (EquilibriumLoss reading the ``MeanScoreTracker``
that the LOCE RoI head updates first) and LOCE's ``FeatureMemoryBank`` (on
``--device``) -- the same sequence of ``--steps`` training steps is run
three times from the same fresh module: in fp32, and under
``torch.autocast(device, dtype)`` with float16 and with bfloat16, the way
the heads run under mmengine's ``AmpOptimWrapper``:

* logits come from a linear classifier evaluated inside autocast (so they
  are fp16 / bf16 there, as ``fc_cls`` makes them), from the same fp32
  features and weights in every run; step ``s`` draws its data from seed
  ``s`` (LVIS-like sizes: 1,203 classes, 2 x 512 RoIs with 25 %
  positives, or 16,384 anchors with ~1 % positives; long-tailed labels);
* the loss is called as the head calls it (``label_weights``,
  ``avg_factor``; LOCE: ``softmax(z.float())`` -> ``group_mean_scores``
  per GT -> ``tracker.update`` -> loss);
* fp16 backward goes through a loss scale of 2^16 (GradScaler's initial
  scale), unscaled before comparing, so small gradients do not flush to
  zero as they would not in training either; bf16 uses no scale;
* the memory bank stores features produced inside autocast (a 1x1 conv of
  fp32 RoI features) in its configured fp16 storage, and is sampled with
  the same fixed mean scores and generator in every run, so the draws are
  the same items and only the stored values can differ.

Two comparisons, over all steps, of the loss values, the logit gradients
and every state buffer / stored or sampled feature (``max|x - x_ref| /
max|x_ref|`` per tensor, the largest over tensors and steps):

1. against the fp32 run (end to end, model rounding included), with a
   tolerance per dtype;
2. against an fp32 *replay*: a twin module stepped in lockstep on the same
   inputs upcast to fp32 (the AMP logits, the autocast-made bank
   features).  A loss that casts its inputs to fp32 and keeps its state in
   float64, as designed, gives bit-identical losses and state (measured:
   0); only the logit gradient differs, by its one rounding to the logits'
   dtype.  Tolerances: 1e-5 (loss, state), 2 u (gradient).  This isolates
   the losses' own handling of half-precision inputs from the classifier's
   rounding.

Also required: every loss, gradient and state value finite, integer state
(memory-bank counts, pointers, sampled labels) identical, the state in its
designed dtype (float64 buffers, fp32 losses, bank storage in its
configured dtype, fp32 targets), and the logits / features really in the
autocast dtype.

Tolerances of (1).  Under autocast only the classifier's matmul (and the
bank's conv) runs in low precision: its inputs are rounded to the dtype
(unit roundoff u = 2^-11 = 4.9e-4 for fp16, 2^-8 = 3.9e-3 for bf16),
products are accumulated in fp32 and the output rounded once more; the
losses work in fp32 / float64 from there.  So losses, gradients and
statistics differ from fp32 by about u: measured on the CPU at the sizes
above, at most 6e-4 (fp16) and 5e-3 (bf16).  The tolerances, 1e-2 (fp16,
20 u) and 3e-2 (bf16, 8 u), leave room for the statistics accumulating
over the steps, for EQLv2's mapping ``sigmoid(12 (g - 0.8))`` (amplifies an
error of ``g`` up to 3-fold) and for the focal terms ``p^gamma_j`` of EFL /
EQFL (``gamma_j`` up to 10: a logit error ``d`` becomes ``gamma_j d``).
For that last reason the classifier bias of the dense heads is -4.59375
(RetinaHead's prior -log(99) = -4.595, rounded so that fp16 and bf16
represent it exactly): rounding -4.595 would shift *every* logit by the
same 1.4e-3, which no averaging reduces and which ``p^10`` turns into a
1.4e-2 change of the rare classes' statistics in both dtypes -- a property
of rounding one model constant (real AMP training has it too, and it is
the same for any loss with focal terms), not of the losses' state.

Exit status 1 when a check fails.  ``--small`` shrinks every size (64
classes) for a fast CPU run (the unit test uses it).

mmcv's compiled ops are not used here.  ``import mmlt`` needs them only
because mmdet imports ``mmcv.ops`` at module level; with
``--mmcv-ext-placeholder`` (used by ``tools/gpu_check.sh`` while mmcv's
CUDA build is still running) a stand-in module ``mmcv._ext`` whose
functions raise if called is registered when the real one cannot be
imported, so these checks can run before the build ends.
"""
import argparse
import json
import math
import os
import os.path as osp
import platform
import sys
import time
import types
from typing import Dict, List, Optional

import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

DTYPES = {'float16': torch.float16, 'bfloat16': torch.bfloat16}
#: relative tolerance per autocast dtype (see the module doc)
TOL = {'float16': 1e-2, 'bfloat16': 3e-2}
#: the same logits upcast to fp32 through a twin module: loss and state
#: agree to fp32 rounding; the AMP logit gradient is stored in the logits'
#: dtype (rounded once: 2 u)
REPLAY_TOL = 1e-5
REPLAY_GRAD_TOL = {'float16': 1e-3, 'bfloat16': 8e-3}
#: GradScaler's initial scale for fp16; bf16 needs none
LOSS_SCALE = {'float16': 2.0**16, 'bfloat16': 1.0, 'float32': 1.0}
CASES = ('eqlv2', 'efl', 'eqfl', 'ebl', 'bank')

SIZES = {
    # LVIS v1 sizes (CUDA); --small: a fast CPU run
    'full': dict(num_classes=1203, rois=1024, roi_dim=1024, gts=40,
                 anchors=16384, anchor_dim=256, bank_feat=(256, 7, 7),
                 bank_queue=80, bank_items=480),
    'small': dict(num_classes=64, rois=128, roi_dim=64, gts=12,
                  anchors=512, anchor_dim=32, bank_feat=(8, 7, 7),
                  bank_queue=8, bank_items=96),
}


# --------------------------------------------------------- mmcv placeholder
def use_mmcv_ext_placeholder() -> bool:
    """Register a stand-in for ``mmcv._ext`` if the compiled one cannot be
    imported; its functions raise RuntimeError when called.

    Returns True if the placeholder was registered."""
    import importlib
    try:
        importlib.import_module('mmcv._ext')
        return False
    except ImportError:
        pass
    mod = types.ModuleType('mmcv._ext')
    mod.__doc__ = 'placeholder: mmcv compiled ops not installed'

    def __getattr__(name):
        if name.startswith('__'):
            raise AttributeError(name)

        def missing(*args, **kwargs):
            raise RuntimeError(
                f'mmcv._ext.{name}: mmcv\'s compiled ops are not installed '
                '(placeholder of tools/benchmark/amp_losses.py)')

        return missing

    mod.__getattr__ = __getattr__
    sys.modules['mmcv._ext'] = mod
    import mmcv
    mmcv._ext = mod
    return True


# ------------------------------------------------------------------ helpers
def rel_diff(x: torch.Tensor, ref: torch.Tensor) -> float:
    """``max|x - ref| / max|ref|`` in float64 (0 if both are all zero)."""
    x = x.detach().double()
    ref = ref.detach().to(x.device).double()
    if x.shape != ref.shape:
        return math.inf
    if x.numel() == 0:
        return 0.0
    num = float((x - ref).abs().max())
    den = float(ref.abs().max())
    if den == 0:
        return 0.0 if num == 0 else math.inf
    return num / den


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def longtail_labels(n: int, c: int, g: torch.Generator) -> torch.Tensor:
    """n labels in [0, c) with P(j) proportional to 1 / (j + 1) (a few
    frequent, many rare classes, as LVIS)."""
    p = 1.0 / torch.arange(1, c + 1, dtype=torch.float64)
    return torch.multinomial(p / p.sum(), n, replacement=True, generator=g)


def linear_head(in_dim: int, out_dim: int, bias: float, device,
                seed: int) -> torch.nn.Linear:
    """A classifier with fixed fp32 weights (std 0.05), the same in every
    run."""
    g = _gen(10_000 + seed)
    fc = torch.nn.Linear(in_dim, out_dim)
    with torch.no_grad():
        fc.weight.copy_(torch.randn(out_dim, in_dim, generator=g) * 0.05)
        fc.bias.fill_(bias)
    return fc.to(device)


class Trace:
    """What one run records: per step the loss, the logit gradient (fp32,
    unscaled) and a snapshot of the state; the final dtypes."""

    def __init__(self):
        self.loss: List[torch.Tensor] = []
        self.grad: List[torch.Tensor] = []
        self.state: List[Dict[str, torch.Tensor]] = []
        self.notes: List[str] = []
        self.logit_dtype = None
        self.state_dtypes: Dict[str, torch.dtype] = {}


def _amp(device: str, dtype: Optional[torch.dtype]):
    if dtype is None:
        return torch.autocast(device, enabled=False)
    return torch.autocast(device, dtype=dtype)


def _backward(loss: torch.Tensor, logits: torch.Tensor,
              dtype_name: str) -> torch.Tensor:
    """(loss * scale).backward(); the logits' gradient, unscaled, fp32."""
    scale = LOSS_SCALE[dtype_name]
    (loss * scale).backward()
    return logits.grad.detach().float() / scale


# -------------------------------------------------------------------- cases
class LogitCase:
    """A loss fed by a linear classifier (see the module doc).  Subclasses
    give the module, the data of step ``s`` and the head's call."""
    in_dim_key = 'roi_dim'
    bias = 0.0
    seed = 0
    state_keys: tuple = ()

    def build(self, sz, device):
        raise NotImplementedError

    def out_dim(self, sz):
        return sz['num_classes'] + 1

    def data(self, sz, s, device) -> dict:
        raise NotImplementedError

    def call(self, loss_fn, z, d) -> torch.Tensor:
        raise NotImplementedError

    def state(self, loss_fn) -> Dict[str, torch.Tensor]:
        return {k: getattr(loss_fn, k).clone() for k in self.state_keys}

    def expected_dtypes(self, loss_fn) -> Dict[str, torch.dtype]:
        return {k: torch.float64 for k in self.state_keys}

    def check_step(self, loss_fn, s) -> List[str]:
        return []


def _record(case, tr, loss_fn, loss, grad, s):
    tr.loss.append(loss.detach())
    tr.grad.append(grad)
    tr.state.append(case.state(loss_fn))
    tr.notes += case.check_step(loss_fn, s)


def run_logit_case(case: LogitCase, sz, steps, device, dtype_name):
    """Run ``steps`` steps in ``dtype_name`` ('float32' or an autocast
    dtype).  Returns (trace, replay): under autocast, ``replay`` is a twin
    module run in fp32 on the same (upcast) logits in lockstep."""
    amp = DTYPES.get(dtype_name)
    loss_fn = case.build(sz, device).train()
    twin = case.build(sz, device).train() if amp is not None else None
    # fp16/bf16-representable bias (see the module doc)
    fc = linear_head(sz[case.in_dim_key], case.out_dim(sz), case.bias,
                     device, case.seed)
    tr, rp = Trace(), (Trace() if twin is not None else None)
    for s in range(steps):
        d = case.data(sz, s, device)
        with _amp(device, amp):
            z = fc(d['x'])
            z.retain_grad()
            loss = case.call(loss_fn, z, d)
        _record(case, tr, loss_fn, loss, _backward(loss, z, dtype_name), s)
        fc.zero_grad(set_to_none=True)
        tr.logit_dtype = z.dtype
        if twin is not None:
            z32 = z.detach().float().requires_grad_()
            with _amp(device, None):
                loss32 = case.call(twin, z32, d)
            loss32.backward()
            _record(case, rp, twin, loss32, z32.grad.detach(), s)
    tr.state_dtypes = {k: v.dtype for k, v in tr.state[-1].items()}
    tr.expected_dtypes = case.expected_dtypes(loss_fn)
    return tr, rp


class EQLv2Case(LogitCase):
    bias = -4.0  # sigmoid head: most logits negative
    seed = 1
    state_keys = ('pos_grad', 'neg_grad', 'pos_neg')

    def build(self, sz, device):
        from mmlt.models.losses import EqualizationLossV2
        return EqualizationLossV2(num_classes=sz['num_classes']).to(device)

    def data(self, sz, s, device):
        g = _gen(s)
        c, n = sz['num_classes'], sz['rois']
        x = torch.randn(n, sz['roi_dim'], generator=g).relu()
        labels = torch.full((n, ), c, dtype=torch.long)
        npos = n // 4  # mmdet's RandomSampler: pos_fraction 0.25
        labels[:npos] = longtail_labels(npos, c, g)
        return dict(x=x.to(device), labels=labels.to(device),
                    w=torch.ones(n, device=device), avg=n)

    def call(self, loss_fn, z, d):
        return loss_fn(z, d['labels'], d['w'], avg_factor=d['avg'])


class EFLCase(LogitCase):
    in_dim_key = 'anchor_dim'
    # RetinaHead's prior bias -log(99) = -4.595, rounded to -4.59375, which
    # fp16 and bf16 represent exactly
    bias = -4.59375
    seed = 2
    quality = False
    state_keys = ('pos_grad', 'neg_grad', 'pos_neg', 'pending_grad')

    def build(self, sz, device):
        from mmlt.models.losses import (EqualizedFocalLoss,
                                        EqualizedQualityFocalLoss)
        cls = EqualizedQualityFocalLoss if self.quality else \
            EqualizedFocalLoss
        return cls(num_classes=sz['num_classes']).to(device)

    def out_dim(self, sz):
        return sz['num_classes']

    def data(self, sz, s, device):
        g = _gen(100 + s)
        c, n = sz['num_classes'], sz['anchors']
        x = torch.randn(n, sz['anchor_dim'], generator=g)
        labels = torch.full((n, ), c, dtype=torch.long)
        npos = max(n // 100, 8)
        pos = torch.randperm(n, generator=g)[:npos]
        labels[pos] = longtail_labels(npos, c, g)
        score = torch.zeros(n)
        score[pos] = 0.3 + 0.7 * torch.rand(npos, generator=g)
        return dict(x=x.to(device), labels=labels.to(device),
                    score=score.to(device), w=torch.ones(n, device=device),
                    avg=float(npos))

    def call(self, loss_fn, z, d):
        target = (d['labels'], d['score']) if self.quality else d['labels']
        return loss_fn(z, target, d['w'], avg_factor=d['avg'])

    def check_step(self, loss_fn, s):
        if bool(loss_fn.pending_grad.any()):
            return [f'step {s}: statistics not committed at backward '
                    '(pending_grad != 0)']
        return []


class EQFLCase(EFLCase):
    seed = 3
    quality = True


class EBLCase(LogitCase):
    """LOCE's order: softmax of the plain logits -> per-GT mean scores ->
    tracker.update -> EquilibriumLoss (reads the updated m)."""
    seed = 4
    state_keys = ('mean_score', )

    def build(self, sz, device):
        from mmlt.models.losses import EquilibriumLoss
        return EquilibriumLoss(num_classes=sz['num_classes']).to(device)

    def data(self, sz, s, device):
        g = _gen(200 + s)
        c, n = sz['num_classes'], sz['rois']
        x = torch.randn(n, sz['roi_dim'], generator=g).relu()
        gt_labels = longtail_labels(sz['gts'], c, g)
        npos = n // 4
        gid = torch.full((n, ), -1, dtype=torch.long)
        gid[:npos] = torch.randint(0, sz['gts'], (npos, ), generator=g)
        labels = torch.full((n, ), c, dtype=torch.long)
        labels[:npos] = gt_labels[gid[:npos]]
        return dict(x=x.to(device), labels=labels.to(device),
                    gid=gid.to(device), w=torch.ones(n, device=device),
                    avg=n)

    def call(self, loss_fn, z, d):
        from mmlt.models.layers.mean_score import group_mean_scores
        with torch.no_grad():  # as LoceRoIHead._update_mean_score
            prob = torch.softmax(z.detach().float(), dim=1)
            lab, score = group_mean_scores(prob, d['labels'], d['gid'])
            loss_fn.update_mean_score(lab, score)
        return loss_fn(z, d['labels'], d['w'], avg_factor=d['avg'])

    def state(self, loss_fn):
        return {'mean_score': loss_fn.mean_score.clone()}


def run_bank(sz, steps, device, dtype_name):
    """FeatureMemoryBank(device=<device>, dtype='float16') fed with
    features made inside autocast (and, under autocast, a twin bank fed the
    same features upcast to fp32); stored items and samples."""
    from mmlt.models.layers import FeatureMemoryBank
    c, q, shape = sz['num_classes'], sz['bank_queue'], sz['bank_feat']
    amp = DTYPES.get(dtype_name)

    def new_bank():
        return FeatureMemoryBank(c, queue_size=q, feat_shape=shape,
                                 device=device, dtype='float16')

    bank = new_bank()
    twin = new_bank() if amp is not None else None
    conv = torch.nn.Conv2d(shape[0], shape[0], 1)
    with torch.no_grad():
        g0 = _gen(10_005)
        conv.weight.copy_(
            torch.randn(conv.weight.shape, generator=g0) /
            math.sqrt(shape[0]))
        conv.bias.zero_()
    conv = conv.to(device)
    tr, rp = Trace(), (Trace() if twin is not None else None)
    m = sz['bank_items']
    # few classes per step so that queues fill and wrap within the steps
    ncls = max(2, m // (q // 2))

    def step(b, tr_, feats, labels, targets, mean_score, s):
        b.enqueue(feats, labels, targets)
        sf, sl, st = b.sample(mean_score, 8, 4, generator=_gen(400 + s),
                              device=device, dtype=feats.dtype)
        filled = torch.arange(q)[None, :] < b.count[:, None]
        idx = torch.nonzero(filled.reshape(-1)).squeeze(1).to(device)
        tr_.state.append(
            dict(stored=b.feats.reshape(c * q, -1).index_select(0, idx),
                 stored_targets=b.targets.reshape(-1, 4).index_select(0, idx),
                 sampled=sf.float(), sampled_targets=st,
                 sampled_labels=sl.clone(), count=b.count.clone(),
                 ptr=b.ptr.clone()))
        # bank features are detached: no loss, no gradient
        tr_.loss.append(sf.float().sum())
        tr_.grad.append(torch.zeros(0, device=device))
        dev = torch.device(device).type
        if sf.device.type != dev or b.storage_device.type != dev:
            tr_.notes.append(f'step {s}: bank on {b.storage_device}, '
                             f'samples on {sf.device}, expected {device}')

    for s in range(steps):
        g = _gen(300 + s)
        x = torch.randn((m, ) + tuple(shape), generator=g).to(device)
        cls_pool = torch.randperm(c, generator=g)[:ncls]
        labels = cls_pool[torch.randint(0, ncls, (m, ),
                                        generator=g)].to(device)
        targets = torch.randn(m, 4, generator=g).to(device)
        mean_score = (torch.rand(c + 1, generator=g, dtype=torch.float64) *
                      0.5 + 0.01).to(device)
        with torch.no_grad(), _amp(device, amp):
            feats = conv(x)  # fp16 / bf16 under autocast
        tr.logit_dtype = feats.dtype
        step(bank, tr, feats, labels, targets, mean_score, s)
        if twin is not None:
            step(twin, rp, feats.float(), labels, targets, mean_score, s)
    tr.state_dtypes = dict(storage=bank.feats.dtype,
                           targets=bank.targets.dtype,
                           count=bank.count.dtype)
    tr.expected_dtypes = dict(storage=torch.float16, targets=torch.float32,
                              count=torch.int64)
    return tr, rp


def _logit_runner(case_cls):
    def run(sz, steps, device, dtype_name):
        return run_logit_case(case_cls(), sz, steps, device, dtype_name)
    return run


RUNNERS = dict(eqlv2=_logit_runner(EQLv2Case), efl=_logit_runner(EFLCase),
               eqfl=_logit_runner(EQFLCase), ebl=_logit_runner(EBLCase),
               bank=run_bank)
#: keys compared for equality, not with a tolerance
EXACT_KEYS = ('sampled_labels', 'count', 'ptr')


# ------------------------------------------------------------------ compare
def _finite(t: torch.Tensor) -> bool:
    return (not t.is_floating_point()) or bool(torch.isfinite(t).all())


def _diffs(a: Trace, r: Trace, problems: List[str], what: str):
    """(loss, grad, state, worst state key) max rel diffs of a vs r."""
    loss_rel = max(
        rel_diff(x.reshape(1), y.reshape(1)) for x, y in zip(a.loss, r.loss))
    grad_rel = max(rel_diff(x, y) for x, y in zip(a.grad, r.grad))
    state_rel, worst = 0.0, ''
    for step, (sa, sr) in enumerate(zip(a.state, r.state)):
        for k in sr:
            if k in EXACT_KEYS:
                if not torch.equal(sa[k].cpu(), sr[k].cpu()):
                    problems.append(f'{k} differs from {what} at step {step}')
                continue
            d = rel_diff(sa[k], sr[k])
            if d > state_rel:
                state_rel, worst = d, k
    return loss_rel, grad_rel, state_rel, worst


def compare(case: str, ref: Trace, amp: Trace, replay: Optional[Trace],
            dtype_name: str) -> dict:
    """Checks of one (case, dtype); see the module doc."""
    tol = TOL[dtype_name]
    problems = list(amp.notes)
    loss_rel, grad_rel, state_rel, worst = _diffs(amp, ref, problems,
                                                 'the fp32 run')
    is_bank = case == 'bank'
    for name, v in (('loss', loss_rel), ('grad', grad_rel),
                    ('state', state_rel)):
        if is_bank and name == 'grad':
            continue
        if not v <= tol:
            problems.append(f'{name} rel diff to the fp32 run {v:.3g} > '
                            f'{tol:g}' + (f' ({worst})'
                                          if name == 'state' else ''))
    rep = rep_grad = None
    if replay is not None:
        r_loss, rep_grad, r_state, r_worst = _diffs(amp, replay, problems,
                                                    'the fp32 replay')
        rep = max(r_loss, r_state)
        if not rep <= REPLAY_TOL:
            problems.append(
                f'loss/state rel diff to the fp32 replay of the same inputs '
                f'{rep:.3g} > {REPLAY_TOL:g}' +
                (f' ({r_worst})' if r_state >= r_loss else ''))
        if is_bank:
            rep_grad = None
        elif not rep_grad <= REPLAY_GRAD_TOL[dtype_name]:
            problems.append(
                f'grad rel diff to the fp32 replay {rep_grad:.3g} > '
                f'{REPLAY_GRAD_TOL[dtype_name]:g}')
    finite = all(_finite(t) for t in amp.loss + amp.grad) and all(
        _finite(t) for st in amp.state for t in st.values())
    if not finite:
        problems.append('non-finite loss, gradient or state')
    for k, want in amp.expected_dtypes.items():
        got = amp.state_dtypes.get(k)
        if got != want:
            problems.append(f'{k} is {got}, expected {want}')
    loss_dtypes = {t.dtype for t in amp.loss}
    if not is_bank and loss_dtypes != {torch.float32}:
        problems.append(f'loss dtype {sorted(map(str, loss_dtypes))}, '
                        'expected float32')
    if amp.logit_dtype != DTYPES[dtype_name]:
        problems.append(f'autocast produced {amp.logit_dtype} '
                        f'{"features" if is_bank else "logits"}, not '
                        f'{dtype_name}: the check did not exercise AMP')
    return dict(case=case, dtype=dtype_name, tol=tol, loss_rel=loss_rel,
                grad_rel=None if is_bank else grad_rel,
                state_rel=state_rel, worst_state=worst,
                replay_rel=rep, replay_grad_rel=rep_grad, finite=finite,
                state_dtypes={k: str(v).replace('torch.', '')
                              for k, v in amp.state_dtypes.items()},
                passed=not problems, problems=problems)


def _fmt(v) -> str:
    return '-' if v is None else f'{v:.2e}'


def print_table(rows: List[dict]) -> None:
    head = ('case', 'dtype', 'loss rel', 'grad rel', 'state rel', 'tol',
            'replay', 'replay grad', 'finite', 'result')
    lines = [head]
    for r in rows:
        lines.append(
            (r['case'], r['dtype'], _fmt(r['loss_rel']), _fmt(r['grad_rel']),
             _fmt(r['state_rel']) + (f" ({r['worst_state']})"
                                     if r['worst_state'] else ''),
             f"{r['tol']:g}", _fmt(r['replay_rel']),
             _fmt(r['replay_grad_rel']), 'yes' if r['finite'] else 'NO',
             'pass' if r['passed'] else 'FAIL'))
    widths = [max(len(str(x[i])) for x in lines) for i in range(len(head))]
    for i, line in enumerate(lines):
        print('  '.join(str(x).ljust(w) for x, w in zip(line, widths)))
        if i == 0:
            print('  '.join('-' * w for w in widths))
    print(f'(rel: max|x - x_fp32| / max|x_fp32| over steps and tensors; '
          f'replay: loss/state against an fp32 twin fed the same upcast '
          f'inputs, tol {REPLAY_TOL:g}; replay grad tol '
          + ', '.join(f'{k} {v:g}' for k, v in REPLAY_GRAD_TOL.items())
          + ')')
    for r in rows:
        for p in r['problems']:
            print(f"  {r['case']}/{r['dtype']}: {p}")


def run_checks(device: str = 'cpu', steps: int = 4, small: bool = False,
               cases=CASES, dtypes=tuple(DTYPES), quiet: bool = False
               ) -> List[dict]:
    """Run the cases; returns one result dict per (case, dtype)."""
    from mmengine.logging import MMLogger
    # the losses announce themselves with print_log(logger='current')
    if not MMLogger.check_instance_created('amp_losses'):
        MMLogger.get_instance('amp_losses', log_level='WARNING')
    else:
        MMLogger.get_instance('amp_losses')  # make it the current one
    import mmlt  # noqa: F401  (registers the modules)
    sz = SIZES['small' if small else 'full']
    rows = []
    for case in cases:
        t0 = time.perf_counter()
        torch.manual_seed(0)
        ref, _ = RUNNERS[case](sz, steps, device, 'float32')
        for dn in dtypes:
            torch.manual_seed(0)
            try:
                amp, replay = RUNNERS[case](sz, steps, device, dn)
                row = compare(case, ref, amp, replay, dn)
            except Exception as e:  # report and go on with the others
                row = dict(case=case, dtype=dn, tol=TOL[dn], loss_rel=None,
                           grad_rel=None, state_rel=None, worst_state='',
                           replay_rel=None, replay_grad_rel=None,
                           finite=False, state_dtypes={}, passed=False,
                           problems=[f'{type(e).__name__}: {e}'])
            row['seconds'] = round(time.perf_counter() - t0, 3)
            rows.append(row)
        if device == 'cuda':
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
        if not quiet:
            print(f'[amp_losses] {case}: {time.perf_counter() - t0:.1f} s',
                  flush=True)
    return rows


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='Stateful losses under fp16 / bf16 autocast against '
        'fp32 (see the module doc).')
    p.add_argument('--device', choices=('cuda', 'cpu'), default=None,
                   help='default: cuda if available, else cpu')
    p.add_argument('--json', default=None, help='write the results here')
    p.add_argument('--steps', type=int, default=4)
    p.add_argument('--small', action='store_true',
                   help='small sizes (64 classes) for a quick CPU run')
    p.add_argument('--cases', default=','.join(CASES),
                   help=f'comma-separated subset of {",".join(CASES)}')
    p.add_argument('--dtypes', default=','.join(DTYPES),
                   help='comma-separated subset of float16,bfloat16')
    p.add_argument('--mmcv-ext-placeholder', action='store_true',
                   help='stand in for mmcv._ext if it cannot be imported '
                   '(the checks use no compiled op)')
    args = p.parse_args(argv)
    args.cases = [c for c in args.cases.split(',') if c]
    args.dtypes = [d for d in args.dtypes.split(',') if d]
    for c in args.cases:
        if c not in CASES:
            p.error(f'unknown case {c!r}; choose from {", ".join(CASES)}')
    for d in args.dtypes:
        if d not in DTYPES:
            p.error(f'unknown dtype {d!r}; choose from float16, bfloat16')
    if args.steps < 1:
        p.error('--steps must be >= 1')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    if device == 'cuda' and not torch.cuda.is_available():
        print('amp_losses: --device cuda but torch.cuda.is_available() is '
              'False', file=sys.stderr)
        return 2
    placeholder = False
    if args.mmcv_ext_placeholder:
        placeholder = use_mmcv_ext_placeholder()
        if placeholder:
            print('[amp_losses] mmcv._ext not importable: using a '
                  'placeholder (no compiled op is used by these checks)')
    t0 = time.perf_counter()
    rows = run_checks(device, args.steps, args.small, args.cases,
                      args.dtypes)
    wall = time.perf_counter() - t0
    print()
    print(f'AMP vs fp32, {args.steps} steps, device {device}'
          + (f' ({torch.cuda.get_device_name()})' if device == 'cuda'
             else '') + f', sizes {"small" if args.small else "LVIS"}, '
          f'{wall:.1f} s')
    print_table(rows)
    ok = all(r['passed'] for r in rows)
    print('\nresult:', 'PASS' if ok else 'FAIL')
    if args.json:
        d = osp.dirname(osp.abspath(args.json))
        os.makedirs(d, exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(dict(device=device,
                           device_name=(torch.cuda.get_device_name()
                                        if device == 'cuda' else
                                        platform.processor() or 'cpu'),
                           torch=torch.__version__, steps=args.steps,
                           sizes=SIZES['small' if args.small else 'full'],
                           tolerances=TOL, loss_scale=LOSS_SCALE,
                           mmcv_ext_placeholder=placeholder,
                           seconds=round(wall, 2), passed=ok, results=rows),
                      f, indent=1)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
