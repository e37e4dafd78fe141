#!/usr/bin/env python
"""Checkpoint surgery for decoupled stage 2.

    tools/misc/ckpt_surgery.py CKPT --method remove [--keys RE ...] --out OUT
    tools/misc/ckpt_surgery.py CKPT --method reset --out OUT
    tools/misc/ckpt_surgery.py CKPT --method resize --num-out N \
        [--keys RE ...] --out OUT

remove: drop the keys matching --keys (default: every fc_cls, all stages);
reset: keep all weights; resize: give the matched output layers N rows (old
rows kept, new weight rows N(0, 0.01^2), new bias rows 0). All three strip
optimizer, message hub, schedulers and epoch/iter. See
mmlt/utils/ckpt_surgery.py. Errors (missing input, --out equal to it or
unwritable -- checked before loading --, keys that match nothing) exit
with status 2; an existing --out is replaced (the tool says so).
"""
import argparse
import os
import os.path as osp
import sys

import torch

from mmlt.utils.ckpt_surgery import (DEFAULT_KEYS, METHODS,
                                     CheckpointSurgeryError, ckpt_surgery)
from mmlt.utils.output_paths import (OutputPathError, check_writable_file,
                                     writing)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('checkpoint', help='input checkpoint (.pth)')
    parser.add_argument('--method', required=True, choices=METHODS)
    parser.add_argument(
        '--keys', nargs='+', metavar='REGEX',
        help='regexes re.match-ed against full state-dict keys (default: '
        f'{" ".join(DEFAULT_KEYS)})')
    parser.add_argument('--num-out', type=int,
                        help='output rows after --method resize')
    parser.add_argument('--std', type=float, default=0.01,
                        help='std of the new weight rows (resize)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the new weight rows (resize)')
    parser.add_argument('--out', required=True, help='output checkpoint')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if osp.abspath(args.out) == osp.abspath(args.checkpoint):
        print('ckpt_surgery: error: --out must differ from the input',
              file=sys.stderr)
        return 2
    try:
        # before loading a (large) checkpoint
        check_writable_file(args.out, 'output checkpoint')
        new, lines = ckpt_surgery(args.checkpoint, args.method, args.keys,
                                  args.num_out, args.std, args.seed)
        replaced = osp.exists(args.out)
        with writing(args.out, 'output checkpoint'):
            os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
            torch.save(new, args.out)
    except (FileNotFoundError, CheckpointSurgeryError,
            OutputPathError) as e:
        print(f'ckpt_surgery: error: {e}', file=sys.stderr)
        return 2
    for line in lines:
        print(line)
    print(f'saved {args.out} ({len(new["state_dict"])} tensors)' +
          (', replacing the existing file' if replaced else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
