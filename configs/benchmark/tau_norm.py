# Benchmark row: tau-norm (tau = 1) applied post hoc to the CE checkpoint;
# `posthoc` is the command that writes the checkpoint the runner tests
# ({stage1}: the stage-1 checkpoint, {out}: the file to write).
_base_ = '../toy/decoupled/tau_norm.py'
benchmark = dict(
    name='τ-norm', model='Mask R-CNN, post hoc', order=80, stage1='ce',
    baseline='ce',
    posthoc=['tools/misc/tau_norm.py', '{stage1}', '--tau', '1.0',
             '--out', '{out}'])
