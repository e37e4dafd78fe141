"""tools/create_longtail_dataset.py: Pareto profile, the drawing procedure
on small synthetic annotation sets (deterministic, counts following the
profile), its files and their use by the loss / dataset, and errors."""
import importlib.util
import json
import math
import os.path as osp

import numpy as np
import pytest

import mmlt  # noqa: F401
from mmlt.datasets.class_stats import get_multilabel_stats

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool():
    spec = importlib.util.spec_from_file_location(
        'create_longtail_cli',
        osp.join(ROOT, 'tools', 'create_longtail_dataset.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


tool = load_tool()


def write_json(path, per_image, num_classes):
    cats = [dict(id=c + 1, name=f'c{c}') for c in range(num_classes)]
    imgs, anns = [], []
    for i, labs in enumerate(per_image):
        imgs.append(dict(id=i + 1, file_name=f'{i + 1}.jpg', width=8,
                         height=8))
        for c in labs:
            anns.append(dict(id=len(anns) + 1, image_id=i + 1,
                             category_id=c + 1, bbox=[0, 0, 2, 2], area=4))
    with open(path, 'w') as f:
        json.dump(dict(images=imgs, annotations=anns, categories=cats), f)
    return str(path)


def csr(per_image):
    offsets = np.cumsum([0] + [len(x) for x in per_image]).astype(np.int64)
    return offsets, np.array([c for x in per_image for c in x], np.int64)


def test_pareto_targets():
    t = tool.pareto_targets(80, 1200, 1, b=6)
    # first = max; the last is int(pdf(ppf(0.99)) * 1199 / 6 + 1) = 6, the
    # minimum count of the original's COCO-MLT list
    assert t[0] == 1200 and t[-1] == 6
    assert (np.diff(t) <= 0).all()
    # n_k = int(pdf(x_k) (max - min) / b + min), pdf(x) = b x^-(b+1)
    x1 = 1 + (0.01**(-1 / 6) - 1) / 79
    assert t[1] == int(6 * x1**-7 * 1199 / 6 + 1)
    assert tool.pareto_targets(5, 30, 2).tolist() == [30, 6, 3, 2, 2]
    with pytest.raises(ValueError):
        tool.pareto_targets(5, 3, 10)


def test_single_label_set_follows_the_profile_exactly():
    """Without co-occurrence no class changes another's count: the result
    is min(target, available), non-increasing like the profile."""
    avail = [50, 40, 30, 20, 10]
    per_image = [[c] for c, n in enumerate(avail) for _ in range(n)]
    offsets, labels = csr(per_image)
    targets = tool.pareto_targets(5, 30, 2)  # 30, 6, 3, 2, 2
    res = tool.draw_longtail(offsets, labels, 5, targets, seed=0)
    # identical co-occurrence column sums -> classes in label order
    assert res['order'].tolist() == [0, 1, 2, 3, 4]
    assert res['counts'].tolist() == [30, 6, 3, 2, 2]
    assert (np.diff(res['counts']) <= 0).all()
    assert len(res['selected']) == 43
    # deterministic for a seed, different for another
    again = tool.draw_longtail(offsets, labels, 5, targets, seed=0)
    assert again['selected'].tolist() == res['selected'].tolist()
    other = tool.draw_longtail(offsets, labels, 5, targets, seed=1)
    assert other['selected'].tolist() != res['selected'].tolist()
    assert other['counts'].tolist() == res['counts'].tolist()
    # a target above the available images is clipped
    big = tool.draw_longtail(offsets, labels, 5, np.array([60, 5, 5, 5, 5]))
    assert big['counts'][0] == 50 and big['clipped'] == [0]


def test_cooccurring_classes_order_and_removal():
    # class 2 always comes with class 0: P(0|2) = 1 -> class 0 is visited
    # first; drawing class 2 then adds class-0 images, and the later
    # classes are drawn until their own count hits the target
    rng = np.random.default_rng(0)
    per_image = [[0]] * 40 + [[0, 2]] * 20 + [[1]] * 30 + [[1, 2]] * 5
    per_image = [per_image[i] for i in rng.permutation(len(per_image))]
    offsets, labels = csr(per_image)
    res = tool.draw_longtail(offsets, labels, 3, np.array([30, 12, 4]),
                             seed=3)
    assert res['order'][0] == 0
    last = res['order'][-1]
    # the last visited class ends exactly at its target
    assert res['counts'][last] == res['targets_by_class'][last]
    gt = np.zeros((len(per_image), 3), int)
    for i, labs in enumerate(per_image):
        gt[i, labs] = 1
    assert res['counts'].tolist() == gt[res['selected']].sum(0).tolist()


def test_cli_writes_files_read_by_loss_and_dataset(tmp_path, capsys):
    rng = np.random.default_rng(0)
    per_image = [sorted(set(rng.choice(6, size=rng.integers(1, 3),
                                       p=[.4, .25, .15, .1, .06, .04])
                            .tolist())) for _ in range(300)]
    ann = write_json(tmp_path / 'ann.json', per_image, 6)
    out = tmp_path / 'lt'
    args = ['coco', ann, '--out', str(out), '--max', '60', '--min', '2',
            '--no-progress']
    assert tool.main(args) == 0
    printed = capsys.readouterr().out
    assert 'target' in printed and 'images, 6 classes' in printed
    ids = (out / 'img_id.txt').read_text().split()
    # the same arguments again: a no-op (files untouched)
    mtime = (out / 'img_id.txt').stat().st_mtime_ns
    assert tool.main(args) == 0
    assert (out / 'img_id.txt').stat().st_mtime_ns == mtime
    # other arguments: refused (naming the files and the flag), files kept
    capsys.readouterr()
    assert tool.main(args + ['--seed', '1']) == 2
    err = capsys.readouterr().err
    assert str(out / 'img_id.txt') in err and '--force' in err
    assert (out / 'img_id.txt').read_text().split() == ids
    assert tool.main(args + ['--seed', '1', '--force']) == 0
    assert (out / 'img_id.txt').read_text().split() != ids
    assert tool.main(args + ['--force']) == 0
    assert (out / 'img_id.txt').read_text().split() == ids
    freq = json.loads((out / 'class_freq.json').read_text())
    split = json.loads((out / 'class_split.json').read_text())
    assert sorted(sum(split.values(), [])) == list(range(6))
    # the files agree with the dataset's own statistics of the subset
    stats = get_multilabel_stats(ann_file=ann,
                                 img_id_file=str(out / 'img_id.txt'),
                                 cache=False)
    assert stats.image_count.tolist() == freq['class_freq']
    assert stats.num_images == len(ids) == freq['num_images']
    from_file = get_multilabel_stats(freq_file=str(out / 'class_freq.json'))
    assert from_file.image_count.tolist() == freq['class_freq']
    assert from_file.num_images == len(ids)
    assert math.isclose(freq['condition_prob'][0][0], 1.0)
    # --img-ids: statistics of a given list
    (tmp_path / 'given.txt').write_text('1\n2\n3\n')
    out2 = tmp_path / 'given'
    assert tool.main(['coco', ann, '--out', str(out2), '--img-ids',
                      str(tmp_path / 'given.txt'), '--no-progress']) == 0
    assert (out2 / 'img_id.txt').read_text().split() == ['1', '2', '3']


def test_cli_errors(tmp_path, capsys):
    bad = tmp_path / 'bad.json'
    bad.write_text('{"images": [}')
    assert tool.main(['coco', str(bad), '--out', str(tmp_path / 'o')]) == 2
    assert 'is not a JSON file' in capsys.readouterr().err
    bad.write_text(json.dumps(dict(images=[], annotations=[])))
    assert tool.main(['coco', str(bad), '--out', str(tmp_path / 'o')]) == 2
    assert "no top-level 'categories'" in capsys.readouterr().err
    assert tool.main(['voc', str(tmp_path / 'VOC2012'), '--out',
                      str(tmp_path / 'o')]) == 2
    assert 'trainval.txt' in capsys.readouterr().err
