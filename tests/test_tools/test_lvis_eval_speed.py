"""tools/benchmark/lvis_eval_speed.py on a tiny set: both backends agree,
the table goes between the doc markers, generated data is reused."""
import os.path as osp
import subprocess
import sys

import pytest

pytest.importorskip('faster_coco_eval')
ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools/benchmark/lvis_eval_speed.py')


def run(*args):
    return subprocess.run([sys.executable, TOOL, *args],
                          cwd=ROOT,
                          capture_output=True,
                          text=True,
                          timeout=600)


def test_tiny_run_writes_doc(tmp_path):
    doc = tmp_path / 'doc.md'
    doc.write_text('# t\n\n<!-- lvis_eval_speed:begin -->\nold\n'
                   '<!-- lvis_eval_speed:end -->\ntail\n')
    work = tmp_path / 'work'
    out = run('--images', '12', '--dets', '15', '--iou-types', 'segm',
              '--backends', 'lvis', 'fast', '--workdir', str(work),
              '--write-doc', str(doc))
    assert out.returncode == 0, out.stdout + out.stderr
    assert 'all fields equal (1e-6): True' in out.stdout
    text = doc.read_text()
    assert 'old' not in text and text.endswith('tail\n')
    rows = [ln for ln in text.splitlines() if ln.startswith('| 12 |')]
    assert [r.split(' | ')[1] for r in rows] == ['segm']
    # a second run reuses the generated GT and detections
    out = run('--images', '12', '--dets', '15', '--iou-types', 'segm',
              '--backends', 'fast', '--workdir', str(work))
    assert out.returncode == 0, out.stdout + out.stderr
    assert '(reused)' in out.stdout


def test_missing_markers_fail_before_measuring(tmp_path):
    doc = tmp_path / 'doc.md'
    doc.write_text('no markers\n')
    out = run('--images', '12', '--write-doc', str(doc), '--workdir',
              str(tmp_path / 'w'))
    assert out.returncode != 0
    assert 'lvis_eval_speed:begin' in out.stderr + out.stdout
    assert not (tmp_path / 'w').exists()
