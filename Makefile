# Set-up and everyday commands. `make run` and `make test` work on a fresh Linux machine:
# they create .venv, install torch (CPU build pinned first, see DEVELOPERS.md) and livegen.
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH ?= torch==2.13.0
ARGS ?=

.PHONY: setup system-deps run headless generate test lint bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first: a loose requirement with no torch present pulls a multi-GB CUDA build.
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

setup: $(VENV)/.installed

# jackd2 gives the integration tests (and machines with no ALSA sequencer) real MIDI ports;
# fluidsynth and a small GM soundfont let `--synth` and `generate --wav` sound without a DAW;
# iproute2's `ip` sets up the private network namespace the Link tests run in.
system-deps:
	@{ command -v jackd && command -v fluidsynth && { command -v ip || [ -x /usr/sbin/ip ]; } && \
	  [ -e /usr/share/sounds/sf2/TimGM6mb.sf2 ]; \
	  } >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	  $$SUDO apt-get install -y -qq --no-install-recommends jackd2 fluidsynth timgm6mb-soundfont \
	  iproute2; }

# Opens the live panel on virtual ports 'livegen in' / 'livegen out'; with no MIDI backend
# running (no ALSA sequencer, no JACK server) it starts a private `jackd -d dummy` and says so.
run: setup system-deps
	$(VENV)/bin/livegen --start-jack $(ARGS)

# The same session without the panel: a one-line status, for scripts and servers.
headless: setup system-deps
	$(VENV)/bin/livegen run --start-jack $(ARGS)

generate: setup
	$(VENV)/bin/livegen generate --checkpoint folk_melody --primer configs/primers/folk.mid \
	  --bars 8 -o continuation.mid --plot continuation.png $(ARGS)

test: setup system-deps
	$(PY) -m pytest $(ARGS)

lint: setup
	$(VENV)/bin/ruff check livegen tests bench train.py
	$(VENV)/bin/ruff format --check livegen tests bench train.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
