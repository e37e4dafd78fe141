"""Synthetic long-tailed datasets in LVIS v1 format.

Two generators, both deterministic functions of their seed:

* :func:`make_toy_lvis` writes a small *image* dataset whose classes are
  synthetic objects (shape x colour x texture) with an LVIS-like long-tailed
  training distribution (rare / common / frequent by the LVIS definitions) and
  a roughly class-balanced val split. It is the default data of mmlt's tests
  and demos and loads unchanged with mmdet's ``LVISV1Dataset``.
* :func:`make_lvis_scale_annotations` writes an *annotation-only* json at the
  scale of real LVIS v1 (1203 classes, ~100k train images, ~1.27M boxes) for
  benchmarking sampling and evaluation code.

This module registers nothing and only needs numpy, cv2 (images) and tqdm
(progress bars), so it is cheap to import from tools and tests.
"""
import json
import os
import os.path as osp
import re
import time

import numpy as np

__all__ = [
    'GENERATOR_VERSION', 'LVIS_V1_STATS', 'frequency_of', 'toy_lvis_classes',
    'make_toy_lvis', 'make_lvis_scale_annotations', 'format_summary',
    'LVIS_V05_STATS', 'REAL_FORMATS', 'make_real_format_data'
]

# Bump whenever the output of either generator changes for the same
# parameters: cached datasets are regenerated when it differs.
GENERATOR_VERSION = '1.1'

COCO_URL = 'http://images.cocodataset.org/'
# Val image ids live in their own range so that train and val never collide.
VAL_ID_OFFSET = 1_000_000

# Real LVIS v1 numbers that mode 2 mimics.
LVIS_V1_STATS = dict(
    train_images=100170,
    val_images=19809,
    train_boxes=1270141,
    val_boxes=244707,
    num_classes=1203,
    rare=337,
    common=461,
    frequent=405)

_INFO_DATE = '2024-01-01 00:00:00'
# how refusals name the override (tools/make_toy_lvis.py and the functions)
FORCE_FLAG = '--force (Python: force=True)'
_LICENSES = [dict(id=1, name='CC0 1.0 (synthetic data)', url='')]

# ---------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------


def frequency_of(image_count):
    """LVIS frequency group of a class from its number of training images."""
    if image_count <= 10:
        return 'r'
    if image_count <= 100:
        return 'c'
    return 'f'


def _rng(seed, *key):
    """Independent stream ``key`` of ``seed`` (no global RNG anywhere)."""
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence(int(seed), spawn_key=key)))


def _shoelace(xy):
    """Absolute area of polygon(s); ``xy`` has shape (..., K, 2)."""
    x, y = xy[..., 0], xy[..., 1]
    x1 = np.concatenate([x[..., 1:], x[..., :1]], -1)
    y1 = np.concatenate([y[..., 1:], y[..., :1]], -1)
    return 0.5 * np.abs(np.sum(x * y1 - x1 * y, axis=-1))


def _progress(total, desc, enabled):
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, disable=not enabled, leave=False)


def _image_record(img_id, split, width, height, neg, not_exh):
    name = f'{split}2017/{img_id:012d}.jpg'
    return dict(
        id=int(img_id),
        width=int(width),
        height=int(height),
        license=1,
        coco_url=COCO_URL + name,
        file_name=name,
        flickr_url=f'http://farm.example.org/synthetic/{img_id:012d}.jpg',
        date_captured='2013-11-14 11:18:45',
        neg_category_ids=neg,
        not_exhaustive_category_ids=not_exh)


def _info(description):
    return dict(
        description=description,
        url='https://github.com/open-mmlab/mmdetection',
        version=GENERATOR_VERSION,
        year=2024,
        contributor='mmlt',
        date_created=_INFO_DATE)


# ---------------------------------------------------------------------------
# Mode 1: toy image dataset
# ---------------------------------------------------------------------------

SHAPES = ('circle', 'square', 'triangle', 'diamond', 'star', 'cross',
          'hexagon', 'ellipse', 'pentagon', 'arrow')
COLOURS = (
    ('red', (220, 30, 30)),
    ('green', (40, 170, 40)),
    ('blue', (40, 70, 230)),
    ('yellow', (240, 215, 30)),
    ('magenta', (225, 50, 210)),
    ('cyan', (40, 210, 225)),
    ('orange', (250, 135, 20)),
    ('purple', (115, 40, 165)),
    ('white', (245, 245, 245)),
    ('black', (25, 25, 25)),
)
TEXTURES = ('solid', 'striped', 'dotted', 'checker', 'gradient')

# Per scale unit: classes per group and the image-count range of each group.
# Ranges follow the LVIS definitions (r: 1-10, c: 11-100, f: >100 images).
_GROUP_SIZES = dict(r=25, c=20, f=15)
_GROUP_RANGES = dict(r=(10, 1), c=(100, 11), f=(220, 101))
_MAX_SCALE = 8

# Distinct classes per train / val image (values, probabilities).
_TRAIN_K = ((1, 2, 3, 4, 5, 6, 7), (.04, .08, .16, .22, .22, .16, .12))
_VAL_K = ((1, 2, 3, 4), (.25, .35, .25, .15))
_EMPTY_TRAIN_FRACTION = 0.015
_VAL_IMAGES_PER_CLASS = (6, 9)
_VAL_INSTANCES_PER_CLASS = (12, 18)


def _grid_for_scale(scale):
    """(n_shapes, n_colours, n_textures) with enough combinations."""
    need = sum(_GROUP_SIZES.values()) * scale
    ns, nc, nt = 8, 8, 2
    while ns * nc * nt < need:
        if nt < 4:
            nt += 1
        elif ns < len(SHAPES) and ns <= nc:
            ns += 1
        elif nc < len(COLOURS):
            nc += 1
        else:
            nt += 1
    return ns, nc, nt


def toy_lvis_classes(scale=1):
    """Class specs of the toy dataset, sorted by name (= category id order).

    Returns a list of dicts with ``name``, ``shape``, ``colour`` and
    ``texture``. The list depends on ``scale`` only (never on the seed): 60
    classes per scale unit. Combinations are picked so that first every
    (shape, colour) pair is used once, with textures alternating, which
    keeps the classes of small scales maximally distinct.
    """
    if not 1 <= int(scale) <= _MAX_SCALE or int(scale) != scale:
        raise ValueError(f'scale must be an integer in [1, {_MAX_SCALE}], '
                         f'got {scale}')
    scale = int(scale)
    need = sum(_GROUP_SIZES.values()) * scale
    ns, nc, nt = _grid_for_scale(scale)
    # Diagonal pair order spreads dropped combinations over shapes/colours.
    pairs = [(k % ns, (k // ns + k) % nc) for k in range(ns * nc)]
    combos = []
    for r in range(nt):
        for s, c in pairs:
            combos.append((s, c, (s + c + r) % nt))
    specs = []
    for s, c, t in combos[:need]:
        specs.append(
            dict(
                name=f'{COLOURS[c][0]}_{SHAPES[s]}_{TEXTURES[t]}',
                shape=SHAPES[s],
                colour=COLOURS[c][0],
                texture=TEXTURES[t]))
    return sorted(specs, key=lambda d: d['name'])


def _unit_shape(shape):
    """Polygon of ``shape`` in a unit box centred at the origin (y down)."""
    def ngon(n, start, r=0.5):
        a = np.deg2rad(start) + 2 * np.pi * np.arange(n) / n
        return np.stack([r * np.cos(a), r * np.sin(a)], 1)

    if shape in ('circle', 'ellipse'):
        return ngon(24, 0)
    if shape == 'square':
        return np.array([[-.5, -.5], [.5, -.5], [.5, .5], [-.5, .5]])
    if shape == 'triangle':
        return np.array([[0, -.5], [.5, .5], [-.5, .5]])
    if shape == 'diamond':
        # Narrower than tall so it never looks like a slightly tilted square.
        return np.array([[0, -.5], [.36, 0], [0, .5], [-.36, 0]])
    if shape == 'star':
        p = ngon(10, -90)
        p[1::2] *= 0.42
        return p
    if shape == 'cross':
        a, b = .17, .5
        return np.array([[-a, -b], [a, -b], [a, -a], [b, -a], [b, a], [a, a],
                         [a, b], [-a, b], [-a, a], [-b, a], [-b, -a],
                         [-a, -a]])
    if shape == 'hexagon':
        return ngon(6, 0)
    if shape == 'pentagon':
        return ngon(5, -90)
    if shape == 'arrow':
        return np.array([[-.5, -.14], [.08, -.14], [.08, -.42], [.5, 0],
                         [.08, .42], [.08, .14], [-.5, .14]])
    raise KeyError(shape)


_UNIT_SHAPES = {s: _unit_shape(s) for s in SHAPES}
_COLOUR_RGB = dict(COLOURS)


def _instance_polygon(rng, shape, size):
    """Randomly jittered polygon of ``shape`` whose longer side is ~size."""
    pts = _UNIT_SHAPES[shape].copy()
    if shape == 'ellipse':
        pts[:, 1] /= rng.uniform(1.7, 2.1)
        quarter = int(rng.integers(2))
    else:
        pts[:, 0] *= np.exp(rng.uniform(-0.12, 0.12))
        quarter = int(rng.integers(4)) if shape == 'arrow' else 0
    theta = quarter * np.pi / 2 + np.deg2rad(rng.uniform(-12, 12))
    c, s = np.cos(theta), np.sin(theta)
    pts = pts @ np.array([[c, s], [-s, c]])
    return pts * (size / np.ptp(pts, axis=0).max())


def _free_positions(occ, bw, bh):
    """Flat indices (into the valid top-left grid) of free bw x bh boxes."""
    H, W = occ.shape
    if bw > W or bh > H:
        return None, 0
    import cv2
    ii = cv2.integral(occ)
    s = ii[bh:, bw:] - ii[:-bh, bw:] - ii[bh:, :-bw] + ii[:-bh, :-bw]
    return np.flatnonzero(s == 0), s.shape[1]


def _texture_patch(rng, texture, rgb, x0, y0, w, h, size):
    """Float RGB patch (h, w, 3) of ``texture`` in image coordinates."""
    base = np.clip(np.asarray(rgb, np.float32) + rng.uniform(-10, 10, 3), 0,
                   255)
    dark = base * 0.4
    if texture == 'solid':
        return np.broadcast_to(base, (h, w, 3))
    # Broadcast (h, 1) against (1, w) instead of materialising a grid.
    yy = np.arange(y0, y0 + h, dtype=np.float32)[:, None]
    xx = np.arange(x0, x0 + w, dtype=np.float32)[None, :]
    if texture == 'striped':
        period = max(4.0, size / 4.5)
        sel = ((xx + yy) / period) % 1.0 < 0.5
    elif texture == 'dotted':
        period = max(4.0, size / 4.0)
        fx = (xx - x0) % period - period / 2
        fy = (yy - y0) % period - period / 2
        sel = fx * fx + fy * fy > (period * 0.3)**2
    elif texture == 'checker':
        q = max(3.0, size / 5.0)
        sel = ((np.floor((xx - x0) / q) + np.floor((yy - y0) / q)) % 2) == 0
    elif texture == 'gradient':
        t = np.broadcast_to((xx - x0) / max(w - 1, 1), (h, w))
        return dark + (base - dark) * t[..., None]
    else:
        raise KeyError(texture)
    return np.where(sel[..., None], base, dark)


def _erfinv(y):
    """Inverse error function by Newton steps (avoids a scipy import)."""
    import math
    x = 0.0
    for _ in range(60):
        x -= (math.erf(x) - y) / (2 / math.sqrt(math.pi) * math.exp(-x * x))
    return x


def _background(rng, H, W):
    """Low-saturation, smoothly varying, cluttered background (float32)."""
    import cv2
    base = rng.uniform(90, 170) + rng.uniform(-15, 15, 3)
    # Mostly luminance variation, little colour: backgrounds stay greyish.
    low = rng.normal(0, 16, (5, 5, 1)) + rng.normal(0, 7, (5, 5, 3))
    bg = cv2.resize(low.astype(np.float32), (W, H),
                    interpolation=cv2.INTER_LINEAR) + base
    # Faint clutter lines: structure that is not an object.
    for _ in range(int(rng.integers(0, 4))):
        p = rng.uniform(0, [W, H, W, H]).astype(int)
        shade = float(rng.uniform(-25, 25))
        cv2.line(bg, (int(p[0]), int(p[1])), (int(p[2]), int(p[3])),
                 (shade + base[0], shade + base[1], shade + base[2]),
                 int(rng.integers(1, 3)))
    return bg.astype(np.float32)


# Gaussian (sigma 5) quantiles indexed by a random byte.
_NOISE_LUT = (5.0 * np.sqrt(2) * np.array(
    [_erfinv(2 * (i + 0.5) / 256 - 1) for i in range(256)])).astype(np.float32)


def _fill_ratio(shape):
    pts = _UNIT_SHAPES[shape].copy()
    if shape == 'ellipse':
        pts[:, 1] /= 1.9
    return float(_shoelace(pts)) / np.ptp(pts, axis=0).max()**2


# Polygon area / (longer side)^2 per shape: sizes are drawn as sqrt(area)
# and converted per shape, so area ranges do not depend on the class.
_FILL = {s: _fill_ratio(s) for s in SHAPES}


def _render_image(seed, split_key, index, items, specs, img_size,
                  keep_all=False):
    """Render one image.

    Args:
        items: list of (category_index, n_instances); the first instance of
            every class is mandatory, the extras are dropped when they do
            not fit unless ``keep_all`` (then everything shrinks instead).

    Returns:
        (BGR uint8 image, list of (category_index, polygon (K, 2))).
    """
    import cv2
    rng = _rng(seed, split_key, index)
    H = W = img_size
    img = _background(rng, H, W)
    f = img_size / 160.0
    min_size = max(6.0, 9 * f)
    margin = max(1, int(round(2 * f)))

    required = [(c, True) for c, _ in items]
    extras = [(c, keep_all) for c, n in items for _ in range(n - 1)]
    # sqrt(area) targets; crowded images shrink some, so ~60% end up small
    # (< 32^2 at 160 px) and ~40% medium.
    sqrt_area = rng.uniform(11, 56, len(required) + len(extras)) * f
    # A few images with few classes get one large (> 96^2) object.
    if 0 < len(items) <= 3 and rng.random() < 0.2:
        sqrt_area[int(rng.integers(len(required)))] = rng.uniform(100,
                                                                  116) * f
    objs = []
    for obj, a in zip(required + extras, sqrt_area):
        size = a / np.sqrt(_FILL[specs[obj[0]]['shape']])
        cap = 90 * f if a < 96 * f else img_size - 2 * margin - 2
        objs.append((obj, min(size, cap)))

    for attempt in range(30):
        occ = np.zeros((H, W), np.uint8)
        occ[0, :] = occ[-1, :] = occ[:, 0] = occ[:, -1] = 1
        placed = []
        ok = True
        # Mandatory objects first, then extras; big ones first inside each.
        order = sorted(
            range(len(objs)), key=lambda i: (not objs[i][0][1], -objs[i][1]))
        for i in order:
            (c, mandatory), size = objs[i]
            size = max(size * 0.85**attempt, min_size)
            shape = specs[c]['shape']
            while True:
                pts = _instance_polygon(rng, shape, size)
                pts -= pts.min(0)
                bw, bh = (int(np.ceil(v)) + 1 for v in pts.max(0))
                free, gw = _free_positions(occ, bw, bh)
                if free is not None and free.size:
                    break
                if size <= min_size:
                    free = None
                    break
                size = max(min_size, size * 0.8)
            if free is None:
                if mandatory:
                    ok = False
                    break
                continue
            k = int(free[rng.integers(free.size)])
            y, x = divmod(k, gw)
            slack = np.array([bw, bh]) - 1 - pts.max(0)
            pts += np.array([x, y]) + rng.uniform(0, 1, 2) * slack
            occ[max(0, y - margin):y + bh + margin,
                max(0, x - margin):x + bw + margin] = 1
            placed.append((c, np.round(pts, 2), size, (x, y, bw, bh)))
        if ok:
            break
    else:
        raise RuntimeError('could not place the objects of an image')

    ss = 4
    for c, pts, size, (x, y, bw, bh) in placed:
        spec = specs[c]
        # Supersampled coverage gives anti-aliased edges whose alpha matches
        # the polygon, so the polygon stays the true visible mask.
        m = np.zeros((bh * ss, bw * ss), np.uint8)
        local = ((pts - [x, y]) * ss - 0.5) * 16
        cv2.fillPoly(m, [np.round(local).astype(np.int32)], 255, shift=4)
        alpha = cv2.resize(m, (bw, bh), interpolation=cv2.INTER_AREA)
        alpha = (alpha.astype(np.float32) / 255.0)[..., None]
        tex = _texture_patch(rng, spec['texture'], _COLOUR_RGB[spec['colour']],
                             x, y, bw, bh, size)
        region = img[y:y + bh, x:x + bw]
        img[y:y + bh, x:x + bw] = region + alpha * (tex - region)
    # Sensor noise through a lookup table of gaussian quantiles: raw random
    # bytes plus cv2 ops are much faster than sampling normals.
    raw = np.frombuffer(rng.bytes(H * W * 3), np.uint8).reshape(H, W * 3)
    noisy = cv2.add(img.reshape(H, W * 3), cv2.LUT(raw, _NOISE_LUT))
    rgb = cv2.convertScaleAbs(cv2.max(noisy, 0.0)).reshape(H, W, 3)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [(c, p)
                                                  for c, p, _, _ in placed]


def _pack_classes(rng, targets, k_values, k_probs, slack=1.02):
    """Assign classes to images so class c lands in exactly targets[c] images.

    Image capacities (distinct classes per image) are drawn from
    ``k_values``/``k_probs`` with a little slack; classes are dealt from the
    most frequent down, each to distinct images picked with probability
    proportional to their remaining capacity. Capacity is granted on the fly
    if a class would not fit, so the counts are always exact.
    """
    targets = np.asarray(targets, np.int64)
    mean_k = float(np.dot(k_values, k_probs))
    n0 = int(np.ceil(targets.sum() * slack / mean_k))
    cap = rng.choice(np.asarray(k_values), size=n0, p=np.asarray(k_probs))
    members = [[] for _ in range(n0)]
    order = np.lexsort((rng.random(len(targets)), -targets))
    for c in order:
        t = int(targets[c])
        avail = np.flatnonzero(cap > 0)
        if avail.size < t:
            zero = np.flatnonzero(cap == 0)
            need = t - avail.size
            if zero.size < need:
                extra = need - zero.size
                cap = np.concatenate([cap, np.zeros(extra, cap.dtype)])
                members += [[] for _ in range(extra)]
                zero = np.flatnonzero(cap == 0)
            cap[rng.choice(zero, need, replace=False)] += 1
            avail = np.flatnonzero(cap > 0)
        w = cap[avail].astype(np.float64)
        chosen = rng.choice(avail, size=t, replace=False, p=w / w.sum())
        cap[chosen] -= 1
        for i in chosen:
            members[i].append(int(c))
    images = [sorted(m) for m in members if m]
    return [images[i] for i in rng.permutation(len(images))]


def _split_counts(rng, n_total, n_parts, lo=1, hi=None):
    """Random split of n_total into n_parts integers in [lo, hi]."""
    out = np.full(n_parts, lo, np.int64)
    for _ in range(n_total - lo * n_parts):
        ok = np.flatnonzero(out < hi) if hi is not None else np.arange(n_parts)
        out[ok[rng.integers(ok.size)]] += 1
    return out


def _toy_layout(seed, scale):
    """Per-image (class, n_instances) lists of both splits.

    Returns (specs, train_images, val_images, targets); ``None`` entries in
    the train list are deliberately empty images.
    """
    specs = toy_lvis_classes(scale)
    C = len(specs)
    rng = _rng(seed, 0)
    targets = []
    for g in ('f', 'c', 'r'):
        hi, lo = _GROUP_RANGES[g]
        targets.append(
            np.rint(np.geomspace(hi, lo, _GROUP_SIZES[g] * scale)).astype(
                np.int64))
    targets = np.concatenate(targets)[rng.permutation(C)]

    # Train: class-specific crowdedness, 1-3 instances per occurrence.
    crowd = rng.uniform(0.0, 0.7, C)
    train = []
    for members in _pack_classes(rng, targets, *_TRAIN_K):
        n = 1 + rng.binomial(2, crowd[members] / 2)
        train.append(list(zip(members, n.tolist())))
    n_empty = max(2, int(round(_EMPTY_TRAIN_FRACTION * len(train))))
    for pos in np.sort(rng.choice(len(train) + n_empty, n_empty,
                                  replace=False)):
        train.insert(int(pos), None)

    # Val: roughly uniform over classes so that APr is meaningful.
    lo, hi = _VAL_IMAGES_PER_CLASS
    val_targets = rng.integers(lo, hi + 1, C)
    val_members = _pack_classes(rng, val_targets, *_VAL_K)
    lo, hi = _VAL_INSTANCES_PER_CLASS
    per_occ = {}
    for c in range(C):
        total = int(rng.integers(lo, hi + 1))
        per_occ[c] = list(
            _split_counts(rng, total, int(val_targets[c]), 1, 4).tolist())
    val = []
    for members in val_members:
        val.append([(c, per_occ[c].pop()) for c in members])
    return specs, train, val, targets


def _write_if_changed(path, data):
    try:
        if os.path.getsize(path) == len(data):
            with open(path, 'rb') as f:
                if f.read() == data:
                    return
        # Unlink instead of truncating: ext4 flushes truncated-and-rewritten
        # files synchronously, which is ~10x slower.
        os.remove(path)
    except OSError:
        pass
    with open(path, 'wb') as f:
        f.write(data)


def _toy_split(seed, split, split_key, layout, specs, img_size, root, pbar):
    """Render images of one split; returns (images, annotations)."""
    import cv2
    C = len(specs)
    rng = _rng(seed, 10 + split_key)
    offset = 0 if split == 'train' else VAL_ID_OFFSET
    images, anns = [], []
    img_dir = osp.join(root, f'{split}2017')
    os.makedirs(img_dir, exist_ok=True)
    for idx, items in enumerate(layout):
        img_id = offset + idx + 1
        # Val keeps every instance: per-class val counts are guaranteed.
        bgr, objs = _render_image(seed, split_key, idx, items or [], specs,
                                  img_size, keep_all=split == 'val')
        ok, buf = cv2.imencode('.jpg', bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
        assert ok
        _write_if_changed(osp.join(img_dir, f'{img_id:012d}.jpg'),
                          buf.tobytes())
        pos = sorted({c for c, _ in objs})
        absent = np.setdiff1d(np.arange(C), pos)
        neg = np.sort(rng.choice(absent, absent.size // 2, replace=False))
        not_exh = [c for c in pos if rng.random() < 0.05]
        images.append(
            _image_record(img_id, split, img_size, img_size,
                          (neg + 1).tolist(), [c + 1 for c in not_exh]))
        for c, pts in objs:
            x0, y0 = pts.min(0)
            x1, y1 = pts.max(0)
            anns.append(
                dict(
                    id=len(anns) + 1,
                    image_id=img_id,
                    category_id=c + 1,
                    segmentation=[pts.ravel().tolist()],
                    area=round(float(_shoelace(pts)), 2),
                    bbox=[
                        float(x0),
                        float(y0),
                        round(float(x1 - x0), 2),
                        round(float(y1 - y0), 2)
                    ]))
        pbar.update(1)
    return images, anns


def _dump_json(obj, path):
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        # dumps uses the C encoder, dump does not.
        f.write(json.dumps(obj, separators=(',', ':')))
    os.replace(tmp, path)


_IMG_RE = re.compile(r'^\d{12}\.jpg$')


def _expected_names(n, offset):
    return {f'{offset + i + 1:012d}.jpg' for i in range(n)}


def _cache_valid(root, meta_path, params):
    try:
        with open(meta_path) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return None
    if meta.get('version') != GENERATOR_VERSION or meta.get(
            'params') != params or 'summary' not in meta:
        return None  # another generation, or an interrupted one
    s = meta['summary']
    for name in ('lvis_v1_train.json', 'lvis_v1_val.json'):
        if not osp.isfile(osp.join(root, 'annotations', name)):
            return None
    for split, offset in (('train', 0), ('val', VAL_ID_OFFSET)):
        d = osp.join(root, f'{split}2017')
        have = set(os.listdir(d)) if osp.isdir(d) else set()
        if not _expected_names(s.get(f'{split}_images', -1), offset) <= have:
            return None
    return meta


_TOY_DESC_RE = re.compile(r'mmlt toy long-tailed LVIS \((?:train|val), seed '
                          r'(-?\d+), scale (\d+), (\d+)px\)')


def _json_head(path, n=1024):
    try:
        with open(path, 'rb') as f:
            return f.read(n).decode('utf-8', 'replace')
    except OSError:
        return ''


def _fmt_params(params):
    return ', '.join(f'{k}={v}' for k, v in params.items())


def _existing_toy(root):
    """What ``root`` holds that :func:`make_toy_lvis` would overwrite.

    Returns ``('empty', None)``, ``('toy', params)`` for an mmlt toy set
    (complete or interrupted; params from ``meta.json`` or, for a set
    without it, from the json's description) or ``('foreign', what)``.
    """
    meta_path = osp.join(root, 'meta.json')
    if osp.isfile(meta_path):
        try:
            with open(meta_path) as f:
                meta = json.load(f)
        except (OSError, ValueError):
            meta = None
        if isinstance(meta, dict) and meta.get(
                'generator') == 'mmlt.datasets.toy_lvis' and isinstance(
                    meta.get('params'), dict):
            return 'toy', meta['params']
        return 'foreign', 'a meta.json not written by make_toy_lvis'
    found = []
    for split in ('train', 'val'):
        ann = osp.join(root, 'annotations', f'lvis_v1_{split}.json')
        if osp.isfile(ann):
            m = _TOY_DESC_RE.search(_json_head(ann))
            if m:
                return 'toy', dict(seed=int(m.group(1)),
                                   scale=int(m.group(2)),
                                   img_size=int(m.group(3)))
            found.append(f'annotations/lvis_v1_{split}.json')
    for split in ('train', 'val'):
        d = osp.join(root, f'{split}2017')
        if osp.isdir(d):
            n = sum(1 for name in os.listdir(d) if _IMG_RE.match(name))
            if n:
                found.append(f'{split}2017/ ({n} images)')
    if found:
        return 'foreign', ', '.join(found) + ' not written by make_toy_lvis'
    return 'empty', None


def _check_toy_destination(root, params):
    """Refuse to overwrite another toy set or a real dataset (no ``force``).
    A toy set of the same parameters (an older generator version, or an
    interrupted run) is regenerated: it holds nothing the call would not
    write again."""
    from mmlt.utils.output_paths import refuse_overwrite
    kind, what = _existing_toy(root)
    if kind == 'foreign':
        raise refuse_overwrite(
            root, f'holds {what} (a real dataset?)',
            'would overwrite its annotations and delete its 12-digit .jpg '
            'images', flag=FORCE_FLAG)
    if kind == 'toy' and what != params:
        raise refuse_overwrite(
            root, f'holds the toy LVIS set made with {_fmt_params(what)}',
            f'asks for {_fmt_params(params)} and would replace it',
            flag=FORCE_FLAG)


def _result(root, meta, generated, seconds):
    out = dict(
        root=root,
        train_ann=osp.join(root, 'annotations', 'lvis_v1_train.json'),
        val_ann=osp.join(root, 'annotations', 'lvis_v1_val.json'),
        meta=osp.join(root, 'meta.json'),
        generated=generated,
        seconds=round(seconds, 3),
        classes=list(meta['classes']))
    out.update(meta['summary'])
    return out


def make_toy_lvis(out_dir,
                  seed=0,
                  scale=1,
                  img_size=160,
                  progress=True,
                  force=False):
    """Generate (or reuse) the toy long-tailed LVIS v1 image dataset.

    Layout (mmdet's ``LVISV1Dataset`` with ``data_root=out_dir``,
    ``ann_file='annotations/lvis_v1_train.json'`` and
    ``data_prefix=dict(img='')`` finds the images through ``coco_url``)::

        out_dir/annotations/lvis_v1_{train,val}.json
        out_dir/{train,val}2017/{image_id:012d}.jpg
        out_dir/meta.json

    With ``scale=1`` there are 60 classes: 15 frequent (101-220 train
    images), 20 common (11-100) and 25 rare (1-10, at least one with a single
    image), ~760 train images (~1.5% without annotations) and ~200 val
    images in which every class has 12-18 instances in 6-9 images. ``scale``
    multiplies the number of classes of every group (more shapes, colours
    and textures) while keeping the per-group image-count ranges, so the
    number of images grows about linearly with it.

    The output is a pure function of (seed, scale, img_size): json bytes and
    image pixels are identical across runs. If ``out_dir/meta.json`` matches
    the parameters and all files exist, nothing is rewritten unless
    ``force`` (a no-op: the files are what the call would write). A toy set
    of the same parameters that is incomplete or from an older generator
    version is regenerated. Without ``force`` anything else is refused with
    :class:`~mmlt.utils.output_paths.OutputExistsError`: a toy set of other
    parameters, or files this function did not write (e.g. a real LVIS
    copy); an unwritable ``out_dir`` raises
    :class:`~mmlt.utils.output_paths.OutputNotWritableError` before any work.

    Returns:
        dict: ``root``, ``train_ann``, ``val_ann``, ``meta`` (absolute
        paths), ``generated`` (False when the cache was reused),
        ``seconds``, ``classes`` and the summary numbers (``num_classes``,
        ``groups``, ``train_images``, ``val_images``, ``train_instances``,
        ``val_instances``, ``empty_train_images``).
    """
    t0 = time.perf_counter()
    root = osp.abspath(out_dir)
    img_size = int(img_size)
    if img_size < 64:
        raise ValueError('img_size must be >= 64')
    params = dict(seed=int(seed), scale=int(scale), img_size=img_size)
    meta_path = osp.join(root, 'meta.json')
    if not force:
        meta = _cache_valid(root, meta_path, params)
        if meta is not None:
            return _result(root, meta, False, time.perf_counter() - t0)
        _check_toy_destination(root, params)
    from mmlt.utils.output_paths import check_writable_dir, writing
    check_writable_dir(root, 'toy dataset folder')
    with writing(root, 'toy dataset folder'):
        return _generate_toy(root, seed, scale, img_size, params, progress,
                             t0)


def _generate_toy(root, seed, scale, img_size, params, progress, t0):
    meta_path = osp.join(root, 'meta.json')
    specs, train_layout, val_layout, targets = _toy_layout(seed, scale)
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    # Incomplete (no summary) until everything is rewritten; the params let
    # a later call tell an interrupted run of other parameters apart.
    _dump_json(
        dict(generator='mmlt.datasets.toy_lvis', version=GENERATOR_VERSION,
             params=params), meta_path)
    C = len(specs)
    pbar = _progress(
        len(train_layout) + len(val_layout), 'toy_lvis', progress)
    tr_imgs, tr_anns = _toy_split(seed, 'train', 1, train_layout, specs,
                                  img_size, root, pbar)
    va_imgs, va_anns = _toy_split(seed, 'val', 2, val_layout, specs,
                                  img_size, root, pbar)
    pbar.close()

    # Category statistics are recounted from the train annotations (LVIS
    # stores the train numbers in both files).
    img_sets = [set() for _ in range(C)]
    inst = np.zeros(C, np.int64)
    for a in tr_anns:
        img_sets[a['category_id'] - 1].add(a['image_id'])
        inst[a['category_id'] - 1] += 1
    img_cnt = np.array([len(s) for s in img_sets])
    assert np.array_equal(img_cnt, targets), 'image counts off target'
    cats = []
    for i, spec in enumerate(specs):
        cats.append(
            dict(
                id=i + 1,
                name=spec['name'],
                synset=spec['name'] + '.n.01',
                synonyms=[
                    spec['name'],
                    f"{spec['texture']}_{spec['colour']}_{spec['shape']}"
                ],
                **{
                    'def': (f"a synthetic {spec['colour']} {spec['shape']} "
                            f"with a {spec['texture']} texture")
                },
                frequency=frequency_of(int(img_cnt[i])),
                image_count=int(img_cnt[i]),
                instance_count=int(inst[i])))

    for split, imgs, anns in (('train', tr_imgs, tr_anns), ('val', va_imgs,
                                                            va_anns)):
        _dump_json(
            dict(
                info=_info(f'mmlt toy long-tailed LVIS ({split}, seed {seed},'
                           f' scale {scale}, {img_size}px)'),
                licenses=_LICENSES,
                categories=cats,
                images=imgs,
                annotations=anns),
            osp.join(root, 'annotations', f'lvis_v1_{split}.json'))

    # Drop stale images of an earlier, different generation.
    for split, n, offset in (('train', len(tr_imgs), 0),
                             ('val', len(va_imgs), VAL_ID_OFFSET)):
        d = osp.join(root, f'{split}2017')
        keep = _expected_names(n, offset)
        for name in os.listdir(d):
            if _IMG_RE.match(name) and name not in keep:
                os.remove(osp.join(d, name))

    freq = [c['frequency'] for c in cats]
    summary = dict(
        num_classes=C,
        groups=dict(r=freq.count('r'), c=freq.count('c'), f=freq.count('f')),
        train_images=len(tr_imgs),
        val_images=len(va_imgs),
        train_instances=len(tr_anns),
        val_instances=len(va_anns),
        empty_train_images=sum(1 for x in train_layout if x is None))
    meta = dict(
        generator='mmlt.datasets.toy_lvis',
        version=GENERATOR_VERSION,
        params=params,
        summary=summary,
        classes=[s['name'] for s in specs])
    _dump_json(meta, meta_path)
    return _result(root, meta, True, time.perf_counter() - t0)


# ---------------------------------------------------------------------------
# Mode 2: annotation-only json at real LVIS v1 scale
# ---------------------------------------------------------------------------

# COCO-like image sizes (width, height) and their shares.
_COCO_SIZES = np.array([(640, 480), (480, 640), (640, 427), (427, 640),
                        (640, 426), (640, 425), (612, 612), (500, 375),
                        (640, 360), (375, 500)])
_COCO_SIZE_P = np.array([.40, .14, .16, .06, .05, .04, .04, .04, .04, .03])
_OCC_PER_IMAGE = 3.5  # distinct classes per image at full scale
_FREQ_TOP_SHARE = 0.45  # image share of the most frequent class
_NEG_FRACTION = 0.5  # negative-set size relative to positive-set size


def _frequent_counts(rng, n, lo, hi, mean):
    """n heavy-tailed counts in [lo, hi] whose mean is close to ``mean``.

    counts = lo * (hi / lo) ** (u ** gamma) on stratified u; gamma is found by
    bisection (the mean decreases with gamma).
    """
    u = (np.arange(n) + rng.random(n)) / n
    if hi <= lo:
        return np.full(n, lo, np.int64)

    def f(g):
        return np.floor(lo * (hi / lo)**(u**g))

    a, b = 1e-3, 200.0
    for _ in range(60):
        g = np.sqrt(a * b)
        if f(g).mean() > mean:
            a = g
        else:
            b = g
    return np.clip(f(np.sqrt(a * b)), lo, hi).astype(np.int64)


def _lvis_profile(seed, n_train, num_classes, stats=LVIS_V1_STATS):
    """Train class profile: group, image_count and instance_count per class.

    Depends only on (seed, n_train, num_classes), so the train and val files
    of one seed share the same category table.
    """
    rng = _rng(seed, 100)
    S = stats
    nr = int(round(num_classes * S['rare'] / S['num_classes']))
    nc = int(round(num_classes * S['common'] / S['num_classes']))
    nf = num_classes - nr - nc
    if min(nr, nc, nf) < 1:
        raise ValueError('too few classes for three frequency groups')
    strat = (lambda n: (np.arange(n) + rng.random(n)) / n)
    rare = np.floor(np.exp(strat(nr) * np.log(11))).astype(np.int64)
    common = np.floor(np.exp(np.log(11) + strat(nc) * np.log(101 / 11)))
    common = common.astype(np.int64)
    hi = max(101, int(_FREQ_TOP_SHARE * n_train))
    want = (_OCC_PER_IMAGE * n_train - rare.sum() - common.sum()) / max(nf, 1)
    freq = _frequent_counts(rng, nf, 101, hi, max(want, 101))
    counts = np.concatenate([rare, np.clip(common, 11, 100), freq])
    counts = np.minimum(counts, n_train)
    # Extra instances per occurrence: heavier for frequent classes, then
    # rescaled so the total box count matches LVIS v1 per image.
    mu = np.concatenate([
        np.full(nr, np.log(0.6)),
        np.full(nc, np.log(1.0)),
        np.full(nf, np.log(2.0))
    ])
    extra = np.exp(mu + rng.normal(0, 0.8, num_classes))
    want_boxes = S['train_boxes'] / S['train_images'] * n_train
    extra *= max(want_boxes - counts.sum(), 0) / (counts * extra).sum()
    inst = counts + np.rint(counts * extra).astype(np.int64)
    perm = rng.permutation(num_classes)
    return counts[perm], inst[perm], extra[perm]


def _deal_occurrences(rng, counts, n_images, pbar=None):
    """(image, class) pairs with class c in exactly counts[c] distinct images.

    Images have gamma-distributed "richness" weights; each class takes the
    top-k of weighted Gumbel keys, i.e. sampling without replacement.
    """
    logw = np.log(rng.gamma(2.0, 1.0, n_images))
    imgs = []
    for c, k in enumerate(counts):
        k = int(k)
        if k >= n_images:
            sel = np.arange(n_images)
        else:
            keys = logw + rng.gumbel(size=n_images)
            sel = np.argpartition(-keys, k - 1)[:k]
        imgs.append(sel)
        if pbar is not None:
            pbar.update(1)
    cls = np.repeat(np.arange(len(counts)), counts)
    img = np.concatenate(imgs)

    # Hand an occurrence of a multi-class image to most empty images, so
    # images without annotations stay rare (about 1%, as in mode 1).
    per_img = np.bincount(img, minlength=n_images)
    empty = np.flatnonzero(per_img == 0)
    keep = int(round(0.01 * n_images))
    if empty.size > keep:
        fill = rng.permutation(empty)[:empty.size - keep]
        order = rng.permutation(img.size)
        first = np.unique(img[order], return_index=True)[1]
        donors = order[first]  # one random occurrence per image
        donors = donors[per_img[img[donors]] >= 2]
        donors = rng.permutation(donors)[:fill.size]
        img[donors] = fill[:donors.size]
    return img, cls


def _distribute(rng, n_occ_per_class, total_per_class):
    """Instances per occurrence: 1 each plus the extras spread uniformly."""
    n_occ_per_class = np.asarray(n_occ_per_class, np.int64)
    starts = np.concatenate([[0], np.cumsum(n_occ_per_class)[:-1]])
    extras = np.maximum(total_per_class - n_occ_per_class, 0)
    c = np.repeat(np.arange(n_occ_per_class.size), extras)
    occ = starts[c] + (rng.random(c.size) * n_occ_per_class[c]).astype(
        np.int64)
    return 1 + np.bincount(occ, minlength=int(n_occ_per_class.sum()))


def _random_polygons(rng, wh):
    """Boxes and 4-8 point star-convex polygons inside images of size wh."""
    n = wh.shape[0]
    W, H = wh[:, 0].astype(np.float64), wh[:, 1].astype(np.float64)
    side = np.sqrt(W * H) * np.exp(rng.uniform(np.log(0.015), np.log(0.85), n))
    aspect = np.exp(np.clip(rng.normal(0, 0.45, n), -1.6, 1.6))
    bw = np.clip(side * np.sqrt(aspect), 3, W - 1)
    bh = np.clip(side / np.sqrt(aspect), 3, H - 1)
    x0 = rng.random(n) * (W - bw)
    y0 = rng.random(n) * (H - bh)
    k = rng.integers(4, 9, n)
    j = np.arange(8)[None, :]
    # Strictly increasing angles -> a simple (non self-intersecting) polygon.
    ang = 2 * np.pi * (np.minimum(j, k[:, None] - 1) + rng.uniform(
        -0.3, 0.3, (n, 8))) / k[:, None] + rng.uniform(0, 2 * np.pi, (n, 1))
    r = rng.uniform(0.75, 1.0, (n, 8))
    px = x0[:, None] + bw[:, None] / 2 * (1 + r * np.cos(ang))
    py = y0[:, None] + bh[:, None] / 2 * (1 + r * np.sin(ang))
    xy = np.round(np.stack([px, py], -1), 2)
    xy[..., 0] = np.clip(xy[..., 0], 0, W[:, None])
    xy[..., 1] = np.clip(xy[..., 1], 0, H[:, None])
    # Padding repeats the last real vertex: zero-length edges, same area.
    pad = j >= k[:, None]
    last = xy[np.arange(n), k - 1]
    xy[pad] = np.repeat(last, 8 - k, axis=0)
    area = np.round(_shoelace(xy), 2)
    lo, hi = xy.min(1), xy.max(1)
    bbox = np.round(np.concatenate([lo, hi - lo], 1), 2)
    return xy.reshape(n, 16), k, bbox, area


def make_lvis_scale_annotations(out_file,
                                split='train',
                                seed=0,
                                num_images=None,
                                num_classes=1203,
                                progress=True,
                                train_images=None,
                                return_info=False,
                                force=False):
    """Write an annotation-only LVIS v1 json at real LVIS scale (no images).

    Defaults mimic LVIS v1: train 100,170 images / ~1.27M boxes, val 19,809
    images / ~0.25M boxes, 1203 classes of which 337 rare (1-10 train
    images), 461 common (11-100) and 405 frequent (>100, heavy tail up to
    ~45% of the images). Images have COCO-like sizes; every box carries a
    simple 4-8 point polygon so segm evaluation works. Each category has a
    verified-negative set of about half its positive-set size
    (``neg_category_ids``), and ~5% of positive (image, class) pairs are
    ``not_exhaustive``. The category table always holds the *train* profile,
    identical in the train and val files of one seed. Every class has at
    least one val image.

    ``num_images`` (for ``split``) below the default scales everything down
    proportionally - images, boxes and the number of classes (each group
    keeps its share) - with the frequency-group image ranges unchanged;
    ``num_classes`` is the class count at full scale. The profile follows
    the implied train size: ``num_images`` for train, ``train_images``
    (default ``num_images * 100170 / 19809``) for val; pass the train
    ``num_images`` there to get a val file matching a scaled train file.

    An existing ``out_file`` is left as it is when it holds exactly what the
    call writes (a no-op) and refused without ``force``
    (:class:`~mmlt.utils.output_paths.OutputExistsError`) when it differs
    or was not written by this function; a file of other split / seed /
    size is refused before any work, one of other ``num_classes`` /
    ``train_images`` after the generation (the json records no more).

    Returns:
        str: the absolute path of the written json; with ``return_info`` a
        dict with ``path`` and summary numbers instead.
    """
    from mmlt.utils.output_paths import (check_writable_file,
                                         refuse_overwrite, writing)
    if split not in ('train', 'val'):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    S = LVIS_V1_STATS
    full = S[f'{split}_images']
    n_images = full if num_images is None else int(num_images)
    if n_images < 1:
        raise ValueError('num_images must be positive')
    out_file = osp.abspath(out_file)
    desc = (f'mmlt synthetic LVIS-scale annotations ({split}, seed {seed}, '
            f'{n_images} images)')
    compare = False
    if osp.isfile(out_file) and not force:
        m = re.search(r'"description":"(mmlt synthetic LVIS-scale '
                      r'annotations \([^"]*\))"', _json_head(out_file))
        if m is None:
            raise refuse_overwrite(
                out_file, 'is not a file written by --lvis-scale '
                '(make_lvis_scale_annotations)', 'would replace it',
                flag=FORCE_FLAG)
        if m.group(1) != desc:
            raise refuse_overwrite(out_file, f'holds "{m.group(1)}"',
                                   f'writes "{desc}"',
                                   flag=FORCE_FLAG)
        compare = True
    check_writable_file(out_file, 'annotation file')
    if split == 'train':
        n_train = n_images
    elif train_images is not None:
        n_train = int(train_images)
    else:
        n_train = int(round(n_images * S['train_images'] / S['val_images']))
    ratio = n_train / S['train_images']
    C = num_classes if ratio >= 1 else max(12, int(round(num_classes *
                                                         ratio)))
    counts, inst, extra = _lvis_profile(seed, n_train, C)
    rng = _rng(seed, 200 if split == 'train' else 201)

    pbar = _progress(C + 2, f'lvis-scale {split}', progress)
    if split == 'train':
        n_img_c, n_inst_c = counts, inst
    else:
        val_share = n_images / n_train
        n_img_c = np.clip(rng.poisson(counts * val_share), 1, n_images)
        n_inst_c = n_img_c + rng.poisson(n_img_c * extra)
    occ_img, occ_cls = _deal_occurrences(rng, n_img_c, n_images, pbar)
    order = np.lexsort((occ_cls, occ_img))
    # Instances per occurrence, computed in class-major order then re-sorted
    # into image-major order for writing.
    per_occ = _distribute(rng, n_img_c, n_inst_c)[order]
    occ_img, occ_cls = occ_img[order], occ_cls[order]
    ann_img = np.repeat(occ_img, per_occ)
    ann_cls = np.repeat(occ_cls, per_occ)
    wh = _COCO_SIZES[rng.choice(len(_COCO_SIZES), n_images, p=_COCO_SIZE_P)]
    seg, nv, bbox, area = _random_polygons(rng, wh[ann_img])

    # Verified negatives: per class, about half as many images as positives,
    # drawn among the images without it.
    neg_n = np.minimum(np.rint(_NEG_FRACTION * n_img_c).astype(np.int64) + 5,
                       (n_images - n_img_c))
    neg_cls = np.repeat(np.arange(C), neg_n)
    neg_img = rng.integers(0, n_images, neg_cls.size)
    neg_key = np.unique(neg_img * C + neg_cls)
    pos_key = occ_img * C + occ_cls
    neg_key = neg_key[~np.isin(neg_key, pos_key, assume_unique=True)]
    ne_key = pos_key[rng.random(pos_key.size) < 0.05]
    pbar.update(1)

    def by_image(keys):
        img = keys // C
        bounds = np.searchsorted(img, np.arange(n_images + 1))
        ids = (keys % C + 1).tolist()
        return [ids[bounds[i]:bounds[i + 1]] for i in range(n_images)]

    negs, not_exh = by_image(neg_key), by_image(np.sort(ne_key))
    offset = 0 if split == 'train' else VAL_ID_OFFSET
    freq = [frequency_of(int(n)) for n in counts]
    cats = [
        dict(
            id=i + 1,
            name=f'object_{i + 1:04d}',
            synset=f'object_{i + 1:04d}.n.01',
            synonyms=[f'object_{i + 1:04d}'],
            **{'def': f'synthetic LVIS-scale class {i + 1}'},
            frequency=freq[i],
            image_count=int(counts[i]),
            instance_count=int(inst[i])) for i in range(C)
    ]
    tmp = out_file + '.tmp'
    with writing(out_file, 'annotation file'):
        _write_lvis_scale(tmp, desc, cats, split, offset, n_images, wh, negs,
                          not_exh, ann_img, ann_cls, seg, nv, bbox, area)
        if compare:
            import filecmp
            same = filecmp.cmp(tmp, out_file, shallow=False)
            os.remove(tmp)
            if not same:
                raise refuse_overwrite(
                    out_file, 'holds the same split, seed and image count '
                    'but other content (other --num-classes / '
                    '--train-images, or an older generator)',
                    'writes other annotations', flag=FORCE_FLAG)
        else:
            os.replace(tmp, out_file)
    pbar.update(1)
    pbar.close()
    if not return_info:
        return out_file
    return dict(
        path=out_file,
        split=split,
        num_classes=C,
        groups=dict(r=freq.count('r'), c=freq.count('c'), f=freq.count('f')),
        images=n_images,
        instances=int(ann_img.size),
        empty_images=int(n_images - np.unique(ann_img).size))


def _write_lvis_scale(tmp, desc, cats, split, offset, n_images, wh, negs,
                      not_exh, ann_img, ann_cls, seg, nv, bbox, area):
    chunk = 100_000
    with open(tmp, 'w') as f:
        head = dict(
            info=_info(desc),
            licenses=_LICENSES,
            categories=cats)
        f.write(json.dumps(head, separators=(',', ':'))[:-1])
        f.write(',"images":[')
        for s in range(0, n_images, chunk):
            recs = [
                _image_record(offset + i + 1, split, wh[i, 0], wh[i, 1],
                              negs[i], not_exh[i])
                for i in range(s, min(s + chunk, n_images))
            ]
            f.write((',' if s else '') +
                    json.dumps(recs, separators=(',', ':'))[1:-1])
        f.write('],"annotations":[')
        n_ann = ann_img.size
        for s in range(0, n_ann, chunk):
            e = min(s + chunk, n_ann)
            segs = seg[s:e].tolist()
            nvs = (2 * nv[s:e]).tolist()
            boxes = bbox[s:e].tolist()
            areas = area[s:e].tolist()
            imgs = (ann_img[s:e] + offset + 1).tolist()
            clss = (ann_cls[s:e] + 1).tolist()
            recs = [
                dict(
                    id=s + i + 1,
                    image_id=imgs[i],
                    category_id=clss[i],
                    segmentation=[segs[i][:nvs[i]]],
                    area=areas[i],
                    bbox=boxes[i]) for i in range(e - s)
            ]
            f.write((',' if s else '') +
                    json.dumps(recs, separators=(',', ':'))[1:-1])
        f.write(']}')


def format_summary(info):
    """Short human-readable summary of a :func:`make_toy_lvis` result."""
    g = info['groups']
    lines = [
        f"toy LVIS at {info['root']} "
        f"({'generated' if info['generated'] else 'cached'}, "
        f"{info['seconds']:.1f} s)",
        f"  classes: {info['num_classes']} "
        f"(rare {g['r']}, common {g['c']}, frequent {g['f']})",
        f"  train: {info['train_images']} images "
        f"({info['empty_train_images']} empty), "
        f"{info['train_instances']} instances",
        f"  val:   {info['val_images']} images, "
        f"{info['val_instances']} instances",
        f"  train ann: {info['train_ann']}",
        f"  val ann:   {info['val_ann']}",
    ]
    return '\n'.join(lines)


# ---------------------------------------------------------------------------
# Mode 3: a few images in a real dataset's format and category set
# ---------------------------------------------------------------------------

LVIS_V05_STATS = dict(
    train_images=57263,
    val_images=5000,
    train_boxes=693958,
    val_boxes=50763,
    num_classes=1230,
    rare=454,
    common=461,
    frequent=315)

#: COCO 2017 category ids (80 of 1..90).
COCO_CAT_IDS = tuple(i for i in range(1, 91) if i not in (
    12, 26, 29, 30, 45, 66, 68, 69, 71, 83))
_OPENIMAGES_SIZES = np.array([(1024, 768), (1024, 683), (768, 1024),
                              (1024, 576), (683, 1024)])
_VOC_SIZES = np.array([(500, 375), (375, 500), (500, 333), (333, 500)])

REAL_FORMATS = ('lvis_v1', 'lvis_v0.5', 'openimages', 'coco', 'voc')


def _render_polygons(rng, w, h, polys):
    """A noisy grey image with each polygon filled in a random colour."""
    import cv2
    img = _background(rng, int(h), int(w))
    img += _NOISE_LUT[rng.integers(0, 256, img.shape, dtype=np.uint8)]
    for poly in polys:
        pts = np.round(np.asarray(poly, np.float64).reshape(-1, 2)).astype(
            np.int32)
        cv2.fillPoly(img, [pts], rng.uniform(0, 255, 3).tolist())
    return np.clip(img, 0, 255).astype(np.uint8)


def _write_jpg(path, img):
    import cv2
    os.makedirs(osp.dirname(path), exist_ok=True)
    ok, buf = cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise RuntimeError(f'could not encode {path}')
    _write_if_changed(path, buf.tobytes())


def _boxes_for(rng, n_images, sizes, cover, extra_per_image):
    """Per-image (class, polygon, bbox, area) lists.

    Every class in ``cover`` gets one instance in a random image (a
    tiny training set still has a non-zero count for every class, as the
    full dataset does), then each image gets ``extra_per_image`` more of
    random classes.
    """
    cover = rng.permutation(np.asarray(cover, np.int64))
    img_of = np.arange(cover.size) % n_images
    extra_cls = rng.choice(cover, n_images * extra_per_image)
    cls = np.concatenate([cover, extra_cls])
    img = np.concatenate([img_of, np.repeat(np.arange(n_images),
                                            extra_per_image)])
    wh = sizes[rng.integers(0, len(sizes), n_images)]
    seg, nv, bbox, area = _random_polygons(rng, wh[img])
    per_image = [[] for _ in range(n_images)]
    for i in np.argsort(img, kind='stable'):
        per_image[img[i]].append(
            (int(cls[i]), seg[i][:2 * nv[i]].tolist(), bbox[i].tolist(),
             float(area[i])))
    return wh, per_image


def _smoke_lvis(root, version, seed, n_train, n_val):
    from mmdet.datasets import LVISV05Dataset, LVISV1Dataset
    v1 = version == 'v1'
    S = LVIS_V1_STATS if v1 else LVIS_V05_STATS
    names = (LVISV1Dataset if v1 else LVISV05Dataset).METAINFO['classes']
    C = S['num_classes']
    assert len(names) == C
    counts, inst, _ = _lvis_profile(seed, S['train_images'], C, S)
    cats = [
        dict(id=i + 1, name=names[i], synset=f'{names[i]}.n.01',
             synonyms=[names[i]], frequency=frequency_of(int(counts[i])),
             image_count=int(counts[i]), instance_count=int(inst[i]),
             **{'def': f'LVIS {version} category {i + 1} (synthetic data)'})
        for i in range(C)
    ]
    rng = _rng(seed, 300 if v1 else 301)
    out = {}
    ann_id = 0
    for split, n, cover, extra in (
            ('train', n_train, np.arange(C), 4),
            ('val', n_val, rng.choice(C, 8 * n_val, replace=False), 2)):
        offset = 0 if split == 'train' else VAL_ID_OFFSET
        wh, per_image = _boxes_for(rng, n, _COCO_SIZES, cover, extra)
        images, anns = [], []
        for i in range(n):
            img_id = offset + i + 1
            present = {c for c, *_ in per_image[i]}
            neg = sorted(int(c) + 1 for c in rng.choice(C, 5, replace=False)
                         if c not in present)
            rec = _image_record(img_id, split, wh[i, 0], wh[i, 1], neg, [])
            if not v1:
                rec['file_name'] = f'COCO_{split}2014_{img_id:012d}.jpg'
                del rec['coco_url']
            images.append(rec)
            for c, poly, box, area in per_image[i]:
                ann_id += 1
                anns.append(dict(id=ann_id, image_id=img_id,
                                 category_id=c + 1, segmentation=[poly],
                                 area=area, bbox=box))
            _write_jpg(osp.join(root, f'{split}2017', f'{img_id:012d}.jpg'),
                       _render_polygons(rng, wh[i, 0], wh[i, 1],
                                        [p for _, p, _, _ in per_image[i]]))
        name = f'lvis_{version}_{split}.json'
        data = dict(info=_info(f'mmlt smoke data, LVIS {version} {split}'),
                    licenses=_LICENSES, categories=cats, images=images,
                    annotations=anns)
        os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
        _dump_json(data, osp.join(root, 'annotations', name))
        out[split] = osp.join(root, 'annotations', name)
    return out


def _smoke_coco_like(root, fmt, seed, n_train, n_val):
    """COCO-format json + images: 'coco' (80 COCO ids, train2017/val2017)
    or 'openimages' (500 classes, train/ val/, openimages2coco names)."""
    rng = _rng(seed, 302 if fmt == 'coco' else 303)
    if fmt == 'coco':
        from mmdet.datasets import CocoDataset
        names = CocoDataset.METAINFO['classes']
        cat_ids = COCO_CAT_IDS
        sizes, dirs = _COCO_SIZES, dict(train='train2017', val='val2017')
        files = dict(train='instances_train2017.json',
                     val='instances_val2017.json')
    else:
        names = [f'OpenImages class {i:03d}' for i in range(500)]
        cat_ids = tuple(range(1, 501))
        sizes, dirs = _OPENIMAGES_SIZES, dict(train='train', val='val')
        files = dict(train='openimages_challenge_2019_train_bbox.json',
                     val='openimages_challenge_2019_val_bbox.json')
    C = len(cat_ids)
    cats = [dict(id=cat_ids[i], name=names[i], supercategory='object')
            for i in range(C)]
    out = {}
    ann_id = 0
    for split, n, extra in (('train', n_train, 3), ('val', n_val, 4)):
        offset = 0 if split == 'train' else VAL_ID_OFFSET
        cover = np.arange(C) if split == 'train' or fmt == 'coco' else \
            rng.choice(C, 4 * n, replace=False)
        wh, per_image = _boxes_for(rng, n, sizes, cover, extra)
        images, anns = [], []
        for i in range(n):
            img_id = offset + i + 1
            fname = (f'{img_id:012d}.jpg' if fmt == 'coco' else
                     f'{img_id:016x}.jpg')
            images.append(dict(id=img_id, file_name=fname,
                               width=int(wh[i, 0]), height=int(wh[i, 1])))
            for c, poly, box, area in per_image[i]:
                ann_id += 1
                anns.append(dict(id=ann_id, image_id=img_id,
                                 category_id=cat_ids[c], segmentation=[poly],
                                 area=area, bbox=box, iscrowd=0))
            _write_jpg(osp.join(root, dirs[split], fname),
                       _render_polygons(rng, wh[i, 0], wh[i, 1],
                                        [p for _, p, _, _ in per_image[i]]))
        data = dict(info=_info(f'mmlt smoke data, {fmt} {split}'),
                    licenses=_LICENSES, categories=cats, images=images,
                    annotations=anns)
        os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
        out[split] = osp.join(root, 'annotations', files[split])
        _dump_json(data, out[split])
    return out


def _smoke_voc(root, seed, n_train, n_val):
    """VOC2012 trainval + VOC2007 test: ImageSets/Main lists, XML, JPEGs."""
    from .multilabel import VOC_CLASSES
    rng = _rng(seed, 304)
    out = {}
    for year, split, n in (('VOC2012', 'trainval', n_train),
                           ('VOC2007', 'test', n_val)):
        sub = osp.join(root, year)
        wh, per_image = _boxes_for(rng, n, _VOC_SIZES,
                                   np.arange(len(VOC_CLASSES)), 2)
        ids = [f'{year[3:]}_{i + 1:06d}' for i in range(n)]
        for i, img_id in enumerate(ids):
            objs = ''.join(
                f'<object><name>{VOC_CLASSES[c]}</name><difficult>0'
                f'</difficult><bndbox><xmin>{b[0] + 1:.0f}</xmin><ymin>'
                f'{b[1] + 1:.0f}</ymin><xmax>{b[0] + b[2]:.0f}</xmax><ymax>'
                f'{b[1] + b[3]:.0f}</ymax></bndbox></object>'
                for c, _, b, _ in per_image[i])
            xml = (f'<annotation><folder>{year}</folder><filename>{img_id}'
                   f'.jpg</filename><size><width>{wh[i, 0]}</width><height>'
                   f'{wh[i, 1]}</height><depth>3</depth></size>{objs}'
                   '</annotation>')
            os.makedirs(osp.join(sub, 'Annotations'), exist_ok=True)
            _write_if_changed(
                osp.join(sub, 'Annotations', f'{img_id}.xml'), xml.encode())
            _write_jpg(osp.join(sub, 'JPEGImages', f'{img_id}.jpg'),
                       _render_polygons(rng, wh[i, 0], wh[i, 1],
                                        [p for _, p, _, _ in per_image[i]]))
        lst = osp.join(sub, 'ImageSets', 'Main', f'{split}.txt')
        os.makedirs(osp.dirname(lst), exist_ok=True)
        _write_if_changed(lst, ('\n'.join(ids) + '\n').encode())
        out[split] = lst
    return out


_REAL_MARKER = '.mmlt_real_format.json'


def _real_format_files(fmt, n_train, n_val):
    """Paths (relative to the root) :func:`make_real_format_data` writes."""
    out = []
    for split, n in (('train', n_train), ('val', n_val)):
        offset = 0 if split == 'train' else VAL_ID_OFFSET
        ids = range(offset + 1, offset + n + 1)
        if fmt.startswith('lvis'):
            out.append(f'annotations/lvis_{fmt[5:]}_{split}.json')
            out += [f'{split}2017/{i:012d}.jpg' for i in ids]
        elif fmt == 'coco':
            out.append(f'annotations/instances_{split}2017.json')
            out += [f'{split}2017/{i:012d}.jpg' for i in ids]
        elif fmt == 'openimages':
            out.append(
                f'annotations/openimages_challenge_2019_{split}_bbox.json')
            out += [f'{split}/{i:016x}.jpg' for i in ids]
    if fmt == 'voc':
        for year, split, n in (('VOC2012', 'trainval', n_train),
                               ('VOC2007', 'test', n_val)):
            out.append(f'{year}/ImageSets/Main/{split}.txt')
            for i in range(n):
                name = f'{year[3:]}_{i + 1:06d}'
                out += [f'{year}/Annotations/{name}.xml',
                        f'{year}/JPEGImages/{name}.jpg']
    return out


def _check_real_destination(root, params, n_train, n_val):
    from mmlt.utils.output_paths import refuse_overwrite
    marker = osp.join(root, _REAL_MARKER)
    held = None
    if osp.isfile(marker):
        try:
            with open(marker) as f:
                held = json.load(f).get('params')
        except (OSError, ValueError, AttributeError):
            held = None
    if isinstance(held, dict):
        # an older generator version of the same arguments is regenerated
        if {k: v for k, v in held.items() if k != 'version'} != {
                k: v for k, v in params.items() if k != 'version'}:
            fmt = ', '.join(f'{k}={v}' for k, v in held.items())
            want = ', '.join(f'{k}={v}' for k, v in params.items())
            raise refuse_overwrite(
                root, f'holds synthetic data made with {fmt} ({_REAL_MARKER})',
                f'asks for {want} and would replace it',
                flag=FORCE_FLAG)
        return  # same arguments: rewriting gives the same bytes
    clash = [p for p in _real_format_files(params['format'], n_train, n_val)
             if osp.lexists(osp.join(root, p))]
    if clash:
        more = f' (+{len(clash) - 3} more)' if len(clash) > 3 else ''
        raise refuse_overwrite(
            root, f'holds {", ".join(clash[:3])}{more}, not written by '
            'make_toy_lvis --real-format (a real dataset?)',
            'would overwrite them', flag=FORCE_FLAG)


def make_real_format_data(root, fmt, seed=0, train_images=None,
                          val_images=None, force=False):
    """A few synthetic images in the format and category set of a real
    dataset, at its real image sizes, so that a real config runs unchanged.

    ``fmt`` and what ``root`` receives (the folder a config's ``data_root``
    names):

    * ``lvis_v1``: ``annotations/lvis_v1_{train,val}.json`` with LVIS v1's
      1,203 category names and a category table whose ``frequency`` /
      ``image_count`` / ``instance_count`` follow the full-scale profile
      (337 rare, 461 common, 405 frequent); images under ``train2017/`` and
      ``val2017/`` addressed by ``coco_url``.
    * ``lvis_v0.5``: likewise with v0.5's 1,230 names (454 / 461 / 315) and
      COCO-2014 style ``file_name``.
    * ``openimages``: openimages2coco jsons (500 classes), ``train/``
      ``val/``, OpenImages-like sizes (1024 px long side).
    * ``coco``: ``instances_{train,val}2017.json`` with COCO's 80 category
      ids, for COCO-MLT (``tools/create_longtail_dataset.py`` draws the
      subset from it).
    * ``voc``: ``VOC2012`` (trainval) and ``VOC2007`` (test) folders.

    Every class gets at least one training instance (as in the full sets,
    so frequency-based methods never see a zero count); COCO-like image
    sizes (640 x 480 etc.). Boxes carry 4-8 point polygons.

    ``root/.mmlt_real_format.json`` records the arguments. Calling again
    with the same arguments rewrites identical bytes (images whose bytes
    match are not touched); without ``force``, data of other arguments, or
    files at the paths this function writes that it did not write (a real
    dataset), are refused with
    :class:`~mmlt.utils.output_paths.OutputExistsError`, and an unwritable
    ``root`` raises :class:`~mmlt.utils.output_paths.OutputNotWritableError`
    before any work.

    Returns:
        dict: split -> annotation file (or id list) written.
    """
    from mmlt.utils.output_paths import check_writable_dir, writing
    if fmt not in REAL_FORMATS:
        raise ValueError(f'fmt must be one of {REAL_FORMATS}, got {fmt!r}')
    defaults = dict(lvis_v1=(16, 2), openimages=(16, 2), coco=(96, 8),
                    voc=(64, 8))
    defaults['lvis_v0.5'] = defaults['lvis_v1']
    n_train = train_images or defaults[fmt][0]
    n_val = val_images or defaults[fmt][1]
    root = osp.abspath(root)
    params = dict(format=fmt, seed=int(seed), train_images=int(n_train),
                  val_images=int(n_val), version=GENERATOR_VERSION)
    if not force:
        _check_real_destination(root, params, n_train, n_val)
    check_writable_dir(root, f'{fmt} data folder')
    with writing(root, f'{fmt} data folder'):
        _dump_json(dict(generator='mmlt.datasets.toy_lvis --real-format',
                        params=params), osp.join(root, _REAL_MARKER))
        if fmt.startswith('lvis'):
            return _smoke_lvis(root, fmt[5:], seed, n_train, n_val)
        if fmt == 'voc':
            return _smoke_voc(root, seed, n_train, n_val)
        return _smoke_coco_like(root, fmt, seed, n_train, n_val)
