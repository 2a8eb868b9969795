#!/usr/bin/env bash
# Train a density model on your own structures, then warm-start pw.x with it.
#
#   bash examples/train_your_own.sh [WORKDIR]
#
# Your structures: any files ASE reads (CIF, POSCAR, extxyz) in WORKDIR/mine/;
# without them the script writes a few small crystals there (zincblende SiC,
# GaAs, BN, GaN, BAs) so that it runs as it is. The settings are tiny (20 Ry, a small
# model, 30 training steps) to finish in a minute or two on a laptop; raise
# --ecutwfc, --steps and the number of structures for a model worth using.
# RHOCAT may name the command (default: rhocat).
set -euo pipefail
RHOCAT=${RHOCAT:-rhocat}
WORK=${1:-rhocat-own}
mkdir -p "$WORK/mine"
cd "$WORK"

if [ -z "$(ls -A mine)" ]; then  # a few example crystals (ASE writes them as CIF)
  python - <<'PY'
from ase.build import bulk
from ase.io import write
for formula, a in {"SiC": 4.36, "GaAs": 5.65, "BN": 3.62, "GaN": 4.50, "BAs": 4.78}.items():
    write(f"mine/{formula}.cif", bulk(formula, "zincblende", a=a))
PY
fi

# 1. your structures become candidates; 2. a combinatorial split: the val/test element
#    combinations never appear in train
$RHOCAT structures import mine/* -o candidates
$RHOCAT split candidates -o split.json --val 1 --test-binary 1 --no-ternary
# 3. the DFT densities (resumable: run it again after an interruption)
$RHOCAT dft run split.json -o dataset --ecutwfc 20 --ecutrho 160 --no-progress
$RHOCAT data summary dataset
# 4. training (model.pt, model.metrics.csv beside it)
$RHOCAT train dataset -o model.pt --steps 30 --no-progress
# 5. a warm start for a structure the model has not seen, with the same cutoffs
python - <<'PY'
from ase.build import bulk
from ase.io import write
write("new.cif", bulk("GaN", "rocksalt", a=4.22))  # a phase none of the structures has
PY
$RHOCAT predict model.pt new.cif -o new.save --ecutwfc 20 --ecutrho 160
# 6. pw.x from the prediction and from its own atomic start (ecutrho = 8 x ecutwfc = 160 Ry)
$RHOCAT scf new.cif --start new.save --ecutwfc 20
$RHOCAT scf new.cif --ecutwfc 20
