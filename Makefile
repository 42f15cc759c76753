# Thin wrappers over `python -m ...`; see README.md. Every target creates .venv first if missing.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_VERSION ?= 2.13.0
# Extra pip arguments for torch, e.g. TORCH_PIP_ARGS='--index-url <PyTorch CPU wheel index>'
TORCH_PIP_ARGS ?=
PROFILE ?= full
# tests and chapters run this many at a time (each single-threaded)
JOBS ?= 2
NB ?= 00_structures
PARAMS ?=

CSPBI3_MODEL ?= ../shared/validation/cspbi3/nep.txt
VALIDATE_ARGS ?= --jobs 2 --save data/validation/cspbi3

.PHONY: setup gpaw browser book chapter test sync validate benchmark model checks screening teacher end-members coexistence tilt-preference longer-training student-wide student-ends damping-map band-edges first-protocols cap-models cap-labels md-frame-gaps gap-models cap-thermal clean help

help:
	@echo "make book     set up, execute every chapter (PROFILE=$(PROFILE)), build HTML, check it in Chromium"
	@echo "make test     set up, run pytest in JOBS=$(JOBS) workers (every chapter with the quick profile included)"
	@echo "make chapter  NB=00_structures PARAMS='-p supercell 4' [PROFILE=quick]: re-run one chapter"
	@echo "make sync     pair notebooks/*.py with their .ipynb (jupytext --sync)"
	@echo "make validate heat/cool CsPbI3 with the independent NEP in $(CSPBI3_MODEL) (~40 min)"
	@echo "make benchmark  print MD, force-call, projection, labelling and training throughput"
	@echo "make model      build the MA/FA production NEP (active learning; hours, resumable)"
	@echo "make checks     NEB, phase energies, MD stability, heavy H of the model (resumable)"
	@echo "make screening  GPAW DFT validation set and the reference screening (resumable)"
	@echo "make teacher    screen the candidate teachers and label the plane-wave anchors (hours, resumable)"
	@echo "make end-members    chapter 02 slow end-member ramps of the production model (hours, resumable)"
	@echo "make coexistence    fixed-temperature coexistence runs and the MPB, two processes (hours, resumable)"
	@echo "make tilt-preference  student and teacher energies of coexistence cells before and after a tilt grew (after coexistence)"
	@echo "make longer-training  NEP v2 trained further on its own sets in six stages, each judged (about 1 h)"
	@echo "make student-wide   a wider NEP trained from scratch on v2's sets and the path frames, judged (about 1.5 h)"
	@echo "make student-ends   NEP v2 continued with path frames of the end members too (another replica), judged (about 2 h)"
	@echo "make damping-map    chapter 04 over/underdamped map, two processes (after end-members; hours, resumable)"
	@echo "make band-edges     chapter 05 band edges in the cubic phase and the cell-size check (after end-members)"
	@echo "make first-protocols  chapters 02, 04, 05: the first model's fast ramps, short NVT grid, 330 K snapshots"
	@echo "make cap-models chapter 06 labels, CHGNet fine-tuning, GPAW gaps, GNN (resumable)"
	@echo "make cap-labels chapter 06 extended GPAW gap labels of issue 18 (hours, resumable on any machine: the cells"
	@echo "               are pinned in data/cap_models/pinned_cells)"
	@echo "make md-frame-gaps direct gaps of chapter 07's committed MD frames (issue 18; hours, resumable)"
	@echo "make gap-models chapter 06 band-gap GNN against baselines, from the committed gaps (minutes, one core)"
	@echo "make cap-thermal chapter 07 rankings, NEP student, MD gaps and phonons (after cap-models)"

GPAW_VERSION ?= 26.7.0

setup: $(VENV)/.installed $(VENV)/.gpaw

# GPAW (DFT for the validation set and the band edges) compiles against libxc and OpenBLAS: as root
# on Debian/Ubuntu their headers come from apt; lib/gpaw_siteconfig.py builds it as C++ without MPI.
# A machine where this fails still gets everything else: the GPAW tests then skip, saying why.
gpaw: $(VENV)/.gpaw

$(VENV)/.gpaw: $(VENV)/.installed lib/gpaw_siteconfig.py
	@if ! $(PY) -c "import gpaw" 2>/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      libxc-dev libopenblas-dev liblapack-dev libfftw3-dev >/dev/null; fi; \
	  GPAW_CONFIG=$(CURDIR)/lib/gpaw_siteconfig.py $(PY) -m pip install --quiet gpaw==$(GPAW_VERSION) || \
	    echo "WARNING: GPAW did not install (needs libxc-dev and libopenblas-dev); DFT steps will say so"; \
	fi
	touch $@

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first and pinned: a bare `torch` requirement would pull a multi-GB CUDA build
	$(PY) -m pip install --quiet torch==$(TORCH_VERSION) $(TORCH_PIP_ARGS)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	    else echo "Chromium is needed for the browser check: install it (e.g. apt-get install chromium) or set CHROMIUM=/path/to/chromium"; exit 1; fi; }

book: setup browser
	$(PY) -m softlattice.book build --profile $(PROFILE) --jobs $(JOBS)
	$(PY) -m softlattice.book.browsercheck

chapter: setup
	$(PY) -m softlattice.book build --profile $(PROFILE) --only $(NB) $(PARAMS)

test: setup
	$(PY) -m pytest -n $(JOBS) --dist loadgroup

sync: setup
	$(VENV)/bin/jupytext --sync notebooks/*.py

validate: setup
	@test -f $(CSPBI3_MODEL) || { echo "no CsPbI3 model at $(CSPBI3_MODEL): set CSPBI3_MODEL=path/to/nep.txt"; exit 1; }
	$(PY) -m softlattice.perovskite.workflows.cspbi3 cspbi3 --model $(CSPBI3_MODEL) $(VALIDATE_ARGS)

# the production model (chapter 01's full recipe; chapters 02-05 run it) and its recipe
MAFA_MODEL ?= data/models/mafa-v2
MAFA_RECIPE ?= v2
# the first production model (student of CHGNet-r2SCAN): the comparison of chapters 01-05 and the benchmark
FIRST_MAFA_MODEL ?= data/models/mafa-chgnet-r2scan
# check settings of MAFA_MODEL: v1 (the first model) or v2 (NEP v2, softlattice.perovskite.workflows.checks.NEP_V2_CHECKS)
CHECKS_PROFILE ?= v2
RUNS ?= runs
benchmark: setup
	$(PY) benchmarks/md_throughput.py --mafa-model $(MAFA_MODEL)/nep.txt $(filter-out $(MAFA_MODEL)/nep.txt,$(FIRST_MAFA_MODEL)/nep.txt)
	$(PY) benchmarks/training_throughput.py --model-dir $(MAFA_MODEL)
	$(PY) benchmarks/sweep_throughput.py --model $(MAFA_MODEL)/nep.txt
	$(PY) benchmarks/gnn_throughput.py
	OMP_NUM_THREADS=1 $(PY) benchmarks/cap_label_throughput.py
	$(PY) benchmarks/teacher_throughput.py

model: setup
	$(PY) -m softlattice.perovskite.workflows.potential --recipe $(MAFA_RECIPE) --output $(MAFA_MODEL)

checks: setup
	$(PY) -m softlattice.perovskite.workflows.checks --model $(MAFA_MODEL)/nep.txt --save $(MAFA_MODEL)/checks --profile $(CHECKS_PROFILE)

# DFT validation set (GPAW, two single-threaded labellers side by side; rerun to resume), then
# the reference screening (tilt energetics, finite-T tilts, errors against that set)
screening: setup
	test -f $(RUNS)/screening/validation_structures.extxyz || $(PY) -m softlattice.perovskite.workflows.screening structures --model $(MAFA_MODEL)
	OMP_NUM_THREADS=1 $(PY) -m softlattice.perovskite.workflows.screening label --shard 0 --shards 2 & \
	OMP_NUM_THREADS=1 $(PY) -m softlattice.perovskite.workflows.screening label --shard 1 --shards 2; wait
	$(PY) -m softlattice.perovskite.workflows.screening collect --model $(MAFA_MODEL)
	$(PY) -m softlattice.perovskite.workflows.screening screen --model $(MAFA_MODEL)

# candidate teachers (torch, one process) beside the plane-wave GPAW anchors (one core), then the
# result set data/reference/teacher from whatever is finished (rerun to go on)
teacher: setup
	OMP_NUM_THREADS=1 $(PY) -m softlattice.perovskite.workflows.teacher screen --yardstick $(CSPBI3_MODEL) & \
	OMP_NUM_THREADS=1 $(PY) -m softlattice.perovskite.workflows.teacher anchors; wait
	$(PY) -m softlattice.perovskite.workflows.teacher collect --yardstick $(CSPBI3_MODEL)

damping-map: setup
	OMP_NUM_THREADS=1 $(PY) -m softlattice.perovskite.workflows.damping --map --model $(MAFA_MODEL)/nep.txt --part 0/2 & \
	OMP_NUM_THREADS=1 $(PY) -m softlattice.perovskite.workflows.damping --map --model $(MAFA_MODEL)/nep.txt --part 1/2; wait
	$(PY) -m softlattice.perovskite.workflows.damping --map --model $(MAFA_MODEL)/nep.txt --save data/damping_map/$(notdir $(MAFA_MODEL))

# two single-threaded halves side by side (GPAW without MPI uses one core well), then one run that
# finds everything cached and stores the result set
cap-models: setup
	OMP_NUM_THREADS=1 $(PY) -m softlattice.antiperovskite.workflows.models --gaps-part 0/2 & \
	OMP_NUM_THREADS=1 $(PY) -m softlattice.antiperovskite.workflows.models --gaps-part 1/2; wait
	$(PY) -m softlattice.antiperovskite.workflows.models --carry-labels
	$(PY) -m softlattice.antiperovskite.workflows.models --profile full --save data/cap_models/chgnet-r2scan

# While GPAW labels, the computed gaps are copied into data/cap_models/labels every 20 min, so that a
# machine lost mid-session loses at most that much (commit them as they come).
CARRY_LOOP = while sleep 1200; do $(PY) -m softlattice.antiperovskite.workflows.models --carry-labels >/dev/null 2>&1; done

# issue 18's extended labels (1,000 cheap, 200 accurate gaps; ~5 h on two cores). The labels go on
# from the committed data/cap_models/labels; after an interrupted session, `--carry-labels` saves
# what it computed there to commit.
cap-labels: setup
	$(CARRY_LOOP) & carrier=$$!; \
	OMP_NUM_THREADS=1 $(PY) -m softlattice.antiperovskite.workflows.models --gaps-part 0/2 --labels extended & first=$$!; \
	OMP_NUM_THREADS=1 $(PY) -m softlattice.antiperovskite.workflows.models --gaps-part 1/2 --labels extended; \
	wait $$first; pkill -P $$carrier
	$(PY) -m softlattice.antiperovskite.workflows.models --carry-labels

# issue 18: direct gaps of the committed frames of chapter 07's MD (data/cap_md_frames; 108 cheap,
# 54 accurate; ~2.5 h on two cores), carried like the labels above. New frames after chapter 07
# changes: `python -m softlattice.antiperovskite.workflows.md_frames --sample` first.
md-frame-gaps: setup
	$(CARRY_LOOP) & carrier=$$!; \
	OMP_NUM_THREADS=1 $(PY) -m softlattice.antiperovskite.workflows.md_frames --gaps-part 0/2 & first=$$!; \
	OMP_NUM_THREADS=1 $(PY) -m softlattice.antiperovskite.workflows.md_frames --gaps-part 1/2; \
	wait $$first; pkill -P $$carrier
	$(PY) -m softlattice.antiperovskite.workflows.models --carry-labels

gap-models: setup
	OMP_NUM_THREADS=1 $(PY) -m softlattice.antiperovskite.workflows.gap_models --profile full --save data/gap_models/chgnet-r2scan

# ranking and the NEP student once, the MD runs in two single-threaded halves, then the analysis
cap-thermal: setup
	$(PY) -m softlattice.antiperovskite.workflows.thermal --profile full --prepare
	OMP_NUM_THREADS=1 $(PY) -m softlattice.antiperovskite.workflows.thermal --profile full --md-part 0/2 & \
	OMP_NUM_THREADS=1 $(PY) -m softlattice.antiperovskite.workflows.thermal --profile full --md-part 1/2; wait
	$(PY) -m softlattice.antiperovskite.workflows.thermal --profile full --save data/cap_thermal/chgnet-r2scan

band-edges: setup
	OMP_NUM_THREADS=1 $(PY) -m softlattice.perovskite.workflows.band_edges --protocol cubic --model $(MAFA_MODEL)/nep.txt --part 0/2 & \
	OMP_NUM_THREADS=1 $(PY) -m softlattice.perovskite.workflows.band_edges --protocol cubic --model $(MAFA_MODEL)/nep.txt --part 1/2; wait
	$(PY) -m softlattice.perovskite.workflows.band_edges --model $(MAFA_MODEL)/nep.txt --carry-labels
	$(PY) -m softlattice.perovskite.workflows.band_edges --protocol cubic --model $(MAFA_MODEL)/nep.txt --save data/band_edges_cubic/$(notdir $(MAFA_MODEL))
	OMP_NUM_THREADS=1 $(PY) -m softlattice.perovskite.workflows.band_edges --protocol size --model $(MAFA_MODEL)/nep.txt --save data/band_edges_size/$(notdir $(MAFA_MODEL))

END_MEMBER_SET = data/end_member_ramps/$(notdir $(MAFA_MODEL))
END_MEMBERS = $(PY) -m softlattice.perovskite.workflows.phase_diagram --sweep 02_end_members --model $(MAFA_MODEL)/nep.txt --save $(END_MEMBER_SET)
end-members: setup
	OMP_NUM_THREADS=1 $(END_MEMBERS) --part 0/2 & OMP_NUM_THREADS=1 $(END_MEMBERS) --part 1/2; wait
	$(END_MEMBERS)

TILT_PREFERENCE_SET = data/tilt_preference/$(notdir $(MAFA_MODEL))
tilt-preference: setup
	OMP_NUM_THREADS=1 $(PY) -m softlattice.perovskite.workflows.tilt_preference --model $(MAFA_MODEL)/nep.txt --save $(TILT_PREFERENCE_SET)
	OMP_NUM_THREADS=1 $(PY) -m softlattice.perovskite.workflows.tilt_preference --model $(MAFA_MODEL)/nep.txt \
		--save $(TILT_PREFERENCE_SET)-middle --fa-fractions 0.25 0.5 0.75

# NEP v2 trained further on its own sets in six resumable stages, each stage judged (about 1 h on one core)
longer-training: setup
	OMP_NUM_THREADS=1 $(PY) -m softlattice.perovskite.workflows.longer_training --parent $(MAFA_MODEL) --stages 6 \
		--output data/student_experiments/$(notdir $(MAFA_MODEL))-long

# issue 16: a wider NEP (preset 'wide') trained from scratch on the same sets plus the path frames (about 1.5 h)
student-wide: setup
	OMP_NUM_THREADS=1 $(PY) -m softlattice.perovskite.workflows.longer_training --parent $(MAFA_MODEL) --from-scratch wide \
		--stages 3 --path-frames data/tilt_preference/$(notdir $(MAFA_MODEL))-middle \
		--output data/student_experiments/$(notdir $(MAFA_MODEL))-wide-path

# issue 16: NEP v2 continued (3 stages) on its sets plus the middle path frames and frames of the
# end members' own coexistence path from replica 1 (the judged frames are replica 0's): the two
# coexistence runs (about 1 h on one core), their frames with teacher labels, then the training (about 1 h)
student-ends: setup
	OMP_NUM_THREADS=1 $(PY) -m softlattice.perovskite.workflows.coexistence --model $(MAFA_MODEL)/nep.txt \
		--fa-fractions 0 1 --temperatures 250 --replicas 1 --kinds coexistence
	OMP_NUM_THREADS=1 $(PY) -m softlattice.perovskite.workflows.tilt_preference --model $(MAFA_MODEL)/nep.txt \
		--save $(TILT_PREFERENCE_SET)-replica1 --fa-fractions 0 1 --replica 1
	OMP_NUM_THREADS=1 $(PY) -m softlattice.perovskite.workflows.longer_training --parent $(MAFA_MODEL) --stages 3 \
		--path-frames $(TILT_PREFERENCE_SET)-middle $(TILT_PREFERENCE_SET)-replica1 \
		--output data/student_experiments/$(notdir $(MAFA_MODEL))-ends-path

# the first model's protocols (chapters 02, 04, 05 keep them as a comparison)
first-protocols: setup
	$(PY) -m softlattice.perovskite.workflows.phase_diagram --model $(FIRST_MAFA_MODEL)/nep.txt --profile full --save data/phase_diagram/$(notdir $(FIRST_MAFA_MODEL))
	$(PY) -m softlattice.perovskite.workflows.damping --model $(FIRST_MAFA_MODEL)/nep.txt --save data/damping/$(notdir $(FIRST_MAFA_MODEL))
	OMP_NUM_THREADS=1 $(PY) -m softlattice.perovskite.workflows.band_edges --model $(FIRST_MAFA_MODEL)/nep.txt --part 0/2 & \
	OMP_NUM_THREADS=1 $(PY) -m softlattice.perovskite.workflows.band_edges --model $(FIRST_MAFA_MODEL)/nep.txt --part 1/2; wait
	$(PY) -m softlattice.perovskite.workflows.band_edges --model $(FIRST_MAFA_MODEL)/nep.txt --save data/band_edges/$(notdir $(FIRST_MAFA_MODEL))

COEXISTENCE_SET = data/coexistence/$(notdir $(MAFA_MODEL))
coexistence: setup
	OMP_NUM_THREADS=1 $(PY) -m softlattice.perovskite.workflows.coexistence --model $(MAFA_MODEL)/nep.txt --part 0/2 --finished $(COEXISTENCE_SET) & \
	OMP_NUM_THREADS=1 $(PY) -m softlattice.perovskite.workflows.coexistence --model $(MAFA_MODEL)/nep.txt --part 1/2 --finished $(COEXISTENCE_SET); wait
	$(PY) -m softlattice.perovskite.workflows.coexistence --model $(MAFA_MODEL)/nep.txt --save $(COEXISTENCE_SET)

clean:
	rm -rf _build
