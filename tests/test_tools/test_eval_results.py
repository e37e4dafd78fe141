"""tools/analysis/eval_results.py: a tools/test.py --out pkl (or a results
json) re-evaluated without inference equals what tools/test.py logged, on
both LVIS backends; detections derived from the GT match lvis-api; a file
that does not fit the config fails with the file and field named; and
tools/test.py refuses segm on a box-only model before inference."""
import copy
import glob
import json
import os.path as osp
import pickle
import re
import subprocess
import sys
import time

import numpy as np
import pycocotools.mask as mask_utils
import pytest
import torch

from conftest import PY, ROOT, TOY_CONFIG, run_tool, toy_cfg_options

sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis'))
import eval_results  # noqa: E402

RETINA_CONFIG = osp.join(ROOT, 'configs/toy/retinanet_r18_fpn_toy_focal.py')
N_VAL = 6
IOU_TYPES = ['bbox', 'segm', 'proposal', 'proposal_fast']


def _opts(root):
    return toy_cfg_options(root, n_train=2, n_val=N_VAL)


@pytest.fixture(scope='module')
def tested(toy_lvis_root, tmp_path_factory):
    """A toy Mask R-CNN trained for one iteration, tested with --out."""
    tmp = tmp_path_factory.mktemp('eval_results')
    work = str(tmp / 'work')
    opts = _opts(toy_lvis_root)
    run_tool([PY, 'tools/train.py', TOY_CONFIG, '--work-dir', work] + opts)
    pkl = str(tmp / 'preds.pkl')
    test_work = str(tmp / 'test')
    proc = run_tool([PY, 'tools/test.py', TOY_CONFIG,
                     osp.join(work, 'epoch_1.pth'), '--work-dir', test_work,
                     '--out', pkl, '--eval'] + IOU_TYPES + opts)
    # mmengine's json log of the test run: the metrics at full precision
    log_json = glob.glob(osp.join(test_work, '*', '*.json'))
    assert len(log_json) == 1
    metrics = json.loads(open(log_json[0]).read().splitlines()[-1])
    return dict(root=toy_lvis_root, tmp=tmp, pkl=pkl, opts=opts,
                metrics=metrics, stdout=proc.stdout + proc.stderr,
                per_class=json.load(
                    open(osp.join(test_work, 'per_class_ap.json'))))


def _evaluate(tested, preds, *extra, work=None):
    """The tool in-process (its ``main``); returns its metrics."""
    work = work or str(tested['tmp'] / 'ev_inproc')
    return eval_results.main(
        [TOY_CONFIG] + list(preds) + ['--work-dir', work] + list(extra) +
        tested['opts'])


def _printed_metrics(log):
    """``key: value`` pairs of tools/test.py's 'Epoch(test)' line."""
    line = [ln for ln in log.splitlines() if 'Epoch(test)' in ln][-1]
    return {k: float(v) for k, v in re.findall(r'(lvis/\S+): (-?[\d.]+)',
                                                line)}


# ----------------------------------------------- round trip of test.py --out
@pytest.mark.parametrize('backend', ['fast', 'lvis'])
def test_pkl_equals_test_py(tested, backend):
    work = str(tested['tmp'] / f'ev_{backend}')
    out_json = str(tested['tmp'] / f'ev_{backend}.json')
    args = [tested['pkl'], '--backend', backend, '--work-dir', work,
            '--out-json', out_json, '--eval'] + IOU_TYPES + tested['opts']
    if backend == 'fast':  # the command line once, in-process otherwise
        proc = run_tool([PY, 'tools/analysis/eval_results.py', TOY_CONFIG] +
                        args)
        assert 'LVIS evaluation against' in proc.stdout + proc.stderr
    else:
        eval_results.main([TOY_CONFIG] + args)
    got = json.load(open(out_json))
    want = {k: v for k, v in tested['metrics'].items()
            if k.startswith('lvis/')}
    assert len(want) == 13 * 2 + 12 + 3
    assert got == want
    # some of them are not 0 (class-agnostic recall of the real boxes)
    assert got['lvis/proposal_AR@100'] > 0
    assert got['lvis/proposal_fast_AR@100'] > 0
    # the 4-decimal values tools/test.py printed
    printed = _printed_metrics(tested['stdout'])
    assert printed.keys() == want.keys()
    for k, v in printed.items():
        assert round(got[k], 4) == pytest.approx(v, abs=1e-12), k
    assert json.load(open(osp.join(work, 'per_class_ap.json'))) == \
        tested['per_class']


def test_mmdet_offline_evaluate_fails_on_the_dump(tested):
    """Why the tool exists: mmdet's eval_metric.py path on the same pkl."""
    from mmdet.evaluation.metrics import LVISMetric
    ann = osp.join(tested['root'], 'annotations', 'lvis_v1_val.json')
    metric = LVISMetric(ann_file=ann, metric=['bbox', 'segm'])
    samples = pickle.load(open(tested['pkl'], 'rb'))
    with pytest.raises(AttributeError, match='detach'):
        metric.process({}, samples)


# ------------------------------------------- GT-derived detections vs lvis-api
def _gt_predictions(tested, seed=0):
    """The dumped samples with detections built from the val GT: jittered
    GT boxes and masks, 20% with a wrong label, random scores, plus random
    false positives, in DumpDetResults' format; and the same detections as
    an LVIS results json (as mmdet's results2json writes them)."""
    rng = np.random.default_rng(seed)
    gt = json.load(open(osp.join(tested['root'], 'annotations',
                                 'lvis_v1_val.json')))
    cat_ids = sorted(c['id'] for c in gt['categories'])
    anns_of = {}
    for a in gt['annotations']:
        anns_of.setdefault(a['image_id'], []).append(a)
    samples = pickle.load(open(tested['pkl'], 'rb'))
    box_json, segm_json = [], []
    for s in samples:
        h, w = s['ori_shape']
        boxes, labels, masks = [], [], []
        for a in anns_of.get(s['img_id'], []):
            x, y, bw, bh = a['bbox']
            boxes.append([x, y, x + bw, y + bh] + rng.normal(0, 3, 4))
            label = cat_ids.index(a['category_id'])
            if rng.random() < 0.2:
                label = int(rng.integers(len(cat_ids)))
            labels.append(label)
            rle = mask_utils.merge(
                mask_utils.frPyObjects(a['segmentation'], h, w))
            masks.append(rle)
        for _ in range(3):
            x1, y1 = rng.uniform(0, 100, 2)
            box = [x1, y1, x1 + rng.uniform(10, 60), y1 + rng.uniform(10, 60)]
            boxes.append(np.array(box))
            labels.append(int(rng.integers(len(cat_ids))))
            m = np.zeros((h, w), np.uint8, order='F')
            x1, y1, x2, y2 = (int(v) for v in box)
            m[y1:y2, x1:x2] = 1
            masks.append(mask_utils.encode(m))
        bboxes = torch.tensor(np.array(boxes), dtype=torch.float32)
        scores = torch.tensor(rng.uniform(0.05, 1, len(boxes)),
                              dtype=torch.float32)
        s['pred_instances'] = dict(
            bboxes=bboxes, scores=scores,
            labels=torch.tensor(labels, dtype=torch.int64), masks=masks)
        for b, sc, lab, m in zip(bboxes.numpy(), scores.numpy(), labels,
                                 masks):
            x1, y1, x2, y2 = b.tolist()
            det = dict(image_id=s['img_id'], bbox=[x1, y1, x2 - x1, y2 - y1],
                       score=float(sc), category_id=cat_ids[lab])
            box_json.append(det)
            segm_json.append(dict(det, segmentation=dict(
                size=m['size'], counts=m['counts'].decode())))
    return samples, box_json, segm_json


def _lvis_api(gt_file, dets, iou_type, monkeypatch):
    """The original lvis-api (np.float only inside)."""
    from lvis import LVIS, LVISEval, LVISResults
    with monkeypatch.context() as m:
        m.setattr(np, 'float', float, raising=False)
        gt = LVIS(gt_file)
        ev = LVISEval(gt, LVISResults(gt, copy.deepcopy(dets), max_dets=300),
                      iou_type)
        ev.run()
    return {k: float(v) for k, v in ev.results.items()}


@pytest.fixture(scope='module')
def gt_preds(tested):
    samples, box_json, segm_json = _gt_predictions(tested)
    pkl = str(tested['tmp'] / 'gt_preds.pkl')
    with open(pkl, 'wb') as f:
        pickle.dump(samples, f)
    files = {}
    for name, dets in (('bbox', box_json), ('segm', segm_json)):
        files[name] = str(tested['tmp'] / f'gt_preds.{name}.json')
        json.dump(dets, open(files[name], 'w'))
    return pkl, files, box_json, segm_json


@pytest.mark.parametrize('backend', ['fast', 'lvis'])
def test_gt_derived_predictions_match_lvis_api(tested, gt_preds, backend,
                                               monkeypatch):
    pkl, files, box_json, segm_json = gt_preds
    got = _evaluate(tested, [pkl], '--eval', 'bbox', 'segm', '--backend',
                    backend)
    gt_file = osp.join(tested['root'], 'annotations', 'lvis_v1_val.json')
    for iou, dets in (('bbox', box_json), ('segm', segm_json)):
        ref = _lvis_api(gt_file, dets, iou, monkeypatch)
        assert 0.01 < ref['AP'] < 0.5  # a number worth comparing
        for k, v in ref.items():
            assert got[f'lvis/{iou}_{k}'] == pytest.approx(v, abs=1e-9), \
                (iou, k)
    # the same detections as results json (mmdet's .bbox/.segm.json)
    from_json = _evaluate(tested, [files['bbox'], files['segm']], '--eval',
                          'bbox', 'segm', '--backend', backend)
    assert from_json == got


def test_json_single_segm_file_and_proposal_fast(tested, gt_preds):
    pkl, files, _, _ = gt_preds
    ref = _evaluate(tested, [pkl], '--eval', 'bbox', 'segm', 'proposal_fast')
    got = _evaluate(tested, [files['segm']], '--eval', 'bbox', 'segm',
                    'proposal_fast')
    assert got == ref
    # 6 of the 193 val images have detections
    assert got['lvis/proposal_fast_AR@100'] > 0.01


# ------------------------------------------------------------- bad files
def _write(tested, samples, name):
    path = str(tested['tmp'] / name)
    with open(path, 'wb') as f:
        pickle.dump(samples, f)
    return path


def test_wrong_files_are_named(tested):
    samples = pickle.load(open(tested['pkl'], 'rb'))
    E = eval_results.PredictionFileError

    path = _write(tested, samples[:-1], 'short.pkl')
    with pytest.raises(E, match=r'short\.pkl has predictions for 5 images, '
                       r'but the test dataset of .* has 6'):
        _evaluate(tested, [path])

    bad = copy.deepcopy(samples)
    bad[2]['img_id'] = 123456789
    path = _write(tested, bad, 'foreign.pkl')
    with pytest.raises(E, match=r'foreign\.pkl: img_id of 1 .*123456789.* '
                       'not images of the test dataset'):
        _evaluate(tested, [path])

    bad = copy.deepcopy(samples)
    bad[2]['img_id'] = bad[1]['img_id']
    path = _write(tested, bad, 'dup.pkl')
    with pytest.raises(E, match=r'dup\.pkl: img_id .* more than once'):
        _evaluate(tested, [path])

    bad = copy.deepcopy(samples)
    bad[3]['pred_instances']['labels'][0] = 60
    path = _write(tested, bad, 'labels.pkl')
    with pytest.raises(E, match=r'labels\.pkl\[3\] .*labels range over '
                       r'\[\d+, 60\].* has 60 classes'):
        _evaluate(tested, [path])

    bad = copy.deepcopy(samples)
    bad[0]['ori_shape'] = (320, 320)
    path = _write(tested, bad, 'size.pkl')
    with pytest.raises(E, match=r'size\.pkl\[0\] .*ori_shape \(320, 320\) '
                       r'differs from the image size \(160, 160\)'):
        _evaluate(tested, [path])

    with pytest.raises(FileNotFoundError, match='tools/test.py'):
        _evaluate(tested, [str(tested['tmp'] / 'missing.pkl')])


def test_box_only_predictions(tested):
    samples = pickle.load(open(tested['pkl'], 'rb'))
    for s in samples:
        del s['pred_instances']['masks']
    path = _write(tested, samples, 'boxes.pkl')
    with pytest.raises(eval_results.PredictionFileError,
                       match=r'boxes\.pkl\[0\] .*no masks.*--eval bbox'):
        _evaluate(tested, [path], '--eval', 'bbox', 'segm')
    got = _evaluate(tested, [path], '--eval', 'bbox')
    want = {k: v for k, v in tested['metrics'].items()
            if k.startswith('lvis/bbox_')}
    assert got == want


def test_json_errors(tested, gt_preds):
    _, files, box_json, _ = gt_preds
    E = eval_results.PredictionFileError
    with pytest.raises(E, match='no results json has `segmentation`'):
        _evaluate(tested, [files['bbox']], '--eval', 'segm')
    for field, value, msg in (('category_id', 999, 'category_id'),
                              ('image_id', 42, 'image_id')):
        dets = copy.deepcopy(box_json)
        dets[5][field] = value
        path = str(tested['tmp'] / f'bad_{field}.json')
        json.dump(dets, open(path, 'w'))
        with pytest.raises(E, match=rf'bad_{field}\.json: {msg} .*{value}'):
            _evaluate(tested, [path], '--eval', 'bbox')
    path = str(tested['tmp'] / 'no_score.json')
    json.dump([{k: v for k, v in box_json[0].items() if k != 'score'}],
              open(path, 'w'))
    with pytest.raises(E, match=r"no_score\.json\[0\] has no \['score'\]"):
        _evaluate(tested, [path], '--eval', 'bbox')


def test_cli_errors(tested, capsys):
    with pytest.raises(SystemExit) as exc:
        eval_results.parse_args([TOY_CONFIG, tested['pkl'], '--eval',
                                 'bbox', 'segmm'])
    assert exc.value.code == 2
    assert "unknown iou type(s) ['segmm']" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        eval_results.parse_args([TOY_CONFIG, 'a.pkl', 'b.json'])
    assert 'one .pkl or .json files' in capsys.readouterr().err


# ------------------------------------------------- tools/test.py fails fast
def test_test_py_segm_on_box_model_fails_before_inference(tested):
    work = str(tested['tmp'] / 'retina')
    ckpt = str(tested['tmp'] / 'not_loaded.pth')  # exists, never read
    open(ckpt, 'wb').close()
    start = time.time()
    proc = subprocess.run(
        [PY, 'tools/test.py', RETINA_CONFIG, ckpt, '--work-dir', work,
         '--eval', 'bbox', 'segm'] + tested['opts'], cwd=ROOT,
        capture_output=True, text=True, timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 1, log[-3000:]
    assert re.search(r'error: .*retinanet_r18_fpn_toy_focal\.py: the test '
                     r"metric \(LongTailLVISMetric\) evaluates \['bbox', "
                     r"'segm'\], but the model \(RetinaNet\) has no mask "
                     r'head .*use --eval bbox', log)
    # no checkpoint load, no test iteration, no traceback
    assert 'Epoch(test)' not in log and 'Load checkpoint' not in log
    assert 'Traceback' not in log
    assert time.time() - start < 120

    proc = subprocess.run(
        [PY, 'tools/test.py', RETINA_CONFIG, ckpt, '--eval', 'bbx'],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "--eval: unknown iou type(s) ['bbx']; choose from bbox, segm, " \
        'proposal, proposal_fast' in proc.stderr


# ----------------------------------------- the other metrics of mmlt configs
def test_grouped_ap_metric_equals_openimages_tool(tested, gt_preds):
    """GroupedAPMetric (OpenImages configs) through the tool on the pkl ==
    tools/analysis/openimages_grouped_ap.py on the same boxes as json."""
    import openimages_grouped_ap
    from mmengine.config import Config, ConfigDict
    pkl, files, _, _ = gt_preds
    ann = osp.join(tested['root'], 'annotations')
    # the toy LVIS val json as a COCO json (COCO needs iscrowd)
    coco = json.load(open(osp.join(ann, 'lvis_v1_val.json')))
    for a in coco['annotations']:
        a['iscrowd'] = 0
    coco_val = str(tested['tmp'] / 'val_coco.json')
    json.dump(coco, open(coco_val, 'w'))
    train = osp.join(ann, 'lvis_v1_train.json')

    cfg = Config.fromfile(TOY_CONFIG)
    cfg.merge_from_dict(dict(zip(
        [o.split('=')[0] for o in tested['opts'][1:]],
        [o.split('=', 1)[1] for o in tested['opts'][1:]])))
    cfg.merge_from_dict({'test_dataloader.dataset.indices': N_VAL})
    cfg.test_evaluator = ConfigDict(
        type='GroupedAPMetric', ann_file=coco_val, train_ann_file=train,
        num_groups=3, prefix='grouped')
    got = eval_results.evaluate_predictions(cfg, TOY_CONFIG, [pkl])

    out = str(tested['tmp'] / 'grouped.json')
    assert openimages_grouped_ap.main(
        [train, coco_val, files['bbox'], '--num-groups', '3', '--out',
         out]) == 0
    ref = json.load(open(out))['summary']
    assert ref['mAP'] > 0.01  # 6 of 193 images have detections
    assert set(got) == {f'grouped/{k}' for k in ref}
    for k, v in ref.items():
        want = -1.0 if v is None else v
        assert got[f'grouped/{k}'] == pytest.approx(want, abs=1e-12), k


def test_multilabel_pkl_equals_test_py(toy_lvis_root, tmp_path):
    """MultiLabelMetric (DB configs): a classifier's --out re-evaluated."""
    config = osp.join(ROOT, 'configs/toy/db/db_focal.py')
    root = toy_lvis_root.rstrip('/') + '/'
    ann = root + 'annotations/lvis_v1_train.json'
    opts = ['--cfg-options',
            f'train_dataloader.dataset.dataset.data_root={root}',
            'train_dataloader.dataset.num_samples=32',
            f'val_dataloader.dataset.data_root={root}',
            f'test_dataloader.dataset.data_root={root}',
            'val_dataloader.dataset.indices=32',
            'test_dataloader.dataset.indices=32',
            f'model.loss_cls.ann_file={ann}',
            f'val_evaluator.train_ann_file={ann}',
            f'test_evaluator.train_ann_file={ann}',
            'train_cfg.max_epochs=1',
            'train_dataloader.num_workers=0',
            'train_dataloader.persistent_workers=False',
            'val_dataloader.num_workers=0',
            'val_dataloader.persistent_workers=False',
            'test_dataloader.num_workers=0',
            'test_dataloader.persistent_workers=False']
    work = str(tmp_path / 'work')
    run_tool([PY, 'tools/train.py', config, '--work-dir', work] + opts)
    pkl = str(tmp_path / 'db.pkl')
    run_tool([PY, 'tools/test.py', config, osp.join(work, 'epoch_1.pth'),
              '--work-dir', str(tmp_path / 'test'), '--out', pkl] + opts)
    log_json = glob.glob(str(tmp_path / 'test' / '*' / '*.json'))
    want = {k: v for k, v in json.loads(
        open(log_json[0]).read().splitlines()[-1]).items()
        if k.startswith('multilabel/')}
    assert want['multilabel/mAP'] > 0
    got = eval_results.main([config, pkl, '--work-dir',
                             str(tmp_path / 'ev')] + opts)
    assert got == want

    samples = pickle.load(open(pkl, 'rb'))
    short = _write(dict(tmp=tmp_path), samples[:-2], 'db_short.pkl')
    with pytest.raises(eval_results.PredictionFileError,
                       match=r'db_short\.pkl has predictions for 30 images, '
                       'but the test dataset of .* has 32'):
        eval_results.main([config, short] + opts)


def test_invalid_detections_never_a_number(tested):
    """NaN scores and x2 < x1 boxes in a saved file: mmlt's check stops
    the evaluation (it names the images); opting in to dropping them
    evaluates the rest."""
    samples = pickle.load(open(tested['pkl'], 'rb'))
    samples[1]['pred_instances']['scores'][:5] = float('nan')
    samples[2]['pred_instances']['bboxes'][0] = torch.tensor(
        [50., 50., 10., 10.])
    path = _write(tested, samples, 'nan.pkl')
    proc = subprocess.run(
        [PY, 'tools/analysis/eval_results.py', TOY_CONFIG, path,
         '--work-dir', str(tested['tmp'] / 'ev_nan'), '--eval', 'bbox'] +
        tested['opts'], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 1
    err = [ln for ln in proc.stderr.splitlines() if ln.startswith('error:')]
    assert err and 'invalid' in err[0], proc.stderr[-2000:]
    assert str(samples[1]['img_id']) in err[0]
    assert 'Traceback' not in proc.stderr
    assert 'lvis/bbox_AP' not in proc.stdout + proc.stderr


def test_test_py_out_unwritable_fails_before_inference(tested):
    afile = str(tested['tmp'] / 'a_file')
    open(afile, 'w').close()
    proc = subprocess.run(
        [PY, 'tools/test.py', TOY_CONFIG, afile, '--out',
         osp.join(afile, 'sub', 'preds.pkl')], cwd=ROOT,
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert f'cannot write a file there ({afile} is not a writable folder)' \
        in proc.stderr


def _test_py():
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'mmlt_tools_test', osp.join(ROOT, 'tools', 'test.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize('config,has_mask', [
    ('configs/lvis/faster-rcnn_r50_fpn_1x_lvis-v1.py', False),
    ('configs/toy/retinanet_r18_fpn_toy_efl.py', False),
    ('configs/lvis/mask-rcnn_r50_fpn_1x_lvis-v1.py', True),
])
def test_check_iou_types(config, has_mask):
    """tools/test.py's check on built models (two- and one-stage)."""
    from mmengine.config import Config

    from mmdet.registry import MODELS
    cfg = Config.fromfile(osp.join(ROOT, config))
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    check = _test_py().check_iou_types
    cfg.test_evaluator = dict(type='LongTailLVISMetric', metric='segm')
    if has_mask:
        check(cfg, model, config)
        return
    with pytest.raises(ValueError, match=rf"{re.escape(config)}: the test "
                       r"metric \(LongTailLVISMetric\) evaluates \['segm'\]"
                       r'.*no mask head.*use --eval bbox \('):
        check(cfg, model, config)
    cfg.test_evaluator = [dict(type='LongTailLVISMetric',
                               metric=['bbox', 'proposal'])]
    check(cfg, model, config)


def test_out_meta_sidecar(tested):
    """tools/test.py --out also writes <pkl>.meta.json (classes, number of
    images, config and --cfg-options); the tool compares it with the
    config's test dataset and names the test run's options."""
    meta_file = tested['pkl'] + '.meta.json'
    meta = json.load(open(meta_file))
    assert meta['num_images'] == N_VAL and len(meta['classes']) == 60
    assert meta['config'] == TOY_CONFIG
    assert f'test_dataloader.dataset.indices={N_VAL}' in meta['cfg_options']
    E = eval_results.PredictionFileError

    with pytest.raises(E, match=r'preds\.pkl\.meta\.json: the predictions '
                       r'are of 6 images, the test dataset of .* has 5 '
                       r'\(the predictions were made with .*--cfg-options '
                       r'.*test_dataloader\.dataset\.indices=6'):
        eval_results.main([TOY_CONFIG, tested['pkl']] + tested['opts'] +
                          ['test_dataloader.dataset.indices=5'])

    samples = pickle.load(open(tested['pkl'], 'rb'))
    path = _write(tested, samples, 'renamed.pkl')
    meta['classes'][7] = 'not_a_toy_class'
    json.dump(meta, open(path + '.meta.json', 'w'))
    with pytest.raises(E, match=r'renamed\.pkl\.meta\.json: classes of the '
                       r'predictions \(60\) differ from those of the test '
                       r"dataset .* \(60\), e\.g\. label 7: "
                       r"'not_a_toy_class' vs 'blue_triangle_solid'"):
        _evaluate(tested, [path])
